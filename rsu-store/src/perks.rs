//! Perks on the device (issue 14): the event's perks and each package's list of them from the
//! configuration, the perk allocations the server gave this device, taking one unit per perk
//! when a sale is made (inside the sale's transaction), and giving the rest back at close.
//!
//! As with draw numbers, an inventory perk is issued only from an active allocation of this
//! device, so an offline device never issues more than the server gave it; a package whose perk
//! has no unit left is refused whole (`perk_unavailable`). A perk without inventory is issued with
//! every sale and comes from no allocation.

use chrono::{DateTime, Utc};
use rsu_core::config::{EventConfig, PerkAllocationConfig};
use rsu_core::event::{Package, SaleRefusal};
use rsu_core::journal::EntryKind;
use rsu_core::payload::{IssuedPerk, PerkReleasePayload};
use rsu_core::perk::ClaimCode;
use rsu_core::validation::{ValidationKey, ValidationNumber};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::json;
use uuid::Uuid;

use crate::journal::{append, critical};
use crate::CachedSql;
use crate::{parse_uuid, ts, Store, StoreError};

/// Stores the event's perks and the perk list of each of its packages, replacing what an earlier
/// configuration said (a configuration without perks leaves the event with none).
pub(crate) fn apply_event_perks(tx: &Transaction<'_>, ev: &EventConfig) -> Result<(), StoreError> {
    let event = ev.id.to_string();
    tx.execute_cached("DELETE FROM perks WHERE event_id = ?1", [&event])?;
    for p in &ev.perks {
        tx.execute_cached(
            "INSERT INTO perks (event_id, id, name, description, kind, category, requires_inventory)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (event_id, id) DO UPDATE SET name = excluded.name, description = excluded.description,
                 kind = excluded.kind, category = excluded.category, requires_inventory = excluded.requires_inventory",
            params![event, p.id.to_string(), p.name, p.description, p.kind, p.category, p.requires_inventory],
        )?;
    }
    for pkg in &ev.packages {
        tx.execute_cached(
            "DELETE FROM package_perks WHERE package_id = ?1",
            [pkg.id.to_string()],
        )?;
        for (i, perk) in pkg.perk_ids.iter().enumerate() {
            tx.execute_cached(
                "INSERT INTO package_perks (package_id, position, perk_id) VALUES (?1, ?2, ?3)",
                params![pkg.id.to_string(), i as i64 + 1, perk.to_string()],
            )?;
        }
    }
    Ok(())
}

/// Applies the configuration's perk allocations. A top-up raises `quantity`; a lower quantity
/// is taken only down to what the device already issued (it can never un-issue a unit);
/// `released` ends an allocation for good. One the device cannot take (its event is unknown) is
/// skipped and logged, and never stops the rest of the configuration.
pub(crate) fn apply_perk_allocations(
    tx: &Transaction<'_>,
    allocations: &[PerkAllocationConfig],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for a in allocations {
        let event = a.event_id.to_string();
        let known: i64 =
            tx.query_row_cached("SELECT count(*) FROM events WHERE id = ?1", [&event], |r| {
                r.get(0)
            })?;
        if known == 0 {
            tracing::warn!(allocation = %a.id, "perk allocation skipped: unknown event");
            critical(
                tx,
                now,
                "CONFIG_ITEM_SKIPPED",
                "WARNING",
                format!(
                    "{} perk unit(s) not applied: their event {event} is not in the configuration",
                    a.quantity
                ),
                None,
                json!({"perkAllocationId": a.id, "eventId": a.event_id}),
            )?;
            continue;
        }
        let released = a.state == "released";
        let existing: Option<(i64, i64, String)> = tx
            .query_row_cached(
                "SELECT quantity, issued, state FROM perk_allocations WHERE id = ?1",
                [a.id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let wanted = i64::from(a.quantity);
        match existing {
            Some((quantity, issued, state)) => {
                let quantity_now = wanted.max(issued);
                let state_now = if released || state == "released" {
                    "released"
                } else {
                    "active"
                };
                tx.execute_cached(
                    "UPDATE perk_allocations SET quantity = ?2, state = ?3,
                            released_at = CASE WHEN ?3 = 'released' THEN coalesce(released_at, ?4) END
                      WHERE id = ?1",
                    params![a.id.to_string(), quantity_now, state_now, ts(&now)],
                )?;
                if quantity_now > quantity {
                    critical(
                        tx,
                        now,
                        "PERK_ALLOCATION_TOPPED_UP",
                        "INFO",
                        format!("perk units topped up from {quantity} to {quantity_now}"),
                        None,
                        json!({"perkAllocationId": a.id, "perkId": a.perk_id, "eventId": a.event_id}),
                    )?;
                }
            }
            None => {
                tx.execute_cached(
                    "INSERT INTO perk_allocations (id, perk_id, event_id, quantity, issued, state, received_at, released_at)
                     VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, CASE WHEN ?5 = 'released' THEN ?6 END)",
                    params![
                        a.id.to_string(),
                        a.perk_id.to_string(),
                        event,
                        wanted,
                        if released { "released" } else { "active" },
                        ts(&now)
                    ],
                )?;
                critical(
                    tx,
                    now,
                    "PERK_ALLOCATION_RECEIVED",
                    "INFO",
                    format!("{} perk unit(s) received", a.quantity),
                    None,
                    json!({"perkAllocationId": a.id, "perkId": a.perk_id, "eventId": a.event_id}),
                )?;
            }
        }
    }
    Ok(())
}

/// One perk unit a sale takes, before its claim code is made.
pub(crate) struct TakenPerk {
    pub perk_id: Uuid,
    pub allocation_id: Option<Uuid>,
    pub name: String,
}

/// The perk ids of a package, in receipt order.
pub(crate) fn package_perk_ids(
    conn: &Connection,
    package_id: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT perk_id FROM package_perks WHERE package_id = ?1 ORDER BY position",
    )?;
    let ids: Vec<String> = stmt
        .query_map([package_id.to_string()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.iter().map(|s| parse_uuid(s)).collect()
}

/// Takes one unit of each perk of `package`, in order, inside the sale's transaction: an
/// inventory perk from the lowest active allocation of this event and perk that has a unit
/// left. Refuses with `perk_unavailable` when one has none; the caller's transaction is then
/// dropped, so nothing is written.
pub(crate) fn take_perks(
    tx: &Transaction<'_>,
    event_id: &str,
    package: &Package,
) -> Result<Vec<TakenPerk>, StoreError> {
    let mut taken = Vec::new();
    for perk_id in package_perk_ids(tx, package.id)? {
        let perk: Option<(String, bool)> = tx
            .prepare_cached(
                "SELECT name, requires_inventory FROM perks WHERE event_id = ?1 AND id = ?2",
            )?
            .query_row(params![event_id, perk_id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((name, requires_inventory)) = perk else {
            return Err(StoreError::Invalid(format!(
                "the {} package includes a perk ({perk_id}) the configuration does not describe: \
                 sync the device, or ask the raffle manager to fix the package",
                package.name
            )));
        };
        let allocation_id = if requires_inventory {
            let alloc: Option<String> = tx
                .prepare_cached(
                    "SELECT id FROM perk_allocations
                      WHERE event_id = ?1 AND perk_id = ?2 AND state = 'active' AND issued < quantity
                      ORDER BY received_at, id LIMIT 1",
                )?
                .query_row(params![event_id, perk_id.to_string()], |r| r.get(0))
                .optional()?;
            let Some(alloc) = alloc else {
                return Err(SaleRefusal::PerkUnavailable {
                    package: package.name.clone(),
                    perk: name,
                }
                .into());
            };
            tx.execute_cached(
                "UPDATE perk_allocations SET issued = issued + 1 WHERE id = ?1",
                [&alloc],
            )?;
            Some(parse_uuid(&alloc)?)
        } else {
            None
        };
        taken.push(TakenPerk {
            perk_id,
            allocation_id,
            name,
        });
    }
    Ok(taken)
}

/// The issued perks of a sale: each taken unit with its claim code (P1, P2, … in order).
pub(crate) fn claim_codes(
    key: &ValidationKey,
    vn: &ValidationNumber,
    taken: Vec<TakenPerk>,
) -> Vec<IssuedPerk> {
    taken
        .into_iter()
        .enumerate()
        .map(|(i, t)| IssuedPerk {
            claim_code: ClaimCode::issue(key, vn, i as u32 + 1, t.perk_id).to_string(),
            perk_id: t.perk_id,
            perk_allocation_id: t.allocation_id,
            perk_name: t.name,
        })
        .collect()
}

/// Writes the perks a sale issued.
pub(crate) fn record_sale_perks(
    tx: &Transaction<'_>,
    sale_id: Uuid,
    perks: &[IssuedPerk],
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO sale_perks (sale_id, position, perk_id, perk_allocation_id, perk_name, claim_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (i, p) in perks.iter().enumerate() {
        stmt.execute(params![
            sale_id.to_string(),
            i as i64 + 1,
            p.perk_id.to_string(),
            p.perk_allocation_id.map(|a| a.to_string()),
            p.perk_name,
            p.claim_code
        ])?;
    }
    Ok(())
}

/// The perks a sale issued, in receipt order.
pub(crate) fn sale_perks(conn: &Connection, sale_id: &str) -> Result<Vec<IssuedPerk>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT perk_id, perk_allocation_id, perk_name, claim_code FROM sale_perks
          WHERE sale_id = ?1 ORDER BY position",
    )?;
    let rows: Vec<(String, Option<String>, String, String)> = stmt
        .query_map([sale_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(perk, alloc, name, code)| {
            Ok(IssuedPerk {
                perk_id: parse_uuid(&perk)?,
                perk_allocation_id: alloc.map(|a| parse_uuid(&a)).transpose()?,
                perk_name: name,
                claim_code: code,
            })
        })
        .collect()
}

/// Gives back the unissued units of every active perk allocation of `event_id`, one
/// `perk_release` entry each (issued, released = quantity − issued), and ends them. Part of
/// closing the device for the event.
pub(crate) fn release_perks_tx(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    event_id: &str,
) -> Result<Vec<PerkReleasePayload>, StoreError> {
    let rows: Vec<(String, String, i64, i64)> = {
        let mut stmt = tx.prepare(
            "SELECT id, perk_id, quantity, issued FROM perk_allocations
              WHERE event_id = ?1 AND state = 'active' ORDER BY received_at, id",
        )?;
        let rows = stmt.query_map([event_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    for (id, perk, quantity, issued) in rows {
        let count = |v: i64| {
            u32::try_from(v).map_err(|_| {
                StoreError::Invalid(format!(
                    "perk allocation {id} holds an impossible count {v}"
                ))
            })
        };
        let payload = PerkReleasePayload {
            perk_allocation_id: parse_uuid(&id)?,
            perk_id: parse_uuid(&perk)?,
            event_id: parse_uuid(event_id)?,
            issued: count(issued)?,
            released: count(quantity - issued)?,
        };
        append(tx, EntryKind::PerkRelease, &payload, now)?;
        tx.execute_cached(
            "UPDATE perk_allocations SET state = 'released', released_at = ?2 WHERE id = ?1",
            params![id, ts(&now)],
        )?;
        out.push(payload);
    }
    Ok(out)
}

/// A perk allocation as the device holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerkAllocationStatus {
    pub id: Uuid,
    pub perk_id: Uuid,
    pub event_id: Uuid,
    pub quantity: u32,
    pub issued: u32,
    /// `active` or `released`.
    pub state: String,
}

impl Store {
    /// The names of the perks a sale of `package_id` includes, in receipt order (for the sell
    /// screen). A perk the configuration does not describe is left out.
    pub fn package_perk_names(&self, package_id: Uuid) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT pk.name FROM package_perks pp
               JOIN packages p ON p.id = pp.package_id
               JOIN perks pk ON pk.event_id = p.event_id AND pk.id = pp.perk_id
              WHERE pp.package_id = ?1 ORDER BY pp.position",
        )?;
        let names = stmt
            .query_map([package_id.to_string()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(names)
    }

    /// This device's perk allocations, oldest first.
    pub fn perk_allocations(&self) -> Result<Vec<PerkAllocationStatus>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, perk_id, event_id, quantity, issued, state FROM perk_allocations
              ORDER BY received_at, id",
        )?;
        let rows: Vec<(String, String, String, u32, u32, String)> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, perk, event, quantity, issued, state)| {
                Ok(PerkAllocationStatus {
                    id: parse_uuid(&id)?,
                    perk_id: parse_uuid(&perk)?,
                    event_id: parse_uuid(&event)?,
                    quantity,
                    issued,
                    state,
                })
            })
            .collect()
    }
}
