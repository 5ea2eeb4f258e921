-- The BigChat tables the voice channel writes to, as BigChat's own
-- migrations define them (names, columns, defaults, unique keys) in SQLite's
-- types, so that one write path serves both schema modes (see the
-- PostgreSQL file of the same name). SQLite is always standalone: BigChat
-- itself runs on PostgreSQL. Times are RFC 3339 text (sqlx's chrono
-- encoding), booleans 0/1, uuids text; a ticket's uuid is a random
-- version-4 UUID made by the default below, as BigChat's uuid_generate_v4().

CREATE TABLE IF NOT EXISTS "Whatsapps" (
    "id"                     INTEGER PRIMARY KEY AUTOINCREMENT,
    "session"                TEXT,
    "qrcode"                 TEXT,
    "status"                 VARCHAR(255),
    "battery"                VARCHAR(255),
    "plugged"                INTEGER,
    "createdAt"              TEXT NOT NULL,
    "updatedAt"              TEXT NOT NULL,
    "name"                   VARCHAR(255) NOT NULL UNIQUE,
    "isDefault"              INTEGER NOT NULL DEFAULT 0,
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
    "id"            INTEGER PRIMARY KEY AUTOINCREMENT,
    "name"          VARCHAR(255) NOT NULL,
    "number"        VARCHAR(255) NOT NULL,
    "profilePicUrl" VARCHAR(255),
    "createdAt"     TEXT NOT NULL,
    "updatedAt"     TEXT NOT NULL,
    "email"         VARCHAR(255) NOT NULL DEFAULT '',
    "isGroup"       INTEGER NOT NULL DEFAULT 0,
    "companyId"     INTEGER,
    "whatsappId"    INTEGER REFERENCES "Whatsapps" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    CONSTRAINT "number_companyid_unique" UNIQUE ("number", "companyId")
);

CREATE TABLE IF NOT EXISTS "Tickets" (
    "id"                  INTEGER PRIMARY KEY AUTOINCREMENT,
    "status"              VARCHAR(255) NOT NULL DEFAULT 'pending',
    "lastMessage"         TEXT DEFAULT '',
    "contactId"           INTEGER REFERENCES "Contacts" ("id") ON UPDATE CASCADE ON DELETE CASCADE,
    "userId"              INTEGER,
    "createdAt"           TEXT NOT NULL,
    "updatedAt"           TEXT NOT NULL,
    "whatsappId"          INTEGER REFERENCES "Whatsapps" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    "isGroup"             INTEGER NOT NULL DEFAULT 0,
    "unreadMessages"      INTEGER,
    "queueId"             INTEGER,
    "companyId"           INTEGER,
    "uuid"                TEXT DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
                          || substr(hex(randomblob(2)), 2) || '-'
                          || substr('89ab', 1 + (abs(random()) % 4), 1)
                          || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    "chatbot"             INTEGER DEFAULT 0,
    "queueOptionId"       INTEGER,
    "amountUsedBotQueues" INTEGER,
    "fromMe"              INTEGER NOT NULL DEFAULT 0,
    "useIntegration"      INTEGER DEFAULT 0,
    "integrationId"       INTEGER,
    "typebotSessionId"    VARCHAR(255) DEFAULT NULL,
    "typebotStatus"       INTEGER NOT NULL DEFAULT 0,
    "promptId"            VARCHAR(255) DEFAULT NULL,
    CONSTRAINT "contactid_companyid_unique" UNIQUE ("contactId", "companyId", "whatsappId")
);

CREATE TABLE IF NOT EXISTS "Messages" (
    "id"          VARCHAR(255) PRIMARY KEY,
    "body"        TEXT NOT NULL,
    "ack"         INTEGER NOT NULL DEFAULT 0,
    "read"        INTEGER NOT NULL DEFAULT 0,
    "mediaType"   VARCHAR(255),
    "mediaUrl"    VARCHAR(255),
    "ticketId"    INTEGER NOT NULL REFERENCES "Tickets" ("id") ON UPDATE CASCADE ON DELETE CASCADE,
    "createdAt"   TEXT NOT NULL,
    "updatedAt"   TEXT NOT NULL,
    "fromMe"      INTEGER NOT NULL DEFAULT 0,
    "isDeleted"   INTEGER NOT NULL DEFAULT 0,
    "contactId"   INTEGER REFERENCES "Contacts" ("id") ON UPDATE CASCADE ON DELETE CASCADE,
    "quotedMsgId" VARCHAR(255) REFERENCES "Messages" ("id") ON UPDATE CASCADE ON DELETE SET NULL,
    "companyId"   INTEGER,
    "remoteJid"   TEXT,
    "dataJson"    TEXT,
    "participant" TEXT,
    "queueId"     INTEGER,
    "isEdited"    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS "idx_ms_company_id_ticket_id" ON "Messages" ("companyId", "ticketId");

CREATE TABLE IF NOT EXISTS "TicketTraking" (
    "id"         INTEGER PRIMARY KEY AUTOINCREMENT,
    "ticketId"   INTEGER REFERENCES "Tickets" ("id") ON DELETE SET NULL,
    "companyId"  INTEGER,
    "whatsappId" INTEGER REFERENCES "Whatsapps" ("id") ON DELETE SET NULL,
    "userId"     INTEGER,
    "createdAt"  TEXT,
    "updatedAt"  TEXT,
    "queuedAt"   TEXT,
    "startedAt"  TEXT,
    "finishedAt" TEXT,
    "ratingAt"   TEXT,
    "rated"      INTEGER DEFAULT 0,
    "chatbotAt"  TEXT
);
