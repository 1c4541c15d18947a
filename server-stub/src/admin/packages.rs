//! Ticket packages of an event and their prices.

use chrono::{DateTime, Utc};
use rsu_core::event::EventState;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{audit, bad, event_facts, nonempty};
use crate::config_version::bump_config_version;
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
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
        return Err(AppError::of(
            ErrorCode::EventClosed,
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
    crate::jurisdictions::check_package_price(pool, a.event_id, a.price, a.ticket_count).await?;
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

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
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
    let ev_id: Option<(Uuid, i64, i32)> =
        sqlx::query_as("SELECT event_id, price, ticket_count FROM ticket_packages WHERE id = $1")
            .bind(a.package_id)
            .fetch_optional(pool)
            .await?;
    let (event_id, old, ticket_count) = ev_id.ok_or_else(|| {
        AppError::of(
            ErrorCode::UnknownPackage,
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
            return Err(AppError::of(
                ErrorCode::PriceLocked,
                format!(
                    "the event is {} and has been active, and its jurisdiction profile locks prices (priceLock): the price cannot change, since devices may hold offline sales at this price; add a new package instead",
                    ev.state
                ),
            ));
        }
    }
    crate::jurisdictions::check_package_price(
        pool,
        event_id,
        a.price,
        u32::try_from(ticket_count).unwrap_or(1),
    )
    .await?;
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
