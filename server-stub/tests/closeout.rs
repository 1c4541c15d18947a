//! Closing out an event on the server (issue 11 items 2–5): the reconciliation report, resolving
//! exceptions, the draw gate and excluding lost devices. Real PostgreSQL, a fresh database per
//! test, pushes signed and hash-chained by `TestDevice`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use rsu_core::journal::{EntryKind, JournalEntry};
use rsu_core::payload::ShiftClosePayload;
use rsu_core::wire::{self, HeartbeatRequest};
use serde_json::{json, Value};
use server_stub::admin;
use server_stub::closeout::{self, ExcludeRsu, IncludeRsu, Resolve};
use server_stub::report::{self, Report};
use server_stub::testkit::{Fixture, TestDevice, TEST_ADMIN_TOKEN};
use server_stub::AppError;
use uuid::Uuid;

type R = anyhow::Result<()>;

const ADMIN: &str = "Ann Admin";

fn err(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

async fn report(f: &Fixture) -> anyhow::Result<Report> {
    report::event_report(&f.db.pool, f.event_id)
        .await
        .map_err(err)
}

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

/// Pushes and asserts every entry got `want` (applied / rejected …).
async fn push_expect(f: &Fixture, entries: &[JournalEntry], want: &[&str]) -> R {
    let (st, v) = f.push(entries).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let got: Vec<String> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(got, want, "{v}");
    Ok(())
}

async fn heartbeat(f: &Fixture, dev: &TestDevice, last_seq: u64, pending: u64) -> R {
    let body = HeartbeatRequest {
        epoch: dev.epoch,
        last_seq,
        pending_count: pending,
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

/// The fixture device's allocations in the event: (id, start, end).
async fn allocations(f: &Fixture, rsu: Uuid) -> anyhow::Result<Vec<(Uuid, i32, i32)>> {
    Ok(sqlx::query_as(
        "SELECT id, start_number, end_number FROM rsu_allocations
          WHERE rsu_id = $1 AND event_id = $2 ORDER BY start_number",
    )
    .bind(rsu)
    .bind(f.event_id)
    .fetch_all(&f.db.pool)
    .await?)
}

/// allocation_release entries for the unused tail of every range of the fixture device.
async fn releases(f: &mut Fixture) -> anyhow::Result<Vec<JournalEntry>> {
    let next = f.device.next_number;
    let mut out = vec![];
    for (id, s, e) in allocations(f, f.device.rsu_id).await? {
        let from = next.max(i64::from(s));
        if from <= i64::from(e) {
            let p = json!({"allocationId": id, "eventId": f.event_id,
                           "startNumber": from, "endNumber": e});
            out.push(f.device.entry(EntryKind::AllocationRelease, p));
        }
    }
    Ok(out)
}

/// A sale of `pkg_tickets` with the payment method and shift given.
fn sale_with(
    f: &mut Fixture,
    pkg_tickets: u32,
    method: &str,
    shift: Option<Uuid>,
) -> (JournalEntry, rsu_core::payload::SalePayload) {
    let pkg = f.pkg(pkg_tickets);
    let numbers = f.device.take_numbers(pkg.ticket_count);
    let mut s = f
        .device
        .sale_payload(f.event_id, &pkg, numbers, f.seller_id);
    s.shift_id = shift;
    let mut p = serde_json::to_value(&s).unwrap();
    if method == "card" {
        p["payment"] = json!({"method": "card", "reference": "T-991"});
    }
    (f.device.entry(EntryKind::Sale, p), s)
}

fn void_of(f: &mut Fixture, s: &rsu_core::payload::SalePayload) -> JournalEntry {
    let v = TestDevice::void_payload(s, f.supervisor_id);
    f.device
        .entry(EntryKind::Void, serde_json::to_value(v).unwrap())
}

/// A sale the server rejects: its numbers were never allocated to the device.
fn unallocated_sale(f: &mut Fixture) -> JournalEntry {
    let pkg = f.pkg(1);
    let s = f
        .device
        .sale_payload(f.event_id, &pkg, vec![45_000], f.seller_id);
    f.device
        .entry(EntryKind::Sale, serde_json::to_value(s).unwrap())
}

fn rsu(r: &Report, id: Uuid) -> &report::RsuReport {
    r.rsus
        .iter()
        .find(|x| x.rsu_id == id)
        .expect("rsu in report")
}

fn codes(x: &report::RsuReport) -> Vec<&'static str> {
    x.reasons.iter().map(|r| r.code).collect()
}

/// A second RSU of the fixture's organization with 2001–2100 in the event, never enrolled.
async fn second_rsu(f: &Fixture) -> anyhow::Result<Uuid> {
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
    let id: Uuid = serde_json::from_value(v["rsuId"].clone())?;
    admin::create_allocation(
        &f.db.pool,
        &admin::NewAllocation {
            event_id: f.event_id,
            rsu_id: id,
            start_number: Some(2001),
            end_number: Some(2100),
            count: None,
        },
    )
    .await
    .map_err(err)?;
    Ok(id)
}

async fn resolve(f: &Fixture, id: Uuid, note: &str) -> Result<Value, AppError> {
    closeout::resolve(
        &f.db.pool,
        &Resolve {
            entry_id: id,
            note: note.into(),
            seq: None,
        },
        Some(ADMIN),
    )
    .await
}

async fn exclude(f: &Fixture, rsu: Uuid, lost: bool) -> Result<Value, AppError> {
    closeout::exclude_rsu(
        &f.db.pool,
        &ExcludeRsu {
            event_id: f.event_id,
            rsu_id: rsu,
            reason: "device stolen at gate 4".into(),
            lost,
        },
        Some(ADMIN),
    )
    .await
}

fn admin_get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method("GET").uri(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

fn admin_post(path: &str, body: Value, name: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {TEST_ADMIN_TOKEN}"));
    if let Some(n) = name {
        b = b.header("x-admin-name", n);
    }
    b.body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

// ----------------------------------------------------------------------------------------------
// The report
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn report_of_an_unknown_event_is_404_unknown_event() -> R {
    let f = Fixture::new().await?;
    let missing = Uuid::now_v7();
    let e = report::event_report(&f.db.pool, missing)
        .await
        .expect_err("unknown event");
    assert_eq!(e.status, StatusCode::NOT_FOUND);
    assert_eq!(e.code, "unknown_event");
    assert!(e.message.contains(&missing.to_string()), "{}", e.message);
    let (st, v) = f
        .send(admin_get(
            &format!("/v1/admin/events/{missing}/report"),
            Some(TEST_ADMIN_TOKEN),
        ))
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"], "unknown_event");
    let (st, v) = f
        .send(admin_get(
            "/v1/admin/events/not-a-uuid/report",
            Some(TEST_ADMIN_TOKEN),
        ))
        .await?;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert!(v["message"].as_str().unwrap().contains("UUID"), "{v}");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn report_counts_every_range_from_the_tickets_not_the_counters() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 5, "cash", None); // 1001–1005
    let (s2, p2) = sale_with(&mut f, 1, "card", None); // 1006
    let (s3, _) = sale_with(&mut f, 25, "card", None); // 1007–1031
    let v2 = void_of(&mut f, &p2);
    let rel = releases(&mut f).await?; // 1032–1100, 1101–1200
    let mut all = vec![s1, s2, s3, v2];
    all.extend(rel);
    push_expect(&f, &all, &["applied"; 6]).await?;
    heartbeat(&f, &f.device, 6, 0).await?;
    // Counters that lie change nothing: the report reads the tickets.
    sqlx::query(
        "UPDATE rsu_allocations SET tickets_sold = 77, tickets_voided = 5 WHERE rsu_id = $1",
    )
    .bind(f.device.rsu_id)
    .execute(&f.db.pool)
    .await?;

    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!(x.status, "reconciled", "{:?}", x.reasons);
    assert_eq!(r.status, "reconciled");
    assert!(r.blocking.is_empty());
    assert_eq!(x.ranges.len(), 2);
    let a = &x.ranges[0].numbers;
    assert_eq!(
        (a.allocated, a.sold, a.voided, a.released, a.unaccounted),
        (100, 30, 1, 69, 0)
    );
    let b = &x.ranges[1].numbers;
    assert_eq!(
        (b.allocated, b.sold, b.voided, b.released, b.unaccounted),
        (100, 0, 0, 100, 0)
    );
    assert_eq!(x.ranges[0].released_from, Some(1032));
    // Amounts by payment method: cash 20.00; card 5.00 (voided) + 50.00.
    let cash = &x.amounts.by_payment_method["cash"];
    assert_eq!((cash.gross, cash.voided, cash.net), (2000, 0, 2000));
    let card = &x.amounts.by_payment_method["card"];
    assert_eq!(
        (card.orders, card.gross, card.voided, card.net),
        (2, 5500, 500, 5000)
    );
    assert_eq!((x.amounts.all.gross, x.amounts.all.net), (7500, 7000));
    // Sync position and chain.
    assert!(x.sync.chain_verified);
    assert!(x.sync.first_bad_seq.is_none());
    let ep = &x.sync.epochs[0];
    assert_eq!(
        (
            ep.last_seq_received,
            ep.last_seq_reported,
            ep.pending_at_last_heartbeat
        ),
        (6, Some(6), Some(0))
    );
    // Event totals, the identity and the jackpot: max(1000.00, 50 % of 70.00).
    let n = &r.totals.numbers;
    assert_eq!(
        n.allocated,
        n.sold + n.voided + n.released + n.resolved_rejected + n.unaccounted + n.excluded
    );
    assert_eq!((n.allocated, n.sold, n.voided), (200, 30, 1));
    let j = r.jackpot.as_ref().expect("jackpot");
    assert_eq!((j.net_sales, j.amount), (7000, 100_000));
    // Per seller.
    assert_eq!(r.sellers.len(), 1);
    let s = &r.sellers[0];
    assert_eq!(s.name.as_deref(), Some("Sam Seller"));
    assert_eq!(
        (s.sales, s.tickets, s.gross, s.voids, s.voided, s.net),
        (3, 31, 7500, 1, 500, 7000)
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn report_flags_tickets_in_a_released_tail_and_ignores_numbers_outside_every_range() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 1, "cash", None); // 1001
    let mut all = vec![s1];
    all.extend(releases(&mut f).await?); // 1002–1100, 1101–1200
    push_expect(&f, &all, &["applied"; 3]).await?;
    heartbeat(&f, &f.device, 3, 0).await?;
    // An online order holding 1050 (inside the released tail) and 60000 (no allocation).
    let has_org: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns
                         WHERE table_name = 'orders' AND column_name = 'organization_id')",
    )
    .fetch_one(&f.db.pool)
    .await?;
    let order = Uuid::now_v7();
    let (col, val) = if has_org {
        (", organization_id", ", $3")
    } else {
        ("", "")
    };
    sqlx::query(&format!(
        "INSERT INTO orders (id, validation_number, event_id, total_amount, currency, payment_status,
                             ticket_count, source, sold_at{col})
         VALUES ($1, 'WEB-1', $2, 1000, 'USD', 'completed', 2, 'online', NOW(){val})"
    ))
    .bind(order)
    .bind(f.event_id)
    .bind(f.org_id)
    .execute(&f.db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO tickets (event_id, draw_number, state, order_id)
         VALUES ($1, 1050, 'sold', $2), ($1, 60000, 'sold', $2)",
    )
    .bind(f.event_id)
    .bind(order)
    .execute(&f.db.pool)
    .await?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    let g = &x.ranges[0];
    assert_eq!(
        (
            g.numbers.sold,
            g.numbers.released,
            g.numbers.unaccounted,
            g.sold_in_released
        ),
        (2, 98, 0, 1)
    );
    assert_eq!(x.ranges[1].numbers.sold, 0);
    assert_eq!(codes(x), vec!["sold_in_released_range"]);
    assert_eq!(r.totals.numbers.sold, 2, "60000 is in no range");
    assert_eq!(r.totals.amounts.all.gross, 1500, "every order of the event");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn report_counts_tickets_in_whole_blocks_and_at_boundaries_exactly() -> R {
    let mut f = Fixture::new().await?;
    let mut all = vec![];
    let mut voided = None;
    for i in 0..5 {
        let (s, p) = sale_with(&mut f, 25, "cash", None); // 1001–1125 across both ranges
        all.push(s);
        if i == 2 {
            voided = Some(p); // 1051–1075
        }
    }
    let v = void_of(&mut f, &voided.unwrap());
    all.push(v);
    push_expect(&f, &all, &["applied"; 6]).await?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    let (a, b) = (&x.ranges[0], &x.ranges[1]);
    assert_eq!(
        (a.numbers.sold, a.numbers.voided, a.numbers.unaccounted),
        (75, 25, 0)
    );
    assert_eq!(
        (b.numbers.sold, b.numbers.voided, b.numbers.unaccounted),
        (25, 0, 75)
    );
    assert_eq!(b.unaccounted_numbers, vec!["1126–1200"]);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn report_lists_unaccounted_numbers_and_every_pending_reason() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 5, "cash", None);
    push_expect(&f, &[s1], &["applied"]).await?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!(x.status, "pending");
    assert_eq!(codes(x), vec!["unaccounted_numbers", "no_heartbeat"]);
    assert_eq!(x.ranges[0].unaccounted_numbers, vec!["1006–1100"]);
    assert_eq!(x.ranges[1].unaccounted_numbers, vec!["1101–1200"]);
    assert_eq!(x.numbers.unaccounted, 195);
    assert_eq!(r.status, "pending");
    assert_eq!(r.blocking.len(), 1);
    // The device says it has 3 more entries the server has not seen.
    heartbeat(&f, &f.device, 4, 3).await?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!(
        codes(x),
        vec!["unaccounted_numbers", "pending_entries", "seq_behind"]
    );
    assert!(x.reasons[2].message.contains("seq 4"), "{:?}", x.reasons);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn report_compares_each_z_report_with_the_server_totals_of_its_shift() -> R {
    let mut f = Fixture::new().await?;
    let shift = Uuid::now_v7();
    let (s1, _) = sale_with(&mut f, 5, "cash", Some(shift)); // seq 1
    let (s2, p2) = sale_with(&mut f, 1, "cash", Some(shift)); // seq 2
    let v2 = void_of(&mut f, &p2); // seq 3
    let (seller, supervisor) = (f.seller_id, f.supervisor_id);
    let z = |sales_amount: i64| ShiftClosePayload {
        shift_id: shift,
        operator_id: seller,
        closed_by: supervisor,
        opened_at: Utc::now() - chrono::Duration::hours(1),
        closed_at: Utc::now(),
        currency: "USD".into(),
        float_amount: 0,
        lines: vec![],
        sales_count: 2,
        sales_amount,
        voids_count: 1,
        voids_amount: 500,
        cash_sales_amount: sales_amount,
        card_sales_amount: 0,
        cash_expected: sales_amount - 500,
        first_seq: Some(1),
        last_seq: Some(3),
        chain_head: "0".repeat(64),
        ranges: vec![],
    };
    let good = z(2500);
    let zc = f
        .device
        .entry(EntryKind::ShiftClose, serde_json::to_value(&good)?);
    push_expect(&f, &[s1, s2, v2, zc], &["applied"; 4]).await?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!(x.shift_closes.len(), 1);
    let sc = &x.shift_closes[0];
    assert!(sc.matches, "{sc:?}");
    assert_eq!(
        (
            sc.server.sales_count,
            sc.server.sales_amount,
            sc.server.voids_count,
            sc.server.voids_amount
        ),
        (2, 2500, 1, 500)
    );
    // A second shift whose Z report claims more than the server holds.
    let shift2 = Uuid::now_v7();
    let (s3, _) = sale_with(&mut f, 1, "cash", Some(shift2)); // seq 5
    let mut bad = z(9999);
    bad.shift_id = shift2;
    bad.sales_count = 1;
    bad.voids_count = 0;
    bad.voids_amount = 0;
    bad.first_seq = Some(5);
    bad.last_seq = Some(5);
    let zb = f
        .device
        .entry(EntryKind::ShiftClose, serde_json::to_value(&bad)?);
    push_expect(&f, &[s3, zb], &["applied"; 2]).await?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    let sc2 = x
        .shift_closes
        .iter()
        .find(|s| s.shift_id == shift2)
        .unwrap();
    assert!(!sc2.matches);
    assert_eq!(
        (sc2.device.sales_amount, sc2.server.sales_amount),
        (9999, 500)
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn report_counts_late_sales() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 1, "cash", None);
    push_expect(&f, &[s1], &["applied"]).await?;
    sqlx::query("UPDATE orders SET is_late = TRUE WHERE rsu_id = $1")
        .bind(f.device.rsu_id)
        .execute(&f.db.pool)
        .await?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!((x.late_sales.count, x.late_sales.amount), (1, 500));
    assert_eq!(r.totals.late_sales, 1);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn report_over_http_needs_the_admin_token_and_has_the_documented_shape() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 5, "cash", None);
    push_expect(&f, &[s1], &["applied"]).await?;
    let path = format!("/v1/admin/events/{}/report", f.event_id);
    let (st, _) = f.send(admin_get(&path, None)).await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = f
        .send(admin_get(&path, Some("wrong-token-wrong-token")))
        .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, v) = f.send(admin_get(&path, Some(TEST_ADMIN_TOKEN))).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    for k in [
        "reportVersion",
        "generatedAt",
        "event",
        "status",
        "blocking",
        "totals",
        "jackpot",
        "rsus",
        "sellers",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {v}");
    }
    assert_eq!(v["reportVersion"], 1);
    let x = &v["rsus"][0];
    for k in [
        "rsuId",
        "rsuNo",
        "status",
        "reasons",
        "exclusion",
        "numbers",
        "excludedNumbers",
        "ranges",
        "amounts",
        "sync",
        "openExceptions",
        "exceptions",
        "lateSales",
        "shiftCloses",
    ] {
        assert!(x.get(k).is_some(), "missing rsus[].{k} in {x}");
    }
    let g = &x["ranges"][0];
    for k in [
        "allocationId",
        "startNumber",
        "endNumber",
        "allocated",
        "sold",
        "voided",
        "released",
        "resolvedRejected",
        "unaccounted",
        "unaccountedNumbers",
    ] {
        assert!(g.get(k).is_some(), "missing ranges[].{k} in {g}");
    }
    assert_eq!(g["sold"], 5);
    assert_eq!(x["amounts"]["byPaymentMethod"]["cash"]["gross"], 2000);
    assert_eq!(
        v["blocking"][0]["reasons"][0]["code"],
        "unaccounted_numbers"
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn report_text_and_csv_show_every_range() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 5, "cash", None);
    push_expect(&f, &[s1], &["applied"]).await?;
    let r = report(&f).await?;
    let text = report::to_text(&r);
    assert!(text.contains("Summer Festival Raffle"), "{text}");
    assert!(
        text.contains("range 1001–1100: allocated 100, sold 5"),
        "{text}"
    );
    assert!(text.contains("unaccounted_numbers"), "{text}");
    let csv = report::to_csv(&r);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("event_identifier,rsu_no"));
    assert!(
        lines[1].contains(",1001,1100,100,5,0,0,0,95,0,1006–1100"),
        "{csv}"
    );
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Resolving exceptions
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn resolve_records_who_when_and_why_and_keeps_the_entry() -> R {
    let mut f = Fixture::new().await?;
    let bad = unallocated_sale(&mut f);
    let id = bad.body.entry_id;
    push_expect(&f, &[bad], &["rejected"]).await?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!(x.open_exceptions, 1);
    assert!(codes(x).contains(&"open_exceptions"));
    assert_eq!(x.exceptions[0].id, id);
    assert_eq!(
        x.exceptions[0].reason_code.as_deref(),
        Some("draw_number_not_allocated")
    );
    let v = resolve(&f, id, "customer refunded").await.map_err(err)?;
    assert_eq!(v["resolvedBy"], ADMIN);
    let (at, by, note, status): (Option<chrono::DateTime<Utc>>, Option<String>, Option<String>, String) =
        sqlx::query_as(
            "SELECT resolved_at, resolved_by_name, resolution_note, status FROM device_journal WHERE entry_id = $1",
        )
        .bind(id)
        .fetch_one(&f.db.pool)
        .await?;
    assert!(at.is_some());
    assert_eq!(by.as_deref(), Some(ADMIN));
    assert_eq!(note.as_deref(), Some("customer refunded"));
    assert_eq!(status, "rejected", "nothing is rewritten or deleted");
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!(x.open_exceptions, 0);
    assert!(!codes(x).contains(&"open_exceptions"));
    assert_eq!(x.exceptions[0].resolved_by.as_deref(), Some(ADMIN));
    assert_eq!(
        f.count("audit_log WHERE table_name = 'device_journal'")
            .await?,
        1
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn resolving_an_entry_twice_is_refused_and_changes_nothing() -> R {
    let mut f = Fixture::new().await?;
    let bad = unallocated_sale(&mut f);
    let id = bad.body.entry_id;
    push_expect(&f, &[bad], &["rejected"]).await?;
    resolve(&f, id, "customer refunded").await.map_err(err)?;
    let e = resolve(&f, id, "second try").await.expect_err("twice");
    assert_eq!(e.status, StatusCode::CONFLICT);
    assert_eq!(e.code, "already_resolved");
    assert!(
        e.message.contains(ADMIN) && e.message.contains("customer refunded"),
        "{}",
        e.message
    );
    let note: Option<String> =
        sqlx::query_scalar("SELECT resolution_note FROM device_journal WHERE entry_id = $1")
            .bind(id)
            .fetch_one(&f.db.pool)
            .await?;
    assert_eq!(note.as_deref(), Some("customer refunded"));
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn resolving_an_applied_or_unknown_entry_or_without_a_note_or_name_is_refused() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 1, "cash", None);
    let applied = s1.body.entry_id;
    push_expect(&f, &[s1], &["applied"]).await?;
    let e = resolve(&f, applied, "x").await.expect_err("applied");
    assert_eq!(e.code, "not_an_exception");
    let e = resolve(&f, Uuid::now_v7(), "x").await.expect_err("unknown");
    assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, "unknown_entry"));
    let e = resolve(&f, applied, "  ").await.expect_err("no note");
    assert!(e.message.contains("field note"), "{}", e.message);
    let e = closeout::resolve(
        &f.db.pool,
        &Resolve {
            entry_id: applied,
            note: "x".into(),
            seq: None,
        },
        None,
    )
    .await
    .expect_err("no name");
    assert_eq!(e.code, "missing_admin_name");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn resolve_over_http_needs_the_admin_name_header() -> R {
    let mut f = Fixture::new().await?;
    let bad = unallocated_sale(&mut f);
    let id = bad.body.entry_id;
    push_expect(&f, &[bad], &["rejected"]).await?;
    let body = json!({"entryId": id, "note": "customer refunded"});
    let (st, v) = f
        .send(admin_post(
            "/v1/admin/exceptions/resolve",
            body.clone(),
            None,
        ))
        .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"], "missing_admin_name");
    let (st, v) = f
        .send(admin_post(
            "/v1/admin/exceptions/resolve",
            body.clone(),
            Some("Bob"),
        ))
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["resolvedBy"], "Bob");
    let (st, v) = f
        .send(admin_post(
            "/v1/admin/exceptions/resolve",
            body,
            Some("Bob"),
        ))
        .await?;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "already_resolved");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_seq_conflict_is_an_exception_until_resolved() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 1, "cash", None);
    push_expect(&f, std::slice::from_ref(&s1), &["applied"]).await?;
    // The same seq with another payload (a restored backup).
    let mut other = s1.clone();
    other.body.payload["totalAmount"] = json!(1);
    let other = other.body.chain(rsu_core::journal::ChainHash::GENESIS)?;
    push_expect(&f, &[other], &["conflict"]).await?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    let ex = x
        .exceptions
        .iter()
        .find(|e| e.source == "seq_conflict")
        .expect("seq conflict listed");
    assert_eq!(x.open_exceptions, 1);
    let id = ex.id;
    resolve(&f, id, "old backup, discarded")
        .await
        .map_err(err)?;
    let r = report(&f).await?;
    assert_eq!(rsu(&r, f.device.rsu_id).open_exceptions, 0);
    let e = resolve(&f, id, "again").await.expect_err("twice");
    assert_eq!(e.code, "already_resolved");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_resolved_repeat_of_an_applied_sale_does_not_count_its_numbers_twice() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 5, "cash", None); // 1001–1005
    let again = f.device.entry(EntryKind::Sale, s1.body.payload.clone()); // same localId, new seq
    let again_id = again.body.entry_id;
    let mut all = vec![s1, again];
    all.extend(releases(&mut f).await?);
    push_expect(&f, &all, &["applied", "conflict", "applied", "applied"]).await?;
    heartbeat(&f, &f.device, 4, 0).await?;
    let r = report(&f).await?;
    assert_eq!(codes(rsu(&r, f.device.rsu_id)), vec!["open_exceptions"]);
    resolve(&f, again_id, "sent twice by a restored backup")
        .await
        .map_err(err)?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    let n = &x.ranges[0].numbers;
    assert_eq!(
        (n.sold, n.resolved_rejected, n.released, n.unaccounted),
        (5, 0, 95, 0)
    );
    assert_eq!(x.status, "reconciled", "{:?}", x.reasons);
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// The draw gate
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn gate_refuses_reconciled_listing_every_blocking_rsu_then_passes_after_resolve_and_exclude(
) -> R {
    let mut f = Fixture::new().await?;
    let rsu2 = second_rsu(&f).await?;
    let (s1, _) = sale_with(&mut f, 5, "cash", None);
    let bad = unallocated_sale(&mut f);
    let bad_id = bad.body.entry_id;
    let mut all = vec![s1, bad];
    all.extend(releases(&mut f).await?);
    push_expect(&f, &all, &["applied", "rejected", "applied", "applied"]).await?;
    heartbeat(&f, &f.device, 4, 0).await?;
    transition(&f, "sales_closed").await.map_err(err)?;
    transition(&f, "reconciling").await.map_err(err)?;

    let e = transition(&f, "reconciled").await.expect_err("blocked");
    assert_eq!(e.status, StatusCode::CONFLICT);
    assert_eq!(e.code, "reconciliation_blocked");
    assert!(e.message.contains("2 RSU(s)"), "{}", e.message);
    assert!(e.message.contains("RSU 1 (RSU-001"), "{}", e.message);
    assert!(e.message.contains("not resolved"), "{}", e.message);
    assert!(e.message.contains("RSU 2 (RSU-002"), "{}", e.message);
    assert!(e.message.contains("2001–2100"), "{}", e.message);
    assert_eq!(state(&f).await?, "reconciling", "nothing changed");

    resolve(&f, bad_id, "customer refunded")
        .await
        .map_err(err)?;
    let e = transition(&f, "reconciled")
        .await
        .expect_err("still blocked");
    assert!(e.message.contains("1 RSU(s)"), "{}", e.message);
    assert!(!e.message.contains("RSU 1 (RSU-001"), "{}", e.message);
    assert!(e.message.contains("RSU 2 (RSU-002"), "{}", e.message);

    exclude(&f, rsu2, false).await.map_err(err)?;
    let v = transition(&f, "reconciled").await.map_err(err)?;
    assert_eq!(v["state"], "reconciled");
    let (at, by): (Option<chrono::DateTime<Utc>>, Option<String>) = sqlx::query_as(
        "SELECT reconciliation_confirmed_at, reconciliation_confirmed_by_name FROM events WHERE id = $1",
    )
    .bind(f.event_id)
    .fetch_one(&f.db.pool)
    .await?;
    assert!(at.is_some());
    assert_eq!(by.as_deref(), Some(ADMIN));
    let r = report(&f).await?;
    assert_eq!(r.status, "reconciled");
    assert_eq!(r.event.reconciliation_confirmed_by.as_deref(), Some(ADMIN));
    assert_eq!(rsu(&r, rsu2).status, "excluded");
    assert_eq!(rsu(&r, rsu2).excluded_numbers, vec!["2001–2100"]);
    assert_eq!(r.totals.numbers.excluded, 100);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn gate_counts_the_numbers_of_a_resolved_rejected_sale_as_accounted() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 1, "cash", None); // 1001
                                                      // 1002–1006 printed on a sale the server rejects (wrong price).
    let pkg = f.pkg(5);
    let numbers = f.device.take_numbers(5);
    let mut p = f
        .device
        .sale_payload(f.event_id, &pkg, numbers, f.seller_id);
    p.unit_price = 1;
    p.total_amount = 1;
    let bad = f.device.entry(EntryKind::Sale, serde_json::to_value(&p)?);
    let bad_id = bad.body.entry_id;
    let mut all = vec![s1, bad];
    all.extend(releases(&mut f).await?); // from 1007
    push_expect(&f, &all, &["applied", "rejected", "applied", "applied"]).await?;
    heartbeat(&f, &f.device, 4, 0).await?;
    transition(&f, "sales_closed").await.map_err(err)?;
    transition(&f, "reconciling").await.map_err(err)?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!(x.ranges[0].unaccounted_numbers, vec!["1002–1006"]);
    assert_eq!(codes(x), vec!["unaccounted_numbers", "open_exceptions"]);
    let e = transition(&f, "reconciled").await.expect_err("blocked");
    assert!(e.message.contains("1002–1006"), "{}", e.message);

    resolve(&f, bad_id, "customer refunded, receipt taken back")
        .await
        .map_err(err)?;
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    let n = &x.ranges[0].numbers;
    assert_eq!(
        (n.sold, n.resolved_rejected, n.released, n.unaccounted),
        (1, 5, 94, 0)
    );
    assert_eq!(x.status, "reconciled", "{:?}", x.reasons);
    transition(&f, "reconciled").await.map_err(err)?;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn gate_waits_for_pending_entries_and_a_broken_chain() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 1, "cash", None);
    let mut all = vec![s1];
    all.extend(releases(&mut f).await?);
    push_expect(&f, &all, &["applied"; 3]).await?;
    heartbeat(&f, &f.device, 5, 2).await?;
    transition(&f, "sales_closed").await.map_err(err)?;
    transition(&f, "reconciling").await.map_err(err)?;
    let e = transition(&f, "reconciled").await.expect_err("pending");
    assert!(
        e.message.contains("2 entries not yet synced"),
        "{}",
        e.message
    );
    assert!(e.message.contains("reported seq 5"), "{}", e.message);
    heartbeat(&f, &f.device, 3, 0).await?;
    sqlx::query(
        "UPDATE rsu_epochs SET chain_verified = FALSE, chain_broken_at = 2 WHERE rsu_id = $1",
    )
    .bind(f.device.rsu_id)
    .execute(&f.db.pool)
    .await?;
    let e = transition(&f, "reconciled").await.expect_err("chain");
    assert!(e.message.contains("broken at seq 2"), "{}", e.message);
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!(codes(x), vec!["chain_broken"]);
    assert_eq!(x.sync.first_bad_seq.as_ref().map(|b| b.seq), Some(2));
    sqlx::query(
        "UPDATE rsu_epochs SET chain_verified = TRUE, chain_broken_at = NULL WHERE rsu_id = $1",
    )
    .bind(f.device.rsu_id)
    .execute(&f.db.pool)
    .await?;
    transition(&f, "reconciled").await.map_err(err)?;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn gate_over_http_needs_the_admin_name_and_lists_the_blocking_rsus() -> R {
    let f = Fixture::new().await?;
    transition(&f, "sales_closed").await.map_err(err)?;
    transition(&f, "reconciling").await.map_err(err)?;
    let body = json!({"eventId": f.event_id, "to": "reconciled"});
    let (st, v) = f
        .send(admin_post(
            "/v1/admin/events/transition",
            body.clone(),
            None,
        ))
        .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"], "missing_admin_name");
    let (st, v) = f
        .send(admin_post("/v1/admin/events/transition", body, Some("Bob")))
        .await?;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "reconciliation_blocked");
    assert!(v["message"].as_str().unwrap().contains("RSU 1"), "{v}");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn configured_needs_a_package_an_rsu_range_and_a_prize() -> R {
    let f = Fixture::new().await?;
    let now = Utc::now();
    let v = admin::create_event(
        &f.db.pool,
        &admin::NewEvent {
            organization_id: f.org_id,
            venue_id: None,
            name: "Bare".into(),
            event_identifier: "BARE-1".into(),
            currency: None,
            sales_start_time: now,
            sales_end_time: now + chrono::Duration::days(1),
            draw_time: now + chrono::Duration::days(2),
            max_tickets: 1000,
            rsu_range_start: None,
            rsu_range_end: None,
            default_allocation_size: 10,
            jackpot_seed_amount: 0,
            jackpot_starting_amount: 0,
            jackpot_percentage_bp: None,
            price_lock: true,
            offline_sales_allowed: true,
            responsible_gaming_text: "x".into(),
            claim_deadline: "x".into(),
            rules_url: "x".into(),
            description: None,
        },
    )
    .await
    .map_err(err)?;
    let ev: Uuid = serde_json::from_value(v["eventId"].clone())?;
    let t = admin::Transition {
        event_id: ev,
        to: "configured".into(),
        reason: None,
    };
    let to_configured = || admin::transition(&f.db.pool, &t);
    let e = to_configured().await.expect_err("bare");
    assert_eq!((e.status, e.code), (StatusCode::CONFLICT, "not_configured"));
    assert!(e.message.contains("an active package"), "{}", e.message);
    assert!(e.message.contains("a prize"), "{}", e.message);
    assert!(!e.message.contains("rsu ticket range"), "{}", e.message);
    admin::create_package(
        &f.db.pool,
        &admin::NewPackage {
            event_id: ev,
            name: "One".into(),
            ticket_count: 1,
            price: 500,
            display_order: 0,
            active_from: None,
            active_to: None,
        },
    )
    .await
    .map_err(err)?;
    let e = to_configured().await.expect_err("no prize");
    assert!(!e.message.contains("package"), "{}", e.message);
    assert!(e.message.contains("a prize"), "{}", e.message);
    // Without an rsu range.
    sqlx::query("UPDATE events SET ticket_allocation = '{\"ranges\": []}' WHERE id = $1")
        .bind(ev)
        .execute(&f.db.pool)
        .await?;
    let e = to_configured().await.expect_err("no range");
    assert!(e.message.contains("rsu ticket range"), "{}", e.message);
    sqlx::query("UPDATE events SET ticket_allocation = '{\"ranges\": [{\"type\": \"rsu\", \"start\": 1, \"end\": 1000, \"defaultAllocationSize\": 10}]}' WHERE id = $1")
        .bind(ev)
        .execute(&f.db.pool)
        .await?;
    admin::create_prize(
        &f.db.pool,
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
    .map_err(err)?;
    to_configured().await.map_err(err)?;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn completed_needs_a_completed_draw() -> R {
    let f = Fixture::new().await?;
    exclude(&f, f.device.rsu_id, false).await.map_err(err)?;
    for s in ["sales_closed", "reconciling", "reconciled", "drawing_ready"] {
        transition(&f, s).await.map_err(err)?;
    }
    let e = transition(&f, "completed").await.expect_err("no draw");
    assert_eq!(e.code, "draw_not_completed");
    assert_eq!(state(&f).await?, "drawing_ready");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn lifting_an_exclusion_waits_for_a_transition_holding_the_event_row() -> R {
    let f = Fixture::new().await?;
    exclude(&f, f.device.rsu_id, false).await.map_err(err)?;
    transition(&f, "sales_closed").await.map_err(err)?;
    transition(&f, "reconciling").await.map_err(err)?;
    // A transition in flight holds the event row.
    let mut tx = f.db.pool.begin().await?;
    sqlx::query("SELECT 1 FROM events WHERE id = $1 FOR UPDATE")
        .bind(f.event_id)
        .execute(&mut *tx)
        .await?;
    let pool = f.db.pool.clone();
    let (ev, rsu) = (f.event_id, f.device.rsu_id);
    let include = tokio::spawn(async move {
        closeout::include_rsu(
            &pool,
            &IncludeRsu {
                event_id: ev,
                rsu_id: rsu,
                reason: "found".into(),
            },
            Some(ADMIN),
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !include.is_finished(),
        "include-rsu must wait for the event row"
    );
    // The transition commits reconciled; the waiting include then sees it and is refused.
    sqlx::query("UPDATE events SET state = 'reconciled' WHERE id = $1")
        .bind(f.event_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let e = include.await?.expect_err("event reconciled");
    assert_eq!(e.code, "event_closed");
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Excluding RSUs
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn exclude_with_lost_marks_the_rsu_lost_revokes_its_keys_and_lists_its_numbers() -> R {
    let mut f = Fixture::new().await?;
    let (s1, _) = sale_with(&mut f, 5, "cash", None); // 1001–1005
    let (s2, _) = sale_with(&mut f, 1, "cash", None); // 1006
    push_expect(&f, &[s1, s2], &["applied"; 2]).await?;
    let v = exclude(&f, f.device.rsu_id, true).await.map_err(err)?;
    assert_eq!(v["excludedCount"], 194);
    assert_eq!(v["excludedNumbers"], json!(["1007–1100", "1101–1200"]));
    assert_eq!(v["rsuState"]["state"], "lost");
    let (state, live): (String, i64) = sqlx::query_as(
        "SELECT r.state, (SELECT count(*) FROM rsu_keys k WHERE k.rsu_id = r.id AND k.revoked_at IS NULL)
           FROM rsus r WHERE r.id = $1",
    )
    .bind(f.device.rsu_id)
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!((state.as_str(), live), ("lost", 0));
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!(x.status, "excluded");
    let ex = x.exclusion.as_ref().expect("exclusion");
    assert_eq!(
        (ex.excluded_by.as_str(), ex.reason.as_str(), ex.marked_lost),
        (ADMIN, "device stolen at gate 4", true)
    );
    assert_eq!(x.excluded_numbers, vec!["1007–1100", "1101–1200"]);
    assert_eq!((x.numbers.unaccounted, x.numbers.excluded), (0, 194));
    assert_eq!(r.status, "reconciled");
    let e = exclude(&f, f.device.rsu_id, false)
        .await
        .expect_err("twice");
    assert_eq!(e.code, "already_excluded");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn an_exclusion_can_be_lifted_and_the_lift_is_recorded() -> R {
    let f = Fixture::new().await?;
    exclude(&f, f.device.rsu_id, false).await.map_err(err)?;
    let inc = IncludeRsu {
        event_id: f.event_id,
        rsu_id: f.device.rsu_id,
        reason: "device found in the office, will sync".into(),
    };
    let lift = || closeout::include_rsu(&f.db.pool, &inc, Some("Bob"));
    let v = lift().await.map_err(err)?;
    assert_eq!(v["liftedBy"], "Bob");
    let r = report(&f).await?;
    let x = rsu(&r, f.device.rsu_id);
    assert_eq!(x.status, "pending");
    assert!(x.exclusion.is_none());
    assert_eq!(x.exclusion_history.len(), 1);
    assert_eq!(x.exclusion_history[0].lifted_by.as_deref(), Some("Bob"));
    assert_eq!(f.count("rsu_event_exclusions").await?, 1, "nothing deleted");
    let e = lift().await.expect_err("not excluded any more");
    assert_eq!(e.code, "not_excluded");
    // It can be excluded again.
    exclude(&f, f.device.rsu_id, false).await.map_err(err)?;
    assert_eq!(f.count("rsu_event_exclusions").await?, 2);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn excluding_an_rsu_of_another_organization_is_refused() -> R {
    let f = Fixture::new().await?;
    let org = admin::create_organization(
        &f.db.pool,
        &admin::NewOrganization {
            name: "Other Club".into(),
            license_number: "L-2".into(),
            currency: "USD".into(),
            validation_number_prefix: "OTH".into(),
            description: None,
        },
    )
    .await
    .map_err(err)?;
    let org: Uuid = serde_json::from_value(org["organizationId"].clone())?;
    let other = admin::create_rsu(
        &f.db.pool,
        &admin::NewRsu {
            organization_id: org,
            name: "OTHER-001".into(),
            rsu_no: Some(1),
            venue_id: None,
            max_offline_tickets: None,
            token_hours: 1,
        },
    )
    .await
    .map_err(err)?;
    let other: Uuid = serde_json::from_value(other["rsuId"].clone())?;
    let e = exclude(&f, other, true).await.expect_err("other org");
    assert_eq!(
        (e.status, e.code),
        (StatusCode::FORBIDDEN, "other_organization")
    );
    assert!(e.message.contains("another organization"), "{}", e.message);
    assert_eq!(f.count("rsu_event_exclusions").await?, 0);
    let st: String = sqlx::query_scalar("SELECT state FROM rsus WHERE id = $1")
        .bind(other)
        .fetch_one(&f.db.pool)
        .await?;
    assert_ne!(st, "lost", "--lost did nothing either");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn excluding_an_rsu_without_an_allocation_or_unknown_is_refused() -> R {
    let f = Fixture::new().await?;
    let v = admin::create_rsu(
        &f.db.pool,
        &admin::NewRsu {
            organization_id: f.org_id,
            name: "RSU-009".into(),
            rsu_no: Some(9),
            venue_id: None,
            max_offline_tickets: None,
            token_hours: 1,
        },
    )
    .await
    .map_err(err)?;
    let idle: Uuid = serde_json::from_value(v["rsuId"].clone())?;
    let e = exclude(&f, idle, false).await.expect_err("no allocation");
    assert_eq!(e.code, "no_allocation");
    let e = exclude(&f, Uuid::now_v7(), false)
        .await
        .expect_err("unknown");
    assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, "unknown_rsu"));
    let e = closeout::exclude_rsu(
        &f.db.pool,
        &ExcludeRsu {
            event_id: Uuid::now_v7(),
            rsu_id: f.device.rsu_id,
            reason: "x".into(),
            lost: false,
        },
        Some(ADMIN),
    )
    .await
    .expect_err("unknown event");
    assert_eq!(e.code, "unknown_event");
    let e = closeout::exclude_rsu(
        &f.db.pool,
        &ExcludeRsu {
            event_id: f.event_id,
            rsu_id: f.device.rsu_id,
            reason: " ".into(),
            lost: false,
        },
        Some(ADMIN),
    )
    .await
    .expect_err("no reason");
    assert!(e.message.contains("field reason"), "{}", e.message);
    assert_eq!(f.count("rsu_event_exclusions").await?, 0);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn exclude_and_include_over_http() -> R {
    let f = Fixture::new().await?;
    let body = json!({"eventId": f.event_id, "rsuId": f.device.rsu_id, "reason": "lost"});
    let (st, v) = f
        .send(admin_post(
            "/v1/admin/rsus/exclude",
            body.clone(),
            Some("Bob"),
        ))
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["excludedBy"], "Bob");
    let (st, v) = f
        .send(admin_post(
            "/v1/admin/rsus/exclude",
            body.clone(),
            Some("Bob"),
        ))
        .await?;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (st, v) = f
        .send(admin_post("/v1/admin/rsus/include", body, Some("Bob")))
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["liftedBy"], "Bob");
    f.drop_db().await;
    Ok(())
}
