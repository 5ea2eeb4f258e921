//! One logged-in session: a hand-written poll loop that multiplexes caller
//! commands, socket reads and writes, and the keepalive timers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ami_proto::bytes::{Buf, BytesMut};
use ami_proto::{Action, Frame, Message, MessageKind};
use tokio::io::{AsyncReadExt, AsyncWrite};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};
use tracing::{debug, trace, warn};

use super::login::{Conn, READ_CHUNK};
use super::{Command, Driver, Reply, ReplyResult, Request, SessionEnd};
use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::state::DisconnectReason;

/// Reads per poll before yielding to other tasks.
const READ_BUDGET: usize = 16;
/// Commands taken per poll before doing I/O.
const COMMAND_BUDGET: usize = 1024;
/// "Never" for a disabled keepalive.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365);

/// What a pending ActionID is waiting for.
enum Kind {
    /// A plain action.
    Single,
    /// An event-list action: the response, then items until `Complete`.
    List {
        response: Option<Message>,
        items: Vec<Message>,
    },
    /// Our keepalive `Ping`.
    Keepalive,
    /// Our `Logoff` (from `close()`).
    Logoff,
}

/// What to remember when the server accepts an action.
enum Remember {
    Nothing,
    EventMask(String),
    Filter(Action),
}

struct Pending {
    kind: Kind,
    remember: Remember,
    /// Position of the action's first byte in the session's output.
    offset: u64,
    reply: Option<oneshot::Sender<ReplyResult>>,
}

impl Pending {
    fn answer(&mut self, result: ReplyResult) {
        if let Some(tx) = self.reply.take() {
            let _ = tx.send(result);
        }
    }
}

pub(crate) struct Session {
    conn: Conn,
    out: BytesMut,
    /// Total bytes handed to the socket.
    written: u64,
    /// Total bytes ever put in `out`.
    queued: u64,
    needs_flush: bool,
    pending: HashMap<u64, Pending>,
    sweep_at: usize,
    batch: Vec<Message>,
    keepalive: Option<(Duration, Duration)>,
    next_ping: Pin<Box<Sleep>>,
    ping_deadline: Option<Pin<Box<Sleep>>>,
    close_deadline: Option<Pin<Box<Sleep>>>,
    close_timeout: Duration,
    end: Option<SessionEnd>,
}

impl Session {
    pub(crate) fn new(conn: Conn, config: &ClientConfig) -> Session {
        let first_ping = config.keepalive.map_or(FAR_FUTURE, |(i, _)| i);
        Session {
            conn,
            out: BytesMut::with_capacity(16 * 1024),
            written: 0,
            queued: 0,
            needs_flush: false,
            pending: HashMap::new(),
            sweep_at: 1024,
            batch: Vec::with_capacity(256),
            keepalive: config.keepalive,
            next_ping: Box::pin(tokio::time::sleep(first_ping)),
            ping_deadline: None,
            close_deadline: None,
            close_timeout: config.close_timeout,
            end: None,
        }
    }

    pub(crate) async fn run(mut self, driver: &mut Driver) -> SessionEnd {
        // Whatever arrived together with the login reply is already buffered.
        while self.end.is_none() {
            let Some(frame) = self.conn.codec.decode_frame(&mut self.conn.inbuf) else {
                break;
            };
            self.dispatch(driver, frame);
        }
        driver.queue.push_events(&mut self.batch);
        for req in std::mem::take(&mut driver.waiting) {
            self.submit(req);
        }
        let end = std::future::poll_fn(|cx| self.poll(driver, cx)).await;
        // Events read before the end are delivered.
        driver.queue.push_events(&mut self.batch);
        self.fail_all(&end);
        end
    }

    /// Appends an action to the output; returns its offset.
    fn encode(&mut self, action: &Action) -> Result<u64, ClientError> {
        let before = self.out.len();
        action.encode(&mut self.out)?;
        let offset = self.queued;
        self.queued += (self.out.len() - before) as u64;
        Ok(offset)
    }

    /// Encodes a caller's action and registers it.
    fn submit(&mut self, req: Request) {
        if req.reply.is_closed() {
            return; // The caller gave up (timeout) before we got to it.
        }
        if self.close_deadline.is_some() {
            let _ = req.reply.send(Err(ClientError::Closed));
            return;
        }
        let name = req.action.name();
        let remember = if name.eq_ignore_ascii_case("Events") {
            req.action
                .get("EventMask")
                .map_or(Remember::Nothing, |m| Remember::EventMask(m.to_owned()))
        } else if name.eq_ignore_ascii_case("Filter")
            && req
                .action
                .get("Operation")
                .is_none_or(|o| o.eq_ignore_ascii_case("Add"))
        {
            Remember::Filter(req.action.clone())
        } else {
            Remember::Nothing
        };
        let offset = match self.encode(&req.action) {
            Ok(o) => o,
            Err(e) => {
                let _ = req.reply.send(Err(e));
                return;
            }
        };
        trace!(action = ?req.action, "sending");
        let kind = if req.list {
            Kind::List {
                response: None,
                items: Vec::new(),
            }
        } else {
            Kind::Single
        };
        self.pending.insert(
            req.id,
            Pending {
                kind,
                remember,
                offset,
                reply: Some(req.reply),
            },
        );
        if self.pending.len() >= self.sweep_at {
            self.sweep();
        }
    }

    /// Forgets actions whose callers gave up.
    fn sweep(&mut self) {
        self.pending.retain(|_, p| match &p.reply {
            Some(r) => !r.is_closed(),
            None => matches!(p.kind, Kind::Keepalive | Kind::Logoff),
        });
        self.sweep_at = (self.pending.len() * 2).max(1024);
    }

    /// Queues an action of our own (keepalive, logoff).
    fn submit_internal(&mut self, driver: &Driver, action: Action, kind: Kind) {
        let id = driver
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let action = action.with_action_id(format!("{}{id}", driver.prefix));
        if let Ok(offset) = self.encode(&action) {
            self.pending.insert(
                id,
                Pending {
                    kind,
                    remember: Remember::Nothing,
                    offset,
                    reply: None,
                },
            );
        }
    }

    /// Starts a graceful close: Logoff, then wait for Goodbye or EOF.
    fn start_close(&mut self, driver: &Driver) {
        if self.close_deadline.is_none() {
            debug!("logging off");
            self.submit_internal(driver, Action::logoff(), Kind::Logoff);
            self.close_deadline = Some(Box::pin(tokio::time::sleep(self.close_timeout)));
        }
    }

    fn fail_all(&mut self, end: &SessionEnd) {
        let written = self.written;
        for (_, mut p) in self.pending.drain() {
            let err = match end {
                SessionEnd::Closed => ClientError::Closed,
                SessionEnd::Lost(_) => ClientError::ConnectionLost {
                    written: p.offset < written,
                },
            };
            p.answer(Err(err));
        }
    }

    fn lost(&mut self, driver: &Driver, reason: DisconnectReason) -> SessionEnd {
        if self.close_deadline.is_some() || driver.rx_closed {
            // We were leaving anyway: the server hung up after Goodbye.
            SessionEnd::Closed
        } else {
            SessionEnd::Lost(reason)
        }
    }

    fn poll(&mut self, driver: &mut Driver, cx: &mut Context<'_>) -> Poll<SessionEnd> {
        loop {
            let mut progress = false;

            // 1. Commands from the handles.
            let mut budget = COMMAND_BUDGET;
            while !driver.rx_closed && budget > 0 {
                match driver.rx.poll_recv(cx) {
                    Poll::Ready(Some(Command::Send(req))) => self.submit(req),
                    Poll::Ready(Some(Command::Close)) => self.start_close(driver),
                    Poll::Ready(None) => {
                        driver.rx_closed = true;
                        self.start_close(driver);
                    }
                    Poll::Pending => break,
                }
                budget -= 1;
                progress = true;
            }

            // 2. Write what is buffered.
            while !self.out.is_empty() {
                match Pin::new(&mut self.conn.io).poll_write(cx, &self.out) {
                    Poll::Ready(Ok(0)) => {
                        let reason = DisconnectReason::Io("socket accepted no bytes".into());
                        return Poll::Ready(self.lost(driver, reason));
                    }
                    Poll::Ready(Ok(n)) => {
                        self.out.advance(n);
                        self.written += n as u64;
                        self.needs_flush = true;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(self.lost(driver, DisconnectReason::Io(e.to_string())));
                    }
                    Poll::Pending => break,
                }
            }
            if self.out.is_empty() && self.needs_flush {
                match Pin::new(&mut self.conn.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.needs_flush = false,
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(self.lost(driver, DisconnectReason::Io(e.to_string())));
                    }
                    Poll::Pending => {}
                }
            }

            // 3. Read and dispatch.
            let mut reads = 0;
            let mut eof = false;
            while reads < READ_BUDGET && self.end.is_none() {
                self.conn.inbuf.reserve(READ_CHUNK);
                let read = {
                    let fut = self.conn.io.read_buf(&mut self.conn.inbuf);
                    let fut = std::pin::pin!(fut);
                    fut.poll(cx)
                };
                match read {
                    Poll::Ready(Ok(0)) => {
                        eof = true;
                        break;
                    }
                    Poll::Ready(Ok(_)) => {
                        reads += 1;
                        progress = true;
                        while let Some(frame) = self.conn.codec.decode_frame(&mut self.conn.inbuf) {
                            self.dispatch(driver, frame);
                            if self.end.is_some() {
                                break;
                            }
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        driver.queue.push_events(&mut self.batch);
                        return Poll::Ready(self.lost(driver, DisconnectReason::Io(e.to_string())));
                    }
                    Poll::Pending => break,
                }
            }
            driver.queue.push_events(&mut self.batch);
            if let Some(end) = self.end.take() {
                return Poll::Ready(end);
            }
            if eof {
                if let Some(Frame::Skipped(e)) =
                    self.conn.codec.decode_frame_eof(&mut self.conn.inbuf)
                {
                    debug!(error = %e, "connection closed inside a message");
                }
                return Poll::Ready(self.lost(driver, DisconnectReason::ClosedByServer));
            }

            // 4. Timers.
            if let Some(d) = &mut self.close_deadline
                && d.as_mut().poll(cx).is_ready()
            {
                debug!("no Goodbye within the close timeout");
                return Poll::Ready(SessionEnd::Closed);
            }
            if self.next_ping.as_mut().poll(cx).is_ready() {
                let (interval, deadline) = self.keepalive.unwrap_or((FAR_FUTURE, FAR_FUTURE));
                self.next_ping.as_mut().reset(Instant::now() + interval);
                if self.keepalive.is_some() {
                    if self.ping_deadline.is_none() {
                        self.ping_deadline = Some(Box::pin(tokio::time::sleep(deadline)));
                    }
                    trace!("keepalive ping");
                    self.submit_internal(driver, Action::ping(), Kind::Keepalive);
                    self.sweep();
                }
                progress = true;
            }
            if let Some(d) = &mut self.ping_deadline
                && d.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(self.lost(driver, DisconnectReason::KeepaliveTimeout));
            }

            if reads >= READ_BUDGET {
                // More may be waiting; let other tasks (the consumer) run.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Handles one decoded frame.
    fn dispatch(&mut self, driver: &mut Driver, frame: Frame) {
        let m = match frame {
            Frame::Message(m) => m,
            Frame::Skipped(e) => {
                warn!(error = %e, "skipped a message from the server");
                return;
            }
            Frame::Banner(_) => return,
            _ => return,
        };
        match m.kind() {
            MessageKind::Response => self.on_response(driver, m),
            MessageKind::Event => self.on_event(driver, m),
            _ => debug!(message = ?m, "ignoring a message that is neither response nor event"),
        }
    }

    fn our_id(driver: &Driver, m: &Message) -> Option<u64> {
        let v = m.action_id()?;
        let rest = v.as_bytes().strip_prefix(driver.prefix.as_bytes())?;
        if rest.is_empty() || rest.len() > 20 || !rest.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(rest).ok()?.parse().ok()
    }

    fn on_response(&mut self, driver: &mut Driver, m: Message) {
        let Some(id) = Self::our_id(driver, &m) else {
            debug!(response = ?m, "response to no action of ours");
            return;
        };
        let Some(p) = self.pending.get_mut(&id) else {
            debug!(id, "late response (the caller gave up)");
            return;
        };
        let success = m.response().is_some_and(|r| r.eq_ignore_case("Success"));
        let goodbye = m.response().is_some_and(|r| r.eq_ignore_case("Goodbye"));
        match &mut p.kind {
            Kind::List { response, .. } if success && m.is_list_start() => {
                *response = Some(m);
                return; // Items follow.
            }
            Kind::Keepalive => {
                self.pending.remove(&id);
                self.ping_deadline = None;
                return;
            }
            Kind::Logoff => {
                self.pending.remove(&id);
                debug!("Goodbye");
                self.end = Some(SessionEnd::Closed);
                return;
            }
            _ => {}
        }
        let Some(mut p) = self.pending.remove(&id) else {
            return;
        };
        if success || goodbye {
            match std::mem::replace(&mut p.remember, Remember::Nothing) {
                Remember::EventMask(mask) => driver.events_mask = mask,
                Remember::Filter(mut f) => {
                    f.set_action_id(String::new());
                    driver.filters.push(f);
                }
                Remember::Nothing => {}
            }
            p.answer(Ok(Reply {
                response: m,
                items: Vec::new(),
                complete: None,
            }));
        } else {
            p.answer(Err(ClientError::server_error(m)));
        }
    }

    fn on_event(&mut self, driver: &mut Driver, m: Message) {
        if let Some(id) = Self::our_id(driver, &m)
            && let Some(p) = self.pending.get_mut(&id)
            && let Kind::List { response, items } = &mut p.kind
            && response.is_some()
        {
            // Lists before Asterisk 13.2 may end with a
            // `…Complete` event that lacks `EventList: Complete`.
            let legacy_end = m.get("EventList").is_none()
                && m.event_name()
                    .is_some_and(|n| n.as_bytes().ends_with(b"Complete"));
            if m.is_list_complete() || legacy_end {
                if let Some(mut p) = self.pending.remove(&id)
                    && let Kind::List { response, items } = &mut p.kind
                {
                    let reply = Reply {
                        response: response.take().unwrap_or_else(|| m.clone()),
                        items: std::mem::take(items),
                        complete: Some(m),
                    };
                    p.answer(Ok(reply));
                }
            } else {
                items.push(m);
            }
            return;
        }
        if m.is_event("Shutdown") {
            let restart = m.get("Restart").is_some_and(|v| v.eq_ignore_case("True"));
            warn!(restart, "Asterisk is shutting down");
            self.batch.push(m);
            if self.close_deadline.is_none() {
                self.end = Some(SessionEnd::Lost(DisconnectReason::Shutdown { restart }));
            } else {
                self.end = Some(SessionEnd::Closed);
            }
            return;
        }
        self.batch.push(m);
    }
}
