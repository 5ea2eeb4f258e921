-- Live calls are looked up by server and state ("which calls does this PBX
-- still have open?"); every other record lookup is by ("asteriskId",
-- "uniqueId"). An index on ("asteriskId", "status") also matched the
-- latter's leading column: PostgreSQL planned record lookups on it while a
-- new table's statistics were empty and then kept that plan, scanning every
-- record of the server on each call event. A partial index holding only the
-- live records serves the live-call query, stays small, and cannot be
-- chosen for any query that does not name the live states.
DROP INDEX "CallRecords_asterisk_status";
CREATE INDEX "CallRecords_asterisk_live" ON "CallRecords" ("asteriskId", "startedAt")
    WHERE "status" IN ('ringing', 'answered', 'on_hold', 'transferred');
