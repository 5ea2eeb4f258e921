//! Upgrading a database written by connector versions before 0.2.
//!
//! Those versions kept their own copies of BigChat's tables, with other
//! types (`Tickets.uuid` as text, integer `Messages.id`), contact numbers
//! with a leading `+`, no voice connection, and sqlx's default
//! `_sqlx_migrations` table. The upgrade, in one transaction (all or
//! nothing):
//!
//! 1. renames the old tables to `legacy_*` and drops their named indexes
//!    (on PostgreSQL their constraints and sequences become `legacy_*` too);
//! 2. runs the current migrations (a standalone schema);
//! 3. copies every row over, keeping ids:
//!    * contacts whose numbers differ only by the `+` become one (the
//!      oldest), stored digits-only;
//!    * each server gets its voice connection; every ticket belongs to its
//!      server's, and a contact's tickets on one connection become one (its
//!      open or pending ticket, else the newest), as BigChat keeps them;
//!    * call records, messages (now with their deterministic id, media type
//!      and the call's own times) and tracking rows follow their merged
//!      contact and ticket;
//! 4. drops the old tables and `_sqlx_migrations`.

use sqlx::migrate::Migrator;

use super::StoreError;

/// The old tables, children first (the order they are dropped in).
const OLD_TABLES: [&str; 6] = [
    "Messages",
    "TicketTraking",
    "CallRecords",
    "Tickets",
    "Contacts",
    "Asterisks",
];

/// The named indexes of the old schema (they would clash with the new ones).
const OLD_INDEXES: [&str; 6] = [
    "Tickets_company_contact",
    "CallRecords_company_started",
    "CallRecords_asterisk_status",
    "CallRecords_asterisk_live",
    "Messages_ticket",
    "TicketTraking_ticket",
];

fn rename_old_tables() -> String {
    let mut sql = String::new();
    for index in OLD_INDEXES {
        sql.push_str(&format!("DROP INDEX IF EXISTS \"{index}\";\n"));
    }
    for table in OLD_TABLES {
        sql.push_str(&format!(
            "ALTER TABLE \"{table}\" RENAME TO \"legacy_{table}\";\n"
        ));
    }
    sql
}

fn drop_old_tables() -> String {
    let mut sql = String::from(
        "DROP TABLE \"legacy_ticket_map\";\nDROP TABLE \"legacy_ticket_key\";\n\
         DROP TABLE \"legacy_contact_map\";\nDROP TABLE \"legacy_connection\";\n",
    );
    for table in OLD_TABLES {
        sql.push_str(&format!("DROP TABLE \"legacy_{table}\";\n"));
    }
    sql.push_str("DROP TABLE \"_sqlx_migrations\";\n");
    sql
}

/// Copies the old rows into the new tables; `$UUID` stands for the
/// expression that turns the old text uuid into the new column's type.
/// Old text that BigChat keeps in a `VARCHAR(255)` is fitted to it as the
/// current code writes it (contact names and numbers cut, a message's
/// `mediaUrl` only for a relative recording path that fits, see
/// `logic::media_url`): PostgreSQL would refuse a longer value, and with
/// it the whole upgrade.
const COPY_ROWS: &str = r#"
CREATE TABLE "legacy_connection" AS
SELECT "a"."id" AS "asterisk_id",
       CASE WHEN (SELECT COUNT(*) FROM "legacy_Asterisks" AS "b" WHERE "b"."name" = "a"."name") > 1
            THEN "a"."name" || ' (voice #' || "a"."id" || ')'
            ELSE "a"."name" || ' (voice)' END AS "name",
       "a"."companyId" AS "company_id", "a"."createdAt" AS "created_at"
FROM "legacy_Asterisks" AS "a";

INSERT INTO "Asterisks" ("id", "name", "status", "host", "port", "protocol", "username",
 "password", "greetingMessage", "farewellMessage", "transferQueueId", "timeToTransfer",
 "companyId", "createdAt", "updatedAt")
SELECT "id", "name", "status", "host", "port", "protocol", "username", NULL,
 "greetingMessage", "farewellMessage", "transferQueueId", "timeToTransfer",
 "companyId", "createdAt", "updatedAt" FROM "legacy_Asterisks";

INSERT INTO "Whatsapps" ("name", "status", "provider", "isDefault", "retries", "companyId",
 "greetingMessage", "complationMessage", "outOfHoursMessage", "ratingMessage",
 "farewellMessage", "createdAt", "updatedAt")
SELECT "name", 'DISCONNECTED', 'asterisk', FALSE, 0, "company_id", '', '', '', '', '',
 "created_at", "created_at" FROM "legacy_connection";

UPDATE "Asterisks" SET "whatsappId" = (SELECT "w"."id" FROM "Whatsapps" AS "w"
 JOIN "legacy_connection" AS "c" ON "c"."name" = "w"."name"
 WHERE "c"."asterisk_id" = "Asterisks"."id");

CREATE TABLE "legacy_contact_map" AS
SELECT "c"."id" AS "old_id",
       (SELECT MIN("k"."id") FROM "legacy_Contacts" AS "k"
        WHERE "k"."companyId" = "c"."companyId"
        AND SUBSTR(REPLACE("k"."number", '+', ''), 1, 255)
          = SUBSTR(REPLACE("c"."number", '+', ''), 1, 255)) AS "new_id"
FROM "legacy_Contacts" AS "c";

INSERT INTO "Contacts" ("id", "name", "number", "email", "isGroup", "companyId",
 "createdAt", "updatedAt")
SELECT "id", SUBSTR("name", 1, 255), SUBSTR(REPLACE("number", '+', ''), 1, 255), "email", FALSE, "companyId",
 "createdAt", "updatedAt" FROM "legacy_Contacts"
WHERE "id" IN (SELECT "new_id" FROM "legacy_contact_map");

CREATE TABLE "legacy_ticket_key" AS
SELECT "t"."id" AS "old_id", "m"."new_id" AS "contact_id", "t"."companyId" AS "company_id",
       (SELECT "a"."whatsappId" FROM "Asterisks" AS "a"
        WHERE "a"."id" = COALESCE("t"."asteriskId",
          (SELECT MIN("b"."id") FROM "Asterisks" AS "b" WHERE "b"."companyId" = "t"."companyId")))
         AS "whatsapp_id",
       CASE WHEN "t"."status" IN ('open', 'pending') THEN 0 ELSE 1 END AS "rank"
FROM "legacy_Tickets" AS "t" JOIN "legacy_contact_map" AS "m" ON "m"."old_id" = "t"."contactId";

CREATE TABLE "legacy_ticket_map" AS
SELECT "k"."old_id" AS "old_id",
       (SELECT "k2"."old_id" FROM "legacy_ticket_key" AS "k2"
        WHERE "k2"."contact_id" = "k"."contact_id" AND "k2"."company_id" = "k"."company_id"
        AND "k2"."whatsapp_id" IS NOT DISTINCT FROM "k"."whatsapp_id"
        ORDER BY "k2"."rank", "k2"."old_id" DESC LIMIT 1) AS "new_id"
FROM "legacy_ticket_key" AS "k";

INSERT INTO "Tickets" ("id", "status", "lastMessage", "contactId", "userId", "createdAt",
 "updatedAt", "whatsappId", "isGroup", "unreadMessages", "queueId", "companyId", "uuid",
 "fromMe", "asteriskId", "callType")
SELECT "t"."id", "t"."status", "t"."lastMessage", "k"."contact_id", "t"."userId",
 "t"."createdAt", "t"."updatedAt", "k"."whatsapp_id", "t"."isGroup",
 (SELECT SUM("t2"."unreadMessages") FROM "legacy_Tickets" AS "t2"
  JOIN "legacy_ticket_map" AS "m2" ON "m2"."old_id" = "t2"."id" WHERE "m2"."new_id" = "t"."id"),
 "t"."queueId", "t"."companyId", $UUID, "t"."fromMe", "t"."asteriskId", "t"."callType"
FROM "legacy_Tickets" AS "t" JOIN "legacy_ticket_key" AS "k" ON "k"."old_id" = "t"."id"
WHERE "t"."id" IN (SELECT "new_id" FROM "legacy_ticket_map");

INSERT INTO "CallRecords" ("id", "uniqueId", "callerId", "callerName", "calledNumber",
 "direction", "status", "duration", "holdTime", "talkTime", "recordingUrl", "recordingFile",
 "startedAt", "answeredAt", "endedAt", "agentExtension", "queue", "hangupCause", "reconciled",
 "ticketId", "asteriskId", "userId", "contactId", "companyId", "createdAt", "updatedAt")
SELECT "r"."id", "r"."uniqueId", "r"."callerId", "r"."callerName", "r"."calledNumber",
 "r"."direction", "r"."status", "r"."duration", "r"."holdTime", "r"."talkTime",
 "r"."recordingUrl", "r"."recordingFile", "r"."startedAt", "r"."answeredAt", "r"."endedAt",
 "r"."agentExtension", "r"."queue", "r"."hangupCause", "r"."reconciled",
 (SELECT "new_id" FROM "legacy_ticket_map" WHERE "old_id" = "r"."ticketId"),
 "r"."asteriskId", "r"."userId",
 (SELECT "new_id" FROM "legacy_contact_map" WHERE "old_id" = "r"."contactId"),
 "r"."companyId", "r"."createdAt", "r"."updatedAt"
FROM "legacy_CallRecords" AS "r";

INSERT INTO "Messages" ("id", "body", "ack", "read", "mediaType", "mediaUrl", "ticketId",
 "createdAt", "updatedAt", "fromMe", "isDeleted", "contactId", "companyId", "queueId",
 "isEdited", "callRecordId")
SELECT 'asterisk-' || "r"."asteriskId" || '-' || "r"."uniqueId", "m"."body", 3, "m"."read",
 CASE WHEN "r"."direction" = 'inbound' AND "r"."answeredAt" IS NULL THEN 'call_log'
      ELSE 'audio' END,
 CASE WHEN LTRIM("m"."mediaUrl", '/') LIKE '%://%' OR LTRIM("m"."mediaUrl", '/') LIKE 'data:%'
      OR LENGTH(LTRIM("m"."mediaUrl", '/')) NOT BETWEEN 1 AND 255 THEN NULL
      ELSE LTRIM("m"."mediaUrl", '/') END,
 (SELECT "new_id" FROM "legacy_ticket_map" WHERE "old_id" = "m"."ticketId"),
 "r"."startedAt", COALESCE("r"."endedAt", "r"."startedAt"), "m"."fromMe", FALSE,
 (SELECT "new_id" FROM "legacy_contact_map" WHERE "old_id" = "m"."contactId"),
 "m"."companyId", "m"."queueId", FALSE, "m"."callRecordId"
FROM "legacy_Messages" AS "m" JOIN "legacy_CallRecords" AS "r" ON "r"."id" = "m"."callRecordId";

INSERT INTO "TicketTraking" ("id", "ticketId", "companyId", "whatsappId", "userId",
 "createdAt", "updatedAt", "queuedAt", "startedAt", "finishedAt", "rated", "callRecordId")
SELECT "g"."id", "m"."new_id", "g"."companyId", "k"."whatsapp_id", "g"."userId",
 "g"."createdAt", "g"."updatedAt", "g"."queuedAt", "g"."startedAt", "g"."finishedAt",
 "g"."rated", "g"."callRecordId"
FROM "legacy_TicketTraking" AS "g"
JOIN "legacy_ticket_map" AS "m" ON "m"."old_id" = "g"."ticketId"
JOIN "legacy_ticket_key" AS "k" ON "k"."old_id" = "g"."ticketId";
"#;

/// On PostgreSQL, constraint (and their indexes') and sequence names are
/// unique in the schema: the renamed tables keep theirs as `legacy_*`, so
/// that the new tables get the same names as in a fresh database
/// (`Tickets_pkey`, `Tickets_id_seq`, …) instead of `Tickets_pkey1`.
#[cfg(feature = "postgres")]
fn rename_old_names_pg() -> String {
    let tables = OLD_TABLES.map(|t| format!("'{t}'")).join(", ");
    format!(
        r#"DO $$
DECLARE r record; seq text; t text;
BEGIN
  FOR r IN SELECT "c"."conrelid", "c"."conname" FROM pg_constraint AS "c"
    JOIN pg_class AS "k" ON "k"."oid" = "c"."conrelid"
    WHERE "k"."relnamespace" = CAST(current_schema() AS regnamespace)
    AND "k"."relname" IN (SELECT 'legacy_' || "n" FROM unnest(ARRAY[{tables}]) AS "n")
  LOOP
    EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I',
      CAST(r.conrelid AS regclass), r.conname, 'legacy_' || r.conname);
  END LOOP;
  FOREACH t IN ARRAY ARRAY[{tables}] LOOP
    seq := pg_get_serial_sequence(format('%I', 'legacy_' || t), 'id');
    IF seq IS NOT NULL THEN
      EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', seq, 'legacy_' || t || '_id_seq');
    END IF;
  END LOOP;
END $$;"#
    )
}

/// After rows were inserted with their ids, PostgreSQL's sequences go on
/// from the largest.
#[cfg(feature = "postgres")]
const RESET_SEQUENCES_PG: &str = r#"
SELECT setval(pg_get_serial_sequence('"Asterisks"', 'id'), COALESCE(MAX("id"), 0) + 1, FALSE) FROM "Asterisks";
SELECT setval(pg_get_serial_sequence('"Contacts"', 'id'), COALESCE(MAX("id"), 0) + 1, FALSE) FROM "Contacts";
SELECT setval(pg_get_serial_sequence('"Tickets"', 'id'), COALESCE(MAX("id"), 0) + 1, FALSE) FROM "Tickets";
SELECT setval(pg_get_serial_sequence('"CallRecords"', 'id'), COALESCE(MAX("id"), 0) + 1, FALSE) FROM "CallRecords";
SELECT setval(pg_get_serial_sequence('"TicketTraking"', 'id'), COALESCE(MAX("id"), 0) + 1, FALSE) FROM "TicketTraking";
"#;

/// Upgrades an old PostgreSQL schema (see the module docs).
#[cfg(feature = "postgres")]
pub(crate) async fn upgrade_postgres(
    pool: &sqlx::PgPool,
    migrator: &Migrator,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(rename_old_tables()))
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(rename_old_names_pg()))
        .execute(&mut *tx)
        .await?;
    migrator.run(&mut *tx).await?;
    let copy = COPY_ROWS.replace("$UUID", r#"CAST("t"."uuid" AS UUID)"#);
    sqlx::raw_sql(sqlx::AssertSqlSafe(copy))
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(RESET_SEQUENCES_PG).execute(&mut *tx).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop_old_tables()))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!("upgraded the schema of an earlier bigchat-voice version");
    Ok(())
}

/// Upgrades an old SQLite schema (see the module docs).
#[cfg(feature = "sqlite")]
pub(crate) async fn upgrade_sqlite(
    pool: &sqlx::SqlitePool,
    migrator: &Migrator,
) -> Result<(), StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(rename_old_tables()))
        .execute(&mut *tx)
        .await?;
    migrator.run(&mut *tx).await?;
    let copy = COPY_ROWS.replace("$UUID", r#""t"."uuid""#);
    sqlx::raw_sql(sqlx::AssertSqlSafe(copy))
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop_old_tables()))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!("upgraded the schema of an earlier bigchat-voice version");
    Ok(())
}
