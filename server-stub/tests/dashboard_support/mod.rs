//! What the dashboard's tests share (`tests/dashboard.rs` over the router, and
//! `tests/dashboard_browser.rs` in a real browser): signing a user in, device heartbeats and
//! pushes, and a second organization.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use rsu_core::journal::{EntryKind, JournalEntry};
use rsu_core::wire::{self, HeartbeatRequest};
use serde_json::json;
use server_stub::accounts::{self, session};
use server_stub::admin;
use server_stub::testkit::{Fixture, TestDevice};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

/// A user with a live dashboard session.
pub struct SignedIn {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    /// The session cookie's value.
    pub token: String,
    /// The `Cookie` header carrying it.
    pub cookie: String,
    pub csrf: String,
}

/// Adds a user with `role` in `org` and starts a session for them, as the sign-in page does
/// after the password checked out.
pub async fn sign_in(pool: &PgPool, org: Uuid, role: &str, name: &str) -> SignedIn {
    let email = format!("{}@example.org", name.to_lowercase().replace(' ', "."));
    let user_id = accounts::add_user(pool, &email, name).await.unwrap();
    accounts::grant(pool, user_id, org, role).await.unwrap();
    let s = session::create(pool, user_id).await.unwrap();
    SignedIn {
        user_id,
        name: name.into(),
        email,
        cookie: format!("{}={}", session::COOKIE, s.token),
        token: s.token,
        csrf: s.csrf,
    }
}

/// One request through the router: status, headers and the body as text.
pub async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    let body = match form {
        Some(f) => {
            b = b.header("content-type", "application/x-www-form-urlencoded");
            Body::from(f.to_string())
        }
        None => Body::empty(),
    };
    let res = router.clone().oneshot(b.body(body).unwrap()).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// `key=value&…`, percent-encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// A heartbeat of `dev` reporting its journal at `last_seq` with `pending` entries unsent.
pub async fn heartbeat(f: &Fixture, dev: &TestDevice, last_seq: u64, pending: u64, printer: &str) {
    let body = HeartbeatRequest {
        epoch: dev.epoch,
        last_seq,
        pending_count: pending,
        oldest_pending_age_secs: (pending > 0).then_some(125),
        printer_status: printer.into(),
        printer_status_age_secs: None,
        app_version: "test".into(),
        app_hash: "0".repeat(64),
        acknowledged_commands: vec![],
    };
    let (st, v) = f
        .send(
            dev.request(
                "POST",
                wire::PATH_HEARTBEAT,
                serde_json::to_vec(&body).unwrap(),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(st, StatusCode::OK, "{v}");
}

/// Pushes and asserts every entry got `want` (applied / rejected …).
pub async fn push_expect(f: &Fixture, entries: &[JournalEntry], want: &[&str]) {
    let (st, v) = f.push(entries).await.unwrap();
    assert_eq!(st, StatusCode::OK, "{v}");
    let got: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(got, want, "{v}");
}

/// A sale the server rejects: its number was never allocated to the device.
pub fn unallocated_sale(f: &mut Fixture) -> JournalEntry {
    let pkg = f.pkg(1);
    let s = f
        .device
        .sale_payload(f.event_id, &pkg, vec![45_000], f.seller_id);
    f.device
        .entry(EntryKind::Sale, serde_json::to_value(s).unwrap())
}

/// allocation_release entries for the unsold tail of every range of the fixture's device.
pub async fn releases(f: &mut Fixture) -> Vec<JournalEntry> {
    let rows: Vec<(Uuid, i32, i32)> = sqlx::query_as(
        "SELECT id, start_number, end_number FROM rsu_allocations
          WHERE rsu_id = $1 AND event_id = $2 ORDER BY start_number",
    )
    .bind(f.device.rsu_id)
    .bind(f.event_id)
    .fetch_all(&f.db.pool)
    .await
    .unwrap();
    let next = f.device.next_number;
    let mut out = vec![];
    for (id, s, e) in rows {
        let from = next.max(i64::from(s));
        if from <= i64::from(e) {
            let p = json!({"allocationId": id, "eventId": f.event_id,
                           "startNumber": from, "endNumber": e});
            out.push(f.device.entry(EntryKind::AllocationRelease, p));
        }
    }
    out
}

/// Another organization with an event of its own: (organization, event).
pub async fn other_organization(pool: &PgPool) -> (Uuid, Uuid) {
    let org = admin::create_organization(
        pool,
        &admin::NewOrganization {
            name: "Other Club".into(),
            license_number: "LIC-O".into(),
            currency: "USD".into(),
            validation_number_prefix: "O".into(),
            description: None,
        },
    )
    .await
    .unwrap();
    let org: Uuid = serde_json::from_value(org["organizationId"].clone()).unwrap();
    let now = chrono::Utc::now();
    let ev = admin::create_event(
        pool,
        &admin::NewEvent {
            organization_id: org,
            venue_id: None,
            name: "Other Raffle".into(),
            event_identifier: "OTHER-1".into(),
            currency: None,
            sales_start_time: now - chrono::Duration::hours(1),
            sales_end_time: now + chrono::Duration::hours(3),
            draw_time: now + chrono::Duration::hours(4),
            max_tickets: 1000,
            rsu_range_start: None,
            rsu_range_end: None,
            default_allocation_size: 100,
            jackpot_seed_amount: 0,
            jackpot_starting_amount: 0,
            jackpot_percentage_bp: Some(5000),
            price_lock: true,
            offline_sales_allowed: true,
            responsible_gaming_text: "x".into(),
            claim_deadline: "90 days after the draw".into(),
            rules_url: "x".into(),
            description: None,
        },
    )
    .await
    .unwrap();
    (org, serde_json::from_value(ev["eventId"].clone()).unwrap())
}

/// The state of an event.
pub async fn event_state(pool: &PgPool, event: Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM events WHERE id = $1")
        .bind(event)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Another RSU of the fixture's organization holding numbers `start`…`start + 99` of the
/// event, enrolled: the device to sell from it.
pub async fn extra_device(f: &Fixture, rsu_no: u32, name: &str, start: i64) -> TestDevice {
    let pool = &f.db.pool;
    let v = admin::create_rsu(
        pool,
        &admin::NewRsu {
            organization_id: f.org_id,
            name: name.into(),
            rsu_no: Some(rsu_no),
            venue_id: None,
            max_offline_tickets: None,
            token_hours: 1,
        },
    )
    .await
    .unwrap();
    let rsu: Uuid = serde_json::from_value(v["rsuId"].clone()).unwrap();
    admin::create_allocation(
        pool,
        &admin::NewAllocation {
            event_id: f.event_id,
            rsu_id: rsu,
            start_number: Some(start),
            end_number: Some(start + 99),
            count: None,
        },
    )
    .await
    .unwrap();
    let token = v["enrollmentToken"].as_str().unwrap();
    let mut dev = TestDevice::enroll(pool, token, &format!("MAC:00:00:00:00:01:{rsu_no:02}"))
        .await
        .unwrap();
    dev.next_number = start;
    dev
}

/// A sale of the package of `pkg_tickets` tickets on `dev`.
pub fn sale_on(f: &Fixture, dev: &mut TestDevice, pkg_tickets: u32) -> JournalEntry {
    let pkg = f.pkg(pkg_tickets);
    let numbers = dev.take_numbers(pkg.ticket_count);
    let s = dev.sale_payload(f.event_id, &pkg, numbers, f.seller_id);
    dev.entry(EntryKind::Sale, serde_json::to_value(s).unwrap())
}

/// The release of `dev`'s unsold numbers up to `end`.
pub fn release_on(f: &Fixture, dev: &mut TestDevice, end: i64) -> JournalEntry {
    let (id, ..) = dev.allocations[0];
    let p = json!({"allocationId": id, "eventId": f.event_id,
                   "startNumber": dev.next_number, "endNumber": end});
    dev.entry(EntryKind::AllocationRelease, p)
}

/// Pushes `entries` for `dev`; every one must be applied.
pub async fn push_on(f: &Fixture, dev: &TestDevice, entries: &[JournalEntry]) {
    let (st, v) = f.send(dev.push_request(entries).unwrap()).await.unwrap();
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "applied"),
        "{v}"
    );
}
