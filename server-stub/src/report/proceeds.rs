//! Where an event's money goes (issue 14; docs/server.md "Proceeds"): net sales, the tax, the
//! prizes, the organization's operating fee, and what is left for the beneficiary. Integer minor
//! units throughout; the rounding rule is per line and documented.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::admin::money::MoneySettings;
use crate::draw::algorithm::{prize_values, Jackpot as DrawJackpot, Prize};
use crate::error::{AppError, AppResult};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Proceeds {
    /// Sales minus voids, every channel.
    pub net_sales: i64,
    pub tax_rate_bp: u32,
    pub tax_included: bool,
    /// The tax on net sales: contained in the prices (`taxIncluded`) or owed on top.
    pub tax: i64,
    /// What the prizes pay: the draw's values once drawn, else the values the prizes would have
    /// with today's net sales.
    pub prizes: i64,
    pub prizes_drawn: bool,
    /// `percentage`, `fixed` or `none`.
    pub operating_fee_type: String,
    pub operating_fee: i64,
    /// Net sales − tax − prizes − operating fee. Negative when the event lost money.
    pub net_to_beneficiary: i64,
}

/// `round(a × num / den)`, halves away from zero, exact in 128 bits.
fn round_div(a: i64, num: i64, den: i64) -> i64 {
    if den == 0 {
        return 0;
    }
    let p = i128::from(a) * i128::from(num);
    let d = i128::from(den);
    let q = (p.abs() + d / 2) / d;
    let q = if p < 0 { -q } else { q };
    i64::try_from(q).unwrap_or(i64::MAX)
}

/// The tax on `net`: `round(net × r / (10000 + r))` when prices include it, else
/// `round(net × r / 10000)`, r in basis points.
pub fn tax_of(net: i64, rate_bp: u32, included: bool) -> i64 {
    let r = i64::from(rate_bp);
    if included {
        round_div(net, r, 10_000 + r)
    } else {
        round_div(net, r, 10_000)
    }
}

/// The operating fee: `round(net × bp / 10000)` or the fixed amount.
pub fn fee_of(net: i64, s: &MoneySettings) -> i64 {
    match s.operating_fee_type.as_str() {
        "percentage" => round_div(net, i64::from(s.operating_fee_bp), 10_000),
        "fixed" => s.operating_fee_fixed,
        _ => 0,
    }
}

/// The proceeds of `event_id` with net sales `net`, read inside the report's transaction.
pub async fn proceeds(
    conn: &mut PgConnection,
    event_id: Uuid,
    org: Uuid,
    configuration: &Value,
    net: i64,
) -> AppResult<Proceeds> {
    let settings: Value = sqlx::query_scalar("SELECT settings FROM organizations WHERE id = $1")
        .bind(org)
        .fetch_one(&mut *conn)
        .await?;
    let s = MoneySettings::from_settings(&settings);
    let drawn: Option<i64> = sqlx::query_scalar(
        "SELECT SUM(r.prize_value_at_draw)::BIGINT FROM draw_results r
           JOIN draw_executions x ON x.id = r.draw_execution_id
          WHERE x.event_id = $1 AND x.kind = 'draw'",
    )
    .bind(event_id)
    .fetch_one(&mut *conn)
    .await?;
    let prizes = match drawn {
        Some(v) => v,
        None => planned_prizes(&mut *conn, event_id, configuration, net).await?,
    };
    let tax = tax_of(net, s.tax_rate_bp, s.tax_included);
    let operating_fee = fee_of(net, &s);
    Ok(Proceeds {
        net_sales: net,
        tax_rate_bp: s.tax_rate_bp,
        tax_included: s.tax_included,
        tax,
        prizes,
        prizes_drawn: drawn.is_some(),
        operating_fee_type: s.operating_fee_type.clone(),
        operating_fee,
        net_to_beneficiary: net - tax - prizes - operating_fee,
    })
}

/// The prizes' total as the draw would value them now (docs/draw.md "Prize values").
async fn planned_prizes(
    conn: &mut PgConnection,
    event_id: Uuid,
    configuration: &Value,
    net: i64,
) -> AppResult<i64> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        name: String,
        position: i16,
        kind: String,
        value: Option<i64>,
        percentage_bp: Option<i32>,
        winner_count: i16,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, position, type AS kind, value, percentage_bp, winner_count
           FROM prizes WHERE event_id = $1 ORDER BY position, id",
    )
    .bind(event_id)
    .fetch_all(&mut *conn)
    .await?;
    let prizes: Vec<Prize> = rows
        .into_iter()
        .map(|r| Prize {
            prize_id: r.id,
            name: r.name,
            position: r.position,
            kind: r.kind,
            value: r.value,
            percentage_bp: r.percentage_bp.and_then(|b| u32::try_from(b).ok()),
            winner_count: u32::try_from(r.winner_count).unwrap_or(1),
            value_per_winner: 0,
        })
        .collect();
    let jackpot = configuration
        .get("jackpotPercentageBp")
        .and_then(Value::as_u64)
        .map(|bp| DrawJackpot {
            seed_amount: configuration["jackpotSeedAmount"].as_i64().unwrap_or(0),
            starting_amount: configuration["jackpotStartingAmount"].as_i64().unwrap_or(0),
            percentage_bp: u32::try_from(bp).unwrap_or(0),
            amount: 0,
        });
    let values = prize_values(&prizes, net.max(0), jackpot.as_ref())
        .map_err(|e| AppError::internal("prize values", e))?;
    Ok(prizes
        .iter()
        .zip(values)
        .map(|(p, v)| v.saturating_mul(i64::from(p.winner_count)))
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_contained_in_prices_and_owed_on_top_round_half_away_from_zero() {
        // $1,000.00 at 8.25 %: on top 82.50; contained 1000 × 8.25 / 108.25 = 76.212… → 76.21.
        assert_eq!(tax_of(100_000, 825, false), 8_250);
        assert_eq!(tax_of(100_000, 825, true), 7_621);
        // 0.5 of a cent rounds up: 10 × 5 % = 0.50 cent → 1 cent? 10 × 500 / 10000 = 0.5 → 1.
        assert_eq!(tax_of(10, 500, false), 1);
        assert_eq!(tax_of(0, 825, true), 0);
        assert_eq!(tax_of(-100_000, 825, false), -8_250);
    }

    #[test]
    fn the_fee_is_a_percentage_of_net_sales_or_fixed() {
        let pct = MoneySettings {
            operating_fee_type: "percentage".into(),
            operating_fee_bp: 450,
            ..MoneySettings::default()
        };
        assert_eq!(fee_of(100_000, &pct), 4_500);
        let fixed = MoneySettings {
            operating_fee_type: "fixed".into(),
            operating_fee_fixed: 5_000,
            ..MoneySettings::default()
        };
        assert_eq!(fee_of(100_000, &fixed), 5_000);
        assert_eq!(fee_of(100_000, &MoneySettings::default()), 0);
    }
}
