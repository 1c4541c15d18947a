//! Reconciliation report benchmark (not a test): an event with 200 RSUs and 1 M tickets, the
//! report timed against one `SELECT … GROUP BY` over the same tickets in the same run.
//!
//! `cargo run --release -p server-stub --bin report-bench -- [--rsus 200 --tickets 1000000 --runs 3]`
//!
//! The data is written with set-based SQL straight into the tables the push writes (RSUs, keys,
//! epochs, allocations with their released tails, orders, tickets, one journal entry per order,
//! a shift close per RSU, a few rejected entries), so the report reads realistic table sizes:
//! each RSU holds one range of tickets/rsus + 10 % numbers, sold in 5-ticket orders, 1 % voided,
//! the rest released. A fresh database (`rsu_t_…`, from DATABASE_URL) is dropped at the end.

use anyhow::Context;
use clap::Parser;
use server_stub::admin;
use server_stub::testkit::TestDb;
use std::time::Instant;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 200)]
    rsus: i64,
    #[arg(long, default_value_t = 1_000_000)]
    tickets: i64,
    /// Measured runs (each: the baseline, then the report).
    #[arg(long, default_value_t = 3)]
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

async fn run(db: &TestDb, args: &Args) -> anyhow::Result<()> {
    let pool = &db.pool;
    let t0 = Instant::now();
    let per_rsu = args.tickets / args.rsus / 5 * 5; // tickets sold per RSU
    let range = per_rsu + per_rsu / 10; // numbers allocated per RSU
    let (org, ev) = server_stub::testkit::bench_org_and_event(
        pool,
        "BENCH-REPORT",
        u64::try_from(range * args.rsus + 10).context("too many tickets")?,
    )
    .await?;
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
    let pkg: Uuid = serde_json::from_value(p["packageId"].clone())?;
    let mut sellers = Vec::new();
    for i in 0..4 {
        let v = admin::create_operator(
            pool,
            &admin::NewOperator {
                organization_id: org,
                name: format!("Seller {i}"),
                role: "seller".into(),
                pin: format!("{}", 1000 + i),
            },
        )
        .await
        .map_err(e)?;
        sellers.push(serde_json::from_value::<Uuid>(v["operatorId"].clone())?);
    }

    // RSUs, keys, epochs, allocations.
    let n = args.rsus;
    {
        sqlx::query(
            "INSERT INTO rsus (id, organization_id, rsu_no, name, state, current_epoch)
             SELECT gen_random_uuid(), $1, i, 'RSU-' || lpad(i::text, 3, '0'), 'active', 1
               FROM generate_series(1, $2::int) i",
        )
        .bind(org)
        .bind(n as i32)
        .execute(pool)
        .await?;
    }
    sqlx::query(
        "INSERT INTO rsu_keys (id, rsu_id, public_key, expires_at)
         SELECT gen_random_uuid(), r.id,
                decode(md5(r.id::text) || md5(r.id::text || 'k'), 'hex'), NOW() + INTERVAL '90 days'
           FROM rsus r WHERE r.organization_id = $1",
    )
    .bind(org)
    .execute(pool)
    .await?;
    // Per RSU: 1 shift, per_rsu / 5 sale entries + 1 rejected entry + 1 shift close entry.
    let orders_per = per_rsu / 5;
    sqlx::query(
        "INSERT INTO rsu_epochs (rsu_id, epoch, key_id, device_identifier, app_version, app_hash,
                                 last_seq, reported_last_seq, pending_count, last_heartbeat_at, last_push_at)
         SELECT r.id, 1, k.id, 'DEV-' || r.rsu_no, 'bench', repeat('0', 64), $2 + 2, $2 + 2, 0, NOW(), NOW()
           FROM rsus r JOIN rsu_keys k ON k.rsu_id = r.id WHERE r.organization_id = $1",
    )
    .bind(org)
    .bind(orders_per)
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO rsu_allocations (id, event_id, rsu_id, start_number, end_number, next_draw_number,
                                      total_tickets, state, tickets_available, released_from)
         SELECT gen_random_uuid(), $1, r.id, (r.rsu_no - 1) * $2 + 1, r.rsu_no * $2,
                (r.rsu_no - 1) * $2 + 1 + $3, $2, 'released', 0, (r.rsu_no - 1) * $2 + 1 + $3
           FROM rsus r WHERE r.organization_id = $4",
    )
    .bind(ev)
    .bind(range as i32)
    .bind(per_rsu as i32)
    .bind(org)
    .execute(pool)
    .await?;

    // Orders: per RSU orders_per five-ticket sales, one shift, alternate cash/card, 1 % voided.
    let has_org_col: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns
                         WHERE table_name = 'orders' AND column_name = 'organization_id')",
    )
    .fetch_one(pool)
    .await?;
    // orders.organization_id arrives with migration 0005 (issue 9); written when it exists.
    let (org_col, org_sel) = if has_org_col {
        (", organization_id", ", $6")
    } else {
        ("", "")
    };
    let sql = format!(
        "INSERT INTO orders (id, validation_number, event_id, package_id, rsu_id, rsu_allocation_id, unit_price,
                             total_amount, currency, payment_status, payment_method, ticket_count, source,
                             operator_id, shift_id, is_offline_sale, journal_epoch, journal_seq, sold_at,
                             sold_by, received_at, voided_at, voided_by, voided_reason{org_col})
         SELECT gen_random_uuid(), 'B' || r.rsu_no || '-2026-' || lpad(k::text, 6, '0') || '-X', $1, $2, r.id, a.id,
                2000, 2000, 'USD', 'completed', CASE WHEN k % 2 = 0 THEN 'cash' ELSE 'card' END, 5, 'rsu',
                ($4::uuid[])[1 + (r.rsu_no + k) % 4], md5(r.id::text)::uuid, TRUE, 1, k, NOW() - INTERVAL '1 hour',
                ($4::uuid[])[1 + (r.rsu_no + k) % 4], NOW(),
                CASE WHEN k % 100 = 0 THEN NOW() END, CASE WHEN k % 100 = 0 THEN ($4::uuid[])[1] END,
                CASE WHEN k % 100 = 0 THEN 'bench void' END{org_sel}
           FROM rsus r JOIN rsu_allocations a ON a.rsu_id = r.id AND a.event_id = $1,
                generate_series(1, $3::int) k
          WHERE r.organization_id = $5"
    );
    sqlx::query(&sql)
        .bind(ev)
        .bind(pkg)
        .bind(orders_per as i32)
        .bind(&sellers)
        .bind(org)
        .bind(org)
        .execute(pool)
        .await
        .context("orders")?;
    eprintln!("orders written ({:.1} s)", t0.elapsed().as_secs_f64());
    sqlx::query(
        "INSERT INTO tickets (id, event_id, draw_number, state, order_id)
         SELECT gen_random_uuid(), $1, a.start_number + (o.journal_seq - 1) * 5 + j,
                CASE WHEN o.voided_at IS NULL THEN 'sold' ELSE 'voided' END, o.id
           FROM orders o JOIN rsu_allocations a ON a.id = o.rsu_allocation_id,
                generate_series(0, 4) j
          WHERE o.event_id = $1",
    )
    .bind(ev)
    .execute(pool)
    .await
    .context("tickets")?;
    eprintln!("tickets written ({:.1} s)", t0.elapsed().as_secs_f64());
    // One sale entry per order, a rejected sale and a shift close per RSU.
    sqlx::query(
        "INSERT INTO device_journal (rsu_id, epoch, seq, entry_id, kind, created_at, payload, prev_hash, hash,
                                     status, key_id)
         SELECT o.rsu_id, 1, o.journal_seq, o.id, 'sale', o.sold_at,
                jsonb_build_object('localId', o.id, 'eventId', o.event_id, 'validationNumber', o.validation_number,
                                   'totalAmount', o.total_amount, 'saleSeq', o.journal_seq),
                decode(md5(o.id::text) || md5(o.id::text), 'hex'), decode(md5(o.id::text || 'h') || md5(o.id::text), 'hex'),
                'applied', e.key_id
           FROM orders o JOIN rsu_epochs e ON e.rsu_id = o.rsu_id AND e.epoch = 1
          WHERE o.event_id = $1",
    )
    .bind(ev)
    .execute(pool)
    .await
    .context("journal")?;
    sqlx::query(
        "INSERT INTO device_journal (rsu_id, epoch, seq, entry_id, kind, created_at, payload, prev_hash, hash,
                                     status, reason_code, reason_message, key_id, resolved_at, resolved_by_name, resolution_note)
         SELECT e.rsu_id, 1, $2 + 1, gen_random_uuid(), 'sale', NOW(),
                jsonb_build_object('eventId', $1::uuid, 'drawNumbers', jsonb_build_array(999999999)),
                decode(repeat('00', 32), 'hex'), decode(repeat('11', 32), 'hex'),
                'rejected', 'draw_number_not_allocated', 'bench', e.key_id, NOW(), 'bench', 'refunded'
           FROM rsu_epochs e JOIN rsus r ON r.id = e.rsu_id WHERE r.organization_id = $3",
    )
    .bind(ev)
    .bind(orders_per)
    .bind(org)
    .execute(pool)
    .await
    .context("rejected entries")?;
    sqlx::query(
        "INSERT INTO shift_closes (shift_id, rsu_id, epoch, seq, operator_id, closed_at, sales_count, sales_amount,
                                   voids_count, voids_amount, cash_expected, report)
         SELECT md5(r.id::text)::uuid, r.id, 1, $2 + 2, $4, NOW(), $2, $2 * 2000, 0, 0, 0,
                jsonb_build_object('lines', '[]'::jsonb, 'firstSeq', 1, 'lastSeq', $2)
           FROM rsus r WHERE r.organization_id = $3",
    )
    .bind(ev)
    .bind(orders_per)
    .bind(org)
    .bind(sellers[0])
    .execute(pool)
    .await
    .context("shift closes")?;
    sqlx::query("VACUUM ANALYZE").execute(pool).await?;
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets WHERE event_id = $1")
        .bind(ev)
        .fetch_one(pool)
        .await?;
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE event_id = $1")
        .bind(ev)
        .fetch_one(pool)
        .await?;
    eprintln!(
        "data ready: {n} RSUs, {tickets} tickets, {orders} orders, {range} numbers per RSU ({:.1} s)",
        t0.elapsed().as_secs_f64()
    );

    // Warm-up (both), then measured runs.
    let baseline = || async {
        let t = Instant::now();
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, count(*) FROM tickets WHERE event_id = $1 GROUP BY state",
        )
        .bind(ev)
        .fetch_all(pool)
        .await?;
        Ok::<_, anyhow::Error>((t.elapsed(), rows))
    };
    let report = || async {
        let t = Instant::now();
        let r = server_stub::report::event_report(pool, ev)
            .await
            .map_err(e)?;
        Ok::<_, anyhow::Error>((t.elapsed(), r))
    };
    baseline().await?;
    report().await?;
    println!("run  group_by_ms  report_ms  ratio");
    for i in 1..=args.runs {
        let (b, rows) = baseline().await?;
        let (r, rep) = report().await?;
        let total: i64 = rows.iter().map(|x| x.1).sum();
        let n = &rep.totals.numbers;
        anyhow::ensure!(
            total == tickets && n.sold + n.voided == tickets,
            "counts differ"
        );
        anyhow::ensure!(
            n.allocated
                == n.sold
                    + n.voided
                    + n.released
                    + n.resolved_rejected
                    + n.unaccounted
                    + n.excluded,
            "identity broken"
        );
        anyhow::ensure!(
            rep.status == "reconciled",
            "report not reconciled: {:?}",
            rep.blocking.first()
        );
        println!(
            "{i:>3}  {:>11.1}  {:>9.1}  {:>5.2}",
            b.as_secs_f64() * 1000.0,
            r.as_secs_f64() * 1000.0,
            r.as_secs_f64() / b.as_secs_f64()
        );
    }
    // Where the report's time goes: its two big statements alone, in the same settings.
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL parallel_setup_cost = 0")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SET LOCAL parallel_tuple_cost = 0")
        .execute(&mut *tx)
        .await?;
    let t = Instant::now();
    let blocks: Vec<(i32, i64, i64)> = sqlx::query_as(
        "SELECT draw_number / 64, count(*) FILTER (WHERE state <> 'voided'),
                count(*) FILTER (WHERE state = 'voided') FROM tickets WHERE event_id = $1 GROUP BY 1",
    )
    .bind(ev)
    .fetch_all(&mut *tx)
    .await?;
    let tb = t.elapsed();
    let t = Instant::now();
    let groups: Vec<(Option<Uuid>, i64)> = sqlx::query_as(
        "SELECT rsu_id, count(*) FROM orders WHERE event_id = $1
          GROUP BY rsu_id, payment_method, COALESCE(sold_by, operator_id), shift_id, is_late, voided_at IS NOT NULL",
    )
    .bind(ev)
    .fetch_all(&mut *tx)
    .await?;
    let to = t.elapsed();
    tx.commit().await?;
    println!(
        "breakdown: tickets per block {:.1} ms ({} rows), orders aggregate {:.1} ms ({} rows)",
        tb.as_secs_f64() * 1000.0,
        blocks.len(),
        to.as_secs_f64() * 1000.0,
        groups.len()
    );
    Ok(())
}
