//! One way to run the store's write statements on three kinds of
//! connection, so the rules that write a call ([`super::ops`]) exist once:
//!
//! * a PostgreSQL connection (sqlx),
//! * an SQLite connection of sqlx's pool (used for `sqlite::memory:`, whose
//!   database lives in that one connection),
//! * a direct SQLite connection (rusqlite) owned by the store's writer
//!   thread, for file databases. sqlx runs each SQLite statement on a worker
//!   thread and waits for its answer, so every statement costs two thread
//!   wake-ups; a call takes about ten statements. The direct connection runs
//!   a whole batch of effects on one thread with one hand-off.
//!
//! Statements take `$N` parameters on every backend; [`Arg`] carries the
//! values. On SQLite, times are stored as RFC 3339 text exactly as sqlx
//! writes them (`2026-11-24T10:00:00.123+00:00`), booleans as 0/1, so rows
//! written by either SQLite path are identical.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::StoreError;

/// One statement parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    I64(i64),
    OptI64(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
}

/// A row type every backend compiled in can decode.
pub(crate) trait DbRow: PgDecode + SqliteDecode + Send + Unpin {}

impl<T: PgDecode + SqliteDecode + Send + Unpin> DbRow for T {}

/// Decodable from a PostgreSQL row (nothing to ask without `postgres`).
#[cfg(feature = "postgres")]
pub(crate) trait PgDecode: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> {}
#[cfg(feature = "postgres")]
impl<T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>> PgDecode for T {}
#[cfg(not(feature = "postgres"))]
pub(crate) trait PgDecode {}
#[cfg(not(feature = "postgres"))]
impl<T> PgDecode for T {}

/// Decodable from both SQLite paths, sqlx's pool and the direct connection
/// (nothing to ask without `sqlite`).
#[cfg(feature = "sqlite")]
pub(crate) trait SqliteDecode:
    for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + super::direct::FromSqlite
{
}
#[cfg(feature = "sqlite")]
impl<T> SqliteDecode for T where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + super::direct::FromSqlite
{
}
#[cfg(not(feature = "sqlite"))]
pub(crate) trait SqliteDecode {}
#[cfg(not(feature = "sqlite"))]
impl<T> SqliteDecode for T {}

/// A row of one value, read by position: an id (`i64`) or a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct One<T>(pub T);

macro_rules! impl_one {
    ($t:ty) => {
        #[cfg(feature = "postgres")]
        impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for One<$t> {
            fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
                sqlx::Row::try_get(row, 0).map(One)
            }
        }
        #[cfg(feature = "sqlite")]
        impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for One<$t> {
            fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
                sqlx::Row::try_get(row, 0).map(One)
            }
        }
    };
}
impl_one!(i64);
impl_one!(String);

/// A connection inside a write transaction (the caller begins and commits).
pub(crate) trait Exec: Send {
    /// Upserts a call's message and tracking row (see
    /// [`super::sql::UPSERT_MESSAGE_TRAKING_PG`]) with `args`: the message
    /// row when this backend's statement returns it and the upsert wrote
    /// it, `None` otherwise.
    fn upsert_message_traking(
        &mut self,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Option<super::MessageRow>, StoreError>> + Send;

    /// [`super::sql::SELECT_RECORDS_PG`] in this backend's dialect.
    const SELECT_RECORDS: &'static str;
    /// [`super::sql::SELECT_CONTACTS_PG`] in this backend's dialect.
    const SELECT_CONTACTS: &'static str;

    /// Runs `sql` and decodes all its rows.
    fn fetch_all<T: DbRow>(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Vec<T>, StoreError>> + Send;

    /// Runs `sql` and decodes its first row, if any.
    fn fetch<T: DbRow>(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Option<T>, StoreError>> + Send;

    /// Runs `sql` (which may be several statements on sqlx's SQLite, none
    /// of them returning rows that matter).
    fn execute(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Binds `$args` to the sqlx query `$q`, in order.
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for arg in $args {
            q = match *arg {
                Arg::I64(v) => q.bind(v),
                Arg::OptI64(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::OptText(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Time(v) => q.bind(v),
                Arg::OptTime(v) => q.bind(v),
            };
        }
        q
    }};
}

/// [`Exec`] for a sqlx connection type; `$upsert` is the body of
/// [`Exec::upsert_message_traking`] (`$db`: the connection, `$args`:
/// the arguments).
macro_rules! impl_exec_sqlx {
    ($conn:ty, $records:expr, $contacts:expr, |$db:ident, $args:ident| $upsert:expr) => {
        impl Exec for $conn {
            const SELECT_RECORDS: &'static str = $records;
            const SELECT_CONTACTS: &'static str = $contacts;

            async fn fetch_all<T: DbRow>(
                &mut self,
                sql: &'static str,
                args: &[Arg<'_>],
            ) -> Result<Vec<T>, StoreError> {
                let q = bind_args!(sqlx::query_as::<_, T>(sql), args);
                Ok(q.fetch_all(&mut *self).await?)
            }

            async fn upsert_message_traking(
                &mut self,
                $args: &[Arg<'_>],
            ) -> Result<Option<super::MessageRow>, StoreError> {
                let $db = self;
                $upsert
            }

            async fn fetch<T: DbRow>(
                &mut self,
                sql: &'static str,
                args: &[Arg<'_>],
            ) -> Result<Option<T>, StoreError> {
                let q = bind_args!(sqlx::query_as::<_, T>(sql), args);
                Ok(q.fetch_optional(&mut *self).await?)
            }

            async fn execute(
                &mut self,
                sql: &'static str,
                args: &[Arg<'_>],
            ) -> Result<(), StoreError> {
                bind_args!(sqlx::query(sql), args)
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }
        }
    };
}

#[cfg(feature = "postgres")]
impl_exec_sqlx!(
    sqlx::PgConnection,
    super::sql::SELECT_RECORDS_PG,
    super::sql::SELECT_CONTACTS_PG,
    |db, args| Exec::fetch(db, super::sql::UPSERT_MESSAGE_TRAKING_PG, args).await
);
// Two statements in one hand-off to the worker thread; sqlx would stop
// reading after the first one's returned row, so nothing is returned.
#[cfg(feature = "sqlite")]
impl_exec_sqlx!(
    sqlx::SqliteConnection,
    super::sql::SELECT_RECORDS_SQLITE,
    super::sql::SELECT_CONTACTS_SQLITE,
    |db, args| {
        Exec::execute(db, super::sql::UPSERT_MESSAGE_TRAKING_SQLITE, args)
            .await
            .map(|()| None)
    }
);
