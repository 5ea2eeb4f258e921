//! One connection of the fake server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ami_proto::bytes::{Bytes, BytesMut};
use ami_proto::{AmiCodec, Frame, Message, encode_banner};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::reply::{Reply, event, response, with_action_id};
use super::{Inner, LoginRecord, ReceivedAction, SessionTx, lock};

/// A command to one connection.
#[derive(Debug)]
pub(crate) enum SessionCmd {
    Write(Bytes),
    WriteThenClose(Bytes),
    Stall,
    Resume,
    Close,
}

/// What the server keeps about a connection.
pub(crate) struct SessionHandle {
    pub(crate) tx: SessionTx,
    pub(crate) logged_in: Arc<AtomicBool>,
    pub(crate) task: JoinHandle<()>,
}

pub(crate) fn spawn(inner: Arc<Inner>, stream: TcpStream, id: u64) {
    let (tx, rx) = mpsc::unbounded_channel();
    let logged_in = Arc::new(AtomicBool::new(false));
    let _ = stream.set_nodelay(true);
    // Register before the task can finish and unregister itself.
    let mut sessions = lock(&inner.sessions);
    let task = tokio::spawn(serve(inner.clone(), stream, id, rx, logged_in.clone()));
    sessions.insert(
        id,
        SessionHandle {
            tx,
            logged_in,
            task,
        },
    );
}

type CmdRx = mpsc::UnboundedReceiver<(SessionCmd, Option<oneshot::Sender<()>>)>;

/// Runs a connection, after the TLS handshake if the server has TLS.
async fn serve(
    inner: Arc<Inner>,
    stream: TcpStream,
    id: u64,
    rx: CmdRx,
    logged_in: Arc<AtomicBool>,
) {
    #[cfg(feature = "tls")]
    if let Some(acceptor) = inner.tls.clone() {
        if let Ok(tls) = acceptor.accept(stream).await {
            run(inner.clone(), tls, id, rx, logged_in).await;
        }
        lock(&inner.sessions).remove(&id);
        inner.changed();
        return;
    }
    run(inner.clone(), stream, id, rx, logged_in).await;
    lock(&inner.sessions).remove(&id);
    inner.changed();
}

struct State {
    id: u64,
    logged_in: Arc<AtomicBool>,
    challenge: Option<String>,
}

/// What handling one action asks for besides the bytes.
enum After {
    Nothing,
    Close,
    CloseLater(Duration),
}

async fn run<S>(inner: Arc<Inner>, stream: S, id: u64, mut rx: CmdRx, logged_in: Arc<AtomicBool>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut state = State {
        id,
        logged_in,
        challenge: None,
    };
    let mut banner = BytesMut::new();
    encode_banner("Asterisk Call Manager", &inner.version, &mut banner);
    let mut ok = wr.write_all(&banner).await.is_ok();
    let mut codec = AmiCodec::without_banner();
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut stalled = false;
    let mut held: Vec<Bytes> = Vec::new();
    let mut close_at: Option<Instant> = None;
    while ok {
        let close_sleep = async {
            match close_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            cmd = rx.recv() => {
                let Some((cmd, ack)) = cmd else { break };
                let mut stop = false;
                match cmd {
                    SessionCmd::Write(b) => {
                        if stalled {
                            held.push(b);
                        } else {
                            ok = wr.write_all(&b).await.is_ok();
                        }
                    }
                    SessionCmd::WriteThenClose(b) => {
                        let _ = wr.write_all(&b).await;
                        stop = true;
                    }
                    SessionCmd::Stall => stalled = true,
                    SessionCmd::Resume => {
                        stalled = false;
                        for b in held.drain(..) {
                            ok = ok && wr.write_all(&b).await.is_ok();
                        }
                    }
                    SessionCmd::Close => stop = true,
                }
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
                if stop {
                    break;
                }
            }
            () = close_sleep => break,
            r = rd.read_buf(&mut inbuf), if !stalled => {
                match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let mut out = BytesMut::new();
                let mut after = After::Nothing;
                while let Some(frame) = codec.decode_frame(&mut inbuf) {
                    let Frame::Message(action) = frame else { continue };
                    match handle(&inner, &mut state, &action, &mut out) {
                        After::Nothing => {}
                        a => {
                            after = a;
                            break;
                        }
                    }
                }
                if !out.is_empty() {
                    ok = wr.write_all(&out).await.is_ok();
                }
                match after {
                    After::Nothing => {}
                    After::Close => break,
                    After::CloseLater(d) => {
                        // Like Asterisk: stop serving, close a bit later.
                        close_at = Some(Instant::now() + d);
                        stalled = true;
                    }
                }
            }
        }
    }
    let _ = wr.shutdown().await;
}

fn record(inner: &Inner, state: &State, action: &Message) {
    lock(&inner.actions).push(ReceivedAction {
        session: state.id,
        at: Instant::now(),
        message: action.clone(),
    });
}

fn push(out: &mut BytesMut, m: &Message, id: Option<&[u8]>) {
    let _ = with_action_id(m, id).encode(out);
}

/// Answers one action into `out`.
fn handle(inner: &Inner, state: &mut State, action: &Message, out: &mut BytesMut) -> After {
    record(inner, state, action);
    let id = action.action_id().map(|v| v.as_bytes().to_vec());
    let id = id.as_deref();
    let name = action
        .action_name()
        .map(|v| v.to_str().to_ascii_lowercase())
        .unwrap_or_default();

    let handler = lock(&inner.handler).clone();
    let mut reply = handler.map_or(Reply::Default, |h| h(action));
    if matches!(reply, Reply::Default)
        && let Some(r) = lock(&inner.replies).get(&name)
    {
        reply = r.clone();
    }
    let result = match reply {
        Reply::Default => builtin(inner, state, &name, action, id, out),
        Reply::Ignore => After::Nothing,
        Reply::Messages(ms) => {
            for m in &ms {
                push(out, m, id);
            }
            After::Nothing
        }
        Reply::MessagesThenClose(ms) => {
            for m in &ms {
                push(out, m, id);
            }
            After::Close
        }
        Reply::Close => After::Close,
    };
    inner.changed();
    result
}

fn now_timestamp() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

fn builtin(
    inner: &Inner,
    state: &mut State,
    name: &str,
    action: &Message,
    id: Option<&[u8]>,
    out: &mut BytesMut,
) -> After {
    let get = |k: &str| action.get(k).map(|v| v.to_str().into_owned());
    let error =
        |out: &mut BytesMut, msg: &str| push(out, &response("Error", &[("Message", msg)]), id);
    let logged_in = state.logged_in.load(Ordering::SeqCst);
    match name {
        "logoff" => {
            push(
                out,
                &response("Goodbye", &[("Message", "Thanks for all the fish.")]),
                id,
            );
            After::Close
        }
        "challenge" => {
            let md5 = get("AuthType").is_some_and(|t| t.eq_ignore_ascii_case("md5"));
            if !inner.md5 || !md5 {
                error(out, "Must specify AuthType");
            } else {
                let challenge = (crate::backoff::random_seed() % 1_000_000_000).to_string();
                push(out, &response("Success", &[("Challenge", &challenge)]), id);
                state.challenge = Some(challenge);
            }
            After::Nothing
        }
        "login" => {
            if logged_in {
                push(
                    out,
                    &response("Success", &[("Message", "Already authenticated")]),
                    id,
                );
                return After::Nothing;
            }
            let username = get("Username").unwrap_or_default();
            let md5 = get("AuthType").is_some_and(|t| t.eq_ignore_ascii_case("md5"));
            let user = inner
                .users
                .iter()
                .find(|(u, _)| !username.is_empty() && u.eq_ignore_ascii_case(&username));
            let accepted = match user {
                None => false,
                Some((_, secret)) if md5 => match (&state.challenge, get("Key")) {
                    (Some(c), Some(key)) => key == crate::md5_login_key(c, secret),
                    _ => false,
                },
                Some((_, secret)) => get("Secret").is_some_and(|s| &s == secret),
            };
            lock(&inner.logins).push(LoginRecord {
                session: state.id,
                username,
                md5,
                accepted,
                events: get("Events"),
            });
            if !accepted {
                error(out, "Authentication failed");
                return After::CloseLater(inner.auth_fail_close_delay);
            }
            state.logged_in.store(true, Ordering::SeqCst);
            push(
                out,
                &response("Success", &[("Message", "Authentication accepted")]),
                id,
            );
            let uptime = if inner.fresh_boot.swap(false, Ordering::SeqCst) {
                0
            } else {
                lock(&inner.booted_at).elapsed().as_secs()
            }
            .to_string();
            push(
                out,
                &event(
                    "FullyBooted",
                    &[
                        ("Privilege", "system,all"),
                        ("Uptime", &uptime),
                        ("LastReload", &uptime),
                        ("Status", "Fully Booted"),
                    ],
                ),
                None,
            );
            for e in &inner.login_events {
                push(out, e, None);
            }
            After::Nothing
        }
        _ if !logged_in => {
            error(out, "Permission denied");
            After::Nothing
        }
        "ping" => {
            let ts = now_timestamp();
            push(
                out,
                &response("Success", &[("Ping", "Pong"), ("Timestamp", &ts)]),
                id,
            );
            After::Nothing
        }
        "events" => match get("EventMask") {
            None => {
                error(out, "Invalid event mask");
                After::Nothing
            }
            Some(mask) => {
                let off = ["off", "no", "false", "0"]
                    .iter()
                    .any(|w| mask.eq_ignore_ascii_case(w));
                let v = if off { "Off" } else { "On" };
                push(out, &response("Success", &[("Events", v)]), id);
                After::Nothing
            }
        },
        "filter" => {
            let op = get("Operation").unwrap_or_default();
            if !op.eq_ignore_ascii_case("add") {
                error(out, "Unknown operation");
            } else {
                push(out, &response("Success", &[("Message", "Success")]), id);
            }
            After::Nothing
        }
        other => {
            let shown = action
                .action_name()
                .map(|v| v.to_str().into_owned())
                .unwrap_or_else(|| other.to_owned());
            if shown.is_empty() {
                error(out, "Missing action in request");
            } else {
                error(
                    out,
                    &format!(
                        "Invalid/unknown command: {shown}. Use Action: ListCommands to show available commands."
                    ),
                );
            }
            After::Nothing
        }
    }
}
