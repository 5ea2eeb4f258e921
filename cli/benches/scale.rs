//! How cost grows with the work, one table per dimension:
//!
//! * `decode`: ami-proto decoding 1 MB to 256 MB (every capture repeated,
//!   fed in 64 KiB reads, reading Event, Uniqueid and Linkedid of each
//!   message): throughput should not depend on the size.
//! * `stored`: `listen --replay` of the same 1,200 calls into a SQLite
//!   database already holding 0 to 1,000,000 call records; and how long
//!   `bigchat-voice calls` (the newest 50) takes at that size.
//! * `pbx`: one daemon (`listen`, SQLite, journal on) following 1 to 8 fake
//!   Asterisks, each emitting 250 recorded calls (87 events each) at once:
//!   aggregate calls/s until every record is stored, and peak memory.
//!
//! Live calls (1 to 10,000 at once) are the memory bench's table.
//!
//! ```text
//! cargo bench -p bigchat-voice-cli --bench scale            # all three
//! cargo bench -p bigchat-voice-cli --bench scale -- stored  # one
//! ```
//!
//! Each row is the median of several runs; read the rows of one run against
//! each other, not against another run's (the machine's load moves them).

mod support;

use std::time::{Duration, Instant};

use bigchat_voice::ami_proto::bytes::{Bytes, BytesMut};
use bigchat_voice::ami_proto::{AmiCodec, Frame};
use sqlx::Connection as _;
use support::{median, peak_kib, sqlite};

const MB: usize = 1_000_000;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| args.is_empty() || args.iter().any(|a| name.contains(a.as_str()));
    println!("load average before: {}", load());
    if wants("decode") {
        decode_table();
    }
    if wants("stored") {
        stored_table();
    }
    if wants("pbx") {
        pbx_table();
    }
    println!("load average after: {}", load());
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

// ---------------------------------------------------------------- decode

/// Decodes `data` in 64 KiB reads, reading three headers of each message;
/// the number of messages.
fn decode(data: &[u8]) -> usize {
    const CHUNK: usize = 64 * 1024;
    let mut codec = AmiCodec::new();
    let mut buf = BytesMut::with_capacity(2 * CHUNK);
    let mut messages = 0usize;
    let mut seen = 0usize;
    let mut on = |frame: Frame| {
        if let Frame::Message(m) = frame {
            messages += 1;
            for key in ["Event", "Uniqueid", "Linkedid"] {
                seen += m.get(key).map_or(0, |v| v.as_bytes().len());
            }
        }
    };
    for chunk in data.chunks(CHUNK) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode_frame(&mut buf) {
            on(frame);
        }
    }
    while let Some(frame) = codec.decode_frame_eof(&mut buf) {
        on(frame);
    }
    std::hint::black_box(seen);
    messages
}

fn decode_table() {
    let mut bodies = Vec::new();
    let dir = support::testdata("captures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/captures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".server.ami"))
        .collect();
    names.sort();
    for p in names {
        bodies.extend_from_slice(support::without_banner(
            &std::fs::read(&p).expect("capture"),
        ));
    }
    println!();
    println!("decode (ami-proto, 64 KiB reads, three headers read per message)");
    println!();
    println!("| input | MB/s | messages/s | vs 1 MB |");
    println!("|---:|---:|---:|---:|");
    let mut first = None;
    for size in [1, 4, 16, 64, 256] {
        let mut data = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
        while data.len() < size * MB {
            data.extend_from_slice(&bodies);
        }
        // About 2 GB decoded per row, at least 3 runs.
        let runs = (2_000 / size).clamp(3, 200);
        let messages = decode(&data);
        let mut rates = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            std::hint::black_box(decode(&data));
            rates.push(data.len() as f64 / t.elapsed().as_secs_f64());
        }
        let rate = median(&mut rates);
        let base = *first.get_or_insert(rate);
        println!(
            "| {size} MB | {:.0} | {:.2} M | {:.2} |",
            rate / 1e6,
            rate / data.len() as f64 * messages as f64 / 1e6,
            rate / base
        );
    }
}

// ---------------------------------------------------------------- stored

/// Adds `n` ended call records (distinct Uniqueids, linked to the
/// database's first contact and ticket, spread over the last year) to the
/// SQLite database at `url`, in one statement.
fn prefill(url: &str, n: u64) {
    if n == 0 {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let mut db = sqlx::SqliteConnection::connect(url).await.expect("open");
        sqlx::query(
            r#"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
INSERT INTO "CallRecords" ("uniqueId", "callerId", "calledNumber", "direction", "status",
 "duration", "talkTime", "startedAt", "answeredAt", "endedAt", "hangupCause", "asteriskId",
 "contactId", "ticketId", "companyId", "createdAt", "updatedAt")
SELECT 'prefill.' || i, '+5511' || (900000000 + i % 50000), '4000', 'inbound', 'completed',
 60, 55, t, t, t, 16, (SELECT min("id") FROM "Asterisks"),
 (SELECT min("id") FROM "Contacts"), (SELECT min("id") FROM "Tickets"), 1, t, t
FROM (SELECT i, strftime('%Y-%m-%dT%H:%M:%SZ', 1764547200 - i * 31, 'unixepoch') AS t FROM seq)"#,
        )
        .bind(i64::try_from(n).expect("fits"))
        .execute(&mut db)
        .await
        .expect("prefill");
        db.close().await.expect("close");
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn stored_table() {
    const COPIES: usize = 100;
    const RUNS: usize = 3;
    let dir = tempfile::tempdir().expect("tempdir");
    println!();
    println!(
        "stored records (SQLite): `listen --replay` of {} calls into a database that already holds N",
        COPIES as u64 * support::call_captures().iter().map(|(_, n)| n).sum::<u64>()
    );
    println!();
    println!(
        "| records already stored | calls/s | vs empty | `calls` (newest 50) | database size |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let mut first = None;
    for (row, n) in [0u64, 10_000, 100_000, 1_000_000].into_iter().enumerate() {
        let db_path = dir.path().join(format!("stored-{n}.db"));
        let url = sqlite(&db_path);
        // A first replay makes the server's row, contacts and tickets.
        let (warm, _, _) = support::recording(dir.path(), "warm.server.ami", 0, 1);
        support::replay(&warm, &url, &[]);
        prefill(&url, n);
        let mut rates = Vec::new();
        let mut listed = Vec::new();
        for run in 0..RUNS {
            let first_copy = 1 + (row * RUNS + run) * COPIES;
            let (file, _, calls) =
                support::recording(dir.path(), "run.server.ami", first_copy, COPIES);
            let t = Instant::now();
            support::replay(&file, &url, &[]);
            rates.push(calls as f64 / t.elapsed().as_secs_f64());
            let t = Instant::now();
            let out = std::process::Command::new(support::BIN)
                .args([
                    "-q",
                    "calls",
                    "--json",
                    "--limit",
                    "50",
                    "--database-url",
                    &url,
                ])
                .output()
                .expect("calls");
            assert!(out.status.success(), "calls failed");
            listed.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let rate = median(&mut rates);
        let base = *first.get_or_insert(rate);
        let size = std::fs::metadata(&db_path).map(|m| m.len()).unwrap_or(0);
        println!(
            "| {n} | {rate:.0} | {:.2} | {:.0} ms | {:.0} MB |",
            rate / base,
            median(&mut listed),
            size as f64 / 1e6
        );
    }
}

// ------------------------------------------------------------------- pbx

/// The recorded answered call as call `n` of PBX `pbx`, its events joined
/// in one buffer.
fn pbx_calls(recorded: &[Bytes], pbx: usize, calls: usize) -> Vec<Bytes> {
    (0..calls)
        .map(|n| {
            let prefix = format!("{}", 1_900_000_000 + pbx * 100_000 + n);
            let tag = format!("{pbx:02x}{n:06x}");
            let mut out = Vec::new();
            for m in recorded {
                out.extend_from_slice(
                    String::from_utf8_lossy(m)
                        .replace("1795515777.", &format!("{prefix}."))
                        .replace("agent1001-00000001", &format!("agent1001-{tag}"))
                        .replace("trunk-00000000", &format!("trunk-{tag}"))
                        .as_bytes(),
                );
            }
            Bytes::from(out)
        })
        .collect()
}

fn pbx_table() {
    use ami_client::testkit::{FakeAsterisk, ReplayOptions, Reply, load_capture};
    const CALLS: usize = 250;
    const RUNS: usize = 3;
    let recorded: Vec<Bytes> = load_capture(
        &support::testdata("captures/inbound-answered-recorded.server.ami"),
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
    println!();
    println!(
        "PBXs on one daemon (`listen`, SQLite, journal on): each PBX emits {CALLS} calls of {} events at once",
        recorded.len()
    );
    println!();
    println!("| PBXs | calls | calls/s | events/s | vs 1 PBX | peak memory |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut first = None;
    for pbxs in [1usize, 2, 4, 8] {
        let mut rates = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..RUNS {
            let (rate, peak) = rt.block_on(async {
                let mut fakes = Vec::new();
                for _ in 0..pbxs {
                    fakes.push(
                        FakeAsterisk::builder()
                            .user("bigchat", "s3cret")
                            .reply(
                                "CoreShowChannels",
                                Reply::list("CoreShowChannelsComplete", vec![]),
                            )
                            .start()
                            .await
                            .expect("fake asterisk"),
                    );
                }
                run_pbxs(&fakes, &recorded, CALLS).await
            });
            rates.push(rate);
            peaks.push(peak as f64);
        }
        let rate = median(&mut rates);
        let base = *first.get_or_insert(rate);
        println!(
            "| {pbxs} | {} | {rate:.0} | {:.0} | {:.2} | {:.1} MiB |",
            pbxs * CALLS,
            rate * recorded.len() as f64,
            rate / base,
            median(&mut peaks) / 1024.0
        );
    }
}

/// One daemon on `fakes`; every fake emits `calls` calls at once. Returns
/// (calls stored per second, from the first emit to the last record
/// ended; the daemon's peak memory in KiB).
async fn run_pbxs(
    fakes: &[ami_client::testkit::FakeAsterisk],
    recorded: &[Bytes],
    calls: usize,
) -> (f64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_path = dir.path().join("calls.db");
    let url = sqlite(&db_path);
    let mut config = format!(
        "companyId = 1\ndatabaseUrl = \"{url}\"\n\n[journal]\nenabled = true\ndir = \"{}\"\n",
        dir.path().join("journal").display()
    );
    for (i, fake) in fakes.iter().enumerate() {
        config.push_str(&format!(
            "\n[[asterisk]]\nname = \"pbx{i}\"\nhost = \"127.0.0.1\"\nport = {}\n\
             username = \"bigchat\"\nsecret = \"s3cret\"\n",
            fake.port()
        ));
    }
    let config_path = dir.path().join("bigchat-voice.toml");
    std::fs::write(&config_path, config).expect("config");
    let mut daemon = tokio::process::Command::new(support::BIN)
        .arg("-q")
        .arg("--config")
        .arg(&config_path)
        .arg("listen")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("daemon");
    let pid = daemon.id().expect("pid");
    let t = Instant::now();
    while fakes
        .iter()
        .any(|f| f.actions_named("CoreShowChannels").is_empty())
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the daemon never logged in to every PBX"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let per_pbx: Vec<Vec<Bytes>> = (0..fakes.len())
        .map(|p| pbx_calls(recorded, p, calls))
        .collect();
    let mut db = sqlx::SqliteConnection::connect(&url).await.expect("open");
    let begin = Instant::now();
    let sends = fakes.iter().zip(&per_pbx).map(|(fake, calls)| async move {
        for c in calls {
            fake.emit_raw(c.clone()).await;
        }
    });
    futures_join(sends).await;
    let want = i64::try_from(fakes.len() * calls).expect("fits");
    let mut peak = 0;
    loop {
        peak = peak.max(peak_kib(pid).unwrap_or(0));
        let (ended,): (i64,) =
            sqlx::query_as(r#"SELECT count(*) FROM "CallRecords" WHERE "endedAt" IS NOT NULL"#)
                .fetch_one(&mut db)
                .await
                .unwrap_or((0,));
        if ended >= want {
            break;
        }
        assert!(
            begin.elapsed() < Duration::from_secs(300),
            "{ended} of {want} calls stored after 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = begin.elapsed().as_secs_f64();
    peak = peak.max(peak_kib(pid).unwrap_or(0));
    db.close().await.ok();
    let _ = daemon.start_kill();
    let _ = daemon.wait().await;
    (want as f64 / elapsed, peak)
}

/// Runs the futures concurrently on this task, to the last.
async fn futures_join<F: std::future::Future<Output = ()>>(futs: impl Iterator<Item = F>) {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futs.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}
