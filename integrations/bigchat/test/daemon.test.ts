// The daemon's own webhook deliveries, end to end: `bigchat-voice listen
// --replay … --webhook-url` posts to the router, which emits on Socket.IO.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { CAPTURES, binaryOk, requireBinary, connectClient, runVoice, startHookServer, type HookServer, type RoomClient } from "./helpers";

const SECRET = "daemon-test-secret";

describe("bigchat-voice's webhook into the router", () => {
  let server: HookServer;
  let client: RoomClient;
  let other: RoomClient;
  let dir: string;
  let posts = 0;

  before(async () => {
    // Without the binary every test fails (not skips) with how to set it.
    if (!binaryOk()) return;
    dir = mkdtempSync(join(tmpdir(), "voice-companion-"));
    server = await startHookServer({
      secret: SECRET,
      beforeRouter: (app) =>
        app.use((_req, _res, next) => {
          posts++;
          next();
        }),
    });
    client = await connectClient(server.url, ["company-1-mainchannel", "company-1-notification"]);
    other = await connectClient(server.url, ["company-2-mainchannel", "company-2-notification"]);
  });

  after(async () => {
    client?.close();
    other?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // One POST per notification (the default), then batches (a JSON array
  // per POST): the same events, in the same order, once each.
  for (const batch of [undefined, 50]) {
    test(`a replayed inbound call arrives as call and ticket events, in order, once each (${batch ? `webhookBatch ${batch}` : "one per POST"})`, async () => {
      requireBinary();
      client.received.length = 0;
      posts = 0;
      const { stdout } = await runVoice(
        [
          "listen",
          ...(batch ? ["--webhook-batch", String(batch)] : []),
          "--database-url",
          `sqlite://${dir}/c${batch ?? 1}.db`,
          "--replay",
          resolve(CAPTURES, "inbound-answered-recorded.server.ami"),
          "--webhook-url",
          `${server.url}/voice/webhook`,
          "--notify-stdout",
        ],
        { BIGCHAT_VOICE_WEBHOOK_SECRET: SECRET },
      );
      // What the daemon printed is what it posted.
      const printed = stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { event: string; payload: unknown });
      assert.equal(printed.length, 7, stdout);
      const deadline = Date.now() + 10_000;
      while (client.received.length < printed.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        client.received.map((r) => ({ event: r.event, payload: r.payload })),
        printed.map((p) => ({ event: p.event, payload: p.payload })),
      );
      const summary = client.received.map((r) => {
        const p = r.payload as { action: string; call?: { status: string; uniqueId: string }; message?: unknown; ticket?: { id: number } };
        return `${r.event} ${p.action} ${p.call ? `${p.call.status} ${p.call.uniqueId}` : p.message ? "message" : "ticket"}`;
      });
      assert.deepEqual(summary, [
        "company-1-call ringing ringing 1795515777.0",
        "company-1-ticket update ticket",
        "company-1-call answered answered 1795515777.0",
        "company-1-ticket update ticket",
        "company-1-call completed completed 1795515777.0",
        "company-1-ticket update ticket",
        "company-1-appMessage create message",
      ]);
      // Every ticket carries its contact, as BigChat's own ticket payloads do
      // (its ticket list renders `ticket.contact.name`).
      for (const r of client.received) {
        const p = r.payload as { ticket?: { contactId: number; contact?: { id: number; name: string } } };
        if (p.ticket) {
          assert.equal(p.ticket.contact?.id, p.ticket.contactId, JSON.stringify(p));
          assert.equal(typeof p.ticket.contact?.name, "string");
        }
      }
      assert.deepEqual(other.received, []);
      assert.deepEqual(server.rejections, []);
      if (batch) assert.ok(posts >= 1 && posts <= printed.length, `${posts} POSTs`);
      else assert.equal(posts, printed.length);
    });
  }
});
