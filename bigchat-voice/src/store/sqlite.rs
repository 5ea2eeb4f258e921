//! The SQLite backend (the default: embedded, one file).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::writer::Job;
use super::{Applied, StoreError, ops};

/// How long a statement waits for another writer (another process on the
/// same file) before failing with a retryable "database is busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// [`Store`](super::Store) on SQLite.
///
/// A file database runs in WAL mode with `synchronous = NORMAL` (a commit
/// survives a crash of the process; a power loss may lose the last
/// transactions, never corrupt the file), a 5 s busy timeout and foreign
/// keys on. Write transactions start with `BEGIN IMMEDIATE`, so concurrent
/// writers queue instead of failing on lock upgrade.
///
/// Call effects ([`Store::apply`](super::Store::apply),
/// [`apply_many`](super::Store::apply_many),
/// [`close_reconciled`](super::Store::close_reconciled)) on a file database
/// are written through one direct SQLite connection on a blocking thread, a
/// whole batch per hand-off; reads and the `Asterisks` row use the sqlx pool.
/// An in-memory database (one connection, which no other connection can
/// see) writes everything through the pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    direct: Option<Arc<Direct>>,
}

/// The effect writer's own connection; `None` once the store is closed.
#[derive(Debug)]
struct Direct {
    conn: Mutex<Option<rusqlite::Connection>>,
}

impl Direct {
    fn open(path: PathBuf) -> Result<Direct, StoreError> {
        let conn = rusqlite::Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(Direct {
            conn: Mutex::new(Some(conn)),
        })
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction: committed when it
    /// returns `Ok`, rolled back otherwise. Blocking: call it from a
    /// blocking thread.
    fn transaction<R>(
        &self,
        work: impl FnOnce(&mut rusqlite::Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        // A panic while holding the lock poisons it; the connection itself
        // is still usable once any transaction left open is rolled back.
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK")?;
        }
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let done = work(conn).and_then(|r| {
            conn.execute_batch("COMMIT")?;
            Ok(r)
        });
        if done.is_err() && !conn.is_autocommit() {
            // The error that matters is `done`'s; a failed rollback is
            // retried before the next transaction.
            let _ = conn.execute_batch("ROLLBACK");
        }
        done
    }
}

/// Runs blocking store work off the async threads.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::InvalidData(format!("SQLite writer task failed: {e}")))?
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
        let file = (!memory).then(|| options.get_filename().to_path_buf());
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
        let direct = match file {
            Some(path) => Some(Arc::new(blocking(move || Direct::open(path)).await?)),
            None => None,
        };
        Ok(SqliteStore { pool, direct })
    }

    /// The underlying pool (for tools and tests; effects on a file database
    /// are written by the store's own connection, see the type's docs).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl SqliteStore {
    /// Applies `jobs` in one transaction.
    async fn write(&self, jobs: &[Job]) -> Result<Vec<Applied>, StoreError> {
        match &self.direct {
            Some(direct) => {
                let direct = Arc::clone(direct);
                let jobs = jobs.to_vec();
                blocking(move || {
                    direct.transaction(|conn| {
                        // Every statement of `Exec` for a direct connection
                        // completes without waiting: this never blocks on a future.
                        futures::executor::block_on(ops::apply_jobs(conn, &jobs))
                    })
                })
                .await
            }
            None => {
                let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                let applied = ops::apply_jobs(&mut *tx, jobs).await?;
                tx.commit().await?;
                Ok(applied)
            }
        }
    }

    /// Ends one live record in one transaction.
    async fn reconcile(
        &self,
        asterisk_id: i64,
        company_id: i64,
        unique_id: &str,
        ended_at: DateTime<Utc>,
    ) -> Result<Option<Applied>, StoreError> {
        match &self.direct {
            Some(direct) => {
                let direct = Arc::clone(direct);
                let unique_id = unique_id.to_string();
                blocking(move || {
                    direct.transaction(|conn| {
                        futures::executor::block_on(ops::reconcile(
                            conn,
                            asterisk_id,
                            company_id,
                            &unique_id,
                            ended_at,
                        ))
                    })
                })
                .await
            }
            None => {
                let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                let applied =
                    ops::reconcile(&mut *tx, asterisk_id, company_id, unique_id, ended_at).await?;
                tx.commit().await?;
                Ok(applied)
            }
        }
    }

    async fn close_connections(&self) {
        self.pool.close().await;
        if let Some(direct) = &self.direct {
            let direct = Arc::clone(direct);
            // Waits for a transaction in progress, then closes the file.
            let _ = blocking(move || {
                let mut guard = direct.conn.lock().unwrap_or_else(|p| p.into_inner());
                drop(guard.take());
                Ok(())
            })
            .await;
        }
    }
}

impl_store!(SqliteStore);
