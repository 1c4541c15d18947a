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

/// The daemon's nice value, as its systemd unit sets it (`Nice=10`).
const DAEMON_NICE: i32 = 10;
/// The server's (here, not on the device): as far out of the device's way as one machine allows.
const SERVER_NICE: i32 = 19;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // The engine runs on these threads, at the daemon's priority.
        .on_thread_start(|| nice_this_thread(DAEMON_NICE))
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

/// What the kiosk measured: each sale's commit time, sorted, and the times of the sales that
/// began while the daemon held its turn (they waited for it).
struct Sales {
    times: Vec<Duration>,
    after_turn: Vec<Duration>,
}

impl Sales {
    fn p(&self, p: f64) -> Duration {
        percentile(&self.times, p)
    }
    /// (sales slower than `limit`, of which began while the daemon held its turn).
    fn slower_than(&self, limit: Duration) -> (usize, usize) {
        (
            self.times.iter().filter(|t| **t > limit).count(),
            self.after_turn.iter().filter(|t| **t > limit).count(),
        )
    }
}

/// Sells in a tight loop on its own connection until `stop`, timing each commit.
fn kiosk(db: &Path, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Sales> {
    let db = db.to_path_buf();
    std::thread::spawn(move || {
        let mut store = Store::open(&db).unwrap();
        let package = one_ticket_package(&store);
        let req = cash(package);
        let turn = std::fs::File::open(rsu_store::turn_path(&db)).unwrap();
        let mut times = Vec::new();
        let mut after_turn = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let held = matches!(
                turn.try_lock_shared(),
                Err(std::fs::TryLockError::WouldBlock)
            );
            let _ = turn.unlock();
            let t = Instant::now();
            let sale = store.sell(&req).expect("the kiosk sells");
            let took = t.elapsed();
            times.push(took);
            if held {
                after_turn.push(took);
            }
            store.mark_printed(sale.id).expect("the print is confirmed");
        }
        times.sort();
        Sales { times, after_turn }
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

/// Drains the entries up to the journal's current end on the runtime's (daemon-priority)
/// threads; returns the seconds it took.
async fn drain_backlog(
    mut engine: rsu_sync::Engine,
    reader: Store,
) -> (f64, rsu_sync::Engine, Store) {
    tokio::spawn(async move {
        let through = reader.sync_counts().unwrap().last_seq;
        let t = Instant::now();
        while pending_through(&reader, through) > 0 {
            let r = engine.round_now().await;
            assert!(r.error.is_none(), "{r:?}");
        }
        (t.elapsed().as_secs_f64(), engine, reader)
    })
    .await
    .unwrap()
}

async fn bench() {
    let n = env_count("RSU_BENCH_SALES", 10_000);
    let secs = env_count("RSU_BENCH_SECS", 3) as u64;
    let mut w = World::new(WorldOptions {
        extra_numbers: 190_000,
    })
    .await;
    // The server is not on the device: its threads and its PostgreSQL sessions run at the
    // lowest priority, and its commits do not wait for this disk (RSU_BENCH_SERVER_NICE=0
    // leaves it competing with the device for these two cores, as it never does on a site).
    let server_nice = std::env::var("RSU_BENCH_SERVER_NICE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SERVER_NICE);
    if let Some(s) = w.server.take() {
        s.kill();
    }
    let url = format!(
        "{}{}options=-c%20synchronous_commit%3Doff",
        w.db_url(),
        if w.db_url().contains('?') { "&" } else { "?" }
    );
    w.server = Some(if server_nice == SERVER_NICE {
        Server::start_niced(&url, server_nice)
    } else {
        Server::start(&w.db_url())
    });
    let mut settings = w.settings();
    // The daemon's default batch (500) unless RSU_BENCH_BATCH says otherwise.
    settings.batch_size = env_count("RSU_BENCH_BATCH", rsu_sync::Settings::default().batch_size);
    settings.request_timeout_secs = 60.0;
    settings.server = Some(format!("http://{}", w.server.as_ref().unwrap().addr));
    let engine = rsu_sync::Engine::open(&w.device_db, &settings).unwrap();
    let batch = settings.batch_size;
    let reader = w.store();

    // A first push opens the server's database sessions, to be reniced with it.
    sell(&mut w.store(), 20);
    let (_, engine, reader) = drain_backlog(engine, reader).await;
    if server_nice == SERVER_NICE {
        let pids: Vec<String> = sqlx::query_scalar::<_, i32>(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
        )
        .fetch_all(w.pool())
        .await
        .unwrap()
        .iter()
        .map(|p| p.to_string())
        .collect();
        renice(SERVER_NICE, &pids);
    }

    // 1. Drain with the kiosk idle.
    sell(&mut w.store(), n);
    let (idle_drain, engine, reader) = drain_backlog(engine, reader).await;

    // 2. The kiosk alone.
    let stop = Arc::new(AtomicBool::new(false));
    let k = kiosk(&w.device_db, stop.clone());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let idle_sales = k.join().unwrap();
    let (_, engine, reader) = drain_backlog(engine, reader).await;

    // 3. Both at once: the same backlog, drained while the kiosk sells.
    sell(&mut w.store(), n);
    let stop = Arc::new(AtomicBool::new(false));
    let k = kiosk(&w.device_db, stop.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (busy_drain, engine, reader) = drain_backlog(engine, reader).await;
    stop.store(true, Ordering::Relaxed);
    let busy_sales = k.join().unwrap();
    drain_backlog(engine, reader).await;
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();

    let rate = |secs: f64| n as f64 / secs;
    println!("contention: {n} pending sales drained in batches of {batch} over loopback HTTP (daemon at nice {DAEMON_NICE}, server at nice {server_nice})");
    println!(
        "drain, kiosk idle:            {idle_drain:.2} s = {:.0} entries/s",
        rate(idle_drain)
    );
    println!(
        "drain, kiosk selling:         {busy_drain:.2} s = {:.0} entries/s",
        rate(busy_drain)
    );
    for (what, s) in [
        ("daemon idle:    ", &idle_sales),
        ("daemon draining:", &busy_sales),
    ] {
        println!(
            "sales, {what}       {} sales, p50 {:.3} ms, p99 {:.3} ms, max {:.1} ms",
            s.times.len(),
            ms(s.p(0.5)),
            ms(s.p(0.99)),
            ms(s.p(1.0)),
        );
    }
    let limit = idle_sales.p(0.99).mul_f64(1.5);
    let (slow, waited) = busy_sales.slower_than(limit);
    println!(
        "sales while draining slower than 1.5 x the idle p99 ({:.3} ms): {slow} ({:.2} %), {waited} of them began while the daemon held its turn",
        ms(limit),
        100.0 * slow as f64 / busy_sales.times.len().max(1) as f64
    );
    println!(
        "drain ratio (selling / idle): {:.2} (goal >= 0.5)",
        idle_drain / busy_drain
    );
    println!(
        "sale p99 ratio (draining / idle): {:.2} (goal <= 1.5)",
        ms(busy_sales.p(0.99)) / ms(idle_sales.p(0.99))
    );
    w.drop_db().await;
}
