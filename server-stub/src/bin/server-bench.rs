//! Ingest benchmark (not a test): many simulated devices push batches of 5-ticket sales to a real
//! server over loopback; compared, in the same run and the same database, with PostgreSQL `COPY`
//! of the same rows into the same tables and with one INSERT per row.
//!
//! `cargo run --release -p server-stub --bin server-bench -- --devices 100`

use anyhow::Context;
use clap::Parser;
use rsu_core::journal::{EntryKind, JournalEntry};
use rsu_core::wire;
use serde_json::Value;
use server_stub::admin;
use server_stub::copy::CopyBuf;
use server_stub::testkit::{http_request, Pkg, TestDb, TestDevice, TestServer};
use server_stub::AppState;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// Concurrent simulated devices (50–200).
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Sales per push (each sale is 5 tickets).
    #[arg(long, default_value_t = 100)]
    sales_per_batch: usize,
    /// Pushes per device.
    #[arg(long, default_value_t = 4)]
    batches: usize,
    /// Tickets loaded before measuring (realistic table sizes), via COPY.
    #[arg(long, default_value_t = 0)]
    preload_tickets: usize,
    /// Connections of the server's pool (and of the COPY / INSERT baselines).
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// Keep the database afterwards.
    #[arg(long)]
    keep: bool,
}

struct Dev {
    device: TestDevice,
    batches: Vec<Vec<u8>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = TestDb::create().await?;
    eprintln!("database {}", db.name);
    let pool = db.pool.clone();
    let (org, event, pkg, seller) = setup(&pool).await?;
    let per_device = args.sales_per_batch * args.batches * 5;

    eprintln!("enrolling {} devices…", args.devices);
    let mut devs = vec![];
    for i in 0..args.devices {
        let rsu = admin::create_rsu(
            &pool,
            &admin::NewRsu {
                organization_id: org,
                name: format!("B{i}"),
                rsu_no: None,
                venue_id: None,
                max_offline_tickets: None,
                token_hours: 1,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let token = rsu["enrollmentToken"].as_str().context("token")?;
        let mut device = TestDevice::enroll(&pool, token, &format!("BENCH-{i}")).await?;
        let start = 1 + (i * per_device) as i64;
        admin::create_allocation(
            &pool,
            &admin::NewAllocation {
                event_id: event,
                rsu_id: device.rsu_id,
                start_number: Some(start),
                end_number: Some(start + per_device as i64 - 1),
                count: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        device.next_number = start;
        let mut batches = vec![];
        for _ in 0..args.batches {
            let entries: Vec<JournalEntry> = (0..args.sales_per_batch)
                .map(|_| {
                    let nums = device.take_numbers(5);
                    let s = device.sale_payload(event, &pkg, nums, seller);
                    device.entry(
                        EntryKind::Sale,
                        serde_json::to_value(s).unwrap_or(Value::Null),
                    )
                })
                .collect();
            batches.push(device.push_body(&entries)?);
        }
        devs.push(Dev { device, batches });
    }
    let total_tickets = args.devices * per_device;

    if args.preload_tickets > 0 {
        eprintln!("preloading {} tickets…", args.preload_tickets);
        let t = Instant::now();
        copy_rows(&pool, org, args.preload_tickets / 5, 4, "PRE", 1).await?;
        eprintln!("  preloaded in {:.1} s", t.elapsed().as_secs_f64());
    }

    // Baseline 1: COPY of the same rows (orders, tickets, journal) into the same tables.
    let copy1 = copy_rows(
        &pool,
        org,
        total_tickets / 5,
        args.connections as usize,
        "C1",
        2,
    )
    .await?;
    eprintln!("COPY (before)          {:>9.0} tickets/s", copy1);

    // The server on a real socket.
    let server_pool = server_stub::db::connect(&db.url, args.connections).await?;
    let state = AppState::new(server_pool, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let server = TestServer::spawn(state).await?;
    let devs = Arc::new(devs);

    let ours = run_pushes(&devs, server.addr, "applied").await?;
    let ours_rate = total_tickets as f64 / ours;
    eprintln!(
        "server push            {:>9.0} tickets/s  ({:.2} s)",
        ours_rate, ours
    );
    let retry = run_pushes(&devs, server.addr, "duplicate").await?;
    let retry_rate = total_tickets as f64 / retry;
    eprintln!(
        "server push, retries   {:>9.0} tickets/s  ({:.2} s)",
        retry_rate, retry
    );

    let copy2 = copy_rows(
        &pool,
        org,
        total_tickets / 5,
        args.connections as usize,
        "C2",
        3,
    )
    .await?;
    eprintln!("COPY (after)           {:>9.0} tickets/s", copy2);
    let copy = (copy1 + copy2) / 2.0;

    // Baseline 2: one INSERT per row, one transaction per sale, on a fifth of the rows.
    let naive = naive_inserts(
        &pool,
        org,
        (total_tickets / 5 / 5).max(100),
        args.connections as usize,
    )
    .await?;
    eprintln!("naive INSERT per row   {:>9.0} tickets/s", naive);

    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE event_id = $1")
        .bind(event)
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(
        orders as usize == total_tickets / 5,
        "expected {} orders, found {orders}",
        total_tickets / 5
    );

    println!(
        "devices={} batch={} sales ({} tickets) pushes/device={} tickets={} preload={}",
        args.devices,
        args.sales_per_batch,
        args.sales_per_batch * 5,
        args.batches,
        total_tickets,
        args.preload_tickets
    );
    println!("server push:      {:>9.0} tickets/s", ours_rate);
    println!(
        "COPY baseline:    {:>9.0} tickets/s (mean of before {:.0} and after {:.0})",
        copy, copy1, copy2
    );
    println!("naive INSERT:     {:>9.0} tickets/s", naive);
    println!("all-retry push:   {:>9.0} tickets/s", retry_rate);
    println!("ratio push/COPY:  {:.2}  (goal >= 0.70)", ours_rate / copy);
    println!("ratio push/naive: {:.1}x (goal >= 10x)", ours_rate / naive);
    println!("ratio retry/COPY: {:.2}", retry_rate / copy);

    server.stop().await;
    if !args.keep {
        db.drop_db().await;
    }
    Ok(())
}

async fn setup(pool: &PgPool) -> anyhow::Result<(Uuid, Uuid, Pkg, Uuid)> {
    let e = |e: server_stub::AppError| anyhow::anyhow!("{e}");
    let org = admin::create_organization(
        pool,
        &admin::NewOrganization {
            name: "Bench".into(),
            license_number: "B-1".into(),
            currency: "USD".into(),
            validation_number_prefix: "RSU".into(),
            description: None,
        },
    )
    .await
    .map_err(e)?;
    let org: Uuid = serde_json::from_value(org["organizationId"].clone())?;
    let now = chrono::Utc::now();
    let mk = |ident: &str| admin::NewEvent {
        organization_id: org,
        venue_id: None,
        name: format!("Bench {ident}"),
        event_identifier: ident.into(),
        currency: None,
        sales_start_time: now - chrono::Duration::hours(1),
        sales_end_time: now + chrono::Duration::days(1),
        draw_time: now + chrono::Duration::days(2),
        max_tickets: 2_000_000_000,
        rsu_range_start: None,
        rsu_range_end: None,
        default_allocation_size: 100,
        jackpot_seed_amount: 0,
        jackpot_starting_amount: 0,
        jackpot_percentage_bp: Some(5000),
        price_lock: true,
        offline_sales_allowed: true,
        responsible_gaming_text: "x".into(),
        claim_deadline: "x".into(),
        rules_url: "x".into(),
        description: None,
    };
    let ev = admin::create_event(pool, &mk("BENCH")).await.map_err(e)?;
    let ev: Uuid = serde_json::from_value(ev["eventId"].clone())?;
    let p = admin::create_package(
        pool,
        &admin::NewPackage {
            event_id: ev,
            name: "Five".into(),
            ticket_count: 5,
            price: 2000,
            display_order: 0,
            active_from: None,
            active_to: None,
        },
    )
    .await
    .map_err(e)?;
    let pid: Uuid = serde_json::from_value(p["packageId"].clone())?;
    for to in ["configured", "active"] {
        admin::transition(
            pool,
            &admin::Transition {
                event_id: ev,
                to: to.into(),
                reason: None,
            },
        )
        .await
        .map_err(e)?;
    }
    let op = admin::create_operator(
        pool,
        &admin::NewOperator {
            organization_id: org,
            name: "S".into(),
            role: "seller".into(),
            pin: "1111".into(),
        },
    )
    .await
    .map_err(e)?;
    let op: Uuid = serde_json::from_value(op["operatorId"].clone())?;
    // The baseline events.
    for ident in ["BASE-1", "BASE-2", "BASE-3", "BASE-4"] {
        admin::create_event(pool, &mk(ident)).await.map_err(e)?;
    }
    Ok((
        org,
        ev,
        Pkg {
            id: pid,
            name: "Five".into(),
            ticket_count: 5,
            price: 2000,
        },
        op,
    ))
}

async fn run_pushes(
    devs: &Arc<Vec<Dev>>,
    addr: std::net::SocketAddr,
    expect: &'static str,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let mut tasks = vec![];
    for i in 0..devs.len() {
        let devs = devs.clone();
        tasks.push(tokio::spawn(async move {
            let d = &devs[i];
            for b in &d.batches {
                let headers = d.device.signed_headers("POST", wire::PATH_JOURNAL, b)?;
                let (st, v) = http_request(addr, "POST", wire::PATH_JOURNAL, &headers, b).await?;
                anyhow::ensure!(st == 200, "push answered {st}: {v}");
                let ok = v["results"]
                    .as_array()
                    .is_some_and(|r| r.iter().all(|r| r["status"] == expect));
                anyhow::ensure!(
                    ok,
                    "not every entry was {expect}: {}",
                    &v.to_string()[..300.min(v.to_string().len())]
                );
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// The rows of `sales` 5-ticket sales, COPYed in batches over `conns` connections into
/// orders, tickets and device_journal of baseline event `base` (BASE-n). Returns tickets/s.
async fn copy_rows(
    pool: &PgPool,
    _org: Uuid,
    sales: usize,
    conns: usize,
    tag: &str,
    base: u32,
) -> anyhow::Result<f64> {
    let (event, rsu): (Uuid, Uuid) = sqlx::query_as(
        "SELECT e.id, r.id FROM events e, rsus r WHERE e.event_identifier = $1 AND r.organization_id = e.organization_id ORDER BY r.rsu_no LIMIT 1",
    )
    .bind(format!("BASE-{base}"))
    .fetch_one(pool)
    .await?;
    let key: Uuid = sqlx::query_scalar("SELECT id FROM rsu_keys WHERE rsu_id = $1 LIMIT 1")
        .bind(rsu)
        .fetch_one(pool)
        .await?;
    let per_batch = 100;
    let nbatches = sales.div_ceil(per_batch);
    let t = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = vec![];
    for _ in 0..conns.max(1) {
        let pool = pool.clone();
        let next = next.clone();
        let tag = tag.to_string();
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if b >= nbatches {
                    return Ok::<(), anyhow::Error>(());
                }
                let mut j = CopyBuf::new();
                let mut o = CopyBuf::new();
                let mut tk = CopyBuf::new();
                let now = chrono::Utc::now();
                for s in (b * per_batch)..((b + 1) * per_batch).min(sales) {
                    let id = Uuid::now_v7();
                    // The same shape and size as a real sale payload.
                    let n = (s * 5 + 1) as i64;
                    let payload = serde_json::json!({
                        "localId": id, "eventId": event, "allocationId": id,
                        "segments": [{"allocationId": id, "startNumber": n, "endNumber": n + 4}],
                        "validationNumber": format!("{tag}-{s}"), "saleSeq": s, "drawNumbers": [n, n + 1, n + 2, n + 3, n + 4],
                        "packageId": id, "packageName": "Five", "ticketCount": 5, "unitPrice": 2000, "totalAmount": 2000,
                        "currency": "USD", "payment": {"method": "cash", "reference": null}, "operatorId": id,
                        "shiftId": null, "soldAt": rsu_core::journal::format_time(&now),
                    });
                    j.uuid(rsu).int(1).int(10_000_000 * i64::from(base) + s as i64 + 1).uuid(id).text("sale").ts(&now).json(&payload)
                        .bytea(&[0u8; 32]).bytea(&[1u8; 32]).text("applied").null().null().words(&[]).uuid(key).ts(&now);
                    j.end_row();
                    o.uuid(id).text(&format!("{tag}-{s}")).uuid(event).null().uuid(rsu).null().int(2000).int(2000).text("USD")
                        .text("completed").text("cash").null().int(5).null().text("rsu").null().null().bool(true).text("synced")
                        .int(1).int(s as i64 + 1).bool(false).ts(&now).null().ts(&now);
                    o.end_row();
                    for k in 0..5 {
                        tk.uuid(Uuid::now_v7()).uuid(event).int((s * 5 + k + 1) as i64).text("sold").uuid(id);
                        tk.end_row();
                    }
                }
                let mut tx = pool.begin().await?;
                for (stmt, buf) in [
                    ("COPY device_journal (rsu_id, epoch, seq, entry_id, kind, created_at, payload, prev_hash, hash, status, reason_code, reason_message, flags, key_id, received_at) FROM STDIN", j),
                    ("COPY orders (id, validation_number, event_id, package_id, rsu_id, rsu_allocation_id, unit_price, total_amount, currency, payment_status, payment_method, payment_reference, ticket_count, customer_info, source, operator_id, shift_id, is_offline_sale, offline_sync_status, journal_epoch, journal_seq, is_late, sold_at, sold_by, received_at) FROM STDIN", o),
                    ("COPY tickets (id, event_id, draw_number, state, order_id) FROM STDIN", tk),
                ] {
                    let mut c = tx.copy_in_raw(stmt).await?;
                    c.send(buf.bytes).await?;
                    c.finish().await?;
                }
                tx.commit().await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((sales * 5) as f64 / t.elapsed().as_secs_f64())
}

/// One INSERT per row and one transaction per sale (order + 5 tickets). Returns tickets/s.
async fn naive_inserts(
    pool: &PgPool,
    _org: Uuid,
    sales: usize,
    conns: usize,
) -> anyhow::Result<f64> {
    let event: Uuid = sqlx::query_scalar("SELECT id FROM events WHERE event_identifier = 'BASE-4'")
        .fetch_one(pool)
        .await?;
    let rsu: Uuid = sqlx::query_scalar("SELECT r.id FROM rsus r JOIN events e ON e.organization_id = r.organization_id WHERE e.id = $1 LIMIT 1")
        .bind(event)
        .fetch_one(pool)
        .await?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = Instant::now();
    let mut tasks = vec![];
    for _ in 0..conns.max(1) {
        let pool = pool.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let s = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if s >= sales {
                    return Ok::<(), anyhow::Error>(());
                }
                let id = Uuid::now_v7();
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO orders (id, validation_number, event_id, rsu_id, unit_price, total_amount, currency, payment_status,
                                         ticket_count, source, is_offline_sale, journal_epoch, journal_seq, sold_at, received_at)
                     VALUES ($1, $2, $3, $4, 2000, 2000, 'USD', 'completed', 5, 'rsu', TRUE, 1, $5, NOW(), NOW())",
                )
                .bind(id)
                .bind(format!("NAIVE-{s}"))
                .bind(event)
                .bind(rsu)
                .bind(s as i64 + 1)
                .execute(&mut *tx)
                .await?;
                for k in 0..5 {
                    sqlx::query("INSERT INTO tickets (id, event_id, draw_number, state, order_id) VALUES ($1, $2, $3, 'sold', $4)")
                        .bind(Uuid::now_v7())
                        .bind(event)
                        .bind((s * 5 + k + 1) as i32)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((sales * 5) as f64 / t.elapsed().as_secs_f64())
}
