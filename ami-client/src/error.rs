//! The error type of this crate.

use ami_proto::{Message, ProtoError};

/// Everything that can go wrong with a [`Client`](crate::Client) call.
///
/// The server's own refusal of an action ([`ServerError`](Self::ServerError))
/// is kept apart from transport failures. Use the predicates
/// ([`is_connection_lost`](Self::is_connection_lost),
/// [`is_retryable`](Self::is_retryable), …) rather than matching strings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused the credentials (`Response: Error` to `Login` or
    /// `Challenge`, e.g. `Message: Authentication failed`).
    #[error("the PBX refused the login{}", server_says(message))]
    Auth {
        /// The server's `Message:` text.
        message: String,
    },

    /// The server refused the MD5 challenge (`Response: Error` to
    /// `Action: Challenge`, e.g. `Must specify AuthType`) under
    /// [`AuthMode::Md5`](crate::AuthMode::Md5), the default. The secret was
    /// not sent: there is no fallback to a plain login, which must be chosen
    /// explicitly ([`AuthMode::Plain`](crate::AuthMode::Plain); over TLS
    /// unless the network is trusted). [`is_auth`](Self::is_auth) is true
    /// for it too.
    #[error(
        "the PBX refused the MD5 challenge ({message}); the secret was not sent. \
         A plain login sends it over the wire (in clear without TLS): allow it \
         explicitly with AuthMode::Plain"
    )]
    ChallengeRefused {
        /// The server's `Message:` text (empty if it sent none).
        message: String,
    },

    /// The server answered the action with `Response: Error`. The action
    /// reached the server and was refused; the connection is fine.
    #[error("server refused the action: {message}")]
    ServerError {
        /// The server's `Message:` text (empty if it sent none).
        message: String,
        /// The whole response, for the details.
        response: Box<Message>,
    },

    /// The connection dropped (closed socket, `Shutdown` event, keepalive
    /// timeout, I/O error) while the action was in flight. Nothing is
    /// retried by the client.
    #[error("connection lost before the reply arrived (action {})", if *.written { "may have reached the server" } else { "was not sent" })]
    ConnectionLost {
        /// `true` if any byte of the action was handed to the socket, so the
        /// server may have run it (think twice before retrying an
        /// `Originate`). `false` means it certainly did not reach the server.
        written: bool,
    },

    /// The client is disconnected and was configured to fail fast
    /// ([`fail_fast_when_disconnected`](crate::ClientConfigBuilder::fail_fast_when_disconnected)).
    /// The action was not sent.
    #[error("not connected (the action was not sent)")]
    NotConnected,

    /// No reply within the action's timeout. The action may or may not have
    /// reached the server; a late reply is dropped.
    #[error("no reply within the action timeout")]
    Timeout,

    /// The client was closed (by [`Client::close`](crate::Client::close)),
    /// or its background task has ended.
    #[error("client closed")]
    Closed,

    /// A socket operation failed while connecting.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// The TLS handshake or configuration failed.
    #[error("TLS error: {0}")]
    Tls(String),

    /// The action could not be encoded (a key or value holds CR, LF or NUL,
    /// or a key is malformed). Nothing was sent.
    #[error("invalid action: {0}")]
    Proto(#[from] ProtoError),

    /// The server did not speak AMI as expected (no banner, a login reply
    /// that is not a response, …).
    #[error("protocol error: {message}")]
    Protocol {
        /// What was unexpected.
        message: String,
    },
}

impl ClientError {
    /// True for [`ConnectionLost`](Self::ConnectionLost).
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, ClientError::ConnectionLost { .. })
    }

    /// True when the action certainly did not reach the server, so sending
    /// it again cannot run it twice: `ConnectionLost { written: false }`
    /// and `NotConnected`.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ClientError::ConnectionLost { written: false } | ClientError::NotConnected
        )
    }

    /// True for [`Timeout`](Self::Timeout).
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Timeout)
    }

    /// True when the login was refused: [`Auth`](Self::Auth) (bad
    /// credentials) and [`ChallengeRefused`](Self::ChallengeRefused).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            ClientError::Auth { .. } | ClientError::ChallengeRefused { .. }
        )
    }

    /// True for [`ChallengeRefused`](Self::ChallengeRefused): the server does
    /// not offer the MD5 challenge and only an explicit
    /// [`AuthMode::Plain`](crate::AuthMode::Plain) can log in.
    pub fn is_challenge_refused(&self) -> bool {
        matches!(self, ClientError::ChallengeRefused { .. })
    }

    /// True for [`Tls`](Self::Tls) (handshake, certificate or TLS
    /// configuration failure).
    pub fn is_tls(&self) -> bool {
        matches!(self, ClientError::Tls(_))
    }

    /// True for [`Io`](Self::Io) (a socket operation failed while
    /// connecting).
    pub fn is_io(&self) -> bool {
        matches!(self, ClientError::Io(_))
    }

    /// True for [`ServerError`](Self::ServerError) (the server's own refusal).
    pub fn is_server_error(&self) -> bool {
        matches!(self, ClientError::ServerError { .. })
    }

    /// The server's response, for a [`ServerError`](Self::ServerError).
    pub fn response(&self) -> Option<&Message> {
        match self {
            ClientError::ServerError { response, .. } => Some(response),
            _ => None,
        }
    }

    /// A copy of a login refusal, for the actions that were waiting for the
    /// connection; `None` for other errors.
    pub(crate) fn login_refusal(&self) -> Option<ClientError> {
        match self {
            ClientError::Auth { message } => Some(ClientError::Auth {
                message: message.clone(),
            }),
            ClientError::ChallengeRefused { message } => Some(ClientError::ChallengeRefused {
                message: message.clone(),
            }),
            _ => None,
        }
    }

    pub(crate) fn server_error(response: Message) -> ClientError {
        let message = response
            .message_text()
            .map(|v| v.to_str().into_owned())
            .unwrap_or_default();
        ClientError::ServerError {
            message,
            response: Box::new(response),
        }
    }
}

/// `: <message>` unless the message only repeats that the login failed.
pub(crate) fn server_says(message: &str) -> String {
    let m = message.trim();
    if m.is_empty() || m.eq_ignore_ascii_case("authentication failed") {
        String::new()
    } else {
        format!(": {m}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "authentication failed: Authentication failed" said it twice.
    #[test]
    fn a_refused_login_is_said_once() {
        let plain = ClientError::Auth {
            message: "Authentication failed".into(),
        };
        assert_eq!(plain.to_string(), "the PBX refused the login");
        let other = ClientError::Auth {
            message: "Account locked".into(),
        };
        assert_eq!(
            other.to_string(),
            "the PBX refused the login: Account locked"
        );
    }
}
