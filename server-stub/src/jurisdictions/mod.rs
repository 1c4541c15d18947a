//! Jurisdictions and their regulations (seed 002; issue 14; docs/server.md "Jurisdictions").
//!
//! A venue belongs to a jurisdiction; jurisdictions form a hierarchy (country → state or
//! province → local). The regulations **in force** for an event are those of the venue's
//! jurisdiction and its ancestors whose `effective_date ≤ t < expiration_date` at the event's
//! sales start `t`. Per regulation type, the root's applies first; walking down to the venue's
//! jurisdiction, a child's regulation of the same type replaces it only where the one in place is
//! `overridable` — otherwise the child's is ignored (and listed so). Within one jurisdiction the
//! latest effective one of a type counts.
//!
//! The regulations then refuse what breaks them, naming the regulation (event creation, package
//! prices, prizes), and derive the event's jurisdiction profile (DESIGN §4).

pub mod admin;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

/// The regulation types of seed 002.
pub const TYPES: [&str; 6] = [
    "ticket_price_limit",
    "prize_limit",
    "event_duration",
    "sales_method",
    "reporting_requirement",
    "data_retention",
];

/// The receipt fields a `reporting_requirement` may require beyond DESIGN §5's fixed content.
pub const RECEIPT_FIELDS: [&str; 4] = [
    "licenseeAddress",
    "venueName",
    "operatorName",
    "organizationPhone",
];

fn bad(field: &str, why: impl std::fmt::Display) -> AppError {
    AppError::of(ErrorCode::InvalidField, format!("field {field}: {why}"))
}

/// `ticket_price_limit` (the most one ticket may cost: package price ÷ tickets, rounded up) and
/// `prize_limit` (the most a fixed prize or the jackpot seed may be).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AmountLimit {
    /// Minor units.
    pub amount: i64,
    pub currency: String,
}

/// `event_duration`: the longest sales window.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DurationLimit {
    pub max_days: i64,
}

/// `sales_method`: how tickets may be sold.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SalesMethod {
    #[serde(default)]
    pub offline_sales_allowed: Option<bool>,
    #[serde(default)]
    pub price_lock: Option<bool>,
}

/// `reporting_requirement`: what the receipt and the public must be told.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reporting {
    #[serde(default)]
    pub required_receipt_fields: Vec<String>,
    #[serde(default)]
    pub responsible_gaming_text: Option<String>,
    #[serde(default)]
    pub claim_deadline: Option<String>,
}

/// `data_retention`: keep ticket data at least this long (the longer of this and the system
/// setting applies).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retention {
    pub ticket_data_days: i64,
}

/// Checks a regulation's value against its type's shape.
pub fn check_value(kind: &str, v: &Value) -> AppResult<()> {
    fn parse<T: serde::de::DeserializeOwned>(kind: &str, v: &Value) -> AppResult<T> {
        serde_json::from_value(v.clone()).map_err(|e| {
            bad(
                "value",
                format!("not a {kind} value ({e}); see docs/server.md \"Jurisdictions\""),
            )
        })
    }
    match kind {
        "ticket_price_limit" | "prize_limit" => {
            let a: AmountLimit = parse(kind, v)?;
            if a.amount < 0 {
                return Err(bad("value.amount", "must not be negative"));
            }
            rsu_core::money::Currency::new(&a.currency).map_err(|e| bad("value.currency", e))?;
        }
        "event_duration" => {
            let d: DurationLimit = parse(kind, v)?;
            if d.max_days <= 0 {
                return Err(bad("value.maxDays", "must be 1 or more"));
            }
        }
        "sales_method" => {
            let _: SalesMethod = parse(kind, v)?;
        }
        "reporting_requirement" => {
            let r: Reporting = parse(kind, v)?;
            if let Some(f) = r
                .required_receipt_fields
                .iter()
                .find(|f| !RECEIPT_FIELDS.contains(&f.as_str()))
            {
                return Err(bad(
                    "value.requiredReceiptFields",
                    format!(
                        "{f:?} is not a receipt field; use {}",
                        RECEIPT_FIELDS.join(", ")
                    ),
                ));
            }
        }
        "data_retention" => {
            let r: Retention = parse(kind, v)?;
            if r.ticket_data_days <= 0 {
                return Err(bad("value.ticketDataDays", "must be 1 or more"));
            }
        }
        _ => return Err(bad("type", format!("must be one of {}", TYPES.join(", ")))),
    }
    Ok(())
}

/// One regulation as it applies.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Regulation {
    pub regulation_id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: Value,
    pub jurisdiction_code: String,
    pub overridable: bool,
    pub effective_date: DateTime<Utc>,
    pub expiration_date: Option<DateTime<Utc>>,
}

impl Regulation {
    /// "prize_limit \"Maximum prize value\" of CA-US".
    pub fn label(&self) -> String {
        format!(
            "{} {:?} of {}",
            self.kind, self.name, self.jurisdiction_code
        )
    }

    fn as_<T: serde::de::DeserializeOwned>(&self) -> AppResult<T> {
        serde_json::from_value(self.value.clone())
            .map_err(|e| AppError::internal("regulation value", e))
    }
}

/// The regulations in force for one jurisdiction at one time.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InForce {
    /// By type, the regulation that applies.
    pub applies: BTreeMap<String, Regulation>,
    /// Regulations of a child that could not replace a parent's non-overridable one.
    pub ignored: Vec<Regulation>,
}

impl InForce {
    fn get<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
    ) -> AppResult<Option<(T, &Regulation)>> {
        match self.applies.get(kind) {
            Some(r) => Ok(Some((r.as_()?, r))),
            None => Ok(None),
        }
    }
}

/// The regulations in force at `at` for jurisdiction `id` (see the module documentation).
pub async fn in_force(pool: &PgPool, id: Uuid, at: DateTime<Utc>) -> AppResult<InForce> {
    // The chain root → … → id.
    let chain: Vec<(Uuid, String)> = sqlx::query_as(
        "WITH RECURSIVE up(id, code, parent, depth) AS (
             SELECT id, code, parent_jurisdiction_id, 0 FROM jurisdictions WHERE id = $1
           UNION ALL
             SELECT j.id, j.code, j.parent_jurisdiction_id, up.depth + 1
               FROM jurisdictions j JOIN up ON j.id = up.parent WHERE up.depth < 16)
         SELECT id, code FROM up ORDER BY depth DESC",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    if chain.is_empty() {
        return Err(AppError::of(
            ErrorCode::InvalidField,
            format!("no jurisdiction {id}: `server-stub admin list-jurisdictions` shows them"),
        ));
    }
    let mut out = InForce::default();
    for (jid, code) in chain {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: Uuid,
            name: String,
            kind: String,
            value: Value,
            overridable: bool,
            effective_date: DateTime<Utc>,
            expiration_date: Option<DateTime<Utc>>,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT DISTINCT ON (type) id, name, type AS kind, value, overridable,
                    effective_date, expiration_date
               FROM jurisdiction_regulations
              WHERE jurisdiction_id = $1 AND effective_date <= $2
                AND (expiration_date IS NULL OR expiration_date > $2)
              ORDER BY type, effective_date DESC, id",
        )
        .bind(jid)
        .bind(at)
        .fetch_all(pool)
        .await?;
        for r in rows {
            let reg = Regulation {
                regulation_id: r.id,
                name: r.name,
                kind: r.kind.clone(),
                value: r.value,
                jurisdiction_code: code.clone(),
                overridable: r.overridable,
                effective_date: r.effective_date,
                expiration_date: r.expiration_date,
            };
            match out.applies.get(&r.kind) {
                Some(parent) if !parent.overridable => out.ignored.push(reg),
                _ => {
                    out.applies.insert(r.kind, reg);
                }
            }
        }
    }
    Ok(out)
}

fn breaks(reg: &Regulation, what: impl std::fmt::Display) -> AppError {
    AppError::of(
        ErrorCode::RegulationBreached,
        format!("{what}: this breaks regulation {}", reg.label()),
    )
}

/// What an event needs checked at creation.
#[derive(Debug)]
pub struct EventPlan<'a> {
    pub venue_id: Option<Uuid>,
    pub currency: &'a str,
    pub sales_start_time: DateTime<Utc>,
    pub sales_end_time: DateTime<Utc>,
    pub price_lock: bool,
    pub offline_sales_allowed: bool,
    pub jackpot_seed_amount: i64,
}

/// The jurisdiction of a venue (`None` when the venue has none).
async fn venue_jurisdiction(pool: &PgPool, venue: Uuid) -> AppResult<Option<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT jurisdiction_id FROM venues WHERE id = $1")
            .bind(venue)
            .fetch_optional(pool)
            .await?
            .flatten(),
    )
}

/// Checks a new event against the regulations in force at its sales start and changes its
/// jurisdiction profile (`configuration.jurisdiction`) as they require: required receipt fields
/// are added, a regulation's responsible-gaming text and claim deadline replace the given ones,
/// and the regulations applied are listed under `regulations`. Refused, naming the regulation,
/// when the sales window is too long, offline sales or pricing windows are not allowed, or the
/// jackpot seed is over the prize limit.
pub async fn check_new_event(
    pool: &PgPool,
    plan: &EventPlan<'_>,
    profile: &mut Value,
) -> AppResult<()> {
    let Some(venue) = plan.venue_id else {
        return Ok(());
    };
    let Some(jid) = venue_jurisdiction(pool, venue).await? else {
        return Ok(());
    };
    let f = in_force(pool, jid, plan.sales_start_time).await?;
    if let Some((d, reg)) = f.get::<DurationLimit>("event_duration")? {
        let days = (plan.sales_end_time - plan.sales_start_time).num_seconds() as f64 / 86_400.0;
        if days > d.max_days as f64 {
            return Err(breaks(
                reg,
                format!(
                    "the sales window is {days:.1} days, more than the {} allowed",
                    d.max_days
                ),
            ));
        }
    }
    if let Some((m, reg)) = f.get::<SalesMethod>("sales_method")? {
        if m.offline_sales_allowed == Some(false) && plan.offline_sales_allowed {
            return Err(breaks(
                reg,
                "offline sales are not allowed here: create the event with --offline-sales-allowed false",
            ));
        }
        if m.price_lock == Some(true) && !plan.price_lock {
            return Err(breaks(
                reg,
                "prices must stay fixed here: create the event with --price-lock true",
            ));
        }
    }
    if let Some((l, reg)) = f.get::<AmountLimit>("prize_limit")? {
        check_amount(
            reg,
            &l,
            plan.currency,
            plan.jackpot_seed_amount,
            "the jackpot seed",
        )?;
    }
    let j = &mut profile["jurisdiction"];
    if let Some((r, _)) = f.get::<Reporting>("reporting_requirement")? {
        let mut fields: Vec<String> = j["requiredReceiptFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        for x in r.required_receipt_fields {
            if !fields.contains(&x) {
                fields.push(x);
            }
        }
        j["requiredReceiptFields"] = json!(fields);
        if let Some(t) = r.responsible_gaming_text {
            j["responsibleGamingText"] = json!(t);
        }
        if let Some(c) = r.claim_deadline {
            j["claimDeadline"] = json!(c);
        }
    }
    j["jurisdictionCode"] = json!(f
        .applies
        .values()
        .next()
        .map(|r| r.jurisdiction_code.clone()));
    j["regulations"] = json!(f
        .applies
        .values()
        .map(
            |r| json!({"regulationId": r.regulation_id, "type": r.kind, "name": r.name,
                        "jurisdictionCode": r.jurisdiction_code})
        )
        .collect::<Vec<_>>());
    Ok(())
}

fn check_amount(
    reg: &Regulation,
    l: &AmountLimit,
    currency: &str,
    amount: i64,
    what: &str,
) -> AppResult<()> {
    if l.currency != currency {
        return Err(breaks(
            reg,
            format!(
                "{what} is in {currency} but the limit is in {}: the limit cannot be checked",
                l.currency
            ),
        ));
    }
    if amount > l.amount {
        return Err(breaks(
            reg,
            format!(
                "{what} is {amount}, more than the {} allowed (minor units)",
                l.amount
            ),
        ));
    }
    Ok(())
}

/// The regulations in force for an event (its venue's jurisdiction at its sales start), with its
/// currency; `None` when the event's venue has no jurisdiction.
async fn event_in_force(pool: &PgPool, event_id: Uuid) -> AppResult<Option<(InForce, String)>> {
    let row: Option<(Option<Uuid>, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT v.jurisdiction_id, e.sales_start_time, e.currency::text
           FROM events e LEFT JOIN venues v ON v.id = e.venue_id WHERE e.id = $1",
    )
    .bind(event_id)
    .fetch_optional(pool)
    .await?;
    match row {
        Some((Some(j), at, cur)) => Ok(Some((in_force(pool, j, at).await?, cur))),
        _ => Ok(None),
    }
}

/// A package's price against `ticket_price_limit`: one ticket (price ÷ tickets, rounded up)
/// must not cost more than the limit.
pub async fn check_package_price(
    pool: &PgPool,
    event_id: Uuid,
    price: i64,
    ticket_count: u32,
) -> AppResult<()> {
    let Some((f, cur)) = event_in_force(pool, event_id).await? else {
        return Ok(());
    };
    if let Some((l, reg)) = f.get::<AmountLimit>("ticket_price_limit")? {
        let n = i64::from(ticket_count.max(1));
        let each = (price + n - 1) / n;
        check_amount(reg, &l, &cur, each, "one ticket of this package")?;
    }
    Ok(())
}

/// A fixed prize's value against `prize_limit`.
pub async fn check_prize_value(pool: &PgPool, event_id: Uuid, value: i64) -> AppResult<()> {
    let Some((f, cur)) = event_in_force(pool, event_id).await? else {
        return Ok(());
    };
    if let Some((l, reg)) = f.get::<AmountLimit>("prize_limit")? {
        check_amount(reg, &l, &cur, value, "the prize")?;
    }
    Ok(())
}

/// The ticket-data retention a `data_retention` regulation requires for an event, in days.
pub async fn ticket_data_days(pool: &PgPool, event_id: Uuid) -> AppResult<Option<i64>> {
    let Some((f, _)) = event_in_force(pool, event_id).await? else {
        return Ok(None);
    };
    Ok(f.get::<Retention>("data_retention")?
        .map(|(r, _)| r.ticket_data_days))
}
