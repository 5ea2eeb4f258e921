import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { VoiceApiError, VoiceClient, type CallRecord } from "../src/client";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

interface Reply {
  status: number;
  body?: unknown;
  raw?: string;
  hang?: boolean;
}

const TOKEN = "tok-123";

const record: CallRecord = {
  id: 7,
  uniqueId: "1795515777.0",
  callerId: "+5511999990001",
  callerName: null,
  calledNumber: "4000",
  direction: "inbound",
  status: "completed",
  duration: 7,
  holdTime: 0,
  talkTime: 5,
  recordingUrl: null,
  recordingFile: null,
  startedAt: "2026-11-24T10:22:57.677Z",
  answeredAt: "2026-11-24T10:22:59.685Z",
  endedAt: "2026-11-24T10:23:04.694Z",
  agentExtension: "1001",
  queue: null,
  hangupCause: 16,
  reconciled: false,
  ticketId: 1,
  asteriskId: 1,
  userId: null,
  contactId: 1,
  companyId: 1,
  createdAt: "2026-11-24T10:22:57.700Z",
  updatedAt: "2026-11-24T10:23:04.700Z",
};

const err = (status: number, code: string, error: string): Reply => ({ status, body: { error, code } });

/**
 * Answers like the OpenAPI description says, for the requests the tests
 * make, and records every request.
 */
function route(method: string, path: string, query: URLSearchParams, headers: IncomingMessage["headers"], body: string): Reply {
  if (headers.authorization !== `Bearer ${TOKEN}`) return err(401, "unauthorized", "bad token");
  const key = `${method} ${path}`;
  switch (key) {
    case "GET /readyz":
      return query.get("down") === null
        ? { status: 200, body: { ready: true, servers: [{ name: "pbx1" }], database: "ok", journal: true, pendingEffects: 0 } }
        : { status: 503, body: { ready: false, servers: [], database: "degraded", journal: false, pendingEffects: 3 } };
    case "GET /v1/servers":
      return {
        status: 200,
        body: { servers: [{ name: "pbx1", asteriskId: 1, companyId: 1, connected: true, liveCalls: 2, version: "5.0.0" }] },
      };
    case "GET /v1/calls":
      return { status: 200, body: { calls: [record] } };
    case "POST /v1/calls": {
      const req = JSON.parse(body) as { from: string; to: string };
      if (req.from === "busy") return err(409, "pbx_refused", "Originate failed: extension busy");
      if (req.from === "9999") return err(403, "forbidden", "not this user's extension");
      const replayed = headers["idempotency-key"] === "seen";
      return { status: replayed ? 200 : 201, body: { uniqueId: "1800000000.5", replayed, call: replayed ? record : null } };
    }
    case "GET /v1/calls/1795515777.0":
    case "GET /v1/calls/a%2Fb%20c%3F":
      return { status: 200, body: { call: record } };
    case "POST /v1/calls/1795515777.0/hangup":
    case "POST /v1/calls/1795515777.0/transfer/complete":
    case "POST /v1/calls/1795515777.0/transfer/cancel":
      return { status: 200, body: { channels: ["PJSIP/1001-00000001"] } };
    case "POST /v1/calls/1795515777.0/transfer": {
      const req = JSON.parse(body) as { kind: "blind" | "attended"; extension?: string; queue?: string };
      return { status: 202, body: { kind: req.kind, channel: "PJSIP/1001-00000001", exten: req.extension ?? req.queue } };
    }
    case "GET /v1/calls/nope":
      return err(404, "not_found", "no call nope");
    case "GET /v1/calls/html":
      return { status: 502, raw: "<html>bad gateway</html>" };
    case "GET /v1/calls/empty":
      return { status: 200, raw: "" };
    case "GET /v1/calls/slow":
      return { status: 200, hang: true };
    default:
      return err(404, "not_found", `no route ${key}`);
  }
}

describe("VoiceClient against a real HTTP server", () => {
  let server: Server;
  let base: string;
  const seen: Seen[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const u = new URL(req.url!, "http://x");
        // The tests' prefix, as behind a reverse proxy.
        const path = u.pathname.replace(/^\/prefix/, "");
        const reply = route(req.method!, path, u.searchParams, req.headers, body);
        if (reply.hang) return; // never answers
        res.statusCode = reply.status;
        if (reply.raw !== undefined) {
          res.setHeader("Content-Type", "text/html");
          res.end(reply.raw);
        } else {
          res.setHeader("Content-Type", "application/json");
          res.end(JSON.stringify(reply.body));
        }
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  const client = () => new VoiceClient({ baseUrl: base, token: TOKEN });
  const last = () => seen[seen.length - 1]!;

  test("servers(): GET /v1/servers with the bearer token", async () => {
    const servers = await client().servers();
    assert.deepEqual(servers, [{ name: "pbx1", asteriskId: 1, companyId: 1, connected: true, liveCalls: 2, version: "5.0.0" }]);
    assert.equal(last().method, "GET");
    assert.equal(last().url, "/v1/servers");
    assert.equal(last().headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(last().headers.accept, "application/json");
    assert.equal(last().headers["content-type"], undefined);
    assert.equal(last().body, "");
  });

  test("ready(): the readiness both when ready (200) and not (503)", async () => {
    assert.deepEqual(await client().ready(), { ready: true, servers: [{ name: "pbx1" }], database: "ok", journal: true, pendingEffects: 0 });
    assert.equal(last().url, "/readyz");
    // 503 carries a Readiness too, not an error (the server answers 503 when asked with ?down).
    seen.length = 0;
    const notReady = await new VoiceClient({ baseUrl: base, token: TOKEN, fetch: (u, i) => fetch(`${u}?down=1`, i) }).ready();
    assert.deepEqual(notReady, { ready: false, servers: [], database: "degraded", journal: false, pendingEffects: 3 });
    assert.equal(last().url, "/readyz?down=1");
  });

  test("listCalls(): the filters as query parameters", async () => {
    const calls = await client().listCalls({
      status: "completed",
      direction: "inbound",
      agent: "1001",
      userId: 3,
      since: new Date("2026-11-24T00:00:00Z"),
      until: "2026-11-25T00:00:00Z",
      limit: 10,
    });
    assert.deepEqual(calls, [record]);
    const u = new URL(last().url, "http://x");
    assert.equal(u.pathname, "/v1/calls");
    assert.deepEqual(Object.fromEntries(u.searchParams), {
      status: "completed",
      direction: "inbound",
      agent: "1001",
      userId: "3",
      since: "2026-11-24T00:00:00.000Z",
      until: "2026-11-25T00:00:00Z",
      limit: "10",
    });
    await client().listCalls();
    assert.equal(last().url, "/v1/calls");
  });

  test("getCall(): the id is one URL-encoded path segment; server as a query", async () => {
    assert.deepEqual(await client().getCall("1795515777.0"), record);
    assert.equal(last().url, "/v1/calls/1795515777.0");
    await client().getCall("1795515777.0", { server: "pbx 1" });
    assert.equal(last().url, "/v1/calls/1795515777.0?server=pbx+1");
    await client().getCall("a/b c?");
    assert.equal(last().url, "/v1/calls/a%2Fb%20c%3F");
    await assert.rejects(client().getCall(".."), TypeError);
    await assert.rejects(client().hangup(""), TypeError);
  });

  test("a base URL with a path prefix and a trailing slash", async () => {
    await new VoiceClient({ baseUrl: `${base}/prefix/`, token: TOKEN }).getCall("1795515777.0");
    assert.equal(last().url, "/prefix/v1/calls/1795515777.0");
  });

  test("originate(): JSON body, Idempotency-Key, 201 then 200", async () => {
    const req = { from: "1001", to: "+5511999990002", ticketId: 5, variables: { A: "b" }, timeoutSecs: 20 };
    const placed = await client().originate(req, { idempotencyKey: "ticket-5-1" });
    assert.deepEqual(placed, { status: 201, placed: { uniqueId: "1800000000.5", replayed: false, call: null } });
    assert.equal(last().method, "POST");
    assert.equal(last().url, "/v1/calls");
    assert.equal(last().headers["content-type"], "application/json");
    assert.equal(last().headers["idempotency-key"], "ticket-5-1");
    assert.deepEqual(JSON.parse(last().body), req);

    const again = await client().originate(req, { idempotencyKey: "seen" });
    assert.equal(again.status, 200);
    assert.equal(again.placed.replayed, true);
    assert.deepEqual(again.placed.call, record);

    await client().originate({ from: "1001", to: "123" });
    assert.equal(last().headers["idempotency-key"], undefined);

    await assert.rejects(client().originate(req, { idempotencyKey: "" }), TypeError);
    await assert.rejects(client().originate(req, { idempotencyKey: "x".repeat(201) }), TypeError);
    await assert.rejects(client().originate(req, { idempotencyKey: "não" }), TypeError);
  });

  test("hangup / transfer / completeTransfer / cancelTransfer", async () => {
    const id = "1795515777.0";
    assert.deepEqual(await client().hangup(id), { channels: ["PJSIP/1001-00000001"] });
    assert.equal(`${last().method} ${last().url}`, `POST /v1/calls/${id}/hangup`);
    assert.equal(last().body, "");

    assert.deepEqual(await client().transfer(id, { kind: "blind", extension: "1002" }), {
      kind: "blind",
      channel: "PJSIP/1001-00000001",
      exten: "1002",
    });
    assert.equal(`${last().method} ${last().url}`, `POST /v1/calls/${id}/transfer`);
    assert.deepEqual(JSON.parse(last().body), { kind: "blind", extension: "1002" });

    const t = await client().transfer(id, { kind: "attended", queue: "support" }, { server: "pbx1" });
    assert.equal(t.exten, "support");
    assert.equal(last().url, `/v1/calls/${id}/transfer?server=pbx1`);
    assert.deepEqual(JSON.parse(last().body), { kind: "attended", queue: "support" });

    await client().completeTransfer(id);
    assert.equal(`${last().method} ${last().url}`, `POST /v1/calls/${id}/transfer/complete`);
    await client().cancelTransfer(id, { server: "pbx1" });
    assert.equal(`${last().method} ${last().url}`, `POST /v1/calls/${id}/transfer/cancel?server=pbx1`);
  });

  test("errors: {error, code} mapped onto VoiceApiError", async () => {
    const expectError = async (p: Promise<unknown>, status: number, code: string, message?: RegExp) => {
      const e = await p.then(
        () => assert.fail("expected a VoiceApiError"),
        (e: unknown) => e,
      );
      assert.ok(e instanceof VoiceApiError, String(e));
      assert.equal(e.status, status);
      assert.equal(e.code, code);
      if (message) assert.match(e.message, message);
    };
    await expectError(client().getCall("nope"), 404, "not_found", /^no call nope$/);
    await expectError(client().originate({ from: "busy", to: "123" }), 409, "pbx_refused", /extension busy/);
    await expectError(client().originate({ from: "9999", to: "123" }), 403, "forbidden");
    await expectError(new VoiceClient({ baseUrl: base, token: "wrong" }).servers(), 401, "unauthorized");
    // A 404 route for a path the API does not have, e.g. a transfer on an unknown call.
    await expectError(client().transfer("other", { kind: "blind", extension: "1" }), 404, "not_found");
    // Not the API's error form.
    await expectError(client().getCall("html"), 502, "unexpected_response", /HTTP 502/);
    await expectError(client().getCall("empty"), 200, "unexpected_response");
    // No answer at all.
    await expectError(new VoiceClient({ baseUrl: base, token: TOKEN, timeoutMs: 200 }).getCall("slow"), 0, "timeout");
    const closed = createServer();
    closed.listen(0, "127.0.0.1");
    await once(closed, "listening");
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expectError(new VoiceClient({ baseUrl: `http://127.0.0.1:${port}`, token: TOKEN }).servers(), 0, "network");
  });
});
