//! The direct SQLite connection (rusqlite) of the store's writer thread:
//! [`Exec`] on it, and rows decoded from it exactly as sqlx decodes them
//! from the pool, so both SQLite paths read and write identical rows.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

use super::exec::{Arg, DbRow, Exec, One};
use super::{CallRecordRow, ContactRow, StoreError, TicketRow};
impl Exec for rusqlite::Connection {
    const SELECT_RECORDS: &'static str = super::sql::SELECT_RECORDS_SQLITE;
    const SELECT_CONTACTS: &'static str = super::sql::SELECT_CONTACTS_SQLITE;

    async fn fetch_all<T: DbRow>(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.prepare_cached(sql)?;
        bind_sqlite(&mut stmt, args)?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(T::from_sqlite(row)?);
        }
        Ok(out)
    }

    async fn upsert_message_traking(
        &mut self,
        args: &[Arg<'_>],
    ) -> Result<Option<super::MessageRow>, StoreError> {
        let message = self.fetch(super::sql::UPSERT_MESSAGE_SQLITE, args).await?;
        self.execute(super::sql::UPSERT_TRAKING_SQLITE, args)
            .await?;
        Ok(message)
    }

    async fn fetch<T: DbRow>(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>, StoreError> {
        let mut stmt = self.prepare_cached(sql)?;
        bind_sqlite(&mut stmt, args)?;
        let mut rows = stmt.raw_query();
        // SQLite makes all of an INSERT/UPDATE … RETURNING's changes on the
        // first step, so reading one row is enough.
        match rows.next()? {
            Some(row) => Ok(Some(T::from_sqlite(row)?)),
            None => Ok(None),
        }
    }

    async fn execute(&mut self, sql: &'static str, args: &[Arg<'_>]) -> Result<(), StoreError> {
        let mut stmt = self.prepare_cached(sql)?;
        bind_sqlite(&mut stmt, args)?;
        stmt.raw_execute()?;
        Ok(())
    }
}

/// Binds each `$N` of the statement to `args[N - 1]` (by name: SQLite
/// numbers `$N` parameters in order of appearance, not by `N`).
fn bind_sqlite(stmt: &mut rusqlite::Statement<'_>, args: &[Arg<'_>]) -> Result<(), StoreError> {
    for index in 1..=stmt.parameter_count() {
        let arg = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .and_then(|n| args.get(n))
            .ok_or_else(|| {
                StoreError::InvalidData(format!(
                    "statement parameter {index} has no value ({} given)",
                    args.len()
                ))
            })?;
        stmt.raw_bind_parameter(index, arg)?;
    }
    Ok(())
}

/// A time as sqlx stores it in SQLite.
fn sqlite_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match *self {
            Arg::I64(v) => ToSqlOutput::Owned(Value::Integer(v)),
            Arg::OptI64(v) => ToSqlOutput::Owned(v.map_or(Value::Null, Value::Integer)),
            Arg::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Arg::OptText(v) => match v {
                Some(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
                None => ToSqlOutput::Owned(Value::Null),
            },
            Arg::Bool(v) => ToSqlOutput::Owned(Value::Integer(i64::from(v))),
            Arg::Time(t) => ToSqlOutput::Owned(Value::Text(sqlite_time(&t))),
            Arg::OptTime(t) => {
                ToSqlOutput::Owned(t.map_or(Value::Null, |t| Value::Text(sqlite_time(&t))))
            }
        })
    }
}

impl<T: rusqlite::types::FromSql> FromSqlite for One<T> {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> Result<Self, StoreError> {
        Ok(One(row.get(0)?))
    }
}

/// Decoding from a direct SQLite connection's row, by column position:
/// the statements' column lists ([`super::sql`]) are in the order of the
/// row structs' fields. (rusqlite finds a column by name with a linear,
/// case-insensitive scan of the column names, on every read.)
pub(crate) trait FromSqlite: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> Result<Self, StoreError>;
}

/// A stored time, read as sqlx reads one from SQLite, so that both SQLite
/// paths accept the same rows (BigChat, a person or another tool may have
/// written them): RFC 3339 (what the connector writes), the text forms of
/// SQLite's date functions and common drivers (with `T` or a space, with or
/// without seconds, fraction, `Z` or offset; no offset means UTC), an
/// integer (Unix seconds) or a real (Julian day).
fn parse_time(row: &rusqlite::Row<'_>, col: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
    use rusqlite::types::ValueRef;
    let value = row.get_ref(col)?;
    let time = match value {
        ValueRef::Null => return Ok(None),
        ValueRef::Text(text) => std::str::from_utf8(text).ok().and_then(time_from_text),
        ValueRef::Integer(secs) => DateTime::from_timestamp(secs, 0),
        ValueRef::Real(days) => time_from_julian_day(days),
        ValueRef::Blob(_) => None,
    };
    match time {
        Some(t) => Ok(Some(t)),
        None => Err(StoreError::InvalidData(format!(
            "column {}: not a time: {value:?}",
            column_name(row, col)
        ))),
    }
}

/// The text layouts tried after RFC 3339, each with and without an offset.
const TIME_LAYOUTS: [&str; 12] = [
    "%F %T%.f",
    "%F %R",
    "%F %RZ",
    "%F %R%:z",
    "%F %T%.fZ",
    "%F %T%.f%:z",
    "%FT%R",
    "%FT%RZ",
    "%FT%R%:z",
    "%FT%T%.f",
    "%FT%T%.fZ",
    "%FT%T%.f%:z",
];

fn time_from_text(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    TIME_LAYOUTS.iter().find_map(|layout| {
        DateTime::parse_from_str(text, layout)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| NaiveDateTime::parse_from_str(text, layout).map(|t| t.and_utc()))
            .ok()
    })
}

/// SQLite's `julianday()`: days since noon UTC on 24 November 4714 BC.
fn time_from_julian_day(days: f64) -> Option<DateTime<Utc>> {
    const UNIX_EPOCH_JULIAN_DAY: f64 = 2_440_587.5;
    let secs = (days - UNIX_EPOCH_JULIAN_DAY) * 86_400.0;
    if !secs.is_finite() || secs.abs() > 1e13 {
        return None;
    }
    let whole = secs.trunc();
    let nanos = ((secs - whole).abs() * 1e9) as u32;
    DateTime::from_timestamp(whole as i64, nanos.min(999_999_999))
}

fn time(row: &rusqlite::Row<'_>, col: usize) -> Result<DateTime<Utc>, StoreError> {
    parse_time(row, col)?
        .ok_or_else(|| StoreError::InvalidData(format!("column {} is NULL", column_name(row, col))))
}

/// The name of column `col`, for error messages.
fn column_name(row: &rusqlite::Row<'_>, col: usize) -> String {
    row.as_ref()
        .column_name(col)
        .map_or_else(|_| col.to_string(), str::to_owned)
}

impl FromSqlite for CallRecordRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> Result<Self, StoreError> {
        Ok(CallRecordRow {
            id: r.get(0)?,
            unique_id: r.get(1)?,
            caller_id: r.get(2)?,
            caller_name: r.get(3)?,
            called_number: r.get(4)?,
            direction: r.get(5)?,
            status: r.get(6)?,
            duration: r.get(7)?,
            hold_time: r.get(8)?,
            talk_time: r.get(9)?,
            recording_url: r.get(10)?,
            recording_file: r.get(11)?,
            started_at: time(r, 12)?,
            answered_at: parse_time(r, 13)?,
            ended_at: parse_time(r, 14)?,
            agent_extension: r.get(15)?,
            queue: r.get(16)?,
            hangup_cause: r.get(17)?,
            reconciled: r.get(18)?,
            ticket_id: r.get(19)?,
            asterisk_id: r.get(20)?,
            user_id: r.get(21)?,
            contact_id: r.get(22)?,
            company_id: r.get(23)?,
            created_at: time(r, 24)?,
            updated_at: time(r, 25)?,
            journal_seq: r.get(26)?,
            classification: r.get(27)?,
        })
    }
}

impl FromSqlite for TicketRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> Result<Self, StoreError> {
        Ok(TicketRow {
            id: r.get(0)?,
            status: r.get(1)?,
            unread_messages: r.get(2)?,
            last_message: r.get(3)?,
            is_group: r.get(4)?,
            uuid: r.get(5)?,
            from_me: r.get(6)?,
            user_id: r.get(7)?,
            contact_id: r.get(8)?,
            queue_id: r.get(9)?,
            company_id: r.get(10)?,
            whatsapp_id: r.get(11)?,
            asterisk_id: r.get(12)?,
            call_type: r.get(13)?,
            created_at: time(r, 14)?,
            updated_at: time(r, 15)?,
        })
    }
}

impl FromSqlite for super::AsteriskRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> Result<Self, StoreError> {
        Ok(super::AsteriskRow {
            id: r.get(0)?,
            name: r.get(1)?,
            status: r.get(2)?,
            host: r.get(3)?,
            port: r.get(4)?,
            protocol: r.get(5)?,
            username: r.get(6)?,
            greeting_message: r.get(7)?,
            farewell_message: r.get(8)?,
            transfer_queue_id: r.get(9)?,
            time_to_transfer: r.get(10)?,
            whatsapp_id: r.get(11)?,
            company_id: r.get(12)?,
            created_at: time(r, 13)?,
            updated_at: time(r, 14)?,
        })
    }
}

impl FromSqlite for super::MessageRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> Result<Self, StoreError> {
        Ok(super::MessageRow {
            id: r.get(0)?,
            body: r.get(1)?,
            ack: r.get(2)?,
            read: r.get(3)?,
            media_type: r.get(4)?,
            media_url: r.get(5)?,
            ticket_id: r.get(6)?,
            contact_id: r.get(7)?,
            from_me: r.get(8)?,
            queue_id: r.get(9)?,
            company_id: r.get(10)?,
            created_at: time(r, 11)?,
            updated_at: time(r, 12)?,
        })
    }
}

impl FromSqlite for ContactRow {
    fn from_sqlite(r: &rusqlite::Row<'_>) -> Result<Self, StoreError> {
        Ok(ContactRow {
            id: r.get(0)?,
            name: r.get(1)?,
            number: r.get(2)?,
            email: r.get(3)?,
            profile_pic_url: r.get(4)?,
            company_id: r.get(5)?,
            created_at: time(r, 6)?,
            updated_at: time(r, 7)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_sqlx_writes_them() {
        let t = DateTime::parse_from_rfc3339("2026-11-24T10:00:00.120+00:00")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(sqlite_time(&t), "2026-11-24T10:00:00.120+00:00");
        let whole = t - chrono::Duration::milliseconds(120);
        assert_eq!(sqlite_time(&whole), "2026-11-24T10:00:00+00:00");
    }

    /// Every form of stored time decodes to the same instant on the direct
    /// connection as through sqlx (which the pool and `sqlite::memory:` use).
    #[tokio::test]
    async fn stored_times_decode_as_sqlx_decodes_them() -> Result<(), StoreError> {
        use rusqlite::types::Value;
        use sqlx::Connection as _;
        let mut pool_side = sqlx::SqliteConnection::connect("sqlite::memory:").await?;
        let direct = rusqlite::Connection::open_in_memory()?;
        let texts = [
            "2026-11-24T10:00:00+00:00",
            "2026-11-24T10:00:00.123+00:00",
            "2026-11-24T07:00:00-03:00",
            "2026-11-24T10:00:00Z",
            "2026-11-24 10:00:00",
            "2026-11-24 10:00:00.5",
            "2026-11-24 10:00",
            "2026-11-24 10:00Z",
            "2026-11-24 10:00+01:00",
            "2026-11-24 10:00:00.123 +00:00",
            "2026-11-24 10:00:00.123Z",
            "2026-11-24T10:00",
            "2026-11-24T10:00:00.25",
            "2026-11-24T10:00:00.25Z",
            "2026-11-24T10:00+02:00",
        ];
        let mut values: Vec<Value> = texts.iter().map(|t| Value::Text(t.to_string())).collect();
        values.push(Value::Integer(1_795_515_777));
        values.push(Value::Real(2_461_368.916_666_666_5));
        for value in values {
            let ours = direct.query_row("SELECT ?1 AS t", [&value], |r| Ok(parse_time(r, 0)))??;
            let q = match &value {
                Value::Text(t) => sqlx::query_scalar("SELECT $1").bind(t.clone()),
                Value::Integer(i) => sqlx::query_scalar("SELECT $1").bind(*i),
                Value::Real(f) => sqlx::query_scalar("SELECT $1").bind(*f),
                _ => unreachable!("only these kinds above"),
            };
            let theirs: DateTime<Utc> = q.fetch_one(&mut pool_side).await?;
            assert_eq!(ours, Some(theirs), "{value:?}");
        }
        let bad = direct.query_row("SELECT 'yesterday' AS t", [], |r| Ok(parse_time(r, 0)))?;
        assert!(matches!(bad, Err(StoreError::InvalidData(_))));
        Ok(())
    }

    #[test]
    fn parameters_bind_by_number_not_position() -> Result<(), StoreError> {
        let mut conn = rusqlite::Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE t (a, b, c)")?;
        let args = [Arg::I64(1), Arg::Text("two"), Arg::OptI64(None)];
        futures::executor::block_on(Exec::execute(
            &mut conn,
            "INSERT INTO t (c, a, b) VALUES ($3, $1, $2)",
            &args,
        ))?;
        let row: (i64, String, Option<i64>) = conn.query_row("SELECT a, b, c FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        assert_eq!(row, (1, "two".to_string(), None));
        let missing = futures::executor::block_on(Exec::execute(&mut conn, "SELECT $4", &args));
        assert!(matches!(missing, Err(StoreError::InvalidData(_))));
        Ok(())
    }
}
