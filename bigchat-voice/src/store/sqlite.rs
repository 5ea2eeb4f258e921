//! The SQLite backend (the default: embedded, one file).

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::StoreError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// [`Store`](super::Store) on SQLite.
///
/// A file database runs in WAL mode with `synchronous = NORMAL` (a commit
/// survives a crash of the process; a power loss may lose the last
/// transactions, never corrupt the file), a 5 s busy timeout and foreign
/// keys on. Write transactions start with `BEGIN IMMEDIATE`, so concurrent
/// writers queue instead of failing on lock upgrade.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating the file and its directory if needed) and migrates.
    /// Accepts `sqlite://path`, `sqlite:path` and `sqlite::memory:` (one
    /// private in-memory database, for tests).
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl {
                reason: e.to_string(),
            })?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let options = if memory {
            options
        } else {
            let path = options.get_filename();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if !dir.exists() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Database(sqlx::Error::Io(std::io::Error::new(
                            e.kind(),
                            format!("cannot create directory {}: {e}", dir.display()),
                        )))
                    })?;
                }
            }
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        };
        let pool_options = if memory {
            // Every connection to `:memory:` is its own database: keep one, forever.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(4)
        };
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// The underlying pool (for tools and tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl_store!(
    SqliteStore,
    sqlx::SqliteConnection,
    "BEGIN IMMEDIATE",
    super::sql::UPSERT_MESSAGE_TRAKING_SQLITE
);
