//! The SQLite backend (the default: embedded, one file).

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};

use super::schema::{self, SchemaInfo};
use super::writer::Job;
use super::{Applied, Creation, StoreError, legacy, ops, sql};

/// How long a statement waits for another writer (another process on the
/// same file) before failing with a retryable "database is busy".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The migrations, recorded in the connector's own table.
static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| schema::migrator(&MIGRATIONS));

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
    schema: SchemaInfo,
}

/// The effect writer's own connection.
#[derive(Debug)]
struct Direct {
    /// What is opened (a path, or a `file:` URI).
    path: PathBuf,
    /// The file it names (a URI resolved by SQLite), checked before writes.
    file: PathBuf,
    state: Mutex<DirectState>,
    /// A fault of the file was reported at ERROR and not yet cleared.
    faulted: AtomicBool,
}

#[derive(Debug)]
enum DirectState {
    /// The connection, and the file it opened.
    Open(rusqlite::Connection, FileId),
    /// The connection hit an error tied to it (the file was moved or
    /// replaced, an I/O error): reopened before the next transaction.
    Broken,
    /// The store was closed.
    Closed,
}

/// Set when the caller stopped waiting (its future was dropped, e.g. the
/// writer gave up at shutdown): the transaction in progress is rolled back
/// rather than committed, as dropping a sqlx transaction would.
#[derive(Debug)]
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Direct {
    fn open(path: PathBuf) -> Result<Direct, StoreError> {
        let (conn, id) = Direct::connect(&path)?;
        let file = conn.path().map_or_else(|| path.clone(), PathBuf::from);
        Ok(Direct {
            path,
            file,
            state: Mutex::new(DirectState::Open(conn, id)),
            faulted: AtomicBool::new(false),
        })
    }

    /// Opens the (already created and migrated) file: never creates one, so
    /// a database moved away is reported as "cannot open" (retryable)
    /// rather than silently replaced by an empty file. A file SQLite can
    /// only open read-only (write-protected for a while), or one that is
    /// not the connector's database, is refused (retryable): the
    /// connection would never be able to write.
    fn connect(path: &Path) -> Result<(rusqlite::Connection, FileId), StoreError> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = rusqlite::Connection::open_with_flags(path, flags)?;
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(fault(8, format!("{} opens read-only", path.display())));
        }
        let ours: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [super::schema::MIGRATIONS_TABLE],
            |r| r.get(0),
        )?;
        if ours == 0 {
            return Err(fault(
                14,
                format!("{} is not the connector's database", path.display()),
            ));
        }
        // The file SQLite opened (a `file:` URI resolved to its path).
        let opened = conn
            .path()
            .map_or_else(|| path.to_path_buf(), PathBuf::from);
        let file = file_id(&opened).map_err(|e| fault(14, format!("{}: {e}", path.display())))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok((conn, file))
    }

    /// The connection to write with: reopened if it was retired, or if the
    /// path no longer names the file it opened (deleted, or replaced):
    /// SQLite does not notice either and would go on writing into a file
    /// nobody will ever read.
    fn usable<'s>(
        &self,
        state: &'s mut DirectState,
    ) -> Result<&'s mut rusqlite::Connection, StoreError> {
        if let DirectState::Open(_, opened) = state {
            match file_id(&self.file) {
                Ok(now) if now == *opened => {}
                Ok(_) => {
                    self.report("the database file was replaced; writing to the new file");
                    *state = DirectState::Broken;
                }
                Err(e) => {
                    self.report(&format!(
                        "the database file is gone ({e}); calls wait until it is back"
                    ));
                    *state = DirectState::Broken;
                }
            }
        }
        if matches!(state, DirectState::Broken) {
            match Direct::connect(&self.path) {
                Ok((conn, file)) => {
                    *state = DirectState::Open(conn, file);
                    tracing::info!(path = %self.path.display(), "SQLite database reopened");
                }
                Err(e) => {
                    self.report(&e.to_string());
                    return Err(e);
                }
            }
        }
        match state {
            DirectState::Open(conn, _) => Ok(conn),
            _ => Err(StoreError::Closed),
        }
    }

    /// Logs a fault of the file at ERROR, once until writes work again.
    fn report(&self, what: &str) {
        if !self.faulted.swap(true, Ordering::SeqCst) {
            tracing::error!(path = %self.path.display(), "SQLite database unusable: {what}");
        }
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction: committed when it
    /// returns `Ok` and `cancelled` is still false, rolled back otherwise
    /// (also when `work` panics; the panic then continues). Blocking: call
    /// it from a blocking thread.
    fn transaction<R>(
        &self,
        cancelled: &AtomicBool,
        work: impl FnOnce(&mut rusqlite::Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        // A panic while holding the lock poisons it; the connection itself
        // is still usable (a transaction left open is rolled back below).
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let conn = self.usable(&mut state)?;
        let done = Direct::run(conn, cancelled, work);
        match &done {
            Err(e) if breaks_connection(e) => {
                self.report(&format!(
                    "{e}; the connection is reopened for the next write"
                ));
                *state = DirectState::Broken;
            }
            Ok(_) if self.faulted.swap(false, Ordering::SeqCst) => {
                tracing::info!(path = %self.path.display(), "SQLite database writable again");
            }
            _ => {}
        }
        done
    }

    fn run<R>(
        conn: &mut rusqlite::Connection,
        cancelled: &AtomicBool,
        work: impl FnOnce(&mut rusqlite::Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK")?;
        }
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let done = match std::panic::catch_unwind(AssertUnwindSafe(|| work(conn))) {
            Ok(Ok(r)) if cancelled.load(Ordering::SeqCst) => {
                drop(r);
                Err(StoreError::Closed)
            }
            Ok(Ok(r)) => conn.execute_batch("COMMIT").map(|()| r).map_err(Into::into),
            Ok(Err(e)) => Err(e),
            Err(panic) => {
                let _ = conn.execute_batch("ROLLBACK");
                std::panic::resume_unwind(panic);
            }
        };
        if done.is_err() && !conn.is_autocommit() {
            // The error that matters is `done`'s; a failed rollback is
            // retried before the next transaction.
            let _ = conn.execute_batch("ROLLBACK");
        }
        done
    }

    /// Runs `work` in a transaction on a blocking thread; dropping the
    /// returned future before it completes rolls the transaction back.
    async fn transact<R: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut rusqlite::Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel = CancelOnDrop(Arc::clone(&cancelled));
        let direct = Arc::clone(self);
        blocking(move || direct.transaction(&cancelled, work)).await
    }
}

/// Errors after which this connection should not be used again: the file
/// was moved, renamed or replaced (`SQLITE_READONLY_DBMOVED`), became
/// read-only (`SQLITE_READONLY`), or cannot be read or written
/// (`SQLITE_IOERR`, `SQLITE_CANTOPEN`).
fn breaks_connection(e: &StoreError) -> bool {
    e.code()
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 8 | 10 | 14))
}

/// A retryable fault of the database file, as SQLite's result `code`
/// (`SQLITE_READONLY` 8, `SQLITE_CANTOPEN` 14) with what was found.
fn fault(code: i32, what: String) -> StoreError {
    StoreError::from(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(code),
        Some(what),
    ))
}

/// Which file a path names now (device and inode on Unix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

fn file_id(path: &Path) -> std::io::Result<FileId> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(FileId(meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        // No inode: a deleted file is still noticed, a replaced one not.
        let _ = meta;
        Ok(FileId(0, 0))
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
    /// Opens and migrates, creating the file if it does not exist yet in
    /// an existing directory (see [`connect_with`](Self::connect_with)).
    /// Accepts `sqlite://path`, `sqlite:path` and `sqlite::memory:` (one
    /// private in-memory database, for tests).
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::connect_with(url, Creation::File).await
    }

    /// Opens and migrates, creating what `create` allows; a file or
    /// directory that is missing and may not be created is
    /// [`StoreError::NotFound`] (a mistyped path is not a new database).
    pub async fn connect_with(url: &str, create: Creation) -> Result<SqliteStore, StoreError> {
        let (options, memory) = parse_url(url)?;
        let options = options
            .create_if_missing(create != Creation::Nothing)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let file = (!memory).then(|| options.get_filename().to_path_buf());
        let options = if memory {
            options
        } else {
            let path = options.get_filename();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.exists()
            {
                if create != Creation::FileAndDirectory {
                    return Err(StoreError::NotFound {
                        what: format!("the directory {} does not exist", dir.display()),
                    });
                }
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::database(
                        std::io::Error::new(
                            e.kind(),
                            format!("cannot create directory {}: {e}", dir.display()),
                        ),
                        true,
                    )
                })?;
            }
            if create == Creation::Nothing && !path.exists() {
                return Err(StoreError::NotFound {
                    what: format!("no database file {}", path.display()),
                });
            }
            // WAL is switched on once the file is known to be the
            // connector's (or empty): a refused file is left as it was.
            options.synchronous(SqliteSynchronous::Normal)
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
        let found = match schema::sqlite_catalogue(&pool)
            .await
            .and_then(|c| schema::classify(&c))
        {
            Ok(found) => found,
            Err(e) => {
                pool.close().await;
                return Err(e);
            }
        };
        if !memory {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let (mode, legacy) = schema::plan(&found);
        let before = applied(&pool).await;
        if legacy {
            legacy::upgrade_sqlite(&pool, &MIGRATOR).await?;
        } else {
            MIGRATOR.run(&pool).await?;
        }
        let schema = SchemaInfo {
            mode,
            applied: applied(&pool).await.saturating_sub(before),
            upgraded_legacy: legacy,
        };
        let direct = match file {
            Some(path) => Some(Arc::new(blocking(move || Direct::open(path)).await?)),
            None => None,
        };
        Ok(SqliteStore {
            pool,
            direct,
            schema,
        })
    }

    /// What the database is and what migrating it would do, without
    /// changing anything: the file is opened read-only and never created
    /// (see [`AnyStore::inspect`](super::AnyStore::inspect)).
    pub async fn inspect(url: &str) -> Result<schema::SchemaReport, StoreError> {
        let (options, memory) = parse_url(url)?;
        let options = options.create_if_missing(false).read_only(true);
        if !memory && !options.get_filename().exists() {
            return Ok(schema::SchemaReport {
                mode: schema::SchemaMode::Standalone,
                pending: MIGRATIONS.migrations.len(),
                legacy: false,
                exists: false,
            });
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let report = match schema::sqlite_catalogue(&pool).await {
            Ok(catalogue) => {
                let total = MIGRATIONS.migrations.len();
                schema::report(&catalogue, total, applied(&pool).await)
            }
            Err(e) => Err(e),
        };
        pool.close().await;
        report
    }

    /// What the store found, and did, when it opened the database.
    pub fn schema(&self) -> &SchemaInfo {
        &self.schema
    }

    /// The underlying pool (for tools and tests), a type of the re-exported
    /// [`sqlx`](crate::store::sqlx). Effects on a file database are written
    /// by the store's own connection (see the type's docs); writing through
    /// this pool bypasses the store's idempotency and notifications.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The connect options of `url`, and whether it names an in-memory
/// database.
fn parse_url(url: &str) -> Result<(SqliteConnectOptions, bool), StoreError> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        reason: e.to_string(),
    })?;
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    Ok((options, memory))
}

/// How many of the connector's migrations the database records.
async fn applied(pool: &SqlitePool) -> usize {
    let n: Result<i64, _> = sqlx::query_scalar(schema::COUNT_APPLIED)
        .fetch_one(pool)
        .await;
    n.ok().and_then(|n| usize::try_from(n).ok()).unwrap_or(0)
}

impl SqliteStore {
    /// Applies `jobs` in one transaction.
    async fn write(&self, jobs: &[Job]) -> Result<Vec<Applied>, StoreError> {
        match &self.direct {
            Some(direct) => {
                let jobs = jobs.to_vec();
                direct
                    .transact(move |conn| {
                        // Every statement of `Exec` for a direct connection
                        // completes without waiting: this never blocks on a future.
                        futures::executor::block_on(ops::apply_jobs(conn, &jobs, &sql::STANDALONE))
                    })
                    .await
            }
            None => in_transaction!(self.pool, "BEGIN IMMEDIATE", |conn| ops::apply_jobs(
                conn,
                jobs,
                &sql::STANDALONE
            )),
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
                let unique_id = unique_id.to_string();
                direct
                    .transact(move |conn| {
                        futures::executor::block_on(ops::reconcile(
                            conn,
                            (asterisk_id, company_id),
                            &unique_id,
                            ended_at,
                            &sql::STANDALONE,
                        ))
                    })
                    .await
            }
            None => in_transaction!(self.pool, "BEGIN IMMEDIATE", |conn| ops::reconcile(
                conn,
                (asterisk_id, company_id),
                unique_id,
                ended_at,
                &sql::STANDALONE
            )),
        }
    }

    async fn close_connections(&self) {
        self.pool.close().await;
        if let Some(direct) = &self.direct {
            let direct = Arc::clone(direct);
            // Waits for a transaction in progress, then closes the file.
            let _ = blocking(move || {
                let mut state = direct.state.lock().unwrap_or_else(|p| p.into_inner());
                *state = DirectState::Closed;
                Ok(())
            })
            .await;
        }
    }
}

impl_store!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE");

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file with one table, and the direct writer on it.
    fn direct_on_file() -> (tempfile::TempDir, PathBuf, Arc<Direct>) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("d.db");
        let setup = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        setup
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);
                 CREATE TABLE bigchat_voice_migrations (version INTEGER);",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        drop(setup);
        let direct = Arc::new(Direct::open(path.clone()).unwrap_or_else(|e| panic!("{e:?}")));
        (dir, path, direct)
    }

    fn insert(direct: &Direct, cancelled: bool) -> Result<(), StoreError> {
        direct.transaction(&AtomicBool::new(cancelled), |c| {
            c.execute("INSERT INTO t VALUES (1)", [])?;
            Ok(())
        })
    }

    fn rows(path: &Path) -> i64 {
        let c = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
        c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_cancelled_transaction_is_rolled_back() {
        let (_dir, path, direct) = direct_on_file();
        assert!(matches!(insert(&direct, true), Err(StoreError::Closed)));
        assert_eq!(rows(&path), 0);
        assert!(insert(&direct, false).is_ok());
        assert_eq!(rows(&path), 1);
    }

    #[test]
    fn a_panic_rolls_back_and_releases_the_write_lock() {
        let (_dir, path, direct) = direct_on_file();
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _ = direct.transaction(&AtomicBool::new(false), |c| -> Result<(), StoreError> {
                c.execute("INSERT INTO t VALUES (1)", [])?;
                panic!("bug while writing");
            });
        }));
        assert!(panicked.is_err());
        // Another program can write at once (no lock left behind) …
        let other = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        other
            .execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (2); COMMIT;")
            .unwrap_or_else(|e| panic!("write lock still held: {e}"));
        // … the half-done insert is gone, and the writer still works.
        assert_eq!(rows(&path), 1);
        assert!(insert(&direct, false).is_ok());
        assert_eq!(rows(&path), 2);
    }

    #[test]
    fn a_broken_connection_is_reopened_and_never_creates_a_file() {
        let (dir, path, direct) = direct_on_file();
        assert!(insert(&direct, false).is_ok());
        // As after SQLITE_READONLY_DBMOVED / SQLITE_IOERR on a write.
        *direct.state.lock().unwrap_or_else(|p| p.into_inner()) = DirectState::Broken;
        let aside = dir.path().join("aside.db");
        std::fs::rename(&path, &aside).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..2 {
            let err = insert(&direct, false).expect_err("the file is gone");
            assert!(err.is_retryable(), "{err:?}");
        }
        assert!(!path.exists(), "an empty database was created in its place");
        std::fs::rename(&aside, &path).unwrap_or_else(|e| panic!("{e}"));
        assert!(insert(&direct, false).is_ok(), "reopened once back");
        assert_eq!(rows(&path), 2);
    }

    /// The file deleted under the connector (SQLite would go on writing
    /// into the unlinked inode): refused, retryable, nothing created; once
    /// the file is back (a restored copy), writes go to it.
    #[test]
    fn a_deleted_file_is_noticed_and_never_written_blind() {
        let (dir, path, direct) = direct_on_file();
        assert!(insert(&direct, false).is_ok());
        let copy = dir.path().join("backup.db");
        let backup = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        backup
            .execute("VACUUM INTO ?1", [copy.display().to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
        drop(backup);
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..2 {
            let err = insert(&direct, false).expect_err("the file is gone");
            assert!(err.is_retryable(), "{err:?}");
        }
        assert!(!path.exists(), "an empty database was created in its place");
        assert!(direct.faulted.load(Ordering::SeqCst), "reported");
        std::fs::copy(&copy, &path).unwrap_or_else(|e| panic!("{e}"));
        assert!(insert(&direct, false).is_ok(), "the restored file is used");
        assert!(!direct.faulted.load(Ordering::SeqCst), "recovery noticed");
        assert_eq!(rows(&path), 2);
    }

    /// A `file:` URI names the file it opens: writes through it are not
    /// mistaken for a file gone.
    #[test]
    fn a_file_uri_is_not_a_file_gone() {
        let (_dir, path, _direct) = direct_on_file();
        let uri = PathBuf::from(format!("file:{}", path.display()));
        let direct = Direct::open(uri).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(insert(&direct, false).is_ok());
        assert!(insert(&direct, false).is_ok());
        assert!(!direct.faulted.load(Ordering::SeqCst), "no fault reported");
        assert_eq!(rows(&path), 2);
    }

    /// Another file put in its place that is not the connector's database
    /// (an empty one, say) is refused, not written to.
    #[test]
    fn a_file_that_is_not_ours_is_refused() {
        let (_dir, path, direct) = direct_on_file();
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let other = rusqlite::Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
        other
            .execute_batch("CREATE TABLE t (x INTEGER);")
            .unwrap_or_else(|e| panic!("{e}"));
        drop(other);
        let err = insert(&direct, false).expect_err("not ours");
        assert!(err.is_retryable(), "{err:?}");
        assert!(
            format!("{err:?}").contains("not the connector's database"),
            "{err:?}"
        );
        assert_eq!(rows(&path), 0);
    }

    /// A file that SQLite can only open read-only (write-protected while
    /// the connection was reopened) is refused, so the next attempt opens
    /// it again instead of keeping a connection that can never write.
    #[test]
    fn a_read_only_open_is_refused() {
        let (_dir, path, _direct) = direct_on_file();
        let uri = PathBuf::from(format!("file:{}?mode=ro", path.display()));
        let err = Direct::connect(&uri).map(|_| ()).expect_err("read-only");
        assert!(format!("{err:?}").contains("opens read-only"), "{err:?}");
        assert!(err.is_retryable(), "{err:?}");
        assert!(breaks_connection(&err), "{err:?}");
    }

    #[test]
    fn which_errors_retire_the_connection() {
        let failure = |code| {
            StoreError::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        assert!(breaks_connection(&failure(1032))); // SQLITE_READONLY_DBMOVED
        assert!(breaks_connection(&failure(10 | (4 << 8)))); // SQLITE_IOERR_WRITE
        assert!(breaks_connection(&failure(14))); // SQLITE_CANTOPEN
        assert!(breaks_connection(&failure(8))); // SQLITE_READONLY
        assert!(!breaks_connection(&failure(5))); // SQLITE_BUSY: same connection retries
        assert!(!breaks_connection(&failure(2067))); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!breaks_connection(&StoreError::Closed));
    }
}
