//! Perks (issue 14; seed 002 "Perk", "Perk claim"; docs/server.md "Perks"): an organization's
//! perk catalog, packages that include perks, the units of an inventory perk each device may
//! issue, the claim of a unit at the desk by its code, and the per-device accounting.
//!
//! Inventory is never oversold, even offline, the way draw numbers are not: a device issues a
//! unit of an inventory perk only from a perk allocation the server gave it. Every change to an
//! allocation's `quantity` (`admin allocate-perks`, the top-up at a configuration pull) locks the
//! perk's row first and gives at most what is left of `inventory_total` after every allocation's
//! `quantity − released`. The push (`ingest`) accepts a sale's unit only while the allocation's
//! `issued` stays ≤ its `quantity`; a `perk_release` at close gives the rest back.
//!
//! - [`admin`]: `create-perk`, `list-perks`, `add-package-perk`, `allocate-perks`;
//! - [`topup`]: the first block and the top-ups a device gets when it pulls its configuration;
//! - [`claim`]: `claim-perk --code C`, once, recorded with who and when;
//! - [`report`]: allocated / issued / claimed / released per device (`perk-report` and the
//!   reconciliation report's `perks`).

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

pub mod admin;
pub mod claim;
pub mod report;
pub mod topup;

/// The perk types of seed 002.
pub const PERK_TYPES: [&str; 4] = ["benefit", "physical_item", "digital_item", "experience"];

/// The block size a perk gets when `create-perk` is not told one.
pub const DEFAULT_BLOCK_SIZE: u32 = 10;

fn bad(field: &str, why: impl std::fmt::Display) -> AppError {
    AppError::of(ErrorCode::InvalidField, format!("field {field}: {why}"))
}

/// A perk row locked for an allocation change.
pub(crate) struct LockedPerk {
    pub organization_id: Uuid,
    pub name: String,
    pub requires_inventory: bool,
    pub inventory_total: Option<i32>,
    pub block_size: i32,
    pub is_active: bool,
}

/// Locks the perk's row (`FOR UPDATE`): every allocation change of the perk waits for it, so two
/// of them never both see the same units as left.
pub(crate) async fn lock_perk(conn: &mut PgConnection, perk: Uuid) -> AppResult<LockedPerk> {
    let row: Option<(Uuid, String, bool, Option<i32>, i32, bool)> = sqlx::query_as(
        "SELECT organization_id, name, requires_inventory, inventory_total, block_size, is_active
           FROM perks WHERE id = $1 FOR UPDATE",
    )
    .bind(perk)
    .fetch_optional(&mut *conn)
    .await?;
    let (organization_id, name, requires_inventory, inventory_total, block_size, is_active) = row
        .ok_or_else(|| {
            AppError::of(
                ErrorCode::UnknownPerk,
                format!(
                    "no perk {perk}: `server-stub admin list-perks --organization-id ORG` shows them"
                ),
            )
        })?;
    Ok(LockedPerk {
        organization_id,
        name,
        requires_inventory,
        inventory_total,
        block_size,
        is_active,
    })
}

/// Units of the perk not given to any device: its inventory minus every allocation's
/// `quantity − released`. Call it with the perk's row locked ([`lock_perk`]).
pub(crate) async fn inventory_left(
    conn: &mut PgConnection,
    perk: Uuid,
    total: Option<i32>,
) -> AppResult<i64> {
    let given: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(quantity - released), 0)::int8 FROM perk_allocations WHERE perk_id = $1",
    )
    .bind(perk)
    .fetch_one(&mut *conn)
    .await?;
    Ok((i64::from(total.unwrap_or(0)) - given).max(0))
}

/// Gives `rsu` `n` more units of `perk` for `event`: raises its active allocation, or makes one.
/// The caller holds the perk's lock and checked `n` against [`inventory_left`]. Returns the
/// allocation's id and new quantity.
pub(crate) async fn grant(
    conn: &mut PgConnection,
    perk: Uuid,
    event: Uuid,
    rsu: Uuid,
    n: i32,
) -> AppResult<(Uuid, i32)> {
    let raised: Option<(Uuid, i32)> = sqlx::query_as(
        "UPDATE perk_allocations SET quantity = quantity + $4, updated_at = NOW()
          WHERE perk_id = $1 AND event_id = $2 AND rsu_id = $3 AND state = 'active'
          RETURNING id, quantity",
    )
    .bind(perk)
    .bind(event)
    .bind(rsu)
    .bind(n)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(r) = raised {
        return Ok(r);
    }
    let made: (Uuid, i32) = sqlx::query_as(
        "INSERT INTO perk_allocations (id, perk_id, event_id, rsu_id, quantity, created_by)
         VALUES ($6, $1, $2, $3, $4, $5) RETURNING id, quantity",
    )
    .bind(perk)
    .bind(event)
    .bind(rsu)
    .bind(n)
    .bind(crate::accounts::changed_by())
    .bind(Uuid::now_v7())
    .fetch_one(&mut *conn)
    .await?;
    Ok(made)
}

/// The `metadata` text of `create-perk` as a JSON object.
fn metadata(text: Option<&str>) -> AppResult<Value> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(Value::Object(Default::default())),
        Some(t) => match serde_json::from_str::<Value>(t) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(bad(
                "metadata",
                "must be a JSON object, e.g. {\"location\": \"Lot A\"}",
            )),
            Err(e) => Err(bad("metadata", format!("is not JSON ({e})"))),
        },
    }
}

/// The perk subcommands (flattened into `server-stub admin`).
#[derive(Clone, Debug, clap::Subcommand)]
pub enum PerkCmd {
    /// A perk of the organization's catalog (benefit, physical item, digital item, experience),
    /// with a limited inventory when --requires-inventory --inventory-total N.
    CreatePerk(admin::NewPerk),
    /// The organization's perks with their inventory (total, allocated, claimed, available).
    ListPerks(admin::ListPerks),
    /// Make a package include a perk: each sale of it then issues one unit with a claim code
    /// (until the event's sales close).
    AddPackagePerk(admin::AddPackagePerk),
    /// Give an RSU more units of an inventory perk for an event (never more than the inventory
    /// has left); devices also get blocks automatically when they pull their configuration.
    AllocatePerks(admin::AllocatePerks),
    /// Hand out a perk at the desk by the claim code on the receipt: once, recorded with who
    /// (--by) and when.
    ClaimPerk(claim::ClaimPerk),
    /// Perks of an event per device: allocated, issued, claimed, voided, released.
    PerkReport(report::PerkReport),
}

/// `server-stub admin …`: runs one of [`PerkCmd`]; `by` is who is acting (`--by`).
pub async fn run(pool: &sqlx::PgPool, cmd: PerkCmd, by: Option<&str>) -> AppResult<Value> {
    match cmd {
        PerkCmd::CreatePerk(a) => admin::create_perk(pool, &a).await,
        PerkCmd::ListPerks(a) => admin::list_perks(pool, &a).await,
        PerkCmd::AddPackagePerk(a) => admin::add_package_perk(pool, &a).await,
        PerkCmd::AllocatePerks(a) => admin::allocate_perks(pool, &a).await,
        PerkCmd::ClaimPerk(a) => claim::claim_perk(pool, &a, by).await,
        PerkCmd::PerkReport(a) => report::perk_report(pool, &a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_must_be_a_json_object() {
        assert_eq!(metadata(None).unwrap(), serde_json::json!({}));
        assert_eq!(
            metadata(Some(r#"{"location":"Lot A"}"#)).unwrap()["location"],
            "Lot A"
        );
        assert!(metadata(Some("[1]"))
            .unwrap_err()
            .to_string()
            .contains("JSON object"));
        assert!(metadata(Some("{"))
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
    }
}
