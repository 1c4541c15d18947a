//! Commit latency of a 5-ticket sale through `Store::sell`, against a baseline measured in the
//! same run: raw rusqlite inserts of the same rows (1 sale + 5 draw numbers + 1 journal row) in
//! one `synchronous=FULL` transaction on a database with the same schema and pragmas.
//! A second baseline keeps those inserts' statements prepared (the fastest raw path).
//! The three are interleaved sale by sale so that machine noise hits them alike.
//!
//! Run: `cargo bench -p rsu-store --bench sell` (RSU_BENCH_SALES=N to change the count,
//! RSU_BENCH_PENDING=10000 to sell that many unsynced sales first, unmeasured).

use rsu_core::config::AllocationConfig;
use rsu_core::payload::{Payment, PaymentMethod};
use rsu_store::{demo_config, EntryOutcome, SaleRequest, Store, SyncResult, DEMO_SELLER_PIN};
use rusqlite::params;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::var("RSU_BENCH_SALES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir()?;

    // Our path: a demo device with room for every sale.
    let mut store = Store::open(dir.path().join("ours.sqlite3"))?;
    let (identity, mut config) = demo_config(chrono::Utc::now())?;
    config.rsu.max_offline_tickets = Some(10_000_000);
    config.allocations.push(AllocationConfig {
        id: Uuid::now_v7(),
        event_id: config.events[0].id,
        start_number: 2000,
        end_number: 2000 + 10 * n as i64,
        state: "active".into(),
        next_number: None,
    });
    // An offline backlog before the measured sales (RSU_BENCH_PENDING, default 0): a sale must
    // not slow down as the device stays offline.
    let backlog: usize = std::env::var("RSU_BENCH_PENDING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    config.allocations.push(AllocationConfig {
        id: Uuid::now_v7(),
        event_id: config.events[0].id,
        start_number: 3_000_000,
        end_number: 3_000_000 + 10 * backlog.max(1) as i64,
        state: "active".into(),
        next_number: None,
    });
    store.set_identity(&identity)?;
    store.apply_config(&config)?;
    store.login(DEMO_SELLER_PIN, None)?;
    let package_id = config.events[0]
        .packages
        .iter()
        .find(|p| p.ticket_count == 5)
        .ok_or("no 5-ticket package")?
        .id;
    let req = SaleRequest {
        package_id,
        payment: Payment {
            method: PaymentMethod::Cash,
            reference: None,
        },
        customer: None,
    };

    // Baseline: the same schema and pragmas, rows inserted directly.
    let base = Store::open(dir.path().join("baseline.sqlite3"))?;
    let mut conn = rusqlite::Connection::open(base.path())?;
    drop(base);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;",
    )?;
    let base = Store::open(dir.path().join("prepared.sqlite3"))?;
    let mut prepared_conn = rusqlite::Connection::open(base.path())?;
    drop(base);
    prepared_conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;",
    )?;
    let body = "x".repeat(620); // about the size of a sale entry's canonical bytes

    if backlog > 0 {
        for _ in 0..backlog {
            let sale = store.sell(&req)?;
            store.mark_printed(sale.id)?;
        }
    }

    let mut ours = Vec::with_capacity(n);
    let mut baseline = Vec::with_capacity(n);
    let mut prepared = Vec::with_capacity(n);
    let mut pending_ack = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        let sale = store.sell(&req)?;
        ours.push(t.elapsed());
        store.mark_printed(sale.id)?;
        pending_ack.push(SyncResult {
            epoch: sale.epoch,
            seq: sale.seq,
            outcome: EntryOutcome::Applied,
        });
        if pending_ack.len() == 200 {
            // As the sync daemon would, so the backlog stays realistic.
            store.record_results(&pending_ack)?;
            pending_ack.clear();
        }

        let seq = i as i64 + 1;
        let t = Instant::now();
        raw_sale(&mut conn, seq, &body, false)?;
        baseline.push(t.elapsed());

        let t = Instant::now();
        raw_sale(&mut prepared_conn, seq, &body, true)?;
        prepared.push(t.elapsed());
    }
    ours.sort();
    baseline.sort();
    prepared.sort();
    let total = |v: &[Duration]| v.iter().sum::<Duration>().as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("5-ticket sales: {n} through Store::sell with {backlog} sales pending before them, {n} raw inserts (same schema, WAL, synchronous=FULL)");
    println!(
        "ours:     p50 {:.3} ms  p99 {:.3} ms  {:.0} sales/s",
        ms(percentile(&ours, 0.5)),
        ms(percentile(&ours, 0.99)),
        n as f64 / total(&ours)
    );
    println!(
        "baseline: p50 {:.3} ms  p99 {:.3} ms  {:.0} sales/s",
        ms(percentile(&baseline, 0.5)),
        ms(percentile(&baseline, 0.99)),
        n as f64 / total(&baseline)
    );
    println!(
        "prepared: p50 {:.3} ms  p99 {:.3} ms  {:.0} sales/s",
        ms(percentile(&prepared, 0.5)),
        ms(percentile(&prepared, 0.99)),
        n as f64 / total(&prepared)
    );
    println!(
        "p50 ratio (ours / baseline): {:.2}",
        ms(percentile(&ours, 0.5)) / ms(percentile(&baseline, 0.5))
    );
    println!(
        "p99 ratio (ours / baseline): {:.2}",
        ms(percentile(&ours, 0.99)) / ms(percentile(&baseline, 0.99))
    );
    println!(
        "p50 ratio (ours / prepared): {:.2}",
        ms(percentile(&ours, 0.5)) / ms(percentile(&prepared, 0.5))
    );
    println!(
        "p99 ratio (ours / prepared): {:.2}",
        ms(percentile(&ours, 0.99)) / ms(percentile(&prepared, 0.99))
    );
    Ok(())
}

/// One sale's rows (1 journal entry, 1 sale, 5 draw numbers) in one transaction, written
/// directly: with each statement parsed again (`prepare == false`, the baseline the issue
/// measured against) or kept prepared (the fastest raw path).
fn raw_sale(
    conn: &mut rusqlite::Connection,
    seq: i64,
    body: &str,
    prepare: bool,
) -> rusqlite::Result<()> {
    const JOURNAL: &str = "INSERT INTO journal (epoch, seq, entry_id, kind, created_at, body_json, prev_hash, hash) VALUES (1, ?1, ?2, 'sale', '2026-01-01T00:00:00.000Z', ?3, ?4, ?4)";
    const SALE: &str = "INSERT INTO sales (id, epoch, seq, event_id, package_id, package_name, ticket_count, unit_price_minor, total_minor, currency, validation_number, sale_seq, operator_id, payment_method, sold_at)
             VALUES (?1, 1, ?2, 'e', 'p', '5 tickets', 5, 2000, 2000, 'USD', ?3, ?2, 'o', 'cash', '2026-01-01T00:00:00.000Z')";
    const NUMBER: &str = "INSERT INTO sale_numbers (event_id, draw_number, sale_id, allocation_id) VALUES ('e', ?1, ?2, 'a')";
    let tx = conn.transaction()?;
    let id = Uuid::now_v7().to_string();
    let run = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<usize> {
        if prepare {
            tx.prepare_cached(sql)?.execute(p)
        } else {
            tx.execute(sql, p)
        }
    };
    run(JOURNAL, params![seq, id, body, [7u8; 32].as_slice()])?;
    run(SALE, params![id, seq, format!("RSU001-2026-{seq:06}-AAAA")])?;
    for k in 0..5 {
        run(NUMBER, params![seq * 5 + k, id])?;
    }
    tx.commit()
}
