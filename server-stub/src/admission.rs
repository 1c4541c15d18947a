//! Admission control for journal pushes (issue 16; docs/scaling.md "The pre-draw crunch").
//!
//! Before the draw every device pushes at once. Without a limit, each push takes a pool
//! connection or waits for one until the pool's acquire timeout and fails with 503
//! `database_unavailable` — after holding its 4 MiB body and a request slot the whole time — and
//! the device then backs off exponentially, up to a minute, exactly when the draw waits for it.
//!
//! The gate lets at most `permits` pushes work at once (a few connections stay free for
//! heartbeats, config pulls and admins), queues up to `queue` more, and answers the rest at once
//! with 503 `server_busy` and a `Retry-After` computed from the queue ahead and the recent push
//! time, which `rsu-syncd` honours instead of its exponential backoff. A queued push that still
//! has no permit after `max_wait` is answered the same way.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Debug)]
pub struct PushGate {
    permits: Arc<Semaphore>,
    size: usize,
    queue: usize,
    max_wait: Duration,
    waiting: AtomicUsize,
    /// Exponentially weighted mean push time, microseconds.
    mean_us: AtomicU64,
}

/// A push's right to work; records how long it took when dropped.
#[derive(Debug)]
pub struct PushPermit<'a> {
    gate: &'a PushGate,
    started: Instant,
    _permit: OwnedSemaphorePermit,
}

impl Drop for PushPermit<'_> {
    fn drop(&mut self) {
        let took = self.started.elapsed().as_micros() as u64;
        let old = self.gate.mean_us.load(Ordering::Relaxed);
        // new = 7/8 old + 1/8 sample.
        let new = old - old / 8 + took / 8;
        self.gate.mean_us.store(new.max(1), Ordering::Relaxed);
    }
}

impl PushGate {
    /// `permits` pushes at once, `queue` more waiting at most `max_wait` each.
    pub fn new(permits: usize, queue: usize, max_wait: Duration) -> PushGate {
        let permits = permits.max(1);
        PushGate {
            permits: Arc::new(Semaphore::new(permits)),
            size: permits,
            queue,
            max_wait,
            waiting: AtomicUsize::new(0),
            mean_us: AtomicU64::new(200_000),
        }
    }

    /// The gate for a pool of `max_connections`: all but two connections for pushes, a queue of
    /// four pushes per permit, 5 s of waiting at most.
    pub fn for_pool(max_connections: u32) -> PushGate {
        let permits = (max_connections as usize).saturating_sub(2).max(1);
        PushGate::new(permits, permits * 4, Duration::from_secs(5))
    }

    /// Seconds a device should wait before trying again: the pushes ahead of it, served
    /// `permits` at a time at the recent mean push time; 1 to 30.
    pub fn retry_after(&self) -> u64 {
        let ahead = self.waiting.load(Ordering::Relaxed) + self.size;
        let mean = self.mean_us.load(Ordering::Relaxed) as f64 / 1e6;
        let secs = (ahead as f64 / self.size as f64 * mean).ceil() as u64;
        secs.clamp(1, 30)
    }

    fn busy(&self, why: &str) -> AppError {
        let secs = self.retry_after();
        AppError::of(
            ErrorCode::ServerBusy,
            format!("{why}; nothing was applied: push again in {secs} s"),
        )
        .with_retry_after(secs)
    }

    /// Waits for a permit, or refuses at once when the queue is full.
    pub async fn enter(&self) -> AppResult<PushPermit<'_>> {
        if let Ok(p) = self.permits.clone().try_acquire_owned() {
            return Ok(self.permit(p));
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(self.busy("the server is busy with other devices' pushes"));
        }
        let got = tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match got {
            Ok(Ok(p)) => Ok(self.permit(p)),
            _ => Err(self.busy("the server could not take this push in time")),
        }
    }

    fn permit(&self, p: OwnedSemaphorePermit) -> PushPermit<'_> {
        PushPermit {
            gate: self,
            started: Instant::now(),
            _permit: p,
        }
    }

    /// Pushes waiting for a permit now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_with_a_retry_after() {
        let gate = PushGate::new(1, 1, Duration::from_secs(5));
        let first = gate.enter().await.unwrap();
        // The second waits in the queue …
        let second = async { gate.enter().await.map(|_| ()) };
        // … and the third finds the queue full.
        let third = async {
            tokio::task::yield_now().await;
            gate.enter().await.map(|_| ())
        };
        let release = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(first);
        };
        let (second, third, ()) = tokio::join!(second, third, release);
        assert!(second.is_ok(), "the queued push got the permit");
        let e = third.expect_err("queue full");
        assert_eq!(e.code, "server_busy");
        let secs = e.retry_after.expect("Retry-After");
        assert!((1..=30).contains(&secs), "{secs}");
    }

    #[tokio::test]
    async fn a_queued_push_gives_up_after_the_longest_wait() {
        let gate = PushGate::new(1, 4, Duration::from_millis(30));
        let _held = gate.enter().await.unwrap();
        let e = gate.enter().await.expect_err("timed out");
        assert_eq!(e.code, "server_busy");
        assert_eq!(gate.waiting(), 0, "the timed-out push left the queue");
    }

    #[test]
    fn retry_after_grows_with_the_queue_and_stays_within_bounds() {
        let gate = PushGate::new(2, 100, Duration::from_secs(5));
        gate.mean_us.store(2_000_000, Ordering::Relaxed);
        let empty = gate.retry_after();
        gate.waiting.store(20, Ordering::Relaxed);
        let busy = gate.retry_after();
        assert!(busy > empty, "{empty} {busy}");
        gate.waiting.store(10_000, Ordering::Relaxed);
        assert_eq!(gate.retry_after(), 30);
    }
}
