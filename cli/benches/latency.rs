//! Latency from an AMI event to the stored row and to a socket.io client in
//! BigChat's rooms: the fake Asterisk emits a recorded call; `bigchat-voice
//! listen` tracks it, stores it (journal on) and posts the signed webhook;
//! the BigChat-side companion (`integrations/bigchat`, in Node) verifies it
//! and emits it on its Socket.IO server; a socket.io client joined to
//! `company-1-mainchannel` receives it. Beside it, another connection reads
//! the `CallRecords` table every millisecond: a row counts as stored at the
//! first read that returns it (committed and visible to others, as BigChat
//! would read it). Measured per call on one machine's wall clock, from the
//! emit of its first event (`Newchannel`) to its row appearing and to the
//! client's `ringing`, and from the emit of its last `Hangup` to the row's
//! `completed` status and to the client's `completed`. Two loads: a
//! sustained 1,000 events/s, and saturation (every call emitted at once);
//! SQLite, then PostgreSQL (a fresh database on `BIGCHAT_VOICE_PG_SERVER`,
//! default `postgres://postgres@127.0.0.1:5432`; `BIGCHAT_VOICE_SKIP_PG=1`
//! skips it). Prints median and p99 of each, and how many calls each
//! figure has (fewer than 200: notifications were dropped).
//!
//! `LATENCY_WEBHOOK_BATCH` (default 100) is the daemon's `--webhook-batch`
//! (1: one notification per POST, as before batching).
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ami_client::ami_proto::bytes::Bytes;
use ami_client::testkit::{FakeAsterisk, ReplayOptions, Reply, load_capture};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bigchat-voice");
const SECRET: &str = "bench-secret";
/// Calls per load.
const CALLS: usize = 200;
/// How often the table is read for the store-side figures.
const POLL: Duration = Duration::from_millis(1);

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

/// When each call's row was first seen committed, and first seen
/// `completed`, by another connection polling the table (wall clock, ms).
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    row: Option<f64>,
    completed: Option<f64>,
}

type SeenMap = Arc<Mutex<HashMap<String, Seen>>>;

enum Poll {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Poll {
    async fn rows(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        const Q: &str = r#"SELECT "uniqueId", "status" FROM "CallRecords""#;
        match self {
            Poll::Sqlite(p) => sqlx::query_as(Q).fetch_all(p).await,
            Poll::Postgres(p) => sqlx::query_as(Q).fetch_all(p).await,
        }
    }
}

/// Polls the table every `POLL` until `stop`: a commit is seen by the first
/// read that starts after it, so each figure is late by at most one poll
/// plus one read.
async fn poll_rows(poll: Poll, seen: SeenMap, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        if let Ok(rows) = poll.rows().await {
            let at = now_ms();
            let mut seen = seen.lock().expect("seen");
            for (id, status) in rows {
                let s = seen.entry(id).or_default();
                s.row.get_or_insert(at);
                if status == "completed" {
                    s.completed.get_or_insert(at);
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A fresh PostgreSQL database, or why there is none.
async fn pg_database() -> Result<(String, String, String), String> {
    use sqlx::Connection as _;
    if std::env::var("BIGCHAT_VOICE_SKIP_PG").is_ok_and(|v| v == "1") {
        return Err("BIGCHAT_VOICE_SKIP_PG=1".into());
    }
    let server = std::env::var("BIGCHAT_VOICE_PG_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let admin_url = format!("{server}/postgres");
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .map_err(|e| format!("PostgreSQL unreachable at {server} ({e})"))?;
    let name = format!("bench_latency_{:08x}", rand::random::<u32>());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .map_err(|e| format!("cannot create a database ({e})"))?;
    Ok((format!("{server}/{name}"), admin_url, name))
}

struct Env {
    pbx: FakeAsterisk,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    hook: u16,
    recorded: Vec<Bytes>,
    next_call: usize,
    batch: String,
    journals: tempfile::TempDir,
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
    let batch = std::env::var("LATENCY_WEBHOOK_BATCH").unwrap_or_else(|_| "100".into());
    let mut env = Env {
        pbx,
        lines,
        hook,
        recorded,
        next_call: 0,
        batch,
        journals: tempfile::tempdir().expect("tempdir"),
    };
    println!(
        "latency: AMI event -> daemon -> store commit (seen by a poller every {} ms) \
         and -> webhook -> companion -> socket.io client",
        POLL.as_millis()
    );
    println!(
        "({CALLS} calls of {} events each per load; journal on; webhookBatch {})",
        env.recorded.len(),
        env.batch
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("calls.db");
    run_backend(
        &mut env,
        "SQLite",
        &format!("sqlite://{}", file.display()),
        || async {
            let url = format!("sqlite://{}?mode=ro", file.display());
            sqlx::SqlitePool::connect(&url).await.ok().map(Poll::Sqlite)
        },
    )
    .await;
    match pg_database().await {
        Ok((url, admin_url, name)) => {
            run_backend(&mut env, "PostgreSQL", &url, || async {
                sqlx::PgPool::connect(&url).await.ok().map(Poll::Postgres)
            })
            .await;
            use sqlx::Connection as _;
            if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                    .execute(&mut admin)
                    .await;
            }
        }
        Err(why) => println!("PostgreSQL skipped: {why}"),
    }
    drop(node.stdin.take());
    let _ = node.wait().await;
}

async fn run_backend<F, Fut>(env: &mut Env, backend: &str, db: &str, poller: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<Poll>>,
{
    let logins = env.pbx.actions_named("CoreShowChannels").len();
    let mut daemon = Command::new(BIN)
        .env("BIGCHAT_VOICE_AMI_SECRET", "s3cret")
        .env("BIGCHAT_VOICE_WEBHOOK_SECRET", SECRET)
        .args(["-q", "listen", "--database-url", db])
        .args([
            "--webhook-url",
            &format!("http://127.0.0.1:{}/voice/webhook", env.hook),
        ])
        .args(["--webhook-batch", &env.batch])
        // A journal of its own: another run's frames must not replay here.
        .arg("--journal-dir")
        .arg(env.journals.path().join(backend))
        .args([
            "--ami-host",
            "127.0.0.1",
            "--ami-port",
            &env.pbx.port().to_string(),
        ])
        .args(["--ami-username", "bigchat"])
        .kill_on_drop(true)
        .spawn()
        .expect("daemon");
    let t = Instant::now();
    while env.pbx.actions_named("CoreShowChannels").len() <= logins {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the daemon never logged in"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The schema exists once the daemon has logged in.
    let poll = loop {
        if let Some(p) = poller().await {
            break p;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "cannot open the database to poll it"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let seen: SeenMap = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let poller = tokio::spawn(poll_rows(poll, Arc::clone(&seen), Arc::clone(&stop)));

    for (load, events_per_s) in [("1,000 events/s", Some(1000.0)), ("saturation", None)] {
        let mut started: HashMap<String, f64> = HashMap::new();
        let mut hung_up: HashMap<String, f64> = HashMap::new();
        let calls: Vec<(String, Vec<Bytes>)> = (0..CALLS)
            .map(|i| call(&env.recorded, env.next_call + i))
            .collect();
        env.next_call += CALLS;
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
            env.pbx.emit_raw(m.clone()).await;
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
            let line = tokio::time::timeout(Duration::from_secs(10), env.lines.next_line()).await;
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
        // The rows: every call completed in the table (or the deadline).
        let (mut row, mut row_completed) = (Vec::new(), Vec::new());
        loop {
            {
                let seen = seen.lock().expect("seen");
                row.clear();
                row_completed.clear();
                for (id, s) in seen.iter() {
                    if let (Some(t0), Some(t)) = (started.get(id), s.row) {
                        row.push(t - t0);
                    }
                    if let (Some(t0), Some(t)) = (hung_up.get(id), s.completed) {
                        row_completed.push(t - t0);
                    }
                }
            }
            if row_completed.len() >= CALLS || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for v in [&mut ringing, &mut completed, &mut row, &mut row_completed] {
            v.sort_by(f64::total_cmp);
        }
        for (what, v) in [
            ("row stored     ", &row),
            ("row completed  ", &row_completed),
            ("client ringing ", &ringing),
            ("client completed", &completed),
        ] {
            println!(
                "{backend:>10} {load:>15}: {what} median {:7.2} ms  p99 {:7.2} ms  ({} calls)",
                percentile(v, 0.5),
                percentile(v, 0.99),
                v.len()
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = poller.await;
    let _ = daemon.kill().await;
    let _ = daemon.wait().await;
}
