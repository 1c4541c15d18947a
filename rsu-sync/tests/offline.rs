//! Long offline: 5,000 sales (`RSU_OFFLINE_SALES`) made while the server cannot be reached, then
//! it comes back. Reports the drain time while the kiosk keeps selling during the drain (a sale
//! every 5 ms plus its commit time).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_offline_sales_drain_while_selling_goes_on() {
    let n = env_count("RSU_OFFLINE_SALES", 5000);
    let mut w = World::new(WorldOptions::default()).await;
    w.proxy.refuse();
    let mut store = w.store();
    let t = Instant::now();
    sell(&mut store, n);
    let sell_secs = t.elapsed().as_secs_f64();

    let mut settings = w.settings();
    settings.batch_size = 500;
    let mut engine = rsu_sync::Engine::open(&w.device_db, &settings).unwrap();
    let r = engine.round_now().await;
    assert_eq!(r.error_code.as_deref(), Some("transport"), "{r:?}");
    let backlog_last_seq = store.sync_counts().unwrap().last_seq;
    let backlog = store.sync_counts().unwrap().pending_entries;
    assert!(backlog as usize >= n);

    // The server is back; the daemon drains while the kiosk keeps selling.
    w.proxy.resume().await;
    let stop = Arc::new(AtomicBool::new(false));
    let seller = {
        let stop = stop.clone();
        let db = w.device_db.clone();
        std::thread::spawn(move || {
            let mut store = rsu_store::Store::open_existing(&db).unwrap();
            let pkg = one_ticket_package(&store);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let s = store.sell(&cash(pkg)).unwrap();
                store.mark_printed(s.id).unwrap();
                n += 1;
                // Still far faster than a person at a kiosk; a tight loop would only measure
                // SQLite's writer lock starving the daemon.
                std::thread::sleep(Duration::from_millis(5));
            }
            n
        })
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let daemon = tokio::spawn(async move { engine.run(rx).await.unwrap() });
    let deadline = started + Duration::from_secs(300);
    // The backlog is drained when its last seq has an answer recorded.
    loop {
        let pending_backlog: i64 = store
            .connection()
            .query_row(
                "SELECT count(*) FROM journal WHERE sync_status = 'pending' AND seq <= ?1",
                [backlog_last_seq],
                |r| r.get(0),
            )
            .unwrap();
        if pending_backlog == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "backlog not drained in 300 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drain = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let during = seller.join().unwrap();
    while store.sync_counts().unwrap().pending_entries > 0 {
        assert!(
            Instant::now() < deadline,
            "sales made during the drain were not delivered"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tx.send(true).unwrap();
    daemon.await.unwrap();
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();
    assert_eq!(c.server_orders as usize, n + during as usize);
    eprintln!(
        "long offline: {n} sales made offline in {sell_secs:.1} s; backlog {backlog} entries drained in {:.2} s ({:.0} entries/s) \
         while {during} more sales were made during the drain; all delivered\n  {}",
        drain.as_secs_f64(),
        backlog as f64 / drain.as_secs_f64(),
        summary("long offline", &c)
    );
    w.restart_server();
    w.drop_db().await;
}
