//! Notification sinks for `listen`, built from the configuration.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bigchat_voice::notify::{JsonLinesSink, Notifier, WebhookConfig, WebhookSink};

use crate::args::ListenArgs;
use crate::config::Settings;
use crate::exit::{Code, coded};

/// Publishes notifications to the configured sinks.
#[derive(Debug)]
pub struct Publisher {
    notifier: Notifier,
    webhook: Mutex<Option<Arc<WebhookSink>>>,
    /// The JSON Lines sinks, flushed on close.
    lines: Vec<Arc<JsonLinesSink>>,
    /// Notifications go to stdout (so summaries go to stderr).
    pub uses_stdout: bool,
}

impl Publisher {
    /// Sinks from the file, environment and flags.
    pub fn from_settings(settings: &Settings, args: &ListenArgs) -> anyhow::Result<Publisher> {
        let n = &settings.file.notify;
        let mut notifier = Notifier::new();
        let mut lines = Vec::new();
        let uses_stdout = args.notify_stdout || n.stdout;
        if uses_stdout {
            lines.push(Arc::new(JsonLinesSink::stdout()));
        }
        if let Some(path) = args.notify_file.as_ref().or(n.file.as_ref()) {
            let sink = JsonLinesSink::file(path).map_err(|e| {
                coded(
                    Code::Usage,
                    format!("notification file {}: {e}", path.display()),
                )
            })?;
            lines.push(Arc::new(sink));
        }
        for sink in &lines {
            notifier.add_sink(sink.clone());
        }
        let mut webhook = None;
        if let Some(url) = args.webhook_url.as_ref().or(n.webhook_url.as_ref()) {
            let secret = match (
                &n.webhook_secret_file,
                std::env::var("BIGCHAT_VOICE_WEBHOOK_SECRET"),
            ) {
                (Some(path), _) => std::fs::read_to_string(path)
                    .map_err(|e| {
                        coded(
                            Code::Usage,
                            format!("cannot read webhook secret file {}: {e}", path.display()),
                        )
                    })?
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
                (None, Ok(s)) if !s.is_empty() => s,
                _ => {
                    return Err(coded(
                        Code::Usage,
                        "a webhook needs a secret: set BIGCHAT_VOICE_WEBHOOK_SECRET or notify.webhook_secret_file",
                    ));
                }
            };
            let batch = args.webhook_batch.or(n.webhook_batch).unwrap_or(1);
            if batch == 0 || batch > 10_000 {
                return Err(coded(
                    Code::Usage,
                    format!("[notify] webhookBatch = {batch}: give 1 to 10000"),
                ));
            }
            let mut config = WebhookConfig::new(url.clone(), secret);
            config.max_batch = batch as usize;
            let sink = WebhookSink::spawn(config).map_err(|e| {
                coded(
                    Code::Usage,
                    format!("webhook {url}: {}", crate::describe_error(&e)),
                )
            })?;
            let sink = Arc::new(sink);
            notifier.add_sink(sink.clone());
            webhook = Some(sink);
        }
        Ok(Publisher {
            notifier,
            webhook: Mutex::new(webhook),
            lines,
            uses_stdout,
        })
    }

    /// The fan-out to every configured sink.
    pub fn notifier(&self) -> Notifier {
        self.notifier.clone()
    }

    /// Notifications dropped so far by full sink queues (JSON Lines and the
    /// webhook).
    #[cfg(feature = "api")]
    pub fn dropped(&self) -> u64 {
        let lines: u64 = self.lines.iter().map(|s| s.dropped()).sum();
        let webhook = self
            .webhook
            .lock()
            .ok()
            .and_then(|w| w.as_ref().map(|w| w.stats().dropped))
            .unwrap_or(0);
        lines + webhook
    }

    /// Reopens the notification files by their paths (after logrotate);
    /// a file that cannot be opened keeps the old one, with an error logged.
    pub fn reopen(&self) {
        for sink in &self.lines {
            if let Err(e) = sink.reopen() {
                tracing::error!("cannot reopen the notification file: {e}");
            }
        }
    }

    /// Writes what the JSON Lines sinks and the webhook still hold
    /// (bounded waits).
    pub async fn close(&self) {
        for sink in &self.lines {
            let sink = sink.clone();
            let flushed = tokio::task::spawn_blocking(move || sink.flush(Duration::from_secs(10)))
                .await
                .unwrap_or(false);
            if !flushed {
                tracing::warn!("notification lines still queued at exit (reader too slow)");
            }
        }
        let webhook = self.webhook.lock().ok().and_then(|mut w| w.take());
        if let Some(sink) = webhook {
            match Arc::try_unwrap(sink) {
                Ok(sink) => {
                    let stats = sink.shutdown(Duration::from_secs(10)).await;
                    tracing::info!(?stats, "webhook closed");
                }
                Err(shared) => {
                    if !shared.flush(Duration::from_secs(10)).await {
                        tracing::warn!("webhook notifications still queued at exit");
                    }
                }
            }
        }
    }
}
