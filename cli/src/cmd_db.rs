//! `bigchat-voice db migrate`.

use bigchat_voice::store::Store;

use crate::config::Settings;

/// Creates or upgrades the schema (the migrations run on connect).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store =
        crate::open_store(settings, bigchat_voice::store::Creation::FileAndDirectory).await?;
    let schema = store.schema();
    println!(
        "database {} ({}, {}) is up to date: {}",
        crate::redact_url(&settings.database_url),
        store.backend_name(),
        crate::describe_mode(schema.mode),
        match (schema.upgraded_legacy, schema.applied) {
            (true, _) => "upgraded from an earlier bigchat-voice schema".to_string(),
            (false, 0) => "nothing to do".to_string(),
            (false, 1) => "1 migration applied".to_string(),
            (false, n) => format!("{n} migrations applied"),
        }
    );
    store.close().await;
    Ok(())
}
