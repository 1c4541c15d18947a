//! The organization's configuration version: every change a device must pull bumps it, and a
//! device's heartbeat answer carries it, so the device knows when to pull again.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// Bumps the configuration version of `org_id` inside the caller's transaction.
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

/// Bumps the configuration version of the organization that holds `event_id`, for changes that
/// are about one event (its draw results, which devices carry in their configuration).
pub async fn bump_config_version_of_event(
    conn: &mut sqlx::PgConnection,
    event_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organizations SET config_version = config_version + 1, updated_at = NOW()
          WHERE id = (SELECT organization_id FROM events WHERE id = $1)",
    )
    .bind(event_id)
    .execute(conn)
    .await?;
    Ok(())
}
