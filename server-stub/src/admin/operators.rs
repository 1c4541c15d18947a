//! Operators: sellers and supervisors who sign in at a kiosk with a PIN.

use rsu_core::config::Role;
use rsu_core::pin;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{audit, bad, nonempty, org_exists};
use crate::config_version::bump_config_version;
use crate::crypto::random_bytes;
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewOperator {
    #[arg(long)]
    pub organization_id: Uuid,
    #[arg(long)]
    pub name: String,
    /// `seller` or `supervisor`.
    #[arg(long)]
    pub role: String,
    /// 4 to 8 digits; only its PBKDF2 hash is stored.
    #[arg(long)]
    pub pin: String,
}

pub async fn create_operator(pool: &PgPool, a: &NewOperator) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    let role = Role::parse(&a.role).ok_or_else(|| bad("role", "must be seller or supervisor"))?;
    pin::check_form(&a.pin).map_err(|e| bad("pin", e))?;
    org_exists(pool, a.organization_id).await?;
    let salt = random_bytes::<16>()?;
    let hash = pin::hash_pin(&a.pin, &salt, pin::DEFAULT_ITERATIONS).map_err(|e| bad("pin", e))?;
    let id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    // PINs are unique per organization: the device logs in whoever's PIN matches, so a shared
    // PIN would let one operator act as another (a seller as a supervisor). The organization
    // row is locked so two concurrent creations cannot both take the same PIN.
    sqlx::query("SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE")
        .bind(a.organization_id)
        .execute(&mut *tx)
        .await?;
    let hashes: Vec<String> = sqlx::query_scalar(
        "SELECT u.pin_hash FROM organization_users ou JOIN users u ON u.id = ou.user_id
          WHERE ou.organization_id = $1 AND u.pin_hash IS NOT NULL",
    )
    .bind(a.organization_id)
    .fetch_all(&mut *tx)
    .await?;
    let pin_text = a.pin.clone();
    let taken = tokio::task::spawn_blocking(move || {
        hashes
            .iter()
            .any(|h| pin::verify_pin(&pin_text, h).unwrap_or(false))
    })
    .await
    .map_err(|e| AppError::internal("pin check", e))?;
    if taken {
        return Err(AppError::of(
            ErrorCode::PinTaken,
            "field pin: another operator of this organization already has this PIN; choose a different one (PINs are unique per organization, so a PIN says who logs in)",
        ));
    }
    sqlx::query("INSERT INTO users (id, display_name, pin_hash) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(a.name.trim())
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO organization_users (organization_id, user_id, role_id)
         SELECT $1, $2, id FROM roles WHERE key = $3",
    )
    .bind(a.organization_id)
    .bind(id)
    .bind(role.as_str())
    .execute(&mut *tx)
    .await?;
    bump_config_version(&mut tx, a.organization_id).await?;
    tx.commit().await?;
    audit(
        pool,
        "users",
        "INSERT",
        id,
        None,
        json!({"name": a.name, "role": role.as_str()}),
    )
    .await?;
    Ok(json!({"operatorId": id, "role": role.as_str()}))
}
