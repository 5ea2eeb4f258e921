//! `listen --api ADDR`: health, readiness, Prometheus metrics and the
//! control API over HTTP. `docs/api/openapi.json` describes every route
//! (a test checks the routes against it).
//!
//! * `GET /healthz`: 200 while the daemon runs (alive).
//! * `GET /readyz`: 200 when every PBX is logged in and its events are kept
//!   (journaled, or stored); 503 otherwise. The JSON body names each PBX
//!   and says `"database": "degraded"` while effects wait for the database
//!   (the journal keeps the events meanwhile: still ready).
//! * `GET /metrics`: Prometheus text format.
//! * `/v1/…`: the PBXs, calls (list, get), click-to-call with a durable
//!   idempotency key, hang up, blind and attended transfer — the library's
//!   [`control`] code, on the daemon's own AMI connections.
//!
//! With tokens (`BIGCHAT_VOICE_API_TOKEN`, `[api] tokenFile`,
//! `[[api.tokens]]`), every route but `/healthz` needs `Authorization:
//! Bearer <token>` (401 otherwise). A scoped token sees and acts on its
//! company's calls only (another company's call is a 404, as if it did not
//! exist), and with a `userId` on that user's calls only. Without any
//! token the endpoint only listens on loopback.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bigchat_voice::control::{self, ControlError, TransferKind};
use bigchat_voice::model::{CallStatus, Direction};
use bigchat_voice::pipeline::{Losses, PipelineStats};
use bigchat_voice::store::writer::Writer;
use bigchat_voice::store::{AnyStore, CallFilter, CallRecordRow, Store};
use bigchat_voice::tracker::TrackerConfig;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

pub use crate::cmd_listen::ServerHandle;
use crate::config::{ControlFileConfig, Settings};
use crate::exit::{Code, coded};
use crate::publish::Publisher;

/// The routes, as `(method, path)` in OpenAPI's spelling; the router below
/// serves exactly these (a test compares them with `docs/api/openapi.json`).
#[cfg_attr(not(test), expect(dead_code))]
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/servers"),
    ("get", "/v1/calls"),
    ("post", "/v1/calls"),
    ("get", "/v1/calls/{uniqueId}"),
    ("post", "/v1/calls/{uniqueId}/hangup"),
    ("post", "/v1/calls/{uniqueId}/transfer"),
    ("post", "/v1/calls/{uniqueId}/transfer/complete"),
    ("post", "/v1/calls/{uniqueId}/transfer/cancel"),
];

/// What a token may see and do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything (the daemon's own token, or no token on loopback).
    All,
    /// One company's calls.
    Company(i64),
    /// One user's calls, in one company.
    User {
        /// The company.
        company_id: i64,
        /// The user.
        user_id: i64,
    },
}

/// A bearer token and its scope (the token is never logged).
pub struct Token {
    secret: String,
    scope: Scope,
}

/// What the endpoint reads and acts on.
pub struct ApiState {
    /// The PBXs.
    pub servers: Vec<Arc<ServerHandle>>,
    /// The store writer.
    pub writer: Arc<Writer>,
    /// The store (reads, and click-to-call records).
    pub store: AnyStore,
    /// Events not seen.
    pub losses: Arc<Losses>,
    /// The notification sinks.
    pub publisher: Arc<Publisher>,
    /// Whether frames are journaled.
    pub journal: bool,
    /// The tokens (none: open, loopback only).
    pub tokens: Vec<Token>,
    /// The company of every call of this daemon.
    pub company_id: i64,
    /// The tracker section, as SIGHUP reloads it (extension → user).
    pub tracker: watch::Receiver<TrackerConfig>,
    /// How click-to-call dials.
    pub dialplan: control::OriginateDialplan,
    /// Where transfers go.
    pub control: ControlFileConfig,
}

/// Reads the tokens: `[api] tokenFile` (else `BIGCHAT_VOICE_API_TOKEN`),
/// which sees everything, and each `[[api.tokens]]` file with its scope.
pub fn load_tokens(settings: &Settings) -> anyhow::Result<Vec<Token>> {
    let read = |path: &std::path::Path| -> anyhow::Result<String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            coded(
                Code::Usage,
                format!("cannot read the API token file {}: {e}", path.display()),
            )
        })?;
        let token = text.lines().next().unwrap_or("").trim().to_owned();
        if token.is_empty() {
            return Err(coded(
                Code::Usage,
                format!("the API token file {} is empty", path.display()),
            ));
        }
        Ok(token)
    };
    let api = &settings.file.api;
    let mut tokens = Vec::new();
    let main = match &api.token_file {
        Some(path) => Some(read(path)?),
        None => std::env::var("BIGCHAT_VOICE_API_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
    };
    if let Some(secret) = main {
        tokens.push(Token {
            secret,
            scope: Scope::All,
        });
    }
    for t in &api.tokens {
        let secret = read(&t.token_file)?;
        if tokens.iter().any(|k| k.secret == secret) {
            return Err(coded(
                Code::Usage,
                format!(
                    "the API token in {} is also another token's: each scope needs its own",
                    t.token_file.display()
                ),
            ));
        }
        let scope = match t.user_id {
            Some(user_id) => Scope::User {
                company_id: t.company_id,
                user_id,
            },
            None => Scope::Company(t.company_id),
        };
        tokens.push(Token { secret, scope });
    }
    Ok(tokens)
}

/// Binds `addr` (refusing a non-loopback address without a token) and
/// serves until the daemon stops.
pub async fn serve(addr: SocketAddr, state: ApiState) -> anyhow::Result<()> {
    if state.tokens.is_empty() && !addr.ip().is_loopback() {
        return Err(coded(
            Code::Usage,
            format!(
                "--api {addr}: beyond loopback the API needs a token \
                 (BIGCHAT_VOICE_API_TOKEN or [api] tokenFile)"
            ),
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| coded(Code::Usage, format!("--api {addr}: {e}")))?;
    tracing::info!(addr = %listener.local_addr().unwrap_or(addr), "API listening");
    let state = Arc::new(state);
    let app = router(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("API server stopped: {e}");
        }
    });
    Ok(())
}

fn router(state: Arc<ApiState>) -> Router {
    let guarded = Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/servers", get(servers))
        .route("/v1/calls", get(list_calls).post(originate))
        .route("/v1/calls/{unique_id}", get(get_call))
        .route("/v1/calls/{unique_id}/hangup", post(hangup))
        .route("/v1/calls/{unique_id}/transfer", post(transfer))
        .route(
            "/v1/calls/{unique_id}/transfer/complete",
            post(complete_transfer),
        )
        .route(
            "/v1/calls/{unique_id}/transfer/cancel",
            post(cancel_transfer),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .merge(guarded)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(state)
}

/// Finds the request's token and puts its [`Scope`] in the request; 401
/// without a valid one.
async fn authorize(State(state): State<Arc<ApiState>>, mut req: Request, next: Next) -> Response {
    let scope = if state.tokens.is_empty() {
        Some(Scope::All)
    } else {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        given.and_then(|g| {
            // Every token is compared, each without stopping at the first
            // difference.
            let mut found = None;
            for t in &state.tokens {
                if constant_time_eq(g.as_bytes(), t.secret.as_bytes()) {
                    found = Some(t.scope);
                }
            }
            found
        })
    };
    match scope {
        Some(scope) => {
            req.extensions_mut().insert(scope);
            next.run(req).await
        }
        None => {
            let mut r = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid `Authorization: Bearer <token>` header is needed",
            )
            .into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("valid"));
            r
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An error reply: `{"error": …, "code": …}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn unreachable(server: &str) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "pbx_unreachable",
            format!("PBX {server} is not connected"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.message, "code": self.code })),
        )
            .into_response()
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> ApiError {
        let (status, code) = match &e {
            ControlError::Invalid { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            ControlError::NoSuchTicket { ticket_id } => {
                return ApiError::bad(format!("ticketId: no ticket {ticket_id}"));
            }
            ControlError::NoSuchCall { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ControlError::NoAgentChannel { .. } => (StatusCode::CONFLICT, "conflict"),
            ControlError::KeyReused { key, .. } => {
                // Not the earlier call's id: it may be another user's.
                return ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "key_reused",
                    format!("Idempotency-Key {key:?} was used for a different request"),
                );
            }
            ControlError::Unreachable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "pbx_unreachable")
            }
            ControlError::Refused { .. } => (StatusCode::CONFLICT, "pbx_refused"),
            ControlError::Store(db) if db.is_retryable() => {
                (StatusCode::SERVICE_UNAVAILABLE, "database")
            }
            ControlError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "database"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if matches!(e, ControlError::Store(_)) {
            tracing::error!("API: {}", chain(&e));
        }
        ApiError::new(status, code, e.to_string())
    }
}

/// An error and its causes, `: `-separated (for the log).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

impl From<bigchat_voice::store::StoreError> for ApiError {
    fn from(e: bigchat_voice::store::StoreError) -> ApiError {
        ApiError::from(ControlError::Store(e))
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(status: StatusCode, body: serde_json::Value) -> ApiResult {
    Ok((status, Json(body)).into_response())
}

/// The company a scope sees, if it is this daemon's (`None`: it sees
/// nothing here).
fn visible(state: &ApiState, scope: Scope) -> Option<(i64, Option<i64>)> {
    let (company, user) = match scope {
        Scope::All => return Some((state.company_id, None)),
        Scope::Company(c) => (c, None),
        Scope::User {
            company_id,
            user_id,
        } => (company_id, Some(user_id)),
    };
    (company == state.company_id).then_some((company, user))
}

async fn servers(
    State(state): State<Arc<ApiState>>,
    Extension(scope): Extension<Scope>,
) -> ApiResult {
    let list: Vec<serde_json::Value> = if visible(&state, scope).is_some() {
        state
            .servers
            .iter()
            .map(|s| {
                let client = s.client();
                json!({
                    "name": s.name,
                    "asteriskId": s.asterisk_id.get(),
                    "companyId": state.company_id,
                    "connected": s.stats.connected.load(Ordering::Relaxed),
                    "liveCalls": s.stats.live_calls.load(Ordering::Relaxed),
                    "version": client.and_then(|c| c.banner_version()),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    ok(StatusCode::OK, json!({ "servers": list }))
}

/// The server named `name`, or the only one.
fn pick_server(state: &ApiState, name: Option<&str>) -> Result<Arc<ServerHandle>, ApiError> {
    match name {
        Some(n) => state
            .servers
            .iter()
            .find(|s| s.name == n)
            .cloned()
            .ok_or_else(|| ApiError::bad(format!("server: no server {n:?}"))),
        None => match state.servers.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(ApiError::bad(
                "server: this daemon follows several PBXs; name one",
            )),
        },
    }
}

fn parse_time(field: &str, v: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| ApiError::bad(format!("{field}: {v:?} is not an RFC 3339 time: {e}")))
}

async fn list_calls(
    State(state): State<Arc<ApiState>>,
    Extension(scope): Extension<Scope>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::bad(e.body_text()))?;
    let mut filter = CallFilter::default();
    for (k, v) in &q {
        match k.as_str() {
            "status" => {
                filter.status =
                    Some(CallStatus::parse(v).ok_or_else(|| {
                        ApiError::bad(format!("status: {v:?} is not a call status"))
                    })?)
            }
            "direction" => {
                filter.direction = Some(Direction::parse(v).ok_or_else(|| {
                    ApiError::bad(format!(
                        "direction: {v:?} is not inbound, outbound or internal"
                    ))
                })?)
            }
            "agent" => filter.agent_extension = Some(v.clone()),
            "userId" => {
                filter.user_id = Some(
                    v.parse()
                        .map_err(|_| ApiError::bad(format!("userId: {v:?} is not a number")))?,
                )
            }
            "since" => filter.since = Some(parse_time("since", v)?),
            "until" => filter.until = Some(parse_time("until", v)?),
            "limit" => {
                let n: u32 = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| ApiError::bad(format!("limit: {v:?} is not 1 to 1000")))?;
                filter.limit = Some(n);
            }
            other => return Err(ApiError::bad(format!("unknown query parameter {other:?}"))),
        }
    }
    let Some((company, user)) = visible(&state, scope) else {
        return ok(StatusCode::OK, json!({ "calls": [] }));
    };
    filter.company_id = Some(company);
    if let Some(u) = user {
        if filter.user_id.is_some_and(|asked| asked != u) {
            return ok(StatusCode::OK, json!({ "calls": [] }));
        }
        filter.user_id = Some(u);
    }
    let calls = state.store.recent_calls(&filter).await?;
    ok(StatusCode::OK, json!({ "calls": calls }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerQuery {
    server: Option<String>,
}

/// The record of call `unique_id` as `scope` may see it, and its server.
async fn find_call(
    state: &ApiState,
    scope: Scope,
    server: Option<&str>,
    unique_id: &str,
) -> Result<(Arc<ServerHandle>, CallRecordRow), ApiError> {
    let missing = || ApiError::not_found(format!("no call {unique_id:?}"));
    let (company, user) = visible(state, scope).ok_or_else(missing)?;
    let chosen = match server {
        Some(n) => Some(pick_server(state, Some(n))?),
        None => None,
    };
    let filter = {
        let mut c = bigchat_voice::store::CallFilter::default();
        c.company_id = Some(company);
        c.asterisk_id = match &chosen {
            Some(s) => Some(*s.asterisk_id.get().ok_or_else(missing)?),
            None => None,
        };
        c.unique_id = Some(unique_id.to_owned());
        c.user_id = user;
        c.limit = Some(2);
        c
    };
    let mut rows = state.store.recent_calls(&filter).await?;
    if rows.len() > 1 {
        return Err(ApiError::bad(format!(
            "server: several PBXs have a call {unique_id:?}; name one"
        )));
    }
    let row = rows.pop().ok_or_else(missing)?;
    if user.is_some_and(|u| row.user_id != Some(u)) {
        return Err(missing());
    }
    let handle = state
        .servers
        .iter()
        .find(|s| s.asterisk_id.get() == Some(&row.asterisk_id))
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "call {unique_id:?} is on a PBX this daemon does not follow"
            ))
        })?;
    Ok((handle, row))
}

fn server_query(
    q: Result<Query<ServerQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Option<String>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad(e.body_text()))?;
    Ok(q.server)
}

async fn get_call(
    State(state): State<Arc<ApiState>>,
    Extension(scope): Extension<Scope>,
    Path(unique_id): Path<String>,
    q: Result<Query<ServerQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let server = server_query(q)?;
    let (_, row) = find_call(&state, scope, server.as_deref(), &unique_id).await?;
    ok(StatusCode::OK, json!({ "call": row }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OriginateBody {
    from: String,
    to: String,
    ticket_id: Option<i64>,
    #[serde(default)]
    variables: std::collections::BTreeMap<String, String>,
    timeout_secs: Option<u64>,
    server: Option<String>,
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::bad(e.body_text()))
}

async fn originate(
    State(state): State<Arc<ApiState>>,
    Extension(scope): Extension<Scope>,
    headers: HeaderMap,
    body: Result<Json<OriginateBody>, JsonRejection>,
) -> ApiResult {
    let body = json_body(body)?;
    let key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::bad("Idempotency-Key: printable ASCII only"))?
                .to_owned(),
        ),
        None => None,
    };
    let Some((_, user)) = visible(&state, scope) else {
        return Err(ApiError::not_found("no server for this token"));
    };
    let server = pick_server(&state, body.server.as_deref())?;
    let user_of_ext = state.tracker.borrow().user_for(&body.from);
    if let Some(u) = user
        && user_of_ext != Some(u)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("from: extension {:?} is not this token's user's", body.from),
        ));
    }
    let mut req = control::OriginateRequest::new(body.from, body.to);
    req.ticket_id = body.ticket_id;
    req.variables = body.variables;
    if let Some(t) = body.timeout_secs {
        req.timeout = std::time::Duration::from_secs(t);
    }
    req.idempotency_key = key;
    req.user_id = user_of_ext;
    // A bad request is said first; a retry is answered even while the PBX
    // is away.
    req.validate()?;
    let placed = match control::placed_earlier(&state.store, state.company_id, &req).await? {
        Some(earlier) => earlier,
        None => {
            let client = client_of(&server)?;
            let Some(&asterisk_id) = server.asterisk_id.get() else {
                return Err(ApiError::unreachable(&server.name));
            };
            control::originate(
                &client,
                &state.store,
                control::Placement::new(asterisk_id, state.company_id),
                &state.dialplan,
                &req,
            )
            .await?
        }
    };
    let filter = {
        let mut c = bigchat_voice::store::CallFilter::default();
        c.asterisk_id = Some(placed.asterisk_id);
        c.unique_id = Some(placed.unique_id.clone());
        c.limit = Some(1);
        c
    };
    let call = state.store.recent_calls(&filter).await?.pop();
    let status = if placed.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    ok(
        status,
        json!({ "uniqueId": placed.unique_id, "replayed": placed.replayed, "call": call }),
    )
}

/// The connected client of `server`, or a 503.
fn client_of(server: &ServerHandle) -> Result<ami_client::Client, ApiError> {
    match server.client() {
        Some(c) if server.stats.connected.load(Ordering::Relaxed) => Ok(c),
        _ => Err(ApiError::unreachable(&server.name)),
    }
}

async fn hangup(
    State(state): State<Arc<ApiState>>,
    Extension(scope): Extension<Scope>,
    Path(unique_id): Path<String>,
    q: Result<Query<ServerQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let server = server_query(q)?;
    let (handle, _) = find_call(&state, scope, server.as_deref(), &unique_id).await?;
    let client = client_of(&handle)?;
    let channels = control::hangup_call(&client, &unique_id).await?;
    ok(StatusCode::OK, json!({ "channels": channels }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TransferBody {
    kind: TransferKindBody,
    extension: Option<String>,
    queue: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
enum TransferKindBody {
    Blind,
    Attended,
}

/// The agent extension of a call's record, or a 409.
fn agent_of(row: &CallRecordRow) -> Result<String, ApiError> {
    row.agent_extension.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("call {:?} has no agent yet (not answered?)", row.unique_id),
        )
    })
}

async fn transfer(
    State(state): State<Arc<ApiState>>,
    Extension(scope): Extension<Scope>,
    Path(unique_id): Path<String>,
    q: Result<Query<ServerQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Json<TransferBody>, JsonRejection>,
) -> ApiResult {
    let body = json_body(body)?;
    let exten = state
        .control
        .target(body.extension.as_deref(), body.queue.as_deref())
        .map_err(ApiError::bad)?;
    let (client, agent) = agent_call(&state, scope, q, &unique_id).await?;
    let kind = match body.kind {
        TransferKindBody::Blind => TransferKind::Blind,
        TransferKindBody::Attended => TransferKind::Attended,
    };
    let done = control::transfer_call(
        &client,
        &unique_id,
        &agent,
        kind,
        &exten,
        state.control.transfer_context.as_deref(),
    )
    .await?;
    ok(
        StatusCode::ACCEPTED,
        json!({ "kind": done.kind.as_str(), "channel": done.channel, "exten": done.exten }),
    )
}

/// The connected client of call `unique_id`'s PBX and the call's agent,
/// as `scope` may act on it.
async fn agent_call(
    state: &ApiState,
    scope: Scope,
    q: Result<Query<ServerQuery>, axum::extract::rejection::QueryRejection>,
    unique_id: &str,
) -> Result<(ami_client::Client, String), ApiError> {
    let server = server_query(q)?;
    let (handle, row) = find_call(state, scope, server.as_deref(), unique_id).await?;
    let agent = agent_of(&row)?;
    Ok((client_of(&handle)?, agent))
}

async fn complete_transfer(
    State(state): State<Arc<ApiState>>,
    Extension(scope): Extension<Scope>,
    Path(unique_id): Path<String>,
    q: Result<Query<ServerQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let (client, agent) = agent_call(&state, scope, q, &unique_id).await?;
    let channel = control::complete_transfer(&client, &unique_id, &agent).await?;
    ok(StatusCode::OK, json!({ "channels": [channel] }))
}

async fn cancel_transfer(
    State(state): State<Arc<ApiState>>,
    Extension(scope): Extension<Scope>,
    Path(unique_id): Path<String>,
    q: Result<Query<ServerQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let (client, agent) = agent_call(&state, scope, q, &unique_id).await?;
    let channel = control::cancel_transfer(&client, &unique_id, &agent).await?;
    ok(StatusCode::OK, json!({ "channels": [channel] }))
}

/// `/readyz` and `/metrics` speak of every company: the daemon's own token
/// only.
fn operator_only(scope: Scope) -> Result<(), ApiError> {
    match scope {
        Scope::All => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this route needs the daemon's own token (it covers every company)",
        )),
    }
}

async fn readyz(
    State(state): State<Arc<ApiState>>,
    Extension(scope): Extension<Scope>,
) -> Response {
    if let Err(e) = operator_only(scope) {
        return e.into_response();
    }
    let servers: Vec<serde_json::Value> = state
        .servers
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "connected": s.stats.connected.load(Ordering::Relaxed),
                "liveCalls": s.stats.live_calls.load(Ordering::Relaxed),
            })
        })
        .collect();
    let all_connected = state
        .servers
        .iter()
        .all(|s| s.stats.connected.load(Ordering::Relaxed));
    let writer = state.writer.stats();
    // The writer retrying now: the database is away (or busy).
    let degraded = state.writer.is_retrying();
    // Without a journal, events wait in memory only: not kept.
    let ready = all_connected && (state.journal || !degraded);
    let body = serde_json::json!({
        "ready": ready,
        "servers": servers,
        "database": if degraded { "degraded" } else { "ok" },
        "journal": state.journal,
        "pendingEffects": writer.pending(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{body}\n"),
    )
        .into_response()
}

async fn metrics(
    State(state): State<Arc<ApiState>>,
    Extension(scope): Extension<Scope>,
) -> Response {
    if let Err(e) = operator_only(scope) {
        return e.into_response();
    }
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP bigchat_voice_{name} {help}");
        let _ = writeln!(out, "# TYPE bigchat_voice_{name} {kind}");
        for (labels, v) in rows {
            let _ = writeln!(out, "bigchat_voice_{name}{labels} {v}");
        }
    };
    let per_server = |f: &dyn Fn(&PipelineStats) -> u64| -> Vec<(String, u64)> {
        state
            .servers
            .iter()
            .map(|s| (format!("{{server=\"{}\"}}", escape(&s.name)), f(&s.stats)))
            .collect()
    };
    family(
        "frames_total",
        "counter",
        "AMI frames (events and stream marks) tracked.",
        &per_server(&|s| s.frames.load(Ordering::Relaxed)),
    );
    family(
        "journaled_frames_total",
        "counter",
        "Frames appended to the journal.",
        &per_server(&|s| s.journaled.load(Ordering::Relaxed)),
    );
    family(
        "live_calls",
        "gauge",
        "Calls being followed now.",
        &per_server(&|s| s.live_calls.load(Ordering::Relaxed)),
    );
    family(
        "connected",
        "gauge",
        "1 while logged in to the PBX.",
        &per_server(&|s| u64::from(s.connected.load(Ordering::Relaxed))),
    );
    family(
        "reconnects_total",
        "counter",
        "Times the AMI connection came back.",
        &per_server(&|s| s.reconnects.load(Ordering::Relaxed)),
    );
    let w = state.writer.stats();
    let l = &state.losses;
    let one = |v: u64| vec![(String::new(), v)];
    family(
        "effects_stored_total",
        "counter",
        "Effects stored.",
        &one(w.applied),
    );
    family(
        "writer_queue_depth",
        "gauge",
        "Effects waiting to be stored.",
        &one(w.pending()),
    );
    family(
        "writer_retries_total",
        "counter",
        "Store retries after a retryable database error.",
        &one(w.retries),
    );
    family(
        "effects_refused_total",
        "counter",
        "Effects the database refused for good (dead letters).",
        &one(w.dead_letters),
    );
    family(
        "events_lost_total",
        "counter",
        "AMI events dropped before the journal (Lagged).",
        &one(l.events_missed.load(Ordering::Relaxed)),
    );
    family(
        "outages_total",
        "counter",
        "Times the AMI link was lost and came back.",
        &one(l.outages.load(Ordering::Relaxed)),
    );
    family(
        "notifications_dropped_total",
        "counter",
        "Notifications dropped by a full sink queue.",
        &one(state.publisher.dropped()),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// A label value as Prometheus wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The routes served are exactly the paths and methods of
    /// `docs/api/openapi.json`, and each documents its error replies.
    #[test]
    fn the_routes_are_the_openapi_description() {
        let spec: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/api/openapi.json")).expect("valid JSON");
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in spec["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                documented.push((method.clone(), path.clone()));
                let responses = op["responses"].as_object().expect("responses");
                let guarded = path != "/healthz";
                if guarded {
                    assert!(responses.contains_key("401"), "{method} {path}: no 401");
                }
                if path.contains("{uniqueId}") {
                    assert!(responses.contains_key("404"), "{method} {path}: no 404");
                }
            }
        }
        documented.sort();
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        served.sort();
        assert_eq!(served, documented);
        // The router's own paths are ROUTES' (axum's `{unique_id}` is
        // OpenAPI's `{uniqueId}`).
        let source = include_str!("api.rs");
        for (_, path) in ROUTES {
            let axum_path = path.replace("{uniqueId}", "{unique_id}");
            assert!(
                source.contains(&format!("\"{axum_path}\"")),
                "{path} is not routed"
            );
        }
    }
}
