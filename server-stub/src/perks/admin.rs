//! `create-perk`, `list-perks`, `add-package-perk` and `allocate-perks`: the same operations for
//! the CLI and `/v1/admin/perks*` (each input is a clap argument set and a camelCase JSON body).

use rsu_core::event::EventState;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::{bad, grant, inventory_left, lock_perk, metadata, DEFAULT_BLOCK_SIZE, PERK_TYPES};
use crate::admin::{audit, event_facts, nonempty, org_exists};
use crate::config_version::bump_config_version;
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPerk {
    #[arg(long)]
    pub organization_id: Uuid,
    /// As printed on the receipt, e.g. "VIP Parking"; unique in the organization.
    #[arg(long)]
    pub name: String,
    #[arg(long, default_value = "")]
    #[serde(default)]
    pub description: String,
    /// `benefit`, `physical_item`, `digital_item` or `experience`.
    #[arg(long = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// Free text, e.g. `parking`.
    #[arg(long, default_value = "")]
    #[serde(default)]
    pub category: String,
    /// The perk has a limited inventory: devices issue it only from perk allocations.
    #[arg(long)]
    #[serde(default)]
    pub requires_inventory: bool,
    /// Units in stock; required with requiresInventory, refused without it.
    #[arg(long)]
    #[serde(default)]
    pub inventory_total: Option<u32>,
    /// Units a device gets at a time (its first block, and each top-up while online); default 10.
    #[arg(long)]
    #[serde(default)]
    pub block_size: Option<u32>,
    /// Seed 002 `metadata` as a JSON object, e.g. '{"location": "Lot A, Spaces 1-50"}'.
    #[arg(long)]
    #[serde(default)]
    pub metadata: Option<String>,
}

pub async fn create_perk(pool: &PgPool, a: &NewPerk) -> AppResult<Value> {
    nonempty("name", &a.name)?;
    if !PERK_TYPES.contains(&a.kind.as_str()) {
        return Err(bad(
            "type",
            format!("{:?} is not one of {}", a.kind, PERK_TYPES.join(", ")),
        ));
    }
    match (a.requires_inventory, a.inventory_total) {
        (true, None) => {
            return Err(bad(
                "inventoryTotal",
                "a perk that requires inventory needs its number of units (--inventory-total N)",
            ))
        }
        (false, Some(_)) => {
            return Err(bad(
                "inventoryTotal",
                "only a perk with --requires-inventory has an inventory; add it or drop --inventory-total",
            ))
        }
        _ => {}
    }
    let total = a
        .inventory_total
        .map(|t| i32::try_from(t).map_err(|_| bad("inventoryTotal", "is too large")))
        .transpose()?;
    let block = a.block_size.unwrap_or(DEFAULT_BLOCK_SIZE);
    if block == 0 || block > 100_000 {
        return Err(bad("blockSize", "must be 1 to 100000"));
    }
    let metadata = metadata(a.metadata.as_deref())?;
    org_exists(pool, a.organization_id).await?;
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO perks (id, organization_id, name, description, type, category,
                            requires_inventory, inventory_total, block_size, metadata, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(a.organization_id)
    .bind(a.name.trim())
    .bind(a.description.trim())
    .bind(&a.kind)
    .bind(a.category.trim())
    .bind(a.requires_inventory)
    .bind(total)
    .bind(block as i32)
    .bind(&metadata)
    .bind(crate::accounts::changed_by())
    .execute(pool)
    .await;
    if let Err(sqlx::Error::Database(db)) = &inserted {
        if db.code().as_deref() == Some("23505") {
            return Err(AppError::of(
                ErrorCode::AlreadyExists,
                format!(
                    "field name: the organization already has a perk named {:?}",
                    a.name.trim()
                ),
            ));
        }
    }
    inserted?;
    audit(pool, "perks", "INSERT", id, None, json!(a)).await?;
    Ok(json!({"perkId": id, "name": a.name.trim(), "blockSize": block}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListPerks {
    #[arg(long)]
    pub organization_id: Uuid,
}

type PerkListRow = (
    Uuid,
    String,
    String,
    String,
    String,
    bool,
    Option<i32>,
    i32,
    bool,
    Value,
    i64,
    i64,
    i64,
);

/// The organization's perks by name, with their inventory as seed 002 shows it (total,
/// allocated to devices and not given back, claimed, available).
pub async fn list_perks(pool: &PgPool, a: &ListPerks) -> AppResult<Value> {
    org_exists(pool, a.organization_id).await?;
    let rows: Vec<PerkListRow> = sqlx::query_as(
        "SELECT p.id, p.name, p.description, p.type, p.category, p.requires_inventory,
                p.inventory_total, p.block_size, p.is_active, p.metadata,
                COALESCE((SELECT SUM(quantity - released) FROM perk_allocations WHERE perk_id = p.id), 0)::int8,
                (SELECT COUNT(*) FROM perk_claims WHERE perk_id = p.id AND status <> 'voided'),
                (SELECT COUNT(*) FROM perk_claims WHERE perk_id = p.id AND status = 'claimed')
           FROM perks p WHERE p.organization_id = $1 ORDER BY p.name",
    )
    .bind(a.organization_id)
    .fetch_all(pool)
    .await?;
    let perks: Vec<Value> = rows
        .into_iter()
        .map(
            |(
                id,
                name,
                desc,
                kind,
                cat,
                inv,
                total,
                block,
                active,
                meta,
                given,
                issued,
                claimed,
            )| {
                json!({
                    "perkId": id, "name": name, "description": desc, "type": kind,
                    "category": cat, "requiresInventory": inv, "blockSize": block,
                    "isActive": active, "metadata": meta, "issued": issued,
                    "inventory": total.map(|t| json!({
                        "total": t, "allocated": given, "claimed": claimed,
                        "available": (i64::from(t) - given).max(0),
                    })),
                })
            },
        )
        .collect();
    Ok(json!({"organizationId": a.organization_id, "perks": perks}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddPackagePerk {
    /// The package; a sale of it issues one unit of the perk, after the perks it already has.
    #[arg(long = "package", alias = "package-id")]
    pub package_id: Uuid,
    /// A perk of the package's organization.
    #[arg(long = "perk", alias = "perk-id")]
    pub perk_id: Uuid,
}

/// Whether an event in `state` may still have its packages' perks changed: not once sales closed.
fn perks_changeable(state: EventState) -> bool {
    matches!(
        state,
        EventState::Created | EventState::Configured | EventState::Active | EventState::Suspended
    )
}

pub async fn add_package_perk(pool: &PgPool, a: &AddPackagePerk) -> AppResult<Value> {
    let pkg: Option<(Uuid, String, Vec<Uuid>)> = sqlx::query_as(
        "SELECT event_id, name, COALESCE(perk_ids, '{}') FROM ticket_packages WHERE id = $1",
    )
    .bind(a.package_id)
    .fetch_optional(pool)
    .await?;
    let (event_id, package_name, perk_ids) = pkg.ok_or_else(|| {
        AppError::of(
            ErrorCode::UnknownPackage,
            format!("field packageId: no package {}", a.package_id),
        )
    })?;
    let ev = event_facts(pool, event_id).await?;
    let perk: Option<(Uuid, String, bool)> =
        sqlx::query_as("SELECT organization_id, name, is_active FROM perks WHERE id = $1")
            .bind(a.perk_id)
            .fetch_optional(pool)
            .await?;
    let (perk_org, perk_name, active) = perk.ok_or_else(|| {
        AppError::of(
            ErrorCode::UnknownPerk,
            format!("field perkId: no perk {}", a.perk_id),
        )
    })?;
    if perk_org != ev.org {
        return Err(AppError::of(
            ErrorCode::OtherOrganization,
            format!(
                "perk {perk_name} belongs to another organization than the package {package_name}"
            ),
        ));
    }
    if !active {
        return Err(bad(
            "perkId",
            format!("perk {perk_name} is not active: a package cannot include it"),
        ));
    }
    if !perks_changeable(ev.state) {
        return Err(AppError::of(
            ErrorCode::EventClosed,
            format!(
                "the event is {}: the perks of its packages can change only until sales close",
                ev.state
            ),
        ));
    }
    if perk_ids.contains(&a.perk_id) {
        return Err(AppError::of(
            ErrorCode::AlreadyExists,
            format!("package {package_name} already includes {perk_name}"),
        ));
    }
    let mut tx = pool.begin().await?;
    let now: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE ticket_packages SET perk_ids = COALESCE(perk_ids, '{}') || $2, updated_at = NOW()
          WHERE id = $1 RETURNING perk_ids",
    )
    .bind(a.package_id)
    .bind(a.perk_id)
    .fetch_one(&mut *tx)
    .await?;
    bump_config_version(&mut tx, ev.org).await?;
    tx.commit().await?;
    audit(
        pool,
        "ticket_packages",
        "UPDATE",
        a.package_id,
        Some(json!({"perkIds": perk_ids})),
        json!({"perkIds": now}),
    )
    .await?;
    Ok(json!({"packageId": a.package_id, "perkIds": now}))
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllocatePerks {
    /// The RSU that gets the units.
    #[arg(long = "rsu", alias = "rsu-id")]
    pub rsu_id: Uuid,
    /// The event it may issue them for.
    #[arg(long = "event", alias = "event-id")]
    pub event_id: Uuid,
    /// A perk with inventory.
    #[arg(long = "perk", alias = "perk-id")]
    pub perk_id: Uuid,
    /// Units to add to the RSU's allocation of the perk for the event (never more than the
    /// inventory has left).
    #[arg(long)]
    pub count: u32,
}

/// Gives an RSU `count` more units of an inventory perk for an event, in one transaction that
/// locks the perk's row: the inventory left is read after the lock, so two calls at once never
/// hand out the same units.
pub async fn allocate_perks(pool: &PgPool, a: &AllocatePerks) -> AppResult<Value> {
    if a.count == 0 || a.count > 1_000_000 {
        return Err(bad("count", "must be 1 to 1000000"));
    }
    let ev = event_facts(pool, a.event_id).await?;
    let rsu_org: Option<Uuid> =
        sqlx::query_scalar("SELECT organization_id FROM rsus WHERE id = $1")
            .bind(a.rsu_id)
            .fetch_optional(pool)
            .await?;
    match rsu_org {
        None => {
            return Err(AppError::of(
                ErrorCode::UnknownRsu,
                format!("field rsuId: no RSU {}", a.rsu_id),
            ))
        }
        Some(o) if o != ev.org => {
            return Err(bad("rsuId", "is not an RSU of the event's organization"))
        }
        Some(_) => {}
    }
    if !perks_changeable(ev.state) {
        return Err(AppError::of(
            ErrorCode::EventClosed,
            format!(
                "the event is {}: perks are allocated only until sales close",
                ev.state
            ),
        ));
    }
    let mut tx = pool.begin().await?;
    let perk = lock_perk(&mut tx, a.perk_id).await?;
    if perk.organization_id != ev.org {
        return Err(AppError::of(
            ErrorCode::OtherOrganization,
            format!(
                "perk {} belongs to another organization than the event",
                perk.name
            ),
        ));
    }
    if !perk.requires_inventory {
        return Err(bad(
            "perkId",
            format!(
                "{} has no inventory: every sale of a package that includes it issues one, nothing is allocated",
                perk.name
            ),
        ));
    }
    let left = inventory_left(&mut tx, a.perk_id, perk.inventory_total).await?;
    if i64::from(a.count) > left {
        return Err(AppError::of(
            ErrorCode::PerkInventoryExhausted,
            format!(
                "only {left} units of {} are left (of {} in inventory, the rest given to devices): allocate at most {left}",
                perk.name,
                perk.inventory_total.unwrap_or(0)
            ),
        ));
    }
    let (id, quantity) = grant(&mut tx, a.perk_id, a.event_id, a.rsu_id, a.count as i32).await?;
    bump_config_version(&mut tx, ev.org).await?;
    tx.commit().await?;
    audit(pool, "perk_allocations", "UPDATE", id, None, json!(a)).await?;
    Ok(json!({
        "perkAllocationId": id, "perkId": a.perk_id, "eventId": a.event_id, "rsuId": a.rsu_id,
        "quantity": quantity, "inventoryLeft": left - i64::from(a.count),
    }))
}
