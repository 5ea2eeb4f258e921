//! Completed calls persisted per second. One call = three effects
//! (`CallStarted`, `CallUpdated` answered, `CallEnded`). Backends: SQLite (a
//! file in a temp dir, WAL, `synchronous = NORMAL`) and PostgreSQL
//! (127.0.0.1:5432/test, a throw-away schema; skipped with a message when
//! unreachable or when `BIGCHAT_VOICE_SKIP_PG=1`).
//!
//! `per_effect_tx`: `Store::apply`, one transaction (one commit) per effect,
//! one effect after the other.
//! `writer`: the production path: effects sent to the background
//! `Writer`, which stores what is queued in batches (one transaction per
//! batch of up to 256 effects); timed until `flush()` returns.
//! `writer_4_lanes`: the same with four lanes (four connections storing
//! different contacts in parallel).
//!
//! Run: `cargo bench -p benches --bench store`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bigchat_voice::model::{Call, CallStatus, Direction, Effect};
use bigchat_voice::store::writer::{Writer, WriterConfig, WriterHooks};
use bigchat_voice::store::{AnyStore, Store};
use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const COMPANY: i64 = 1;
static NEXT: AtomicU64 = AtomicU64::new(0);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The three effects of one answered inbound call; 500 distinct contacts
/// (so tickets are found and reused as in real traffic).
fn call_effects(n: u64) -> [Effect; 3] {
    let start = t0() + chrono::Duration::seconds(n as i64);
    let number = format!("+55119{:08}", n % 500);
    let ringing = {
        let mut c = Call::ringing(
            format!("{}.{}", 1_700_000_000 + n, n % 97),
            Direction::Inbound,
            start,
        );
        c.caller_id = number.clone();
        c.called_number = "4000".into();
        c.contact_number = number;
        c.contact_name = Some("Bench Contact".into());
        c
    };
    let answered = {
        let mut c = ringing.clone();
        c.status = CallStatus::Answered;
        c.answered_at = Some(start + chrono::Duration::seconds(5));
        c.agent_extension = Some("1001".into());
        c.user_id = Some(7);
        c
    };
    let ended = {
        let mut c = answered.clone();
        c.status = CallStatus::Completed;
        c.ended_at = Some(start + chrono::Duration::seconds(197));
        c.duration = 197;
        c.talk_time = 192;
        c.recording_url = Some(format!("https://rec.example/company-1/2026/11/{n}.wav"));
        c
    };
    [
        Effect::CallStarted(ringing),
        Effect::CallUpdated(answered),
        Effect::CallEnded(ended),
    ]
}

async fn persist_call(store: &AnyStore, asterisk_id: i64) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    for e in call_effects(n) {
        if let Err(err) = store.apply(asterisk_id, COMPANY, &e).await {
            panic!("apply failed: {err:?}");
        }
    }
}

fn bench_store(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, store: &AnyStore) {
    let ast = rt
        .block_on(store.ensure_asterisk("bench", "127.0.0.1", 5038, "bench", COMPANY))
        .unwrap_or_else(|e| panic!("ensure_asterisk: {e:?}"));
    let mut group = c.benchmark_group(format!("store_{name}"));
    group.throughput(Throughput::Elements(1)); // one completed call
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("per_effect_tx", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    persist_call(store, ast).await;
                }
                t.elapsed()
            })
        })
    });
    for (name_lanes, lanes) in [("writer", 1), ("writer_4_lanes", 4)] {
        group.bench_function(name_lanes, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let config = WriterConfig {
                        lanes,
                        ..WriterConfig::default()
                    };
                    let writer = Writer::spawn(store.clone(), config, WriterHooks::default());
                    let t = Instant::now();
                    for _ in 0..iters {
                        let n = NEXT.fetch_add(1, Ordering::Relaxed);
                        for e in call_effects(n) {
                            if writer.send(ast, COMPANY, e).await.is_err() {
                                panic!("writer stopped");
                            }
                        }
                    }
                    writer.flush().await;
                    let elapsed = t.elapsed();
                    let stats = writer.stats();
                    assert_eq!((stats.applied, stats.dead_letters), (iters * 3, 0));
                    elapsed
                })
            })
        });
    }
    group.finish();
}

fn store_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = rt
        .block_on(AnyStore::connect(&url))
        .unwrap_or_else(|e| panic!("sqlite: {e:?}"));
    bench_store(c, "sqlite", &rt, &sqlite);
    rt.block_on(sqlite.close());

    if std::env::var("BIGCHAT_VOICE_SKIP_PG").is_ok_and(|v| v == "1") {
        eprintln!("store bench: BIGCHAT_VOICE_SKIP_PG=1, PostgreSQL skipped");
        return;
    }
    let base = std::env::var("BIGCHAT_VOICE_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("bench_{:x}", rand::random::<u32>());
    let admin = rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&base).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut conn)
            .await?;
        Ok::<_, sqlx::Error>(conn)
    });
    let mut admin = match admin {
        Ok(a) => a,
        Err(e) => {
            eprintln!("store bench: PostgreSQL unreachable at {base} ({e}); skipped");
            return;
        }
    };
    let url = format!("{base}?options=-csearch_path%3D{schema}");
    let pg = rt
        .block_on(AnyStore::connect(&url))
        .unwrap_or_else(|e| panic!("postgres: {e:?}"));
    bench_store(c, "postgres", &rt, &pg);
    rt.block_on(async {
        pg.close().await;
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(&mut admin)
        .await;
    });
}

criterion_group!(benches, store_benches);
criterion_main!(benches);
