//! End to end: `bigchat-voice listen --replay` of a large recording into a
//! fresh SQLite file, as ops would run it. Reports events/s and calls/s and
//! prints the daemon's peak memory (VmHWM). Then calls/s into a fresh
//! PostgreSQL schema (127.0.0.1:5432/test or `BIGCHAT_VOICE_PG_URL`;
//! skipped when unreachable or with `BIGCHAT_VOICE_SKIP_PG=1`).
//!
//! First, the journal's cost: replays with `--journal-dir` and without,
//! alternated, and the ratio of their events/s.
//!
//! The recording is every call capture of `testdata/captures` repeated
//! with rewritten Uniqueids/Linkedids, so every copy is a distinct call.
//!
//! ```text
//! cargo bench -p bigchat-voice-cli --bench listen
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const BIN: &str = env!("CARGO_BIN_EXE_bigchat-voice");
const COPIES: usize = 200;

/// Builds the recording; returns (file, events, calls).
fn recording(dir: &Path) -> (PathBuf, u64, u64) {
    let captures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/captures");
    let expected = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/expected");
    let mut names: Vec<String> = std::fs::read_dir(&expected)
        .expect("testdata/expected")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".json").map(str::to_owned)
        })
        .filter(|n| captures.join(format!("{n}.server.ami")).exists())
        .collect();
    names.sort();
    let mut bodies = Vec::new();
    let mut calls_per_copy = 0u64;
    for n in &names {
        let records: Vec<serde_json::Value> = serde_json::from_slice(
            &std::fs::read(expected.join(format!("{n}.json"))).expect("expected records"),
        )
        .expect("expected records are a JSON array");
        calls_per_copy += records.len() as u64;
        let data = std::fs::read(captures.join(format!("{n}.server.ami"))).expect("capture");
        let start = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(0, |i| i + 2);
        bodies.push(data[start..].to_vec());
    }
    let mut out = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
    for copy in 0..COPIES {
        // Uniqueids look like 1795515777.0: give each copy its own prefix.
        let prefix = format!("{:06}", 100_000 + copy);
        for body in &bodies {
            let text = String::from_utf8_lossy(body).replace("179551", &prefix);
            out.extend_from_slice(text.as_bytes());
        }
    }
    let events = out
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"Event:"))
        .count() as u64;
    let path = dir.join("large.server.ami");
    std::fs::write(&path, &out).expect("write recording");
    (path, events, calls_per_copy * COPIES as u64)
}

fn sqlite(db: &Path) -> String {
    format!("sqlite://{}", db.display())
}

fn run(file: &Path, db_url: &str) -> u64 {
    run_with(file, db_url, &[])
}

/// As [`run`], with more arguments for `listen`.
fn run_with(file: &Path, db_url: &str, extra: &[&std::ffi::OsStr]) -> u64 {
    let mut child = Command::new(BIN)
        .args(["-q", "listen", "--replay"])
        .arg(file)
        .arg("--database-url")
        .arg(db_url)
        .args(extra)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn bigchat-voice");
    let pid = child.id();
    let mut peak_kb = 0u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            for line in status.lines() {
                if let Some(v) = line.strip_prefix("VmHWM:") {
                    peak_kb =
                        peak_kb.max(v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0));
                }
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "listen --replay failed");
            return peak_kb;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Call records in the database, as `bigchat-voice calls` lists them.
fn stored_calls(db_url: &str) -> u64 {
    let out = Command::new(BIN)
        .args(["-q", "calls", "--json", "--limit", "4000000000"])
        .arg("--database-url")
        .arg(db_url)
        .output()
        .expect("run bigchat-voice calls");
    assert!(out.status.success(), "calls failed");
    out.stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64
}

/// Fresh PostgreSQL schemas (one per run) on the test server; dropped at
/// the end. `None` when `BIGCHAT_VOICE_SKIP_PG=1` or the server is away.
struct PgSchemas {
    base: String,
    rt: tokio::runtime::Runtime,
    admin: sqlx::PgConnection,
    made: Vec<String>,
}

impl PgSchemas {
    fn connect() -> Option<PgSchemas> {
        use sqlx::Connection as _;
        if std::env::var("BIGCHAT_VOICE_SKIP_PG").is_ok_and(|v| v == "1") {
            eprintln!("BIGCHAT_VOICE_SKIP_PG=1: PostgreSQL run skipped");
            return None;
        }
        let base = std::env::var("BIGCHAT_VOICE_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        match rt.block_on(sqlx::PgConnection::connect(&base)) {
            Ok(admin) => Some(PgSchemas {
                base,
                rt,
                admin,
                made: Vec::new(),
            }),
            Err(e) => {
                eprintln!("PostgreSQL unreachable at {base} ({e}): PostgreSQL run skipped");
                None
            }
        }
    }

    /// The URL of a new empty schema.
    fn fresh(&mut self) -> String {
        let name = format!(
            "bench_listen_{:x}_{}",
            rand::random::<u32>(),
            self.made.len()
        );
        let create = format!("CREATE SCHEMA \"{name}\"");
        self.rt
            .block_on(sqlx::raw_sql(sqlx::AssertSqlSafe(create)).execute(&mut self.admin))
            .expect("create schema");
        self.made.push(name.clone());
        format!("{}?options=-csearch_path%3D{name}", self.base)
    }
}

impl Drop for PgSchemas {
    fn drop(&mut self) {
        for name in std::mem::take(&mut self.made) {
            let drop = format!("DROP SCHEMA \"{name}\" CASCADE");
            let _ = self
                .rt
                .block_on(sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut self.admin));
        }
    }
}

/// The journal's cost, side by side: replays with the journal off and on,
/// alternated (so that both see the same machine load), `ROUNDS` each;
/// prints the median events/s of each and their ratio.
fn journal_cost(dir: &Path, file: &Path, events: u64) {
    const ROUNDS: usize = 7;
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        let db = sqlite(&dir.join(format!("journal-off-{i}.db")));
        let t = std::time::Instant::now();
        run(file, &db);
        off.push(events as f64 / t.elapsed().as_secs_f64());
        let db = sqlite(&dir.join(format!("journal-on-{i}.db")));
        let journal = dir.join(format!("journal-{i}"));
        let t = std::time::Instant::now();
        run_with(file, &db, &["--journal-dir".as_ref(), journal.as_os_str()]);
        on.push(events as f64 / t.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (off, on) = (median(&mut off), median(&mut on));
    eprintln!(
        "journal: off {:.0} K events/s, on {:.0} K events/s (median of {ROUNDS} alternated runs each): \
         on/off = {:.3}",
        off / 1e3,
        on / 1e3,
        on / off
    );
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, events, calls) = recording(dir.path());
    journal_cost(dir.path(), &file, events);
    let probe = sqlite(&dir.path().join("probe.db"));
    let peak = run(&file, &probe);
    // The figures below count calls: make sure every one of them is stored.
    assert_eq!(stored_calls(&probe), calls, "calls stored by the probe run");
    eprintln!(
        "recording: {events} events, {calls} calls, {:.1} MB; peak RSS of the daemon: {:.1} MiB",
        std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
        peak as f64 / 1024.0
    );
    let mut n = 0u32;
    for (label, throughput) in [
        ("events", Throughput::Elements(events)),
        ("calls", Throughput::Elements(calls)),
    ] {
        let mut g = c.benchmark_group(format!("listen-replay-sqlite-{label}"));
        g.throughput(throughput);
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(20));
        g.bench_function("bigchat-voice", |b| {
            b.iter_batched(
                || {
                    n += 1;
                    sqlite(&dir.path().join(format!("run-{n}.db")))
                },
                |db| run(&file, &db),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }

    let Some(mut pg) = PgSchemas::connect() else {
        return;
    };
    let probe = pg.fresh();
    run(&file, &probe);
    assert_eq!(stored_calls(&probe), calls, "calls stored in PostgreSQL");
    let mut g = c.benchmark_group("listen-replay-postgres-calls");
    g.throughput(Throughput::Elements(calls));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("bigchat-voice", |b| {
        b.iter_batched(|| pg.fresh(), |db| run(&file, &db), BatchSize::PerIteration)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
