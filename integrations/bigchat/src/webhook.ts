// Receiver of bigchat-voice's signed webhook notifications.
//
// The daemon POSTs `{"event", "rooms", "payload"}`, or (with its
// `webhookBatch` above 1) a JSON array of them, oldest first; BigChat
// re-emits each on its Socket.IO server as `io.to(rooms).emit(event,
// payload)`, in order.

import { createHmac, timingSafeEqual } from "node:crypto";
import express, { type Request, type Response, type Router } from "express";
import type { Namespace, Server } from "socket.io";

/** `sha256=<hex HMAC-SHA256(secret, "{timestamp}.{id}.{rawBody}")>` */
export const SIGNATURE_HEADER = "X-BigChat-Signature";
/** Send time, Unix seconds (signed together with the id and the body). */
export const TIMESTAMP_HEADER = "X-BigChat-Timestamp";
/**
 * The notification's id: 32 hex digits from the daemon, the same on every
 * retry of one notification. Signed with the timestamp and the body, so a
 * captured request cannot pass as a new notification under another id.
 * Accepted (like the daemon's own verifier): 1 to 64 ASCII alphanumerics.
 */
export const ID_HEADER = "X-BigChat-Id";
/** A timestamp further than this from our clock (either way) is refused. */
export const MAX_CLOCK_SKEW_SECS = 300;
/**
 * How long a seen id is remembered by default. A request stays acceptable
 * while its timestamp is within the window of our clock, so one first seen
 * at `ts - 300` can come back until `ts + 300`: twice the window.
 */
export const DEFAULT_DEDUP_TTL_MS = 2 * MAX_CLOCK_SKEW_SECS * 1000;
/** At most this many ids are remembered by default (oldest forgotten first). */
export const DEFAULT_MAX_SEEN_IDS = 100_000;

export type VerifyFailure =
  | {
      ok: false;
      reason: "malformed";
      header: typeof TIMESTAMP_HEADER | typeof ID_HEADER | typeof SIGNATURE_HEADER;
      message: string;
    }
  | { ok: false; reason: "bad_signature"; message: string }
  | { ok: false; reason: "stale"; skewSecs: number; message: string };

/** On success, `id` is the id header as signed (trimmed, case kept). */
export type VerifyResult = { ok: true; timestamp: number; id: string } | VerifyFailure;

/** What the daemon's verifier accepts as an id: 1 to 64 ASCII alphanumerics. */
const ID_FORM = /^[0-9A-Za-z]{1,64}$/;

function mac(secret: string | Buffer, timestamp: number, id: string, rawBody: Buffer | string): Buffer {
  return createHmac("sha256", secret).update(`${timestamp}.${id}.`).update(rawBody).digest();
}

/**
 * The `X-BigChat-Signature` value the daemon sends for this timestamp, id
 * and body: `sha256=` + hex HMAC-SHA256 over `"{timestamp}.{id}.{rawBody}"`.
 */
export function sign(secret: string | Buffer, timestamp: number, id: string, rawBody: Buffer | string): string {
  return `sha256=${mac(secret, timestamp, id, rawBody).toString("hex")}`;
}

/**
 * Checks one request: the timestamp, id and signature headers as received,
 * the raw body bytes, and our clock (Unix seconds). Signature compared in
 * constant time; the timestamp must be within MAX_CLOCK_SKEW_SECS. Checks in
 * the daemon's order: timestamp form, id form, signature form, signature,
 * clock.
 */
export function verifySignature(
  secret: string | Buffer,
  timestampHeader: string | undefined | null,
  idHeader: string | undefined | null,
  signatureHeader: string | undefined | null,
  rawBody: Buffer | string,
  nowSecs: number,
): VerifyResult {
  const tsText = (timestampHeader ?? "").trim();
  const timestamp = /^[+-]?\d{1,16}$/.test(tsText) ? Number(tsText) : NaN;
  if (!Number.isSafeInteger(timestamp)) {
    return { ok: false, reason: "malformed", header: TIMESTAMP_HEADER, message: `missing or malformed ${TIMESTAMP_HEADER} header` };
  }
  const id = (idHeader ?? "").trim();
  if (!ID_FORM.test(id)) {
    return { ok: false, reason: "malformed", header: ID_HEADER, message: `missing or malformed ${ID_HEADER} header` };
  }
  const sigText = (signatureHeader ?? "").trim();
  const hex = sigText.startsWith("sha256=") ? sigText.slice("sha256=".length) : "";
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) {
    return { ok: false, reason: "malformed", header: SIGNATURE_HEADER, message: `missing or malformed ${SIGNATURE_HEADER} header` };
  }
  const given = Buffer.from(hex, "hex");
  const expected = mac(secret, timestamp, id, rawBody);
  // timingSafeEqual needs equal lengths; the length itself is no secret.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: "bad_signature", message: "the signature does not match" };
  }
  const skewSecs = Math.trunc(nowSecs) - timestamp;
  if (Math.abs(skewSecs) > MAX_CLOCK_SKEW_SECS) {
    return {
      ok: false,
      reason: "stale",
      skewSecs,
      message: `timestamp ${skewSecs} s away from this clock (at most ${MAX_CLOCK_SKEW_SECS} s accepted)`,
    };
  }
  return { ok: true, timestamp, id };
}

/** One notification as the daemon posts it. */
export interface VoiceNotification {
  event: string;
  rooms: string[];
  payload: Record<string, unknown>;
}

/** Parses and checks the shape of a notification body; a string says what is wrong. */
export function parseNotification(rawBody: Buffer | string): VoiceNotification | string {
  let value: unknown;
  try {
    value = JSON.parse(typeof rawBody === "string" ? rawBody : rawBody.toString("utf8"));
  } catch {
    return "the body is not JSON";
  }
  if (!isObject(value)) return "the body is not a JSON object";
  return checkNotification(value);
}

/**
 * Parses a body that is one notification object or a non-empty JSON array
 * of them (a batch, oldest first); every element is checked before any is
 * used. A string says what is wrong (naming the element of a batch).
 */
export function parseNotifications(rawBody: Buffer | string): VoiceNotification[] | string {
  let value: unknown;
  try {
    value = JSON.parse(typeof rawBody === "string" ? rawBody : rawBody.toString("utf8"));
  } catch {
    return "the body is not JSON";
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "the batch is empty";
    const out: VoiceNotification[] = [];
    for (const [i, item] of value.entries()) {
      if (!isObject(item)) return `batch element ${i}: not a JSON object`;
      const n = checkNotification(item);
      if (typeof n === "string") return `batch element ${i}: ${n}`;
      out.push(n);
    }
    return out;
  }
  if (!isObject(value)) return "the body is not a JSON object or array";
  const n = checkNotification(value);
  return typeof n === "string" ? n : [n];
}

function checkNotification(value: Record<string, unknown>): VoiceNotification | string {
  const { event, rooms, payload } = value;
  if (typeof event !== "string" || event.length === 0) return "`event` must be a non-empty string";
  if (!Array.isArray(rooms) || rooms.length === 0 || !rooms.every((r) => typeof r === "string" && r.length > 0)) {
    return "`rooms` must be a non-empty array of non-empty strings";
  }
  if (!isObject(payload)) return "`payload` must be a JSON object";
  return { event, rooms: rooms as string[], payload };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Why the router refused a request (given to `onError`). */
export class WebhookRejection extends Error {
  override readonly name = "WebhookRejection";
  constructor(
    readonly status: number,
    readonly code: "unauthorized" | "stale" | "bad_request" | "misconfigured" | "emit_failed" | "overloaded",
    message: string,
    readonly notificationId?: string,
  ) {
    super(message);
  }
}

/**
 * Notification ids seen recently. Every entry lives the same time, so
 * insertion order is expiry order: expired entries are dropped from the
 * front on each insert, and beyond `max` entries the oldest goes too.
 */
export class SeenIds {
  /** id → [expiry, signed time] in ms, oldest first. */
  private readonly entries = new Map<string, [number, number]>();
  /**
   * The signed time (ms) of the newest id forgotten early (to stay within
   * `max`): a request signed at or before it might be a replay of a
   * forgotten id, so the router does not trust it as new.
   */
  floorMs = 0;
  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  has(key: string, nowMs: number): boolean {
    const e = this.entries.get(key);
    return e !== undefined && e[0] > nowMs;
  }

  /** Remembers `key`, first seen at `nowMs`, signed at `signedMs` (default: now). */
  add(key: string, nowMs: number, signedMs: number = nowMs): void {
    this.prune(nowMs);
    this.entries.delete(key);
    this.entries.set(key, [nowMs + this.ttlMs, signedMs]);
    while (this.entries.size > this.max) {
      const oldest = this.entries.entries().next();
      if (oldest.done) break;
      const [k, [, signed]] = oldest.value;
      this.floorMs = Math.max(this.floorMs, signed);
      this.entries.delete(k);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private prune(nowMs: number): void {
    for (const [key, [until]] of this.entries) {
      if (until > nowMs) break;
      this.entries.delete(key);
    }
  }
}

type Io = Server | Namespace;

export interface VoiceWebhookOptions {
  /** The shared secret (the daemon's BIGCHAT_VOICE_WEBHOOK_SECRET). */
  secret: string | Buffer;
  /**
   * The Socket.IO server (or namespace) to emit on, or a function returning
   * it, for apps whose server exists only after the routes are built
   * (BigChat's `getIO`).
   */
  io: Io | (() => Io);
  /** Told of every refused request; default: console.warn. */
  onError?: (err: WebhookRejection, req: Request) => void;
  /** How long a notification id is remembered (default 600 s). */
  dedupTtlMs?: number;
  /** At most this many ids remembered (default 100,000). */
  maxSeenIds?: number;
  /** Largest accepted body (express.raw's `limit`, default "1mb"). */
  bodyLimit?: string | number;
  /** The clock, in ms (tests). */
  now?: () => number;
  /** The Socket.IO emit of one notification (tests: to make one fail). */
  emit?: (io: Io, notification: VoiceNotification) => void;
}

/**
 * An express Router with `POST /webhook`. Mount it before any global JSON
 * body parser (the signature is over the raw bytes), or make that parser
 * keep them as `req.rawBody` (`express.json({ verify: (req, _res, buf) => { req.rawBody = buf } })`).
 *
 * The body is one notification or a batch (a JSON array of them, oldest
 * first, one id and one signature for the whole POST): each is emitted in
 * order. Answers: 204 emitted; 200 `{duplicate: true}` for an id already
 * emitted; 401 missing/malformed/bad signature, timestamp or id, or stale
 * timestamp; 400 malformed body (nothing of a batch is emitted); 500 when
 * the raw body is unavailable or an emit failed (retried: a batch's retry
 * resumes after the notifications already emitted).
 */
export function voiceWebhookRouter(options: VoiceWebhookOptions): Router {
  if (!options.secret || options.secret.length === 0) {
    throw new Error("voiceWebhookRouter: `secret` is empty (set the webhook secret)");
  }
  const now = options.now ?? Date.now;
  const onError = options.onError ?? ((err) => console.warn(`voice webhook: ${err.status} ${err.message}`));
  const seen = new SeenIds(options.dedupTtlMs ?? DEFAULT_DEDUP_TTL_MS, options.maxSeenIds ?? DEFAULT_MAX_SEEN_IDS);
  const getIo = typeof options.io === "function" ? options.io : () => options.io as Io;
  const emit = options.emit ?? ((io: Io, n: VoiceNotification) => void io.to(n.rooms).emit(n.event, n.payload));
  // Batches whose emit failed part-way: id → notifications already emitted,
  // so that the retry (same id, same signed body) does not emit them twice.
  // Few and short-lived; bounded all the same (oldest forgotten first).
  const partial = new Map<string, number>();

  const router = express.Router();
  router.post(
    "/webhook",
    express.raw({ type: () => true, limit: options.bodyLimit ?? "1mb" }),
    (req: Request, res: Response) => {
      const refuse = (err: WebhookRejection): void => {
        onError(err, req);
        res.status(err.status).json({ error: err.message, code: err.code });
      };

      const raw = rawBodyOf(req);
      if (raw === undefined) {
        refuse(new WebhookRejection(500, "misconfigured", "raw body unavailable: mount the voice router before express.json() or keep req.rawBody"));
        return;
      }
      const nowMs = now();
      const check = verifySignature(
        options.secret,
        req.get(TIMESTAMP_HEADER),
        req.get(ID_HEADER),
        req.get(SIGNATURE_HEADER),
        raw,
        Math.floor(nowMs / 1000),
      );
      if (!check.ok) {
        refuse(new WebhookRejection(401, check.reason === "stale" ? "stale" : "unauthorized", check.message));
        return;
      }
      const { id } = check;
      // More ids than remembered arrived within the window: one signed
      // before the newest forgotten one could be a replay of it. Refused
      // with a 503, which the daemon retries, signing it afresh.
      if (check.timestamp * 1000 <= seen.floorMs) {
        res.setHeader("Retry-After", "1");
        refuse(new WebhookRejection(503, "overloaded", "too many notifications to remember within the clock window; retry", id));
        return;
      }
      const notifications = parseNotifications(raw);
      if (typeof notifications === "string") {
        refuse(new WebhookRejection(400, "bad_request", notifications, id));
        return;
      }
      // The id is signed, so remembering ids is a sound replay guard: a
      // captured request cannot be re-sent under another id, and the same id
      // is remembered (2 × the clock window) until its timestamp is stale.
      // Kept exactly as signed: another spelling is another signed id.
      if (seen.has(id, nowMs)) {
        res.status(200).json({ duplicate: true });
        return;
      }
      seen.add(id, nowMs, check.timestamp * 1000);
      // The same id comes with the same body (both are signed together).
      let done = Math.min(partial.get(id) ?? 0, notifications.length);
      try {
        const io = getIo();
        for (; done < notifications.length; done++) emit(io, notifications[done]!);
      } catch (e) {
        // Not (all) emitted: let the retry through, from where this stopped.
        seen.delete(id);
        partial.delete(id);
        if (done > 0) {
          partial.set(id, done);
          while (partial.size > 1000) {
            const oldest = partial.keys().next();
            if (oldest.done) break;
            partial.delete(oldest.value);
          }
        }
        refuse(new WebhookRejection(500, "emit_failed", `emit failed: ${e instanceof Error ? e.message : String(e)}`, id));
        return;
      }
      partial.delete(id);
      res.status(204).end();
    },
  );
  return router;
}

function rawBodyOf(req: Request): Buffer | undefined {
  if (Buffer.isBuffer(req.body)) return req.body;
  const kept = (req as Request & { rawBody?: unknown }).rawBody;
  if (Buffer.isBuffer(kept)) return kept;
  // No body at all (express.raw leaves it unset): verifies as empty.
  if (req.body === undefined) return Buffer.alloc(0);
  // Parsed by an earlier parser: the raw bytes are gone.
  return undefined;
}
