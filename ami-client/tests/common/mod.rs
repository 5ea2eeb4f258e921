//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use ami_client::ami_proto::Message;
use ami_client::{EventStream, StreamItem};

/// Path of a capture in `testdata/captures/`.
pub fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/captures")
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
