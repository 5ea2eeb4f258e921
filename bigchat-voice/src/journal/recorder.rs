//! [`Recorder`]: one PBX's journal as the daemon uses it.

use std::collections::HashMap;
use std::path::Path;

use ami_proto::Message;
use chrono::{DateTime, Utc};

use super::{Journal, JournalConfig, JournalError};
use crate::model::Effect;
use crate::tracker::Tracker;

/// What replaying the journal at start gave.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Recovered {
    /// Frames replayed.
    pub frames: usize,
    /// Every effect they produce, in order: store them all (already stored
    /// ones write nothing).
    pub effects: Vec<Effect>,
    /// When the last frame arrived: the last moment the daemon saw its live
    /// calls alive (a call that ended while it was down ends no earlier).
    pub last_at: Option<DateTime<Utc>>,
}

/// One PBX's journal: frames appended before they are tracked, replayed at
/// start, released when nothing needs them (see the [module](super) docs).
#[derive(Debug)]
pub struct Recorder {
    journal: Journal,
    /// The first frame of each live call, by Linkedid.
    live_since: HashMap<String, u64>,
    /// The frame being tracked.
    current: u64,
    unjournaled: u64,
    full: bool,
}

impl Recorder {
    /// Opens the journal in `dir`.
    pub fn open(dir: &Path, config: JournalConfig) -> Result<Recorder, JournalError> {
        Ok(Recorder {
            journal: Journal::open(dir, config)?,
            live_since: HashMap::new(),
            current: 0,
            unjournaled: 0,
            full: false,
        })
    }

    /// The journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Replays every kept frame into `tracker` (a fresh one), with the
    /// frames' own arrival times.
    pub fn recover(&mut self, tracker: &mut Tracker) -> Result<Recovered, JournalError> {
        let mut out = Recovered::default();
        let mut effects = Vec::new();
        let mut live_since = std::mem::take(&mut self.live_since);
        let mut current = self.current;
        self.journal.scan_from(self.journal.first_seq(), |record| {
            let Some(msg) = Message::parse(&record.payload) else {
                return; // not a whole message (never written so): skip it
            };
            current = record.seq;
            tracker.handle_into(&msg, record.at, &mut effects);
            note_live(&mut live_since, current, &effects);
            out.effects.append(&mut effects);
            out.frames += 1;
            out.last_at = Some(record.at);
        })?;
        self.live_since = live_since;
        self.current = current;
        Ok(out)
    }

    /// Appends a frame before it is tracked. A journal that is full or
    /// cannot be written (disk full, I/O error) does not stop tracking: the
    /// frame is counted as unjournaled ([`unjournaled`](Self::unjournaled))
    /// and the first of a run is logged at ERROR.
    pub fn record(&mut self, msg: &Message, at: DateTime<Utc>) {
        let appended = self
            .journal
            .append(at, msg.raw())
            .and_then(|seq| self.journal.sync_if_due().map(|_| seq));
        match appended {
            Ok(seq) => {
                self.current = seq;
                if self.full {
                    self.full = false;
                    tracing::warn!("journal writable again: frames are journaled again");
                }
            }
            Err(e) => {
                self.unjournaled += 1;
                if !self.full {
                    self.full = true;
                    tracing::error!(
                        error = %e,
                        "journal not written: frames are tracked and stored but not \
                         journaled (a crash now loses them)"
                    );
                }
            }
        }
    }

    /// Syncs when the sync interval has passed (call it on a timer, so the
    /// last frames before a quiet spell reach the disk too).
    pub fn tick(&mut self) {
        if let Err(e) = self.journal.sync_if_due() {
            tracing::error!(error = %e, "journal sync failed");
        }
    }

    /// Notes the effects of the frame just recorded (which calls are live,
    /// since which frame).
    pub fn note(&mut self, effects: &[Effect]) {
        note_live(&mut self.live_since, self.current, effects);
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
    /// effect of the frames recorded so far is stored. What is kept starts
    /// at the first frame of the oldest live call.
    pub fn release(&mut self) -> Result<usize, JournalError> {
        let keep_from = self
            .live_since
            .values()
            .copied()
            .min()
            .unwrap_or(self.current + 1);
        self.journal.release_before(keep_from)
    }

    /// Forces what was recorded to disk (at a clean stop).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.journal.sync()
    }

    /// Frames tracked but not journaled because the journal was full.
    pub fn unjournaled(&self) -> u64 {
        self.unjournaled
    }
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

    /// What the daemon knew survives a restart: the call is live again in
    /// a fresh tracker, at the times the frames arrived.
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
        let first = rec.journal().next_seq();
        rec.record(&m, at);
        let effects = tracker.handle(&m, at);
        rec.note(&effects);
        assert_eq!(tracker.live_calls().len(), 1);
        drop(rec);

        let mut fresh = Tracker::new(TrackerConfig::default());
        let mut rec = Recorder::open(dir.path(), config())?;
        let got = rec.recover(&mut fresh)?;
        assert_eq!(got.frames, 1);
        assert_eq!(got.last_at, Some(at));
        assert_eq!(got.effects, effects, "the same effects again");
        assert_eq!(fresh.live_calls().len(), 1);
        // The live call pins its first frame.
        for i in 0..30 {
            let other = newchannel(&format!("1795515800.{i}"));
            rec.record(&other, at);
        }
        rec.retain_live(&fresh);
        rec.release()?;
        assert_eq!(rec.journal().first_seq(), first, "still needed");
        Ok(())
    }
}
