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
//! * [`store`]: persistence of effects on SQLite or PostgreSQL (BigChat's tables).
//! * `pipeline` (feature `pipeline`, default): the daemon's pipeline for one PBX — connect → journal → track → store → notify, with reconciliation.
//! * [`notify`]: live notifications (BigChat's Socket.IO payloads) to JSON Lines and webhooks.
#![warn(missing_docs)]

#[cfg(feature = "pipeline")]
pub mod control;
pub mod discover;
#[cfg(feature = "journal")]
pub mod journal;
pub mod model;
pub mod notify;
#[cfg(feature = "pipeline")]
pub mod pipeline;
pub mod replay;
pub mod store;
pub mod tracker;
