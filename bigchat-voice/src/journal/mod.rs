//! The durable journal of the frames read from a PBX, and what the daemon
//! does with it.
//!
//! * [`Journal`]: the append-only, crash-safe file format, read back with a
//!   [`Cursor`].
//! * [`Recorder`]: one PBX's journal as the daemon uses it — every AMI
//!   message (and every [`StreamMark`]: connection lost and back, events
//!   dropped, still alive) appended as read; read back by the tracking
//!   side at its own pace and, after a restart, replayed into a fresh
//!   tracker; old segments released once nothing needs them. The
//!   `pipeline` module (feature `pipeline`) puts it between the socket and
//!   the tracker.
//!
//! # Guarantees, and their limits
//! * A frame is in the journal before the tracker sees it. Killed (SIGKILL,
//!   a panic, an OOM kill) at any moment, the daemon loses nothing it had
//!   read: the next start replays it. On power loss it loses at most the
//!   [`SyncPolicy::Interval`] (200 ms by default) of frames.
//! * Replayed effects carry their frame's position; each call record keeps
//!   the position of its last change, committed with it, and the store
//!   skips an effect at or below it: nothing is applied or published twice.
//! * While the PBX is quiet, a [`StreamMark::Alive`] is appended once a
//!   second: after a kill, the journal says until when the live calls were
//!   known to be up.
//! * The journal is kept back to the first frame of the oldest live call
//!   and to the last frame whose effects are not known to be stored, and is
//!   bounded ([`JournalConfig::max_bytes`]): when full (or unwritable),
//!   frames go through memory instead of the journal, which is logged at
//!   ERROR and counted ([`Recorder::unjournaled`]); a crash in that state
//!   loses them, and the AMI connection slows down (and drops events,
//!   counted) once that memory queue is full.
//! * One journal per directory at a time (a lock file): a second daemon on
//!   the same server's journal is refused ([`JournalError::InUse`]).

mod recorder;
mod segments;

/// The position of the `index`-th effect of journal record `seq`, for
/// [`Job::position`](crate::store::writer::Job::position): effects of one
/// frame keep their order (a frame can start and end a call). Record
/// numbers are microsecond times (below 2^53 until the year 2255): 10
/// bits are left for the index, which saturates at 1,023 (effects beyond
/// share it, and the store then applies them again rather than skip them).
pub fn effect_position(seq: u64, index: usize) -> u64 {
    let index = u64::try_from(index).unwrap_or(u64::MAX).min(1023);
    seq.saturating_mul(1024).saturating_add(index)
}

/// `at` as the journal keeps it: to the microsecond. A frame's time is
/// taken at this resolution before anything sees it, so the frame replayed
/// from the journal carries exactly the time it had live (else a replayed
/// effect would differ from the stored one by its nanoseconds, and be
/// applied and published again).
pub fn frame_time(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(6)
}

pub use recorder::{Entry, Frame, Recorder, StreamMark, read_entries};
pub use segments::{Cursor, Journal, JournalConfig, JournalError, MAX_PAYLOAD, Record, SyncPolicy};
