//! Capped exponential backoff with jitter.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Share of the delay taken off at random (the n-th delay lies in
/// `[(1 − JITTER)·b, b]`).
pub(crate) const JITTER: f64 = 0.25;

/// The reconnect schedule. Only failures advance it; caller traffic never
/// touches it.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            failures: 0,
            rng: random_seed() | 1,
        }
    }

    /// The ceiling `b` of the next delay.
    pub(crate) fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.min(31));
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt; advances the schedule.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let u = self.next_unit();
        ceiling.mul_f64(1.0 - JITTER * u)
    }

    /// Forgets past failures (after a connection that stayed up).
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// A uniform number in `[0, 1)` (xorshift64*).
    fn next_unit(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (r >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seed that differs per process and per call, without a dependency.
pub(crate) fn random_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_and_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let expected = [100u64, 200, 400, 800, 1000, 1000];
        for ceiling in expected {
            let d = b.next_delay();
            let ceiling = Duration::from_millis(ceiling);
            assert!(d <= ceiling, "{d:?} > {ceiling:?}");
            assert!(d >= ceiling.mul_f64(1.0 - JITTER), "{d:?} too short");
        }
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn jitter_varies() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let ds: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        assert!(ds.iter().any(|d| *d != ds[0]), "{ds:?}");
    }
}
