-- bigchat-voice schema, PostgreSQL flavour. Table and column names are BigChat's
-- Sequelize names (plural tables, camelCase columns, createdAt/updatedAt).
-- Times are TIMESTAMPTZ (as Sequelize creates them); ids and integers are
-- int4 (SERIAL / INTEGER) as Sequelize makes them, because node-postgres reads
-- int8 as strings. camelCase identifiers must be double-quoted.

CREATE TABLE "Asterisks" (
    "id"              SERIAL PRIMARY KEY,
    "name"            TEXT    NOT NULL,
    "status"          TEXT    NOT NULL DEFAULT 'DISCONNECTED'
                      CHECK ("status" IN ('CONNECTED', 'DISCONNECTED', 'CONNECTING')),
    "host"            TEXT    NOT NULL,
    "port"            INTEGER NOT NULL,
    "protocol"        TEXT    NOT NULL DEFAULT 'ami',
    "username"        TEXT    NOT NULL,
    -- The connector never writes the AMI secret here (it stays in its own
    -- configuration); the column exists for BigChat's model and stays NULL.
    "password"        TEXT,
    "greetingMessage" TEXT,
    "farewellMessage" TEXT,
    "transferQueueId" INTEGER,
    "timeToTransfer"  INTEGER,
    "companyId"       INTEGER NOT NULL,
    "createdAt"       TIMESTAMPTZ NOT NULL,
    "updatedAt"       TIMESTAMPTZ NOT NULL,
    UNIQUE ("companyId", "name")
);

CREATE TABLE "Contacts" (
    "id"        SERIAL PRIMARY KEY,
    "name"      TEXT    NOT NULL,
    "number"    TEXT    NOT NULL,
    "email"     TEXT    NOT NULL DEFAULT '',
    "companyId" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ NOT NULL,
    "updatedAt" TIMESTAMPTZ NOT NULL,
    UNIQUE ("companyId", "number")
);

CREATE TABLE "Tickets" (
    "id"             SERIAL PRIMARY KEY,
    "status"         TEXT    NOT NULL DEFAULT 'pending'
                     CHECK ("status" IN ('pending', 'open', 'closed', 'group')),
    "unreadMessages" INTEGER NOT NULL DEFAULT 0,
    "lastMessage"    TEXT,
    "isGroup"        BOOLEAN NOT NULL DEFAULT FALSE,
    "uuid"           TEXT    NOT NULL UNIQUE,
    "fromMe"         BOOLEAN NOT NULL DEFAULT FALSE,
    "userId"         INTEGER,
    "contactId"      INTEGER NOT NULL REFERENCES "Contacts" ("id"),
    "queueId"        INTEGER,
    "companyId"      INTEGER NOT NULL,
    "asteriskId"     INTEGER REFERENCES "Asterisks" ("id"),
    "callType"       TEXT    CHECK ("callType" IN ('inbound', 'outbound')),
    "createdAt"      TIMESTAMPTZ NOT NULL,
    "updatedAt"      TIMESTAMPTZ NOT NULL
);
CREATE INDEX "Tickets_company_contact" ON "Tickets" ("companyId", "contactId", "status");

CREATE TABLE "CallRecords" (
    "id"             SERIAL PRIMARY KEY,
    "uniqueId"       TEXT    NOT NULL,
    "callerId"       TEXT    NOT NULL,
    "callerName"     TEXT,
    "calledNumber"   TEXT    NOT NULL,
    "direction"      TEXT    NOT NULL CHECK ("direction" IN ('inbound', 'outbound')),
    "status"         TEXT    NOT NULL,
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
    "ticketId"       INTEGER REFERENCES "Tickets" ("id"),
    "asteriskId"     INTEGER NOT NULL REFERENCES "Asterisks" ("id"),
    "userId"         INTEGER,
    "contactId"      INTEGER REFERENCES "Contacts" ("id"),
    "companyId"      INTEGER NOT NULL,
    "createdAt"      TIMESTAMPTZ NOT NULL,
    "updatedAt"      TIMESTAMPTZ NOT NULL,
    UNIQUE ("asteriskId", "uniqueId")
);
CREATE INDEX "CallRecords_company_started" ON "CallRecords" ("companyId", "startedAt");
CREATE INDEX "CallRecords_asterisk_status" ON "CallRecords" ("asteriskId", "status");

CREATE TABLE "Messages" (
    "id"           SERIAL PRIMARY KEY,
    "body"         TEXT    NOT NULL,
    "mediaUrl"     TEXT,
    "mediaType"    TEXT,
    "fromMe"       BOOLEAN NOT NULL DEFAULT FALSE,
    "read"         BOOLEAN NOT NULL DEFAULT FALSE,
    "ticketId"     INTEGER NOT NULL REFERENCES "Tickets" ("id"),
    "contactId"    INTEGER REFERENCES "Contacts" ("id"),
    "queueId"      INTEGER,
    "ack"          INTEGER NOT NULL DEFAULT 0,
    -- One call message per call record: the key that makes it idempotent.
    "callRecordId" INTEGER UNIQUE REFERENCES "CallRecords" ("id"),
    "companyId"    INTEGER NOT NULL,
    "createdAt"    TIMESTAMPTZ NOT NULL,
    "updatedAt"    TIMESTAMPTZ NOT NULL
);
CREATE INDEX "Messages_ticket" ON "Messages" ("ticketId");

CREATE TABLE "TicketTraking" (
    "id"           SERIAL PRIMARY KEY,
    "ticketId"     INTEGER NOT NULL REFERENCES "Tickets" ("id"),
    "userId"       INTEGER,
    "whatsappId"   INTEGER,
    "queuedAt"     TIMESTAMPTZ,
    "startedAt"    TIMESTAMPTZ,
    "finishedAt"   TIMESTAMPTZ,
    "rated"        BOOLEAN NOT NULL DEFAULT FALSE,
    -- One tracking row per call record (voice-only column).
    "callRecordId" INTEGER UNIQUE REFERENCES "CallRecords" ("id"),
    "companyId"    INTEGER NOT NULL,
    "createdAt"    TIMESTAMPTZ NOT NULL,
    "updatedAt"    TIMESTAMPTZ NOT NULL
);
CREATE INDEX "TicketTraking_ticket" ON "TicketTraking" ("ticketId");
