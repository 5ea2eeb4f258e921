//! Connection state, as published on the client's watch channel.

use std::fmt;

/// Where the connection stands. Watch it with
/// [`Client::state`](crate::Client::state).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Connecting and logging in (also between reconnect attempts' start
    /// and their outcome).
    Connecting,
    /// Logged in, filters applied; actions flow.
    Connected {
        /// The AMI version from the banner (`11.0.0` on Asterisk 22), empty
        /// if the server sent no banner.
        version: String,
    },
    /// The last connection or attempt failed; a reconnect is scheduled.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// The client was closed (or every handle dropped); final.
    Closed,
}

impl ConnectionState {
    /// True for [`Connected`](Self::Connected).
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionState::Connected { .. })
    }
}

/// Why a connection ended or an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server closed the socket.
    ClosedByServer,
    /// Asterisk sent `Event: Shutdown` (restart or stop).
    Shutdown {
        /// `Restart: True` was announced.
        restart: bool,
    },
    /// No `Ping` answer within the keepalive deadline.
    KeepaliveTimeout,
    /// The credentials were refused.
    AuthFailed {
        /// The server's message.
        message: String,
    },
    /// Connect, TLS or login took longer than the connect timeout.
    ConnectTimeout,
    /// A socket or TLS error (its text).
    Io(String),
    /// The server did not speak AMI as expected.
    Protocol(String),
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ClosedByServer => f.write_str("closed by the server"),
            DisconnectReason::Shutdown { restart: true } => f.write_str("Asterisk is restarting"),
            DisconnectReason::Shutdown { restart: false } => {
                f.write_str("Asterisk is shutting down")
            }
            DisconnectReason::KeepaliveTimeout => f.write_str("keepalive timed out"),
            DisconnectReason::AuthFailed { message } => {
                write!(
                    f,
                    "the PBX refused the login{}",
                    crate::error::server_says(message)
                )
            }
            DisconnectReason::ConnectTimeout => f.write_str("connect/login timed out"),
            DisconnectReason::Io(e) => write!(f, "I/O error: {e}"),
            DisconnectReason::Protocol(e) => write!(f, "protocol error: {e}"),
        }
    }
}
