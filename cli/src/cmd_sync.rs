//! `bigchat-voice sync`: reconcile the database with the live PBX.
//!
//! The PBX is asked for its channels (`CoreShowChannels`). Its list items
//! are fed to the call tracker, which rebuilds the calls it did not know
//! (they are created in the database, flagged `reconciled`). Records the
//! database holds as live but whose call the PBX no longer has are ended
//! (flagged `reconciled`, with the last time the tracker heard of them, or
//! now). Running it twice changes nothing the second time.

use std::collections::HashSet;

use ami_client::Client;
use ami_proto::Action;
use anyhow::Context;
use bigchat_voice::model::Effect;
use bigchat_voice::store::{AnyStore, Store};
use bigchat_voice::tracker::Tracker;
use chrono::Utc;

use crate::args::SyncArgs;
use crate::config::Settings;

/// What reconciliation found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Calls the PBX has right now.
    pub pbx_calls: usize,
    /// Records the database held as live before.
    pub db_live: usize,
    /// Live calls the database did not know, now created.
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

/// Reconciles one server. Effects (created or ended calls) are handed to
/// `apply` in order; records only the database knows are closed directly
/// and what that changed is handed to `closed` (to be published). Calls
/// the tracker followed that the PBX no longer has are ended at `lost_at`
/// (when the connection was lost) if given, else now. With `dry_run`,
/// nothing is applied or closed.
#[allow(clippy::too_many_arguments)]
pub async fn reconcile<F, Fut>(
    client: &Client,
    store: &AnyStore,
    asterisk_id: i64,
    company_id: i64,
    tracker: &mut Tracker,
    dry_run: bool,
    lost_at: Option<chrono::DateTime<Utc>>,
    mut apply: F,
    mut closed: impl FnMut(&bigchat_voice::store::Applied),
) -> anyhow::Result<Summary>
where
    F: FnMut(Effect) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    // The database first, then the PBX: a call that starts in between is
    // then only "unknown to the database" (created, as the daemon would),
    // never "gone from the PBX" (wrongly ended).
    let db_live = store.live_calls(asterisk_id).await?;
    let list = client
        .send_list(Action::core_show_channels())
        .await
        .context("CoreShowChannels failed (the AMI user needs `reporting` write rights)")?;
    let now = Utc::now();
    let mut pbx: HashSet<String> = HashSet::new();
    let known_before: HashSet<String> = tracker
        .live_calls()
        .iter()
        .map(|c| c.unique_id.clone())
        .collect();
    let db_ids: HashSet<String> = db_live.iter().map(|r| r.unique_id.clone()).collect();
    let mut summary = Summary {
        db_live: db_live.len(),
        ..Summary::default()
    };
    let mut effects = Vec::new();
    for item in &list.items {
        if let Some(linked) = item.get("Linkedid") {
            pbx.insert(linked.to_string());
        }
        effects.extend(tracker.handle(item, now));
    }
    summary.pbx_calls = pbx.len();
    for id in &pbx {
        if !db_ids.contains(id) && !known_before.contains(id) {
            summary.created += 1;
        }
    }
    // Calls the tracker follows but the PBX does not have: end them.
    let gone: Vec<String> = tracker
        .live_calls()
        .iter()
        .map(|c| c.unique_id.clone())
        .filter(|id| !pbx.contains(id))
        .collect();
    // They ended while we could not see: at the latest now, and no
    // earlier than the moment the connection was lost (`lost_at`), the
    // last time they were known to be up; that moment is taken.
    let ended = lost_at.map_or(now, |t| t.min(now));
    for id in &gone {
        effects.extend(tracker.close_call(id, ended));
    }
    if !dry_run {
        for e in effects {
            apply(e).await?;
        }
    }
    // Records only the database holds as live.
    for row in &db_live {
        if pbx.contains(&row.unique_id) {
            continue;
        }
        summary.closed += 1;
        if gone.contains(&row.unique_id) || dry_run {
            continue;
        }
        let ended = row.updated_at.max(row.started_at).min(now);
        if let Some(applied) = store
            .close_reconciled(asterisk_id, company_id, &row.unique_id, ended)
            .await?
        {
            closed(&applied);
        }
    }
    Ok(summary)
}

/// Runs the command.
pub async fn run(settings: &Settings, args: &SyncArgs) -> anyhow::Result<()> {
    let servers = settings.servers(&args.server)?;
    let store = crate::open_store_for_calls(settings).await?;
    for server in &servers {
        let c = &server.config;
        let asterisk_id = crate::register_server(&store, settings, c).await?;
        let (client, _events) = crate::ami::connect(server, Some("off")).await?;
        let mut tracker = Tracker::new(settings.tracker.clone());
        let store_ref = &store;
        let result = reconcile(
            &client,
            &store,
            asterisk_id,
            settings.company_id,
            &mut tracker,
            args.dry_run,
            None,
            |effect| async move {
                store_ref
                    .apply(asterisk_id, settings.company_id, &effect)
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            },
            |_| {},
        )
        .await;
        client.close().await;
        let summary = result.with_context(|| format!("sync of {:?} failed", c.name))?;
        println!(
            "{}{}: {summary}",
            c.name,
            if args.dry_run { " (dry run)" } else { "" }
        );
    }
    store.close().await;
    Ok(())
}
