//! Prizes of an event.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{audit, bad, event_facts, nonempty};
use crate::config_version::bump_config_version;
use crate::error::AppResult;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
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
    if let Some(v) = a.value {
        crate::jurisdictions::check_prize_value(pool, a.event_id, v).await?;
    }
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
