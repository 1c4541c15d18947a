//! Admin operations, shared by the CLI (`server-stub admin …`) and HTTP (`/v1/admin/*`, bearer
//! token; the handlers are in `routes/admin/`). Each input struct is both a clap argument set and
//! a camelCase JSON body. One file per resource.

use rsu_core::event::EventState;
use rsu_core::money::Currency;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

mod allocations;
mod events;
mod keys;
pub mod money;
mod operators;
mod organizations;
mod packages;
mod prizes;
mod rsus;
pub mod templates;
mod venues;

// `admin list` and `admin show` (issue 13): read-only views for people and scripts.
pub mod browse;
pub mod list;
pub mod show;
mod table;

pub use allocations::{create_allocation, NewAllocation};
pub use events::{create_event, transition, transition_in, NewEvent, Transition};
pub use keys::{revoke_key, RevokeKey};
pub use operators::{create_operator, NewOperator};
pub use organizations::{create_organization, NewOrganization};
pub use packages::{create_package, set_package_price, NewPackage, SetPackagePrice};
pub use prizes::{create_prize, NewPrize};
pub(crate) use rsus::issue_token;
pub use rsus::{create_enrollment_token, create_rsu, NewEnrollmentToken, NewRsu};
pub use venues::{create_venue, NewVenue};

fn bad(field: &str, why: impl std::fmt::Display) -> AppError {
    AppError::of(ErrorCode::InvalidField, format!("field {field}: {why}"))
}

pub(crate) fn nonempty(field: &str, v: &str) -> AppResult<()> {
    if v.trim().is_empty() {
        Err(bad(field, "must not be empty"))
    } else {
        Ok(())
    }
}

pub(crate) fn currency(field: &str, v: &str) -> AppResult<Currency> {
    Currency::new(v).map_err(|e| bad(field, e))
}

pub(crate) async fn org_exists(pool: &PgPool, id: Uuid) -> AppResult<()> {
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    found.map(|_| ()).ok_or_else(|| {
        AppError::of(
            ErrorCode::UnknownOrganization,
            format!("field organizationId: no organization {id}"),
        )
    })
}

/// Records a change in `audit_log`, by the user of [`crate::accounts::changed_by`].
pub(crate) async fn audit(
    pool: &PgPool,
    table: &str,
    op: &str,
    id: Uuid,
    old: Option<Value>,
    new: Value,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, old_data, new_data, changed_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(table)
    .bind(op)
    .bind(id)
    .bind(old)
    .bind(new)
    .bind(crate::accounts::changed_by())
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) struct EventFacts {
    pub org: Uuid,
    pub state: EventState,
    pub currency: String,
    pub price_lock: bool,
}

pub(crate) async fn event_facts(pool: &PgPool, id: Uuid) -> AppResult<EventFacts> {
    let row: Option<(Uuid, String, String, bool)> = sqlx::query_as(
        "SELECT organization_id, state, currency::text,
                COALESCE((configuration->'jurisdiction'->>'priceLock')::boolean, TRUE)
           FROM events WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let (org, state, currency, price_lock) = row.ok_or_else(|| {
        AppError::of(
            ErrorCode::UnknownEvent,
            format!("field eventId: no event {id}"),
        )
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
