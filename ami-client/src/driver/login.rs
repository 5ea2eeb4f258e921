//! Establishing a session: connect, banner, login, event mask, filters.

use ami_proto::bytes::BytesMut;
use ami_proto::{Action, AmiCodec, Frame, Limits, Message, MessageKind};
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{debug, warn};

use crate::config::{AuthMode, ClientConfig};
use crate::error::ClientError;
use crate::transport::Transport;

/// Bytes asked of the socket per read.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// A socket with its decoder state.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) io: Transport,
    pub(crate) inbuf: BytesMut,
    pub(crate) codec: AmiCodec,
}

/// A logged-in session, ready for traffic.
#[derive(Debug)]
pub(crate) struct Established {
    pub(crate) conn: Conn,
    pub(crate) version: String,
    /// Events that arrived during login (e.g. `FullyBooted`), in order.
    pub(crate) early_events: Vec<Message>,
}

impl Conn {
    /// The next decoded message; `Err(ConnectionLost)` at end of stream.
    async fn next_frame(&mut self) -> Result<Frame, ClientError> {
        loop {
            if let Some(frame) = self.codec.decode_frame(&mut self.inbuf) {
                return Ok(frame);
            }
            self.inbuf.reserve(READ_CHUNK);
            let n = self.io.read_buf(&mut self.inbuf).await?;
            if n == 0 {
                return Err(ClientError::ConnectionLost { written: true });
            }
        }
    }

    /// Sends `action` and waits for the response with its ActionID. Events
    /// seen meanwhile go to `early`; anything else is ignored.
    async fn request(
        &mut self,
        action: &Action,
        early: &mut Vec<Message>,
    ) -> Result<Message, ClientError> {
        let bytes = action.to_bytes()?;
        self.io.write_all(&bytes).await?;
        self.io.flush().await?;
        let id = action.action_id().unwrap_or_default();
        loop {
            match self.next_frame().await? {
                Frame::Message(m) => match m.kind() {
                    MessageKind::Response if m.action_id().is_some_and(|v| v == id) => {
                        return Ok(m);
                    }
                    MessageKind::Event => early.push(m),
                    _ => debug!(message = ?m, "ignoring message during login"),
                },
                Frame::Skipped(e) => warn!(error = %e, "skipped a message from the server"),
                Frame::Banner(_) => {}
                _ => {}
            }
        }
    }
}

/// Lowercase hex of md5(challenge ‖ secret), as Asterisk compares it.
pub(crate) fn md5_key(challenge: &str, secret: &str) -> String {
    let mut h = Md5::new();
    h.update(challenge.as_bytes());
    h.update(secret.as_bytes());
    let digest = h.finalize();
    let mut s = String::with_capacity(32);
    for b in digest.iter() {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    s
}

fn text(m: &Message, key: &str) -> String {
    m.get(key)
        .map(|v| v.to_str().into_owned())
        .unwrap_or_default()
}

fn is_success(m: &Message) -> bool {
    m.response().is_some_and(|r| r.eq_ignore_case("Success"))
}

/// Connects and logs in, then applies the event mask and the filters.
/// Does not time itself out: the caller wraps it. `plain_warned` says
/// whether this client already warned about a plain login without TLS.
pub(crate) async fn establish(
    config: &ClientConfig,
    prefix: &str,
    events_mask: &str,
    filters: &[Action],
    plain_warned: &mut bool,
) -> Result<Established, ClientError> {
    let io = Transport::connect(config).await?;
    let limits = Limits {
        max_message_bytes: config.max_message_bytes,
        ..Limits::default()
    };
    let mut conn = Conn {
        io,
        inbuf: BytesMut::with_capacity(READ_CHUNK),
        codec: AmiCodec::with_limits(limits),
    };
    let mut early = Vec::new();
    let version = match conn.next_frame().await? {
        Frame::Banner(b) => b
            .version()
            .map(|v| v.to_str().into_owned())
            .unwrap_or_default(),
        Frame::Message(m) => {
            // No banner: tolerate it, the message is kept.
            if m.kind() == MessageKind::Event {
                early.push(m);
            }
            String::new()
        }
        Frame::Skipped(e) => {
            return Err(ClientError::Protocol {
                message: format!("no banner: {e}"),
            });
        }
        _ => String::new(),
    };
    debug!(%version, "banner received");

    let mut n = 0u32;
    let mut next_id = || {
        n += 1;
        format!("{prefix}L{n}")
    };

    let use_md5 = match config.auth {
        AuthMode::Plain => {
            if config.is_tls() {
                debug!("plain login inside TLS");
            } else if !std::mem::replace(plain_warned, true) {
                warn!(
                    "plain login without TLS (auth mode Plain): the AMI secret crosses the \
                     network in clear; use the MD5 challenge (the default) or TLS"
                );
            } else {
                debug!("plain login without TLS");
            }
            None
        }
        AuthMode::Md5 => {
            let reply = conn
                .request(&Action::challenge().with_action_id(next_id()), &mut early)
                .await?;
            match reply.get("Challenge") {
                Some(c) if is_success(&reply) => Some(c.to_str().into_owned()),
                // No fallback: the secret is not sent.
                _ => {
                    return Err(ClientError::ChallengeRefused {
                        message: text(&reply, "Message"),
                    });
                }
            }
        }
    };
    let login = match &use_md5 {
        Some(challenge) => {
            Action::login_md5(config.username.clone(), md5_key(challenge, &config.secret))
        }
        None => Action::login(config.username.clone(), config.secret.clone()),
    }
    .header("Events", events_mask)
    .with_action_id(next_id());
    let reply = conn.request(&login, &mut early).await?;
    if !is_success(&reply) {
        let message = text(&reply, "Message");
        return Err(ClientError::Auth {
            message: if message.is_empty() {
                "login refused".into()
            } else {
                message
            },
        });
    }
    for filter in filters {
        let mut f = filter.clone();
        f.set_action_id(next_id());
        let reply = conn.request(&f, &mut early).await?;
        if !is_success(&reply) {
            warn!(filter = ?filter, message = %text(&reply, "Message"), "the server refused a filter");
        }
    }
    Ok(Established {
        conn,
        version,
        early_events: early,
    })
}

#[cfg(test)]
mod tests {
    use super::md5_key;

    #[test]
    fn md5_key_matches_the_capture() {
        // testdata/captures/login-md5: challenge 177647231, secret bigchat-secret.
        assert_eq!(
            md5_key("177647231", "bigchat-secret"),
            "1c3470facc8cab1d7b1c18e90a047bcf"
        );
    }
}
