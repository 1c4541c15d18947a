//! Claiming a perk at the desk: `server-stub admin claim-perk --code C` (or
//! `POST /v1/admin/perks/claim`). The code is parsed ([`ClaimCode::parse`]: any case, O/I/L read
//! as 0/1 in the tag), found by the sale and place it names, and its tag checked with the
//! validation key of the device epoch that sold it, as `claims.rs` does for validation numbers.
//! A unit is claimed once: the claim records when and who (`--by` / `X-Admin-Name`, and the
//! signed-in user); a second claim is refused naming when and by whom, and so are the perks of a
//! voided sale and codes no sale issued.

use chrono::{DateTime, Utc};
use rsu_core::perk::ClaimCode;
use rsu_core::validation::ValidationKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimPerk {
    /// The claim code on the receipt, e.g. RSU001-2026-000123-P1-7KQF9M (any case).
    #[arg(long)]
    pub code: String,
    /// Only needed when two organizations issued the same code.
    #[arg(long)]
    #[serde(default)]
    pub organization_id: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: Uuid,
    organization_id: Uuid,
    perk_id: Uuid,
    perk_name: String,
    claim_code: String,
    status: String,
    claimed_at: Option<DateTime<Utc>>,
    claimed_by: Option<String>,
    voided_at: Option<DateTime<Utc>>,
    order_voided_at: Option<DateTime<Utc>>,
    validation_number: String,
    event_id: Uuid,
    key: Option<Vec<u8>>,
}

fn when(t: &DateTime<Utc>) -> String {
    rsu_core::journal::format_time(t)
}

/// Claims the unit named by `a.code`, as `by`.
pub async fn claim_perk(pool: &PgPool, a: &ClaimPerk, by: Option<&str>) -> AppResult<Value> {
    let by = by
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            AppError::bad_request(
                ErrorCode::MissingAdminName,
                "say who hands out the perk: `--by NAME` (or SERVER_STUB_ADMIN_NAME) on the CLI, header X-Admin-Name over HTTP",
            )
        })?;
    let code = ClaimCode::parse(&a.code)
        .map_err(|e| AppError::bad_request(ErrorCode::InvalidField, format!("field code: {e}")))?;
    // Found by sale and place, so a mistyped tag is told apart from a code no sale issued.
    let prefix = format!("{}-P{}-", code.sale_body(), code.index());
    let rows: Vec<ClaimRow> = sqlx::query_as(
        "SELECT c.id, c.organization_id, c.perk_id, c.perk_name, c.claim_code, c.status,
                c.claimed_at, c.claimed_by, c.voided_at, o.voided_at AS order_voided_at,
                o.validation_number, c.event_id, k.validation_key AS key
           FROM perk_claims c
           JOIN orders o ON o.id = c.order_id
           LEFT JOIN rsu_epochs k ON k.rsu_id = o.rsu_id AND k.epoch = o.journal_epoch
          WHERE c.claim_code LIKE $1 || '%' AND ($2::uuid IS NULL OR c.organization_id = $2)",
    )
    .bind(&prefix)
    .bind(a.organization_id)
    .fetch_all(pool)
    .await?;
    let row = match rows.len() {
        0 => {
            return Err(AppError::of(
                ErrorCode::UnknownClaimCode,
                format!(
                    "no perk was issued with claim code {code}: check the code on the receipt; a sale the device has not synced yet is not known here (sync the device, then try again)"
                ),
            ))
        }
        1 => rows.into_iter().next().ok_or_else(|| {
            AppError::internal("claim-perk", "one row was found and then none")
        })?,
        n => {
            return Err(AppError::conflict(
                ErrorCode::AmbiguousValidationNumber,
                format!(
                    "claim code {code} was issued in {n} organizations: add --organization-id (organizationId)"
                ),
            ))
        }
    };
    let genuine = row
        .key
        .as_deref()
        .is_some_and(|k| code.verify(&ValidationKey::new(k), row.perk_id).is_ok());
    if !genuine || row.claim_code != code.to_string() {
        return Err(AppError::bad_request(
            ErrorCode::BadTag,
            format!(
                "claim code {code} does not check out: the last six characters do not match the sale {} — mistyped, or not a code this device issued; nothing was claimed",
                row.validation_number
            ),
        ));
    }
    if row.status == "claimed" {
        return Err(already(&row));
    }
    if let Some(at) = row.order_voided_at.or(row.voided_at) {
        return Err(AppError::conflict(
            ErrorCode::Voided,
            format!(
                "the sale {} was voided at {}: its perk {} cannot be claimed",
                row.validation_number,
                when(&at),
                row.perk_name
            ),
        ));
    }
    let claimed: Option<DateTime<Utc>> = sqlx::query_scalar(
        "UPDATE perk_claims SET status = 'claimed', claimed_at = NOW(), claimed_by = $2,
                claimed_by_user = $3
          WHERE id = $1 AND status = 'pending' RETURNING claimed_at",
    )
    .bind(row.id)
    .bind(&by)
    .bind(crate::accounts::changed_by())
    .fetch_optional(pool)
    .await?;
    let Some(at) = claimed else {
        // Claimed (or voided) between the read and the update: say by whom.
        let again: ClaimRow = sqlx::query_as(
            "SELECT c.id, c.organization_id, c.perk_id, c.perk_name, c.claim_code, c.status,
                    c.claimed_at, c.claimed_by, c.voided_at, o.voided_at AS order_voided_at,
                    o.validation_number, c.event_id, NULL::bytea AS key
               FROM perk_claims c JOIN orders o ON o.id = c.order_id WHERE c.id = $1",
        )
        .bind(row.id)
        .fetch_one(pool)
        .await?;
        return Err(if again.status == "claimed" {
            already(&again)
        } else {
            AppError::conflict(
                ErrorCode::Voided,
                format!(
                    "the sale {} was just voided: its perk {} cannot be claimed",
                    again.validation_number, again.perk_name
                ),
            )
        });
    };
    crate::admin::audit(
        pool,
        "perk_claims",
        "UPDATE",
        row.id,
        Some(json!({"status": "pending"})),
        json!({"status": "claimed", "claimedBy": by, "claimedAt": at}),
    )
    .await?;
    Ok(json!({
        "claimId": row.id, "claimCode": row.claim_code, "perkId": row.perk_id,
        "perkName": row.perk_name, "validationNumber": row.validation_number,
        "eventId": row.event_id, "organizationId": row.organization_id,
        "status": "claimed", "claimedAt": at, "claimedBy": by,
    }))
}

fn already(row: &ClaimRow) -> AppError {
    AppError::conflict(
        ErrorCode::AlreadyClaimed,
        format!(
            "{} of sale {} was already claimed at {} by {}: a perk is handed out once",
            row.perk_name,
            row.validation_number,
            row.claimed_at.as_ref().map_or("(unknown)".into(), when),
            row.claimed_by.as_deref().unwrap_or("(unknown)")
        ),
    )
}
