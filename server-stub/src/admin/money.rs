//! An organization's money settings (seed 002 `settings.taxSettings` and `operatingFee`): the
//! tax rate and whether ticket prices include it, and the operating fee. Stored in
//! `organizations.settings` in basis points and minor units, never as floats; the reconciliation
//! report turns them into the event's proceeds (docs/server.md "Proceeds").

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{audit, bad, org_exists};
use crate::error::AppResult;

/// Parses a percentage written in decimal (`8.25`, `4.5`, `10`) into basis points, exactly:
/// at most two decimals, 0 to 100.
pub fn percent_to_bp(field: &str, text: &str) -> AppResult<u32> {
    let t = text.trim().trim_end_matches('%').trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let dotted = t.contains('.');
    if !digits(whole) || !(!dotted || (digits(frac) && frac.len() <= 2)) {
        return Err(bad(
            field,
            format!("{text:?} is not a percentage like 8.25 (at most two decimals)"),
        ));
    }
    let whole: u32 = whole
        .parse()
        .map_err(|_| bad(field, format!("{text:?} is too large")))?;
    let frac: u32 = format!("{frac:0<2}").parse().unwrap_or(0);
    let bp = whole.saturating_mul(100).saturating_add(frac);
    if bp > 10_000 {
        return Err(bad(field, format!("{text} % is more than 100 %")));
    }
    Ok(bp)
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetMoneySettings {
    #[arg(long)]
    pub organization_id: Uuid,
    /// The tax rate in percent (`8.25`), at most two decimals; 0 for none.
    #[arg(long)]
    #[serde(default)]
    pub tax_rate: Option<String>,
    /// Ticket prices already include the tax (otherwise the tax is owed on top of net sales).
    #[arg(long)]
    #[serde(default)]
    pub tax_included: Option<bool>,
    /// The operating fee as a percentage of net sales (`4.5`).
    #[arg(long, conflicts_with = "operating_fee_fixed")]
    #[serde(default)]
    pub operating_fee_percent: Option<String>,
    /// The operating fee as a fixed amount per event, minor units (5000 = $50.00).
    #[arg(long)]
    #[serde(default)]
    pub operating_fee_fixed: Option<i64>,
}

/// The money settings as the report reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneySettings {
    pub tax_rate_bp: u32,
    pub tax_included: bool,
    /// `percentage` (of net sales), `fixed` (per event) or `none`.
    pub operating_fee_type: String,
    pub operating_fee_bp: u32,
    pub operating_fee_fixed: i64,
}

impl MoneySettings {
    /// Reads them from `organizations.settings`; absent parts mean no tax and no fee.
    pub fn from_settings(settings: &Value) -> MoneySettings {
        let tax = &settings["taxSettings"];
        let fee = &settings["operatingFee"];
        let bp = |v: &Value| v.as_u64().and_then(|b| u32::try_from(b).ok()).unwrap_or(0);
        MoneySettings {
            tax_rate_bp: bp(&tax["taxRateBp"]),
            tax_included: tax["taxIncluded"].as_bool().unwrap_or(false),
            operating_fee_type: fee["type"].as_str().unwrap_or("none").to_string(),
            operating_fee_bp: bp(&fee["percentBp"]),
            operating_fee_fixed: fee["value"].as_i64().unwrap_or(0),
        }
    }
}

pub async fn set_money_settings(pool: &PgPool, a: &SetMoneySettings) -> AppResult<Value> {
    org_exists(pool, a.organization_id).await?;
    if a.operating_fee_percent.is_some() && a.operating_fee_fixed.is_some() {
        return Err(bad(
            "operatingFee",
            "give either operatingFeePercent or operatingFeeFixed, not both",
        ));
    }
    if a.operating_fee_fixed.is_some_and(|v| v < 0) {
        return Err(bad("operatingFeeFixed", "must not be negative"));
    }
    let rate = a
        .tax_rate
        .as_deref()
        .map(|t| percent_to_bp("taxRate", t))
        .transpose()?;
    let fee_bp = a
        .operating_fee_percent
        .as_deref()
        .map(|t| percent_to_bp("operatingFeePercent", t))
        .transpose()?;
    let mut tx = pool.begin().await?;
    let old: Value =
        sqlx::query_scalar("SELECT settings FROM organizations WHERE id = $1 FOR UPDATE")
            .bind(a.organization_id)
            .fetch_one(&mut *tx)
            .await?;
    let mut new = old.clone();
    if !new.is_object() {
        new = json!({});
    }
    if rate.is_some() || a.tax_included.is_some() {
        let cur = MoneySettings::from_settings(&old);
        new["taxSettings"] = json!({
            "taxRateBp": rate.unwrap_or(cur.tax_rate_bp),
            "taxIncluded": a.tax_included.unwrap_or(cur.tax_included),
        });
    }
    if let Some(bp) = fee_bp {
        new["operatingFee"] = json!({"type": "percentage", "percentBp": bp});
    } else if let Some(v) = a.operating_fee_fixed {
        new["operatingFee"] = json!({"type": "fixed", "value": v});
    }
    sqlx::query("UPDATE organizations SET settings = $2, updated_at = NOW() WHERE id = $1")
        .bind(a.organization_id)
        .bind(&new)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let settings = MoneySettings::from_settings(&new);
    audit(
        pool,
        "organizations",
        "UPDATE",
        a.organization_id,
        Some(json!({"taxSettings": old["taxSettings"], "operatingFee": old["operatingFee"]})),
        json!({"taxSettings": new["taxSettings"], "operatingFee": new["operatingFee"]}),
    )
    .await?;
    Ok(json!({"organizationId": a.organization_id, "moneySettings": settings}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_become_exact_basis_points() {
        assert_eq!(percent_to_bp("f", "8.25").ok(), Some(825));
        assert_eq!(percent_to_bp("f", "4.5").ok(), Some(450));
        assert_eq!(percent_to_bp("f", "10").ok(), Some(1000));
        assert_eq!(percent_to_bp("f", "0").ok(), Some(0));
        assert_eq!(percent_to_bp("f", "100").ok(), Some(10_000));
        assert_eq!(percent_to_bp("f", "7.5%").ok(), Some(750));
        for bad in ["", "8.255", "-1", "abc", "100.01", "1e2", ".5", "5."] {
            assert!(percent_to_bp("f", bad).is_err(), "{bad:?} was accepted");
        }
    }
}
