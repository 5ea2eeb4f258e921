//! # ami-client
//!
//! A reconnecting async client for the Asterisk Manager Interface (AMI), on
//! tokio, built on the [`ami_proto`] codec. One background task owns the
//! socket; [`Client`] is a cheap `Clone` handle that sends actions to it,
//! and [`EventStream`] delivers the events.
//!
//! ```no_run
//! use ami_client::{AuthMode, Client, ClientConfig, StreamItem};
//! use ami_proto::Action;
//!
//! # async fn run() -> Result<(), ami_client::ClientError> {
//! let config = ClientConfig::builder("127.0.0.1", 5038)
//!     .username("bigchat")
//!     .secret("bigchat-secret")
//!     .auth(AuthMode::Md5) // the default
//!     .events("call,agent,system")
//!     .filter("!Event: VarSet")
//!     .build();
//! let (client, mut events) = Client::connect(config).await?;
//! println!("AMI {}", client.banner_version().unwrap_or_default());
//!
//! let pong = client.send(Action::ping()).await?;
//! assert_eq!(pong.get("Ping").unwrap(), "Pong");
//! let channels = client.send_list(Action::core_show_channels()).await?;
//! println!("{} channels up", channels.items.len());
//!
//! while let Some(item) = events.recv().await {
//!     match item {
//!         StreamItem::Event(e) => println!("{}", e.event_name().unwrap()),
//!         StreamItem::Lagged { missed } => eprintln!("missed {missed} events: resync"),
//!         StreamItem::Reconnected { .. } => eprintln!("reconnected: resync"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! A complete program that runs against the built-in fake server is
//! `examples/client.rs` (`cargo run -p examples --example client`).
//!
//! # Behavior
//!
//! **Connect and login.** TCP, or TLS with the `tls` feature
//! (`ClientConfigBuilder::tls`). After the banner (its version is
//! [`Client::banner_version`]) the client logs in with the MD5 challenge
//! ([`AuthMode::Md5`], the default): the secret never crosses the wire. If
//! the server refuses the challenge the login fails with
//! [`ClientError::ChallengeRefused`] and the secret is not sent; there is
//! no fallback. A plain `Login` (`Secret:`) is sent only under an explicit
//! [`AuthMode::Plain`]: silently over TLS, with one warning per client over
//! plain TCP. Refused credentials are [`ClientError::Auth`]: returned by
//! [`Client::connect`] for the first attempt, published as
//! [`DisconnectReason::AuthFailed`] later, and given to actions waiting for
//! the connection (a refused challenge likewise). They are retried on the
//! normal backoff schedule, never in a tight loop. The event mask is sent as `Events:` on the `Login`, then
//! every filter is re-sent and its reply awaited.
//!
//! **Actions.** Every action gets the ActionID `<prefix><counter>` (the
//! prefix is random per client unless configured), so any number of
//! concurrent callers each get their own response whatever the interleaving
//! with events. A per-action timeout ([`ClientConfigBuilder::action_timeout`])
//! covers the whole wait, including waiting for a reconnect. A server
//! refusal (`Response: Error`) is [`ClientError::ServerError`], distinct
//! from transport failures. [`Client::send_list`] collects an event list
//! (`EventList: start` … `EventList: Complete`, or a pre-13.2 `…Complete`
//! event without that header); its items are not put on the event stream.
//!
//! **Disconnects and in-flight actions.** A closed socket, an I/O error, an
//! Asterisk `Shutdown` event or a missed keepalive all end the session the
//! same way: every in-flight action fails at once with
//! [`ClientError::ConnectionLost`], whose `written` field says whether any
//! byte of the action was handed to the socket (`false`: it certainly did
//! not run and [`ClientError::is_retryable`] is true). **Nothing is ever
//! retried by the client**: `Originate` is not idempotent, so the caller
//! decides. Actions sent while disconnected wait for the next session (up
//! to their timeout), or fail at once with [`ClientError::NotConnected`] if
//! [`ClientConfigBuilder::fail_fast_when_disconnected`] is set.
//!
//! **Reconnect.** Capped exponential backoff with jitter: after the n-th
//! consecutive failure the client waits a random time in `[0.75·b, b]`,
//! `b = min(max, min·2ⁿ)` ([`ClientConfigBuilder::backoff`], default 500 ms
//! to 30 s). Only connection outcomes move the schedule; callers sending
//! actions cannot make it retry sooner. It is reset after a session that
//! stayed up at least `max`. The state is published on [`Client::state`]
//! (`Connecting`, `Connected { version }`, `Disconnected { reason }`,
//! `Closed`).
//!
//! **Event mask and filters** (from the config, plus any `Events` or
//! `Filter` action the server accepted through [`Client::send`]) are
//! re-applied after every reconnect *before* the connection is announced:
//! [`StreamItem::Reconnected`] is queued only after the login and every
//! filter reply, followed by the new session's first events (such as
//! `FullyBooted`). It tells the consumer events may have been missed.
//!
//! **Back-pressure.** The reader never waits for the consumer, so Asterisk
//! (which drops a session whose writes block for 100 ms) is never stalled.
//! Events go to a bounded buffer ([`ClientConfigBuilder::event_buffer`],
//! default 8192): at most that many events are held for the stream at any
//! time, counting both those queued by the reader and those the
//! [`EventStream`] has taken in a batch but not yet yielded (markers are
//! not counted). When it is full, further events are counted, not
//! queued; once there is room again the stream yields
//! [`StreamItem::Lagged`]`{ missed }` with the exact count at the point of
//! the gap, so nothing is dropped silently and the consumer knows to
//! resync. Markers are never dropped.
//!
//! **Keepalive.** A `Ping` every interval; no answer within the deadline
//! means the connection is dead and is handled like a closed socket
//! ([`ClientConfigBuilder::keepalive`], default 20 s / 10 s).
//!
//! **Close.** [`Client::close`] sends `Logoff`, waits briefly for `Goodbye`
//! (replies to actions sent before it still arrive), fails what is still
//! pending with [`ClientError::Closed`], ends the event stream and returns
//! once the background task has finished. Dropping every `Client` and the
//! `EventStream` does the same in the background. No task or socket is
//! left behind.
//!
//! **Logging.** `tracing` events inside an `ami` span carrying the server
//! name; `info` on connect, `warn` on failures and retries, `debug`/`trace`
//! for traffic. The secret is never logged, and `Debug` of the config
//! redacts it.
//!
//! ## Features
//! * `tls`: AMI over TLS with rustls (`TlsConfig`, `pin`); the crate
//!   re-exports `rustls` so a `rustls::ClientConfig` for
//!   `TlsConfig::new` can be built without a separate, version-matched
//!   dependency.
//! * `testkit`: `testkit::FakeAsterisk`, an in-process AMI server for
//!   tests (yours too).
#![warn(missing_docs)]

mod backoff;
mod client;
mod config;
mod driver;
mod error;
#[cfg(feature = "tls")]
pub mod pin;
mod state;
mod stream;
mod transport;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use client::{Client, EventList};
#[cfg(feature = "tls")]
pub use config::TlsConfig;
pub use config::{AuthMode, ClientConfig, ClientConfigBuilder};
pub use error::ClientError;
pub use state::{ConnectionState, DisconnectReason};
pub use stream::{EventStream, StreamItem};

/// Re-exported so users need not depend on `ami-proto` themselves.
pub use ami_proto;

/// The rustls this crate uses (feature `tls`), re-exported so that the
/// `rustls::ClientConfig` given to [`TlsConfig::new`] (and, with
/// `testkit`, the server configuration of the fake) is of the same
/// version: `ami_client::rustls::ClientConfig::builder_with_provider(…)`.
/// It is built with the `ring` provider, `std` and `tls12`.
#[cfg(feature = "tls")]
pub use rustls;

/// `md5(challenge ‖ secret)` as 32 lowercase hex digits: the `Key` of an
/// MD5 `Login` (exposed for servers and tests).
pub fn md5_login_key(challenge: &str, secret: &str) -> String {
    driver::md5_key(challenge, secret)
}
