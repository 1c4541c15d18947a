//! Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): after the
//! n-th failure in a row, wait a uniformly random time in `[0, min(cap, base × 2^(n-1))]`.
//! Reset (n = 0) on success.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The ceiling of the wait after `failures` failures in a row (0 → no wait).
    pub fn ceiling(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let exp = failures.saturating_sub(1).min(30);
        let raw = self.base.saturating_mul(1u32 << exp);
        raw.min(self.cap)
    }

    /// The wait after `failures` failures, given a uniform draw `unit` in `[0, 1)`.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        self.ceiling(failures).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The wait after `failures` failures, drawn from the thread RNG.
    pub fn delay_random(&self, failures: u32) -> Duration {
        use rand::Rng;
        self.delay(failures, rand::thread_rng().gen::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_the_base_and_stops_at_the_cap() {
        let b = Backoff::default();
        let table = [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 4),
            (4, 8),
            (5, 16),
            (6, 32),
            (7, 60),
            (8, 60),
            (40, 60),
            (u32::MAX, 60),
        ];
        for (failures, secs) in table {
            assert_eq!(
                b.ceiling(failures),
                Duration::from_secs(secs),
                "after {failures} failures"
            );
        }
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay(4, 0.0), Duration::ZERO);
        assert_eq!(b.delay(4, 0.5), Duration::from_secs(4));
        assert_eq!(b.delay(4, 7.0), Duration::from_secs(8));
        for _ in 0..1000 {
            assert!(b.delay_random(10) <= Duration::from_secs(60));
        }
    }
}
