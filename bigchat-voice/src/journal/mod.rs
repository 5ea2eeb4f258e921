//! The durable journal of the frames read from a PBX, and what the daemon
//! does with it.
//!
//! * [`Journal`]: the append-only, crash-safe file format.
//! * [`Recorder`]: one PBX's journal as the daemon uses it — every AMI
//!   message appended before it is tracked; on start, the journal replayed
//!   into a fresh tracker, so that what the daemon knew of every live call
//!   (agent, recording, hold time) survives a kill or a crash, and what had
//!   not been stored yet is stored; old segments released once nothing
//!   needs them.
//!
//! # Guarantees, and their limits
//! * A frame is in the journal before the tracker sees it. Killed (SIGKILL,
//!   a panic, an OOM kill) at any moment, the daemon loses nothing it had
//!   read: the next start replays it. On power loss it loses at most the
//!   [`SyncPolicy::Interval`] (200 ms by default) of frames.
//! * Replayed effects are stored again; the store is idempotent (an effect
//!   stored before writes nothing), so nothing is doubled.
//! * The journal is kept back to the first frame of the oldest live call
//!   and to the last frame whose effects are not known to be stored, and is
//!   bounded ([`JournalConfig::max_bytes`]): when full, frames are still
//!   tracked and stored but no longer journaled, which is logged at ERROR
//!   and counted ([`Recorder::unjournaled`]); a crash in that state loses
//!   them.

mod recorder;
mod segments;

pub use recorder::{Entry, Frame, Recorder, StreamMark};
pub use segments::{Cursor, Journal, JournalConfig, JournalError, MAX_PAYLOAD, Record, SyncPolicy};
