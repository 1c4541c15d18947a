//! The app builds an organization approved (`server-stub admin approve-app-hash`): the devices
//! page warns about an RSU whose heartbeat reports any other `appHash`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveAppHash {
    #[arg(long)]
    pub organization_id: Uuid,
    /// The SHA-256 (hex) of the kiosk build, as the device reports it (`appHash` in heartbeats,
    /// the devices page shows it).
    #[arg(long)]
    pub app_hash: String,
    /// The version this build reports, for people reading the list.
    #[arg(long)]
    #[serde(default)]
    pub app_version: Option<String>,
    /// Why it is approved, e.g. "release 1.4.2, signed off by the regulator".
    #[arg(long)]
    #[serde(default)]
    pub note: Option<String>,
}

/// Records `app_hash` as approved in the organization (approving it again updates version and
/// note). Returns what was recorded.
pub async fn approve_app_hash(
    pool: &PgPool,
    a: &ApproveAppHash,
    by: Option<&str>,
) -> AppResult<Value> {
    let hash = a.app_hash.trim().to_ascii_lowercase();
    if hash.is_empty() || hash.len() > 200 || hash.chars().any(char::is_whitespace) {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            "field appHash: 1 to 200 characters without spaces (the SHA-256 hex the devices page shows)",
        ));
    }
    let org: Option<Uuid> = sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1")
        .bind(a.organization_id)
        .fetch_optional(pool)
        .await?;
    if org.is_none() {
        return Err(AppError::of(
            ErrorCode::UnknownOrganization,
            format!(
                "field organizationId: no organization {}",
                a.organization_id
            ),
        ));
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO approved_app_hashes (organization_id, app_hash, app_version, note, approved_by_name)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (organization_id, app_hash) DO UPDATE
            SET app_version = EXCLUDED.app_version, note = EXCLUDED.note,
                approved_by_name = EXCLUDED.approved_by_name, approved_at = NOW()",
    )
    .bind(a.organization_id)
    .bind(&hash)
    .bind(a.app_version.as_deref().map(str::trim))
    .bind(a.note.as_deref().map(str::trim))
    .bind(by)
    .execute(&mut *tx)
    .await?;
    let out = json!({"organizationId": a.organization_id, "appHash": hash,
                     "appVersion": a.app_version, "note": a.note, "approvedBy": by});
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, new_data)
         VALUES ('approved_app_hashes', 'INSERT', $1, $2)",
    )
    .bind(a.organization_id)
    .bind(&out)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(out)
}
