//! The admin HTTP API: the bearer token and the event state machine.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rsu_core::wire::{self};
use serde_json::{json, Value};
use server_stub::testkit::{Fixture, TEST_ADMIN_TOKEN};

use crate::helpers::*;

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
