//! `bigchat-voice listen`: the daemon.
//!
//! The pipeline itself — connect, journal, track, store, notify, reconcile
//! on every (re)connect — is the library's
//! [`bigchat_voice::pipeline::Pipeline`]. This command builds
//! one per configured Asterisk server from the configuration, shares one
//! store writer and one set of notification sinks among them, retries a
//! first connection that fails (one server down never stops the others),
//! and handles signals: SIGHUP reloads the `[tracker]` section and reopens
//! notification files; SIGINT/SIGTERM stops reading, stores what is in
//! flight, flushes the sinks, logs off and marks the servers DISCONNECTED
//! (a second signal stops at once, still counting what was not stored).
//!
//! `--replay FILE` feeds a recorded session through the tracker and the
//! store instead (journaled only with `--journal-dir`).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bigchat_voice::model::Effect;
use bigchat_voice::replay::Replay;
use bigchat_voice::store::writer::{Writer, WriterConfig};
use bigchat_voice::store::{AnyStore, AsteriskStatus, Store};
use bigchat_voice::tracker::{Tracker, TrackerConfig};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::args::ListenArgs;
use crate::config::{Server, Settings};
use crate::exit::{Code, coded};
use crate::publish::Publisher;
use crate::signal::{Asked, Signals};
use bigchat_voice::journal::{JournalConfig, Recorder, SyncPolicy};
use bigchat_voice::pipeline::{Losses, Pipeline, PipelineConfig, PipelineStats};
use bigchat_voice::store::writer::Job;

/// How long shutdown waits for the database to take what is in flight.
const DRAIN_GRACE: Duration = Duration::from_secs(30);

/// How long a stopping server task keeps tracking the events it had
/// already received.
const TAIL_GRACE: Duration = Duration::from_secs(2);

/// How long server tasks may take to stop after SIGINT/SIGTERM.
const TASK_STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs the command.
pub async fn run(settings: &Settings, args: &ListenArgs) -> anyhow::Result<()> {
    let store = crate::open_store_for_calls(settings).await?;
    let publisher = Arc::new(Publisher::from_settings(settings, args)?);
    // Stored effects are published; refused ones are logged (with the
    // effect) by the writer itself and counted below.
    let hooks = publisher.notifier().writer_hooks();
    // SQLite has one writer at a time; PostgreSQL gains from parallel
    // lanes (each call stays in order within its lane).
    let lanes = if store.backend_name() == "postgres" {
        4
    } else {
        1
    };
    let writer = Arc::new(Writer::spawn(
        store.clone(),
        WriterConfig {
            lanes,
            queue_bytes: settings.file.store.queue_bytes,
            ..WriterConfig::default()
        },
        hooks,
    ));

    let mut signals = Signals::new();
    let losses = Arc::new(Losses::default());
    let outcome = match &args.replay {
        Some(path) => {
            let summary_to_stderr = publisher.uses_stdout;
            replay(
                settings,
                args,
                &store,
                &writer,
                path,
                summary_to_stderr,
                &mut signals,
            )
            .await
        }
        None => {
            let ctx = (&store, &writer, &publisher, &losses);
            live(settings, args, ctx, &mut signals).await
        }
    };

    // The database gets DRAIN_GRACE to take what is in flight; a signal
    // now (the second, usually) stops at once, still counting what was not
    // stored.
    let urgent = signals.stops() >= 2;
    let give_up = async {
        if urgent {
            return; // asked twice already: do not wait at all
        }
        tokio::select! {
            () = tokio::time::sleep(DRAIN_GRACE) => {}
            () = signals.next_stop() => {
                tracing::warn!("signal while storing: stopping now");
            }
        }
    };
    let drained = match Arc::try_unwrap(writer) {
        Ok(writer) => writer.shutdown_until(give_up).await,
        Err(shared) => {
            drop(give_up);
            // A server task is still holding it (it should not be): at
            // least store what was queued.
            shared.flush().await;
            Ok(shared.stats())
        }
    };
    publisher.close().await;
    if signals.stops() >= 2 {
        // Asked twice: do not wait for a write still blocked on the
        // database (the process ends; an open transaction is rolled back).
        tracing::warn!("not waiting for the database connection to close");
    } else {
        store.close().await;
    }
    match drained {
        Ok(stats) => {
            tracing::info!(
                stored = stats.applied,
                retries = stats.retries,
                refused = stats.dead_letters,
                "all effects handled"
            );
            losses.report();
            if stats.dead_letters > 0 && outcome.is_ok() {
                return Err(coded(
                    Code::Database,
                    format!(
                        "{} effect(s) could not be stored (see the log)",
                        stats.dead_letters
                    ),
                ));
            }
        }
        Err(lost) => {
            losses.report();
            return Err(coded(
                Code::Database,
                format!(
                    "the database stayed unreachable: {lost} effect(s) not stored (see the log)"
                ),
            ));
        }
    }
    outcome
}

/// The calls seen during a replay, for the closing summary: each call's
/// table line as of its last effect, not the whole record (a replay of
/// many calls would otherwise keep a copy of every one of them).
#[derive(Default)]
struct Seen {
    calls: HashMap<Box<str>, (DateTime<Utc>, Box<str>)>,
}

impl Seen {
    fn note(&mut self, effect: &Effect) {
        match effect {
            Effect::CallStarted(c) | Effect::CallUpdated(c) | Effect::CallEnded(c) => {
                let row = crate::cmd_calls::table_row(c).into_boxed_str();
                match self.calls.get_mut(c.unique_id.as_str()) {
                    Some(seen) => *seen = (c.started_at, row),
                    None => {
                        self.calls
                            .insert(c.unique_id.as_str().into(), (c.started_at, row));
                    }
                }
            }
            _ => {}
        }
    }

    fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        if self.calls.is_empty() {
            return writeln!(out, "no calls");
        }
        // As `calls` lists them: by start, then by Linkedid.
        let mut calls: Vec<(&DateTime<Utc>, &Box<str>, &Box<str>)> = self
            .calls
            .iter()
            .map(|(id, (at, row))| (at, id, row))
            .collect();
        calls.sort();
        writeln!(out, "{}", crate::cmd_calls::table_header())?;
        for (_, _, row) in calls {
            writeln!(out, "{row}")?;
        }
        Ok(())
    }
}

async fn replay(
    settings: &Settings,
    args: &ListenArgs,
    store: &AnyStore,
    writer: &Arc<Writer>,
    path: &std::path::Path,
    summary_to_stderr: bool,
    signals: &mut Signals,
) -> anyhow::Result<()> {
    let source = Replay::open(path).map_err(|e| coded(Code::Usage, crate::describe_error(&e)))?;
    // A replay belongs to a named server so that replaying the same file
    // again finds the same rows (idempotent).
    let name = args
        .server
        .server
        .clone()
        .unwrap_or_else(|| "replay".to_owned());
    let asterisk_id =
        crate::register_server_as(store, settings, &name, "replay", 0, "replay").await?;
    let mut tracker = Tracker::new(settings.tracker.clone());
    let mut recorder = match &args.journal_dir {
        Some(root) => {
            let dir = root.join(dir_name(&name));
            let config = journal_settings(settings, args)
                .map(|(_, c)| c)
                .unwrap_or_default();
            let mut rec = Recorder::open(&dir, config).map_err(|e| {
                coded(
                    Code::Usage,
                    format!("journal {}: {}", dir.display(), crate::describe_error(&e)),
                )
            })?;
            // Synced on a blocking thread, as `listen` does: the replay
            // never waits for the disk.
            rec.sync_in_background();
            Some(rec)
        }
        None => None,
    };
    let mut effects = Vec::new();
    let mut seen = Seen::default();
    let mut messages = 0u64;
    let mut stopped = false;
    let mut read_error = None;
    for item in source {
        let (msg, at) = match item {
            Ok(item) => item,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        messages += 1;
        // Replay already fell back to the Timestamp header; else: now.
        let at = at.unwrap_or_else(Utc::now);
        let seq = recorder.as_mut().and_then(|r| r.record(&msg, at));
        tracker.handle_into(&msg, at, &mut effects);
        if let (Some(rec), Some(seq)) = (recorder.as_mut(), seq) {
            rec.note(seq, &effects);
        }
        for (index, effect) in effects.drain(..).enumerate() {
            seen.note(&effect);
            let mut job = Job::new(asterisk_id, settings.company_id, effect);
            if let Some(seq) = seq {
                job = job.at_position(bigchat_voice::journal::effect_position(seq, index));
            }
            writer
                .send_job(job)
                .await
                .map_err(|_| coded(Code::Database, "the database writer stopped"))?;
        }
        // Let Ctrl-C stop a long replay between messages.
        if messages.is_multiple_of(1024) {
            if let Some(rec) = &mut recorder {
                match rec.take_due_sync() {
                    Ok(Some(file)) => {
                        tokio::task::spawn_blocking(move || file.sync_data());
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!("journal sync failed: {}", crate::describe_error(&e)),
                }
            }
            tokio::select! {
                biased;
                asked = signals.next() => match asked {
                    Asked::Stop => stopped = true,
                    Asked::Reload => tracing::info!("SIGHUP: nothing to reload during a replay"),
                },
                _ = tokio::task::yield_now() => {}
            }
            if stopped {
                tracing::warn!(messages, "interrupted; storing what was read");
                break;
            }
        }
    }
    writer.flush().await;
    if let Some(rec) = &mut recorder {
        if let Err(e) = rec.sync() {
            tracing::error!("journal sync failed: {}", crate::describe_error(&e));
        }
        if let Err(e) = rec.release() {
            tracing::warn!(
                "journal: old segments not released: {}",
                crate::describe_error(&e)
            );
        }
    }
    if let Some(e) = read_error {
        let cause = std::error::Error::source(&e)
            .map(|c| c.to_string())
            .unwrap_or_default();
        return Err(coded(
            Code::Usage,
            format!(
                "{}: {e} (the {messages} message(s) before it were stored): {cause}",
                path.display()
            ),
        ));
    }
    tracing::info!(messages, calls = seen.calls.len(), file = %path.display(), "replay finished");
    let mut text = Vec::new();
    seen.print(&mut text)?;
    if summary_to_stderr {
        std::io::stderr().write_all(&text)?;
    } else {
        std::io::stdout().write_all(&text)?;
    }
    Ok(())
}

async fn live(
    settings: &Settings,
    args: &ListenArgs,
    (store, writer, publisher, losses): (&AnyStore, &Arc<Writer>, &Arc<Publisher>, &Arc<Losses>),
    signals: &mut Signals,
) -> anyhow::Result<()> {
    let servers = settings.servers(&args.server)?;
    let journal = journal_settings(settings, args);
    match &journal {
        Some((dir, _)) => tracing::info!(dir = %dir.display(), "journal of received frames"),
        None => tracing::warn!("no journal: a kill or crash loses what was read but not stored"),
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    // SIGHUP sends the tracker configuration read again to every server.
    let (config_tx, config_rx) = watch::channel(settings.tracker.clone());
    let mut tasks = tokio::task::JoinSet::new();
    let retry_first_connect = servers.len() > 1;
    let handles: Vec<Arc<ServerHandle>> = servers
        .iter()
        .map(|s| {
            Arc::new(ServerHandle::new(
                s.config.name.clone(),
                Arc::new(PipelineStats::default()),
            ))
        })
        .collect();
    #[cfg(feature = "api")]
    if let Some(addr) = args.api.or(settings.file.api.listen) {
        let state = crate::api::ApiState {
            servers: handles.clone(),
            writer: writer.clone(),
            store: store.clone(),
            losses: losses.clone(),
            publisher: publisher.clone(),
            journal: journal.is_some(),
            tokens: crate::api::load_tokens(settings)?,
            company_id: settings.company_id,
            tracker: config_rx.clone(),
            dialplan: settings.file.originate.dialplan(),
            control: settings.file.control.clone(),
        };
        crate::api::serve(addr, state).await?;
    }
    for (server, handle) in servers.into_iter().zip(handles) {
        let ctx = ServerTask {
            server,
            settings_company: settings.company_id,
            tracker: Tracker::new(settings.tracker.clone()),
            store: store.clone(),
            writer: writer.clone(),
            publisher: publisher.clone(),
            sync: !args.no_sync,
            stop: stop_rx.clone(),
            retry_first_connect,
            losses: losses.clone(),
            journal: journal.clone(),
            reload: config_rx.clone(),
            handle,
        };
        tasks.spawn(ctx.run());
    }
    let mut first_error = None;
    // Once stopping, server tasks get TASK_STOP_GRACE to finish what they
    // are doing; one stuck on an unavailable database is then stopped (the
    // writer's own drain, below in `run`, reports what was not stored).
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let overdue = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            asked = signals.next() => match asked {
                Asked::Reload => reload(settings, args, (store, publisher, &config_tx)).await,
                Asked::Stop if deadline.is_none() => {
                    tracing::info!("stopping: finishing what is in flight");
                    let _ = stop_tx.send(true);
                    deadline = Some(tokio::time::Instant::now() + TASK_STOP_GRACE);
                }
                Asked::Stop => {
                    tracing::warn!("second signal: stopping now");
                    tasks.abort_all();
                }
            },
            _ = overdue => {
                tracing::warn!(
                    grace_s = TASK_STOP_GRACE.as_secs(),
                    "server tasks still busy (database unavailable?): stopping them"
                );
                tasks.abort_all();
                deadline = None;
            }
            done = tasks.join_next() => match done {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    tracing::error!("{e:#}");
                    first_error.get_or_insert(e);
                    if !*stop_tx.borrow() {
                        let _ = stop_tx.send(true);
                        deadline = Some(tokio::time::Instant::now() + TASK_STOP_GRACE);
                    }
                }
                Some(Err(join)) if join.is_cancelled() => {}
                Some(Err(join)) => {
                    let e = anyhow::anyhow!("a server task failed: {join}");
                    first_error.get_or_insert(e);
                    if !*stop_tx.borrow() {
                        let _ = stop_tx.send(true);
                        deadline = Some(tokio::time::Instant::now() + TASK_STOP_GRACE);
                    }
                }
            },
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// SIGHUP: notification files are reopened (logrotate), and the
/// `[tracker]` section is read again from the configuration file: its
/// extension → user and PBX queue → BigChat queue mappings are checked
/// against BigChat, the queue mapping is written for every server, and
/// every server's tracker uses the new section for what its calls learn
/// next. A configuration that no longer parses, or that names users or
/// queues BigChat lacks, is refused with an error and the running one
/// kept. (Servers, the database and the sinks' addresses take a restart.)
async fn reload(
    settings: &Settings,
    args: &ListenArgs,
    (store, publisher, configs): (&AnyStore, &Publisher, &watch::Sender<TrackerConfig>),
) {
    tracing::info!("SIGHUP: reopening notification files, reloading the [tracker] section");
    publisher.reopen();
    let tracker = match settings.reread_tracker() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("SIGHUP: configuration not reloaded: {e:#}");
            return;
        }
    };
    match store
        .missing_references(
            settings.company_id,
            &tracker.user_list(),
            &tracker.queue_list(),
        )
        .await
    {
        Ok(missing) if missing.is_empty() => {}
        Ok(missing) => {
            tracing::error!(problems = ?missing, "SIGHUP: mappings not reloaded");
            return;
        }
        Err(e) => {
            tracing::error!(
                "SIGHUP: mappings not reloaded: {}",
                crate::describe_error(&e)
            );
            return;
        }
    }
    let Ok(servers) = settings.servers(&args.server) else {
        return;
    };
    let queues = tracker.queue_mapping();
    for server in servers {
        let c = &server.config;
        let mapped = async {
            let id = store
                .ensure_asterisk(&c.name, &c.host, c.port, &c.username, settings.company_id)
                .await?;
            store.map_queues(id, settings.company_id, &queues).await
        };
        match mapped.await {
            Ok(()) => {
                tracing::info!(server = %c.name, queues = queues.len(), "queue mapping reloaded")
            }
            Err(e) => {
                tracing::error!(server = %c.name, "SIGHUP: queue mapping not written: {}", crate::describe_error(&e))
            }
        }
    }
    let users = tracker.user_list().len();
    configs.send_replace(tracker);
    tracing::info!(users, "user mapping reloaded");
}

/// One PBX as the API sees it: its live figures, and its AMI client once
/// logged in.
#[cfg_attr(not(feature = "api"), allow(dead_code))]
pub struct ServerHandle {
    /// Its configured name.
    pub name: String,
    /// Its live figures.
    pub stats: Arc<PipelineStats>,
    /// Its `Asterisks.id`, once registered.
    pub asterisk_id: OnceLock<i64>,
    /// Its AMI client, once connected (the pipeline's own connection).
    pub client: Mutex<Option<ami_client::Client>>,
}

#[cfg_attr(not(feature = "api"), allow(dead_code))]
impl ServerHandle {
    /// A server not registered nor connected yet.
    pub fn new(name: String, stats: Arc<PipelineStats>) -> ServerHandle {
        ServerHandle {
            name,
            stats,
            asterisk_id: OnceLock::new(),
            client: Mutex::new(None),
        }
    }

    /// Its AMI client, if connected once.
    pub fn client(&self) -> Option<ami_client::Client> {
        self.client.lock().ok()?.clone()
    }
}

/// Everything one server's task needs.
struct ServerTask {
    server: Server,
    settings_company: i64,
    tracker: Tracker,
    store: AnyStore,
    writer: Arc<Writer>,
    publisher: Arc<Publisher>,
    sync: bool,
    stop: watch::Receiver<bool>,
    /// Retry a first connection that fails (one of several servers).
    retry_first_connect: bool,
    /// What could not be seen, for the exit summary.
    losses: Arc<Losses>,
    /// Where the journals go, and how they are kept (`None`: no journal).
    journal: Option<(std::path::PathBuf, JournalConfig)>,
    /// The tracker configuration, as SIGHUP reloads it.
    reload: watch::Receiver<TrackerConfig>,
    /// Its live figures and AMI client (read by the API).
    handle: Arc<ServerHandle>,
}

/// The journal directory and settings (`None` with `--no-journal` or
/// `[journal] enabled = false`).
fn journal_settings(
    settings: &Settings,
    args: &ListenArgs,
) -> Option<(std::path::PathBuf, JournalConfig)> {
    let file = &settings.file.journal;
    if args.no_journal || !file.enabled {
        return None;
    }
    let dir = args
        .journal_dir
        .clone()
        .or_else(|| file.dir.clone())
        .unwrap_or_else(|| {
            let url = &settings.database_url;
            let sqlite_file = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .map(|rest| rest.split('?').next().unwrap_or(rest))
                .filter(|path| !path.is_empty() && !path.contains(":memory:"));
            match sqlite_file {
                Some(path) => std::path::PathBuf::from(format!("{path}.voice-journal")),
                None => std::path::PathBuf::from("bigchat-voice-journal"),
            }
        });
    let mut config = JournalConfig::default();
    config.max_bytes = file.max_bytes;
    config.sync = if file.sync_ms == 0 {
        SyncPolicy::Always
    } else {
        SyncPolicy::Interval(Duration::from_millis(file.sync_ms))
    };
    Some((dir, config))
}

/// A server's name as a directory name.
fn dir_name(server: &str) -> String {
    server
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl ServerTask {
    /// The first connection. Alone, a server that cannot be reached stops
    /// the daemon (exit 3, for the service manager to see). One of several
    /// is retried with capped backoff while the others go on, so that one
    /// PBX down never stops recording the calls of the rest; a refused
    /// login (a configuration error) still stops the daemon. `None` when
    /// asked to stop meanwhile.
    async fn first_connect(
        &mut self,
        pipeline: &Pipeline,
    ) -> Option<anyhow::Result<(ami_client::Client, ami_client::EventStream)>> {
        let mut backoff = std::time::Duration::from_secs(1);
        let mut stop = self.stop.clone();
        loop {
            let attempt = tokio::select! {
                r = crate::ami::connect(&self.server, None) => r,
                _ = stop.changed() => return None,
            };
            let e = match attempt {
                Ok(x) => return Some(Ok(x)),
                Err(e) => e,
            };
            if !self.retry_first_connect || crate::exit::code_for(&e) == crate::exit::Code::Auth {
                return Some(Err(e));
            }
            tracing::warn!(
                server = %self.server.config.name,
                retry_in_s = backoff.as_secs(),
                "{e:#}; the other servers go on"
            );
            pipeline.set_status(AsteriskStatus::Disconnected).await;
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return None,
            }
            backoff = (backoff * 2).min(std::time::Duration::from_secs(60));
        }
    }

    async fn run(mut self) -> anyhow::Result<()> {
        let c = self.server.config.clone();
        let asterisk_id = self
            .store
            .ensure_asterisk(&c.name, &c.host, c.port, &c.username, self.settings_company)
            .await?;
        let queues = self.tracker.config().queue_mapping();
        self.store
            .map_queues(asterisk_id, self.settings_company, &queues)
            .await?;
        let mut config = PipelineConfig::new(c.name.clone(), asterisk_id, self.settings_company);
        config.reconcile = self.sync;
        config.tail_grace = TAIL_GRACE;
        config.journal = self
            .journal
            .take()
            .map(|(root, journal)| (root.join(dir_name(&c.name)), journal));
        let tracker = std::mem::replace(&mut self.tracker, Tracker::new(Default::default()));
        let pipeline = Pipeline::open(
            self.store.clone(),
            self.writer.clone(),
            self.publisher.notifier(),
            tracker,
            config,
        )
        .await?
        .with_losses(self.losses.clone())
        .with_reload(self.reload.clone())
        .with_stats(self.handle.stats.clone());
        let _ = self.handle.asterisk_id.set(asterisk_id);
        pipeline.set_status(AsteriskStatus::Connecting).await;
        let (client, stream) = match self.first_connect(&pipeline).await {
            Some(Ok(x)) => x,
            Some(Err(e)) => {
                pipeline.set_status(AsteriskStatus::Disconnected).await;
                return Err(e);
            }
            None => {
                // Stopped before the server could be reached.
                pipeline.set_status(AsteriskStatus::Disconnected).await;
                return Ok(());
            }
        };
        tracing::info!(server = %c.name, version = %client.banner_version().unwrap_or_default(), "connected");
        if let Ok(mut slot) = self.handle.client.lock() {
            *slot = Some(client.clone());
        }
        pipeline
            .run(client, stream, self.stop.clone())
            .await
            .map_err(anyhow::Error::new)
    }
}
