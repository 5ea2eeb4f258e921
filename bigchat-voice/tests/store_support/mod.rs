//! Shared helpers for the store tests: a fresh database per test on either
//! backend, full table dumps, and call builders.
#![allow(dead_code)]

use std::collections::BTreeMap;

use bigchat_voice::model::{Call, CallStatus, Direction};
use bigchat_voice::store::{AnyStore, Creation, Store};
use chrono::{DateTime, TimeZone, Utc};
use sqlx::{Connection as _, Row};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Standalone SQLite file.
    Sqlite,
    /// Standalone PostgreSQL (an empty schema).
    Postgres,
    /// Attach mode: a fresh PostgreSQL database holding BigChat's real
    /// schema and seed rows (`testdata/bigchat`), plus [`BIGCHAT_FIXTURE`].
    BigChat,
}

/// BigChat's schema after all its migrations, and its seed rows.
pub const BIGCHAT_SCHEMA: &str = include_str!("../data/bigchat/schema.sql");
pub const BIGCHAT_SEED: &str = include_str!("../data/bigchat/seed.sql");

/// What the suite's calls refer to, as BigChat's own screens would have
/// made it: a second company, the agents (users 7 and 8 of company 1) and a
/// queue (3) they work in.
pub const BIGCHAT_FIXTURE: &str = r#"
SET search_path = public;
INSERT INTO "Companies" ("id", "name", "createdAt", "updatedAt", "planId")
  VALUES (2, 'Empresa 2', now(), now(), 1);
INSERT INTO "Users" ("id", "name", "email", "passwordHash", "createdAt", "updatedAt", "profile", "companyId")
  VALUES (7, 'Ana', 'ana@example.com', 'x', now(), now(), 'user', 1),
         (8, 'Bruno', 'bruno@example.com', 'x', now(), now(), 'user', 1);
INSERT INTO "Queues" ("id", "name", "color", "createdAt", "updatedAt", "companyId")
  VALUES (3, 'Suporte', '#0b7285', now(), now(), 1);
INSERT INTO "UserQueues" ("userId", "queueId", "createdAt", "updatedAt")
  VALUES (7, 3, now(), now()), (8, 3, now(), now());
SELECT setval('"Companies_id_seq"', 2), setval('"Users_id_seq"', 8), setval('"Queues_id_seq"', 3);
"#;

pub const TABLES: [&str; 8] = [
    "Whatsapps",
    "Asterisks",
    "AsteriskQueues",
    "Contacts",
    "Tickets",
    "CallRecords",
    "Messages",
    "TicketTraking",
];

/// table → rows (ordered by id) → column → value as text.
pub type Dump = BTreeMap<String, Vec<BTreeMap<String, Option<String>>>>;

pub fn pg_base_url() -> String {
    std::env::var("BIGCHAT_VOICE_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

pub fn skip_pg() -> bool {
    std::env::var("BIGCHAT_VOICE_SKIP_PG").is_ok_and(|v| v == "1")
}

/// A fresh, empty, migrated database.
pub struct TestDb {
    pub store: AnyStore,
    pub backend: Backend,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<String>,
    pg_database: Option<String>,
}

impl TestDb {
    /// `None` only for PostgreSQL with `BIGCHAT_VOICE_SKIP_PG=1`. An
    /// unreachable server fails the test with a clear message.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                // A sub-directory that does not exist yet: created when asked.
                let path = dir.path().join("data").join("voice.db");
                let url = format!("sqlite://{}", path.display());
                let store = AnyStore::connect_with(&url, Creation::FileAndDirectory)
                    .await
                    .expect("open sqlite store");
                Some(TestDb {
                    store,
                    backend,
                    url,
                    _dir: Some(dir),
                    pg_schema: None,
                    pg_database: None,
                })
            }
            Backend::Postgres => {
                let schema = create_pg_schema().await?;
                let url = pg_url_with_schema(&pg_base_url(), &schema);
                let store = AnyStore::connect(&url).await.expect("open postgres store");
                Some(TestDb {
                    store,
                    backend,
                    url,
                    _dir: None,
                    pg_schema: Some(schema),
                    pg_database: None,
                })
            }
            Backend::BigChat => {
                let (database, url) = create_bigchat_database().await?;
                let store = AnyStore::connect(&url).await.expect("attach to BigChat");
                assert_eq!(
                    store.schema().mode,
                    bigchat_voice::store::SchemaMode::Attach
                );
                Some(TestDb {
                    store,
                    backend,
                    url,
                    _dir: None,
                    pg_schema: None,
                    pg_database: Some(database),
                })
            }
        }
    }

    /// Every row of every table, each value cast to text.
    pub async fn dump(&self) -> Dump {
        let mut out = Dump::new();
        for table in TABLES {
            out.insert(table.to_string(), self.dump_table(table).await);
        }
        out
    }

    /// The dump without the columns that legitimately differ between two
    /// fresh databases fed the same effects (wall-clock times, random uuid).
    pub async fn dump_content(&self) -> Dump {
        let mut d = self.dump().await;
        for rows in d.values_mut() {
            for row in rows {
                row.remove("createdAt");
                row.remove("updatedAt");
                row.remove("uuid");
            }
        }
        d
    }

    pub async fn dump_table(&self, table: &str) -> Vec<BTreeMap<String, Option<String>>> {
        let cols = self.columns(table).await;
        let select = cols
            .iter()
            .map(|c| format!("CAST(\"{c}\" AS TEXT)"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT {select} FROM \"{table}\" ORDER BY \"id\"");
        let mut rows_out = Vec::new();
        match &self.store {
            AnyStore::Sqlite(s) => {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(s.pool())
                    .await
                    .expect("dump");
                for row in rows {
                    let mut m = BTreeMap::new();
                    for (i, c) in cols.iter().enumerate() {
                        m.insert(
                            c.clone(),
                            row.try_get::<Option<String>, _>(i).expect("text"),
                        );
                    }
                    rows_out.push(m);
                }
            }
            AnyStore::Postgres(s) => {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(s.pool())
                    .await
                    .expect("dump");
                for row in rows {
                    let mut m = BTreeMap::new();
                    for (i, c) in cols.iter().enumerate() {
                        m.insert(
                            c.clone(),
                            row.try_get::<Option<String>, _>(i).expect("text"),
                        );
                    }
                    rows_out.push(m);
                }
            }
            _ => unreachable!("two backends"),
        }
        rows_out
    }

    async fn columns(&self, table: &str) -> Vec<String> {
        match &self.store {
            AnyStore::Sqlite(s) => sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(s.pool())
                .await
                .expect("columns"),
            AnyStore::Postgres(s) => sqlx::query_scalar(
                "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(s.pool())
            .await
            .expect("columns"),
            _ => unreachable!("two backends"),
        }
    }

    /// Runs a statement directly (to simulate what BigChat itself does,
    /// e.g. an agent closing a ticket).
    pub async fn exec(&self, sql: &str) {
        match &self.store {
            AnyStore::Sqlite(s) => {
                sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(s.pool())
                    .await
                    .expect("exec");
            }
            AnyStore::Postgres(s) => {
                sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(s.pool())
                    .await
                    .expect("exec");
            }
            _ => unreachable!("two backends"),
        }
    }

    /// Runs a script of several statements directly (SQLite only).
    pub async fn exec_sqlite_script(&self, sql: &str) {
        match &self.store {
            AnyStore::Sqlite(s) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(s.pool())
                    .await
                    .expect("script");
            }
            _ => unreachable!("SQLite only"),
        }
    }

    pub async fn count(&self, table: &str) -> usize {
        self.dump_table(table).await.len()
    }

    /// Closes the store and drops the PostgreSQL schema or database.
    pub async fn finish(self) {
        self.store.close().await;
        if let Some(schema) = &self.pg_schema {
            drop_pg_schema(schema).await;
        }
        if let Some(database) = &self.pg_database {
            drop_pg_database(database).await;
        }
    }
}

/// Creates a fresh schema on the test PostgreSQL server; `None` when
/// `BIGCHAT_VOICE_SKIP_PG=1`, a panic with a clear message when unreachable.
pub async fn create_pg_schema() -> Option<String> {
    if skip_pg() {
        eprintln!("BIGCHAT_VOICE_SKIP_PG=1: skipping the PostgreSQL run");
        return None;
    }
    let base = pg_base_url();
    let mut admin = match sqlx::PgConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {base} ({e}).\n\
             The store suite runs on PostgreSQL too: start it (`bash .ci/services`) \
             or set BIGCHAT_VOICE_SKIP_PG=1 to skip the PostgreSQL half."
        ),
    };
    let schema = format!("t_{:016x}", rand::random::<u64>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut admin)
        .await
        .expect("create test schema");
    Some(schema)
}

/// A fresh PostgreSQL database loaded with BigChat's schema, seed and
/// [`BIGCHAT_FIXTURE`], as (name, URL); `None` when
/// `BIGCHAT_VOICE_SKIP_PG=1`. The store has not touched it yet.
pub async fn create_bigchat_database() -> Option<(String, String)> {
    let (name, url) = create_pg_database().await?;
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("connect to the new database");
    for sql in [BIGCHAT_SCHEMA, BIGCHAT_SEED, BIGCHAT_FIXTURE] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("load BigChat's schema");
    }
    // The dump empties search_path for its session; the store's own
    // sessions use the database default (public).
    conn.close().await.expect("close");
    Some((name, url))
}

/// A fresh, empty PostgreSQL database, as (name, URL).
pub async fn create_pg_database() -> Option<(String, String)> {
    let schema = create_pg_schema().await?;
    drop_pg_schema(&schema).await;
    let name = format!("bcv_{schema}");
    let mut admin = sqlx::PgConnection::connect(&pg_base_url())
        .await
        .expect("admin connection");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    Some((name.clone(), pg_url_with_database(&pg_base_url(), &name)))
}

/// `base` (…/test) pointing at database `name` instead.
pub fn pg_url_with_database(base: &str, name: &str) -> String {
    let (path, query) = match base.split_once('?') {
        Some((p, q)) => (p, format!("?{q}")),
        None => (base, String::new()),
    };
    let server = path.rsplit_once('/').map_or(path, |(s, _)| s);
    format!("{server}/{name}{query}")
}

/// Drops a database made by [`create_pg_database`].
pub async fn drop_pg_database(name: &str) {
    let mut admin = sqlx::PgConnection::connect(&pg_base_url())
        .await
        .expect("reconnect to drop database");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("drop test database");
}

/// `base` with its `search_path` set to `schema`.
pub fn pg_url_with_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// Drops a schema made by [`create_pg_schema`].
pub async fn drop_pg_schema(schema: &str) {
    let mut admin = sqlx::PgConnection::connect(&pg_base_url())
        .await
        .expect("reconnect to drop schema");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&mut admin)
    .await
    .expect("drop test schema");
}

/// 2026-11-24 10:00:00 UTC + `secs`.
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
        .single()
        .expect("valid time")
        + chrono::Duration::seconds(secs)
}

/// An inbound call from `number`, ringing since `t(start)`.
pub fn inbound(unique_id: &str, number: &str, start: i64) -> Call {
    {
        let mut c = Call::ringing(unique_id, Direction::Inbound, t(start));
        c.caller_id = number.to_string();
        c.called_number = "4000".to_string();
        c.contact_number = number.to_string();
        c
    }
}

/// An outbound call by agent 1001 (user 7) to `number`.
pub fn outbound(unique_id: &str, number: &str, start: i64) -> Call {
    {
        let mut c = inbound(unique_id, number, start);
        c.direction = Direction::Outbound;
        c.caller_id = "1001".to_string();
        c.called_number = number.to_string();
        c.agent_extension = Some("1001".to_string());
        c.user_id = Some(7);
        c
    }
}

/// `call` answered by `ext`/`user` at `t(at)`.
pub fn answered(call: &Call, at: i64, ext: &str, user: i64) -> Call {
    {
        let mut c = call.clone();
        c.status = CallStatus::Answered;
        c.answered_at = Some(t(at));
        c.agent_extension = Some(ext.to_string());
        c.user_id = Some(user);
        c
    }
}

/// `call` ended with `status` at `t(at)`, durations computed.
pub fn ended(call: &Call, status: CallStatus, at: i64) -> Call {
    let end = t(at);
    let duration = (end - call.started_at).num_seconds();
    let talk = call
        .answered_at
        .map(|a| (end - a).num_seconds() - call.hold_time)
        .unwrap_or(0);
    {
        let mut c = call.clone();
        c.status = status;
        c.ended_at = Some(end);
        c.duration = duration;
        c.talk_time = talk;
        c
    }
}
