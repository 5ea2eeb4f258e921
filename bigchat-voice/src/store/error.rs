//! [`StoreError`]: what can go wrong while storing calls.

/// An error from the store.
///
/// Use [`is_retryable`](StoreError::is_retryable) to tell a database that is
/// unreachable or busy (try again later: nothing is wrong with the data) from
/// a refusal of the data itself (retrying will not help).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL is not `sqlite:…` or `postgres://…`, or is malformed.
    #[error("unsupported or malformed database URL ({reason})")]
    InvalidUrl {
        /// What is wrong with it (the URL itself is not repeated: it may hold a password).
        reason: String,
    },
    /// The embedded migrations could not be applied.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The database (or the way to it) reported an error.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The SQLite database reported an error on the store's direct
    /// connection (the one that writes call effects to a file database).
    #[error("database error")]
    Sqlite(#[source] rusqlite::Error),
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

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolClosed => StoreError::Closed,
            sqlx::Error::Migrate(m) => StoreError::Migrate(*m),
            other => StoreError::Database(other),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

impl StoreError {
    /// True when the same operation may succeed later unchanged: the database
    /// is unreachable, the connection was lost, the pool timed out, the
    /// database is busy/locked/read-only/full, or PostgreSQL reported a
    /// connection, resource, shutdown, serialization or deadlock error.
    /// False for constraint violations, bad data and bad configuration.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(e) => sqlx_error_is_retryable(e),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                sqlite_code_is_retryable(&e.extended_code.to_string())
            }
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => {
                sqlx_error_is_retryable(e)
            }
            _ => false,
        }
    }
}

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
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                sqlite_code_is_retryable(&code)
            } else {
                postgres_code_is_retryable(&code)
            }
        }
        _ => false,
    }
}

/// SQLite's extended result code (a number); its primary code is the low byte.
fn sqlite_code_is_retryable(code: &str) -> bool {
    let Ok(n) = code.parse::<u32>() else {
        return false;
    };
    matches!(
        n & 0xff,
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
fn postgres_code_is_retryable(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code == "40001" // serialization_failure
        || code == "40P01" // deadlock_detected
        || code.starts_with("53") // insufficient resources
        || code.starts_with("57P") // admin/crash shutdown, cannot connect now
        || code.starts_with("58") // system error (I/O)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        assert!(sqlite_code_is_retryable("5")); // SQLITE_BUSY
        assert!(sqlite_code_is_retryable("517")); // SQLITE_BUSY_SNAPSHOT
        assert!(sqlite_code_is_retryable("1032")); // SQLITE_READONLY_DBMOVED
        assert!(!sqlite_code_is_retryable("2067")); // SQLITE_CONSTRAINT_UNIQUE
        assert!(!sqlite_code_is_retryable("787")); // SQLITE_CONSTRAINT_FOREIGNKEY
        assert!(!sqlite_code_is_retryable("19")); // SQLITE_CONSTRAINT
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
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_retryable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(StoreError::Database(sqlx::Error::Io(io)).is_retryable());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_retryable());
        assert!(!StoreError::InvalidData("x".into()).is_retryable());
        assert!(!StoreError::Closed.is_retryable());
    }
}
