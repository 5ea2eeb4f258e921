-- Calls between internal extensions can be recorded (`direction`
-- 'internal', with no contact and no ticket), and every record keeps why
-- the tracker gave it its direction.
ALTER TABLE "CallRecords" DROP CONSTRAINT IF EXISTS "CallRecords_direction_check";
ALTER TABLE "CallRecords" ADD CONSTRAINT "CallRecords_direction_check"
    CHECK ("direction" IN ('inbound', 'outbound', 'internal'));
ALTER TABLE "CallRecords" ADD COLUMN "classification" TEXT;
