//! Dashboard benchmark (not a test; issue 13 "Performance"): the server time of the devices page
//! of an event with 200 RSUs and 1 M tickets, against a `SELECT count(*) FROM rsus` round trip
//! measured in the same run (interleaved, same pool), plus the events list and the event page.
//!
//! `cargo run --release -p server-stub --features testkit --bin dashboard-bench -- [--rsus 200
//! --tickets 1000000 --runs 200]`
//!
//! Server time: from the request entering the router (session lookup, permission, queries,
//! template) to the last byte of the body, without a socket. The data is written with the
//! set-based SQL of draw-bench straight into the tables a push writes (five-ticket orders spread
//! over three hours, 1 % voided, every RSU enrolled with a heartbeat); the summary of migration
//! 0011 is kept by its triggers as the orders are inserted. A fresh database (`rsu_t_…`, from
//! DATABASE_URL) is dropped at the end.

use anyhow::Context;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use server_stub::accounts::{self, session};
use server_stub::testkit::TestDb;
use server_stub::AppState;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 200)]
    rsus: i64,
    /// Tickets sold (a multiple of 5 × --rsus; 1 % of them voided).
    #[arg(long, default_value_t = 1_000_000)]
    tickets: i64,
    /// Measured requests of each page.
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Keep the database afterwards.
    #[arg(long)]
    keep: bool,
}

fn e(err: server_stub::AppError) -> anyhow::Error {
    anyhow::anyhow!("{err}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.rsus < 1 || args.tickets < args.rsus * 5 {
        anyhow::bail!("--tickets must be at least 5 × --rsus");
    }
    let db = TestDb::create().await?;
    let r = run(&db, &args).await;
    if args.keep {
        eprintln!("database kept: {}", db.name);
    } else {
        db.drop_db().await;
    }
    r
}

async fn setup(db: &TestDb, args: &Args) -> anyhow::Result<(Uuid, Uuid)> {
    let pool = &db.pool;
    let t0 = Instant::now();
    let per_rsu = args.tickets / args.rsus / 5 * 5;
    let (org, ev) = server_stub::testkit::bench_org_and_event(
        pool,
        "BENCH-DASH",
        (per_rsu * args.rsus + 10) as u64,
    )
    .await?;
    sqlx::query(
        "INSERT INTO rsus (id, organization_id, rsu_no, name, state, current_epoch)
         SELECT gen_random_uuid(), $1, i, 'RSU-' || lpad(i::text, 3, '0'), 'active', 1
           FROM generate_series(1, $2::int) i",
    )
    .bind(org)
    .bind(args.rsus as i32)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO rsu_keys (id, rsu_id, public_key, expires_at)
         SELECT gen_random_uuid(), r.id,
                decode(md5(r.id::text) || md5(r.id::text || 'k'), 'hex'), NOW() + INTERVAL '90 days'
           FROM rsus r WHERE r.organization_id = $1",
    )
    .bind(org)
    .execute(pool)
    .await?;
    let orders_per = per_rsu / 5;
    // Every tenth device is behind (3 entries pending), every 25th out of paper.
    sqlx::query(
        "INSERT INTO rsu_epochs (rsu_id, epoch, key_id, device_identifier, app_version, app_hash,
                                 last_seq, reported_last_seq, pending_count, oldest_pending_age_secs,
                                 printer_status, clock_offset_secs, last_heartbeat_at, last_push_at)
         SELECT r.id, 1, k.id, 'DEV-' || r.rsu_no, '1.0.0', repeat('0', 64), $2,
                $2 + CASE WHEN r.rsu_no % 10 = 0 THEN 3 ELSE 0 END,
                CASE WHEN r.rsu_no % 10 = 0 THEN 3 ELSE 0 END,
                CASE WHEN r.rsu_no % 10 = 0 THEN 95 END,
                CASE WHEN r.rsu_no % 25 = 0 THEN 'paper_out' ELSE 'ok' END,
                r.rsu_no % 7 - 3, NOW() - (r.rsu_no % 50) * INTERVAL '1 second', NOW()
           FROM rsus r JOIN rsu_keys k ON k.rsu_id = r.id WHERE r.organization_id = $1",
    )
    .bind(org)
    .bind(orders_per)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO rsu_allocations (id, event_id, rsu_id, start_number, end_number, next_draw_number,
                                      total_tickets, state, tickets_sold, tickets_available)
         SELECT gen_random_uuid(), $1, r.id, (r.rsu_no - 1) * ($2 + 100) + 1, r.rsu_no * ($2 + 100),
                (r.rsu_no - 1) * ($2 + 100) + 1 + $2, $2 + 100, 'active', $2, 100
           FROM rsus r WHERE r.organization_id = $3",
    )
    .bind(ev)
    .bind(per_rsu as i32)
    .bind(org)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO orders (id, validation_number, event_id, rsu_id, rsu_allocation_id, unit_price,
                             total_amount, currency, payment_status, payment_method, ticket_count, source,
                             is_offline_sale, journal_epoch, journal_seq, sold_at, received_at,
                             voided_at, voided_reason, organization_id, sale_seq)
         SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(r.rsu_no::int8 * 100000000 + k), 12, '0'))::uuid,
                'B' || lpad(r.rsu_no::text, 3, '0') || '-2026-' || lpad(k::text, 6, '0') || '-XXXX',
                $1, r.id, a.id, 2000, 2000, 'USD', 'completed', 'cash', 5, 'rsu', TRUE, 1, k,
                NOW() - INTERVAL '3 hours' + (k * 180 / $2) * INTERVAL '1 minute', NOW(),
                CASE WHEN k % 100 = 0 THEN NOW() END, CASE WHEN k % 100 = 0 THEN 'bench void' END, $3, k
           FROM rsus r JOIN rsu_allocations a ON a.rsu_id = r.id AND a.event_id = $1,
                generate_series(1, $2::int) k
          WHERE r.organization_id = $3",
    )
    .bind(ev)
    .bind(orders_per as i32)
    .bind(org)
    .execute(pool)
    .await
    .context("orders")?;
    eprintln!("orders written ({:.1} s)", t0.elapsed().as_secs_f64());
    sqlx::query(
        "INSERT INTO tickets (id, event_id, draw_number, state, order_id)
         SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(a.start_number + (o.journal_seq - 1) * 5 + j), 12, '0'))::uuid,
                $1, a.start_number + (o.journal_seq - 1) * 5 + j,
                CASE WHEN o.voided_at IS NULL THEN 'sold' ELSE 'voided' END, o.id
           FROM orders o JOIN rsu_allocations a ON a.id = o.rsu_allocation_id,
                generate_series(0, 4) j
          WHERE o.event_id = $1
          ORDER BY 3",
    )
    .bind(ev)
    .execute(pool)
    .await
    .context("tickets")?;
    eprintln!("tickets written ({:.1} s)", t0.elapsed().as_secs_f64());
    sqlx::query("VACUUM ANALYZE").execute(pool).await?;
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets WHERE event_id = $1")
        .bind(ev)
        .fetch_one(pool)
        .await?;
    eprintln!(
        "data ready: {} RSUs, {tickets} tickets ({:.1} s)",
        args.rsus,
        t0.elapsed().as_secs_f64()
    );
    Ok((org, ev))
}

/// One GET through the router, to the end of the body; fails unless 200.
async fn page(router: &axum::Router, path: &str, cookie: &str) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let res = router
        .clone()
        .oneshot(
            Request::get(path)
                .header("cookie", cookie)
                .body(Body::empty())?,
        )
        .await?;
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
    let took = t.elapsed();
    anyhow::ensure!(
        status == StatusCode::OK,
        "{path}: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(took)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50 and p99 of `v` (sorted in place).
fn percentiles(v: &mut [Duration]) -> (Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.50), at(0.99))
}

async fn run(db: &TestDb, args: &Args) -> anyhow::Result<()> {
    let pool = &db.pool;
    let (org, ev) = setup(db, args).await?;
    let user = accounts::add_user(pool, "bench@example.org", "Bench Manager")
        .await
        .map_err(e)?;
    accounts::grant(pool, user, org, "raffle_manager")
        .await
        .map_err(e)?;
    let s = session::create(pool, user).await.map_err(e)?;
    let cookie = format!("{}={}", session::COOKIE, s.token);
    let state = AppState::new(pool.clone(), None).map_err(e)?;
    let router = server_stub::router(state);
    let devices = format!("/dashboard/events/{ev}/devices");
    let event = format!("/dashboard/events/{ev}");

    let baseline = || async {
        let t = Instant::now();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM rsus")
            .fetch_one(pool)
            .await?;
        anyhow::ensure!(n == args.rsus, "rsus: {n}");
        Ok::<_, anyhow::Error>(t.elapsed())
    };
    // Warm-up.
    for _ in 0..10 {
        baseline().await?;
        page(&router, &devices, &cookie).await?;
        page(&router, "/dashboard", &cookie).await?;
        page(&router, &event, &cookie).await?;
    }
    let (mut b, mut d, mut l, mut o) = (vec![], vec![], vec![], vec![]);
    for _ in 0..args.runs {
        b.push(baseline().await?);
        d.push(page(&router, &devices, &cookie).await?);
        l.push(page(&router, "/dashboard", &cookie).await?);
        o.push(page(&router, &event, &cookie).await?);
    }
    let (b50, b99) = percentiles(&mut b);
    println!(
        "{} RSUs, {} tickets, {} runs each; server time through the router, no socket",
        args.rsus, args.tickets, args.runs
    );
    println!("what                          p50_ms  p99_ms  p50_ratio_to_baseline");
    println!(
        "baseline count(*) FROM rsus  {:>7.2} {:>7.2}  1.00",
        ms(b50),
        ms(b99)
    );
    for (name, v) in [
        ("devices page", &mut d),
        ("events list", &mut l),
        ("event page + chart", &mut o),
    ] {
        let (p50, p99) = percentiles(v);
        println!(
            "{name:<28} {:>7.2} {:>7.2}  {:.1}",
            ms(p50),
            ms(p99),
            p50.as_secs_f64() / b50.as_secs_f64()
        );
    }
    let (d50, d99) = percentiles(&mut d);
    println!(
        "devices page target < 100 ms: p50 {:.2} ms, p99 {:.2} ms: {}",
        ms(d50),
        ms(d99),
        if d99 < Duration::from_millis(100) {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}
