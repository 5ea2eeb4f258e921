//! The background writer: effects wait while the database is away and are
//! all stored, in order, once it is back; refusals are dead-lettered loudly;
//! a full queue makes the producer wait.

mod store_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bigchat_voice::model::{CallStatus, Effect};
use bigchat_voice::store::writer::{Job, Writer, WriterConfig, WriterHooks};
use bigchat_voice::store::{
    AnyStore, Applied, AsteriskRow, AsteriskStatus, CallFilter, CallRecordRow, ContactRow, Store,
    StoreError, TicketRow,
};
use chrono::{DateTime, Utc};
use store_support::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A store that fails the next `fail` applies with a retryable error, and
/// can be paused (applies wait while the gate is closed).
#[derive(Clone)]
struct Faulty<S> {
    inner: S,
    fail: Arc<AtomicU32>,
    attempts: Arc<AtomicU32>,
    gate: watch::Receiver<bool>,
}

impl<S: Store + Clone> Store for Faulty<S> {
    async fn ensure_asterisk(
        &self,
        name: &str,
        host: &str,
        port: u16,
        username: &str,
        company_id: i64,
    ) -> Result<i64, StoreError> {
        self.inner
            .ensure_asterisk(name, host, port, username, company_id)
            .await
    }
    async fn set_asterisk_status(
        &self,
        id: i64,
        status: AsteriskStatus,
    ) -> Result<AsteriskRow, StoreError> {
        self.inner.set_asterisk_status(id, status).await
    }
    async fn map_queues(
        &self,
        a: i64,
        c: i64,
        queues: &[(String, Option<i64>)],
    ) -> Result<(), StoreError> {
        self.inner.map_queues(a, c, queues).await
    }
    async fn apply(&self, a: i64, c: i64, effect: &Effect) -> Result<Applied, StoreError> {
        let mut gate = self.gate.clone();
        let _ = gate.wait_for(|open| *open).await;
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(StoreError::database("pool timed out (injected)", true));
        }
        self.inner.apply(a, c, effect).await
    }
    async fn recent_calls(&self, f: &CallFilter) -> Result<Vec<CallRecordRow>, StoreError> {
        self.inner.recent_calls(f).await
    }
    async fn live_calls(&self, a: i64) -> Result<Vec<CallRecordRow>, StoreError> {
        self.inner.live_calls(a).await
    }
    async fn close_reconciled(
        &self,
        a: i64,
        c: i64,
        u: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Applied>, StoreError> {
        self.inner.close_reconciled(a, c, u, at).await
    }
    async fn find_contact(&self, c: i64, n: &str) -> Result<Option<ContactRow>, StoreError> {
        self.inner.find_contact(c, n).await
    }
    async fn ticket(&self, id: i64) -> Result<Option<TicketRow>, StoreError> {
        self.inner.ticket(id).await
    }
    async fn claim_originate_key(
        &self,
        claim: &bigchat_voice::store::OriginateKey<'_>,
    ) -> Result<bigchat_voice::store::OriginateClaim, StoreError> {
        self.inner.claim_originate_key(claim).await
    }
    async fn find_originate_key(
        &self,
        c: i64,
        key: &str,
        hash: &str,
    ) -> Result<Option<bigchat_voice::store::OriginateClaim>, StoreError> {
        self.inner.find_originate_key(c, key, hash).await
    }
    async fn release_originate_key(&self, c: i64, key: &str, u: &str) -> Result<(), StoreError> {
        self.inner.release_originate_key(c, key, u).await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

fn fast() -> WriterConfig {
    WriterConfig {
        capacity: 64,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(200),
        ..WriterConfig::default()
    }
}

/// `n` complete calls: started, answered, ended.
fn calls(n: usize) -> Vec<Effect> {
    let mut v = Vec::new();
    for i in 0..n {
        let c = inbound(
            &format!("17000000{i:02}.1"),
            &format!("+55119999900{i:02}"),
            i as i64,
        );
        let a = answered(&c, i as i64 + 5, "1001", 7);
        let e = ended(&a, CallStatus::Completed, i as i64 + 65);
        v.extend([
            Effect::CallStarted(c),
            Effect::CallUpdated(a),
            Effect::CallEnded(e),
        ]);
    }
    v
}

async fn sqlite_store() -> (AnyStore, i64, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let store = AnyStore::connect(&url).await.unwrap();
    let ast = store
        .ensure_asterisk("pbx", "h", 5038, "u", 1)
        .await
        .unwrap();
    (store, ast, dir)
}

#[tokio::test]
async fn retryable_errors_are_retried_until_stored_in_order() {
    let (store, ast, _dir) = sqlite_store().await;
    let (_open, gate) = watch::channel(true);
    let faulty = Faulty {
        inner: store.clone(),
        fail: Arc::new(AtomicU32::new(7)),
        attempts: Arc::new(AtomicU32::new(0)),
        gate,
    };
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&order);
    let hooks = WriterHooks {
        on_applied: Some(Box::new(move |job, _| {
            seen.lock().unwrap().push(job.effect.clone());
        })),
        on_dead_letter: None,
    };
    let writer = Writer::spawn(faulty.clone(), fast(), hooks);
    let effects = calls(4);
    for e in &effects {
        writer.send(ast, 1, e.clone()).await.unwrap();
    }
    writer.flush().await;
    let stats = writer.stats();
    assert_eq!(stats.applied, 12);
    assert_eq!(stats.retries, 7);
    assert_eq!(stats.dead_letters, 0);
    assert_eq!(stats.pending(), 0);
    assert_eq!(faulty.attempts.load(Ordering::SeqCst), 12 + 7);
    assert_eq!(*order.lock().unwrap(), effects, "stored in the order sent");
    let rows = store.recent_calls(&CallFilter::default()).await.unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.status == "completed"));
    assert!(writer.shutdown(Duration::from_secs(5)).await.is_ok());
}

#[tokio::test]
async fn refused_effect_is_dead_lettered_and_the_writer_moves_on() {
    let (store, ast, _dir) = sqlite_store().await;
    let letters = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&letters);
    let hooks = WriterHooks {
        on_applied: None,
        on_dead_letter: Some(Box::new(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        })),
    };
    let writer = Writer::spawn(store.clone(), fast(), hooks);
    let effects = calls(2);
    writer.send(ast, 1, effects[0].clone()).await.unwrap();
    // Unknown Asterisk id: a foreign-key violation, never going to work.
    let bad = Effect::CallStarted(inbound("bad.1", "+551100000000", 0));
    writer.send(9999, 1, bad.clone()).await.unwrap();
    for e in &effects[1..] {
        writer.send(ast, 1, e.clone()).await.unwrap();
    }
    let stats = writer
        .shutdown(Duration::from_secs(10))
        .await
        .expect("drained");
    assert_eq!(
        (stats.applied, stats.dead_letters, stats.retries),
        (6, 1, 0)
    );
    assert_eq!(letters.load(Ordering::SeqCst), 1);
    assert_eq!(
        store
            .recent_calls(&CallFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn dead_letters_are_kept_for_inspection() {
    let (store, _ast, _dir) = sqlite_store().await;
    let writer = Writer::spawn(store, fast(), WriterHooks::default());
    let bad = Effect::CallEnded(inbound("bad.1", "+551100000000", 0));
    writer.send(4242, 1, bad.clone()).await.unwrap();
    writer.flush().await;
    let dead = writer.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.effect, bad);
    assert_eq!(dead[0].job.asterisk_id, 4242);
    // The refusal names what is wrong: no such server.
    assert!(
        dead[0].error.contains("no Asterisks row with id 4242"),
        "{}",
        dead[0].error
    );
}

#[tokio::test]
async fn full_queue_makes_the_producer_wait() {
    let (store, ast, _dir) = sqlite_store().await;
    let (open, gate) = watch::channel(false);
    let faulty = Faulty {
        inner: store.clone(),
        fail: Arc::new(AtomicU32::new(0)),
        attempts: Arc::new(AtomicU32::new(0)),
        gate,
    };
    let config = WriterConfig {
        capacity: 2,
        ..fast()
    };
    let writer = Arc::new(Writer::spawn(faulty, config, WriterHooks::default()));
    let effects = calls(2);
    // The task takes one effect and blocks on the gate; two more fill the queue.
    for e in &effects[..3] {
        writer.send(ast, 1, e.clone()).await.unwrap();
    }
    let w = Arc::clone(&writer);
    let rest = effects[3..].to_vec();
    let producer = tokio::spawn(async move {
        for e in rest {
            w.send(ast, 1, e).await.unwrap();
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!producer.is_finished(), "the producer must wait for room");
    assert!(writer.stats().queue_full >= 1);
    assert_eq!(writer.stats().applied, 0);
    open.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), producer)
        .await
        .expect("producer unblocked")
        .unwrap();
    writer.flush().await;
    let stats = writer.stats();
    assert_eq!((stats.sent, stats.applied, stats.dead_letters), (6, 6, 0));
}

/// The byte bound holds even when the count bound has room: with room
/// for three effects' bytes, the fourth waits until the database takes
/// them, and the bytes are given back once stored.
#[tokio::test]
async fn queue_bounded_in_bytes_makes_the_producer_wait() {
    let (store, ast, _dir) = sqlite_store().await;
    let (open, gate) = watch::channel(false);
    let faulty = Faulty {
        inner: store.clone(),
        fail: Arc::new(AtomicU32::new(0)),
        attempts: Arc::new(AtomicU32::new(0)),
        gate,
    };
    let effects = calls(2);
    let bytes = |e: &Effect| Job::new(ast, 1, e.clone()).estimated_bytes();
    let budget: usize = effects[..3].iter().map(bytes).sum();
    assert!(
        effects[..4].iter().map(bytes).all(|b| b > 200),
        "an effect of a call is hundreds of bytes"
    );
    let config = WriterConfig {
        capacity: 1000,
        queue_bytes: budget,
        ..fast()
    };
    let writer = Arc::new(Writer::spawn(faulty, config, WriterHooks::default()));
    // The first three fit (the task holds the first, blocked on the gate).
    for e in &effects[..3] {
        writer.send(ast, 1, e.clone()).await.unwrap();
    }
    assert_eq!(writer.stats().queue_full, 0, "three effects' bytes fit");
    assert_eq!(writer.queued_bytes(), budget);
    let w = Arc::clone(&writer);
    let rest = effects[3..].to_vec();
    let producer = tokio::spawn(async move {
        for e in rest {
            w.send(ast, 1, e).await.unwrap();
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!producer.is_finished(), "the producer must wait for bytes");
    assert_eq!(writer.stats().sent, 3);
    assert!(writer.stats().queue_full >= 1);
    assert!(writer.queued_bytes() <= budget);
    open.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), producer)
        .await
        .expect("producer unblocked")
        .unwrap();
    writer.flush().await;
    let stats = writer.stats();
    assert_eq!((stats.sent, stats.applied, stats.dead_letters), (6, 6, 0));
    assert_eq!(
        writer.queued_bytes(),
        0,
        "stored effects give their bytes back"
    );
    assert_eq!(store.live_calls(ast).await.unwrap().len(), 0);
}

/// An effect larger than the whole byte bound is not stuck: it goes in
/// alone, once the effects before it are stored.
#[tokio::test]
async fn effect_larger_than_the_byte_bound_still_goes_through() {
    let (store, ast, _dir) = sqlite_store().await;
    let config = WriterConfig {
        queue_bytes: 1,
        ..fast()
    };
    let writer = Writer::spawn(store.clone(), config, WriterHooks::default());
    let effects = calls(3);
    for e in &effects {
        tokio::time::timeout(Duration::from_secs(10), writer.send(ast, 1, e.clone()))
            .await
            .expect("not stuck")
            .unwrap();
    }
    writer.flush().await;
    let stats = writer.stats();
    assert_eq!((stats.sent, stats.applied, stats.dead_letters), (9, 9, 0));
    assert!(
        stats.queue_full >= 1,
        "each effect waited for the one before"
    );
    assert_eq!(writer.queued_bytes(), 0);
}

#[tokio::test]
async fn shutdown_reports_unstored_effects_when_the_database_stays_away() {
    let (store, ast, _dir) = sqlite_store().await;
    let faulty = Faulty {
        inner: store,
        fail: Arc::new(AtomicU32::new(u32::MAX)),
        attempts: Arc::new(AtomicU32::new(0)),
        gate: watch::channel(true).1,
    };
    let writer = Writer::spawn(faulty, fast(), WriterHooks::default());
    for e in calls(1) {
        writer.send(ast, 1, e).await.unwrap();
    }
    let res = writer.shutdown(Duration::from_millis(300)).await;
    assert_eq!(res, Err(3), "all three effects reported as not stored");
}

// ------------------------------------------------ real outage (PostgreSQL) --

/// A TCP relay to PostgreSQL that can be cut (listener closed, every
/// relayed connection dropped) and restored on the same port.
struct Relay {
    port: u16,
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(port: u16, upstream: &'static str) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind relay");
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let conns = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let handle = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns.lock().unwrap().push(handle);
            }
        });
        tasks.lock().unwrap().push(accept);
        Relay { port, tasks }
    }

    /// Cuts every connection and stops listening.
    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[tokio::test]
async fn postgres_outage_effects_wait_and_are_stored_when_it_returns() {
    let Some(schema) = create_pg_schema().await else {
        return;
    };
    let base = pg_base_url();
    assert!(
        base.contains("127.0.0.1:5432"),
        "this test relays to 127.0.0.1:5432; BIGCHAT_VOICE_PG_URL={base}"
    );
    let relay = Relay::start(0, "127.0.0.1:5432").await;
    let via_relay = pg_url_with_schema(
        &base.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", relay.port)),
        &schema,
    );
    let store = AnyStore::connect(&via_relay)
        .await
        .expect("connect through relay");
    let ast = store
        .ensure_asterisk("pbx", "h", 5038, "u", 1)
        .await
        .unwrap();
    let writer = Writer::spawn(store, fast(), WriterHooks::default());
    let effects = calls(3);
    writer.send(ast, 1, effects[0].clone()).await.unwrap();
    writer.flush().await;
    assert_eq!(writer.stats().applied, 1);

    // The database goes away.
    relay.cut();
    let port = relay.port;
    for e in &effects[1..] {
        writer.send(ast, 1, e.clone()).await.unwrap();
    }
    // The first failure surfaces when the pool gives up (acquire timeout, 5 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while writer.stats().retries < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during = writer.stats();
    assert_eq!(during.applied, 1, "nothing can be stored during the outage");
    assert!(during.retries >= 1, "the writer keeps retrying: {during:?}");
    assert_eq!(during.dead_letters, 0, "an outage is never a dead letter");

    // It comes back on the same address.
    let _relay = Relay::start(port, "127.0.0.1:5432").await;
    tokio::time::timeout(Duration::from_secs(60), writer.flush())
        .await
        .expect("drained after the database came back");
    let after = writer.stats();
    assert_eq!((after.applied, after.dead_letters), (9, 0), "{after:?}");

    let direct = AnyStore::connect(&pg_url_with_schema(&base, &schema))
        .await
        .unwrap();
    let rows = direct.recent_calls(&CallFilter::default()).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r.status == "completed" && r.duration == 65)
    );
    direct.close().await;
    let _ = writer.shutdown(Duration::from_secs(5)).await;
    drop_pg_schema(&schema).await;
}

/// Several lanes: everything stored, and each call's effects in order.
async fn lanes_keep_each_call_in_order(store: AnyStore) {
    let ast = store
        .ensure_asterisk("pbx", "h", 5038, "u", 1)
        .await
        .unwrap();
    let seen: Arc<std::sync::Mutex<Vec<Effect>>> = Arc::default();
    let log = Arc::clone(&seen);
    let hooks = WriterHooks {
        on_applied: Some(Box::new(move |job, _| {
            log.lock().unwrap().push(job.effect.clone());
        })),
        on_dead_letter: None,
    };
    let config = WriterConfig {
        lanes: 4,
        batch_max: 8,
        ..fast()
    };
    let writer = Writer::spawn(store.clone(), config, hooks);
    let effects = calls(20);
    for e in &effects {
        writer.send(ast, 1, e.clone()).await.unwrap();
    }
    let stats = writer
        .shutdown(Duration::from_secs(30))
        .await
        .expect("drained");
    assert_eq!((stats.applied, stats.dead_letters), (60, 0));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 60);
    for call in effects.chunks(3) {
        let positions: Vec<usize> = call
            .iter()
            .map(|e| seen.iter().position(|s| s == e).expect("stored"))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }
    let rows = store.recent_calls(&CallFilter::default()).await.unwrap();
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r.status == "completed"));
}

#[tokio::test]
async fn sqlite_lanes_keep_each_call_in_order() {
    let (store, _ast, _dir) = sqlite_store().await;
    lanes_keep_each_call_in_order(store).await;
}

#[tokio::test]
async fn postgres_lanes_keep_each_call_in_order() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    lanes_keep_each_call_in_order(db.store.clone()).await;
    db.finish().await;
}

/// Twenty calls of one caller at once on four lanes, each first seen
/// anonymous and identified later (the contact number changes mid-call):
/// every call keeps its lane, and the lanes meet on BigChat's unique keys —
/// one contact, one ticket, every record complete, nothing refused.
async fn one_callers_calls_on_four_lanes(store: AnyStore) {
    let ast = store
        .ensure_asterisk("pbx", "h", 5038, "u", 1)
        .await
        .expect("server");
    let config = WriterConfig {
        lanes: 4,
        batch_max: 4,
        ..fast()
    };
    let seen: Arc<std::sync::Mutex<Vec<Effect>>> = Arc::default();
    let log = Arc::clone(&seen);
    let hooks = WriterHooks {
        on_applied: Some(Box::new(move |job, _| {
            log.lock().unwrap().push(job.effect.clone());
        })),
        on_dead_letter: None,
    };
    let writer = Writer::spawn(store.clone(), config, hooks);
    let mut sent = Vec::new();
    for i in 0..20 {
        let mut c = inbound(&format!("17100000{i:02}.1"), "+5511999990001", i);
        let known = c.clone();
        c.contact_number = "anonymous".into();
        c.caller_id = "anonymous".into();
        let a = answered(&known, i + 5, "1001", 7);
        let e = ended(&a, CallStatus::Completed, i + 65);
        for effect in [
            Effect::CallStarted(c),
            Effect::CallUpdated(a),
            Effect::CallEnded(e),
        ] {
            sent.push(effect.clone());
            writer.send(ast, 1, effect).await.expect("send");
        }
    }
    let stats = writer
        .shutdown(Duration::from_secs(60))
        .await
        .expect("drained");
    assert_eq!((stats.applied, stats.dead_letters), (60, 0));
    // Each call's effects were applied in the order sent (one lane each).
    let seen = seen.lock().unwrap().clone();
    for call in sent.chunks(3) {
        let positions: Vec<usize> = call
            .iter()
            .map(|e| seen.iter().position(|s| s == e).expect("applied"))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }
    let rows = store
        .recent_calls(&{
            let mut c = CallFilter::default();
            c.limit = Some(100);
            c
        })
        .await
        .expect("records");
    assert_eq!(rows.len(), 20);
    assert!(
        rows.iter()
            .all(|r| r.status == "completed" && r.caller_id == "+5511999990001")
    );
    let tickets: std::collections::BTreeSet<_> = rows.iter().map(|r| r.ticket_id).collect();
    assert_eq!(tickets.len(), 1, "one ticket for the caller: {tickets:?}");
}

#[tokio::test]
async fn sqlite_one_callers_calls_on_four_lanes() {
    let (store, _ast, _dir) = sqlite_store().await;
    one_callers_calls_on_four_lanes(store).await;
}

#[tokio::test]
async fn postgres_one_callers_calls_on_four_lanes() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    one_callers_calls_on_four_lanes(db.store.clone()).await;
    db.finish().await;
}

/// Another program holding the SQLite file's write lock for longer than
/// the busy timeout (5 s): the store reports "busy" as retryable, the
/// writer keeps the effects and stores them all, in order, once the lock
/// is released.
#[tokio::test]
async fn sqlite_file_locked_by_another_program_is_waited_for() {
    use sqlx::Connection as _;
    let (store, ast, dir) = sqlite_store().await;
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();

    let effects = calls(2);
    let err = store
        .apply(ast, 1, &effects[0])
        .await
        .expect_err("the file is locked");
    assert!(err.is_retryable(), "busy must be retryable: {err:?}");

    let writer = Writer::spawn(store.clone(), fast(), WriterHooks::default());
    for e in &effects {
        writer.send(ast, 1, e.clone()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    assert_eq!(writer.stats().applied, 0, "nothing can be stored yet");
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let stats = writer
        .shutdown(Duration::from_secs(30))
        .await
        .expect("drained");
    assert_eq!((stats.applied, stats.dead_letters), (6, 0));
    assert!(stats.retries >= 1, "{stats:?}");
    let stored = store.recent_calls(&CallFilter::default()).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|r| r.status == "completed"));
}
