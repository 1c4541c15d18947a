//! Perks (issue 14), against a real PostgreSQL: the inventory is never oversold (two devices
//! asking at once), a device gets a block at its first configuration pull and a top-up below half
//! a block, a pushed sale's perks become claims, sales over their allocation / from another
//! device's allocation / with a forged code are rejected, a perk is claimed once (a second claim,
//! a voided sale's perk and an unknown code are refused), the release at close, and the numbers
//! of the reports.
//!
//! Why this file is over 800 lines: one test binary for one feature, whose tests share the helpers
//! at the top (perks, a perk sale with genuine codes, a second device, pull and push).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rsu_core::journal::{EntryKind, JournalEntry};
use rsu_core::payload::{IssuedPerk, SalePayload};
use rsu_core::perk::ClaimCode;
use rsu_core::validation::ValidationNumber;
use rsu_core::wire;
use serde_json::{json, Value};
use server_stub::admin;
use server_stub::jurisdictions::admin::{set_address, SetAddress};
use server_stub::perks::admin::{
    add_package_perk, allocate_perks, create_perk, list_perks, AddPackagePerk, AllocatePerks,
    ListPerks, NewPerk,
};
use server_stub::perks::claim::{claim_perk, ClaimPerk};
use server_stub::perks::report::{perk_report, PerkReport};
use server_stub::testkit::{Fixture, Pkg, TestDevice, TEST_ADMIN_TOKEN};
use server_stub::AppError;
use uuid::Uuid;

type R = anyhow::Result<()>;

fn err(e: AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn id(v: &Value, k: &str) -> Uuid {
    v[k].as_str().and_then(|s| Uuid::parse_str(s).ok()).unwrap()
}

/// An inventory perk of `total` units handed out `block` at a time.
async fn inventory_perk(f: &Fixture, name: &str, total: u32, block: u32) -> anyhow::Result<Uuid> {
    let v = create_perk(
        &f.db.pool,
        &NewPerk {
            organization_id: f.org_id,
            name: name.into(),
            description: "Reserved parking near the main entrance".into(),
            kind: "benefit".into(),
            category: "parking".into(),
            requires_inventory: true,
            inventory_total: Some(total),
            block_size: Some(block),
            metadata: Some(r#"{"location": "Lot A"}"#.into()),
        },
    )
    .await
    .map_err(err)?;
    Ok(id(&v, "perkId"))
}

async fn free_perk(f: &Fixture, name: &str) -> anyhow::Result<Uuid> {
    let v = create_perk(
        &f.db.pool,
        &NewPerk {
            organization_id: f.org_id,
            name: name.into(),
            description: String::new(),
            kind: "digital_item".into(),
            category: "program".into(),
            requires_inventory: false,
            inventory_total: None,
            block_size: None,
            metadata: None,
        },
    )
    .await
    .map_err(err)?;
    Ok(id(&v, "perkId"))
}

async fn include(f: &Fixture, pkg: &Pkg, perk: Uuid) -> R {
    add_package_perk(
        &f.db.pool,
        &AddPackagePerk {
            package_id: pkg.id,
            perk_id: perk,
        },
    )
    .await
    .map_err(err)?;
    Ok(())
}

async fn allocate(f: &Fixture, rsu: Uuid, perk: Uuid, count: u32) -> Result<Value, AppError> {
    allocate_perks(
        &f.db.pool,
        &AllocatePerks {
            rsu_id: rsu,
            event_id: f.event_id,
            perk_id: perk,
            count,
        },
    )
    .await
}

/// The active perk allocation of `rsu` for `perk`: (id, quantity, issued, released, state).
async fn allocation_of(
    f: &Fixture,
    rsu: Uuid,
    perk: Uuid,
) -> anyhow::Result<Option<(Uuid, i32, i32, i32, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, quantity, issued, released, state FROM perk_allocations
          WHERE rsu_id = $1 AND perk_id = $2 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(rsu)
    .bind(perk)
    .fetch_optional(&f.db.pool)
    .await?)
}

/// A sale of `pkg` on `dev` issuing `perks` (perk id, allocation), each with its genuine code.
fn perk_sale(
    f: &Fixture,
    dev: &mut TestDevice,
    pkg: &Pkg,
    perks: &[(Uuid, Option<Uuid>)],
) -> (JournalEntry, SalePayload) {
    let numbers = dev.take_numbers(pkg.ticket_count);
    let mut s = dev.sale_payload(f.event_id, pkg, numbers, f.seller_id);
    let vn = ValidationNumber::parse(&s.validation_number).unwrap();
    s.perks = perks
        .iter()
        .enumerate()
        .map(|(i, (perk, alloc))| IssuedPerk {
            perk_id: *perk,
            perk_allocation_id: *alloc,
            perk_name: format!("perk {}", i + 1),
            claim_code: ClaimCode::issue(&dev.validation_key, &vn, i as u32 + 1, *perk).to_string(),
        })
        .collect();
    let e = dev.entry(EntryKind::Sale, serde_json::to_value(&s).unwrap());
    (e, s)
}

/// Pushes `entries` of `dev`; (status, code) per entry.
async fn push(
    f: &Fixture,
    dev: &TestDevice,
    entries: &[JournalEntry],
) -> anyhow::Result<Vec<(String, Option<String>, Value)>> {
    let (st, v) = f.send(dev.push_request(entries)?).await?;
    anyhow::ensure!(st == StatusCode::OK, "push answered {st}: {v}");
    Ok(v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_string(),
                r["code"].as_str().map(str::to_string),
                r.clone(),
            )
        })
        .collect())
}

async fn pull(f: &Fixture, dev: &TestDevice) -> anyhow::Result<Value> {
    let (st, v) = f
        .send(dev.request("GET", wire::PATH_CONFIG, vec![])?)
        .await?;
    anyhow::ensure!(st == StatusCode::OK, "config answered {st}: {v}");
    Ok(v["config"].clone())
}

/// A second enrolled RSU of the fixture's organization holding `start..start+99`.
async fn second_device(f: &Fixture, rsu_no: u32, start: i64) -> anyhow::Result<TestDevice> {
    let pool = &f.db.pool;
    let rsu = admin::create_rsu(
        pool,
        &admin::NewRsu {
            organization_id: f.org_id,
            name: format!("RSU-{rsu_no:03}"),
            rsu_no: Some(rsu_no),
            venue_id: None,
            max_offline_tickets: None,
            token_hours: 1,
        },
    )
    .await
    .map_err(err)?;
    let token = rsu["enrollmentToken"].as_str().unwrap_or("").to_string();
    let mut d = TestDevice::enroll(pool, &token, &format!("MAC:PERKS:{rsu_no}")).await?;
    admin::create_allocation(
        pool,
        &admin::NewAllocation {
            event_id: f.event_id,
            rsu_id: d.rsu_id,
            start_number: Some(start),
            end_number: Some(start + 99),
            count: None,
        },
    )
    .await
    .map_err(err)?;
    d.refresh_allocations(pool).await?;
    d.next_number = start;
    Ok(d)
}

async fn claim(f: &Fixture, code: &str, by: &str) -> Result<Value, AppError> {
    claim_perk(
        &f.db.pool,
        &ClaimPerk {
            code: code.into(),
            organization_id: None,
        },
        Some(by),
    )
    .await
}

/// Takes the fixture's device out so it can be borrowed with the fixture.
fn take_device(f: &mut Fixture) -> TestDevice {
    let placeholder = f.placeholder_device().unwrap();
    std::mem::replace(&mut f.device, placeholder)
}

#[tokio::test]
async fn allocations_never_exceed_the_inventory_even_when_two_devices_ask_at_once() -> R {
    let f = Fixture::new().await?;
    let d2 = second_device(&f, 2, 2001).await?;
    let (a, b) = (f.device.rsu_id, d2.rsu_id);
    for round in 0..6 {
        let perk = inventory_perk(&f, &format!("Scarf {round}"), 10, 5).await?;
        let (x, y) = tokio::join!(allocate(&f, a, perk, 7), allocate(&f, b, perk, 7));
        let ok = [x.is_ok(), y.is_ok()];
        assert_eq!(
            ok.iter().filter(|o| **o).count(),
            1,
            "round {round}: exactly one of two 7-unit asks fits 10 units"
        );
        let refused = x.err().or(y.err()).unwrap();
        assert_eq!(refused.code, "perk_inventory_exhausted");
        assert!(
            refused.message.contains("only 3 units of Scarf"),
            "{}",
            refused.message
        );
        let given: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(quantity), 0)::int8 FROM perk_allocations WHERE perk_id = $1",
        )
        .bind(perk)
        .fetch_one(&f.db.pool)
        .await?;
        assert_eq!(given, 7);
    }
    // What is left can be given, and nothing more.
    let perk = inventory_perk(&f, "Cap", 4, 5).await?;
    let v = allocate(&f, b, perk, 4).await.map_err(err)?;
    assert_eq!(v["inventoryLeft"], 0);
    let e = allocate(&f, a, perk, 1).await.unwrap_err();
    assert!(e.message.contains("only 0 units of Cap"), "{}", e.message);
    let listed = list_perks(
        &f.db.pool,
        &ListPerks {
            organization_id: f.org_id,
        },
    )
    .await
    .map_err(err)?;
    let cap = listed["perks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Cap")
        .unwrap();
    assert_eq!(
        cap["inventory"],
        json!({"total": 4, "allocated": 4, "claimed": 0, "available": 0})
    );
    // A perk without inventory is not allocated.
    let free = free_perk(&f, "Program").await?;
    let e = allocate(&f, a, free, 1).await.unwrap_err();
    assert!(e.message.contains("has no inventory"), "{}", e.message);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_device_gets_a_block_at_its_first_pull_and_a_top_up_below_half_a_block() -> R {
    let mut f = Fixture::new().await?;
    let pkg = f.pkg(5);
    let parking = inventory_perk(&f, "VIP Parking", 25, 10).await?;
    let program = free_perk(&f, "Program").await?;
    include(&f, &pkg, parking).await?;
    include(&f, &pkg, program).await?;
    set_address(
        &f.db.pool,
        &SetAddress {
            venue_id: None,
            organization_id: Some(f.org_id),
            street: "1 Main St".into(),
            city: "San Francisco".into(),
            state: Some("CA".into()),
            zip_code: Some("94105".into()),
            country: "us".into(),
            phone: Some("+1 415 555 0100".into()),
        },
    )
    .await
    .map_err(err)?;
    let mut dev = take_device(&mut f);

    let c1 = pull(&f, &dev).await?;
    assert_eq!(
        c1["organization"]["address"],
        "1 Main St\nSan Francisco, CA 94105\nUS"
    );
    assert_eq!(c1["organization"]["phone"], "+1 415 555 0100");
    let ev = c1["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == json!(f.event_id))
        .unwrap();
    let p5 = ev["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == json!(pkg.id))
        .unwrap();
    assert_eq!(p5["perkIds"], json!([parking, program]));
    let names: Vec<&str> = ev["perks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Program", "VIP Parking"]);
    assert_eq!(ev["perks"][1]["requiresInventory"], true);
    assert_eq!(ev["perks"][1]["type"], "benefit");
    let allocs = c1["perkAllocations"].as_array().unwrap();
    assert_eq!(
        allocs.len(),
        1,
        "only the inventory perk is allocated: {c1}"
    );
    assert_eq!(allocs[0]["quantity"], 10, "a first block");
    assert_eq!(allocs[0]["perkId"], json!(parking));
    let alloc = id(&allocs[0], "id");

    // Half a block left is enough: no top-up, no new version.
    let c2 = pull(&f, &dev).await?;
    assert_eq!(c2["perkAllocations"][0]["quantity"], 10);
    assert_eq!(c2["version"], c1["version"]);

    // 6 issued: 4 left < 5, the next pull tops up by a block on the same allocation.
    let mut entries = vec![];
    for _ in 0..6 {
        entries.push(
            perk_sale(
                &f,
                &mut dev,
                &pkg,
                &[(parking, Some(alloc)), (program, None)],
            )
            .0,
        );
    }
    assert!(push(&f, &dev, &entries)
        .await?
        .iter()
        .all(|(s, _, _)| s == "applied"));
    let c3 = pull(&f, &dev).await?;
    assert_eq!(c3["perkAllocations"][0]["quantity"], 20);
    assert_eq!(c3["perkAllocations"][0]["id"], json!(alloc));
    assert!(
        c3["version"].as_i64() > c2["version"].as_i64(),
        "a top-up bumps the configuration version"
    );

    // A second device's first block is what the inventory has left (25 − 20).
    let d2 = second_device(&f, 2, 2001).await?;
    let c4 = pull(&f, &d2).await?;
    assert_eq!(c4["perkAllocations"][0]["quantity"], 5);
    // Nothing is left for the first device's next top-up.
    let mut entries = vec![];
    for _ in 0..12 {
        entries.push(
            perk_sale(
                &f,
                &mut dev,
                &pkg,
                &[(parking, Some(alloc)), (program, None)],
            )
            .0,
        );
    }
    push(&f, &dev, &entries).await?;
    let c5 = pull(&f, &dev).await?;
    assert_eq!(c5["perkAllocations"][0]["quantity"], 20);
    f.device = dev;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_pushed_sale_with_perks_creates_claims_and_takes_from_its_allocation() -> R {
    let mut f = Fixture::new().await?;
    let pkg = f.pkg(5);
    let parking = inventory_perk(&f, "VIP Parking", 50, 10).await?;
    let program = free_perk(&f, "Program").await?;
    include(&f, &pkg, parking).await?;
    include(&f, &pkg, program).await?;
    let alloc = id(
        &allocate(&f, f.device.rsu_id, parking, 3)
            .await
            .map_err(err)?,
        "perkAllocationId",
    );
    let mut dev = take_device(&mut f);
    let (e1, s1) = perk_sale(
        &f,
        &mut dev,
        &pkg,
        &[(parking, Some(alloc)), (program, None)],
    );
    let (e2, _) = perk_sale(
        &f,
        &mut dev,
        &pkg,
        &[(parking, Some(alloc)), (program, None)],
    );
    let r = push(&f, &dev, &[e1, e2]).await?;
    assert!(r.iter().all(|(s, _, _)| s == "applied"), "{r:?}");
    let rows: Vec<(String, i32, Option<Uuid>, String)> = sqlx::query_as(
        "SELECT claim_code, position, perk_allocation_id, status FROM perk_claims
          WHERE order_id = $1 ORDER BY position",
    )
    .bind(s1.local_id)
    .fetch_all(&f.db.pool)
    .await?;
    assert_eq!(
        rows,
        vec![
            (
                s1.perks[0].claim_code.clone(),
                1,
                Some(alloc),
                "pending".into()
            ),
            (s1.perks[1].claim_code.clone(), 2, None, "pending".into()),
        ]
    );
    assert_eq!(f.count("perk_claims").await?, 4);
    let (_, q, issued, _, _) = allocation_of(&f, dev.rsu_id, parking).await?.unwrap();
    assert_eq!((q, issued), (3, 2));
    f.device = dev;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_sale_over_its_allocation_from_another_device_or_with_a_forged_code_is_rejected() -> R {
    let mut f = Fixture::new().await?;
    let pkg = f.pkg(5);
    let parking = inventory_perk(&f, "VIP Parking", 50, 10).await?;
    include(&f, &pkg, parking).await?;
    let mine = id(
        &allocate(&f, f.device.rsu_id, parking, 1)
            .await
            .map_err(err)?,
        "perkAllocationId",
    );
    let d2 = second_device(&f, 2, 2001).await?;
    let theirs = id(
        &allocate(&f, d2.rsu_id, parking, 5).await.map_err(err)?,
        "perkAllocationId",
    );
    let mut dev = take_device(&mut f);
    let (ok, _) = perk_sale(&f, &mut dev, &pkg, &[(parking, Some(mine))]);
    let (over, over_s) = perk_sale(&f, &mut dev, &pkg, &[(parking, Some(mine))]);
    let (other, _) = perk_sale(&f, &mut dev, &pkg, &[(parking, Some(theirs))]);
    // A code made without the device's key.
    let numbers = dev.take_numbers(5);
    let mut forged_s = dev.sale_payload(f.event_id, &pkg, numbers, f.seller_id);
    let vn = ValidationNumber::parse(&forged_s.validation_number).unwrap();
    forged_s.perks = vec![IssuedPerk {
        perk_id: parking,
        perk_allocation_id: Some(mine),
        perk_name: "VIP Parking".into(),
        claim_code: ClaimCode::issue(
            &rsu_core::validation::ValidationKey::new(b"not the device's key"),
            &vn,
            1,
            parking,
        )
        .to_string(),
    }];
    let forged = dev.entry(EntryKind::Sale, serde_json::to_value(&forged_s)?);
    let (plain, _) = f.sale_on(&mut dev, 1);
    let r = push(&f, &dev, &[ok, over, other, forged, plain]).await?;
    let got: Vec<(&str, Option<&str>)> = r
        .iter()
        .map(|(s, c, _)| (s.as_str(), c.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("applied", None),
            ("rejected", Some("perk_not_allocated")),
            ("rejected", Some("perk_not_allocated")),
            ("rejected", Some("bad_tag")),
            ("applied", None),
        ]
    );
    let msg = r[1].2["message"].as_str().unwrap();
    assert!(
        msg.contains("holds 1 units of VIP Parking and 1 are already issued"),
        "{msg}"
    );
    assert!(r[2].2["message"]
        .as_str()
        .unwrap()
        .contains("is not a perk allocation of this RSU"));
    // The rejected sales left no order and no claim; the allocation counts one unit.
    assert_eq!(
        f.count(&format!("orders WHERE id = '{}'", over_s.local_id))
            .await?,
        0
    );
    assert_eq!(f.count("perk_claims").await?, 1);
    let (_, _, issued, _, _) = allocation_of(&f, dev.rsu_id, parking).await?.unwrap();
    assert_eq!(issued, 1);
    let (_, _, issued2, _, _) = allocation_of(&f, d2.rsu_id, parking).await?.unwrap();
    assert_eq!(issued2, 0);
    f.device = dev;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_perk_is_claimed_once_with_who_and_when_and_never_from_a_voided_sale() -> R {
    let mut f = Fixture::new().await?;
    let pkg = f.pkg(5);
    let parking = inventory_perk(&f, "VIP Parking", 50, 10).await?;
    include(&f, &pkg, parking).await?;
    let alloc = id(
        &allocate(&f, f.device.rsu_id, parking, 5)
            .await
            .map_err(err)?,
        "perkAllocationId",
    );
    let mut dev = take_device(&mut f);
    let (e1, s1) = perk_sale(&f, &mut dev, &pkg, &[(parking, Some(alloc))]);
    let (e2, s2) = perk_sale(&f, &mut dev, &pkg, &[(parking, Some(alloc))]);
    let void2 = TestDevice::void_payload(&s2, f.supervisor_id);
    let v2 = dev.entry(EntryKind::Void, serde_json::to_value(&void2)?);
    let r = push(&f, &dev, &[e1, e2, v2]).await?;
    assert!(r.iter().all(|(s, _, _)| s == "applied"), "{r:?}");

    let code1 = s1.perks[0].claim_code.clone();
    // Typed in lower case, it is the same code.
    let v = claim(&f, &code1.to_lowercase(), "Desk Dana")
        .await
        .map_err(err)?;
    assert_eq!(v["status"], "claimed");
    assert_eq!(v["claimedBy"], "Desk Dana");
    assert_eq!(v["validationNumber"], json!(s1.validation_number));
    let (status, by, at): (
        String,
        Option<String>,
        Option<chrono::DateTime<chrono::Utc>>,
    ) = sqlx::query_as(
        "SELECT status, claimed_by, claimed_at FROM perk_claims WHERE claim_code = $1",
    )
    .bind(&code1)
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(
        (status.as_str(), by.as_deref()),
        ("claimed", Some("Desk Dana"))
    );
    assert!(at.is_some());

    let again = claim(&f, &code1, "Desk Eve").await.unwrap_err();
    assert_eq!(again.code, "already_claimed");
    assert!(
        again.message.contains("already claimed at") && again.message.contains("by Desk Dana"),
        "{}",
        again.message
    );

    let voided = claim(&f, &s2.perks[0].claim_code, "Desk Dana")
        .await
        .unwrap_err();
    assert_eq!(voided.code, "voided");
    assert!(voided.message.contains("was voided"), "{}", voided.message);
    let st: String = sqlx::query_scalar("SELECT status FROM perk_claims WHERE claim_code = $1")
        .bind(&s2.perks[0].claim_code)
        .fetch_one(&f.db.pool)
        .await?;
    assert_eq!(st, "voided");

    // A mistyped tag is told apart from a code no sale issued.
    let mut typo = code1.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'A' { 'B' } else { 'A' });
    let bad = claim(&f, &typo, "Desk Dana").await.unwrap_err();
    assert_eq!(bad.code, "bad_tag");
    assert!(
        bad.message.contains("does not check out"),
        "{}",
        bad.message
    );
    let unknown = code1.replace("-P1-", "-P7-");
    let e = claim(&f, &unknown, "Desk Dana").await.unwrap_err();
    assert_eq!(e.code, "unknown_claim_code");
    assert!(e.message.contains("no perk was issued"), "{}", e.message);
    let e = claim(&f, "PARK-A1-2025", "Desk Dana").await.unwrap_err();
    assert!(e.message.contains("expected the form"), "{}", e.message);
    let e = claim_perk(
        &f.db.pool,
        &ClaimPerk {
            code: code1.clone(),
            organization_id: None,
        },
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "missing_admin_name");

    // A sale voided after its perk was handed out: the void applies, flagged; the claim stays.
    let void1 = TestDevice::void_payload(&s1, f.supervisor_id);
    let v1 = dev.entry(EntryKind::Void, serde_json::to_value(&void1)?);
    let r = push(&f, &dev, &[v1]).await?;
    assert_eq!(r[0].0, "applied");
    assert_eq!(r[0].2["flags"], json!(["perk_claimed"]));
    let st: String = sqlx::query_scalar("SELECT status FROM perk_claims WHERE claim_code = $1")
        .bind(&code1)
        .fetch_one(&f.db.pool)
        .await?;
    assert_eq!(st, "claimed");
    assert_eq!(
        f.count("critical_events WHERE event_type = 'PERK_CLAIMED_BEFORE_VOID'")
            .await?,
        1
    );

    // Over HTTP, the desk's name comes from X-Admin-Name; a second claim is a 409.
    let (e3, s3) = perk_sale(&f, &mut dev, &pkg, &[(parking, Some(alloc))]);
    push(&f, &dev, &[e3]).await?;
    let req = |name: &str| {
        Request::builder()
            .method("POST")
            .uri("/v1/admin/perks/claim")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TEST_ADMIN_TOKEN}"))
            .header("x-admin-name", name)
            .body(Body::from(
                serde_json::to_vec(&json!({"code": s3.perks[0].claim_code})).unwrap(),
            ))
            .unwrap()
    };
    let (st, v) = f.send(req("Desk Fay")).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["claimedBy"], "Desk Fay");
    let (st, v) = f.send(req("Desk Gus")).await?;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "already_claimed");
    f.device = dev;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_release_at_close_gives_the_rest_back_and_the_reports_count_per_device() -> R {
    let mut f = Fixture::new().await?;
    let pkg = f.pkg(5);
    let parking = inventory_perk(&f, "VIP Parking", 20, 10).await?;
    let program = free_perk(&f, "Program").await?;
    include(&f, &pkg, parking).await?;
    include(&f, &pkg, program).await?;
    let alloc = id(
        &allocate(&f, f.device.rsu_id, parking, 5)
            .await
            .map_err(err)?,
        "perkAllocationId",
    );
    let mut dev = take_device(&mut f);
    let both = [(parking, Some(alloc)), (program, None)];
    let (e1, s1) = perk_sale(&f, &mut dev, &pkg, &both);
    let (e2, s2) = perk_sale(&f, &mut dev, &pkg, &both);
    let void2 = TestDevice::void_payload(&s2, f.supervisor_id);
    let v2 = dev.entry(EntryKind::Void, serde_json::to_value(&void2)?);
    push(&f, &dev, &[e1, e2, v2]).await?;
    claim(&f, &s1.perks[0].claim_code, "Desk Dana")
        .await
        .map_err(err)?;

    // The device's count must agree with the server's.
    let release = |issued: u32| {
        json!({"perkAllocationId": alloc, "perkId": parking, "eventId": f.event_id,
               "issued": issued, "released": 5 - issued})
    };
    let wrong = dev.entry(EntryKind::PerkRelease, release(3));
    let right = dev.entry(EntryKind::PerkRelease, release(2));
    let r = push(&f, &dev, &[wrong, right]).await?;
    assert_eq!(r[0].1.as_deref(), Some("bad_payload"));
    assert!(
        r[0].2["message"]
            .as_str()
            .unwrap()
            .contains("the device issued 3 units from perk allocation"),
        "{}",
        r[0].2["message"]
    );
    assert_eq!(r[1].0, "applied");
    let (_, q, issued, released, state) = allocation_of(&f, dev.rsu_id, parking).await?.unwrap();
    assert_eq!((q, issued, released, state.as_str()), (5, 2, 3, "released"));
    // The released units are back in the inventory: 20 − 2 issued.
    let d2 = second_device(&f, 2, 2001).await?;
    let v = allocate(&f, d2.rsu_id, parking, 18).await.map_err(err)?;
    assert_eq!(v["inventoryLeft"], 0);
    // A closed device gets no new block at its next pull.
    let c = pull(&f, &dev).await?;
    let allocs = c["perkAllocations"].as_array().unwrap();
    assert_eq!(allocs.len(), 1);
    assert_eq!(allocs[0]["state"], "released");

    let pr = perk_report(
        &f.db.pool,
        &PerkReport {
            event_id: f.event_id,
        },
    )
    .await
    .map_err(err)?;
    let rsu1 = pr["rsus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rsuId"] == json!(dev.rsu_id))
        .unwrap();
    let lines = rsu1["perks"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let vip = lines
        .iter()
        .find(|l| l["perkName"] == "VIP Parking")
        .unwrap();
    assert_eq!(
        (
            &vip["allocated"],
            &vip["issued"],
            &vip["claimed"],
            &vip["voided"],
            &vip["released"],
            &vip["closed"]
        ),
        (
            &json!(5),
            &json!(2),
            &json!(1),
            &json!(1),
            &json!(3),
            &json!(true)
        )
    );
    let prog = lines.iter().find(|l| l["perkName"] == "Program").unwrap();
    assert_eq!(prog["allocated"], Value::Null);
    assert_eq!(prog["issued"], 2);
    let total_vip = pr["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["perkName"] == "VIP Parking")
        .unwrap();
    assert_eq!(total_vip["allocated"], 23, "5 + 18 to the second device");

    // The reconciliation report carries the same per device, in JSON and in text.
    let report = server_stub::report::event_report(&f.db.pool, f.event_id)
        .await
        .map_err(err)?;
    let json = serde_json::to_value(&report)?;
    let r1 = json["rsus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rsuId"] == json!(dev.rsu_id))
        .unwrap();
    let vip = r1["perks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["perkName"] == "VIP Parking")
        .unwrap();
    assert_eq!(vip["released"], 3);
    assert_eq!(vip["claimed"], 1);
    let text = server_stub::report::to_text(&report);
    assert!(
        text.contains(
            "perk VIP Parking: allocated 5, issued 2, claimed 1, voided 1, released 3 (closed)"
        ),
        "{text}"
    );
    assert!(
        text.contains("perk Program: allocated - (no inventory), issued 2, claimed 0, voided 1"),
        "{text}"
    );
    f.device = dev;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn packages_include_perks_of_their_organization_until_sales_close() -> R {
    let f = Fixture::new().await?;
    let pkg = f.pkg(5);
    let parking = inventory_perk(&f, "VIP Parking", 10, 5).await?;
    include(&f, &pkg, parking).await?;
    let e = add_package_perk(
        &f.db.pool,
        &AddPackagePerk {
            package_id: pkg.id,
            perk_id: parking,
        },
    )
    .await
    .unwrap_err();
    assert!(
        e.message.contains("already includes VIP Parking"),
        "{}",
        e.message
    );
    // Inventory is required with requiresInventory, and only then.
    let e = create_perk(
        &f.db.pool,
        &NewPerk {
            organization_id: f.org_id,
            name: "Shirt".into(),
            description: String::new(),
            kind: "physical_item".into(),
            category: String::new(),
            requires_inventory: true,
            inventory_total: None,
            block_size: None,
            metadata: None,
        },
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("--inventory-total"), "{}", e.message);
    let e = create_perk(
        &f.db.pool,
        &NewPerk {
            organization_id: f.org_id,
            name: "Shirt".into(),
            description: String::new(),
            kind: "gadget".into(),
            category: String::new(),
            requires_inventory: false,
            inventory_total: None,
            block_size: None,
            metadata: None,
        },
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("is not one of benefit"), "{}", e.message);
    f.transition("sales_closed").await.map_err(err)?;
    let program = free_perk(&f, "Program").await?;
    let e = add_package_perk(
        &f.db.pool,
        &AddPackagePerk {
            package_id: pkg.id,
            perk_id: program,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "event_closed");
    assert!(e.message.contains("until sales close"), "{}", e.message);
    f.drop_db().await;
    Ok(())
}
