//! The background writer: "no call is ever lost".
//!
//! Tracking must never wait for the database, and an effect must never be
//! dropped because the database was away for a while. [`Writer`] owns a
//! [`Store`] in a task and applies the effects sent to it, in order.
//!
//! # Behavior
//! * **Order.** Effects are applied in the order sent (a call's `CallEnded`
//!   is never applied before its `CallStarted`). With several
//!   [`lanes`](WriterConfig::lanes), the order is kept per call (a call's
//!   effects all go to the lane of its Linkedid); different calls are
//!   stored in parallel (two calls of one contact meet on BigChat's unique
//!   keys: whichever commits second finds the first's contact and ticket).
//! * **Batches.** What is waiting in the queue (up to
//!   [`WriterConfig::batch_max`]) is stored in one transaction
//!   ([`Store::apply_many`]): one commit for a burst instead of one per
//!   effect. If the batch is refused for a non-retryable reason, its effects
//!   are applied again one by one, so only the culprit is dead-lettered.
//! * **Retry.** An error for which [`StoreError::is_retryable`] is true
//!   (database unreachable, connection lost, pool timeout, busy/locked) keeps
//!   the effect at the head of the queue and retries it with capped
//!   exponential backoff and jitter (`warn!` each retry, `error!` every tenth)
//!   until it is stored. Nothing behind it overtakes it.
//! * **Back-pressure.** The queue is bounded twice: in effects
//!   ([`WriterConfig::capacity`]) and in bytes
//!   ([`WriterConfig::queue_bytes`], an estimate of what the waiting jobs
//!   hold: see [`Job::estimated_bytes`]). A job holds its bytes from
//!   [`Writer::send`] until it is stored or dead-lettered. When either
//!   bound is reached, [`Writer::send`] waits for room (the producer slows
//!   down rather than losing effects), counts it in
//!   [`WriterStats::queue_full`] and logs an `error!` (at most one every
//!   10 s, with the waits so far). A job larger than the whole byte bound
//!   is let in once the queue is empty of bytes.
//! * **Dead letters.** An effect refused for a non-retryable reason
//!   (constraint or data error) is logged at `error!`, kept in
//!   [`Writer::dead_letters`], passed to the `on_dead_letter` hook, and the
//!   writer moves on to the next effect.
//! * **Drain.** [`Writer::flush`] returns once everything sent before it is
//!   stored (or dead-lettered); [`Writer::shutdown`] drains and stops, and
//!   reports how many effects it could not store within its grace period.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Applied, Store, StoreError};
use crate::model::Effect;

/// One effect to store, with the Asterisk server and company it belongs to.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Job {
    /// `Asterisks.id` of the server the effect came from.
    pub asterisk_id: i64,
    /// The company.
    pub company_id: i64,
    /// The effect.
    pub effect: Effect,
    /// The journal position of the effect, if it came from a journaled
    /// frame ([`effect_position`](crate::journal::effect_position): the
    /// frame's record number and the effect's index in it). It is
    /// committed with the call record it changes; an effect whose position
    /// is below the record's is skipped (a frame replayed after a restart
    /// changes nothing already stored, and publishes nothing again).
    pub position: Option<u64>,
}

impl Job {
    /// An effect for server `asterisk_id` of company `company_id`, with no
    /// journal position.
    pub fn new(asterisk_id: i64, company_id: i64, effect: Effect) -> Job {
        Job {
            asterisk_id,
            company_id,
            effect,
            position: None,
        }
    }

    /// An estimate of the memory this job holds while it waits in the
    /// writer's queue: its own size (as a queue slot) plus the capacity of
    /// every string it owns. Allocator overhead is not counted (a few
    /// bytes to a few tens of bytes per string, depending on the
    /// allocator). This is what [`WriterConfig::queue_bytes`] bounds.
    pub fn estimated_bytes(&self) -> usize {
        fn opt(s: &Option<String>) -> usize {
            s.as_ref().map_or(0, String::capacity)
        }
        let heap = match &self.effect {
            Effect::CallStarted(c) | Effect::CallUpdated(c) | Effect::CallEnded(c) => {
                c.unique_id.capacity()
                    + c.caller_id.capacity()
                    + opt(&c.caller_name)
                    + c.called_number.capacity()
                    + c.contact_number.capacity()
                    + opt(&c.contact_name)
                    + opt(&c.agent_extension)
                    + opt(&c.recording_file)
                    + opt(&c.recording_url)
                    + opt(&c.queue)
                    + opt(&c.classification)
            }
            Effect::NeedsReconciliation { unique_ids } => {
                unique_ids.capacity() * std::mem::size_of::<String>()
                    + unique_ids.iter().map(String::capacity).sum::<usize>()
            }
            Effect::OriginateFailed { unique_id, .. } => unique_id.capacity(),
            Effect::PbxRestarted { .. } => 0,
        };
        std::mem::size_of::<Command>() + heap
    }

    /// The same job, from the journaled frame `seq`.
    #[must_use]
    pub fn at_position(mut self, seq: u64) -> Job {
        self.position = Some(seq);
        self
    }
}

/// An effect the store refused for good.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// What could not be stored.
    pub job: Job,
    /// The error, with its sources, as text.
    pub error: String,
}

/// Tuning for [`Writer`].
#[derive(Debug, Clone, PartialEq)]
pub struct WriterConfig {
    /// Effects waiting to be stored before [`Writer::send`] waits.
    pub capacity: usize,
    /// Bytes (estimated by [`Job::estimated_bytes`]) the waiting effects
    /// may hold before [`Writer::send`] waits, in addition to
    /// `capacity`. Each lane gets its share. Default
    /// [`DEFAULT_QUEUE_BYTES`].
    pub queue_bytes: usize,
    /// First retry delay.
    pub initial_backoff: Duration,
    /// Largest retry delay.
    pub max_backoff: Duration,
    /// Most effects stored in one transaction (see [`Store::apply_many`]).
    pub batch_max: usize,
    /// Parallel writers (each with its own connection and its share of
    /// `capacity`). Effects are assigned by the call's Linkedid, so a
    /// call's effects keep their order. 1 suits SQLite
    /// (one writer at a time anyway); 4 suits PostgreSQL.
    pub lanes: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            capacity: 10_000,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            batch_max: 256,
            lanes: 1,
        }
    }
}

/// The default byte bound of the writer's queue: 2 MiB, about 2,500
/// effects of a typical call (an effect of a recorded inbound call is
/// about 800 bytes by [`Job::estimated_bytes`]), ten batches of
/// [`WriterConfig::batch_max`]: enough to ride out a slow commit, small
/// next to the daemon's other memory.
pub const DEFAULT_QUEUE_BYTES: usize = 2 * 1024 * 1024;

/// Most dead letters kept for [`Writer::dead_letters`] (the oldest are
/// forgotten first; each is also logged at `error!` when it happens).
pub const MAX_KEPT_DEAD_LETTERS: usize = 1000;

/// Hook called after each stored effect.
pub type OnApplied = Box<dyn Fn(&Job, &Applied) + Send + Sync>;
/// Hook called for each effect refused for good.
pub type OnDeadLetter = Box<dyn Fn(&DeadLetter) + Send + Sync>;

/// Callbacks run by the writer task (keep them quick: they run in line).
#[derive(Default)]
pub struct WriterHooks {
    /// Called after each stored effect (e.g. to publish notifications).
    pub on_applied: Option<OnApplied>,
    /// Called for each effect refused for good.
    pub on_dead_letter: Option<OnDeadLetter>,
}

impl fmt::Debug for WriterHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterHooks")
            .field("on_applied", &self.on_applied.is_some())
            .field("on_dead_letter", &self.on_dead_letter.is_some())
            .finish()
    }
}

/// Counters of a [`Writer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Effects accepted by [`Writer::send`].
    pub sent: u64,
    /// Effects stored.
    pub applied: u64,
    /// Retries after retryable errors.
    pub retries: u64,
    /// Effects refused for good.
    pub dead_letters: u64,
    /// Times [`Writer::send`] found the queue full and had to wait.
    pub queue_full: u64,
}

impl WriterStats {
    /// Effects sent but not yet stored or dead-lettered.
    pub fn pending(&self) -> u64 {
        self.sent.saturating_sub(self.applied + self.dead_letters)
    }
}

/// Least time between two logs of a full writer queue (each wait is
/// counted in [`WriterStats::queue_full`] all the same).
const FULL_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The writer is gone (its task ended): the effect was not queued.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the store writer has stopped")]
pub struct WriterClosed(pub Job);

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    applied: AtomicU64,
    retries: AtomicU64,
    dead_letters: AtomicU64,
    queue_full: AtomicU64,
    /// When a full queue was last logged: at most once per
    /// [`FULL_LOG_EVERY`] (a reader much faster than the database fills and
    /// drains the queue many times a second).
    full_logged: std::sync::Mutex<Option<std::time::Instant>>,
    /// Lanes waiting to retry a retryable error now.
    retrying: AtomicU64,
}

// Nearly every command is an `Apply`: boxing it would only add an
// allocation per effect.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// A job and the bytes of the lane's budget it holds until stored.
    Apply(Job, OwnedSemaphorePermit),
    Flush(oneshot::Sender<()>),
}

/// Handle to the background writer task. See the module docs.
#[derive(Debug)]
pub struct Writer {
    lanes: Vec<mpsc::Sender<Command>>,
    /// Each lane's byte budget (permits are bytes).
    budgets: Vec<Arc<Semaphore>>,
    /// Each lane's share of [`WriterConfig::queue_bytes`].
    lane_bytes: u32,
    capacity: usize,
    queue_bytes: usize,
    counters: Arc<Counters>,
    dead: Arc<Mutex<Vec<DeadLetter>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn<S: Store + Clone>(store: S, config: WriterConfig, hooks: WriterHooks) -> Writer {
        let capacity = config.capacity.max(1);
        let lane_count = config.lanes.clamp(1, capacity);
        let queue_bytes = config.queue_bytes.max(1);
        // Permits are acquired as u32s: a lane's share is capped there
        // (4 GiB, far above any sane bound).
        let lane_bytes = u32::try_from((queue_bytes / lane_count).max(1)).unwrap_or(u32::MAX);
        let mut budgets = Vec::with_capacity(lane_count);
        let counters = Arc::new(Counters::default());
        let dead = Arc::new(Mutex::new(Vec::new()));
        let hooks = Arc::new(hooks);
        let mut lanes = Vec::with_capacity(lane_count);
        let mut tasks = Vec::with_capacity(lane_count);
        for _ in 0..lane_count {
            let (tx, rx) = mpsc::channel((capacity / lane_count).max(1));
            let runner = Runner {
                store: store.clone(),
                config: config.clone(),
                hooks: Arc::clone(&hooks),
                counters: Arc::clone(&counters),
                dead: Arc::clone(&dead),
            };
            lanes.push(tx);
            budgets.push(Arc::new(Semaphore::new(lane_bytes as usize)));
            tasks.push(tokio::spawn(run(runner, rx)));
        }
        Writer {
            lanes,
            budgets,
            lane_bytes,
            capacity,
            queue_bytes,
            counters,
            dead,
            tasks,
        }
    }

    /// Queues one effect. Waits while the queue is full (back-pressure).
    pub async fn send(
        &self,
        asterisk_id: i64,
        company_id: i64,
        effect: Effect,
    ) -> Result<(), WriterClosed> {
        self.send_job(Job::new(asterisk_id, company_id, effect))
            .await
    }

    /// Queues one job (an effect with its journal position, say). Waits
    /// while the queue is full (back-pressure).
    pub async fn send_job(&self, job: Job) -> Result<(), WriterClosed> {
        let lane = lane_of(&job.effect, self.lanes.len());
        let tx = &self.lanes[lane];
        let budget = &self.budgets[lane];
        // A job larger than the lane's whole budget waits for all of it.
        let bytes = u32::try_from(job.estimated_bytes())
            .unwrap_or(u32::MAX)
            .clamp(1, self.lane_bytes);
        let mut waited = false;
        let permit = match Arc::clone(budget).try_acquire_many_owned(bytes) {
            Ok(permit) => permit,
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                self.note_full("bytes");
                waited = true;
                match Arc::clone(budget).acquire_many_owned(bytes).await {
                    Ok(permit) => permit,
                    Err(_) => return Err(WriterClosed(job)),
                }
            }
            Err(tokio::sync::TryAcquireError::Closed) => return Err(WriterClosed(job)),
        };
        let cmd = match tx.try_send(Command::Apply(job, permit)) {
            Ok(()) => {
                self.counters.sent.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            Err(mpsc::error::TrySendError::Closed(Command::Apply(job, _))) => {
                return Err(WriterClosed(job));
            }
            Err(mpsc::error::TrySendError::Full(cmd)) => cmd,
            Err(mpsc::error::TrySendError::Closed(Command::Flush(_))) => {
                unreachable!("only Apply is sent here")
            }
        };
        if !waited {
            self.note_full("effects");
        }
        match tx.send(cmd).await {
            Ok(()) => {
                self.counters.sent.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::SendError(Command::Apply(job, _))) => Err(WriterClosed(job)),
            Err(mpsc::error::SendError(Command::Flush(_))) => unreachable!("only Apply is sent"),
        }
    }

    /// Counts a wait for room; logs it unless another was logged less than
    /// [`FULL_LOG_EVERY`] ago.
    fn note_full(&self, bound: &'static str) {
        let waits = self.counters.queue_full.fetch_add(1, Ordering::Relaxed) + 1;
        let Ok(mut logged) = self.counters.full_logged.lock() else {
            return;
        };
        let now = std::time::Instant::now();
        if logged.is_some_and(|at| now.duration_since(at) < FULL_LOG_EVERY) {
            return;
        }
        *logged = Some(now);
        tracing::error!(
            capacity = self.capacity,
            queue_bytes = self.queue_bytes,
            bound,
            waits_total = waits,
            "store writer queue full: the database is not keeping up; call tracking waits"
        );
    }

    /// Estimated bytes ([`Job::estimated_bytes`]) held by the effects
    /// waiting to be stored now, all lanes together.
    pub fn queued_bytes(&self) -> usize {
        self.budgets
            .iter()
            .map(|b| (self.lane_bytes as usize).saturating_sub(b.available_permits()))
            .sum()
    }

    /// Waits until every effect sent before this call is stored or
    /// dead-lettered. Returns immediately if the writer has stopped.
    pub async fn flush(&self) {
        let mut waits = Vec::with_capacity(self.lanes.len());
        for tx in &self.lanes {
            let (done, wait) = oneshot::channel();
            if tx.send(Command::Flush(done)).await.is_ok() {
                waits.push(wait);
            }
        }
        for wait in waits {
            let _ = wait.await;
        }
    }

    /// True while some lane is retrying (the database is away or busy
    /// now); false once its effects are stored.
    pub fn is_retrying(&self) -> bool {
        self.counters.retrying.load(Ordering::Relaxed) > 0
    }

    /// Current counters.
    pub fn stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            sent: c.sent.load(Ordering::Relaxed),
            applied: c.applied.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dead_letters: c.dead_letters.load(Ordering::Relaxed),
            queue_full: c.queue_full.load(Ordering::Relaxed),
        }
    }

    /// The last [`MAX_KEPT_DEAD_LETTERS`] effects refused for good.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.dead.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Drains the queue and stops the task. If effects are still unstored
    /// after `grace` (the database stayed away), stops anyway, logs an
    /// `error!` and returns `Err(count)` of the effects not stored.
    pub async fn shutdown(self, grace: Duration) -> Result<WriterStats, u64> {
        self.shutdown_until(tokio::time::sleep(grace)).await
    }

    /// As [`shutdown`](Writer::shutdown), giving up when `stop` resolves
    /// instead of after a fixed grace (e.g. the grace or a second signal,
    /// whichever comes first).
    pub async fn shutdown_until(
        self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<WriterStats, u64> {
        let drained = tokio::select! {
            biased;
            () = self.flush() => true,
            () = stop => false,
        };
        let stats = self.stats();
        let Writer { lanes, tasks, .. } = self;
        drop(lanes);
        if drained {
            for task in tasks {
                let _ = task.await;
            }
            Ok(stats)
        } else {
            for task in &tasks {
                task.abort();
            }
            let lost = stats.pending();
            tracing::error!(
                unstored = lost,
                "store writer stopped with effects not stored (database unavailable)"
            );
            Err(lost)
        }
    }
}

/// The lane of an effect: by the call's Linkedid (FNV-1a), which never
/// changes during the call, so a call keeps one lane for its whole life
/// (its contact number may: an anonymous caller identified later).
/// Effects without a call go to lane 0.
fn lane_of(effect: &Effect, lanes: usize) -> usize {
    if lanes <= 1 {
        return 0;
    }
    let unique_id = match effect {
        Effect::CallStarted(c) | Effect::CallUpdated(c) | Effect::CallEnded(c) => &c.unique_id,
        Effect::OriginateFailed { unique_id, .. } => unique_id,
        _ => return 0,
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in unique_id.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % lanes as u64) as usize
}

async fn run<S: Store>(runner: Runner<S>, mut rx: mpsc::Receiver<Command>) {
    let batch_max = runner.config.batch_max.max(1);
    let mut commands = Vec::with_capacity(batch_max);
    let mut batch: Vec<Job> = Vec::with_capacity(batch_max);
    // The batch's bytes are given back once it is stored.
    let mut held: Vec<OwnedSemaphorePermit> = Vec::with_capacity(batch_max);
    while rx.recv_many(&mut commands, batch_max).await > 0 {
        for cmd in commands.drain(..) {
            match cmd {
                Command::Apply(job, permit) => {
                    batch.push(job);
                    held.push(permit);
                }
                Command::Flush(done) => {
                    runner.store_batch(&batch).await;
                    batch.clear();
                    held.clear();
                    let _ = done.send(());
                }
            }
        }
        runner.store_batch(&batch).await;
        batch.clear();
        held.clear();
    }
}

struct Runner<S> {
    store: S,
    config: WriterConfig,
    hooks: Arc<WriterHooks>,
    counters: Arc<Counters>,
    dead: Arc<Mutex<Vec<DeadLetter>>>,
}

impl<S: Store> Runner<S> {
    /// Stores a batch in one transaction, retrying while the database is
    /// unavailable; isolates the culprit when the batch is refused.
    async fn store_batch(&self, batch: &[Job]) {
        match batch {
            [] => return,
            [job] => return self.store_one(job).await,
            _ => {}
        }
        let mut backoff = self.config.initial_backoff;
        let mut attempt: u64 = 0;
        let mut retrying = Retrying::new(&self.counters);
        loop {
            match self.store.apply_many(batch).await {
                Ok(applied) => {
                    self.counters
                        .applied
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if attempt > 0 {
                        tracing::info!(
                            attempts = attempt + 1,
                            effects = batch.len(),
                            "database back: effects stored"
                        );
                    }
                    if let Some(hook) = &self.hooks.on_applied {
                        for (job, applied) in batch.iter().zip(&applied) {
                            hook(job, applied);
                        }
                    }
                    return;
                }
                Err(e) if e.is_retryable() => {
                    attempt += 1;
                    retrying.arm();
                    backoff = self.wait_retry(attempt, backoff, &e).await;
                }
                Err(e) => {
                    tracing::debug!(error = %chain(&e), effects = batch.len(), "batch refused; storing its effects one by one");
                    for job in batch {
                        self.store_one(job).await;
                    }
                    return;
                }
            }
        }
    }

    async fn store_one(&self, job: &Job) {
        let mut backoff = self.config.initial_backoff;
        let mut attempt: u64 = 0;
        let mut retrying = Retrying::new(&self.counters);
        loop {
            match self
                .store
                .apply(job.asterisk_id, job.company_id, &job.effect)
                .await
            {
                Ok(applied) => {
                    self.counters.applied.fetch_add(1, Ordering::Relaxed);
                    if attempt > 0 {
                        tracing::info!(attempts = attempt + 1, "database back: effect stored");
                    }
                    if let Some(hook) = &self.hooks.on_applied {
                        hook(job, &applied);
                    }
                    return;
                }
                Err(e) if e.is_retryable() => {
                    attempt += 1;
                    retrying.arm();
                    backoff = self.wait_retry(attempt, backoff, &e).await;
                }
                Err(e) => {
                    self.counters.dead_letters.fetch_add(1, Ordering::Relaxed);
                    let letter = DeadLetter {
                        job: job.clone(),
                        error: chain(&e),
                    };
                    tracing::error!(
                        asterisk_id = job.asterisk_id,
                        effect = ?job.effect,
                        error = %letter.error,
                        "effect refused by the database: dead-lettered, not stored"
                    );
                    if let Some(hook) = &self.hooks.on_dead_letter {
                        hook(&letter);
                    }
                    if let Ok(mut d) = self.dead.lock() {
                        // The newest are kept; every one was logged in full.
                        if d.len() >= MAX_KEPT_DEAD_LETTERS {
                            d.remove(0);
                        }
                        d.push(letter);
                    }
                    return;
                }
            }
        }
    }

    /// Logs, counts and sleeps before a retry; returns the next backoff.
    async fn wait_retry(&self, attempt: u64, backoff: Duration, e: &StoreError) -> Duration {
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        let delay = jittered(backoff);
        if attempt.is_multiple_of(10) {
            tracing::error!(attempt, error = %chain(e), "database still unavailable; effects are queued, not lost");
        } else {
            tracing::warn!(attempt, retry_in_ms = delay.as_millis() as u64, error = %chain(e), "database unavailable; will retry");
        }
        tokio::time::sleep(delay).await;
        (backoff * 2).min(self.config.max_backoff)
    }
}

/// Counts a lane as retrying from its first retry until the store call
/// that was retried returns (stored, refused, or the task stopped).
struct Retrying<'a> {
    counters: &'a Counters,
    armed: bool,
}

impl<'a> Retrying<'a> {
    fn new(counters: &'a Counters) -> Retrying<'a> {
        Retrying {
            counters,
            armed: false,
        }
    }

    fn arm(&mut self) {
        if !self.armed {
            self.armed = true;
            self.counters.retrying.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Retrying<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.counters.retrying.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// `backoff` ± 25 %.
fn jittered(backoff: Duration) -> Duration {
    let factor = 0.75 + rand::random::<f64>() * 0.5;
    backoff.mul_f64(factor)
}

/// The error and all its sources on one line.
fn chain(e: &StoreError) -> String {
    crate::error_chain(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Call, Direction};

    /// The estimate counts the strings a job owns: a longer recording
    /// path, a longer estimate, by at least its length.
    #[test]
    fn estimated_bytes_follow_the_strings() {
        let t = chrono::DateTime::UNIX_EPOCH;
        let call = Call::ringing("1795515777.0", Direction::Inbound, t);
        let bare = Job::new(1, 1, Effect::CallStarted(call.clone())).estimated_bytes();
        assert!(bare >= std::mem::size_of::<Command>() + "1795515777.0".len());
        let mut recorded = call;
        let path = "/var/spool/asterisk/monitor/".repeat(10);
        recorded.recording_file = Some(path.clone());
        let more = Job::new(1, 1, Effect::CallUpdated(recorded)).estimated_bytes();
        assert!(
            more >= bare + path.len(),
            "{more} vs {bare} + {}",
            path.len()
        );
        let ids: Vec<String> = (0..100).map(|i| format!("1795515777.{i}")).collect();
        let reconcile = Job::new(1, 1, Effect::NeedsReconciliation { unique_ids: ids });
        assert!(reconcile.estimated_bytes() > 100 * (12 + std::mem::size_of::<String>()));
    }

    /// A call keeps its lane when its contact number changes (an anonymous
    /// caller identified later), and its failed Originate follows it.
    #[test]
    fn a_call_keeps_one_lane() {
        let t = chrono::DateTime::UNIX_EPOCH;
        for i in 0..64 {
            let unique_id = format!("1795515777.{i}");
            let mut call = Call::ringing(&unique_id, Direction::Inbound, t);
            call.contact_number = "anonymous".into();
            let started = lane_of(&Effect::CallStarted(call.clone()), 4);
            call.contact_number = format!("551199999{i:04}");
            assert_eq!(lane_of(&Effect::CallUpdated(call.clone()), 4), started);
            assert_eq!(lane_of(&Effect::CallEnded(call), 4), started);
            let failed = Effect::OriginateFailed { unique_id, at: t };
            assert_eq!(lane_of(&failed, 4), started);
        }
    }
}
