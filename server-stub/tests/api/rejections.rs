//! Every rejection code of the push: answered, stored with its payload, never blocking later
//! entries.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use rsu_core::journal::EntryKind;
use rsu_core::wire::EntryCode;
use serde_json::{json, Value};
use server_stub::admin;
use server_stub::testkit::{Fixture, Pkg, TestDevice};
use uuid::Uuid;

use crate::helpers::*;

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

    // A package that includes an inventory perk, for perk_not_allocated.
    let perk = server_stub::perks::admin::create_perk(
        &f.db.pool,
        &server_stub::perks::admin::NewPerk {
            organization_id: f.org_id,
            name: "VIP Parking".into(),
            description: String::new(),
            kind: "benefit".into(),
            category: String::new(),
            requires_inventory: true,
            inventory_total: Some(10),
            block_size: None,
            metadata: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let perk: Uuid = serde_json::from_value(perk["perkId"].clone())?;
    let perk_pkg = admin::create_package(
        &f.db.pool,
        &admin::NewPackage {
            event_id: ev,
            name: "One with parking".into(),
            ticket_count: one.ticket_count,
            price: one.price,
            display_order: 9,
            active_from: None,
            active_to: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let perk_pkg = Pkg {
        id: serde_json::from_value(perk_pkg["packageId"].clone())?,
        name: "One with parking".into(),
        ticket_count: one.ticket_count,
        price: one.price,
    };
    server_stub::perks::admin::add_package_perk(
        &f.db.pool,
        &server_stub::perks::admin::AddPackagePerk {
            package_id: perk_pkg.id,
            perk_id: perk,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let vkey = f.device.validation_key.clone();

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
    // A perk unit from an allocation that is not this RSU's (with a genuine claim code).
    push(
        EntryCode::PerkNotAllocated,
        sale(d, ev, &perk_pkg, &|v| {
            let vn = rsu_core::validation::ValidationNumber::parse(
                v["validationNumber"].as_str().unwrap_or(""),
            )
            .unwrap();
            let code = rsu_core::perk::ClaimCode::issue(&vkey, &vn, 1, perk);
            v["perks"] = json!([{"perkId": perk, "perkAllocationId": Uuid::now_v7(),
                                 "perkName": "VIP Parking", "claimCode": code.to_string()}]);
        }),
    );
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
