//! The dashboard over plain HTTP requests through the router (the browser tests are
//! `dashboard_browser.rs`): every page renders for a signed-in user, signed-out users are sent
//! to sign in, permissions and organizations are enforced, forms need the CSRF token, and the
//! figures come from the per-minute summary the triggers of migration 0011 keep.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dashboard_support;

use axum::http::{header, StatusCode};
use dashboard_support::*;
use rsu_core::journal::EntryKind;
use server_stub::dashboard::apphash::{approve_app_hash, ApproveAppHash};
use server_stub::testkit::{Fixture, TestDevice};

fn pages(ev: uuid::Uuid) -> Vec<String> {
    ["", "/devices", "/exceptions", "/report", "/draw", "/claims"]
        .iter()
        .map(|p| format!("/dashboard/events/{ev}{p}"))
        .collect()
}

#[tokio::test]
async fn every_page_renders_for_a_signed_in_manager() {
    let mut f = Fixture::new().await.unwrap();
    let s = f.sale(5);
    push_expect(&f, &[s], &["applied"]).await;
    let me = sign_in(&f.db.pool, f.org_id, "raffle_manager", "Mia Manager").await;
    let (st, _, html) = call(&f.router, "GET", "/dashboard", Some(&me.cookie), None).await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(html.contains("Summer Festival Raffle"), "{html}");
    assert!(html.contains("Mia Manager"), "the signed-in user is named");
    assert!(html.contains("<th scope=\"col\">"), "tables have headers");
    for path in pages(f.event_id) {
        let (st, headers, html) = call(&f.router, "GET", &path, Some(&me.cookie), None).await;
        assert_eq!(st, StatusCode::OK, "{path}: {html}");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/html; charset=utf-8",
            "{path}"
        );
        assert!(html.contains("<main id=\"main\""), "{path}");
        assert!(html.contains("name=\"csrf\""), "{path}: sign-out form");
        assert!(
            !html.contains("src=\"http") && !html.contains("href=\"http"),
            "{path}: nothing is loaded from elsewhere"
        );
    }
    let (_, _, event) = call(
        &f.router,
        "GET",
        &pages(f.event_id)[0],
        Some(&me.cookie),
        None,
    )
    .await;
    assert!(
        event.contains("<svg role=\"img\""),
        "the chart is an SVG: {event}"
    );
    assert!(event.contains("id=\"tickets-sold\">5<"), "{event}");
    assert!(event.contains("$20.00"), "net sales: {event}");
    let (st, headers, js) = call(&f.router, "GET", "/dashboard/refresh.js", None, None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.contains("data-refresh"));
    f.drop_db().await;
}

#[tokio::test]
async fn signed_out_pages_send_to_sign_in_and_posts_are_refused() {
    let f = Fixture::new().await.unwrap();
    let path = format!("/dashboard/events/{}/devices", f.event_id);
    let (st, headers, _) = call(&f.router, "GET", &path, None, None).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[header::LOCATION],
        format!("/login?next=/dashboard/events/{}/devices", f.event_id)
    );
    let (st, _, _) = call(
        &f.router,
        "POST",
        &format!("/dashboard/events/{}/transition", f.event_id),
        Some("rsu_session=forged"),
        Some("csrf=x&to=suspended"),
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(event_state(&f.db.pool, f.event_id).await, "active");
    f.drop_db().await;
}

#[tokio::test]
async fn a_viewer_sees_the_exceptions_but_cannot_resolve_or_move_the_event() {
    let mut f = Fixture::new().await.unwrap();
    let bad = unallocated_sale(&mut f);
    let id = bad.body.entry_id;
    push_expect(&f, &[bad], &["rejected"]).await;
    let viewer = sign_in(&f.db.pool, f.org_id, "viewer", "Vic Viewer").await;
    let page = format!("/dashboard/events/{}/exceptions", f.event_id);
    let (st, _, html) = call(&f.router, "GET", &page, Some(&viewer.cookie), None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        html.contains("allocation"),
        "the rejection is listed: {html}"
    );
    assert!(
        !html.contains("id=\"resolve-"),
        "no resolve button for a viewer"
    );
    let (st, _, html) = call(
        &f.router,
        "POST",
        &format!("{page}/resolve"),
        Some(&viewer.cookie),
        Some(&form(&[
            ("csrf", &viewer.csrf),
            ("entryId", &id.to_string()),
            ("note", "I am only a viewer"),
        ])),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{html}");
    assert!(
        html.contains("permission_denied") && html.contains("exception.resolve"),
        "{html}"
    );
    let resolved: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM device_journal WHERE entry_id = $1 AND resolved_at IS NOT NULL",
    )
    .bind(id)
    .fetch_one(&f.db.pool)
    .await
    .unwrap();
    assert_eq!(resolved, 0, "nothing changed");
    let (st, _, _) = call(
        &f.router,
        "POST",
        &format!("/dashboard/events/{}/transition", f.event_id),
        Some(&viewer.cookie),
        Some(&form(&[("csrf", &viewer.csrf), ("to", "suspended")])),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(event_state(&f.db.pool, f.event_id).await, "active");
    f.drop_db().await;
}

#[tokio::test]
async fn another_organizations_event_is_refused_and_not_listed() {
    let f = Fixture::new().await.unwrap();
    let (_, other_event) = other_organization(&f.db.pool).await;
    let me = sign_in(&f.db.pool, f.org_id, "organization_admin", "Oda Admin").await;
    let (_, _, list) = call(&f.router, "GET", "/dashboard", Some(&me.cookie), None).await;
    assert!(list.contains("Summer Festival Raffle"));
    assert!(!list.contains("Other Raffle"), "{list}");
    for path in pages(other_event) {
        let (st, _, html) = call(&f.router, "GET", &path, Some(&me.cookie), None).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}: {html}");
        assert!(!html.contains("Other Raffle"), "{path}");
    }
    let (st, _, _) = call(
        &f.router,
        "POST",
        &format!("/dashboard/events/{other_event}/transition"),
        Some(&me.cookie),
        Some(&form(&[("csrf", &me.csrf), ("to", "cancelled")])),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(event_state(&f.db.pool, other_event).await, "created");
    let (st, _, _) = call(
        &f.router,
        "GET",
        "/dashboard/events/not-an-id",
        Some(&me.cookie),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    f.drop_db().await;
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let mut f = Fixture::new().await.unwrap();
    let bad = unallocated_sale(&mut f);
    let id = bad.body.entry_id.to_string();
    push_expect(&f, &[bad], &["rejected"]).await;
    let me = sign_in(&f.db.pool, f.org_id, "raffle_manager", "Mia Manager").await;
    let other = sign_in(&f.db.pool, f.org_id, "raffle_manager", "Max Manager").await;
    let path = format!("/dashboard/events/{}/exceptions/resolve", f.event_id);
    for token in ["", "forged", other.csrf.as_str()] {
        let (st, _, body) = call(
            &f.router,
            "POST",
            &path,
            Some(&me.cookie),
            Some(&form(&[
                ("csrf", token),
                ("entryId", &id),
                ("note", "refunded"),
            ])),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{token:?}: {body}");
        assert!(body.contains("csrf_rejected"), "{body}");
    }
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM device_journal WHERE status <> 'applied' AND resolved_at IS NULL",
    )
    .fetch_one(&f.db.pool)
    .await
    .unwrap();
    assert_eq!(open, 1);
    // With the right token it goes through, and is recorded under the user's name.
    let (st, headers, body) = call(
        &f.router,
        "POST",
        &path,
        Some(&me.cookie),
        Some(&form(&[
            ("csrf", &me.csrf),
            ("entryId", &id),
            ("note", "customer refunded"),
        ])),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{body}");
    let back = headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(back.ends_with("/exceptions?done=resolved"));
    let (by, note): (String, String) = sqlx::query_as(
        "SELECT resolved_by_name, resolution_note FROM device_journal WHERE entry_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&f.db.pool)
    .await
    .unwrap();
    assert_eq!(
        (by.as_str(), note.as_str()),
        ("Mia Manager", "customer refunded")
    );
    // The audit log names the signed-in user, not only their name.
    let changed_by: Option<uuid::Uuid> =
        sqlx::query_scalar("SELECT changed_by FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_one(&f.db.pool)
            .await
            .unwrap();
    assert_eq!(changed_by, Some(me.user_id));
    let (_, _, html) = call(&f.router, "GET", &back, Some(&me.cookie), None).await;
    assert!(html.contains("The exception was resolved"), "{html}");
    assert!(html.contains("customer refunded"));
    f.drop_db().await;
}

#[tokio::test]
async fn the_gate_refuses_with_a_clear_message_then_the_event_moves_and_draws() {
    let mut f = Fixture::new().await.unwrap();
    let sale = f.sale(5);
    let bad = unallocated_sale(&mut f);
    let bad_id = bad.body.entry_id.to_string();
    let mut all = vec![sale, bad];
    all.extend(releases(&mut f).await);
    let n = all.len() as u64;
    push_expect(&f, &all, &["applied", "rejected", "applied", "applied"]).await;
    heartbeat(&f, &f.device, n, 0, "ok").await;
    let me = sign_in(&f.db.pool, f.org_id, "raffle_manager", "Mia Manager").await;
    let ev = f.event_id;
    let mv = |to: &'static str| {
        let (cookie, csrf, router) = (me.cookie.clone(), me.csrf.clone(), f.router.clone());
        async move {
            call(
                &router,
                "POST",
                &format!("/dashboard/events/{ev}/transition"),
                Some(&cookie),
                Some(&form(&[("csrf", &csrf), ("to", to)])),
            )
            .await
        }
    };
    assert_eq!(mv("sales_closed").await.0, StatusCode::SEE_OTHER);
    assert_eq!(mv("reconciling").await.0, StatusCode::SEE_OTHER);
    let (_, _, report) = call(
        &f.router,
        "GET",
        &format!("/dashboard/events/{ev}/report"),
        Some(&me.cookie),
        None,
    )
    .await;
    assert!(report.contains("The gate is closed"), "{report}");
    assert!(report.contains("id=\"to-reconciled\""), "{report}");
    let (st, _, html) = mv("reconciled").await;
    assert_eq!(st, StatusCode::CONFLICT, "{html}");
    assert!(
        html.contains("cannot be reconciled") && html.contains("RSU 1"),
        "{html}"
    );
    assert_eq!(event_state(&f.db.pool, ev).await, "reconciling");

    let (st, _, _) = call(
        &f.router,
        "POST",
        &format!("/dashboard/events/{ev}/exceptions/resolve"),
        Some(&me.cookie),
        Some(&form(&[
            ("csrf", &me.csrf),
            ("entryId", &bad_id),
            ("note", "customer refunded"),
        ])),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(mv("reconciled").await.0, StatusCode::SEE_OTHER);
    let by: Option<String> =
        sqlx::query_scalar("SELECT reconciliation_confirmed_by_name FROM events WHERE id = $1")
            .bind(ev)
            .fetch_one(&f.db.pool)
            .await
            .unwrap();
    assert_eq!(by.as_deref(), Some("Mia Manager"));
    assert_eq!(mv("drawing_ready").await.0, StatusCode::SEE_OTHER);
    let (st, headers, _) = call(
        &f.router,
        "POST",
        &format!("/dashboard/events/{ev}/draw"),
        Some(&me.cookie),
        Some(&form(&[("csrf", &me.csrf), ("beacon", "lottery 7 12 19")])),
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(headers[header::LOCATION]
        .to_str()
        .unwrap()
        .ends_with("/draw?done=drawn"));
    assert_eq!(event_state(&f.db.pool, ev).await, "completed");
    let (_, _, draw) = call(
        &f.router,
        "GET",
        &format!("/dashboard/events/{ev}/draw"),
        Some(&me.cookie),
        None,
    )
    .await;
    assert!(
        draw.contains("id=\"winners\"") && draw.contains("id=\"draw-export\""),
        "{draw}"
    );
    let (st, headers, file) = call(
        &f.router,
        "GET",
        &format!("/dashboard/events/{ev}/draw/export"),
        Some(&me.cookie),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let file: server_stub::draw::algorithm::DrawFile = serde_json::from_str(&file).unwrap();
    assert_eq!(file.beacon.as_deref(), Some("lottery 7 12 19"));
    assert!(
        server_stub::draw::verify::verify(&file).is_empty(),
        "the export replays"
    );

    // The winner's receipt is claimed from the claims page.
    let vn: String = sqlx::query_scalar(
        "SELECT o.validation_number FROM draw_results d JOIN tickets t ON t.id = d.winning_ticket_id
           JOIN orders o ON o.id = t.order_id LIMIT 1",
    )
    .fetch_one(&f.db.pool)
    .await
    .unwrap();
    let (st, _, html) = call(
        &f.router,
        "POST",
        &format!("/dashboard/events/{ev}/claims"),
        Some(&me.cookie),
        Some(&form(&[("csrf", &me.csrf), ("validationNumber", &vn)])),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(html.contains("Claim recorded"), "{html}");
    assert!(
        html.contains("claimed") && html.contains("by Mia Manager"),
        "{html}"
    );
    f.drop_db().await;
}

#[tokio::test]
async fn the_devices_page_shows_sync_printer_build_clock_and_allocation() {
    let mut f = Fixture::new().await.unwrap();
    let me = sign_in(&f.db.pool, f.org_id, "viewer", "Vic Viewer").await;
    let path = format!("/dashboard/events/{}/devices", f.event_id);
    let row = |html: &str| {
        let start = html.find("id=\"rsu-1\"").expect("RSU 1's row");
        let end = html[start..].find("</tr>").unwrap() + start;
        html[start..end].to_string()
    };
    let sales: Vec<_> = (0..3).map(|_| f.sale(1)).collect();
    heartbeat(&f, &f.device, 3, 3, "paper_out").await;
    let (_, _, html) = call(&f.router, "GET", &path, Some(&me.cookie), None).await;
    let r = row(&html);
    assert!(r.contains("data-sync=\"pending\""), "{r}");
    assert!(r.contains("<td class=\"num pending\">3</td>"), "{r}");
    assert!(r.contains("2 min"), "oldest pending age: {r}");
    assert!(
        r.contains("Paper out") && r.contains("class=\"flag\""),
        "{r}"
    );
    assert!(r.contains("not an approved build"), "{r}");
    assert!(
        r.contains("in step") || r.contains(" s ahead") || r.contains(" s behind"),
        "{r}"
    );
    assert!(
        r.contains("<td class=\"num left\">200</td>"),
        "two ranges of 100: {r}"
    );

    push_expect(&f, &sales, &["applied", "applied", "applied"]).await;
    approve_app_hash(
        &f.db.pool,
        &ApproveAppHash {
            organization_id: f.org_id,
            app_hash: "0".repeat(64),
            app_version: Some("test".into()),
            note: None,
        },
        Some("Ann"),
    )
    .await
    .unwrap();
    heartbeat(&f, &f.device, 3, 0, "ok").await;
    let (_, _, html) = call(&f.router, "GET", &path, Some(&me.cookie), None).await;
    let r = row(&html);
    assert!(r.contains("data-sync=\"synced\""), "{r}");
    assert!(!r.contains("class=\"flag\""), "{r}");
    assert!(!r.contains("not an approved build"), "{r}");
    assert!(r.contains("<td class=\"num left\">197</td>"), "{r}");
    let offset: Option<i32> =
        sqlx::query_scalar("SELECT clock_offset_secs FROM rsu_epochs WHERE rsu_id = $1")
            .bind(f.device.rsu_id)
            .fetch_one(&f.db.pool)
            .await
            .unwrap();
    assert!(offset.is_some_and(|o| o.abs() <= 2), "{offset:?}");
    f.drop_db().await;
}

#[tokio::test]
async fn the_heartbeat_records_the_devices_clock_offset() {
    let mut f = Fixture::new().await.unwrap();
    f.device.clock_offset = 90;
    heartbeat(&f, &f.device, 0, 0, "ok").await;
    let offset: Option<i32> =
        sqlx::query_scalar("SELECT clock_offset_secs FROM rsu_epochs WHERE rsu_id = $1")
            .bind(f.device.rsu_id)
            .fetch_one(&f.db.pool)
            .await
            .unwrap();
    assert!(offset.is_some_and(|o| (89..=91).contains(&o)), "{offset:?}");
    let me = sign_in(&f.db.pool, f.org_id, "viewer", "Vic Viewer").await;
    let (_, _, html) = call(
        &f.router,
        "GET",
        &format!("/dashboard/events/{}/devices", f.event_id),
        Some(&me.cookie),
        None,
    )
    .await;
    assert!(
        html.contains("s ahead</span>"),
        "flagged as far off: {html}"
    );
    f.drop_db().await;
}

#[tokio::test]
async fn the_sales_summary_follows_every_insert_void_and_delete_of_orders() {
    let mut f = Fixture::new().await.unwrap();
    let mut entries = vec![];
    let mut sold = vec![];
    for n in [1, 5, 25, 5] {
        let pkg = f.pkg(n);
        let numbers = f.device.take_numbers(pkg.ticket_count);
        let s = f
            .device
            .sale_payload(f.event_id, &pkg, numbers, f.seller_id);
        entries.push(
            f.device
                .entry(EntryKind::Sale, serde_json::to_value(&s).unwrap()),
        );
        sold.push(s);
    }
    let void = TestDevice::void_payload(&sold[1], f.supervisor_id);
    entries.push(
        f.device
            .entry(EntryKind::Void, serde_json::to_value(void).unwrap()),
    );
    push_expect(&f, &entries, &["applied"; 5]).await;
    let from_orders: (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), COALESCE(sum(ticket_count) FILTER (WHERE voided_at IS NULL), 0)::int8,
                COALESCE(sum(total_amount) FILTER (WHERE voided_at IS NULL), 0)::int8
           FROM orders WHERE event_id = $1",
    )
    .bind(f.event_id)
    .fetch_one(&f.db.pool)
    .await
    .unwrap();
    let summary = server_stub::dashboard::data::sales(&f.db.pool, f.event_id)
        .await
        .unwrap();
    assert_eq!(
        (summary.orders, summary.tickets_sold(), summary.net()),
        from_orders
    );
    assert_eq!(summary.tickets_sold(), 1 + 25 + 5);
    assert_eq!(summary.voided_orders, 1);
    sqlx::query("DELETE FROM orders WHERE id = $1")
        .bind(sold[2].local_id)
        .execute(&f.db.pool)
        .await
        .unwrap();
    let after = server_stub::dashboard::data::sales(&f.db.pool, f.event_id)
        .await
        .unwrap();
    assert_eq!(after.tickets_sold(), 1 + 5);
    assert_eq!(after.orders, 3);
    f.drop_db().await;
}

#[tokio::test]
async fn approving_an_app_hash_needs_a_known_organization_and_a_hash() {
    let f = Fixture::new().await.unwrap();
    let a = |org, hash: &str| ApproveAppHash {
        organization_id: org,
        app_hash: hash.into(),
        app_version: None,
        note: None,
    };
    let e = approve_app_hash(&f.db.pool, &a(uuid::Uuid::nil(), "ab"), Some("Ann"))
        .await
        .unwrap_err();
    assert_eq!(e.code, "unknown_organization");
    let e = approve_app_hash(&f.db.pool, &a(f.org_id, "  "), Some("Ann"))
        .await
        .unwrap_err();
    assert_eq!(e.code, "invalid_field");
    approve_app_hash(&f.db.pool, &a(f.org_id, "ABCD"), Some("Ann"))
        .await
        .unwrap();
    approve_app_hash(&f.db.pool, &a(f.org_id, "abcd"), Some("Bo"))
        .await
        .unwrap();
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT app_hash, approved_by_name FROM approved_app_hashes")
            .fetch_all(&f.db.pool)
            .await
            .unwrap();
    assert_eq!(rows, vec![("abcd".to_string(), Some("Bo".to_string()))]);
    f.drop_db().await;
}
