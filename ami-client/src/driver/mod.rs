//! The background task: one per client. It owns the socket, the table of
//! in-flight actions and the reconnect schedule.

mod login;
mod session;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ami_proto::{Action, Message};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};

use crate::backoff::Backoff;
use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::state::{ConnectionState, DisconnectReason};
use crate::stream::{EventQueue, StreamItem};

pub(crate) use login::md5_key;

/// What the handles ask of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send an action (its ActionID is already set).
    Send(Request),
    /// Log off and stop.
    Close,
}

/// What a caller waits for.
pub(crate) type ReplyResult = Result<Reply, ClientError>;

/// One action from a caller.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) id: u64,
    pub(crate) action: Action,
    pub(crate) list: bool,
    pub(crate) reply: oneshot::Sender<ReplyResult>,
}

/// The answer to a request.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) response: Message,
    pub(crate) items: Vec<Message>,
    pub(crate) complete: Option<Message>,
}

/// How a session ended.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    /// The connection is gone; reconnect.
    Lost(DisconnectReason),
    /// Closed on request (or every handle dropped); stop.
    Closed,
}

/// State the driver keeps across sessions.
pub(crate) struct Driver {
    pub(crate) config: ClientConfig,
    pub(crate) prefix: String,
    pub(crate) rx: mpsc::UnboundedReceiver<Command>,
    pub(crate) queue: Arc<EventQueue>,
    pub(crate) state: watch::Sender<ConnectionState>,
    pub(crate) version: Arc<Mutex<Option<String>>>,
    pub(crate) next_id: Arc<std::sync::atomic::AtomicU64>,
    /// Requests that arrived while disconnected.
    pub(crate) waiting: VecDeque<Request>,
    /// The event mask to send on login (updated by `Events` actions).
    pub(crate) events_mask: String,
    /// Filters to re-apply after login (config + `Filter` actions sent).
    pub(crate) filters: Vec<Action>,
    /// Receives the outcome of the first attempt ([`Client::connect`](crate::Client::connect)).
    pub(crate) first_attempt: Option<oneshot::Sender<Result<(), ClientError>>>,
    pub(crate) rx_closed: bool,
    /// The plain-login-without-TLS warning was logged (once per client).
    pub(crate) plain_warned: bool,
}

enum Attempt {
    Established(Box<login::Established>),
    Failed(ClientError),
    Stop,
}

impl Driver {
    pub(crate) async fn run(self) {
        let span = info_span!("ami", server = %self.config.name);
        self.run_inner().instrument(span).await;
    }

    async fn run_inner(mut self) {
        let mut backoff = Backoff::new(self.config.backoff_min, self.config.backoff_max);
        let mut connected_before = false;
        loop {
            self.state.send_replace(ConnectionState::Connecting);
            match self.attempt().await {
                Attempt::Stop => break,
                Attempt::Failed(err) => {
                    let reason = reason_of(&err);
                    warn!(%reason, "connection attempt failed");
                    if let Some(tx) = self.first_attempt.take() {
                        let _ = tx.send(Err(err));
                        break;
                    }
                    if err.login_refusal().is_some() {
                        for req in self.waiting.drain(..) {
                            if let Some(e) = err.login_refusal() {
                                let _ = req.reply.send(Err(e));
                            }
                        }
                    }
                    self.state
                        .send_replace(ConnectionState::Disconnected { reason });
                }
                Attempt::Established(est) => {
                    let version = est.version.clone();
                    if let Ok(mut v) = self.version.lock() {
                        *v = Some(version.clone());
                    }
                    if connected_before {
                        info!(%version, "reconnected");
                        self.queue.push_marker(StreamItem::Reconnected {
                            version: version.clone(),
                        });
                    } else {
                        info!(%version, "connected");
                    }
                    connected_before = true;
                    let mut early = est.early_events;
                    self.queue.push_events(&mut early);
                    self.state
                        .send_replace(ConnectionState::Connected { version });
                    // Only now: `connect` returns a client whose version
                    // and state already say so.
                    if let Some(tx) = self.first_attempt.take() {
                        let _ = tx.send(Ok(()));
                    }
                    let started = Instant::now();
                    match session::Session::new(est.conn, &self.config)
                        .run(&mut self)
                        .await
                    {
                        SessionEnd::Closed => break,
                        SessionEnd::Lost(reason) => {
                            warn!(%reason, "connection lost");
                            if started.elapsed() >= self.config.backoff_max {
                                backoff.reset();
                            }
                            self.state
                                .send_replace(ConnectionState::Disconnected { reason });
                        }
                    }
                }
            }
            let delay = backoff.next_delay();
            info!(?delay, "reconnecting after a delay");
            if !self.wait(delay).await {
                break;
            }
        }
        self.finish();
    }

    /// One connect + login attempt, serving commands meanwhile.
    async fn attempt(&mut self) -> Attempt {
        let connect_timeout = self.config.connect_timeout;
        let fut = tokio::time::timeout(
            connect_timeout,
            login::establish(
                &self.config,
                &self.prefix,
                &self.events_mask,
                &self.filters,
                &mut self.plain_warned,
            ),
        );
        tokio::pin!(fut);
        loop {
            tokio::select! {
                biased;
                r = &mut fut => return match r {
                    Ok(Ok(est)) => Attempt::Established(Box::new(est)),
                    Ok(Err(e)) => Attempt::Failed(e),
                    Err(_) => Attempt::Failed(ClientError::Timeout),
                },
                cmd = self.rx.recv(), if !self.rx_closed => {
                    if !handle_disconnected(cmd, &self.config, &mut self.waiting, &mut self.rx_closed) {
                        return Attempt::Stop;
                    }
                }
            }
        }
    }

    /// Sleeps `delay` serving commands; false if asked to stop.
    async fn wait(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                biased;
                () = &mut sleep => return true,
                cmd = self.rx.recv(), if !self.rx_closed => {
                    if !handle_disconnected(cmd, &self.config, &mut self.waiting, &mut self.rx_closed) {
                        return false;
                    }
                }
            }
        }
    }

    fn finish(&mut self) {
        for req in self.waiting.drain(..) {
            let _ = req.reply.send(Err(ClientError::Closed));
        }
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            if let Command::Send(req) = cmd {
                let _ = req.reply.send(Err(ClientError::Closed));
            }
        }
        self.state.send_replace(ConnectionState::Closed);
        self.queue.close();
        info!("client closed");
    }
}

/// Handles a command while no session is up. Returns false to stop.
fn handle_disconnected(
    cmd: Option<Command>,
    config: &ClientConfig,
    waiting: &mut VecDeque<Request>,
    rx_closed: &mut bool,
) -> bool {
    match cmd {
        Some(Command::Send(req)) => {
            if config.fail_fast {
                let _ = req.reply.send(Err(ClientError::NotConnected));
            } else {
                waiting.retain(|r| !r.reply.is_closed());
                waiting.push_back(req);
            }
            true
        }
        Some(Command::Close) => false,
        None => {
            // Every handle is gone: nobody can use a connection any more.
            *rx_closed = true;
            false
        }
    }
}

fn reason_of(err: &ClientError) -> DisconnectReason {
    match err {
        ClientError::Auth { message } => DisconnectReason::AuthFailed {
            message: message.clone(),
        },
        ClientError::ChallengeRefused { message } => DisconnectReason::AuthFailed {
            message: format!("the PBX refused the MD5 challenge ({message})"),
        },
        ClientError::Timeout => DisconnectReason::ConnectTimeout,
        ClientError::ConnectionLost { .. } => DisconnectReason::ClosedByServer,
        ClientError::Io(e) => DisconnectReason::Io(e.to_string()),
        ClientError::Tls(e) => DisconnectReason::Io(format!("TLS: {e}")),
        other => DisconnectReason::Protocol(other.to_string()),
    }
}
