//! `POST /v1/rsu/heartbeat`: the device reports its queue and printer, acknowledges commands,
//! and learns the configuration version and how far its journal is acknowledged.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use chrono::Utc;
use rsu_core::wire::{HeartbeatRequest, HeartbeatResponse};

use crate::error::{AppError, AppResult};
use crate::http::SignedJson;
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

pub async fn heartbeat(
    State(st): State<AppState>,
    headers: HeaderMap,
    SignedJson(dev, req): SignedJson<HeartbeatRequest>,
) -> AppResult<Json<HeartbeatResponse>> {
    // The device's clock against ours, from the timestamp it signed (already checked to be
    // inside the clock window): shown on the dashboard's devices page.
    let clock_offset = headers
        .get(rsu_core::wire::HEADER_TIMESTAMP)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|ts| i32::try_from(ts - Utc::now().timestamp()).ok());
    let epoch = i32::try_from(req.epoch)
        .map_err(|_| AppError::of(ErrorCode::InvalidField, "field epoch is out of range"))?;
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let acked: Option<i64> = sqlx::query_scalar(
        "UPDATE rsu_epochs SET reported_last_seq = $3, pending_count = $4, oldest_pending_age_secs = $5,
                printer_status = $6, app_version = $7, app_hash = $8, last_heartbeat_at = NOW(),
                clock_offset_secs = $9
          WHERE rsu_id = $1 AND epoch = $2 RETURNING last_seq",
    )
    .bind(dev.rsu_id)
    .bind(epoch)
    .bind(clamp(req.last_seq))
    .bind(clamp(req.pending_count))
    .bind(req.oldest_pending_age_secs.map(clamp))
    .bind(&req.printer_status)
    .bind(&req.app_version)
    .bind(&req.app_hash)
    .bind(clock_offset)
    .fetch_optional(&st.pool)
    .await?;
    let Some(acked) = acked else {
        return Err(AppError::of(
            ErrorCode::UnknownEpoch,
            format!(
                "field epoch: epoch {} of this RSU was never enrolled",
                req.epoch
            ),
        ));
    };
    if !req.acknowledged_commands.is_empty() {
        sqlx::query(
            "UPDATE rsu_commands SET acknowledged_at = NOW()
              WHERE rsu_id = $1 AND id = ANY($2) AND acknowledged_at IS NULL",
        )
        .bind(dev.rsu_id)
        .bind(&req.acknowledged_commands)
        .execute(&st.pool)
        .await?;
    }
    // The perk top-up runs here too (before the version is read): a device that sold its block
    // learns from this answer that a new configuration with more units waits for it. Only a
    // configuration pull would otherwise run it, and a device pulls only when the version moved.
    if let Err(e) = crate::perks::topup::top_up(&st.pool, &dev).await {
        tracing::warn!(rsu = %dev.rsu_id, error = %e, "perk top-up at a heartbeat failed");
    }
    let version: i64 = sqlx::query_scalar("SELECT config_version FROM organizations WHERE id = $1")
        .bind(dev.organization_id)
        .fetch_one(&st.pool)
        .await?;
    Ok(Json(HeartbeatResponse {
        server_time: Utc::now(),
        config_version: version,
        acked_through_seq: u64::try_from(acked).unwrap_or(0),
    }))
}
