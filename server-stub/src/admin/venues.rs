//! Venues: where events take place, with their time zone.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{audit, nonempty, org_exists};
use crate::error::AppResult;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewVenue {
    #[arg(long)]
    pub organization_id: Uuid,
    #[arg(long)]
    pub name: String,
    /// IANA time zone used on receipts, e.g. America/Los_Angeles.
    #[arg(long, default_value = "UTC")]
    #[serde(default = "utc")]
    pub timezone: String,
    #[arg(long)]
    #[serde(default)]
    pub capacity: Option<i32>,
}

fn utc() -> String {
    "UTC".into()
}

pub async fn create_venue(pool: &PgPool, a: &NewVenue) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    nonempty("timezone", &a.timezone)?;
    org_exists(pool, a.organization_id).await?;
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO venues (id, organization_id, name, timezone, capacity) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(a.organization_id)
        .bind(a.name.trim())
        .bind(&a.timezone)
        .bind(a.capacity)
        .execute(pool)
        .await?;
    audit(pool, "venues", "INSERT", id, None, json!(a)).await?;
    Ok(json!({"venueId": id}))
}
