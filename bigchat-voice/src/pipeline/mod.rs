//! The daemon's pipeline for one PBX: connect → journal → track → store →
//! notify, with reconciliation on every (re)connect.
//!
//! ```no_run
//! # async fn demo(store: bigchat_voice::store::AnyStore) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use bigchat_voice::notify::Notifier;
//! use bigchat_voice::pipeline::{Pipeline, PipelineConfig};
//! use bigchat_voice::store::writer::{Writer, WriterConfig};
//! use bigchat_voice::store::Store;
//! use bigchat_voice::tracker::{Tracker, TrackerConfig};
//!
//! let notifier = Notifier::new(); // add sinks: JSON Lines, a webhook…
//! let writer = Arc::new(Writer::spawn(
//!     store.clone(),
//!     WriterConfig::default(),
//!     notifier.clone().writer_hooks(),
//! ));
//! let asterisk_id = store.ensure_asterisk("pbx1", "10.0.0.5", 5038, "bigchat", 1).await?;
//! let mut config = PipelineConfig::new("pbx1", asterisk_id, 1);
//! config.journal = Some(("/var/lib/bigchat-voice/journal/pbx1".into(), Default::default()));
//! let tracker = Tracker::new(TrackerConfig::default());
//! let pipeline = Pipeline::open(store, writer.clone(), notifier, tracker, config).await?;
//! let cfg = ami_client::ClientConfig::builder("10.0.0.5", 5038)
//!     .username("bigchat")
//!     .secret("…")
//!     .build();
//! let (client, events) = ami_client::Client::connect(cfg).await?;
//! let (_stop, stop_rx) = tokio::sync::watch::channel(false);
//! // First the journal of earlier runs is replayed (what a killed daemon
//! // knew is known again); then, until `_stop` sends `true` (or is
//! // dropped), every event is journaled, tracked and stored; reconnects,
//! // lost events and PBX restarts are handled.
//! pipeline.run(client, events, stop_rx).await?;
//! # Ok(()) }
//! ```
//!
//! # Behavior
//! * **The socket never waits for the database.** A reader task appends
//!   every frame read (and every mark: disconnected, reconnected, events
//!   lost) to the journal, then offers it to the tracking side through a
//!   bounded queue. When that queue is full — the database is slow or away
//!   and the writer's queue is full too — the frame is only in the journal,
//!   and the tracking side reads it back from there once it has caught up.
//!   Without a journal, a full queue slows the reader down instead (the AMI
//!   client then drops events, counted as lost).
//!   The reader does not wait for the disk either (interval syncs run on a
//!   blocking thread), with three exceptions: a segment rotation (every
//!   64 MiB) syncs the finished segment, `syncMs = 0` syncs every frame,
//!   and deleting released segments holds the journal's lock briefly.
//! * **Exactly once.** Each effect carries the journal position of its
//!   frame, committed with the call record it changes
//!   ([`Job::position`](crate::store::writer::Job::position)).
//! * **Restart.** [`Pipeline::run`] first replays the kept journal into a
//!   fresh tracker (while the reader already journals new frames): every live call is known again with its agent, recording and
//!   hold time, and what was not stored yet is stored (what was is skipped).
//!   The first reconciliation then ends the calls the PBX no longer has, at
//!   the last moment the journal saw them.
//! * **Loss is said.** Events lost before the journal (the connection down,
//!   `Lagged`), and frames the journal could not take, are logged at WARN
//!   and counted in [`Losses`].

mod classes;
pub mod reconcile;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ami_client::{Client, ConnectionState, EventStream, StreamItem};
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, watch};

use crate::journal::{Cursor, Entry, Frame, JournalConfig, JournalError, Recorder, StreamMark};
use crate::model::Effect;
use crate::notify::Notifier;
use crate::store::writer::{Job, Writer};
use crate::store::{AnyStore, AsteriskStatus, Store, StoreError};
use crate::tracker::{Marker, Tracker, TrackerConfig};

/// How one PBX's pipeline runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PipelineConfig {
    /// The server's name (for the log).
    pub name: String,
    /// Its `Asterisks.id`.
    pub asterisk_id: i64,
    /// The company its calls belong to.
    pub company_id: i64,
    /// This server's journal directory and settings; `None`: no journal (a
    /// kill or crash loses what was read and not stored).
    pub journal: Option<(PathBuf, JournalConfig)>,
    /// Reconcile with the PBX after each (re)connect and lost events.
    pub reconcile: bool,
    /// After a stop, how long the frames already read are still tracked
    /// and handed to the writer.
    pub tail_grace: Duration,
    /// Frames waiting between the reader and the tracking side before the
    /// tracking side reads them back from the journal instead.
    pub queue: usize,
}

impl PipelineConfig {
    /// Journal off, reconciliation on, 2 s of tail grace.
    pub fn new(name: impl Into<String>, asterisk_id: i64, company_id: i64) -> PipelineConfig {
        PipelineConfig {
            name: name.into(),
            asterisk_id,
            company_id,
            journal: None,
            reconcile: true,
            tail_grace: Duration::from_secs(2),
            queue: 4096,
        }
    }
}

/// Why a pipeline stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The journal could not be opened or read.
    #[error("journal {dir}")]
    Journal {
        /// Its directory.
        dir: String,
        /// What went wrong.
        #[source]
        source: JournalError,
    },
    /// The store writer stopped (effects can no longer be handed on).
    #[error("the database writer stopped")]
    WriterStopped,
    /// The database refused something the pipeline cannot go on without.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Events the pipeline could not see, for the exit summary: calls that
/// started and ended inside such a gap are not recorded (calls still live
/// are reconciled with the PBX, and flagged `reconciled`). One `Losses`
/// may be shared by the pipelines of several servers.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Losses {
    /// Events dropped before reaching the journal (`Lagged`).
    pub events_missed: AtomicU64,
    /// Times the AMI link was lost and came back.
    pub outages: AtomicU64,
    /// Their total length, in milliseconds.
    pub outage_ms: AtomicU64,
    /// Frames the journal could not take (full or unwritable).
    pub unjournaled: AtomicU64,
}

impl Losses {
    fn lagged(&self, server: &str, missed: u64) {
        self.events_missed.fetch_add(missed, Ordering::Relaxed);
        tracing::warn!(
            server,
            missed,
            "AMI events lost before the journal: calls still live are reconciled with the PBX; \
             calls that started and ended among the lost events are not recorded"
        );
    }

    fn outage(&self, server: &str, from: DateTime<Utc>, to: DateTime<Utc>) {
        let ms = u64::try_from((to - from).num_milliseconds()).unwrap_or(0);
        self.outages.fetch_add(1, Ordering::Relaxed);
        self.outage_ms.fetch_add(ms, Ordering::Relaxed);
        tracing::warn!(
            server,
            from = %from.to_rfc3339(),
            to = %to.to_rfc3339(),
            seconds = ms / 1000,
            "not connected to the PBX: calls still live are reconciled; \
             calls that started and ended in this gap are not recorded"
        );
    }

    /// True when anything was lost.
    pub fn any(&self) -> bool {
        self.events_missed.load(Ordering::Relaxed) > 0
            || self.outages.load(Ordering::Relaxed) > 0
            || self.unjournaled.load(Ordering::Relaxed) > 0
    }

    /// One WARN line when anything was not seen or not journaled.
    pub fn report(&self) {
        if !self.any() {
            return;
        }
        tracing::warn!(
            events_lost = self.events_missed.load(Ordering::Relaxed),
            outages = self.outages.load(Ordering::Relaxed),
            outage_seconds = self.outage_ms.load(Ordering::Relaxed) / 1000,
            unjournaled = self.unjournaled.load(Ordering::Relaxed),
            "events not seen during this run (see the warnings above)"
        );
    }
}

/// Live figures of one pipeline, for health checks and metrics (updated
/// as it runs; read them any time).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct PipelineStats {
    /// Frames tracked (events and marks).
    pub frames: AtomicU64,
    /// Calls being followed now.
    pub live_calls: AtomicU64,
    /// Times the AMI connection came back.
    pub reconnects: AtomicU64,
    /// The AMI connection is up (logged in) now.
    pub connected: std::sync::atomic::AtomicBool,
    /// Frames journaled.
    pub journaled: AtomicU64,
}

/// What the reader hands the tracking side.
enum Incoming {
    /// A journaled frame, at position `seq`.
    Frame {
        seq: u64,
        at: DateTime<Utc>,
        frame: Frame,
    },
    /// A frame the journal could not take; `after`: the last position
    /// journaled before it.
    Unjournaled {
        after: u64,
        at: DateTime<Utc>,
        frame: Frame,
    },
    /// The connection's state changed (for the `Asterisks` row).
    Status(AsteriskStatus),
}

/// How far the reader has journaled.
#[derive(Debug, Default)]
struct Progress {
    /// The last position appended.
    appended: AtomicU64,
    /// Signalled when a journaled frame could not be queued.
    behind: Notify,
}

/// How often (in frames) the journal is trimmed.
const RELEASE_EVERY: u32 = 4096;

/// The most a connected PBX's journal goes without a record: a quiet one
/// gets a [`StreamMark::Alive`].
const ALIVE_EVERY: Duration = Duration::from_secs(1);

/// How often the reader checks whether the journal is due a sync.
const SYNC_CHECK: Duration = Duration::from_millis(50);

/// Records read back from the journal at a time.
const READ_BATCH: usize = 512;

/// One PBX's pipeline. See the [module docs](self).
pub struct Pipeline {
    config: PipelineConfig,
    tracker: Tracker,
    store: AnyStore,
    writer: Arc<Writer>,
    notifier: Notifier,
    losses: Arc<Losses>,
    recorder: Option<Arc<Mutex<Recorder>>>,
    /// The next journal position to track.
    cursor: Cursor,
    /// The last moment the live calls were known to be alive, while the
    /// connection is (or was) lost; taken by the next reconciliation.
    lost_at: Option<DateTime<Utc>>,
    frames_since_release: u32,
    effects: Vec<Effect>,
    /// A mark or effect asked for reconciliation: done once caught up.
    reconcile_pending: bool,
    /// Journal positions below this were read by an earlier run: replayed,
    /// not reported again.
    replay_until: u64,
    /// The PBX, while running (reconciliation asks it).
    client: Option<Client>,
    /// New tracker configurations (a reload), if the owner sends any.
    reload: Option<watch::Receiver<TrackerConfig>>,
    stats: Arc<PipelineStats>,
    /// Read classes the stream shows missing (warned once each).
    classes: classes::ClassWatch,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("config", &self.config)
            .field("live_calls", &self.tracker.live_calls().len())
            .field("next", &self.cursor.next_seq())
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Opens the server's journal (if configured); [`run`](Self::run)
    /// replays it into `tracker` (a fresh one) first.
    pub async fn open(
        store: AnyStore,
        writer: Arc<Writer>,
        notifier: Notifier,
        tracker: Tracker,
        config: PipelineConfig,
    ) -> Result<Pipeline, PipelineError> {
        let recorder = match &config.journal {
            Some((dir, journal)) => {
                let rec = Recorder::open(dir, journal.clone()).map_err(|source| {
                    PipelineError::Journal {
                        dir: dir.display().to_string(),
                        source,
                    }
                })?;
                Some(Arc::new(Mutex::new(rec)))
            }
            None => None,
        };
        let first = recorder
            .as_ref()
            .map_or(0, |r| lock(r).journal().first_seq());
        let mut pipeline = Pipeline {
            config,
            tracker,
            store,
            writer,
            notifier,
            losses: Arc::new(Losses::default()),
            recorder,
            cursor: Cursor::at(first),
            lost_at: None,
            frames_since_release: 0,
            effects: Vec::new(),
            reconcile_pending: false,
            replay_until: 0,
            client: None,
            reload: None,
            stats: Arc::new(PipelineStats::default()),
            classes: classes::ClassWatch::default(),
        };
        pipeline.replay_until = pipeline
            .recorder
            .as_ref()
            .map_or(0, |r| lock(r).journal().next_seq());
        Ok(pipeline)
    }

    /// Counts losses into `losses` (shared with other pipelines, say)
    /// instead of a counter of its own.
    #[must_use]
    pub fn with_losses(mut self, losses: Arc<Losses>) -> Pipeline {
        self.losses = losses;
        self
    }

    /// Takes each configuration sent on `configs` for the tracker, between
    /// two frames (a reload: new extension → user and queue mappings).
    #[must_use]
    pub fn with_reload(mut self, configs: watch::Receiver<TrackerConfig>) -> Pipeline {
        self.reload = Some(configs);
        self
    }

    /// Updates `stats` (made by the owner, for its health checks) instead of
    /// figures of its own.
    #[must_use]
    pub fn with_stats(mut self, stats: Arc<PipelineStats>) -> Pipeline {
        self.stats = stats;
        self
    }

    /// Its live figures (shared: keep a clone to read them while it runs).
    pub fn stats(&self) -> &Arc<PipelineStats> {
        &self.stats
    }

    /// What this pipeline could not see.
    pub fn losses(&self) -> &Arc<Losses> {
        &self.losses
    }

    /// The tracker (the calls followed now).
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// Replaces the tracker's configuration for new calls (a reload).
    pub fn tracker_mut(&mut self) -> &mut Tracker {
        &mut self.tracker
    }

    /// Records the connection's status in the `Asterisks` row and publishes
    /// it; a failure is logged (the status is informative).
    pub async fn set_status(&self, status: AsteriskStatus) {
        match self
            .store
            .set_asterisk_status(self.config.asterisk_id, status)
            .await
        {
            Ok(row) => self.notifier.publish_asterisk(self.config.company_id, &row),
            Err(e) => {
                tracing::warn!(server = %self.config.name, "cannot record the connection status: {}", crate::error_chain(&e))
            }
        }
    }

    /// Tracks the frames an earlier run journaled but may not have
    /// stored: the live calls are known again (agent, recording, hold
    /// time); effects already stored are skipped by the store.
    async fn replay(&mut self) -> Result<(), PipelineError> {
        let Some(rec) = self.recorder.clone() else {
            return Ok(());
        };
        let (mut frames, mut last_at) = (0u64, None);
        let mut batch = Vec::with_capacity(READ_BATCH);
        while self.cursor.next_seq() < self.replay_until {
            // Only this run's predecessors' frames: the ones read since
            // are tracked as live (their marks reported, their time not
            // taken for "last seen").
            let left = self.replay_until - self.cursor.next_seq();
            let max = usize::try_from(left).unwrap_or(READ_BATCH).min(READ_BATCH);
            self.read_journal(&rec, &mut batch, max)?;
            if batch.is_empty() {
                break;
            }
            for entry in batch.drain(..) {
                frames += 1;
                last_at = Some(entry.at);
                self.handle(Some(entry.seq), entry.at, entry.frame).await?;
            }
        }
        if frames > 0 {
            tracing::info!(
                server = %self.config.name,
                frames,
                live = self.tracker.live_calls().len(),
                "journal replayed"
            );
            if !self.tracker.live_calls().is_empty() {
                // Seen alive until then; the first reconciliation ends the
                // ones the PBX no longer has, no earlier.
                self.lost_at = last_at;
            }
        }
        Ok(())
    }

    fn read_journal(
        &mut self,
        rec: &Mutex<Recorder>,
        out: &mut Vec<Entry>,
        max: usize,
    ) -> Result<(), PipelineError> {
        // The lock only for the snapshot: the reader goes on appending
        // while the records are read from the files.
        let snapshot = lock(rec).journal().snapshot();
        crate::journal::read_entries(&snapshot, &mut self.cursor, max, out).map_err(|source| {
            PipelineError::Journal {
                dir: self
                    .config
                    .journal
                    .as_ref()
                    .map(|(d, _)| d.display().to_string())
                    .unwrap_or_default(),
                source,
            }
        })
    }

    /// Tracks the journaled frames not tracked yet, up to position `to`.
    async fn catch_up(&mut self, to: u64) -> Result<(), PipelineError> {
        let Some(rec) = self.recorder.clone() else {
            return Ok(());
        };
        let mut batch = Vec::with_capacity(READ_BATCH);
        while self.cursor.next_seq() <= to {
            // Never past `to`: the frames after it are the caller's.
            let left = to + 1 - self.cursor.next_seq();
            let max = usize::try_from(left).unwrap_or(READ_BATCH).min(READ_BATCH);
            self.read_journal(&rec, &mut batch, max)?;
            if batch.is_empty() {
                break;
            }
            for entry in batch.drain(..) {
                self.handle(Some(entry.seq), entry.at, entry.frame).await?;
            }
        }
        Ok(())
    }

    /// Tracks one frame and hands its effects to the writer. Marks read
    /// by this run (not replayed) are reported and recorded.
    async fn handle(
        &mut self,
        seq: Option<u64>,
        at: DateTime<Utc>,
        frame: Frame,
    ) -> Result<(), PipelineError> {
        let live = seq.is_none_or(|s| s >= self.replay_until);
        let mut effects = std::mem::take(&mut self.effects);
        match frame {
            Frame::Event(msg) => {
                if live && let Some(gap) = self.classes.see(&msg) {
                    tracing::warn!(server = %self.config.name, "{gap}");
                }
                self.tracker.handle_into(&msg, at, &mut effects)
            }
            Frame::Mark(StreamMark::Disconnected) => {
                self.lost_at.get_or_insert(at);
                if live {
                    self.stats.connected.store(false, Ordering::Relaxed);
                    self.set_status(AsteriskStatus::Disconnected).await;
                }
            }
            Frame::Mark(StreamMark::Reconnected) => {
                if live {
                    self.stats.connected.store(true, Ordering::Relaxed);
                    self.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                    if let Some(from) = self.lost_at {
                        self.losses.outage(&self.config.name, from, at);
                    }
                    self.set_status(AsteriskStatus::Connected).await;
                }
                effects.extend(self.tracker.handle_marker(Marker::Reconnected, at));
            }
            Frame::Mark(StreamMark::Alive) => {}
            Frame::Mark(StreamMark::Lagged { missed }) => {
                if live {
                    self.losses.lagged(&self.config.name, missed);
                }
                self.lost_at.get_or_insert(at);
                effects.extend(self.tracker.handle_marker(Marker::Lagged { missed }, at));
            }
        }
        self.stats.frames.fetch_add(1, Ordering::Relaxed);
        if let Some(seq) = seq {
            self.cursor.skip_to(seq + 1);
            if let Some(rec) = &self.recorder {
                lock(rec).note(seq, &effects);
            }
        }
        let calls_changed = effects.iter().any(|e| {
            matches!(
                e,
                Effect::CallStarted(_) | Effect::CallEnded(_) | Effect::OriginateFailed { .. }
            )
        });
        let result = self.submit(seq, &mut effects).await;
        self.effects = effects;
        result?;
        if calls_changed {
            let following = self.tracker.live_count() as u64;
            self.stats.live_calls.store(following, Ordering::Relaxed);
        }
        // Right after the frame that asked for it (a reconnect, lost
        // events): the frames before it are tracked, the ones after it not
        // yet (a restarted PBX's FullyBooted must not end the calls first).
        if live
            && self.reconcile_pending
            && let Some(client) = self.client.clone()
        {
            self.reconcile(&client).await;
        }
        self.frames_since_release += 1;
        if self.frames_since_release >= RELEASE_EVERY {
            self.release();
        }
        Ok(())
    }

    /// Hands `effects` (drained) to the writer, with their frame's position.
    async fn submit(
        &mut self,
        seq: Option<u64>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), PipelineError> {
        for (index, effect) in effects.drain(..).enumerate() {
            if matches!(effect, Effect::NeedsReconciliation { .. }) {
                self.reconcile_pending = true;
            }
            let mut job = Job::new(self.config.asterisk_id, self.config.company_id, effect);
            if let Some(seq) = seq {
                job = job.at_position(crate::journal::effect_position(seq, index));
            }
            self.writer
                .send_job(job)
                .await
                .map_err(|_| PipelineError::WriterStopped)?;
        }
        Ok(())
    }

    /// Once everything handed on is stored: releases the journal segments
    /// nothing needs.
    fn release(&mut self) {
        let Some(rec) = &self.recorder else {
            return;
        };
        if self.writer.stats().pending() > 0 {
            return;
        }
        self.frames_since_release = 0;
        let mut rec = lock(rec);
        rec.retain_live(&self.tracker);
        if let Err(e) = rec.release() {
            tracing::warn!(server = %self.config.name, "journal: old segments not released: {}", crate::error_chain(&e));
        }
    }

    /// Reconciles with the PBX (when configured): what is queued is
    /// stored first, then the plan is carried out.
    async fn reconcile(&mut self, client: &Client) {
        self.reconcile_pending = false;
        if !self.config.reconcile {
            return;
        }
        self.writer.flush().await;
        let writer = self.writer.clone();
        let ids = (self.config.asterisk_id, self.config.company_id);
        let notifier = self.notifier.clone();
        let result = reconcile::run(
            client,
            &self.store,
            ids,
            &mut self.tracker,
            self.lost_at.take(),
            false,
            |effect| {
                let writer = writer.clone();
                async move {
                    writer
                        .send_job(Job::new(ids.0, ids.1, effect))
                        .await
                        .map_err(|e| e.to_string())
                }
            },
            // Records ended in the database only reach the agents' screens too.
            |applied| notifier.publish_applied(ids.1, applied),
        )
        .await;
        let following = self.tracker.live_count() as u64;
        self.stats.live_calls.store(following, Ordering::Relaxed);
        match result {
            Ok(summary) => tracing::info!(server = %self.config.name, "sync: {summary}"),
            Err(e) => {
                tracing::warn!(server = %self.config.name, "sync failed: {}", crate::error_chain(&e))
            }
        }
    }

    /// Runs until `stop` turns `true` (or its sender is dropped) or the
    /// event stream ends: the connection is marked CONNECTED, reconciled,
    /// and every frame journaled, tracked and handed to the writer. On
    /// stop, the connection is closed (Logoff) and the frames already read
    /// are still tracked within [`PipelineConfig::tail_grace`]; frames
    /// journaled but not tracked by then are tracked by the next run.
    pub async fn run(
        mut self,
        client: Client,
        stream: EventStream,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), PipelineError> {
        let progress = Arc::new(Progress::default());
        progress
            .appended
            .store(self.cursor.next_seq().saturating_sub(1), Ordering::Relaxed);
        let (tx, mut rx) = mpsc::channel(self.config.queue.max(1));
        let reader = AbortOnDrop(tokio::spawn(read_stream(
            stream,
            client.state(),
            self.recorder.clone(),
            tx,
            (progress.clone(), self.stats.clone()),
        )));
        // The reader runs first: nothing from here on waits for the
        // database before the frames are journaled.
        self.stats.connected.store(true, Ordering::Relaxed);
        self.set_status(AsteriskStatus::Connected).await;
        // What an earlier run journaled first (new frames are journaled
        // meanwhile), then the reconciliation with the PBX.
        let result = self.replay().await;
        self.client = Some(client.clone());
        if result.is_ok() {
            self.reconcile(&client).await;
        }
        let result = if let Err(e) = result {
            Err(e)
        } else {
            loop {
                let step = tokio::select! {
                    biased;
                    changed = stop.changed() => {
                        if changed.is_err() || *stop.borrow() {
                            break Ok(());
                        }
                        Ok(())
                    }
                    Some(config) = next_config(&mut self.reload) => {
                        tracing::info!(server = %self.config.name, "tracker configuration reloaded");
                        self.tracker.set_config(config);
                        Ok(())
                    }
                    () = progress.behind.notified() => {
                        self.catch_up(progress.appended.load(Ordering::Acquire)).await
                    }
                    item = rx.recv() => match item {
                        None => break Ok(()),
                        Some(item) => self.take(item).await,
                    },
                };
                if let Err(e) = step {
                    break Err(e);
                }
            }
        };
        client.close().await;
        self.client = None;
        // What was read before the stop: tracked within the tail grace.
        let deadline = tokio::time::Instant::now() + self.config.tail_grace;
        let tail = async {
            while let Some(item) = rx.recv().await {
                self.take(item).await?;
            }
            self.catch_up(progress.appended.load(Ordering::Acquire))
                .await
        };
        match tokio::time::timeout_at(deadline, tail).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(server = %self.config.name, "tracking after the stop: {}", crate::error_chain(&e))
            }
            Err(_) => tracing::warn!(
                server = %self.config.name,
                "frames still untracked at the stop: the next start tracks them from the journal"
            ),
        }
        drop(reader);
        if let Some(rec) = &self.recorder {
            let mut rec = lock(rec);
            if let Err(e) = rec.sync() {
                tracing::error!(server = %self.config.name, "journal sync at stop failed: {}", crate::error_chain(&e));
            }
            self.losses
                .unjournaled
                .fetch_add(rec.unjournaled(), Ordering::Relaxed);
        }
        self.stats.connected.store(false, Ordering::Relaxed);
        self.set_status(AsteriskStatus::Disconnected).await;
        result
    }

    /// One item from the reader.
    async fn take(&mut self, item: Incoming) -> Result<(), PipelineError> {
        match item {
            Incoming::Status(status) => {
                self.set_status(status).await;
                Ok(())
            }
            Incoming::Frame { seq, at, frame } => {
                let next = self.cursor.next_seq();
                if seq < next {
                    return Ok(()); // tracked already, read from the journal
                }
                if seq > next {
                    self.catch_up(seq - 1).await?;
                    if seq < self.cursor.next_seq() {
                        return Ok(()); // the read-back reached it
                    }
                }
                self.handle(Some(seq), at, frame).await
            }
            Incoming::Unjournaled { after, at, frame } => {
                // What was journaled before it comes first, and only that.
                self.catch_up(after).await?;
                self.handle(None, at, frame).await
            }
        }
    }
}

/// The reader: every item of the event stream and every lost connection,
/// journaled, then offered to the tracking side.
async fn read_stream(
    mut stream: EventStream,
    mut state: watch::Receiver<ConnectionState>,
    recorder: Option<Arc<Mutex<Recorder>>>,
    tx: mpsc::Sender<Incoming>,
    (progress, stats): (Arc<Progress>, Arc<PipelineStats>),
) {
    let mut state_open = true;
    let mut connected = true;
    let mut last = tokio::time::Instant::now();
    let mut alive = tokio::time::interval(ALIVE_EVERY / 2);
    let mut sync_tick = tokio::time::interval(SYNC_CHECK);
    let mut syncing: Option<tokio::task::JoinHandle<()>> = None;
    if let Some(rec) = &recorder {
        lock(rec).sync_in_background();
    }
    loop {
        let (frame, at) = tokio::select! {
            biased;
            _ = sync_tick.tick(), if recorder.is_some() => {
                // One sync at a time, on a blocking thread: reading the
                // socket never waits for the disk.
                if syncing.as_ref().is_some_and(|h| !h.is_finished()) {
                    continue;
                }
                let due = recorder.as_ref().map(|rec| lock(rec).take_due_sync());
                match due {
                    Some(Ok(Some(file))) => {
                        syncing = Some(tokio::task::spawn_blocking(move || {
                            if let Err(e) = file.sync_data() {
                                tracing::error!(error = %crate::error_chain(&e), "journal sync failed");
                            }
                        }));
                    }
                    Some(Err(e)) => tracing::error!(error = %crate::error_chain(&e), "journal sync failed"),
                    _ => {}
                }
                continue;
            }
            _ = alive.tick(), if recorder.is_some() => {
                // Ticks every half period: the journal's newest record is
                // never more than ALIVE_EVERY old while connected.
                if !connected || last.elapsed() < ALIVE_EVERY / 2 {
                    continue;
                }
                (Frame::Mark(StreamMark::Alive), Utc::now())
            }
            changed = state.changed(), if state_open => {
                if changed.is_err() {
                    state_open = false;
                    continue;
                }
                let now = state.borrow_and_update().clone();
                connected = now.is_connected();
                match now {
                    ConnectionState::Disconnected { reason } => {
                        tracing::warn!(%reason, "disconnected from the PBX; reconnecting");
                        (Frame::Mark(StreamMark::Disconnected), Utc::now())
                    }
                    ConnectionState::Connecting => {
                        let _ = tx.try_send(Incoming::Status(AsteriskStatus::Connecting));
                        continue;
                    }
                    _ => continue,
                }
            }
            item = stream.recv() => match item {
                Some(StreamItem::Event(msg)) => (Frame::Event(msg), Utc::now()),
                Some(StreamItem::Lagged { missed }) => {
                    (Frame::Mark(StreamMark::Lagged { missed }), Utc::now())
                }
                Some(StreamItem::Reconnected { version }) => {
                    tracing::info!(%version, "reconnected to the PBX");
                    (Frame::Mark(StreamMark::Reconnected), Utc::now())
                }
                Some(_) => continue,
                None => return,
            },
        };
        // At the journal's resolution, journaled or not: replayed, the
        // frame has the time it had live.
        let at = crate::journal::frame_time(at);
        last = tokio::time::Instant::now();
        let seq = recorder.as_ref().and_then(|rec| {
            let mut rec = lock(rec);
            match &frame {
                Frame::Event(msg) => rec.record(msg, at),
                Frame::Mark(mark) => rec.record_mark(*mark, at),
            }
        });
        match seq {
            Some(seq) => {
                progress.appended.store(seq, Ordering::Release);
                stats.journaled.fetch_add(1, Ordering::Relaxed);
                match tx.try_send(Incoming::Frame { seq, at, frame }) {
                    Ok(()) => {}
                    // In the journal: read back from there once caught up.
                    Err(mpsc::error::TrySendError::Full(_)) => progress.behind.notify_one(),
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
            None => {
                // No journal (or it cannot take it): the frame waits here,
                // and the AMI client's own buffer behind it.
                let item = Incoming::Unjournaled {
                    after: progress.appended.load(Ordering::Acquire),
                    at,
                    frame,
                };
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The next configuration sent for the tracker; pending forever when there
/// is no reload channel (or its sender is gone).
async fn next_config(reload: &mut Option<watch::Receiver<TrackerConfig>>) -> Option<TrackerConfig> {
    match reload {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(rx.borrow_and_update().clone()),
            Err(_) => {
                *reload = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// A task stopped when its handle is dropped (the reader dies with the
/// pipeline, even when `run` is cancelled).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn lock(rec: &Mutex<Recorder>) -> MutexGuard<'_, Recorder> {
    rec.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
