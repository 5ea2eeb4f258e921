//! # bigchat-voice
//!
//! The domain of the connector: follow Asterisk calls across all their
//! channels and turn them into BigChat records (contacts, tickets, call
//! records, messages) and live notifications.
//!
//! * `control` (feature `pipeline`, default): acting on calls (click-to-call with idempotency keys, hang up, blind and attended transfer).
//! * [`discover`]: propose the `[tracker]` section from the PBX's own endpoints, peers, registrations and queues, with the reasons (sans-I/O; `discover::collect` asks a live PBX, feature `pipeline`).
//! * `journal` (feature `journal`, default): the durable journal of the frames read from a PBX.
//! * [`model`]: the call as BigChat sees it, and the effects the tracker emits.
//! * [`tracker`]: the pure call tracker, AMI events in, effects out.
//! * [`replay`]: read a recorded AMI session (a capture) back as messages with their times.
//! * `store` (features `sqlite`, `postgres`, default): persistence of effects on SQLite or PostgreSQL (BigChat's tables).
//! * `pipeline` (feature `pipeline`, default): the daemon's pipeline for one PBX — connect → journal → track → store → notify, with reconciliation.
//! * `notify` (feature `store`; the webhook sink, feature `webhook`): live notifications (BigChat's Socket.IO payloads) to JSON Lines and webhooks.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|:---:|---|
//! | *(none)* | | the tracker, the model, replays, discovery's rules: no database, no HTTP, no async runtime |
//! | `store` | ✓ | the `store` API and writer, `notify` (JSON Lines and in-memory sinks); no backend |
//! | `sqlite` | ✓ | the embedded SQLite backend (bundled SQLite) |
//! | `postgres` | ✓ | the PostgreSQL backend |
//! | `webhook` | ✓ | the signed webhook sink (reqwest over rustls with ring) |
//! | `journal` | ✓ | the durable journal |
//! | `pipeline` | ✓ | the daemon's pipeline, `control`, `discover::collect` (the AMI client); needs `sqlite` or `postgres` |
//!
//! The tracker alone: `bigchat-voice = { version = "0.1", default-features = false }`.
//!
//! The crates this API is written in are re-exported: [`ami_proto`],
//! [`chrono`], and `ami_client` with `pipeline`.
#![warn(missing_docs)]

#[cfg(all(
    feature = "pipeline",
    not(any(feature = "sqlite", feature = "postgres"))
))]
compile_error!("the `pipeline` feature needs a database backend: enable `sqlite` or `postgres`");

#[cfg(feature = "pipeline")]
pub use ami_client;
pub use ami_proto;
pub use chrono;

#[cfg(feature = "pipeline")]
pub mod control;
pub mod discover;
#[cfg(feature = "journal")]
pub mod journal;
pub mod model;
#[cfg(feature = "store")]
pub mod notify;
#[cfg(feature = "pipeline")]
pub mod pipeline;
pub mod replay;
#[cfg(feature = "store")]
pub mod store;
pub mod tracker;

/// An error and its sources, outermost first, `: `-separated; a source
/// whose text its outer error already said is left out. For logs: this
/// crate's errors never repeat their source in their own text.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        next = e.source();
    }
    out
}
