//! [`Journal`]: a durable, append-only journal of the frames read from one PBX.
//!
//! Every AMI message is appended here, with its arrival time, before
//! anything downstream sees it; tracking and storing can then always be
//! done again from the journal (after a crash, a kill, a database outage).
//!
//! # Format
//! A directory of segment files named by the sequence number of their first
//! record (`00000000000000000001.journal`, …). A record is a 24-byte header
//! — payload length (`u32`), CRC-32 of the rest of the record (`u32`),
//! sequence number (`u64`), arrival time in microseconds since the Unix
//! epoch (`i64`), all little-endian — followed by the payload (the
//! message's bytes). Sequence numbers grow by one per record and never
//! repeat: a new journal starts at the current time in microseconds since
//! the Unix epoch (so one deleted and started again does not reuse numbers).
//!
//! # Behavior
//! * **Crash safety.** Each append is one `write` to the file (no user-space
//!   buffer): once [`append`](Journal::append) returns, the record survives
//!   the death of the process (SIGKILL, a panic). Surviving a power loss
//!   needs the data on disk: see [`SyncPolicy`]. A record cut short by a
//!   crash (a torn tail) or damaged is found by its length and CRC when the
//!   journal is opened; the tail from there is cut off and counted
//!   ([`Journal::torn_bytes`]).
//! * **Bounded.** The journal holds at most
//!   [`max_bytes`](JournalConfig::max_bytes). When full, `append` refuses
//!   with [`JournalError::Full`] (nothing is overwritten); the caller
//!   decides what that costs and says so. [`release_before`](Journal::release_before)
//!   deletes whole segments whose records are all older than a position.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Bytes of a record's header.
const HEADER: usize = 24;

/// The largest payload accepted (an AMI message is far smaller).
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// When appended records are forced to disk (`fdatasync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// After every append: nothing is lost on power loss, at the cost of
    /// one disk flush per frame.
    Always,
    /// At most this long after an append (checked by
    /// [`Journal::sync_if_due`], which the owner calls after appends and on
    /// a timer): a power loss loses at most this much of the journal.
    Interval(Duration),
    /// Left to the operating system (tests, or a journal on tmpfs).
    Never,
}

/// How a journal is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JournalConfig {
    /// Most bytes kept on disk (all segments). Default 1 GiB.
    pub max_bytes: u64,
    /// Size at which a new segment is started. Default 64 MiB.
    pub segment_bytes: u64,
    /// Default `Interval(200 ms)`.
    pub sync: SyncPolicy,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            max_bytes: 1 << 30,
            segment_bytes: 64 << 20,
            sync: SyncPolicy::Interval(Duration::from_millis(200)),
        }
    }
}

/// What can go wrong with a journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading or writing a journal file failed.
    #[error("journal file {path}")]
    Io {
        /// The file or directory.
        path: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The journal holds [`JournalConfig::max_bytes`]: the record was not
    /// appended.
    #[error("journal full ({max_bytes} bytes)")]
    Full {
        /// The bound.
        max_bytes: u64,
    },
    /// A record in the middle of the journal is damaged (a torn tail is
    /// cut off on open instead).
    #[error("journal file {path} is damaged at byte {offset}: {reason}")]
    Corrupt {
        /// The segment.
        path: String,
        /// Where the bad record starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Another journal (another daemon, most likely) has the directory
    /// open.
    #[error("journal {dir} is in use by another process (another daemon on the same server?)")]
    InUse {
        /// The directory.
        dir: String,
    },
    /// The payload is larger than [`MAX_PAYLOAD`].
    #[error("record of {0} bytes is too large for the journal")]
    TooLarge(usize),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One journal record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// Its sequence number (one more than the record before it).
    pub seq: u64,
    /// When the frame arrived.
    pub at: DateTime<Utc>,
    /// The frame's bytes.
    pub payload: Vec<u8>,
}

/// The journal's segments as they were at one moment
/// ([`Journal::snapshot`]): read with [`read_batch`](Snapshot::read_batch).
#[derive(Debug, Clone)]
pub struct Snapshot {
    segments: Vec<Segment>,
    next_seq: u64,
}

impl Snapshot {
    /// Reads up to `max` records from `cursor` on, in order, into `out`,
    /// and moves the cursor past them. A reader that keeps its cursor reads
    /// each record once (it goes on from where it stopped in the segment);
    /// a cursor at a released position starts at the oldest kept record.
    /// Reads only what was appended when the snapshot was taken (never a
    /// record being written). The segments must not be released meanwhile
    /// (the reader is the one that releases them).
    pub fn read_batch(
        &self,
        cursor: &mut Cursor,
        max: usize,
        out: &mut Vec<Record>,
    ) -> Result<(), JournalError> {
        let mut got = 0;
        while got < max && cursor.next < self.next_seq {
            // The segment holding `cursor.next`.
            let Some(i) = self
                .segments
                .iter()
                .rposition(|s| s.first_seq <= cursor.next)
                .or(if self.segments.is_empty() {
                    None
                } else {
                    Some(0)
                })
            else {
                return Ok(());
            };
            let segment = &self.segments[i];
            if cursor.next < segment.first_seq {
                cursor.next = segment.first_seq; // released meanwhile
            }
            if cursor.segment != segment.first_seq {
                cursor.segment = segment.first_seq;
                cursor.offset = 0;
                cursor.at_seq = segment.first_seq;
            }
            if cursor.at_seq > cursor.next {
                // Asked for an earlier record than the cursor's place.
                cursor.offset = 0;
                cursor.at_seq = segment.first_seq;
            }
            let mut file = File::open(&segment.path).map_err(io_error(&segment.path))?;
            file.seek(SeekFrom::Start(cursor.offset))
                .map_err(io_error(&segment.path))?;
            let mut r = io::BufReader::new(file).take(segment.bytes.saturating_sub(cursor.offset));
            let mut progressed = false;
            while got < max {
                match decode(&mut r) {
                    Ok(None) => break,
                    Ok(Some(record)) => {
                        progressed = true;
                        cursor.offset += (HEADER + record.payload.len()) as u64;
                        cursor.at_seq = record.seq + 1;
                        if record.seq >= cursor.next {
                            cursor.next = record.seq + 1;
                            out.push(record);
                            got += 1;
                        }
                    }
                    Err(reason) => {
                        return Err(JournalError::Corrupt {
                            path: segment.path.display().to_string(),
                            offset: cursor.offset,
                            reason,
                        });
                    }
                }
            }
            if got < max && cursor.next < self.next_seq {
                // The end of this segment: the next one goes on.
                match self.segments.get(i + 1) {
                    Some(next) => cursor.next = cursor.next.max(next.first_seq),
                    None if !progressed => return Ok(()),
                    None => {}
                }
            }
        }
        Ok(())
    }
}

/// A reader's place in a [`Journal`] (see [`Journal::read_batch`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The next record to read.
    next: u64,
    /// The segment (its first sequence number) `offset` is in.
    segment: u64,
    /// Byte offset in that segment of the record numbered `at_seq`.
    offset: u64,
    at_seq: u64,
}

impl Cursor {
    /// A cursor at record `seq`.
    pub fn at(seq: u64) -> Cursor {
        Cursor {
            next: seq,
            ..Cursor::default()
        }
    }

    /// The next record it reads.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Moves on to record `seq` (the records before it were handled some
    /// other way); never moves back.
    pub fn skip_to(&mut self, seq: u64) {
        self.next = self.next.max(seq);
    }
}

#[derive(Debug, Clone)]
struct Segment {
    first_seq: u64,
    path: PathBuf,
    bytes: u64,
}

/// An open journal (one writer: the process that owns the directory).
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    config: JournalConfig,
    segments: Vec<Segment>,
    file: File,
    next_seq: u64,
    total: u64,
    torn: u64,
    unsynced_since: Option<Instant>,
    buf: Vec<u8>,
    /// Held (locked) while the journal is open.
    _lock: File,
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.journal")
}

fn encode(buf: &mut Vec<u8>, seq: u64, at: DateTime<Utc>, payload: &[u8]) {
    buf.clear();
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&at.timestamp_micros().to_le_bytes());
    buf.extend_from_slice(payload);
    let crc = crc32fast::hash(&buf[8..]);
    buf[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Reads the record at the reader's position: `Ok(None)` at a clean end,
/// `Err(reason)` for a short or damaged record.
fn decode(r: &mut impl Read) -> Result<Option<Record>, String> {
    let mut header = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(format!("header cut after {got} bytes")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let field = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&header[at..at + 8]);
        b
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len > MAX_PAYLOAD {
        return Err(format!("length {len} is not plausible"));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)
        .map_err(|_| format!("payload cut (expected {len} bytes)"))?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[8..]);
    hasher.update(&payload);
    if hasher.finalize() != crc {
        return Err("checksum mismatch".to_string());
    }
    let seq = u64::from_le_bytes(field(8));
    let micros = i64::from_le_bytes(field(16));
    let at = DateTime::from_timestamp_micros(micros).ok_or("time out of range")?;
    Ok(Some(Record { seq, at, payload }))
}

impl Journal {
    /// Opens (creating the directory if needed) the journal in `dir`. The
    /// last segment is checked record by record and a torn or damaged tail
    /// is cut off (logged at WARN, counted in [`torn_bytes`](Self::torn_bytes)).
    pub fn open(dir: &Path, config: JournalConfig) -> Result<Journal, JournalError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        // One writer per directory: a second process (or a second journal
        // in this one) appending to the same files would damage them.
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(JournalError::InUse {
                    dir: dir.display().to_string(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_error(&lock_path)(e)),
        }
        let mut segments = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            let name = entry.file_name();
            let Some(first) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".journal"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let path = entry.path();
            let bytes = entry.metadata().map_err(io_error(&path))?.len();
            segments.push(Segment {
                first_seq: first,
                path,
                bytes,
            });
        }
        segments.sort_by_key(|s| s.first_seq);
        let mut torn = 0;
        // A new journal numbers from the current time in microseconds, not
        // from 1: a journal deleted and started again never reuses a
        // position a database holds (see `Job::position`).
        let mut next_seq = u64::try_from(Utc::now().timestamp_micros())
            .unwrap_or(1)
            .max(1);
        if let Some(last) = segments.last_mut() {
            let (valid_end, last_seq) = Journal::scan(last)?;
            if valid_end < last.bytes {
                torn = last.bytes - valid_end;
                tracing::warn!(
                    path = %last.path.display(),
                    bytes = torn,
                    "journal: cutting off a torn or damaged tail"
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(&last.path)
                    .map_err(io_error(&last.path))?;
                f.set_len(valid_end).map_err(io_error(&last.path))?;
                f.sync_all().map_err(io_error(&last.path))?;
                last.bytes = valid_end;
            }
            next_seq = last_seq.map_or(last.first_seq, |s| s + 1);
        }
        if segments.is_empty() {
            segments.push(Segment {
                first_seq: next_seq,
                path: dir.join(segment_name(next_seq)),
                bytes: 0,
            });
        }
        let current = segments.last().map(|s| s.path.clone()).unwrap_or_default();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&current)
            .map_err(io_error(&current))?;
        let total = segments.iter().map(|s| s.bytes).sum();
        Ok(Journal {
            dir: dir.to_path_buf(),
            config,
            segments,
            file,
            next_seq,
            total,
            torn,
            unsynced_since: None,
            buf: Vec::with_capacity(4096),
            _lock: lock,
        })
    }

    /// The byte length of the valid records of a segment, and the last
    /// record's sequence number.
    fn scan(segment: &Segment) -> Result<(u64, Option<u64>), JournalError> {
        let file = File::open(&segment.path).map_err(io_error(&segment.path))?;
        let mut r = io::BufReader::new(file);
        let mut end = 0u64;
        let mut last = None;
        while let Ok(Some(record)) = decode(&mut r) {
            end += (HEADER + record.payload.len()) as u64;
            last = Some(record.seq);
        }
        Ok((end, last))
    }

    /// Appends a frame; returns its sequence number.
    pub fn append(&mut self, at: DateTime<Utc>, payload: &[u8]) -> Result<u64, JournalError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(JournalError::TooLarge(payload.len()));
        }
        let size = (HEADER + payload.len()) as u64;
        if self.total + size > self.config.max_bytes {
            return Err(JournalError::Full {
                max_bytes: self.config.max_bytes,
            });
        }
        let current_bytes = self.segments.last().map_or(0, |s| s.bytes);
        if current_bytes > 0 && current_bytes + size > self.config.segment_bytes {
            self.rotate()?;
        }
        let seq = self.next_seq;
        encode(&mut self.buf, seq, at, payload);
        let path = self.current_path();
        self.file.write_all(&self.buf).map_err(io_error(&path))?;
        self.next_seq += 1;
        self.total += size;
        if let Some(s) = self.segments.last_mut() {
            s.bytes += size;
        }
        match self.config.sync {
            SyncPolicy::Always => self.sync()?,
            SyncPolicy::Interval(_) => {
                self.unsynced_since.get_or_insert_with(Instant::now);
            }
            SyncPolicy::Never => {}
        }
        Ok(seq)
    }

    fn current_path(&self) -> PathBuf {
        self.segments
            .last()
            .map(|s| s.path.clone())
            .unwrap_or_else(|| self.dir.clone())
    }

    fn rotate(&mut self) -> Result<(), JournalError> {
        self.sync()?;
        let path = self.dir.join(segment_name(self.next_seq));
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        self.segments.push(Segment {
            first_seq: self.next_seq,
            path,
            bytes: 0,
        });
        // The new file's name must survive a power loss too.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Forces what was appended to disk.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        let path = self.current_path();
        self.file.sync_data().map_err(io_error(&path))?;
        self.unsynced_since = None;
        Ok(())
    }

    /// [`sync`](Self::sync) when the [`SyncPolicy::Interval`] has passed
    /// since the oldest unsynced append; true when it synced.
    pub fn sync_if_due(&mut self) -> Result<bool, JournalError> {
        match (self.config.sync, self.unsynced_since) {
            (SyncPolicy::Interval(every), Some(since)) if since.elapsed() >= every => {
                self.sync()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// When the [`SyncPolicy::Interval`] has passed since the oldest
    /// unsynced append: a handle on the file being written, to sync
    /// (`sync_data`) from another thread, so that the appender is not held
    /// up by the disk; what was appended so far is counted as synced. (A
    /// rotation syncs the finished segment itself.)
    pub fn take_due_sync(&mut self) -> Result<Option<File>, JournalError> {
        match (self.config.sync, self.unsynced_since) {
            (SyncPolicy::Interval(every), Some(since)) if since.elapsed() >= every => {
                let path = self.current_path();
                let file = self.file.try_clone().map_err(io_error(&path))?;
                self.unsynced_since = None;
                Ok(Some(file))
            }
            _ => Ok(None),
        }
    }

    /// The sequence number the next append gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The oldest record still kept (equal to [`next_seq`](Self::next_seq)
    /// when empty).
    pub fn first_seq(&self) -> u64 {
        self.segments.first().map_or(self.next_seq, |s| s.first_seq)
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.total
    }

    /// Bytes cut off as a torn or damaged tail when the journal was opened.
    pub fn torn_bytes(&self) -> u64 {
        self.torn
    }

    /// Every kept record from `from` on, in order (records older than
    /// [`first_seq`](Self::first_seq) are gone).
    pub fn read_from(&self, from: u64) -> Result<Vec<Record>, JournalError> {
        let mut out = Vec::new();
        self.scan_from(from, |record| out.push(record))?;
        Ok(out)
    }

    /// Passes every kept record from `from` on to `each`, in order, one at
    /// a time (a large journal is never held in memory whole).
    pub fn scan_from(&self, from: u64, mut each: impl FnMut(Record)) -> Result<(), JournalError> {
        for (i, segment) in self.segments.iter().enumerate() {
            let next_first = self.segments.get(i + 1).map(|s| s.first_seq);
            if next_first.is_some_and(|n| n <= from) {
                continue;
            }
            let mut file = File::open(&segment.path).map_err(io_error(&segment.path))?;
            file.seek(SeekFrom::Start(0))
                .map_err(io_error(&segment.path))?;
            let mut r = io::BufReader::new(file).take(segment.bytes);
            let mut offset = 0u64;
            loop {
                match decode(&mut r) {
                    Ok(None) => break,
                    Ok(Some(record)) => {
                        offset += (HEADER + record.payload.len()) as u64;
                        if record.seq >= from {
                            each(record);
                        }
                    }
                    Err(reason) => {
                        return Err(JournalError::Corrupt {
                            path: segment.path.display().to_string(),
                            offset,
                            reason,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads up to `max` records from `cursor` on, in order, into `out`,
    /// and moves the cursor past them (the journal's snapshot of its segments does the reading).
    pub fn read_batch(
        &self,
        cursor: &mut Cursor,
        max: usize,
        out: &mut Vec<Record>,
    ) -> Result<(), JournalError> {
        self.snapshot().read_batch(cursor, max, out)
    }

    /// What has been appended so far, to be read without holding the
    /// journal (another thread may go on appending meanwhile).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            segments: self.segments.clone(),
            next_seq: self.next_seq,
        }
    }

    /// Deletes the segments all of whose records are older than `seq`
    /// (never the one being written); returns how many were deleted.
    pub fn release_before(&mut self, seq: u64) -> Result<usize, JournalError> {
        let mut removed = 0;
        while self.segments.len() > 1 && self.segments[1].first_seq <= seq {
            let old = self.segments.remove(0);
            fs::remove_file(&old.path).map_err(io_error(&old.path))?;
            self.total -= old.bytes;
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_515_777 + secs, 123_456_000).unwrap_or_default()
    }

    /// A frame time read back from the journal is the time it was given,
    /// to the nanosecond (what the replay's "nothing changes" rests on).
    #[test]
    fn a_frame_time_reads_back_exactly() {
        let live = DateTime::from_timestamp(1_795_515_777, 123_456_789).unwrap_or_default();
        let at = super::super::frame_time(live);
        assert_ne!(at, live, "the nanoseconds are dropped before journaling");
        let mut buf = Vec::new();
        encode(&mut buf, 7, at, b"Event: Newchannel\r\n");
        let back = decode(&mut buf.as_slice())
            .expect("decodes")
            .expect("a record");
        assert_eq!(back.at, at);
        assert_eq!(super::super::frame_time(back.at), back.at);
    }

    fn config(segment_bytes: u64) -> JournalConfig {
        JournalConfig {
            segment_bytes,
            sync: SyncPolicy::Never,
            ..JournalConfig::default()
        }
    }

    fn payloads(j: &Journal, from: u64) -> Vec<(u64, Vec<u8>)> {
        j.read_from(from)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|r| (r.seq, r.payload))
            .collect()
    }

    #[test]
    fn appends_survive_reopening_with_their_times() -> Result<(), JournalError> {
        let dir = tempfile::tempdir().map_err(io_error(Path::new("tmp")))?;
        let mut j = Journal::open(dir.path(), config(1 << 20))?;
        let b = j.next_seq() - 1;
        assert!(
            b > 1_700_000_000_000_000,
            "a new journal numbers from the time"
        );
        assert_eq!(j.append(t(0), b"Event: Newchannel\r\n\r\n")?, b + 1);
        assert_eq!(j.append(t(1), b"Event: Hangup\r\n\r\n")?, b + 2);
        drop(j);
        let mut j = Journal::open(dir.path(), config(1 << 20))?;
        assert_eq!(j.next_seq(), b + 3);
        let all = j.read_from(b + 1)?;
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].at, t(0));
        assert_eq!(all[1].payload, b"Event: Hangup\r\n\r\n");
        assert_eq!(j.append(t(2), b"x")?, b + 3);
        assert_eq!(
            payloads(&j, b + 2),
            vec![
                (b + 2, b"Event: Hangup\r\n\r\n".to_vec()),
                (b + 3, b"x".to_vec())
            ]
        );
        Ok(())
    }

    /// A crash in the middle of a write leaves part of a record: every cut
    /// of the last record is found and removed on open, and the records
    /// before it are intact; appending then goes on with the next number.
    #[test]
    fn a_torn_last_record_is_cut_off_at_every_length() -> Result<(), JournalError> {
        for cut in 1..(HEADER + 5) {
            let dir = tempfile::tempdir().map_err(io_error(Path::new("tmp")))?;
            let mut j = Journal::open(dir.path(), config(1 << 20))?;
            let b = j.next_seq() - 1;
            j.append(t(0), b"first")?;
            j.append(t(1), b"second")?;
            let path = j.current_path();
            drop(j);
            let len = fs::metadata(&path).map_err(io_error(&path))?.len();
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_error(&path))?;
            f.set_len(len - cut as u64).map_err(io_error(&path))?;
            drop(f);
            let mut j = Journal::open(dir.path(), config(1 << 20))?;
            assert_eq!(j.torn_bytes(), (HEADER + 6 - cut) as u64, "cut {cut}");
            let first = vec![(b + 1, b"first".to_vec())];
            assert_eq!(payloads(&j, b + 1), first, "cut {cut}");
            assert_eq!(j.append(t(2), b"third")?, b + 2);
            assert_eq!(payloads(&j, b + 1).len(), 2);
        }
        Ok(())
    }

    /// Garbage written over the tail (a partial write of another size, a
    /// damaged sector) fails its checksum and is cut off the same way.
    #[test]
    fn a_damaged_tail_fails_its_checksum() -> Result<(), JournalError> {
        let dir = tempfile::tempdir().map_err(io_error(Path::new("tmp")))?;
        let mut j = Journal::open(dir.path(), config(1 << 20))?;
        let b = j.next_seq() - 1;
        j.append(t(0), b"kept")?;
        j.append(t(1), b"damaged")?;
        let path = j.current_path();
        drop(j);
        let mut bytes = fs::read(&path).map_err(io_error(&path))?;
        let last = bytes.len() - 2;
        bytes[last] ^= 0xff;
        fs::write(&path, &bytes).map_err(io_error(&path))?;
        let j = Journal::open(dir.path(), config(1 << 20))?;
        assert_eq!(payloads(&j, b + 1), vec![(b + 1, b"kept".to_vec())]);
        assert_eq!(j.next_seq(), b + 2);
        Ok(())
    }

    #[test]
    fn segments_rotate_and_old_ones_are_released() -> Result<(), JournalError> {
        let dir = tempfile::tempdir().map_err(io_error(Path::new("tmp")))?;
        let mut j = Journal::open(dir.path(), config(100))?;
        let b = j.next_seq() - 1;
        for i in 0..20 {
            j.append(t(i), format!("record {i:02}").as_bytes())?;
        }
        assert!(j.segments.len() > 3, "{} segments", j.segments.len());
        let before = j.bytes();
        // Everything from 12 on is still needed.
        let removed = j.release_before(b + 12)?;
        assert!(removed > 0);
        assert!(j.bytes() < before);
        assert!(j.first_seq() <= b + 12);
        let kept = payloads(&j, b + 12);
        assert_eq!(kept.first().map(|k| k.0), Some(b + 12));
        assert_eq!(kept.len(), 9);
        drop(j);
        let j = Journal::open(dir.path(), config(100))?;
        assert_eq!(j.next_seq(), b + 21, "numbering goes on after a reopen");
        assert!(j.first_seq() <= b + 12);
        Ok(())
    }

    /// A cursor reads every record once, across segments, in batches of
    /// any size, while records are appended and old segments released.
    #[test]
    fn a_cursor_reads_each_record_once() -> Result<(), JournalError> {
        let dir = tempfile::tempdir().map_err(io_error(Path::new("tmp")))?;
        let mut j = Journal::open(dir.path(), config(120))?;
        let b = j.next_seq() - 1;
        let mut cursor = Cursor::at(b + 1);
        let mut seen = Vec::new();
        let mut batch = Vec::new();
        for round in 0..10u64 {
            for i in 0..(round % 4) * 3 + 1 {
                j.append(t(0), format!("r{round}-{i}").as_bytes())?;
            }
            j.read_batch(&mut cursor, (round as usize % 3) + 1, &mut batch)?;
            seen.extend(batch.drain(..).map(|r| r.seq));
            if round == 5 {
                j.release_before(cursor.next_seq())?;
            }
        }
        loop {
            j.read_batch(&mut cursor, 2, &mut batch)?;
            if batch.is_empty() {
                break;
            }
            seen.extend(batch.drain(..).map(|r| r.seq));
        }
        let want: Vec<u64> = (b + 1..j.next_seq()).collect();
        assert_eq!(seen, want);
        assert!(j.segments.len() > 2, "the test crossed segments");
        // From an earlier place again: the records still kept.
        let mut again = Cursor::at(b + 1);
        j.read_batch(&mut again, usize::MAX, &mut batch)?;
        assert_eq!(batch.first().map(|r| r.seq), Some(j.first_seq()));
        assert_eq!(batch.last().map(|r| r.seq), Some(j.next_seq() - 1));
        Ok(())
    }

    /// Two journals on one directory would damage each other's files: the
    /// second is refused while the first is open.
    #[test]
    fn one_writer_per_directory() -> Result<(), JournalError> {
        let dir = tempfile::tempdir().map_err(io_error(Path::new("tmp")))?;
        let first = Journal::open(dir.path(), config(1 << 20))?;
        assert!(matches!(
            Journal::open(dir.path(), config(1 << 20)),
            Err(JournalError::InUse { .. })
        ));
        drop(first);
        Journal::open(dir.path(), config(1 << 20))?;
        Ok(())
    }

    #[test]
    fn a_full_journal_refuses_and_keeps_what_it_has() -> Result<(), JournalError> {
        let dir = tempfile::tempdir().map_err(io_error(Path::new("tmp")))?;
        let cfg = JournalConfig {
            max_bytes: 3 * (HEADER as u64 + 10),
            ..config(1 << 20)
        };
        let mut j = Journal::open(dir.path(), cfg)?;
        let b = j.next_seq() - 1;
        for _ in 0..3 {
            j.append(t(0), b"0123456789")?;
        }
        assert!(matches!(
            j.append(t(0), b"0123456789"),
            Err(JournalError::Full { .. })
        ));
        assert_eq!(j.next_seq(), b + 4);
        assert_eq!(payloads(&j, b + 1).len(), 3);
        Ok(())
    }

    #[test]
    fn interval_sync_is_due_only_after_its_interval() -> Result<(), JournalError> {
        let dir = tempfile::tempdir().map_err(io_error(Path::new("tmp")))?;
        let cfg = JournalConfig {
            sync: SyncPolicy::Interval(Duration::from_millis(30)),
            ..config(1 << 20)
        };
        let mut j = Journal::open(dir.path(), cfg)?;
        assert!(!j.sync_if_due()?, "nothing appended");
        j.append(t(0), b"x")?;
        assert!(!j.sync_if_due()?);
        std::thread::sleep(Duration::from_millis(40));
        assert!(j.sync_if_due()?);
        assert!(!j.sync_if_due()?, "synced already");
        Ok(())
    }
}
