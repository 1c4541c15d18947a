//! Perks per device for one event: allocated, issued, claimed, voided and released units
//! (`admin perk-report --event E`, and the `perks` of each RSU in the reconciliation report).
//!
//! `allocated` is the sum of the device's allocations' `quantity` (units given); `issued` counts
//! the units its sales issued that the server holds (voided sales included, as the device counts
//! them); `claimed` those handed out at the desk; `voided` those of voided sales not handed out;
//! `released` the units given back at close. For an inventory perk, once the device closed,
//! `allocated = issued + released`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

/// One perk on one device.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PerkLine {
    pub perk_id: Uuid,
    pub perk_name: String,
    pub requires_inventory: bool,
    /// Units given to the device (None for a perk without inventory).
    pub allocated: Option<i64>,
    pub issued: i64,
    pub claimed: i64,
    pub voided: i64,
    pub released: i64,
    /// Every allocation of this perk on the device is released.
    pub closed: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    rsu_id: Uuid,
    perk_id: Uuid,
    perk_name: String,
    requires_inventory: bool,
    allocated: Option<i64>,
    released: i64,
    open_allocations: i64,
    issued: i64,
    claimed: i64,
    voided: i64,
}

/// Per RSU, its perk lines for the event, by perk name.
pub async fn perks_by_rsu(
    conn: &mut PgConnection,
    event_id: Uuid,
) -> AppResult<BTreeMap<Uuid, Vec<PerkLine>>> {
    let rows: Vec<Row> = sqlx::query_as(
        "WITH a AS (
             SELECT rsu_id, perk_id, SUM(quantity)::int8 AS allocated, SUM(released)::int8 AS released,
                    COUNT(*) FILTER (WHERE state = 'active') AS open_allocations
               FROM perk_allocations WHERE event_id = $1 GROUP BY rsu_id, perk_id),
         c AS (
             SELECT rsu_id, perk_id, COUNT(*) AS issued,
                    COUNT(*) FILTER (WHERE status = 'claimed') AS claimed,
                    COUNT(*) FILTER (WHERE status = 'voided') AS voided
               FROM perk_claims WHERE event_id = $1 AND rsu_id IS NOT NULL GROUP BY rsu_id, perk_id)
         SELECT COALESCE(a.rsu_id, c.rsu_id) AS rsu_id, p.id AS perk_id, p.name AS perk_name,
                p.requires_inventory, a.allocated, COALESCE(a.released, 0) AS released,
                COALESCE(a.open_allocations, 0) AS open_allocations,
                COALESCE(c.issued, 0) AS issued, COALESCE(c.claimed, 0) AS claimed,
                COALESCE(c.voided, 0) AS voided
           FROM a FULL JOIN c ON c.rsu_id = a.rsu_id AND c.perk_id = a.perk_id
           JOIN perks p ON p.id = COALESCE(a.perk_id, c.perk_id)
          ORDER BY p.name, p.id",
    )
    .bind(event_id)
    .fetch_all(conn)
    .await?;
    let mut out: BTreeMap<Uuid, Vec<PerkLine>> = BTreeMap::new();
    for r in rows {
        out.entry(r.rsu_id).or_default().push(PerkLine {
            perk_id: r.perk_id,
            perk_name: r.perk_name,
            requires_inventory: r.requires_inventory,
            allocated: if r.requires_inventory {
                Some(r.allocated.unwrap_or(0))
            } else {
                None
            },
            issued: r.issued,
            claimed: r.claimed,
            voided: r.voided,
            released: r.released,
            closed: r.allocated.is_some() && r.open_allocations == 0,
        });
    }
    Ok(out)
}

#[derive(Clone, Debug, clap::Args, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PerkReport {
    #[arg(long = "event", alias = "event-id")]
    pub event_id: Uuid,
}

/// `admin perk-report --event E`: per device (by RSU number), its perk lines, and the totals per
/// perk.
pub async fn perk_report(pool: &PgPool, a: &PerkReport) -> AppResult<Value> {
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM events WHERE id = $1")
        .bind(a.event_id)
        .fetch_optional(pool)
        .await?;
    if found.is_none() {
        return Err(AppError::of(
            ErrorCode::UnknownEvent,
            format!("field eventId: no event {}", a.event_id),
        ));
    }
    let mut conn = pool.acquire().await?;
    let by_rsu = perks_by_rsu(&mut conn, a.event_id).await?;
    let ids: Vec<Uuid> = by_rsu.keys().copied().collect();
    let names: Vec<(Uuid, i32, String)> =
        sqlx::query_as("SELECT id, rsu_no, name FROM rsus WHERE id = ANY($1) ORDER BY rsu_no")
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?;
    let mut totals: BTreeMap<(String, Uuid), PerkLine> = BTreeMap::new();
    let mut rsus = Vec::with_capacity(names.len());
    for (id, no, name) in names {
        let lines = by_rsu.get(&id).cloned().unwrap_or_default();
        for l in &lines {
            let t = totals
                .entry((l.perk_name.clone(), l.perk_id))
                .or_insert_with(|| PerkLine {
                    perk_id: l.perk_id,
                    perk_name: l.perk_name.clone(),
                    requires_inventory: l.requires_inventory,
                    allocated: l.allocated.map(|_| 0),
                    closed: true,
                    ..PerkLine::default()
                });
            t.allocated = t.allocated.map(|x| x + l.allocated.unwrap_or(0));
            t.issued += l.issued;
            t.claimed += l.claimed;
            t.voided += l.voided;
            t.released += l.released;
            t.closed &= l.closed;
        }
        rsus.push(json!({"rsuId": id, "rsuNo": no, "name": name, "perks": lines}));
    }
    Ok(json!({
        "eventId": a.event_id,
        "rsus": rsus,
        "totals": totals.into_values().collect::<Vec<_>>(),
    }))
}
