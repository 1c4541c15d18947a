//! `POST /v1/rsu/enroll`: a device enrolls with a one-time token, registering its key and
//! starting a new epoch (DESIGN §6; docs/protocol.md "Enrollment" and "Recovery").

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use rsu_core::wire::{self, EnrollRequest, EnrollResponse};
use serde_json::json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::config_version::bump_config_version;
use crate::crypto::{random_bytes, sha256};
use crate::device_config::system_rsu_settings;
use crate::error::{AppError, AppResult};
use crate::http::{parse_json, read_body, DEVICE_BODY_LIMIT};
use crate::state::AppState;
use rsu_core::wire::ErrorCode;

/// Row shapes of two queries (tuples, to keep the SQL next to its use).
type TokenRow = (Uuid, Uuid, DateTime<Utc>, Option<DateTime<Utc>>);
type EnrollRsuRow = (i32, i32, Uuid, String, Option<String>, String, bool);

pub async fn enroll(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<EnrollResponse>> {
    let bytes = read_body(&headers, body, DEVICE_BODY_LIMIT).await?;
    let req: EnrollRequest = parse_json(&bytes)?;
    Ok(Json(enroll_device(&st.pool, &req).await?))
}

/// Enrolls a device with a one-time token: registers its key and starts a new epoch.
pub async fn enroll_device(pool: &PgPool, req: &EnrollRequest) -> AppResult<EnrollResponse> {
    let public_key = wire::parse_public_key_hex(&req.public_key).map_err(|_| {
        AppError::of(
            ErrorCode::InvalidField,
            "field publicKey must be the 32-byte Ed25519 public key as 64 hex digits",
        )
    })?;
    for (name, v, max) in [
        ("deviceIdentifier", &req.device_identifier, 200),
        ("appVersion", &req.app_version, 100),
        ("appHash", &req.app_hash, 200),
    ] {
        if v.trim().is_empty() || v.len() > max {
            return Err(AppError::of(
                ErrorCode::InvalidField,
                format!("field {name} must be 1 to {max} characters"),
            ));
        }
    }
    let sys = system_rsu_settings(pool).await?;
    let mut tx = pool.begin().await?;
    let token: Option<TokenRow> = sqlx::query_as(
        "SELECT id, rsu_id, expires_at, used_at FROM enrollment_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(sha256(req.token.trim().as_bytes()))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((token_id, rsu_id, expires_at, used_at)) = token else {
        return Err(AppError::of(
            ErrorCode::BadToken,
            "field token is not a valid enrollment token: ask the administrator for a new one",
        ));
    };
    if used_at.is_some() {
        return Err(AppError::of(
            ErrorCode::TokenUsed,
            "field token was already used: enrollment tokens work once, ask for a new one",
        ));
    }
    let now = Utc::now();
    if expires_at <= now {
        return Err(AppError::of(
            ErrorCode::TokenExpired,
            format!("field token expired at {expires_at}: ask for a new one"),
        ));
    }
    let rsu: EnrollRsuRow = sqlx::query_as(
        "SELECT r.rsu_no, r.current_epoch, o.id, o.name, o.license_number,
                    COALESCE(o.settings->'rsuSettings'->>'validationNumberPrefix', 'RSU'),
                    r.is_active AND r.state NOT IN ('lost', 'decommissioned')
               FROM rsus r JOIN organizations o ON o.id = r.organization_id
              WHERE r.id = $1 FOR UPDATE OF r",
    )
    .bind(rsu_id)
    .fetch_one(&mut *tx)
    .await?;
    let (rsu_no, current_epoch, org_id, org_name, license, prefix, usable) = rsu;
    if !usable {
        return Err(AppError::of(
            ErrorCode::RsuDisabled,
            "this RSU is disabled and cannot be enrolled",
        ));
    }
    let continued = match &req.continuity {
        Some(c) => {
            check_continuity(&mut tx, rsu_id, rsu_no, c, req).await?;
            true
        }
        None => false,
    };
    // Every epoch signs validation numbers with a key of its own, so a replacement database can
    // never reissue another database's numbers; earlier epochs keep theirs (rsu_epochs).
    let validation_key = random_bytes::<32>()?.to_vec();
    let key_id = Uuid::now_v7();
    let key_expires_at = now + Duration::days(i64::from(sys.api_key_rotation_days));
    let epoch = current_epoch + 1;
    // A new enrollment replaces the device's state: its earlier keys stop working.
    sqlx::query(
        "UPDATE rsu_keys SET revoked_at = $2, revoked_reason = 're-enrolled'
          WHERE rsu_id = $1 AND revoked_at IS NULL",
    )
    .bind(rsu_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO rsu_keys (id, rsu_id, public_key, valid_from, expires_at, confirmed_at)
         VALUES ($1, $2, $3, $4, $5, $4)",
    )
    .bind(key_id)
    .bind(rsu_id)
    .bind(public_key.to_vec())
    .bind(now)
    .bind(key_expires_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE rsus SET device_identifier = $2, state = 'active', validation_key = $3,
                current_epoch = $4, updated_at = NOW()
          WHERE id = $1",
    )
    .bind(rsu_id)
    .bind(req.device_identifier.trim())
    .bind(&validation_key)
    .bind(epoch)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO rsu_epochs (rsu_id, epoch, key_id, device_identifier, app_version, app_hash,
                                 validation_key, continued_from)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(rsu_id)
    .bind(epoch)
    .bind(key_id)
    .bind(req.device_identifier.trim())
    .bind(&req.app_version)
    .bind(&req.app_hash)
    .bind(&validation_key)
    .bind(continued.then_some(current_epoch))
    .execute(&mut *tx)
    .await?;
    // A database that cannot prove it is the one that held the previous key may be a
    // replacement: what the old one may have sold without syncing is withheld from it.
    let withheld = if continued || current_epoch == 0 {
        Vec::new()
    } else {
        crate::lifecycle::withhold_for_new_epoch(&mut tx, rsu_id, epoch).await?
    };
    let last_sale_seq = crate::lifecycle::last_sale_seq(&mut *tx, rsu_id).await?;
    sqlx::query("UPDATE enrollment_tokens SET used_at = $2, used_epoch = $3 WHERE id = $1")
        .bind(token_id)
        .bind(now)
        .bind(epoch)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO critical_events (event_type, rsu_id, severity, description, metadata)
         VALUES ('RSU_ENROLLED', $1, 'INFO', $2, $3)",
    )
    .bind(rsu_id)
    .bind(format!(
        "RSU {rsu_no} enrolled, epoch {epoch}{}{}",
        if continued {
            " (same database as before)"
        } else {
            ""
        },
        if withheld.is_empty() {
            String::new()
        } else {
            format!(
                "; {} range(s) withheld until the previous database's journal is synced or imported",
                withheld.len()
            )
        }
    ))
    .bind(
        json!({"epoch": epoch, "keyId": key_id, "deviceIdentifier": req.device_identifier,
                 "appVersion": req.app_version, "appHash": req.app_hash, "continued": continued,
                 "withheldAllocations": withheld, "lastSaleSeq": last_sale_seq}),
    )
    .execute(&mut *tx)
    .await?;
    bump_config_version(&mut tx, org_id).await?;
    tx.commit().await?;
    Ok(EnrollResponse {
        rsu_id,
        rsu_no: u32::try_from(rsu_no).unwrap_or(0),
        key_id,
        key_expires_at,
        epoch: i64::from(epoch),
        organization_id: org_id,
        organization_name: org_name,
        license_number: license.unwrap_or_default(),
        validation_number_prefix: prefix,
        validation_key: hex::encode(&validation_key),
        server_time: Utc::now(),
        last_sale_seq,
        continued,
    })
}

/// Checks a continuity proof: the token is for the RSU the device says it is, and the previous
/// key (of this RSU, never revoked by an administrator; expiry does not matter) signed it.
async fn check_continuity(
    tx: &mut Transaction<'_, Postgres>,
    rsu_id: Uuid,
    rsu_no: i32,
    c: &wire::Continuity,
    req: &EnrollRequest,
) -> AppResult<()> {
    if c.rsu_id != rsu_id {
        return Err(AppError::of(
            ErrorCode::WrongRsu,
            format!(
                "field continuity.rsuId: this device is RSU {} but the token enrolls RSU {rsu_no} ({rsu_id}): \
                 ask for a token of the device's own RSU (the token is still usable)",
                c.rsu_id
            ),
        ));
    }
    let key: Option<(Vec<u8>, Option<String>)> = sqlx::query_as(
        "SELECT public_key, revoked_reason FROM rsu_keys WHERE id = $1 AND rsu_id = $2",
    )
    .bind(c.key_id)
    .bind(rsu_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((public_key, revoked_reason)) = key else {
        return Err(AppError::of(
            ErrorCode::UnknownKey,
            format!(
                "field continuity.keyId: {} is not a key of this RSU",
                c.key_id
            ),
        ));
    };
    let msg = wire::continuity_message(rsu_id, c.key_id, &req.token, &req.public_key);
    wire::verify_signature(&public_key, &msg, &c.signature).map_err(|e| {
        AppError::of(
            ErrorCode::BadSignature,
            format!("field continuity.signature: {e} (see docs/protocol.md \"Recovery\")"),
        )
    })?;
    match revoked_reason.as_deref() {
        None | Some("re-enrolled") | Some("superseded") => Ok(()),
        Some(reason) => Err(AppError::new(
            StatusCode::FORBIDDEN, ErrorCode::KeyRevoked,
            format!(
                "the previous key {} was revoked by an administrator ({reason}): this database cannot \
                 continue; export its journal (rsu-app export) and give it to the administrator",
                c.key_id
            ),
        )),
    }
}
