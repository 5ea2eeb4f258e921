//! JSON Lines sink: one `{"event": …, "rooms": […], "payload": …}` object per line.

use std::collections::VecDeque;
use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Notification, NotifyError, Sink};

/// Lines waiting to be written before the oldest are dropped.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Writes each notification as one JSON line to stdout or a file
/// (appending), flushed per line so a reader tailing it sees events as they
/// happen.
///
/// Writing happens on the sink's own thread: a slow or stuck reader (a
/// full pipe, a slow disk) never stalls the caller. Lines wait in a
/// bounded queue; when it is full the oldest is dropped, counted
/// ([`dropped`](JsonLinesSink::dropped)) and logged (`warn!`, once per
/// episode). Write errors are logged, never propagated to tracking. Call
/// [`flush`](JsonLinesSink::flush) before exiting: lines still queued when
/// the process ends are lost.
pub struct JsonLinesSink {
    shared: Arc<Shared>,
    target: String,
    /// The file, for [`reopen`](JsonLinesSink::reopen).
    path: Option<PathBuf>,
}

struct Shared {
    state: Mutex<State>,
    /// A line was queued, or the sink closed.
    wake: Condvar,
    /// The queue ran empty.
    idle: Condvar,
    capacity: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<String>,
    writing: bool,
    closed: bool,
    dropped: u64,
    full: bool,
    /// New writers to switch to, one per reopen marker in the queue, in
    /// order (see [`JsonLinesSink::reopen`]).
    switch_to: VecDeque<Box<dyn Write + Send>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("target", &self.target)
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl JsonLinesSink {
    /// To standard output.
    pub fn stdout() -> JsonLinesSink {
        JsonLinesSink::new(Box::new(io::stdout()), "stdout")
    }

    /// Appending to a file (created if missing).
    pub fn file(path: &Path) -> Result<JsonLinesSink, NotifyError> {
        let mut sink = JsonLinesSink::new(open_append(path)?, &path.display().to_string());
        sink.path = Some(path.to_path_buf());
        Ok(sink)
    }

    /// Opens the file again by its path (after logrotate moved it away):
    /// lines queued before this call go to the old file, later ones to the
    /// new. Nothing is lost; a sink that is not a file ignores it. If the
    /// file cannot be opened, the old one is kept and the error returned.
    pub fn reopen(&self) -> Result<(), NotifyError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let out = open_append(path)?;
        let mut state = self.shared.lock();
        // Lines queued so far belong to the old file: mark the switch
        // behind them.
        state.queue.push_back(String::new());
        state.switch_to.push_back(out);
        drop(state);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// To any writer; `target` names it in logs.
    pub fn new(out: Box<dyn Write + Send>, target: &str) -> JsonLinesSink {
        JsonLinesSink::with_capacity(out, target, DEFAULT_CAPACITY)
    }

    /// As [`new`](JsonLinesSink::new), with at most `capacity` lines queued.
    pub fn with_capacity(
        out: Box<dyn Write + Send>,
        target: &str,
        capacity: usize,
    ) -> JsonLinesSink {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            idle: Condvar::new(),
            capacity: capacity.max(1),
        });
        let worker = Arc::clone(&shared);
        let name = target.to_string();
        // A sink that cannot start its thread writes nothing; say so.
        if let Err(e) = std::thread::Builder::new()
            .name("bigchat-jsonl".into())
            .spawn(move || write_lines(&worker, out, &name))
        {
            tracing::error!(target_sink = %target, error = %e, "cannot start the notification writer");
        }
        JsonLinesSink {
            shared,
            target: target.to_string(),
            path: None,
        }
    }

    /// Waits (blocking, at most `timeout`) until every queued line is
    /// written; false if some are still waiting.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while !state.queue.is_empty() || state.writing {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = match self.shared.idle.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }

    /// Lines dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }
}

impl Drop for JsonLinesSink {
    fn drop(&mut self) {
        // The thread writes what is queued, then ends.
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
    }
}

fn write_lines(shared: &Shared, mut out: Box<dyn Write + Send>, target: &str) {
    loop {
        let line = {
            let mut state = shared.lock();
            loop {
                if let Some(line) = state.queue.pop_front() {
                    if line.is_empty() {
                        // The reopen marker: everything before it is written.
                        if let Some(next) = state.switch_to.pop_front() {
                            drop(state);
                            let _ = out.flush();
                            out = next;
                            state = shared.lock();
                        }
                        if state.queue.is_empty() {
                            shared.idle.notify_all();
                        }
                        continue;
                    }
                    state.writing = true;
                    break line;
                }
                if state.closed {
                    return;
                }
                state = match shared.wake.wait(state) {
                    Ok(s) => s,
                    Err(p) => p.into_inner(),
                };
            }
        };
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(target_sink = %target, error = %e, "cannot write notification");
        }
        let mut state = shared.lock();
        state.writing = false;
        if state.queue.is_empty() {
            state.full = false;
            shared.idle.notify_all();
        }
    }
}

fn open_append(path: &Path) -> Result<Box<dyn Write + Send>, NotifyError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| NotifyError::Io {
            path: path.display().to_string(),
            source,
        })?;
    Ok(Box::new(BufWriter::new(file)))
}

impl Sink for JsonLinesSink {
    fn publish(&self, notification: &Notification) {
        let mut line = notification.to_json();
        line.push('\n');
        let mut state = self.shared.lock();
        if state.queue.len() >= self.shared.capacity {
            // Drop the oldest line, never a reopen marker.
            let marker = state.queue.front().is_some_and(String::is_empty);
            let at = usize::from(marker);
            state.queue.remove(at);
            state.dropped += 1;
            if !state.full {
                state.full = true;
                tracing::warn!(
                    target_sink = %self.target,
                    capacity = self.shared.capacity,
                    dropped_total = state.dropped,
                    "notification reader too slow: dropping the oldest lines"
                );
            }
        }
        state.queue.push_back(line);
        drop(state);
        self.shared.wake.notify_one();
    }
}
