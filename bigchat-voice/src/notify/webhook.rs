//! HTTP webhook sink: signed JSON POSTs from a bounded, drop-oldest queue.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{Notification, NotifyError, Sink};

/// Header carrying `sha256=<hex HMAC-SHA256(secret, "{timestamp}.{id}.{body}")>`.
pub const SIGNATURE_HEADER: &str = "X-BigChat-Signature";
/// Header carrying the send time (Unix seconds); it is signed with the
/// body, so a captured request cannot be replayed later.
pub const TIMESTAMP_HEADER: &str = "X-BigChat-Timestamp";
/// Header carrying the notification's id (32 hex digits): the same on
/// every retry of one notification, so a receiver recognises a delivery it
/// already took (when its 200 got lost). It is signed with the timestamp
/// and the body, so a captured request cannot pass as a new notification
/// under another id.
pub const ID_HEADER: &str = "X-BigChat-Id";
/// A batch stops growing at this many bytes of body (a single notification
/// larger than this still goes, alone): well under the 1 MB a receiver
/// such as the companion's router accepts by default.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// The clock window a receiver should accept: a timestamp further than this
/// from its own clock is refused, and ids need remembering this long.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// `sha256=` + hex HMAC-SHA256 keyed with `secret` over the timestamp,
/// the notification id and the body, joined by dots
/// (`"{timestamp}.{id}.{body}"`): the value of the [`SIGNATURE_HEADER`]. A
/// receiver recomputes it over the raw body and the [`TIMESTAMP_HEADER`]
/// and [`ID_HEADER`] it got, compares in constant time, and checks the
/// timestamp against its clock ([`verify`] does all of it).
pub fn sign(secret: &[u8], timestamp: i64, id: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, id, body).finalize().into_bytes())
    )
}

fn mac(secret: &[u8], timestamp: i64, id: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Why a webhook request does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header is missing its value or is not in the expected form.
    #[error("malformed {0} header")]
    Malformed(&'static str),
    /// The signature does not match the timestamp and body.
    #[error("the signature does not match")]
    BadSignature,
    /// The timestamp is further from the receiver's clock than
    /// [`MAX_CLOCK_SKEW`].
    #[error("timestamp {skew_secs} s away from this clock (at most {} s accepted)", MAX_CLOCK_SKEW.as_secs())]
    Stale {
        /// Receiver's clock minus the timestamp.
        skew_secs: i64,
    },
}

/// Checks a received webhook request: `timestamp`, `id` and `signature`
/// are the values of [`TIMESTAMP_HEADER`], [`ID_HEADER`] and
/// [`SIGNATURE_HEADER`], `body` the raw body, `now` the receiver's clock
/// (Unix seconds). The signature is compared in constant time.
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    id: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::Malformed(TIMESTAMP_HEADER))?;
    let id = id.trim();
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(VerifyError::Malformed(ID_HEADER));
    }
    let given = signature
        .trim()
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(VerifyError::Malformed(SIGNATURE_HEADER))?;
    mac(secret, ts, id, body)
        .verify_slice(&given)
        .map_err(|_| VerifyError::BadSignature)?;
    let skew = now.saturating_sub(ts);
    if skew.unsigned_abs() > MAX_CLOCK_SKEW.as_secs() {
        return Err(VerifyError::Stale { skew_secs: skew });
    }
    Ok(())
}

/// Where and how to POST notifications.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The endpoint (`http://` or `https://`).
    pub url: String,
    /// Shared secret for the signature (never logged).
    pub secret: String,
    /// Notifications waiting to be sent; when full, the oldest is dropped.
    pub capacity: usize,
    /// Notifications per POST, at most. `1`: each POST is one notification
    /// object, as receivers before batching expect. More: each POST is a
    /// JSON array of 1 to `max_batch` notification objects (and at most
    /// [`MAX_BATCH_BYTES`] of body), in order, taken from what is waiting
    /// when the previous POST is answered; nothing waits to fill a batch.
    pub max_batch: usize,
    /// Attempts per POST (the first one included).
    pub max_attempts: u32,
    /// First retry delay.
    pub initial_backoff: Duration,
    /// Largest retry delay.
    pub max_backoff: Duration,
    /// Time limit of one request.
    pub request_timeout: Duration,
}

impl WebhookConfig {
    /// Defaults: 1,000 queued, one notification per POST, 5 attempts,
    /// backoff 200 ms → 5 s, 5 s per request.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret: secret.into(),
            capacity: 1_000,
            max_batch: 1,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("capacity", &self.capacity)
            .field("max_batch", &self.max_batch)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// Counters of a [`WebhookSink`], in notifications (a batch counts as its
/// notifications), retries in POSTs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Delivered (2xx).
    pub sent: u64,
    /// Given up on (refused with a 4xx, or every attempt failed).
    pub failed: u64,
    /// Retries after a 5xx/408/429 or a transport error.
    pub retries: u64,
    /// Dropped unsent because the queue was full (oldest first).
    pub dropped: u64,
}

/// A notification taken for a POST, serialized.
#[derive(Debug)]
struct Queued {
    event: String,
    json: String,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<VecDeque<Notification>>,
    wake: Notify,
    in_flight: AtomicBool,
    sent: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    dropped: AtomicU64,
    /// The `dropped` count when the queue last became full, while it is
    /// (`None`: it has room): drops are logged once per such episode.
    overflow_from: Mutex<Option<u64>>,
}

/// Posts each notification as `{"event": …, "rooms": […], "payload": …}`
/// (or, with [`WebhookConfig::max_batch`] above 1, a JSON array of them)
/// with `Content-Type: application/json`, [`TIMESTAMP_HEADER`],
/// [`ID_HEADER`] (one per POST) and [`SIGNATURE_HEADER`] (over the
/// timestamp, the id and the body), from a background task.
///
/// # Behavior
/// * [`publish`](Sink::publish) only enqueues: it never waits.
/// * The queue holds at most `capacity` notifications; when full, the
///   **oldest** is dropped (counted in [`WebhookStats::dropped`]; one
///   `warn!` when the queue becomes full and one when it has room again,
///   with the number dropped in between):
///   the newest state matters most to an agent's screen.
/// * A 5xx, 408, 429 or transport error (refused, timeout) is retried with
///   capped exponential backoff, up to `max_attempts`; then the
///   notification is dropped with an `error!`. Other statuses are not retried.
/// * One POST at a time, in order: a notification is never sent before an
///   older one, so a screen never sees a call go back to an older state.
///   With `max_batch` above 1, a POST takes up to that many of the
///   waiting notifications (a batch is retried whole, under its one id).
pub struct WebhookSink {
    shared: Arc<Shared>,
    capacity: usize,
    url: String,
    task: JoinHandle<()>,
}

impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &self.url)
            .field("capacity", &self.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

impl WebhookSink {
    /// Starts the sender task on the current tokio runtime.
    pub fn spawn(config: WebhookConfig) -> Result<WebhookSink, NotifyError> {
        let url = reqwest::Url::parse(&config.url).map_err(|e| NotifyError::InvalidUrl {
            url: config.url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NotifyError::InvalidUrl {
                url: config.url.clone(),
                reason: "the scheme must be http or https".to_string(),
            });
        }
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .tls_backend_preconfigured(tls_config()?)
            .build()
            .map_err(|e| NotifyError::Client(Box::new(e)))?;
        let shared = Arc::new(Shared::default());
        let capacity = config.capacity.max(1);
        let task = tokio::spawn(run(Arc::clone(&shared), client, url, config.clone()));
        Ok(WebhookSink {
            shared,
            capacity,
            url: config.url,
            task,
        })
    }

    /// Current counters.
    pub fn stats(&self) -> WebhookStats {
        let s = &self.shared;
        WebhookStats {
            sent: s.sent.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
        }
    }

    /// Notifications waiting (not counting those being sent).
    pub fn queued(&self) -> usize {
        self.shared.queue.lock().map(|q| q.len()).unwrap_or(0)
    }

    /// Waits until the queue is empty and nothing is in flight, at most
    /// `timeout`. Returns whether it got there.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let idle = self.queued() == 0 && !self.shared.in_flight.load(Ordering::SeqCst);
            if idle {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends what is queued (at most `grace`), then stops the task.
    pub async fn shutdown(self, grace: Duration) -> WebhookStats {
        if !self.flush(grace).await {
            tracing::warn!(
                url = %self.url,
                unsent = self.queued(),
                "webhook shut down with notifications unsent"
            );
        }
        self.stats()
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sink for WebhookSink {
    fn publish(&self, notification: &Notification) {
        let Ok(mut queue) = self.shared.queue.lock() else {
            return;
        };
        if queue.len() >= self.capacity {
            queue.pop_front();
            let before = self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut from) = self.shared.overflow_from.lock()
                && from.is_none()
            {
                *from = Some(before);
                tracing::warn!(
                    url = %self.url,
                    capacity = self.capacity,
                    dropped_total = before + 1,
                    "webhook queue full: dropping the oldest notifications until it has room"
                );
            }
        }
        queue.push_back(notification.clone());
        drop(queue);
        self.shared.wake.notify_one();
    }
}

/// TLS for `https` webhooks: rustls with the ring provider (the one crypto
/// backend of the tree), trusting what the operating system trusts.
fn tls_config() -> Result<rustls::ClientConfig, NotifyError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| NotifyError::Client(Box::new(e)))?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

async fn run(shared: Arc<Shared>, client: reqwest::Client, url: reqwest::Url, cfg: WebhookConfig) {
    let max_batch = cfg.max_batch.max(1);
    loop {
        let taken: Vec<Notification> = match shared.queue.lock() {
            Ok(mut q) => {
                let n = q.len().min(max_batch);
                if n > 0 {
                    shared.in_flight.store(true, Ordering::SeqCst);
                }
                let taken = q.drain(..n).collect();
                drop(q);
                note_room(&shared, &url);
                taken
            }
            Err(_) => return,
        };
        let batch = serialize_batch(&shared, taken);
        if batch.is_empty() {
            shared.wake.notified().await;
            continue;
        }
        let body = if max_batch == 1 {
            batch[0].json.clone().into_bytes()
        } else {
            let mut body =
                String::with_capacity(batch.iter().map(|n| n.json.len() + 1).sum::<usize>() + 1);
            body.push('[');
            for (i, n) in batch.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(&n.json);
            }
            body.push(']');
            body.into_bytes()
        };
        deliver(&shared, &client, &url, &cfg, &batch, body).await;
        shared.in_flight.store(false, Ordering::SeqCst);
    }
}

/// Ends an episode of a full queue (the sender just took from it): says
/// how many notifications it dropped, once.
fn note_room(shared: &Shared, url: &reqwest::Url) {
    let Ok(mut from) = shared.overflow_from.lock() else {
        return;
    };
    if let Some(from) = from.take() {
        let total = shared.dropped.load(Ordering::Relaxed);
        tracing::warn!(
            url = %url,
            dropped = total - from,
            dropped_total = total,
            "webhook queue has room again"
        );
    }
}

/// Serializes the notifications taken (outside the queue's lock); those
/// beyond [`MAX_BATCH_BYTES`] of JSON (the first always goes) go back to the
/// front of the queue, in order, for the next POST.
fn serialize_batch(shared: &Shared, taken: Vec<Notification>) -> Vec<Queued> {
    let mut batch = Vec::with_capacity(taken.len());
    let mut bytes = 0usize;
    let mut rest = taken.into_iter();
    while let Some(n) = rest.next() {
        let json = n.to_json();
        if !batch.is_empty() && bytes + json.len() + 1 > MAX_BATCH_BYTES {
            if let Ok(mut q) = shared.queue.lock() {
                for back in rest.rev() {
                    q.push_front(back);
                }
                q.push_front(n);
            }
            break;
        }
        bytes += json.len() + 1;
        batch.push(Queued {
            event: n.event,
            json,
        });
    }
    batch
}

async fn deliver(
    shared: &Shared,
    client: &reqwest::Client,
    url: &reqwest::Url,
    cfg: &WebhookConfig,
    batch: &[Queued],
    body: Vec<u8>,
) {
    // One id for every attempt of this POST: the same notifications, the
    // same body.
    let id = format!("{:032x}", rand::random::<u128>());
    let count = batch.len() as u64;
    let event = batch.first().map(|n| n.event.as_str()).unwrap_or("");
    let mut backoff = cfg.initial_backoff;
    let attempts = cfg.max_attempts.max(1);
    let mut last_error = String::new();
    for attempt in 1..=attempts {
        // Signed afresh for each attempt: the timestamp is the send time.
        let now = chrono::Utc::now().timestamp();
        let sent = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(ID_HEADER, &id)
            .header(
                SIGNATURE_HEADER,
                sign(cfg.secret.as_bytes(), now, &id, &body),
            )
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => {
                shared.sent.fetch_add(count, Ordering::Relaxed);
                return;
            }
            Ok(resp) => {
                let status = resp.status();
                let retry = status.is_server_error()
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT;
                if !retry {
                    shared.failed.fetch_add(count, Ordering::Relaxed);
                    tracing::warn!(url = %url, %status, event, notifications = count, "webhook refused the notification; dropped");
                    return;
                }
                last_error = format!("HTTP {status}");
            }
            Err(e) => last_error = e.to_string(),
        }
        if attempt < attempts {
            shared.retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(url = %url, attempt, error = %last_error, "webhook failed; retrying");
            let factor = 0.75 + rand::random::<f64>() * 0.5;
            tokio::time::sleep(backoff.mul_f64(factor)).await;
            backoff = (backoff * 2).min(cfg.max_backoff);
        }
    }
    shared.failed.fetch_add(count, Ordering::Relaxed);
    tracing::error!(url = %url, attempts, error = %last_error, event, notifications = count, "webhook unreachable; notification dropped");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `https` webhook gets its TLS from the one provider of the tree
    /// (ring): nothing process-wide has to be installed first.
    #[tokio::test]
    async fn an_https_sink_builds_without_a_process_wide_provider() {
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        let sink = WebhookSink::spawn(WebhookConfig::new("https://bigchat.example/voice", "s"));
        assert!(sink.is_ok(), "{sink:?}");
        assert!(tls_config().is_ok_and(|c| c.alpn_protocols == [b"http/1.1".to_vec()]));
    }
}
