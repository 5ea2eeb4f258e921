-- The journal position of the last frame whose effect changed the record:
-- committed with the change itself, so that after a restart the frames
-- replayed from the journal change nothing already stored (no record goes
-- back to an older state, no notification is sent twice). NULL: written
-- by something without a journal (`sync`, `originate`, an older version).
ALTER TABLE "CallRecords" ADD COLUMN "journalSeq" BIGINT;
