//! Device request authentication (DESIGN §6 "Request signing"; docs/protocol.md §2).

use axum::http::{HeaderMap, Method, Uri};
use chrono::{DateTime, Utc};
use rsu_core::validation::ValidationKey;
use rsu_core::wire::{self, SignedParts};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

/// Which endpoint is being authenticated: only the journal push accepts an expired key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Journal,
    Other,
}

/// A device whose request signature checked out.
#[derive(Clone, Debug)]
pub struct Device {
    pub rsu_id: Uuid,
    pub key_id: Uuid,
    pub organization_id: Uuid,
    pub rsu_no: u32,
    pub current_epoch: i64,
    pub validation_prefix: String,
    pub validation_key: Option<ValidationKey>,
    pub key_expires_at: DateTime<Utc>,
    /// The key has expired: only journal entries created before `key_expires_at` may be applied.
    pub key_expired: bool,
    /// The request's nonce. For a journal push it is recorded inside the batch's transaction
    /// (one commit per push); for every other request before `authenticate` returns.
    pub nonce: String,
}

fn header<'a>(h: &'a HeaderMap, name: &'static str) -> AppResult<&'a str> {
    let v = h.get(name).ok_or_else(|| {
        AppError::of(
            ErrorCode::MissingHeader,
            format!("header {name} is missing: every device request must be signed"),
        )
    })?;
    v.to_str().map_err(|_| {
        AppError::of(
            ErrorCode::BadHeader,
            format!("header {name} is not visible ASCII"),
        )
    })
}

fn uuid_header(h: &HeaderMap, name: &'static str) -> AppResult<Uuid> {
    let s = header(h, name)?;
    Uuid::parse_str(s)
        .map_err(|_| AppError::of(ErrorCode::BadHeader, format!("header {name} is not a UUID")))
}

/// Checks headers, clock window, key, signature and nonce, in that order.
pub async fn authenticate(
    pool: &PgPool,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    purpose: Purpose,
) -> AppResult<Device> {
    let rsu_id = uuid_header(headers, wire::HEADER_RSU_ID)?;
    let key_id = uuid_header(headers, wire::HEADER_KEY_ID)?;
    let ts_text = header(headers, wire::HEADER_TIMESTAMP)?;
    let timestamp: i64 = ts_text.parse().map_err(|_| {
        AppError::of(
            ErrorCode::BadHeader,
            format!(
                "header {} must be Unix seconds as a decimal integer, got {ts_text:?}",
                wire::HEADER_TIMESTAMP
            ),
        )
    })?;
    let nonce = header(headers, wire::HEADER_NONCE)?;
    wire::check_nonce(nonce).map_err(|e| {
        AppError::of(
            ErrorCode::BadHeader,
            format!("header {}: {e}", wire::HEADER_NONCE),
        )
    })?;
    let signature = header(headers, wire::HEADER_SIGNATURE)?;

    let now = Utc::now();
    // Saturating: any i64 is a well-formed timestamp, i64::MIN included (the contract test sent it).
    let skew = timestamp.saturating_sub(now.timestamp());
    if skew.unsigned_abs() > wire::CLOCK_WINDOW_SECS.unsigned_abs() {
        return Err(AppError::of(
            ErrorCode::ClockSkew,
            format!(
                "header {} is {skew} s from the server clock (allowed ±{} s): correct the clock with serverTime and sign again",
                wire::HEADER_TIMESTAMP,
                wire::CLOCK_WINDOW_SECS
            ),
        ));
    }

    let row: Option<KeyRow> = sqlx::query_as(
        "SELECT k.public_key, k.expires_at, k.revoked_at, k.confirmed_at, r.organization_id, r.is_active, r.state,
                r.rsu_no, r.validation_key, r.current_epoch,
                COALESCE(o.settings->'rsuSettings'->>'validationNumberPrefix', 'RSU') AS prefix,
                o.is_active AS org_active
           FROM rsu_keys k
           JOIN rsus r ON r.id = k.rsu_id
           JOIN organizations o ON o.id = r.organization_id
          WHERE k.id = $1 AND k.rsu_id = $2",
    )
    .bind(key_id)
    .bind(rsu_id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Err(AppError::of(
            ErrorCode::UnknownKey,
            format!("key {key_id} is not registered for RSU {rsu_id}: enroll the device again"),
        ));
    };

    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or_else(|| uri.path());
    let body_hash = wire::body_sha256_hex(body);
    let parts = SignedParts {
        method: method.as_str(),
        path_and_query: path,
        rsu_id,
        key_id,
        timestamp,
        nonce,
        body_sha256_hex: &body_hash,
    };
    wire::verify_signature(&row.public_key, &parts.string_to_sign(), signature).map_err(|e| {
        AppError::of(
            ErrorCode::BadSignature,
            format!(
                "header {}: {e} (see docs/protocol.md for the exact signed bytes)",
                wire::HEADER_SIGNATURE
            ),
        )
    })?;

    if row.revoked_at.is_some() {
        return Err(AppError::of(
            ErrorCode::KeyRevoked,
            format!("key {key_id} was revoked: enroll the device again"),
        ));
    }
    let key_expired = row.expires_at <= now;
    if key_expired && purpose != Purpose::Journal {
        return Err(AppError::of(
            ErrorCode::KeyExpired,
            format!(
                "key {key_id} expired at {}: ask the administrator for an enrollment token and enroll again (rsu-syncd enroll --token …); entries still pending are kept and sent with the new key",
                row.expires_at
            ),
        ));
    }
    if !row.is_active || row.state == "decommissioned" || row.state == "lost" || !row.org_active {
        return Err(AppError::of(
            ErrorCode::RsuDisabled,
            format!(
                "RSU {rsu_id} is {} and may not sync: ask the administrator",
                if row.is_active {
                    row.state.as_str()
                } else {
                    "inactive"
                }
            ),
        ));
    }

    if row.confirmed_at.is_none() {
        // The first request signed with a key registered by rotation: the rotation is complete
        // (and the key that registered it can no longer register another).
        sqlx::query(
            "UPDATE rsu_keys SET confirmed_at = NOW() WHERE id = $1 AND confirmed_at IS NULL",
        )
        .bind(key_id)
        .execute(pool)
        .await?;
    }

    // The nonce is recorded only after the signature checked out, so nobody can burn nonces.
    if purpose != Purpose::Journal {
        record_nonce(pool, key_id, nonce).await?;
    }

    let validation_key = row.validation_key.as_deref().map(ValidationKey::new);
    Ok(Device {
        rsu_id,
        key_id,
        organization_id: row.organization_id,
        rsu_no: u32::try_from(row.rsu_no).unwrap_or(0),
        current_epoch: i64::from(row.current_epoch),
        validation_prefix: row.prefix,
        validation_key,
        key_expires_at: row.expires_at,
        key_expired,
        nonce: nonce.to_string(),
    })
}

/// The checks of `authenticate` that need no body, made before the body is read: every header
/// present and well-formed, the timestamp inside the clock window, the key registered for the
/// RSU. Answers as `authenticate` does (401 with the same codes, in the same order).
pub async fn precheck_headers_and_key(pool: &PgPool, headers: &HeaderMap) -> AppResult<()> {
    let get = |name: &'static str| -> AppResult<&str> {
        headers
            .get(name)
            .ok_or_else(|| {
                AppError::of(
                    ErrorCode::MissingHeader,
                    format!("header {name} is missing: every device request must be signed"),
                )
            })?
            .to_str()
            .map_err(|_| {
                AppError::of(
                    ErrorCode::BadHeader,
                    format!("header {name} is not visible ASCII"),
                )
            })
    };
    let uuid = |name: &'static str| -> AppResult<Uuid> {
        Uuid::parse_str(get(name)?)
            .map_err(|_| AppError::of(ErrorCode::BadHeader, format!("header {name} is not a UUID")))
    };
    let rsu_id = uuid(wire::HEADER_RSU_ID)?;
    let key_id = uuid(wire::HEADER_KEY_ID)?;
    let ts_text = get(wire::HEADER_TIMESTAMP)?;
    let timestamp: i64 = ts_text.parse().map_err(|_| {
        AppError::of(
            ErrorCode::BadHeader,
            format!(
                "header {} must be Unix seconds as a decimal integer, got {ts_text:?}",
                wire::HEADER_TIMESTAMP
            ),
        )
    })?;
    let nonce = get(wire::HEADER_NONCE)?;
    wire::check_nonce(nonce).map_err(|e| {
        AppError::of(
            ErrorCode::BadHeader,
            format!("header {}: {e}", wire::HEADER_NONCE),
        )
    })?;
    get(wire::HEADER_SIGNATURE)?;
    let skew = timestamp.saturating_sub(Utc::now().timestamp());
    if skew.unsigned_abs() > wire::CLOCK_WINDOW_SECS.unsigned_abs() {
        return Err(AppError::of(
            ErrorCode::ClockSkew,
            format!(
                "header {} is {skew} s from the server clock (allowed ±{} s): correct the clock with serverTime and sign again",
                wire::HEADER_TIMESTAMP,
                wire::CLOCK_WINDOW_SECS
            ),
        ));
    }
    let known: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM rsu_keys WHERE id = $1 AND rsu_id = $2)")
            .bind(key_id)
            .bind(rsu_id)
            .fetch_one(pool)
            .await?;
    if !known {
        return Err(AppError::of(
            ErrorCode::UnknownKey,
            format!("key {key_id} is not registered for RSU {rsu_id}: enroll the device again"),
        ));
    }
    Ok(())
}

/// Records a nonce; a nonce already seen for this key is refused (401 `nonce_reused`).
pub async fn record_nonce<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    key_id: Uuid,
    nonce: &str,
) -> AppResult<()> {
    let fresh = sqlx::query(
        "INSERT INTO request_nonces (key_id, nonce) VALUES ($1, $2)
         ON CONFLICT (key_id, nonce) DO NOTHING",
    )
    .bind(key_id)
    .bind(nonce)
    .execute(executor)
    .await?
    .rows_affected()
        == 1;
    if fresh {
        Ok(())
    } else {
        Err(nonce_reused())
    }
}

/// The answer to a nonce already seen for this key (401 `nonce_reused`).
pub fn nonce_reused() -> AppError {
    AppError::of(
        ErrorCode::NonceReused,
        format!(
            "header {} was already used: every request, retries included, needs a fresh nonce",
            wire::HEADER_NONCE
        ),
    )
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    public_key: Vec<u8>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    confirmed_at: Option<DateTime<Utc>>,
    organization_id: Uuid,
    is_active: bool,
    state: String,
    rsu_no: i32,
    validation_key: Option<Vec<u8>>,
    current_epoch: i32,
    prefix: String,
    org_active: bool,
}

/// Deletes nonces older than twice the clock window (they can no longer be replayed: the
/// timestamp check refuses them first).
pub async fn purge_nonces(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM request_nonces WHERE seen_at < NOW() - make_interval(secs => $1)")
            .bind((2 * wire::CLOCK_WINDOW_SECS) as f64)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
