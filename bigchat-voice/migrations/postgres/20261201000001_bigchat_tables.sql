-- The BigChat tables the voice channel writes to, exactly as BigChat's own
-- migrations leave them (names, types, defaults, unique keys), so that one
-- write path serves both schema modes:
--
-- * attach: the database is BigChat's. Every table below already exists
--   (the connector checked that before migrating), so each statement is a
--   no-op and no BigChat column is touched.
-- * standalone: an empty database. The tables are created here, without
--   the foreign keys to BigChat tables the connector does not use
--   (Companies, Users, Queues, …).
--
-- BigChat's `uuid_generate_v4()` needs the uuid-ossp extension; the built-in
-- gen_random_uuid() (PostgreSQL 13+) gives the same version-4 UUIDs.

CREATE TABLE IF NOT EXISTS "Whatsapps" (
    "id"                     SERIAL PRIMARY KEY,
    "session"                TEXT,
    "qrcode"                 TEXT,
    "status"                 VARCHAR(255),
    "battery"                VARCHAR(255),
    "plugged"                BOOLEAN,
    "createdAt"              TIMESTAMPTZ NOT NULL,
    "updatedAt"              TIMESTAMPTZ NOT NULL,
    "name"                   VARCHAR(255) NOT NULL UNIQUE,
    "isDefault"              BOOLEAN NOT NULL DEFAULT FALSE,
    "retries"                INTEGER NOT NULL DEFAULT 0,
    "greetingMessage"        TEXT,
    "companyId"              INTEGER,
    "complationMessage"      TEXT,
    "outOfHoursMessage"      TEXT,
    "ratingMessage"          TEXT,
    "token"                  TEXT,
    "farewellMessage"        TEXT,
    "provider"               TEXT DEFAULT 'stable',
    "sendIdQueue"            INTEGER,
    "promptId"               INTEGER,
    "integrationId"          INTEGER,
    "expiresInactiveMessage" VARCHAR(255) DEFAULT '',
    "expiresTicket"          INTEGER DEFAULT 0,
    "maxUseBotQueues"        INTEGER DEFAULT 3,
    "timeUseBotQueues"       INTEGER DEFAULT 0,
    "transferQueueId"        INTEGER,
    "timeToTransfer"         INTEGER
);

CREATE TABLE IF NOT EXISTS "Contacts" (
    "id"            SERIAL PRIMARY KEY,
    "name"          VARCHAR(255) NOT NULL,
    "number"        VARCHAR(255) NOT NULL,
    "profilePicUrl" VARCHAR(255),
    "createdAt"     TIMESTAMPTZ NOT NULL,
    "updatedAt"     TIMESTAMPTZ NOT NULL,
    "email"         VARCHAR(255) NOT NULL DEFAULT '',
    "isGroup"       BOOLEAN NOT NULL DEFAULT FALSE,
    "companyId"     INTEGER,
    "whatsappId"    INTEGER REFERENCES "Whatsapps" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    CONSTRAINT "number_companyid_unique" UNIQUE ("number", "companyId")
);

CREATE TABLE IF NOT EXISTS "Tickets" (
    "id"                  SERIAL PRIMARY KEY,
    "status"              VARCHAR(255) NOT NULL DEFAULT 'pending',
    "lastMessage"         TEXT DEFAULT '',
    "contactId"           INTEGER REFERENCES "Contacts" ("id") ON UPDATE CASCADE ON DELETE CASCADE,
    "userId"              INTEGER,
    "createdAt"           TIMESTAMPTZ NOT NULL,
    "updatedAt"           TIMESTAMPTZ NOT NULL,
    "whatsappId"          INTEGER REFERENCES "Whatsapps" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    "isGroup"             BOOLEAN NOT NULL DEFAULT FALSE,
    "unreadMessages"      INTEGER,
    "queueId"             INTEGER,
    "companyId"           INTEGER,
    "uuid"                UUID DEFAULT gen_random_uuid(),
    "chatbot"             BOOLEAN DEFAULT FALSE,
    "queueOptionId"       INTEGER,
    "amountUsedBotQueues" INTEGER,
    "fromMe"              BOOLEAN NOT NULL DEFAULT FALSE,
    "useIntegration"      BOOLEAN DEFAULT FALSE,
    "integrationId"       INTEGER,
    "typebotSessionId"    VARCHAR(255) DEFAULT NULL,
    "typebotStatus"       BOOLEAN NOT NULL DEFAULT FALSE,
    "promptId"            VARCHAR(255) DEFAULT NULL,
    CONSTRAINT "contactid_companyid_unique" UNIQUE ("contactId", "companyId", "whatsappId")
);

CREATE TABLE IF NOT EXISTS "Messages" (
    "id"          VARCHAR(255) PRIMARY KEY,
    "body"        TEXT NOT NULL,
    "ack"         INTEGER NOT NULL DEFAULT 0,
    "read"        BOOLEAN NOT NULL DEFAULT FALSE,
    "mediaType"   VARCHAR(255),
    "mediaUrl"    VARCHAR(255),
    "ticketId"    INTEGER NOT NULL REFERENCES "Tickets" ("id") ON UPDATE CASCADE ON DELETE CASCADE,
    "createdAt"   TIMESTAMPTZ NOT NULL,
    "updatedAt"   TIMESTAMPTZ NOT NULL,
    "fromMe"      BOOLEAN NOT NULL DEFAULT FALSE,
    "isDeleted"   BOOLEAN NOT NULL DEFAULT FALSE,
    "contactId"   INTEGER REFERENCES "Contacts" ("id") ON UPDATE CASCADE ON DELETE CASCADE,
    "quotedMsgId" VARCHAR(255) REFERENCES "Messages" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    "companyId"   INTEGER,
    "remoteJid"   TEXT,
    "dataJson"    TEXT,
    "participant" TEXT,
    "queueId"     INTEGER,
    "isEdited"    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS "idx_ms_company_id_ticket_id" ON "Messages" ("companyId", "ticketId");

CREATE TABLE IF NOT EXISTS "TicketTraking" (
    "id"         SERIAL PRIMARY KEY,
    "ticketId"   INTEGER REFERENCES "Tickets" ("id") ON DELETE SET NULL,
    "companyId"  INTEGER,
    "whatsappId" INTEGER REFERENCES "Whatsapps" ("id") ON DELETE SET NULL,
    "userId"     INTEGER,
    "createdAt"  TIMESTAMPTZ,
    "updatedAt"  TIMESTAMPTZ,
    "queuedAt"   TIMESTAMPTZ,
    "startedAt"  TIMESTAMPTZ,
    "finishedAt" TIMESTAMPTZ,
    "ratingAt"   TIMESTAMPTZ,
    "rated"      BOOLEAN DEFAULT FALSE,
    "chatbotAt"  TIMESTAMPTZ
);
