//! JSON Lines sink: one `{"room": …, "payload": …}` object per line.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use super::{Notification, NotifyError, Sink};

/// Writes each notification as one JSON line to stdout or a file (appending),
/// flushed per line so a reader tailing it sees events as they happen.
/// Write errors are logged (`warn!`), never propagated to tracking.
pub struct JsonLinesSink {
    out: Mutex<Box<dyn Write + Send>>,
    target: String,
}

impl fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("target", &self.target)
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
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| NotifyError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(JsonLinesSink::new(
            Box::new(BufWriter::new(file)),
            &path.display().to_string(),
        ))
    }

    /// To any writer; `target` names it in logs.
    pub fn new(out: Box<dyn Write + Send>, target: &str) -> JsonLinesSink {
        JsonLinesSink {
            out: Mutex::new(out),
            target: target.to_string(),
        }
    }
}

impl Sink for JsonLinesSink {
    fn publish(&self, notification: &Notification) {
        let mut line = notification.to_json();
        line.push('\n');
        let result = match self.out.lock() {
            Ok(mut out) => out.write_all(line.as_bytes()).and_then(|()| out.flush()),
            Err(_) => Err(io::Error::other("sink poisoned")),
        };
        if let Err(e) = result {
            tracing::warn!(target_sink = %self.target, error = %e, "cannot write notification");
        }
    }
}
