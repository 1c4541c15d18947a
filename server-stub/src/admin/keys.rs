//! Revoking device keys.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{bad, nonempty};
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

/// Revoke one key (and every key it registered by rotation), or with `--rsu-id … --all` every
/// key of an RSU. `admin list-keys --rsu-id …` shows them.
#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeKey {
    /// The key to revoke (its successors by rotation go with it).
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    #[serde(default)]
    pub key_id: Option<Uuid>,
    /// With --all: the RSU whose keys are all revoked.
    #[arg(long, requires = "all")]
    #[serde(default)]
    pub rsu_id: Option<Uuid>,
    /// Revoke every key of --rsu-id.
    #[arg(long, requires = "rsu_id")]
    #[serde(default)]
    pub all: bool,
    #[arg(long)]
    pub reason: String,
}

pub async fn revoke_key(pool: &PgPool, a: &RevokeKey) -> AppResult<Value> {
    nonempty("reason", &a.reason)?;
    let mut tx = pool.begin().await?;
    let (rsu, revoked) = match (a.key_id, a.rsu_id, a.all) {
        (Some(key_id), None, false) => {
            let rsu: Option<Uuid> = sqlx::query_scalar("SELECT rsu_id FROM rsu_keys WHERE id = $1")
                .bind(key_id)
                .fetch_optional(&mut *tx)
                .await?;
            let rsu = rsu.ok_or_else(|| {
                AppError::new(
                    StatusCode::NOT_FOUND,
                    ErrorCode::UnknownKey,
                    format!("field keyId: no key {key_id}"),
                )
            })?;
            let ids =
                crate::lifecycle::revoke_keys_and_successors(&mut tx, rsu, &[key_id], &a.reason)
                    .await?;
            (rsu, ids)
        }
        (None, Some(rsu), true) => {
            let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM rsus WHERE id = $1")
                .bind(rsu)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(AppError::of(
                    ErrorCode::UnknownRsu,
                    format!("field rsuId: no RSU {rsu}"),
                ));
            }
            (
                rsu,
                crate::lifecycle::revoke_all_keys(&mut tx, rsu, &a.reason).await?,
            )
        }
        _ => return Err(bad("keyId", "give either keyId, or rsuId with all = true")),
    };
    sqlx::query(
        "INSERT INTO critical_events (event_type, rsu_id, severity, description, metadata)
         VALUES ('RSU_KEY_REVOKED', $1, 'WARNING', $2, $3)",
    )
    .bind(rsu)
    .bind(format!("{} key(s) revoked: {}", revoked.len(), a.reason))
    .bind(json!({"keyId": a.key_id, "all": a.all, "revokedKeys": revoked, "reason": a.reason}))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(json!({"keyId": a.key_id, "rsuId": rsu, "revoked": true, "revokedKeys": revoked}))
}
