//! Drain benchmark (not a test): 10,000 pending 1-ticket sales (`RSU_BENCH_SALES`) on a real
//! device database pushed by the engine over loopback HTTP to a real server-stub, compared with
//! the server's own ingest rate measured in the same run: the same number of sales, in batches
//! of the same size, pushed through the server's router in-process (no socket, no device side).
//!
//! Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
//! Run: `cargo bench -p rsu-sync --bench drain`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::time::Instant;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench());
}

async fn bench() {
    let n = env_count("RSU_BENCH_SALES", 10_000);
    let batch = env_count("RSU_BENCH_BATCH", 500);

    // The device side: n sales committed while the daemon is not running.
    let w = World::new(WorldOptions {
        extra_numbers: n as i64 + 1000,
    })
    .await;
    let mut store = w.store();
    let t = Instant::now();
    sell(&mut store, n);
    eprintln!(
        "setup: {n} sales committed in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let pending = store.sync_counts().unwrap().pending_entries;
    let mut settings = w.settings();
    settings.batch_size = batch;
    settings.request_timeout_secs = 60.0;
    // Straight to the server, not through the test proxy.
    settings.server = Some(format!("http://{}", w.server.as_ref().unwrap().addr));
    let mut engine = rsu_sync::Engine::open(&w.device_db, &settings).unwrap();
    let t = Instant::now();
    let mut batches = 0;
    loop {
        let r = engine.round_now().await;
        assert!(r.error.is_none(), "{r:?}");
        batches += r.batches;
        if r.pending_after == 0 {
            break;
        }
    }
    let drain = t.elapsed().as_secs_f64();
    let c = check(&w.device_db, w.pool(), w.rsu_id).await;
    c.assert_synced();
    let device_rate = n as f64 / drain;

    // The server's own ingest rate: the same sales, same batch size, through the router.
    let mut fx = server_stub::testkit::Fixture::new().await.unwrap();
    server_stub::admin::create_allocation(
        &fx.db.pool,
        &server_stub::admin::NewAllocation {
            event_id: fx.event_id,
            rsu_id: fx.device.rsu_id,
            start_number: Some(1201),
            end_number: Some(1201 + n as i64),
            count: None,
        },
    )
    .await
    .unwrap();
    let entries: Vec<_> = (0..n).map(|_| fx.sale(1)).collect();
    let t = Instant::now();
    for chunk in entries.chunks(batch) {
        let (status, body) = fx.push(chunk).await.unwrap();
        assert!(status.is_success(), "{status} {body}");
    }
    let server_secs = t.elapsed().as_secs_f64();
    let orders = fx.count("orders").await.unwrap();
    assert_eq!(orders as usize, n, "the baseline applied every sale");
    let server_rate = n as f64 / server_secs;
    println!(
        "drain: {n} sales ({pending} entries) in {batches} batches of {batch}: {drain:.2} s = {device_rate:.0} sales/s over loopback HTTP"
    );
    println!(
        "server ingest (router in-process, same batches): {server_secs:.2} s = {server_rate:.0} sales/s"
    );
    println!(
        "ratio device drain / server ingest = {:.2} (goal >= 0.5)",
        device_rate / server_rate
    );
    fx.drop_db().await;
    w.drop_db().await;
}
