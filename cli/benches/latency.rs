//! Latency from an AMI event to a socket.io client in BigChat's rooms: the
//! fake Asterisk emits a recorded call; `bigchat-voice listen` tracks it,
//! stores it (SQLite, journal on) and posts the signed webhook; the
//! BigChat-side companion (`integrations/bigchat`, in Node) verifies it and
//! emits it on its Socket.IO server; a socket.io client joined to
//! `company-1-mainchannel` receives it. Measured per call, from the emit of
//! its first event (`Newchannel`) to the client's `ringing`, and from the
//! emit of its last `Hangup` to the client's `completed`, on one machine's
//! wall clock. Two loads: a sustained 1,000 events/s, and saturation (every
//! call emitted at once). Prints median and p99 of each.
//!
//! Needs Node 20 and the companion built (`npm ci && npm run build` in
//! `integrations/bigchat`).
//!
//! ```text
//! cargo bench -p bigchat-voice-cli --bench latency
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ami_client::ami_proto::bytes::Bytes;
use ami_client::testkit::{FakeAsterisk, ReplayOptions, Reply, load_capture};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bigchat-voice");
const SECRET: &str = "bench-secret";
/// Calls per load.
const CALLS: usize = 200;

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1000.0
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The recorded answered call as call number `n`: its own Uniqueids,
/// Linkedid and channel names.
fn call(events: &[Bytes], n: usize) -> (String, Vec<Bytes>) {
    let prefix = format!("{}", 1_900_000_000 + n);
    let events = events
        .iter()
        .map(|m| {
            Bytes::from(
                String::from_utf8_lossy(m)
                    .replace("1795515777.", &format!("{prefix}."))
                    .replace("agent1001-00000001", &format!("agent1001-{n:08x}"))
                    .replace("trunk-00000000", &format!("trunk-{n:08x}"))
                    .into_bytes(),
            )
        })
        .collect();
    (format!("{prefix}.0"), events)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let companion = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integrations/bigchat");
    let receiver = companion.join("dist/test/latency.js");
    if !receiver.exists() {
        eprintln!(
            "latency bench: {} is missing: run `npm ci && npm run build` in {}",
            receiver.display(),
            companion.display()
        );
        std::process::exit(1);
    }
    let recorded: Vec<Bytes> = load_capture(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/captures/inbound-answered-recorded.server.ami"),
        &ReplayOptions {
            pace: None,
            events_only: true,
        },
    )
    .expect("capture")
    .messages
    .into_iter()
    .map(|m| m.bytes)
    .filter(|m| !m.starts_with(b"Event: FullyBooted") && !m.starts_with(b"Event: SuccessfulAuth"))
    .collect();

    let pbx = FakeAsterisk::builder()
        .user("bigchat", "s3cret")
        .reply(
            "CoreShowChannels",
            Reply::list("CoreShowChannelsComplete", vec![]),
        )
        .start()
        .await
        .expect("fake asterisk");
    let hook = free_port();
    let mut node = Command::new("node")
        .arg(&receiver)
        .env("HOOK_PORT", hook.to_string())
        .env("WEBHOOK_SECRET", SECRET)
        .env("COMPANY_ID", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let mut lines = BufReader::new(node.stdout.take().expect("stdout")).lines();
    loop {
        match lines.next_line().await.expect("receiver output") {
            Some(l) if l == "READY" => break,
            Some(_) => {}
            None => panic!("the receiver stopped before it was ready"),
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let mut daemon = Command::new(BIN)
        .env("BIGCHAT_VOICE_AMI_SECRET", "s3cret")
        .env("BIGCHAT_VOICE_WEBHOOK_SECRET", SECRET)
        .args(["-q", "listen", "--database-url", &db])
        .args([
            "--webhook-url",
            &format!("http://127.0.0.1:{hook}/voice/webhook"),
        ])
        .args([
            "--ami-host",
            "127.0.0.1",
            "--ami-port",
            &pbx.port().to_string(),
        ])
        .args(["--ami-username", "bigchat"])
        .kill_on_drop(true)
        .spawn()
        .expect("daemon");
    let t = Instant::now();
    while pbx.actions_named("CoreShowChannels").is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the daemon never logged in"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    println!("latency: AMI event -> daemon -> webhook -> companion -> socket.io client");
    println!(
        "({CALLS} calls of {} events each per load; SQLite, journal on)",
        recorded.len()
    );
    let mut next_call = 0usize;
    for (load, events_per_s) in [("1,000 events/s", Some(1000.0)), ("saturation", None)] {
        let mut started: HashMap<String, f64> = HashMap::new();
        let mut hung_up: HashMap<String, f64> = HashMap::new();
        let calls: Vec<(String, Vec<Bytes>)> =
            (0..CALLS).map(|i| call(&recorded, next_call + i)).collect();
        next_call += CALLS;
        // Interleave the calls' events (each call in order), as concurrent
        // calls reach a PBX.
        let mut queue = Vec::new();
        let spread = 20usize; // calls overlapping at a time
        for chunk in calls.chunks(spread) {
            let longest = chunk.iter().map(|(_, e)| e.len()).max().unwrap_or(0);
            for k in 0..longest {
                for (id, evs) in chunk {
                    if let Some(m) = evs.get(k) {
                        let last_hangup =
                            evs.iter().rposition(|e| e.starts_with(b"Event: Hangup")) == Some(k);
                        queue.push((id.clone(), m.clone(), k == 0, last_hangup));
                    }
                }
            }
        }
        let begin = Instant::now();
        for (i, (id, m, first, last)) in queue.iter().enumerate() {
            if let Some(rate) = events_per_s {
                let due = begin + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            }
            let at = now_ms();
            pbx.emit_raw(m.clone()).await;
            if *first {
                started.insert(id.clone(), at);
            }
            if *last {
                hung_up.insert(id.clone(), at);
            }
        }
        // Collect until every call's `completed` has arrived.
        let (mut ringing, mut completed) = (Vec::new(), Vec::new());
        let deadline = Instant::now() + Duration::from_secs(120);
        while completed.len() < CALLS && Instant::now() < deadline {
            let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await;
            let Ok(Ok(Some(line))) = line else { break };
            let mut parts = line.split(' ');
            let (Some("RECV"), Some(id), Some(action), Some(t)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(t) = t.parse::<f64>() else { continue };
            match action {
                "ringing" => {
                    if let Some(t0) = started.get(id) {
                        ringing.push(t - t0);
                    }
                }
                "completed" => {
                    if let Some(t0) = hung_up.get(id) {
                        completed.push(t - t0);
                    }
                }
                _ => {}
            }
        }
        ringing.sort_by(f64::total_cmp);
        completed.sort_by(f64::total_cmp);
        println!(
            "{load:>15}: ringing  median {:7.2} ms  p99 {:7.2} ms  ({} calls)",
            percentile(&ringing, 0.5),
            percentile(&ringing, 0.99),
            ringing.len()
        );
        println!(
            "{load:>15}: completed median {:6.2} ms  p99 {:7.2} ms  ({} calls)",
            percentile(&completed, 0.5),
            percentile(&completed, 0.99),
            completed.len()
        );
    }
    let _ = daemon.kill().await;
    drop(node.stdin.take());
    let _ = node.wait().await;
}
