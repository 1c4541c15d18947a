//! Per-user API tokens and the deprecated shared token.

use crate::helpers::*;
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::json;
use server_stub::accounts::{self, tokens};
use server_stub::testkit::{Fixture, TEST_ADMIN_TOKEN};
use uuid::Uuid;

#[tokio::test]
async fn an_api_token_acts_as_its_user_until_revoked_and_changes_name_the_user() -> R {
    let f = Fixture::new().await?;
    let rm = add_user(&f, "rm@example.org", "raffle_manager", f.org_id).await?;
    let t = tokens::create(&f.db.pool, "rm@example.org", "automation")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(t.token.starts_with(tokens::PREFIX));
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT token_hash FROM admin_api_tokens WHERE id = $1")
            .bind(t.id)
            .fetch_one(&f.db.pool)
            .await?;
    assert_ne!(stored, t.token.as_bytes(), "only the hash is stored");

    let a = admin_call(
        &f,
        &t.token,
        "POST",
        "/v1/admin/events/transition",
        Some(json!({"eventId": f.event_id, "to": "suspended"})),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let by: Option<Uuid> = sqlx::query_scalar(
        "SELECT changed_by FROM audit_log WHERE table_name = 'events' AND operation = 'UPDATE'
          ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(by, Some(rm), "audit_log.changed_by names the token's user");
    let used: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM admin_api_tokens WHERE id = $1")
            .bind(t.id)
            .fetch_one(&f.db.pool)
            .await?;
    assert!(used.is_some());

    tokens::revoke(&f.db.pool, t.id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let a = admin_call(
        &f,
        &t.token,
        "GET",
        &format!("/v1/admin/events/{}/report", f.event_id),
        None,
    )
    .await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error().as_deref(), Some("bad_admin_token"));

    // Deactivating a user revokes the user's tokens.
    let t2 = token_of(&f, "rm@example.org").await?;
    let report = format!("/v1/admin/events/{}/report", f.event_id);
    assert_eq!(
        admin_call(&f, &t2, "GET", &report, None).await?.status,
        StatusCode::OK
    );
    let v = accounts::set_active(&f.db.pool, "rm@example.org", false)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(v["tokensRevoked"], 1);
    let a = admin_call(&f, &t2, "GET", &report, None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn the_shared_token_still_works_is_counted_and_names_nobody() -> R {
    let f = Fixture::new().await?;
    let before = tokens::shared_token_uses();
    let a = admin_call(
        &f,
        TEST_ADMIN_TOKEN,
        "POST",
        "/v1/admin/venues",
        Some(json!({"organizationId": f.org_id, "name": "Hall"})),
    )
    .await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(tokens::shared_token_uses() > before);
    let by: Option<Uuid> = sqlx::query_scalar(
        "SELECT changed_by FROM audit_log WHERE table_name = 'venues' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(by, None);
    f.db.drop_db().await;
    Ok(())
}

#[tokio::test]
async fn a_close_out_step_by_api_token_records_the_user_by_name_and_id() -> R {
    let f = Fixture::new().await?;
    let rm = add_user(&f, "rm@example.org", "raffle_manager", f.org_id).await?;
    add_user(&f, "viewer@example.org", "viewer", f.org_id).await?;
    let exclude =
        json!({"eventId": f.event_id, "rsuId": f.device.rsu_id, "reason": "stolen at gate 4"});
    let viewer = token_of(&f, "viewer@example.org").await?;
    let a = admin_call(
        &f,
        &viewer,
        "POST",
        "/v1/admin/rsus/exclude",
        Some(exclude.clone()),
    )
    .await?;
    assert_eq!(
        a.error().as_deref(),
        Some("permission_denied"),
        "{}",
        a.body
    );
    // No X-Admin-Name: the token's user is who did it.
    let token = token_of(&f, "rm@example.org").await?;
    let a = admin_call(&f, &token, "POST", "/v1/admin/rsus/exclude", Some(exclude)).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let by: String = sqlx::query_scalar("SELECT excluded_by FROM rsu_event_exclusions")
        .fetch_one(&f.db.pool)
        .await?;
    assert_eq!(by, "raffle_manager rm@example.org");
    let changed_by: Option<Uuid> = sqlx::query_scalar(
        "SELECT changed_by FROM audit_log WHERE table_name = 'rsu_event_exclusions'",
    )
    .fetch_one(&f.db.pool)
    .await?;
    assert_eq!(changed_by, Some(rm));
    f.db.drop_db().await;
    Ok(())
}
