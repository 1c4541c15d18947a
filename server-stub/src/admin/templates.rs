//! Package and prize templates (seed 000 `ticket_package_templates`, `prize_templates`): an
//! organization's reusable packages and prizes, and an event's packages and prizes made from them
//! in one command.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    audit, bad, create_package, create_prize, currency, event_facts, nonempty, org_exists,
    NewPackage, NewPrize,
};
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPackageTemplate {
    #[arg(long)]
    pub organization_id: Uuid,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    #[serde(default)]
    pub description: Option<String>,
    #[arg(long)]
    pub ticket_count: u32,
    /// Price of the whole package in minor units (2000 = $20.00).
    #[arg(long)]
    pub price: i64,
    /// ISO 4217; the organization's primary currency when omitted.
    #[arg(long)]
    #[serde(default)]
    pub currency: Option<String>,
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub display_order: i32,
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPrizeTemplate {
    #[arg(long)]
    pub organization_id: Uuid,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    #[serde(default)]
    pub description: Option<String>,
    /// `fixed` or `percentage`.
    #[arg(long = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// Minor units, for fixed prizes.
    #[arg(long)]
    #[serde(default)]
    pub value: Option<i64>,
    /// Basis points of net sales, for percentage prizes (5000 = 50 %).
    #[arg(long)]
    #[serde(default)]
    pub percentage_bp: Option<u32>,
}

async fn org_currency(pool: &PgPool, org: Uuid) -> AppResult<String> {
    org_exists(pool, org).await?;
    let c: String =
        sqlx::query_scalar("SELECT primary_currency::text FROM organizations WHERE id = $1")
            .bind(org)
            .fetch_one(pool)
            .await?;
    Ok(c)
}

pub async fn create_package_template(pool: &PgPool, a: &NewPackageTemplate) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    if a.ticket_count == 0 || a.ticket_count > 10_000 {
        return Err(bad("ticketCount", "must be 1 to 10000"));
    }
    if a.price < 0 {
        return Err(bad("price", "must not be negative"));
    }
    let cur = match &a.currency {
        Some(c) => {
            currency("currency", c)?;
            org_exists(pool, a.organization_id).await?;
            c.clone()
        }
        None => org_currency(pool, a.organization_id).await?,
    };
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO ticket_package_templates
           (id, organization_id, name, description, ticket_count, price, currency, display_order)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(a.organization_id)
    .bind(a.name.trim())
    .bind(&a.description)
    .bind(a.ticket_count as i32)
    .bind(a.price)
    .bind(&cur)
    .bind(a.display_order)
    .execute(pool)
    .await?;
    audit(
        pool,
        "ticket_package_templates",
        "INSERT",
        id,
        None,
        json!(a),
    )
    .await?;
    Ok(json!({"packageTemplateId": id}))
}

pub async fn create_prize_template(pool: &PgPool, a: &NewPrizeTemplate) -> AppResult<Value> {
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
    let cur = org_currency(pool, a.organization_id).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO prize_templates
           (id, organization_id, name, description, type, value, percentage_bp, currency)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(a.organization_id)
    .bind(a.name.trim())
    .bind(&a.description)
    .bind(&a.kind)
    .bind(a.value)
    .bind(a.percentage_bp.map(|b| b as i32))
    .bind(&cur)
    .execute(pool)
    .await?;
    audit(pool, "prize_templates", "INSERT", id, None, json!(a)).await?;
    Ok(json!({"prizeTemplateId": id}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListTemplates {
    #[arg(long)]
    pub organization_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct PackageTemplateRow {
    id: Uuid,
    name: String,
    description: Option<String>,
    ticket_count: i32,
    price: i64,
    currency: String,
    display_order: Option<i32>,
}

#[derive(sqlx::FromRow)]
struct PrizeTemplateRow {
    id: Uuid,
    name: String,
    description: Option<String>,
    kind: String,
    value: Option<i64>,
    percentage_bp: Option<i32>,
}

/// The organization's active templates, packages by display order, prizes by name.
pub async fn list_templates(pool: &PgPool, a: &ListTemplates) -> AppResult<Value> {
    org_exists(pool, a.organization_id).await?;
    let packages: Vec<PackageTemplateRow> =
        sqlx::query_as(
            "SELECT id, name, description, ticket_count, price, currency::text AS currency, display_order
               FROM ticket_package_templates
              WHERE organization_id = $1 AND is_active
              ORDER BY display_order NULLS LAST, name",
        )
        .bind(a.organization_id)
        .fetch_all(pool)
        .await?;
    let prizes: Vec<PrizeTemplateRow> = sqlx::query_as(
        "SELECT id, name, description, type AS kind, value, percentage_bp
               FROM prize_templates WHERE organization_id = $1 ORDER BY name, id",
    )
    .bind(a.organization_id)
    .fetch_all(pool)
    .await?;
    Ok(json!({
        "packageTemplates": packages.into_iter().map(|p| json!({
            "packageTemplateId": p.id, "name": p.name, "description": p.description,
            "ticketCount": p.ticket_count, "price": p.price, "currency": p.currency,
            "displayOrder": p.display_order,
        })).collect::<Vec<_>>(),
        "prizeTemplates": prizes.into_iter().map(|p| json!({
            "prizeTemplateId": p.id, "name": p.name, "description": p.description,
            "type": p.kind, "value": p.value, "percentageBp": p.percentage_bp,
        })).collect::<Vec<_>>(),
    }))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplyTemplates {
    #[arg(long)]
    pub event_id: Uuid,
    /// Package templates to copy, in order (repeat the flag). Omit both lists to copy every
    /// active template of the event's organization.
    #[arg(long = "package-template")]
    #[serde(default)]
    pub package_templates: Vec<Uuid>,
    /// Prize templates to copy; they take positions 1, 2, … after the event's existing prizes,
    /// in the order given.
    #[arg(long = "prize-template")]
    #[serde(default)]
    pub prize_templates: Vec<Uuid>,
}

fn unknown_template(kind: &str, id: Uuid) -> AppError {
    AppError::of(
        ErrorCode::InvalidField,
        format!(
            "no {kind} template {id} in the event's organization: \
             `server-stub admin list-templates --organization-id ORG` shows them"
        ),
    )
}

/// Creates the event's packages and prizes from templates, each through the same checks as
/// `add-package` and `add-prize` (event state, price lock, currency). Every template is looked up
/// and checked before anything is created, so an unknown template or a currency the event does
/// not use creates nothing.
pub async fn apply_templates(pool: &PgPool, a: &ApplyTemplates) -> AppResult<Value> {
    let ev = event_facts(pool, a.event_id).await?;
    let all = a.package_templates.is_empty() && a.prize_templates.is_empty();
    let package_rows: Vec<PackageTemplateRow> = sqlx::query_as(
        "SELECT id, name, description, ticket_count, price, currency::text AS currency, display_order
           FROM ticket_package_templates
          WHERE organization_id = $1 AND is_active AND ($2 OR id = ANY($3))
          ORDER BY display_order NULLS LAST, name",
    )
    .bind(ev.org)
    .bind(all)
    .bind(&a.package_templates)
    .fetch_all(pool)
    .await?;
    let mut packages = Vec::new();
    let order: Vec<Uuid> = if all {
        package_rows.iter().map(|r| r.id).collect()
    } else {
        a.package_templates.clone()
    };
    for id in order {
        let r = package_rows
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| unknown_template("package", id))?;
        if r.currency != ev.currency {
            return Err(bad(
                "packageTemplates",
                format!(
                    "template {} is priced in {} but the event sells in {}",
                    r.name, r.currency, ev.currency
                ),
            ));
        }
        packages.push(r);
    }
    let prize_rows: Vec<PrizeTemplateRow> = sqlx::query_as(
        "SELECT id, name, description, type AS kind, value, percentage_bp FROM prize_templates
          WHERE organization_id = $1 AND ($2 OR id = ANY($3)) ORDER BY name, id",
    )
    .bind(ev.org)
    .bind(all)
    .bind(&a.prize_templates)
    .fetch_all(pool)
    .await?;
    let prize_order: Vec<Uuid> = if all {
        prize_rows.iter().map(|r| r.id).collect()
    } else {
        a.prize_templates.clone()
    };
    let mut prizes = Vec::new();
    for id in prize_order {
        let r = prize_rows
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| unknown_template("prize", id))?;
        prizes.push(r);
    }
    if packages.is_empty() && prizes.is_empty() {
        return Err(bad(
            "templates",
            "the organization has no active templates: create them with \
             `server-stub admin create-package-template` and `create-prize-template`",
        ));
    }
    let mut created_packages = Vec::new();
    for p in &packages {
        let made = create_package(
            pool,
            &NewPackage {
                event_id: a.event_id,
                name: p.name.clone(),
                ticket_count: p.ticket_count as u32,
                price: p.price,
                display_order: p.display_order.unwrap_or(0),
                active_from: None,
                active_to: None,
            },
        )
        .await?;
        created_packages.push(json!({"packageTemplateId": p.id, "packageId": made["packageId"]}));
    }
    let next_position: i16 = sqlx::query_scalar(
        "SELECT (COALESCE(MAX(position), 0) + 1)::SMALLINT FROM prizes WHERE event_id = $1",
    )
    .bind(a.event_id)
    .fetch_one(pool)
    .await?;
    let mut created_prizes = Vec::new();
    for (i, p) in prizes.iter().enumerate() {
        let position = next_position + i as i16;
        let made = create_prize(
            pool,
            &NewPrize {
                event_id: a.event_id,
                name: p.name.clone(),
                kind: p.kind.clone(),
                value: p.value,
                percentage_bp: p.percentage_bp.map(|b| b as u32),
                position,
                winner_count: 1,
            },
        )
        .await?;
        created_prizes.push(
            json!({"prizeTemplateId": p.id, "prizeId": made["prizeId"], "position": position}),
        );
    }
    Ok(json!({"eventId": a.event_id, "packages": created_packages, "prizes": created_prizes}))
}

/// The template subcommands (flattened into `server-stub admin`).
#[derive(Clone, Debug, clap::Subcommand)]
pub enum TemplateCmd {
    /// A reusable ticket package of the organization (name, tickets, price).
    CreatePackageTemplate(NewPackageTemplate),
    /// A reusable prize of the organization (fixed value or percentage of net sales).
    CreatePrizeTemplate(NewPrizeTemplate),
    /// The organization's package and prize templates.
    ListTemplates(ListTemplates),
    /// Create an event's packages and prizes from templates in one command.
    ApplyTemplates(ApplyTemplates),
}

/// `server-stub admin …`: runs one of [`TemplateCmd`].
pub async fn run(pool: &PgPool, cmd: TemplateCmd) -> AppResult<Value> {
    match cmd {
        TemplateCmd::CreatePackageTemplate(a) => create_package_template(pool, &a).await,
        TemplateCmd::CreatePrizeTemplate(a) => create_prize_template(pool, &a).await,
        TemplateCmd::ListTemplates(a) => list_templates(pool, &a).await,
        TemplateCmd::ApplyTemplates(a) => apply_templates(pool, &a).await,
    }
}
