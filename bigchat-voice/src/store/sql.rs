//! SQL shared by both backends. Both accept `$N` parameters, double-quoted
//! identifiers (required for BigChat's camelCase names in PostgreSQL),
//! `RETURNING`, `ON CONFLICT … DO UPDATE` and `IS DISTINCT FROM`.
//!
//! Integer columns are read through `CAST(… AS BIGINT)` so that one Rust
//! type (`i64`) decodes them on both backends: PostgreSQL keeps BigChat's
//! int4 columns (node-postgres reads int8 as strings) and sqlx decodes `i64`
//! only from int8.

/// The live statuses as an SQL list: [`CallStatus::LIVE`](crate::model::CallStatus::LIVE)
/// written out (a literal, for `concat!`); checked against it, and against
/// the migrations' partial index, by a test below.
macro_rules! live_statuses {
    () => {
        "('ringing', 'answered', 'on_hold', 'transferred')"
    };
}

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
 CAST("companyId" AS BIGINT) AS "companyId", "createdAt", "updatedAt",
 CAST("journalSeq" AS BIGINT) AS "journalSeq", "classification""#
    };
}

/// `Tickets` columns, as [`TicketRow`](super::TicketRow) reads them.
macro_rules! ticket_cols {
    () => {
        r#"CAST("id" AS BIGINT) AS "id", "status",
 CAST(COALESCE("unreadMessages", 0) AS BIGINT) AS "unreadMessages",
 "lastMessage", "isGroup", CAST("uuid" AS TEXT) AS "uuid", "fromMe",
 CAST("userId" AS BIGINT) AS "userId", CAST("contactId" AS BIGINT) AS "contactId",
 CAST("queueId" AS BIGINT) AS "queueId", CAST("companyId" AS BIGINT) AS "companyId",
 CAST("whatsappId" AS BIGINT) AS "whatsappId", CAST("asteriskId" AS BIGINT) AS "asteriskId",
 "callType", "createdAt", "updatedAt""#
    };
}

/// `Contacts` columns, as [`ContactRow`](super::ContactRow) reads them.
macro_rules! contact_cols {
    () => {
        r#"CAST("id" AS BIGINT) AS "id", "name", "number", "email", "profilePicUrl",
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
 CAST("whatsappId" AS BIGINT) AS "whatsappId",
 CAST("companyId" AS BIGINT) AS "companyId", "createdAt", "updatedAt""#
    };
}

pub(crate) const SELECT_RECORD: &str = concat!(
    "SELECT ",
    record_cols!(),
    r#" FROM "CallRecords" WHERE "asteriskId" = $1 AND "uniqueId" = $2"#
);

/// The records of server `$1` whose `uniqueId` is in the JSON array of
/// texts `$2`: one lookup on the unique key (`asteriskId`, `uniqueId`) per
/// id, whatever the table's statistics say.
///
/// The plain form, `"uniqueId" = ANY(…)`, is planned (and, as a prepared
/// statement, cached) while the table is small or never analysed as an
/// index scan on `asteriskId` alone, filtered: every row of the server,
/// read for every batch, until the next ANALYZE. The `LATERAL … OFFSET 0`
/// subquery cannot be flattened, so each id is an equality on both key
/// columns.
#[cfg(feature = "postgres")]
pub(crate) const SELECT_RECORDS_PG: &str = concat!(
    r#"SELECT "r".* FROM json_array_elements_text(CAST($2 AS json)) AS "wanted" ("uniqueId")
 CROSS JOIN LATERAL (SELECT "#,
    record_cols!(),
    r#" FROM "CallRecords" WHERE "asteriskId" = $1
 AND "CallRecords"."uniqueId" = "wanted"."uniqueId" OFFSET 0) AS "r""#
);

/// [`SELECT_RECORDS_PG`] for SQLite.
#[cfg(feature = "sqlite")]
pub(crate) const SELECT_RECORDS_SQLITE: &str = concat!(
    "SELECT ",
    record_cols!(),
    r#" FROM "CallRecords" WHERE "asteriskId" = $1
 AND "uniqueId" IN (SELECT "value" FROM json_each($2))"#
);

/// The contacts of company `$1` whose number is in the JSON array of texts
/// `$2` (every spelling wanted: see [`FIND_CONTACT`]): one lookup on the
/// unique key (`number`, `companyId`) per number, for the reason given at
/// [`SELECT_RECORDS_PG`] (a plan cached while the table was small scanned
/// it whole for every batch).
#[cfg(feature = "postgres")]
pub(crate) const SELECT_CONTACTS_PG: &str = concat!(
    r#"SELECT "c".* FROM json_array_elements_text(CAST($2 AS json)) AS "wanted" ("number")
 CROSS JOIN LATERAL (SELECT "#,
    contact_cols!(),
    r#" FROM "Contacts" WHERE "companyId" = $1
 AND "Contacts"."number" = "wanted"."number" OFFSET 0) AS "c""#
);

/// [`SELECT_CONTACTS_PG`] for SQLite.
#[cfg(feature = "sqlite")]
pub(crate) const SELECT_CONTACTS_SQLITE: &str = concat!(
    "SELECT ",
    contact_cols!(),
    r#" FROM "Contacts" WHERE "companyId" = $1
 AND "number" IN (SELECT "value" FROM json_each($2))"#
);

pub(crate) const SELECT_LIVE_RECORD: &str = concat!(
    "SELECT ",
    record_cols!(),
    r#" FROM "CallRecords" WHERE "asteriskId" = $1 AND "uniqueId" = $2
 AND "status" IN "#,
    live_statuses!()
);

pub(crate) const LIVE_RECORDS: &str = concat!(
    "SELECT ",
    record_cols!(),
    r#" FROM "CallRecords" WHERE "asteriskId" = $1
 AND "status" IN "#,
    live_statuses!(),
    r#"
 ORDER BY "startedAt", "id""#
);

/// The start of the recent-calls query: the filters given, each an `AND`,
/// and the order and limit follow (see `recent_calls` in `ops`).
pub(crate) const RECENT_RECORDS: &str = concat!(
    "SELECT ",
    record_cols!(),
    r#" FROM "CallRecords" WHERE TRUE"#
);

/// Claims an originate idempotency key: company `$1`, key `$2`, request
/// hash `$3`, Asterisk `$4`, call `$5`, now `$6`. Nothing happens when the
/// key is taken (see [`SELECT_ORIGINATE_KEY`]).
pub(crate) const CLAIM_ORIGINATE_KEY: &str = r#"INSERT INTO "CallOriginateKeys"
 ("companyId", "key", "requestHash", "asteriskId", "uniqueId", "createdAt")
 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT ("companyId", "key") DO NOTHING"#;

/// The claim of key `$2` of company `$1`.
pub(crate) const SELECT_ORIGINATE_KEY: &str = r#"SELECT "requestHash", "asteriskId", "uniqueId"
 FROM "CallOriginateKeys" WHERE "companyId" = $1 AND "key" = $2"#;

/// Gives back key `$2` of company `$1`, claimed for call `$3`.
pub(crate) const RELEASE_ORIGINATE_KEY: &str = r#"DELETE FROM "CallOriginateKeys"
 WHERE "companyId" = $1 AND "key" = $2 AND "uniqueId" = $3"#;

pub(crate) const INSERT_RECORD: &str = concat!(
    r#"INSERT INTO "CallRecords" ("uniqueId", "callerId", "callerName", "calledNumber",
 "direction", "status", "duration", "holdTime", "talkTime", "recordingUrl", "recordingFile",
 "startedAt", "answeredAt", "endedAt", "agentExtension", "queue", "hangupCause", "reconciled",
 "ticketId", "asteriskId", "userId", "contactId", "companyId", "createdAt", "updatedAt",
 "journalSeq", "classification")
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
 $19, $20, $21, $22, $23, $24, $24, $25, $26)
 ON CONFLICT ("asteriskId", "uniqueId") DO NOTHING RETURNING "#,
    record_cols!()
);

/// The `UPDATE` of [`UPDATE_RECORD`], without its `RETURNING`.
macro_rules! update_record {
    () => {
        r#"UPDATE "CallRecords" SET "callerId" = $2, "callerName" = $3, "calledNumber" = $4,
 "direction" = $5, "status" = $6, "duration" = $7, "holdTime" = $8, "talkTime" = $9,
 "recordingUrl" = $10, "recordingFile" = $11, "startedAt" = $12, "answeredAt" = $13,
 "endedAt" = $14, "agentExtension" = $15, "queue" = $16, "hangupCause" = $17,
 "reconciled" = $18, "userId" = $19, "updatedAt" = $20,
 "journalSeq" = COALESCE($21, "journalSeq"),
 "classification" = CASE WHEN "direction" IS DISTINCT FROM $5 OR "classification" IS NULL
 THEN $22 ELSE "classification" END
 WHERE "id" = $1 AND ("callerId" IS DISTINCT FROM $2 OR "callerName" IS DISTINCT FROM $3
 OR "calledNumber" IS DISTINCT FROM $4 OR "direction" IS DISTINCT FROM $5
 OR "status" IS DISTINCT FROM $6 OR "duration" IS DISTINCT FROM $7
 OR "holdTime" IS DISTINCT FROM $8 OR "talkTime" IS DISTINCT FROM $9
 OR "recordingUrl" IS DISTINCT FROM $10 OR "recordingFile" IS DISTINCT FROM $11
 OR "startedAt" IS DISTINCT FROM $12 OR "answeredAt" IS DISTINCT FROM $13
 OR "endedAt" IS DISTINCT FROM $14 OR "agentExtension" IS DISTINCT FROM $15
 OR "queue" IS DISTINCT FROM $16 OR "hangupCause" IS DISTINCT FROM $17
 OR "reconciled" IS DISTINCT FROM $18 OR "userId" IS DISTINCT FROM $19)
"#
    };
}

/// Updates the call's own fields (not its links); returns nothing when no
/// value changed, so a replay leaves `updatedAt` alone. `$21`, the journal
/// position of the effect (NULL: none), is kept with the change. `$22`, the
/// classification, is written only with a new direction (or when none is
/// stored): a tracker that rejoins a call words its reason differently, and
/// that alone is no change.
pub(crate) const UPDATE_RECORD: &str = concat!(update_record!(), " RETURNING ", record_cols!());

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

/// The BigChat queue (`Queues.id`) PBX queue `$q` of server `$a` maps to
/// (`$a`, `$q`: parameter numbers). In attach mode only a queue BigChat
/// still has: a mapping to a queue deleted since is ignored rather than
/// refused by the ticket's foreign key.
macro_rules! mapped_queue {
    (standalone, $a:literal, $q:literal) => {
        concat!(
            r#"(SELECT "queueId" FROM "AsteriskQueues" WHERE "asteriskId" = $"#,
            $a,
            r#" AND "queue" = $"#,
            $q,
            ")"
        )
    };
    (attach, $a:literal, $q:literal) => {
        concat!(
            r#"(SELECT "q"."id" FROM "AsteriskQueues" AS "aq" JOIN "Queues" AS "q"
 ON "q"."id" = "aq"."queueId" WHERE "aq"."asteriskId" = $"#,
            $a,
            r#" AND "aq"."queue" = $"#,
            $q,
            ")"
        )
    };
}

/// The BigChat queue of server `$a`'s calls that went through no mapped
/// queue (the `*` row of `AsteriskQueues`, if any): BigChat shows its
/// agents only the tickets of their queues.
macro_rules! default_queue {
    (standalone, $a:literal) => {
        concat!(
            r#"(SELECT "queueId" FROM "AsteriskQueues" WHERE "asteriskId" = $"#,
            $a,
            r#" AND "queue" = '*')"#
        )
    };
    (attach, $a:literal) => {
        concat!(
            r#"(SELECT "q"."id" FROM "AsteriskQueues" AS "aq" JOIN "Queues" AS "q"
 ON "q"."id" = "aq"."queueId" WHERE "aq"."asteriskId" = $"#,
            $a,
            r#" AND "aq"."queue" = '*')"#
        )
    };
}

/// The BigChat user `$u` (a parameter number): in attach mode only a user
/// BigChat still has (NULL for one deleted since the daemon started).
macro_rules! user_ref {
    (standalone, $u:literal) => {
        concat!("$", $u)
    };
    (attach, $u:literal) => {
        concat!(r#"(SELECT "id" FROM "Users" WHERE "id" = $"#, $u, ")")
    };
}

/// The voice connection (`Whatsapps.id`) of server `$a`.
macro_rules! voice_connection {
    ($a:literal) => {
        concat!(
            r#"(SELECT "whatsappId" FROM "Asterisks" WHERE "id" = $"#,
            $a,
            ")"
        )
    };
}

/// Reuses the contact's ticket on the server's voice connection for a new
/// call, in one statement, as BigChat keeps one ticket per contact per
/// connection (unique "contactId", "companyId", "whatsappId"): an open or
/// pending ticket goes on; a closed one is reopened as pending, without its
/// agent, its queue and its unread count. `$8` is the call's PBX queue:
/// its BigChat queue, when mapped, becomes the ticket's; a ticket left
/// without one takes the server's default queue. Returns nothing when the
/// contact has no voice ticket yet, or it is in another state (e.g. a
/// BigChat status the connector does not know: then it is left alone).
macro_rules! reuse_ticket {
    ($mode:ident) => {
        concat!(
            r#"UPDATE "Tickets" SET
 "status" = CASE WHEN "status" = 'closed' THEN 'pending' ELSE "status" END,
 "userId" = CASE WHEN "status" = 'closed' THEN NULL ELSE "userId" END,
 "unreadMessages" = CASE WHEN "status" = 'closed' THEN 0 ELSE "unreadMessages" END,
 "queueId" = COALESCE("#,
            mapped_queue!($mode, 3, 8),
            r#", CASE WHEN "status" = 'closed' THEN NULL ELSE "queueId" END, "#,
            default_queue!($mode, 3),
            r#"),
 "asteriskId" = $3, "callType" = $4, "lastMessage" = $5, "fromMe" = $6, "updatedAt" = $7
 WHERE "companyId" = $1 AND "contactId" = $2 AND "whatsappId" = "#,
            voice_connection!(3),
            r#"
 AND "status" IN ('open', 'pending', 'closed') RETURNING "#,
            ticket_cols!()
        )
    };
}

/// A new pending ticket on the server's voice connection (its uuid is the
/// column's default, a random UUID as BigChat makes them); nothing when the
/// contact already has a ticket there (see [`SELECT_VOICE_TICKET`]), or the
/// server has no voice connection (BigChat deleted it: never a ticket
/// without one).
macro_rules! insert_ticket {
    ($mode:ident) => {
        concat!(
            r#"INSERT INTO "Tickets" ("status", "unreadMessages", "lastMessage", "isGroup",
 "fromMe", "userId", "contactId", "whatsappId", "queueId", "companyId", "asteriskId",
 "callType", "createdAt", "updatedAt")
 SELECT 'pending', 0, $1, FALSE, $2, NULL, $3, "c"."id", COALESCE("#,
            mapped_queue!($mode, 5, 8),
            ", ",
            default_queue!($mode, 5),
            r#"), $4, $5, $6, $7, $7
 FROM "Asterisks" AS "a" JOIN "Whatsapps" AS "c" ON "c"."id" = "a"."whatsappId"
 WHERE "a"."id" = $5
 ON CONFLICT ("contactId", "companyId", "whatsappId") DO NOTHING RETURNING "#,
            ticket_cols!()
        )
    };
}

/// The contact's ticket on the server's voice connection, whatever its state.
pub(crate) const SELECT_VOICE_TICKET: &str = concat!(
    "SELECT ",
    ticket_cols!(),
    r#" FROM "Tickets" WHERE "companyId" = $1 AND "contactId" = $2 AND "whatsappId" = "#,
    voice_connection!(3)
);

/// Moves a ticket along with its call: `$2` opens it for agent `$3` (only
/// when the agent is a known user: a ticket open with nobody is seen by
/// nobody, a pending one by every agent of its queue), `$4` sets
/// `lastMessage` (kept when NULL), `$5` adds unread messages, and the PBX
/// queue `$8` of server `$7` sets the BigChat queue when mapped.
macro_rules! touch_ticket {
    ($mode:ident) => {
        concat!(
            touch_set!($mode, 2, 3, 4, 5, 6, 7, 8),
            r#" WHERE "id" = $1 RETURNING "#,
            ticket_cols!()
        )
    };
}

/// The `UPDATE … SET` of [`touch_ticket!`] with its parameters numbered
/// `$open`, `$user`, `$last`, `$unread`, `$now`, `$ast` (the server) and
/// `$queue` (the PBX queue).
macro_rules! touch_set {
    ($mode:ident, $open:literal, $user:literal, $last:literal, $unread:literal, $now:literal,
     $ast:literal, $queue:literal) => {
        concat!(
            r#"UPDATE "Tickets" SET
 "status" = CASE WHEN $"#,
            $open,
            " AND ",
            user_ref!($mode, $user),
            r#" IS NOT NULL THEN 'open' ELSE "status" END,
 "userId" = CASE WHEN $"#,
            $open,
            " THEN COALESCE(",
            user_ref!($mode, $user),
            r#", "userId") ELSE "userId" END,
 "lastMessage" = COALESCE($"#,
            $last,
            r#", "lastMessage"),
 "unreadMessages" = COALESCE("unreadMessages", 0) + $"#,
            $unread,
            r#",
 "queueId" = COALESCE("#,
            mapped_queue!($mode, $ast, $queue),
            r#", "queueId", "#,
            default_queue!($mode, $ast),
            r#"),
 "updatedAt" = $"#,
            $now
        )
    };
}

/// A changed call in one statement (PostgreSQL: data-modifying CTEs):
/// [`UPDATE_RECORD`] (`$1`..`$22`, as there); when it changed the record,
/// [`touch_ticket!`] of ticket `$23` if `$28` (open `$24`, agent `$19`,
/// `lastMessage` `$25`, unread `$26`, now `$20`, server `$27`, PBX queue
/// `$16`), and, if `$37`, the call's message and tracking row (as
/// [`UPSERT_MESSAGE_TRAKING_PG`]: body `$29`, recording `$30`, fromMe
/// `$31`, read `$32`, contact `$33`, company `$34`, id `$35`, media type
/// `$36`, dated `$12`/`$13`/`$14`). The message and tracking row read the
/// ticket as the touch left it. With `$38`, the ticket as it was before.
///
/// One row when the record changed: the record (28 columns), the ticket
/// before (16, NULL unless asked), the ticket after (16, NULL unless
/// touched), the message (13, NULL unless written); none otherwise.
macro_rules! update_call {
    ($mode:ident) => {
        concat!(
            r#"WITH "r" AS ("#,
            update_record!(),
            " RETURNING ",
            record_cols!(),
            r#"), "tb" AS (SELECT "#,
            ticket_cols!(),
            r#" FROM "Tickets" WHERE "id" = $23 AND $38), "t" AS ("#,
            touch_set!($mode, 24, 19, 25, 26, 20, 27, 16),
            r#" WHERE "id" = $23 AND $28 AND EXISTS (SELECT 1 FROM "r") RETURNING "#,
            ticket_cols!(),
            r#"), "m" AS ("#,
            message_insert!(),
            r#" SELECT $35, $29, 3, $32, $36, $30, $23, $12, COALESCE($14, $12), $31, FALSE, $33,
 $34, "#,
            ticket_now!("queueId"),
            r#", FALSE, $1 WHERE $37 AND EXISTS (SELECT 1 FROM "r") "#,
            message_conflict!(),
            " RETURNING ",
            message_cols!(),
            r#"), "k" AS ("#,
            traking_insert!(),
            " SELECT $23, CASE WHEN ",
            ticket_now!("userId"),
            " = $19 THEN $19 END, ",
            voice_connection!(27),
            r#", $12, $13, $14, FALSE, $1, $34, $20, $20
 WHERE $37 AND EXISTS (SELECT 1 FROM "r") "#,
            traking_conflict!(),
            r#") SELECT "r".*, "tb".*, "t".*, "m".* FROM "r" LEFT JOIN "tb" ON TRUE
 LEFT JOIN "t" ON TRUE LEFT JOIN "m" ON TRUE"#
        )
    };
}

/// A new call's ticket and record in one statement (PostgreSQL:
/// data-modifying CTEs): [`reuse_ticket!`] (`$1`..`$8`, as there), then
/// [`INSERT_RECORD`] with that ticket: call `$9`, its fields `$10`..`$26`
/// (as [`INSERT_RECORD`]'s `$2`..`$18`), agent `$27`, journal position
/// `$28`, classification `$29`. One row when a ticket was reused: the
/// ticket (16 columns) and the record (28, NULL when another writer
/// created it first); none otherwise.
macro_rules! start_call {
    ($mode:ident) => {
        concat!(
            r#"WITH "t" AS ("#,
            reuse_ticket!($mode),
            r#"), "r" AS (INSERT INTO "CallRecords" ("uniqueId", "callerId", "callerName",
 "calledNumber", "direction", "status", "duration", "holdTime", "talkTime", "recordingUrl",
 "recordingFile", "startedAt", "answeredAt", "endedAt", "agentExtension", "queue", "hangupCause",
 "reconciled", "ticketId", "asteriskId", "userId", "contactId", "companyId", "createdAt",
 "updatedAt", "journalSeq", "classification")
 SELECT $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26,
 "t"."id", $3, $27, $2, $1, $7, $7, $28, $29 FROM "t"
 ON CONFLICT ("asteriskId", "uniqueId") DO NOTHING RETURNING "#,
            record_cols!(),
            r#") SELECT "t".*, "r".* FROM "t" LEFT JOIN "r" ON TRUE"#
        )
    };
}

/// Column `$col` of ticket `$23` as the touch in [`update_call!`] left it
/// (the CTEs all read the snapshot from before the statement).
macro_rules! ticket_now {
    ($col:literal) => {
        concat!(
            r#"CASE WHEN EXISTS (SELECT 1 FROM "t") THEN (SELECT ""#,
            $col,
            r#"" FROM "t") ELSE (SELECT ""#,
            $col,
            r#"" FROM "Tickets" WHERE "id" = $23) END"#
        )
    };
}

/// `Messages` columns, as [`MessageRow`](super::MessageRow) reads them.
macro_rules! message_cols {
    () => {
        r#""id", "body", CAST("ack" AS BIGINT) AS "ack",
 "read", "mediaType", "mediaUrl", CAST("ticketId" AS BIGINT) AS "ticketId",
 CAST("contactId" AS BIGINT) AS "contactId", "fromMe", CAST("queueId" AS BIGINT) AS "queueId",
 CAST("companyId" AS BIGINT) AS "companyId", "createdAt", "updatedAt""#
    };
}

/// A call's message, as [`MessageRow`](super::MessageRow) reads it.
pub(crate) const SELECT_MESSAGE: &str = concat!(
    "SELECT ",
    message_cols!(),
    r#" FROM "Messages" WHERE "id" = $1"#
);

pub(crate) const SELECT_CONTACT: &str = concat!(
    "SELECT ",
    contact_cols!(),
    r#" FROM "Contacts" WHERE "id" = $1"#
);

pub(crate) const SELECT_TICKET: &str = concat!(
    "SELECT ",
    ticket_cols!(),
    r#" FROM "Tickets" WHERE "id" = $1"#
);

/// A call's message: id `$14` (see [`call_message_id`](super::logic::call_message_id)),
/// body `$1`, recording `$2` (relative to BigChat's `public/`), fromMe `$3`,
/// read `$4`, ticket `$5`, contact `$6`, record `$7`, company `$8`, dated
/// by the call itself (started `$11`, ended `$13`), of media type `$16`
/// (see [`call_media_type`](super::logic::call_media_type)). Its queue is
/// the ticket's, as BigChat's own messages carry it (an agent is shown only
/// the messages of their queues).
macro_rules! upsert_message {
    () => {
        concat!(
            message_insert!(),
            r#" VALUES ($14, $1, 3, $4, $16, $2, $5, $11, COALESCE($13, $11), $3, FALSE, $6, $8,
 (SELECT "queueId" FROM "Tickets" WHERE "id" = $5), FALSE, $7) "#,
            message_conflict!()
        )
    };
}

/// The `INSERT INTO` of [`upsert_message!`], up to its values.
macro_rules! message_insert {
    () => {
        r#"INSERT INTO "Messages" ("id", "body", "ack", "read", "mediaType",
 "mediaUrl", "ticketId", "createdAt", "updatedAt", "fromMe", "isDeleted", "contactId",
 "companyId", "queueId", "isEdited", "callRecordId")"#
    };
}

/// The `ON CONFLICT` of [`upsert_message!`]: a change only.
macro_rules! message_conflict {
    () => {
        r#"ON CONFLICT ("id") DO UPDATE SET "body" = excluded."body",
 "mediaUrl" = excluded."mediaUrl", "mediaType" = excluded."mediaType",
 "fromMe" = excluded."fromMe", "read" = excluded."read",
 "createdAt" = excluded."createdAt", "updatedAt" = excluded."updatedAt"
 WHERE "Messages"."body" IS DISTINCT FROM excluded."body"
 OR "Messages"."mediaType" IS DISTINCT FROM excluded."mediaType"
 OR "Messages"."mediaUrl" IS DISTINCT FROM excluded."mediaUrl"
 OR "Messages"."fromMe" IS DISTINCT FROM excluded."fromMe"
 OR "Messages"."read" IS DISTINCT FROM excluded."read"
 OR "Messages"."createdAt" IS DISTINCT FROM excluded."createdAt"
 OR "Messages"."updatedAt" IS DISTINCT FROM excluded."updatedAt""#
    };
}

/// … and its tracking row (ticket `$5`, record `$7`, company `$8`, now
/// `$9`, queued/started/finished `$11`..`$13`, on the voice connection of
/// server `$15`). Its user is the call's (`$10`) when the ticket has it —
/// it was just opened for that user — so a user BigChat no longer has
/// never reaches the row's foreign key.
macro_rules! upsert_traking {
    () => {
        concat!(
            traking_insert!(),
            r#" VALUES ($5, CASE WHEN (SELECT "userId" FROM "Tickets" WHERE "id" = $5) = $10
 THEN $10 END, "#,
            voice_connection!(15),
            r#", $11, $12, $13, FALSE, $7, $8, $9, $9) "#,
            traking_conflict!()
        )
    };
}

/// The `INSERT INTO` of [`upsert_traking!`], up to its values.
macro_rules! traking_insert {
    () => {
        r#"INSERT INTO "TicketTraking" ("ticketId", "userId",
 "whatsappId", "queuedAt", "startedAt", "finishedAt", "rated", "callRecordId", "companyId",
 "createdAt", "updatedAt")"#
    };
}

/// The `ON CONFLICT` of [`upsert_traking!`]: a change only.
macro_rules! traking_conflict {
    () => {
        r#"ON CONFLICT ("callRecordId") DO UPDATE SET "userId" = excluded."userId",
 "queuedAt" = excluded."queuedAt", "startedAt" = excluded."startedAt",
 "finishedAt" = excluded."finishedAt", "updatedAt" = excluded."updatedAt"
 WHERE "TicketTraking"."userId" IS DISTINCT FROM excluded."userId"
 OR "TicketTraking"."queuedAt" IS DISTINCT FROM excluded."queuedAt"
 OR "TicketTraking"."startedAt" IS DISTINCT FROM excluded."startedAt"
 OR "TicketTraking"."finishedAt" IS DISTINCT FROM excluded."finishedAt""#
    };
}

/// Upserts a call's message and tracking row in one round trip
/// (PostgreSQL: data-modifying CTEs, one prepared statement). Each upsert
/// writes only when a value changed; the message row is returned when it
/// was written (both run to completion whatever the main query reads).
#[cfg(feature = "postgres")]
pub(crate) const UPSERT_MESSAGE_TRAKING_PG: &str = concat!(
    "WITH \"m\" AS (",
    upsert_message!(),
    " RETURNING ",
    message_cols!(),
    "), \"t\" AS (",
    upsert_traking!(),
    ") SELECT * FROM \"m\""
);

/// The same for sqlx's SQLite (no DML in CTEs): two statements run by one
/// call into the connection's worker thread (`$N` parameters are absolute).
#[cfg(feature = "sqlite")]
pub(crate) const UPSERT_MESSAGE_TRAKING_SQLITE: &str =
    concat!(upsert_message!(), ";\n", upsert_traking!());

/// The message upsert alone, returning the row when it wrote it (a direct
/// SQLite connection runs one statement at a time, with no thread hand-off
/// to save).
#[cfg(feature = "sqlite")]
pub(crate) const UPSERT_MESSAGE_SQLITE: &str =
    concat!(upsert_message!(), " RETURNING ", message_cols!());

/// The tracking-row upsert alone.
#[cfg(feature = "sqlite")]
pub(crate) const UPSERT_TRAKING_SQLITE: &str = upsert_traking!();

/// The ticket statements that name BigChat users and queues, in the form
/// each schema mode needs.
#[derive(Debug)]
pub(crate) struct TicketSql {
    /// See `reuse_ticket!`.
    pub reuse: &'static str,
    /// See `insert_ticket!`.
    pub insert: &'static str,
    /// See `touch_ticket!`.
    pub touch: &'static str,
    /// See `update_call!` (PostgreSQL only).
    pub update_call: &'static str,
    /// See `start_call!` (PostgreSQL only).
    pub start_call: &'static str,
}

/// The connector's own database: the mapped ids are taken as they are.
pub(crate) const STANDALONE: TicketSql = TicketSql {
    reuse: reuse_ticket!(standalone),
    insert: insert_ticket!(standalone),
    touch: touch_ticket!(standalone),
    update_call: update_call!(standalone),
    start_call: start_call!(standalone),
};

/// BigChat's database: a mapped user or queue BigChat no longer has is
/// left out (the ticket stays pending, or keeps its queue) instead of
/// making the call unstorable.
#[cfg(feature = "postgres")]
pub(crate) const ATTACH: TicketSql = TicketSql {
    reuse: reuse_ticket!(attach),
    insert: insert_ticket!(attach),
    touch: touch_ticket!(attach),
    update_call: update_call!(attach),
    start_call: start_call!(attach),
};

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

pub(crate) const ASTERISK_NAME: &str = r#"SELECT "name" FROM "Asterisks" WHERE "id" = $1"#;

/// The server's voice connection, if it still exists.
pub(crate) const ASTERISK_CONNECTION: &str = r#"SELECT CAST("w"."id" AS BIGINT)
 FROM "Asterisks" AS "a" JOIN "Whatsapps" AS "w" ON "w"."id" = "a"."whatsappId"
 WHERE "a"."id" = $1"#;

/// A new voice connection (`$1` name, `$2` company, `$3` now): a
/// `Whatsapps` row with provider `asterisk`, and empty greeting, closing,
/// rating and farewell texts, so that BigChat never tries to send one
/// through it.
pub(crate) const INSERT_VOICE_CONNECTION: &str = r#"INSERT INTO "Whatsapps" ("name", "status",
 "provider", "isDefault", "retries", "companyId", "greetingMessage", "complationMessage",
 "outOfHoursMessage", "ratingMessage", "farewellMessage", "createdAt", "updatedAt")
 VALUES ($1, 'DISCONNECTED', 'asterisk', FALSE, 0, $2, '', '', '', '', '', $3, $3)
 ON CONFLICT ("name") DO NOTHING RETURNING CAST("id" AS BIGINT)"#;

/// A connection by name, if it is a voice connection of company `$2`.
pub(crate) const FIND_VOICE_CONNECTION: &str = r#"SELECT CAST("id" AS BIGINT) FROM "Whatsapps"
 WHERE "name" = $1 AND "provider" = 'asterisk' AND "companyId" = $2"#;

pub(crate) const LINK_VOICE_CONNECTION: &str =
    r#"UPDATE "Asterisks" SET "whatsappId" = $2, "updatedAt" = $3 WHERE "id" = $1"#;

/// Maps PBX queue `$2` of server `$1` to BigChat queue `$3`.
pub(crate) const MAP_QUEUE: &str = r#"INSERT INTO "AsteriskQueues" ("asteriskId", "queue",
 "queueId", "companyId", "createdAt", "updatedAt") VALUES ($1, $2, $3, $4, $5, $5)"#;

pub(crate) const UNMAP_QUEUES: &str = r#"DELETE FROM "AsteriskQueues" WHERE "asteriskId" = $1"#;

#[cfg(test)]
mod tests {
    use crate::model::CallStatus;

    fn sql_list(statuses: &[CallStatus]) -> String {
        let quoted: Vec<String> = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("({})", quoted.join(", "))
    }

    /// The SQL's live list, and the partial index on live calls in every
    /// migration that (re)creates it, are `CallStatus::LIVE`.
    #[test]
    fn the_live_statuses_are_defined_once() {
        let live = sql_list(&CallStatus::LIVE);
        assert_eq!(live_statuses!(), live);
        assert!(super::LIVE_RECORDS.contains(&live));
        assert!(super::SELECT_LIVE_RECORD.contains(&live));
        let migrations = [
            include_str!("../../migrations/postgres/20261201000002_voice.sql"),
            include_str!("../../migrations/sqlite/20261201000002_voice.sql"),
            include_str!("../../migrations/sqlite/20261201000005_internal_calls.sql"),
        ];
        for sql in migrations {
            let lists: Vec<&str> = sql
                .lines()
                .filter_map(|l| l.trim().strip_prefix("WHERE \"status\" IN "))
                .collect();
            assert!(!lists.is_empty(), "no partial index on live calls found");
            for list in lists {
                assert_eq!(list.trim_end_matches(';'), live);
            }
        }
        for dir in ["postgres", "sqlite"] {
            let path = format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR"));
            for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if text.contains("WHERE \"status\" IN") {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    assert!(
                        migrations.iter().any(|m| *m == text),
                        "{dir}/{name} lists statuses: add it to this test"
                    );
                }
            }
        }
    }
}
