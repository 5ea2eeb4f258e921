//! Live notifications: payload shapes from real store changes, JSON Lines,
//! fan-out, and the webhook against a tiny local HTTP server (signature,
//! retries on 500, drop-oldest when a dead webhook backs up).

mod store_support;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bigchat_voice::model::{CallStatus, Effect};
use bigchat_voice::notify::{
    ID_HEADER, JsonLinesSink, MAX_BATCH_BYTES, MAX_CLOCK_SKEW, MemorySink, Notification, Notifier,
    SIGNATURE_HEADER, Sink, TIMESTAMP_HEADER, VerifyError, WebhookConfig, WebhookSink, sign,
    verify,
};
use bigchat_voice::store::{AnyStore, AsteriskStatus, Store};
use serde_json::{Value, json};
use store_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

// ------------------------------------------------------- tiny HTTP server --

#[derive(Debug, Clone)]
struct Request {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

struct Server {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    /// Responses are held while false.
    gate: watch::Sender<bool>,
}

impl Server {
    /// `script`: statuses to answer, in order; 200 once used up.
    async fn start(script: &[u16]) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/bigchat/hook", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (gate, gate_rx) = watch::channel(true);
        let (reqs, scr) = (Arc::clone(&requests), Arc::clone(&script));
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (reqs, scr, mut gate) = (Arc::clone(&reqs), Arc::clone(&scr), gate_rx.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        // Head.
                        let head_end = loop {
                            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break p + 4;
                            }
                            let mut chunk = [0u8; 4096];
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                        let headers: HashMap<String, String> = head
                            .lines()
                            .skip(1)
                            .filter_map(|l| l.split_once(':'))
                            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                            .collect();
                        let len: usize = headers
                            .get("content-length")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        while buf.len() < head_end + len {
                            let mut chunk = [0u8; 4096];
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body = buf[head_end..head_end + len].to_vec();
                        buf.drain(..head_end + len);
                        reqs.lock().unwrap().push(Request { headers, body });
                        let _ = gate.wait_for(|open| *open).await;
                        let status = scr.lock().unwrap().pop_front().unwrap_or(200);
                        let resp = format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"
                        );
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Server {
            url,
            requests,
            gate,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn bodies(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

fn config(url: &str) -> WebhookConfig {
    WebhookConfig {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        request_timeout: Duration::from_secs(2),
        ..WebhookConfig::new(url, "s3cr3t")
    }
}

fn note(i: usize) -> Notification {
    Notification::new(
        "company-1-call",
        vec!["company-1-mainchannel".into()],
        json!({ "action": "ringing", "call": { "id": i } }),
    )
}

// ----------------------------------------------------------------- tests --

#[tokio::test]
async fn payloads_follow_bigchat_rooms_and_shapes() {
    let store = AnyStore::connect("sqlite::memory:").await.unwrap();
    let ast = store
        .ensure_asterisk("pbx", "10.0.0.5", 5038, "u", 3)
        .await
        .unwrap();
    let sink = Arc::new(MemorySink::new());
    let notifier = Notifier::new().with_sink(sink.clone());

    let c = inbound("1700000001.1", "+5511999990001", 0);
    let a = answered(&c, 5, "1001", 7);
    let e = ended(&a, CallStatus::Completed, 65);
    for effect in [
        Effect::CallStarted(c.clone()),
        Effect::CallUpdated(a),
        Effect::CallEnded(e.clone()),
    ] {
        let applied = store.apply(ast, 3, &effect).await.unwrap();
        notifier.publish_applied(3, &applied);
    }
    // A replay changes nothing and publishes nothing.
    let again = store.apply(ast, 3, &Effect::CallEnded(e)).await.unwrap();
    notifier.publish_applied(3, &again);

    let got = sink.take();
    let summary: Vec<(String, String)> = got
        .iter()
        .map(|n| {
            (
                n.event.clone(),
                n.payload["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = [
        ("company-3-call", "ringing"),
        ("company-3-ticket", "update"),
        ("company-3-call", "answered"),
        // Answered by user 7: the ticket leaves the pending lists…
        ("company-3-ticket", "delete"),
        ("company-3-ticket", "update"),
        ("company-3-call", "completed"),
        ("company-3-ticket", "update"),
        ("company-3-appMessage", "create"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(r, a)| (r.to_string(), a.to_string()))
        .collect();
    assert_eq!(summary, expect);

    // …as BigChat's UpdateTicketService says it: to the old status room.
    assert_eq!(got[3].rooms, vec!["company-3-pending".to_string()]);
    assert_eq!(got[3].payload["ticketId"], got[4].payload["ticket"]["id"]);
    let call = &got[5].payload["call"];
    assert_eq!(call["uniqueId"], "1700000001.1");
    assert_eq!(call["status"], "completed");
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["duration"], 65);
    assert_eq!(call["talkTime"], 60);
    assert_eq!(call["userId"], 7);
    assert_eq!(call["companyId"], 3);
    assert_eq!(call["asteriskId"], ast);
    assert!(
        call["startedAt"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-24T10:00:00")
    );
    let ticket = &got[6].payload["ticket"];
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["lastMessage"], "Call ended 1:05");
    assert_eq!(ticket["callType"], "inbound");
    assert_eq!(ticket["userId"], 7);
    // Every ticket update carries its contact, as BigChat's do (the
    // screens show `ticket.contact.name`).
    let updates = || {
        got.iter()
            .filter(|n| n.event == "company-3-ticket" && n.payload["action"] == "update")
    };
    for n in updates() {
        let contact = &n.payload["ticket"]["contact"];
        assert_eq!(contact["id"], n.payload["ticket"]["contactId"], "{n:?}");
        assert!(contact["name"].is_string(), "{n:?}");
        assert!(contact["number"].is_string(), "{n:?}");
    }
    // The rooms BigChat's own ticket updates go to (no queue here), and
    // the call's: the company's main channel, the ticket's, the agent's.
    let ticket_id = ticket["id"].to_string();
    assert_eq!(
        got[6].rooms,
        vec![
            "company-3-open".to_string(),
            "company-3-notification".into(),
            ticket_id.clone(),
            "user-7".into()
        ]
    );
    assert_eq!(got[5].rooms[0], "company-3-mainchannel");
    for room in [ticket_id.as_str(), "user-7", "company-3-open"] {
        assert!(got[5].rooms.iter().any(|r| r == room), "{:?}", got[5].rooms);
    }
    // Every ticket update names the status room of the status it has.
    for n in updates() {
        let status = n.payload["ticket"]["status"].as_str().unwrap();
        assert_eq!(n.rooms[0], format!("company-3-{status}"));
    }

    let row = store
        .set_asterisk_status(ast, AsteriskStatus::Connected)
        .await
        .unwrap();
    notifier.publish_asterisk(3, &row);
    let n = sink.take().pop().unwrap();
    assert_eq!(n.event, "company-3-asterisk");
    assert_eq!(n.rooms, vec!["company-3-mainchannel".to_string()]);
    assert_eq!(n.payload["action"], "update");
    assert_eq!(n.payload["asterisk"]["status"], "CONNECTED");
    assert_eq!(n.payload["asterisk"]["protocol"], "ami");
    assert!(
        n.payload["asterisk"].get("password").is_none(),
        "never the secret"
    );
}

#[tokio::test]
async fn json_lines_file_and_fan_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let file = Arc::new(JsonLinesSink::file(&path).unwrap());
    let memory = Arc::new(MemorySink::new());
    let mut notifier = Notifier::new();
    notifier.add_sink(file.clone());
    notifier.add_sink(memory.clone());
    assert_eq!(notifier.len(), 2);
    for i in 0..3 {
        notifier.publish(&note(i));
    }
    assert!(file.flush(Duration::from_secs(5)));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    for (i, line) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["event"], "company-1-call");
        assert_eq!(v["rooms"], json!(["company-1-mainchannel"]));
        assert_eq!(v["payload"]["call"]["id"], i);
    }
    assert_eq!(memory.notifications().len(), 3);
    // Appends, never truncates.
    let again = JsonLinesSink::file(&path).unwrap();
    again.publish(&note(9));
    assert!(again.flush(Duration::from_secs(5)));
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 4);
}

/// logrotate moves the file away and the daemon gets SIGHUP: lines already
/// queued go to the moved file, later ones to a new file at the path.
#[tokio::test]
async fn json_lines_file_reopens_after_logrotate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let rotated = dir.path().join("events.jsonl.1");
    let sink = JsonLinesSink::file(&path).unwrap();
    sink.publish(&note(0));
    sink.publish(&note(1));
    assert!(sink.flush(Duration::from_secs(5)));
    std::fs::rename(&path, &rotated).unwrap();
    sink.publish(&note(2)); // still the moved file: not reopened yet
    sink.reopen().unwrap();
    sink.publish(&note(3));
    sink.publish(&note(4));
    assert!(sink.flush(Duration::from_secs(5)));
    let ids = |p: &std::path::Path| -> Vec<i64> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["payload"]["call"]["id"]
                    .as_i64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(ids(&rotated), [0, 1, 2]);
    assert_eq!(ids(&path), [3, 4]);
    // A reopen with nothing after it does not hold up the flush at exit,
    // and two in a row each take their lines to their own file.
    sink.reopen().unwrap();
    let started = std::time::Instant::now();
    assert!(sink.flush(Duration::from_secs(5)));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let second = dir.path().join("events.jsonl.2");
    std::fs::rename(&path, &second).unwrap();
    sink.reopen().unwrap();
    sink.publish(&note(5));
    assert!(sink.flush(Duration::from_secs(5)));
    assert_eq!(ids(&second), [3, 4]);
    assert_eq!(ids(&path), [5]);
    // Not a file: nothing to reopen.
    assert!(JsonLinesSink::stdout().reopen().is_ok());
}

/// A reader that does not read (a full pipe): publishing never waits; the
/// queue keeps the newest lines and counts the dropped ones; once the
/// reader resumes, everything kept is written in order.
#[tokio::test]
async fn json_lines_never_waits_for_a_stuck_reader() {
    struct Stuck {
        gate: std::sync::mpsc::Receiver<()>,
        open: bool,
        out: Arc<std::sync::Mutex<Vec<u8>>>,
    }
    impl std::io::Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if !self.open {
                let _ = self.gate.recv();
                self.open = true;
            }
            self.out.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (open, gate) = std::sync::mpsc::channel();
    let written = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stuck = Stuck {
        gate,
        open: false,
        out: written.clone(),
    };
    let sink = JsonLinesSink::with_capacity(Box::new(stuck), "stuck pipe", 100);
    let started = std::time::Instant::now();
    for i in 0..1_000 {
        sink.publish(&note(i));
    }
    assert!(started.elapsed() < Duration::from_secs(5), "publish waited");
    assert!(
        !sink.flush(Duration::from_millis(50)),
        "nothing can be written yet"
    );
    open.send(()).unwrap();
    assert!(sink.flush(Duration::from_secs(5)));
    let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
    let ids: Vec<i64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["payload"]["call"]["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    // 100 queued lines, plus the one the writer may have taken before it
    // got stuck; the rest were dropped, oldest first.
    assert!((100..=101).contains(&ids.len()), "{}", ids.len());
    assert_eq!(sink.dropped(), 1_000 - ids.len() as u64);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(
        ids[ids.len() - 100..],
        (900..1_000).collect::<Vec<i64>>()[..]
    );
}

#[tokio::test]
async fn webhook_posts_signed_json() {
    let server = Server::start(&[]).await;
    let sink = WebhookSink::spawn(config(&server.url)).unwrap();
    sink.publish(&note(1));
    assert!(sink.flush(Duration::from_secs(5)).await);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.headers["content-type"], "application/json");
    let ts: i64 = r.headers[&TIMESTAMP_HEADER.to_ascii_lowercase()]
        .parse()
        .unwrap();
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
    let id = &r.headers[&ID_HEADER.to_ascii_lowercase()];
    let expected = sign(b"s3cr3t", ts, id, &r.body);
    let signature = &r.headers[&SIGNATURE_HEADER.to_ascii_lowercase()];
    assert_eq!(signature, &expected);
    assert!(expected.starts_with("sha256=") && expected.len() == 7 + 64);
    // Independent check of the HMAC, over "{timestamp}.{id}.{body}", with
    // the hmac crate.
    {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cr3t").unwrap();
        mac.update(format!("{ts}.{id}.").as_bytes());
        mac.update(&r.body);
        let hex_sig = expected.trim_start_matches("sha256=");
        mac.verify_slice(&hex::decode(hex_sig).unwrap())
            .expect("signature verifies");
    }
    assert_eq!(id.len(), 32, "{id}");
    // What a receiver checks: the signature, and the clock window.
    let now = chrono::Utc::now().timestamp();
    let ts_text = ts.to_string();
    assert_eq!(
        verify(b"s3cr3t", &ts_text, id, signature, &r.body, now),
        Ok(())
    );
    assert_eq!(
        verify(b"other", &ts_text, id, signature, &r.body, now),
        Err(VerifyError::BadSignature)
    );
    // The same body replayed with another timestamp does not verify…
    let later = (ts + 3600).to_string();
    assert_eq!(
        verify(b"s3cr3t", &later, id, signature, &r.body, now + 3600),
        Err(VerifyError::BadSignature)
    );
    // …and the genuine request is refused once out of the window.
    let skew = MAX_CLOCK_SKEW.as_secs() as i64 + 1;
    assert_eq!(
        verify(b"s3cr3t", &ts_text, id, signature, &r.body, ts + skew),
        Err(VerifyError::Stale { skew_secs: skew })
    );
    let mut tampered = r.body.clone();
    tampered[0] ^= 1;
    assert_eq!(
        verify(b"s3cr3t", &ts_text, id, signature, &tampered, now),
        Err(VerifyError::BadSignature)
    );
    assert!(matches!(
        verify(b"s3cr3t", "soon", id, signature, &r.body, now),
        Err(VerifyError::Malformed(_))
    ));
    // The id is signed: the same request under another id does not verify.
    let other_id = "0".repeat(32);
    assert_eq!(
        verify(b"s3cr3t", &ts_text, &other_id, signature, &r.body, now),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        verify(b"s3cr3t", &ts_text, "a b", signature, &r.body, now),
        Err(VerifyError::Malformed(ID_HEADER))
    );
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        json!({
            "event": "company-1-call",
            "rooms": ["company-1-mainchannel"],
            "payload": note(1).payload
        })
    );
    assert_eq!(sink.stats().sent, 1);
}

#[tokio::test]
async fn webhook_retries_on_500_then_delivers() {
    let server = Server::start(&[500, 503]).await;
    let sink = WebhookSink::spawn(config(&server.url)).unwrap();
    sink.publish(&note(1));
    sink.publish(&note(2));
    assert!(sink.flush(Duration::from_secs(5)).await);
    let ids: Vec<Value> = server
        .bodies()
        .iter()
        .map(|b| b["payload"]["call"]["id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec![json!(1), json!(1), json!(1), json!(2)],
        "in order, retried"
    );
    // A retry carries the same id: the receiver can tell it took it already.
    let delivery: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.headers[&ID_HEADER.to_ascii_lowercase()].clone())
        .collect();
    assert_eq!(delivery[0], delivery[1]);
    assert_eq!(delivery[1], delivery[2]);
    assert_ne!(delivery[2], delivery[3]);
    let stats = sink.stats();
    assert_eq!(
        (stats.sent, stats.retries, stats.failed, stats.dropped),
        (2, 2, 0, 0)
    );
}

#[tokio::test]
async fn webhook_batches_what_waits_in_order_and_retries_a_batch_whole() {
    let server = Server::start(&[200, 503]).await;
    server.gate.send(false).unwrap();
    let mut cfg = config(&server.url);
    cfg.max_batch = 4;
    let sink = WebhookSink::spawn(cfg).unwrap();
    sink.publish(&note(0));
    let t0 = Instant::now();
    while server.requests().is_empty() && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // While #0 is held, ten more wait: they go 4, 4, 2, in order.
    for i in 1..=10 {
        sink.publish(&note(i));
    }
    assert_eq!(sink.queued(), 10);
    server.gate.send(true).unwrap();
    assert!(sink.flush(Duration::from_secs(5)).await);
    let reqs = server.requests();
    let batches: Vec<Vec<Value>> = server
        .bodies()
        .iter()
        .map(|b| {
            b.as_array()
                .expect("with max_batch > 1 every body is an array")
                .iter()
                .map(|n| n["payload"]["call"]["id"].clone())
                .collect()
        })
        .collect();
    let ids = |r: std::ops::RangeInclusive<i32>| r.map(|i| json!(i)).collect::<Vec<_>>();
    // The second POST got a 503: retried whole, under the same id.
    assert_eq!(
        batches,
        vec![ids(0..=0), ids(1..=4), ids(1..=4), ids(5..=8), ids(9..=10)]
    );
    let id = |i: usize| reqs[i].headers[&ID_HEADER.to_ascii_lowercase()].clone();
    assert_eq!(id(1), id(2));
    assert_ne!(id(0), id(1));
    assert_ne!(id(2), id(3));
    // Each element is the notification's own object; the signature covers
    // the whole array.
    for r in &reqs {
        let ts = &r.headers[&TIMESTAMP_HEADER.to_ascii_lowercase()];
        let sig = &r.headers[&SIGNATURE_HEADER.to_ascii_lowercase()];
        let id = &r.headers[&ID_HEADER.to_ascii_lowercase()];
        let now = chrono::Utc::now().timestamp();
        assert_eq!(verify(b"s3cr3t", ts, id, sig, &r.body, now), Ok(()));
    }
    let first: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(
        first,
        json!([serde_json::from_str::<Value>(&note(0).to_json()).unwrap()])
    );
    let stats = sink.stats();
    assert_eq!(
        (stats.sent, stats.retries, stats.failed, stats.dropped),
        (11, 1, 0, 0)
    );
}

#[tokio::test]
async fn webhook_batches_stop_at_max_batch_bytes() {
    let server = Server::start(&[]).await;
    server.gate.send(false).unwrap();
    let mut cfg = config(&server.url);
    cfg.max_batch = 1_000;
    let sink = WebhookSink::spawn(cfg).unwrap();
    sink.publish(&note(0));
    let t0 = Instant::now();
    while server.requests().is_empty() && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // 100 notifications of ~10 KiB: a batch holds at most 25 of them.
    let big = |i: usize| {
        Notification::new(
            "company-1-call",
            vec!["company-1-mainchannel".into()],
            json!({ "action": "ringing", "call": { "id": i }, "pad": "x".repeat(10_000) }),
        )
    };
    for i in 1..=100 {
        sink.publish(&big(i));
    }
    server.gate.send(true).unwrap();
    assert!(sink.flush(Duration::from_secs(10)).await);
    let reqs = server.requests();
    let mut seen = Vec::new();
    for r in &reqs[1..] {
        assert!(r.body.len() <= MAX_BATCH_BYTES + 2, "{}", r.body.len());
        let batch: Value = serde_json::from_slice(&r.body).unwrap();
        let batch = batch.as_array().unwrap();
        assert!(batch.len() >= 20, "{}", batch.len());
        seen.extend(
            batch
                .iter()
                .map(|n| n["payload"]["call"]["id"].as_i64().unwrap()),
        );
    }
    assert_eq!(seen, (1..=100).collect::<Vec<i64>>(), "all, in order");
    assert_eq!(sink.stats().sent, 101);
}

#[tokio::test]
async fn webhook_gives_up_on_4xx_and_after_max_attempts() {
    let server = Server::start(&[400, 500, 500, 500]).await;
    let mut cfg = config(&server.url);
    cfg.max_attempts = 3;
    let sink = WebhookSink::spawn(cfg).unwrap();
    sink.publish(&note(1)); // 400: not retried
    sink.publish(&note(2)); // 500 ×3: given up
    sink.publish(&note(3)); // 200
    assert!(sink.flush(Duration::from_secs(5)).await);
    let stats = sink.stats();
    assert_eq!((stats.sent, stats.failed, stats.retries), (1, 2, 2));
    assert_eq!(server.requests().len(), 5);
}

/// What a test logged, one line per event.
#[derive(Clone, Default)]
struct Logged(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logged {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logged {
    /// Logs of this thread (the current-thread runtime's tasks included)
    /// go here until the guard drops.
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let out = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines_with(&self, text: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(text))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn stalled_webhook_never_blocks_and_drops_the_oldest() {
    let logged = Logged::default();
    let _guard = logged.capture();
    let server = Server::start(&[]).await;
    server.gate.send(false).unwrap(); // the server reads requests but does not answer
    let mut cfg = config(&server.url);
    cfg.capacity = 3;
    cfg.request_timeout = Duration::from_secs(10);
    let sink = WebhookSink::spawn(cfg).unwrap();
    sink.publish(&note(0));
    // Wait until #0 is in flight (held by the server).
    let t0 = Instant::now();
    while server.requests().is_empty() && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    for i in 1..=1000 {
        sink.publish(&note(i));
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "publishing must not wait for the webhook ({:?})",
        started.elapsed()
    );
    assert_eq!(sink.queued(), 3);
    assert_eq!(sink.stats().dropped, 997);
    server.gate.send(true).unwrap();
    assert!(sink.flush(Duration::from_secs(5)).await);
    let ids: Vec<Value> = server
        .bodies()
        .iter()
        .map(|b| b["payload"]["call"]["id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec![json!(0), json!(998), json!(999), json!(1000)],
        "the newest survive"
    );
    assert_eq!(sink.stats().sent, 4);
    // 997 drops, two lines: when the queue filled, and when it had room.
    assert_eq!(logged.lines_with("webhook queue full").len(), 1);
    let room = logged.lines_with("webhook queue has room again");
    assert_eq!(room.len(), 1, "{room:?}");
    assert!(room[0].contains("dropped=997"), "{room:?}");
}

#[tokio::test]
async fn dead_webhook_never_blocks_tracking() {
    // A port nobody listens on: every attempt is refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config(&format!("http://127.0.0.1:{port}/hook"));
    cfg.capacity = 10;
    cfg.max_attempts = 2;
    let sink = Arc::new(WebhookSink::spawn(cfg).unwrap());
    let memory = Arc::new(MemorySink::new());
    let notifier = Notifier::new()
        .with_sink(sink.clone())
        .with_sink(memory.clone());
    let started = Instant::now();
    for i in 0..500 {
        notifier.publish(&note(i));
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(
        memory.notifications().len(),
        500,
        "other sinks still get everything"
    );
    assert!(sink.queued() <= 10);
    assert!(sink.flush(Duration::from_secs(10)).await);
    let stats = sink.stats();
    assert_eq!(stats.sent, 0);
    assert_eq!(stats.failed + stats.dropped, 500, "{stats:?}");
    assert!(stats.dropped >= 480);
}

#[tokio::test]
async fn bad_webhook_urls_are_rejected() {
    assert!(WebhookSink::spawn(WebhookConfig::new("not a url", "s")).is_err());
    assert!(WebhookSink::spawn(WebhookConfig::new("ftp://x/y", "s")).is_err());
    let dbg = format!("{:?}", WebhookConfig::new("http://x/", "topsecret"));
    assert!(!dbg.contains("topsecret"), "{dbg}");
}

#[tokio::test]
async fn writer_publishes_what_it_stores() {
    use bigchat_voice::store::writer::{Writer, WriterConfig};
    let store = AnyStore::connect("sqlite::memory:").await.unwrap();
    let ast = store
        .ensure_asterisk("pbx", "h", 5038, "u", 1)
        .await
        .unwrap();
    let sink = Arc::new(MemorySink::new());
    let hooks = Notifier::new().with_sink(sink.clone()).writer_hooks();
    let writer = Writer::spawn(store, WriterConfig::default(), hooks);
    let c = inbound("1700000001.1", "+5511999990001", 0);
    let e = ended(&c, CallStatus::NoAnswer, 30);
    for effect in [
        Effect::CallStarted(c),
        Effect::CallEnded(e.clone()),
        Effect::CallEnded(e),
    ] {
        writer.send(ast, 1, effect).await.unwrap();
    }
    writer.flush().await;
    let got: Vec<(String, Value)> = sink
        .take()
        .into_iter()
        .map(|n| (n.event, n.payload["action"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("company-1-call".to_string(), json!("ringing")),
            ("company-1-ticket".to_string(), json!("update")),
            ("company-1-call".to_string(), json!("no_answer")),
            ("company-1-ticket".to_string(), json!("update")),
            ("company-1-appMessage".to_string(), json!("create")),
        ],
        "the replayed end publishes nothing"
    );
}
