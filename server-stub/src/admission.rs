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
//!
//! Batches are sized to the queue: every push answer carries `X-Rsu-Batch-Max`
//! ([`PushGate::batch_max`]), the most entries the device should send next. While pushes queue it
//! is the number of entries that, at the recent time per entry, lets the last push in the queue
//! get its turn within `max_wait`; so a deep queue turns over in small batches and no queued
//! push times out, and an idle server takes the protocol's full 1,000.

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
    /// Exponentially weighted mean time per entry of a push, microseconds.
    entry_us: AtomicU64,
}

/// The smallest batch the gate asks for: below it a push's fixed cost (signature, transaction,
/// chain lookup) outweighs its entries.
pub const MIN_BATCH: usize = 50;

/// A push's right to work; records how long it took when dropped.
#[derive(Debug)]
pub struct PushPermit<'a> {
    gate: &'a PushGate,
    started: Instant,
    entries: usize,
    _permit: OwnedSemaphorePermit,
}

impl PushPermit<'_> {
    /// How many entries this push carries (for the time per entry).
    pub fn set_entries(&mut self, n: usize) {
        self.entries = n;
    }
}

/// new = 7/8 old + 1/8 sample, at least 1.
fn ewma(cell: &AtomicU64, sample: u64) {
    let old = cell.load(Ordering::Relaxed);
    cell.store((old - old / 8 + sample / 8).max(1), Ordering::Relaxed);
}

impl Drop for PushPermit<'_> {
    fn drop(&mut self) {
        let took = self.started.elapsed().as_micros() as u64;
        ewma(&self.gate.mean_us, took);
        if self.entries > 0 {
            ewma(&self.gate.entry_us, took / self.entries as u64);
        }
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
            entry_us: AtomicU64::new(400),
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

    /// The most entries a device should send in its next push (`X-Rsu-Batch-Max`).
    ///
    /// With `w` pushes waiting and `p` permits, the last one waits about `(w + p) / p` push
    /// times; a push of `max_wait · p / (w + p)` keeps that within `max_wait`. Divided by the
    /// recent time per entry, clamped to [`MIN_BATCH`]..=1,000. Nobody waiting: 1,000.
    pub fn batch_max(&self) -> usize {
        let max = rsu_core::wire::MAX_BATCH_ENTRIES;
        let w = self.waiting.load(Ordering::Relaxed);
        if w == 0 {
            return max;
        }
        let push_us = self.max_wait.as_micros() as f64 * self.size as f64 / (w + self.size) as f64;
        let per_entry = self.entry_us.load(Ordering::Relaxed).max(1) as f64;
        ((push_us / per_entry) as usize).clamp(MIN_BATCH, max)
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
            entries: 0,
            _permit: p,
        }
    }

    /// How many pushes may work at once.
    pub fn permits(&self) -> usize {
        self.size
    }

    /// The recent mean time of one push, from its permit to its answer.
    pub fn mean_push(&self) -> Duration {
        Duration::from_micros(self.mean_us.load(Ordering::Relaxed))
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

    #[test]
    fn batches_shrink_as_the_queue_grows_so_the_last_in_it_gets_a_turn_in_time() {
        // 4 permits, 5 s at most in the queue, 2 ms per entry.
        let gate = PushGate::new(4, 16, Duration::from_secs(5));
        gate.entry_us.store(2_000, Ordering::Relaxed);
        assert_eq!(
            gate.batch_max(),
            1000,
            "nobody waiting: the protocol's most"
        );
        gate.waiting.store(4, Ordering::Relaxed);
        // 5 s · 4 / 8 = 2.5 s of pushing = 1,250 entries: capped at 1,000.
        assert_eq!(gate.batch_max(), 1000);
        gate.waiting.store(16, Ordering::Relaxed);
        // 5 s · 4 / 20 = 1 s = 500 entries; the 16th waiting push gets its turn after
        // 20 / 4 = 5 pushes of 1 s each.
        assert_eq!(gate.batch_max(), 500);
        gate.entry_us.store(50_000, Ordering::Relaxed);
        assert_eq!(gate.batch_max(), MIN_BATCH, "never below the floor");
    }

    #[tokio::test]
    async fn a_push_records_its_time_per_entry() {
        let gate = PushGate::new(1, 1, Duration::from_secs(5));
        let before = gate.entry_us.load(Ordering::Relaxed);
        {
            let mut p = gate.enter().await.unwrap();
            p.set_entries(1);
            std::thread::sleep(Duration::from_millis(20));
        }
        let after = gate.entry_us.load(Ordering::Relaxed);
        // 7/8 · 400 µs + 1/8 · ≥ 20,000 µs.
        assert!(after >= before - before / 8 + 2_500, "{before} -> {after}");
    }
}
