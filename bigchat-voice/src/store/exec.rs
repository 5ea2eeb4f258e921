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

    /// True when [`Exec::update_call`] can write a changed call's record,
    /// ticket and message in one statement (PostgreSQL); otherwise
    /// [`super::ops`] runs them one by one.
    const UPDATE_CALL: bool = false;

    /// Runs [`super::sql::TicketSql::update_call`] (`sql`) with `args`: the
    /// rows it wrote, `None` when the record did not change. Only called
    /// when [`Exec::UPDATE_CALL`].
    fn update_call(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Option<UpdatedCall>, StoreError>> + Send {
        let _ = (sql, args);
        async {
            Err(StoreError::InvalidData(
                "this backend writes a call's rows one by one".to_owned(),
            ))
        }
    }

    /// Runs [`super::sql::TicketSql::start_call`] (`sql`) with `args`: the
    /// ticket it reused and the record it inserted (`None`: another writer
    /// created it first); `None` when no ticket was reused. Only called
    /// when [`Exec::UPDATE_CALL`].
    fn start_call(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<StartedCall, StoreError>> + Send {
        let _ = (sql, args);
        async {
            Err(StoreError::InvalidData(
                "this backend writes a call's rows one by one".to_owned(),
            ))
        }
    }

    /// Runs `sql` (which may be several statements on sqlx's SQLite, none
    /// of them returning rows that matter).
    fn execute(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What [`Exec::update_call`] wrote.
#[derive(Debug)]
pub(crate) struct UpdatedCall {
    /// The record after the change.
    pub record: super::CallRecordRow,
    /// The ticket before the change, when asked for.
    pub ticket_before: Option<super::TicketRow>,
    /// The ticket after the touch, when touched.
    pub ticket: Option<super::TicketRow>,
    /// The message, when written.
    pub message: Option<super::MessageRow>,
}

/// What [`Exec::start_call`] wrote: the ticket reused and the record
/// inserted (`None`: another writer created it first); `None` when no
/// ticket was reused.
pub(crate) type StartedCall = Option<(super::TicketRow, Option<super::CallRecordRow>)>;

/// Reading [`UpdatedCall`]'s and [`StartedCall`]'s rows by column position (its parts have
/// clashing column names).
#[cfg(feature = "postgres")]
mod pg_at {
    use sqlx::Row as _;
    use sqlx::postgres::PgRow;

    use super::UpdatedCall;
    use crate::store::{CallRecordRow, MessageRow, TicketRow};

    /// Columns of each part: `record_cols!`, `ticket_cols!`, `message_cols!`.
    const RECORD: usize = 28;
    const TICKET: usize = 16;

    pub(super) fn updated_call(r: &PgRow) -> Result<UpdatedCall, sqlx::Error> {
        Ok(UpdatedCall {
            record: record(r, 0)?,
            ticket_before: ticket(r, RECORD)?,
            ticket: ticket(r, RECORD + TICKET)?,
            message: message(r, RECORD + 2 * TICKET)?,
        })
    }

    pub(super) fn started_call(
        r: &PgRow,
    ) -> Result<Option<(TicketRow, Option<CallRecordRow>)>, sqlx::Error> {
        let Some(ticket) = ticket(r, 0)? else {
            return Ok(None);
        };
        let record = match r.try_get::<Option<i64>, _>(TICKET)? {
            Some(_) => Some(record(r, TICKET)?),
            None => None,
        };
        Ok(Some((ticket, record)))
    }

    fn record(r: &PgRow, o: usize) -> Result<CallRecordRow, sqlx::Error> {
        Ok(CallRecordRow {
            id: r.try_get(o)?,
            unique_id: r.try_get(o + 1)?,
            caller_id: r.try_get(o + 2)?,
            caller_name: r.try_get(o + 3)?,
            called_number: r.try_get(o + 4)?,
            direction: r.try_get(o + 5)?,
            status: r.try_get(o + 6)?,
            duration: r.try_get(o + 7)?,
            hold_time: r.try_get(o + 8)?,
            talk_time: r.try_get(o + 9)?,
            recording_url: r.try_get(o + 10)?,
            recording_file: r.try_get(o + 11)?,
            started_at: r.try_get(o + 12)?,
            answered_at: r.try_get(o + 13)?,
            ended_at: r.try_get(o + 14)?,
            agent_extension: r.try_get(o + 15)?,
            queue: r.try_get(o + 16)?,
            hangup_cause: r.try_get(o + 17)?,
            reconciled: r.try_get(o + 18)?,
            ticket_id: r.try_get(o + 19)?,
            asterisk_id: r.try_get(o + 20)?,
            user_id: r.try_get(o + 21)?,
            contact_id: r.try_get(o + 22)?,
            company_id: r.try_get(o + 23)?,
            created_at: r.try_get(o + 24)?,
            updated_at: r.try_get(o + 25)?,
            journal_seq: r.try_get(o + 26)?,
            classification: r.try_get(o + 27)?,
        })
    }

    /// `None` when the part is NULL (left out by its `LEFT JOIN`).
    fn ticket(r: &PgRow, o: usize) -> Result<Option<TicketRow>, sqlx::Error> {
        let Some(id) = r.try_get::<Option<i64>, _>(o)? else {
            return Ok(None);
        };
        Ok(Some(TicketRow {
            id,
            status: r.try_get(o + 1)?,
            unread_messages: r.try_get(o + 2)?,
            last_message: r.try_get(o + 3)?,
            is_group: r.try_get(o + 4)?,
            uuid: r.try_get(o + 5)?,
            from_me: r.try_get(o + 6)?,
            user_id: r.try_get(o + 7)?,
            contact_id: r.try_get(o + 8)?,
            queue_id: r.try_get(o + 9)?,
            company_id: r.try_get(o + 10)?,
            whatsapp_id: r.try_get(o + 11)?,
            asterisk_id: r.try_get(o + 12)?,
            call_type: r.try_get(o + 13)?,
            created_at: r.try_get(o + 14)?,
            updated_at: r.try_get(o + 15)?,
        }))
    }

    fn message(r: &PgRow, o: usize) -> Result<Option<MessageRow>, sqlx::Error> {
        let Some(id) = r.try_get::<Option<String>, _>(o)? else {
            return Ok(None);
        };
        Ok(Some(MessageRow {
            id,
            body: r.try_get(o + 1)?,
            ack: r.try_get(o + 2)?,
            read: r.try_get(o + 3)?,
            media_type: r.try_get(o + 4)?,
            media_url: r.try_get(o + 5)?,
            ticket_id: r.try_get(o + 6)?,
            contact_id: r.try_get(o + 7)?,
            from_me: r.try_get(o + 8)?,
            queue_id: r.try_get(o + 9)?,
            company_id: r.try_get(o + 10)?,
            created_at: r.try_get(o + 11)?,
            updated_at: r.try_get(o + 12)?,
        }))
    }
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
    ($conn:ty, $records:expr, $contacts:expr, |$db:ident, $args:ident| $upsert:expr
     $(, $extra:item)*) => {
        impl Exec for $conn {
            $($extra)*

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
    |db, args| Exec::fetch(db, super::sql::UPSERT_MESSAGE_TRAKING_PG, args).await,
    const UPDATE_CALL: bool = true;,
    async fn update_call(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<Option<UpdatedCall>, StoreError> {
        let q = bind_args!(sqlx::query(sql), args);
        match q.fetch_optional(&mut *self).await? {
            Some(row) => Ok(Some(pg_at::updated_call(&row)?)),
            None => Ok(None),
        }
    },
    async fn start_call(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<StartedCall, StoreError> {
        let q = bind_args!(sqlx::query(sql), args);
        match q.fetch_optional(&mut *self).await? {
            Some(row) => Ok(pg_at::started_call(&row)?),
            None => Ok(None),
        }
    }
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
