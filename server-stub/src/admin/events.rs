//! Events: creating one, and moving it along the state machine of DESIGN §4 (with the gate of
//! [`crate::closeout::gate`] and the commands queued for the RSUs).

use chrono::{DateTime, Utc};
use rsu_core::event::EventState;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::{audit, bad, currency, nonempty};
use crate::config_version::bump_config_version;
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
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
        return Err(AppError::of(
            ErrorCode::UnknownOrganization,
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
    crate::jurisdictions::check_new_event(
        pool,
        &crate::jurisdictions::EventPlan {
            venue_id: a.venue_id,
            currency: &cur,
            sales_start_time: a.sales_start_time,
            sales_end_time: a.sales_end_time,
            price_lock: a.price_lock,
            offline_sales_allowed: a.offline_sales_allowed,
            jackpot_seed_amount: a.jackpot_seed_amount,
        },
        &mut configuration,
    )
    .await?;
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
    Ok(json!({"eventId": id, "state": EventState::Created.as_str()}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
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
        AppError::of(
            ErrorCode::UnknownEvent,
            format!("field eventId: no event {}", a.event_id),
        )
    })?;
    let from = EventState::parse(&from).ok_or_else(|| AppError::internal("event state", &from))?;
    if !from.can_transition_to(to) {
        return Err(AppError::of(
            ErrorCode::InvalidTransition,
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
            return Err(AppError::of(
                ErrorCode::NoPackages,
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
        "INSERT INTO audit_log (table_name, operation, record_id, old_data, new_data, changed_by)
         VALUES ('events', 'UPDATE', $1, $2, $3, $4)",
    )
    .bind(a.event_id)
    .bind(json!({"state": from.as_str()}))
    .bind(json!({"state": to.as_str(), "reason": a.reason}))
    .bind(crate::accounts::changed_by())
    .execute(&mut **tx)
    .await?;
    bump_config_version(tx, org).await?;
    Ok(json!({"eventId": a.event_id, "previousState": from.as_str(), "state": to.as_str()}))
}
