//! Admin operations, shared by the CLI (`server-stub admin …`) and HTTP (`/v1/admin/*`, bearer
//! token). Each input struct is both a clap argument set and a camelCase JSON body.
//!
//! Why this file is over 800 lines: every admin operation behind one CLI/HTTP shape; issue 10 splits it into `routes/admin/…`, one file per resource.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use rsu_core::config::Role;
use rsu_core::event::EventState;
use rsu_core::money::Currency;
use rsu_core::pin;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::app::AppState;
use crate::device::{
    bump_config_version, carve_allocation, insert_allocation, random_bytes, sha256,
};
use crate::error::{parse_json, AppError, AppResult};

fn bad(field: &str, why: impl std::fmt::Display) -> AppError {
    AppError::bad_request("invalid_field", format!("field {field}: {why}"))
}

fn nonempty(field: &str, v: &str) -> AppResult<()> {
    if v.trim().is_empty() {
        Err(bad(field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn currency(field: &str, v: &str) -> AppResult<Currency> {
    Currency::new(v).map_err(|e| bad(field, e))
}

async fn org_exists(pool: &PgPool, id: Uuid) -> AppResult<()> {
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    found.map(|_| ()).ok_or_else(|| {
        AppError::not_found(
            "unknown_organization",
            format!("field organizationId: no organization {id}"),
        )
    })
}

async fn audit(
    pool: &PgPool,
    table: &str,
    op: &str,
    id: Uuid,
    old: Option<Value>,
    new: Value,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, old_data, new_data) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(table)
    .bind(op)
    .bind(id)
    .bind(old)
    .bind(new)
    .execute(pool)
    .await?;
    Ok(())
}

// ----------------------------------------------------------------------------------------------

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewOrganization {
    #[arg(long)]
    pub name: String,
    /// The gaming licence number printed on every receipt.
    #[arg(long)]
    pub license_number: String,
    #[arg(long, default_value = "USD")]
    #[serde(default = "usd")]
    pub currency: String,
    /// `rsuSettings.validationNumberPrefix`: 1 to 8 upper-case letters.
    #[arg(long, default_value = "RSU")]
    #[serde(default = "rsu_prefix")]
    pub validation_number_prefix: String,
    #[arg(long)]
    #[serde(default)]
    pub description: Option<String>,
}

fn usd() -> String {
    "USD".into()
}
fn rsu_prefix() -> String {
    "RSU".into()
}

pub async fn create_organization(pool: &PgPool, a: &NewOrganization) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    nonempty("licenseNumber", &a.license_number)?;
    currency("currency", &a.currency)?;
    let p = &a.validation_number_prefix;
    if p.is_empty() || p.len() > 8 || !p.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(bad(
            "validationNumberPrefix",
            "use 1 to 8 upper-case letters",
        ));
    }
    let settings = json!({"rsuSettings": {"validationNumberPrefix": p,
        "defaultValidationNumberBlockSize": 100, "offlineSyncTimeoutMinutes": 30}});
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO organizations (id, name, description, license_number, primary_currency, settings)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(a.name.trim())
    .bind(&a.description)
    .bind(a.license_number.trim())
    .bind(&a.currency)
    .bind(&settings)
    .execute(pool)
    .await?;
    audit(pool, "organizations", "INSERT", id, None, json!(a)).await?;
    Ok(json!({"organizationId": id}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewVenue {
    #[arg(long)]
    pub organization_id: Uuid,
    #[arg(long)]
    pub name: String,
    /// IANA time zone used on receipts, e.g. America/Los_Angeles.
    #[arg(long, default_value = "UTC")]
    #[serde(default = "utc")]
    pub timezone: String,
    #[arg(long)]
    #[serde(default)]
    pub capacity: Option<i32>,
}

fn utc() -> String {
    "UTC".into()
}

pub async fn create_venue(pool: &PgPool, a: &NewVenue) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    nonempty("timezone", &a.timezone)?;
    org_exists(pool, a.organization_id).await?;
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO venues (id, organization_id, name, timezone, capacity) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(a.organization_id)
        .bind(a.name.trim())
        .bind(&a.timezone)
        .bind(a.capacity)
        .execute(pool)
        .await?;
    audit(pool, "venues", "INSERT", id, None, json!(a)).await?;
    Ok(json!({"venueId": id}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewEvent {
    #[arg(long)]
    pub organization_id: Uuid,
    #[arg(long)]
    #[serde(default)]
    pub venue_id: Option<Uuid>,
    #[arg(long)]
    pub name: String,
    /// Printed on receipts, e.g. RAFFLE-2026-001; unique per organization.
    #[arg(long)]
    pub event_identifier: String,
    /// Defaults to the organization's primary currency.
    #[arg(long)]
    #[serde(default)]
    pub currency: Option<String>,
    /// RFC 3339, e.g. 2026-06-28T09:00:00Z.
    #[arg(long)]
    pub sales_start_time: DateTime<Utc>,
    #[arg(long)]
    pub sales_end_time: DateTime<Utc>,
    #[arg(long)]
    pub draw_time: DateTime<Utc>,
    #[arg(long)]
    pub max_tickets: i32,
    /// The `rsu` ticket range devices are allocated from (default 1..maxTickets).
    #[arg(long)]
    #[serde(default)]
    pub rsu_range_start: Option<i32>,
    #[arg(long)]
    #[serde(default)]
    pub rsu_range_end: Option<i32>,
    #[arg(long, default_value_t = 100)]
    #[serde(default = "hundred")]
    pub default_allocation_size: i32,
    /// Guaranteed minimum jackpot, minor units.
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub jackpot_seed_amount: i64,
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub jackpot_starting_amount: i64,
    /// Share of net sales in basis points (5000 = 50 %); omit for no jackpot.
    #[arg(long)]
    #[serde(default)]
    pub jackpot_percentage_bp: Option<u32>,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    #[serde(default = "yes")]
    pub price_lock: bool,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    #[serde(default = "yes")]
    pub offline_sales_allowed: bool,
    #[arg(long)]
    pub responsible_gaming_text: String,
    #[arg(long)]
    pub claim_deadline: String,
    #[arg(long)]
    pub rules_url: String,
    #[arg(long)]
    #[serde(default)]
    pub description: Option<String>,
}

fn hundred() -> i32 {
    100
}
fn yes() -> bool {
    true
}

pub async fn create_event(pool: &PgPool, a: &NewEvent) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    nonempty("eventIdentifier", &a.event_identifier)?;
    nonempty("responsibleGamingText", &a.responsible_gaming_text)?;
    nonempty("claimDeadline", &a.claim_deadline)?;
    nonempty("rulesUrl", &a.rules_url)?;
    if a.sales_start_time >= a.sales_end_time {
        return Err(bad("salesEndTime", "must be after salesStartTime"));
    }
    if a.draw_time < a.sales_end_time {
        return Err(bad("drawTime", "must not be before salesEndTime"));
    }
    if a.max_tickets <= 0 {
        return Err(bad("maxTickets", "must be 1 or more"));
    }
    let lo = a.rsu_range_start.unwrap_or(1);
    let hi = a.rsu_range_end.unwrap_or(a.max_tickets);
    if lo < 1 || lo > hi || hi > a.max_tickets {
        return Err(bad(
            "rsuRangeStart/rsuRangeEnd",
            "must satisfy 1 ≤ start ≤ end ≤ maxTickets",
        ));
    }
    if a.default_allocation_size <= 0 {
        return Err(bad("defaultAllocationSize", "must be 1 or more"));
    }
    if a.jackpot_percentage_bp.is_some_and(|b| b > 10_000) {
        return Err(bad("jackpotPercentageBp", "must be 0 to 10000"));
    }
    if a.jackpot_seed_amount < 0 || a.jackpot_starting_amount < 0 {
        return Err(bad(
            "jackpotSeedAmount/jackpotStartingAmount",
            "must not be negative",
        ));
    }
    let org_currency: Option<String> =
        sqlx::query_scalar("SELECT primary_currency::text FROM organizations WHERE id = $1")
            .bind(a.organization_id)
            .fetch_optional(pool)
            .await?;
    let Some(org_currency) = org_currency else {
        return Err(AppError::not_found(
            "unknown_organization",
            format!(
                "field organizationId: no organization {}",
                a.organization_id
            ),
        ));
    };
    let cur = a.currency.clone().unwrap_or(org_currency);
    currency("currency", &cur)?;
    if let Some(v) = a.venue_id {
        let ok: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM venues WHERE id = $1 AND organization_id = $2")
                .bind(v)
                .bind(a.organization_id)
                .fetch_optional(pool)
                .await?;
        if ok.is_none() {
            return Err(bad("venueId", "is not a venue of this organization"));
        }
    }
    let mut configuration = json!({
        "jackpotSeedAmount": a.jackpot_seed_amount,
        "jackpotStartingAmount": a.jackpot_starting_amount,
        "revenueCalculationMethod": "gross_revenue",
        "jurisdiction": {
            "priceLock": a.price_lock,
            "offlineSalesAllowed": a.offline_sales_allowed,
            "requiredReceiptFields": [],
            "responsibleGamingText": a.responsible_gaming_text,
            "claimDeadline": a.claim_deadline,
            "rulesUrl": a.rules_url,
        },
    });
    if let (Some(bp), Some(m)) = (a.jackpot_percentage_bp, configuration.as_object_mut()) {
        m.insert("jackpotPercentageBp".into(), json!(bp));
    }
    let allocation = json!({"ranges": [{"type": "rsu", "start": lo, "end": hi,
                                        "defaultAllocationSize": a.default_allocation_size}]});
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO events (id, name, description, organization_id, venue_id, event_identifier, state, currency,
                             sales_start_time, sales_end_time, draw_time, configuration, ticket_allocation, max_tickets)
         VALUES ($1, $2, $3, $4, $5, $6, 'created', $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(id)
    .bind(a.name.trim())
    .bind(&a.description)
    .bind(a.organization_id)
    .bind(a.venue_id)
    .bind(a.event_identifier.trim())
    .bind(&cur)
    .bind(a.sales_start_time)
    .bind(a.sales_end_time)
    .bind(a.draw_time)
    .bind(&configuration)
    .bind(&allocation)
    .bind(a.max_tickets)
    .execute(pool)
    .await?;
    audit(pool, "events", "INSERT", id, None, json!(a)).await?;
    Ok(json!({"eventId": id, "state": "created"}))
}

struct EventFacts {
    org: Uuid,
    state: EventState,
    currency: String,
    price_lock: bool,
}

async fn event_facts(pool: &PgPool, id: Uuid) -> AppResult<EventFacts> {
    let row: Option<(Uuid, String, String, bool)> = sqlx::query_as(
        "SELECT organization_id, state, currency::text,
                COALESCE((configuration->'jurisdiction'->>'priceLock')::boolean, TRUE)
           FROM events WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let (org, state, currency, price_lock) = row.ok_or_else(|| {
        AppError::not_found("unknown_event", format!("field eventId: no event {id}"))
    })?;
    let state = EventState::parse(&state)
        .ok_or_else(|| AppError::internal("event state", format!("unknown state {state}")))?;
    Ok(EventFacts {
        org,
        state,
        currency,
        price_lock,
    })
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPackage {
    #[arg(long)]
    pub event_id: Uuid,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub ticket_count: u32,
    /// Price of the whole package in minor units (2000 = $20.00).
    #[arg(long)]
    pub price: i64,
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub display_order: i32,
    /// Pricing window start (only when the event's priceLock is false).
    #[arg(long)]
    #[serde(default)]
    pub active_from: Option<DateTime<Utc>>,
    #[arg(long)]
    #[serde(default)]
    pub active_to: Option<DateTime<Utc>>,
}

pub async fn create_package(pool: &PgPool, a: &NewPackage) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    if a.ticket_count == 0 || a.ticket_count > 10_000 {
        return Err(bad("ticketCount", "must be 1 to 10000"));
    }
    if a.price < 0 {
        return Err(bad("price", "must not be negative"));
    }
    let ev = event_facts(pool, a.event_id).await?;
    if matches!(ev.state, EventState::Completed | EventState::Cancelled)
        || ev.state.is_reconciled_or_later()
    {
        return Err(AppError::conflict(
            "event_closed",
            format!("the event is {}: packages can no longer change", ev.state),
        ));
    }
    if ev.price_lock && (a.active_from.is_some() || a.active_to.is_some()) {
        return Err(bad("activeFrom/activeTo", "pricing windows are refused: the event's jurisdiction profile locks prices (priceLock)"));
    }
    if let (Some(f), Some(t)) = (a.active_from, a.active_to) {
        if f >= t {
            return Err(bad("activeTo", "must be after activeFrom"));
        }
    }
    let id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO ticket_packages (id, event_id, name, ticket_count, price, currency, display_order, active_from, active_to)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(a.event_id)
    .bind(a.name.trim())
    .bind(a.ticket_count as i32)
    .bind(a.price)
    .bind(&ev.currency)
    .bind(a.display_order)
    .bind(a.active_from)
    .bind(a.active_to)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO package_price_history (package_id, effective_from, price) VALUES ($1, '1970-01-01T00:00:00Z', $2)")
        .bind(id)
        .bind(a.price)
        .execute(&mut *tx)
        .await?;
    bump_config_version(&mut tx, ev.org).await?;
    tx.commit().await?;
    audit(pool, "ticket_packages", "INSERT", id, None, json!(a)).await?;
    Ok(json!({"packageId": id}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetPackagePrice {
    #[arg(long)]
    pub package_id: Uuid,
    #[arg(long)]
    pub price: i64,
}

/// Changes a package's price for sales from now on. Where the event's jurisdiction locks prices
/// (priceLock), refused once the event has been active: a device may hold offline sales made at
/// the old price, and under priceLock the server has no price history to check them against.
pub async fn set_package_price(pool: &PgPool, a: &SetPackagePrice) -> AppResult<Value> {
    if a.price < 0 {
        return Err(bad("price", "must not be negative"));
    }
    let ev_id: Option<(Uuid, i64)> =
        sqlx::query_as("SELECT event_id, price FROM ticket_packages WHERE id = $1")
            .bind(a.package_id)
            .fetch_optional(pool)
            .await?;
    let (event_id, old) = ev_id.ok_or_else(|| {
        AppError::not_found(
            "unknown_package",
            format!("field packageId: no package {}", a.package_id),
        )
    })?;
    let ev = event_facts(pool, event_id).await?;
    if ev.price_lock {
        let been_active = !matches!(
            ev.state,
            EventState::Created | EventState::Configured | EventState::Cancelled
        ) || sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM critical_events WHERE event_id = $1
                              AND event_type = 'EVENT_STATE_CHANGED' AND metadata->>'newState' = 'active')
                 OR EXISTS (SELECT 1 FROM orders WHERE event_id = $1)",
        )
        .bind(event_id)
        .fetch_one(pool)
        .await?;
        if been_active {
            return Err(AppError::conflict(
                "price_locked",
                format!(
                    "the event is {} and has been active, and its jurisdiction profile locks prices (priceLock): the price cannot change, since devices may hold offline sales at this price; add a new package instead",
                    ev.state
                ),
            ));
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE ticket_packages SET price = $2, updated_at = NOW() WHERE id = $1")
        .bind(a.package_id)
        .bind(a.price)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO package_price_history (package_id, effective_from, price) VALUES ($1, NOW(), $2)")
        .bind(a.package_id)
        .bind(a.price)
        .execute(&mut *tx)
        .await?;
    bump_config_version(&mut tx, ev.org).await?;
    tx.commit().await?;
    audit(
        pool,
        "ticket_packages",
        "UPDATE",
        a.package_id,
        Some(json!({"price": old})),
        json!({"price": a.price}),
    )
    .await?;
    Ok(json!({"packageId": a.package_id, "price": a.price}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPrize {
    #[arg(long)]
    pub event_id: Uuid,
    #[arg(long)]
    pub name: String,
    /// `fixed` or `percentage`.
    #[arg(long = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// Minor units, for fixed prizes.
    #[arg(long)]
    #[serde(default)]
    pub value: Option<i64>,
    /// Basis points of net sales, for percentage prizes.
    #[arg(long)]
    #[serde(default)]
    pub percentage_bp: Option<u32>,
    #[arg(long)]
    pub position: i16,
    #[arg(long, default_value_t = 1)]
    #[serde(default = "one")]
    pub winner_count: i16,
}

fn one() -> i16 {
    1
}

pub async fn create_prize(pool: &PgPool, a: &NewPrize) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    match (a.kind.as_str(), a.value, a.percentage_bp) {
        ("fixed", Some(v), None) if v >= 0 => {}
        ("percentage", None, Some(bp)) if bp <= 10_000 => {}
        ("fixed", ..) => {
            return Err(bad(
                "value",
                "a fixed prize needs a value ≥ 0 in minor units and no percentageBp",
            ))
        }
        ("percentage", ..) => {
            return Err(bad(
                "percentageBp",
                "a percentage prize needs percentageBp 0..10000 and no value",
            ))
        }
        _ => return Err(bad("type", "must be fixed or percentage")),
    }
    if a.position <= 0 || a.winner_count <= 0 {
        return Err(bad("position/winnerCount", "must be 1 or more"));
    }
    let ev = event_facts(pool, a.event_id).await?;
    let id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO prizes (id, event_id, name, type, value, percentage_bp, currency, position, winner_count)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(a.event_id)
    .bind(a.name.trim())
    .bind(&a.kind)
    .bind(a.value)
    .bind(a.percentage_bp.map(|b| b as i32))
    .bind(&ev.currency)
    .bind(a.position)
    .bind(a.winner_count)
    .execute(&mut *tx)
    .await?;
    bump_config_version(&mut tx, ev.org).await?;
    tx.commit().await?;
    audit(pool, "prizes", "INSERT", id, None, json!(a)).await?;
    Ok(json!({"prizeId": id}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
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
        return Err(AppError::conflict(
            "pin_taken",
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

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
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

async fn issue_token(
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

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
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
        return Err(AppError::not_found(
            "unknown_rsu",
            format!("field rsuId: no RSU {}", a.rsu_id),
        ));
    }
    let (token, expires) = issue_token(pool, a.rsu_id, a.token_hours).await?;
    Ok(json!({"rsuId": a.rsu_id, "enrollmentToken": token, "tokenExpiresAt": expires}))
}

/// Revoke one key (and every key it registered by rotation), or with `--rsu-id … --all` every
/// key of an RSU. `admin list-keys --rsu-id …` shows them.
#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
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
                AppError::not_found("unknown_key", format!("field keyId: no key {key_id}"))
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
                return Err(AppError::not_found(
                    "unknown_rsu",
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

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAllocation {
    #[arg(long)]
    pub event_id: Uuid,
    #[arg(long)]
    pub rsu_id: Uuid,
    /// An explicit range; omit both to carve the next `count` numbers of the event's rsu range.
    #[arg(long)]
    #[serde(default)]
    pub start_number: Option<i64>,
    #[arg(long)]
    #[serde(default)]
    pub end_number: Option<i64>,
    #[arg(long)]
    #[serde(default)]
    pub count: Option<u32>,
}

pub async fn create_allocation(pool: &PgPool, a: &NewAllocation) -> AppResult<Value> {
    let ev = event_facts(pool, a.event_id).await?;
    let rsu_org: Option<Uuid> =
        sqlx::query_scalar("SELECT organization_id FROM rsus WHERE id = $1")
            .bind(a.rsu_id)
            .fetch_optional(pool)
            .await?;
    if rsu_org != Some(ev.org) {
        return Err(bad("rsuId", "is not an RSU of the event's organization"));
    }
    let alloc = match (a.start_number, a.end_number) {
        (Some(s), Some(e)) => {
            if a.count.is_some() {
                return Err(bad(
                    "count",
                    "give either startNumber and endNumber or count",
                ));
            }
            let max: i32 = sqlx::query_scalar("SELECT max_tickets FROM events WHERE id = $1")
                .bind(a.event_id)
                .fetch_one(pool)
                .await?;
            if e > i64::from(max) {
                return Err(bad(
                    "endNumber",
                    format!("must not exceed the event's maxTickets {max}"),
                ));
            }
            let mut tx = pool.begin().await?;
            let alloc = insert_allocation(&mut tx, a.event_id, a.rsu_id, s, e, None).await?;
            bump_config_version(&mut tx, ev.org).await?;
            tx.commit().await?;
            alloc
        }
        (None, None) => {
            carve_allocation(pool, ev.org, a.rsu_id, a.event_id, a.count, None, false).await?
        }
        _ => return Err(bad("startNumber/endNumber", "give both or neither")),
    };
    Ok(serde_json::to_value(alloc).unwrap_or(Value::Null))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transition {
    #[arg(long)]
    pub event_id: Uuid,
    /// The new state, e.g. configured, active, suspended, sales_closed, reconciling, …
    #[arg(long)]
    pub to: String,
    #[arg(long)]
    #[serde(default)]
    pub reason: Option<String>,
}

/// Moves an event along the state machine of DESIGN §4, records a critical event and queues
/// suspend/resume/close commands for the organization's RSUs.
pub async fn transition(pool: &PgPool, a: &Transition) -> AppResult<Value> {
    let mut tx = pool.begin().await?;
    let v = transition_in(&mut tx, a).await?;
    tx.commit().await?;
    Ok(v)
}

/// [`transition`] inside the caller's transaction (which commits it): the event row stays
/// locked until then.
pub async fn transition_in(tx: &mut Transaction<'_, Postgres>, a: &Transition) -> AppResult<Value> {
    let to = EventState::parse(&a.to).ok_or_else(|| {
        bad(
            "to",
            format!(
                "{:?} is not an event state (one of {})",
                a.to,
                EventState::ALL.map(|s| s.as_str()).join(", ")
            ),
        )
    })?;
    let row: Option<(Uuid, String, String)> =
        sqlx::query_as("SELECT organization_id, state, name FROM events WHERE id = $1 FOR UPDATE")
            .bind(a.event_id)
            .fetch_optional(&mut **tx)
            .await?;
    let (org, from, name) = row.ok_or_else(|| {
        AppError::not_found(
            "unknown_event",
            format!("field eventId: no event {}", a.event_id),
        )
    })?;
    let from = EventState::parse(&from).ok_or_else(|| AppError::internal("event state", &from))?;
    if !from.can_transition_to(to) {
        return Err(AppError::conflict(
            "invalid_transition",
            format!(
                "field to: the event is {from} and cannot become {to} (DESIGN §4 state machine)"
            ),
        ));
    }
    crate::closeout::gate(tx, a.event_id, from, to).await?;
    if to == EventState::Active && from == EventState::Configured {
        let packages: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM ticket_packages WHERE event_id = $1 AND is_active",
        )
        .bind(a.event_id)
        .fetch_one(&mut **tx)
        .await?;
        if packages == 0 {
            return Err(AppError::conflict(
                "no_packages",
                "the event has no active package: add one before activating it",
            ));
        }
    }
    sqlx::query(
        "UPDATE events SET state = $2, updated_at = NOW(),
                sales_closed_at = CASE WHEN $2 = 'sales_closed' THEN COALESCE(sales_closed_at, NOW()) ELSE sales_closed_at END,
                reconciliation_confirmed_at = CASE WHEN $2 = 'reconciled' THEN NOW() ELSE reconciliation_confirmed_at END
          WHERE id = $1",
    )
    .bind(a.event_id)
    .bind(to.as_str())
    .execute(&mut **tx)
    .await?;
    if to == EventState::SalesClosed {
        crate::draw::commit_seed(tx, a.event_id).await?; // its commitment is published (issue 12)
    }
    sqlx::query(
        "INSERT INTO critical_events (event_type, event_id, severity, description, metadata)
         VALUES ('EVENT_STATE_CHANGED', $1, 'INFO', $2, $3)",
    )
    .bind(a.event_id)
    .bind(format!("Raffle '{name}' transitioned from {from} to {to}"))
    .bind(json!({"previousState": from.as_str(), "newState": to.as_str(), "reason": a.reason}))
    .execute(&mut **tx)
    .await?;
    let command = match (from, to) {
        (_, EventState::Suspended) => Some("suspend"),
        (EventState::Suspended, EventState::Active) => Some("resume"),
        (_, EventState::SalesClosed) | (_, EventState::Cancelled) => Some("close"),
        _ => None,
    };
    if let Some(kind) = command {
        sqlx::query(
            "INSERT INTO rsu_commands (rsu_id, kind, event_id)
             SELECT id, $2, $3 FROM rsus WHERE organization_id = $1 AND is_active",
        )
        .bind(org)
        .bind(kind)
        .bind(a.event_id)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, old_data, new_data)
         VALUES ('events', 'UPDATE', $1, $2, $3)",
    )
    .bind(a.event_id)
    .bind(json!({"state": from.as_str()}))
    .bind(json!({"state": to.as_str(), "reason": a.reason}))
    .execute(&mut **tx)
    .await?;
    bump_config_version(tx, org).await?;
    Ok(json!({"eventId": a.event_id, "previousState": from.as_str(), "state": to.as_str()}))
}

// ----------------------------------------------------------------------------------------------
// The demo
// ----------------------------------------------------------------------------------------------

/// The demo is the kiosk's (`rsu_store::demo_config`, `rsu-app demo-init`): the same
/// organization, event, packages, prices, operators and allocations, so a device enrolled with a
/// seeded server sells the packages the kiosk demo and the README name ("5 tickets").
pub const DEMO_ORGANIZATION: &str = "Riverside Community Foundation";
pub const DEMO_EVENT: &str = "Summer Festival Raffle";

/// The same demo as the kiosk's `rsu-app demo-init`: an organization with a licence number,
/// "Summer Festival Raffle" active now, packages 1 ticket $5 / 5 tickets $20 / 25 tickets $50,
/// a seller (PIN 1111) and a supervisor (PIN 9999), RSU 1 with allocations 1001–1100 and
/// 1101–1200, and a fresh enrollment token. Run again, it only issues a new token.
pub async fn demo_seed(pool: &PgPool) -> AppResult<Value> {
    let existing: Option<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT o.id, r.id FROM organizations o JOIN rsus r ON r.organization_id = o.id AND r.rsu_no = 1
          WHERE o.name = $1 ORDER BY o.created_at LIMIT 1",
    )
    .bind(DEMO_ORGANIZATION)
    .fetch_optional(pool)
    .await?;
    if let Some((org, rsu)) = existing {
        let (token, expires) = issue_token(pool, rsu, 72).await?;
        return Ok(
            json!({"organizationId": org, "rsuId": rsu, "rsuNo": 1, "enrollmentToken": token,
                         "tokenExpiresAt": expires, "alreadySeeded": true}),
        );
    }
    let id_of = |v: &Value, k: &str| -> AppResult<Uuid> {
        v.get(k)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| AppError::internal("demo-seed", format!("missing {k}")))
    };
    let org = create_organization(
        pool,
        &NewOrganization {
            name: DEMO_ORGANIZATION.into(),
            license_number: "LIC-2026-0042".into(),
            currency: "USD".into(),
            validation_number_prefix: "RSU".into(),
            description: Some("Demo organization".into()),
        },
    )
    .await?;
    let org = id_of(&org, "organizationId")?;
    let venue = create_venue(
        pool,
        &NewVenue {
            organization_id: org,
            name: "Riverside Park".into(),
            timezone: "UTC".into(),
            capacity: Some(500),
        },
    )
    .await?;
    let venue = id_of(&venue, "venueId")?;
    let now = Utc::now();
    let sales_end = now + Duration::days(30);
    let draw_time = sales_end + Duration::hours(1);
    let ev = create_event(
        pool,
        &NewEvent {
            organization_id: org,
            venue_id: Some(venue),
            name: DEMO_EVENT.into(),
            event_identifier: "RAFFLE-2026-001".into(),
            currency: Some("USD".into()),
            sales_start_time: now - Duration::hours(1),
            sales_end_time: sales_end,
            draw_time,
            max_tickets: 200_000,
            rsu_range_start: Some(1001),
            rsu_range_end: Some(50_000),
            default_allocation_size: 100,
            jackpot_seed_amount: 100_000,
            jackpot_starting_amount: 0,
            jackpot_percentage_bp: Some(5000),
            price_lock: true,
            offline_sales_allowed: true,
            responsible_gaming_text: "Play responsibly. Help: 1-800-522-4700".into(),
            // Printed after "Claim by " on the receipt.
            claim_deadline: format!(
                "{} (90 days after the draw)",
                (draw_time + Duration::days(90)).format("%Y-%m-%d")
            ),
            rules_url: "https://example.org/raffle-rules".into(),
            description: Some("Annual summer fundraiser raffle".into()),
        },
    )
    .await?;
    let ev = id_of(&ev, "eventId")?;
    for (name, count, price, order) in [
        ("1 ticket", 1, 500, 1),
        ("5 tickets", 5, 2000, 2),
        ("25 tickets", 25, 5000, 3),
    ] {
        create_package(
            pool,
            &NewPackage {
                event_id: ev,
                name: name.into(),
                ticket_count: count,
                price,
                display_order: order,
                active_from: None,
                active_to: None,
            },
        )
        .await?;
    }
    create_prize(
        pool,
        &NewPrize {
            event_id: ev,
            name: "50/50 Winner".into(),
            kind: "percentage".into(),
            value: None,
            percentage_bp: Some(5000),
            position: 1,
            winner_count: 1,
        },
    )
    .await?;
    let seller = create_operator(
        pool,
        &NewOperator {
            organization_id: org,
            name: "Sam Seller".into(),
            role: "seller".into(),
            pin: "1111".into(),
        },
    )
    .await?;
    let supervisor = create_operator(
        pool,
        &NewOperator {
            organization_id: org,
            name: "Pat Supervisor".into(),
            role: "supervisor".into(),
            pin: "9999".into(),
        },
    )
    .await?;
    for to in ["configured", "active"] {
        transition(
            pool,
            &Transition {
                event_id: ev,
                to: to.into(),
                reason: Some("demo-seed".into()),
            },
        )
        .await?;
    }
    let rsu = create_rsu(
        pool,
        &NewRsu {
            organization_id: org,
            name: "RSU-001 Main Gate (demo)".into(),
            rsu_no: Some(1),
            venue_id: Some(venue),
            max_offline_tickets: Some(500),
            token_hours: 72,
        },
    )
    .await?;
    let rsu_id = id_of(&rsu, "rsuId")?;
    for (s, e) in [(1001, 1100), (1101, 1200)] {
        create_allocation(
            pool,
            &NewAllocation {
                event_id: ev,
                rsu_id,
                start_number: Some(s),
                end_number: Some(e),
                count: None,
            },
        )
        .await?;
    }
    Ok(json!({
        "organizationId": org, "venueId": venue, "eventId": ev, "rsuId": rsu_id, "rsuNo": 1,
        "sellerId": seller.get("operatorId"), "supervisorId": supervisor.get("operatorId"),
        "enrollmentToken": rsu.get("enrollmentToken"), "tokenExpiresAt": rsu.get("tokenExpiresAt"),
        "alreadySeeded": false,
    }))
}

// ----------------------------------------------------------------------------------------------
// HTTP
// ----------------------------------------------------------------------------------------------

pub(crate) fn check_admin(st: &AppState, headers: &HeaderMap) -> AppResult<()> {
    let Some(expected) = &st.admin_tag else {
        return Err(AppError::forbidden(
            "admin_disabled",
            "admin HTTP is disabled: set SERVER_STUB_ADMIN_TOKEN on the server",
        ));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            AppError::unauthorized(
                "missing_admin_token",
                "header Authorization: Bearer <admin token> is missing",
            )
        })?;
    ring::hmac::verify(&st.admin_key, given.as_bytes(), expected).map_err(|_| {
        AppError::unauthorized(
            "bad_admin_token",
            "header Authorization: the admin token is wrong",
        )
    })
}

macro_rules! admin_handler {
    ($name:ident, $input:ty, $op:path) => {
        pub async fn $name(
            State(st): State<AppState>,
            headers: HeaderMap,
            body: axum::body::Body,
        ) -> AppResult<Json<Value>> {
            check_admin(&st, &headers)?;
            let bytes = crate::device::read_body(&headers, body, 256 * 1024).await?;
            let input: $input = parse_json(&bytes)?;
            Ok(Json($op(&st.pool, &input).await?))
        }
    };
}

admin_handler!(
    http_create_organization,
    NewOrganization,
    create_organization
);
admin_handler!(http_create_venue, NewVenue, create_venue);
admin_handler!(http_create_event, NewEvent, create_event);
admin_handler!(http_create_package, NewPackage, create_package);
admin_handler!(http_set_package_price, SetPackagePrice, set_package_price);
admin_handler!(http_create_prize, NewPrize, create_prize);
admin_handler!(http_create_operator, NewOperator, create_operator);
admin_handler!(http_create_rsu, NewRsu, create_rsu);
admin_handler!(
    http_create_enrollment_token,
    NewEnrollmentToken,
    create_enrollment_token
);
admin_handler!(http_revoke_key, RevokeKey, revoke_key);
admin_handler!(
    http_list_keys,
    crate::lifecycle::ListKeys,
    crate::lifecycle::list_keys
);
admin_handler!(
    http_set_rsu_state,
    crate::lifecycle::SetRsuState,
    crate::lifecycle::set_rsu_state
);
admin_handler!(
    http_release_withheld,
    crate::lifecycle::ReleaseWithheld,
    crate::lifecycle::release_withheld
);
admin_handler!(http_create_allocation, NewAllocation, create_allocation);
admin_handler!(http_transition, Transition, transition);

pub async fn http_demo_seed(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> AppResult<Json<Value>> {
    check_admin(&st, &headers)?;
    Ok(Json(demo_seed(&st.pool).await?))
}
