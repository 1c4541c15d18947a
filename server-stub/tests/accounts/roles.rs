//! The permission matrix on the admin routes.

use crate::helpers::*;
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use server_stub::admin;
use server_stub::testkit::Fixture;
use uuid::Uuid;

#[tokio::test]
async fn each_role_may_do_what_the_matrix_says_and_only_in_its_organizations() -> R {
    let f = Fixture::new().await?;
    let (org_b, event_b) = other_org(&f).await?;
    add_user(&f, "viewer@example.org", "viewer", f.org_id).await?;
    add_user(&f, "rm@example.org", "raffle_manager", f.org_id).await?;
    add_user(&f, "oa@example.org", "organization_admin", f.org_id).await?;
    add_user(&f, "sa@example.org", "system_admin", org_b).await?;
    let viewer = token_of(&f, "viewer@example.org").await?;
    let rm = token_of(&f, "rm@example.org").await?;
    let oa = token_of(&f, "oa@example.org").await?;
    let sa = token_of(&f, "sa@example.org").await?;
    let report_a = format!("/v1/admin/events/{}/report", f.event_id);
    let report_b = format!("/v1/admin/events/{event_b}/report");
    let suspend = json!({"eventId": f.event_id, "to": "suspended"});
    let resolve = json!({"entryId": Uuid::now_v7(), "note": "refunded"});
    let venue_a = json!({"organizationId": f.org_id, "name": "Hall A"});
    let venue_b = json!({"organizationId": org_b, "name": "Hall B"});
    let new_org = json!({"name": "Third", "licenseNumber": "L-3"});
    let denied = (StatusCode::FORBIDDEN, Some("permission_denied".to_string()));

    // The viewer sees, and changes nothing.
    let a = admin_call(&f, &viewer, "GET", &report_a, None).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for (path, body) in [
        ("/v1/admin/events/transition", &suspend),
        ("/v1/admin/exceptions/resolve", &resolve),
        ("/v1/admin/venues", &venue_a),
    ] {
        let a = admin_call(&f, &viewer, "POST", path, Some(body.clone())).await?;
        assert_eq!((a.status, a.error()), denied, "viewer {path}: {}", a.body);
        assert!(a.json()["message"]
            .as_str()
            .unwrap_or("")
            .contains("permission"));
    }
    // The raffle manager moves events and resolves exceptions (an unknown entry gets past the
    // permission to the operation's own answer).
    let a = admin_call(
        &f,
        &rm,
        "POST",
        "/v1/admin/exceptions/resolve",
        Some(resolve.clone()),
    )
    .await?;
    assert_eq!(a.error().as_deref(), Some("unknown_entry"), "{}", a.body);
    let a = admin_call(
        &f,
        &rm,
        "POST",
        "/v1/admin/events/transition",
        Some(suspend.clone()),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = admin_call(
        &f,
        &rm,
        "POST",
        "/v1/admin/organizations",
        Some(new_org.clone()),
    )
    .await?;
    assert_eq!((a.status, a.error()), denied);
    // The organization admin of A: everything in A, nothing in B, no new organizations.
    let a = admin_call(&f, &oa, "POST", "/v1/admin/venues", Some(venue_a.clone())).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for (method, path, body) in [
        ("POST", "/v1/admin/venues", Some(venue_b.clone())),
        ("GET", report_b.as_str(), None),
        (
            "POST",
            "/v1/admin/events/transition",
            Some(json!({"eventId": event_b, "to": "cancelled"})),
        ),
        ("POST", "/v1/admin/organizations", Some(new_org.clone())),
    ] {
        let a = admin_call(&f, &oa, method, path, body).await?;
        assert_eq!(
            (a.status, a.error()),
            denied,
            "org admin {path}: {}",
            a.body
        );
    }
    // An unknown event is unknown, for everyone.
    let a = admin_call(
        &f,
        &oa,
        "GET",
        &format!("/v1/admin/events/{}/report", Uuid::now_v7()),
        None,
    )
    .await?;
    assert_eq!(a.error().as_deref(), Some("unknown_event"));
    // The system admin (granted in B) does everything everywhere.
    for (path, body) in [
        ("/v1/admin/venues", &venue_a),
        ("/v1/admin/organizations", &new_org),
    ] {
        let a = admin_call(&f, &sa, "POST", path, Some(body.clone())).await?;
        assert_eq!(a.status, StatusCode::OK, "system admin {path}: {}", a.body);
    }
    let a = admin_call(&f, &sa, "GET", &report_a, None).await?;
    assert_eq!(a.status, StatusCode::OK);
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_draw_is_refused_for_a_viewer_with_permission_denied() -> R {
    let f = Fixture::new().await?;
    add_user(&f, "viewer@example.org", "viewer", f.org_id).await?;
    add_user(&f, "rm@example.org", "raffle_manager", f.org_id).await?;
    let viewer = token_of(&f, "viewer@example.org").await?;
    let rm = token_of(&f, "rm@example.org").await?;
    let draw = json!({"eventId": f.event_id});
    let a = admin_call(&f, &viewer, "POST", "/v1/admin/draws", Some(draw.clone())).await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert_eq!(a.error().as_deref(), Some("permission_denied"));
    assert_eq!(count(&f, "draw_executions").await?, 0);
    // The raffle manager gets past the permission to the draw's own refusal (not drawing_ready).
    let a = admin_call(&f, &rm, "POST", "/v1/admin/draws", Some(draw)).await?;
    assert_ne!(
        a.error().as_deref(),
        Some("permission_denied"),
        "{}",
        a.body
    );
    assert!(!a.status.is_success(), "{}", a.body);
    assert_eq!(count(&f, "draw_executions").await?, 0);
    f.db.drop_db().await;
    Ok(())
}

/// Every admin route of organization A, with a body that parses, and whether a viewer may use it.
fn every_admin_route(
    f: &Fixture,
    package: Uuid,
    entry: Uuid,
) -> Vec<(&'static str, String, Option<Value>, bool)> {
    let now = Utc::now();
    let (ev, rsu, org) = (f.event_id, f.device.rsu_id, f.org_id);
    let event = admin::NewEvent {
        organization_id: org,
        venue_id: None,
        name: "E".into(),
        event_identifier: "E-2".into(),
        currency: None,
        sales_start_time: now,
        sales_end_time: now + Duration::days(1),
        draw_time: now + Duration::days(2),
        max_tickets: 100,
        rsu_range_start: None,
        rsu_range_end: None,
        default_allocation_size: 10,
        jackpot_seed_amount: 0,
        jackpot_starting_amount: 0,
        jackpot_percentage_bp: None,
        price_lock: true,
        offline_sales_allowed: true,
        responsible_gaming_text: "Play responsibly".into(),
        claim_deadline: "90 days".into(),
        rules_url: "https://example.org".into(),
        description: None,
    };
    let p = |s: &str| s.to_string();
    vec![
        (
            "POST",
            p("/v1/admin/organizations"),
            Some(json!({"name": "X", "licenseNumber": "L"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/venues"),
            Some(json!({"organizationId": org, "name": "V"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/events"),
            serde_json::to_value(&event).ok(),
            false,
        ),
        (
            "POST",
            p("/v1/admin/events/transition"),
            Some(json!({"eventId": ev, "to": "suspended"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/events/transition"),
            Some(json!({"eventId": ev, "to": "reconciled"})),
            false,
        ),
        ("GET", format!("/v1/admin/events/{ev}/report"), None, true),
        (
            "POST",
            p("/v1/admin/exceptions/resolve"),
            Some(json!({"entryId": entry, "note": "n"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/rsus/exclude"),
            Some(json!({"eventId": ev, "rsuId": rsu, "reason": "r"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/rsus/include"),
            Some(json!({"eventId": ev, "rsuId": rsu, "reason": "r"})),
            false,
        ),
        (
            "POST",
            format!("/v1/admin/rsus/import-journal?rsuId={rsu}"),
            Some(json!({})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/packages"),
            Some(json!({"eventId": ev, "name": "P", "ticketCount": 1, "price": 100})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/packages/price"),
            Some(json!({"packageId": package, "price": 100})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/prizes"),
            Some(json!({"eventId": ev, "name": "P", "type": "fixed", "value": 100, "position": 9})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/operators"),
            Some(json!({"organizationId": org, "name": "O", "role": "seller", "pin": "9876"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/rsus"),
            Some(json!({"organizationId": org, "name": "R"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/enrollment-tokens"),
            Some(json!({"rsuId": rsu})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/keys/revoke"),
            Some(json!({"rsuId": rsu, "all": true, "reason": "r"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/keys/list"),
            Some(json!({"rsuId": rsu})),
            true,
        ),
        (
            "POST",
            p("/v1/admin/rsus/state"),
            Some(json!({"rsuId": rsu, "state": "lost", "reason": "r"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/rsus/release-withheld"),
            Some(json!({"rsuId": rsu, "note": "n"})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/allocations"),
            Some(json!({"eventId": ev, "rsuId": rsu, "count": 10})),
            false,
        ),
        ("POST", p("/v1/admin/demo-seed"), None, false),
        (
            "POST",
            p("/v1/admin/draws"),
            Some(json!({"eventId": ev})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/draws/redraw"),
            Some(json!({"eventId": ev, "reason": "r"})),
            false,
        ),
        (
            "GET",
            format!("/v1/admin/events/{ev}/draw-commitment"),
            None,
            true,
        ),
        (
            "GET",
            format!("/v1/admin/events/{ev}/draw-export"),
            None,
            true,
        ),
        (
            "POST",
            p("/v1/admin/claims"),
            Some(json!({"validationNumber": "RSU-1-1-XXXX", "organizationId": org})),
            false,
        ),
        (
            "POST",
            p("/v1/admin/receipts/verify"),
            Some(json!({"qr": "not a receipt"})),
            false,
        ),
    ]
}

#[tokio::test]
async fn every_admin_route_refuses_a_viewer_its_changes_and_another_organization_everything() -> R {
    let mut f = Fixture::new().await?;
    // A journal entry of A's device, for the exception route.
    let sale = f.sale(1);
    let (st, v) = f.push(std::slice::from_ref(&sale)).await?;
    assert_eq!(st, StatusCode::OK, "{v}");
    let entry = sale.body.entry_id;
    let (org_b, _) = other_org(&f).await?;
    add_user(&f, "viewer@example.org", "viewer", f.org_id).await?;
    add_user(&f, "oab@example.org", "organization_admin", org_b).await?;
    let viewer = token_of(&f, "viewer@example.org").await?;
    let admin_b = token_of(&f, "oab@example.org").await?;
    let package = f.pkg(1).id;
    let audited = count(&f, "audit_log").await?;
    for (method, path, body, viewer_may) in every_admin_route(&f, package, entry) {
        let a = admin_call(&f, &viewer, method, &path, body.clone()).await?;
        if viewer_may {
            assert_ne!(
                a.error().as_deref(),
                Some("permission_denied"),
                "viewer {path}: {}",
                a.body
            );
        } else {
            assert_eq!(
                (a.status, a.error().as_deref()),
                (StatusCode::FORBIDDEN, Some("permission_denied")),
                "viewer {method} {path} {body:?}: {}",
                a.body
            );
        }
        // The admin of another organization is refused everything of A (receipt checks name
        // no organization until the receipt parses; a junk one is answered as junk).
        if path != "/v1/admin/receipts/verify" {
            let a = admin_call(&f, &admin_b, method, &path, body).await?;
            assert_eq!(
                (a.status, a.error().as_deref()),
                (StatusCode::FORBIDDEN, Some("permission_denied")),
                "admin of B {method} {path}: {}",
                a.body
            );
        }
    }
    assert_eq!(count(&f, "audit_log").await?, audited, "nothing changed");
    f.db.drop_db().await;
    Ok(())
}
