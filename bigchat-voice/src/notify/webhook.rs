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

/// Header carrying `sha256=<hex HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "X-BigChat-Signature";
/// Header carrying the send time (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "X-BigChat-Timestamp";

/// `sha256=` + hex HMAC-SHA256 of `body` keyed with `secret`: the value of
/// the `X-BigChat-Signature` header. A receiver recomputes it over the raw
/// body and compares in constant time.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length: new_from_slice cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
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
    /// Attempts per notification (the first one included).
    pub max_attempts: u32,
    /// First retry delay.
    pub initial_backoff: Duration,
    /// Largest retry delay.
    pub max_backoff: Duration,
    /// Time limit of one request.
    pub request_timeout: Duration,
}

impl WebhookConfig {
    /// Defaults: 1,000 queued, 5 attempts, backoff 200 ms → 5 s, 5 s per request.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret: secret.into(),
            capacity: 1_000,
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
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// Counters of a [`WebhookSink`].
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

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<VecDeque<Notification>>,
    wake: Notify,
    in_flight: AtomicBool,
    sent: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    dropped: AtomicU64,
}

/// Posts each notification as `{"room": …, "payload": …}` with
/// `Content-Type: application/json`, [`SIGNATURE_HEADER`] and
/// [`TIMESTAMP_HEADER`], from a background task.
///
/// # Behavior
/// * [`publish`](Sink::publish) only enqueues: it never waits.
/// * The queue holds at most `capacity` notifications; when full, the
///   **oldest** is dropped (`warn!`, counted in [`WebhookStats::dropped`]):
///   the newest state matters most to an agent's screen.
/// * A 5xx, 408, 429 or transport error (refused, timeout) is retried with
///   capped exponential backoff, up to `max_attempts`; then the
///   notification is dropped with an `error!`. Other statuses are not retried.
/// * Notifications are sent one at a time, in order.
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
            .build()
            .map_err(NotifyError::Client)?;
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

    /// Notifications waiting (not counting the one being sent).
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
            let dropped = self.shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                url = %self.url,
                capacity = self.capacity,
                dropped_total = dropped,
                "webhook queue full: dropped the oldest notification"
            );
        }
        queue.push_back(notification.clone());
        drop(queue);
        self.shared.wake.notify_one();
    }
}

async fn run(shared: Arc<Shared>, client: reqwest::Client, url: reqwest::Url, cfg: WebhookConfig) {
    loop {
        let next = match shared.queue.lock() {
            Ok(mut q) => {
                let n = q.pop_front();
                if n.is_some() {
                    shared.in_flight.store(true, Ordering::SeqCst);
                }
                n
            }
            Err(_) => return,
        };
        match next {
            Some(n) => {
                deliver(&shared, &client, &url, &cfg, &n).await;
                shared.in_flight.store(false, Ordering::SeqCst);
            }
            None => shared.wake.notified().await,
        }
    }
}

async fn deliver(
    shared: &Shared,
    client: &reqwest::Client,
    url: &reqwest::Url,
    cfg: &WebhookConfig,
    n: &Notification,
) {
    let body = n.to_json().into_bytes();
    let signature = sign(cfg.secret.as_bytes(), &body);
    let mut backoff = cfg.initial_backoff;
    let attempts = cfg.max_attempts.max(1);
    let mut last_error = String::new();
    for attempt in 1..=attempts {
        let sent = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, &signature)
            .header(TIMESTAMP_HEADER, chrono::Utc::now().timestamp().to_string())
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => {
                shared.sent.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(resp) => {
                let status = resp.status();
                let retry = status.is_server_error()
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT;
                if !retry {
                    shared.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(url = %url, %status, room = %n.room, "webhook refused the notification; dropped");
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
    shared.failed.fetch_add(1, Ordering::Relaxed);
    tracing::error!(url = %url, attempts, error = %last_error, room = %n.room, "webhook unreachable; notification dropped");
}
