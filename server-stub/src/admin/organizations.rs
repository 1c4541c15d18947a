//! Organizations: the licensee running raffles, with its currency and validation-number prefix.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{audit, bad, currency, nonempty};
use crate::error::AppResult;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewOrganization {
    #[arg(long)]
    pub name: String,
    /// The gaming licence number printed on every receipt.
    #[arg(long)]
    pub license_number: String,
    #[arg(long, default_value = "USD")]
    #[serde(default = "usd")]
    pub currency: String,
    /// `rsuSettings.validationNumberPrefix`: 1 to 8 upper-case letters.
    #[arg(long, default_value = "RSU")]
    #[serde(default = "rsu_prefix")]
    pub validation_number_prefix: String,
    #[arg(long)]
    #[serde(default)]
    pub description: Option<String>,
}

fn usd() -> String {
    "USD".into()
}
fn rsu_prefix() -> String {
    "RSU".into()
}

pub async fn create_organization(pool: &PgPool, a: &NewOrganization) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    nonempty("licenseNumber", &a.license_number)?;
    currency("currency", &a.currency)?;
    let p = &a.validation_number_prefix;
    if p.is_empty() || p.len() > 8 || !p.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(bad(
            "validationNumberPrefix",
            "use 1 to 8 upper-case letters",
        ));
    }
    let settings = json!({"rsuSettings": {"validationNumberPrefix": p,
        "defaultValidationNumberBlockSize": 100, "offlineSyncTimeoutMinutes": 30}});
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO organizations (id, name, description, license_number, primary_currency, settings)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(a.name.trim())
    .bind(&a.description)
    .bind(a.license_number.trim())
    .bind(&a.currency)
    .bind(&settings)
    .execute(pool)
    .await?;
    audit(pool, "organizations", "INSERT", id, None, json!(a)).await?;
    Ok(json!({"organizationId": id}))
}
