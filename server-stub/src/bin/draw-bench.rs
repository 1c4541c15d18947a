//! Draw benchmark (not a test): the draw over N eligible tickets (eligible set, checksum,
//! winners, writes, event → completed) timed against `SELECT draw_number … ORDER BY
//! draw_number` of the same set in the same run, then the export and `verify-draw` of the file.
//!
//! `cargo run --release -p server-stub --bin draw-bench -- [--tickets 100000 --runs 3]`
//! (`--tickets 10000000` for the 10 M figure).
//!
//! The data is written with set-based SQL straight into the tables the push writes: RSUs with
//! one allocation each, five-ticket orders, 1 % voided, ids ascending like the UUIDv7 ids the
//! server writes (random ids made loading 10 M tickets take over 20 minutes here); three prizes (the 50/50 share and two
//! fixed prizes of 10 winners). Between runs the draw is undone (results, execution, ticket
//! states, event state) so each run draws the same set again. A fresh database (`rsu_t_…`, from
//! DATABASE_URL) is dropped at the end.

use anyhow::Context;
use clap::Parser;
use server_stub::admin;
use server_stub::draw::{self, cli, verify};
use server_stub::testkit::TestDb;
use std::time::Instant;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// Tickets sold (a multiple of 5; 1 % of them voided).
    #[arg(long, default_value_t = 100_000)]
    tickets: i64,
    #[arg(long, default_value_t = 20)]
    rsus: i64,
    /// Measured runs (each: the baseline, then the draw).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Keep the database and the exported file afterwards.
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

async fn setup(db: &TestDb, args: &Args) -> anyhow::Result<Uuid> {
    let pool = &db.pool;
    let t0 = Instant::now();
    let per_rsu = args.tickets / args.rsus / 5 * 5;
    let (org, ev) = server_stub::testkit::bench_org_and_event(
        pool,
        "BENCH-DRAW",
        (per_rsu * args.rsus + 10) as u64,
    )
    .await?;
    for (name, kind, value, bp, pos, n) in [
        ("50/50 Winner", "percentage", None, Some(5000), 1, 1),
        ("Early bird", "fixed", Some(10_000), None, 2, 10),
        ("Hamper", "fixed", Some(5_000), None, 3, 10),
    ] {
        admin::create_prize(
            pool,
            &admin::NewPrize {
                event_id: ev,
                name: name.into(),
                kind: kind.into(),
                value,
                percentage_bp: bp,
                position: pos,
                winner_count: n,
            },
        )
        .await
        .map_err(e)?;
    }
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
        "INSERT INTO rsu_allocations (id, event_id, rsu_id, start_number, end_number, next_draw_number,
                                      total_tickets, state, tickets_available)
         SELECT gen_random_uuid(), $1, r.id, (r.rsu_no - 1) * $2 + 1, r.rsu_no * $2,
                r.rsu_no * $2 + 1, $2, 'exhausted', 0
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
                NOW() - INTERVAL '1 hour', NOW(),
                CASE WHEN k % 100 = 0 THEN NOW() END, CASE WHEN k % 100 = 0 THEN 'bench void' END, $3, k
           FROM rsus r JOIN rsu_allocations a ON a.rsu_id = r.id AND a.event_id = $1,
                generate_series(1, $2::int) k
          WHERE r.organization_id = $3",
    )
    .bind(ev)
    .bind((per_rsu / 5) as i32)
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
    // Straight to drawing_ready with a committed seed (the gate's work is report-bench's).
    let mut tx = pool.begin().await?;
    draw::commit_seed(&mut tx, ev).await.map_err(e)?;
    sqlx::query("UPDATE events SET state = 'drawing_ready', sales_closed_at = NOW() WHERE id = $1")
        .bind(ev)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    sqlx::query("VACUUM ANALYZE").execute(pool).await?;
    eprintln!("data ready ({:.1} s)", t0.elapsed().as_secs_f64());
    Ok(ev)
}

/// Undoes the draw so the next run draws the same set again.
async fn undo(pool: &sqlx::PgPool, ev: Uuid) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE tickets SET state = 'sold' WHERE event_id = $1 AND state = 'winner'")
        .bind(ev)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM draw_executions WHERE event_id = $1")
        .bind(ev)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE events SET state = 'drawing_ready' WHERE id = $1")
        .bind(ev)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE event_draw_seeds SET revealed_at = NULL WHERE event_id = $1")
        .bind(ev)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn run(db: &TestDb, args: &Args) -> anyhow::Result<()> {
    let pool = &db.pool;
    let ev = setup(db, args).await?;
    let baseline = || async {
        let t = Instant::now();
        let rows: Vec<i32> = sqlx::query_scalar(
            "SELECT draw_number FROM tickets WHERE event_id = $1 AND state <> 'voided' ORDER BY draw_number",
        )
        .bind(ev)
        .fetch_all(pool)
        .await?;
        Ok::<_, anyhow::Error>((t.elapsed(), rows.len()))
    };
    let draw_once = |beacon: String| async move {
        let t = Instant::now();
        let v = draw::run_draw(
            pool,
            &draw::DrawRequest {
                event_id: ev,
                beacon: Some(&beacon),
                by: "bench",
            },
        )
        .await
        .map_err(e)?;
        Ok::<_, anyhow::Error>((t.elapsed(), v))
    };
    // Warm-up: one of each.
    baseline().await?;
    draw_once("warm-up".into()).await?;
    undo(pool, ev).await?;
    println!("run  select_order_by_ms  draw_ms  ratio  eligible");
    let mut last = None;
    for i in 1..=args.runs {
        let (b, n) = baseline().await?;
        let (d, v) = draw_once(format!("run {i}")).await?;
        anyhow::ensure!(v["ticketCount"].as_u64() == Some(n as u64), "counts differ");
        println!(
            "{i:>3}  {:>18.1}  {:>7.1}  {:>5.2}  {n}",
            b.as_secs_f64() * 1000.0,
            d.as_secs_f64() * 1000.0,
            d.as_secs_f64() / b.as_secs_f64()
        );
        if i < args.runs {
            undo(pool, ev).await?;
        }
        last = Some(v);
    }
    let last = last.context("no run")?;
    // Export, then verify-draw on the file (what the binary does: read, parse, verify).
    let dir = std::env::temp_dir().join(format!("draw-bench-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("draw.json");
    let t = Instant::now();
    let file = draw::export(pool, ev).await.map_err(e)?;
    let bytes = cli::write_file(&path, &file).map_err(e)?;
    let te = t.elapsed();
    drop(file);
    let t = Instant::now();
    let file = cli::read_file(&path)?;
    let tr = t.elapsed();
    let t = Instant::now();
    let diffs = verify::verify(&file);
    let tv = t.elapsed();
    anyhow::ensure!(diffs.is_empty(), "verify-draw: {diffs:?}");
    anyhow::ensure!(
        file.checksum == last["checksum"].as_str().unwrap_or(""),
        "export differs from the draw"
    );
    println!(
        "export {:.1} ms ({:.1} MB); verify-draw {:.1} ms (read and parse {:.1} ms, verify {:.1} ms): valid",
        te.as_secs_f64() * 1000.0,
        bytes as f64 / 1e6,
        (tr + tv).as_secs_f64() * 1000.0,
        tr.as_secs_f64() * 1000.0,
        tv.as_secs_f64() * 1000.0
    );
    if args.keep {
        println!("file kept: {}", path.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
