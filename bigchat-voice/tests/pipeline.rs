//! The pipeline against a fake Asterisk: the socket never waits for the
//! database, and a restart replays the journal without doubling anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ami_client::Client;
use ami_client::testkit::{FakeAsterisk, ReplayOptions, load_capture};
use bigchat_voice::journal::JournalConfig;
use bigchat_voice::notify::{MemorySink, Notifier};
use bigchat_voice::pipeline::{Losses, Pipeline, PipelineConfig};
use bigchat_voice::store::writer::{Writer, WriterConfig};
use bigchat_voice::store::{AnyStore, CallFilter, CallRecordRow, Store};
use bigchat_voice::tracker::{Tracker, TrackerConfig};
use bytes::Bytes;
use std::sync::atomic::Ordering;

fn capture(name: &str) -> Vec<Bytes> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/captures")
        .join(format!("{name}.server.ami"));
    load_capture(
        &path,
        &ReplayOptions {
            pace: None,
            events_only: true,
        },
    )
    .expect("capture")
    .messages
    .into_iter()
    .map(|m| m.bytes)
    .collect()
}

/// Copy `n` of the answered and recorded inbound call, its ids (and so
/// its recording's name) and its bridge rewritten: the messages of each.
fn copies_by_message(n: usize) -> Vec<Vec<Bytes>> {
    let one = capture("inbound-answered-recorded");
    (0..n)
        .map(|i| {
            one.iter()
                .map(|m| {
                    let text = String::from_utf8(m.to_vec()).expect("utf-8 capture");
                    let copy = text
                        .replace("1795515777.", &format!("{}.", 1_700_000_000 + i))
                        .replace(
                            "a416ddf6-3284-4365-b75e-8c0ec3896a2d",
                            &format!("a416ddf6-3284-4365-b75e-{i:012}"),
                        );
                    Bytes::from(copy)
                })
                .collect()
        })
        .collect()
}

/// The same, one write per call.
fn copies(n: usize) -> Vec<Bytes> {
    copies_by_message(n)
        .into_iter()
        .map(|call| Bytes::from(call.concat()))
        .collect()
}

/// Sends the calls one after the other, as a busy PBX would (not a
/// wire-speed dump: a reader that never waits keeps up with it easily).
async fn emit(fake: &FakeAsterisk, calls: &[Bytes]) {
    for call in calls {
        fake.emit_raw(call.clone()).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    db: PathBuf,
    journal: PathBuf,
    store: AnyStore,
    asterisk_id: i64,
    fake: FakeAsterisk,
}

async fn setup() -> Setup {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("voice.db");
    let store = AnyStore::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("store");
    let fake = FakeAsterisk::start().await.expect("fake asterisk");
    let asterisk_id = store
        .ensure_asterisk("pbx", "127.0.0.1", fake.port(), "bigchat", 1)
        .await
        .expect("server row");
    Setup {
        journal: dir.path().join("journal"),
        _dir: dir,
        db,
        store,
        asterisk_id,
        fake,
    }
}

/// A small writer queue, so that a locked database fills it at once.
fn writer(store: &AnyStore, notifier: &Notifier) -> Arc<Writer> {
    Arc::new(Writer::spawn(
        store.clone(),
        WriterConfig {
            capacity: 16,
            batch_max: 8,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            ..WriterConfig::default()
        },
        notifier.clone().writer_hooks(),
    ))
}

struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), bigchat_voice::pipeline::PipelineError>>,
    losses: Arc<Losses>,
}

/// Connects to the fake (with a small event buffer, 1,024 events: a reader
/// that waited for the database would overflow it) and runs a pipeline.
async fn start(s: &Setup, writer: &Arc<Writer>, notifier: &Notifier, journal: bool) -> Running {
    let journal = journal.then(JournalConfig::default);
    start_with(s, writer, notifier, journal).await
}

async fn start_with(
    s: &Setup,
    writer: &Arc<Writer>,
    notifier: &Notifier,
    journal: Option<JournalConfig>,
) -> Running {
    let mut config = PipelineConfig::new("pbx", s.asterisk_id, 1);
    config.reconcile = false;
    config.queue = 16;
    config.journal = journal.map(|j| (s.journal.clone(), j));
    // A pipeline killed just before (its task aborted) lets go of the
    // journal once the runtime has dropped its reader task, which may take
    // a moment on another worker thread.
    let mut attempts = 0;
    let pipeline = loop {
        let opened = Pipeline::open(
            s.store.clone(),
            writer.clone(),
            notifier.clone(),
            Tracker::new(TrackerConfig::default()),
            config.clone(),
        )
        .await;
        match opened {
            Err(bigchat_voice::pipeline::PipelineError::Journal {
                source: bigchat_voice::journal::JournalError::InUse { .. },
                ..
            }) if attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            other => break other.expect("open"),
        }
    };
    let losses = pipeline.losses().clone();
    let cfg = s.fake.client_config().event_buffer(1024).build();
    let (client, events) = Client::connect(cfg).await.expect("connect");
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(pipeline.run(client, events, stop_rx));
    Running { stop, task, losses }
}

async fn stop(r: Running) -> Arc<Losses> {
    let _ = r.stop.send(true);
    r.task.await.expect("join").expect("pipeline");
    r.losses
}

async fn wait_completed(store: &AnyStore, n: usize) -> Vec<CallRecordRow> {
    let mut rows = Vec::new();
    for _ in 0..300 {
        rows = store
            .recent_calls(&{
                let mut c = CallFilter::default();
                c.limit = Some(10_000);
                c
            })
            .await
            .expect("calls");
        if rows.iter().filter(|r| r.status == "completed").count() == n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {n} completed calls: {rows:#?}");
}

/// What a record says about its call (not its row ids or write times).
fn essence(rows: &[CallRecordRow]) -> BTreeMap<String, String> {
    rows.iter()
        .map(|r| {
            let v = format!(
                "{} {} {:?} {:?} {} {}",
                r.status,
                r.direction,
                r.agent_extension,
                r.recording_url,
                r.talk_time,
                r.reconciled
            );
            (r.unique_id.clone(), v)
        })
        .collect()
}

/// The database locked by another writer while a burst arrives (3,000
/// events): the writer's queue fills, the tracking side waits, and the
/// reader goes on journaling, so the AMI client's 1,024-event buffer never
/// overflows and nothing is lost. Without the journal the same burst
/// overflows it: the loss is counted, never silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_during_a_burst_loses_nothing() {
    const CALLS: usize = 40;
    for journal in [true, false] {
        let s = setup().await;
        let notifier = Notifier::new();
        let w = writer(&s.store, &notifier);
        let run = start(&s, &w, &notifier, journal).await;
        let lock = rusqlite::Connection::open(&s.db).expect("second connection");
        lock.execute_batch("BEGIN EXCLUSIVE").expect("lock");
        emit(&s.fake, &copies(CALLS)).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        lock.execute_batch("ROLLBACK").expect("unlock");
        drop(lock);
        if journal {
            let rows = wait_completed(&s.store, CALLS).await;
            let losses = stop(run).await;
            assert_eq!(losses.events_missed.load(Ordering::Relaxed), 0);
            assert!(w.stats().queue_full > 0, "the writer's queue filled");
            assert_eq!(rows.len(), CALLS);
            assert!(
                rows.iter().all(|r| r.recording_url.is_some()
                    && r.agent_extension.as_deref() == Some("1001")
                    && !r.reconciled),
                "{rows:#?}"
            );
        } else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let losses = stop(run).await;
            assert!(
                losses.events_missed.load(Ordering::Relaxed) > 0,
                "without a journal the reader waits and the client's buffer overflows"
            );
        }
        s.store.close().await;
    }
}

/// The notifications about each call's record, by call, in order.
fn record_notes(notes: &[bigchat_voice::notify::Notification]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in notes {
        let json: serde_json::Value = serde_json::from_str(&n.to_json()).expect("json");
        let Some(id) = json
            .pointer("/payload/call/uniqueId")
            .and_then(|v| v.as_str())
        else {
            continue;
        };
        let record = &json["payload"]["call"];
        out.entry(id.to_owned()).or_default().push(format!(
            "{} {} {}",
            record["status"], record["recordingUrl"], record["agentExtension"]
        ));
    }
    out
}

/// Stopped (as by a kill) in the middle of a call, with frames journaled
/// but not stored, the next run replays the journal: the records end
/// exactly as if it had never stopped, and no record is published twice
/// or goes back to an older state (the journal positions stored with the
/// records skip what was stored already).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_replays_the_journal_without_doubling() {
    const CALLS: usize = 6;
    let calls = copies_by_message(CALLS);
    let cut = calls[0]
        .iter()
        .position(|m| m.starts_with(b"Event: BridgeEnter"))
        .expect("a BridgeEnter")
        + 2;
    // Calls 0..3 whole, call 3 up to its answer; then the rest.
    let mut first: Vec<Bytes> = calls[..3].iter().map(|c| Bytes::from(c.concat())).collect();
    first.push(Bytes::from(calls[3][..cut].concat()));
    let mut rest = vec![Bytes::from(calls[3][cut..].concat())];
    rest.extend(calls[4..].iter().map(|c| Bytes::from(c.concat())));

    let s = setup().await;
    let sink = Arc::new(MemorySink::new());
    let notifier = Notifier::new().with_sink(sink.clone());
    let w = writer(&s.store, &notifier);
    let run = start(&s, &w, &notifier, true).await;
    emit(&s.fake, &first[..3]).await;
    // Call 3 stored up to its answer, then the database locked: its last
    // frames are journaled, not stored.
    emit(&s.fake, &[Bytes::from(calls[3][..cut - 6].concat())]).await;
    wait_until_stored(&s.store, 4).await;
    let lock = rusqlite::Connection::open(&s.db).expect("second connection");
    lock.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    emit(&s.fake, &[Bytes::from(calls[3][cut - 6..cut].concat())]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Killed: the pipeline dropped, no tail, no flush.
    run.task.abort();
    let _ = run.task.await;
    drop(run.stop);
    lock.execute_batch("ROLLBACK").expect("unlock");
    drop(lock);
    // What was in flight may still reach the database (as a database
    // commits what it had): the replay must cope with both.
    w.flush().await;

    let run = start(&s, &w, &notifier, true).await;
    s.fake.wait_until(|f| f.logins().len() >= 2).await;
    emit(&s.fake, &rest).await;
    let rows = wait_completed(&s.store, CALLS).await;
    stop(run).await;
    w.flush().await;
    let got = record_notes(&sink.take());

    // One uninterrupted run.
    let clean = setup().await;
    let clean_sink = Arc::new(MemorySink::new());
    let clean_notifier = Notifier::new().with_sink(clean_sink.clone());
    let cw = writer(&clean.store, &clean_notifier);
    let run = start(&clean, &cw, &clean_notifier, true).await;
    emit(&clean.fake, &copies(CALLS)).await;
    let want_rows = wait_completed(&clean.store, CALLS).await;
    stop(run).await;
    cw.flush().await;
    let want = record_notes(&clean_sink.take());

    assert_eq!(essence(&rows), essence(&want_rows));
    assert_eq!(got, want, "each record published once per change, in order");
}

async fn wait_until_stored(store: &AnyStore, n: usize) {
    for _ in 0..300 {
        let rows = store
            .recent_calls(&CallFilter::default())
            .await
            .expect("calls");
        if rows.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {n} records");
}

/// A journal that fills up (here after about one call) does not stop
/// anything: the frames it cannot take go through memory, in order with
/// the journaled ones, every call is stored, and the count says how many
/// frames were not journaled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_journal_is_counted_and_loses_nothing() {
    const CALLS: usize = 6;
    let s = setup().await;
    let notifier = Notifier::new();
    let w = writer(&s.store, &notifier);
    let mut small = JournalConfig::default();
    small.max_bytes = 48 * 1024;
    let run = start_with(&s, &w, &notifier, Some(small)).await;
    emit(&s.fake, &copies(CALLS)).await;
    let rows = wait_completed(&s.store, CALLS).await;
    let losses = stop(run).await;
    let unjournaled = losses.unjournaled.load(Ordering::Relaxed);
    assert!(unjournaled > 0, "the journal filled up");
    assert_eq!(losses.events_missed.load(Ordering::Relaxed), 0);
    assert!(
        rows.iter()
            .all(|r| r.recording_url.is_some() && !r.reconciled),
        "{rows:#?}"
    );
}
