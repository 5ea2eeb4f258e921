//! `bigchat-voice sync`: reconcile the database with the live PBX.
//!
//! The PBX is asked for its channels (`CoreShowChannels`). Its list items
//! are fed to the call tracker, which rebuilds the calls it did not know
//! (they are created in the database, flagged `reconciled`). Records the
//! database holds as live but whose call the PBX no longer has are ended
//! (flagged `reconciled`, with the last time the tracker heard of them, or
//! now). Running it twice changes nothing the second time.

use anyhow::Context;
use bigchat_voice::pipeline::reconcile;
use bigchat_voice::store::Store;
use bigchat_voice::tracker::Tracker;

use crate::args::SyncArgs;
use crate::config::Settings;

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
        let result = reconcile::run(
            &client,
            &store,
            (asterisk_id, settings.company_id),
            &mut tracker,
            None,
            args.dry_run,
            |effect| async move {
                store_ref
                    .apply(asterisk_id, settings.company_id, &effect)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
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
