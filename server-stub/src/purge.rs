//! Data retention (issue 14; docs/server.md "Data retention"): `server-stub admin purge` removes
//! what the system configuration's `dataRetention` settings allow, and nothing else:
//!
//! - **Ticket data** of a `completed` event whose draw time is more than `ticketDataDays` ago
//!   (or longer, where a `data_retention` regulation of the event's jurisdiction says so): the
//!   orders and tickets that did not win are deleted, and every order's `customer_info` is
//!   cleared. The winning tickets, their orders and claims, the draw, the event, its packages and
//!   prizes and the device journal (the hash chain later events are verified against, which holds
//!   no personal data) stay. An event in any other state is never touched.
//! - **Critical events** older than `criticalEventsDays`, except those of an event that is not
//!   `completed` or `cancelled`.
//! - **Audit entries** older than `auditLogDays` (never a younger one).
//! - Housekeeping: refused claim attempts after 90 days, ended dashboard sessions after 30.
//!
//! Everything runs in one transaction; `--dry-run` runs the same statements and rolls back, so
//! its counts are exactly what a real run would remove. A real run records a `DATA_PURGED`
//! critical event with the counts.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::AppResult;

#[derive(Clone, Debug, clap::Args, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Purge {
    /// Count what would be removed, and remove nothing.
    #[arg(long)]
    #[serde(default)]
    pub dry_run: bool,
}

/// The retention periods in force (days).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    pub ticket_data_days: i64,
    pub critical_events_days: i64,
    pub audit_log_days: i64,
}

/// What a purge removed (or, dry, would remove).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PurgeCounts {
    pub events: Vec<Uuid>,
    pub orders_deleted: u64,
    pub tickets_deleted: u64,
    pub customer_info_cleared: u64,
    pub critical_events_deleted: u64,
    pub audit_entries_deleted: u64,
    pub claim_attempts_deleted: u64,
    pub sessions_deleted: u64,
}

/// The retention settings of the system configuration in force now; the seed's defaults
/// (7 years of ticket data and audit, 3 years of critical events) where one is missing.
pub async fn retention(pool: &PgPool) -> AppResult<Retention> {
    let s: Option<Value> = sqlx::query_scalar(
        "SELECT settings->'dataRetention' FROM system_configurations
          WHERE effective_from <= NOW() AND (effective_to IS NULL OR effective_to > NOW())
          ORDER BY effective_from DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?
    .flatten();
    let s = s.unwrap_or(Value::Null);
    let days = |k: &str, d: i64| s[k].as_i64().filter(|v| *v > 0).unwrap_or(d);
    Ok(Retention {
        ticket_data_days: days("ticketDataDays", 2555),
        critical_events_days: days("criticalEventsDays", 1095),
        audit_log_days: days("auditLogDays", 2555),
    })
}

pub async fn purge(pool: &PgPool, a: &Purge) -> AppResult<Value> {
    let r = retention(pool).await?;
    let mut tx = pool.begin().await?;
    let candidates: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, draw_time FROM events
          WHERE state = 'completed' AND draw_time < NOW() - make_interval(days => $1)
            AND ticket_data_purged_at IS NULL
          ORDER BY draw_time, id FOR UPDATE",
    )
    .bind(r.ticket_data_days as i32)
    .fetch_all(&mut *tx)
    .await?;
    let mut c = PurgeCounts::default();
    let mut kept_by_regulation = Vec::new();
    for (id, draw_time) in candidates {
        // A data_retention regulation of the event's jurisdiction may require longer.
        match crate::jurisdictions::ticket_data_days(pool, id).await? {
            Some(days) if draw_time > Utc::now() - Duration::days(days) => {
                kept_by_regulation.push(id)
            }
            _ => c.events.push(id),
        }
    }
    if !c.events.is_empty() {
        c.tickets_deleted = sqlx::query(
            "DELETE FROM tickets t WHERE t.event_id = ANY($1)
               AND NOT EXISTS (SELECT 1 FROM tickets w JOIN draw_results d ON d.winning_ticket_id = w.id
                                WHERE w.order_id = t.order_id)",
        )
        .bind(&c.events)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        c.orders_deleted = sqlx::query(
            "DELETE FROM orders o WHERE o.event_id = ANY($1)
               AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.order_id = o.id)
               AND NOT EXISTS (SELECT 1 FROM prize_claims pc WHERE pc.order_id = o.id)",
        )
        .bind(&c.events)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        c.customer_info_cleared = sqlx::query(
            "UPDATE orders SET customer_info = NULL
              WHERE event_id = ANY($1) AND customer_info IS NOT NULL",
        )
        .bind(&c.events)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("UPDATE events SET ticket_data_purged_at = NOW() WHERE id = ANY($1)")
            .bind(&c.events)
            .execute(&mut *tx)
            .await?;
    }
    c.critical_events_deleted = sqlx::query(
        "DELETE FROM critical_events ce
          WHERE ce.timestamp < NOW() - make_interval(days => $1)
            AND (ce.event_id IS NULL OR EXISTS (SELECT 1 FROM events e WHERE e.id = ce.event_id
                                                  AND e.state IN ('completed', 'cancelled')))",
    )
    .bind(r.critical_events_days as i32)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    c.audit_entries_deleted =
        sqlx::query("DELETE FROM audit_log WHERE changed_at < NOW() - make_interval(days => $1)")
            .bind(r.audit_log_days as i32)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    c.claim_attempts_deleted =
        sqlx::query("DELETE FROM claim_attempts WHERE attempted_at < NOW() - INTERVAL '90 days'")
            .execute(&mut *tx)
            .await?
            .rows_affected();
    c.sessions_deleted = sqlx::query(
        "DELETE FROM admin_sessions
          WHERE LEAST(COALESCE(revoked_at, expires_at), expires_at) < NOW() - INTERVAL '30 days'",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if a.dry_run {
        tx.rollback().await?;
    } else {
        sqlx::query(
            "INSERT INTO critical_events (event_type, severity, description, metadata)
             VALUES ('DATA_PURGED', 'INFO', 'admin purge removed data past its retention', $1)",
        )
        .bind(json!({"retention": r, "counts": c}))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(json!({"dryRun": a.dry_run, "retention": r, "removed": c,
               "keptByRegulation": kept_by_regulation}))
}
