//! [`StoreError`]: what can go wrong while storing calls.

/// A boxed error source: the driver's own error, kept for its message and
/// its chain without naming the driver's types in this API.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from the store.
///
/// Use [`is_retryable`](StoreError::is_retryable) to tell a database that is
/// unreachable or busy (try again later: nothing is wrong with the data) from
/// a refusal of the data itself (retrying will not help), and
/// [`code`](StoreError::code) for the database's own error code. The
/// driver's error is the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL is not `sqlite:…` or `postgres://…`, is malformed,
    /// or names a backend this build leaves out (features `sqlite`,
    /// `postgres`).
    #[error("unsupported or malformed database URL ({reason})")]
    InvalidUrl {
        /// What is wrong with it (the URL itself is not repeated: it may hold a password).
        reason: String,
    },
    /// The embedded migrations could not be applied.
    #[error("database migration failed")]
    #[non_exhaustive]
    Migrate {
        /// What the migration reported.
        source: BoxError,
        /// See [`StoreError::is_retryable`].
        retryable: bool,
    },
    /// The database (or the way to it) reported an error.
    #[error("database error")]
    #[non_exhaustive]
    Database {
        /// The driver's error.
        source: BoxError,
        /// See [`StoreError::is_retryable`].
        retryable: bool,
        /// PostgreSQL's SQLSTATE, or SQLite's extended result code.
        code: Option<String>,
    },
    /// The SQLite file, or its directory, does not exist and was not to be
    /// created.
    #[error("database not found: {what}")]
    NotFound {
        /// What is missing.
        what: String,
    },
    /// The database is neither empty, nor BigChat's, nor one the connector
    /// created: it was left untouched.
    #[error("refusing to use this database: {reason}")]
    UnrecognisedDatabase {
        /// What was found, and what is missing.
        reason: String,
    },
    /// A row held a value the connector does not understand (e.g. an unknown
    /// call status), or an effect carried an impossible value.
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// The store is closed (the pool was shut down).
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// A database error from a [`Store`](super::Store) of one's own:
    /// `retryable` when the same operation may succeed later unchanged.
    pub fn database(source: impl Into<BoxError>, retryable: bool) -> StoreError {
        StoreError::Database {
            source: source.into(),
            retryable,
            code: None,
        }
    }

    /// True when the same operation may succeed later unchanged: the database
    /// is unreachable, the connection was lost, the pool timed out, the
    /// database is busy/locked/read-only/full, or PostgreSQL reported a
    /// connection, resource, shutdown, serialization or deadlock error.
    /// False for constraint violations, bad data and bad configuration.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database { retryable, .. } | StoreError::Migrate { retryable, .. } => {
                *retryable
            }
            _ => false,
        }
    }

    /// The database's own code for the error, when it gave one:
    /// PostgreSQL's five-character SQLSTATE (`23505`), SQLite's extended
    /// result code as a number (`2067`).
    pub fn code(&self) -> Option<&str> {
        match self {
            StoreError::Database { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// True for an error of the database itself or the way to it (not of
    /// the URL, the data or the schema found).
    pub fn is_database(&self) -> bool {
        matches!(
            self,
            StoreError::Database { .. } | StoreError::Migrate { .. } | StoreError::Closed
        )
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolClosed => StoreError::Closed,
            sqlx::Error::Migrate(m) => StoreError::from(*m),
            other => {
                let retryable = sqlx_error_is_retryable(&other);
                let code = match &other {
                    sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
                    _ => None,
                };
                StoreError::Database {
                    source: Box::new(other),
                    retryable,
                    code,
                }
            }
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let code = match &e {
            rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
            _ => None,
        };
        StoreError::Database {
            retryable: code.is_some_and(sqlite_code_is_retryable),
            code: code.map(|c| c.to_string()),
            source: Box::new(e),
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        let retryable = match &e {
            sqlx::migrate::MigrateError::Execute(inner) => sqlx_error_is_retryable(inner),
            _ => false,
        };
        StoreError::Migrate {
            source: Box::new(e),
            retryable,
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn sqlx_error_is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if is_sqlite(db.as_ref()) {
                code.parse::<i32>().is_ok_and(sqlite_code_is_retryable)
            } else {
                postgres_code_is_retryable(&code)
            }
        }
        _ => false,
    }
}

#[cfg(feature = "sqlite")]
fn is_sqlite(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
}

#[cfg(all(not(feature = "sqlite"), feature = "postgres"))]
fn is_sqlite(_: &dyn sqlx::error::DatabaseError) -> bool {
    false
}

/// SQLite's extended result code; its primary code is the low byte.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn sqlite_code_is_retryable(code: i32) -> bool {
    matches!(
        code & 0xff,
        5  // SQLITE_BUSY
        | 6  // SQLITE_LOCKED
        | 7  // SQLITE_NOMEM
        | 8  // SQLITE_READONLY (file or directory made read-only)
        | 10 // SQLITE_IOERR
        | 13 // SQLITE_FULL
        | 14 // SQLITE_CANTOPEN
        | 15 // SQLITE_PROTOCOL
    )
}

/// PostgreSQL's five-character SQLSTATE.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn postgres_code_is_retryable(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code == "40001" // serialization_failure
        || code == "40P01" // deadlock_detected
        || code.starts_with("53") // insufficient resources
        || code.starts_with("57P") // admin/crash shutdown, cannot connect now
        || code.starts_with("58") // system error (I/O)
}

#[cfg(all(test, feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        assert!(sqlite_code_is_retryable(5)); // SQLITE_BUSY
        assert!(sqlite_code_is_retryable(517)); // SQLITE_BUSY_SNAPSHOT
        assert!(sqlite_code_is_retryable(1032)); // SQLITE_READONLY_DBMOVED
        assert!(!sqlite_code_is_retryable(2067)); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!sqlite_code_is_retryable(787)); // SQLITE_CONSTRAINT_FOREIGNKEY
        assert!(!sqlite_code_is_retryable(19)); // SQLITE_CONSTRAINT
        assert!(postgres_code_is_retryable("08006")); // connection_failure
        assert!(postgres_code_is_retryable("40001")); // serialization_failure
        assert!(postgres_code_is_retryable("57P01")); // admin_shutdown
        assert!(postgres_code_is_retryable("40P01")); // deadlock_detected
        assert!(!postgres_code_is_retryable("23505")); // unique_violation
        assert!(!postgres_code_is_retryable("23503")); // foreign_key_violation
        assert!(!postgres_code_is_retryable("42P01")); // undefined_table
    }

    #[test]
    fn transport_errors_are_retryable() {
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_retryable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(StoreError::from(sqlx::Error::Io(io)).is_retryable());
        assert!(!StoreError::from(sqlx::Error::RowNotFound).is_retryable());
        assert!(!StoreError::InvalidData("x".into()).is_retryable());
        assert!(!StoreError::Closed.is_retryable());
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolClosed),
            StoreError::Closed
        ));
    }

    #[test]
    fn sqlite_failures_keep_their_code() {
        let e = StoreError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(2067),
            None,
        ));
        assert_eq!(e.code(), Some("2067"));
        assert!(!e.is_retryable() && e.is_database());
        let busy = StoreError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(5),
            None,
        ));
        assert!(busy.is_retryable());
    }

    #[test]
    fn the_cause_is_said_once() {
        let e = StoreError::from(sqlx::Error::PoolTimedOut);
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(e.to_string(), "database error");
        assert!(source.is_some_and(|s| !s.is_empty()));
    }
}
