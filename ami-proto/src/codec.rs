//! The streaming decoder and the encoder (tokio-util `Decoder`/`Encoder`).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::action::Action;
use crate::error::ProtoError;
use crate::message::{HeaderSpan, Message, Span};
use crate::parse;
use crate::scan;

/// Size of the blocks header indexes are cut from (about 30 messages of
/// ~17 headers each).
const INDEX_BLOCK: usize = 8 * 1024;

/// Header spans kept as scratch between messages (more are freed).
const SCRATCH_KEEP: usize = 4096;

/// The terminator of a legacy `Response: Follows` command body.
const END_COMMAND: &[u8] = b"--END COMMAND--";

/// Bounds on what the decoder accepts. Memory stays bounded by
/// `max_message_bytes` whatever the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message accepted, in bytes, terminator included.
    /// Default: 8 MiB (a `Command` reply of tens of thousands of lines
    /// fits). Capped at 4 GiB − 1.
    pub max_message_bytes: usize,
    /// Most header lines (plus legacy output lines) in one message.
    /// Default: 65,536.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 8 * 1024 * 1024,
            max_headers: 65_536,
        }
    }
}

/// The banner line a server sends on connect, e.g.
/// `Asterisk Call Manager/11.0.0`.
#[derive(Clone, PartialEq, Eq)]
pub struct Banner {
    line: Bytes,
    slash: Option<usize>,
}

impl Banner {
    fn new(line: Bytes) -> Banner {
        let slash = parse::banner_split(&line);
        Banner { line, slash }
    }

    /// Parses a banner line (without line ending).
    pub fn parse(line: &[u8]) -> Banner {
        Banner::new(Bytes::copy_from_slice(line))
    }

    /// The whole line, without its line ending.
    pub fn line(&self) -> crate::Value<'_> {
        crate::Value::new(&self.line)
    }

    /// The product name before the slash (`Asterisk Call Manager`).
    pub fn product(&self) -> crate::Value<'_> {
        match self.slash {
            Some(i) => crate::Value::new(&self.line[..i]),
            None => crate::Value::new(&self.line),
        }
    }

    /// The AMI protocol version after the slash (`11.0.0` on Asterisk 22),
    /// opaque: detect features, not numbers.
    pub fn version(&self) -> Option<crate::Value<'_>> {
        self.slash.map(|i| crate::Value::new(&self.line[i + 1..]))
    }
}

impl std::fmt::Debug for Banner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Banner").field(&self.line()).finish()
    }
}

/// One item of the decoded stream.
#[derive(Debug)]
#[non_exhaustive]
pub enum Frame {
    /// The greeting line sent once on connect.
    Banner(Banner),
    /// A complete message.
    Message(Message),
    /// A message that could not be kept (over a limit, or cut off by the
    /// end of the stream). It was skipped to its end; the stream goes on.
    /// Each skipped message is reported exactly once.
    Skipped(ProtoError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the banner line.
    Banner,
    /// Reading `Key: Value` lines.
    Headers,
    /// After `Response: Follows`: still reading its own headers.
    FollowsHeaders,
    /// Reading the raw body of a legacy command reply.
    FollowsBody,
    /// Dropping an over-limit message up to its end.
    Discard,
}

#[derive(Debug)]
struct Discard {
    error: ProtoError,
    /// The message is a legacy command reply: it ends at `--END COMMAND--`.
    follows: bool,
    /// Only the current line is dropped (an over-long banner): it ends at
    /// the first LF.
    line_only: bool,
    /// Bytes of the current (unfinished) line already dropped.
    line_len: usize,
    /// The last dropped byte was a CR.
    last_was_cr: bool,
}

/// Where the hot path's line loop stopped.
enum FastExit {
    /// Hand the line starting at this offset to the general path.
    Fallback(usize),
    /// A blank line before any header ends at this offset: drop it.
    SkipBlank(usize),
    /// The message's closing blank line ends at this offset.
    End(usize),
}

/// Outcome of the decoder's hot path.
enum Fast {
    /// A message is complete.
    Frame(Frame),
    /// Hand over to the general path at the current line.
    Fallback,
}

/// Streaming AMI decoder and action encoder.
///
/// Implements [`tokio_util::codec::Decoder`] (items are [`Frame`]s) and
/// [`Encoder`] for [`Action`] and [`Message`]. Without tokio, call
/// [`decode_frame`](Self::decode_frame) on a `BytesMut` you fill yourself.
///
/// # Behavior
/// * The first line is the banner if it has no colon; otherwise the server
///   sent none and the line is read as a header. A banner line longer than
///   `max_message_bytes` is skipped to its end ([`Frame::Skipped`]); the
///   messages after it decode as usual.
/// * Lines end with LF; one CR before it is dropped. CRLF, bare LF and any
///   mixture work, and empty lines outside a message are skipped (so
///   `Message: x\n\r\n\r\n` is one message, not two).
/// * Scanning resumes where the previous call stopped: feeding a message in
///   many small chunks costs the same as feeding it whole.
/// * A line without a colon continues the previous header's value (Asterisk
///   puts raw newlines in some values, e.g. `Getvar`); as the first line of a
///   message it becomes a key with an empty value.
/// * `Response: Follows` switches to the legacy command format: the raw
///   body up to `--END COMMAND--` becomes the message's output lines.
/// * A message over [`Limits`] is dropped as it arrives (memory stays
///   bounded), reported once as [`Frame::Skipped`], and decoding goes on
///   with the next message.
/// * At end of stream, an unfinished message (or banner line) is reported
///   as [`Frame::Skipped`] with [`ProtoError::Truncated`].
/// * The frames are the same however the bytes are chunked.
///
/// ```
/// use ami_proto::{AmiCodec, Frame};
/// use bytes::BytesMut;
///
/// let mut codec = AmiCodec::new();
/// let mut buf = BytesMut::from(&b"Asterisk Call Manager/11.0.0\r\nEvent: Ping"[..]);
/// let Some(Frame::Banner(b)) = codec.decode_frame(&mut buf) else { panic!() };
/// assert_eq!(b.version().unwrap(), "11.0.0");
/// assert!(codec.decode_frame(&mut buf).is_none()); // needs more bytes
/// buf.extend_from_slice(b"\r\nX: 1\r\n\r\n");
/// let Some(Frame::Message(m)) = codec.decode_frame(&mut buf) else { panic!() };
/// assert_eq!(m.get("x").unwrap(), "1");
/// ```
#[derive(Debug)]
pub struct AmiCodec {
    limits: Limits,
    state: State,
    /// Offset in the buffer of the first byte of the current line. The
    /// current message always starts at offset 0.
    line_start: usize,
    /// Offset up to which the current line is known to hold no LF.
    searched: usize,
    headers: Vec<HeaderSpan>,
    output: Vec<Span>,
    legacy: bool,
    discard: Option<Discard>,
    /// Where finished messages' header indexes are written: each message
    /// takes its slice as a `Bytes`, so the blocks are shared, not
    /// allocated per message, and reused once their messages are dropped.
    index: BytesMut,
}

impl Default for AmiCodec {
    fn default() -> Self {
        AmiCodec::new()
    }
}

impl AmiCodec {
    /// A decoder for a client connection: expects the banner first.
    pub fn new() -> AmiCodec {
        AmiCodec::with_limits(Limits::default())
    }

    /// A decoder for a stream that has no banner (e.g. what a client sends
    /// to a server, or a stream joined after the banner).
    pub fn without_banner() -> AmiCodec {
        let mut c = AmiCodec::new();
        c.state = State::Headers;
        c
    }

    /// A client decoder with custom limits.
    pub fn with_limits(limits: Limits) -> AmiCodec {
        let limits = Limits {
            max_message_bytes: limits.max_message_bytes.clamp(16, u32::MAX as usize - 1),
            max_headers: limits.max_headers.max(1),
        };
        AmiCodec {
            limits,
            state: State::Banner,
            line_start: 0,
            searched: 0,
            headers: Vec::new(),
            output: Vec::new(),
            legacy: false,
            discard: None,
            index: BytesMut::new(),
        }
    }

    /// Switches banner expectation on or off (only before decoding starts).
    pub fn expect_banner(mut self, yes: bool) -> AmiCodec {
        self.state = if yes { State::Banner } else { State::Headers };
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn reset_message(&mut self) {
        self.state = State::Headers;
        self.line_start = 0;
        self.searched = 0;
        self.legacy = false;
        self.headers.clear();
        self.output.clear();
    }

    fn finish_message(&mut self, src: &mut BytesMut, end: usize) -> Frame {
        let raw = src.split_to(end).freeze();
        let index = self.take_index();
        let output = std::mem::take(&mut self.output);
        let legacy = self.legacy;
        self.reset_message();
        if self.headers.capacity() > SCRATCH_KEEP {
            // One huge message must not pin its scratch for good.
            self.headers = Vec::new();
        }
        Frame::Message(Message::from_parts(raw, index, output, legacy))
    }

    /// Moves the current message's header spans into the index arena and
    /// returns them as one `Bytes`.
    ///
    /// A recycled arena rather than a `Vec` per message (or an inline
    /// array): no allocation and no free per message, `Message` stays small
    /// and cheap to move and clone, and memory follows what the consumer
    /// keeps. Blocks are `INDEX_BLOCK` bytes; `BytesMut::reserve` reuses a
    /// block in place once every message cut from it is dropped, else it
    /// starts a new one.
    fn take_index(&mut self) -> Bytes {
        let need = self.headers.len() * HeaderSpan::BYTES;
        if self.index.capacity() < need {
            if self.index.capacity() == 0 {
                self.index = BytesMut::with_capacity(INDEX_BLOCK.max(need));
            } else {
                self.index.reserve(need);
            }
        }
        self.index.resize(need, 0);
        let (slots, _) = self.index.as_chunks_mut::<{ HeaderSpan::BYTES }>();
        for (slot, h) in slots.iter_mut().zip(&self.headers) {
            *slot = h.to_bytes();
        }
        self.index.split().freeze()
    }

    fn start_discard(&mut self, src: &mut BytesMut, error: ProtoError) {
        let follows = matches!(self.state, State::FollowsHeaders | State::FollowsBody);
        // Drop the complete lines already seen; keep scanning the current one.
        src.advance(self.line_start);
        self.reset_message();
        self.state = State::Discard;
        self.discard = Some(Discard {
            error,
            follows,
            line_only: false,
            line_len: 0,
            last_was_cr: false,
        });
    }

    /// Drops an over-long banner line up to its LF; the next message is
    /// decoded as usual.
    fn start_discard_banner(&mut self, size: usize) {
        self.reset_message();
        self.state = State::Discard;
        self.discard = Some(Discard {
            error: ProtoError::MessageTooLarge {
                size,
                limit: self.limits.max_message_bytes,
            },
            follows: false,
            line_only: true,
            line_len: 0,
            last_was_cr: false,
        });
    }

    /// Decodes the next frame from `src`, consuming its bytes. `None` means
    /// more bytes are needed. Never fails: per-message problems come out as
    /// [`Frame::Skipped`].
    pub fn decode_frame(&mut self, src: &mut BytesMut) -> Option<Frame> {
        loop {
            match self.state {
                State::Discard => {
                    if let Some(frame) = self.discard_step(src) {
                        return Some(frame);
                    }
                    if self.state == State::Discard {
                        return None;
                    }
                }
                State::Banner => {
                    // The banner is decided on the first `max` bytes of the
                    // first line alone, so that however the bytes are
                    // chunked the decision is the same: a colon there makes
                    // it a header line (the server sent no banner); no colon
                    // and more than `max` bytes before its LF makes it an
                    // over-long banner, skipped up to its LF.
                    let max = self.limits.max_message_bytes;
                    let nl =
                        memchr::memchr(b'\n', &src[self.searched..]).map(|i| i + self.searched);
                    let Some(nl) = nl else {
                        self.searched = src.len();
                        if src.len() > max {
                            self.searched = 0;
                            if memchr::memchr(b':', &src[..max]).is_some() {
                                self.state = State::Headers;
                            } else {
                                let size = src.len();
                                src.clear();
                                self.start_discard_banner(size);
                            }
                            continue;
                        }
                        return None;
                    };
                    let line = strip_cr(&src[..nl]);
                    if line.is_empty() {
                        src.advance(nl + 1);
                        self.searched = 0;
                        continue;
                    }
                    if memchr::memchr(b':', &line[..line.len().min(max)]).is_some() {
                        // No banner: this is already a header line.
                        self.state = State::Headers;
                        self.searched = 0;
                        continue;
                    }
                    if nl > max {
                        src.advance(nl + 1);
                        self.reset_message();
                        return Some(Frame::Skipped(ProtoError::MessageTooLarge {
                            size: nl + 1,
                            limit: max,
                        }));
                    }
                    let line_len = line.len();
                    let mut raw = src.split_to(nl + 1);
                    raw.truncate(line_len);
                    self.reset_message();
                    return Some(Frame::Banner(Banner::new(raw.freeze())));
                }
                State::Headers | State::FollowsHeaders | State::FollowsBody => {
                    if self.state == State::Headers && self.searched == self.line_start {
                        match self.fast_headers(src) {
                            Fast::Frame(frame) => return Some(frame),
                            Fast::Fallback => {}
                        }
                    }
                    let from = self.searched;
                    let Some(i) = parse::find_lf(&src[from..]) else {
                        self.searched = src.len();
                        if src.len() > self.limits.max_message_bytes {
                            let size = src.len();
                            self.start_discard(
                                src,
                                ProtoError::MessageTooLarge {
                                    size,
                                    limit: self.limits.max_message_bytes,
                                },
                            );
                            continue;
                        }
                        return None;
                    };
                    let nl = from + i;
                    let next = nl + 1;
                    if next > self.limits.max_message_bytes {
                        self.start_discard(
                            src,
                            ProtoError::MessageTooLarge {
                                size: next,
                                limit: self.limits.max_message_bytes,
                            },
                        );
                        continue;
                    }
                    let start = self.line_start;
                    let end = if nl > start && src[nl - 1] == b'\r' {
                        nl - 1
                    } else {
                        nl
                    };
                    if let Some(frame) = self.line(src, start, end, next) {
                        return Some(frame);
                    }
                }
            }
        }
    }

    /// The hot path: complete `Key: Value` lines of an ordinary message.
    ///
    /// One structural scan over the buffer: each 64-byte block gives a
    /// mask of its LFs and one of its colons ([`scan::block_masks`]), and
    /// the loop walks the LF bits to cut lines, taking the lowest colon bit
    /// before each LF as the key's end. No per-line search call; the
    /// per-line work is a few bit operations, two byte loads (CR, space)
    /// and the push of the header's span. Anything unusual (a partial line,
    /// a line without colon, `Response: Follows`, a limit) is left,
    /// untouched, to the general path, which takes it from the start of
    /// that line.
    #[inline]
    fn fast_headers(&mut self, src: &mut BytesMut) -> Fast {
        let max_bytes = self.limits.max_message_bytes;
        let max_headers = self.limits.max_headers;
        loop {
            let exit = self.scan_lines(&src[..], max_bytes, max_headers);
            match exit {
                FastExit::Fallback(start) => {
                    self.line_start = start;
                    self.searched = start;
                    return Fast::Fallback;
                }
                FastExit::SkipBlank(next) => {
                    src.advance(next);
                    self.line_start = 0;
                    self.searched = 0;
                }
                FastExit::End(next) => {
                    return Fast::Frame(self.finish_message(src, next));
                }
            }
        }
    }

    /// The line loop of [`fast_headers`](Self::fast_headers), from
    /// `self.line_start`: pushes the spans of the header lines it reads
    /// and says where it stopped.
    #[inline(always)]
    fn scan_lines(&mut self, buf: &[u8], max_bytes: usize, max_headers: usize) -> FastExit {
        /// No colon seen yet in the current line.
        const NONE: usize = usize::MAX;
        let len = buf.len();
        let mut start = self.line_start;
        let mut key_end = NONE;
        let mut base = start;
        while base < len {
            let (mut lfs, mut colons) = match buf[base..].first_chunk::<{ scan::BLOCK }>() {
                Some(block) => scan::block_masks(block),
                None => {
                    // The tail: zeros match neither byte.
                    let mut block = [0u8; scan::BLOCK];
                    block[..len - base].copy_from_slice(&buf[base..]);
                    scan::block_masks(&block)
                }
            };
            while lfs != 0 {
                let nl = base + lfs.trailing_zeros() as usize;
                // Bits up to and including this LF: this line's.
                let upto = lfs ^ (lfs - 1);
                let line_colons = colons & upto;
                colons &= !upto;
                lfs &= lfs - 1;
                if key_end == NONE {
                    if line_colons == 0 {
                        // A line without colon: blank, or a continuation.
                        let blank = nl == start || (nl == start + 1 && buf[start] == b'\r');
                        if !blank || nl + 1 > max_bytes {
                            return FastExit::Fallback(start);
                        }
                        return if self.headers.is_empty() {
                            FastExit::SkipBlank(nl + 1)
                        } else {
                            FastExit::End(nl + 1)
                        };
                    }
                    key_end = base + line_colons.trailing_zeros() as usize;
                }
                if nl + 1 > max_bytes || self.headers.len() >= max_headers {
                    return FastExit::Fallback(start);
                }
                // `nl - 1` is at least the colon: never before the line.
                let end = nl - usize::from(buf[nl - 1] == b'\r');
                let after = key_end + 1;
                let value_start = after + usize::from(after < end && buf[after] == b' ');
                if self.headers.is_empty()
                    && buf[start..key_end].eq_ignore_ascii_case(b"Response")
                    && buf[value_start..end].eq_ignore_ascii_case(b"Follows")
                {
                    return FastExit::Fallback(start);
                }
                self.headers.push(HeaderSpan {
                    key: Span::new(start, key_end),
                    value: Span::new(value_start, end),
                });
                start = nl + 1;
                key_end = NONE;
            }
            if key_end == NONE && colons != 0 {
                key_end = base + colons.trailing_zeros() as usize;
            }
            base += scan::BLOCK;
        }
        FastExit::Fallback(start)
    }

    /// Handles one complete line `[start, end)` whose successor starts at
    /// `next`. Returns a frame when the line completes one.
    #[inline]
    fn line(&mut self, src: &mut BytesMut, start: usize, end: usize, next: usize) -> Option<Frame> {
        self.line_start = next;
        self.searched = next;
        match self.state {
            State::FollowsBody => {
                let line = &src[start..end];
                if line.ends_with(END_COMMAND) {
                    let body_end = end - END_COMMAND.len();
                    if body_end > start {
                        self.output.push(Span::new(start, body_end));
                    }
                    return Some(self.finish_message(src, next));
                }
                if self.headers.len() + self.output.len() >= self.limits.max_headers {
                    self.line_start = start;
                    let limit = self.limits.max_headers;
                    self.start_discard(src, ProtoError::TooManyHeaders { limit });
                    return None;
                }
                self.output.push(Span::new(start, end));
                None
            }
            State::FollowsHeaders => {
                let line = &src[start..end];
                if let Some((key_end, value_start)) = parse::header_split(line)
                    && parse::is_follows_header(line)
                {
                    self.headers.push(HeaderSpan {
                        key: Span::new(start, start + key_end),
                        value: Span::new(start + value_start, end),
                    });
                    return None;
                }
                self.state = State::FollowsBody;
                if line.is_empty() {
                    // A separator before the body.
                    return None;
                }
                self.line(src, start, end, next)
            }
            _ => {
                if start == end {
                    if self.headers.is_empty() {
                        // Blank line outside a message: skip it.
                        src.advance(next);
                        self.line_start = 0;
                        self.searched = 0;
                        return None;
                    }
                    return Some(self.finish_message(src, next));
                }
                if self.headers.len() >= self.limits.max_headers {
                    self.line_start = start;
                    let limit = self.limits.max_headers;
                    self.start_discard(src, ProtoError::TooManyHeaders { limit });
                    return None;
                }
                let line = &src[start..end];
                match parse::header_split(line) {
                    Some((key_end, value_start)) => {
                        if self.headers.is_empty()
                            && line[..key_end].eq_ignore_ascii_case(b"Response")
                            && line[value_start..].eq_ignore_ascii_case(b"Follows")
                        {
                            self.legacy = true;
                            self.state = State::FollowsHeaders;
                        }
                        self.headers.push(HeaderSpan {
                            key: Span::new(start, start + key_end),
                            value: Span::new(start + value_start, end),
                        });
                    }
                    None => match self.headers.last_mut() {
                        // A raw newline inside the previous value.
                        Some(prev) => prev.value.end = end as u32,
                        None => self.headers.push(HeaderSpan {
                            key: Span::new(start, end),
                            value: Span::new(end, end),
                        }),
                    },
                }
                None
            }
        }
    }

    fn discard_step(&mut self, src: &mut BytesMut) -> Option<Frame> {
        let d = self.discard.as_mut()?;
        loop {
            match memchr::memchr(b'\n', src) {
                None => {
                    if src.is_empty() {
                        return None;
                    }
                    // Keep a short tail so an end marker split across reads
                    // is still seen; drop the rest.
                    let keep = if d.follows {
                        (END_COMMAND.len() + 1).min(src.len())
                    } else {
                        0
                    };
                    let drop = src.len() - keep;
                    if drop > 0 {
                        d.last_was_cr = src[drop - 1] == b'\r';
                        d.line_len += drop;
                        src.advance(drop);
                    }
                    return None;
                }
                Some(i) => {
                    let cr_before = if i > 0 {
                        src[i - 1] == b'\r'
                    } else {
                        d.last_was_cr && d.line_len > 0
                    };
                    let content_len = d.line_len + i - usize::from(cr_before);
                    let line_end = if i > 0 && cr_before { i - 1 } else { i };
                    let ends = if d.line_only {
                        true
                    } else if d.follows {
                        src[..line_end].ends_with(END_COMMAND)
                    } else {
                        content_len == 0
                    };
                    src.advance(i + 1);
                    d.line_len = 0;
                    d.last_was_cr = false;
                    if ends {
                        let error = self
                            .discard
                            .take()
                            .map(|d| d.error)
                            .unwrap_or(ProtoError::Truncated { bytes: 0 });
                        self.reset_message();
                        return Some(Frame::Skipped(error));
                    }
                }
            }
        }
    }

    /// Call when the stream has ended: reports an unfinished message once
    /// (as [`Frame::Skipped`]) and empties `src`.
    pub fn decode_frame_eof(&mut self, src: &mut BytesMut) -> Option<Frame> {
        if let Some(frame) = self.decode_frame(src) {
            return Some(frame);
        }
        if let Some(d) = self.discard.take() {
            src.clear();
            self.reset_message();
            return Some(Frame::Skipped(d.error));
        }
        // Whatever is left is a truncated tail: of a message, or of a
        // banner line that never ended (bytes the peer sent and nobody read
        // are reported, never dropped silently). Blank lines are not.
        let pending = src.iter().any(|&b| b != b'\r' && b != b'\n');
        let bytes = src.len();
        src.clear();
        self.reset_message();
        pending.then_some(Frame::Skipped(ProtoError::Truncated { bytes }))
    }
}

#[inline]
fn strip_cr(line: &[u8]) -> &[u8] {
    match line.last() {
        Some(b'\r') => &line[..line.len() - 1],
        _ => line,
    }
}

impl Decoder for AmiCodec {
    type Item = Frame;
    type Error = ProtoError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtoError> {
        Ok(self.decode_frame(src))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtoError> {
        Ok(self.decode_frame_eof(src))
    }
}

impl Encoder<Action> for AmiCodec {
    type Error = ProtoError;

    fn encode(&mut self, item: Action, dst: &mut BytesMut) -> Result<(), ProtoError> {
        item.encode(dst)
    }
}

impl Encoder<&Action> for AmiCodec {
    type Error = ProtoError;

    fn encode(&mut self, item: &Action, dst: &mut BytesMut) -> Result<(), ProtoError> {
        item.encode(dst)
    }
}

impl Encoder<Message> for AmiCodec {
    type Error = ProtoError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), ProtoError> {
        item.encode(dst)
    }
}

impl Encoder<&Message> for AmiCodec {
    type Error = ProtoError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), ProtoError> {
        item.encode(dst)
    }
}

/// Writes a banner line (`<product>/<version>\r\n`), for servers and tests.
pub fn encode_banner(product: &str, version: &str, dst: &mut BytesMut) {
    dst.put_slice(product.as_bytes());
    dst.put_u8(b'/');
    dst.put_slice(version.as_bytes());
    dst.put_slice(b"\r\n");
}
