//! Client configuration: a builder with documented defaults.

use std::fmt;
use std::time::Duration;

use ami_proto::Action;

/// How to log in.
///
/// There is no automatic fallback: under the default ([`Md5`](Self::Md5))
/// a server that refuses the challenge fails the login with
/// [`ClientError::ChallengeRefused`](crate::ClientError::ChallengeRefused)
/// and the secret is never sent; a plain login happens only when
/// [`Plain`](Self::Plain) is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMode {
    /// MD5 challenge/response (`Action: Challenge`, then `Login` with
    /// `AuthType: MD5` and `Key: md5(challenge ‖ secret)`): the secret never
    /// crosses the wire. The default.
    #[default]
    Md5,
    /// Plain `Login` with `Secret:`: the secret crosses the wire, in clear
    /// unless the connection is TLS. Silent over TLS; over plain TCP the
    /// client logs one warning (the first time it sends such a login; its
    /// reconnects log it at debug level only).
    Plain,
}

/// TLS settings (feature `tls`).
#[cfg(feature = "tls")]
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) config: std::sync::Arc<rustls::ClientConfig>,
    pub(crate) server_name: String,
}

#[cfg(feature = "tls")]
impl TlsConfig {
    /// TLS with a ready rustls configuration; `server_name` is checked
    /// against the certificate (a DNS name or an IP address). Build the
    /// configuration with the re-exported [`rustls`](crate::rustls), so its
    /// version is the one this crate was built with.
    pub fn new(
        config: std::sync::Arc<rustls::ClientConfig>,
        server_name: impl Into<String>,
    ) -> Self {
        TlsConfig {
            config,
            server_name: server_name.into(),
        }
    }
}

#[cfg(feature = "tls")]
impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Everything the client needs to connect. Build it with
/// [`ClientConfig::builder`]; `Debug` never shows the secret.
#[derive(Clone)]
pub struct ClientConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) name: String,
    pub(crate) username: String,
    pub(crate) secret: String,
    pub(crate) auth: AuthMode,
    pub(crate) events: String,
    pub(crate) filters: Vec<Action>,
    pub(crate) action_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) keepalive: Option<(Duration, Duration)>,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) event_buffer: usize,
    pub(crate) fail_fast: bool,
    pub(crate) max_message_bytes: usize,
    pub(crate) close_timeout: Duration,
    pub(crate) action_id_prefix: Option<String>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<TlsConfig>,
}

impl ClientConfig {
    /// Whether the connection is TLS.
    pub(crate) fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        {
            self.tls.is_some()
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }

    /// Starts a configuration for the AMI server at `host:port` (5038 for
    /// TCP, 5039 for TLS).
    pub fn builder(host: impl Into<String>, port: u16) -> ClientConfigBuilder {
        let host = host.into();
        ClientConfigBuilder {
            config: ClientConfig {
                name: format!("{host}:{port}"),
                host,
                port,
                username: String::new(),
                secret: String::new(),
                auth: AuthMode::Md5,
                events: "on".into(),
                filters: Vec::new(),
                action_timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(10),
                keepalive: Some((Duration::from_secs(20), Duration::from_secs(10))),
                backoff_min: Duration::from_millis(500),
                backoff_max: Duration::from_secs(30),
                event_buffer: 8192,
                fail_fast: false,
                max_message_bytes: ami_proto::Limits::default().max_message_bytes,
                close_timeout: Duration::from_secs(2),
                action_id_prefix: None,
                #[cfg(feature = "tls")]
                tls: None,
            },
        }
    }

    /// The server name used in `tracing` spans (default `host:port`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host to connect to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The per-action timeout.
    pub fn action_timeout(&self) -> Duration {
        self.action_timeout
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ClientConfig");
        d.field("host", &self.host)
            .field("port", &self.port)
            .field("name", &self.name)
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .field("auth", &self.auth)
            .field("events", &self.events)
            .field("filters", &self.filters)
            .field("action_timeout", &self.action_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalive", &self.keepalive)
            .field("backoff", &(self.backoff_min, self.backoff_max))
            .field("event_buffer", &self.event_buffer)
            .field("fail_fast_when_disconnected", &self.fail_fast)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("close_timeout", &self.close_timeout)
            .field("action_id_prefix", &self.action_id_prefix);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls);
        d.finish()
    }
}

/// Builder for [`ClientConfig`]. Every setting has a default (listed on
/// each method).
#[derive(Debug, Clone)]
pub struct ClientConfigBuilder {
    config: ClientConfig,
}

impl ClientConfigBuilder {
    /// Label for `tracing` spans and logs. Default: `host:port`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The AMI user (`[user]` section of `manager.conf`). Default: empty.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.config.username = username.into();
        self
    }

    /// The user's secret. Never logged nor shown by `Debug`. Default: empty.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.config.secret = secret.into();
        self
    }

    /// How to log in. Default: [`AuthMode::Md5`] (no plain fallback).
    pub fn auth(mut self, mode: AuthMode) -> Self {
        self.config.auth = mode;
        self
    }

    /// The event mask sent as `Events:` on every login: `on`, `off`, or
    /// class names such as `call,agent,system`. Default: `on`. A mask
    /// later changed with an `Events` action sent through the client
    /// replaces it for later reconnects.
    pub fn events(mut self, mask: impl Into<String>) -> Self {
        self.config.events = mask.into();
        self
    }

    /// Adds a legacy regex filter (`Filter: Event: Hangup`, `!Event: VarSet`)
    /// applied after every login, before the connection is announced.
    /// Default: none.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.config.filters.push(Action::filter(filter));
        self
    }

    /// Adds an advanced filter (`MatchCriteria`, Asterisk 18.26/20.11/21.6/22.1+),
    /// e.g. criteria `action(include),name(Cdr)` with an empty filter.
    pub fn filter_match(mut self, criteria: impl Into<String>, filter: impl Into<String>) -> Self {
        self.config
            .filters
            .push(Action::filter_match(criteria, filter));
        self
    }

    /// Time an action may wait for its reply, including time spent waiting
    /// for a reconnect. Default: 10 s.
    pub fn action_timeout(mut self, timeout: Duration) -> Self {
        self.config.action_timeout = timeout;
        self
    }

    /// Time allowed for TCP connect, TLS handshake, banner, login and
    /// re-applying filters. Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Sends a `Ping` every `interval`; without its answer within
    /// `deadline` the connection is declared dead. Default: 20 s / 10 s.
    pub fn keepalive(mut self, interval: Duration, deadline: Duration) -> Self {
        self.config.keepalive = Some((interval.max(Duration::from_millis(1)), deadline));
        self
    }

    /// Turns the keepalive off (not recommended: a silent server then goes
    /// unnoticed until TCP gives up).
    pub fn no_keepalive(mut self) -> Self {
        self.config.keepalive = None;
        self
    }

    /// Reconnect delay bounds: the n-th consecutive failure waits a random
    /// time in `[0.75·b, b]` with `b = min(max, min·2ⁿ)`. Default: 500 ms, 30 s.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.backoff_min = min.max(Duration::from_millis(1));
        self.config.backoff_max = max.max(self.config.backoff_min);
        self
    }

    /// The most events held for the [`EventStream`](crate::EventStream) at
    /// any time (those queued by the background task and those the stream
    /// has taken but not yet yielded, together; markers do not count).
    /// Events arriving while it is full are counted and reported as
    /// [`Lagged`](crate::StreamItem::Lagged). Default: 8192 (at least 1).
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.config.event_buffer = events.max(1);
        self
    }

    /// When disconnected, fail actions at once with
    /// [`NotConnected`](crate::ClientError::NotConnected) instead of waiting
    /// for the reconnect (up to their timeout). Default: `false` (wait).
    pub fn fail_fast_when_disconnected(mut self, yes: bool) -> Self {
        self.config.fail_fast = yes;
        self
    }

    /// Largest message accepted from the server; bigger ones are skipped
    /// (logged) and the connection goes on. Default: 8 MiB.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.config.max_message_bytes = bytes;
        self
    }

    /// How long [`Client::close`](crate::Client::close) waits for
    /// `Response: Goodbye`. Default: 2 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.config.close_timeout = timeout;
        self
    }

    /// Prefix of the ActionIDs this client generates (`<prefix><counter>`).
    /// Default: `c` + 8 random hex digits + `-`, distinct per client.
    pub fn action_id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.action_id_prefix = Some(prefix.into());
        self
    }

    /// Connects over TLS (feature `tls`). Default: plain TCP.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.config.tls = Some(tls);
        self
    }

    /// The finished configuration.
    pub fn build(self) -> ClientConfig {
        self.config
    }
}
