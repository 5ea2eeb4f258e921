//! `listen --api ADDR`: health, readiness and Prometheus metrics over HTTP.
//!
//! * `GET /healthz`: 200 while the daemon runs (alive).
//! * `GET /readyz`: 200 when every PBX is logged in and its events are kept
//!   (journaled, or stored); 503 otherwise. The JSON body names each PBX
//!   and says `"database": "degraded"` while effects wait for the database
//!   (the journal keeps the events meanwhile: still ready).
//! * `GET /metrics`: Prometheus text format.
//!
//! With a token (`BIGCHAT_VOICE_API_TOKEN` or `[api] tokenFile`), every
//! route but `/healthz` needs `Authorization: Bearer <token>` (401
//! otherwise). Without one the endpoint only listens on loopback.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bigchat_voice::pipeline::{Losses, PipelineStats};
use bigchat_voice::store::writer::Writer;

use crate::exit::{Code, coded};
use crate::publish::Publisher;

/// What the endpoint reads.
pub struct ApiState {
    /// Each PBX's name and live figures.
    pub servers: Vec<(String, Arc<PipelineStats>)>,
    /// The store writer.
    pub writer: Arc<Writer>,
    /// Events not seen.
    pub losses: Arc<Losses>,
    /// The notification sinks.
    pub publisher: Arc<Publisher>,
    /// Whether frames are journaled.
    pub journal: bool,
    /// The bearer token, if any (never logged).
    pub token: Option<String>,
}

/// Binds `addr` (refusing a non-loopback address without a token) and
/// serves until the daemon stops.
pub async fn serve(addr: SocketAddr, state: ApiState) -> anyhow::Result<()> {
    if state.token.is_none() && !addr.ip().is_loopback() {
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
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Arc::new(state));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("API server stopped: {e}");
        }
    });
    Ok(())
}

/// `None` when the request may go on; else the 401.
fn refused(state: &ApiState, headers: &HeaderMap) -> Option<Response> {
    let token = state.token.as_deref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compared without stopping at the first difference.
    let ok = given.is_some_and(|g| {
        g.len() == token.len()
            && g.bytes()
                .zip(token.bytes())
                .fold(0, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if ok {
        return None;
    }
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a valid `Authorization: Bearer <token>` header is needed\n",
        )
            .into_response(),
    )
}

async fn readyz(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
    }
    let servers: Vec<serde_json::Value> = state
        .servers
        .iter()
        .map(|(name, s)| {
            serde_json::json!({
                "name": name,
                "connected": s.connected.load(Ordering::Relaxed),
                "liveCalls": s.live_calls.load(Ordering::Relaxed),
            })
        })
        .collect();
    let all_connected = state
        .servers
        .iter()
        .all(|(_, s)| s.connected.load(Ordering::Relaxed));
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

async fn metrics(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&state, &headers) {
        return r;
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
            .map(|(name, s)| (format!("{{server=\"{}\"}}", escape(name)), f(s)))
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
