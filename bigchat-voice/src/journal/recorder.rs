//! [`Recorder`]: one PBX's journal as the daemon uses it.

use std::collections::HashMap;
use std::path::Path;

use ami_proto::Message;
use chrono::{DateTime, Utc};

use super::segments::Cursor;
use super::{Journal, JournalConfig, JournalError};
use crate::model::Effect;
use crate::tracker::Tracker;

/// Something that happened to the event stream rather than an event: kept
/// in the journal in its place among the events, so that a replay sees the
/// gap where it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamMark {
    /// The AMI connection was lost.
    Disconnected,
    /// The AMI connection is back (events may have been missed).
    Reconnected,
    /// `missed` events were dropped before reaching the journal.
    Lagged {
        /// How many.
        missed: u64,
    },
    /// Still connected, nothing else to journal: written about once a
    /// second while the PBX is quiet, so that after a kill the journal
    /// tells until when the live calls were known to be up (a call that
    /// ended while the daemon was down ends no earlier).
    Alive,
}

/// Journal payloads of marks start with a NUL byte, which no AMI message
/// starts with.
const MARK_PREFIX: &[u8] = b"\0bigchat-voice:";

impl StreamMark {
    fn encode(self) -> Vec<u8> {
        let mut out = MARK_PREFIX.to_vec();
        match self {
            StreamMark::Disconnected => out.extend_from_slice(b"disconnected"),
            StreamMark::Reconnected => out.extend_from_slice(b"reconnected"),
            StreamMark::Alive => out.extend_from_slice(b"alive"),
            StreamMark::Lagged { missed } => {
                out.extend_from_slice(format!("lagged {missed}").as_bytes());
            }
        }
        out
    }

    fn decode(payload: &[u8]) -> Option<StreamMark> {
        let rest = std::str::from_utf8(payload.strip_prefix(MARK_PREFIX)?).ok()?;
        match rest {
            "disconnected" => Some(StreamMark::Disconnected),
            "reconnected" => Some(StreamMark::Reconnected),
            "alive" => Some(StreamMark::Alive),
            _ => {
                let missed = rest.strip_prefix("lagged ")?.parse().ok()?;
                Some(StreamMark::Lagged { missed })
            }
        }
    }
}

/// What a journal record holds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Frame {
    /// An AMI message, as read.
    Event(Message),
    /// A mark in the stream.
    Mark(StreamMark),
}

/// One record read back: its position, arrival time and frame.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Entry {
    /// Its sequence number in the journal.
    pub seq: u64,
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// What it holds.
    pub frame: Frame,
}

/// One PBX's journal: frames appended as they are read, read back by the
/// tracking side (at its own pace, after a restart too), released when
/// nothing needs them (see the [module](super) docs).
#[derive(Debug)]
pub struct Recorder {
    journal: Journal,
    /// The first frame of each live call, by Linkedid.
    live_since: HashMap<String, u64>,
    /// The last frame tracked (its effects handed on).
    tracked: u64,
    unjournaled: u64,
    full: bool,
    /// Interval syncs are left to [`take_due_sync`](Self::take_due_sync).
    background_sync: bool,
}

impl Recorder {
    /// Opens the journal in `dir`.
    pub fn open(dir: &Path, config: JournalConfig) -> Result<Recorder, JournalError> {
        let journal = Journal::open(dir, config)?;
        let tracked = journal.first_seq().saturating_sub(1);
        Ok(Recorder {
            journal,
            live_since: HashMap::new(),
            tracked,
            unjournaled: 0,
            full: false,
            background_sync: false,
        })
    }

    /// The journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Appends an AMI message as read; its position, or `None` when the
    /// journal is full or cannot be written (disk full, I/O error): the
    /// frame is then counted as unjournaled ([`unjournaled`](Self::unjournaled))
    /// and the first of a run is logged at ERROR.
    pub fn record(&mut self, msg: &Message, at: DateTime<Utc>) -> Option<u64> {
        self.append(msg.raw(), at)
    }

    /// Appends a mark in the stream; as [`record`](Self::record).
    pub fn record_mark(&mut self, mark: StreamMark, at: DateTime<Utc>) -> Option<u64> {
        self.append(&mark.encode(), at)
    }

    fn append(&mut self, payload: &[u8], at: DateTime<Utc>) -> Option<u64> {
        let background = self.background_sync;
        let appended = self.journal.append(at, payload).and_then(|seq| {
            if background {
                Ok(seq)
            } else {
                self.journal.sync_if_due().map(|_| seq)
            }
        });
        match appended {
            Ok(seq) => {
                if self.full {
                    self.full = false;
                    tracing::warn!("journal writable again: frames are journaled again");
                }
                Some(seq)
            }
            Err(e) => {
                self.unjournaled += 1;
                if !self.full {
                    self.full = true;
                    tracing::error!(
                        error = %e,
                        "journal not written: frames now wait in memory, and the AMI \
                         connection slows down when that is full (a crash loses them)"
                    );
                }
                None
            }
        }
    }

    /// Reads up to `max` records from `cursor` on into `out` (see
    /// [`Journal::read_batch`] and [`read_entries`]).
    pub fn read(
        &self,
        cursor: &mut Cursor,
        max: usize,
        out: &mut Vec<Entry>,
    ) -> Result<(), JournalError> {
        read_entries(&self.journal.snapshot(), cursor, max, out)
    }
}

impl Recorder {
    /// Leaves the interval syncs to the caller, who calls
    /// [`take_due_sync`](Self::take_due_sync) on a timer and syncs the
    /// handle it gets on another thread: appending then never waits for the
    /// disk.
    pub fn sync_in_background(&mut self) {
        self.background_sync = true;
    }

    /// See [`Journal::take_due_sync`].
    pub fn take_due_sync(&mut self) -> Result<Option<std::fs::File>, JournalError> {
        self.journal.take_due_sync()
    }

    /// Notes the effects of frame `seq`, just tracked (which calls are
    /// live, since which frame).
    pub fn note(&mut self, seq: u64, effects: &[Effect]) {
        self.tracked = self.tracked.max(seq);
        note_live(&mut self.live_since, seq, effects);
    }

    /// Forgets live calls the tracker no longer follows (ended by
    /// reconciliation, or dropped), so they do not pin the journal.
    pub fn retain_live(&mut self, tracker: &Tracker) {
        let live: std::collections::HashSet<&str> = tracker
            .live_calls()
            .iter()
            .map(|c| c.unique_id.as_str())
            .collect();
        self.live_since.retain(|id, _| live.contains(id.as_str()));
    }

    /// Deletes the segments nothing needs any more: call it when every
    /// effect of the frames tracked so far is stored. What is kept starts
    /// at the first frame of the oldest live call, or after the last frame
    /// tracked.
    pub fn release(&mut self) -> Result<usize, JournalError> {
        let keep_from = self
            .live_since
            .values()
            .copied()
            .min()
            .unwrap_or(self.tracked + 1)
            .min(self.tracked + 1);
        self.journal.release_before(keep_from)
    }

    /// Forces what was recorded to disk (at a clean stop).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.journal.sync()
    }

    /// Frames not journaled because the journal was full or unwritable.
    pub fn unjournaled(&self) -> u64 {
        self.unjournaled
    }
}

/// Reads up to `max` entries of `snapshot` from `cursor` on (see
/// [`Recorder::read`]); needs no lock on the journal. A record that is
/// neither a whole message nor a mark (never written so) is skipped.
pub fn read_entries(
    snapshot: &super::segments::Snapshot,
    cursor: &mut Cursor,
    max: usize,
    out: &mut Vec<Entry>,
) -> Result<(), JournalError> {
    let mut records = Vec::with_capacity(max.min(1024));
    snapshot.read_batch(cursor, max, &mut records)?;
    out.extend(records.into_iter().filter_map(|r| {
        let frame = match StreamMark::decode(&r.payload) {
            Some(mark) => Frame::Mark(mark),
            None => Frame::Event(Message::parse(&r.payload)?),
        };
        Some(Entry {
            seq: r.seq,
            at: r.at,
            frame,
        })
    }));
    Ok(())
}

/// Which calls are live since which frame, after frame `seq`'s effects.
fn note_live(live_since: &mut HashMap<String, u64>, seq: u64, effects: &[Effect]) {
    for effect in effects {
        match effect {
            Effect::CallStarted(c) | Effect::CallUpdated(c) => {
                live_since.entry(c.unique_id.clone()).or_insert(seq);
            }
            Effect::CallEnded(c) => {
                live_since.remove(&c.unique_id);
            }
            Effect::OriginateFailed { unique_id, .. } => {
                live_since.remove(unique_id);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::SyncPolicy;
    use crate::tracker::TrackerConfig;

    fn msg(lines: &[(&str, &str)]) -> Message {
        let mut b = Message::builder();
        for (k, v) in lines {
            b = b.header(*k, *v);
        }
        b.build().unwrap_or_else(|e| panic!("{e}"))
    }

    fn config() -> JournalConfig {
        JournalConfig {
            sync: SyncPolicy::Never,
            segment_bytes: 256,
            ..JournalConfig::default()
        }
    }

    fn newchannel(uid: &str) -> Message {
        msg(&[
            ("Event", "Newchannel"),
            ("Channel", "PJSIP/trunk-00000001"),
            ("ChannelState", "4"),
            ("CallerIDNum", "+5511999990001"),
            ("Exten", "4000"),
            ("Context", "from-trunk"),
            ("Uniqueid", uid),
            ("Linkedid", uid),
        ])
    }

    fn read_all(rec: &Recorder, cursor: &mut Cursor) -> Result<Vec<Entry>, JournalError> {
        let mut out = Vec::new();
        rec.read(cursor, usize::MAX, &mut out)?;
        Ok(out)
    }

    /// What the daemon knew survives a restart: read back from the journal,
    /// the frames and marks make the call live again in a fresh tracker, at
    /// the times they arrived; the live call pins its first frame.
    #[test]
    fn a_restart_rebuilds_the_live_calls() -> Result<(), JournalError> {
        let dir = tempfile::tempdir().map_err(|e| JournalError::Io {
            path: "tmp".into(),
            source: e,
        })?;
        let at = DateTime::from_timestamp(1_795_515_777, 0).unwrap_or_default();
        let mut tracker = Tracker::new(TrackerConfig::default());
        let mut rec = Recorder::open(dir.path(), config())?;
        let m = newchannel("1795515777.0");
        let first = rec.record(&m, at).unwrap_or_default();
        let effects = tracker.handle(&m, at);
        rec.note(first, &effects);
        assert_eq!(tracker.live_calls().len(), 1);
        let mark = rec.record_mark(StreamMark::Lagged { missed: 7 }, at);
        assert_eq!(mark, Some(first + 1));
        drop(rec);

        let mut fresh = Tracker::new(TrackerConfig::default());
        let mut rec = Recorder::open(dir.path(), config())?;
        let mut cursor = Cursor::at(rec.journal().first_seq());
        let entries = read_all(&rec, &mut cursor)?;
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].seq, entries[0].at), (first, at));
        assert_eq!(
            entries[1].frame,
            Frame::Mark(StreamMark::Lagged { missed: 7 })
        );
        let Frame::Event(again) = &entries[0].frame else {
            panic!("not an event: {:?}", entries[0].frame);
        };
        let replayed = fresh.handle(again, entries[0].at);
        assert_eq!(replayed, effects, "the same effects again");
        rec.note(first, &replayed);
        assert_eq!(fresh.live_calls().len(), 1);
        for i in 0..30 {
            let other = newchannel(&format!("1795515800.{i}"));
            let seq = rec.record(&other, at).unwrap_or_default();
            rec.note(seq, &[]);
        }
        rec.retain_live(&fresh);
        rec.release()?;
        assert_eq!(rec.journal().first_seq(), first, "still needed");
        Ok(())
    }

    #[test]
    fn marks_survive_encoding() {
        for mark in [
            StreamMark::Disconnected,
            StreamMark::Reconnected,
            StreamMark::Alive,
            StreamMark::Lagged { missed: 0 },
            StreamMark::Lagged { missed: u64::MAX },
        ] {
            assert_eq!(StreamMark::decode(&mark.encode()), Some(mark));
        }
        assert_eq!(StreamMark::decode(b"Event: Hangup\r\n\r\n"), None);
        assert_eq!(StreamMark::decode(b"\0bigchat-voice:lagged x"), None);
    }
}
