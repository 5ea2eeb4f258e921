//! Upgrading the schema of connector 0.1 (its own tables, tracked in sqlx's
//! `_sqlx_migrations`) when the store opens it, on SQLite and PostgreSQL.
//!
//! PostgreSQL as in `store.rs`: one fresh schema per test on
//! `postgres://postgres@127.0.0.1:5432/test` (`BIGCHAT_VOICE_PG_URL`),
//! skipped with `BIGCHAT_VOICE_SKIP_PG=1`.

mod store_support;

use std::str::FromStr;

use bigchat_voice::model::{CallStatus, Effect};
use bigchat_voice::store::{AnyStore, SchemaMode, Store};
use sqlx::Row;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode::Wal, SqlitePoolOptions};
use store_support::{create_pg_schema, drop_pg_schema, ended, inbound};
use store_support::{pg_base_url, pg_url_with_schema};

const COMPANY: i64 = 1;

/// 0.1's first migration (20261124000001) …
const FIXTURE_SQLITE: &str = include_str!("fixtures/legacy-0.1-sqlite.sql");
const FIXTURE_PG: &str = include_str!("fixtures/legacy-0.1-postgres.sql");

/// … its second one (20261124000002) …
const LIVE_INDEX: &str = r#"DROP INDEX "CallRecords_asterisk_status";
CREATE INDEX "CallRecords_asterisk_live" ON "CallRecords" ("asteriskId", "startedAt")
    WHERE "status" IN ('ringing', 'answered', 'on_hold', 'transferred');"#;

/// … and sqlx's bookkeeping of both (`BLOB`, `X'00'`: SQLite's spelling).
const SQLX_MIGRATIONS: &str = r#"CREATE TABLE "_sqlx_migrations" (version BIGINT PRIMARY KEY,
 description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
 success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL);
INSERT INTO "_sqlx_migrations" (version, description, success, checksum, execution_time)
VALUES (20261124000001, 'init', TRUE, X'00', 1), (20261124000002, 'live_index', TRUE, X'00', 1);"#;

fn pg_spelling(sql: &str) -> String {
    sql.replace("BLOB", "BYTEA").replace("X'00'", "'\\x00'")
}

/// What 0.1 had stored (times as sqlx wrote them to SQLite; PostgreSQL
/// reads the same text): Maria twice (`+5511…` and `5511…`), each with a
/// ticket; a third contact with an open ticket of agent 7.
const ROWS: &str = r#"
INSERT INTO "Asterisks" ("id", "name", "status", "host", "port", "protocol", "username",
 "companyId", "createdAt", "updatedAt")
VALUES (1, 'pbx-1', 'CONNECTED', '10.0.0.5', 5038, 'ami', 'bigchat', 1,
 '2026-11-20T09:00:00+00:00', '2026-11-20T09:00:00+00:00');
INSERT INTO "Contacts" ("id", "name", "number", "companyId", "createdAt", "updatedAt") VALUES
 (1, 'Maria', '+5511999990001', 1, '2026-11-21T08:00:00+00:00', '2026-11-21T08:00:00+00:00'),
 (2, '5511999990001', '5511999990001', 1, '2026-11-22T08:00:00+00:00', '2026-11-22T08:00:00+00:00'),
 (3, 'Rio', '+552133334444', 1, '2026-11-21T09:00:00+00:00', '2026-11-21T09:00:00+00:00');
INSERT INTO "Tickets" ("id", "status", "unreadMessages", "lastMessage", "uuid", "userId",
 "contactId", "companyId", "asteriskId", "callType", "createdAt", "updatedAt") VALUES
 (1, 'closed', 0, 'Call ended 3:20', '6f1c2a4e-8b3d-4c5e-9a7f-1b2c3d4e5f60', 8, 1, 1, 1,
  'inbound', '2026-11-24T10:00:00+00:00', '2026-11-24T10:03:20+00:00'),
 (2, 'pending', 1, 'Missed call', '7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d', NULL, 2, 1, 1,
  'inbound', '2026-11-24T11:00:00+00:00', '2026-11-24T11:00:25+00:00'),
 (3, 'open', 0, 'Call ended 1:00', '8b3c4d5e-6f7a-4b2c-9d3e-4f5a6b7c8d9e', 7, 3, 1, 1,
  'outbound', '2026-11-24T12:00:00+00:00', '2026-11-24T12:01:00+00:00');
INSERT INTO "CallRecords" ("id", "uniqueId", "callerId", "callerName", "calledNumber",
 "direction", "status", "duration", "talkTime", "recordingUrl", "recordingFile", "startedAt",
 "answeredAt", "endedAt", "agentExtension", "hangupCause", "ticketId", "asteriskId",
 "userId", "contactId", "companyId", "createdAt", "updatedAt") VALUES
 (1, 'u1', '+5511999990001', 'Maria', '4000', 'inbound', 'completed', 200, 192,
  'recordings/x.wav', '/var/spool/asterisk/monitor/x.wav', '2026-11-24T10:00:00+00:00',
  '2026-11-24T10:00:08+00:00', '2026-11-24T10:03:20+00:00', '1001', 16, 1, 1, 7, 1, 1,
  '2026-11-24T10:00:00+00:00', '2026-11-24T10:03:20+00:00'),
 (2, 'u2', '5511999990001', NULL, '4000', 'inbound', 'no_answer', 25, 0, NULL, NULL,
  '2026-11-24T11:00:00+00:00', NULL, '2026-11-24T11:00:25+00:00', NULL, 19, 2, 1, NULL, 2, 1,
  '2026-11-24T11:00:00+00:00', '2026-11-24T11:00:25+00:00'),
 (3, 'u3', '1001', NULL, '+552133334444', 'outbound', 'completed', 60, 50, NULL, NULL,
  '2026-11-24T12:00:00+00:00', '2026-11-24T12:00:10+00:00', '2026-11-24T12:01:00+00:00',
  '1001', 16, 3, 1, 7, 3, 1, '2026-11-24T12:00:00+00:00', '2026-11-24T12:01:00+00:00');
INSERT INTO "Messages" ("id", "body", "mediaUrl", "mediaType", "fromMe", "read", "ticketId",
 "contactId", "ack", "callRecordId", "companyId", "createdAt", "updatedAt") VALUES
 (10, 'Inbound call from +5511999990001 answered by 1001, 3:20', 'recordings/x.wav',
  'audio/call', FALSE, TRUE, 1, 1, 0, 1, 1, '2026-11-24T10:03:21+00:00', '2026-11-24T10:03:21+00:00'),
 (11, 'Missed call from 5511999990001', NULL, 'audio/call', FALSE, FALSE, 2, 2, 0, 2, 1,
  '2026-11-24T11:00:26+00:00', '2026-11-24T11:00:26+00:00'),
 (12, 'Outbound call to +552133334444 by 1001, answered, 1:00', NULL, 'audio/call', TRUE, TRUE,
  3, 3, 0, 3, 1, '2026-11-24T12:01:01+00:00', '2026-11-24T12:01:01+00:00');
INSERT INTO "TicketTraking" ("id", "ticketId", "userId", "queuedAt", "startedAt", "finishedAt",
 "callRecordId", "companyId", "createdAt", "updatedAt") VALUES
 (1, 1, 7, '2026-11-24T10:00:00+00:00', '2026-11-24T10:00:08+00:00', '2026-11-24T10:03:20+00:00',
  1, 1, '2026-11-24T10:03:21+00:00', '2026-11-24T10:03:21+00:00'),
 (2, 2, NULL, '2026-11-24T11:00:00+00:00', NULL, '2026-11-24T11:00:25+00:00',
  2, 1, '2026-11-24T11:00:26+00:00', '2026-11-24T11:00:26+00:00'),
 (3, 3, 7, '2026-11-24T12:00:00+00:00', '2026-11-24T12:00:10+00:00', '2026-11-24T12:01:00+00:00',
  3, 1, '2026-11-24T12:01:01+00:00', '2026-11-24T12:01:01+00:00');
"#;

/// The tables of 0.1, and of the current schema.
const LEGACY_TABLES: &str = "Asterisks CallRecords Contacts Messages TicketTraking Tickets";
const NEW_TABLES: &str = "AsteriskQueues Asterisks CallOriginateKeys CallRecords Contacts Messages TicketTraking \
                          Tickets Whatsapps bigchat_voice_migrations";

const TABLES_SQLITE: &str =
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
const TABLES_PG: &str = "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                         WHERE table_schema = current_schema()";
/// Each table, column, index, constraint and sequence, by name and
/// definition (without the PostgreSQL schema's own name).
const SCHEMA_SQLITE: &str =
    "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master";
const SCHEMA_PG: &str = "SELECT CAST(table_name || '.' || column_name || ' ' || data_type \
 || ' ' || COALESCE(column_default, '') AS TEXT) FROM information_schema.columns \
 WHERE table_schema = current_schema() \
 UNION ALL SELECT CAST(replace(indexdef, current_schema() || '.', '') AS TEXT) \
 FROM pg_indexes WHERE schemaname = current_schema() \
 UNION ALL SELECT CAST(conname || ' ' || pg_get_constraintdef(oid) AS TEXT) \
 FROM pg_constraint WHERE connamespace = CAST(current_schema() AS regnamespace)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

/// The test's own connection to the database (not the store's).
#[derive(Debug)]
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

/// One value as text (`-` for NULL): the tests read text and integers only.
macro_rules! cell {
    ($row:expr, $i:expr) => {{
        let (row, i) = ($row, $i);
        if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            v
        } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            v.map(|n| n.to_string())
        } else if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
            v.map(|n| n.to_string())
        } else {
            panic!("column {i} is neither text nor an integer")
        }
        .unwrap_or_else(|| "-".to_string())
    }};
}

/// A database of its own: an SQLite file or a PostgreSQL schema.
#[derive(Debug)]
struct Db {
    kind: Kind,
    url: String,
    raw: Raw,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<String>,
}

impl Db {
    /// An empty database; `None` only for PostgreSQL with `BIGCHAT_VOICE_SKIP_PG=1`.
    async fn empty(kind: Kind) -> Option<Db> {
        let (url, raw, _dir, pg_schema) = match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("voice.db").display());
                let options = SqliteConnectOptions::from_str(&url).expect("sqlite url");
                let options = options.create_if_missing(true).journal_mode(Wal);
                let pool = SqlitePoolOptions::new().max_connections(1);
                let pool = pool.connect_with(options).await.expect("create the file");
                (url, Raw::Sqlite(pool), Some(dir), None)
            }
            Kind::Postgres => {
                let schema = create_pg_schema().await?;
                let url = pg_url_with_schema(&pg_base_url(), &schema);
                let pool = PgPoolOptions::new().max_connections(1).connect(&url).await;
                (url, Raw::Pg(pool.expect("connect")), None, Some(schema))
            }
        };
        Some(Db {
            kind,
            url,
            raw,
            _dir,
            pg_schema,
        })
    }

    /// A database as connector 0.1 left it, holding [`ROWS`].
    async fn legacy(kind: Kind) -> Option<Db> {
        let db = Db::empty(kind).await?;
        let (fixture, sqlx_table) = match kind {
            Kind::Sqlite => (FIXTURE_SQLITE, SQLX_MIGRATIONS.to_string()),
            Kind::Postgres => (FIXTURE_PG, pg_spelling(SQLX_MIGRATIONS)),
        };
        for sql in [fixture, LIVE_INDEX, &sqlx_table, ROWS] {
            db.exec(sql).await;
        }
        Some(db)
    }

    async fn exec(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        let done = match &self.raw {
            Raw::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
            Raw::Pg(p) => sqlx::raw_sql(sql).execute(p).await.map(drop),
        };
        done.expect("statement runs");
    }

    /// Each row of `sql` as its values joined by `|`.
    async fn rows(&self, sql: &str) -> Vec<String> {
        macro_rules! fetch {
            ($pool:expr) => {{
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                    .fetch_all($pool)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                let cells = rows.iter().map(|r| (0..r.len()).map(move |i| cell!(r, i)));
                cells.map(|c| c.collect::<Vec<_>>().join("|")).collect()
            }};
        }
        match &self.raw {
            Raw::Sqlite(p) => fetch!(p),
            Raw::Pg(p) => fetch!(p),
        }
    }

    /// Asserts that `sql` returns exactly `expected`.
    async fn check(&self, sql: &str, expected: &[&str]) {
        assert_eq!(self.rows(sql).await, expected, "{sql}");
    }

    /// The rows of the query for this backend, sorted.
    async fn sorted(&self, sqlite: &str, pg: &str) -> Vec<String> {
        let sql = if self.kind == Kind::Sqlite {
            sqlite
        } else {
            pg
        };
        let mut rows = self.rows(sql).await;
        rows.sort();
        rows
    }

    /// The table names, sorted, separated by spaces.
    async fn tables(&self) -> String {
        self.sorted(TABLES_SQLITE, TABLES_PG).await.join(" ")
    }

    async fn schema(&self) -> Vec<String> {
        self.sorted(SCHEMA_SQLITE, SCHEMA_PG).await
    }

    async fn finish(self) {
        match &self.raw {
            Raw::Sqlite(p) => p.close().await,
            Raw::Pg(p) => p.close().await,
        }
        if let Some(schema) = &self.pg_schema {
            drop_pg_schema(schema).await;
        }
    }
}

/// The upgraded rows, field by field, then the store at work on them.
async fn upgrades(kind: Kind) {
    let Some(db) = Db::legacy(kind).await else {
        return;
    };
    let store = AnyStore::connect(&db.url).await.expect("upgrade");
    let info = store.schema();
    assert!(info.upgraded_legacy);
    assert_eq!((info.mode, info.applied), (SchemaMode::Standalone, 5));

    // `_sqlx_migrations` and every legacy_* table are gone, and what is
    // left is what a fresh database has, down to constraint names.
    assert_eq!(db.tables().await, NEW_TABLES);
    let fresh = Db::empty(kind).await.expect("a second database");
    let fresh_store = AnyStore::connect(&fresh.url).await.expect("fresh");
    let (upgraded, new) = (db.schema().await, fresh.schema().await);
    let mut differ: Vec<_> = upgraded.iter().chain(&new).collect();
    differ.retain(|l| !(upgraded.contains(l) && new.contains(l)));
    assert!(
        differ.is_empty(),
        "differs from a fresh schema: {differ:#?}"
    );
    fresh_store.close().await;
    fresh.finish().await;

    // One contact per phone, digits only; the oldest keeps its id and name.
    let contacts = r#"SELECT "id", "name", "number", "companyId" FROM "Contacts" ORDER BY "id""#;
    let expected = ["1|Maria|5511999990001|1", "3|Rio|552133334444|1"];
    db.check(contacts, &expected).await;
    // The server's voice connection.
    let connections = r#"SELECT "id", "name", "provider", "status", "companyId" FROM "Whatsapps""#;
    let expected = ["1|pbx-1 (voice)|asterisk|DISCONNECTED|1"];
    db.check(connections, &expected).await;
    let servers = r#"SELECT "id", "name", "whatsappId", "password" FROM "Asterisks""#;
    db.check(servers, &["1|pbx-1|1|-"]).await;

    // Maria's two tickets on that connection are one: the pending one
    // (unread messages summed); ticket 3 only gains the connection.
    let tickets = r#"SELECT "id", "status", "contactId", "whatsappId", "userId", "unreadMessages",
 "lastMessage", "asteriskId", "callType", CAST("uuid" AS TEXT) FROM "Tickets" ORDER BY "id""#;
    let expected = [
        "2|pending|1|1|-|1|Missed call|1|inbound|7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d",
        "3|open|3|1|7|0|Call ended 1:00|1|outbound|8b3c4d5e-6f7a-4b2c-9d3e-4f5a6b7c8d9e",
    ];
    db.check(tickets, &expected).await;
    if kind == Kind::Postgres {
        let ty = "SELECT CAST(data_type AS TEXT) FROM information_schema.columns WHERE \
             table_schema = current_schema() AND table_name = 'Tickets' AND column_name = 'uuid'";
        db.check(ty, &["uuid"]).await;
    }

    let records = r#"SELECT "id", "uniqueId", "ticketId", "contactId", "status", "recordingUrl",
 "talkTime" FROM "CallRecords" ORDER BY "id""#;
    let expected = [
        "1|u1|2|1|completed|recordings/x.wav|192",
        "2|u2|2|1|no_answer|-|0",
        "3|u3|3|3|completed|-|50",
    ];
    db.check(records, &expected).await;

    // Messages: deterministic ids, BigChat media types, dated by the call.
    let messages = r#"SELECT "id", "ticketId", "contactId", "callRecordId", "mediaType",
 "mediaUrl", "ack", "body" FROM "Messages" ORDER BY "callRecordId""#;
    let expected = [
        "asterisk-1-u1|2|1|1|audio|recordings/x.wav|3|\
         Inbound call from +5511999990001 answered by 1001, 3:20",
        "asterisk-1-u2|2|1|2|call_log|-|3|Missed call from 5511999990001",
        "asterisk-1-u3|3|3|3|audio|-|3|Outbound call to +552133334444 by 1001, answered, 1:00",
    ];
    db.check(messages, &expected).await;
    let dated = r#"SELECT "m"."id" FROM "Messages" AS "m"
 JOIN "CallRecords" AS "r" ON "r"."id" = "m"."callRecordId"
 WHERE "m"."createdAt" = "r"."startedAt" AND "m"."updatedAt" = "r"."endedAt" ORDER BY "m"."id""#;
    let expected = ["asterisk-1-u1", "asterisk-1-u2", "asterisk-1-u3"];
    db.check(dated, &expected).await;

    let tracking = r#"SELECT "id", "ticketId", "whatsappId", "userId", "callRecordId",
 "companyId" FROM "TicketTraking" ORDER BY "id""#;
    let expected = ["1|2|1|7|1|1", "2|2|1|-|2|1", "3|3|1|7|3|1"];
    db.check(tracking, &expected).await;

    // The store works on it: the server and its connection are found …
    let pbx = store.ensure_asterisk("pbx-1", "10.0.0.5", 5038, "bigchat", COMPANY);
    assert_eq!(pbx.await.expect("ensure asterisk"), 1);
    db.check(r#"SELECT "id" FROM "Whatsapps""#, &["1"]).await;
    // … Maria is found by any spelling, and her next call goes to her ticket …
    let maria = store.find_contact(COMPANY, "+55 11 99999-0001").await;
    let maria = maria.expect("find contact").expect("Maria is there");
    assert_eq!((maria.id, maria.name.as_str()), (1, "Maria"));
    let call = inbound("u4", "+55 11 99999-0001", 7200);
    let start = Effect::CallStarted(call.clone());
    let applied = store.apply(1, COMPANY, &start).await.expect("start");
    assert!(applied.record_created && !applied.ticket_created && !applied.contact_created);
    let ids = (
        applied.contact_id,
        applied.ticket_id,
        applied.call_record_id,
    );
    assert_eq!(ids, (Some(1), Some(2), Some(4)));
    let end = Effect::CallEnded(ended(&call, CallStatus::NoAnswer, 7230));
    let end = store.apply(1, COMPANY, &end).await.expect("store the end");
    assert!(end.message_created);
    let tracked = r#"SELECT "id", "ticketId" FROM "TicketTraking" WHERE "callRecordId" = 4"#;
    db.check(tracked, &["4|2"]).await;
    // … and new contacts and tickets get ids after the old ones.
    let other = inbound("u5", "+55 31 98888-7777", 7300);
    let other = store.apply(1, COMPANY, &Effect::CallStarted(other)).await;
    let other = other.expect("store a new caller's call");
    assert!(other.contact_created && other.ticket_created && other.record_created);
    let ids = (other.contact_id, other.ticket_id, other.call_record_id);
    assert_eq!(ids, (Some(4), Some(4), Some(5)));
    store.close().await;

    // Opening the upgraded database again changes nothing.
    let again = AnyStore::connect(&db.url).await.expect("reopen");
    let info = again.schema();
    assert!(!info.upgraded_legacy);
    assert_eq!((info.mode, info.applied), (SchemaMode::Standalone, 0));
    again.close().await;
    db.finish().await;
}

/// Text that 0.1 kept in `TEXT` and BigChat keeps in `VARCHAR(255)` is
/// fitted as the current code writes it (PostgreSQL would refuse the
/// upgrade otherwise); only a relative recording that fits is a `mediaUrl`.
async fn fits_long_values(kind: Kind) {
    let Some(db) = Db::legacy(kind).await else {
        return;
    };
    let name = "é".repeat(300);
    let long = format!("recordings/{}.wav", "9".repeat(300));
    db.exec(&format!(
        r#"UPDATE "Contacts" SET "name" = '{name}', "number" = '+55{long_number}' WHERE "id" = 3;
UPDATE "Messages" SET "mediaUrl" = '/recordings/y.wav' WHERE "id" = 12;
UPDATE "Messages" SET "mediaUrl" = '{long}' WHERE "id" = 11;
UPDATE "Messages" SET "mediaUrl" = 'https://rec.example/x.wav' WHERE "id" = 10;"#,
        long_number = "1".repeat(300),
    ))
    .await;
    let store = AnyStore::connect(&db.url).await.expect("upgrade");
    store.close().await;
    let contact = format!("{}|55{}", "é".repeat(255), "1".repeat(253));
    let contacts = r#"SELECT "name", "number" FROM "Contacts" WHERE "id" = 3"#;
    db.check(contacts, &[contact.as_str()]).await;
    let urls = r#"SELECT "mediaUrl" FROM "Messages" ORDER BY "callRecordId""#;
    db.check(urls, &["-", "-", "recordings/y.wav"]).await;
    db.finish().await;
}

/// An upgrade failing half-way (after the old tables were renamed and the
/// new migrations ran) leaves the 0.1 database exactly as it was.
async fn failed_upgrade(kind: Kind) {
    let Some(db) = Db::legacy(kind).await else {
        return;
    };
    // A `Whatsapps` table that is not BigChat's: the migrations keep it (IF
    // NOT EXISTS), then copying the voice connection into it fails.
    db.exec(r#"CREATE TABLE "Whatsapps" ("id" INTEGER PRIMARY KEY, "name" TEXT NOT NULL)"#)
        .await;
    let rows = async || {
        let mut all = Vec::new();
        for table in LEGACY_TABLES.split(' ') {
            let sql = format!("SELECT COUNT(*) FROM \"{table}\"");
            all.push(format!("{table} {}", db.rows(&sql).await.join(",")));
        }
        let numbers = db.rows(r#"SELECT "number" FROM "Contacts" ORDER BY "id""#);
        all.extend(numbers.await);
        all
    };
    let (schema, content) = (db.schema().await, rows().await);
    let err = AnyStore::connect(&db.url).await.expect_err("copy fails");
    assert!(format!("{err:?}").contains("Whatsapps"), "{err:?}");
    assert_eq!(db.schema().await, schema, "no trace of the upgrade");
    assert_eq!(rows().await, content);
    let tables = format!("Whatsapps _sqlx_migrations {LEGACY_TABLES}");
    let mut tables: Vec<_> = tables.split(' ').collect();
    tables.sort_unstable();
    assert_eq!(db.tables().await, tables.join(" "));

    // Once the obstacle is gone, the next start upgrades it.
    db.exec(r#"DROP TABLE "Whatsapps""#).await;
    let store = AnyStore::connect(&db.url).await.expect("upgrade");
    assert!(store.schema().upgraded_legacy);
    store.close().await;
    db.finish().await;
}

/// `sqlite::NAME` and `postgres::NAME` tests running `NAME`.
macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite { $(#[tokio::test] async fn $name() { super::$name(super::Kind::Sqlite).await })* }
        mod postgres { $(#[tokio::test] async fn $name() { super::$name(super::Kind::Postgres).await })* }
    };
}

on_both!(upgrades, fits_long_values, failed_upgrade);
