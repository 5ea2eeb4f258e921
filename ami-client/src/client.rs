//! The cheap, cloneable handle.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ami_proto::{Action, Message};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::backoff::random_seed;
use crate::config::ClientConfig;
use crate::driver::{Command, Driver, Reply, Request};
use crate::error::ClientError;
use crate::state::ConnectionState;
use crate::stream::{EventQueue, EventStream};

struct Shared {
    prefix: String,
    next_id: Arc<AtomicU64>,
    action_timeout: Duration,
    state: watch::Receiver<ConnectionState>,
    version: Arc<Mutex<Option<String>>>,
    driver: Mutex<Option<JoinHandle<()>>>,
    name: String,
}

/// A handle to one AMI connection. Cheap to clone; every clone talks to the
/// same background task. See the [crate docs](crate#behavior) for what
/// happens on disconnect.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Command>,
}

/// The reply to an event-list action ([`Client::send_list`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EventList {
    /// The response (`Response: Success`, `EventList: start`).
    pub response: Message,
    /// The list items, in order (e.g. `CoreShowChannel` events).
    pub items: Vec<Message>,
    /// The closing event (`EventList: Complete`, with `ListItems`); `None`
    /// if the server answered without starting a list.
    pub complete: Option<Message>,
}

impl Client {
    /// Starts the background task and returns at once; the task connects,
    /// logs in and reconnects forever (until [`close`](Self::close) or every
    /// handle is dropped). Actions sent before the first login wait for it.
    ///
    /// Must be called inside a tokio runtime.
    pub fn start(config: ClientConfig) -> (Client, EventStream) {
        let (client, stream) = Client::spawn(config, None);
        (client, stream)
    }

    /// Connects and logs in once, then returns with the background task
    /// running (it reconnects from then on). If this first attempt fails
    /// (wrong credentials → [`ClientError::Auth`], refused connection →
    /// [`ClientError::Io`], connect timeout → [`ClientError::Timeout`]), the
    /// error is returned and nothing keeps running.
    pub async fn connect(config: ClientConfig) -> Result<(Client, EventStream), ClientError> {
        let (tx, rx) = oneshot::channel();
        let (client, stream) = Client::spawn(config, Some(tx));
        match rx.await {
            Ok(Ok(())) => Ok((client, stream)),
            Ok(Err(e)) => {
                client.join().await;
                Err(e)
            }
            Err(_) => Err(ClientError::Closed),
        }
    }

    fn spawn(
        config: ClientConfig,
        first_attempt: Option<oneshot::Sender<Result<(), ClientError>>>,
    ) -> (Client, EventStream) {
        let prefix = config
            .action_id_prefix
            .clone()
            .unwrap_or_else(|| format!("c{:08x}-", random_seed() as u32));
        let (tx, rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = watch::channel(ConnectionState::Connecting);
        let queue = Arc::new(EventQueue::new(config.event_buffer));
        let next_id = Arc::new(AtomicU64::new(1));
        let version = Arc::new(Mutex::new(None));
        let shared = Arc::new(Shared {
            prefix: prefix.clone(),
            next_id: next_id.clone(),
            action_timeout: config.action_timeout,
            state: state_rx,
            version: version.clone(),
            driver: Mutex::new(None),
            name: config.name.clone(),
        });
        let driver = Driver {
            events_mask: config.events.clone(),
            filters: config.filters.clone(),
            config,
            prefix,
            rx,
            queue: queue.clone(),
            state: state_tx,
            version,
            next_id,
            waiting: VecDeque::new(),
            first_attempt,
            rx_closed: false,
            plain_warned: false,
        };
        let handle = tokio::spawn(driver.run());
        if let Ok(mut d) = shared.driver.lock() {
            *d = Some(handle);
        }
        let stream = EventStream::new(queue, tx.clone());
        (Client { shared, tx }, stream)
    }

    /// Sends an action and waits for its response, up to the configured
    /// action timeout. The client sets the ActionID (`<prefix><n>`, see the
    /// response's `ActionID` header), replacing any the action had.
    ///
    /// `Response: Error` comes back as [`ClientError::ServerError`]; see
    /// [`ClientError`] for the rest. Sending `Events` or `Filter` here also
    /// changes what is re-applied after a reconnect. Do not send `Logoff`
    /// this way (the server would hang up and the client reconnect): use
    /// [`close`](Self::close).
    ///
    /// The action is sent once at most: it is never retried, whatever
    /// happens to the connection.
    pub async fn send(&self, action: Action) -> Result<Message, ClientError> {
        self.send_with_timeout(action, self.shared.action_timeout)
            .await
    }

    /// [`send`](Self::send) with its own timeout.
    pub async fn send_with_timeout(
        &self,
        action: Action,
        timeout: Duration,
    ) -> Result<Message, ClientError> {
        self.request(action, false, timeout)
            .await
            .map(|r| r.response)
    }

    /// Sends an event-list action (`CoreShowChannels`, `Status`,
    /// `QueueStatus`, …) and collects the list: the response, every item
    /// with its ActionID, and the `…Complete` event. Items do not appear on
    /// the [`EventStream`]. The timeout covers the whole list.
    pub async fn send_list(&self, action: Action) -> Result<EventList, ClientError> {
        self.send_list_with_timeout(action, self.shared.action_timeout)
            .await
    }

    /// [`send_list`](Self::send_list) with its own timeout.
    pub async fn send_list_with_timeout(
        &self,
        action: Action,
        timeout: Duration,
    ) -> Result<EventList, ClientError> {
        self.request(action, true, timeout)
            .await
            .map(|r| EventList {
                response: r.response,
                items: r.items,
                complete: r.complete,
            })
    }

    async fn request(
        &self,
        mut action: Action,
        list: bool,
        timeout: Duration,
    ) -> Result<Reply, ClientError> {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        action.set_action_id(format!("{}{id}", self.shared.prefix));
        action.validate()?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Send(Request {
                id,
                action,
                list,
                reply,
            }))
            .map_err(|_| ClientError::Closed)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout),
        }
    }

    /// A watch of the connection state.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.shared.state.clone()
    }

    /// Waits until the client is [`Connected`](ConnectionState::Connected);
    /// `Err(Closed)` if it closes first.
    pub async fn wait_connected(&self) -> Result<(), ClientError> {
        let mut rx = self.state();
        let state = rx
            .wait_for(|s| {
                matches!(
                    s,
                    ConnectionState::Connected { .. } | ConnectionState::Closed
                )
            })
            .await
            .map_err(|_| ClientError::Closed)?;
        if state.is_connected() {
            Ok(())
        } else {
            Err(ClientError::Closed)
        }
    }

    /// The AMI version from the last banner (`11.0.0` on Asterisk 22);
    /// `None` before the first connection.
    pub fn banner_version(&self) -> Option<String> {
        self.shared.version.lock().ok().and_then(|v| v.clone())
    }

    /// The prefix of the ActionIDs this client generates.
    pub fn action_id_prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// Closes the connection: sends `Logoff`, waits up to the close timeout
    /// for `Goodbye` (replies to earlier actions still arrive), fails what
    /// is still pending with [`ClientError::Closed`], ends the event stream
    /// and the background task. Returns once the task has ended. Calling it
    /// again, or from clones, is harmless.
    pub async fn close(&self) {
        let _ = self.tx.send(Command::Close);
        self.join().await;
    }

    async fn join(&self) {
        let handle = self.shared.driver.lock().ok().and_then(|mut d| d.take());
        match handle {
            Some(h) => {
                let _ = h.await;
            }
            None => {
                let mut rx = self.state();
                let _ = rx.wait_for(|s| *s == ConnectionState::Closed).await;
            }
        }
    }

    /// True once the background task has ended (after [`close`](Self::close),
    /// a failed [`connect`](Self::connect), or when every handle and the
    /// event stream were dropped).
    pub fn is_closed(&self) -> bool {
        match self.shared.driver.lock() {
            Ok(d) => d.as_ref().is_none_or(|h| h.is_finished()),
            Err(_) => true,
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.shared.name)
            .field("action_id_prefix", &self.shared.prefix)
            .field("state", &*self.shared.state.borrow())
            .finish()
    }
}
