//! The perk top-up of a configuration pull (docs/server.md "Perks"): while a device is online it
//! gets units of every inventory perk its events' packages include, so it can keep selling
//! those packages offline.
//!
//! For each event in `configured`, `active` or `suspended` whose active packages include an
//! active inventory perk:
//! - a device with no allocation of the perk for the event gets a first block (`block_size`, or
//!   what the inventory has left);
//! - a device whose active allocation has fewer than half a block left (`quantity − issued`, as
//!   the server knows `issued` from the sales it holds) gets one more block (or what is left);
//! - a device that released its allocation (it closed for the event) gets nothing more.
//!
//! Each grant happens in one transaction that locks the perk's row, like `allocate-perks`, and
//! bumps the organization's configuration version, as every allocation change does.

use sqlx::PgPool;
use uuid::Uuid;

use super::{grant, inventory_left, lock_perk};
use crate::auth::Device;
use crate::config_version::bump_config_version;
use crate::error::AppResult;

/// An (event, perk) pair a device may need units of, with what it holds.
#[derive(sqlx::FromRow)]
struct Candidate {
    event_id: Uuid,
    perk_id: Uuid,
    block_size: i32,
    /// `quantity − issued` of the device's active allocation, if it has one.
    left: Option<i32>,
    /// The device released an allocation of this perk for this event (closed for it).
    released: bool,
}

/// Whether the device needs a block: none held yet (and never released), or fewer than half a
/// block left.
fn needs_block(left: Option<i32>, released: bool, block: i32) -> bool {
    match left {
        None => !released,
        Some(l) => i64::from(l) * 2 < i64::from(block),
    }
}

const CANDIDATES: &str = "
    SELECT DISTINCT e.id AS event_id, p.id AS perk_id, p.block_size,
           (SELECT a.quantity - a.issued FROM perk_allocations a
             WHERE a.perk_id = p.id AND a.event_id = e.id AND a.rsu_id = $2 AND a.state = 'active') AS left,
           EXISTS (SELECT 1 FROM perk_allocations a
                    WHERE a.perk_id = p.id AND a.event_id = e.id AND a.rsu_id = $2
                      AND a.state = 'released') AS released
      FROM events e
      JOIN ticket_packages tp ON tp.event_id = e.id AND tp.is_active
      CROSS JOIN LATERAL UNNEST(COALESCE(tp.perk_ids, '{}')) AS pk(perk_id)
      JOIN perks p ON p.id = pk.perk_id AND p.organization_id = e.organization_id
                  AND p.requires_inventory AND p.is_active
     WHERE e.organization_id = $1 AND e.state IN ('configured', 'active', 'suspended')
     ORDER BY p.id, e.id";

/// Gives the device the blocks it needs (see the module documentation). Returns how many
/// allocations changed. Runs before the configuration is read, so the answer carries them.
pub async fn top_up(pool: &PgPool, dev: &Device) -> AppResult<usize> {
    let active: bool = sqlx::query_scalar("SELECT state = 'active' FROM rsus WHERE id = $1")
        .bind(dev.rsu_id)
        .fetch_optional(pool)
        .await?
        .unwrap_or(false);
    if !active {
        return Ok(0);
    }
    let cands: Vec<Candidate> = sqlx::query_as(CANDIDATES)
        .bind(dev.organization_id)
        .bind(dev.rsu_id)
        .fetch_all(pool)
        .await?;
    let needed: Vec<&Candidate> = cands
        .iter()
        .filter(|c| needs_block(c.left, c.released, c.block_size))
        .collect();
    if needed.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    let mut changed = 0;
    // Candidates are in perk order, so concurrent pulls lock perk rows in the same order.
    for c in needed {
        let perk = lock_perk(&mut tx, c.perk_id).await?;
        if !perk.is_active || !perk.requires_inventory {
            continue;
        }
        // Read again under the lock: another pull of this device may have topped it up.
        let (left, released): (Option<i32>, bool) = sqlx::query_as(
            "SELECT (SELECT quantity - issued FROM perk_allocations
                      WHERE perk_id = $1 AND event_id = $2 AND rsu_id = $3 AND state = 'active'),
                    EXISTS (SELECT 1 FROM perk_allocations
                             WHERE perk_id = $1 AND event_id = $2 AND rsu_id = $3 AND state = 'released')",
        )
        .bind(c.perk_id)
        .bind(c.event_id)
        .bind(dev.rsu_id)
        .fetch_one(&mut *tx)
        .await?;
        if !needs_block(left, released, perk.block_size) {
            continue;
        }
        let available = inventory_left(&mut tx, c.perk_id, perk.inventory_total).await?;
        let n = i64::from(perk.block_size).min(available);
        if n <= 0 {
            continue;
        }
        grant(&mut tx, c.perk_id, c.event_id, dev.rsu_id, n as i32).await?;
        changed += 1;
    }
    if changed > 0 {
        bump_config_version(&mut tx, dev.organization_id).await?;
    }
    tx.commit().await?;
    if changed > 0 {
        tracing::info!(rsu = %dev.rsu_id, changed, "perk allocations topped up at a configuration pull");
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::needs_block;

    #[test]
    fn a_block_is_given_first_and_when_fewer_than_half_are_left() {
        assert!(needs_block(None, false, 10), "first pull");
        assert!(!needs_block(None, true, 10), "closed for the event");
        assert!(needs_block(Some(4), false, 10));
        assert!(!needs_block(Some(5), false, 10), "exactly half is enough");
        assert!(needs_block(Some(0), false, 1));
        assert!(!needs_block(Some(1), false, 1));
    }
}
