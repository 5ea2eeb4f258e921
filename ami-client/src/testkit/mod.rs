//! An in-process fake Asterisk for tests (feature `testkit`).
//!
//! [`FakeAsterisk`] listens on `127.0.0.1:0`, sends a banner, accepts plain
//! and MD5 logins (and refuses bad ones the way Asterisk does:
//! `Response: Error` / `Message: Authentication failed`, then it closes the
//! socket shortly after), answers actions from a script, records every
//! action it receives, replays capture files, and injects faults on
//! command. Methods that change what clients see return once every
//! affected connection has done it, so tests need no sleeps.
//!
//! ```
//! use ami_client::testkit::{FakeAsterisk, Reply, event};
//! use ami_client::{Client, StreamItem};
//! use ami_client::ami_proto::Action;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let fake = FakeAsterisk::builder()
//!     .reply("Getvar", Reply::success(&[("Variable", "X"), ("Value", "42")]))
//!     .start()
//!     .await
//!     .unwrap();
//! let (client, mut events) = Client::connect(fake.client_config().build()).await.unwrap();
//! let r = client.send(Action::getvar(None, "X")).await.unwrap();
//! assert_eq!(r.get("Value").unwrap(), "42");
//!
//! fake.emit(&event("Newchannel", &[("Channel", "PJSIP/a-1")])).await;
//! let e = loop {
//!     let e = events.next_event().await.unwrap();
//!     if !e.is_event("FullyBooted") { break e; }
//! };
//! assert!(e.is_event("Newchannel"));
//! assert_eq!(fake.actions_named("Getvar").len(), 1);
//! client.close().await;
//! # }
//! ```
//!
//! Built-in replies (override any with [`FakeAsteriskBuilder::reply`] or
//! [`FakeAsteriskBuilder::on_action`]): `Challenge` (`AuthType: MD5`),
//! `Login` (plain or MD5, checked against the users; `FullyBooted` follows
//! a success), `Ping`, `Events`, `Filter`, `Logoff` (`Goodbye`, then the
//! socket closes); anything else before login gets `Permission denied`, and
//! unknown actions get Asterisk's `Invalid/unknown command` error.
//!
//! With the `tls` feature too, `FakeAsteriskBuilder::tls` makes it speak
//! AMI over TLS. The fake records filters and event masks but does not
//! apply them, and `ReceivedAction` keeps actions verbatim (a plain
//! `Login`'s `Secret` included): it is for tests only.

mod replay;
mod reply;
mod session;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ami_proto::Message;
use ami_proto::bytes::{Bytes, BytesMut};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use replay::{ReplayOptions, load_capture};
pub use reply::{Reply, event, message, response};

use crate::config::ClientConfigBuilder;
use reply::{Handler, HandlerDebug};
use session::{SessionCmd, SessionHandle};

/// One action the server received.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReceivedAction {
    /// Which connection (1, 2, … in accept order).
    pub session: u64,
    /// When (tokio clock, so it follows a paused clock).
    pub at: Instant,
    /// The action as received.
    pub message: Message,
}

impl ReceivedAction {
    /// The `Action:` name.
    pub fn name(&self) -> String {
        self.message
            .action_name()
            .map(|v| v.to_str().into_owned())
            .unwrap_or_default()
    }

    /// A header of the action.
    pub fn get(&self, key: &str) -> Option<String> {
        self.message.get(key).map(|v| v.to_str().into_owned())
    }
}

/// One login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginRecord {
    /// Which connection.
    pub session: u64,
    /// The `Username:` sent.
    pub username: String,
    /// True for `AuthType: MD5`.
    pub md5: bool,
    /// True if the credentials were accepted.
    pub accepted: bool,
    /// The `Events:` header of the login, if any.
    pub events: Option<String>,
}

/// How [`FakeAsterisk::restart`] behaves: by default, the connections just
/// close and new ones are accepted at once.
///
/// ```
/// # use std::time::Duration;
/// use ami_client::testkit::Restart;
/// let r = Restart::new().with_shutdown_event().refusing_for(Duration::from_millis(300));
/// assert!(r.shutdown_event);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Restart {
    /// Send `Event: Shutdown` / `Shutdown: Cleanly` / `Restart: True` to
    /// logged-in sessions first (as Asterisk does).
    pub shutdown_event: bool,
    /// Refuse new connections (accept and close at once) for this long.
    pub refuse_for: Duration,
}

impl Restart {
    /// Close and accept again at once, with no `Shutdown` event.
    pub fn new() -> Restart {
        Restart::default()
    }

    /// Announce the restart with `Event: Shutdown` first, as Asterisk does.
    #[must_use]
    pub fn with_shutdown_event(mut self) -> Restart {
        self.shutdown_event = true;
        self
    }

    /// Refuse new connections (accept and close at once) for `d`.
    #[must_use]
    pub fn refusing_for(mut self, d: Duration) -> Restart {
        self.refuse_for = d;
        self
    }
}

/// Configures a [`FakeAsterisk`].
pub struct FakeAsteriskBuilder {
    users: Vec<(String, String)>,
    version: String,
    md5: bool,
    auth_fail_close_delay: Duration,
    handler: Option<Handler>,
    replies: HashMap<String, Reply>,
    login_events: Vec<Message>,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl fmt::Debug for FakeAsteriskBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAsteriskBuilder")
            .field(
                "users",
                &self.users.iter().map(|(u, _)| u).collect::<Vec<_>>(),
            )
            .field("version", &self.version)
            .field("md5", &self.md5)
            .field("handler", &HandlerDebug(&self.handler))
            .field("replies", &self.replies.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl FakeAsteriskBuilder {
    /// Adds a user (replaces the default `bigchat` / `bigchat-secret` user
    /// on first call).
    pub fn user(mut self, username: impl Into<String>, secret: impl Into<String>) -> Self {
        if self.users.len() == 1
            && self.users[0].0 == DEFAULT_USER
            && self.users[0].1 == DEFAULT_SECRET
        {
            self.users.clear();
        }
        self.users.push((username.into(), secret.into()));
        self
    }

    /// The AMI version in the banner. Default `11.0.0` (Asterisk 22).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Whether `Challenge` is offered (default `true`); when `false` it
    /// is answered with an error, as a server without MD5 support.
    pub fn md5(mut self, offered: bool) -> Self {
        self.md5 = offered;
        self
    }

    /// Delay between `Authentication failed` and closing the socket.
    /// Default 50 ms (Asterisk: about 1 s).
    pub fn auth_fail_close_delay(mut self, delay: Duration) -> Self {
        self.auth_fail_close_delay = delay;
        self
    }

    /// A fixed reply for an action name (case-insensitive).
    pub fn reply(mut self, action: &str, reply: Reply) -> Self {
        self.replies.insert(action.to_ascii_lowercase(), reply);
        self
    }

    /// A script consulted for every action before the fixed replies and
    /// the built-in behaviour; return [`Reply::Default`] to pass.
    pub fn on_action(mut self, f: impl Fn(&Message) -> Reply + Send + Sync + 'static) -> Self {
        self.handler = Some(Arc::new(f));
        self
    }

    /// Extra events sent after every successful login (after `FullyBooted`).
    pub fn login_event(mut self, event: Message) -> Self {
        self.login_events.push(event);
        self
    }

    /// Speaks AMI over TLS with this server configuration (features
    /// `testkit` + `tls`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(tokio_rustls::TlsAcceptor::from(config));
        self
    }

    /// Binds `127.0.0.1:0` and starts accepting.
    pub async fn start(self) -> std::io::Result<FakeAsterisk> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (changes, _) = watch::channel(0u64);
        let inner = Arc::new(Inner {
            users: self.users,
            version: self.version,
            md5: self.md5,
            auth_fail_close_delay: self.auth_fail_close_delay,
            handler: Mutex::new(self.handler),
            replies: Mutex::new(self.replies),
            login_events: self.login_events,
            #[cfg(feature = "tls")]
            tls: self.tls,
            sessions: Mutex::new(HashMap::new()),
            actions: Mutex::new(Vec::new()),
            logins: Mutex::new(Vec::new()),
            attempts: Mutex::new(Vec::new()),
            refuse: AtomicBool::new(false),
            refuse_until: Mutex::new(None),
            fresh_boot: AtomicBool::new(false),
            booted_at: Mutex::new(Instant::now()),
            next_session: AtomicU64::new(1),
            changes,
        });
        let accept = tokio::spawn(accept_loop(listener, inner.clone()));
        Ok(FakeAsterisk {
            addr,
            inner,
            accept,
        })
    }
}

const DEFAULT_USER: &str = "bigchat";
const DEFAULT_SECRET: &str = "bigchat-secret";

pub(crate) struct Inner {
    pub(crate) users: Vec<(String, String)>,
    pub(crate) version: String,
    pub(crate) md5: bool,
    pub(crate) auth_fail_close_delay: Duration,
    pub(crate) handler: Mutex<Option<Handler>>,
    pub(crate) replies: Mutex<HashMap<String, Reply>>,
    pub(crate) login_events: Vec<Message>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
    pub(crate) sessions: Mutex<HashMap<u64, SessionHandle>>,
    pub(crate) actions: Mutex<Vec<ReceivedAction>>,
    pub(crate) logins: Mutex<Vec<LoginRecord>>,
    pub(crate) attempts: Mutex<Vec<Instant>>,
    pub(crate) refuse: AtomicBool,
    pub(crate) refuse_until: Mutex<Option<Instant>>,
    pub(crate) fresh_boot: AtomicBool,
    pub(crate) booted_at: Mutex<Instant>,
    pub(crate) next_session: AtomicU64,
    pub(crate) changes: watch::Sender<u64>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    pub(crate) fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    fn refusing(&self) -> bool {
        if self.refuse.load(Ordering::SeqCst) {
            return true;
        }
        let until = *lock(&self.refuse_until);
        until.is_some_and(|t| Instant::now() < t)
    }
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        lock(&inner.attempts).push(Instant::now());
        if inner.refusing() {
            drop(stream);
            inner.changed();
            continue;
        }
        let id = inner.next_session.fetch_add(1, Ordering::SeqCst);
        session::spawn(inner.clone(), stream, id);
        inner.changed();
    }
}

/// An in-process AMI server on `127.0.0.1:<random port>`. Dropping it
/// stops the server and closes every connection.
pub struct FakeAsterisk {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept: JoinHandle<()>,
}

impl fmt::Debug for FakeAsterisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAsterisk")
            .field("addr", &self.addr)
            .field("sessions", &self.session_count())
            .finish_non_exhaustive()
    }
}

impl Drop for FakeAsterisk {
    fn drop(&mut self) {
        self.accept.abort();
        for (_, s) in lock(&self.inner.sessions).drain() {
            s.task.abort();
        }
    }
}

impl FakeAsterisk {
    /// Configures a server (default user `bigchat` / `bigchat-secret`,
    /// version `11.0.0`, MD5 offered).
    pub fn builder() -> FakeAsteriskBuilder {
        FakeAsteriskBuilder {
            users: vec![(DEFAULT_USER.into(), DEFAULT_SECRET.into())],
            version: "11.0.0".into(),
            md5: true,
            auth_fail_close_delay: Duration::from_millis(50),
            handler: None,
            replies: HashMap::new(),
            login_events: Vec::new(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// A server with the defaults.
    pub async fn start() -> std::io::Result<FakeAsterisk> {
        FakeAsterisk::builder().start().await
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A client configuration for this server with the first user's
    /// credentials and short test-friendly backoff (10 ms – 1 s).
    pub fn client_config(&self) -> ClientConfigBuilder {
        let (user, secret) = self.inner.users.first().cloned().unwrap_or_default();
        crate::ClientConfig::builder("127.0.0.1", self.port())
            .name(format!("fake-asterisk:{}", self.port()))
            .username(user)
            .secret(secret)
            .backoff(Duration::from_millis(10), Duration::from_secs(1))
    }

    /// Replaces the script (see [`FakeAsteriskBuilder::on_action`]).
    pub fn set_handler(&self, f: impl Fn(&Message) -> Reply + Send + Sync + 'static) {
        *lock(&self.inner.handler) = Some(Arc::new(f));
    }

    /// Sets the fixed reply for an action name.
    pub fn set_reply(&self, action: &str, reply: Reply) {
        lock(&self.inner.replies).insert(action.to_ascii_lowercase(), reply);
    }

    // ----- records ---------------------------------------------------------

    /// Every action received, in order.
    pub fn actions(&self) -> Vec<ReceivedAction> {
        lock(&self.inner.actions).clone()
    }

    /// The actions named `name` (case-insensitive), in order.
    pub fn actions_named(&self, name: &str) -> Vec<ReceivedAction> {
        lock(&self.inner.actions)
            .iter()
            .filter(|a| {
                a.message
                    .action_name()
                    .is_some_and(|n| n.eq_ignore_case(name))
            })
            .cloned()
            .collect()
    }

    /// Every login attempt, in order.
    pub fn logins(&self) -> Vec<LoginRecord> {
        lock(&self.inner.logins).clone()
    }

    /// When each TCP connection was accepted (refused ones included).
    pub fn connection_attempts(&self) -> Vec<Instant> {
        lock(&self.inner.attempts).clone()
    }

    /// Open connections.
    pub fn session_count(&self) -> usize {
        lock(&self.inner.sessions).len()
    }

    /// Waits until `condition` holds (checked after every change the
    /// server records: connection, action, login, disconnect).
    pub async fn wait_until(&self, mut condition: impl FnMut(&FakeAsterisk) -> bool) {
        let mut rx = self.inner.changes.subscribe();
        loop {
            if condition(self) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    // ----- output ----------------------------------------------------------

    async fn broadcast(&self, logged_in_only: bool, make: impl Fn() -> SessionCmd) {
        let targets: Vec<_> = lock(&self.inner.sessions)
            .values()
            .filter(|s| !logged_in_only || s.logged_in.load(Ordering::SeqCst))
            .map(|s| s.tx.clone())
            .collect();
        let mut acks = Vec::new();
        for tx in targets {
            let (ack, rx) = oneshot::channel();
            if tx.send((make(), Some(ack))).is_ok() {
                acks.push(rx);
            }
        }
        for rx in acks {
            let _ = rx.await;
        }
    }

    /// Sends a message to every logged-in connection; returns once written.
    pub async fn emit(&self, message: &Message) {
        let mut b = BytesMut::new();
        if message.encode(&mut b).is_ok() {
            self.emit_raw(b.freeze()).await;
        }
    }

    /// Sends messages to every logged-in connection, in one write.
    pub async fn emit_all(&self, messages: &[Message]) {
        let mut b = BytesMut::new();
        for m in messages {
            let _ = m.encode(&mut b);
        }
        self.emit_raw(b.freeze()).await;
    }

    /// Sends raw bytes to every logged-in connection.
    pub async fn emit_raw(&self, bytes: Bytes) {
        self.broadcast(true, || SessionCmd::Write(bytes.clone()))
            .await;
    }

    /// Sends bytes that are not AMI (binary junk, lines without colons) to
    /// every connection, followed by a blank line.
    pub async fn send_garbage(&self) {
        let junk = Bytes::from_static(
            b"\x00\x01\xff\xfe garbage without a colon\r\n::::\r\n\x1b[31mred\r\n\r\n\r\n",
        );
        self.broadcast(false, || SessionCmd::Write(junk.clone()))
            .await;
    }

    /// Sends an event whose size is about `bytes` (one huge header), to
    /// every logged-in connection.
    pub async fn send_oversized(&self, bytes: usize) {
        let mut b = BytesMut::with_capacity(bytes + 64);
        b.extend_from_slice(b"Event: Oversized\r\nPrivilege: call,all\r\nBlob: ");
        b.resize(b.len() + bytes, b'x');
        b.extend_from_slice(b"\r\n\r\n");
        self.emit_raw(b.freeze()).await;
    }

    /// Writes half a message to every connection, then closes them.
    pub async fn close_mid_message(&self) {
        let half =
            Bytes::from_static(b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/tr");
        self.broadcast(false, || SessionCmd::WriteThenClose(half.clone()))
            .await;
    }

    /// Stops reading and writing on every connection (the sockets stay
    /// open), like a hung PBX. Output sent meanwhile is held.
    pub async fn stall(&self) {
        self.broadcast(false, || SessionCmd::Stall).await;
    }

    /// Undoes [`stall`](Self::stall): held output is written.
    pub async fn resume(&self) {
        self.broadcast(false, || SessionCmd::Resume).await;
    }

    /// Closes every connection at once (no Goodbye); returns once they
    /// are gone (new ones may already be open again).
    pub async fn close_all(&self) {
        let ids: Vec<u64> = lock(&self.inner.sessions).keys().copied().collect();
        self.broadcast(false, || SessionCmd::Close).await;
        self.wait_until(|f| {
            let open = lock(&f.inner.sessions);
            ids.iter().all(|id| !open.contains_key(id))
        })
        .await;
    }

    /// Refuse new connections (accept and close at once) until told
    /// otherwise.
    pub fn refuse_connections(&self, refuse: bool) {
        self.inner.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Simulates `core restart now`: optionally a `Shutdown` event, then
    /// every connection is dropped, new ones are refused for
    /// `refuse_for`, and the next successful login gets `FullyBooted`
    /// with `Uptime: 0`.
    pub async fn restart(&self, how: Restart) {
        if how.shutdown_event {
            self.emit(&event(
                "Shutdown",
                &[
                    ("Privilege", "system,all"),
                    ("Shutdown", "Cleanly"),
                    ("Restart", "True"),
                ],
            ))
            .await;
        }
        if !how.refuse_for.is_zero() {
            *lock(&self.inner.refuse_until) = Some(Instant::now() + how.refuse_for);
        }
        self.inner.fresh_boot.store(true, Ordering::SeqCst);
        *lock(&self.inner.booted_at) = Instant::now();
        self.close_all().await;
    }

    /// Replays a capture (`*.server.ami`) to every logged-in connection:
    /// the banner and the responses before the first event (the capture's
    /// own login) are skipped. Returns the number of messages sent.
    pub async fn replay(
        &self,
        path: impl AsRef<Path>,
        options: ReplayOptions,
    ) -> std::io::Result<usize> {
        let capture = load_capture(path.as_ref(), &options)?;
        let n = capture.messages.len();
        match options.pace {
            None => {
                let mut all = BytesMut::new();
                for m in &capture.messages {
                    all.extend_from_slice(&m.bytes);
                }
                self.emit_raw(all.freeze()).await;
            }
            Some(speed) => {
                let start = Instant::now();
                let t0 = capture.messages.first().and_then(|m| m.t).unwrap_or(0.0);
                for m in &capture.messages {
                    if let Some(t) = m.t {
                        let offset = ((t - t0).max(0.0) / speed.max(1e-9)).min(86_400.0);
                        tokio::time::sleep_until(start + Duration::from_secs_f64(offset)).await;
                    }
                    self.emit_raw(m.bytes.clone()).await;
                }
            }
        }
        Ok(n)
    }
}

/// Sessions get commands with an optional acknowledgement.
pub(crate) type SessionTx = mpsc::UnboundedSender<(SessionCmd, Option<oneshot::Sender<()>>)>;
