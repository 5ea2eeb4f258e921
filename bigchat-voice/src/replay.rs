//! Reading a recorded AMI session back: the messages of a capture with the
//! time each one arrived.
//!
//! A capture is `NAME.server.ami` (every byte the server sent, banner
//! first) and, optionally, `NAME.timeline.jsonl` beside it: one JSON object
//! per message, `{"t": …, "bytes": <offset of its first byte>, "len": …,
//! "at": <unix seconds, UTC>}`. [`Replay`] decodes the bytes with
//! [`AmiCodec`] and pairs each message with the timeline line whose `bytes`
//! offset starts it. A message without a timeline `at` gets its own
//! `Timestamp` header (Asterisk's `timestampevents=yes`), else `None`.
//!
//! This is what `listen --replay` and the transcript tests feed the
//! [`Tracker`](crate::tracker::Tracker) with.
//!
//! ```no_run
//! use bigchat_voice::replay::Replay;
//! use bigchat_voice::tracker::{Tracker, TrackerConfig};
//!
//! let mut tracker = Tracker::new(TrackerConfig::default());
//! for item in Replay::open("testdata/captures/inbound-busy.server.ami")? {
//!     let (msg, at) = item?; // a read error ends the replay as an `Err`
//!     if let Some(at) = at {
//!         for effect in tracker.handle(&msg, at) {
//!             println!("{effect:?}");
//!         }
//!     }
//! }
//! # Ok::<(), bigchat_voice::replay::ReplayError>(())
//! ```

use std::path::{Path, PathBuf};

use ami_proto::bytes::BytesMut;
use ami_proto::{AmiCodec, Frame, Message};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::tracker::unix_seconds_to_time;

/// Why a capture could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Reading the capture failed part-way (what came before was replayed;
    /// this is the last item).
    #[error("cannot read the capture after byte {offset}")]
    Read {
        /// Bytes read before the failure.
        offset: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A timeline line is not the expected JSON.
    #[error("{path}:{line}: bad timeline entry")]
    Timeline {
        /// The timeline file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

#[derive(Debug, Deserialize)]
struct TimelineEntry {
    bytes: u64,
    #[serde(default)]
    at: Option<f64>,
}

/// The messages of a capture with their arrival times; an iterator of
/// `Result<(Message, Option<DateTime<Utc>>), ReplayError>` in arrival order
/// (the banner is skipped; undecodable messages are skipped with a
/// warning). A read error is yielded as [`ReplayError::Read`] and ends the
/// iteration: a truncated replay is never mistaken for a complete one.
pub struct Replay {
    codec: AmiCodec,
    buf: BytesMut,
    /// Bytes taken from the source so far (the offset of `buf`'s end).
    total: usize,
    /// `(byte offset, at)` sorted by offset.
    timeline: Timeline,
    /// Where more bytes come from (`None`: everything is in `buf`).
    source: Option<Box<dyn std::io::Read + Send>>,
    done: bool,
    /// Why reading stopped early, if it did (yielded next).
    read_error: Option<std::io::Error>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("read", &self.total)
            .field("buffered", &self.buf.len())
            .field("timeline_entries", &self.timeline.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Bytes read from a capture file at a time: the file is streamed, so a
/// recording of any size replays in bounded memory.
const READ_CHUNK: usize = if cfg!(test) { 777 } else { 256 * 1024 };

impl Replay {
    /// Opens `path` (a `NAME.server.ami` file) and, if it exists,
    /// `NAME.timeline.jsonl` in the same directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Replay, ReplayError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| ReplayError::Io {
            path: path.to_owned(),
            source,
        })?;
        let timeline_path = timeline_path_for(path);
        let timeline = match timeline_path {
            Some(tp) if tp.exists() => {
                let text = std::fs::read_to_string(&tp).map_err(|source| ReplayError::Io {
                    path: tp.clone(),
                    source,
                })?;
                Some(
                    parse_timeline(&text).map_err(|(line, source)| ReplayError::Timeline {
                        path: tp,
                        line,
                        source,
                    })?,
                )
            }
            _ => None,
        };
        let mut replay = Replay::from_parts(&[], timeline.unwrap_or_default());
        replay.source = Some(Box::new(file));
        Ok(replay)
    }

    /// A replay of `server_bytes` (banner first) with the content of a
    /// timeline file (`None`: no timeline, times come from `Timestamp`
    /// headers only). Errors name the bad timeline line.
    pub fn from_bytes(server_bytes: &[u8], timeline: Option<&str>) -> Result<Replay, ReplayError> {
        let timeline = match timeline {
            Some(t) => parse_timeline(t).map_err(|(line, source)| ReplayError::Timeline {
                path: PathBuf::from("<timeline>"),
                line,
                source,
            })?,
            None => Vec::new(),
        };
        Ok(Replay::from_parts(server_bytes, timeline))
    }

    /// A replay of the bytes `reader` gives (banner first), read in chunks
    /// as iteration needs them, with the content of a timeline file (as in
    /// [`from_bytes`](Self::from_bytes)).
    pub fn from_reader(
        reader: impl std::io::Read + Send + 'static,
        timeline: Option<&str>,
    ) -> Result<Replay, ReplayError> {
        let mut replay = Replay::from_bytes(&[], timeline)?;
        replay.source = Some(Box::new(reader));
        Ok(replay)
    }

    fn from_parts(bytes: &[u8], timeline: Timeline) -> Replay {
        Replay {
            codec: AmiCodec::new(),
            buf: BytesMut::from(bytes),
            total: bytes.len(),
            timeline,
            source: None,
            done: false,
            read_error: None,
        }
    }

    /// The timeline time of the message starting at `start` (and ending
    /// before `end`).
    fn at_for(&self, start: usize, end: usize) -> Option<DateTime<Utc>> {
        let i = self.timeline.partition_point(|(b, _)| *b < start as u64);
        self.timeline
            .get(i)
            .filter(|(b, _)| *b < end as u64)
            .and_then(|(_, at)| *at)
    }
}

impl Iterator for Replay {
    type Item = Result<(Message, Option<DateTime<Utc>>), ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let start = self.total - self.buf.len();
            let frame = match self.codec.decode_frame(&mut self.buf) {
                Some(f) => f,
                None => {
                    if self.fill() {
                        continue;
                    }
                    self.done = true;
                    if let Some(source) = self.read_error.take() {
                        return Some(Err(ReplayError::Read {
                            offset: self.total as u64,
                            source,
                        }));
                    }
                    self.codec.decode_frame_eof(&mut self.buf)?
                }
            };
            let end = self.total - self.buf.len();
            match frame {
                Frame::Message(msg) => {
                    let at = self
                        .at_for(start, end)
                        .or_else(|| msg.timestamp().and_then(unix_seconds_to_time));
                    return Some(Ok((msg, at)));
                }
                Frame::Skipped(err) => {
                    tracing::warn!(%err, offset = start, "capture: message skipped")
                }
                _ => {}
            }
        }
        None
    }
}

impl Replay {
    /// Reads the next chunk from the source into the buffer; false at the
    /// end of the source or on a read error (kept, and yielded once what
    /// was read before it is replayed).
    fn fill(&mut self) -> bool {
        let Some(source) = self.source.as_mut() else {
            return false;
        };
        // Read straight into the decode buffer (no chunk allocation per read).
        let filled = self.buf.len();
        self.buf.resize(filled + READ_CHUNK, 0);
        loop {
            match std::io::Read::read(source, &mut self.buf[filled..]) {
                Ok(0) => {
                    self.buf.truncate(filled);
                    self.source = None;
                    return false;
                }
                Ok(n) => {
                    self.buf.truncate(filled + n);
                    self.total += n;
                    return true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(filled);
                    self.source = None;
                    self.read_error = Some(e);
                    return false;
                }
            }
        }
    }
}

/// `dir/NAME.server.ami` → `dir/NAME.timeline.jsonl`.
fn timeline_path_for(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".server.ami")
        .or_else(|| name.strip_suffix(".ami"))?;
    Some(path.with_file_name(format!("{stem}.timeline.jsonl")))
}

/// `(byte offset, at)` pairs of a timeline, sorted by offset.
type Timeline = Vec<(u64, Option<DateTime<Utc>>)>;

fn parse_timeline(text: &str) -> Result<Timeline, (usize, serde_json::Error)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let e: TimelineEntry = serde_json::from_str(line).map_err(|err| (i + 1, err))?;
        out.push((e.bytes, e.at.and_then(unix_seconds_to_time)));
    }
    out.sort_by_key(|(b, _)| *b);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streaming the file in small chunks (777 bytes in tests) gives the
    /// same messages and times as decoding it whole.
    #[test]
    fn streamed_file_equals_whole_bytes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures");
        for name in [
            "inbound-answered-recorded",
            "queue-answered",
            "protocol-misc",
        ] {
            let path = dir.join(format!("{name}.server.ami"));
            let bytes = std::fs::read(&path).unwrap();
            let timeline =
                std::fs::read_to_string(dir.join(format!("{name}.timeline.jsonl"))).unwrap();
            let whole: Vec<_> = Replay::from_bytes(&bytes, Some(&timeline))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let streamed: Vec<_> = Replay::open(&path)
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(whole.len() > 50, "{name}");
            assert_eq!(whole, streamed, "{name}");
            assert!(
                streamed.iter().filter(|(_, at)| at.is_some()).count() > 50,
                "{name}"
            );
        }
    }

    #[test]
    fn pairs_messages_with_their_timeline_line() {
        let server = b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n\r\nEvent: Hangup\r\nTimestamp: 1795516073.5\r\n\r\nEvent: X\r\n\r\n";
        let timeline = "{\"t\":0,\"bytes\":0,\"len\":30,\"at\":1795516070.0}\n\
                        {\"t\":0,\"bytes\":30,\"len\":21,\"at\":1795516071.25}\n\
                        {\"t\":0,\"bytes\":51,\"len\":44}\n";
        let items: Vec<_> = Replay::from_bytes(server, Some(timeline))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].1.unwrap().timestamp_millis(), 1_795_516_071_250);
        // No `at`: the Timestamp header.
        assert_eq!(items[1].1.unwrap().timestamp_millis(), 1_795_516_073_500);
        assert_eq!(items[2].1, None);
        assert!(Replay::from_bytes(server, Some("{nope")).is_err());
    }

    /// A source that fails part-way: the messages before the failure, then
    /// the error as the last item (never a silent, shorter replay).
    #[test]
    fn a_read_error_is_the_last_item() {
        struct Failing(std::io::Cursor<Vec<u8>>);
        impl std::io::Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                match self.0.read(buf)? {
                    0 => Err(std::io::Error::other("disk gone")),
                    n => Ok(n),
                }
            }
        }
        let bytes = b"Asterisk Call Manager/11.0.0\r\nEvent: A\r\n\r\nEvent: B\r\n\r\nEvent: C\r\n"
            .to_vec();
        let items: Vec<_> = Replay::from_reader(Failing(std::io::Cursor::new(bytes)), None)
            .unwrap()
            .collect();
        assert_eq!(items.len(), 3, "{items:?}");
        assert!(items[0].as_ref().is_ok_and(|(m, _)| m.is_event("A")));
        assert!(items[1].as_ref().is_ok_and(|(m, _)| m.is_event("B")));
        assert!(
            matches!(&items[2], Err(ReplayError::Read { offset, .. }) if *offset > 40),
            "{:?}",
            items[2]
        );
    }

    #[test]
    fn timeline_name() {
        assert_eq!(
            timeline_path_for(Path::new("/x/a.server.ami")).unwrap(),
            PathBuf::from("/x/a.timeline.jsonl")
        );
    }
}
