//! Loading capture files for replay.

use std::path::Path;

use ami_proto::bytes::{Bytes, BytesMut};
use ami_proto::{AmiCodec, Frame, MessageKind};

/// How [`FakeAsterisk::replay`](super::FakeAsterisk::replay) sends a capture.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// `None`: everything at once. `Some(speed)`: at the recorded pace
    /// (`t` of `NAME.timeline.jsonl`) divided by `speed` (1.0 = real time);
    /// follows tokio's clock, so a paused clock replays instantly.
    pub pace: Option<f64>,
    /// Send only events (drop every response of the capture).
    pub events_only: bool,
}

/// One message of a capture.
#[derive(Debug, Clone)]
pub struct CapturedMessage {
    /// Exact bytes, terminator included.
    pub bytes: Bytes,
    /// Seconds since the capture started (from the timeline), if known.
    pub t: Option<f64>,
    /// True for `Event:` messages.
    pub is_event: bool,
}

/// A capture ready to replay.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The messages to send, in order.
    pub messages: Vec<CapturedMessage>,
}

impl Capture {
    /// How many of the messages are events.
    pub fn event_count(&self) -> usize {
        self.messages.iter().filter(|m| m.is_event).count()
    }
}

/// Reads `NAME.server.ami` (and `NAME.timeline.jsonl` beside it, if
/// present): skips the banner and the responses before the first event
/// (the capture's login), and all responses if `events_only`.
pub fn load_capture(path: &Path, options: &ReplayOptions) -> std::io::Result<Capture> {
    let data = std::fs::read(path)?;
    let times = read_timeline(path);
    let mut codec = AmiCodec::new();
    let mut buf = BytesMut::from(&data[..]);
    let mut index = 0usize; // timeline entry of the next frame
    let mut seen_event = false;
    let mut messages = Vec::new();
    loop {
        let frame = match codec.decode_frame(&mut buf) {
            Some(f) => f,
            None => match codec.decode_frame_eof(&mut buf) {
                Some(f) => f,
                None => break,
            },
        };
        let t = times.get(index).copied();
        index += 1;
        let Frame::Message(m) = frame else { continue };
        let is_event = m.kind() == MessageKind::Event;
        seen_event |= is_event;
        if !is_event && (!seen_event || options.events_only) {
            continue;
        }
        messages.push(CapturedMessage {
            bytes: m.raw().clone(),
            t,
            is_event,
        });
    }
    Ok(Capture { messages })
}

/// The `t` values of `NAME.timeline.jsonl`, one per message (banner first).
fn read_timeline(server_ami: &Path) -> Vec<f64> {
    let name = server_ami.to_string_lossy();
    let Some(stem) = name.strip_suffix(".server.ami") else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(format!("{stem}.timeline.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("t").and_then(|t| t.as_f64()))
        .collect()
}
