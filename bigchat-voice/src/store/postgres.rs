//! The PostgreSQL backend (BigChat's own database engine).

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use chrono::{DateTime, Utc};

use super::writer::Job;
use super::{Applied, StoreError, ops};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// [`Store`](super::Store) on PostgreSQL.
///
/// Tables go to the first schema of the connection's `search_path` (set it
/// with `?options=-csearch_path%3Dmyschema` in the URL to keep the
/// connector's tables apart). A pool of up to 8 connections; acquiring one
/// times out after 5 s, which [`StoreError::is_retryable`] reports as
/// retryable.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects and migrates.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
            reason: e.to_string(),
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// The underlying pool (for tools and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl PgStore {
    /// Applies `jobs` in one transaction.
    async fn write(&self, jobs: &[Job]) -> Result<Vec<Applied>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let applied = ops::apply_jobs(&mut *tx, jobs).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Ends one live record in one transaction.
    async fn reconcile(
        &self,
        asterisk_id: i64,
        company_id: i64,
        unique_id: &str,
        ended_at: DateTime<Utc>,
    ) -> Result<Option<Applied>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let applied =
            ops::reconcile(&mut *tx, asterisk_id, company_id, unique_id, ended_at).await?;
        tx.commit().await?;
        Ok(applied)
    }

    async fn close_connections(&self) {
        self.pool.close().await;
    }
}

impl_store!(PgStore);
