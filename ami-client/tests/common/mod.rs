//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use ami_client::ami_proto::Message;
use ami_client::{EventStream, StreamItem};

/// Path of a capture in `testdata/captures/`.
pub fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/captures")
        .join(name)
}

/// The next stream item, failing the test if none arrives within 10 s
/// (tokio time: instant under a paused clock).
pub async fn next(events: &mut EventStream) -> StreamItem {
    match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("event stream ended"),
        Err(_) => panic!("no stream item within 10 s"),
    }
}

/// The next event, failing on markers.
pub async fn next_event(events: &mut EventStream) -> Message {
    match next(events).await {
        StreamItem::Event(m) => m,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Consumes the `FullyBooted` every login produces.
pub async fn skip_boot(events: &mut EventStream) {
    let e = next_event(events).await;
    assert!(e.is_event("FullyBooted"), "expected FullyBooted, got {e:?}");
}

/// The event's name as a String.
pub fn name(m: &Message) -> String {
    m.event_name()
        .map(|v| v.to_str().into_owned())
        .unwrap_or_default()
}

/// A `tracing` subscriber that keeps every event (and span field) as text,
/// for tests on what is logged. Install it on the test's thread with
/// [`LogCapture::install`] (a current-thread runtime then routes the
/// client's task there too).
#[derive(Clone, Default)]
pub struct LogCapture {
    lines: std::sync::Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>,
    next_span: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

struct Text<'a>(&'a mut String);

impl tracing::field::Visit for Text<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl LogCapture {
    /// Routes this thread's `tracing` events here until the guard drops.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.clone())
    }

    /// The text of the events at `level`.
    pub fn at(&self, level: tracing::Level) -> Vec<String> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// Everything captured, one line per event or span.
    pub fn all(&self) -> String {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn push(&self, level: tracing::Level, text: String) {
        self.lines.lock().unwrap().push((level, text));
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut text = format!("span {} ", span.metadata().name());
        span.record(&mut Text(&mut text));
        self.push(*span.metadata().level(), text);
        let id = self
            .next_span
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::span::Id::from_u64(id + 1)
    }

    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut text = String::from("span record ");
        values.record(&mut Text(&mut text));
        self.push(tracing::Level::TRACE, text);
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = String::new();
        event.record(&mut Text(&mut text));
        self.push(*event.metadata().level(), text);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
