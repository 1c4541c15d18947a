//! Signed requests: nonces, clock, signatures, unknown/revoked/expired keys, another
//! organization's event, key rotation and heartbeat.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use rsu_core::journal::EntryKind;
use rsu_core::wire::{self, DeviceKey};
use serde_json::{json, Value};
use server_stub::admin;
use server_stub::testkit::Fixture;
use uuid::Uuid;

use crate::helpers::*;

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
