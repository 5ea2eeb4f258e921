-- Idempotency keys of click-to-call requests (the control API's
-- `Idempotency-Key`): a key is claimed, with the call id it names, before
-- the PBX is asked to place the call, so that the same request again —
-- retried by a client, or after a daemon restart — finds the call placed
-- the first time and places none. `requestHash` tells a retry (same body)
-- from a reuse of the key for another request.
CREATE TABLE "CallOriginateKeys" (
    "companyId"   INTEGER NOT NULL,
    "key"         TEXT NOT NULL,
    "requestHash" TEXT NOT NULL,
    "asteriskId"  INTEGER NOT NULL,
    "uniqueId"    TEXT NOT NULL,
    "createdAt"   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY ("companyId", "key")
);
