// Typed client of the bigchat-voice control API (docs/api/openapi.json).

export type CallStatus =
  | "ringing"
  | "answered"
  | "on_hold"
  | "transferred"
  | "completed"
  | "busy"
  | "failed"
  | "no_answer"
  | "voicemail";

export type CallDirection = "inbound" | "outbound" | "internal";

/** The `code` of an error body, as the API documents it. */
export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "pbx_refused"
  | "key_reused"
  | "pbx_unreachable"
  | "database"
  | "internal";

/** A CallRecords row as BigChat's model serialises it (dates as RFC 3339 strings). */
export interface CallRecord {
  id: number;
  uniqueId: string;
  callerId: string;
  callerName?: string | null;
  calledNumber: string;
  direction: CallDirection;
  status: CallStatus;
  duration: number;
  holdTime: number;
  talkTime: number;
  recordingUrl?: string | null;
  recordingFile?: string | null;
  startedAt: string;
  answeredAt?: string | null;
  endedAt?: string | null;
  agentExtension?: string | null;
  queue?: string | null;
  hangupCause?: number | null;
  reconciled: boolean;
  ticketId?: number | null;
  asteriskId: number;
  userId?: number | null;
  contactId?: number | null;
  companyId: number;
  createdAt: string;
  updatedAt: string;
  /** Why the call got its direction. */
  classification?: string | null;
}

export interface VoiceServer {
  name: string;
  asteriskId: number;
  companyId: number;
  connected: boolean;
  liveCalls: number;
  /** The AMI banner's version. */
  version?: string | null;
}

export interface Readiness {
  ready: boolean;
  servers: Record<string, unknown>[];
  database: "ok" | "degraded";
  journal: boolean;
  pendingEffects: number;
}

export interface CallFilter {
  status?: CallStatus;
  direction?: CallDirection;
  /** Agent extension. */
  agent?: string;
  userId?: number;
  /** Started at or after (a Date or an RFC 3339 string). */
  since?: Date | string;
  /** Started before. */
  until?: Date | string;
  /** 1 to 1000, default 50. */
  limit?: number;
}

export interface OriginateRequest {
  /** The agent's extension, rung first. */
  from: string;
  /** The number to dial. */
  to: string;
  /** The BigChat ticket the call belongs to. */
  ticketId?: number;
  /** Channel variables. */
  variables?: Record<string, string>;
  /** How long the agent's phone may ring (1..3600, default 30). */
  timeoutSecs?: number;
  /** The PBX, when the daemon follows several. */
  server?: string;
}

export interface Placed {
  uniqueId: string;
  /** True when an earlier request with the same Idempotency-Key placed it. */
  replayed: boolean;
  call: CallRecord | null;
}

export interface OriginateResult {
  /** 201: placed now; 200: an earlier request with this key placed it. */
  status: 200 | 201;
  placed: Placed;
}

export type TransferKind = "blind" | "attended";

/** Exactly one of `extension` and `queue`. */
export type TransferRequest =
  | { kind: TransferKind; extension: string; queue?: never }
  | { kind: TransferKind; queue: string; extension?: never };

export interface Transfer {
  kind: TransferKind;
  /** The agent's channel the transfer was made from. */
  channel: string;
  /** What was dialled. */
  exten: string;
}

export interface Channels {
  channels: string[];
}

export interface ServerOption {
  /** The PBX, when the daemon follows several. */
  server?: string;
}

export interface VoiceClientOptions {
  /** e.g. `http://127.0.0.1:8089` (a path prefix is kept). */
  baseUrl: string;
  /** Bearer token (the daemon's BIGCHAT_VOICE_API_TOKEN or a scoped one). */
  token: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Per request, default 15,000 ms. */
  timeoutMs?: number;
}

/**
 * A refused or failed request. `status` is the HTTP status (0 when no
 * response came: `code` is then "network" or "timeout"); `code` is the error
 * body's code, or "unexpected_response" for a body not in the API's form.
 */
export class VoiceApiError extends Error {
  override readonly name = "VoiceApiError";
  constructor(
    readonly status: number,
    readonly code: ErrorCode | "network" | "timeout" | "unexpected_response",
    message: string,
    readonly body?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

type Query = Record<string, string | number | undefined>;

interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  /** Statuses answered with the documented body; any other throws. */
  ok: readonly number[];
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,200}$/;

export class VoiceClient {
  private readonly baseUrl: string;
  private readonly token: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: VoiceClientOptions) {
    if (!options.baseUrl) throw new TypeError("VoiceClient: `baseUrl` is required");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.token = options.token;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** GET /v1/servers */
  async servers(): Promise<VoiceServer[]> {
    const { body } = await this.request<{ servers: VoiceServer[] }>({ method: "GET", path: "/v1/servers", ok: [200] });
    return body.servers;
  }

  /** GET /readyz: the readiness, ready or not (200 and 503 both carry it). */
  async ready(): Promise<Readiness> {
    const { body } = await this.request<Readiness>({ method: "GET", path: "/readyz", ok: [200, 503] });
    if (typeof body?.ready !== "boolean") {
      throw new VoiceApiError(503, "unexpected_response", "readyz answered without a readiness", body);
    }
    return body;
  }

  /** GET /v1/calls: newest first. */
  async listCalls(filter: CallFilter = {}): Promise<CallRecord[]> {
    const query: Query = {
      status: filter.status,
      direction: filter.direction,
      agent: filter.agent,
      userId: filter.userId,
      since: dateParam(filter.since),
      until: dateParam(filter.until),
      limit: filter.limit,
    };
    const { body } = await this.request<{ calls: CallRecord[] }>({ method: "GET", path: "/v1/calls", query, ok: [200] });
    return body.calls;
  }

  /** GET /v1/calls/{uniqueId} */
  async getCall(uniqueId: string, options: ServerOption = {}): Promise<CallRecord> {
    const { body } = await this.request<{ call: CallRecord }>({
      method: "GET",
      path: callPath(uniqueId),
      query: { server: options.server },
      ok: [200],
    });
    return body.call;
  }

  /** POST /v1/calls: click-to-call. Pass an idempotency key to make retries safe. */
  async originate(req: OriginateRequest, options: { idempotencyKey?: string } = {}): Promise<OriginateResult> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) {
      if (!IDEMPOTENCY_KEY.test(options.idempotencyKey)) {
        throw new TypeError("VoiceClient.originate: an Idempotency-Key is 1 to 200 printable ASCII characters");
      }
      headers["Idempotency-Key"] = options.idempotencyKey;
    }
    const { status, body } = await this.request<Placed>({ method: "POST", path: "/v1/calls", body: req, headers, ok: [200, 201] });
    return { status: status as 200 | 201, placed: body };
  }

  /** POST /v1/calls/{uniqueId}/hangup */
  async hangup(uniqueId: string, options: ServerOption = {}): Promise<Channels> {
    return this.post<Channels>(`${callPath(uniqueId)}/hangup`, options, undefined, 200);
  }

  /** POST /v1/calls/{uniqueId}/transfer: 202, the outcome arrives as call events. */
  async transfer(uniqueId: string, req: TransferRequest, options: ServerOption = {}): Promise<Transfer> {
    return this.post<Transfer>(`${callPath(uniqueId)}/transfer`, options, req, 202);
  }

  /** POST /v1/calls/{uniqueId}/transfer/complete */
  async completeTransfer(uniqueId: string, options: ServerOption = {}): Promise<Channels> {
    return this.post<Channels>(`${callPath(uniqueId)}/transfer/complete`, options, undefined, 200);
  }

  /** POST /v1/calls/{uniqueId}/transfer/cancel */
  async cancelTransfer(uniqueId: string, options: ServerOption = {}): Promise<Channels> {
    return this.post<Channels>(`${callPath(uniqueId)}/transfer/cancel`, options, undefined, 200);
  }

  private async post<T>(path: string, options: ServerOption, body: unknown, ok: number): Promise<T> {
    const res = await this.request<T>({ method: "POST", path, query: { server: options.server }, body, ok: [ok] });
    return res.body;
  }

  private async request<T>(spec: RequestSpec): Promise<{ status: number; body: T }> {
    const url = new URL(this.baseUrl + spec.path);
    for (const [k, v] of Object.entries(spec.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = {
      Accept: "application/json",
      Authorization: `Bearer ${this.token}`,
      ...spec.headers,
    };
    const init: RequestInit = { method: spec.method, headers, signal: AbortSignal.timeout(this.timeoutMs) };
    if (spec.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(spec.body);
    }

    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(url, init);
      text = await res.text();
    } catch (e) {
      const timedOut = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
      throw new VoiceApiError(
        0,
        timedOut ? "timeout" : "network",
        timedOut
          ? `${spec.method} ${spec.path}: no answer within ${this.timeoutMs} ms`
          : `${spec.method} ${spec.path}: ${describeFailure(e)}`,
        undefined,
        { cause: e },
      );
    }

    let body: unknown = undefined;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (spec.ok.includes(res.status)) {
      if (body === undefined || typeof body === "string") {
        throw new VoiceApiError(res.status, "unexpected_response", `${spec.method} ${spec.path}: ${res.status} without a JSON body`, body);
      }
      return { status: res.status, body: body as T };
    }
    if (isErrorBody(body)) {
      throw new VoiceApiError(res.status, body.code as ErrorCode, body.error, body);
    }
    throw new VoiceApiError(res.status, "unexpected_response", `${spec.method} ${spec.path}: HTTP ${res.status}`, body);
  }
}

function callPath(uniqueId: string): string {
  // "." and ".." (even percent-encoded) would be resolved away by the URL parser.
  if (!uniqueId || uniqueId === "." || uniqueId === "..") throw new TypeError(`VoiceClient: invalid uniqueId ${JSON.stringify(uniqueId)}`);
  return `/v1/calls/${encodeURIComponent(uniqueId)}`;
}

function dateParam(d: Date | string | undefined): string | undefined {
  return d instanceof Date ? d.toISOString() : d;
}

function isErrorBody(b: unknown): b is { error: string; code: string } {
  return (
    typeof b === "object" &&
    b !== null &&
    typeof (b as { error?: unknown }).error === "string" &&
    typeof (b as { code?: unknown }).code === "string"
  );
}

/** fetch's "fetch failed" plus what lies under it (ECONNREFUSED …). */
function describeFailure(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : undefined;
  return detail ? `${e.message} (${detail})` : e.message;
}
