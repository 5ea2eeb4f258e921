-- Calls between internal extensions can be recorded (`direction`
-- 'internal', with no contact and no ticket), and every record keeps why
-- the tracker gave it its direction.
--
-- SQLite cannot change a CHECK constraint: the table is made again and the
-- rows copied with their ids. Dropping the old table deletes its rows
-- first, which sets the `callRecordId` of messages and tracking rows to
-- NULL (foreign keys cannot be turned off inside the migration's
-- transaction): those links are kept aside and put back.
CREATE TEMP TABLE "keep_message_links" AS
    SELECT "id", "callRecordId" FROM "Messages" WHERE "callRecordId" IS NOT NULL;
CREATE TEMP TABLE "keep_sequence" AS
    SELECT "seq" FROM "sqlite_sequence" WHERE "name" = 'CallRecords';
CREATE TEMP TABLE "keep_traking_links" AS
    SELECT "id", "callRecordId" FROM "TicketTraking" WHERE "callRecordId" IS NOT NULL;
CREATE TABLE "CallRecords_next" (
    "id"             INTEGER PRIMARY KEY AUTOINCREMENT,
    "uniqueId"       TEXT NOT NULL,
    "callerId"       TEXT NOT NULL,
    "callerName"     TEXT,
    "calledNumber"   TEXT NOT NULL,
    "direction"      TEXT NOT NULL CHECK ("direction" IN ('inbound', 'outbound', 'internal')),
    "status"         TEXT NOT NULL,
    "duration"       INTEGER NOT NULL DEFAULT 0,
    "holdTime"       INTEGER NOT NULL DEFAULT 0,
    "talkTime"       INTEGER NOT NULL DEFAULT 0,
    "recordingUrl"   TEXT,
    "recordingFile"  TEXT,
    "startedAt"      TEXT NOT NULL,
    "answeredAt"     TEXT,
    "endedAt"        TEXT,
    "agentExtension" TEXT,
    "queue"          TEXT,
    "hangupCause"    INTEGER,
    "reconciled"     INTEGER NOT NULL DEFAULT 0,
    "ticketId"       INTEGER REFERENCES "Tickets" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    "asteriskId"     INTEGER NOT NULL REFERENCES "Asterisks" ("id") ON UPDATE CASCADE,
    "userId"         INTEGER,
    "contactId"      INTEGER REFERENCES "Contacts" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    "companyId"      INTEGER NOT NULL,
    "createdAt"      TEXT NOT NULL,
    "updatedAt"      TEXT NOT NULL,
    "journalSeq"     BIGINT,
    "classification" TEXT,
    UNIQUE ("asteriskId", "uniqueId")
);
INSERT INTO "CallRecords_next" ("id", "uniqueId", "callerId", "callerName", "calledNumber",
    "direction", "status", "duration", "holdTime", "talkTime", "recordingUrl", "recordingFile",
    "startedAt", "answeredAt", "endedAt", "agentExtension", "queue", "hangupCause",
    "reconciled", "ticketId", "asteriskId", "userId", "contactId", "companyId", "createdAt",
    "updatedAt", "journalSeq")
SELECT "id", "uniqueId", "callerId", "callerName", "calledNumber",
    "direction", "status", "duration", "holdTime", "talkTime", "recordingUrl", "recordingFile",
    "startedAt", "answeredAt", "endedAt", "agentExtension", "queue", "hangupCause",
    "reconciled", "ticketId", "asteriskId", "userId", "contactId", "companyId", "createdAt",
    "updatedAt", "journalSeq"
FROM "CallRecords";
DROP TABLE "CallRecords";
ALTER TABLE "CallRecords_next" RENAME TO "CallRecords";
CREATE INDEX "CallRecords_company_started" ON "CallRecords" ("companyId", "startedAt");
-- As in the first voice migration: the live records, by server.
CREATE INDEX "CallRecords_asterisk_live" ON "CallRecords" ("asteriskId", "startedAt")
    WHERE "status" IN ('ringing', 'answered', 'on_hold', 'transferred');
UPDATE "Messages" SET "callRecordId" =
    (SELECT k."callRecordId" FROM "keep_message_links" k WHERE k."id" = "Messages"."id")
    WHERE "id" IN (SELECT "id" FROM "keep_message_links");
UPDATE "TicketTraking" SET "callRecordId" =
    (SELECT k."callRecordId" FROM "keep_traking_links" k WHERE k."id" = "TicketTraking"."id")
    WHERE "id" IN (SELECT "id" FROM "keep_traking_links");
-- Ids of records deleted from the top are not given out again.
UPDATE "sqlite_sequence" SET "seq" = MAX("seq", (SELECT MAX("seq") FROM "keep_sequence"))
    WHERE "name" = 'CallRecords' AND EXISTS (SELECT 1 FROM "keep_sequence");
DROP TABLE "keep_sequence";
DROP TABLE "keep_message_links";
DROP TABLE "keep_traking_links";
