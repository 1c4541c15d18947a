//! Device endpoints (DESIGN §6): enroll, config pull, allocation top-up, journal push, heartbeat,
//! key rotation.
//!
//! Why this file is over 800 lines: every device endpoint with its prelude; issue 10 replaces the prelude with a `SignedJson<T>` extractor and splits `routes/device/…`, `allocations.rs` and `device_config.rs` out.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use rsu_core::config::{
    AllocationConfig, Command, CommandKind, DeviceConfig, EventConfig, JackpotFigure,
    JurisdictionProfile, OperatorConfig, OrganizationConfig, Prize, Role, RsuConfig, RsuSettings,
    SystemRsuSettings,
};
use rsu_core::event::{jackpot, EventState, JackpotRule, Package};
use rsu_core::money::{Currency, Money};
use rsu_core::wire::{
    self, ConfigResponse, EnrollRequest, EnrollResponse, HeartbeatRequest, HeartbeatResponse,
    PushResponse, RotateKeyRequest, RotateKeyResponse, TopUpRequest, TopUpResponse,
};
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{authenticate, Device, Purpose};
use crate::error::{parse_json, AppError, AppResult};

/// Reads the body up to `limit` bytes; a larger body is refused with 413 before it is parsed.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> AppResult<Vec<u8>> {
    let too_large = || {
        AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes: send smaller batches"),
        )
    };
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) => {
            let text = e.to_string();
            if text.contains("length limit") {
                Err(too_large())
            } else {
                Err(AppError::bad_request(
                    "bad_body",
                    "the request body could not be read completely",
                ))
            }
        }
    }
}

/// Settings of the `rsu` part of the current system configuration.
pub async fn system_rsu_settings(pool: &PgPool) -> Result<SystemRsuSettings, sqlx::Error> {
    let v: Option<Value> = sqlx::query_scalar(
        "SELECT settings->'rsu' FROM system_configurations
          WHERE effective_from <= NOW() AND (effective_to IS NULL OR effective_to > NOW())
          ORDER BY effective_from DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?
    .flatten();
    let v = v.unwrap_or(Value::Null);
    let int = |k: &str, d: i64| v.get(k).and_then(Value::as_i64).unwrap_or(d);
    Ok(SystemRsuSettings {
        offline_sale_expiration_minutes: int("offlineSaleExpirationMinutes", 1440),
        api_key_rotation_days: u32::try_from(int("apiKeyRotationDays", 90)).unwrap_or(90),
        default_max_offline_tickets: u64::try_from(int("defaultMaxOfflineTickets", 100))
            .unwrap_or(100),
    })
}

/// Row shapes of a few queries (tuples, to keep the SQL next to its use).
type TokenRow = (Uuid, Uuid, DateTime<Utc>, Option<DateTime<Utc>>);
type EnrollRsuRow = (i32, i32, Uuid, String, Option<String>, String, bool);
type PackageDbRow = (
    Uuid,
    String,
    i32,
    i64,
    i32,
    bool,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);
type PrizeDbRow = (Uuid, String, String, Option<i64>, Option<i32>, i16, i16);

pub fn sha256(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

// ----------------------------------------------------------------------------------------------
// Enrollment
// ----------------------------------------------------------------------------------------------

pub async fn enroll(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<EnrollResponse>> {
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let req: EnrollRequest = parse_json(&bytes)?;
    Ok(Json(enroll_device(&st.pool, &req).await?))
}

/// Enrolls a device with a one-time token: registers its key and starts a new epoch.
pub async fn enroll_device(pool: &PgPool, req: &EnrollRequest) -> AppResult<EnrollResponse> {
    let public_key = wire::parse_public_key_hex(&req.public_key).map_err(|_| {
        AppError::bad_request(
            "invalid_field",
            "field publicKey must be the 32-byte Ed25519 public key as 64 hex digits",
        )
    })?;
    for (name, v, max) in [
        ("deviceIdentifier", &req.device_identifier, 200),
        ("appVersion", &req.app_version, 100),
        ("appHash", &req.app_hash, 200),
    ] {
        if v.trim().is_empty() || v.len() > max {
            return Err(AppError::bad_request(
                "invalid_field",
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
        return Err(AppError::unauthorized(
            "bad_token",
            "field token is not a valid enrollment token: ask the administrator for a new one",
        ));
    };
    if used_at.is_some() {
        return Err(AppError::unauthorized(
            "token_used",
            "field token was already used: enrollment tokens work once, ask for a new one",
        ));
    }
    let now = Utc::now();
    if expires_at <= now {
        return Err(AppError::unauthorized(
            "token_expired",
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
        return Err(AppError::forbidden(
            "rsu_disabled",
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
        return Err(AppError::conflict(
            "wrong_rsu",
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
        return Err(AppError::unauthorized(
            "unknown_key",
            format!(
                "field continuity.keyId: {} is not a key of this RSU",
                c.key_id
            ),
        ));
    };
    let msg = wire::continuity_message(rsu_id, c.key_id, &req.token, &req.public_key);
    wire::verify_signature(&public_key, &msg, &c.signature).map_err(|e| {
        AppError::unauthorized(
            "bad_signature",
            format!("field continuity.signature: {e} (see docs/protocol.md \"Recovery\")"),
        )
    })?;
    match revoked_reason.as_deref() {
        None | Some("re-enrolled") | Some("superseded") => Ok(()),
        Some(reason) => Err(AppError::forbidden(
            "key_revoked",
            format!(
                "the previous key {} was revoked by an administrator ({reason}): this database cannot \
                 continue; export its journal (rsu-app export) and give it to the administrator",
                c.key_id
            ),
        )),
    }
}

pub fn random_bytes<const N: usize>() -> AppResult<[u8; N]> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| AppError::internal("rng", "system random number generator failed"))?;
    Ok(b)
}

pub async fn bump_config_version(
    tx: &mut Transaction<'_, Postgres>,
    org_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE organizations SET config_version = config_version + 1, updated_at = NOW() WHERE id = $1")
        .bind(org_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Key rotation
// ----------------------------------------------------------------------------------------------

pub async fn rotate_key(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<RotateKeyResponse>> {
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let dev = authenticate(&st.pool, &method, &uri, &headers, &bytes, Purpose::Other).await?;
    let req: RotateKeyRequest = parse_json(&bytes)?;
    let public_key = wire::parse_public_key_hex(&req.public_key).map_err(|_| {
        AppError::bad_request(
            "invalid_field",
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
        return Err(AppError::conflict(
            "key_succeeded",
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
        return Err(AppError::conflict(
            "key_in_use",
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

// ----------------------------------------------------------------------------------------------
// Config pull
// ----------------------------------------------------------------------------------------------

pub async fn config(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<ConfigResponse>> {
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let dev = authenticate(&st.pool, &method, &uri, &headers, &bytes, Purpose::Other).await?;
    let config = device_config(&st.pool, &dev).await?;
    crate::lifecycle::mark_config_pulled(&st.pool, dev.rsu_id).await?;
    Ok(Json(ConfigResponse {
        server_time: Utc::now(),
        epoch: dev.current_epoch,
        config,
        key_expires_at: Some(dev.key_expires_at),
    }))
}

#[derive(sqlx::FromRow)]
struct EventDbRow {
    id: Uuid,
    name: String,
    event_identifier: String,
    state: String,
    currency: String,
    sales_start_time: DateTime<Utc>,
    sales_end_time: DateTime<Utc>,
    draw_time: DateTime<Utc>,
    configuration: Value,
    timezone: Option<String>,
    venue_name: Option<String>,
    net_sales: i64,
}

fn bad_config(what: &str, detail: impl std::fmt::Display) -> AppError {
    AppError::internal("config", format!("{what}: {detail}"))
}

/// Builds what `GET /v1/rsu/config` serves for a device.
pub async fn device_config(pool: &PgPool, dev: &Device) -> AppResult<DeviceConfig> {
    let (org_name, license, currency, settings, version): (
        String,
        Option<String>,
        String,
        Value,
        i64,
    ) = sqlx::query_as(
        "SELECT name, license_number, primary_currency::text, settings, config_version
               FROM organizations WHERE id = $1",
    )
    .bind(dev.organization_id)
    .fetch_one(pool)
    .await?;
    let rsu_settings: RsuSettings = settings
        .get("rsuSettings")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| bad_config("organization rsuSettings", e))?
        .unwrap_or(RsuSettings {
            validation_number_prefix: "RSU".into(),
            default_validation_number_block_size: 100,
            offline_sync_timeout_minutes: 30,
        });
    let system = system_rsu_settings(pool).await?;
    let (rsu_name, rsu_no, rsu_cfg): (String, i32, Value) =
        sqlx::query_as("SELECT name, rsu_no, configuration FROM rsus WHERE id = $1")
            .bind(dev.rsu_id)
            .fetch_one(pool)
            .await?;
    let u64_at = |k: &str| rsu_cfg.get(k).and_then(Value::as_u64);
    let rsu = RsuConfig {
        id: dev.rsu_id,
        rsu_no: u32::try_from(rsu_no).unwrap_or(0),
        name: rsu_name,
        max_offline_tickets: Some(
            u64_at("maxOfflineTickets").unwrap_or(system.default_max_offline_tickets),
        ),
        sync_interval_minutes: u64_at("syncIntervalMinutes")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(5),
        low_water_mark: u64_at("lowWaterMark"),
        last_sale_seq: crate::lifecycle::last_sale_seq(pool, dev.rsu_id).await?,
    };

    let rows: Vec<EventDbRow> = sqlx::query_as(
        "SELECT e.id, e.name, e.event_identifier, e.state, e.currency::text AS currency,
                e.sales_start_time, e.sales_end_time, e.draw_time, e.configuration,
                v.timezone, v.name AS venue_name,
                COALESCE((SELECT SUM(o.total_amount) FROM orders o
                           WHERE o.event_id = e.id AND o.voided_at IS NULL), 0)::int8 AS net_sales
           FROM events e LEFT JOIN venues v ON v.id = e.venue_id
          WHERE e.organization_id = $1 AND e.state NOT IN ('created', 'completed', 'cancelled')
          ORDER BY e.sales_start_time",
    )
    .bind(dev.organization_id)
    .fetch_all(pool)
    .await?;
    let now = Utc::now();
    let mut events = Vec::with_capacity(rows.len());
    for r in rows {
        let cur = Currency::new(&r.currency).map_err(|e| bad_config("event currency", e))?;
        let c = &r.configuration;
        let state =
            EventState::parse(&r.state).ok_or_else(|| bad_config("event state", &r.state))?;
        let jurisdiction: JurisdictionProfile =
            serde_json::from_value(c.get("jurisdiction").cloned().unwrap_or(Value::Null))
                .map_err(|e| bad_config("event jurisdiction", e))?;
        let jackpot_rule = c
            .get("jackpotPercentageBp")
            .and_then(Value::as_u64)
            .map(|bp| JackpotRule {
                seed: Money::new(
                    c.get("jackpotSeedAmount")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    cur,
                ),
                starting: Money::new(
                    c.get("jackpotStartingAmount")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    cur,
                ),
                percentage_bp: u32::try_from(bp).unwrap_or(0),
            });
        let jackpot_current = match &jackpot_rule {
            Some(rule) => Some(JackpotFigure {
                amount: jackpot(rule, Money::new(r.net_sales, cur))
                    .map_err(|e| bad_config("jackpot", e))?
                    .minor,
                net_sales: r.net_sales,
                as_of: now,
            }),
            None => None,
        };
        let packages: Vec<PackageDbRow> = sqlx::query_as(
            "SELECT id, name, ticket_count, price, display_order, is_active, active_from, active_to
                   FROM ticket_packages WHERE event_id = $1 ORDER BY display_order, ticket_count",
        )
        .bind(r.id)
        .fetch_all(pool)
        .await?;
        let packages = packages
            .into_iter()
            .map(|(id, name, tc, price, order, active, from, to)| Package {
                id,
                name,
                ticket_count: u32::try_from(tc).unwrap_or(0),
                price: Money::new(price, cur),
                display_order: order,
                is_active: active,
                active_from: from,
                active_to: to,
            })
            .collect();
        let prizes: Vec<PrizeDbRow> = sqlx::query_as(
            "SELECT id, name, type, value, percentage_bp, position, winner_count
               FROM prizes WHERE event_id = $1 ORDER BY position",
        )
        .bind(r.id)
        .fetch_all(pool)
        .await?;
        let prizes = prizes
            .into_iter()
            .map(|(id, name, kind, value, bp, pos, wc)| Prize {
                id,
                name,
                kind,
                value,
                percentage_bp: bp.and_then(|b| u32::try_from(b).ok()),
                position: u32::try_from(pos).unwrap_or(0),
                winner_count: u32::try_from(wc).unwrap_or(1),
            })
            .collect();
        events.push(EventConfig {
            id: r.id,
            name: r.name,
            event_identifier: r.event_identifier,
            state,
            currency: r.currency,
            sales_start_time: r.sales_start_time,
            sales_end_time: r.sales_end_time,
            draw_time: r.draw_time,
            timezone: r.timezone.unwrap_or_else(|| "UTC".into()),
            venue_name: r.venue_name,
            jackpot: jackpot_rule,
            jackpot_current,
            jurisdiction,
            packages,
            prizes,
        });
    }

    // Only for events sent above: a range of an event the device does not know could not be
    // applied (and must not stop the rest of the configuration).
    let allocations = crate::lifecycle::allocations_for_config(pool, dev.rsu_id).await?;

    let ops: Vec<(Uuid, String, String, String, bool)> = sqlx::query_as(
        "SELECT u.id, u.display_name, r.key, u.pin_hash, u.is_active
           FROM organization_users ou
           JOIN users u ON u.id = ou.user_id
           JOIN roles r ON r.id = ou.role_id
          WHERE ou.organization_id = $1 AND r.key IN ('seller', 'supervisor') AND u.pin_hash IS NOT NULL
          ORDER BY u.display_name",
    )
    .bind(dev.organization_id)
    .fetch_all(pool)
    .await?;
    let operators = ops
        .into_iter()
        .filter_map(|(id, name, role, pin_hash, active)| {
            Some(OperatorConfig {
                id,
                name,
                role: Role::parse(&role)?,
                pin_hash,
                is_active: active,
            })
        })
        .collect();

    let cmds: Vec<(Uuid, String, Option<Uuid>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, kind, event_id, issued_at FROM rsu_commands
          WHERE rsu_id = $1 AND acknowledged_at IS NULL ORDER BY issued_at",
    )
    .bind(dev.rsu_id)
    .fetch_all(pool)
    .await?;
    let commands = cmds
        .into_iter()
        .filter_map(|(id, kind, event_id, issued_at)| {
            let kind = match kind.as_str() {
                "suspend" => CommandKind::Suspend,
                "resume" => CommandKind::Resume,
                "close" => CommandKind::Close,
                _ => return None,
            };
            Some(Command {
                id,
                kind,
                event_id,
                issued_at,
            })
        })
        .collect();

    Ok(DeviceConfig {
        version,
        organization: OrganizationConfig {
            id: dev.organization_id,
            name: org_name,
            license_number: license.unwrap_or_default(),
            primary_currency: currency,
            rsu_settings,
        },
        rsu,
        system,
        events,
        allocations,
        operators,
        commands,
    })
}

// ----------------------------------------------------------------------------------------------
// Top-up
// ----------------------------------------------------------------------------------------------

pub async fn top_up(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<TopUpResponse>> {
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let dev = authenticate(&st.pool, &method, &uri, &headers, &bytes, Purpose::Other).await?;
    let req: TopUpRequest = parse_json(&bytes)?;
    let allocation = carve_allocation(
        &st.pool,
        dev.organization_id,
        dev.rsu_id,
        req.event_id,
        req.count,
        None,
        true,
    )
    .await?;
    crate::lifecycle::mark_config_pulled(&st.pool, dev.rsu_id).await?;
    Ok(Json(TopUpResponse {
        allocation,
        server_time: Utc::now(),
    }))
}

/// Carves the next `count` numbers (default the range's `defaultAllocationSize`) from the event's
/// `rsu` range, above every allocation already made in it, so ranges stay disjoint (the exclusion
/// constraint guarantees it). Audited. With `capped` (a device's own top-up), refused once the
/// RSU would hold more unsold numbers of the event than the range's `maxOutstandingPerRsu`
/// (default 10 × `defaultAllocationSize`), so one device cannot take the whole range.
#[allow(clippy::too_many_arguments)]
pub async fn carve_allocation(
    pool: &PgPool,
    org_id: Uuid,
    rsu_id: Uuid,
    event_id: Uuid,
    count: Option<u32>,
    by: Option<Uuid>,
    capped: bool,
) -> AppResult<AllocationConfig> {
    let mut tx = pool.begin().await?;
    let ev: Option<(Uuid, String, Value)> = sqlx::query_as(
        "SELECT organization_id, state, ticket_allocation FROM events WHERE id = $1 FOR UPDATE",
    )
    .bind(event_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((ev_org, state, ranges)) = ev.filter(|(o, _, _)| *o == org_id) else {
        return Err(AppError::not_found(
            "unknown_event",
            format!("field eventId: {event_id} is not an event of this RSU's organization"),
        ));
    };
    if !matches!(state.as_str(), "configured" | "active" | "suspended") {
        return Err(AppError::conflict(
            "event_not_allocating",
            format!("the event is {state}: numbers are allocated only while it is configured, active or suspended"),
        ));
    }
    let rsu_range = ranges
        .get("ranges")
        .and_then(Value::as_array)
        .and_then(|rs| {
            rs.iter()
                .find(|r| r.get("type").and_then(Value::as_str) == Some("rsu"))
        })
        .cloned()
        .ok_or_else(|| {
            AppError::conflict(
                "no_rsu_range",
                "the event has no ticket range of type rsu to allocate from",
            )
        })?;
    let int = |k: &str| rsu_range.get(k).and_then(Value::as_i64);
    let (Some(lo), Some(hi)) = (int("start"), int("end")) else {
        return Err(AppError::internal(
            "top-up",
            "event rsu range lacks start/end",
        ));
    };
    let default_size = int("defaultAllocationSize").unwrap_or(100);
    let size = match count {
        Some(0) => {
            return Err(AppError::bad_request(
                "invalid_field",
                "field count must be 1 or more",
            ))
        }
        Some(c) if c > 100_000 => {
            return Err(AppError::bad_request(
                "invalid_field",
                "field count must be at most 100000",
            ))
        }
        Some(c) => i64::from(c),
        None => default_size,
    };
    if capped {
        let cap = int("maxOutstandingPerRsu").unwrap_or(10 * default_size);
        // What the server knows this RSU has not sold yet: every number from the allocation's
        // next unsold one to its end, or to where it was released.
        let outstanding: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(GREATEST(0, COALESCE(released_from, end_number + 1) - next_draw_number)), 0)::int8
               FROM rsu_allocations WHERE event_id = $1 AND rsu_id = $2",
        )
        .bind(event_id)
        .bind(rsu_id)
        .fetch_one(&mut *tx)
        .await?;
        if outstanding + size > cap {
            return Err(AppError::conflict(
                "allocation_cap",
                format!(
                    "this RSU already holds {outstanding} unsold numbers of the event; {size} more would exceed the cap of {cap} per RSU: sync its sales or release numbers first"
                ),
            ));
        }
    }
    let high: Option<i32> = sqlx::query_scalar(
        "SELECT MAX(end_number) FROM rsu_allocations
          WHERE event_id = $1 AND start_number >= $2 AND end_number <= $3",
    )
    .bind(event_id)
    .bind(lo as i32)
    .bind(hi as i32)
    .fetch_one(&mut *tx)
    .await?;
    let start = high.map_or(lo, |h| i64::from(h) + 1).max(lo);
    if start > hi {
        return Err(AppError::conflict(
            "range_exhausted",
            format!("the event's rsu range {lo}–{hi} is fully allocated"),
        ));
    }
    let end = (start + size - 1).min(hi);
    let alloc = insert_allocation(&mut tx, event_id, rsu_id, start, end, by).await?;
    bump_config_version(&mut tx, ev_org).await?;
    tx.commit().await?;
    Ok(alloc)
}

pub async fn insert_allocation(
    tx: &mut Transaction<'_, Postgres>,
    event_id: Uuid,
    rsu_id: Uuid,
    start: i64,
    end: i64,
    by: Option<Uuid>,
) -> AppResult<AllocationConfig> {
    let (s, e) = match (i32::try_from(start), i32::try_from(end)) {
        (Ok(s), Ok(e)) if s > 0 && s <= e => (s, e),
        _ => {
            return Err(AppError::bad_request(
                "invalid_field",
                format!("fields startNumber/endNumber: {start}–{end} is not a range of positive 32-bit numbers"),
            ))
        }
    };
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO rsu_allocations (id, event_id, rsu_id, start_number, end_number, next_draw_number,
                                      total_tickets, state, tickets_available, allocated_by)
         VALUES ($1, $2, $3, $4, $5, $4, $5 - $4 + 1, 'active', $5 - $4 + 1, $6)",
    )
    .bind(id)
    .bind(event_id)
    .bind(rsu_id)
    .bind(s)
    .bind(e)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, new_data, changed_by)
         VALUES ('rsu_allocations', 'INSERT', $1, $2, $3)",
    )
    .bind(id)
    .bind(json!({"eventId": event_id, "rsuId": rsu_id, "startNumber": s, "endNumber": e}))
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(AllocationConfig {
        id,
        event_id,
        start_number: i64::from(s),
        end_number: i64::from(e),
        state: "active".into(),
        next_number: Some(i64::from(s)),
    })
}

// ----------------------------------------------------------------------------------------------
// Journal push
// ----------------------------------------------------------------------------------------------

pub async fn journal(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<PushResponse>> {
    // Up to 4 MiB are read and hashed only for a request whose headers and key check out.
    precheck_headers_and_key(&st.pool, &headers).await?;
    let bytes = read_body(&headers, body, wire::MAX_BODY_BYTES).await?;
    let mut dev = authenticate(&st.pool, &method, &uri, &headers, &bytes, Purpose::Journal).await?;
    let received_at = Utc::now();
    let incoming: crate::ingest::IncomingPush = parse_json(&bytes)?;
    let (mut req, forms) = incoming.into_push(received_at)?;
    crate::ingest::check_shape(&req)?;
    // Tags are checked with the key of the epoch the entries belong to (a new key each epoch).
    if let Ok(epoch) = i32::try_from(req.epoch) {
        let key: Option<Option<Vec<u8>>> = sqlx::query_scalar(
            "SELECT validation_key FROM rsu_epochs WHERE rsu_id = $1 AND epoch = $2",
        )
        .bind(dev.rsu_id)
        .bind(epoch)
        .fetch_optional(&st.pool)
        .await?;
        if let Some(Some(k)) = key {
            dev.validation_key = Some(rsu_core::validation::ValidationKey::new(&k));
        }
    }
    if dev.key_expired {
        // Only entries made before the key expired may still be uploaded with it; the rest wait
        // for a new key (they are not answered, so the device sends them again).
        let keep = req
            .entries
            .iter()
            .take_while(|e| e.body.created_at < dev.key_expires_at)
            .count();
        if keep == 0 {
            return Err(AppError::unauthorized(
                "key_expired",
                format!(
                    "key {} expired at {}; these entries were made after that: rotate the key or enroll again",
                    dev.key_id, dev.key_expires_at
                ),
            ));
        }
        req.entries.truncate(keep);
    }
    Ok(Json(
        crate::ingest::push(&st.pool, &dev, &req, &forms, received_at).await?,
    ))
}

/// The checks of `authenticate` that need no body, made before the body is read: every header
/// present and well-formed, the timestamp inside the clock window, the key registered for the
/// RSU. Answers as `authenticate` does (401 with the same codes, in the same order).
async fn precheck_headers_and_key(pool: &PgPool, headers: &HeaderMap) -> AppResult<()> {
    let get = |name: &'static str| -> AppResult<&str> {
        headers
            .get(name)
            .ok_or_else(|| {
                AppError::unauthorized(
                    "missing_header",
                    format!("header {name} is missing: every device request must be signed"),
                )
            })?
            .to_str()
            .map_err(|_| {
                AppError::unauthorized("bad_header", format!("header {name} is not visible ASCII"))
            })
    };
    let uuid = |name: &'static str| -> AppResult<Uuid> {
        Uuid::parse_str(get(name)?).map_err(|_| {
            AppError::unauthorized("bad_header", format!("header {name} is not a UUID"))
        })
    };
    let rsu_id = uuid(wire::HEADER_RSU_ID)?;
    let key_id = uuid(wire::HEADER_KEY_ID)?;
    let ts_text = get(wire::HEADER_TIMESTAMP)?;
    let timestamp: i64 = ts_text.parse().map_err(|_| {
        AppError::unauthorized(
            "bad_header",
            format!(
                "header {} must be Unix seconds as a decimal integer, got {ts_text:?}",
                wire::HEADER_TIMESTAMP
            ),
        )
    })?;
    let nonce = get(wire::HEADER_NONCE)?;
    wire::check_nonce(nonce).map_err(|e| {
        AppError::unauthorized("bad_header", format!("header {}: {e}", wire::HEADER_NONCE))
    })?;
    get(wire::HEADER_SIGNATURE)?;
    let skew = timestamp - Utc::now().timestamp();
    if skew.abs() > wire::CLOCK_WINDOW_SECS {
        return Err(AppError::unauthorized(
            "clock_skew",
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
        return Err(AppError::unauthorized(
            "unknown_key",
            format!("key {key_id} is not registered for RSU {rsu_id}: enroll the device again"),
        ));
    }
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Heartbeat
// ----------------------------------------------------------------------------------------------

pub async fn heartbeat(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<HeartbeatResponse>> {
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let dev = authenticate(&st.pool, &method, &uri, &headers, &bytes, Purpose::Other).await?;
    let req: HeartbeatRequest = parse_json(&bytes)?;
    let epoch = i32::try_from(req.epoch)
        .map_err(|_| AppError::bad_request("invalid_field", "field epoch is out of range"))?;
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let acked: Option<i64> = sqlx::query_scalar(
        "UPDATE rsu_epochs SET reported_last_seq = $3, pending_count = $4, oldest_pending_age_secs = $5,
                printer_status = $6, app_version = $7, app_hash = $8, last_heartbeat_at = NOW()
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
    .fetch_optional(&st.pool)
    .await?;
    let Some(acked) = acked else {
        return Err(AppError::conflict(
            "unknown_epoch",
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
