//! Ingest benchmark (not a test): many simulated devices push batches of 5-ticket sales to a real
//! server over loopback; compared, in the same run and the same database, with PostgreSQL `COPY`
//! of the same rows into the same tables and with one INSERT per row.
//!
//! `cargo run --release -p server-stub --bin server-bench -- --devices 100`
//!
//! Every baseline writes the rows the push writes for the same sales: one `device_journal` row
//! with the sale's own payload, one `orders` row with the same columns (package, allocation,
//! operator, …, so the same foreign keys are checked) and five `tickets`, into a baseline event of
//! the same organization (its own package and allocations, same draw numbers), for the same
//! devices. The COPY baseline uses the push's batch size and the server's connection count, one
//! transaction per batch. The naive baseline is what an ordinary client does: one INSERT
//! statement per row (journal row, order, each ticket), one transaction per sale; it runs at the
//! server's connection count (so it gets the same parallelism and group commit) and on one
//! connection, and both are printed.
//!
//! Why this file is over 800 lines: a self-contained benchmark binary (setup, three measured paths, report); it is built only with the `testkit` feature (`required-features`), never in the product.

use anyhow::Context;
use clap::Parser;
use rsu_core::journal::{EntryKind, JournalEntry};
use rsu_core::payload::SalePayload;
use rsu_core::wire;
use serde_json::Value;
use server_stub::admin;
use server_stub::copy::CopyBuf;
use server_stub::testkit::{http_request_full, Pkg, TestDb, TestDevice, TestServer};
use server_stub::AppState;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// Concurrent simulated devices (50–200).
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Sales per push (each sale is 5 tickets); rsu-syncd's default batch_size is 500.
    #[arg(long, default_value_t = 500)]
    sales_per_batch: usize,
    /// Pushes per device.
    #[arg(long, default_value_t = 2)]
    batches: usize,
    /// Tickets loaded before measuring (realistic table sizes), via COPY.
    #[arg(long, default_value_t = 0)]
    preload_tickets: usize,
    /// Connections of the server's pool (and of the COPY / concurrent naive baselines).
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// Share of the sales the naive baseline at full concurrency writes (1 in N).
    #[arg(long, default_value_t = 10)]
    naive_fraction: usize,
    /// Share of the sales the single-connection naive baseline writes (1 in N).
    #[arg(long, default_value_t = 50)]
    naive1_fraction: usize,
    /// Keep the database afterwards.
    #[arg(long)]
    keep: bool,
    /// Send every push at --sales-per-batch sales, ignoring the server's `X-Rsu-Batch-Max` (how
    /// devices pushed before batches were sized to the server's queue).
    #[arg(long)]
    fixed_batches: bool,
}

struct Dev {
    device: TestDevice,
    /// Every entry the device pushes, in seq order; cut into batches as the pushes go.
    entries: Vec<JournalEntry>,
    sales: Vec<Vec<SalePayload>>,
}

/// A baseline event: its id, its 5-ticket package, and each device's allocation in it.
struct Base {
    org: Uuid,
    event: Uuid,
    package: Uuid,
    allocations: HashMap<Uuid, Uuid>,
}

/// Wall time and CPU seconds of one phase.
struct Phase {
    secs: f64,
    pg_cpu: f64,
    bench_cpu: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = TestDb::create().await?;
    eprintln!("database {}", db.name);
    let pool = db.pool.clone();
    let (org, event, pkg, seller) = setup(&pool).await?;
    let per_device = args.sales_per_batch * args.batches * 5;
    let load_start = loadavg();

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
        device.refresh_allocations(&pool).await?;
        device.next_number = start;
        let mut all = vec![];
        let mut sales = vec![];
        for _ in 0..args.batches {
            let mut batch_sales = vec![];
            let entries: Vec<JournalEntry> = (0..args.sales_per_batch)
                .map(|_| {
                    let nums = device.take_numbers(5);
                    let s = device.sale_payload(event, &pkg, nums, seller);
                    let v = serde_json::to_value(&s).unwrap_or(Value::Null);
                    batch_sales.push(s);
                    device.entry(EntryKind::Sale, v)
                })
                .collect();
            all.extend(entries);
            sales.push(batch_sales);
        }
        devs.push(Dev {
            device,
            entries: all,
            sales,
        });
    }
    let total_tickets = args.devices * per_device;
    let bases = base_events(&pool, org, &devs, per_device).await?;

    if args.preload_tickets > 0 {
        eprintln!("preloading {} tickets…", args.preload_tickets);
        let t = Instant::now();
        preload(&pool, org, args.preload_tickets).await?;
        eprintln!("  preloaded in {:.1} s", t.elapsed().as_secs_f64());
    }
    let devs = Arc::new(devs);
    let conns = args.connections as usize;

    // Baseline 1: COPY of the same rows (journal, orders, tickets) into the same tables.
    let copy1 = measure(
        &pool,
        &db.name,
        copy_rows(&pool, &devs, &bases[0], conns, 1),
    )
    .await?;
    report("COPY (before)", total_tickets, &copy1);

    // The server on a real socket.
    let server_pool = server_stub::db::connect(&db.url, args.connections).await?;
    let state = AppState::new(server_pool, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let gate = state.push_gate.clone();
    let server = TestServer::spawn(state).await?;

    let stats = Arc::new(std::sync::Mutex::new(PushStats::default()));
    let push = Pushing {
        addr: server.addr,
        most: args.sales_per_batch,
        sized: !args.fixed_batches,
    };
    let counted =
        |f: std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<PushStats>>>>| {
            let stats = stats.clone();
            async move {
                let s = f.await?;
                if let Ok(mut all) = stats.lock() {
                    all.add(s);
                }
                Ok(())
            }
        };
    let ours = measure(
        &pool,
        &db.name,
        counted(Box::pin(run_pushes(devs.clone(), push, "applied"))),
    )
    .await?;
    report("server push", total_tickets, &ours);
    let first = stats
        .lock()
        .map(|s| s.clone())
        .map_err(|_| anyhow::anyhow!("push stats poisoned"))?;
    first.print(args.devices, gate.permits(), gate.mean_push());
    // The pre-draw crunch ends with the reconciliation report of the event the devices sold for:
    // how long the manager waits, after the last push, to see every sale reconciled.
    let t = Instant::now();
    let rep = server_stub::report::event_report(&pool, event)
        .await
        .map_err(|e| anyhow::anyhow!("the reconciliation report failed: {e}"))?;
    let report_secs = t.elapsed().as_secs_f64();
    println!(
        "reconciliation report of the event: {report_secs:.2} s ({} bytes of JSON); push + report {:.1} s",
        serde_json::to_vec(&rep).map(|v| v.len()).unwrap_or(0),
        ours.secs + report_secs
    );
    let retry = measure(
        &pool,
        &db.name,
        counted(Box::pin(run_pushes(devs.clone(), push, "duplicate"))),
    )
    .await?;
    report("server push, retries", total_tickets, &retry);
    println!(
        "503 answers (admission control or pool timeout), each retried: {} over {} pushes",
        stats.lock().map(|s| s.busy).unwrap_or(0),
        stats.lock().map(|s| s.waits.len()).unwrap_or(0)
    );
    server.stop().await;

    let copy2 = measure(
        &pool,
        &db.name,
        copy_rows(&pool, &devs, &bases[1], conns, 2),
    )
    .await?;
    report("COPY (after)", total_tickets, &copy2);

    // Baseline 2: one INSERT per row, one transaction per sale, on a share of the sales.
    let naive_sales = (total_tickets / 5 / args.naive_fraction.max(1)).max(100);
    let naive = measure(
        &pool,
        &db.name,
        naive_inserts(&pool, &devs, &bases[2], naive_sales, conns, 3),
    )
    .await?;
    report(
        &format!("naive, {conns} connections"),
        naive_sales * 5,
        &naive,
    );
    let naive1_sales = (total_tickets / 5 / args.naive1_fraction.max(1)).max(50);
    let naive1 = measure(
        &pool,
        &db.name,
        naive_inserts(&pool, &devs, &bases[3], naive1_sales, 1, 4),
    )
    .await?;
    report("naive, 1 connection", naive1_sales * 5, &naive1);
    let load_end = loadavg();

    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE event_id = $1")
        .bind(event)
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(
        orders as usize == total_tickets / 5,
        "expected {} orders, found {orders}",
        total_tickets / 5
    );

    let rate = |n: usize, p: &Phase| n as f64 / p.secs;
    let ours_rate = rate(total_tickets, &ours);
    let retry_rate = rate(total_tickets, &retry);
    let copy1_rate = rate(total_tickets, &copy1);
    let copy2_rate = rate(total_tickets, &copy2);
    let copy = (copy1_rate + copy2_rate) / 2.0;
    let naive_rate = rate(naive_sales * 5, &naive);
    let naive1_rate = rate(naive1_sales * 5, &naive1);
    println!(
        "devices={} batch={} sales ({} tickets) pushes/device={} tickets={} preload={} connections={} load average {} -> {}",
        args.devices,
        args.sales_per_batch,
        args.sales_per_batch * 5,
        args.batches,
        total_tickets,
        args.preload_tickets,
        args.connections,
        load_start,
        load_end,
    );
    println!(
        "server push:      {:>9.0} tickets/s   PostgreSQL CPU {:>5.1} ms, bench process CPU {:>5.1} ms per 1000 tickets",
        ours_rate,
        1e6 * ours.pg_cpu / total_tickets as f64,
        1e6 * ours.bench_cpu / total_tickets as f64
    );
    println!(
        "COPY baseline:    {:>9.0} tickets/s   (mean of before {:.0} and after {:.0}; PostgreSQL CPU {:.1} ms per 1000 tickets)",
        copy,
        copy1_rate,
        copy2_rate,
        1e6 * (copy1.pg_cpu + copy2.pg_cpu) / (2 * total_tickets) as f64
    );
    println!(
        "naive INSERT:     {:>9.0} tickets/s   ({} connections, one INSERT per journal row, order and ticket, one transaction per sale; PostgreSQL CPU {:.1} ms per 1000 tickets)",
        naive_rate,
        conns,
        1e6 * naive.pg_cpu / (naive_sales * 5) as f64
    );
    println!(
        "naive INSERT:     {:>9.0} tickets/s   (the same on 1 connection)",
        naive1_rate
    );
    println!("all-retry push:   {:>9.0} tickets/s", retry_rate);
    println!("ratio push/COPY:  {:.2}  (goal >= 0.70)", ours_rate / copy);
    println!(
        "ratio push/naive: {:.1}x at {} connections (goal >= 10x), {:.1}x against 1 connection",
        ours_rate / naive_rate,
        conns,
        ours_rate / naive1_rate
    );
    println!("ratio retry/COPY: {:.2}", retry_rate / copy);

    if !args.keep {
        db.drop_db().await;
    }
    Ok(())
}

fn report(what: &str, tickets: usize, p: &Phase) {
    eprintln!(
        "{what:<24} {:>9.0} tickets/s  ({:.2} s; CPU: PostgreSQL {:.2} s, bench {:.2} s)",
        tickets as f64 / p.secs,
        p.secs,
        p.pg_cpu,
        p.bench_cpu
    );
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// utime + stime of a process in seconds (Linux, 100 ticks/s); 0 where unavailable.
fn proc_cpu(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds used so far by each PostgreSQL backend connected to `db` (same host only).
async fn pg_cpu(pool: &PgPool, db: &str) -> HashMap<i32, f64> {
    let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = $1")
        .bind(db)
        .fetch_all(pool)
        .await
        .unwrap_or_default();
    pids.into_iter()
        .map(|p| (p, proc_cpu(&p.to_string())))
        .collect()
}

/// Runs one phase and measures its wall time, the CPU time of this process and that of the
/// backends of the database that are still connected at its end (backends that closed during
/// the phase are left out).
async fn measure(
    pool: &PgPool,
    db: &str,
    f: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<Phase> {
    let pg0 = pg_cpu(pool, db).await;
    let me0 = proc_cpu("self");
    let t = Instant::now();
    f.await?;
    let secs = t.elapsed().as_secs_f64();
    let bench_cpu = proc_cpu("self") - me0;
    let pg_cpu = pg_cpu(pool, db)
        .await
        .into_iter()
        .map(|(pid, cpu)| cpu - pg0.get(&pid).copied().unwrap_or(0.0))
        .sum();
    Ok(Phase {
        secs,
        pg_cpu,
        bench_cpu,
    })
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
    let mut first = None;
    for ident in ["BENCH", "BASE-1", "BASE-2", "BASE-3", "BASE-4", "PRELOAD"] {
        let ev = admin::create_event(pool, &mk(ident)).await.map_err(e)?;
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
        admin::create_prize(
            pool,
            &admin::NewPrize {
                event_id: ev,
                name: "50/50".into(),
                kind: "percentage".into(),
                value: None,
                percentage_bp: Some(5000),
                position: 1,
                winner_count: 1,
            },
        )
        .await
        .map_err(e)?;
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
        first.get_or_insert((ev, pid));
    }
    let (ev, pid) = first.context("no event")?;
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

/// The baseline events BASE-1..4, each with every device's allocation over the same numbers as
/// in the benchmark event.
async fn base_events(
    pool: &PgPool,
    org: Uuid,
    devs: &[Dev],
    per_device: usize,
) -> anyhow::Result<Vec<Base>> {
    let rsus: Vec<Uuid> = devs.iter().map(|d| d.device.rsu_id).collect();
    let starts: Vec<i32> = (0..devs.len())
        .map(|i| 1 + (i * per_device) as i32)
        .collect();
    let ends: Vec<i32> = starts.iter().map(|s| s + per_device as i32 - 1).collect();
    let mut out = vec![];
    for ident in ["BASE-1", "BASE-2", "BASE-3", "BASE-4"] {
        let (event, package): (Uuid, Uuid) = sqlx::query_as(
            "SELECT e.id, p.id FROM events e JOIN ticket_packages p ON p.event_id = e.id
              WHERE e.organization_id = $1 AND e.event_identifier = $2",
        )
        .bind(org)
        .bind(ident)
        .fetch_one(pool)
        .await?;
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "INSERT INTO rsu_allocations (event_id, rsu_id, start_number, end_number, next_draw_number,
                                          total_tickets, state, tickets_available)
             SELECT $1, x.rsu, x.s, x.e, x.s, x.e - x.s + 1, 'active', x.e - x.s + 1
               FROM UNNEST($2::uuid[], $3::int4[], $4::int4[]) AS x(rsu, s, e)
             RETURNING rsu_id, id",
        )
        .bind(event)
        .bind(&rsus)
        .bind(&starts)
        .bind(&ends)
        .fetch_all(pool)
        .await?;
        out.push(Base {
            org,
            event,
            package,
            allocations: rows.into_iter().collect(),
        });
    }
    Ok(out)
}

/// How the simulated devices push.
#[derive(Clone, Copy)]
struct Pushing {
    addr: std::net::SocketAddr,
    /// The device's own batch size (rsu-syncd's `batch_size`).
    most: usize,
    /// Send no more than the server's last `X-Rsu-Batch-Max`, as rsu-syncd does.
    sized: bool,
}

/// What the devices saw while pushing.
#[derive(Clone, Default)]
struct PushStats {
    /// 503 answers, each followed by the same batch after `Retry-After`.
    busy: u64,
    /// Per acknowledged push: seconds from its first send to its 200 (queue, 503 waits, work).
    waits: Vec<f64>,
    /// Entries per acknowledged push.
    sizes: Vec<usize>,
    /// Per device: seconds from the start until its last push was acknowledged.
    done: Vec<f64>,
}

impl PushStats {
    fn add(&mut self, o: PushStats) {
        self.busy += o.busy;
        self.waits.extend(o.waits);
        self.sizes.extend(o.sizes);
        self.done.extend(o.done);
    }

    /// The longest wait of one push, against what the queue needs: at the start every device
    /// asks at once, so the last one in line waits for ⌈devices ÷ permits⌉ pushes ahead of it.
    fn print(&self, devices: usize, permits: usize, mean_push: std::time::Duration) {
        let mut w = self.waits.clone();
        w.sort_by(f64::total_cmp);
        let pct = |p: f64| w.get(((w.len() as f64 * p) as usize).min(w.len().saturating_sub(1)));
        let mut sizes = self.sizes.clone();
        sizes.sort_unstable();
        let needs = devices.div_ceil(permits.max(1)) as f64 * mean_push.as_secs_f64();
        println!(
            "pushes: {} (entries each: min {}, median {}, max {}); 503 answers {}",
            w.len(),
            sizes.first().unwrap_or(&0),
            sizes.get(sizes.len() / 2).unwrap_or(&0),
            sizes.last().unwrap_or(&0),
            self.busy
        );
        println!(
            "one push, first send to acknowledged: p50 {:.2} s, p99 {:.2} s, longest {:.2} s; the queue needs {:.2} s ({} devices / {} permits x {:.2} s mean push); longest / needed {:.2}",
            pct(0.5).unwrap_or(&0.0),
            pct(0.99).unwrap_or(&0.0),
            w.last().unwrap_or(&0.0),
            needs,
            devices,
            permits,
            mean_push.as_secs_f64(),
            w.last().unwrap_or(&0.0) / needs.max(1e-9),
        );
        let last = self.done.iter().copied().fold(0.0, f64::max);
        let first = self.done.iter().copied().fold(f64::MAX, f64::min);
        println!("devices finished between {first:.1} s and {last:.1} s");
    }
}

/// Pushes every device's entries at once, in batches of at most `most` entries (and, when
/// `sized`, at most what the server's last answer asked for). A 503 (the server's admission
/// control, or the database pool timing out) is counted and the batch sent again after the
/// server's `Retry-After`, as rsu-syncd does; anything else non-200 aborts.
async fn run_pushes(
    devs: Arc<Vec<Dev>>,
    how: Pushing,
    expect: &'static str,
) -> anyhow::Result<PushStats> {
    let started = Instant::now();
    let mut tasks = vec![];
    for i in 0..devs.len() {
        let devs = devs.clone();
        tasks.push(tokio::spawn(async move {
            let d = &devs[i];
            let mut stats = PushStats::default();
            let mut size = how.most;
            let mut at = 0;
            while at < d.entries.len() {
                let n = size.min(d.entries.len() - at);
                let b = d.device.push_body(&d.entries[at..at + n])?;
                let t = Instant::now();
                let (st, headers, v) = loop {
                    let headers = d.device.signed_headers("POST", wire::PATH_JOURNAL, &b)?;
                    let (st, h, v) =
                        http_request_full(how.addr, "POST", wire::PATH_JOURNAL, &headers, &b)
                            .await?;
                    if st != 503 {
                        break (st, h, v);
                    }
                    stats.busy += 1;
                    let secs = header(&h, "retry-after").unwrap_or(1);
                    tokio::time::sleep(std::time::Duration::from_secs(secs as u64)).await;
                };
                anyhow::ensure!(st == 200, "push answered {st}: {v}");
                let ok = v["results"]
                    .as_array()
                    .is_some_and(|r| r.len() == n && r.iter().all(|r| r["status"] == expect));
                anyhow::ensure!(
                    ok,
                    "not every entry was {expect}: {}",
                    &v.to_string()[..300.min(v.to_string().len())]
                );
                stats.waits.push(t.elapsed().as_secs_f64());
                stats.sizes.push(n);
                at += n;
                if how.sized {
                    size = header(&headers, wire::HEADER_BATCH_MAX)
                        .map_or(how.most, |m| m.clamp(1, how.most));
                }
            }
            stats.done.push(started.elapsed().as_secs_f64());
            Ok::<PushStats, anyhow::Error>(stats)
        }));
    }
    let mut all = PushStats::default();
    for t in tasks {
        all.add(t.await??);
    }
    Ok(all)
}

/// A numeric header of an answer.
fn header(h: &[(String, String)], name: &str) -> Option<usize> {
    h.iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
}

/// One baseline row set for a sale: its journal row, order and tickets, exactly as the server
/// writes them (`ingest/write.rs`), moved to the baseline event with fresh ids.
struct RowSale {
    journal_id: Uuid,
    seq: i64,
    sale: SalePayload,
    payload: Value,
    allocation: Uuid,
    org: Uuid,
}

fn row_sale(d: &Dev, base: &Base, tag: u32, batch: usize, i: usize) -> anyhow::Result<RowSale> {
    let mut sale = d.sales[batch][i].clone();
    sale.local_id = Uuid::now_v7();
    sale.event_id = base.event;
    sale.package_id = base.package;
    sale.validation_number = format!("B{tag}-{}", sale.validation_number);
    let payload = serde_json::to_value(&sale)?;
    let allocation = *base
        .allocations
        .get(&d.device.rsu_id)
        .context("no baseline allocation")?;
    Ok(RowSale {
        journal_id: Uuid::now_v7(),
        // The journal's key is (rsu, epoch, seq): each baseline gets its own seq range.
        seq: 10_000_000 * i64::from(tag) + (batch * d.sales[batch].len() + i) as i64 + 1,
        sale,
        payload,
        allocation,
        org: base.org,
    })
}

/// COPY of every device's batches (same sales, same batch size) into the baseline event, over
/// `conns` connections, one transaction per batch.
async fn copy_rows(
    pool: &PgPool,
    devs: &Arc<Vec<Dev>>,
    base: &Base,
    conns: usize,
    tag: u32,
) -> anyhow::Result<()> {
    let nb = devs.first().map_or(0, |d| d.sales.len());
    let jobs = devs.len() * nb;
    let next = Arc::new(AtomicUsize::new(0));
    let base = Arc::new(Base {
        org: base.org,
        event: base.event,
        package: base.package,
        allocations: base.allocations.clone(),
    });
    let mut tasks = vec![];
    for _ in 0..conns.max(1) {
        let (pool, next, devs, base) = (pool.clone(), next.clone(), devs.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let job = next.fetch_add(1, Ordering::SeqCst);
                if job >= jobs {
                    return Ok::<(), anyhow::Error>(());
                }
                let (d, b) = (&devs[job % devs.len()], job / devs.len());
                let now = chrono::Utc::now();
                let mut j = CopyBuf::new();
                let mut o = CopyBuf::new();
                let mut t = CopyBuf::new();
                for i in 0..d.sales[b].len() {
                    let r = row_sale(d, &base, tag, b, i)?;
                    journal_row(&mut j, d, &r, &now);
                    order_row(&mut o, d, &r, &now);
                    for n in &r.sale.draw_numbers {
                        t.uuid(Uuid::now_v7())
                            .uuid(base.event)
                            .int(*n)
                            .text("sold")
                            .uuid(r.sale.local_id);
                        t.end_row();
                    }
                }
                let mut tx = pool.begin().await?;
                for (stmt, buf) in [
                    ("COPY device_journal (rsu_id, epoch, seq, entry_id, kind, created_at, payload, prev_hash, hash, status, reason_code, reason_message, flags, key_id, received_at) FROM STDIN", j),
                    ("COPY orders (id, validation_number, event_id, package_id, rsu_id, rsu_allocation_id, unit_price, total_amount, currency, payment_status, payment_method, payment_reference, ticket_count, customer_info, source, operator_id, shift_id, is_offline_sale, offline_sync_status, journal_epoch, journal_seq, is_late, sold_at, sold_by, received_at, organization_id, sale_seq) FROM STDIN", o),
                    ("COPY tickets (id, event_id, draw_number, state, order_id) FROM STDIN", t),
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
    Ok(())
}

fn journal_row(j: &mut CopyBuf, d: &Dev, r: &RowSale, now: &chrono::DateTime<chrono::Utc>) {
    j.uuid(d.device.rsu_id)
        .int(d.device.epoch)
        .int(r.seq)
        .uuid(r.journal_id)
        .text("sale")
        .ts(now)
        .json(&r.payload)
        .bytea(&[0u8; 32])
        .bytea(&[1u8; 32])
        .text("applied")
        .null()
        .null()
        .words(&[])
        .uuid(d.device.key_id)
        .ts(now);
    j.end_row();
}

fn order_row(o: &mut CopyBuf, d: &Dev, r: &RowSale, now: &chrono::DateTime<chrono::Utc>) {
    let s = &r.sale;
    o.uuid(s.local_id)
        .text(&s.validation_number)
        .uuid(s.event_id)
        .uuid(s.package_id)
        .uuid(d.device.rsu_id)
        .uuid(r.allocation)
        .int(s.unit_price)
        .int(s.total_amount)
        .text(&s.currency)
        .text("completed")
        .text(s.payment.method.as_str())
        .opt_text(s.payment.reference.as_deref())
        .int(i64::from(s.ticket_count))
        .null()
        .text("rsu")
        .uuid(s.operator_id)
        .opt_uuid(s.shift_id)
        .bool(true)
        .text("synced")
        .int(d.device.epoch)
        .int(r.seq)
        .bool(false)
        .ts(&s.sold_at)
        .uuid(s.operator_id)
        .ts(now)
        .uuid(r.org)
        // The baseline rows' own sale seqs (the RSU's real ones are taken by its pushes).
        .int(r.seq);
    o.end_row();
}

/// What an ordinary client does: for each sale, one transaction with one INSERT for its journal
/// row, one for its order and one per ticket (parameterized statements, prepared once per
/// connection by the driver), over `conns` connections. The first `sales` sales, spread over
/// the devices.
async fn naive_inserts(
    pool: &PgPool,
    devs: &Arc<Vec<Dev>>,
    base: &Base,
    sales: usize,
    conns: usize,
    tag: u32,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let base = Arc::new(Base {
        org: base.org,
        event: base.event,
        package: base.package,
        allocations: base.allocations.clone(),
    });
    let mut tasks = vec![];
    for _ in 0..conns.max(1) {
        let (pool, next, devs, base) = (pool.clone(), next.clone(), devs.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let job = next.fetch_add(1, Ordering::SeqCst);
                if job >= sales {
                    return Ok::<(), anyhow::Error>(());
                }
                let d = &devs[job % devs.len()];
                let k = job / devs.len();
                let per = d.sales.first().map_or(1, |b| b.len().max(1));
                let r = row_sale(d, &base, tag, k / per, k % per)?;
                let s = &r.sale;
                let now = chrono::Utc::now();
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO device_journal (rsu_id, epoch, seq, entry_id, kind, created_at, payload, prev_hash, hash,
                                                 status, reason_code, reason_message, flags, key_id, received_at)
                     VALUES ($1, $2, $3, $4, 'sale', $5, $6, $7, $8, 'applied', NULL, NULL, '{}', $9, $10)",
                )
                .bind(d.device.rsu_id)
                .bind(d.device.epoch as i32)
                .bind(r.seq)
                .bind(r.journal_id)
                .bind(now)
                .bind(&r.payload)
                .bind(&[0u8; 32][..])
                .bind(&[1u8; 32][..])
                .bind(d.device.key_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO orders (id, validation_number, event_id, package_id, rsu_id, rsu_allocation_id, unit_price,
                                         total_amount, currency, payment_status, payment_method, payment_reference, ticket_count,
                                         customer_info, source, operator_id, shift_id, is_offline_sale, offline_sync_status,
                                         journal_epoch, journal_seq, is_late, sold_at, sold_by, received_at,
                                         organization_id, sale_seq)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'completed', $10, $11, $12, NULL, 'rsu', $13, $14, TRUE,
                             'synced', $15, $16, FALSE, $17, $13, $18, $19, $16)",
                )
                .bind(s.local_id)
                .bind(&s.validation_number)
                .bind(s.event_id)
                .bind(s.package_id)
                .bind(d.device.rsu_id)
                .bind(r.allocation)
                .bind(s.unit_price)
                .bind(s.total_amount)
                .bind(&s.currency)
                .bind(s.payment.method.as_str())
                .bind(s.payment.reference.as_deref())
                .bind(s.ticket_count as i32)
                .bind(s.operator_id)
                .bind(s.shift_id)
                .bind(d.device.epoch as i32)
                .bind(r.seq)
                .bind(s.sold_at)
                .bind(now)
                .bind(r.org)
                .execute(&mut *tx)
                .await?;
                for n in &s.draw_numbers {
                    sqlx::query(
                        "INSERT INTO tickets (id, event_id, draw_number, state, order_id) VALUES ($1, $2, $3, 'sold', $4)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(base.event)
                    .bind(i32::try_from(*n)?)
                    .bind(s.local_id)
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
    Ok(())
}

/// Loads `tickets` tickets (5 per order) into the PRELOAD event with COPY, for realistic table
/// and index sizes.
async fn preload(pool: &PgPool, org: Uuid, tickets: usize) -> anyhow::Result<()> {
    let (event, rsu): (Uuid, Uuid) = sqlx::query_as(
        "SELECT e.id, r.id FROM events e JOIN rsus r ON r.organization_id = e.organization_id
          WHERE e.organization_id = $1 AND e.event_identifier = 'PRELOAD' ORDER BY r.rsu_no LIMIT 1",
    )
    .bind(org)
    .fetch_one(pool)
    .await?;
    let sales = tickets / 5;
    let per_batch = 5000;
    let now = chrono::Utc::now();
    for b in 0..sales.div_ceil(per_batch) {
        let mut o = CopyBuf::new();
        let mut t = CopyBuf::new();
        for s in (b * per_batch)..((b + 1) * per_batch).min(sales) {
            let id = Uuid::now_v7();
            o.uuid(id)
                .text(&format!("PRE-{s}"))
                .uuid(event)
                .uuid(rsu)
                .int(2000)
                .int(2000)
                .text("USD")
                .text("completed")
                .int(5)
                .text("rsu")
                .int(1)
                .int(s as i64 + 1)
                .ts(&now)
                .ts(&now)
                .uuid(org);
            o.end_row();
            for k in 0..5 {
                t.uuid(Uuid::now_v7())
                    .uuid(event)
                    .int((s * 5 + k + 1) as i64)
                    .text("sold")
                    .uuid(id);
                t.end_row();
            }
        }
        let mut tx = pool.begin().await?;
        for (stmt, buf) in [
            ("COPY orders (id, validation_number, event_id, rsu_id, unit_price, total_amount, currency, payment_status, ticket_count, source, journal_epoch, journal_seq, sold_at, received_at, organization_id) FROM STDIN", o),
            ("COPY tickets (id, event_id, draw_number, state, order_id) FROM STDIN", t),
        ] {
            let mut c = tx.copy_in_raw(stmt).await?;
            c.send(buf.bytes).await?;
            c.finish().await?;
        }
        tx.commit().await?;
    }
    sqlx::query("ANALYZE orders").execute(pool).await?;
    sqlx::query("ANALYZE tickets").execute(pool).await?;
    Ok(())
}
