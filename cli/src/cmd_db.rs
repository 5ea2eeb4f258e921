//! `bigchat-voice db migrate`.

use anyhow::Context;
use bigchat_voice::store::{AnyStore, Store};

use crate::config::Settings;

/// Creates or upgrades the schema (the migrations run on connect).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = AnyStore::connect(&settings.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot migrate {}",
                crate::redact_url(&settings.database_url)
            )
        })?;
    println!(
        "database {} ({}) is up to date",
        crate::redact_url(&settings.database_url),
        store.backend_name()
    );
    store.close().await;
    Ok(())
}
