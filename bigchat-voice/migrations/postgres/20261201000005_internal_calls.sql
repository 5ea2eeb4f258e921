-- Calls between internal extensions can be recorded (`direction`
-- 'internal', with no contact and no ticket), and every record keeps why
-- the tracker gave it its direction.
ALTER TABLE "CallRecords" DROP CONSTRAINT "CallRecords_direction_check";
ALTER TABLE "CallRecords" ADD CONSTRAINT "CallRecords_direction_check"
    CHECK ("direction" IN ('inbound', 'outbound', 'internal')) NOT VALID;
-- Every existing row is inbound or outbound: checked without holding the
-- table's exclusive lock for the scan.
ALTER TABLE "CallRecords" VALIDATE CONSTRAINT "CallRecords_direction_check";
ALTER TABLE "CallRecords" ADD COLUMN "classification" TEXT;
