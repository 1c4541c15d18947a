//! Allocations: ranges of ticket numbers an RSU may sell. Carved from the event's `rsu` range
//! (a device's top-up, an admin's `allocate --count`) or given explicitly (`allocate --start-number
//! … --end-number …`); every insert is audited.

use rsu_core::config::AllocationConfig;
use rsu_core::event::EventState;
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::config_version::bump_config_version;
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

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
        return Err(AppError::of(
            ErrorCode::UnknownEvent,
            format!("field eventId: {event_id} is not an event of this RSU's organization"),
        ));
    };
    let state = EventState::parse(&state)
        .ok_or_else(|| AppError::internal("event state", format!("unknown state {state}")))?;
    if !matches!(
        state,
        EventState::Configured | EventState::Active | EventState::Suspended
    ) {
        return Err(AppError::of(
            ErrorCode::EventNotAllocating,
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
            AppError::of(
                ErrorCode::NoRsuRange,
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
            return Err(AppError::of(
                ErrorCode::InvalidField,
                "field count must be 1 or more",
            ))
        }
        Some(c) if c > 100_000 => {
            return Err(AppError::of(
                ErrorCode::InvalidField,
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
            return Err(AppError::of(
                ErrorCode::AllocationCap,
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
        return Err(AppError::of(
            ErrorCode::RangeExhausted,
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
            return Err(AppError::of(
                ErrorCode::InvalidField,
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
