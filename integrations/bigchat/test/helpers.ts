// Shared by the tests and the e2e script: a real express + Socket.IO server
// with the voice router, and Socket.IO clients joined to rooms.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import express from "express";
import { Server as IoServer } from "socket.io";
import { io as ioClient, type Socket } from "socket.io-client";
import { sign, voiceWebhookRouter, WebhookRejection, type VoiceWebhookOptions } from "../src/webhook";

export interface HookServer {
  url: string;
  port: number;
  io: IoServer;
  http: HttpServer;
  rejections: WebhookRejection[];
  close(): Promise<void>;
}

/**
 * express + Socket.IO on `port` (0: ephemeral), the router at /voice.
 * A socket joins the rooms named in its handshake query `rooms` (comma-separated).
 */
export async function startHookServer(
  opts: Omit<VoiceWebhookOptions, "io"> & { port?: number; beforeRouter?: (app: express.Express) => void },
): Promise<HookServer> {
  const app = express();
  const http = createServer(app);
  const io = new IoServer(http);
  io.on("connection", (s) => {
    const rooms = s.handshake.query["rooms"];
    if (typeof rooms === "string" && rooms.length > 0) void s.join(rooms.split(","));
  });
  const rejections: WebhookRejection[] = [];
  opts.beforeRouter?.(app);
  const { port: _port, beforeRouter: _b, ...routerOpts } = opts;
  app.use(
    "/voice",
    voiceWebhookRouter({
      ...routerOpts,
      io,
      onError: (err, req) => {
        rejections.push(err);
        opts.onError?.(err, req);
      },
    }),
  );
  http.listen(opts.port ?? 0, "127.0.0.1");
  await once(http, "listening");
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    io,
    http,
    rejections,
    close: async () => {
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}

export interface Received {
  event: string;
  payload: unknown;
}

export interface RoomClient {
  socket: Socket;
  received: Received[];
  /** Resolves with the first event (already received or coming) matching `pred`. */
  waitFor(pred: (r: Received) => boolean, timeoutMs?: number): Promise<Received>;
  close(): void;
}

export async function connectClient(url: string, rooms: string[]): Promise<RoomClient> {
  const socket = ioClient(url, { query: { rooms: rooms.join(",") }, transports: ["websocket"], reconnection: false });
  const received: Received[] = [];
  const waiters: { pred: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  socket.onAny((event: string, payload: unknown) => {
    const r = { event, payload };
    received.push(r);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.pred(r)) {
        waiters.splice(i, 1);
        w.resolve(r);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  return {
    socket,
    received,
    waitFor: (pred, timeoutMs = 5000) => {
      const found = received.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise<Received>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
        });
      });
    },
    close: () => socket.close(),
  };
}

export function newId(): string {
  return randomBytes(16).toString("hex");
}

export interface PostOptions {
  secret: string;
  timestamp?: number;
  id?: string | null;
  signature?: string | null;
  contentType?: string;
}

/**
 * POSTs `body` (a string: sent as is) signed like the daemon does: a fresh
 * id unless `id` is given (`null`: no id header), and unless `signature` is
 * given (`null`: no signature header) the signature over the timestamp, the
 * id sent (`""` when none) and the body.
 */
export async function postSigned(url: string, body: string, opts: PostOptions): Promise<globalThis.Response> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    "Content-Type": opts.contentType ?? "application/json",
    "X-BigChat-Timestamp": String(timestamp),
  };
  const id = opts.id === undefined ? newId() : opts.id;
  if (id !== null) headers["X-BigChat-Id"] = id;
  const signature = opts.signature === undefined ? sign(opts.secret, timestamp, id ?? "", body) : opts.signature;
  if (signature !== null) headers["X-BigChat-Signature"] = signature;
  return fetch(url, { method: "POST", headers, body });
}

// ---- the daemon ---------------------------------------------------------

/** The repository's root (this file runs from integrations/bigchat/dist/test). */
export const REPO_ROOT = resolve(__dirname, "../../../..");
export const CAPTURES = resolve(REPO_ROOT, "testdata/captures");

/** The daemon binary from BIGCHAT_VOICE_BIN; throws (failing the test) when unset or missing. */
export function voiceBin(): string {
  const bin = process.env["BIGCHAT_VOICE_BIN"];
  const how =
    "build it with `cd /work/main && cargo build -p bigchat-voice-cli` and run the tests as " +
    "`BIGCHAT_VOICE_BIN=/work/main/target/debug/bigchat-voice npm test`";
  if (!bin) throw new Error(`BIGCHAT_VOICE_BIN is not set: ${how}`);
  if (!existsSync(bin)) throw new Error(`BIGCHAT_VOICE_BIN=${bin} does not exist: ${how}`);
  return bin;
}

/** Runs the daemon to completion; rejects with its stderr on a non-zero exit. */
export function runVoice(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
  const bin = voiceBin();
  return new Promise((resolvePromise, reject) => {
    execFile(bin, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${bin} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      else resolvePromise({ stdout, stderr });
    });
  });
}

/** Server URL (no database) for the tests' PostgreSQL: BIGCHAT_VOICE_TEST_PG, else the local one. */
export const PG_SERVER = (process.env["BIGCHAT_VOICE_TEST_PG"] ?? "postgres://postgres@127.0.0.1:5432").replace(/\/+$/, "");

let binaryError: Error | undefined;

/** For a `before` hook: false (and remembered) when BIGCHAT_VOICE_BIN is unusable. */
export function binaryOk(): boolean {
  try {
    voiceBin();
    return true;
  } catch (e) {
    binaryError = e as Error;
    return false;
  }
}

/** First line of each test needing the daemon: fails it with how to set BIGCHAT_VOICE_BIN. */
export function requireBinary(): void {
  if (binaryError) throw binaryError;
}
