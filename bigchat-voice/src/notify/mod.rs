//! Live notifications: every change is published as the payloads BigChat's
//! front end already listens to on its Socket.IO rooms.
//!
//! | event | rooms | payload |
//! |---|---|---|
//! | `company-{id}-ticket` | as BigChat's `UpdateTicketService`: `company-{id}-{status}`, `company-{id}-notification`, `queue-{q}-{status}`, `queue-{q}-notification`, `{ticketId}`, `user-{userId}` | `{ "action": "update", "ticket": <Tickets row, with its `contact`: Contacts row> }` |
//! | `company-{id}-call` | `company-{id}-mainchannel`, `{ticketId}`, `user-{userId}` (and the ticket's status and queue rooms when the same change touched it) | `{ "action": <call status>, "call": <CallRecords row> }` |
//! | `company-{id}-ticket` (`delete`) | the rooms a ticket left when its status or agent changed: `company-{id}-{old status}`, `queue-{q}-{old status}`, `user-{old agent}` | `{ "action": "delete", "ticketId": … }`, before the update |
//! | `company-{id}-appMessage` | as BigChat's `CreateMessageService`: `{ticketId}`, `company-{id}-{status}`, `company-{id}-notification`, `queue-{q}-{status}`, `queue-{q}-notification` | `{ "action": "create", "message": <Messages row, with contact and ticket>, "ticket": …, "contact": … }`, once, when the call ends |
//! | `company-{id}-asterisk` | `company-{id}-mainchannel` | `{ "action": "update", "asterisk": <Asterisks row, no password> }` |
//!
//! The call `action` is the record's status (`ringing`, `answered`,
//! `on_hold`, `transferred`, `completed`, `busy`, `no_answer`, `failed`,
//! `voicemail`). Rows use BigChat's camelCase column names.
//!
//! A [`Notifier`] fans each [`Notification`] out to its [`Sink`]s:
//! [`JsonLinesSink`] (stdout or a file, one `{"event":…,"rooms":[…],"payload":…}`
//! object per line) and [`WebhookSink`] (signed HTTP POST from a bounded queue).
//!
//! # Behavior
//! [`Sink::publish`] never waits on the network: a slow or dead webhook
//! never stalls call tracking (its queue drops the oldest notification when
//! full, counted and logged).

mod jsonl;
#[cfg(feature = "webhook")]
mod webhook;

use std::fmt;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::json;

use crate::store::writer::WriterHooks;
use crate::store::{Applied, AsteriskRow, CallRecordRow, ContactRow, MessageRow, TicketRow};

pub use jsonl::JsonLinesSink;
#[cfg(feature = "webhook")]
pub use webhook::{
    ID_HEADER, MAX_BATCH_BYTES, MAX_CLOCK_SKEW, SIGNATURE_HEADER, TIMESTAMP_HEADER, VerifyError,
    WebhookConfig, WebhookSink, WebhookStats, sign, verify,
};

/// An error setting up a sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The webhook URL cannot be used.
    #[error("invalid webhook URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client")]
    Client(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A JSON Lines file could not be opened.
    #[error("cannot open {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// One Socket.IO event, as BigChat's backend itself would emit it:
/// `io.to(rooms[0]).to(rooms[1])….emit(event, payload)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Notification {
    /// BigChat's event name, e.g. `company-1-ticket`.
    pub event: String,
    /// The rooms to emit it to (a socket in several gets it once).
    pub rooms: Vec<String>,
    /// The event payload.
    pub payload: serde_json::Value,
}

/// The rooms BigChat's `UpdateTicketService` emits a ticket's update to:
/// its company's status room and notification room, its queue's (when it
/// has one), the ticket's own room, and its agent's.
fn ticket_rooms(company_id: i64, ticket: &TicketRow) -> Vec<String> {
    let status = &ticket.status;
    let mut rooms = vec![
        format!("company-{company_id}-{status}"),
        format!("company-{company_id}-notification"),
    ];
    if let Some(queue) = ticket.queue_id {
        rooms.push(format!("queue-{queue}-{status}"));
        rooms.push(format!("queue-{queue}-notification"));
    }
    rooms.push(ticket.id.to_string());
    if let Some(user) = ticket.user_id {
        rooms.push(format!("user-{user}"));
    }
    rooms
}

impl Notification {
    /// `event` for `rooms` with `payload` (for events of one's own; the
    /// constructors below make BigChat's).
    pub fn new(
        event: impl Into<String>,
        rooms: Vec<String>,
        payload: serde_json::Value,
    ) -> Notification {
        Notification {
            event: event.into(),
            rooms,
            payload,
        }
    }

    /// `company-{id}-call`, `action` = the record's status, to the
    /// company's main channel (every agent's screen, as BigChat's
    /// company-wide events), the ticket's room and the agent's room; with
    /// `ticket` (when the same change touched it), to its status and queue
    /// rooms too.
    pub fn call(
        company_id: i64,
        record: &CallRecordRow,
        ticket: Option<&TicketRow>,
    ) -> Notification {
        let mut rooms = vec![format!("company-{company_id}-mainchannel")];
        match ticket {
            Some(t) => rooms.extend(ticket_rooms(company_id, t)),
            None => {
                if let Some(id) = record.ticket_id {
                    rooms.push(id.to_string());
                }
            }
        }
        if let Some(user) = record.user_id {
            let room = format!("user-{user}");
            if !rooms.contains(&room) {
                rooms.push(room);
            }
        }
        Notification {
            event: format!("company-{company_id}-call"),
            rooms,
            payload: json!({ "action": record.status, "call": record }),
        }
    }

    /// `company-{id}-ticket`, `action` = `update`, to the rooms BigChat's
    /// own ticket updates go to (see `ticket_rooms`); the ticket carries its
    /// `contact`, as BigChat's ticket payloads do (its screens show the
    /// contact's name and picture).
    pub fn ticket(
        company_id: i64,
        ticket: &TicketRow,
        contact: Option<&ContactRow>,
    ) -> Notification {
        let mut value = json!(ticket);
        if let (Some(obj), Some(c)) = (value.as_object_mut(), contact) {
            obj.insert("contact".to_owned(), json!(c));
        }
        Notification {
            event: format!("company-{company_id}-ticket"),
            rooms: ticket_rooms(company_id, ticket),
            payload: json!({ "action": "update", "ticket": value }),
        }
    }

    /// `company-{id}-ticket`, `action` = `delete`, to the rooms a ticket
    /// left when its status or agent changed, as BigChat's
    /// `UpdateTicketService` sends it (`company-{id}-{old status}`,
    /// `queue-{queue}-{old status}`, `user-{old agent}`), so that the
    /// ticket leaves the lists it was in; `None` when it stayed.
    pub fn ticket_left(
        company_id: i64,
        before: &TicketRow,
        after: &TicketRow,
    ) -> Option<Notification> {
        if before.status == after.status && before.user_id == after.user_id {
            return None;
        }
        let old = &before.status;
        let mut rooms = vec![format!("company-{company_id}-{old}")];
        if let Some(queue) = after.queue_id {
            rooms.push(format!("queue-{queue}-{old}"));
        }
        if let Some(user) = before.user_id {
            rooms.push(format!("user-{user}"));
        }
        Some(Notification {
            event: format!("company-{company_id}-ticket"),
            rooms,
            payload: json!({ "action": "delete", "ticketId": after.id }),
        })
    }

    /// `company-{id}-appMessage`, `action` = `create`: the call's message on
    /// its ticket, to the rooms BigChat's `CreateMessageService` uses (the
    /// ticket's, its status and notification rooms, its queue's), with the
    /// message, the ticket and the contact as BigChat sends them, so the
    /// open chat shows the call at once.
    pub fn app_message(
        company_id: i64,
        message: &MessageRow,
        ticket: &TicketRow,
        contact: Option<&ContactRow>,
    ) -> Notification {
        let status = &ticket.status;
        let mut rooms = vec![
            ticket.id.to_string(),
            format!("company-{company_id}-{status}"),
            format!("company-{company_id}-notification"),
        ];
        if let Some(queue) = ticket.queue_id {
            rooms.push(format!("queue-{queue}-{status}"));
            rooms.push(format!("queue-{queue}-notification"));
        }
        let mut ticket_value = json!(ticket);
        let mut message_value = json!(message);
        if let Some(c) = contact {
            if let Some(t) = ticket_value.as_object_mut() {
                t.insert("contact".to_owned(), json!(c));
            }
            if let Some(m) = message_value.as_object_mut() {
                m.insert("contact".to_owned(), json!(c));
            }
        }
        if let Some(m) = message_value.as_object_mut() {
            m.insert("ticket".to_owned(), ticket_value.clone());
        }
        Notification {
            event: format!("company-{company_id}-appMessage"),
            rooms,
            payload: json!({
                "action": "create",
                "message": message_value,
                "ticket": ticket_value,
                "contact": contact,
            }),
        }
    }

    /// `company-{id}-asterisk`, `action` = `update`, to the company's main
    /// channel (as BigChat's `whatsappSession` events).
    pub fn asterisk(company_id: i64, asterisk: &AsteriskRow) -> Notification {
        Notification {
            event: format!("company-{company_id}-asterisk"),
            rooms: vec![format!("company-{company_id}-mainchannel")],
            payload: json!({ "action": "update", "asterisk": asterisk }),
        }
    }

    /// What an applied effect changed: the call (if its record changed),
    /// then the ticket (if it changed: first its `delete` from the rooms it
    /// left, then its update), then the call's message (when this effect
    /// created it). Nothing for a replayed effect.
    pub fn from_applied(company_id: i64, applied: &Applied) -> Vec<Notification> {
        let mut out = Vec::with_capacity(2);
        if let Some(record) = &applied.record {
            out.push(Notification::call(
                company_id,
                record,
                applied.ticket.as_ref(),
            ));
        }
        if let Some(ticket) = &applied.ticket {
            if let Some(left) = applied
                .ticket_before
                .as_ref()
                .and_then(|before| Notification::ticket_left(company_id, before, ticket))
            {
                out.push(left);
            }
            out.push(Notification::ticket(
                company_id,
                ticket,
                applied.contact.as_ref(),
            ));
            if let Some(message) = &applied.message {
                out.push(Notification::app_message(
                    company_id,
                    message,
                    ticket,
                    applied.contact.as_ref(),
                ));
            }
        }
        out
    }

    /// The JSON object a sink writes: `{"event": …, "rooms": […], "payload": …}`.
    pub fn to_json(&self) -> String {
        // Serializing Strings and a Value cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Somewhere notifications go. `publish` must return quickly and never
/// wait on the network.
pub trait Sink: Send + Sync + fmt::Debug {
    /// Hands one notification to the sink.
    fn publish(&self, notification: &Notification);
}

/// Fans notifications out to several sinks.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    sinks: Vec<Arc<dyn Sink>>,
}

impl Notifier {
    /// A notifier without sinks (publishing does nothing).
    pub fn new() -> Notifier {
        Notifier::default()
    }

    /// Adds a sink.
    pub fn with_sink(mut self, sink: Arc<dyn Sink>) -> Notifier {
        self.sinks.push(sink);
        self
    }

    /// Adds a sink.
    pub fn add_sink(&mut self, sink: Arc<dyn Sink>) {
        self.sinks.push(sink);
    }

    /// Number of sinks.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// True without sinks.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Publishes to every sink.
    pub fn publish(&self, notification: &Notification) {
        for sink in &self.sinks {
            sink.publish(notification);
        }
    }

    /// Publishes what an applied effect changed ([`Notification::from_applied`]).
    pub fn publish_applied(&self, company_id: i64, applied: &Applied) {
        for n in Notification::from_applied(company_id, applied) {
            self.publish(&n);
        }
    }

    /// Writer hooks that publish what each stored effect changed
    /// (`on_applied`); dead letters are left to the writer's own log.
    pub fn writer_hooks(self) -> WriterHooks {
        WriterHooks {
            on_applied: Some(Box::new(move |job, applied| {
                self.publish_applied(job.company_id, applied)
            })),
            on_dead_letter: None,
        }
    }

    /// Publishes an Asterisk connection's status change.
    pub fn publish_asterisk(&self, company_id: i64, asterisk: &AsteriskRow) {
        self.publish(&Notification::asterisk(company_id, asterisk));
    }
}

/// Keeps notifications in memory (tests, embedding, the CLI's `--dry-run`).
#[derive(Debug, Default)]
pub struct MemorySink {
    seen: Mutex<Vec<Notification>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// Everything published so far.
    pub fn notifications(&self) -> Vec<Notification> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Empties the sink, returning what it held.
    pub fn take(&self) -> Vec<Notification> {
        self.seen
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }
}

impl Sink for MemorySink {
    fn publish(&self, notification: &Notification) {
        if let Ok(mut s) = self.seen.lock() {
            s.push(notification.clone());
        }
    }
}
