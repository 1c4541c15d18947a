//! Contention benchmark (not a test): the kiosk selling in a tight loop and `rsu-syncd` draining
//! the journal share one SQLite file, and neither may starve the other (issue 16, item 4).
//!
//! On a real device database pushed by the engine over loopback HTTP to a real server-stub,
//! each figure against its baseline measured in the same run:
//!
//! 1. **drain, kiosk idle**: `RSU_BENCH_SALES` (default 10,000) pending sales drained while
//!    nothing else touches the database;
//! 2. **sales, daemon idle**: the kiosk sells (commit, then the print confirmed, as the kiosk
//!    does) for `RSU_BENCH_SECS` seconds (default 3) in a tight loop; each `Store::sell` timed;
//! 3. **both**: the same backlog again, drained while the kiosk sells in a tight loop on its own
//!    connection (a thread, as a second process would be: SQLite locks the file the same way).
//!
//! Goals: drain (3) ≥ 0.5 × drain (1); sale p99 (3) ≤ 1.5 × sale p99 (2).
//!
//! Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
//! Run: `cargo bench -p rsu-sync --bench contention`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use rsu_store::Store;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench());
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sells in a tight loop on its own connection until `stop`, timing each commit.
fn kiosk(db: &Path, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Duration>> {
    let db = db.to_path_buf();
    std::thread::spawn(move || {
        let mut store = Store::open(&db).unwrap();
        let package = one_ticket_package(&store);
        let req = cash(package);
        let mut times = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            let sale = store.sell(&req).expect("the kiosk sells");
            times.push(t.elapsed());
            store.mark_printed(sale.id).expect("the print is confirmed");
        }
        times.sort();
        times
    })
}

/// The sales pending at or below `through` (the backlog a drain must clear).
fn pending_through(reader: &Store, through: u64) -> u64 {
    reader
        .connection()
        .query_row(
            "SELECT count(*) FROM journal WHERE sync_status = 'pending' AND seq <= ?1",
            [through],
            |r| r.get(0),
        )
        .unwrap()
}

/// Drains the entries up to the journal's current end; returns the seconds it took.
async fn drain_backlog(engine: &mut rsu_sync::Engine, reader: &Store) -> f64 {
    let through = reader.sync_counts().unwrap().last_seq;
    let t = Instant::now();
    while pending_through(reader, through) > 0 {
        let r = engine.round_now().await;
        assert!(r.error.is_none(), "{r:?}");
    }
    t.elapsed().as_secs_f64()
}

async fn bench() {
    let n = env_count("RSU_BENCH_SALES", 10_000);
    let secs = env_count("RSU_BENCH_SECS", 3) as u64;
    let w = World::new(WorldOptions {
        extra_numbers: 190_000,
    })
    .await;
    let mut settings = w.settings();
    // The daemon's default batch (500) unless RSU_BENCH_BATCH says otherwise.
    settings.batch_size = env_count("RSU_BENCH_BATCH", rsu_sync::Settings::default().batch_size);
    settings.request_timeout_secs = 60.0;
    settings.server = Some(format!("http://{}", w.server.as_ref().unwrap().addr));
    let mut engine = rsu_sync::Engine::open(&w.device_db, &settings).unwrap();
    let batch = settings.batch_size;
    let reader = w.store();

    // 1. Drain with the kiosk idle.
    sell(&mut w.store(), n);
    let idle_drain = drain_backlog(&mut engine, &reader).await;

    // 2. The kiosk alone.
    let stop = Arc::new(AtomicBool::new(false));
    let k = kiosk(&w.device_db, stop.clone());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let idle_sales = k.join().unwrap();
    drain_backlog(&mut engine, &reader).await;

    // 3. Both at once: the same backlog, drained while the kiosk sells.
    sell(&mut w.store(), n);
    let stop = Arc::new(AtomicBool::new(false));
    let k = kiosk(&w.device_db, stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let busy_drain = drain_backlog(&mut engine, &reader).await;
    stop.store(true, Ordering::Relaxed);
    let busy_sales = k.join().unwrap();
    drain_backlog(&mut engine, &reader).await;
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();

    let rate = |secs: f64| n as f64 / secs;
    println!("contention: {n} pending sales drained in batches of {batch} over loopback HTTP");
    println!(
        "drain, kiosk idle:            {idle_drain:.2} s = {:.0} entries/s",
        rate(idle_drain)
    );
    println!(
        "drain, kiosk selling:         {busy_drain:.2} s = {:.0} entries/s",
        rate(busy_drain)
    );
    println!(
        "sales, daemon idle:           {} sales, p50 {:.3} ms, p99 {:.3} ms, max {:.1} ms",
        idle_sales.len(),
        ms(percentile(&idle_sales, 0.5)),
        ms(percentile(&idle_sales, 0.99)),
        ms(percentile(&idle_sales, 1.0)),
    );
    println!(
        "sales, daemon draining:       {} sales, p50 {:.3} ms, p99 {:.3} ms, max {:.1} ms",
        busy_sales.len(),
        ms(percentile(&busy_sales, 0.5)),
        ms(percentile(&busy_sales, 0.99)),
        ms(percentile(&busy_sales, 1.0)),
    );
    println!(
        "drain ratio (selling / idle): {:.2} (goal >= 0.5)",
        idle_drain / busy_drain
    );
    println!(
        "sale p99 ratio (draining / idle): {:.2} (goal <= 1.5)",
        ms(percentile(&busy_sales, 0.99)) / ms(percentile(&idle_sales, 0.99))
    );
    w.drop_db().await;
}
