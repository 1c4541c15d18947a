//! Allocations made by an administrator: an explicit range or the next `count` numbers.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{bad, event_facts};
use crate::allocations::{carve_allocation, insert_allocation};
use crate::config_version::bump_config_version;
use crate::error::AppResult;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAllocation {
    #[arg(long)]
    pub event_id: Uuid,
    #[arg(long)]
    pub rsu_id: Uuid,
    /// An explicit range; omit both to carve the next `count` numbers of the event's rsu range.
    #[arg(long)]
    #[serde(default)]
    pub start_number: Option<i64>,
    #[arg(long)]
    #[serde(default)]
    pub end_number: Option<i64>,
    #[arg(long)]
    #[serde(default)]
    pub count: Option<u32>,
}

pub async fn create_allocation(pool: &PgPool, a: &NewAllocation) -> AppResult<Value> {
    let ev = event_facts(pool, a.event_id).await?;
    let rsu_org: Option<Uuid> =
        sqlx::query_scalar("SELECT organization_id FROM rsus WHERE id = $1")
            .bind(a.rsu_id)
            .fetch_optional(pool)
            .await?;
    if rsu_org != Some(ev.org) {
        return Err(bad("rsuId", "is not an RSU of the event's organization"));
    }
    let alloc = match (a.start_number, a.end_number) {
        (Some(s), Some(e)) => {
            if a.count.is_some() {
                return Err(bad(
                    "count",
                    "give either startNumber and endNumber or count",
                ));
            }
            let max: i32 = sqlx::query_scalar("SELECT max_tickets FROM events WHERE id = $1")
                .bind(a.event_id)
                .fetch_one(pool)
                .await?;
            if e > i64::from(max) {
                return Err(bad(
                    "endNumber",
                    format!("must not exceed the event's maxTickets {max}"),
                ));
            }
            let mut tx = pool.begin().await?;
            let alloc = insert_allocation(
                &mut tx,
                a.event_id,
                a.rsu_id,
                s,
                e,
                crate::accounts::changed_by(),
            )
            .await?;
            bump_config_version(&mut tx, ev.org).await?;
            tx.commit().await?;
            alloc
        }
        (None, None) => {
            carve_allocation(
                pool,
                ev.org,
                a.rsu_id,
                a.event_id,
                a.count,
                crate::accounts::changed_by(),
                false,
            )
            .await?
        }
        _ => return Err(bad("startNumber/endNumber", "give both or neither")),
    };
    Ok(serde_json::to_value(alloc).unwrap_or(Value::Null))
}
