-- What the voice channel adds to BigChat's database, the same in both schema
-- modes: three tables of its own, and one or two nullable columns on
-- Tickets, Messages and TicketTraking. No BigChat column is dropped,
-- retyped or given a default; adding a nullable column without a default
-- does not rewrite the table.
--
-- Ids and integers are int4 (SERIAL / INTEGER) as Sequelize makes them,
-- because node-postgres reads int8 as strings. Text columns of the voice
-- tables are TEXT: a caller-ID name longer than a VARCHAR(255) must never
-- make a call unstorable.

-- A PBX. `whatsappId` is its voice connection: the `Whatsapps` row (provider
-- 'asterisk') that its tickets name, as a WhatsApp ticket names its phone.
CREATE TABLE "Asterisks" (
    "id"              SERIAL PRIMARY KEY,
    "name"            TEXT NOT NULL,
    "status"          TEXT NOT NULL DEFAULT 'DISCONNECTED'
                      CHECK ("status" IN ('CONNECTED', 'DISCONNECTED', 'CONNECTING')),
    "host"            TEXT NOT NULL,
    "port"            INTEGER NOT NULL,
    "protocol"        TEXT NOT NULL DEFAULT 'ami',
    "username"        TEXT NOT NULL,
    -- The connector never writes the AMI secret here (it stays in its own
    -- configuration); the column exists for BigChat's model and stays NULL.
    "password"        TEXT,
    "greetingMessage" TEXT,
    "farewellMessage" TEXT,
    "transferQueueId" INTEGER,
    "timeToTransfer"  INTEGER,
    "whatsappId"      INTEGER REFERENCES "Whatsapps" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    "companyId"       INTEGER NOT NULL,
    "createdAt"       TIMESTAMPTZ NOT NULL,
    "updatedAt"       TIMESTAMPTZ NOT NULL,
    UNIQUE ("companyId", "name")
);

-- A PBX queue (its name in queues.conf) and the BigChat queue its calls
-- belong to (`Queues.id`; NULL: known, not mapped).
CREATE TABLE "AsteriskQueues" (
    "id"         SERIAL PRIMARY KEY,
    "asteriskId" INTEGER NOT NULL REFERENCES "Asterisks" ("id") ON UPDATE CASCADE ON DELETE CASCADE,
    "queue"      TEXT NOT NULL,
    "queueId"    INTEGER,
    "companyId"  INTEGER NOT NULL,
    "createdAt"  TIMESTAMPTZ NOT NULL,
    "updatedAt"  TIMESTAMPTZ NOT NULL,
    UNIQUE ("asteriskId", "queue")
);

CREATE TABLE "CallRecords" (
    "id"             SERIAL PRIMARY KEY,
    "uniqueId"       TEXT NOT NULL,
    "callerId"       TEXT NOT NULL,
    "callerName"     TEXT,
    "calledNumber"   TEXT NOT NULL,
    "direction"      TEXT NOT NULL CHECK ("direction" IN ('inbound', 'outbound')),
    "status"         TEXT NOT NULL,
    "duration"       INTEGER NOT NULL DEFAULT 0,
    "holdTime"       INTEGER NOT NULL DEFAULT 0,
    "talkTime"       INTEGER NOT NULL DEFAULT 0,
    "recordingUrl"   TEXT,
    "recordingFile"  TEXT,
    "startedAt"      TIMESTAMPTZ NOT NULL,
    "answeredAt"     TIMESTAMPTZ,
    "endedAt"        TIMESTAMPTZ,
    "agentExtension" TEXT,
    "queue"          TEXT,
    "hangupCause"    INTEGER,
    "reconciled"     BOOLEAN NOT NULL DEFAULT FALSE,
    "ticketId"       INTEGER REFERENCES "Tickets" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    "asteriskId"     INTEGER NOT NULL REFERENCES "Asterisks" ("id") ON UPDATE CASCADE,
    "userId"         INTEGER,
    "contactId"      INTEGER REFERENCES "Contacts" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    "companyId"      INTEGER NOT NULL,
    "createdAt"      TIMESTAMPTZ NOT NULL,
    "updatedAt"      TIMESTAMPTZ NOT NULL,
    UNIQUE ("asteriskId", "uniqueId")
);
CREATE INDEX "CallRecords_company_started" ON "CallRecords" ("companyId", "startedAt");
-- Live calls are looked up by server ("which calls does this PBX still have
-- open?"); every other lookup is by ("asteriskId", "uniqueId"). A partial
-- index of the live records serves the first, stays small, and cannot be
-- chosen for the second (an index on ("asteriskId", "status") was: with a
-- new table's empty statistics PostgreSQL planned record lookups on it and
-- kept that plan, scanning every record of the server on each event).
CREATE INDEX "CallRecords_asterisk_live" ON "CallRecords" ("asteriskId", "startedAt")
    WHERE "status" IN ('ringing', 'answered', 'on_hold', 'transferred');

-- Tickets: the PBX of the ticket's last call and that call's direction.
ALTER TABLE "Tickets" ADD COLUMN "asteriskId" INTEGER
    REFERENCES "Asterisks" ("id") ON UPDATE CASCADE ON DELETE SET NULL;
ALTER TABLE "Tickets" ADD COLUMN "callType" TEXT
    CHECK ("callType" IN ('inbound', 'outbound'));

-- One call message and one tracking row per call record.
ALTER TABLE "Messages" ADD COLUMN "callRecordId" INTEGER
    REFERENCES "CallRecords" ("id") ON UPDATE CASCADE ON DELETE SET NULL;
CREATE UNIQUE INDEX "Messages_callRecordId" ON "Messages" ("callRecordId");
ALTER TABLE "TicketTraking" ADD COLUMN "callRecordId" INTEGER
    REFERENCES "CallRecords" ("id") ON UPDATE CASCADE ON DELETE SET NULL;
CREATE UNIQUE INDEX "TicketTraking_callRecordId" ON "TicketTraking" ("callRecordId");
