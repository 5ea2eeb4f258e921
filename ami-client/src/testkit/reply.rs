//! Scripted replies and message helpers for the fake server.

use std::fmt;
use std::sync::Arc;

use ami_proto::Message;

/// Builds a message from `(key, value)` pairs.
///
/// # Panics
/// If a key or value holds CR, LF or NUL (a bug in the test).
pub fn message(headers: &[(&str, &str)]) -> Message {
    let mut b = Message::builder();
    for (k, v) in headers {
        b = b.header(k, v);
    }
    match b.build() {
        Ok(m) => m,
        Err(e) => panic!("testkit::message: invalid header: {e}"),
    }
}

/// An event: `Event: <name>` followed by `headers`.
pub fn event(name: &str, headers: &[(&str, &str)]) -> Message {
    let mut all = vec![("Event", name)];
    all.extend_from_slice(headers);
    message(&all)
}

/// A response: `Response: <status>` followed by `headers`.
pub fn response(status: &str, headers: &[(&str, &str)]) -> Message {
    let mut all = vec![("Response", status)];
    all.extend_from_slice(headers);
    message(&all)
}

/// What the fake server does with an action. The server inserts the
/// action's `ActionID` (as second header) into every message of a reply
/// that has none.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Reply {
    /// The built-in behaviour (login, challenge, Ping, Events, Filter,
    /// Logoff; `Invalid/unknown command` for anything else).
    #[default]
    Default,
    /// Send nothing (the client will time out).
    Ignore,
    /// Send these messages, in order.
    Messages(Vec<Message>),
    /// Send these messages, then close the connection.
    MessagesThenClose(Vec<Message>),
    /// Close the connection without answering.
    Close,
}

impl Reply {
    /// `Response: Success` plus `headers`.
    pub fn success(headers: &[(&str, &str)]) -> Reply {
        Reply::Messages(vec![response("Success", headers)])
    }

    /// `Response: Error` with `Message: <message>`.
    pub fn error(message: &str) -> Reply {
        Reply::Messages(vec![response("Error", &[("Message", message)])])
    }

    /// An event list: `Response: Success` / `EventList: start`, the
    /// `items`, then `Event: <complete_event>` / `EventList: Complete` /
    /// `ListItems: n` (every item gets the ActionID).
    pub fn list(complete_event: &str, items: Vec<Message>) -> Reply {
        let n = items.len().to_string();
        let mut all = vec![response(
            "Success",
            &[("EventList", "start"), ("Message", "Events will follow")],
        )];
        all.extend(items);
        all.push(event(
            complete_event,
            &[("EventList", "Complete"), ("ListItems", &n)],
        ));
        Reply::Messages(all)
    }
}

/// A script: decides the reply to each action (see
/// [`FakeAsteriskBuilder::on_action`](super::FakeAsteriskBuilder::on_action)).
pub(crate) type Handler = Arc<dyn Fn(&Message) -> Reply + Send + Sync>;

pub(crate) struct HandlerDebug<'a>(pub(crate) &'a Option<Handler>);

impl fmt::Debug for HandlerDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Some(<fn>)"
        } else {
            "None"
        })
    }
}

/// Copies `m`, inserting `ActionID: id` after its first header unless it
/// already has one.
pub(crate) fn with_action_id(m: &Message, id: Option<&[u8]>) -> Message {
    let Some(id) = id else { return m.clone() };
    if m.action_id().is_some() {
        return m.clone();
    }
    let mut b = Message::builder();
    for (i, h) in m.headers().enumerate() {
        b = b.header(h.name.as_bytes(), h.value.as_bytes());
        if i == 0 {
            b = b.header("ActionID", id);
        }
    }
    b.build().unwrap_or_else(|_| m.clone())
}
