//! The draw and the claims (issue 12): the pure algorithm (the docs/draw.md worked example, no
//! modulo bias, determinism) and, against a real PostgreSQL (a fresh database per test), the
//! committed seed, the draw in drawing_ready only and once, eligibility, the export that
//! `verify-draw` replays, signed receipts and every claim refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Datelike, Utc};
use rsu_core::journal::{EntryKind, JournalEntry};
use rsu_core::payload::SalePayload;
use rsu_core::receipt_qr::ReceiptQr;
use rsu_core::validation::ValidationNumber;
use rsu_core::wire::{self, HeartbeatRequest};
use serde_json::{json, Value};
use server_stub::admin;
use server_stub::claims::{self, Claim, VerifyReceipt};
use server_stub::closeout;
use server_stub::draw::algorithm::{self as alg, DrawFile, Jackpot, Prize};
use server_stub::draw::{self, cli, verify};
use server_stub::testkit::{Fixture, TestDevice, TEST_ADMIN_TOKEN};
use server_stub::AppError;
use uuid::Uuid;

type R = anyhow::Result<()>;

const ADMIN: &str = "Ann Admin";

fn err(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

// ----------------------------------------------------------------------------------------------
// The pure algorithm
// ----------------------------------------------------------------------------------------------

fn example_prizes() -> Vec<Prize> {
    let p = |id: u128, name: &str, pos: i16, kind: &str, value, bp, n| Prize {
        prize_id: Uuid::from_u128(id),
        name: name.into(),
        position: pos,
        kind: kind.into(),
        value,
        percentage_bp: bp,
        winner_count: n,
        value_per_winner: 0,
    };
    vec![
        p(0xa, "50/50 jackpot", 1, "percentage", None, Some(3500), 1),
        p(0xb, "Second draw", 2, "percentage", None, Some(1500), 2),
        p(0xc, "Gift card", 3, "fixed", Some(2500), None, 1),
    ]
}

/// The worked example of docs/draw.md, as a complete exported file.
fn example_file() -> DrawFile {
    let tickets = vec![3, 5, 8, 13, 21, 34, 55, 89, 144, 233];
    let secret: [u8; 32] = std::array::from_fn(|i| i as u8);
    let beacon = "Pick-3 2026-07-01: 4 7 2";
    let checksum = alg::checksum(&tickets).unwrap();
    let seed = alg::seed(&secret, &checksum, beacon);
    let mut jackpot = Jackpot {
        seed_amount: 20000,
        starting_amount: 0,
        percentage_bp: 5000,
        amount: 0,
    };
    jackpot.amount = alg::jackpot_amount(&jackpot, 30001).unwrap();
    let mut prizes = example_prizes();
    let values = alg::prize_values(&prizes, 30001, Some(&jackpot)).unwrap();
    for (p, v) in prizes.iter_mut().zip(values) {
        p.value_per_winner = v;
    }
    let results = alg::select_winners(&tickets, &seed, &prizes);
    DrawFile {
        format: alg::FORMAT.into(),
        event_id: Uuid::from_u128(0xE),
        event_identifier: "RAFFLE-2026-001".into(),
        event_name: "Example".into(),
        currency: "USD".into(),
        execution_id: Uuid::from_u128(0xF),
        conducted_by: ADMIN.into(),
        conducted_at: chrono::DateTime::parse_from_rfc3339("2026-07-01T19:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        commitment: hex::encode(alg::commitment(&secret)),
        committed_at: None,
        secret: hex::encode(secret),
        beacon: Some(beacon.into()),
        ticket_count: tickets.len() as u64,
        checksum: hex::encode(checksum),
        seed: hex::encode(seed),
        net_sales: 30001,
        jackpot: Some(jackpot),
        prizes,
        results,
        redraw_commitment: None,
        redraws: vec![],
        tickets,
    }
}

#[test]
fn the_worked_example_of_docs_draw_md() {
    let f = example_file();
    assert_eq!(
        alg::canonical_text(&f.tickets).unwrap(),
        "3\n5\n8\n13\n21\n34\n55\n89\n144\n233\n"
    );
    assert_eq!(
        f.checksum,
        "2cca785d310a54aa4344cb2eb32d9350a8c82e14cf3529f02176dedc96ae8d5e"
    );
    assert_eq!(
        f.commitment,
        "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
    );
    assert_eq!(
        f.seed,
        "c9650bcee02e742b8c0eab2303bd018aaae0f00a26c5106abfce296de11613b5"
    );
    let mut s = alg::Stream::new(alg::hex32("seed", &f.seed).unwrap());
    use alg::U64Source;
    assert_eq!(s.next_u64(), 0x89263cec06b58054);
    assert_eq!(s.next_u64(), 0x7c30f716d687e4ef);
    assert_eq!(f.jackpot.as_ref().unwrap().amount, 20000);
    let values: Vec<i64> = f.prizes.iter().map(|p| p.value_per_winner).collect();
    assert_eq!(values, vec![14000, 3000, 2500]);
    let got: Vec<(u32, u128, u32, u32, i64)> = f
        .results
        .iter()
        .map(|w| {
            (
                w.pick,
                w.prize_id.as_u128(),
                w.winner_index,
                w.winning_number,
                w.prize_value,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, 0xa, 1, 3, 14000),
            (2, 0xb, 1, 5, 3000),
            (3, 0xb, 2, 89, 3000),
            (4, 0xc, 1, 55, 2500)
        ]
    );
    // Without the beacon the seed differs (docs/draw.md gives it too).
    let secret = alg::hex32("secret", &f.secret).unwrap();
    let sum = alg::hex32("checksum", &f.checksum).unwrap();
    assert_eq!(
        hex::encode(alg::seed(&secret, &sum, "")),
        "33d7df0d661a518dc7d437147d1f182b4d84fba0235b23dce67a2eb7f71353ce"
    );
    assert_eq!(verify::verify(&f), Vec::<String>::new());
}

#[test]
fn verify_names_exactly_what_differs() {
    let good = example_file();
    let mut f = good.clone();
    f.results[2].winning_number = 8;
    let d = verify::verify(&f);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].starts_with("results[2] (pick 3)"), "{d:?}");
    assert!(
        d[0].contains("number 8") && d[0].contains("number 89"),
        "{d:?}"
    );

    let mut f = good.clone();
    f.tickets[4] = 22;
    let d = verify::verify(&f);
    assert!(d.iter().any(|x| x.starts_with("checksum:")), "{d:?}");
    assert!(d.iter().any(|x| x.starts_with("seed:")), "{d:?}");

    let mut f = good.clone();
    f.secret = hex::encode([9u8; 32]);
    let d = verify::verify(&f);
    assert!(d.iter().any(|x| x.starts_with("commitment:")), "{d:?}");

    let mut f = good.clone();
    f.beacon = None;
    assert!(verify::verify(&f).iter().any(|x| x.starts_with("seed:")));

    let mut f = good.clone();
    f.prizes[0].value_per_winner = 15000;
    let d = verify::verify(&f);
    assert!(d.iter().any(|x| x.contains("\"50/50 jackpot\"")), "{d:?}");

    let mut f = good.clone();
    f.tickets.swap(0, 1);
    assert!(verify::verify(&f)[0].starts_with("tickets:"));

    let mut f = good;
    f.results.pop();
    assert!(verify::verify(&f)
        .iter()
        .any(|x| x.contains("lists 3 winners, the replay draws 4")));
}

#[test]
fn the_same_inputs_give_the_same_winners_and_one_ticket_changed_changes_them() {
    let tickets: Vec<u32> = (1001..2001).collect();
    let secret = [7u8; 32];
    let mut prizes = example_prizes();
    for p in &mut prizes {
        p.winner_count = 3;
    }
    let run = |t: &[u32]| {
        let sum = alg::checksum(t).unwrap();
        let seed = alg::seed(&secret, &sum, "beacon");
        (sum, seed, alg::select_winners(t, &seed, &prizes))
    };
    let (s1, seed1, w1) = run(&tickets);
    let (s2, seed2, w2) = run(&tickets);
    assert_eq!((s1, seed1, &w1), (s2, seed2, &w2));
    assert_eq!(w1.len(), 9);
    let mut distinct: Vec<u32> = w1.iter().map(|w| w.winning_number).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 9, "a ticket wins at most once");

    let mut changed = tickets.clone();
    changed[500] = 5000; // 1501 replaced by 5000: still ascending
    changed.sort_unstable();
    let (s3, seed3, w3) = run(&changed);
    assert_ne!(s1, s3, "one ticket changes the checksum");
    assert_ne!(seed1, seed3, "and so the seed");
    let n1: Vec<u32> = w1.iter().map(|w| w.winning_number).collect();
    let n3: Vec<u32> = w3.iter().map(|w| w.winning_number).collect();
    assert_ne!(n1, n3, "and the winners");
}

#[test]
fn every_ticket_wins_when_there_are_more_places_than_tickets() {
    let mut prizes = example_prizes();
    prizes[1].winner_count = 10;
    let w = alg::select_winners(&[4, 9, 16], &[1u8; 32], &prizes);
    let mut n: Vec<u32> = w.iter().map(|w| w.winning_number).collect();
    n.sort_unstable();
    assert_eq!(n, vec![4, 9, 16]);
    assert!(alg::select_winners(&[], &[1u8; 32], &prizes).is_empty());
}

/// χ² of observed counts against a uniform expectation.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let e = total as f64 / counts.len() as f64;
    counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum()
}

#[test]
fn winners_are_uniform_no_modulo_bias_chi_square() {
    // 7 tickets (not a power of two), 3 places, 70 000 draws with fixed seeds. Each place's
    // winner must be uniform over the 7 tickets: χ² with 6 degrees of freedom stays under
    // 22.46 (p = 0.001). A biased reduction (e.g. taking a byte modulo 7) fails this.
    let tickets: Vec<u32> = vec![2, 3, 5, 7, 11, 13, 17];
    let mut prizes = example_prizes();
    prizes.truncate(1);
    prizes[0].winner_count = 3;
    let mut by_place = vec![vec![0u64; 7]; 3];
    let mut pairs = vec![0u64; 49];
    for i in 0u32..70_000 {
        let seed = alg::seed(&[0u8; 32], &alg::commitment(&[i as u8; 32]), &i.to_string());
        let w = alg::select_winners(&tickets, &seed, &prizes);
        assert_eq!(w.len(), 3);
        let idx: Vec<usize> = w
            .iter()
            .map(|x| tickets.iter().position(|t| *t == x.winning_number).unwrap())
            .collect();
        for (place, &j) in idx.iter().enumerate() {
            by_place[place][j] += 1;
        }
        pairs[idx[0] * 7 + idx[1]] += 1;
    }
    for (place, counts) in by_place.iter().enumerate() {
        let x = chi_square(counts);
        assert!(x < 22.46, "place {place}: χ² = {x:.2}, counts {counts:?}");
    }
    // Ordered pairs (first, second): 42 possible, never the same ticket twice; χ² with 41
    // degrees of freedom under 74.74 (p = 0.001).
    let same: u64 = (0..7).map(|i| pairs[i * 7 + i]).sum();
    assert_eq!(same, 0, "a ticket never wins twice");
    let counts: Vec<u64> = (0..49)
        .filter(|i| i / 7 != i % 7)
        .map(|i| pairs[i])
        .collect();
    let x = chi_square(&counts);
    assert!(x < 74.74, "pairs: χ² = {x:.2}");
}

#[test]
fn a_biased_reduction_would_fail_the_chi_square_test() {
    // The test above can fail: the same statistic on a byte taken modulo 7 (256 = 36·7 + 4, so
    // 0..3 come up 37 times in 256, 4..6 only 36) over 2.56 M values is far above the bound.
    let mut counts = [0u64; 7];
    for _ in 0..10_000 {
        for b in 0u32..256 {
            counts[(b % 7) as usize] += 1;
        }
    }
    assert!(chi_square(&counts) > 22.46);
}

// ----------------------------------------------------------------------------------------------
// Against the database
// ----------------------------------------------------------------------------------------------

async fn transition(f: &Fixture, to: &str) -> Result<Value, AppError> {
    closeout::with_actor(
        Some(ADMIN.into()),
        admin::transition(
            &f.db.pool,
            &admin::Transition {
                event_id: f.event_id,
                to: to.into(),
                reason: None,
            },
        ),
    )
    .await
}

async fn state(f: &Fixture) -> anyhow::Result<String> {
    Ok(sqlx::query_scalar("SELECT state FROM events WHERE id = $1")
        .bind(f.event_id)
        .fetch_one(&f.db.pool)
        .await?)
}

async fn push_all_applied(f: &Fixture, dev: &TestDevice, entries: &[JournalEntry]) -> R {
    let (st, v) = f.send(dev.push_request(entries)?).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["status"], "applied", "{v}");
    }
    Ok(())
}

async fn heartbeat(f: &Fixture, dev: &TestDevice) -> R {
    let body = HeartbeatRequest {
        epoch: dev.epoch,
        last_seq: dev.next_seq - 1,
        pending_count: 0,
        oldest_pending_age_secs: None,
        printer_status: "ok".into(),
        printer_status_age_secs: None,
        app_version: "test".into(),
        app_hash: "0".repeat(64),
        acknowledged_commands: vec![],
    };
    let (st, v) = f
        .send(dev.request("POST", wire::PATH_HEARTBEAT, serde_json::to_vec(&body)?)?)
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    Ok(())
}

/// allocation_release entries for the unused tail of every range of `dev` in the event.
async fn releases(f: &Fixture, dev: &mut TestDevice) -> anyhow::Result<Vec<JournalEntry>> {
    let rows: Vec<(Uuid, i32, i32)> = sqlx::query_as(
        "SELECT id, start_number, end_number FROM rsu_allocations
          WHERE rsu_id = $1 AND event_id = $2 ORDER BY start_number",
    )
    .bind(dev.rsu_id)
    .bind(f.event_id)
    .fetch_all(&f.db.pool)
    .await?;
    let next = dev.next_number;
    let mut out = vec![];
    for (id, s, e) in rows {
        let from = next.max(i64::from(s));
        if from <= i64::from(e) {
            let p = json!({"allocationId": id, "eventId": f.event_id,
                           "startNumber": from, "endNumber": e});
            out.push(dev.entry(EntryKind::AllocationRelease, p));
        }
    }
    Ok(out)
}

fn sale(f: &Fixture, dev: &mut TestDevice, tickets: u32) -> (JournalEntry, SalePayload) {
    let pkg = f.pkg(tickets);
    let numbers = dev.take_numbers(pkg.ticket_count);
    let s = dev.sale_payload(f.event_id, &pkg, numbers, f.seller_id);
    (
        dev.entry(EntryKind::Sale, serde_json::to_value(&s).unwrap()),
        s,
    )
}

/// Sells `sizes` (package ticket counts) on the fixture device, voids the sales at `voided`,
/// releases the rest, and takes the event to `to` (sales_closed … drawing_ready).
async fn sell_and_close(
    f: &mut Fixture,
    sizes: &[u32],
    voided: &[usize],
    to: &str,
) -> anyhow::Result<Vec<SalePayload>> {
    let placeholder = placeholder_device(f);
    let mut dev = std::mem::replace(&mut f.device, placeholder);
    let mut entries = vec![];
    let mut sales = vec![];
    for &n in sizes {
        let (e, s) = sale(f, &mut dev, n);
        entries.push(e);
        sales.push(s);
    }
    for &i in voided {
        let v = TestDevice::void_payload(&sales[i], f.supervisor_id);
        entries.push(dev.entry(EntryKind::Void, serde_json::to_value(v)?));
    }
    entries.extend(releases(f, &mut dev).await?);
    push_all_applied(f, &dev, &entries).await?;
    heartbeat(f, &dev).await?;
    f.device = dev;
    for s in ["sales_closed", "reconciling", "reconciled", "drawing_ready"] {
        transition(f, s).await.map_err(err)?;
        if s == to {
            break;
        }
    }
    Ok(sales)
}

fn placeholder_device(f: &Fixture) -> TestDevice {
    TestDevice {
        key: wire::DeviceKey::generate().unwrap(),
        rsu_id: Uuid::nil(),
        key_id: Uuid::nil(),
        epoch: 0,
        rsu_no: 0,
        prefix: String::new(),
        validation_key: f.device.validation_key.clone(),
        next_seq: 0,
        prev_hash: rsu_core::journal::ChainHash::GENESIS,
        next_sale_seq: 0,
        next_number: 0,
        clock_offset: 0,
        allocations: vec![],
    }
}

async fn run_draw(f: &Fixture, beacon: Option<&str>) -> Result<Value, AppError> {
    cli::draw(
        &f.db.pool,
        &cli::Draw {
            event_id: f.event_id,
            beacon: beacon.map(str::to_string),
        },
        Some(ADMIN),
    )
    .await
}

/// Sets the demo prize to `n` winners.
async fn winners_per_prize(f: &Fixture, n: i16) -> R {
    sqlx::query("UPDATE prizes SET winner_count = $2 WHERE event_id = $1")
        .bind(f.event_id)
        .bind(n)
        .execute(&f.db.pool)
        .await?;
    Ok(())
}

#[tokio::test]
async fn sales_closed_commits_a_seed_and_the_draw_reveals_it() -> R {
    let mut f = Fixture::new().await?;
    sell_and_close(&mut f, &[1, 5], &[], "sales_closed").await?;
    let c = draw::store::show_commitment(&f.db.pool, f.event_id)
        .await
        .map_err(err)?;
    let commitment = c["commitment"].as_str().unwrap().to_string();
    assert_eq!(commitment.len(), 64);
    assert_eq!(c["secret"], Value::Null, "not revealed before the draw");
    let r = server_stub::report::event_report(&f.db.pool, f.event_id)
        .await
        .map_err(err)?;
    let rc = r.draw_commitment.as_ref().unwrap();
    assert_eq!(rc.commitment, commitment);
    assert!(rc.secret.is_none());
    assert!(server_stub::report::to_text(&r).contains(&commitment));

    for s in ["reconciling", "reconciled", "drawing_ready"] {
        transition(&f, s).await.map_err(err)?;
    }
    let v = run_draw(&f, Some("lottery 12 34 56")).await.map_err(err)?;
    assert_eq!(v["commitment"], commitment.as_str());
    let secret = alg::hex32("secret", v["secret"].as_str().unwrap()).unwrap();
    assert_eq!(hex::encode(alg::commitment(&secret)), commitment);
    let c = draw::store::show_commitment(&f.db.pool, f.event_id)
        .await
        .map_err(err)?;
    assert_eq!(c["secret"], v["secret"]);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_draw_runs_only_in_drawing_ready_and_only_once() -> R {
    let mut f = Fixture::new().await?;
    sell_and_close(&mut f, &[5, 1, 1], &[], "reconciled").await?;
    let e = run_draw(&f, None).await.expect_err("reconciled");
    assert_eq!(
        (e.status, e.code),
        (StatusCode::CONFLICT, "not_drawing_ready")
    );
    assert!(e.message.contains("reconciled"), "{}", e.message);
    let e = cli::draw(
        &f.db.pool,
        &cli::Draw {
            event_id: f.event_id,
            beacon: None,
        },
        None,
    )
    .await
    .expect_err("no name");
    assert_eq!(e.code, "missing_admin_name");
    transition(&f, "drawing_ready").await.map_err(err)?;
    let e = run_draw(&f, Some("line\nbreak")).await.expect_err("beacon");
    assert_eq!(e.code, "invalid_field");

    let v = run_draw(&f, None).await.map_err(err)?;
    assert_eq!(v["state"], "completed");
    assert_eq!(state(&f).await?, "completed");
    assert_eq!(v["ticketCount"], 7);
    let winners = v["winners"].as_array().unwrap();
    assert_eq!(winners.len(), 1);
    // The demo: 50/50 of net sales $30 with a $1,000 seed → the whole jackpot, $1,000.
    assert_eq!(winners[0]["prizeValue"], 100_000);
    assert_eq!(winners[0]["prizeName"], "50/50 Winner");
    let n = winners[0]["winningNumber"].as_i64().unwrap();
    let st: String =
        sqlx::query_scalar("SELECT state FROM tickets WHERE event_id = $1 AND draw_number = $2")
            .bind(f.event_id)
            .bind(n as i32)
            .fetch_one(&f.db.pool)
            .await?;
    assert_eq!(st, "winner");
    let (seed, sum, who, kind): (String, String, String, String) = sqlx::query_as(
        "SELECT rng_seed, system_checksum, conducted_by_name, kind FROM draw_executions WHERE event_id = $1",
    )
    .bind(f.event_id)
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(
        (seed.as_str(), sum.as_str()),
        (v["seed"].as_str().unwrap(), v["checksum"].as_str().unwrap())
    );
    assert_eq!((who.as_str(), kind.as_str()), (ADMIN, "draw"));

    let e = run_draw(&f, None).await.expect_err("twice");
    assert_eq!(e.code, "already_drawn");
    assert!(e.message.contains(ADMIN), "{}", e.message);
    assert_eq!(f.count("draw_executions").await?, 1);
    assert_eq!(f.count("draw_results").await?, 1);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_draw_without_a_committed_seed_is_refused() -> R {
    let mut f = Fixture::new().await?;
    sell_and_close(&mut f, &[1], &[], "drawing_ready").await?;
    sqlx::query("DELETE FROM event_draw_seeds")
        .execute(&f.db.pool)
        .await?;
    let e = run_draw(&f, None).await.expect_err("no seed");
    assert_eq!(e.code, "no_commitment");
    assert_eq!(state(&f).await?, "drawing_ready");
    f.drop_db().await;
    Ok(())
}

/// An online order of `numbers` written straight into the tables (there is no online channel
/// yet): online tickets are eligible like RSU ones.
async fn online_order(f: &Fixture, numbers: &[i32]) -> R {
    let order = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO orders (id, validation_number, event_id, total_amount, currency, payment_status,
                             ticket_count, source, sold_at, organization_id)
         VALUES ($1, $2, $3, $4, 'USD', 'completed', $5, 'online', NOW(), $6)",
    )
    .bind(order)
    .bind(format!("WEB-{order}"))
    .bind(f.event_id)
    .bind(500 * numbers.len() as i64)
    .bind(numbers.len() as i32)
    .bind(f.org_id)
    .execute(&f.db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO tickets (event_id, draw_number, state, order_id) SELECT $1, n, 'sold', $2 FROM unnest($3::int4[]) n",
    )
    .bind(f.event_id)
    .bind(order)
    .bind(numbers)
    .execute(&f.db.pool)
    .await?;
    Ok(())
}

#[tokio::test]
async fn voided_and_excluded_tickets_never_win() -> R {
    let mut f = Fixture::new().await?;
    // A second enrolled RSU that syncs two sales, then is excluded from the event.
    let v = admin::create_rsu(
        &f.db.pool,
        &admin::NewRsu {
            organization_id: f.org_id,
            name: "RSU-002".into(),
            rsu_no: Some(2),
            venue_id: None,
            max_offline_tickets: None,
            token_hours: 1,
        },
    )
    .await
    .map_err(err)?;
    let mut dev2 = TestDevice::enroll(
        &f.db.pool,
        v["enrollmentToken"].as_str().unwrap(),
        "MAC:00:00:00:00:00:02",
    )
    .await?;
    admin::create_allocation(
        &f.db.pool,
        &admin::NewAllocation {
            event_id: f.event_id,
            rsu_id: dev2.rsu_id,
            start_number: Some(3001),
            end_number: Some(3100),
            count: None,
        },
    )
    .await
    .map_err(err)?;
    dev2.refresh_allocations(&f.db.pool).await?;
    dev2.next_number = 3001;
    let (a, _) = sale(&f, &mut dev2, 5);
    let (b, _) = sale(&f, &mut dev2, 1);
    push_all_applied(&f, &dev2, &[a, b]).await?;
    online_order(&f, &[60001, 60002]).await?;
    closeout::exclude_rsu(
        &f.db.pool,
        &closeout::ExcludeRsu {
            event_id: f.event_id,
            rsu_id: dev2.rsu_id,
            reason: "dropped in the lake".into(),
            lost: false,
        },
        Some(ADMIN),
    )
    .await
    .map_err(err)?;
    // RSU 1: 1001, 1002–1006 (voided), 1007, 1008–1012 (voided), 1013.
    sell_and_close(&mut f, &[1, 5, 1, 5, 1], &[1, 3], "drawing_ready").await?;

    let mut conn = f.db.pool.acquire().await?;
    let eligible = draw::store::eligible_numbers(&mut conn, f.event_id)
        .await
        .map_err(err)?;
    drop(conn);
    assert_eq!(eligible, vec![1001, 1007, 1013, 60001, 60002]);
    // Every eligible ticket wins something; no other can.
    winners_per_prize(&f, 50).await?;
    let v = run_draw(&f, Some("b")).await.map_err(err)?;
    let mut won: Vec<i64> = v["winners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["winningNumber"].as_i64().unwrap())
        .collect();
    won.sort_unstable();
    assert_eq!(won, vec![1001, 1007, 1013, 60001, 60002]);
    assert_eq!(v["unawardedPlaces"], 45);
    // The jackpot counts every sale that was not voided (the excluded RSU's money was taken).
    assert_eq!(v["netSales"], 500 + 500 + 500 + 2000 + 500 + 1000);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_export_replays_with_verify_draw_and_a_changed_file_does_not() -> R {
    let mut f = Fixture::new().await?;
    sell_and_close(&mut f, &[25, 5, 1, 1, 5], &[2], "drawing_ready").await?;
    sqlx::query("UPDATE prizes SET winner_count = 2 WHERE event_id = $1")
        .bind(f.event_id)
        .execute(&f.db.pool)
        .await?;
    admin::create_prize(
        &f.db.pool,
        &admin::NewPrize {
            event_id: f.event_id,
            name: "Hamper".into(),
            kind: "fixed".into(),
            value: Some(7500),
            percentage_bp: None,
            position: 2,
            winner_count: 3,
        },
    )
    .await
    .map_err(err)?;
    let v = run_draw(&f, Some("EuroMillions 2026-07-01"))
        .await
        .map_err(err)?;
    assert_eq!(v["winners"].as_array().unwrap().len(), 5);
    let file = draw::export(&f.db.pool, f.event_id).await.map_err(err)?;
    assert_eq!(file.ticket_count, 36);
    assert_eq!(file.tickets.len(), 36);
    assert_eq!(verify::verify(&file), Vec::<String>::new());
    assert_eq!(
        file.results[0].prize_value, 50_000,
        "$1,000 jackpot split between 2"
    );
    assert_eq!(file.results[4].prize_value, 7500);

    let dir = tempdir()?;
    let path = dir.join("draw.json");
    cli::write_file(&path, &file).map_err(err)?;
    let exe = env!("CARGO_BIN_EXE_server-stub");
    let out = std::process::Command::new(exe)
        .args(["verify-draw", path.to_str().unwrap()])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("valid: "), "{stdout}");

    let mut bad = file.clone();
    bad.results[1].winning_number = bad.tickets[0];
    cli::write_file(&path, &bad).map_err(err)?;
    let out = std::process::Command::new(exe)
        .args(["verify-draw", path.to_str().unwrap()])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.starts_with("NOT VALID: 1 difference"), "{stdout}");
    assert!(stdout.contains("results[1] (pick 2)"), "{stdout}");

    // A ticket changed in the database after the draw: the export refuses.
    sqlx::query("UPDATE tickets SET state = 'voided' WHERE event_id = $1 AND draw_number = $2")
        .bind(f.event_id)
        .bind(file.tickets[3] as i32)
        .execute(&f.db.pool)
        .await?;
    let e = draw::export(&f.db.pool, f.event_id)
        .await
        .expect_err("changed");
    assert_eq!(e.code, "ticket_set_changed");
    let _ = std::fs::remove_dir_all(&dir);
    f.drop_db().await;
    Ok(())
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("draw-test-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

// ----------------------------------------------------------------------------------------------
// Claims and receipts
// ----------------------------------------------------------------------------------------------

async fn claim_vn(f: &Fixture, vn: &str, by: &str) -> Result<Value, AppError> {
    claims::claim(
        &f.db.pool,
        &Claim {
            validation_number: Some(vn.into()),
            qr: None,
            organization_id: None,
            deadline_override: None,
        },
        Some(by),
    )
    .await
}

/// A drawn event with sales of 1, 1, 1, 5 (voided), 1 tickets and one winner; returns the
/// sales and the index of the winning one.
async fn drawn(f: &mut Fixture) -> anyhow::Result<(Vec<SalePayload>, usize)> {
    let sales = sell_and_close(f, &[1, 1, 1, 5, 1], &[3], "drawing_ready").await?;
    let v = run_draw(f, None).await.map_err(err)?;
    let n = v["winners"][0]["winningNumber"].as_i64().unwrap();
    let i = sales
        .iter()
        .position(|s| s.draw_numbers.contains(&n))
        .unwrap();
    Ok((sales, i))
}

#[tokio::test]
async fn a_claim_by_validation_number_is_recorded_once() -> R {
    let mut f = Fixture::new().await?;
    let (sales, win) = drawn(&mut f).await?;
    let vn = sales[win].validation_number.clone();
    // Typed in lower case with O for 0: canonicalised.
    let typed = vn.to_lowercase().replacen("rsu00", "rsuOO", 1);
    let typed = typed.replace('O', "0").to_lowercase();
    let v = claim_vn(&f, &typed, "Clara Clerk").await.map_err(err)?;
    assert_eq!(v["validationNumber"], vn.as_str());
    assert_eq!(v["verificationMethod"], "validation_number");
    assert_eq!(v["prizes"][0]["value"], 100_000);
    assert_eq!(v["deadlineCheck"], "checked");
    let (method, by, state): (String, String, String) = sqlx::query_as(
        "SELECT c.verification_method, c.verified_by_name, t.state FROM prize_claims c
           JOIN draw_results r ON r.id = c.draw_result_id JOIN tickets t ON t.id = r.winning_ticket_id",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(
        (method.as_str(), by.as_str(), state.as_str()),
        ("validation_number", "Clara Clerk", "claimed")
    );

    let e = claim_vn(&f, &vn, "Clara Clerk").await.expect_err("twice");
    assert_eq!(e.code, "already_claimed");
    assert!(e.message.contains("Clara Clerk"), "{}", e.message);
    assert_eq!(f.count("prize_claims").await?, 1);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn each_claim_refusal_has_its_reason() -> R {
    let mut f = Fixture::new().await?;
    let (sales, win) = drawn(&mut f).await?;
    let loser = (0..sales.len()).find(|&i| i != win && i != 3).unwrap();
    let by = "Clara Clerk";

    let e = claim_vn(&f, &sales[loser].validation_number, by)
        .await
        .expect_err("loser");
    assert_eq!(e.code, "not_a_winner");
    let e = claim_vn(&f, &sales[3].validation_number, by)
        .await
        .expect_err("voided");
    assert_eq!(e.code, "voided");
    let e = claim_vn(&f, "hello", by).await.expect_err("malformed");
    assert_eq!(e.code, "malformed_validation_number");
    // A genuine tag for a seq never sold: unknown (not synced, or never made).
    let year = Utc::now().year();
    let unsold = ValidationNumber::issue(
        &f.device.validation_key,
        &f.device.prefix,
        f.device.rsu_no,
        year,
        999,
    )?;
    let e = claim_vn(&f, &unsold.to_string(), by)
        .await
        .expect_err("unknown");
    assert_eq!(
        (e.status, e.code),
        (StatusCode::NOT_FOUND, "unknown_validation_number")
    );
    // The winner's number with one tag character changed: a typo or a forgery.
    let vn = sales[win].validation_number.clone();
    let last = vn.chars().last().unwrap();
    let forged = format!(
        "{}{}",
        &vn[..vn.len() - 1],
        if last == 'Z' { 'Y' } else { 'Z' }
    );
    let e = claim_vn(&f, &forged, by).await.expect_err("bad tag");
    assert_eq!(e.code, "bad_tag");

    // Past the claim deadline.
    sqlx::query("UPDATE events SET configuration = jsonb_set(configuration, '{jurisdiction,claimDeadline}', '\"2000-01-01\"') WHERE id = $1")
        .bind(f.event_id)
        .execute(&f.db.pool)
        .await?;
    let e = claim_vn(&f, &vn, "Other Clerk")
        .await
        .expect_err("deadline");
    assert_eq!(e.code, "claim_deadline_passed");
    assert!(e.message.contains("2000-01-02"), "{}", e.message);
    assert_eq!(f.count("prize_claims").await?, 0);
    // A recorded override lets it through, and says so.
    let v = claims::claim(
        &f.db.pool,
        &Claim {
            validation_number: Some(vn.clone()),
            qr: None,
            organization_id: None,
            deadline_override: Some("regulator letter 2026-114".into()),
        },
        Some("Other Clerk"),
    )
    .await
    .map_err(err)?;
    assert_eq!(v["deadlineOverride"], "regulator letter 2026-114");
    let why: Option<String> = sqlx::query_scalar("SELECT deadline_override FROM prize_claims")
        .fetch_one(&f.db.pool)
        .await?;
    assert_eq!(why.as_deref(), Some("regulator letter 2026-114"));
    let warned = f
        .count("critical_events WHERE event_type = 'PRIZE_CLAIMED_PAST_DEADLINE' AND severity = 'WARNING'")
        .await?;
    assert_eq!(warned, 1);
    // Three wrong numbers were counted for Clara, none for the refusals of a genuine sale.
    assert_eq!(
        f.count("claim_attempts WHERE attempted_by = 'Clara Clerk'")
            .await?,
        3
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_burst_of_wrong_numbers_is_rate_limited_and_logged_as_critical() -> R {
    let mut f = Fixture::new().await?;
    let (sales, win) = drawn(&mut f).await?;
    for i in 0..claims::MAX_WRONG_PER_PERSON {
        let e = claim_vn(&f, &format!("RSU001-2026-00000{i}-ZZZZ"), "Mallory")
            .await
            .expect_err("wrong");
        assert!(
            ["bad_tag", "malformed_validation_number"].contains(&e.code),
            "{e}"
        );
    }
    assert_eq!(
        f.count(
            "critical_events WHERE event_type = 'CLAIM_ATTEMPTS_BURST' AND severity = 'CRITICAL'"
        )
        .await?,
        1
    );
    // Even the right number is refused for Mallory now, and nothing is recorded.
    let vn = sales[win].validation_number.clone();
    let e = claim_vn(&f, &vn, "Mallory").await.expect_err("limited");
    assert_eq!(
        (e.status, e.code),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
    );
    assert_eq!(f.count("prize_claims").await?, 0);
    // Someone else at the desk is not held up.
    claim_vn(&f, &vn, "Clara Clerk").await.map_err(err)?;
    f.drop_db().await;
    Ok(())
}

fn qr_of(f: &Fixture, s: &SalePayload) -> ReceiptQr {
    ReceiptQr::sign_with_device_key(
        &f.device.key,
        f.device.key_id,
        ValidationNumber::parse(&s.validation_number).unwrap(),
        f.event_id,
        s.draw_numbers.iter().map(|n| *n as u32).collect(),
    )
    .unwrap()
}

#[tokio::test]
async fn signed_receipts_verify_forged_ones_do_not_and_claim_by_qr() -> R {
    let mut f = Fixture::new().await?;
    let (sales, win) = drawn(&mut f).await?;
    let text = qr_of(&f, &sales[win]).to_string();
    let v = claims::verify_receipt(&f.db.pool, &VerifyReceipt { qr: text.clone() })
        .await
        .map_err(err)?;
    assert_eq!(v["valid"], true);
    assert_eq!(v["order"]["tickets"][0]["state"], "winner");

    // One byte changed in the signature, and in the draw numbers.
    let mut forged = text.clone().into_bytes();
    let i = forged.len() - 5;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let e = claims::verify_receipt(
        &f.db.pool,
        &VerifyReceipt {
            qr: String::from_utf8(forged)?,
        },
    )
    .await
    .expect_err("forged");
    assert!(["bad_signature", "bad_receipt"].contains(&e.code), "{e}");
    let n = sales[win].draw_numbers[0];
    let other = text.replace(&format!(".{n}."), &format!(".{}.", n + 1));
    assert_ne!(other, text);
    let e = claims::verify_receipt(&f.db.pool, &VerifyReceipt { qr: other })
        .await
        .expect_err("numbers");
    assert_eq!(e.code, "bad_signature");
    // A signature by another key, for the same sale.
    let mut stranger = qr_of(&f, &sales[win]);
    let k = wire::DeviceKey::generate()?;
    stranger = ReceiptQr::sign_with_device_key(
        &k,
        stranger.key_id,
        stranger.validation_number,
        stranger.event_id,
        stranger.draw_numbers,
    )?;
    let e = claims::verify_receipt(
        &f.db.pool,
        &VerifyReceipt {
            qr: stranger.to_string(),
        },
    )
    .await
    .expect_err("stranger");
    assert_eq!(e.code, "bad_signature");

    // The device key revoked after the sale: the receipt still verifies.
    admin::revoke_key(
        &f.db.pool,
        &admin::RevokeKey {
            key_id: Some(f.device.key_id),
            rsu_id: None,
            all: false,
            reason: "device retired".into(),
        },
    )
    .await
    .map_err(err)?;
    let v = claims::verify_receipt(&f.db.pool, &VerifyReceipt { qr: text.clone() })
        .await
        .map_err(err)?;
    assert!(v["keyRevokedAt"].is_string());

    let v = claims::claim(
        &f.db.pool,
        &Claim {
            validation_number: None,
            qr: Some(text),
            organization_id: None,
            deadline_override: None,
        },
        Some("Clara Clerk"),
    )
    .await
    .map_err(err)?;
    assert_eq!(v["verificationMethod"], "receipt_signature");
    let m: String = sqlx::query_scalar("SELECT verification_method FROM prize_claims")
        .fetch_one(&f.db.pool)
        .await?;
    assert_eq!(m, "receipt_signature");
    f.drop_db().await;
    Ok(())
}

fn admin_req(method: &str, path: &str, body: Option<Value>, name: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TEST_ADMIN_TOKEN}"));
    if let Some(n) = name {
        b = b.header("x-admin-name", n);
    }
    b.body(body.map_or(Body::empty(), |v| {
        Body::from(serde_json::to_vec(&v).unwrap())
    }))
    .unwrap()
}

#[tokio::test]
async fn draw_export_and_claim_over_http() -> R {
    let mut f = Fixture::new().await?;
    let sales = sell_and_close(&mut f, &[1, 1, 1], &[], "drawing_ready").await?;
    let id = f.event_id;
    let (st, v) = f
        .send(admin_req(
            "GET",
            &format!("/v1/admin/events/{id}/draw-commitment"),
            None,
            None,
        ))
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let commitment = v["commitment"].clone();
    let (st, v) = f
        .send(admin_req(
            "POST",
            "/v1/admin/draws",
            Some(json!({"eventId": id})),
            None,
        ))
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("missing_admin_name"))
    );
    let (st, v) = f
        .send(admin_req(
            "POST",
            "/v1/admin/draws",
            Some(json!({"eventId": id, "beacon": "x"})),
            Some(ADMIN),
        ))
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["commitment"], commitment);
    let (st, v) = f
        .send(admin_req(
            "GET",
            &format!("/v1/admin/events/{id}/draw-export"),
            None,
            None,
        ))
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let file: DrawFile = serde_json::from_value(v)?;
    assert_eq!(verify::verify(&file), Vec::<String>::new());
    let n = file.results[0].winning_number as i64;
    let s = sales.iter().find(|s| s.draw_numbers.contains(&n)).unwrap();
    let (st, v) = f
        .send(admin_req(
            "POST",
            "/v1/admin/claims",
            Some(json!({"validationNumber": s.validation_number})),
            Some("Clara"),
        ))
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = f
        .send(admin_req(
            "POST",
            "/v1/admin/claims",
            Some(json!({"validationNumber": s.validation_number})),
            Some("Clara"),
        ))
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_claimed"))
    );
    let qr = qr_of(&f, s).to_string();
    let (st, v) = f
        .send(admin_req(
            "POST",
            "/v1/admin/receipts/verify",
            Some(json!({"qr": qr})),
            None,
        ))
        .await?;
    assert_eq!(
        (st, v["valid"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    let mut unauth = admin_req(
        "POST",
        "/v1/admin/draws",
        Some(json!({"eventId": id})),
        Some(ADMIN),
    );
    unauth.headers_mut().remove("authorization");
    let (st, _) = f.send(unauth).await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    f.drop_db().await;
    Ok(())
}

async fn redraw(f: &Fixture, reason: &str) -> Result<Value, AppError> {
    cli::redraw(
        &f.db.pool,
        &cli::Redraw {
            event_id: f.event_id,
            reason: reason.into(),
            beacon: Some("Pick-3 2026-10-01: 9 1 5".into()),
        },
        Some(ADMIN),
    )
    .await
}

#[tokio::test]
async fn unclaimed_prizes_are_redrawn_after_the_deadline_once_and_the_export_replays_it() -> R {
    let mut f = Fixture::new().await?;
    let sales = sell_and_close(&mut f, &[1; 8], &[], "drawing_ready").await?;
    winners_per_prize(&f, 3).await?;
    let v = run_draw(&f, Some("b")).await.map_err(err)?;
    assert_eq!(v["redrawCommitment"].as_str().map(str::len), Some(64));
    let first: Vec<i64> = v["winners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["winningNumber"].as_i64().unwrap())
        .collect();
    let sale_of = |n: i64| sales.iter().find(|s| s.draw_numbers.contains(&n)).unwrap();
    let e = redraw(&f, "unclaimed")
        .await
        .expect_err("claims still open");
    assert_eq!(e.code, "claim_deadline_not_passed");
    claim_vn(&f, &sale_of(first[0]).validation_number, "Clara Clerk")
        .await
        .map_err(err)?;
    sqlx::query("UPDATE events SET configuration = jsonb_set(configuration, '{jurisdiction,claimDeadline}', '\"2000-01-01\"') WHERE id = $1")
        .bind(f.event_id)
        .execute(&f.db.pool)
        .await?;
    let e = redraw(&f, "  ").await.expect_err("no reason");
    assert_eq!(e.code, "invalid_field");

    let v = redraw(&f, "unclaimed after the deadline, rules §7")
        .await
        .map_err(err)?;
    assert_eq!(v["replacedPicks"], json!([2, 3]));
    assert_eq!(v["forfeitedNumbers"], json!([first[1], first[2]]));
    assert_eq!(v["remainingTickets"], 5);
    let new: Vec<i64> = v["winners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["winningNumber"].as_i64().unwrap())
        .collect();
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|n| !first.contains(n)), "{new:?} {first:?}");
    let states: Vec<(i32, String)> = sqlx::query_as(
        "SELECT draw_number, state FROM tickets WHERE event_id = $1 AND state <> 'sold' ORDER BY draw_number",
    )
    .bind(f.event_id)
    .fetch_all(&f.db.pool)
    .await?;
    let mut want: Vec<(i32, String)> = vec![(first[0] as i32, "claimed".into())];
    want.extend(new.iter().map(|n| (*n as i32, "winner".to_string())));
    want.sort();
    assert_eq!(states, want);
    let (kind, reason): (String, String) = sqlx::query_as(
        "SELECT kind, reason FROM draw_executions WHERE event_id = $1 AND kind = 'redraw'",
    )
    .bind(f.event_id)
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(
        (kind.as_str(), reason.as_str()),
        ("redraw", "unclaimed after the deadline, rules §7")
    );

    // The forfeited winner cannot claim any more.
    let e = claim_vn(&f, &sale_of(first[1]).validation_number, "Clara Clerk")
        .await
        .expect_err("forfeited");
    assert_eq!(e.code, "prize_forfeited");
    let e = redraw(&f, "again").await.expect_err("once");
    assert_eq!(e.code, "already_redrawn");

    // The export carries the redraw; verify-draw replays it, and a changed redraw fails.
    let file = draw::export(&f.db.pool, f.event_id).await.map_err(err)?;
    assert_eq!(file.redraws.len(), 1);
    assert_eq!(verify::verify(&file), Vec::<String>::new());
    let mut bad = file.clone();
    bad.redraws[0].results[0].winning_number = first[0] as u32;
    let d = verify::verify(&bad);
    assert!(
        d.iter().any(|x| x.starts_with("redraws[0].results")),
        "{d:?}"
    );
    let mut bad = file;
    bad.redraws[0].secret = hex::encode([3u8; 32]);
    let d = verify::verify(&bad);
    assert!(d.iter().any(|x| x.starts_with("redrawCommitment")), "{d:?}");
    f.drop_db().await;
    Ok(())
}
