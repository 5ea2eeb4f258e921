//! Attach mode on BigChat's real database (`testdata/bigchat`: the schema
//! after all of BigChat's migrations, and its seed rows): what the
//! connector adds, what it refuses, and every recorded call read back
//! with the queries BigChat's own screens run.
//!
//! PostgreSQL: `postgres://postgres@127.0.0.1:5432/test` (override with
//! `BIGCHAT_VOICE_PG_URL`), one fresh database per test;
//! `BIGCHAT_VOICE_SKIP_PG=1` skips.

mod store_support;
mod tracker_support;

use std::collections::{BTreeMap, BTreeSet};

use bigchat_voice::model::Effect;
use bigchat_voice::store::{AnyStore, SchemaMode, Store, StoreError};
use bigchat_voice::tracker::{Tracker, TrackerConfig};
use chrono::{DateTime, Utc};
use sqlx::{Connection as _, PgConnection, Row};
use store_support::*;

const COMPANY: i64 = 1;

/// Every column of the database's public tables: (table, column) →
/// (type, nullable, default).
async fn columns(url: &str) -> BTreeMap<(String, String), (String, String, Option<String>)> {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let rows = sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
         column_default::text FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("columns");
    rows.iter()
        .map(|r| {
            (
                (r.get(0), r.get(1)),
                (r.get(2), r.get(3), r.get::<Option<String>, _>(4)),
            )
        })
        .collect()
}

#[tokio::test]
async fn attach_adds_only_the_voice_tables_and_columns() {
    let Some((database, url)) = create_bigchat_database().await else {
        return;
    };
    let before = columns(&url).await;
    // Looking first (what `check` does) changes nothing.
    let report = AnyStore::inspect(&url).await.expect("inspect");
    assert_eq!(
        (report.mode, report.pending, report.legacy, report.exists),
        (SchemaMode::Attach, 5, false, true)
    );
    assert_eq!(columns(&url).await, before, "inspect changed the schema");
    let store = AnyStore::connect(&url).await.expect("attach");
    assert_eq!(store.schema().mode, SchemaMode::Attach);
    assert_eq!(store.schema().applied, 5);
    store.close().await;
    let after = columns(&url).await;

    // No BigChat column dropped, retyped, or given another default.
    for (key, was) in &before {
        assert_eq!(after.get(key), Some(was), "{key:?} changed");
    }
    let old_tables: BTreeSet<&str> = before.keys().map(|(t, _)| t.as_str()).collect();
    let added_to_bigchat: BTreeSet<String> = after
        .keys()
        .filter(|k| !before.contains_key(*k) && old_tables.contains(k.0.as_str()))
        .map(|(t, c)| format!("{t}.{c}"))
        .collect();
    let want: BTreeSet<String> = [
        "Messages.callRecordId",
        "TicketTraking.callRecordId",
        "Tickets.asteriskId",
        "Tickets.callType",
    ]
    .map(String::from)
    .into();
    assert_eq!(added_to_bigchat, want);
    for (_, (_, nullable, default)) in after.iter().filter(|(k, _)| {
        want.contains(&format!("{}.{}", k.0, k.1)) // added columns: NULL, no default
    }) {
        assert_eq!((nullable.as_str(), default.as_deref()), ("YES", None));
    }
    let new_tables: BTreeSet<&str> = after
        .keys()
        .map(|(t, _)| t.as_str())
        .filter(|t| !old_tables.contains(t))
        .collect();
    assert_eq!(
        new_tables,
        BTreeSet::from([
            "AsteriskQueues",
            "Asterisks",
            "CallOriginateKeys",
            "CallRecords",
            "bigchat_voice_migrations"
        ])
    );

    let report = AnyStore::inspect(&url).await.expect("inspect");
    assert_eq!((report.mode, report.pending), (SchemaMode::Attach, 0));
    // Opening again: nothing to do, same mode.
    let again = AnyStore::connect(&url).await.expect("again");
    assert_eq!(again.schema().mode, SchemaMode::Attach);
    assert_eq!(again.schema().applied, 0);
    let ast = again
        .ensure_asterisk("pbx-1", "10.0.0.5", 5038, "bigchat", COMPANY)
        .await
        .expect("server");
    again.close().await;

    // BigChat's own writes still work, as its services make them.
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let contact: i32 = sqlx::query_scalar(
        r#"INSERT INTO "Contacts" ("name", "number", "email", "isGroup", "companyId", "createdAt", "updatedAt")
           VALUES ('Joana', '5511988880000', '', false, 1, now(), now()) RETURNING "id""#,
    )
    .fetch_one(&mut conn)
    .await
    .expect("BigChat contact");
    let whatsapp: i32 = sqlx::query_scalar(
        r#"INSERT INTO "Whatsapps" ("name", "status", "isDefault", "companyId", "provider", "createdAt", "updatedAt")
           VALUES ('Vendas', 'CONNECTED', true, 1, 'beta', now(), now()) RETURNING "id""#,
    )
    .fetch_one(&mut conn)
    .await
    .expect("BigChat connection");
    let (ticket, uuid): (i32, String) = sqlx::query_as(
        r#"INSERT INTO "Tickets" ("status", "lastMessage", "contactId", "whatsappId", "isGroup",
             "unreadMessages", "companyId", "fromMe", "createdAt", "updatedAt")
           VALUES ('pending', 'Oi', $1, $2, false, 1, 1, false, now(), now())
           RETURNING "id", CAST("uuid" AS TEXT)"#,
    )
    .bind(contact)
    .bind(whatsapp)
    .fetch_one(&mut conn)
    .await
    .expect("BigChat ticket");
    assert_eq!(uuid.len(), 36, "uuid default still BigChat's");
    sqlx::query(
        r#"INSERT INTO "Messages" ("id", "body", "ack", "read", "mediaType", "ticketId", "fromMe",
             "contactId", "companyId", "createdAt", "updatedAt")
           VALUES ('3EB0C767D26A1D5A8B4F', 'Oi', 0, false, 'conversation', $1, false, $2, 1, now(), now())"#,
    )
    .bind(ticket)
    .bind(contact)
    .execute(&mut conn)
    .await
    .expect("BigChat message");
    sqlx::query(
        r#"INSERT INTO "TicketTraking" ("ticketId", "companyId", "whatsappId", "userId", "createdAt", "updatedAt")
           VALUES ($1, 1, $2, NULL, now(), now())"#,
    )
    .bind(ticket)
    .bind(whatsapp)
    .execute(&mut conn)
    .await
    .expect("BigChat tracking row");
    // The server's voice connection is a connection like the others, and
    // never looks like a connected WhatsApp phone.
    let (name, provider, status, default): (String, String, String, bool) = sqlx::query_as(
        r#"SELECT "w"."name", "w"."provider", "w"."status", "w"."isDefault" FROM "Whatsapps" AS "w"
           JOIN "Asterisks" AS "a" ON "a"."whatsappId" = "w"."id" WHERE "a"."id" = $1"#,
    )
    .bind(i32::try_from(ast).expect("id"))
    .fetch_one(&mut conn)
    .await
    .expect("voice connection");
    assert_eq!(
        (name.as_str(), provider.as_str(), status.as_str(), default),
        ("pbx-1 (voice)", "asterisk", "DISCONNECTED", false)
    );
    conn.close().await.expect("close");
    drop_pg_database(&database).await;
}

/// Runs `change` on the database at `url`, opens the store on it and
/// expects a refusal that creates nothing; returns the refusal's text.
async fn refused_after_changing(url: &str, change: &str) -> String {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(change.to_string()))
        .execute(&mut conn)
        .await
        .expect("change the database");
    conn.close().await.expect("close");
    let before = columns(url).await;
    let err = AnyStore::connect(url).await.expect_err("refused");
    assert!(
        matches!(err, StoreError::UnrecognisedDatabase { .. }),
        "{err:?}"
    );
    assert_eq!(columns(url).await, before, "nothing created");
    err.to_string()
}

#[tokio::test]
async fn a_database_that_is_neither_empty_nor_bigchat_is_refused_untouched() {
    let Some((database, url)) = create_pg_database().await else {
        return;
    };
    let text = refused_after_changing(
        &url,
        r#"CREATE TABLE "invoices" ("id" integer PRIMARY KEY, "total" numeric);
           INSERT INTO "invoices" VALUES (1, 10.5);"#,
    )
    .await;
    assert!(
        text.contains("neither empty nor a BigChat database") && text.contains("invoices"),
        "{text}"
    );
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let total: i64 = sqlx::query_scalar(r#"SELECT COUNT(*) FROM "invoices""#)
        .fetch_one(&mut conn)
        .await
        .expect("still there");
    assert_eq!(total, 1);
    conn.close().await.expect("close");
    drop_pg_database(&database).await;
}

#[tokio::test]
async fn a_bigchat_database_missing_what_voice_needs_is_refused_by_name() {
    let Some((database, url)) = create_bigchat_database().await else {
        return;
    };
    let text = refused_after_changing(
        &url,
        r#"DROP TABLE "TicketTraking"; ALTER TABLE "Tickets" DROP COLUMN "uuid";
           ALTER TABLE "Messages" DROP COLUMN "isEdited";"#,
    )
    .await;
    assert!(
        text.contains("TicketTraking")
            && text.contains("Tickets.uuid")
            && text.contains("Messages.isEdited"),
        "{text}"
    );
    drop_pg_database(&database).await;
}

#[tokio::test]
async fn mappings_naming_what_bigchat_lacks_are_reported() {
    let Some(db) = TestDb::new(Backend::BigChat).await else {
        return;
    };
    let users = [("1001".to_string(), 7), ("1003".to_string(), 99)];
    let queues = [("support".to_string(), 3), ("sales".to_string(), 42)];
    let problems = db
        .store
        .missing_references(COMPANY, &users, &queues)
        .await
        .expect("read");
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].contains("\"1003\"") && problems[0].contains("user 99"));
    assert!(problems[1].contains("\"sales\"") && problems[1].contains("queue 42"));
    // Company 2 exists, but user 7 and queue 3 are company 1's.
    let problems = db
        .store
        .missing_references(2, &users[..1], &queues[..1])
        .await
        .expect("read");
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems.iter().all(|p| p.contains("belongs to company 1")));
    let problems = db
        .store
        .missing_references(5, &[], &[])
        .await
        .expect("read");
    assert_eq!(
        problems,
        ["company 5 does not exist in BigChat's Companies"]
    );
    db.finish().await;
}

/// The tracker as an operator would configure it against BigChat: agent
/// 1001 is Ana (user 7); 1002 has no BigChat user; the PBX queue `support`
/// and every other call go to BigChat's queue 3.
fn bigchat_tracker() -> TrackerConfig {
    let mut cfg = TrackerConfig::default();
    cfg.users.insert("1001".into(), 7);
    cfg.queues.insert("support".into(), 3);
    cfg.queues.insert("*".into(), 3);
    cfg
}

/// Replays every capture with calls into the store, one tracker per
/// capture as the daemon would run on each recording.
async fn replay_captures(db: &TestDb, ast: i64) -> Vec<Effect> {
    let mut all = Vec::new();
    for name in tracker_support::captures_with_calls() {
        let mut tracker = Tracker::new(bigchat_tracker());
        let effects = tracker_support::feed(&mut tracker, &tracker_support::load(&name));
        for e in &effects {
            db.store.apply(ast, COMPANY, e).await.expect("apply");
        }
        all.extend(effects);
    }
    all
}

/// A tracking row as the dashboard reads it: queued, started and finished
/// times, the agent's name and the connection's.
type TrackingRow = (
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
);

/// A ticket as BigChat's ticket list reads it for an agent (its
/// ListTicketsService: assigned to the agent or pending, in one of the
/// agent's queues or in none, of the agent's company), with what the list
/// shows beside it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct ListedTicket {
    id: i32,
    status: String,
    #[sqlx(rename = "userId")]
    user_id: Option<i32>,
    #[sqlx(rename = "queueId")]
    queue_id: Option<i32>,
    #[sqlx(rename = "lastMessage")]
    last_message: Option<String>,
    #[sqlx(rename = "unreadMessages")]
    unread: Option<i32>,
    uuid: String,
    number: String,
    connection: Option<String>,
    queue: Option<String>,
}

async fn ticket_list(conn: &mut PgConnection, user: i32) -> Vec<ListedTicket> {
    sqlx::query_as(
        r#"SELECT "t"."id", "t"."status", "t"."userId", "t"."queueId", "t"."lastMessage",
             "t"."unreadMessages", CAST("t"."uuid" AS TEXT) AS "uuid", "c"."number",
             "w"."name" AS "connection", "q"."name" AS "queue"
           FROM "Tickets" AS "t"
           JOIN "Contacts" AS "c" ON "c"."id" = "t"."contactId"
           LEFT JOIN "Whatsapps" AS "w" ON "w"."id" = "t"."whatsappId"
           LEFT JOIN "Queues" AS "q" ON "q"."id" = "t"."queueId"
           WHERE ("t"."userId" = $1 OR "t"."status" = 'pending')
             AND ("t"."queueId" IN (SELECT "queueId" FROM "UserQueues" WHERE "userId" = $1)
                  OR "t"."queueId" IS NULL)
             AND "t"."companyId" = 1
           ORDER BY "t"."updatedAt" DESC"#,
    )
    .bind(user)
    .fetch_all(conn)
    .await
    .expect("ticket list")
}

#[tokio::test]
async fn every_recorded_call_reads_back_as_bigchat_reads_it() {
    let Some(db) = TestDb::new(Backend::BigChat).await else {
        return;
    };
    let ast = db
        .store
        .ensure_asterisk("pbx-1", "10.0.0.5", 5038, "bigchat", COMPANY)
        .await
        .expect("server");
    db.store
        .map_queues(ast, COMPANY, &bigchat_tracker().queue_mapping())
        .await
        .expect("queues");
    let effects = replay_captures(&db, ast).await;
    let calls = tracker_support::ended(&effects);
    assert!(calls.len() >= 10, "{} calls", calls.len());
    let first = db.dump().await;

    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    let ana = ticket_list(&mut conn, 7).await;
    let bruno = ticket_list(&mut conn, 8).await;
    let records = db
        .store
        .recent_calls(&{
            let mut c = bigchat_voice::store::CallFilter::default();
            c.limit = Some(1000);
            c
        })
        .await
        .expect("records");
    assert_eq!(records.len(), calls.len());
    for call in calls.values() {
        let record = records
            .iter()
            .find(|r| r.unique_id == call.unique_id)
            .expect("stored");
        let ticket_id = i32::try_from(record.ticket_id.expect("ticket")).expect("id");
        // Every call's ticket is on an agent's screen: Ana's own, or pending
        // in queue 3 for both agents.
        let seen_by_ana = ana.iter().find(|t| t.id == ticket_id);
        let seen_by_bruno = bruno.iter().find(|t| t.id == ticket_id);
        let ticket = seen_by_ana
            .or(seen_by_bruno)
            .unwrap_or_else(|| panic!("nobody sees the ticket of {}", call.unique_id));
        assert_eq!(ticket.connection.as_deref(), Some("pbx-1 (voice)"));
        assert_eq!(ticket.queue.as_deref(), Some("Suporte"));
        assert_eq!(ticket.uuid.len(), 36);
        let digits: String = call
            .contact_number
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        assert_eq!(ticket.number, digits, "digits only");
        if call.user_id == Some(7) {
            assert_eq!((ticket.status.as_str(), ticket.user_id), ("open", Some(7)));
        }

        // The ticket's messages, as BigChat's message list reads them.
        let messages = sqlx::query(
            r#"SELECT "id", "body", "mediaType", "mediaUrl", "fromMe", "read", "ack",
                 "queueId", "createdAt", "updatedAt", "contactId"
               FROM "Messages" WHERE "ticketId" = $1 AND "companyId" = 1
               AND ("queueId" IN (SELECT "queueId" FROM "UserQueues" WHERE "userId" = 8)
                    OR "queueId" IS NULL)
               ORDER BY "createdAt" DESC"#,
        )
        .bind(ticket_id)
        .fetch_all(&mut conn)
        .await
        .expect("messages");
        let id = format!("asterisk-{ast}-{}", call.unique_id);
        let m = messages
            .iter()
            .find(|m| m.get::<String, _>("id") == id)
            .unwrap_or_else(|| panic!("no message {id} in {ticket:?}"));
        let created: DateTime<Utc> = m.get("createdAt");
        assert_eq!(created, call.started_at, "dated by the call");
        let updated: DateTime<Utc> = m.get("updatedAt");
        assert_eq!(Some(updated), call.ended_at);
        let missed = call.direction == bigchat_voice::model::Direction::Inbound
            && call.answered_at.is_none();
        let media: String = m.get("mediaType");
        assert_eq!(media, if missed { "call_log" } else { "audio" });
        assert_eq!(m.get::<bool, _>("read"), !missed);
        assert_eq!(m.get::<i32, _>("ack"), 3);
        assert_eq!(m.get::<Option<i32>, _>("queueId"), Some(3));
        let media_url: Option<String> = m.get("mediaUrl");
        assert_eq!(
            media_url, call.recording_url,
            "relative to BigChat's public/"
        );
        if let Some(url) = &media_url {
            assert!(url.starts_with("recordings/company-1/2026/11/"), "{url}");
        }
        assert_eq!(
            m.get::<String, _>("body"),
            bigchat_voice::store::call_summary(call)
        );

        // The dashboard's tracking row: queued when the call came, started
        // when answered, finished when it ended, on the voice connection.
        let (queued, started, finished, user, connection): TrackingRow = sqlx::query_as(
            r#"SELECT "tt"."queuedAt", "tt"."startedAt", "tt"."finishedAt", "u"."name", "w"."name"
               FROM "TicketTraking" AS "tt"
               LEFT JOIN "Users" AS "u" ON "u"."id" = "tt"."userId"
               LEFT JOIN "Whatsapps" AS "w" ON "w"."id" = "tt"."whatsappId"
               JOIN "Tickets" AS "t" ON "t"."id" = "tt"."ticketId"
               WHERE "tt"."callRecordId" = $1 AND "tt"."companyId" = 1"#,
        )
        .bind(i32::try_from(record.id).expect("id"))
        .fetch_one(&mut conn)
        .await
        .expect("tracking row");
        assert_eq!(queued, Some(call.started_at));
        assert_eq!(started, call.answered_at);
        assert_eq!(finished, call.ended_at);
        assert_eq!(user.as_deref(), (call.user_id == Some(7)).then_some("Ana"));
        assert_eq!(connection.as_deref(), Some("pbx-1 (voice)"));
    }
    // Answered by 1002, who is no BigChat user: pending for the queue,
    // never "open" with nobody.
    let queue_call = records
        .iter()
        .find(|r| r.unique_id == "1795515989.26")
        .expect("queue call");
    let t = bruno
        .iter()
        .find(|t| Some(i64::from(t.id)) == queue_call.ticket_id)
        .expect("Bruno sees it");
    assert_eq!(
        (t.status.as_str(), t.user_id, t.last_message.as_deref()),
        ("pending", None, Some("Call ended 0:07"))
    );
    // A missed call counts as unread.
    let missed = calls
        .values()
        .find(|c| {
            c.direction == bigchat_voice::model::Direction::Inbound && c.answered_at.is_none()
        })
        .expect("a missed call");
    let missed_ticket = records
        .iter()
        .find(|r| r.unique_id == missed.unique_id)
        .and_then(|r| r.ticket_id)
        .expect("ticket");
    let unread = bruno
        .iter()
        .find(|t| i64::from(t.id) == missed_ticket)
        .and_then(|t| t.unread);
    assert_eq!(unread, Some(1));

    // Replaying every recording again changes nothing at all.
    replay_captures(&db, ast).await;
    assert_eq!(db.dump().await, first, "second replay changed rows");
    conn.close().await.expect("close");
    db.finish().await;
}

/// BigChat's unique keys are what the connector's upserts stand on: a
/// database without them is refused by name, untouched.
#[tokio::test]
async fn a_bigchat_database_without_its_unique_keys_is_refused() {
    let Some((database, url)) = create_bigchat_database().await else {
        return;
    };
    let text = refused_after_changing(
        &url,
        r#"ALTER TABLE "Tickets" DROP CONSTRAINT "contactid_companyid_unique";"#,
    )
    .await;
    assert!(
        text.contains("whatsappId") && text.contains("Tickets"),
        "{text}"
    );
    drop_pg_database(&database).await;
}

/// A role whose search_path puts a schema of its own before BigChat's
/// `public` would build a parallel copy BigChat never reads: refused,
/// naming both schemas.
#[tokio::test]
async fn bigchat_behind_another_schema_on_the_search_path_is_refused() {
    let Some((database, url)) = create_bigchat_database().await else {
        return;
    };
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    sqlx::raw_sql(r#"CREATE SCHEMA "voice";"#)
        .execute(&mut conn)
        .await
        .expect("schema");
    let shadowed = format!("{url}?options=-csearch_path%3Dvoice,public");
    let text = AnyStore::connect(&shadowed)
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        text.contains("\"public\"") && text.contains("\"voice\""),
        "{text}"
    );
    let tables: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'voice'")
            .fetch_one(&mut conn)
            .await
            .expect("count");
    assert_eq!(tables, 0, "nothing created in the shadowing schema");
    conn.close().await.expect("close");
    drop_pg_database(&database).await;
}

/// BigChat deletes the voice connection (an admin removes it from the
/// Connections page): the next call makes it again, and the contact's calls
/// still meet on one ticket that BigChat can accept and close.
#[tokio::test]
async fn a_deleted_voice_connection_is_made_again() {
    let Some(db) = TestDb::new(Backend::BigChat).await else {
        return;
    };
    let ast = db
        .store
        .ensure_asterisk("pbx-1", "10.0.0.5", 5038, "bigchat", COMPANY)
        .await
        .expect("server");
    db.exec(r#"DELETE FROM "Whatsapps" WHERE "provider" = 'asterisk'"#)
        .await;
    let mut tickets = Vec::new();
    for (i, uid) in ["d1", "d2"].iter().enumerate() {
        let call = inbound(uid, "+5511999990001", i as i64 * 100);
        let applied = db
            .store
            .apply(ast, COMPANY, &Effect::CallStarted(call))
            .await
            .expect("stored");
        let ticket = applied.ticket.expect("ticket");
        assert!(ticket.whatsapp_id.is_some(), "a ticket with no connection");
        tickets.push(ticket.id);
    }
    assert_eq!(tickets[0], tickets[1], "one ticket for the contact");
    let voice = db
        .dump_table("Whatsapps")
        .await
        .into_iter()
        .filter(|w| w.get("provider").cloned().flatten().as_deref() == Some("asterisk"))
        .count();
    assert_eq!(voice, 1);
    db.finish().await;
}

/// A user or queue deleted in BigChat while the daemon runs (mapped when it
/// started): the calls naming them are still stored — the ticket stays
/// pending without that agent or queue — instead of being refused for good
/// by BigChat's foreign keys.
#[tokio::test]
async fn users_and_queues_deleted_in_bigchat_do_not_make_calls_unstorable() {
    use bigchat_voice::model::CallStatus;
    let Some(db) = TestDb::new(Backend::BigChat).await else {
        return;
    };
    let ast = db
        .store
        .ensure_asterisk("pbx-1", "10.0.0.5", 5038, "bigchat", COMPANY)
        .await
        .expect("server");
    db.store
        .map_queues(ast, COMPANY, &[("*".to_string(), Some(3))])
        .await
        .expect("queues");
    for statement in [
        r#"DELETE FROM "UserQueues""#,
        r#"DELETE FROM "Users" WHERE "id" = 7"#,
        r#"DELETE FROM "Queues" WHERE "id" = 3"#,
    ] {
        db.exec(statement).await;
    }
    let call = inbound("gone.1", "+5511999990001", 0);
    let answered_call = answered(&call, 5, "1001", 7);
    let done = ended(&answered_call, CallStatus::Completed, 65);
    for effect in [
        Effect::CallStarted(call),
        Effect::CallUpdated(answered_call),
        Effect::CallEnded(done),
    ] {
        db.store
            .apply(ast, COMPANY, &effect)
            .await
            .unwrap_or_else(|e| panic!("{effect:?} refused: {e}"));
    }
    let tickets = db.dump_table("Tickets").await;
    assert_eq!(tickets.len(), 1);
    let t = &tickets[0];
    assert_eq!(
        t.get("status").cloned().flatten().as_deref(),
        Some("pending")
    );
    assert_eq!(t.get("userId").cloned().flatten(), None);
    assert_eq!(t.get("queueId").cloned().flatten(), None);
    let traking = db.dump_table("TicketTraking").await;
    assert_eq!(traking.len(), 1);
    assert_eq!(traking[0].get("userId").cloned().flatten(), None);
    db.finish().await;
}
