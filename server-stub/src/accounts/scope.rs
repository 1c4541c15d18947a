//! The organization an admin request touches, found from the ids it carries (an event, an RSU, a
//! package, a key, a journal entry), so the handler can ask [`super::Principal::require`] before
//! anything changes. An unknown id answers the operation's own `unknown_…` error.

use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

/// The organization of an event (`unknown_event` when there is none).
pub async fn of_event(pool: &PgPool, event: Uuid) -> AppResult<Uuid> {
    Ok(crate::admin::event_facts(pool, event).await?.org)
}

/// The organization of an RSU (`unknown_rsu` when there is none).
pub async fn of_rsu(pool: &PgPool, rsu: Uuid) -> AppResult<Uuid> {
    let org: Option<Uuid> = sqlx::query_scalar("SELECT organization_id FROM rsus WHERE id = $1")
        .bind(rsu)
        .fetch_optional(pool)
        .await?;
    org.ok_or_else(|| AppError::of(ErrorCode::UnknownRsu, format!("field rsuId: no RSU {rsu}")))
}

/// The organization of a ticket package (`unknown_package` when there is none).
pub async fn of_package(pool: &PgPool, package: Uuid) -> AppResult<Uuid> {
    let org: Option<Uuid> = sqlx::query_scalar(
        "SELECT e.organization_id FROM ticket_packages p JOIN events e ON e.id = p.event_id
          WHERE p.id = $1",
    )
    .bind(package)
    .fetch_optional(pool)
    .await?;
    org.ok_or_else(|| {
        AppError::of(
            ErrorCode::UnknownPackage,
            format!("field packageId: no package {package}"),
        )
    })
}

/// The organization of a device key (`unknown_key` when there is none).
pub async fn of_key(pool: &PgPool, key: Uuid) -> AppResult<Uuid> {
    let org: Option<Uuid> = sqlx::query_scalar(
        "SELECT r.organization_id FROM rsu_keys k JOIN rsus r ON r.id = k.rsu_id WHERE k.id = $1",
    )
    .bind(key)
    .fetch_optional(pool)
    .await?;
    org.ok_or_else(|| AppError::of(ErrorCode::UnknownKey, format!("field keyId: no key {key}")))
}

/// The organizations of the journal entries or seq conflict with this id (usually one; none
/// when the id is unknown, which the operation then reports).
pub async fn of_entry(pool: &PgPool, entry: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT r.organization_id FROM device_journal d JOIN rsus r ON r.id = d.rsu_id
          WHERE d.entry_id = $1
         UNION
         SELECT r.organization_id FROM journal_conflicts c JOIN rsus r ON r.id = c.rsu_id
          WHERE c.id = $1",
    )
    .bind(entry)
    .fetch_all(pool)
    .await?)
}

/// The organization of a venue (`invalid_field` naming the venue when there is none).
pub async fn of_venue(pool: &PgPool, venue: Uuid) -> AppResult<Uuid> {
    let org: Option<Uuid> = sqlx::query_scalar("SELECT organization_id FROM venues WHERE id = $1")
        .bind(venue)
        .fetch_optional(pool)
        .await?;
    org.ok_or_else(|| {
        AppError::of(
            ErrorCode::InvalidField,
            format!("field venueId: no venue {venue}"),
        )
    })
}
