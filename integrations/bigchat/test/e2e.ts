// End-to-end check driven by a Rust test (not part of `npm test`).
//
// Env: HOOK_PORT, WEBHOOK_SECRET, API_URL, API_TOKEN, COMPANY_ID (default 1).
// Listens on 127.0.0.1:HOOK_PORT with the router at /voice (the daemon posts
// to /voice/webhook), joins a Socket.IO client to the company's rooms, prints
// `READY`, then expects the replayed inbound capture's events, then drives a
// click-to-call through the control API. Progress lines start with `STEP`;
// exit 0 on success, 1 on a failed expectation, 2 on bad env, 3 on timeout.

import { VoiceApiError, VoiceClient, type CallStatus, type OriginateRequest, type TransferRequest } from "../src/client";
import { connectClient, startHookServer, type Received } from "./helpers";

// ---- expectations (adjust here) ------------------------------------------

/** E2E_TIMEOUT_MS overrides it. */
const GLOBAL_TIMEOUT_MS = Number(process.env["E2E_TIMEOUT_MS"] ?? 90_000);
/** The call of the capture `inbound-answered-recorded`. */
const INBOUND_UNIQUE_ID = "1795515777.0";
/** Its call (`call` + action) and ticket (`ticket` + action) events, in order. */
const INBOUND_EXPECTED: readonly (readonly ["call" | "ticket" | "message", string])[] = [
  ["call", "ringing"],
  ["ticket", "update"],
  ["call", "answered"],
  ["ticket", "update"],
  ["call", "completed"],
  ["ticket", "update"],
  ["message", "create"],
];
/** After the last expected inbound event, wait this long for unwanted extra ones. */
const INBOUND_SETTLE_MS = 500;
const ORIGINATE: OriginateRequest = { from: "1001", to: "+5511999990002" };
const IDEMPOTENCY_KEY = "e2e-1";
/** The originated call's action to wait for before transferring. */
const ORIGINATE_WAIT_FOR: CallStatus = "answered";
const TRANSFER: TransferRequest = { kind: "blind", extension: "1002" };
/** A final state the originated call must reach after the hangup. */
const FINAL_STATES: readonly CallStatus[] = ["completed", "failed", "no_answer"];
/** Fail on any other (non-ignored) event before the originate. */
const STRICT_INBOUND_ONLY = true;
/** Events that may interleave anywhere and are ignored (beyond `company-N-`). */
const IGNORED_EVENT_SUFFIXES = ["-asterisk"];
const rooms = (company: string): string[] => [
  `company-${company}-mainchannel`,
  `company-${company}-notification`,
  `company-${company}-pending`,
  `company-${company}-open`,
];

// ---- plumbing ---------------------------------------------------------------

class Failure extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let step = "start";
const log = (line: string) => process.stdout.write(`${line}\n`);
const begin = (name: string) => {
  step = name;
  log(`STEP ${name}`);
};
function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Failure(`${step}: ${message}`);
}

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") {
    process.stderr.write(`e2e: environment variable ${name} is required\n`);
    process.exit(2);
  }
  return v;
}

interface CallPayload {
  action: string;
  call: { uniqueId: string; status: string; ticketId?: number | null };
}
interface TicketPayload {
  action: string;
  ticket: { id: number };
}

function isCall(p: unknown): p is CallPayload {
  const c = (p as CallPayload | null)?.call;
  return typeof (p as CallPayload | null)?.action === "string" && typeof c?.uniqueId === "string";
}
function isTicket(p: unknown): p is TicketPayload {
  return typeof (p as TicketPayload | null)?.action === "string" && typeof (p as TicketPayload).ticket?.id === "number";
}

async function main(): Promise<void> {
  const hookPort = Number(env("HOOK_PORT"));
  const secret = env("WEBHOOK_SECRET");
  const apiUrl = env("API_URL");
  const token = env("API_TOKEN");
  const company = env("COMPANY_ID", "1");
  const callEvent = `company-${company}-call`;
  const ticketEvent = `company-${company}-ticket`;
  const messageEvent = `company-${company}-appMessage`;

  const server = await startHookServer({
    secret,
    port: hookPort,
    onError: (err) => log(`REJECTED ${err.status} ${err.code}: ${err.message}`),
  });
  const client = await connectClient(server.url, rooms(company));
  const isIgnored = (r: Received) =>
    IGNORED_EVENT_SUFFIXES.some((s) => r.event === `company-${company}${s}`);
  client.socket.onAny((event: string, payload: unknown) => {
    const what = isCall(payload)
      ? `${payload.action} ${payload.call.uniqueId} status=${payload.call.status}`
      : isTicket(payload)
        ? `${payload.action} ticket=${payload.ticket.id}`
        : JSON.stringify(payload).slice(0, 200);
    log(`EVENT ${event} ${what}`);
  });
  const api = new VoiceClient({ baseUrl: apiUrl, token });
  log("READY");

  // 1. The replayed inbound call.
  begin(`inbound: waiting for ${INBOUND_EXPECTED.length} call/ticket events of ${INBOUND_UNIQUE_ID}`);
  const first = await client.waitFor((r) => r.event === callEvent && isCall(r.payload) && r.payload.call.uniqueId === INBOUND_UNIQUE_ID, GLOBAL_TIMEOUT_MS);
  const inboundTicket = (first.payload as CallPayload).call.ticketId;
  check(typeof inboundTicket === "number", `the first call event names no ticketId: ${JSON.stringify(first.payload)}`);
  const inboundEvents = (): Received[] =>
    client.received.filter(
      (r) =>
        (r.event === callEvent && isCall(r.payload) && r.payload.call.uniqueId === INBOUND_UNIQUE_ID) ||
        (r.event === ticketEvent && isTicket(r.payload) && r.payload.ticket.id === inboundTicket) ||
        (r.event === ticketEvent && (r.payload as { ticketId?: unknown }).ticketId === inboundTicket) ||
        (r.event === messageEvent && isTicket(r.payload) && r.payload.ticket.id === inboundTicket),
    );
  while (inboundEvents().length < INBOUND_EXPECTED.length) await sleep(20); // the global timeout bounds it
  await sleep(INBOUND_SETTLE_MS);
  const inbound = inboundEvents();
  const got = inbound.map((r) => [
    r.event === callEvent ? "call" : r.event === messageEvent ? "message" : "ticket",
    (r.payload as { action: string }).action,
  ]);
  check(
    JSON.stringify(got) === JSON.stringify(INBOUND_EXPECTED),
    `expected ${JSON.stringify(INBOUND_EXPECTED)}, got ${JSON.stringify(got)}`,
  );
  for (const r of inbound) {
    if (isCall(r.payload)) check(r.payload.call.status === r.payload.action, `call status ${r.payload.call.status} under action ${r.payload.action}`);
  }
  const unexpected = client.received.filter((r) => !isIgnored(r) && !inbound.includes(r));
  check(!STRICT_INBOUND_ONLY || unexpected.length === 0, `unexpected events: ${unexpected.map((r) => r.event).join(", ")}`);
  const inboundCallEvents = inbound.filter((r) => r.event === callEvent).length;

  // 2. Click-to-call, twice with the same key.
  begin(`originate ${ORIGINATE.from} -> ${ORIGINATE.to} (Idempotency-Key ${IDEMPOTENCY_KEY})`);
  const placed = await api.originate(ORIGINATE, { idempotencyKey: IDEMPOTENCY_KEY });
  check(placed.status === 201, `status ${placed.status}, expected 201`);
  check(placed.placed.replayed === false, "replayed is not false");
  const uid = placed.placed.uniqueId;
  check(typeof uid === "string" && uid.length > 0, "no uniqueId");
  log(`STEP placed ${uid}`);

  begin("originate again with the same key");
  const again = await api.originate(ORIGINATE, { idempotencyKey: IDEMPOTENCY_KEY });
  check(again.status === 200, `status ${again.status}, expected 200`);
  check(again.placed.replayed === true, "replayed is not true");
  check(again.placed.uniqueId === uid, `uniqueId ${again.placed.uniqueId}, expected ${uid}`);

  const callOf = (pred: (p: CallPayload) => boolean) => (r: Received) =>
    r.event === callEvent && isCall(r.payload) && r.payload.call.uniqueId === uid && pred(r.payload);
  const actions = () => client.received.filter(callOf(() => true)).map((r) => (r.payload as CallPayload).action);

  begin(`waiting for ${uid} to be ${ORIGINATE_WAIT_FOR}`);
  await client.waitFor(callOf((p) => p.action === ORIGINATE_WAIT_FOR), GLOBAL_TIMEOUT_MS);
  log(`STEP actions so far: ${actions().join(", ")}`);

  // 3. Transfer, then hang up.
  begin(`transfer ${JSON.stringify(TRANSFER)}`);
  const transfer = await api.transfer(uid, TRANSFER);
  check(transfer.kind === TRANSFER.kind, `kind ${transfer.kind}`);
  log(`STEP transfer accepted (202): channel ${transfer.channel} exten ${transfer.exten}`);

  begin("hangup");
  const hung = await api.hangup(uid);
  log(`STEP hung up (200): ${hung.channels.join(", ")}`);

  begin(`waiting for ${uid} to reach one of ${FINAL_STATES.join("/")}`);
  const final = await client.waitFor(callOf((p) => FINAL_STATES.includes(p.action as CallStatus)), GLOBAL_TIMEOUT_MS);
  log(`STEP final ${(final.payload as CallPayload).action}; actions: ${actions().join(", ")}`);

  // 4. Read back.
  begin(`getCall(${uid})`);
  const record = await api.getCall(uid);
  check(record.uniqueId === uid, `uniqueId ${record.uniqueId}`);
  check(FINAL_STATES.includes(record.status), `status ${record.status}, expected one of ${FINAL_STATES.join("/")}`);
  check(record.direction === "outbound", `direction ${record.direction}`);

  begin("listCalls({limit: 10})");
  const calls = await api.listCalls({ limit: 10 });
  check(calls.some((c) => c.uniqueId === uid), `${uid} not among ${calls.map((c) => c.uniqueId).join(", ")}`);

  begin('getCall("nope") is a 404');
  const missing = await api.getCall("nope").then(
    () => undefined,
    (e: unknown) => e,
  );
  check(missing instanceof VoiceApiError, `expected a VoiceApiError, got ${String(missing)}`);
  check(missing.status === 404, `status ${missing.status} (${missing.code}: ${missing.message})`);

  // 5. Nothing was delivered twice.
  begin("no duplicate deliveries");
  const seen = new Set<string>();
  for (const r of client.received) {
    if (isIgnored(r)) continue;
    const key = `${r.event} ${JSON.stringify(r.payload)}`;
    check(!seen.has(key), `delivered twice: ${key.slice(0, 300)}`);
    seen.add(key);
  }
  const inboundNow = client.received.filter(
    (r) => r.event === callEvent && isCall(r.payload) && r.payload.call.uniqueId === INBOUND_UNIQUE_ID,
  ).length;
  check(inboundNow === inboundCallEvents, `${inboundNow - inboundCallEvents} more call events of ${INBOUND_UNIQUE_ID} arrived later`);
  check(server.rejections.length === 0, `the router refused ${server.rejections.length} request(s)`);

  log("STEP done");
  log("PASS");
  client.close();
  await server.close();
}

const timer = setTimeout(() => {
  process.stderr.write(`e2e: FAIL: global timeout of ${GLOBAL_TIMEOUT_MS} ms during step: ${step}\n`);
  log(`FAIL timeout during step: ${step}`);
  process.exit(3);
}, GLOBAL_TIMEOUT_MS);

main().then(
  () => {
    clearTimeout(timer);
    process.exit(0);
  },
  (e: unknown) => {
    const message =
      e instanceof VoiceApiError
        ? `${step}: API error ${e.status} ${e.code}: ${e.message}`
        : e instanceof Failure
          ? e.message
          : `${step}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
    process.stderr.write(`e2e: FAIL: ${message}\n`);
    log(`FAIL ${message}`);
    process.exit(1);
  },
);
