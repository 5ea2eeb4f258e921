//! A decoded AMI message: ordered headers over a shared buffer.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::Frame;
use crate::codec::AmiCodec;
use crate::error::{ProtoError, check_header};
use crate::value::Value;

/// A byte range inside a message's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    #[inline]
    pub(crate) fn new(start: usize, end: usize) -> Span {
        // The codec caps message size below u32::MAX, so these never truncate.
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.end.wrapping_sub(self.start) as usize
    }

    #[inline]
    fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }
}

/// Where one `Key: Value` header lies in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeaderSpan {
    pub(crate) key: Span,
    pub(crate) value: Span,
}

impl HeaderSpan {
    /// Size in a message's index: four little-endian `u32`s.
    pub(crate) const BYTES: usize = 16;

    #[inline]
    pub(crate) fn to_bytes(self) -> [u8; HeaderSpan::BYTES] {
        let mut out = [0u8; HeaderSpan::BYTES];
        let words = [
            self.key.start,
            self.key.end,
            self.value.start,
            self.value.end,
        ];
        for (dst, w) in out.as_chunks_mut::<4>().0.iter_mut().zip(words) {
            *dst = w.to_le_bytes();
        }
        out
    }

    #[inline]
    fn from_bytes(b: &[u8; HeaderSpan::BYTES]) -> HeaderSpan {
        let (words, _) = b.as_chunks::<4>();
        let w = |i: usize| u32::from_le_bytes(words[i]);
        HeaderSpan {
            key: Span {
                start: w(0),
                end: w(1),
            },
            value: Span {
                start: w(2),
                end: w(3),
            },
        }
    }
}

/// What a message is, judged by its first header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// First header is `Event:` (server to client).
    Event,
    /// First header is `Response:` (server to client).
    Response,
    /// First header is `Action:` (client to server).
    Action,
    /// Anything else. Still a message: nothing is dropped.
    Other,
}

/// One header of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The key, as spelt by the sender.
    pub name: Value<'a>,
    /// The value, without the single space after the colon.
    pub value: Value<'a>,
}

/// One AMI message: its headers in order, referencing the bytes it was
/// decoded from.
///
/// Decoding allocates nothing per message in steady state (the header index is
/// cut from shared blocks the decoder recycles) and never copies a key or
/// a value: [`Value`]s borrow from the shared [`Bytes`] buffer the message
/// came in. Cloning a `Message` is cheap (reference-counted buffer).
///
/// Keys are matched case-insensitively (`get("uniqueid")` finds
/// `Uniqueid`), order is preserved and repeated keys are kept.
///
/// ```
/// use ami_proto::{Message, MessageKind};
/// let msg = Message::parse(b"Event: Hangup\r\nUniqueid: 17.1\r\nCause: 16\r\n\r\n").unwrap();
/// assert_eq!(msg.kind(), MessageKind::Event);
/// assert_eq!(msg.event_name().unwrap(), "Hangup");
/// assert_eq!(msg.get("UNIQUEID").unwrap(), "17.1");
/// ```
#[derive(Clone)]
pub struct Message {
    raw: Bytes,
    /// The headers' spans, [`HeaderSpan::BYTES`] each, cut from the
    /// decoder's shared index blocks.
    index: Bytes,
    /// Body lines of a legacy `Response: Follows` reply.
    output: Vec<Span>,
    legacy_output: bool,
}

impl Message {
    pub(crate) fn from_parts(
        raw: Bytes,
        index: Bytes,
        output: Vec<Span>,
        legacy_output: bool,
    ) -> Message {
        debug_assert_eq!(index.len() % HeaderSpan::BYTES, 0);
        Message {
            raw,
            index,
            output,
            legacy_output,
        }
    }

    /// The header spans, in order.
    #[inline]
    fn spans(&self) -> impl ExactSizeIterator<Item = HeaderSpan> + DoubleEndedIterator + '_ {
        let (spans, _) = self.index.as_chunks::<{ HeaderSpan::BYTES }>();
        spans.iter().map(HeaderSpan::from_bytes)
    }

    /// Decodes exactly one message from `bytes` (which must hold the whole
    /// message, including the closing empty line).
    ///
    /// Returns `None` if the bytes do not hold a complete message or hold
    /// something else first (a banner, an over-limit message).
    pub fn parse(bytes: &[u8]) -> Option<Message> {
        let mut codec = AmiCodec::without_banner();
        let mut buf = BytesMut::from(bytes);
        match codec.decode_frame(&mut buf) {
            Some(Frame::Message(m)) => Some(m),
            _ => None,
        }
    }

    /// Starts building a message header by header (useful for tests and
    /// for fake servers). The result is encoded and decoded again, so it is
    /// exactly what a peer would receive.
    pub fn builder() -> MessageBuilder {
        MessageBuilder::default()
    }

    /// The exact bytes this message was decoded from, terminator included.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The kind, judged by the first header.
    pub fn kind(&self) -> MessageKind {
        match self.spans().next() {
            Some(h) => {
                let k = h.key.get(&self.raw);
                if k.eq_ignore_ascii_case(b"Event") {
                    MessageKind::Event
                } else if k.eq_ignore_ascii_case(b"Response") {
                    MessageKind::Response
                } else if k.eq_ignore_ascii_case(b"Action") {
                    MessageKind::Action
                } else {
                    MessageKind::Other
                }
            }
            None => MessageKind::Other,
        }
    }

    fn first_value_if(&self, kind: MessageKind) -> Option<Value<'_>> {
        if self.kind() == kind {
            self.spans()
                .next()
                .map(|h| Value::new(h.value.get(&self.raw)))
        } else {
            None
        }
    }

    /// The event name (`Event: Hangup` → `Hangup`) if this is an event.
    pub fn event_name(&self) -> Option<Value<'_>> {
        self.first_value_if(MessageKind::Event)
    }

    /// The response status (`Success`, `Error`, `Goodbye`, `Follows`) if
    /// this is a response.
    pub fn response(&self) -> Option<Value<'_>> {
        self.first_value_if(MessageKind::Response)
    }

    /// The action name if this is an action.
    pub fn action_name(&self) -> Option<Value<'_>> {
        self.first_value_if(MessageKind::Action)
    }

    /// True if this is the event named `name` (case-insensitive).
    pub fn is_event(&self, name: &str) -> bool {
        self.event_name().is_some_and(|n| n.eq_ignore_case(name))
    }

    /// The `ActionID` header, wherever it appears.
    pub fn action_id(&self) -> Option<Value<'_>> {
        self.get("ActionID")
    }

    /// True for the first reply of an event list (`EventList: start`).
    pub fn is_list_start(&self) -> bool {
        self.get("EventList")
            .is_some_and(|v| v.eq_ignore_case("start"))
    }

    /// True for the closing event of an event list (`EventList: Complete`).
    pub fn is_list_complete(&self) -> bool {
        self.get("EventList")
            .is_some_and(|v| v.eq_ignore_case("Complete"))
    }

    /// The `Message:` header of a response, e.g. the reason of an error.
    pub fn message_text(&self) -> Option<Value<'_>> {
        self.get("Message")
    }

    /// The `Timestamp` header (`<sec>.<usec>`, sent with
    /// `timestampevents=yes`) as seconds since the Unix epoch.
    pub fn timestamp(&self) -> Option<f64> {
        let v = self.get("Timestamp")?;
        crate::parse::unix_timestamp(v.as_bytes())
    }

    /// Number of headers (legacy command body lines not included).
    pub fn len(&self) -> usize {
        self.index.len() / HeaderSpan::BYTES
    }

    /// True if the message has no header (never the case for decoded messages).
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The headers, in order.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = Header<'_>> + '_ {
        self.spans().map(move |h| Header {
            name: Value::new(h.key.get(&self.raw)),
            value: Value::new(h.value.get(&self.raw)),
        })
    }

    /// The first value of `key` (case-insensitive).
    #[inline]
    pub fn get(&self, key: &str) -> Option<Value<'_>> {
        let key = key.as_bytes();
        self.spans().find_map(|h| {
            // Lengths first: most keys differ there, before any slicing.
            if h.key.len() == key.len() && h.key.get(&self.raw).eq_ignore_ascii_case(key) {
                Some(Value::new(h.value.get(&self.raw)))
            } else {
                None
            }
        })
    }

    /// The first value of `prefix` + `key`, e.g. `("Dest", "Uniqueid")`
    /// finds `DestUniqueid`, without allocating.
    #[inline]
    pub fn get_prefixed(&self, prefix: &str, key: &str) -> Option<Value<'_>> {
        if prefix.is_empty() {
            return self.get(key);
        }
        let (p, k) = (prefix.as_bytes(), key.as_bytes());
        let total = p.len() + k.len();
        self.spans().find_map(|h| {
            let name = h.key.get(&self.raw);
            if name.len() == total
                && name[..p.len()].eq_ignore_ascii_case(p)
                && name[p.len()..].eq_ignore_ascii_case(k)
            {
                Some(Value::new(h.value.get(&self.raw)))
            } else {
                None
            }
        })
    }

    /// Every value of `key` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = Value<'a>> + 'a {
        self.spans().filter_map(move |h| {
            if h.key.get(&self.raw).eq_ignore_ascii_case(key.as_bytes()) {
                Some(Value::new(h.value.get(&self.raw)))
            } else {
                None
            }
        })
    }

    /// True if the message carries `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The lines of `Command` output, in order, whichever format the
    /// server used: the legacy `Response: Follows` body (Asterisk ≤ 13)
    /// or repeated `Output:` headers (Asterisk ≥ 14).
    pub fn output_lines(&self) -> impl Iterator<Item = Value<'_>> + '_ {
        self.output
            .iter()
            .map(move |s| Value::new(s.get(&self.raw)))
            .chain(self.get_all("Output"))
    }

    /// True if this message used the legacy `Response: Follows` format.
    pub fn is_legacy_output(&self) -> bool {
        self.legacy_output
    }

    /// Writes the message in canonical form (`Key: Value\r\n` … `\r\n`) to
    /// `dst`. Legacy command output is written back in the legacy format.
    ///
    /// Refuses (writing nothing) any key or value that contains CR, LF or
    /// NUL, and keys that are empty or contain a colon or whitespace.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), ProtoError> {
        for h in self.headers() {
            check_header(h.name.as_bytes(), h.value.as_bytes())?;
        }
        for line in &self.output {
            check_header(b"Output", line.get(&self.raw))?;
            if line.get(&self.raw).ends_with(b"--END COMMAND--") {
                return Err(ProtoError::InvalidHeader {
                    key: "Output".into(),
                    reason: crate::error::InvalidHeaderReason::LineBreakOrNul,
                });
            }
        }
        dst.reserve(self.raw.len() + 4);
        for h in self.headers() {
            put_header(dst, h.name.as_bytes(), h.value.as_bytes());
        }
        if self.legacy_output {
            // The decoder reads lines after the headers as more headers
            // while they are `Privilege`/`ActionID`/`Message`, and drops one
            // empty line there as the separator: a body starting so gets
            // the separator written, so that it decodes back the same.
            let first = self.output.first().map(|l| l.get(&self.raw));
            if first.is_some_and(|l| l.is_empty() || crate::parse::is_follows_header(l)) {
                dst.put_slice(b"\r\n");
            }
            for line in &self.output {
                dst.put_slice(line.get(&self.raw));
                dst.put_slice(b"\r\n");
            }
            dst.put_slice(b"--END COMMAND--\r\n");
        }
        dst.put_slice(b"\r\n");
        Ok(())
    }
}

#[inline]
pub(crate) fn put_header(dst: &mut BytesMut, key: &[u8], value: &[u8]) {
    dst.put_slice(key);
    dst.put_slice(b": ");
    dst.put_slice(value);
    dst.put_slice(b"\r\n");
}

impl PartialEq for Message {
    /// Two messages are equal when they have the same headers (byte for
    /// byte, in order) and the same output lines, however they were framed
    /// on the wire (CRLF or LF).
    fn eq(&self, other: &Message) -> bool {
        self.legacy_output == other.legacy_output
            && self.headers().eq(other.headers())
            && self.output.len() == other.output.len()
            && self
                .output
                .iter()
                .zip(&other.output)
                .all(|(a, b)| a.get(&self.raw) == b.get(&other.raw))
    }
}

impl Eq for Message {}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_struct("Message");
        m.field("kind", &self.kind());
        let headers: Vec<(Value<'_>, Value<'_>)> =
            self.headers().map(|h| (h.name, h.value)).collect();
        m.field("headers", &headers);
        if self.legacy_output {
            let lines: Vec<Value<'_>> = self
                .output
                .iter()
                .map(|s| Value::new(s.get(&self.raw)))
                .collect();
            m.field("legacy_output", &lines);
        }
        m.finish()
    }
}

/// Builds a [`Message`] header by header; see [`Message::builder`].
#[derive(Debug, Default, Clone)]
pub struct MessageBuilder {
    headers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl MessageBuilder {
    /// Appends a header.
    pub fn header(mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((key.as_ref().to_vec(), value.as_ref().to_vec()));
        self
    }

    /// Encodes and decodes the headers into a message. Fails on headers the
    /// encoder refuses (CR, LF, NUL; bad keys) or on an empty builder.
    pub fn build(self) -> Result<Message, ProtoError> {
        let mut dst = BytesMut::new();
        for (k, v) in &self.headers {
            check_header(k, v)?;
            put_header(&mut dst, k, v);
        }
        if self.headers.is_empty() {
            return Err(ProtoError::InvalidHeader {
                key: String::new(),
                reason: crate::error::InvalidHeaderReason::EmptyKey,
            });
        }
        dst.put_slice(b"\r\n");
        let mut codec = AmiCodec::without_banner();
        match codec.decode_frame(&mut dst) {
            Some(Frame::Message(m)) => Ok(m),
            Some(Frame::Skipped(e)) => Err(e),
            _ => Err(ProtoError::Truncated { bytes: dst.len() }),
        }
    }
}
