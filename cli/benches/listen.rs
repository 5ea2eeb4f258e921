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
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

mod support;

use support::{sqlite, stored_calls};

const COPIES: usize = 200;

/// Builds the recording; returns (file, events, calls).
fn recording(dir: &Path) -> (PathBuf, u64, u64) {
    support::recording(dir, "large.server.ami", 0, COPIES)
}

fn run(file: &Path, db_url: &str) -> u64 {
    support::replay(file, db_url, &[])
}

/// As [`run`], with more arguments for `listen`.
fn run_with(file: &Path, db_url: &str, extra: &[&std::ffi::OsStr]) -> u64 {
    support::replay(file, db_url, extra)
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
