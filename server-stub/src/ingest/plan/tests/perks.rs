//! The perk rows of the plan (issue 14): a sale's perks checked against the package, the claim
//! codes and this RSU's perk allocations; a void of a sale whose perk was handed out; the
//! perk release at close.

use super::*;
use crate::ingest::snapshot::{ClaimedPerk, PerkAllocRow, PerkRow};
use rsu_core::payload::{IssuedPerk, PerkReleasePayload};
use rsu_core::perk::ClaimCode;

fn perk_alloc(n: u128, event: u128, quantity: i32, issued: i32, released: bool) -> PerkAllocRow {
    PerkAllocRow {
        id: id(n),
        perk_id: id(PERK_INV),
        event_id: id(event),
        quantity,
        issued,
        released,
    }
}

/// The perks, the package that includes them, and this RSU's perk allocations.
pub(super) fn add_to(snap: &mut Snapshot) {
    let (pid, mut pkg) = package(PKG_PERKS, EV, Money::new(2000, usd()), None);
    pkg.package.perk_ids = vec![id(PERK_INV), id(PERK_FREE)];
    snap.packages.insert(pid, pkg);
    for (n, name, inv) in [
        (PERK_INV, "VIP Parking", true),
        (PERK_FREE, "Program", false),
    ] {
        snap.perks.insert(
            id(n),
            PerkRow {
                id: id(n),
                organization_id: id(ORG),
                name: name.into(),
                requires_inventory: inv,
            },
        );
    }
    snap.perk_allocations = vec![
        perk_alloc(PALLOC, EV, 2, 1, false),
        perk_alloc(PALLOC_RELEASED, EV, 5, 0, true),
        perk_alloc(PALLOC_OTHER_EVENT, EV_CLOSED_EARLY, 5, 0, false),
    ];
}

impl Fx {
    /// A sale of PKG_PERKS with both perks, each with its genuine code, the inventory one from
    /// PALLOC.
    pub(super) fn push_perk_sale(&mut self, edit: impl FnOnce(&mut SalePayload)) -> SalePayload {
        self.push_sale(|s| {
            s.package_id = id(PKG_PERKS);
            let number = ValidationNumber::parse(&s.validation_number).unwrap();
            s.perks = [
                (PERK_INV, Some(id(PALLOC)), "VIP Parking"),
                (PERK_FREE, None, "Program"),
            ]
            .into_iter()
            .enumerate()
            .map(|(i, (perk, alloc, name))| IssuedPerk {
                perk_id: id(perk),
                perk_allocation_id: alloc,
                perk_name: name.into(),
                claim_code: ClaimCode::issue(&key(), &number, i as u32 + 1, id(perk)).to_string(),
            })
            .collect();
            edit(s);
        })
    }

    fn perk_release(&self, issued: u32) -> PerkReleasePayload {
        PerkReleasePayload {
            perk_allocation_id: id(PALLOC),
            perk_id: id(PERK_INV),
            event_id: id(EV),
            issued,
            released: 2 - issued,
        }
    }

    fn plan_answers(&self) -> (Vec<Answer>, Vec<Vec<String>>) {
        let entries = self.entries();
        let ctx = PushContext {
            device: &self.device,
            received_at: t("2026-06-28T13:00:00Z"),
            forms: &[],
        };
        let decoded = Entries::new(&entries);
        let p = plan(&ctx, &decoded, &self.epoch, &self.stored, &self.snap);
        (
            p.results.iter().map(|r| (r.status, r.code)).collect(),
            p.results.iter().map(|r| r.flags.clone()).collect(),
        )
    }
}

type Edit = fn(&mut SalePayload);

#[test]
fn a_sales_perks_are_checked_against_the_package_the_code_and_the_allocation() {
    use EntryCode::*;
    let cases: Vec<(&str, Edit, Answer)> = vec![
        ("every unit with its genuine code", |_| {}, applied()),
        (
            "perks in another order than the package's",
            |s| s.perks.reverse(),
            rejected(BadPayload),
        ),
        (
            "a perk left out",
            |s| s.perks.truncate(1),
            rejected(BadPayload),
        ),
        (
            "perks on a package that includes none",
            |s| s.package_id = id(PKG),
            rejected(BadPayload),
        ),
        (
            "a forged claim code (another perk's tag)",
            |s| {
                let number = ValidationNumber::parse(&s.validation_number).unwrap();
                s.perks[0].claim_code =
                    ClaimCode::issue(&key(), &number, 1, id(PERK_FREE)).to_string();
            },
            rejected(BadTag),
        ),
        (
            "a code of another sale",
            |s| {
                let other = ValidationNumber::parse(&vn(999, 2026)).unwrap();
                s.perks[0].claim_code =
                    ClaimCode::issue(&key(), &other, 1, id(PERK_INV)).to_string();
            },
            rejected(BadPayload),
        ),
        (
            "a code that is not a claim code",
            |s| s.perks[1].claim_code = "PARK-A1-2025".into(),
            rejected(BadPayload),
        ),
        (
            "an inventory unit without its allocation",
            |s| s.perks[0].perk_allocation_id = None,
            rejected(PerkNotAllocated),
        ),
        (
            "an allocation of another RSU (unknown here)",
            |s| s.perks[0].perk_allocation_id = Some(id(98)),
            rejected(PerkNotAllocated),
        ),
        (
            "an allocation of another event",
            |s| s.perks[0].perk_allocation_id = Some(id(PALLOC_OTHER_EVENT)),
            rejected(PerkNotAllocated),
        ),
        (
            "a released allocation",
            |s| s.perks[0].perk_allocation_id = Some(id(PALLOC_RELEASED)),
            rejected(PerkNotAllocated),
        ),
        (
            "an allocation named for a perk without inventory",
            |s| s.perks[1].perk_allocation_id = Some(id(PALLOC)),
            rejected(BadPayload),
        ),
    ];
    for (name, edit, expect) in cases {
        let mut f = Fx::new();
        f.push_perk_sale(edit);
        f.push_sale(|_| {});
        let (answers, _) = f.plan_answers();
        assert_eq!(answers, vec![expect, applied()], "{name}");
    }
}

#[test]
fn the_plan_records_each_unit_and_what_it_takes_from_the_allocation() {
    let mut f = Fx::new();
    let s = f.push_perk_sale(|_| {});
    let entries = f.entries();
    let ctx = PushContext {
        device: &f.device,
        received_at: t("2026-06-28T13:00:00Z"),
        forms: &[],
    };
    let decoded = Entries::new(&entries);
    let p = plan(&ctx, &decoded, &f.epoch, &f.stored, &f.snap);
    assert_eq!(p.perk_claims.len(), 2);
    assert_eq!(p.perk_claims[0].position, 1);
    assert_eq!(p.perk_claims[0].perk_allocation_id, Some(id(PALLOC)));
    assert_eq!(p.perk_claims[1].perk_allocation_id, None);
    assert_eq!(p.perk_claims[1].claim_code, s.perks[1].claim_code);
    assert_eq!(p.perk_issued.get(&id(PALLOC)), Some(&1));
}

#[test]
fn a_release_must_agree_with_the_servers_issued_count() {
    // The server holds 1 issued; the batch's sale makes it 2.
    let mut f = Fx::new();
    f.push_perk_sale(|_| {});
    f.push(EntryKind::PerkRelease, f.perk_release(1));
    f.push(EntryKind::PerkRelease, f.perk_release(2));
    f.push(EntryKind::PerkRelease, f.perk_release(2));
    let (answers, _) = f.plan_answers();
    assert_eq!(
        answers,
        vec![
            applied(),
            rejected(EntryCode::BadPayload),
            applied(),
            rejected(EntryCode::BadPayload),
        ],
        "a wrong count is refused, the right one releases, a second release is refused"
    );
    let mut f = Fx::new();
    f.push(EntryKind::PerkRelease, f.perk_release(1));
    f.push_perk_sale(|_| {});
    let (answers, _) = f.plan_answers();
    assert_eq!(
        answers,
        vec![applied(), rejected(EntryCode::PerkNotAllocated)],
        "nothing is issued from an allocation released earlier in the batch"
    );
    let mut f = Fx::new();
    f.push(EntryKind::PerkRelease, {
        let mut r = f.perk_release(1);
        r.perk_id = id(PERK_FREE);
        r
    });
    let (answers, _) = f.plan_answers();
    assert_eq!(answers, vec![rejected(EntryCode::UnknownAllocation)]);
}

#[test]
fn a_void_of_a_sale_whose_perk_was_handed_out_is_applied_and_flagged() {
    let mut f = Fx::new();
    f.snap.claimed_perks.push(ClaimedPerk {
        order_id: id(ORDER),
        claim_code: "ER007-2026-001000-P1-AAAAAA".into(),
        perk_name: "VIP Parking".into(),
        claimed_by: Some("Desk".into()),
    });
    f.push(EntryKind::Void, f.void(id(ORDER), vn(1000, 2026)));
    let (answers, flags) = f.plan_answers();
    assert_eq!(answers, vec![applied()]);
    assert_eq!(
        flags[0],
        vec![crate::ingest::plan::perks::FLAG_PERK_CLAIMED]
    );
}
