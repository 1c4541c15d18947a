//! A device's life on the server (docs/sync.md "Replacement, rotation and recovery"): what a new
//! epoch may sell from, the highest sale seq seen per RSU, an RSU's keys (listing, revoking all,
//! marking the RSU lost), and giving withheld ranges back once an administrator confirms the
//! previous database's journal reached the server.

use chrono::{DateTime, Utc};
use rsu_core::config::AllocationConfig;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

/// Withholds, at the enrollment of `epoch`, every range of this RSU an earlier epoch may have
/// sold from without syncing: ranges that existed when an earlier epoch last pulled
/// configuration, are not released and still have numbers the server has not seen sold.
/// Returns their ids.
pub async fn withhold_for_new_epoch(
    tx: &mut Transaction<'_, Postgres>,
    rsu_id: Uuid,
    epoch: i32,
) -> AppResult<Vec<Uuid>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE rsu_allocations a
            SET withheld_at = NOW(),
                withheld_reason = format('epoch %s of this RSU may have sold from it without syncing', $2::int4 - 1)
          WHERE a.rsu_id = $1 AND a.withheld_at IS NULL AND a.state <> 'released'
            AND a.released_from IS NULL AND a.next_draw_number <= a.end_number
            AND a.allocated_at <= (SELECT max(config_pulled_at) FROM rsu_epochs
                                    WHERE rsu_id = $1 AND epoch < $2)
          RETURNING a.id",
    )
    .bind(rsu_id)
    .bind(epoch)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids)
}

/// The highest sale seq the server has received from this RSU in any epoch, rejected sales
/// included (their receipts were printed).
pub async fn last_sale_seq<'e, E: sqlx::PgExecutor<'e>>(ex: E, rsu_id: Uuid) -> AppResult<u64> {
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT max((payload->>'saleSeq')::int8) FROM device_journal
          WHERE rsu_id = $1 AND kind = 'sale' AND payload->>'saleSeq' ~ '^[0-9]{1,18}$'",
    )
    .bind(rsu_id)
    .fetch_one(ex)
    .await?;
    Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
}

/// Records that the RSU's current epoch pulled configuration (or received a range): from now
/// on it may hold every range that exists.
pub async fn mark_config_pulled(pool: &PgPool, rsu_id: Uuid) -> AppResult<()> {
    sqlx::query(
        "UPDATE rsu_epochs e SET config_pulled_at = NOW()
           FROM rsus r WHERE r.id = $1 AND e.rsu_id = r.id AND e.epoch = r.current_epoch",
    )
    .bind(rsu_id)
    .execute(pool)
    .await?;
    Ok(())
}

type AllocRow = (
    Uuid,
    Uuid,
    i32,
    i32,
    String,
    Option<i32>,
    i32,
    Option<DateTime<Utc>>,
);

/// The RSU's ranges as configuration shows them, only for events that configuration carries
/// (states `configured` to `drawing_ready`), each with its state and the next number nobody
/// has sold as far as the server knows (sold, voided, or printed on a sale it rejected).
pub async fn allocations_for_config(
    pool: &PgPool,
    rsu_id: Uuid,
) -> AppResult<Vec<AllocationConfig>> {
    let rows: Vec<AllocRow> = sqlx::query_as(
        "SELECT a.id, a.event_id, a.start_number, a.end_number, a.state, a.released_from,
                a.next_draw_number, a.withheld_at
           FROM rsu_allocations a JOIN events e ON e.id = a.event_id
          WHERE a.rsu_id = $1 AND e.state NOT IN ('created', 'completed', 'cancelled')
          ORDER BY a.event_id, a.start_number",
    )
    .bind(rsu_id)
    .fetch_all(pool)
    .await?;
    // Numbers printed on sales the server rejected are not tickets, but a customer holds them.
    let rejected: Vec<i64> = sqlx::query_scalar(
        "SELECT n::int8 FROM device_journal dj,
                LATERAL jsonb_array_elements_text(
                    CASE WHEN jsonb_typeof(dj.payload->'drawNumbers') = 'array'
                         THEN dj.payload->'drawNumbers' ELSE '[]'::jsonb END) n
          WHERE dj.rsu_id = $1 AND dj.kind = 'sale' AND dj.status <> 'applied' AND n ~ '^[0-9]{1,9}$'",
    )
    .bind(rsu_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, event_id, s, e, state, rel, next, withheld)| {
            let (start, end) = (i64::from(s), i64::from(e));
            let printed = rejected
                .iter()
                .filter(|n| (start..=end).contains(*n))
                .max()
                .map_or(start, |n| n + 1);
            let next = i64::from(next).max(printed).clamp(start, end + 1);
            let state = if rel.is_some() || state == "released" {
                "released"
            } else if next > end || state == "exhausted" {
                "exhausted"
            } else if withheld.is_some() {
                "withheld"
            } else {
                "active"
            };
            AllocationConfig {
                id,
                event_id,
                start_number: start,
                end_number: end,
                state: state.into(),
                next_number: Some(next),
            }
        })
        .collect())
}

// ----------------------------------------------------------------------------------------------
// Admin: keys, lost RSUs, withheld ranges
// ----------------------------------------------------------------------------------------------

async fn rsu_exists(pool: &PgPool, rsu_id: Uuid) -> AppResult<()> {
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM rsus WHERE id = $1")
        .bind(rsu_id)
        .fetch_optional(pool)
        .await?;
    found.map(|_| ()).ok_or_else(|| {
        AppError::of(
            ErrorCode::UnknownRsu,
            format!("field rsuId: no RSU {rsu_id}"),
        )
    })
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListKeys {
    #[arg(long)]
    pub rsu_id: Uuid,
}

/// Every key an RSU ever had, newest first: which key registered it (rotation), whether it
/// was used, expiry and revocation.
pub async fn list_keys(pool: &PgPool, a: &ListKeys) -> AppResult<Value> {
    rsu_exists(pool, a.rsu_id).await?;
    type Row = (
        Uuid,
        DateTime<Utc>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<String>,
        Option<Uuid>,
        Option<DateTime<Utc>>,
        Option<i32>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT k.id, k.valid_from, k.expires_at, k.revoked_at, k.revoked_reason, k.registered_by,
                k.confirmed_at, (SELECT e.epoch FROM rsu_epochs e WHERE e.key_id = k.id)
           FROM rsu_keys k WHERE k.rsu_id = $1 ORDER BY k.valid_from DESC, k.id DESC",
    )
    .bind(a.rsu_id)
    .fetch_all(pool)
    .await?;
    let now = Utc::now();
    let keys: Vec<Value> = rows
        .into_iter()
        .map(
            |(id, from, expires, revoked_at, reason, by, confirmed, epoch)| {
                let status = if revoked_at.is_some() {
                    "revoked"
                } else if expires <= now {
                    "expired"
                } else if confirmed.is_none() {
                    "pending"
                } else {
                    "active"
                };
                json!({"keyId": id, "status": status, "validFrom": from, "expiresAt": expires,
                       "revokedAt": revoked_at, "revokedReason": reason, "registeredBy": by,
                       "firstUsedAt": confirmed, "enrolledEpoch": epoch})
            },
        )
        .collect();
    Ok(json!({"rsuId": a.rsu_id, "keys": keys}))
}

/// Revokes the given keys and every key registered from them by rotation, transitively.
/// Returns the ids revoked now.
pub async fn revoke_keys_and_successors(
    tx: &mut Transaction<'_, Postgres>,
    rsu_id: Uuid,
    roots: &[Uuid],
    reason: &str,
) -> AppResult<Vec<Uuid>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "WITH RECURSIVE chain(id) AS (
             SELECT id FROM rsu_keys WHERE rsu_id = $1 AND id = ANY($2)
             UNION
             SELECT k.id FROM rsu_keys k JOIN chain c ON k.registered_by = c.id
         )
         UPDATE rsu_keys SET revoked_at = NOW(), revoked_reason = $3
          WHERE id IN (SELECT id FROM chain) AND revoked_at IS NULL
          RETURNING id",
    )
    .bind(rsu_id)
    .bind(roots)
    .bind(reason)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids)
}

/// Revokes every key of the RSU. Returns the ids revoked now.
pub async fn revoke_all_keys(
    tx: &mut Transaction<'_, Postgres>,
    rsu_id: Uuid,
    reason: &str,
) -> AppResult<Vec<Uuid>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE rsu_keys SET revoked_at = NOW(), revoked_reason = $2
          WHERE rsu_id = $1 AND revoked_at IS NULL RETURNING id",
    )
    .bind(rsu_id)
    .bind(reason)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids)
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRsuState {
    #[arg(long)]
    pub rsu_id: Uuid,
    /// `lost`, `decommissioned` (both revoke every key of the RSU) or `active`.
    #[arg(long)]
    pub state: String,
    #[arg(long)]
    pub reason: String,
}

/// Marks an RSU lost or decommissioned (every key revoked: a thief's rotated keys included) or
/// active again (it then needs a new enrollment token: its keys stay revoked).
pub async fn set_rsu_state(pool: &PgPool, a: &SetRsuState) -> AppResult<Value> {
    if a.reason.trim().is_empty() {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            "field reason: must not be empty",
        ));
    }
    if !matches!(a.state.as_str(), "lost" | "decommissioned" | "active") {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            format!(
                "field state: {:?} is not one of lost, decommissioned, active",
                a.state
            ),
        ));
    }
    let mut tx = pool.begin().await?;
    let old: Option<String> = sqlx::query_scalar("SELECT state FROM rsus WHERE id = $1 FOR UPDATE")
        .bind(a.rsu_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(old) = old else {
        return Err(AppError::of(
            ErrorCode::UnknownRsu,
            format!("field rsuId: no RSU {}", a.rsu_id),
        ));
    };
    sqlx::query("UPDATE rsus SET state = $2, updated_at = NOW() WHERE id = $1")
        .bind(a.rsu_id)
        .bind(&a.state)
        .execute(&mut *tx)
        .await?;
    let revoked = if a.state == "active" {
        Vec::new()
    } else {
        revoke_all_keys(&mut tx, a.rsu_id, &format!("RSU {}: {}", a.state, a.reason)).await?
    };
    sqlx::query(
        "INSERT INTO critical_events (event_type, rsu_id, severity, description, metadata)
         VALUES ('RSU_STATE_CHANGED', $1, 'WARNING', $2, $3)",
    )
    .bind(a.rsu_id)
    .bind(format!(
        "RSU {} → {}: {} ({} key(s) revoked)",
        old,
        a.state,
        a.reason,
        revoked.len()
    ))
    .bind(json!({"from": old, "to": a.state, "reason": a.reason, "revokedKeys": revoked}))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, old_data, new_data, changed_by)
         VALUES ('rsus', 'UPDATE', $1, $2, $3, $4)",
    )
    .bind(a.rsu_id)
    .bind(json!({"state": old}))
    .bind(json!({"state": a.state, "reason": a.reason}))
    .bind(crate::accounts::changed_by())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(json!({"rsuId": a.rsu_id, "state": a.state, "previousState": old, "revokedKeys": revoked}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseWithheld {
    #[arg(long)]
    pub rsu_id: Uuid,
    /// How you know the previous database's journal reached the server (synced, imported).
    #[arg(long)]
    pub note: String,
}

/// Gives an RSU's withheld ranges back to its current epoch, once an administrator confirms
/// that the previous database's journal was synced or imported: the device then sells from one
/// past the highest number the server holds for each.
pub async fn release_withheld(pool: &PgPool, a: &ReleaseWithheld) -> AppResult<Value> {
    if a.note.trim().is_empty() {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            "field note: say how the previous journal reached the server",
        ));
    }
    rsu_exists(pool, a.rsu_id).await?;
    let mut tx = pool.begin().await?;
    let rows: Vec<(Uuid, i32, i32, i32)> = sqlx::query_as(
        "UPDATE rsu_allocations SET withheld_at = NULL, withheld_reason = NULL
          WHERE rsu_id = $1 AND withheld_at IS NOT NULL
          RETURNING id, start_number, end_number, next_draw_number",
    )
    .bind(a.rsu_id)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Err(AppError::of(
            ErrorCode::NothingWithheld,
            format!("RSU {} has no withheld ranges", a.rsu_id),
        ));
    }
    let ranges: Vec<Value> = rows
        .iter()
        .map(|(id, s, e, n)| json!({"allocationId": id, "startNumber": s, "endNumber": e, "nextNumber": n}))
        .collect();
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, new_data, changed_by)
         VALUES ('rsu_allocations', 'UPDATE', $1, $2, $3)",
    )
    .bind(a.rsu_id)
    .bind(json!({"released": "withheld", "note": a.note, "ranges": ranges}))
    .bind(crate::accounts::changed_by())
    .execute(&mut *tx)
    .await?;
    let org: Uuid = sqlx::query_scalar("SELECT organization_id FROM rsus WHERE id = $1")
        .bind(a.rsu_id)
        .fetch_one(&mut *tx)
        .await?;
    crate::config_version::bump_config_version(&mut tx, org).await?;
    tx.commit().await?;
    Ok(json!({"rsuId": a.rsu_id, "ranges": ranges}))
}
