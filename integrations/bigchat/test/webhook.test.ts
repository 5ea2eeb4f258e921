import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { AddressInfo } from "node:net";
import express from "express";
import { MAX_CLOCK_SKEW_SECS, SeenIds, parseNotification, parseNotifications, sign, verifySignature, voiceWebhookRouter } from "../src/webhook";
import { connectClient, newId, postSigned, startHookServer, type HookServer, type RoomClient } from "./helpers";

const SECRET = "test-secret";

describe("signature", () => {
  // Computed independently:
  //   printf '%s' '1700000000.0123456789abcdef0123456789abcdef.{"a":1}' | openssl dgst -sha256 -hmac s3cret
  const VECTOR = "sha256=b63a7d26212ab4a046495ae93244b6ee6fcdc48ec440b2af6cf340990844f636";
  const ID = "0123456789abcdef0123456789abcdef";
  const BODY = '{"a":1}';
  // The same timestamp and body under another id, also computed independently:
  //   printf '%s' '1700000000.fedcba9876543210fedcba9876543210.{"a":1}' | openssl dgst -sha256 -hmac s3cret
  const OTHER_ID = "fedcba9876543210fedcba9876543210";
  const OTHER_VECTOR = "sha256=f63aa08c3722b0b9c45ec9b1331e2bf3f585bbb7d41b10e3eb2ee88919806b35";

  test("matches an independently computed HMAC-SHA256", () => {
    assert.equal(sign("s3cret", 1700000000, ID, BODY), VECTOR);
    assert.equal(sign(Buffer.from("s3cret"), 1700000000, ID, Buffer.from(BODY)), VECTOR);
    assert.equal(sign("s3cret", 1700000000, OTHER_ID, BODY), OTHER_VECTOR);
    assert.deepEqual(verifySignature("s3cret", "1700000000", ID, VECTOR, Buffer.from(BODY), 1700000000), {
      ok: true,
      timestamp: 1700000000,
      id: ID,
    });
  });

  test("the same request under another id does not verify", () => {
    for (const id of [OTHER_ID, ID.toUpperCase(), ID.slice(1), `${ID}0`, "x"]) {
      const r = verifySignature("s3cret", "1700000000", id, VECTOR, BODY, 1700000000);
      assert.equal(r.ok === false && r.reason, "bad_signature", id);
    }
    // …while that id's own signature does.
    assert.equal(verifySignature("s3cret", "1700000000", OTHER_ID, OTHER_VECTOR, BODY, 1700000000).ok, true);
    assert.equal(verifySignature("s3cret", "1700000000", ID, OTHER_VECTOR, BODY, 1700000000).ok, false);
  });

  test("accepts upper-case hex and surrounding spaces", () => {
    const upper = "sha256=" + VECTOR.slice(7).toUpperCase();
    const r = verifySignature("s3cret", " 1700000000 ", ` ${ID} `, ` ${upper} `, BODY, 1700000000);
    // The id is signed and returned trimmed, as the daemon's verifier does.
    assert.deepEqual(r, { ok: true, timestamp: 1700000000, id: ID });
  });

  test("ids of 1 to 64 ASCII alphanumerics, any case", () => {
    for (const id of ["a", "Z", "7", "AbC123", "x".repeat(64)]) {
      const sig = sign("s3cret", 1700000000, id, BODY);
      assert.deepEqual(verifySignature("s3cret", "1700000000", id, sig, BODY, 1700000000), { ok: true, timestamp: 1700000000, id }, id);
    }
  });

  test("bad signatures", () => {
    const other = verifySignature("other", "1700000000", ID, VECTOR, BODY, 1700000000);
    assert.equal(other.ok === false && other.reason, "bad_signature");
    const body = verifySignature("s3cret", "1700000000", ID, VECTOR, '{"a":2}', 1700000000);
    assert.equal(body.ok === false && body.reason, "bad_signature");
    const ts = verifySignature("s3cret", "1700000001", ID, VECTOR, BODY, 1700000000);
    assert.equal(ts.ok === false && ts.reason, "bad_signature");
    const short = verifySignature("s3cret", "1700000000", ID, VECTOR.slice(0, -2), BODY, 1700000000);
    assert.equal(short.ok === false && short.reason, "bad_signature");
    // The old scheme (no id in the signed text) no longer verifies:
    //   printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
    const old = "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940";
    const legacy = verifySignature("s3cret", "1700000000", ID, old, BODY, 1700000000);
    assert.equal(legacy.ok === false && legacy.reason, "bad_signature");
  });

  test("malformed headers, named, checked in the daemon's order", () => {
    const T = "X-BigChat-Timestamp";
    const I = "X-BigChat-Id";
    const S = "X-BigChat-Signature";
    for (const [ts, id, sig, header] of [
      [undefined, ID, VECTOR, T],
      ["", ID, VECTOR, T],
      ["17e8", ID, VECTOR, T],
      ["1700000000.5", ID, VECTOR, T],
      // A bad timestamp is reported before a bad id, a bad id before a bad signature.
      ["soon", "a b", "nope", T],
      ["1700000000", undefined, VECTOR, I],
      ["1700000000", null, VECTOR, I],
      ["1700000000", "", VECTOR, I],
      ["1700000000", "   ", VECTOR, I],
      ["1700000000", "a b", VECTOR, I],
      ["1700000000", `${ID}-1`, VECTOR, I],
      ["1700000000", "x".repeat(65), VECTOR, I],
      ["1700000000", `${ID}.`, VECTOR, I],
      ["1700000000", "é", VECTOR, I],
      ["1700000000", "a b", "nope", I],
      ["1700000000", ID, undefined, S],
      ["1700000000", ID, "", S],
      ["1700000000", ID, VECTOR.slice(7), S],
      ["1700000000", ID, "sha1=" + VECTOR.slice(7), S],
      ["1700000000", ID, VECTOR + "0", S],
      ["1700000000", ID, "sha256=zz" + VECTOR.slice(9), S],
    ] as const) {
      const r = verifySignature("s3cret", ts, id, sig, BODY, 1700000000);
      const what = `ts=${ts} id=${id} sig=${sig}`;
      assert.equal(r.ok === false && r.reason, "malformed", what);
      assert.equal(r.ok === false && r.reason === "malformed" && r.header, header, what);
      assert.equal(r.ok === false && r.message, `missing or malformed ${header} header`, what);
    }
  });

  test("clock window: 300 s either way", () => {
    const t = 1700000000;
    for (const now of [t - MAX_CLOCK_SKEW_SECS, t + MAX_CLOCK_SKEW_SECS]) {
      assert.equal(verifySignature("s3cret", String(t), ID, VECTOR, BODY, now).ok, true);
    }
    const late = verifySignature("s3cret", String(t), ID, VECTOR, BODY, t + MAX_CLOCK_SKEW_SECS + 1);
    assert.deepEqual(late.ok === false && late.reason === "stale" && late.skewSecs, 301);
    const early = verifySignature("s3cret", String(t), ID, VECTOR, BODY, t - MAX_CLOCK_SKEW_SECS - 1);
    assert.deepEqual(early.ok === false && early.reason === "stale" && early.skewSecs, -301);
  });
});

describe("parseNotification", () => {
  test("shape", () => {
    assert.deepEqual(parseNotification('{"event":"e","rooms":["r"],"payload":{"x":1}}'), {
      event: "e",
      rooms: ["r"],
      payload: { x: 1 },
    });
    for (const bad of [
      "",
      "nope",
      "[]",
      '{"rooms":["r"],"payload":{}}',
      '{"event":"","rooms":["r"],"payload":{}}',
      '{"event":1,"rooms":["r"],"payload":{}}',
      '{"event":"e","rooms":[],"payload":{}}',
      '{"event":"e","rooms":"r","payload":{}}',
      '{"event":"e","rooms":["r",2],"payload":{}}',
      '{"event":"e","rooms":[""],"payload":{}}',
      '{"event":"e","rooms":["r"]}',
      '{"event":"e","rooms":["r"],"payload":null}',
      '{"event":"e","rooms":["r"],"payload":[1]}',
      '{"event":"e","rooms":["r"],"payload":"x"}',
    ]) {
      assert.equal(typeof parseNotification(bad), "string", bad);
    }
  });

  test("a batch: an array of them, oldest first, every element checked", () => {
    const one = '{"event":"e","rooms":["r"],"payload":{"x":1}}';
    const two = '{"event":"f","rooms":["s","t"],"payload":{}}';
    assert.deepEqual(parseNotifications(one), [{ event: "e", rooms: ["r"], payload: { x: 1 } }]);
    assert.deepEqual(parseNotifications(`[${one},${two}]`), [
      { event: "e", rooms: ["r"], payload: { x: 1 } },
      { event: "f", rooms: ["s", "t"], payload: {} },
    ]);
    assert.equal(parseNotifications("[]"), "the batch is empty");
    assert.equal(parseNotifications(`[${one},1]`), "batch element 1: not a JSON object");
    assert.match(String(parseNotifications(`[${one},{"event":"e","rooms":[],"payload":{}}]`)), /^batch element 1: `rooms`/);
    assert.equal(typeof parseNotifications(`[[${one}]]`), "string");
    assert.equal(typeof parseNotifications("7"), "string");
  });
});

describe("SeenIds", () => {
  test("expires after the ttl", () => {
    const s = new SeenIds(1000, 10);
    s.add("a", 0);
    assert.equal(s.has("a", 999), true);
    assert.equal(s.has("a", 1000), false);
    s.add("b", 1500); // prunes "a"
    assert.equal(s.size, 1);
  });

  test("stays bounded", () => {
    const s = new SeenIds(60_000, 3);
    for (let i = 0; i < 10; i++) s.add(`k${i}`, i);
    assert.equal(s.size, 3);
    assert.equal(s.has("k6", 10), false);
    assert.equal(s.has("k9", 10), true);
    // The newest id forgotten early was signed at 6 ms (here: added then):
    // requests signed then or before are no longer trusted as new.
    assert.equal(s.floorMs, 6);
  });

  test("a request signed before the newest early-forgotten id is refused for a retry", async () => {
    const server = await startHookServer({ secret: SECRET, maxSeenIds: 2 });
    try {
      const url = `${server.url}/voice/webhook`;
      const body = (n: number) => JSON.stringify({ event: "e", rooms: ["r"], payload: { n } });
      const old = Math.floor(Date.now() / 1000) - 10;
      // Three within one window, two remembered: the first is forgotten.
      const first = newId();
      const sent = [first, newId(), newId()];
      for (const [i, id] of sent.entries()) {
        const r = await postSigned(url, body(i), { secret: SECRET, timestamp: old + i, id });
        assert.equal(r.status, 204);
      }
      // The first, replayed as captured: not emitted again (503: the
      // daemon would retry it signed afresh).
      const replay = await postSigned(url, body(0), { secret: SECRET, timestamp: old, id: first });
      assert.equal(replay.status, 503);
      assert.equal(replay.headers.get("retry-after"), "1");
      // A new notification signed now still passes.
      const fresh = await postSigned(url, body(9), { secret: SECRET, id: newId() });
      assert.equal(fresh.status, 204);
    } finally {
      await server.close();
    }
  });
});

describe("voiceWebhookRouter over real HTTP and Socket.IO", () => {
  let server: HookServer;
  let hook: string;
  let company1: RoomClient; // company-1-mainchannel and company-1-notification
  let company2: RoomClient; // company-2-mainchannel
  let sentinels = 0;

  before(async () => {
    server = await startHookServer({ secret: SECRET });
    hook = `${server.url}/voice/webhook`;
    company1 = await connectClient(server.url, ["company-1-mainchannel", "company-1-notification"]);
    company2 = await connectClient(server.url, ["company-2-mainchannel"]);
  });

  after(async () => {
    company1.close();
    company2.close();
    await server.close();
  });

  /**
   * Sends an event to both clients and waits until both have it: Socket.IO
   * keeps the order of one connection, so whatever was emitted to a client
   * before has arrived by then.
   */
  async function barrier(): Promise<void> {
    const n = ++sentinels;
    const body = JSON.stringify({
      event: "sentinel",
      rooms: ["company-1-mainchannel", "company-2-mainchannel"],
      payload: { n },
    });
    const res = await postSigned(hook, body, { secret: SECRET });
    assert.equal(res.status, 204);
    const isIt = (r: { event: string; payload: unknown }) => r.event === "sentinel" && (r.payload as { n: number }).n === n;
    await Promise.all([company1.waitFor(isIt), company2.waitFor(isIt)]);
  }

  function drain(c: RoomClient) {
    const got = c.received.filter((r) => r.event !== "sentinel");
    c.received.length = 0;
    return got;
  }

  function clear() {
    drain(company1);
    drain(company2);
    server.rejections.length = 0;
  }

  // Each test sends a body of its own, so no test's events can pass for another's.
  let nonce = 0;
  const call = () => ({
    event: "company-1-call",
    // The daemon's rooms for a call: the company-1 socket is in two of them
    // and must get the event once.
    rooms: ["company-1-mainchannel", "company-1-pending", "company-1-notification", "1"],
    payload: { action: "ringing", call: { uniqueId: "1795515777.0", status: "ringing" }, nonce: ++nonce },
  });

  test("emits to the rooms, once per socket, nothing elsewhere", async () => {
    clear();
    const c = call();
    const res = await postSigned(hook, JSON.stringify(c), { secret: SECRET });
    assert.equal(res.status, 204);
    await barrier();
    assert.deepEqual(drain(company1), [{ event: c.event, payload: c.payload }]);
    assert.deepEqual(drain(company2), []);
    assert.deepEqual(server.rejections, []);
  });

  test("a repeated id is emitted once", async () => {
    clear();
    const id = newId();
    const body = JSON.stringify(call());
    const timestamp = Math.floor(Date.now() / 1000);
    const first = await postSigned(hook, body, { secret: SECRET, id, timestamp });
    assert.equal(first.status, 204);
    // A retry: same id, a later timestamp, so another signature.
    const retry = await postSigned(hook, body, { secret: SECRET, id, timestamp: timestamp + 1 });
    assert.equal(retry.status, 200);
    assert.deepEqual(await retry.json(), { duplicate: true });
    // An exact replay of the first request (same id, timestamp and signature).
    const replay = await postSigned(hook, body, { secret: SECRET, id, timestamp });
    assert.equal(replay.status, 200);
    assert.deepEqual(await replay.json(), { duplicate: true });
    await barrier();
    assert.equal(drain(company1).length, 1);
  });

  test("a batch is emitted in order, each to its rooms", async () => {
    clear();
    const a = call();
    const b = { ...call(), rooms: ["company-2-mainchannel"] };
    const c = call();
    const res = await postSigned(hook, JSON.stringify([a, b, c]), { secret: SECRET });
    assert.equal(res.status, 204);
    await barrier();
    assert.deepEqual(drain(company1), [
      { event: a.event, payload: a.payload },
      { event: c.event, payload: c.payload },
    ]);
    assert.deepEqual(drain(company2), [{ event: b.event, payload: b.payload }]);
    assert.deepEqual(server.rejections, []);
  });

  test("a repeated batch id is emitted once", async () => {
    clear();
    const id = newId();
    const body = JSON.stringify([call(), call()]);
    const timestamp = Math.floor(Date.now() / 1000);
    assert.equal((await postSigned(hook, body, { secret: SECRET, id, timestamp })).status, 204);
    const retry = await postSigned(hook, body, { secret: SECRET, id, timestamp: timestamp + 1 });
    assert.equal(retry.status, 200);
    assert.deepEqual(await retry.json(), { duplicate: true });
    await barrier();
    assert.equal(drain(company1).length, 2);
  });

  test("a batch with one bad element is refused whole, and an empty one too", async () => {
    clear();
    const bad = JSON.stringify([call(), { event: "company-1-call", rooms: [], payload: {} }]);
    const res = await postSigned(hook, bad, { secret: SECRET });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /batch element 1: `rooms`/);
    assert.equal((await postSigned(hook, "[]", { secret: SECRET })).status, 400);
    assert.equal((await postSigned(hook, JSON.stringify([call(), 7]), { secret: SECRET })).status, 400);
    await barrier();
    assert.deepEqual(drain(company1), []);
    assert.equal(server.rejections.length, 3);
  });

  test("ids are compared as signed: another spelling is another notification", async () => {
    clear();
    const id = newId();
    const body = JSON.stringify(call());
    assert.equal((await postSigned(hook, body, { secret: SECRET, id })).status, 204);
    // Only a holder of the secret can sign it; the daemon sends lower case only.
    assert.equal((await postSigned(hook, body, { secret: SECRET, id: id.toUpperCase() })).status, 204);
    await barrier();
    assert.equal(drain(company1).length, 2);
  });

  test("a captured request replayed under another id does not verify (the id is signed)", async () => {
    clear();
    const body = JSON.stringify(call());
    const timestamp = Math.floor(Date.now() / 1000);
    const id = newId();
    const signature = sign(SECRET, timestamp, id, body);
    assert.equal((await postSigned(hook, body, { secret: SECRET, timestamp, id, signature })).status, 204);
    const replay = await postSigned(hook, body, { secret: SECRET, timestamp, id: newId(), signature });
    assert.equal(replay.status, 401);
    assert.equal(((await replay.json()) as { code: string }).code, "unauthorized");
    assert.equal(server.rejections.length, 1);
    assert.match(server.rejections[0]!.message, /signature does not match/);
    await barrier();
    assert.equal(drain(company1).length, 1);
  });

  test("refusals emit nothing", async () => {
    clear();
    const body = JSON.stringify(call());
    const now = Math.floor(Date.now() / 1000);
    const fixedId = newId();
    const cases: { name: string; res: Promise<globalThis.Response>; status: number; code: string }[] = [
      { name: "wrong secret", res: postSigned(hook, body, { secret: "wrong" }), status: 401, code: "unauthorized" },
      { name: "no signature", res: postSigned(hook, body, { secret: SECRET, signature: null }), status: 401, code: "unauthorized" },
      {
        name: "garbage signature",
        res: postSigned(hook, body, { secret: SECRET, signature: "sha256=xyz" }),
        status: 401,
        code: "unauthorized",
      },
      {
        name: "body changed after signing",
        res: postSigned(hook, body.replace("ringing", "answered"), {
          secret: SECRET,
          id: fixedId,
          signature: sign(SECRET, now, fixedId, body),
          timestamp: now,
        }),
        status: 401,
        code: "unauthorized",
      },
      {
        name: "id changed after signing",
        res: postSigned(hook, body, { secret: SECRET, id: newId(), signature: sign(SECRET, now, fixedId, body), timestamp: now }),
        status: 401,
        code: "unauthorized",
      },
      { name: "stale", res: postSigned(hook, body, { secret: SECRET, timestamp: now - 301 }), status: 401, code: "stale" },
      { name: "future", res: postSigned(hook, body, { secret: SECRET, timestamp: now + 400 }), status: 401, code: "stale" },
      { name: "not JSON", res: postSigned(hook, "{nope", { secret: SECRET }), status: 400, code: "bad_request" },
      {
        name: "empty rooms",
        res: postSigned(hook, JSON.stringify({ ...call(), rooms: [] }), { secret: SECRET }),
        status: 400,
        code: "bad_request",
      },
      {
        name: "payload not an object",
        res: postSigned(hook, JSON.stringify({ ...call(), payload: [1] }), { secret: SECRET }),
        status: 400,
        code: "bad_request",
      },
      // The id is part of what is signed: a missing or malformed one fails verification.
      { name: "no id", res: postSigned(hook, body, { secret: SECRET, id: null }), status: 401, code: "unauthorized" },
      { name: "bad id", res: postSigned(hook, body, { secret: SECRET, id: "not-an-id" }), status: 401, code: "unauthorized" },
      { name: "id too long", res: postSigned(hook, body, { secret: SECRET, id: "a".repeat(65) }), status: 401, code: "unauthorized" },
    ];
    for (const c of cases) {
      const res = await c.res;
      assert.equal(res.status, c.status, c.name);
      const json = (await res.json()) as { error: string; code: string };
      assert.equal(json.code, c.code, c.name);
      assert.equal(typeof json.error, "string", c.name);
    }
    const empty = await fetch(hook, { method: "POST" });
    assert.equal(empty.status, 401);
    await barrier();
    assert.deepEqual(drain(company1), []);
    assert.deepEqual(drain(company2), []);
    assert.equal(server.rejections.length, cases.length + 1);
  });

  test("a refused request does not burn its id", async () => {
    clear();
    const id = newId();
    const body = JSON.stringify(call());
    assert.equal((await postSigned(hook, body, { secret: SECRET, id, timestamp: Math.floor(Date.now() / 1000) - 1000 })).status, 401);
    assert.equal((await postSigned(hook, body, { secret: SECRET, id })).status, 204);
    await barrier();
    assert.equal(drain(company1).length, 1);
  });

  test("the content type does not matter (the raw bytes are verified)", async () => {
    clear();
    const res = await postSigned(hook, JSON.stringify(call()), { secret: SECRET, contentType: "text/plain" });
    assert.equal(res.status, 204);
    await barrier();
    assert.equal(drain(company1).length, 1);
  });
});

describe("mounting", () => {
  const body = JSON.stringify({ event: "e", rooms: ["r"], payload: { a: 1 } });

  test("behind express.json() without the raw body: 500 misconfigured", async () => {
    const server = await startHookServer({ secret: SECRET, beforeRouter: (app) => app.use(express.json()) });
    try {
      const res = await postSigned(`${server.url}/voice/webhook`, body, { secret: SECRET });
      assert.equal(res.status, 500);
      assert.equal(((await res.json()) as { code: string }).code, "misconfigured");
    } finally {
      await server.close();
    }
  });

  test("behind express.json() keeping req.rawBody: works", async () => {
    const server = await startHookServer({
      secret: SECRET,
      beforeRouter: (app) =>
        app.use(
          express.json({
            verify: (req, _res, buf) => {
              (req as typeof req & { rawBody?: Buffer }).rawBody = buf;
            },
          }),
        ),
    });
    const client = await connectClient(server.url, ["r"]);
    try {
      const res = await postSigned(`${server.url}/voice/webhook`, body, { secret: SECRET });
      assert.equal(res.status, 204);
      assert.deepEqual(await client.waitFor((r) => r.event === "e"), { event: "e", payload: { a: 1 } });
    } finally {
      client.close();
      await server.close();
    }
  });

  test("io given lazily", async () => {
    let calls = 0;
    const router = voiceWebhookRouter({
      secret: SECRET,
      io: () => {
        calls++;
        throw new Error("io not initialised");
      },
      onError: () => {},
    });
    const app = express().use("/voice", router);
    const http = app.listen(0, "127.0.0.1");
    await new Promise((r) => http.once("listening", r));
    try {
      const port = (http.address() as AddressInfo).port;
      const id = newId();
      const url = `http://127.0.0.1:${port}/voice/webhook`;
      const res = await postSigned(url, body, { secret: SECRET, id });
      assert.equal(res.status, 500);
      assert.equal(((await res.json()) as { code: string }).code, "emit_failed");
      // Not remembered: the retry tries again.
      assert.equal((await postSigned(url, body, { secret: SECRET, id })).status, 500);
      assert.equal(calls, 2);
    } finally {
      http.close();
    }
  });

  test("a batch whose emit fails part-way resumes after what was emitted", async () => {
    const emitted: string[] = [];
    let failOnce = true;
    const router = voiceWebhookRouter({
      secret: SECRET,
      io: {} as never,
      emit: (_io, n) => {
        if (n.event === "e2" && failOnce) {
          failOnce = false;
          throw new Error("socket.io down");
        }
        emitted.push(n.event);
      },
      onError: () => {},
    });
    const app = express().use("/voice", router);
    const http = app.listen(0, "127.0.0.1");
    await new Promise((r) => http.once("listening", r));
    try {
      const port = (http.address() as AddressInfo).port;
      const url = `http://127.0.0.1:${port}/voice/webhook`;
      const id = newId();
      const batch = JSON.stringify(["e1", "e2", "e3"].map((event) => ({ event, rooms: ["r"], payload: {} })));
      const first = await postSigned(url, batch, { secret: SECRET, id });
      assert.equal(first.status, 500);
      assert.deepEqual(emitted, ["e1"]);
      // The daemon's retry: same id and body, signed afresh.
      assert.equal((await postSigned(url, batch, { secret: SECRET, id })).status, 204);
      assert.deepEqual(emitted, ["e1", "e2", "e3"]);
      assert.equal((await postSigned(url, batch, { secret: SECRET, id })).status, 200);
      assert.deepEqual(emitted, ["e1", "e2", "e3"]);
    } finally {
      http.close();
    }
  });

  test("an empty secret is refused at construction", async () => {
    assert.throws(() => voiceWebhookRouter({ secret: "", io: () => undefined as never }), /secret/);
  });
});
