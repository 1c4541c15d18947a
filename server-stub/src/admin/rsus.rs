//! RSUs (sales units) and their one-time enrollment tokens.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{audit, bad, nonempty, org_exists};
use crate::crypto::{random_bytes, sha256};
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRsu {
    #[arg(long)]
    pub organization_id: Uuid,
    #[arg(long)]
    pub name: String,
    /// The number in validation numbers; default the next free one.
    #[arg(long)]
    #[serde(default)]
    pub rsu_no: Option<u32>,
    #[arg(long)]
    #[serde(default)]
    pub venue_id: Option<Uuid>,
    #[arg(long)]
    #[serde(default)]
    pub max_offline_tickets: Option<u64>,
    /// How long the enrollment token stays valid.
    #[arg(long, default_value_t = 72)]
    #[serde(default = "hours72")]
    pub token_hours: u32,
}

fn hours72() -> u32 {
    72
}

pub async fn create_rsu(pool: &PgPool, a: &NewRsu) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    org_exists(pool, a.organization_id).await?;
    let rsu_no: i32 = match a.rsu_no {
        Some(n) if (1..=999_999).contains(&n) => n as i32,
        Some(_) => return Err(bad("rsuNo", "must be 1 to 999999")),
        None => {
            sqlx::query_scalar(
                "SELECT COALESCE(MAX(rsu_no), 0) + 1 FROM rsus WHERE organization_id = $1",
            )
            .bind(a.organization_id)
            .fetch_one(pool)
            .await?
        }
    };
    let mut cfg = json!({"syncIntervalMinutes": 5, "printerSettings": {"paperSize": "80mm", "printSpeed": "normal"}});
    if let (Some(m), Some(o)) = (a.max_offline_tickets, cfg.as_object_mut()) {
        o.insert("maxOfflineTickets".into(), json!(m));
    }
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO rsus (id, organization_id, venue_id, rsu_no, name, state, configuration)
         VALUES ($1, $2, $3, $4, $5, 'registered', $6)",
    )
    .bind(id)
    .bind(a.organization_id)
    .bind(a.venue_id)
    .bind(rsu_no)
    .bind(a.name.trim())
    .bind(&cfg)
    .execute(pool)
    .await?;
    audit(pool, "rsus", "INSERT", id, None, json!(a)).await?;
    let token = issue_token(pool, id, a.token_hours).await?;
    Ok(json!({"rsuId": id, "rsuNo": rsu_no, "enrollmentToken": token.0, "tokenExpiresAt": token.1}))
}

pub(crate) async fn issue_token(
    pool: &PgPool,
    rsu_id: Uuid,
    hours: u32,
) -> AppResult<(String, DateTime<Utc>)> {
    if hours == 0 || hours > 24 * 90 {
        return Err(bad("tokenHours", "must be 1 to 2160"));
    }
    // 20 random bytes in Crockford-ish base32 groups: easy to type at a kiosk.
    let bytes = random_bytes::<20>()?;
    let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bits: u64 = 0;
    let mut nbits = 0;
    let mut out = String::new();
    for b in bytes {
        bits = (bits << 8) | u64::from(b);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            out.push(alphabet[((bits >> nbits) & 31) as usize] as char);
        }
    }
    let token: String = out
        .as_bytes()
        .chunks(8)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-");
    let expires = Utc::now() + Duration::hours(i64::from(hours));
    sqlx::query(
        "INSERT INTO enrollment_tokens (rsu_id, token_hash, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(rsu_id)
    .bind(sha256(token.as_bytes()))
    .bind(expires)
    .execute(pool)
    .await?;
    Ok((token, expires))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewEnrollmentToken {
    #[arg(long)]
    pub rsu_id: Uuid,
    #[arg(long, default_value_t = 72)]
    #[serde(default = "hours72")]
    pub token_hours: u32,
}

pub async fn create_enrollment_token(pool: &PgPool, a: &NewEnrollmentToken) -> AppResult<Value> {
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM rsus WHERE id = $1")
        .bind(a.rsu_id)
        .fetch_optional(pool)
        .await?;
    if found.is_none() {
        return Err(AppError::of(
            ErrorCode::UnknownRsu,
            format!("field rsuId: no RSU {}", a.rsu_id),
        ));
    }
    let (token, expires) = issue_token(pool, a.rsu_id, a.token_hours).await?;
    Ok(json!({"rsuId": a.rsu_id, "enrollmentToken": token, "tokenExpiresAt": expires}))
}
