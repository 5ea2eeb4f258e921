//! SIGINT / SIGTERM (stop) and SIGHUP (reload).

/// What a signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// SIGINT (Ctrl-C) or SIGTERM: stop.
    Stop,
    /// SIGHUP: reload what can be reloaded, reopen files (logrotate).
    Reload,
}

/// The signals a long-running command listens to, installed once. Unlike a
/// one-shot future, [`next`](Signals::next) can be awaited again and again
/// (and inside `select!` loops: it is cancel-safe), so a second signal is
/// seen as such.
pub struct Signals {
    /// Stop signals received so far.
    stops: u32,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the handlers (once: signals arriving while nobody waits
    /// are kept). One that cannot be installed is logged and left out.
    pub fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let install = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!("cannot listen for {name}: {e}");
                    None
                }
            };
            Signals {
                stops: 0,
                // Installed once, so a signal arriving between two waits is
                // kept for the next (a fresh ctrl_c() per wait would miss it).
                int: install(SignalKind::interrupt(), "SIGINT"),
                term: install(SignalKind::terminate(), "SIGTERM"),
                hup: install(SignalKind::hangup(), "SIGHUP"),
            }
        }
        #[cfg(not(unix))]
        {
            Signals { stops: 0 }
        }
    }

    /// How many stop signals have been received.
    pub fn stops(&self) -> u32 {
        self.stops
    }

    /// The next signal.
    pub async fn next(&mut self) -> Asked {
        let asked = self.wait().await;
        if asked == Asked::Stop {
            self.stops += 1;
        }
        asked
    }

    async fn wait(&mut self) -> Asked {
        #[cfg(unix)]
        {
            async fn maybe(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        if s.recv().await.is_none() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = maybe(&mut self.int) => Asked::Stop,
                _ = maybe(&mut self.term) => Asked::Stop,
                _ = maybe(&mut self.hup) => Asked::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Asked::Stop
        }
    }

    /// The next stop signal (SIGHUP is ignored here: logged).
    pub async fn next_stop(&mut self) {
        while self.next().await != Asked::Stop {
            tracing::info!("SIGHUP ignored while stopping");
        }
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM (for the short-lived
/// commands; `listen` uses [`Signals`]).
pub async fn shutdown() {
    Signals::new().next_stop().await;
}
