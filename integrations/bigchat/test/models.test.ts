// The Sequelize models against tables the daemon itself created and filled:
// a fresh PostgreSQL database, `bigchat-voice db migrate`, then a replayed
// capture through `bigchat-voice listen --replay`.

import assert from "node:assert/strict";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { QueryTypes, Sequelize } from "sequelize";
import { initVoiceModels, type VoiceModels } from "../src/models";
import { CAPTURES, binaryOk, requireBinary, PG_SERVER, runVoice } from "./helpers";

const DB = `companion_test_${process.pid}_${Date.now()}`;
const DB_URL = `${PG_SERVER}/${DB}`;

describe("Sequelize models on the daemon's schema", () => {
  let admin: Sequelize | undefined;
  let sequelize: Sequelize | undefined;
  let models: VoiceModels;

  before(async () => {
    // Without the binary every test fails (not skips) with how to set it.
    if (!binaryOk()) return;
    admin = new Sequelize(`${PG_SERVER}/postgres`, { logging: false });
    await admin.query(`CREATE DATABASE "${DB}"`);
    await runVoice(["db", "migrate", "--database-url", DB_URL]);
    await runVoice([
      "listen",
      "--database-url",
      DB_URL,
      "--replay",
      resolve(CAPTURES, "inbound-answered-recorded.server.ami"),
    ]);
    sequelize = new Sequelize(DB_URL, { logging: false });
    models = initVoiceModels(sequelize);
  });

  after(async () => {
    await sequelize?.close();
    if (admin) {
      await admin.query(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`).catch(() => {});
      await admin.close();
    }
  });

  test("the replayed call reads back through CallRecord", async () => {
    requireBinary();
    const call = await models.CallRecord.findOne({ where: { uniqueId: "1795515777.0" } });
    assert.ok(call, "no CallRecords row for 1795515777.0");
    const c = call.get({ plain: true });
    assert.equal(c.status, "completed");
    assert.equal(c.direction, "inbound");
    assert.equal(c.agentExtension, "1001");
    assert.equal(c.callerId, "+5511999990001");
    assert.equal(c.callerName, "Customer +5511999990001");
    assert.equal(c.calledNumber, "4000");
    assert.equal(c.duration, 7);
    assert.equal(c.talkTime, 5);
    assert.equal(c.holdTime, 0);
    assert.equal(c.hangupCause, 16);
    assert.equal(c.reconciled, false);
    assert.equal(c.recordingUrl, "recordings/company-1/2026/11/1795515777.0.wav");
    assert.equal(c.recordingFile, "/var/spool/asterisk/monitor/1795515777.0.wav");
    assert.equal(c.companyId, 1);
    assert.equal(typeof c.id, "number");
    assert.equal(typeof c.ticketId, "number");
    assert.ok(c.startedAt instanceof Date);
    assert.equal(c.startedAt.toISOString(), "2026-11-24T10:22:57.677Z");
    assert.equal(c.answeredAt?.toISOString(), "2026-11-24T10:22:59.685Z");
    assert.equal(c.endedAt?.toISOString(), "2026-11-24T10:23:04.694Z");
    assert.ok(c.createdAt instanceof Date && c.updatedAt instanceof Date);

    const withServer = await models.CallRecord.findByPk(c.id, { include: [{ model: models.Asterisk, as: "asterisk" }] });
    const asterisk = withServer?.get("asterisk" as never) as unknown as InstanceType<VoiceModels["Asterisk"]> | undefined;
    assert.equal(asterisk?.id, c.asteriskId);
    assert.equal(asterisk?.companyId, 1);
    assert.equal(asterisk?.password, null);
    assert.ok(["CONNECTED", "DISCONNECTED", "CONNECTING"].includes(asterisk!.status));
  });

  test("each model has exactly the table's columns, with matching types and nullability", async () => {
    requireBinary();
    const pgType: Record<string, string> = {
      TEXT: "text",
      INTEGER: "integer",
      BIGINT: "bigint",
      BOOLEAN: "boolean",
      "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    };
    const all: [string, Record<string, unknown>][] = [
      ["Asterisks", models.Asterisk.getAttributes()],
      ["AsteriskQueues", models.AsteriskQueue.getAttributes()],
      ["CallRecords", models.CallRecord.getAttributes()],
    ];
    assert.equal(models.Asterisk.getTableName(), "Asterisks");
    assert.equal(models.AsteriskQueue.getTableName(), "AsteriskQueues");
    assert.equal(models.CallRecord.getTableName(), "CallRecords");
    for (const [table, attributes] of all) {
      const columns = await sequelize!.query<{ column_name: string; data_type: string; is_nullable: "YES" | "NO" }>(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name = :table ORDER BY ordinal_position`,
        { replacements: { table }, type: QueryTypes.SELECT },
      );
      assert.ok(columns.length > 0, `no table ${table}`);
      const attrs = attributes as Record<string, { field?: string; type: { toSql(): string }; allowNull?: boolean; primaryKey?: boolean }>;
      const fromModel = Object.values(attrs)
        .map((a) => ({
          column_name: a.field!,
          data_type: pgType[a.type.toSql()] ?? a.type.toSql(),
          is_nullable: a.allowNull === false || a.primaryKey ? "NO" : "YES",
        }))
        .sort((x, y) => x.column_name.localeCompare(y.column_name));
      const fromDb = [...columns].sort((x, y) => x.column_name.localeCompare(y.column_name));
      assert.deepEqual(fromModel, fromDb, `model of ${table}`);
    }
  });

  test("rows written through the models: timestamps set, defaults applied, associations", async () => {
    requireBinary();
    const pbx = await models.Asterisk.create({ name: "pbx-test", host: "10.0.0.1", port: 5038, username: "bigchat", companyId: 2 });
    assert.equal(pbx.status, "DISCONNECTED");
    assert.equal(pbx.protocol, "ami");
    assert.ok(pbx.createdAt instanceof Date);
    await models.AsteriskQueue.create({ asteriskId: pbx.id, queue: "support", companyId: 2 });
    const found = await models.Asterisk.findByPk(pbx.id, { include: [{ model: models.AsteriskQueue, as: "queues" }] });
    const queues = found?.get("queues" as never) as unknown as { queue: string; queueId: number | null }[];
    assert.deepEqual(
      queues.map((q) => [q.queue, q.queueId]),
      [["support", null]],
    );
    // The table's CHECK and the model's validation agree.
    await assert.rejects(models.Asterisk.create({ name: "x", host: "h", port: 1, username: "u", companyId: 2, status: "UP" as never }));
    await pbx.destroy(); // AsteriskQueues cascade
    assert.equal(await models.AsteriskQueue.count({ where: { asteriskId: pbx.id } }), 0);
  });
});
