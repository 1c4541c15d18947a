//! `POST /v1/rsu/keys`: key rotation. The device registers a successor key, signed with its
//! current one; the successor becomes the key once a request is signed with it.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use rsu_core::wire::{self, RotateKeyRequest, RotateKeyResponse};
use serde_json::json;
use uuid::Uuid;

use crate::device_config::system_rsu_settings;
use crate::error::{AppError, AppResult};
use crate::http::SignedJson;
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

pub async fn rotate_key(
    State(st): State<AppState>,
    SignedJson(dev, req): SignedJson<RotateKeyRequest>,
) -> AppResult<Json<RotateKeyResponse>> {
    let public_key = wire::parse_public_key_hex(&req.public_key).map_err(|_| {
        AppError::of(
            ErrorCode::InvalidField,
            "field publicKey must be the 32-byte Ed25519 public key as 64 hex digits",
        )
    })?;
    let sys = system_rsu_settings(&st.pool).await?;
    let mut tx = st.pool.begin().await?;
    // One rotation at a time per RSU.
    sqlx::query("SELECT id FROM rsus WHERE id = $1 FOR UPDATE")
        .bind(dev.rsu_id)
        .execute(&mut *tx)
        .await?;
    let successor: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM rsu_keys WHERE registered_by = $1 AND confirmed_at IS NOT NULL LIMIT 1",
    )
    .bind(dev.key_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(next) = successor {
        return Err(AppError::of(
            ErrorCode::KeySucceeded,
            format!(
                "key {} was already replaced by key {next}, which has been used: sign with that key",
                dev.key_id
            ),
        ));
    }
    type Existing = (
        Uuid,
        Uuid,
        Option<Uuid>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
    );
    let existing: Option<Existing> = sqlx::query_as(
        "SELECT id, rsu_id, registered_by, expires_at, revoked_at FROM rsu_keys WHERE public_key = $1",
    )
    .bind(public_key.to_vec())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((id, rsu, by, expires, revoked)) = existing {
        // The same request again (the device crashed before saving the answer): same answer.
        if rsu == dev.rsu_id && by == Some(dev.key_id) && revoked.is_none() {
            tx.commit().await?;
            return Ok(Json(RotateKeyResponse {
                key_id: id,
                key_expires_at: expires,
                previous_key_expires_at: dev.key_expires_at,
                server_time: Utc::now(),
            }));
        }
        return Err(AppError::of(
            ErrorCode::KeyInUse,
            "field publicKey: this public key is already registered: generate a new key pair",
        ));
    }
    // At most one successor waiting to be used: an earlier unused one is superseded.
    sqlx::query(
        "UPDATE rsu_keys SET revoked_at = NOW(), revoked_reason = 'superseded'
          WHERE registered_by = $1 AND confirmed_at IS NULL AND revoked_at IS NULL",
    )
    .bind(dev.key_id)
    .execute(&mut *tx)
    .await?;
    let now = Utc::now();
    let key_id = Uuid::now_v7();
    let expires = now + Duration::days(i64::from(sys.api_key_rotation_days));
    sqlx::query(
        "INSERT INTO rsu_keys (id, rsu_id, public_key, valid_from, expires_at, registered_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key_id)
    .bind(dev.rsu_id)
    .bind(public_key.to_vec())
    .bind(now)
    .bind(expires)
    .bind(dev.key_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO critical_events (event_type, rsu_id, severity, description, metadata)
         VALUES ('RSU_KEY_ROTATED', $1, 'INFO', $2, $3)",
    )
    .bind(dev.rsu_id)
    .bind(format!("key {} registered key {key_id}", dev.key_id))
    .bind(json!({"keyId": key_id, "registeredBy": dev.key_id, "expiresAt": expires}))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(RotateKeyResponse {
        key_id,
        key_expires_at: expires,
        previous_key_expires_at: dev.key_expires_at,
        server_time: Utc::now(),
    }))
}
