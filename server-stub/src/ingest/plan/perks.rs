//! The perk checks of the push (issue 14; docs/server.md "Perks"): a sale's perks, what a void
//! does to them, and `perk_release`. Each decides first and records only when the entry is
//! accepted.
//!
//! - A sale issues exactly the package's `perk_ids`, in order, one unit each.
//! - Each unit's claim code names the sale and the unit's place, and its tag verifies with the
//!   device's validation key for that perk.
//! - A unit of an inventory perk comes from a perk allocation of this RSU, of the sale's event
//!   and of that perk, not released, and the allocation's `issued` (the server's count, plus
//!   this batch's) stays ≤ its `quantity`: otherwise `perk_not_allocated`.
//! - A void marks the sale's unclaimed units voided; a unit already handed out stays claimed,
//!   and the void is flagged `perk_claimed` and logged as a critical event.
//! - A `perk_release` releases an allocation of this RSU when the device's `issued` matches the
//!   server's; the server records `released = quantity − issued`.

use rsu_core::journal::JournalEntry;
use rsu_core::payload::{PerkReleasePayload, SalePayload, VoidPayload};
use rsu_core::perk::ClaimCode;
use rsu_core::validation::ValidationNumber;
use rsu_core::wire::EntryCode;
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

use super::{reject, Batch, CriticalInsert, PerkClaimInsert, Reject};

/// The flag of a void whose sale had a perk already handed out at the desk.
pub const FLAG_PERK_CLAIMED: &str = "perk_claimed";

impl<'p> Batch<'_, 'p> {
    /// Whether the allocation is released, in the database or earlier in the batch.
    fn perk_released(&self, id: Uuid, stored: bool) -> bool {
        stored || self.plan.perk_releases.contains(&id)
    }

    /// Units the server holds as issued from the allocation, with the batch's.
    fn perk_issued(&self, id: Uuid, stored: i32) -> i64 {
        i64::from(stored) + i64::from(self.plan.perk_issued.get(&id).copied().unwrap_or(0))
    }

    /// Checks the perks of a sale whose other fields passed (`vn`: its validation number in
    /// canonical form); returns the claim rows to write when the sale is accepted.
    pub(super) fn check_perks(
        &self,
        s: &SalePayload,
        vn: &str,
    ) -> Result<Vec<PerkClaimInsert>, Reject> {
        let want: &[Uuid] = self
            .snap
            .packages
            .get(&s.package_id)
            .map_or(&[], |p| p.package.perk_ids.as_slice());
        let got: Vec<Uuid> = s.perks.iter().map(|p| p.perk_id).collect();
        if got != want {
            let list = |ids: &[Uuid]| {
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.iter()
                        .map(Uuid::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            return Err(reject(
                EntryCode::BadPayload,
                format!(
                    "sale payload field perks: package {} includes {} perk(s) ({}) but the sale issued {} ({}); a sale issues one unit of each of the package's perks, in its order (was the device's configuration out of date?)",
                    s.package_id,
                    want.len(),
                    list(want),
                    got.len(),
                    list(&got)
                ),
            ));
        }
        if s.perks.is_empty() {
            return Ok(vec![]);
        }
        let body = ValidationNumber::parse(vn)
            .map(|v| v.body())
            .map_err(|e| reject(EntryCode::BadValidationNumber, e.to_string()))?;
        let key = self.ctx.device.validation_key.as_ref().ok_or_else(|| {
            reject(
                EntryCode::BadTag,
                "this RSU has no validation key: enroll it",
            )
        })?;
        let org = self.ctx.device.organization_id;
        let mut in_sale: HashMap<Uuid, i64> = HashMap::new();
        let mut rows = Vec::with_capacity(s.perks.len());
        for (i, p) in s.perks.iter().enumerate() {
            let field = format!("sale payload field perks[{i}]");
            let position = i as u32 + 1;
            let perk = self
                .snap
                .perks
                .get(&p.perk_id)
                .filter(|k| k.organization_id == org)
                .ok_or_else(|| {
                    reject(
                        EntryCode::BadPayload,
                        format!(
                            "{field}.perkId: {} is not a perk of this RSU's organization",
                            p.perk_id
                        ),
                    )
                })?;
            let code = ClaimCode::parse(&p.claim_code)
                .map_err(|e| reject(EntryCode::BadPayload, format!("{field}.claimCode: {e}")))?;
            if code.sale_body() != body || code.index() != position {
                return Err(reject(
                    EntryCode::BadPayload,
                    format!(
                        "{field}.claimCode: {code} is not the code of perk {position} of sale {vn}"
                    ),
                ));
            }
            code.verify(key, p.perk_id)
                .map_err(|e| reject(EntryCode::BadTag, format!("{field}.claimCode: {e}")))?;
            let allocation = match (perk.requires_inventory, p.perk_allocation_id) {
                (false, None) => None,
                (false, Some(a)) => {
                    return Err(reject(
                        EntryCode::BadPayload,
                        format!(
                            "{field}.perkAllocationId: {} has no inventory, so its units come from no allocation; leave {a} out",
                            perk.name
                        ),
                    ))
                }
                (true, None) => {
                    return Err(reject(
                        EntryCode::PerkNotAllocated,
                        format!(
                            "{field}.perkAllocationId is missing: {} has a limited inventory and a unit must come from a perk allocation of this RSU",
                            perk.name
                        ),
                    ))
                }
                (true, Some(a)) => {
                    Some(self.check_perk_unit(&field, s, p.perk_id, &perk.name, a, &in_sale)?)
                }
            };
            if let Some(a) = allocation {
                *in_sale.entry(a).or_default() += 1;
            }
            rows.push(PerkClaimInsert {
                order_id: s.local_id,
                perk_id: p.perk_id,
                perk_allocation_id: allocation,
                event_id: s.event_id,
                position: position as i32,
                perk_name: p.perk_name.clone(),
                claim_code: code.to_string(),
                issued_at: s.sold_at,
            });
        }
        Ok(rows)
    }

    /// The allocation `id` may give one more unit of `perk_name` to sale `s`.
    fn check_perk_unit(
        &self,
        field: &str,
        s: &SalePayload,
        perk_id: Uuid,
        perk_name: &str,
        id: Uuid,
        in_sale: &HashMap<Uuid, i64>,
    ) -> Result<Uuid, Reject> {
        let not = |why: String| reject(EntryCode::PerkNotAllocated, format!("{field}: {why}"));
        let a = self
            .snap
            .perk_allocations
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| {
                not(format!(
                    "perkAllocationId {id} is not a perk allocation of this RSU"
                ))
            })?;
        if a.event_id != s.event_id {
            return Err(not(format!(
                "perk allocation {id} is for event {}, not this sale's event {}",
                a.event_id, s.event_id
            )));
        }
        if a.perk_id != perk_id {
            return Err(not(format!(
                "perk allocation {id} holds another perk than {perk_name}"
            )));
        }
        if self.perk_released(a.id, a.released) {
            return Err(not(format!(
                "perk allocation {id} of {perk_name} was released at close: nothing more is issued from it"
            )));
        }
        let issued = self.perk_issued(a.id, a.issued) + in_sale.get(&a.id).copied().unwrap_or(0);
        if issued + 1 > i64::from(a.quantity) {
            return Err(not(format!(
                "perk allocation {id} holds {} units of {perk_name} and {issued} are already issued: this unit was never allocated to this RSU",
                a.quantity
            )));
        }
        Ok(a.id)
    }

    /// Records the units of an accepted sale.
    pub(super) fn record_perks(&mut self, rows: Vec<PerkClaimInsert>) {
        for r in &rows {
            if let Some(a) = r.perk_allocation_id {
                *self.plan.perk_issued.entry(a).or_default() += 1;
            }
        }
        self.plan.perk_claims.extend(rows);
    }

    /// What an accepted void does to its sale's perks (the write marks the unclaimed ones
    /// voided): a unit already handed out is reported, with the void's flag.
    pub(super) fn void_perks(
        &mut self,
        e: &JournalEntry,
        v: &VoidPayload,
        event_id: Uuid,
    ) -> Vec<String> {
        let claimed: Vec<_> = self
            .snap
            .claimed_perks
            .iter()
            .filter(|c| c.order_id == v.local_id)
            .collect();
        if claimed.is_empty() {
            return vec![];
        }
        let list: Vec<String> = claimed
            .iter()
            .map(|c| {
                format!(
                    "{} ({}, handed out by {})",
                    c.perk_name,
                    c.claim_code,
                    c.claimed_by.as_deref().unwrap_or("unknown")
                )
            })
            .collect();
        self.plan.critical.push(CriticalInsert {
            entry_id: e.body.entry_id,
            event_type: "PERK_CLAIMED_BEFORE_VOID".into(),
            event_id: Some(event_id),
            user_id: Some(v.supervisor_id),
            severity: "WARNING".into(),
            description: format!(
                "Sale {} was voided after its perk was handed out: {}; the claim stays recorded",
                v.validation_number,
                list.join("; ")
            ),
            metadata: json!({
                "localId": v.local_id,
                "claimCodes": claimed.iter().map(|c| c.claim_code.clone()).collect::<Vec<_>>(),
                "epoch": e.body.epoch, "seq": e.body.seq,
            }),
            at: e.body.created_at,
        });
        vec![FLAG_PERK_CLAIMED.to_string()]
    }

    pub(super) fn perk_release(&mut self, r: &PerkReleasePayload) -> Result<Vec<String>, Reject> {
        self.event_of(r.event_id)?;
        let a = self
            .snap
            .perk_allocations
            .iter()
            .find(|a| a.id == r.perk_allocation_id && a.event_id == r.event_id && a.perk_id == r.perk_id)
            .ok_or_else(|| {
                reject(
                    EntryCode::UnknownAllocation,
                    format!(
                        "perk_release payload field perkAllocationId: {} is not a perk allocation of this RSU for perk {} and event {}",
                        r.perk_allocation_id, r.perk_id, r.event_id
                    ),
                )
            })?;
        if self.perk_released(a.id, a.released) {
            return Err(reject(
                EntryCode::BadPayload,
                format!(
                    "perk_release payload field perkAllocationId: {} was already released",
                    a.id
                ),
            ));
        }
        let issued = self.perk_issued(a.id, a.issued);
        if i64::from(r.issued) != issued {
            return Err(reject(
                EntryCode::BadPayload,
                format!(
                    "perk_release payload field issued: the device issued {} units from perk allocation {}, the server holds {issued} (was a sale with a perk rejected?); resolve the difference, the allocation stays open",
                    r.issued, a.id
                ),
            ));
        }
        self.plan.perk_releases.push(a.id);
        Ok(vec![])
    }
}
