//! `bigchat-voice db migrate`.

use bigchat_voice::store::Store;

use crate::config::Settings;

/// Creates or upgrades the schema (the migrations run on connect).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = crate::open_store(settings).await?;
    println!(
        "database {} ({}) is up to date",
        crate::redact_url(&settings.database_url),
        store.backend_name()
    );
    store.close().await;
    Ok(())
}
