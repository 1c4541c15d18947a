//! The server against a real PostgreSQL: a fresh database per test (see `testkit`).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use rsu_core::journal::{ChainHash, EntryKind, JournalEntry};
use rsu_core::payload::CriticalEventPayload;
use rsu_core::wire::{self, DeviceKey, EntryCode};
use serde_json::{json, Value};
use server_stub::admin;
use server_stub::testkit::{http_request, Fixture, Pkg, TestDevice, TestServer, TEST_ADMIN_TOKEN};
use uuid::Uuid;

type R = anyhow::Result<()>;

fn results(v: &Value) -> Vec<(String, Option<String>)> {
    v["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["status"].as_str().unwrap_or("?").to_string(),
                        r["code"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn sale_value(e: &JournalEntry) -> Value {
    e.body.payload.clone()
}

/// Re-chains `entries` after `prev` (after a test edited payloads on purpose).
fn rechain(entries: &mut [JournalEntry], mut prev: ChainHash) {
    for e in entries.iter_mut() {
        let c = e.body.clone().chain(prev).expect("chain");
        *e = c;
        prev = e.hash;
    }
}

#[tokio::test]
async fn enrollment_and_config_pull_serve_the_demo() -> R {
    let f = Fixture::new().await?;
    let (st, v) = f
        .send(f.device.request("GET", wire::PATH_CONFIG, vec![])?)
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let cfg: wire::ConfigResponse = serde_json::from_value(v)?;
    assert_eq!(cfg.epoch, 1);
    assert_eq!(cfg.config.organization.license_number, "LIC-2026-0042");
    assert_eq!(
        cfg.config
            .organization
            .rsu_settings
            .validation_number_prefix,
        "RSU"
    );
    let ev = &cfg.config.events[0];
    assert_eq!(ev.name, "Summer Festival Raffle");
    let mut p: Vec<(u32, i64)> = ev
        .packages
        .iter()
        .map(|p| (p.ticket_count, p.price.minor))
        .collect();
    p.sort();
    assert_eq!(p, vec![(1, 500), (5, 2000), (25, 5000)]);
    assert_eq!(ev.jackpot_current.as_ref().map(|j| j.amount), Some(100_000));
    let allocs: Vec<(i64, i64)> = cfg
        .config
        .allocations
        .iter()
        .map(|a| (a.start_number, a.end_number))
        .collect();
    assert_eq!(allocs, vec![(1001, 1100), (1101, 1200)]);
    let seller = cfg
        .config
        .operators
        .iter()
        .find(|o| o.role == rsu_core::config::Role::Seller)
        .expect("seller");
    let sup = cfg
        .config
        .operators
        .iter()
        .find(|o| o.role == rsu_core::config::Role::Supervisor)
        .expect("supervisor");
    assert!(rsu_core::pin::verify_pin("1111", &seller.pin_hash)?);
    assert!(rsu_core::pin::verify_pin("9999", &sup.pin_hash)?);
    assert!(!rsu_core::pin::verify_pin("1111", &sup.pin_hash)?);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn applied_sales_become_orders_and_tickets_and_voids_void_them() -> R {
    let mut f = Fixture::new().await?;
    let s1 = f.sale(5);
    let s2 = f.sale(25);
    let sale1: rsu_core::payload::SalePayload = serde_json::from_value(sale_value(&s1))?;
    let void = TestDevice::void_payload(&sale1, f.supervisor_id);
    let v = f
        .device
        .entry(EntryKind::Void, serde_json::to_value(&void)?);
    let (st, body) = f.push(&[s1.clone(), s2, v]).await?;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        results(&body),
        vec![
            ("applied".into(), None),
            ("applied".into(), None),
            ("applied".into(), None)
        ]
    );
    assert_eq!(body["ackedThroughSeq"], 3);
    assert_eq!(body["chainVerified"], true);
    assert_eq!(
        f.count("orders WHERE source = 'rsu' AND is_offline_sale")
            .await?,
        2
    );
    assert_eq!(f.count("tickets WHERE state = 'sold'").await?, 25);
    assert_eq!(f.count("tickets WHERE state = 'voided'").await?, 5);
    let (reason, by): (Option<String>, Option<Uuid>) =
        sqlx::query_as("SELECT voided_reason, voided_by FROM orders WHERE id = $1")
            .bind(sale1.local_id)
            .fetch_one(&f.db.pool)
            .await?;
    assert_eq!(reason.as_deref(), Some("customer changed their mind"));
    assert_eq!(by, Some(f.supervisor_id));
    let (sold, voided, next): (i32, i32, i32) = sqlx::query_as(
        "SELECT tickets_sold, tickets_voided, next_draw_number FROM rsu_allocations WHERE start_number = 1001",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!((sold, voided, next), (30, 5, 1031));
    // The chain head answered is the hash of the last entry.
    assert_eq!(body["chainHead"], json!(f.device.prev_hash.to_hex()));
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_same_batch_twice_is_answered_duplicate_with_the_first_answer() -> R {
    let mut f = Fixture::new().await?;
    let batch: Vec<JournalEntry> = (0..10).map(|_| f.sale(5)).collect();
    let (st, first) = f.push(&batch).await?;
    assert_eq!(st, StatusCode::OK, "{first}");
    let (st, again) = f.push(&batch).await?;
    assert_eq!(st, StatusCode::OK, "{again}");
    for r in again["results"].as_array().into_iter().flatten() {
        assert_eq!(r["status"], "duplicate");
        assert_eq!(r["firstStatus"], "applied");
    }
    assert_eq!(again["ackedThroughSeq"], first["ackedThroughSeq"]);
    assert_eq!(again["chainHead"], first["chainHead"]);
    assert_eq!(f.count("orders").await?, 10);
    assert_eq!(f.count("tickets").await?, 50);
    assert_eq!(f.count("device_journal").await?, 10);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_same_batch_on_eight_concurrent_connections_is_applied_exactly_once() -> R {
    let mut f = Fixture::new().await?;
    let batch: Vec<JournalEntry> = (0..20).map(|_| f.sale(5)).collect();
    let body = f.device.push_body(&batch)?;
    let server = TestServer::spawn(f.state.clone()).await?;
    let mut tasks = vec![];
    for _ in 0..8 {
        let headers = f.device.signed_headers("POST", wire::PATH_JOURNAL, &body)?;
        let body = body.clone();
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            http_request(addr, "POST", wire::PATH_JOURNAL, &headers, &body).await
        }));
    }
    let mut applied = 0;
    let mut duplicate = 0;
    for t in tasks {
        let (status, v) = t.await??;
        assert_eq!(status, 200, "{v}");
        for (s, _) in results(&v) {
            match s.as_str() {
                "applied" => applied += 1,
                "duplicate" => duplicate += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert_eq!(
        applied, 20,
        "each entry applied exactly once across the 8 pushes"
    );
    assert_eq!(duplicate, 7 * 20);
    assert_eq!(f.count("orders").await?, 20);
    assert_eq!(f.count("tickets").await?, 100);
    server.stop().await;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_same_seq_with_another_payload_is_a_conflict_and_nothing_is_overwritten() -> R {
    let mut f = Fixture::new().await?;
    let a = f.sale(1);
    let b = f.sale(1);
    let (st, _) = f.push(&[a.clone(), b.clone()]).await?;
    assert_eq!(st, StatusCode::OK);
    // A restored backup: seq 2 again, with a different sale.
    let mut other = b.clone();
    other.body.payload["totalAmount"] = json!(499);
    other = other.body.clone().chain(a.hash)?;
    let (st, v) = f.push(&[other.clone()]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![("conflict".into(), Some("seq_conflict".into()))]
    );
    let stored_total: Value =
        sqlx::query_scalar("SELECT payload->'totalAmount' FROM device_journal WHERE seq = 2")
            .fetch_one(&f.db.pool)
            .await?;
    assert_eq!(stored_total, json!(500), "the stored entry is untouched");
    assert_eq!(f.count("journal_conflicts").await?, 1);
    assert_eq!(f.count("orders").await?, 2);
    // The same localId under a new seq is a conflict too (id reuse), also never applied.
    let mut dup = f.sale(1);
    dup.body.payload["localId"] = a.body.payload["localId"].clone();
    let mut v2 = vec![dup];
    rechain(&mut v2, b.hash);
    let (_, v) = f.push(&v2).await?;
    assert_eq!(
        results(&v),
        vec![("conflict".into(), Some("id_conflict".into()))]
    );
    assert_eq!(f.count("orders").await?, 2);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_gap_is_answered_409_with_the_expected_seq() -> R {
    let mut f = Fixture::new().await?;
    let a = f.sale(1);
    let _lost = f.sale(1);
    let c = f.sale(1);
    let (st, _) = f.push(&[a]).await?;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = f.push(&[c]).await?;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "gap");
    assert_eq!(v["expectedSeq"], 2);
    assert!(v["message"].as_str().unwrap_or("").contains("seq 2"));
    assert_eq!(f.count("device_journal").await?, 1);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_tampered_entry_is_rejected_and_flagged_and_later_entries_still_apply() -> R {
    let mut f = Fixture::new().await?;
    let a = f.sale(1);
    let mut b = f.sale(1);
    let c = f.sale(1);
    b.body.payload["totalAmount"] = json!(1); // altered after hashing
    let (st, v) = f.push(&[a, b, c]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![
            ("applied".into(), None),
            ("rejected".into(), Some("broken_chain".into())),
            ("applied".into(), None)
        ]
    );
    assert_eq!(v["chainVerified"], false);
    let (verified, at): (bool, Option<i64>) =
        sqlx::query_as("SELECT chain_verified, chain_broken_at FROM rsu_epochs")
            .fetch_one(&f.db.pool)
            .await?;
    assert_eq!((verified, at), (false, Some(2)));
    // Stored with its full payload.
    let stored: Value = sqlx::query_scalar(
        "SELECT payload FROM device_journal WHERE seq = 2 AND status = 'rejected'",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(stored["totalAmount"], 1);
    assert_eq!(f.count("orders").await?, 2);
    f.drop_db().await;
    Ok(())
}

/// An extra event of the demo organization in `state`, with one 1-ticket package and an
/// allocation for the device; returns (event id, package).
async fn extra_event(
    f: &Fixture,
    ident: &str,
    state: &[&str],
    price_lock: bool,
    start: i64,
) -> anyhow::Result<(Uuid, Pkg)> {
    let now = Utc::now();
    let ev = admin::create_event(
        &f.db.pool,
        &admin::NewEvent {
            organization_id: f.org_id,
            venue_id: None,
            name: format!("Event {ident}"),
            event_identifier: ident.into(),
            currency: Some("USD".into()),
            sales_start_time: now - Duration::hours(2),
            sales_end_time: now + Duration::days(1),
            draw_time: now + Duration::days(2),
            max_tickets: 100_000,
            rsu_range_start: None,
            rsu_range_end: None,
            default_allocation_size: 100,
            jackpot_seed_amount: 0,
            jackpot_starting_amount: 0,
            jackpot_percentage_bp: None,
            price_lock,
            offline_sales_allowed: true,
            responsible_gaming_text: "Play responsibly".into(),
            claim_deadline: "90 days".into(),
            rules_url: "https://example.org".into(),
            description: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ev: Uuid = serde_json::from_value(ev["eventId"].clone())?;
    let (from, to) = if price_lock {
        (None, None)
    } else {
        (
            Some(now + Duration::hours(5)),
            Some(now + Duration::hours(6)),
        )
    };
    let p = admin::create_package(
        &f.db.pool,
        &admin::NewPackage {
            event_id: ev,
            name: "One".into(),
            ticket_count: 1,
            price: 500,
            display_order: 0,
            active_from: from,
            active_to: to,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let pid: Uuid = serde_json::from_value(p["packageId"].clone())?;
    admin::create_allocation(
        &f.db.pool,
        &admin::NewAllocation {
            event_id: ev,
            rsu_id: f.device.rsu_id,
            start_number: Some(start),
            end_number: Some(start + 99),
            count: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
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
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    for s in state {
        if *s == "reconciled" {
            // The draw gate (issue 11) waits for every RSU holding an allocation: this device
            // never syncs this event, so it is excluded.
            server_stub::closeout::exclude_rsu(
                &f.db.pool,
                &server_stub::closeout::ExcludeRsu {
                    event_id: ev,
                    rsu_id: f.device.rsu_id,
                    reason: "test event: the device never sells here".into(),
                    lost: false,
                },
                Some("test"),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        admin::transition(
            &f.db.pool,
            &admin::Transition {
                event_id: ev,
                to: (*s).into(),
                reason: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok((
        ev,
        Pkg {
            id: pid,
            name: "One".into(),
            ticket_count: 1,
            price: 500,
        },
    ))
}

#[tokio::test]
async fn every_rejection_code_is_answered_stored_with_its_payload_and_never_blocks_later_entries(
) -> R {
    let mut f = Fixture::new().await?;
    let seller = f.seller_id;
    let one = f.pkg(1);
    let five = f.pkg(5);
    let ev = f.event_id;
    let (ev_configured, p_configured) =
        extra_event(&f, "E-CONF", &["configured"], true, 5001).await?;
    let (ev_cancelled, p_cancelled) =
        extra_event(&f, "E-CANC", &["configured", "cancelled"], true, 6001).await?;
    let (ev_reconciled, p_reconciled) = extra_event(
        &f,
        "E-RECO",
        &[
            "configured",
            "active",
            "sales_closed",
            "reconciling",
            "reconciled",
        ],
        true,
        7001,
    )
    .await?;
    let (ev_windows, p_windows) =
        extra_event(&f, "E-WIND", &["configured", "active"], false, 8001).await?;
    // Another organization's event.
    let other_org = admin::create_organization(
        &f.db.pool,
        &admin::NewOrganization {
            name: "Other".into(),
            license_number: "L2".into(),
            currency: "USD".into(),
            validation_number_prefix: "RSU".into(),
            description: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let other_org: Uuid = serde_json::from_value(other_org["organizationId"].clone())?;
    let other_ev = admin::create_event(
        &f.db.pool,
        &admin::NewEvent {
            organization_id: other_org,
            venue_id: None,
            name: "Foreign".into(),
            event_identifier: "F-1".into(),
            currency: None,
            sales_start_time: Utc::now() - Duration::hours(1),
            sales_end_time: Utc::now() + Duration::days(1),
            draw_time: Utc::now() + Duration::days(2),
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
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let other_ev: Uuid = serde_json::from_value(other_ev["eventId"].clone())?;
    // Sale payloads name the allocations of their numbers.
    f.device.refresh_allocations(&f.db.pool).await?;

    // A sale already on the server, whose number another sale will claim (the COPY collision path),
    // and one for void tests.
    let base = f.sale(1);
    let base_sale: rsu_core::payload::SalePayload =
        serde_json::from_value(base.body.payload.clone())?;
    let (st, v) = f.push(std::slice::from_ref(&base)).await?;
    assert_eq!(st, StatusCode::OK, "{v}");

    let mut cases: Vec<(EntryCode, EntryKind, Value)> = vec![];
    let d = &mut f.device;
    let sale =
        |d: &mut TestDevice, ev: Uuid, p: &Pkg, edit: &dyn Fn(&mut Value)| -> (EntryKind, Value) {
            let nums = d.take_numbers(p.ticket_count);
            let mut v =
                serde_json::to_value(d.sale_payload(ev, p, nums, seller)).unwrap_or(Value::Null);
            edit(&mut v);
            (EntryKind::Sale, v)
        };
    let nop = |_: &mut Value| {};
    let mut push = |code: EntryCode, kv: (EntryKind, Value)| cases.push((code, kv.0, kv.1));
    push(
        EntryCode::BadPayload,
        sale(d, ev, &one, &|v| v["ticketCount"] = json!("five")),
    );
    push(EntryCode::UnknownEvent, sale(d, other_ev, &one, &nop));
    push(EntryCode::UnknownEvent, sale(d, Uuid::now_v7(), &one, &nop));
    push(
        EntryCode::EventNotActive,
        sale(d, ev_configured, &p_configured, &nop),
    );
    push(
        EntryCode::EventCancelled,
        sale(d, ev_cancelled, &p_cancelled, &nop),
    );
    push(
        EntryCode::EventReconciled,
        sale(d, ev_reconciled, &p_reconciled, &nop),
    );
    push(
        EntryCode::SalesNotOpen,
        sale(d, ev, &one, &|v| {
            v["soldAt"] = json!("2000-01-01T00:00:00.000Z")
        }),
    );
    push(
        EntryCode::SalesClosed,
        sale(d, ev, &one, &|v| {
            v["soldAt"] = json!("2099-01-01T00:00:00.000Z")
        }),
    );
    push(
        EntryCode::UnknownPackage,
        sale(d, ev, &one, &|v| v["packageId"] = json!(Uuid::now_v7())),
    );
    d.next_number = 8001;
    push(
        EntryCode::PackageNotOnSale,
        sale(d, ev_windows, &p_windows, &nop),
    );
    d.next_number = 1101;
    push(
        EntryCode::TicketCountMismatch,
        sale(d, ev, &five, &|v| {
            v["drawNumbers"] = json!([1101, 1102, 1103, 1104]);
            v["ticketCount"] = json!(4);
        }),
    );
    push(
        EntryCode::PriceMismatch,
        sale(d, ev, &five, &|v| v["unitPrice"] = json!(1999)),
    );
    push(
        EntryCode::PriceMismatch,
        sale(d, ev, &five, &|v| v["totalAmount"] = json!(2001)),
    );
    push(
        EntryCode::CurrencyMismatch,
        sale(d, ev, &one, &|v| v["currency"] = json!("EUR")),
    );
    push(
        EntryCode::BadValidationNumber,
        sale(d, ev, &one, &|v| {
            v["validationNumber"] = json!("not-a-number")
        }),
    );
    push(
        EntryCode::BadValidationNumber,
        sale(d, ev, &one, &|v| v["saleSeq"] = json!(999_999)),
    );
    push(
        EntryCode::BadTag,
        sale(d, ev, &one, &|v| {
            let s = v["validationNumber"].as_str().unwrap_or("").to_string();
            let (head, tag) = s.split_at(s.len() - 4);
            let flipped = if tag == "ZZZZ" { "YYYY" } else { "ZZZZ" };
            v["validationNumber"] = json!(format!("{head}{flipped}"));
        }),
    );
    let base_vn = base_sale.validation_number.clone();
    push(
        EntryCode::DuplicateValidationNumber,
        sale(d, ev, &one, &|v| {
            v["validationNumber"] = json!(base_vn.clone());
            v["saleSeq"] = json!(base_sale.sale_seq);
        }),
    );
    push(
        EntryCode::DrawNumberNotAllocated,
        sale(d, ev, &one, &|v| v["drawNumbers"] = json!([99_999])),
    );
    push(
        EntryCode::DrawNumberNotAllocated,
        sale(d, ev, &one, &|v| v["drawNumbers"] = json!([5001])),
    ); // another event's allocation
    let base_num = base_sale.draw_numbers[0];
    let base_segments = json!(base_sale.segments);
    push(
        EntryCode::DrawNumberTaken,
        sale(d, ev, &one, &|v| {
            v["drawNumbers"] = json!([base_num]);
            v["allocationId"] = json!(base_sale.allocation_id);
            v["segments"] = base_segments.clone();
        }),
    );
    push(
        EntryCode::UnknownOperator,
        sale(d, ev, &one, &|v| v["operatorId"] = json!(Uuid::now_v7())),
    );
    // Voids.
    let mut unknown_void = TestDevice::void_payload(&base_sale, Uuid::now_v7());
    unknown_void.local_id = Uuid::now_v7();
    push(
        EntryCode::UnknownOrder,
        (EntryKind::Void, serde_json::to_value(&unknown_void)?),
    );
    let good_void = TestDevice::void_payload(&base_sale, f.supervisor_id);
    cases.push((
        EntryCode::BadPayload,
        EntryKind::Void,
        json!({"localId": "x"}),
    ));
    let n_cases_before_void = cases.len();
    // The first void applies; the second is already_voided (checked below).
    let release =
        json!({"allocationId": Uuid::now_v7(), "eventId": ev, "startNumber": 1, "endNumber": 2});

    // Build the batch: every case, each followed by nothing special; then a good void, a second void,
    // a bad release, and a final good sale to prove nothing blocks.
    let mut entries = vec![];
    let mut expect: Vec<(String, Option<String>)> = vec![];
    for (code, kind, payload) in cases {
        entries.push(f.device.entry(kind, payload));
        expect.push(("rejected".into(), Some(code.as_str().into())));
    }
    assert_eq!(entries.len(), n_cases_before_void);
    entries.push(
        f.device
            .entry(EntryKind::Void, serde_json::to_value(&good_void)?),
    );
    expect.push(("applied".into(), None));
    entries.push(
        f.device
            .entry(EntryKind::Void, serde_json::to_value(&good_void)?),
    );
    expect.push(("rejected".into(), Some("already_voided".into())));
    entries.push(f.device.entry(EntryKind::AllocationRelease, release));
    expect.push(("rejected".into(), Some("unknown_allocation".into())));
    // Two sales in one batch claiming the same number: the second is draw_number_taken.
    f.device.next_number = 1150;
    let dup1 = f.sale(1);
    f.device.next_number = 1150;
    let dup2 = f.sale(1);
    entries.push(dup1);
    expect.push(("applied".into(), None));
    entries.push(dup2);
    expect.push(("rejected".into(), Some("draw_number_taken".into())));
    f.device.next_number = 1160;
    entries.push(f.sale(5));
    expect.push(("applied".into(), None));

    let (st, v) = f.push(&entries).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let got = results(&v);
    for (i, (g, e)) in got.iter().zip(expect.iter()).enumerate() {
        assert_eq!(g, e, "entry {i}: {}", v["results"][i]);
    }
    assert_eq!(got.len(), expect.len());
    // Every entry is stored, rejected ones with payload and reason.
    let stored = f.count("device_journal").await?;
    assert_eq!(stored as usize, 1 + entries.len());
    let rejected_without_reason = f
        .count(
            "device_journal WHERE status <> 'applied' AND (reason_code IS NULL OR payload IS NULL)",
        )
        .await?;
    assert_eq!(rejected_without_reason, 0);
    // Only the base sale, dup1 and the last sale became orders.
    assert_eq!(f.count("orders").await?, 3);
    assert_eq!(f.count("orders WHERE voided_at IS NOT NULL").await?, 1);
    // broken_chain, seq_conflict and id_conflict have their own tests; this proves every
    // other code in the protocol is reachable.
    let mut covered: std::collections::HashSet<String> =
        expect.iter().filter_map(|(_, c)| c.clone()).collect();
    covered.extend(["broken_chain", "seq_conflict", "id_conflict"].map(String::from));
    for c in EntryCode::ALL {
        assert!(covered.contains(c.as_str()), "code {c} is not tested");
    }
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn device_critical_events_land_with_rsu_and_operator() -> R {
    let mut f = Fixture::new().await?;
    let c = CriticalEventPayload {
        event_type: "PIN_FAILED".into(),
        severity: "WARNING".into(),
        description: "three wrong PINs".into(),
        operator_id: Some(f.seller_id),
        event_id: Some(f.event_id),
        metadata: json!({"attempts": 3}),
    };
    let e = f
        .device
        .entry(EntryKind::CriticalEvent, serde_json::to_value(&c)?);
    let (st, v) = f.push(&[e]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (rsu, user, sev): (Option<Uuid>, Option<Uuid>, String) = sqlx::query_as(
        "SELECT rsu_id, user_id, severity FROM critical_events WHERE event_type = 'PIN_FAILED'",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(
        (rsu, user, sev.as_str()),
        (Some(f.device.rsu_id), Some(f.seller_id), "WARNING")
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn replayed_nonce_skewed_clock_bad_signature_unknown_and_revoked_keys_are_401_with_server_time(
) -> R {
    let mut f = Fixture::new().await?;
    let first = f.sale(1);
    let body = f.device.push_body(&[first])?;
    let h = wire::sign_request(
        &f.device.key,
        f.device.rsu_id,
        f.device.key_id,
        "POST",
        wire::PATH_JOURNAL,
        &body,
        Utc::now().timestamp(),
    )?;
    let (st, _) = f
        .send(
            f.device
                .request_with("POST", wire::PATH_JOURNAL, body.clone(), &h)?,
        )
        .await?;
    assert_eq!(st, StatusCode::OK);
    let check = |st: StatusCode, v: &Value, code: &str| {
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(v["error"], code, "{v}");
        assert!(v["serverTime"].is_string(), "a 401 carries serverTime: {v}");
    };
    // Replay of the very same request.
    let (st, v) = f
        .send(
            f.device
                .request_with("POST", wire::PATH_JOURNAL, body.clone(), &h)?,
        )
        .await?;
    check(st, &v, "nonce_reused");
    // Skewed clock.
    f.device.clock_offset = -400;
    let (st, v) = f
        .send(f.device.request("POST", wire::PATH_JOURNAL, body.clone())?)
        .await?;
    check(st, &v, "clock_skew");
    f.device.clock_offset = 0;
    // Bad signature: signed over another body.
    let h2 = wire::sign_request(
        &f.device.key,
        f.device.rsu_id,
        f.device.key_id,
        "POST",
        wire::PATH_JOURNAL,
        b"{}",
        Utc::now().timestamp(),
    )?;
    let (st, v) = f
        .send(
            f.device
                .request_with("POST", wire::PATH_JOURNAL, body.clone(), &h2)?,
        )
        .await?;
    check(st, &v, "bad_signature");
    // Signed by another key under this key id.
    let stranger = DeviceKey::generate()?;
    let h3 = wire::sign_request(
        &stranger,
        f.device.rsu_id,
        f.device.key_id,
        "GET",
        wire::PATH_CONFIG,
        b"",
        Utc::now().timestamp(),
    )?;
    let (st, v) = f
        .send(
            f.device
                .request_with("GET", wire::PATH_CONFIG, vec![], &h3)?,
        )
        .await?;
    check(st, &v, "bad_signature");
    // Unknown key id.
    let h4 = wire::sign_request(
        &f.device.key,
        f.device.rsu_id,
        Uuid::now_v7(),
        "GET",
        wire::PATH_CONFIG,
        b"",
        Utc::now().timestamp(),
    )?;
    let (st, v) = f
        .send(
            f.device
                .request_with("GET", wire::PATH_CONFIG, vec![], &h4)?,
        )
        .await?;
    check(st, &v, "unknown_key");
    // Missing headers.
    let req = Request::builder()
        .method("GET")
        .uri(wire::PATH_CONFIG)
        .body(Body::empty())?;
    let (st, v) = f.send(req).await?;
    check(st, &v, "missing_header");
    // Revoked key.
    admin::revoke_key(
        &f.db.pool,
        &admin::RevokeKey {
            key_id: Some(f.device.key_id),
            rsu_id: None,
            all: false,
            reason: "stolen".into(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (st, v) = f
        .send(f.device.request("GET", wire::PATH_CONFIG, vec![])?)
        .await?;
    check(st, &v, "key_revoked");
    let another = f.sale(1);
    let (st, v) = f.push(&[another]).await?;
    check(st, &v, "key_revoked");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn an_expired_key_still_uploads_sales_made_before_it_expired_but_nothing_else() -> R {
    let mut f = Fixture::new().await?;
    let before = f.sale(1);
    let expiry = Utc::now();
    sqlx::query(
        "UPDATE rsu_keys SET valid_from = $2 - interval '1 day', expires_at = $2 WHERE id = $1",
    )
    .bind(f.device.key_id)
    .bind(expiry)
    .execute(&f.db.pool)
    .await?;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let after = {
        let pkg = f.pkg(1);
        let nums = f.device.take_numbers(1);
        let s = f.device.sale_payload(f.event_id, &pkg, nums, f.seller_id);
        f.device.entry_at(
            EntryKind::Sale,
            serde_json::to_value(s)?,
            expiry + Duration::seconds(1),
        )
    };
    let (st, v) = f
        .send(f.device.request("GET", wire::PATH_CONFIG, vec![])?)
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("key_expired"))
    );
    let (st, v) = f.push(&[before, after.clone()]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![("applied".into(), None)],
        "only the entry made before expiry"
    );
    assert_eq!(v["ackedThroughSeq"], 1);
    let (st, v) = f.push(&[after]).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("key_expired"))
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_device_cannot_touch_another_organizations_event() -> R {
    let f = Fixture::new().await?;
    let other = admin::create_organization(
        &f.db.pool,
        &admin::NewOrganization {
            name: "Other".into(),
            license_number: "L2".into(),
            currency: "USD".into(),
            validation_number_prefix: "RSU".into(),
            description: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let other: Uuid = serde_json::from_value(other["organizationId"].clone())?;
    let ev = admin::create_event(
        &f.db.pool,
        &admin::NewEvent {
            organization_id: other,
            venue_id: None,
            name: "Foreign".into(),
            event_identifier: "F-1".into(),
            currency: None,
            sales_start_time: Utc::now() - Duration::hours(1),
            sales_end_time: Utc::now() + Duration::days(1),
            draw_time: Utc::now() + Duration::days(2),
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
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ev: Uuid = serde_json::from_value(ev["eventId"].clone())?;
    let body = serde_json::to_vec(&json!({"eventId": ev}))?;
    let (st, v) = f
        .send(f.device.request("POST", wire::PATH_ALLOCATIONS, body)?)
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_event")),
        "{v}"
    );
    assert_eq!(f.count("rsu_allocations WHERE event_id IN (SELECT id FROM events WHERE organization_id <> (SELECT organization_id FROM rsus LIMIT 1))").await?, 0);
    // Its own event: a top-up is carved above the existing allocations, disjoint.
    let body = serde_json::to_vec(&json!({"eventId": f.event_id, "count": 50}))?;
    let (st, v) = f
        .send(f.device.request("POST", wire::PATH_ALLOCATIONS, body)?)
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["allocation"]["startNumber"].as_i64(),
            v["allocation"]["endNumber"].as_i64()
        ),
        (Some(1201), Some(1250))
    );
    assert_eq!(
        f.count("audit_log WHERE table_name = 'rsu_allocations'")
            .await?,
        3
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn malformed_json_wrong_types_and_oversized_bodies_are_4xx_naming_the_problem() -> R {
    let mut f = Fixture::new().await?;
    let cases: Vec<(Vec<u8>, StatusCode, &str, &str)> = vec![
        (
            b"{not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "not valid JSON",
        ),
        (
            b"".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "empty",
        ),
        (
            br#"{"epoch": "one", "entries": []}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "epoch",
        ),
        (
            br#"{"epoch": 1}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "entries",
        ),
        (
            br#"{"epoch": 1, "entries": [{"seq": "x"}]}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "entries[0]",
        ),
        (
            br#"[1,2,3]"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "JSON object",
        ),
    ];
    for (body, status, code, needle) in cases {
        let (st, v) = f
            .send(f.device.request("POST", wire::PATH_JOURNAL, body.clone())?)
            .await?;
        assert_eq!(st, status, "{} -> {v}", String::from_utf8_lossy(&body));
        assert_eq!(v["error"], code, "{v}");
        assert!(v["message"].as_str().unwrap_or("").contains(needle), "{v}");
    }
    // Wrong type deep inside an entry.
    let mut e = f.sale(1);
    let mut text: Value = serde_json::from_slice(&f.device.push_body(&[e.clone()])?)?;
    text["entries"][0]["seq"] = json!(-3);
    let (st, v) = f
        .send(
            f.device
                .request("POST", wire::PATH_JOURNAL, serde_json::to_vec(&text)?)?,
        )
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field")),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap_or("").contains("entries[0]"),
        "{v}"
    );
    // Not contiguous.
    e.body.seq = 1;
    let mut e2 = e.clone();
    e2.body.seq = 3;
    let (st, v) = f.push(&[e, e2]).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("batch_not_contiguous")),
        "{v}"
    );
    // Oversized: 5 MiB.
    let big = vec![b' '; 5 * 1024 * 1024];
    let (st, v) = f
        .send(f.device.request("POST", wire::PATH_JOURNAL, big)?)
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large")),
        "{v}"
    );
    // Oversized over a real socket too, without Content-Length tricks.
    let server = TestServer::spawn(f.state.clone()).await?;
    let big = vec![b' '; 5 * 1024 * 1024];
    let headers = f.device.signed_headers("POST", wire::PATH_JOURNAL, &big)?;
    let (st, v) = http_request(server.addr, "POST", wire::PATH_JOURNAL, &headers, &big).await?;
    assert_eq!(st, 413, "{v}");
    // Unknown path.
    let (st, v) = f
        .send(Request::builder().uri("/v1/nothing").body(Body::empty())?)
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_such_endpoint"))
    );
    server.stop().await;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn admin_http_needs_the_bearer_token_and_checks_the_state_machine() -> R {
    let f = Fixture::new().await?;
    let post = |token: Option<&str>, path: &str, body: Value| -> anyhow::Result<Request<Body>> {
        let mut b = Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        Ok(b.body(Body::from(serde_json::to_vec(&body)?))?)
    };
    let body = json!({"eventId": f.event_id, "to": "suspended"});
    let (st, v) = f
        .send(post(None, "/v1/admin/events/transition", body.clone())?)
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_admin_token"))
    );
    let (st, _) = f
        .send(post(
            Some("wrong-token-wrong-token"),
            "/v1/admin/events/transition",
            body.clone(),
        )?)
        .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, v) = f
        .send(post(
            Some(TEST_ADMIN_TOKEN),
            "/v1/admin/events/transition",
            body,
        )?)
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        f.count("critical_events WHERE event_type = 'EVENT_STATE_CHANGED'")
            .await?,
        3
    );
    assert_eq!(f.count("rsu_commands WHERE kind = 'suspend'").await?, 1);
    let (st, v) = f
        .send(post(
            Some(TEST_ADMIN_TOKEN),
            "/v1/admin/events/transition",
            json!({"eventId": f.event_id, "to": "completed"}),
        )?)
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_transition")),
        "{v}"
    );
    let (st, v) = f
        .send(post(Some(TEST_ADMIN_TOKEN), "/v1/admin/allocations", json!({"eventId": f.event_id, "rsuId": f.device.rsu_id, "startNumber": 1050, "endNumber": 1300}))?)
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("overlaps")),
        "{v}"
    );
    let (st, v) = f
        .send(post(
            Some(TEST_ADMIN_TOKEN),
            "/v1/admin/organizations",
            json!({"name": "X", "licenseNumber": "L", "currency": "usd"}),
        )?)
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap_or("").contains("currency"));
    // The device sees the suspend command in its config.
    let (_, v) = f
        .send(f.device.request("GET", wire::PATH_CONFIG, vec![])?)
        .await?;
    assert_eq!(v["config"]["commands"][0]["kind"], "suspend");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn key_rotation_overlaps_and_heartbeat_reports() -> R {
    let mut f = Fixture::new().await?;
    let next = DeviceKey::generate()?;
    let body = serde_json::to_vec(&json!({"publicKey": next.public_key_hex()}))?;
    let (st, v) = f
        .send(f.device.request("POST", wire::PATH_KEYS, body)?)
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let new_id: Uuid = serde_json::from_value(v["keyId"].clone())?;
    // The old key still works…
    let (st, _) = f
        .send(f.device.request("GET", wire::PATH_CONFIG, vec![])?)
        .await?;
    assert_eq!(st, StatusCode::OK);
    // …and so does the new one.
    f.device.key = next;
    f.device.key_id = new_id;
    let e = f.sale(1);
    let (st, v) = f.push(&[e]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let hb = json!({"epoch": 1, "lastSeq": 1, "pendingCount": 0, "printerStatus": "ok", "appVersion": "t", "appHash": "h"});
    let (st, v) = f
        .send(
            f.device
                .request("POST", wire::PATH_HEARTBEAT, serde_json::to_vec(&hb)?)?,
        )
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["ackedThroughSeq"], 1);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_server_killed_in_the_middle_of_a_batch_leaves_no_partial_order() -> R {
    let mut f = Fixture::new().await?;
    let batch: Vec<JournalEntry> = (0..40).map(|_| f.sale(5)).collect();
    let body = f.device.push_body(&batch)?;
    let bin = env!("CARGO_BIN_EXE_server-stub");
    let spawn = |crash: Option<&str>, port: u16| -> anyhow::Result<std::process::Child> {
        let mut c = std::process::Command::new(bin);
        c.arg("serve")
            .env("DATABASE_URL", &f.db.url)
            .env("SERVER_STUB_BIND", format!("127.0.0.1:{port}"))
            .env_remove("SERVER_STUB_ADMIN_TOKEN")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(p) = crash {
            c.env("SERVER_STUB_CRASH_POINT", p);
        }
        Ok(c.spawn()?)
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse()?;
    for point in ["after_tickets", "before_commit"] {
        let mut child = spawn(Some(point), port)?;
        wait_up(addr).await?;
        let headers = f.device.signed_headers("POST", wire::PATH_JOURNAL, &body)?;
        let r = http_request(addr, "POST", wire::PATH_JOURNAL, &headers, &body).await;
        assert!(r.is_err(), "the server died before answering: {r:?}");
        let status = child.wait()?;
        assert!(!status.success(), "aborted at {point}");
        assert_eq!(
            f.count("orders").await?,
            0,
            "no partial order after a crash at {point}"
        );
        assert_eq!(f.count("tickets").await?, 0);
        assert_eq!(f.count("device_journal").await?, 0);
    }
    // Restarted, the same bytes are applied in full.
    let mut child = spawn(None, port)?;
    wait_up(addr).await?;
    let headers = f.device.signed_headers("POST", wire::PATH_JOURNAL, &body)?;
    let (st, v) = http_request(addr, "POST", wire::PATH_JOURNAL, &headers, &body).await?;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(st, 200, "{v}");
    assert_eq!(f.count("orders").await?, 40);
    assert_eq!(f.count("tickets").await?, 200);
    f.drop_db().await;
    Ok(())
}

async fn wait_up(addr: std::net::SocketAddr) -> R {
    for _ in 0..200 {
        if let Ok((200, _)) = http_request(addr, "GET", "/health", &[], b"").await {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("server did not come up on {addr}")
}

#[tokio::test]
async fn a_nul_character_in_a_payload_is_a_rejection_not_a_server_error() -> R {
    let mut f = Fixture::new().await?;
    let pkg = f.pkg(1);
    let nums = f.device.take_numbers(1);
    let mut s = f.device.sale_payload(f.event_id, &pkg, nums, f.seller_id);
    s.customer_info = Some(rsu_core::payload::CustomerInfo {
        name: Some("Ann\u{0}".into()),
        email: None,
        phone: None,
    });
    let bad = f.device.entry(EntryKind::Sale, serde_json::to_value(&s)?);
    let good = f.sale(1);
    let (st, v) = f.push(&[bad, good]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![
            ("rejected".into(), Some("bad_payload".into())),
            ("applied".into(), None)
        ]
    );
    let name: Value = sqlx::query_scalar(
        "SELECT payload->'customerInfo'->'name' FROM device_journal WHERE seq = 1",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(name, json!("Ann\u{FFFD}"), "stored, with the NUL replaced");
    f.drop_db().await;
    Ok(())
}
