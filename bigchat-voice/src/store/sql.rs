//! SQL shared by both backends. Both accept `$N` parameters, double-quoted
//! identifiers (required for BigChat's camelCase names in PostgreSQL),
//! `RETURNING`, `ON CONFLICT … DO UPDATE` and `IS DISTINCT FROM`.
//!
//! Integer columns are read through `CAST(… AS BIGINT)` so that one Rust
//! type (`i64`) decodes them on both backends: PostgreSQL keeps BigChat's
//! int4 columns (node-postgres reads int8 as strings) and sqlx decodes `i64`
//! only from int8.

/// `CallRecords` columns, as [`CallRecordRow`](super::CallRecordRow) reads them.
macro_rules! record_cols {
    () => {
        r#"CAST("id" AS BIGINT) AS "id", "uniqueId", "callerId", "callerName", "calledNumber",
 "direction", "status", CAST("duration" AS BIGINT) AS "duration",
 CAST("holdTime" AS BIGINT) AS "holdTime", CAST("talkTime" AS BIGINT) AS "talkTime",
 "recordingUrl", "recordingFile", "startedAt", "answeredAt", "endedAt", "agentExtension",
 "queue", CAST("hangupCause" AS BIGINT) AS "hangupCause", "reconciled",
 CAST("ticketId" AS BIGINT) AS "ticketId", CAST("asteriskId" AS BIGINT) AS "asteriskId",
 CAST("userId" AS BIGINT) AS "userId", CAST("contactId" AS BIGINT) AS "contactId",
 CAST("companyId" AS BIGINT) AS "companyId", "createdAt", "updatedAt""#
    };
}

/// `Tickets` columns, as [`TicketRow`](super::TicketRow) reads them.
macro_rules! ticket_cols {
    () => {
        r#"CAST("id" AS BIGINT) AS "id", "status", CAST("unreadMessages" AS BIGINT) AS "unreadMessages",
 "lastMessage", "isGroup", "uuid", "fromMe", CAST("userId" AS BIGINT) AS "userId",
 CAST("contactId" AS BIGINT) AS "contactId", CAST("queueId" AS BIGINT) AS "queueId",
 CAST("companyId" AS BIGINT) AS "companyId", CAST("asteriskId" AS BIGINT) AS "asteriskId",
 "callType", "createdAt", "updatedAt""#
    };
}

/// `Contacts` columns, as [`ContactRow`](super::ContactRow) reads them.
macro_rules! contact_cols {
    () => {
        r#"CAST("id" AS BIGINT) AS "id", "name", "number", "email",
 CAST("companyId" AS BIGINT) AS "companyId", "createdAt", "updatedAt""#
    };
}

/// `Asterisks` columns, as [`AsteriskRow`](super::AsteriskRow) reads them
/// (never `password`).
macro_rules! asterisk_cols {
    () => {
        r#"CAST("id" AS BIGINT) AS "id", "name", "status", "host", CAST("port" AS BIGINT) AS "port",
 "protocol", "username", "greetingMessage", "farewellMessage",
 CAST("transferQueueId" AS BIGINT) AS "transferQueueId",
 CAST("timeToTransfer" AS BIGINT) AS "timeToTransfer",
 CAST("companyId" AS BIGINT) AS "companyId", "createdAt", "updatedAt""#
    };
}

pub(crate) const SELECT_RECORD: &str = concat!(
    "SELECT ",
    record_cols!(),
    r#" FROM "CallRecords" WHERE "asteriskId" = $1 AND "uniqueId" = $2"#
);

pub(crate) const SELECT_LIVE_RECORD: &str = concat!(
    "SELECT ",
    record_cols!(),
    r#" FROM "CallRecords" WHERE "asteriskId" = $1 AND "uniqueId" = $2
 AND "status" IN ('ringing', 'answered', 'on_hold', 'transferred')"#
);

pub(crate) const LIVE_RECORDS: &str = concat!(
    "SELECT ",
    record_cols!(),
    r#" FROM "CallRecords" WHERE "asteriskId" = $1
 AND "status" IN ('ringing', 'answered', 'on_hold', 'transferred')
 ORDER BY "startedAt", "id""#
);

pub(crate) const RECENT_RECORDS: &str = concat!(
    "SELECT ",
    record_cols!(),
    r#" FROM "CallRecords" WHERE
 ($1 IS NULL OR "companyId" = $1)
 AND ($2 IS NULL OR "asteriskId" = $2)
 AND ($3 IS NULL OR "status" = $3)
 AND ($4 IS NULL OR "direction" = $4)
 AND ($5 IS NULL OR "agentExtension" = $5)
 AND ($6 IS NULL OR "userId" = $6)
 AND ($7 IS NULL OR "startedAt" >= $7)
 AND ($8 IS NULL OR "startedAt" < $8)
 ORDER BY "startedAt" DESC, "id" DESC LIMIT $9"#
);

pub(crate) const INSERT_RECORD: &str = concat!(
    r#"INSERT INTO "CallRecords" ("uniqueId", "callerId", "callerName", "calledNumber",
 "direction", "status", "duration", "holdTime", "talkTime", "recordingUrl", "recordingFile",
 "startedAt", "answeredAt", "endedAt", "agentExtension", "queue", "hangupCause", "reconciled",
 "ticketId", "asteriskId", "userId", "contactId", "companyId", "createdAt", "updatedAt")
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
 $19, $20, $21, $22, $23, $24, $24)
 ON CONFLICT ("asteriskId", "uniqueId") DO NOTHING RETURNING "#,
    record_cols!()
);

/// Updates the call's own fields (not its links); returns nothing when no
/// value changed, so a replay leaves `updatedAt` alone.
pub(crate) const UPDATE_RECORD: &str = concat!(
    r#"UPDATE "CallRecords" SET "callerId" = $2, "callerName" = $3, "calledNumber" = $4,
 "direction" = $5, "status" = $6, "duration" = $7, "holdTime" = $8, "talkTime" = $9,
 "recordingUrl" = $10, "recordingFile" = $11, "startedAt" = $12, "answeredAt" = $13,
 "endedAt" = $14, "agentExtension" = $15, "queue" = $16, "hangupCause" = $17,
 "reconciled" = $18, "userId" = $19, "updatedAt" = $20
 WHERE "id" = $1 AND ("callerId" IS DISTINCT FROM $2 OR "callerName" IS DISTINCT FROM $3
 OR "calledNumber" IS DISTINCT FROM $4 OR "direction" IS DISTINCT FROM $5
 OR "status" IS DISTINCT FROM $6 OR "duration" IS DISTINCT FROM $7
 OR "holdTime" IS DISTINCT FROM $8 OR "talkTime" IS DISTINCT FROM $9
 OR "recordingUrl" IS DISTINCT FROM $10 OR "recordingFile" IS DISTINCT FROM $11
 OR "startedAt" IS DISTINCT FROM $12 OR "answeredAt" IS DISTINCT FROM $13
 OR "endedAt" IS DISTINCT FROM $14 OR "agentExtension" IS DISTINCT FROM $15
 OR "queue" IS DISTINCT FROM $16 OR "hangupCause" IS DISTINCT FROM $17
 OR "reconciled" IS DISTINCT FROM $18 OR "userId" IS DISTINCT FROM $19)
 RETURNING "#,
    record_cols!()
);

/// The contact whose number is either spelling (`$2`, `$3`), the oldest
/// when both exist. Two equality lookups on the unique ("companyId",
/// "number") index rather than `"number" IN ($2, $3)`: PostgreSQL planned
/// the `IN` form as a scan of every contact of the company (filtering on
/// the number) while the table's statistics were young.
pub(crate) const FIND_CONTACT: &str = concat!(
    "SELECT ",
    contact_cols!(),
    r#" FROM "Contacts" WHERE "companyId" = $1 AND "number" = $2 UNION ALL SELECT "#,
    contact_cols!(),
    r#" FROM "Contacts" WHERE "companyId" = $1 AND "number" = $3 ORDER BY "id" LIMIT 1"#
);

pub(crate) const INSERT_CONTACT: &str = concat!(
    r#"INSERT INTO "Contacts" ("name", "number", "email", "companyId", "createdAt", "updatedAt")
 VALUES ($1, $2, '', $3, $4, $4) ON CONFLICT ("companyId", "number") DO NOTHING RETURNING "#,
    contact_cols!()
);

/// Reuses the contact's ticket for a new call, in one statement: the
/// contact's open/pending ticket first, else its latest ticket; a closed
/// one is reopened as pending without its agent (BigChat's
/// FindOrCreateTicket). Returns nothing when the contact has no ticket or
/// its best one is in another state (a new ticket is then inserted).
pub(crate) const REUSE_BEST_TICKET: &str = concat!(
    r#"UPDATE "Tickets" SET
 "status" = CASE WHEN "status" = 'closed' THEN 'pending' ELSE "status" END,
 "userId" = CASE WHEN "status" = 'closed' THEN NULL ELSE "userId" END,
 "asteriskId" = $3, "callType" = $4, "lastMessage" = $5, "fromMe" = $6, "updatedAt" = $7
 WHERE "id" = (SELECT "t"."id" FROM "Tickets" AS "t"
 WHERE "t"."companyId" = $1 AND "t"."contactId" = $2 AND "t"."isGroup" = FALSE
 ORDER BY CASE WHEN "t"."status" IN ('open', 'pending') THEN 0 ELSE 1 END, "t"."id" DESC
 LIMIT 1)
 AND "status" IN ('open', 'pending', 'closed') RETURNING "#,
    ticket_cols!()
);

pub(crate) const INSERT_TICKET: &str = concat!(
    r#"INSERT INTO "Tickets" ("status", "unreadMessages", "lastMessage", "isGroup", "uuid",
 "fromMe", "userId", "contactId", "queueId", "companyId", "asteriskId", "callType",
 "createdAt", "updatedAt")
 VALUES ('pending', 0, $1, FALSE, $2, $3, NULL, $4, NULL, $5, $6, $7, $8, $8) RETURNING "#,
    ticket_cols!()
);

/// Moves a ticket along with its call: `$2` opens it for agent `$3` (kept
/// when NULL), `$4` sets `lastMessage` (kept when NULL), `$5` adds unread
/// messages.
pub(crate) const TOUCH_TICKET: &str = concat!(
    r#"UPDATE "Tickets" SET
 "status" = CASE WHEN $2 THEN 'open' ELSE "status" END,
 "userId" = CASE WHEN $2 THEN COALESCE($3, "userId") ELSE "userId" END,
 "lastMessage" = COALESCE($4, "lastMessage"),
 "unreadMessages" = "unreadMessages" + $5,
 "updatedAt" = $6
 WHERE "id" = $1 RETURNING "#,
    ticket_cols!()
);

pub(crate) const SELECT_TICKET: &str = concat!(
    "SELECT ",
    ticket_cols!(),
    r#" FROM "Tickets" WHERE "id" = $1"#
);

/// A call's message (`$1`..`$9`) …
macro_rules! upsert_message {
    () => {
        r#"INSERT INTO "Messages" ("body", "mediaUrl",
 "mediaType", "fromMe", "read", "ticketId", "contactId", "queueId", "ack", "callRecordId",
 "companyId", "createdAt", "updatedAt")
 VALUES ($1, $2, 'audio/call', $3, $4, $5, $6, NULL, 0, $7, $8, $9, $9)
 ON CONFLICT ("callRecordId") DO UPDATE SET "body" = excluded."body",
 "mediaUrl" = excluded."mediaUrl", "fromMe" = excluded."fromMe", "read" = excluded."read",
 "updatedAt" = excluded."updatedAt"
 WHERE "Messages"."body" IS DISTINCT FROM excluded."body"
 OR "Messages"."mediaUrl" IS DISTINCT FROM excluded."mediaUrl"
 OR "Messages"."fromMe" IS DISTINCT FROM excluded."fromMe"
 OR "Messages"."read" IS DISTINCT FROM excluded."read""#
    };
}

/// … and its tracking row (ticket `$5`, record `$7`, company `$8`, now
/// `$9`, user `$10`, queued/started/finished `$11`..`$13`).
macro_rules! upsert_traking {
    () => {
        r#"INSERT INTO "TicketTraking" ("ticketId", "userId",
 "whatsappId", "queuedAt", "startedAt", "finishedAt", "rated", "callRecordId", "companyId",
 "createdAt", "updatedAt")
 VALUES ($5, $10, NULL, $11, $12, $13, FALSE, $7, $8, $9, $9)
 ON CONFLICT ("callRecordId") DO UPDATE SET "userId" = excluded."userId",
 "queuedAt" = excluded."queuedAt", "startedAt" = excluded."startedAt",
 "finishedAt" = excluded."finishedAt", "updatedAt" = excluded."updatedAt"
 WHERE "TicketTraking"."userId" IS DISTINCT FROM excluded."userId"
 OR "TicketTraking"."queuedAt" IS DISTINCT FROM excluded."queuedAt"
 OR "TicketTraking"."startedAt" IS DISTINCT FROM excluded."startedAt"
 OR "TicketTraking"."finishedAt" IS DISTINCT FROM excluded."finishedAt""#
    };
}

/// Upserts a call's message and tracking row in one round trip
/// (PostgreSQL: a data-modifying CTE, one prepared statement). Each upsert
/// writes only when a value changed.
pub(crate) const UPSERT_MESSAGE_TRAKING_PG: &str = concat!(
    "WITH \"m\" AS (",
    upsert_message!(),
    ") ",
    upsert_traking!()
);

/// The same for sqlx's SQLite (no DML in CTEs): two statements run by one
/// call into the connection's worker thread (`$N` parameters are absolute).
pub(crate) const UPSERT_MESSAGE_TRAKING_SQLITE: &str =
    concat!(upsert_message!(), ";\n", upsert_traking!());

/// The message upsert alone (a direct SQLite connection runs one statement
/// at a time, with no thread hand-off to save).
pub(crate) const UPSERT_MESSAGE_SQLITE: &str = upsert_message!();

/// The tracking-row upsert alone.
pub(crate) const UPSERT_TRAKING_SQLITE: &str = upsert_traking!();

pub(crate) const FIND_ASTERISK: &str = r#"SELECT CAST("id" AS BIGINT) FROM "Asterisks"
 WHERE "companyId" = $1 AND "name" = $2"#;

pub(crate) const INSERT_ASTERISK: &str = r#"INSERT INTO "Asterisks" ("name", "status", "host",
 "port", "protocol", "username", "password", "companyId", "createdAt", "updatedAt")
 VALUES ($1, 'DISCONNECTED', $2, $3, 'ami', $4, NULL, $5, $6, $6)
 ON CONFLICT ("companyId", "name") DO UPDATE SET "host" = excluded."host",
 "port" = excluded."port", "username" = excluded."username", "updatedAt" = excluded."updatedAt"
 WHERE "Asterisks"."host" IS DISTINCT FROM excluded."host"
 OR "Asterisks"."port" IS DISTINCT FROM excluded."port"
 OR "Asterisks"."username" IS DISTINCT FROM excluded."username"
 RETURNING CAST("id" AS BIGINT)"#;

pub(crate) const SET_ASTERISK_STATUS: &str = concat!(
    r#"UPDATE "Asterisks" SET "status" = $2,
 "updatedAt" = CASE WHEN "status" = $2 THEN "updatedAt" ELSE $3 END
 WHERE "id" = $1 RETURNING "#,
    asterisk_cols!()
);
