//! What the server checks (issue 9): one test per defect item, each written to fail before its
//! fix. A fresh PostgreSQL database per test (see `testkit`).

use axum::http::StatusCode;
use chrono::{Datelike, Duration, Utc};
use rsu_core::journal::{ChainHash, EntryBody, EntryKind, JournalEntry};
use rsu_core::payload::SalePayload;
use rsu_core::validation::ValidationNumber;
use rsu_core::wire;
use serde_json::{json, Value};
use server_stub::admin;
use server_stub::testkit::{send, Fixture, Pkg, TestDevice, TestServer};
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
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

fn applied() -> (String, Option<String>) {
    ("applied".into(), None)
}

fn rejected(code: &str) -> (String, Option<String>) {
    ("rejected".into(), Some(code.into()))
}

fn conflict(code: &str) -> (String, Option<String>) {
    ("conflict".into(), Some(code.into()))
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// A sale of `pkg` with the device's next numbers, its payload edited by `edit`, chained.
fn sale_with(
    d: &mut TestDevice,
    event: Uuid,
    pkg: &Pkg,
    operator: Uuid,
    edit: impl FnOnce(&mut Value),
) -> JournalEntry {
    let nums = d.take_numbers(pkg.ticket_count);
    let mut v =
        serde_json::to_value(d.sale_payload(event, pkg, nums, operator)).unwrap_or(Value::Null);
    edit(&mut v);
    d.entry(EntryKind::Sale, v)
}

fn payload_of(e: &JournalEntry) -> anyhow::Result<SalePayload> {
    Ok(serde_json::from_value(e.body.payload.clone())?)
}

/// Pushes `entries` for a device other than the fixture's.
async fn push_as(
    f: &Fixture,
    d: &TestDevice,
    entries: &[JournalEntry],
) -> anyhow::Result<(StatusCode, Value)> {
    send(&f.router, d.push_request(entries)?).await
}

/// Waits until `n` backends of this database wait for a lock, or every task has finished
/// (then returns false: nobody waited).
async fn wait_for_lock_waiters<T>(
    pool: &PgPool,
    tasks: &[&JoinHandle<T>],
    n: i64,
) -> anyhow::Result<bool> {
    for _ in 0..2000 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await?;
        if waiting >= n {
            return Ok(true);
        }
        if tasks.iter().all(|t| t.is_finished()) {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    anyhow::bail!("neither blocked nor finished within 10 s")
}

fn new_event(org: Uuid, ident: &str, price_lock: bool) -> admin::NewEvent {
    let now = Utc::now();
    admin::NewEvent {
        organization_id: org,
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
    }
}

/// Another organization with an active event, a 1-ticket package, a seller and an enrolled RSU
/// numbered 1 holding 1001–1100 of that event. With `same_key`, the RSU gets the fixture
/// device's validation key, so both issue the same validation number text for the same seq.
struct Other {
    org: Uuid,
    event_id: Uuid,
    pkg: Pkg,
    seller: Uuid,
    device: TestDevice,
}

async fn other_org(f: &Fixture, same_key: bool) -> anyhow::Result<Other> {
    let pool = &f.db.pool;
    let org = admin::create_organization(
        pool,
        &admin::NewOrganization {
            name: "Other Club".into(),
            license_number: "LIC-OTHER".into(),
            currency: "USD".into(),
            validation_number_prefix: "RSU".into(),
            description: None,
        },
    )
    .await
    .map_err(err)?;
    let org: Uuid = serde_json::from_value(org["organizationId"].clone())?;
    let ev = admin::create_event(pool, &new_event(org, "O-1", true))
        .await
        .map_err(err)?;
    let event_id: Uuid = serde_json::from_value(ev["eventId"].clone())?;
    let p = admin::create_package(
        pool,
        &admin::NewPackage {
            event_id,
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
    let pkg = Pkg {
        id: serde_json::from_value(p["packageId"].clone())?,
        name: "One".into(),
        ticket_count: 1,
        price: 500,
    };
    // `→ configured` needs a prize (issue 11's gate).
    admin::create_prize(
        pool,
        &admin::NewPrize {
            event_id,
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
    let s = admin::create_operator(
        pool,
        &admin::NewOperator {
            organization_id: org,
            name: "Olga Seller".into(),
            role: "seller".into(),
            pin: "4242".into(),
        },
    )
    .await
    .map_err(err)?;
    let seller: Uuid = serde_json::from_value(s["operatorId"].clone())?;
    let rsu = admin::create_rsu(
        pool,
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
    let rsu_id: Uuid = serde_json::from_value(rsu["rsuId"].clone())?;
    let token = rsu["enrollmentToken"].as_str().unwrap_or("").to_string();
    let mut device = TestDevice::enroll(pool, &token, "MAC:OTHER:01").await?;
    if same_key {
        // Tags are made with the key of the device's epoch.
        sqlx::query(
            "UPDATE rsu_epochs SET validation_key = (SELECT validation_key FROM rsu_epochs WHERE rsu_id = $2 AND epoch = $3)
              WHERE rsu_id = $1 AND epoch = $4",
        )
        .bind(rsu_id)
        .bind(f.device.rsu_id)
        .bind(f.device.epoch as i32)
        .bind(device.epoch as i32)
        .execute(pool)
        .await?;
        device.validation_key = f.device.validation_key.clone();
    }
    admin::create_allocation(
        pool,
        &admin::NewAllocation {
            event_id,
            rsu_id,
            start_number: Some(1001),
            end_number: Some(1100),
            count: None,
        },
    )
    .await
    .map_err(err)?;
    for to in ["configured", "active"] {
        admin::transition(
            pool,
            &admin::Transition {
                event_id,
                to: to.into(),
                reason: None,
            },
        )
        .await
        .map_err(err)?;
    }
    device.refresh_allocations(pool).await?;
    device.next_number = 1001;
    Ok(Other {
        org,
        event_id,
        pkg,
        seller,
        device,
    })
}

/// A second enrolled RSU of the fixture's organization holding `start..start+99` of its event.
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
    let mut d = TestDevice::enroll(pool, &token, &format!("MAC:SECOND:{rsu_no}")).await?;
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

async fn transition(f: &Fixture, to: &str) -> R {
    admin::transition(
        &f.db.pool,
        &admin::Transition {
            event_id: f.event_id,
            to: to.into(),
            reason: None,
        },
    )
    .await
    .map_err(err)?;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// 1. The push locks the event row
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn defect1_a_push_waiting_on_a_transition_to_reconciled_sees_it_and_rejects_the_sale() -> R {
    let mut f = Fixture::new().await?;
    let sale = f.sale(1); // sold before sales close
    transition(&f, "sales_closed").await?;
    transition(&f, "reconciling").await?;
    // The draw gate (issue 11) needs every RSU reconciled or excluded: the fixture's device
    // still holds unaccounted numbers, so it is excluded first.
    server_stub::closeout::exclude_rsu(
        &f.db.pool,
        &server_stub::closeout::ExcludeRsu {
            event_id: f.event_id,
            rsu_id: f.device.rsu_id,
            reason: "test: the race, not the accounting".into(),
            lost: false,
        },
        Some("test"),
    )
    .await
    .map_err(err)?;
    // The admin's transition to reconciled, held open while the push starts.
    let mut tx = f.db.pool.begin().await?;
    admin::transition_in(
        &mut tx,
        &admin::Transition {
            event_id: f.event_id,
            to: "reconciled".into(),
            reason: None,
        },
    )
    .await
    .map_err(err)?;
    let req = f.device.push_request(&[sale])?;
    let router = f.router.clone();
    let push = tokio::spawn(async move { send(&router, req).await });
    let waited = wait_for_lock_waiters(&f.db.pool, &[&push], 1).await?;
    tx.commit().await?;
    let (st, v) = push.await??;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![rejected("event_reconciled")],
        "the push {} for the transition: {v}",
        if waited { "waited" } else { "did not wait" }
    );
    assert!(waited, "the push must wait for the event row");
    assert_eq!(f.count("orders").await?, 0);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn defect1_a_push_waiting_on_sales_close_flags_the_sale_late() -> R {
    let mut f = Fixture::new().await?;
    let sale = f.sale(1);
    let mut tx = f.db.pool.begin().await?;
    admin::transition_in(
        &mut tx,
        &admin::Transition {
            event_id: f.event_id,
            to: "sales_closed".into(),
            reason: None,
        },
    )
    .await
    .map_err(err)?;
    let req = f.device.push_request(&[sale])?;
    let router = f.router.clone();
    let push = tokio::spawn(async move { send(&router, req).await });
    let waited = wait_for_lock_waiters(&f.db.pool, &[&push], 1).await?;
    tx.commit().await?;
    let (st, v) = push.await??;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(results(&v), vec![applied()], "{v}");
    assert_eq!(
        v["results"][0]["flags"],
        json!(["late"]),
        "waited: {waited}; {v}"
    );
    assert_eq!(f.count("orders WHERE is_late").await?, 1);
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// 2. Validation numbers: unique per organization, canonical; sale seq unique per RSU
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn defect2_two_organizations_may_issue_the_same_validation_number_text() -> R {
    let mut f = Fixture::new().await?;
    let a = f.sale(1);
    let (st, v) = f.push(std::slice::from_ref(&a)).await?;
    assert_eq!((st, results(&v)), (StatusCode::OK, vec![applied()]), "{v}");
    let mut o = other_org(&f, true).await?;
    let b = sale_with(&mut o.device, o.event_id, &o.pkg.clone(), o.seller, |_| {});
    assert_eq!(
        payload_of(&b)?.validation_number,
        payload_of(&a)?.validation_number,
        "same key, rsuNo, prefix, year and seq"
    );
    let (st, v) = push_as(&f, &o.device, &[b]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(results(&v), vec![applied()], "{v}");
    assert_eq!(f.count("orders").await?, 2);
    let _ = o.org;
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn defect2_another_spelling_of_a_known_validation_number_is_a_duplicate_and_numbers_are_stored_canonical(
) -> R {
    let mut f = Fixture::new().await?;
    let a = f.sale(1);
    let pa = payload_of(&a)?;
    let (st, v) = f.push(std::slice::from_ref(&a)).await?;
    assert_eq!((st, results(&v)), (StatusCode::OK, vec![applied()]), "{v}");
    let vn = ValidationNumber::parse(&pa.validation_number).map_err(err)?;
    let tag = &pa.validation_number[pa.validation_number.len() - 4..];
    let (ev, one, seller) = (f.event_id, f.pkg(1), f.seller_id);
    let lower = pa.validation_number.to_lowercase();
    let unpadded = format!("RSU{}-{}-{}-{tag}", vn.rsu_no(), vn.year(), vn.seq());
    let mut entries = vec![];
    for text in [lower, unpadded] {
        entries.push(sale_with(&mut f.device, ev, &one, seller, |v| {
            v["validationNumber"] = json!(text);
            v["saleSeq"] = json!(pa.sale_seq);
        }));
    }
    // A new number sent in lower case is applied and stored in canonical form.
    let c = sale_with(&mut f.device, ev, &one, seller, |v| {
        let t = v["validationNumber"].as_str().unwrap_or("").to_lowercase();
        v["validationNumber"] = json!(t);
    });
    let canonical_c = payload_of(&c)?.validation_number.to_uppercase();
    entries.push(c);
    let (st, v) = f.push(&entries).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![
            rejected("duplicate_validation_number"),
            rejected("duplicate_validation_number"),
            applied()
        ],
        "{v}"
    );
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT validation_number FROM orders ORDER BY journal_seq")
            .fetch_all(&f.db.pool)
            .await?;
    assert_eq!(stored, vec![pa.validation_number.clone(), canonical_c]);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn defect2_a_sale_seq_is_unique_per_rsu_across_epochs() -> R {
    let mut f = Fixture::new().await?;
    let a = f.sale(1);
    let (st, v) = f.push(std::slice::from_ref(&a)).await?;
    assert_eq!((st, results(&v)), (StatusCode::OK, vec![applied()]), "{v}");
    // The device is enrolled again (epoch 2) and, by mistake, starts its sale seq over; the
    // organization's prefix changed meanwhile, so the validation number text differs.
    let t = admin::create_enrollment_token(
        &f.db.pool,
        &admin::NewEnrollmentToken {
            rsu_id: f.device.rsu_id,
            token_hours: 1,
        },
    )
    .await
    .map_err(err)?;
    sqlx::query(
        "UPDATE organizations SET settings = jsonb_set(settings, '{rsuSettings,validationNumberPrefix}', '\"RSX\"') WHERE id = $1",
    )
    .bind(f.org_id)
    .execute(&f.db.pool)
    .await?;
    let token = t["enrollmentToken"].as_str().unwrap_or("").to_string();
    let mut d2 = TestDevice::enroll(&f.db.pool, &token, "MAC:00:00:00:00:00:01").await?;
    assert_eq!(d2.epoch, 2);
    d2.prefix = "RSX".into();
    d2.next_number = 1050;
    let (ev, one, seller) = (f.event_id, f.pkg(1), f.seller_id);
    let b = sale_with(&mut d2, ev, &one, seller, |_| {});
    assert_eq!(payload_of(&b)?.sale_seq, payload_of(&a)?.sale_seq);
    let c = sale_with(&mut d2, ev, &one, seller, |v| v["saleSeq"] = json!(2)); // seq 2 is new
    let (st, v) = push_as(&f, &d2, &[b, c]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let r = results(&v);
    assert_eq!(r[0], rejected("duplicate_validation_number"), "{v}");
    assert!(
        v["results"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("saleSeq"),
        "{v}"
    );
    assert_eq!(
        f.count("orders").await?,
        1 + usize::from(r[1] == applied()) as i64
    );
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// 3. PINs unique per organization (server side)
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn defect3_the_admin_refuses_a_pin_another_operator_of_the_organization_has() -> R {
    let f = Fixture::new().await?;
    let dup = admin::create_operator(
        &f.db.pool,
        &admin::NewOperator {
            organization_id: f.org_id,
            name: "Sneaky Seller".into(),
            role: "seller".into(),
            pin: "9999".into(), // the supervisor's
        },
    )
    .await;
    let e = dup.expect_err("a PIN another operator of the organization has must be refused");
    assert_eq!(e.status, StatusCode::CONFLICT, "{e}");
    assert_eq!(e.code, "pin_taken", "{e}");
    assert!(
        e.message.contains("pin") && e.message.contains("another operator"),
        "{e}"
    );
    assert_eq!(
        f.count("users WHERE display_name = 'Sneaky Seller'")
            .await?,
        0
    );
    // Over HTTP too.
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/admin/operators")
        .header(
            "authorization",
            format!("Bearer {}", server_stub::testkit::TEST_ADMIN_TOKEN),
        )
        .header("content-type", "application/json")
        .body(axum::body::Body::from(serde_json::to_vec(&json!({
            "organizationId": f.org_id, "name": "Sneaky", "role": "supervisor", "pin": "1111"
        }))?))?;
    let (st, v) = f.send(req).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("pin_taken")),
        "{v}"
    );
    // Another PIN is fine, and so is the same PIN in another organization.
    admin::create_operator(
        &f.db.pool,
        &admin::NewOperator {
            organization_id: f.org_id,
            name: "Honest Seller".into(),
            role: "seller".into(),
            pin: "2468".into(),
        },
    )
    .await
    .map_err(err)?;
    let o = other_org(&f, false).await?;
    admin::create_operator(
        &f.db.pool,
        &admin::NewOperator {
            organization_id: o.org,
            name: "Other Supervisor".into(),
            role: "supervisor".into(),
            pin: "9999".into(),
        },
    )
    .await
    .map_err(err)?;
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// 4. A release starts above every number the server holds for the range
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn defect4_a_release_over_numbers_sold_in_an_earlier_batch_is_bad_payload_and_stored() -> R {
    let mut f = Fixture::new().await?;
    let s = f.sale(5); // 1001–1005
    let (st, v) = f.push(&[s]).await?;
    assert_eq!((st, results(&v)), (StatusCode::OK, vec![applied()]), "{v}");
    let alloc = f.device.allocations[0].0;
    let release = |from: i64| json!({"allocationId": alloc, "eventId": f.event_id, "startNumber": from, "endNumber": 1100});
    let over = f.device.entry(EntryKind::AllocationRelease, release(1001));
    let (st, v) = f.push(&[over]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(results(&v), vec![rejected("bad_payload")], "{v}");
    assert!(
        v["results"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("1005"),
        "{v}"
    );
    assert_eq!(
        f.count("device_journal WHERE kind = 'allocation_release' AND status = 'rejected' AND reason_code = 'bad_payload'")
            .await?,
        1
    );
    assert_eq!(
        f.count("rsu_allocations WHERE released_from IS NOT NULL")
            .await?,
        0
    );
    let tail = f.device.entry(EntryKind::AllocationRelease, release(1006));
    let (st, v) = f.push(&[tail]).await?;
    assert_eq!((st, results(&v)), (StatusCode::OK, vec![applied()]), "{v}");
    assert_eq!(
        f.count("rsu_allocations WHERE released_from = 1006")
            .await?,
        1
    );
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// 5. Under priceLock a price cannot change once the event has been active
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn defect5_a_locked_price_cannot_change_once_the_event_has_been_active() -> R {
    let f = Fixture::new().await?;
    // The demo event is active, locks prices, and has no sale yet.
    let five = f.pkg(5);
    let e = admin::set_package_price(
        &f.db.pool,
        &admin::SetPackagePrice {
            package_id: five.id,
            price: 2500,
        },
    )
    .await
    .expect_err("an active event's locked price must not change");
    assert_eq!(
        (e.status, e.code),
        (StatusCode::CONFLICT, "price_locked"),
        "{e}"
    );
    assert!(e.message.contains("active"), "{e}");
    let price: i64 = sqlx::query_scalar("SELECT price FROM ticket_packages WHERE id = $1")
        .bind(five.id)
        .fetch_one(&f.db.pool)
        .await?;
    assert_eq!(price, 2000);
    // Before the event is active the price may still change.
    let ev = admin::create_event(&f.db.pool, &new_event(f.org_id, "P-1", true))
        .await
        .map_err(err)?;
    let ev: Uuid = serde_json::from_value(ev["eventId"].clone())?;
    let p = admin::create_package(
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
    let pid: Uuid = serde_json::from_value(p["packageId"].clone())?;
    admin::set_package_price(
        &f.db.pool,
        &admin::SetPackagePrice {
            package_id: pid,
            price: 600,
        },
    )
    .await
    .map_err(err)?;
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// 6. Voids are charged per ticket to the right allocation
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn defect6_a_void_of_a_sale_spanning_two_allocations_charges_each_its_tickets() -> R {
    let mut f = Fixture::new().await?;
    f.device.next_number = 1098;
    let s = f.sale(5); // 1098–1100 and 1101–1102
    let sp = payload_of(&s)?;
    assert_eq!(sp.segments.len(), 2);
    let void = f.device.entry(
        EntryKind::Void,
        serde_json::to_value(TestDevice::void_payload(&sp, f.supervisor_id))?,
    );
    let (st, v) = f.push(&[s, void]).await?;
    assert_eq!(
        (st, results(&v)),
        (StatusCode::OK, vec![applied(), applied()]),
        "{v}"
    );
    let rows: Vec<(i32, i32, i32)> = sqlx::query_as(
        "SELECT start_number, tickets_sold, tickets_voided FROM rsu_allocations ORDER BY start_number",
    )
    .fetch_all(&f.db.pool)
    .await?;
    assert_eq!(rows, vec![(1001, 3, 3), (1101, 2, 2)]);
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// 7. What was not checked
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn defect7_a_sale_naming_an_unknown_allocation_or_wrong_segments_is_rejected() -> R {
    let mut f = Fixture::new().await?;
    let (ev, one, five, seller) = (f.event_id, f.pkg(1), f.pkg(5), f.seller_id);
    let second = f.device.allocations[1].0;
    let d = &mut f.device;
    let entries = vec![
        sale_with(d, ev, &one, seller, |v| {
            let x = Uuid::now_v7();
            v["allocationId"] = json!(x);
            v["segments"][0]["allocationId"] = json!(x);
        }),
        sale_with(d, ev, &five, seller, |v| {
            v["segments"][0]["startNumber"] = json!(1100);
            v["segments"][0]["endNumber"] = json!(1104);
        }),
        sale_with(d, ev, &one, seller, |v| {
            // A real allocation of this RSU, but not the one holding the number.
            v["allocationId"] = json!(second);
            v["segments"][0]["allocationId"] = json!(second);
        }),
        sale_with(d, ev, &one, seller, |v| v["allocationId"] = json!(second)),
        sale_with(d, ev, &one, seller, |_| {}),
    ];
    let (st, v) = f.push(&entries).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![
            rejected("unknown_allocation"),
            rejected("bad_payload"),
            rejected("bad_payload"),
            rejected("bad_payload"),
            applied()
        ],
        "{v}"
    );
    assert_eq!(f.count("orders").await?, 1);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn defect7_operator_and_supervisor_must_be_on_the_organizations_roster() -> R {
    let mut f = Fixture::new().await?;
    let o = other_org(&f, false).await?;
    let (ev, one, seller, sup) = (f.event_id, f.pkg(1), f.seller_id, f.supervisor_id);
    let good = sale_with(&mut f.device, ev, &one, seller, |_| {});
    let gp = payload_of(&good)?;
    let d = &mut f.device;
    let mut entries = vec![
        good,
        sale_with(d, ev, &one, Uuid::now_v7(), |_| {}),
        sale_with(d, ev, &one, o.seller, |_| {}),
    ];
    let void = |op: Uuid, by: Uuid| {
        let mut v = TestDevice::void_payload(&gp, by);
        v.operator_id = op;
        serde_json::to_value(v).unwrap_or(Value::Null)
    };
    entries.push(d.entry(EntryKind::Void, void(seller, Uuid::now_v7())));
    entries.push(d.entry(EntryKind::Void, void(seller, seller))); // a seller is no supervisor
    entries.push(d.entry(EntryKind::Void, void(Uuid::now_v7(), sup)));
    entries.push(d.entry(
        EntryKind::Reprint,
        json!({"localId": gp.local_id, "validationNumber": gp.validation_number, "reprintNumber": 1,
               "operatorId": seller, "supervisorId": o.seller}),
    ));
    entries.push(d.entry(EntryKind::Void, void(seller, sup)));
    let (st, v) = f.push(&entries).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![
            applied(),
            rejected("unknown_operator"),
            rejected("unknown_operator"),
            rejected("unknown_operator"),
            rejected("unknown_operator"),
            rejected("unknown_operator"),
            rejected("unknown_operator"),
            applied()
        ],
        "{v}"
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn defect7_the_year_of_a_validation_number_is_the_utc_year_of_sold_at() -> R {
    let mut f = Fixture::new().await?;
    let (ev, one, seller) = (f.event_id, f.pkg(1), f.seller_id);
    let this_year = Utc::now().year();
    let mut entries = vec![];
    for year in [2019, this_year + 1, this_year] {
        let d = &mut f.device;
        let seq = d.next_sale_seq;
        let text = ValidationNumber::issue(&d.validation_key, &d.prefix, d.rsu_no, year, seq)
            .map_err(err)?
            .to_string();
        entries.push(sale_with(d, ev, &one, seller, |v| {
            v["validationNumber"] = json!(text)
        }));
    }
    let (st, v) = f.push(&entries).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![
            rejected("bad_validation_number"),
            rejected("bad_validation_number"),
            applied()
        ],
        "{v}"
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn defect7_a_reprint_naming_another_organizations_order_is_rejected() -> R {
    let mut f = Fixture::new().await?;
    let mut o = other_org(&f, false).await?;
    let theirs = sale_with(&mut o.device, o.event_id, &o.pkg.clone(), o.seller, |_| {});
    let tp = payload_of(&theirs)?;
    let (st, v) = push_as(&f, &o.device, &[theirs]).await?;
    assert_eq!((st, results(&v)), (StatusCode::OK, vec![applied()]), "{v}");
    let mine = f.sale(1);
    let mp = payload_of(&mine)?;
    let reprint = |p: &SalePayload, op: Uuid| {
        json!({"localId": p.local_id, "validationNumber": p.validation_number, "reprintNumber": 1,
               "operatorId": op, "supervisorId": null})
    };
    let seller = f.seller_id;
    let r1 = f.device.entry(EntryKind::Reprint, reprint(&tp, seller));
    let r2 = f.device.entry(EntryKind::Reprint, reprint(&mp, seller));
    let (st, v) = f.push(&[mine, r1, r2]).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![applied(), rejected("unknown_order"), applied()],
        "{v}"
    );
    assert_eq!(
        f.count("critical_events WHERE event_type = 'REPRINT' AND event_id <> (SELECT id FROM events WHERE id = critical_events.event_id AND organization_id = (SELECT organization_id FROM rsus WHERE id = critical_events.rsu_id))")
            .await?,
        0
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn defect7_timestamps_outside_2000_to_2100_are_per_entry_rejections() -> R {
    let mut f = Fixture::new().await?;
    let (ev, one, seller, sup) = (f.event_id, f.pkg(1), f.seller_id, f.supervisor_id);
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc));
    let crit = json!({"eventType": "STARTUP", "severity": "INFO", "description": "boot",
                      "operatorId": null, "eventId": null, "metadata": {}});
    let good = sale_with(&mut f.device, ev, &one, seller, |_| {});
    let gp = payload_of(&good)?;
    let shift = |closed: &str| {
        json!({"shiftId": Uuid::now_v7(), "operatorId": seller, "closedBy": sup,
               "openedAt": "2026-06-28T09:00:00.000Z", "closedAt": closed, "currency": "USD",
               "floatAmount": 0, "lines": [], "salesCount": 0, "salesAmount": 0, "voidsCount": 0,
               "voidsAmount": 0, "cashSalesAmount": 0, "cardSalesAmount": 0, "cashExpected": 0,
               "firstSeq": null, "lastSeq": null, "chainHead": "0".repeat(64), "ranges": []})
    };
    let d = &mut f.device;
    let mut void = serde_json::to_value(TestDevice::void_payload(&gp, sup))?;
    void["voidedAt"] = json!("9999-12-31T23:59:59.000Z");
    let entries = vec![
        good,
        d.entry_at(
            EntryKind::CriticalEvent,
            crit.clone(),
            at("1999-12-31T23:59:59.999Z")?,
        ),
        d.entry_at(
            EntryKind::CriticalEvent,
            crit.clone(),
            at("0000-01-01T00:00:00.000Z")?,
        ),
        d.entry_at(
            EntryKind::CriticalEvent,
            crit.clone(),
            at("2100-01-01T00:00:00.000Z")?,
        ),
        sale_with(d, ev, &one, seller, |v| {
            v["soldAt"] = json!("1970-01-01T00:00:00.000Z")
        }),
        d.entry(EntryKind::ShiftClose, shift("0000-01-01T00:00:00.000Z")),
        d.entry(EntryKind::Void, void),
        d.entry(EntryKind::CriticalEvent, crit),
    ];
    let (st, v) = f.push(&entries).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![
            applied(),
            rejected("bad_payload"),
            rejected("bad_payload"),
            rejected("bad_payload"),
            rejected("bad_payload"),
            rejected("bad_payload"),
            rejected("bad_payload"),
            applied()
        ],
        "{v}"
    );
    assert!(
        v["results"][2]["message"]
            .as_str()
            .unwrap_or("")
            .contains("createdAt"),
        "{v}"
    );
    assert!(
        v["results"][5]["message"]
            .as_str()
            .unwrap_or("")
            .contains("closedAt"),
        "{v}"
    );
    assert_eq!(f.count("device_journal").await?, 8);
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// 8. Concurrent ids, error bodies, top-up cap, headers before the body
// ----------------------------------------------------------------------------------------------

/// Pushes one batch per device at the same time, both held at the event row by a transaction
/// of the test until both wait, so both plan before either commits.
async fn push_both_at_once(
    f: &Fixture,
    a: (&TestDevice, Vec<JournalEntry>),
    b: (&TestDevice, Vec<JournalEntry>),
) -> anyhow::Result<Vec<(StatusCode, Value)>> {
    let mut hold = f.db.pool.begin().await?;
    sqlx::query("SELECT 1 FROM events WHERE id = $1 FOR UPDATE")
        .bind(f.event_id)
        .execute(&mut *hold)
        .await?;
    let mut tasks = vec![];
    for (d, entries) in [a, b] {
        let req = d.push_request(&entries)?;
        let router = f.router.clone();
        tasks.push(tokio::spawn(async move { send(&router, req).await }));
    }
    let refs: Vec<&JoinHandle<_>> = tasks.iter().collect();
    wait_for_lock_waiters(&f.db.pool, &refs, 2).await?;
    hold.rollback().await?;
    let mut out = vec![];
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

fn with_entry_id(e: &JournalEntry, id: Uuid, prev: ChainHash) -> anyhow::Result<JournalEntry> {
    let body = EntryBody {
        entry_id: id,
        ..e.body.clone()
    };
    Ok(body.chain(prev)?)
}

#[tokio::test]
async fn defect8_the_same_entry_id_pushed_by_two_rsus_at_once_is_applied_once_and_a_conflict_once(
) -> R {
    let mut f = Fixture::new().await?;
    let mut d2 = second_device(&f, 2, 2001).await?;
    let (ev, one, seller) = (f.event_id, f.pkg(1), f.seller_id);
    let a1 = f.sale(1);
    let a2 = f.device.entry(
        EntryKind::CriticalEvent,
        json!({"eventType": "STARTUP", "severity": "INFO", "description": "a", "operatorId": null, "eventId": null, "metadata": {}}),
    );
    let b1 = sale_with(&mut d2, ev, &one, seller, |_| {});
    let b2 = d2.entry(
        EntryKind::CriticalEvent,
        json!({"eventType": "STARTUP", "severity": "INFO", "description": "b", "operatorId": null, "eventId": null, "metadata": {}}),
    );
    let b2 = with_entry_id(&b2, a2.body.entry_id, b1.hash)?;
    let out = push_both_at_once(&f, (&f.device, vec![a1, a2]), (&d2, vec![b1, b2])).await?;
    let mut second_answers = vec![];
    for (st, v) in &out {
        assert_eq!(*st, StatusCode::OK, "{v}");
        assert_eq!(results(v)[0], applied(), "{v}");
        second_answers.push(results(v)[1].clone());
    }
    second_answers.sort();
    assert_eq!(
        second_answers,
        vec![applied(), conflict("id_conflict")],
        "{out:?}"
    );
    assert_eq!(
        f.count("critical_events WHERE event_type = 'STARTUP'")
            .await?,
        1
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn defect8_the_same_shift_id_closed_by_two_rsus_at_once_is_applied_once_and_a_conflict_once(
) -> R {
    let mut f = Fixture::new().await?;
    let mut d2 = second_device(&f, 2, 2001).await?;
    let (ev, one, seller, sup) = (f.event_id, f.pkg(1), f.seller_id, f.supervisor_id);
    let shift_id = Uuid::now_v7();
    let shift = json!({"shiftId": shift_id, "operatorId": seller, "closedBy": sup,
           "openedAt": "2026-06-28T09:00:00.000Z", "closedAt": "2026-06-28T17:00:00.000Z", "currency": "USD",
           "floatAmount": 0, "lines": [], "salesCount": 0, "salesAmount": 0, "voidsCount": 0,
           "voidsAmount": 0, "cashSalesAmount": 0, "cardSalesAmount": 0, "cashExpected": 0,
           "firstSeq": null, "lastSeq": null, "chainHead": "0".repeat(64), "ranges": []});
    let a1 = f.sale(1);
    let a2 = f.device.entry(EntryKind::ShiftClose, shift.clone());
    let b1 = sale_with(&mut d2, ev, &one, seller, |_| {});
    let b2 = d2.entry(EntryKind::ShiftClose, shift);
    let out = push_both_at_once(&f, (&f.device, vec![a1, a2]), (&d2, vec![b1, b2])).await?;
    let mut second_answers = vec![];
    for (st, v) in &out {
        assert_eq!(*st, StatusCode::OK, "{v}");
        second_answers.push(results(v)[1].clone());
    }
    second_answers.sort();
    assert_eq!(
        second_answers,
        vec![applied(), conflict("id_conflict")],
        "{out:?}"
    );
    assert_eq!(f.count("shift_closes").await?, 1);
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn defect8_error_bodies_speak_the_clients_terms_not_constraint_names() -> R {
    let f = Fixture::new().await?;
    // An RSU in a venue that does not exist: a foreign key fires in the database.
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/admin/rsus")
        .header(
            "authorization",
            format!("Bearer {}", server_stub::testkit::TEST_ADMIN_TOKEN),
        )
        .header("content-type", "application/json")
        .body(axum::body::Body::from(serde_json::to_vec(&json!({
            "organizationId": f.org_id, "name": "X", "venueId": Uuid::now_v7()
        }))?))?;
    let (st, v) = f.send(req).await?;
    assert!(st.is_client_error(), "{st} {v}");
    let m = v["message"].as_str().unwrap_or("");
    assert!(m.contains("venueId"), "{v}");
    for leak in ["_fkey", "_key", "_check", "constraint", "database rule"] {
        assert!(
            !m.contains(leak),
            "message names a database detail ({leak}): {v}"
        );
    }
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn defect8_a_device_cannot_take_more_numbers_than_its_cap() -> R {
    let f = Fixture::new().await?;
    // The RSU holds 1001–1200 unsold (200); the event's allocation size is 100, so the default
    // cap is 1000 outstanding numbers: eight top-ups of 100 fit, the ninth does not.
    let top_up = || -> anyhow::Result<axum::http::Request<axum::body::Body>> {
        f.device.request(
            "POST",
            wire::PATH_ALLOCATIONS,
            serde_json::to_vec(&json!({"eventId": f.event_id}))?,
        )
    };
    for i in 0..8 {
        let (st, v) = f.send(top_up()?).await?;
        assert_eq!(st, StatusCode::OK, "top-up {i}: {v}");
    }
    let (st, v) = f.send(top_up()?).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("allocation_cap")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap_or("").contains("1000"), "{v}");
    // The cap is configurable per event.
    sqlx::query(
        "UPDATE events SET ticket_allocation = jsonb_set(ticket_allocation, '{ranges,0,maxOutstandingPerRsu}', '1100') WHERE id = $1",
    )
    .bind(f.event_id)
    .execute(&f.db.pool)
    .await?;
    let (st, v) = f.send(top_up()?).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = f.send(top_up()?).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("allocation_cap")),
        "{v}"
    );
    f.drop_db().await;
    Ok(())
}

/// Sends a POST announcing a 4,000,000-byte body but sends only its first bytes, and waits up to
/// 5 s for an answer: a server that checks headers and key first answers without the body.
async fn answer_without_body(
    addr: std::net::SocketAddr,
    headers: &[(String, String)],
) -> anyhow::Result<(u16, Value)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n",
        wire::PATH_JOURNAL
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n{\"epoch\": 1, ");
    s.write_all(head.as_bytes()).await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&got);
                if text.contains("}") && got.len() > i + 4 {
                    break;
                }
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    anyhow::ensure!(
        read.is_ok(),
        "no answer within 5 s: the server waits for the body"
    );
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = body.find('{').map_or("", |i| &body[i..]);
    let body = body.rfind('}').map_or(body, |j| &body[..=j]);
    Ok((
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.into())),
    ))
}

#[tokio::test]
async fn defect8_headers_and_key_are_checked_before_the_body_is_read() -> R {
    let f = Fixture::new().await?;
    let server = TestServer::spawn(f.state.clone()).await?;
    let (st, v) = answer_without_body(server.addr, &[]).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (401, Some("missing_header")),
        "{v}"
    );
    // Well-formed headers naming a key that does not exist.
    let mut h = f.device.signed_headers("POST", wire::PATH_JOURNAL, b"{}")?;
    for (k, v) in h.iter_mut() {
        if k == wire::HEADER_KEY_ID {
            *v = Uuid::now_v7().to_string();
        }
    }
    let (st, v) = answer_without_body(server.addr, &h).await?;
    assert_eq!((st, v["error"].as_str()), (401, Some("unknown_key")), "{v}");
    server.stop().await;
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// The protocol as docs/protocol.md states it
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn protocol_invalid_field_names_the_field_path_inside_an_entry() -> R {
    let mut f = Fixture::new().await?;
    let e = f.sale(1);
    let mut body: Value = serde_json::from_slice(&f.device.push_body(&[e])?)?;
    body["entries"][0]["seq"] = json!("x");
    let (st, v) = f
        .send(
            f.device
                .request("POST", wire::PATH_JOURNAL, serde_json::to_vec(&body)?)?,
        )
        .await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("entries[0].seq"),
        "{v}"
    );
    body["entries"][0]["seq"] = json!(1);
    body["entries"][0]["hash"] = json!("zz");
    let (st, v) = f
        .send(
            f.device
                .request("POST", wire::PATH_JOURNAL, serde_json::to_vec(&body)?)?,
        )
        .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("entries[0].hash"),
        "{v}"
    );
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn protocol_server_time_in_a_401_body_has_milliseconds() -> R {
    let mut f = Fixture::new().await?;
    f.device.clock_offset = 3600;
    let (st, v) = f.send(f.device.push_request(&[])?).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("clock_skew")),
        "{v}"
    );
    let t = v["serverTime"].as_str().unwrap_or("");
    assert_eq!(t.len(), "2026-06-28T14:25:00.123Z".len(), "{t}");
    assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.', "{t}");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn protocol_a_non_canonical_created_at_or_entry_id_is_bad_payload_not_a_broken_chain() -> R {
    let mut f = Fixture::new().await?;
    let ok = f.sale(1);
    // A client that writes createdAt without milliseconds, or the entryId in upper case, and
    // hashes the bytes it wrote.
    let mut bad = vec![];
    let mut prev = ok.hash;
    for (created, id_upper) in [
        ("2026-06-28T14:25:00Z", false),
        ("2026-06-28T14:25:00.000Z", true),
    ] {
        let id = Uuid::now_v7();
        let id_text = if id_upper {
            id.to_string().to_uppercase()
        } else {
            id.to_string()
        };
        let seq = f.device.next_seq;
        let canonical = format!(
            r#"{{"createdAt":"{created}","entryId":"{id_text}","epoch":1,"kind":"critical_event","payload":{{"description":"x","eventId":null,"eventType":"STARTUP","metadata":{{}},"operatorId":null,"severity":"INFO"}},"seq":{seq}}}"#
        );
        let hash = rsu_core::journal::chain_hash(&prev, canonical.as_bytes());
        let mut v: Value = serde_json::from_str(&canonical)?;
        v["prevHash"] = json!(prev.to_hex());
        v["hash"] = json!(hash.to_hex());
        bad.push(v);
        prev = hash;
        f.device.next_seq += 1;
    }
    f.device.prev_hash = prev;
    let last = f.sale(1);
    let mut entries = vec![serde_json::to_value(&ok)?];
    entries.extend(bad);
    entries.push(serde_json::to_value(&last)?);
    let body = serde_json::to_vec(&json!({"epoch": 1, "entries": entries}))?;
    let (st, v) = f
        .send(f.device.request("POST", wire::PATH_JOURNAL, body)?)
        .await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(
        results(&v),
        vec![
            applied(),
            rejected("bad_payload"),
            rejected("bad_payload"),
            applied()
        ],
        "{v}"
    );
    assert!(
        v["results"][1]["message"]
            .as_str()
            .unwrap_or("")
            .contains("createdAt"),
        "{v}"
    );
    assert!(
        v["results"][2]["message"]
            .as_str()
            .unwrap_or("")
            .contains("entryId"),
        "{v}"
    );
    assert_eq!(v["chainVerified"], true, "{v}");
    f.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn protocol_a_refused_enrollment_leaves_the_token_usable() -> R {
    let f = Fixture::new().await?;
    let t = admin::create_enrollment_token(
        &f.db.pool,
        &admin::NewEnrollmentToken {
            rsu_id: f.device.rsu_id,
            token_hours: 1,
        },
    )
    .await
    .map_err(err)?;
    let token = t["enrollmentToken"].as_str().unwrap_or("").to_string();
    let key = wire::DeviceKey::generate()?;
    let enroll = |public_key: String| {
        let req = wire::EnrollRequest {
            token: token.clone(),
            public_key,
            device_identifier: "MAC:00:00:00:00:00:01".into(),
            app_version: "test".into(),
            app_hash: "0".repeat(64),
            continuity: None,
        };
        axum::http::Request::builder()
            .method("POST")
            .uri(wire::PATH_ENROLL)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                serde_json::to_vec(&req).unwrap_or_default(),
            ))
    };
    let (st, v) = f.send(enroll("12".into())?).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field")),
        "{v}"
    );
    // The public key the device already registered: refused as already_exists.
    let (st, v) = f.send(enroll(f.device.key.public_key_hex())?).await?;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_exists")),
        "{v}"
    );
    let (st, v) = f.send(enroll(key.public_key_hex())?).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["epoch"], 2);
    f.drop_db().await;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// The worked example of docs/protocol.md §10
// ----------------------------------------------------------------------------------------------

/// Builds the worked example of a whole signed push from its fixed inputs and checks that
/// docs/protocol.md shows exactly these bytes: tag, canonical bytes, hash, body, body hash,
/// string to sign and signature.
#[test]
fn protocol_the_worked_example_in_the_document_is_what_the_code_computes() -> R {
    use ring::signature::{Ed25519KeyPair, KeyPair};
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md"))?;
    let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")?;
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(err)?;
    let public_hex = hex::encode(pair.public_key().as_ref());
    let vkey_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let vkey = rsu_core::validation::ValidationKey::from_hex(vkey_hex).map_err(err)?;
    let vn = ValidationNumber::issue(&vkey, "RSU", 1, 2026, 123)
        .map_err(err)?
        .to_string();
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &hex::decode(vkey_hex)?),
        b"RSU001-2026-000123",
    );
    let m = mac.as_ref();
    let v = (u32::from(m[0]) << 12) | (u32::from(m[1]) << 4) | (u32::from(m[2]) >> 4);
    let mac3 = format!("{:02x} {:02x} {:02x}", m[0], m[1], m[2]);
    let u = |s: &str| Uuid::parse_str(s);
    let rsu_id = u("0190a1b2-0000-7000-8000-000000000001")?;
    let key_id = u("0190a1b2-0000-7000-8000-000000000002")?;
    let event_id = u("0190a1b2-0000-7000-8000-0000000000e1")?;
    let alloc_id = u("0190a1b2-0000-7000-8000-0000000000a1")?;
    let package_id = u("0190a1b2-0000-7000-8000-0000000000b5")?;
    let seller = u("0190a1b2-0000-7000-8000-0000000000c1")?;
    let shift = u("0190a1b2-0000-7000-8000-0000000000d1")?;
    let sale_id = u("0190a1b2-0000-7000-8000-000000000101")?;
    let entry_id = u("0190a1b2-0000-7000-8000-000000000201")?;
    let payload = json!({
        "localId": sale_id, "eventId": event_id, "allocationId": alloc_id,
        "segments": [{"allocationId": alloc_id, "startNumber": 1001, "endNumber": 1005}],
        "validationNumber": vn, "saleSeq": 123, "drawNumbers": [1001, 1002, 1003, 1004, 1005],
        "packageId": package_id, "packageName": "5 tickets", "ticketCount": 5,
        "unitPrice": 2000, "totalAmount": 2000, "currency": "USD",
        "payment": {"method": "cash", "reference": null},
        "operatorId": seller, "shiftId": shift, "soldAt": "2026-06-28T14:25:00.123Z"
    });
    let body = EntryBody {
        epoch: 1,
        seq: 1,
        entry_id,
        kind: EntryKind::Sale,
        created_at: chrono::DateTime::parse_from_rfc3339("2026-06-28T14:25:00.123Z")?
            .with_timezone(&Utc),
        payload,
    };
    let canonical = String::from_utf8(body.canonical_bytes()?)?;
    let entry = body.chain(ChainHash::GENESIS)?;
    let push = wire::PushRequest {
        epoch: 1,
        entries: vec![entry.clone()],
    };
    let push_bytes = serde_json::to_vec(&push)?;
    let push_text = String::from_utf8(push_bytes.clone())?;
    let body_hash = wire::body_sha256_hex(&push_bytes);
    let parts = wire::SignedParts {
        method: "POST",
        path_and_query: wire::PATH_JOURNAL,
        rsu_id,
        key_id,
        timestamp: 1_782_656_760,
        nonce: "3f1c0e5a9b7d4c2e8f6a1b3c5d7e9f01",
        body_sha256_hex: &body_hash,
    };
    let to_sign = String::from_utf8(parts.string_to_sign())?;
    let signature = hex::encode(pair.sign(to_sign.as_bytes()).as_ref());
    wire::verify_signature(pair.public_key().as_ref(), to_sign.as_bytes(), &signature)
        .map_err(err)?;
    let computed = [
        ("public key", public_hex),
        (
            "first MAC bytes",
            format!("*mac* starts `{mac3}`, *v* = {v}"),
        ),
        ("validation number", vn),
        ("canonical bytes", canonical),
        ("entry hash", entry.hash.to_hex()),
        ("push body", push_text),
        ("body SHA-256", body_hash),
        ("string to sign", to_sign),
        ("signature", signature),
    ];
    let mut missing = vec![];
    for (what, value) in &computed {
        if !doc.contains(value.as_str()) {
            missing.push(format!("{what}:\n{value}\n"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/protocol.md §10 lacks these computed values:\n{}",
        missing.join("\n")
    );
    Ok(())
}
