//! Actions (client → server) and builders for the ones a connector needs.

use std::fmt;
use std::time::Duration;

use bytes::{BufMut, BytesMut};

use crate::error::{ProtoError, check_header};
use crate::message::put_header;

/// Header keys whose values never appear in `Debug` output.
const SECRET_KEYS: [&str; 2] = ["Secret", "Key"];

/// An AMI action: `Action: <name>`, an optional `ActionID`, then headers
/// in order (repeats allowed, e.g. `Variable`).
///
/// Nothing is validated while building; [`encode`](Self::encode) checks
/// every key and value first and refuses, writing nothing, anything with CR,
/// LF or NUL. A phone number typed by a user can therefore never inject a
/// header or a second action:
///
/// ```
/// use ami_proto::Action;
/// use bytes::BytesMut;
///
/// let evil = Action::hangup("PJSIP/a-1\r\n\r\nAction: Originate", None);
/// assert!(evil.encode(&mut BytesMut::new()).is_err());
///
/// let mut out = BytesMut::new();
/// Action::ping().with_action_id("c-1").encode(&mut out).unwrap();
/// assert_eq!(&out[..], b"Action: Ping\r\nActionID: c-1\r\n\r\n");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Action {
    name: String,
    action_id: Option<String>,
    headers: Vec<(String, String)>,
}

impl Action {
    /// An action with no headers yet.
    pub fn new(name: impl Into<String>) -> Action {
        Action {
            name: name.into(),
            action_id: None,
            headers: Vec::new(),
        }
    }

    /// The action name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ActionID, if set.
    pub fn action_id(&self) -> Option<&str> {
        self.action_id.as_deref()
    }

    /// Sets the ActionID (builder style).
    pub fn with_action_id(mut self, id: impl Into<String>) -> Action {
        self.action_id = Some(id.into());
        self
    }

    /// Sets the ActionID in place.
    pub fn set_action_id(&mut self, id: impl Into<String>) {
        self.action_id = Some(id.into());
    }

    /// Appends a header (repeats allowed).
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Action {
        self.headers.push((key.into(), value.into()));
        self
    }

    /// Appends a header only when `value` is `Some`.
    pub fn header_opt(self, key: impl Into<String>, value: Option<impl Into<String>>) -> Action {
        match value {
            Some(v) => self.header(key, v),
            None => self,
        }
    }

    /// Appends a header in place.
    pub fn push_header(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.headers.push((key.into(), value.into()));
    }

    /// The first value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The headers after `Action` and `ActionID`, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Checks every key and value (see [`encode`](Self::encode)).
    pub fn validate(&self) -> Result<(), ProtoError> {
        check_header(b"Action", self.name.as_bytes())?;
        if self.name.is_empty() {
            return Err(ProtoError::InvalidHeader {
                key: "Action".into(),
                reason: crate::error::InvalidHeaderReason::EmptyKey,
            });
        }
        if let Some(id) = &self.action_id {
            check_header(b"ActionID", id.as_bytes())?;
        }
        for (k, v) in &self.headers {
            check_header(k.as_bytes(), v.as_bytes())?;
        }
        Ok(())
    }

    /// Writes the action to `dst` after validating all of it; on error
    /// nothing is written.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), ProtoError> {
        self.validate()?;
        let len = 16
            + self.name.len()
            + self.action_id.as_ref().map_or(0, |i| i.len() + 12)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 4)
                .sum::<usize>();
        dst.reserve(len);
        put_header(dst, b"Action", self.name.as_bytes());
        if let Some(id) = &self.action_id {
            put_header(dst, b"ActionID", id.as_bytes());
        }
        for (k, v) in &self.headers {
            put_header(dst, k.as_bytes(), v.as_bytes());
        }
        dst.put_slice(b"\r\n");
        Ok(())
    }

    /// The action as wire bytes.
    pub fn to_bytes(&self) -> Result<BytesMut, ProtoError> {
        let mut b = BytesMut::new();
        self.encode(&mut b)?;
        Ok(b)
    }

    // ----- builders -------------------------------------------------------

    /// `Login` with a plain-text secret. Prefer [`login_md5`](Self::login_md5)
    /// after a [`challenge`](Self::challenge) when the server offers it.
    pub fn login(username: impl Into<String>, secret: impl Into<String>) -> Action {
        Action::new("Login")
            .header("Username", username)
            .header("Secret", secret)
    }

    /// `Login` with `AuthType: MD5` and `Key` = lowercase hex of
    /// md5(challenge + secret), computed by the caller.
    pub fn login_md5(username: impl Into<String>, key_hex: impl Into<String>) -> Action {
        Action::new("Login")
            .header("AuthType", "MD5")
            .header("Username", username)
            .header("Key", key_hex)
    }

    /// `Challenge` with `AuthType: MD5`; the reply carries `Challenge:`.
    pub fn challenge() -> Action {
        Action::new("Challenge").header("AuthType", "MD5")
    }

    /// `Logoff`; the server answers `Response: Goodbye` and closes.
    pub fn logoff() -> Action {
        Action::new("Logoff")
    }

    /// `Ping`; the reply has `Ping: Pong`. The keepalive of choice.
    pub fn ping() -> Action {
        Action::new("Ping")
    }

    /// `Events` with an `EventMask` (`on`, `off`, or class names such as
    /// `call,agent,dialplan`).
    pub fn events(mask: impl Into<String>) -> Action {
        Action::new("Events").header("EventMask", mask)
    }

    /// `Filter` with `Operation: Add` and a legacy regex filter
    /// (`Event: Hangup`, `!Event: VarSet`).
    pub fn filter(filter: impl Into<String>) -> Action {
        Action::new("Filter")
            .header("Operation", "Add")
            .header("Filter", filter)
    }

    /// `Filter` with `MatchCriteria` (Asterisk 18.26/20.11/21.6/22.1+), e.g.
    /// criteria `action(include),name(Cdr)` and an empty filter.
    pub fn filter_match(criteria: impl Into<String>, filter: impl Into<String>) -> Action {
        Action::new("Filter")
            .header("Operation", "Add")
            .header("MatchCriteria", criteria)
            .header("Filter", filter)
    }

    /// `Hangup` of a channel, with an optional Q.850 cause.
    pub fn hangup(channel: impl Into<String>, cause: Option<u8>) -> Action {
        Action::new("Hangup")
            .header("Channel", channel)
            .header_opt("Cause", cause.map(|c| c.to_string()))
    }

    /// `Redirect` a channel to `context,exten,priority`.
    pub fn redirect(
        channel: impl Into<String>,
        context: impl Into<String>,
        exten: impl Into<String>,
        priority: impl Into<String>,
    ) -> Action {
        Action::new("Redirect")
            .header("Channel", channel)
            .header("Context", context)
            .header("Exten", exten)
            .header("Priority", priority)
    }

    /// `BlindTransfer` a channel to `exten` (context defaults to the channel's).
    pub fn blind_transfer(
        channel: impl Into<String>,
        exten: impl Into<String>,
        context: Option<String>,
    ) -> Action {
        Action::new("BlindTransfer")
            .header("Channel", channel)
            .header("Exten", exten)
            .header_opt("Context", context)
    }

    /// `Atxfer` (attended transfer; needs an `atxfer` feature code on the PBX).
    pub fn atxfer(
        channel: impl Into<String>,
        exten: impl Into<String>,
        context: Option<String>,
    ) -> Action {
        Action::new("Atxfer")
            .header("Channel", channel)
            .header("Exten", exten)
            .header_opt("Context", context)
    }

    /// `MixMonitor` a channel into `file` with MixMonitor `options`
    /// (e.g. `b`). Commas in file or options break Asterisk's parsing.
    pub fn mix_monitor(
        channel: impl Into<String>,
        file: impl Into<String>,
        options: Option<String>,
    ) -> Action {
        Action::new("MixMonitor")
            .header("Channel", channel)
            .header("File", file)
            .header_opt("Options", options)
    }

    /// `StopMixMonitor` on a channel (optionally one MixMonitor by id).
    pub fn stop_mix_monitor(channel: impl Into<String>, id: Option<String>) -> Action {
        Action::new("StopMixMonitor")
            .header("Channel", channel)
            .header_opt("MixMonitorID", id)
    }

    /// `CoreShowChannels`: an event list of `CoreShowChannel` items.
    pub fn core_show_channels() -> Action {
        Action::new("CoreShowChannels")
    }

    /// `Status` of one channel or all: an event list of `Status` items.
    pub fn status(channel: Option<String>) -> Action {
        Action::new("Status").header_opt("Channel", channel)
    }

    /// `Command`: run a CLI command; see [`Message::output_lines`](crate::Message::output_lines).
    pub fn command(command: impl Into<String>) -> Action {
        Action::new("Command").header("Command", command)
    }

    /// `Getvar` (global when `channel` is `None`).
    pub fn getvar(channel: Option<String>, variable: impl Into<String>) -> Action {
        Action::new("Getvar")
            .header_opt("Channel", channel)
            .header("Variable", variable)
    }

    /// `Setvar` (global when `channel` is `None`).
    pub fn setvar(
        channel: Option<String>,
        variable: impl Into<String>,
        value: impl Into<String>,
    ) -> Action {
        Action::new("Setvar")
            .header_opt("Channel", channel)
            .header("Variable", variable)
            .header("Value", value)
    }

    /// `QueueStatus` (all queues when `queue` is `None`).
    pub fn queue_status(queue: Option<String>) -> Action {
        Action::new("QueueStatus").header_opt("Queue", queue)
    }
}

impl fmt::Debug for Action {
    /// Shows the action with `Secret` and `Key` values redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                    (k.as_str(), "<redacted>")
                } else {
                    (k.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("Action")
            .field("name", &self.name)
            .field("action_id", &self.action_id)
            .field("headers", &headers)
            .finish()
    }
}

/// Where an originated channel goes once it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginateTarget {
    /// A dialplan position.
    Exten {
        /// Dialplan context.
        context: String,
        /// Extension (e.g. the customer number for click-to-call).
        exten: String,
        /// Priority (number or label).
        priority: String,
    },
    /// An application with its data.
    Application {
        /// Application name.
        application: String,
        /// Its argument string.
        data: String,
    },
}

/// Builder for `Originate` (click-to-call). Always `Async: true` unless
/// told otherwise: a synchronous originate blocks the whole AMI session.
///
/// Variables are sent as one `Variable:` header each; Asterisk splits those
/// values on commas, so `,`, `"`, `\`, `(` and `)` in values are escaped
/// with a backslash, and names must be plain (letters, digits, `_`, `-`,
/// `.`, `(`, `)` for functions such as `CALLERID(name)`).
///
/// ```
/// use ami_proto::{Originate, OriginateTarget};
/// let action = Originate::new("PJSIP/agent1001", OriginateTarget::Exten {
///         context: "outbound".into(), exten: "+5511999990002".into(), priority: "1".into(),
///     })
///     .caller_id("\"Click2Call\" <1001>")
///     .variable("TICKET", "42").unwrap()
///     .build();
/// assert_eq!(action.get("Async"), Some("true"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originate {
    channel: String,
    target: OriginateTarget,
    timeout: Option<Duration>,
    caller_id: Option<String>,
    variables: Vec<(String, String)>,
    account: Option<String>,
    asynchronous: bool,
    channel_id: Option<String>,
    other_channel_id: Option<String>,
    early_media: bool,
    codecs: Option<String>,
}

impl Originate {
    /// Originate `channel` (e.g. `PJSIP/1001`) towards `target`.
    pub fn new(channel: impl Into<String>, target: OriginateTarget) -> Originate {
        Originate {
            channel: channel.into(),
            target,
            timeout: None,
            caller_id: None,
            variables: Vec::new(),
            account: None,
            asynchronous: true,
            channel_id: None,
            other_channel_id: None,
            early_media: false,
            codecs: None,
        }
    }

    /// How long the first channel may ring (`Timeout`, sent in ms).
    pub fn timeout(mut self, t: Duration) -> Originate {
        self.timeout = Some(t);
        self
    }

    /// `CallerID`, e.g. `"Name" <1001>`.
    pub fn caller_id(mut self, cid: impl Into<String>) -> Originate {
        self.caller_id = Some(cid.into());
        self
    }

    /// Adds a channel variable. Fails on a name that is empty or holds
    /// anything but letters, digits, `_`, `-`, `.`, `(`, `)`.
    pub fn variable(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Originate, ProtoError> {
        let name = name.into();
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.()".contains(&b));
        if !ok {
            return Err(ProtoError::InvalidHeader {
                key: format!("Variable {}", name.escape_debug()),
                reason: crate::error::InvalidHeaderReason::BadKeyByte,
            });
        }
        let value = value.into();
        check_header(b"Variable", value.as_bytes())?;
        self.variables.push((name, value));
        Ok(self)
    }

    /// `Account` (CDR account code).
    pub fn account(mut self, account: impl Into<String>) -> Originate {
        self.account = Some(account.into());
        self
    }

    /// Synchronous originate (blocks the AMI session; avoid).
    pub fn synchronous(mut self) -> Originate {
        self.asynchronous = false;
        self
    }

    /// `ChannelId`: the Uniqueid to give the first channel.
    pub fn channel_id(mut self, id: impl Into<String>) -> Originate {
        self.channel_id = Some(id.into());
        self
    }

    /// `OtherChannelId`: the Uniqueid of the `;2` half of a Local channel.
    pub fn other_channel_id(mut self, id: impl Into<String>) -> Originate {
        self.other_channel_id = Some(id.into());
        self
    }

    /// `EarlyMedia: true`.
    pub fn early_media(mut self) -> Originate {
        self.early_media = true;
        self
    }

    /// `Codecs`, e.g. `ulaw,alaw`.
    pub fn codecs(mut self, codecs: impl Into<String>) -> Originate {
        self.codecs = Some(codecs.into());
        self
    }

    /// The `Originate` action.
    pub fn build(self) -> Action {
        let mut a = Action::new("Originate").header("Channel", self.channel);
        match self.target {
            OriginateTarget::Exten {
                context,
                exten,
                priority,
            } => {
                a = a
                    .header("Context", context)
                    .header("Exten", exten)
                    .header("Priority", priority);
            }
            OriginateTarget::Application { application, data } => {
                a = a.header("Application", application).header("Data", data);
            }
        }
        a = a
            .header_opt("Timeout", self.timeout.map(|t| t.as_millis().to_string()))
            .header_opt("CallerID", self.caller_id)
            .header_opt("Account", self.account)
            .header_opt("ChannelId", self.channel_id)
            .header_opt("OtherChannelId", self.other_channel_id)
            .header_opt("Codecs", self.codecs);
        if self.early_media {
            a = a.header("EarlyMedia", "true");
        }
        for (k, v) in self.variables {
            a = a.header("Variable", format!("{k}={}", escape_variable_value(&v)));
        }
        a.header("Async", if self.asynchronous { "true" } else { "false" })
    }
}

impl From<Originate> for Action {
    fn from(o: Originate) -> Action {
        o.build()
    }
}

/// Escapes what Asterisk's argument splitter would act on in a
/// `Variable:` value: `,` (item separator), `"` (quotes), `\` (escape) and
/// parentheses (which disable splitting).
pub fn escape_variable_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, ',' | '"' | '\\' | '(' | ')') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_crlf_nul_anywhere() {
        for bad in ["a\r\nAction: Originate", "a\nb", "a\rb", "a\0b"] {
            let mut out = BytesMut::new();
            assert!(Action::hangup(bad, None).encode(&mut out).is_err());
            assert!(out.is_empty(), "nothing written for {bad:?}");
            assert!(Action::ping().with_action_id(bad).encode(&mut out).is_err());
            assert!(Action::new(bad).encode(&mut out).is_err());
            assert!(Action::ping().header(bad, "x").encode(&mut out).is_err());
            assert!(out.is_empty());
        }
        assert!(Action::ping().header("A:B", "x").validate().is_err());
        assert!(Action::ping().header("", "x").validate().is_err());
        assert!(Action::new("").validate().is_err());
    }

    #[test]
    fn originate_headers_in_order_with_repeated_variables() {
        let a = Originate::new(
            "PJSIP/agent1001",
            OriginateTarget::Exten {
                context: "outbound".into(),
                exten: "+5511999990002".into(),
                priority: "1".into(),
            },
        )
        .timeout(Duration::from_secs(30))
        .caller_id("\"Click2Call\" <1001>")
        .variable("TICKET", "42")
        .unwrap()
        .variable("NOTE", "a,b=c")
        .unwrap()
        .channel_id("c2c-1")
        .build()
        .with_action_id("x-1");
        let bytes = a.to_bytes().unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "Action: Originate\r\nActionID: x-1\r\nChannel: PJSIP/agent1001\r\n\
             Context: outbound\r\nExten: +5511999990002\r\nPriority: 1\r\n\
             Timeout: 30000\r\nCallerID: \"Click2Call\" <1001>\r\nChannelId: c2c-1\r\n\
             Variable: TICKET=42\r\nVariable: NOTE=a\\,b=c\r\nAsync: true\r\n\r\n"
        );
        assert!(
            Originate::new(
                "x/y",
                OriginateTarget::Application {
                    application: "Wait".into(),
                    data: "1".into()
                }
            )
            .variable("A=B", "1")
            .is_err()
        );
        assert!(
            Originate::new(
                "x/y",
                OriginateTarget::Application {
                    application: "Wait".into(),
                    data: "1".into()
                }
            )
            .variable("A", "1\r\nAction: Command")
            .is_err()
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = format!("{:?}", Action::login("bigchat", "bigchat-secret"));
        assert!(!s.contains("bigchat-secret"), "{s}");
        let s = format!("{:?}", Action::login_md5("bigchat", "0123abcd"));
        assert!(!s.contains("0123abcd"), "{s}");
    }

    #[test]
    fn builders_produce_expected_names() {
        let cases = [
            (Action::challenge(), "Challenge"),
            (Action::logoff(), "Logoff"),
            (Action::events("off"), "Events"),
            (Action::filter("Event: Hangup"), "Filter"),
            (
                Action::filter_match("action(include),name(Cdr)", ""),
                "Filter",
            ),
            (Action::redirect("c/1", "ctx", "100", "1"), "Redirect"),
            (Action::blind_transfer("c/1", "1002", None), "BlindTransfer"),
            (
                Action::atxfer("c/1", "1002", Some("agents".into())),
                "Atxfer",
            ),
            (
                Action::mix_monitor("c/1", "x.wav", Some("b".into())),
                "MixMonitor",
            ),
            (Action::stop_mix_monitor("c/1", None), "StopMixMonitor"),
            (Action::core_show_channels(), "CoreShowChannels"),
            (Action::status(None), "Status"),
            (Action::command("core show uptime"), "Command"),
            (Action::getvar(None, "X"), "Getvar"),
            (Action::setvar(Some("c/1".into()), "X", "1"), "Setvar"),
            (Action::queue_status(Some("support".into())), "QueueStatus"),
        ];
        for (a, name) in cases {
            assert_eq!(a.name(), name);
            a.validate().unwrap();
        }
    }
}
