//! Hand-written AMI events for scenario tests.

use ami_proto::Message;
use chrono::{DateTime, Duration, TimeZone, Utc};

/// A channel as the events describe it.
#[derive(Debug, Clone)]
pub struct Ch {
    pub name: &'static str,
    pub uid: &'static str,
    pub lid: &'static str,
    pub cid: &'static str,
    pub connected: &'static str,
    pub context: &'static str,
    pub exten: &'static str,
    pub state: u8,
}

impl Ch {
    /// The carrier's leg of an inbound call to DID 4000.
    pub fn trunk(uid: &'static str, lid: &'static str, caller: &'static str) -> Ch {
        Ch {
            name: "PJSIP/trunk-00000001",
            uid,
            lid,
            cid: caller,
            connected: "<unknown>",
            context: "from-trunk",
            exten: "4000",
            state: 4,
        }
    }

    /// An agent phone's leg.
    pub fn agent(
        name: &'static str,
        ext: &'static str,
        uid: &'static str,
        lid: &'static str,
    ) -> Ch {
        Ch {
            name,
            uid,
            lid,
            cid: ext,
            connected: "<unknown>",
            context: "agents",
            exten: "s",
            state: 0,
        }
    }

    pub fn up(mut self) -> Ch {
        self.state = 6;
        self
    }
}

pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_515_000, 0).single().expect("time") + Duration::seconds(secs)
}

fn block(prefix: &str, ch: &Ch) -> Vec<(String, String)> {
    let state_desc = match ch.state {
        0 => "Down",
        4 => "Ring",
        5 => "Ringing",
        6 => "Up",
        _ => "Unknown",
    };
    [
        ("Channel", ch.name.to_owned()),
        ("ChannelState", ch.state.to_string()),
        ("ChannelStateDesc", state_desc.to_owned()),
        ("CallerIDNum", ch.cid.to_owned()),
        ("CallerIDName", "<unknown>".to_owned()),
        ("ConnectedLineNum", ch.connected.to_owned()),
        ("ConnectedLineName", "<unknown>".to_owned()),
        ("Language", "en".to_owned()),
        ("AccountCode", String::new()),
        ("Context", ch.context.to_owned()),
        ("Exten", ch.exten.to_owned()),
        ("Priority", "1".to_owned()),
        ("Uniqueid", ch.uid.to_owned()),
        ("Linkedid", ch.lid.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{prefix}{k}"), v))
    .collect()
}

/// An event: its name, then the given headers.
pub fn ev(name: &str, headers: Vec<(String, String)>) -> Message {
    let mut b = Message::builder()
        .header("Event", name)
        .header("Privilege", "call,all");
    for (k, v) in headers {
        b = b.header(k, v);
    }
    b.build().expect("valid test message")
}

pub fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub fn on(name: &str, ch: &Ch) -> Message {
    ev(name, block("", ch))
}

pub fn on_with(name: &str, ch: &Ch, extra: &[(&str, &str)]) -> Message {
    let mut h = block("", ch);
    h.extend(kv(extra));
    ev(name, h)
}

pub fn dial(name: &str, caller: Option<&Ch>, dest: &Ch, status: Option<&str>) -> Message {
    let mut h = caller.map(|c| block("", c)).unwrap_or_default();
    h.extend(block("Dest", dest));
    h.push(("DialString".into(), "x".into()));
    if let Some(s) = status {
        h.push(("DialStatus".into(), s.into()));
    }
    ev(name, h)
}

pub fn bridge_enter(ch: &Ch, bridge: &str) -> Message {
    let mut h = kv(&[
        ("BridgeUniqueid", bridge),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeNumChannels", "2"),
    ]);
    h.extend(block("", ch));
    ev("BridgeEnter", h)
}

pub fn hangup(ch: &Ch, cause: &str) -> Message {
    on_with("Hangup", ch, &[("Cause", cause), ("Cause-txt", "x")])
}

pub fn system(name: &str, headers: &[(&str, &str)]) -> Message {
    let mut b = Message::builder()
        .header("Event", name)
        .header("Privilege", "system,all");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.build().expect("valid test message")
}
