//! Reconciliation: what to do when the PBX's list of channels and the
//! database's live records disagree with what the tracker followed.
//!
//! [`plan`] decides (no I/O: it is tested from recordings); [`run`] asks the
//! PBX, reads the database and carries the plan out.

use std::collections::HashSet;

use ami_client::Client;
use ami_proto::{Action, Message};
use chrono::{DateTime, Utc};

use crate::model::Effect;
use crate::store::{Applied, CallRecordRow, Store, StoreError};
use crate::tracker::Tracker;

/// What reconciliation found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Calls the PBX has right now.
    pub pbx_calls: usize,
    /// Records the database held as live before.
    pub db_live: usize,
    /// Live calls neither the database nor the tracker knew, now created.
    pub created: usize,
    /// Live records the PBX no longer has, now ended.
    pub closed: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PBX has {} live call(s); database had {} live record(s); {} created, {} ended",
            self.pbx_calls, self.db_live, self.created, self.closed
        )
    }
}

/// What to do to bring the tracker and the database in line with the PBX.
#[derive(Debug, Default, Clone, PartialEq)]
#[non_exhaustive]
pub struct Plan {
    /// Effects to store, in order: calls the PBX has that the tracker did
    /// not follow (rebuilt from its channel list, flagged `reconciled`), and calls the
    /// tracker followed that the PBX no longer has (ended).
    pub effects: Vec<Effect>,
    /// Records only the database held as live, and the time to end them
    /// at ([`Store::close_reconciled`]).
    pub close: Vec<(String, DateTime<Utc>)>,
    /// The counts.
    pub summary: Summary,
}

/// Decides what reconciliation does, from:
/// * `tracker`: what the daemon followed (it is updated: calls the PBX
///   lists are joined, calls it no longer has are ended);
/// * `db_live`: the records the database holds as live, read **before**
///   the PBX was asked (a call that starts in between is then only
///   "unknown to the database", never "gone from the PBX");
/// * `channels`: the PBX's `CoreShowChannel` list items;
/// * `lost_at`: the last moment the calls were seen alive (when the
///   connection was lost, or the journal's last frame before a restart):
///   calls gone from the PBX end then, no earlier, and never after `now`.
///
/// Records only the database holds end at their own last change (or
/// start), never later than `now`.
pub fn plan(
    tracker: &mut Tracker,
    db_live: &[CallRecordRow],
    channels: &[Message],
    lost_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Plan {
    let known_before: HashSet<String> = tracker
        .live_calls()
        .iter()
        .map(|c| c.unique_id.clone())
        .collect();
    let db_ids: HashSet<&str> = db_live.iter().map(|r| r.unique_id.as_str()).collect();
    let mut out = Plan::default();
    out.summary.db_live = db_live.len();
    let mut pbx: HashSet<String> = HashSet::new();
    for item in channels {
        if let Some(linked) = item.get("Linkedid") {
            pbx.insert(linked.to_string());
        }
        tracker.handle_into(item, now, &mut out.effects);
    }
    out.summary.pbx_calls = pbx.len();
    // Calls joined from the list: only partly known (their start was not
    // seen), and their records say so.
    let joined: HashSet<&String> = pbx
        .iter()
        .filter(|id| !known_before.contains(*id))
        .collect();
    for id in &joined {
        tracker.mark_reconciled(id);
    }
    for effect in &mut out.effects {
        if let Effect::CallStarted(c) | Effect::CallUpdated(c) = effect
            && joined.contains(&c.unique_id)
        {
            c.reconciled = true;
        }
    }
    out.summary.created = joined
        .iter()
        .filter(|id| !db_ids.contains(id.as_str()))
        .count();
    let gone: Vec<String> = tracker
        .live_calls()
        .iter()
        .map(|c| c.unique_id.clone())
        .filter(|id| !pbx.contains(id))
        .collect();
    let ended = lost_at.map_or(now, |t| t.min(now));
    for id in &gone {
        out.effects.extend(tracker.close_call(id, ended));
    }
    for row in db_live {
        if pbx.contains(&row.unique_id) {
            continue;
        }
        out.summary.closed += 1;
        if gone.contains(&row.unique_id) {
            continue; // ended above, with what the tracker knew
        }
        let at = row.updated_at.max(row.started_at).min(now);
        out.close.push((row.unique_id.clone(), at));
    }
    out
}

/// Why reconciliation could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// The PBX did not give its channel list.
    #[error("CoreShowChannels failed (the AMI user needs the `reporting` write right): {reason}")]
    Pbx {
        /// The client's error, as text.
        reason: String,
    },
    /// The database could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The effects could not be handed on (the writer stopped).
    #[error("the effects of the reconciliation could not be stored: {0}")]
    Apply(String),
}

/// Reconciles server `asterisk_id` with the PBX behind `client`: reads
/// the database's live records, asks the PBX for its channels, [`plan`]s,
/// hands the effects to `apply` in order and ends the records only the
/// database held (each change handed to `closed`, to be published). With
/// `dry_run`, only the summary is made.
#[allow(clippy::too_many_arguments)]
pub async fn run<S, F, Fut>(
    client: &Client,
    store: &S,
    (asterisk_id, company_id): (i64, i64),
    tracker: &mut Tracker,
    lost_at: Option<DateTime<Utc>>,
    dry_run: bool,
    mut apply: F,
    mut closed: impl FnMut(&Applied),
) -> Result<Summary, ReconcileError>
where
    S: Store,
    F: FnMut(Effect) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let db_live = store.live_calls(asterisk_id).await?;
    let list = client
        .send_list(Action::core_show_channels())
        .await
        .map_err(|e| ReconcileError::Pbx {
            reason: e.to_string(),
        })?;
    let plan = plan(tracker, &db_live, &list.items, lost_at, Utc::now());
    if dry_run {
        return Ok(plan.summary);
    }
    for effect in plan.effects {
        apply(effect).await.map_err(ReconcileError::Apply)?;
    }
    for (unique_id, at) in &plan.close {
        if let Some(applied) = store
            .close_reconciled(asterisk_id, company_id, unique_id, *at)
            .await?
        {
            closed(&applied);
        }
    }
    Ok(plan.summary)
}
