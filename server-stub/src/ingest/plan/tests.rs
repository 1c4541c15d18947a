//! The plan's table test, without PostgreSQL: one batch per row, built from a fixed snapshot,
//! and the answer expected for every entry. Every entry code appears in the table (the last
//! assertion proves it); the PostgreSQL tests keep one case per code for the full path.
//!
//! Why this file is over 800 lines: it is one table (52 rows, one or more per entry code) and the
//! fixed snapshot the rows share; split, a reader could no longer see at a glance which code has
//! which row, which is the point of a table test.

use super::*;
use rsu_core::config::Role;
use rsu_core::event::{EventState, Package};
use rsu_core::money::{Currency, Money};
use rsu_core::payload::{
    AllocationReleasePayload, AllocationSegment, CriticalEventPayload, Payment, PaymentMethod,
    ReprintPayload,
};
use rsu_core::validation::{ValidationKey, ValidationNumber};
use rsu_core::wire::FLAG_LATE;
use rsu_core::EntryBody;
use serde_json::json;

use crate::ingest::snapshot::{EventPackage, EventRow};

mod perks;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const ORG: u128 = 50;
const OTHER_ORG: u128 = 51;
const RSU: u128 = 60;
const OTHER_RSU: u128 = 61;
/// Active, sales 2026-06-28 09:00 to 2026-06-30 18:00, USD.
const EV: u128 = 1;
const EV_CONFIGURED: u128 = 2;
const EV_CANCELLED: u128 = 3;
const EV_RECONCILED: u128 = 4;
const EV_OTHER_ORG: u128 = 5;
/// Active, but its sales were closed at 2026-06-28 10:00.
const EV_CLOSED_EARLY: u128 = 6;
/// 5 tickets for 2000 (1500 before 2026-06-28 11:00 in the price history).
const PKG: u128 = 10;
/// 5 tickets, on sale from 2026-06-29 only.
const PKG_WINDOW: u128 = 11;
/// A package of EV priced in EUR.
const PKG_EUR: u128 = 12;
const PKG_CLOSED_EARLY: u128 = 13;
/// EV, 101–500, nothing sold yet.
const ALLOC: u128 = 20;
/// EV, 501–600, released from 551 on.
const ALLOC_RELEASED: u128 = 21;
/// EV_CLOSED_EARLY, 1–100.
const ALLOC_CLOSED_EARLY: u128 = 22;
/// Sold by this RSU with sale seq 1000, not voided.
const ORDER: u128 = 30;
const ORDER_VOIDED: u128 = 31;
const ORDER_OTHER_RSU: u128 = 32;
const ORDER_RECONCILED: u128 = 33;
const SELLER: u128 = 40;
const SUPERVISOR: u128 = 41;
const CLOSED_SHIFT: u128 = 70;
const USED_ENTRY_ID: u128 = 80;
/// A 5-ticket package of EV that includes PERK_INV then PERK_FREE (tests/perks.rs).
const PKG_PERKS: u128 = 14;
/// An inventory perk of ORG.
const PERK_INV: u128 = 90;
/// A perk of ORG without inventory.
const PERK_FREE: u128 = 91;
/// This RSU's allocation of PERK_INV for EV: 2 units, 1 issued.
const PALLOC: u128 = 95;
/// This RSU's allocation of PERK_INV for EV, released.
const PALLOC_RELEASED: u128 = 96;
/// This RSU's allocation of PERK_INV for EV_CLOSED_EARLY.
const PALLOC_OTHER_EVENT: u128 = 97;

fn key() -> ValidationKey {
    ValidationKey::new(b"plan table test key")
}

fn vn(seq: u64, year: i32) -> String {
    ValidationNumber::issue(&key(), "ER", 7, year, seq)
        .unwrap()
        .to_string()
}

fn usd() -> Currency {
    Currency::new("USD").unwrap()
}

fn event(n: u128, org: u128, state: EventState) -> (Uuid, EventRow) {
    (
        id(n),
        EventRow {
            id: id(n),
            organization_id: id(org),
            state,
            currency: usd(),
            sales_start_time: t("2026-06-28T09:00:00Z"),
            sales_end_time: t("2026-06-30T18:00:00Z"),
            sales_closed_at: None,
            price_lock: false,
        },
    )
}

fn package(n: u128, event: u128, price: Money, from: Option<&str>) -> (Uuid, EventPackage) {
    (
        id(n),
        EventPackage {
            event_id: id(event),
            package: Package {
                perk_ids: vec![],
                id: id(n),
                name: String::new(),
                ticket_count: 5,
                price,
                display_order: 0,
                is_active: true,
                active_from: from.map(t),
                active_to: None,
            },
        },
    )
}

fn alloc(n: u128, event: u128, start: i32, end: i32, released: Option<i32>) -> AllocRow {
    AllocRow {
        id: id(n),
        event_id: id(event),
        start_number: start,
        end_number: end,
        released_from: released,
        next_draw_number: start,
    }
}

fn order(n: u128, rsu: u128, event: u128, seq: u64, voided: bool) -> (Uuid, OrderRow) {
    (
        id(n),
        OrderRow {
            id: id(n),
            validation_number: vn(seq, 2026),
            rsu_id: Some(id(rsu)),
            event_id: id(event),
            organization_id: id(ORG),
            sale_seq: Some(seq as i64),
            voided,
        },
    )
}

/// One row of the table: the device, the snapshot and the batch being built.
struct Fx {
    device: Device,
    snap: Snapshot,
    epoch: EpochRow,
    stored: HashMap<u64, StoredEntry>,
    forms: Vec<Option<String>>,
    batch: Vec<(EntryKind, Value)>,
    next_number: i64,
    next_sale_seq: u64,
    next_id: u128,
}

impl Fx {
    fn new() -> Self {
        let mut snap = Snapshot {
            events: [
                event(EV, ORG, EventState::Active),
                event(EV_CONFIGURED, ORG, EventState::Configured),
                event(EV_CANCELLED, ORG, EventState::Cancelled),
                event(EV_RECONCILED, ORG, EventState::Reconciled),
                event(EV_OTHER_ORG, OTHER_ORG, EventState::Active),
                event(EV_CLOSED_EARLY, ORG, EventState::SalesClosed),
            ]
            .into_iter()
            .collect(),
            packages: [
                package(PKG, EV, Money::new(2000, usd()), None),
                package(
                    PKG_WINDOW,
                    EV,
                    Money::new(2000, usd()),
                    Some("2026-06-29T00:00:00Z"),
                ),
                package(
                    PKG_EUR,
                    EV,
                    Money::new(2000, Currency::new("EUR").unwrap()),
                    None,
                ),
                package(
                    PKG_CLOSED_EARLY,
                    EV_CLOSED_EARLY,
                    Money::new(2000, usd()),
                    None,
                ),
            ]
            .into_iter()
            .collect(),
            prices: [(
                id(PKG),
                vec![
                    (t("2026-06-01T00:00:00Z"), 1500),
                    (t("2026-06-28T11:00:00Z"), 2000),
                ],
            )]
            .into_iter()
            .collect(),
            allocations: vec![
                alloc(ALLOC, EV, 101, 500, None),
                alloc(ALLOC_RELEASED, EV, 501, 600, Some(551)),
                alloc(ALLOC_CLOSED_EARLY, EV_CLOSED_EARLY, 1, 100, None),
            ],
            orders: [
                order(ORDER, RSU, EV, 1000, false),
                order(ORDER_VOIDED, RSU, EV, 1001, true),
                order(ORDER_OTHER_RSU, OTHER_RSU, EV, 1002, false),
                order(ORDER_RECONCILED, RSU, EV_RECONCILED, 1003, false),
            ]
            .into_iter()
            .collect(),
            roster: [
                (id(SELLER), Role::Seller),
                (id(SUPERVISOR), Role::Supervisor),
            ]
            .into_iter()
            .collect(),
            used_entry_ids: [id(USED_ENTRY_ID)].into_iter().collect(),
            shift_ids: [id(CLOSED_SHIFT)].into_iter().collect(),
            ..Snapshot::default()
        };
        perks::add_to(&mut snap);
        if let Some(ev) = snap.events.get_mut(&id(EV_CLOSED_EARLY)) {
            ev.sales_closed_at = Some(t("2026-06-28T10:00:00Z"));
        }
        for o in snap.orders.values() {
            snap.validation_numbers
                .insert(o.validation_number.clone(), o.id);
            if o.rsu_id == Some(id(RSU)) {
                snap.sale_seqs.insert(o.sale_seq.unwrap() as u64, o.id);
            }
        }
        Fx {
            device: Device {
                rsu_id: id(RSU),
                key_id: id(62),
                organization_id: id(ORG),
                rsu_no: 7,
                current_epoch: 1,
                validation_prefix: "ER".into(),
                validation_key: Some(key()),
                key_expires_at: t("2027-01-01T00:00:00Z"),
                key_expired: false,
                nonce: "0123456789abcdef".into(),
            },
            snap,
            epoch: EpochRow {
                last_seq: 0,
                head_hash: ChainHash::GENESIS.0.to_vec(),
                chain_verified: true,
                chain_broken_at: None,
            },
            stored: HashMap::new(),
            forms: vec![],
            batch: vec![],
            next_number: 101,
            next_sale_seq: 1,
            next_id: 1000,
        }
    }

    fn new_id(&mut self) -> Uuid {
        self.next_id += 1;
        id(self.next_id)
    }

    /// A sale of one 5-ticket package of EV at 12:00 that passes every check, with the next
    /// numbers of ALLOC and the next sale seq.
    fn sale(&mut self) -> SalePayload {
        let first = self.next_number;
        self.next_number += 5;
        let seq = self.next_sale_seq;
        self.next_sale_seq += 1;
        SalePayload {
            perks: vec![],
            local_id: self.new_id(),
            event_id: id(EV),
            allocation_id: id(ALLOC),
            segments: vec![AllocationSegment {
                allocation_id: id(ALLOC),
                start_number: first,
                end_number: first + 4,
            }],
            validation_number: vn(seq, 2026),
            sale_seq: seq,
            draw_numbers: (first..first + 5).collect(),
            package_id: id(PKG),
            package_name: "Five".into(),
            ticket_count: 5,
            unit_price: 2000,
            total_amount: 2000,
            currency: "USD".into(),
            payment: Payment {
                method: PaymentMethod::Cash,
                reference: None,
            },
            customer_info: None,
            operator_id: id(SELLER),
            shift_id: None,
            sold_at: t("2026-06-28T12:00:00Z"),
        }
    }

    fn push<T: serde::Serialize>(&mut self, kind: EntryKind, payload: T) {
        self.batch
            .push((kind, serde_json::to_value(payload).unwrap()));
    }

    fn push_sale(&mut self, edit: impl FnOnce(&mut SalePayload)) -> SalePayload {
        let mut s = self.sale();
        edit(&mut s);
        self.push(EntryKind::Sale, &s);
        s
    }

    fn push_sale_json(&mut self, edit: impl FnOnce(&mut Value)) {
        let mut v = serde_json::to_value(self.sale()).unwrap();
        edit(&mut v);
        self.batch.push((EntryKind::Sale, v));
    }

    fn void(&self, order: Uuid, validation_number: String) -> VoidPayload {
        VoidPayload {
            local_id: order,
            validation_number,
            reason: "wrong package".into(),
            operator_id: id(SELLER),
            supervisor_id: id(SUPERVISOR),
            voided_at: t("2026-06-28T12:05:00Z"),
        }
    }

    fn reprint(&self, order: Uuid) -> ReprintPayload {
        ReprintPayload {
            local_id: order,
            validation_number: vn(1000, 2026),
            reprint_number: 1,
            operator_id: id(SELLER),
            supervisor_id: Some(id(SUPERVISOR)),
        }
    }

    fn critical(&self) -> CriticalEventPayload {
        CriticalEventPayload {
            event_type: "PIN_FAILED".into(),
            severity: "warning".into(),
            description: "three wrong PINs".into(),
            operator_id: Some(id(SELLER)),
            event_id: Some(id(EV)),
            metadata: json!({"attempts": 3}),
        }
    }

    fn shift_close(&self, shift: Uuid) -> ShiftClosePayload {
        ShiftClosePayload {
            shift_id: shift,
            operator_id: id(SELLER),
            closed_by: id(SUPERVISOR),
            opened_at: t("2026-06-28T09:00:00Z"),
            closed_at: t("2026-06-28T17:00:00Z"),
            currency: "USD".into(),
            float_amount: 0,
            lines: vec![],
            sales_count: 0,
            sales_amount: 0,
            voids_count: 0,
            voids_amount: 0,
            cash_sales_amount: 0,
            card_sales_amount: 0,
            cash_expected: 0,
            first_seq: None,
            last_seq: None,
            chain_head: ChainHash::GENESIS.to_hex(),
            ranges: vec![],
        }
    }

    fn release(&self, start: i64) -> AllocationReleasePayload {
        AllocationReleasePayload {
            allocation_id: id(ALLOC),
            event_id: id(EV),
            start_number: start,
            end_number: 500,
        }
    }

    /// The batch as chained entries of epoch 1, from seq 1.
    fn entries(&self) -> Vec<JournalEntry> {
        let mut prev = ChainHash::GENESIS;
        self.batch
            .iter()
            .enumerate()
            .map(|(i, (kind, payload))| {
                let e = EntryBody {
                    epoch: 1,
                    seq: i as u64 + 1,
                    entry_id: id(9000 + i as u128),
                    kind: *kind,
                    created_at: t("2026-06-28T12:00:00.000Z"),
                    payload: payload.clone(),
                }
                .chain(prev)
                .unwrap();
                prev = e.hash;
                e
            })
            .collect()
    }

    /// Stores the first `n` entries as an earlier push did (answered `status`).
    fn store(&mut self, entries: &[JournalEntry], n: usize, status: EntryStatus) {
        for e in &entries[..n] {
            self.stored.insert(
                e.body.seq,
                StoredEntry {
                    seq: e.body.seq as i64,
                    entry_id: e.body.entry_id,
                    hash: e.hash.0.to_vec(),
                    status: status.as_str().into(),
                    reason_code: None,
                    reason_message: None,
                    flags: vec![],
                },
            );
        }
        self.epoch.last_seq = n as i64;
        self.epoch.head_hash = entries[n - 1].hash.0.to_vec();
    }

    /// Plans `entries` and gives (status, code) per entry.
    fn answers(&self, entries: &[JournalEntry]) -> Vec<(EntryStatus, Option<EntryCode>)> {
        let ctx = PushContext {
            device: &self.device,
            received_at: t("2026-06-28T13:00:00Z"),
            forms: &self.forms,
        };
        let decoded = Entries::new(entries);
        let p = plan(&ctx, &decoded, &self.epoch, &self.stored, &self.snap);
        assert_eq!(p.results.len(), entries.len(), "one answer per entry");
        for r in &p.results {
            if matches!(r.status, EntryStatus::Rejected | EntryStatus::Conflict) {
                assert!(
                    r.message.as_deref().is_some_and(|m| !m.is_empty()),
                    "seq {} has no message",
                    r.seq
                );
            }
        }
        p.results.iter().map(|r| (r.status, r.code)).collect()
    }
}

type Answer = (EntryStatus, Option<EntryCode>);

fn applied() -> Answer {
    (EntryStatus::Applied, None)
}

fn rejected(code: EntryCode) -> Answer {
    (EntryStatus::Rejected, Some(code))
}

fn conflict(code: EntryCode) -> Answer {
    (EntryStatus::Conflict, Some(code))
}

/// Changes the built entries before they are planned (a tampered chain, an earlier push).
type After = fn(&mut Fx, &mut Vec<JournalEntry>);

#[test]
fn the_plan_table() {
    use EntryCode::*;
    use EntryKind as K;
    type Case = (&'static str, fn(&mut Fx), Option<After>, Vec<Answer>);
    let cases: Vec<Case> = vec![
        // ---- every kind applied ----
        (
            "a sale that passes every check is applied",
            |f| {
                f.push_sale(|_| {});
            },
            None,
            vec![applied()],
        ),
        (
            "a sale, its void, a reprint, a critical event, a shift close and a release",
            |f| {
                let s = f.push_sale(|_| {});
                let v = f.void(s.local_id, s.validation_number.clone());
                f.push(K::Void, v);
                f.push(K::Reprint, f.reprint(s.local_id));
                f.push(K::CriticalEvent, f.critical());
                let shift = f.new_id();
                f.push(K::ShiftClose, f.shift_close(shift));
                f.push(K::AllocationRelease, f.release(106));
            },
            None,
            vec![applied(); 6],
        ),
        (
            "a void of a stored order of this RSU, in another spelling of its number",
            |f| {
                let text = vn(1000, 2026).to_ascii_lowercase();
                f.push(K::Void, f.void(id(ORDER), text));
            },
            None,
            vec![applied()],
        ),
        (
            "a reprint of a sale the server does not hold is still recorded",
            |f| {
                let unknown = f.new_id();
                f.push(K::Reprint, f.reprint(unknown));
            },
            None,
            vec![applied()],
        ),
        (
            "a sale spanning two allocations names both segments",
            |f| {
                f.next_number = 499;
                f.push_sale(|s| {
                    s.draw_numbers = vec![499, 500, 501, 502, 503];
                    s.segments = vec![
                        AllocationSegment {
                            allocation_id: id(ALLOC),
                            start_number: 499,
                            end_number: 500,
                        },
                        AllocationSegment {
                            allocation_id: id(ALLOC_RELEASED),
                            start_number: 501,
                            end_number: 503,
                        },
                    ];
                });
            },
            None,
            vec![applied()],
        ),
        // ---- the chain and the common checks ----
        (
            "an entry that does not chain from the server's head: broken_chain, later ones still checked",
            |f| {
                f.push_sale(|_| {});
                f.push_sale(|_| {});
            },
            // The stated hash stays, so the next entry chains from it.
            Some(|_, es| es[0].prev_hash = ChainHash([7; 32])),
            vec![rejected(BrokenChain), applied()],
        ),
        (
            "an entry altered after it was hashed: broken_chain",
            |f| {
                f.push_sale(|_| {});
            },
            Some(|_, es| es[0].body.payload["unitPrice"] = json!(1)),
            vec![rejected(BrokenChain)],
        ),
        (
            "a createdAt or entryId not in canonical form: bad_payload",
            |f| {
                f.push_sale(|_| {});
                f.forms = vec![Some("createdAt is not canonical".into())];
            },
            None,
            vec![rejected(BadPayload)],
        ),
        (
            "a NUL character in the payload: bad_payload",
            |f| f.push_sale_json(|v| v["packageName"] = json!("Fi\u{0}ve")),
            None,
            vec![rejected(BadPayload)],
        ),
        (
            "a createdAt before 2000: bad_payload",
            |f| {
                f.push_sale(|_| {});
            },
            Some(|_, es| {
                let mut body = es[0].body.clone();
                body.created_at = t("1999-12-31T23:59:59Z");
                es[0] = body.chain(ChainHash::GENESIS).unwrap();
            }),
            vec![rejected(BadPayload)],
        ),
        (
            "an entry id already stored: id_conflict",
            |f| {
                f.push_sale(|_| {});
            },
            Some(|_, es| {
                let mut body = es[0].body.clone();
                body.entry_id = id(USED_ENTRY_ID);
                es[0] = body.chain(ChainHash::GENESIS).unwrap();
            }),
            vec![conflict(IdConflict)],
        ),
        (
            "a payload that does not match its kind: bad_payload",
            |f| f.push_sale_json(|v| v["ticketCount"] = json!("five")),
            None,
            vec![rejected(BadPayload)],
        ),
        // ---- seqs already stored ----
        (
            "a stored seq sent again with the same hash is a duplicate; the next seq is new",
            |f| {
                f.push_sale(|_| {});
                f.push_sale(|_| {});
            },
            Some(|f, es| f.store(es, 1, EntryStatus::Applied)),
            vec![(EntryStatus::Duplicate, None), applied()],
        ),
        (
            "a stored seq sent again with another hash: seq_conflict",
            |f| {
                f.push_sale(|_| {});
            },
            Some(|f, es| {
                f.store(es, 1, EntryStatus::Applied);
                if let Some(s) = f.stored.get_mut(&1) {
                    s.hash = vec![9; 32];
                }
            }),
            vec![conflict(SeqConflict)],
        ),
        // ---- sales: the event ----
        (
            "a sale for another organization's event: unknown_event",
            |f| {
                f.push_sale(|s| s.event_id = id(EV_OTHER_ORG));
            },
            None,
            vec![rejected(UnknownEvent)],
        ),
        (
            "a sale for an event that never opened: event_not_active",
            |f| {
                f.push_sale(|s| s.event_id = id(EV_CONFIGURED));
            },
            None,
            vec![rejected(EventNotActive)],
        ),
        (
            "a sale for a cancelled event: event_cancelled",
            |f| {
                f.push_sale(|s| s.event_id = id(EV_CANCELLED));
            },
            None,
            vec![rejected(EventCancelled)],
        ),
        (
            "a sale for a reconciled event: event_reconciled",
            |f| {
                f.push_sale(|s| s.event_id = id(EV_RECONCILED));
            },
            None,
            vec![rejected(EventReconciled)],
        ),
        (
            "a sale in another currency than the event's: currency_mismatch",
            |f| {
                f.push_sale(|s| s.currency = "EUR".into());
            },
            None,
            vec![rejected(CurrencyMismatch)],
        ),
        (
            "a sale before sales start: sales_not_open",
            |f| {
                f.push_sale(|s| s.sold_at = t("2026-06-28T08:59:59Z"));
            },
            None,
            vec![rejected(SalesNotOpen)],
        ),
        (
            "a sale after the end: sales_closed",
            |f| {
                f.push_sale(|s| s.sold_at = t("2026-06-30T18:00:01Z"));
            },
            None,
            vec![rejected(SalesClosed)],
        ),
        (
            "a sale after an early close: sales_closed; one before it is applied (late)",
            |f| {
                for (i, sold_at) in ["2026-06-28T10:00:01Z", "2026-06-28T09:30:00Z"]
                    .into_iter()
                    .enumerate()
                {
                    let first = 1 + 5 * i as i64;
                    f.push_sale(|s| {
                        s.event_id = id(EV_CLOSED_EARLY);
                        s.package_id = id(PKG_CLOSED_EARLY);
                        s.allocation_id = id(ALLOC_CLOSED_EARLY);
                        s.draw_numbers = (first..first + 5).collect();
                        s.segments = vec![AllocationSegment {
                            allocation_id: id(ALLOC_CLOSED_EARLY),
                            start_number: first,
                            end_number: first + 4,
                        }];
                        s.sold_at = t(sold_at);
                    });
                }
            },
            None,
            vec![rejected(SalesClosed), applied()],
        ),
        // ---- sales: the package ----
        (
            "a package of another event: unknown_package",
            |f| {
                f.push_sale(|s| s.package_id = id(PKG_CLOSED_EARLY));
            },
            None,
            vec![rejected(UnknownPackage)],
        ),
        (
            "a package outside its window at soldAt: package_not_on_sale",
            |f| {
                f.push_sale(|s| s.package_id = id(PKG_WINDOW));
            },
            None,
            vec![rejected(PackageNotOnSale)],
        ),
        (
            "a package priced in another currency: currency_mismatch",
            |f| {
                f.push_sale(|s| s.package_id = id(PKG_EUR));
            },
            None,
            vec![rejected(CurrencyMismatch)],
        ),
        (
            "a ticket count that is no multiple of the package's: ticket_count_mismatch",
            |f| {
                f.push_sale(|s| {
                    s.ticket_count = 4;
                    s.draw_numbers.pop();
                    s.segments[0].end_number -= 1;
                });
            },
            None,
            vec![rejected(TicketCountMismatch)],
        ),
        (
            "a unit price or total that is not the price in force at soldAt: price_mismatch",
            |f| {
                f.push_sale(|s| s.unit_price = 1999);
                f.push_sale(|s| s.total_amount = 4000);
                // Before 11:00 the price history says 1500.
                f.push_sale(|s| s.sold_at = t("2026-06-28T10:00:00Z"));
                f.push_sale(|s| {
                    s.sold_at = t("2026-06-28T10:00:00Z");
                    s.unit_price = 1500;
                    s.total_amount = 1500;
                });
            },
            None,
            vec![
                rejected(PriceMismatch),
                rejected(PriceMismatch),
                rejected(PriceMismatch),
                applied(),
            ],
        ),
        (
            "a locked price ignores the history",
            |f| {
                if let Some(ev) = f.snap.events.get_mut(&id(EV)) {
                    ev.price_lock = true;
                }
                f.push_sale(|s| s.sold_at = t("2026-06-28T10:00:00Z"));
            },
            None,
            vec![applied()],
        ),
        // ---- sales: the operator and the validation number ----
        (
            "an operator not on the roster: unknown_operator",
            |f| {
                f.push_sale(|s| s.operator_id = id(999));
            },
            None,
            vec![rejected(UnknownOperator)],
        ),
        (
            "a validation number that is malformed, of another device, or of another year: bad_validation_number",
            |f| {
                f.push_sale(|s| s.validation_number = "not-a-number".into());
                f.push_sale(|s| s.sale_seq += 100);
                f.push_sale(|s| s.validation_number = vn(s.sale_seq, 2025));
            },
            None,
            vec![rejected(BadValidationNumber); 3],
        ),
        (
            "a tag that does not verify, or no key: bad_tag",
            |f| {
                f.push_sale(|s| {
                    s.validation_number = ValidationNumber::issue(
                        &ValidationKey::new(b"another key"),
                        "ER",
                        7,
                        2026,
                        s.sale_seq,
                    )
                    .unwrap()
                    .to_string()
                });
            },
            None,
            vec![rejected(BadTag)],
        ),
        (
            "an RSU without a validation key: bad_tag",
            |f| {
                f.device.validation_key = None;
                f.push_sale(|_| {});
            },
            None,
            vec![rejected(BadTag)],
        ),
        (
            "a validation number or sale seq already used: duplicate_validation_number",
            |f| {
                f.push_sale(|s| {
                    s.sale_seq = 1000;
                    s.validation_number = vn(1000, 2026);
                });
                // Seq 2000 was used last year, under another number.
                f.snap.sale_seqs.insert(2000, id(ORDER));
                f.push_sale(|s| {
                    s.sale_seq = 2000;
                    s.validation_number = vn(2000, 2026);
                });
                // The same seq twice in one push, with the same number written two ways.
                f.push_sale(|s| {
                    s.sale_seq = 3000;
                    s.validation_number = vn(3000, 2026);
                });
                f.push_sale(|s| {
                    s.sale_seq = 3000;
                    s.validation_number = vn(3000, 2026).to_ascii_lowercase();
                });
            },
            None,
            vec![
                rejected(DuplicateValidationNumber),
                rejected(DuplicateValidationNumber),
                applied(),
                rejected(DuplicateValidationNumber),
            ],
        ),
        (
            "a sale whose localId is already an order: id_conflict",
            |f| {
                f.push_sale(|s| s.local_id = id(ORDER));
            },
            None,
            vec![conflict(IdConflict)],
        ),
        // ---- sales: draw numbers and allocations ----
        (
            "a draw number outside every allocation, or in a released part: draw_number_not_allocated",
            |f| {
                f.push_sale(|s| s.draw_numbers[4] = 9999);
                f.push_sale(|s| {
                    s.draw_numbers = (551..556).collect();
                    s.allocation_id = id(ALLOC_RELEASED);
                    s.segments = vec![AllocationSegment {
                        allocation_id: id(ALLOC_RELEASED),
                        start_number: 551,
                        end_number: 555,
                    }];
                });
            },
            None,
            vec![rejected(DrawNumberNotAllocated); 2],
        ),
        (
            "a draw number sold by another order or earlier in the push: draw_number_taken",
            |f| {
                f.snap.taken.insert((id(EV), 101));
                f.push_sale(|_| {});
                let first = f.next_number;
                f.push_sale(|_| {});
                f.next_number = first;
                f.push_sale(|_| {});
            },
            None,
            vec![
                rejected(DrawNumberTaken),
                applied(),
                rejected(DrawNumberTaken),
            ],
        ),
        (
            "a rejected sale leaves its numbers free for a later one",
            |f| {
                f.push_sale(|s| s.unit_price = 1);
                f.next_number = 101;
                f.push_sale(|_| {});
            },
            None,
            vec![rejected(PriceMismatch), applied()],
        ),
        (
            "a number appearing twice, or segments that do not match: bad_payload",
            |f| {
                f.push_sale(|s| s.draw_numbers[4] = s.draw_numbers[0]);
                f.push_sale(|s| s.segments[0].end_number += 1);
                f.push_sale(|s| s.allocation_id = id(ALLOC_RELEASED));
            },
            None,
            vec![
                rejected(BadPayload),
                rejected(BadPayload),
                rejected(BadPayload),
            ],
        ),
        (
            "a sale naming an allocation that is not this RSU's: unknown_allocation",
            |f| {
                f.push_sale(|s| s.segments[0].allocation_id = id(999));
            },
            None,
            vec![rejected(UnknownAllocation)],
        ),
        // ---- voids ----
        (
            "a void of an order the server does not hold, of another RSU, or with another number: unknown_order",
            |f| {
                let unknown = f.new_id();
                f.push(K::Void, f.void(unknown, vn(1, 2026)));
                f.push(K::Void, f.void(id(ORDER_OTHER_RSU), vn(1002, 2026)));
                f.push(K::Void, f.void(id(ORDER), vn(1001, 2026)));
            },
            None,
            vec![rejected(UnknownOrder); 3],
        ),
        (
            "a void of a voided order, or twice in a push: already_voided",
            |f| {
                f.push(K::Void, f.void(id(ORDER_VOIDED), vn(1001, 2026)));
                f.push(K::Void, f.void(id(ORDER), vn(1000, 2026)));
                f.push(K::Void, f.void(id(ORDER), vn(1000, 2026)));
            },
            None,
            vec![rejected(AlreadyVoided), applied(), rejected(AlreadyVoided)],
        ),
        (
            "a void approved by a seller, or by nobody known: unknown_operator",
            |f| {
                let mut v = f.void(id(ORDER), vn(1000, 2026));
                v.supervisor_id = id(SELLER);
                f.push(K::Void, &v);
                v.supervisor_id = id(999);
                f.push(K::Void, &v);
            },
            None,
            vec![rejected(UnknownOperator); 2],
        ),
        (
            "a void without a reason: bad_payload",
            |f| {
                let mut v = f.void(id(ORDER), vn(1000, 2026));
                v.reason = "  ".into();
                f.push(K::Void, v);
            },
            None,
            vec![rejected(BadPayload)],
        ),
        (
            "a void in a reconciled event: event_reconciled",
            |f| f.push(K::Void, f.void(id(ORDER_RECONCILED), vn(1003, 2026))),
            None,
            vec![rejected(EventReconciled)],
        ),
        // ---- reprints, critical events, shift closes ----
        (
            "a reprint of another RSU's order: unknown_order",
            |f| f.push(K::Reprint, f.reprint(id(ORDER_OTHER_RSU))),
            None,
            vec![rejected(UnknownOrder)],
        ),
        (
            "a critical event of an unknown severity or event: bad_payload, unknown_event",
            |f| {
                let mut c = f.critical();
                c.severity = "LOUD".into();
                f.push(K::CriticalEvent, &c);
                c.severity = "INFO".into();
                c.event_id = Some(id(EV_OTHER_ORG));
                f.push(K::CriticalEvent, &c);
            },
            None,
            vec![rejected(BadPayload), rejected(UnknownEvent)],
        ),
        (
            "a shift closed before, or twice in a push: id_conflict",
            |f| {
                f.push(K::ShiftClose, f.shift_close(id(CLOSED_SHIFT)));
                let shift = f.new_id();
                f.push(K::ShiftClose, f.shift_close(shift));
                f.push(K::ShiftClose, f.shift_close(shift));
            },
            None,
            vec![conflict(IdConflict), applied(), conflict(IdConflict)],
        ),
        (
            "a shift close by someone not on the roster: unknown_operator",
            |f| {
                let mut s = f.shift_close(id(71));
                s.closed_by = id(999);
                f.push(K::ShiftClose, s);
            },
            None,
            vec![rejected(UnknownOperator)],
        ),
        // ---- allocation releases ----
        (
            "a second unit from a perk allocation with one unit left: perk_not_allocated",
            |f| {
                f.push_perk_sale(|_| {});
                f.push_perk_sale(|_| {});
            },
            None,
            vec![applied(), rejected(PerkNotAllocated)],
        ),
        (
            "a release of an allocation that is not this RSU's: unknown_allocation",
            |f| {
                let mut r = f.release(200);
                r.allocation_id = id(999);
                f.push(K::AllocationRelease, r);
            },
            None,
            vec![rejected(UnknownAllocation)],
        ),
        (
            "a release over numbers sold earlier in the push, or not the tail: bad_payload",
            |f| {
                f.push_sale(|_| {});
                f.push(K::AllocationRelease, f.release(103));
                let mut r = f.release(200);
                r.end_number = 400;
                f.push(K::AllocationRelease, r);
                f.push(K::AllocationRelease, f.release(106));
            },
            None,
            vec![
                applied(),
                rejected(BadPayload),
                rejected(BadPayload),
                applied(),
            ],
        ),
        (
            "numbers released earlier in the push can no longer be sold",
            |f| {
                f.push(K::AllocationRelease, f.release(101));
                f.push_sale(|_| {});
            },
            None,
            vec![applied(), rejected(DrawNumberNotAllocated)],
        ),
    ];

    let mut covered: HashSet<EntryCode> = HashSet::new();
    for (name, setup, after, expect) in cases {
        let mut f = Fx::new();
        setup(&mut f);
        let mut entries = f.entries();
        if let Some(after) = after {
            after(&mut f, &mut entries);
        }
        assert_eq!(f.answers(&entries), expect, "{name}");
        covered.extend(expect.iter().filter_map(|(_, c)| *c));
    }
    for c in EntryCode::ALL {
        assert!(covered.contains(c), "code {c} has no row in the table");
    }
}

#[test]
fn the_plan_holds_the_rows_to_write_and_flags_late_sales() {
    let mut f = Fx::new();
    let s = f.push_sale(|_| {});
    f.push_sale(|s| {
        s.event_id = id(EV_CLOSED_EARLY);
        s.package_id = id(PKG_CLOSED_EARLY);
        s.allocation_id = id(ALLOC_CLOSED_EARLY);
        s.draw_numbers = (1..6).collect();
        s.segments = vec![AllocationSegment {
            allocation_id: id(ALLOC_CLOSED_EARLY),
            start_number: 1,
            end_number: 5,
        }];
        s.sold_at = t("2026-06-28T09:30:00Z");
    });
    let v = f.void(s.local_id, s.validation_number.clone());
    f.push(EntryKind::Void, v);
    f.push(EntryKind::AllocationRelease, f.release(200));
    f.push_sale(|s| s.unit_price = 1);
    let entries = f.entries();
    let ctx = PushContext {
        device: &f.device,
        received_at: t("2026-06-28T13:00:00Z"),
        forms: &[],
    };
    let decoded = Entries::new(&entries);
    let p = plan(&ctx, &decoded, &f.epoch, &f.stored, &f.snap);
    assert_eq!(p.journal.len(), 5, "every new entry gets a journal row");
    assert_eq!(p.orders.len(), 2);
    assert_eq!(
        p.orders.iter().map(|o| o.late).collect::<Vec<_>>(),
        [false, true],
        "the sale received after the early close is late"
    );
    assert_eq!(p.results[1].flags, vec![FLAG_LATE.to_string()]);
    assert_eq!(p.tickets.len(), 10);
    assert_eq!(p.voids.len(), 1);
    assert_eq!(p.alloc_sold.get(&id(ALLOC)), Some(&(5, 105)));
    assert_eq!(p.alloc_sold.get(&id(ALLOC_CLOSED_EARLY)), Some(&(5, 5)));
    assert_eq!(p.releases.len(), 1);
    assert_eq!(p.releases[0].from, 200);
    assert_eq!(p.last_seq, 5);
    assert_eq!(p.head, entries[4].hash);
    assert_eq!(p.chain_broken_at, None);
}

#[test]
fn a_payload_is_decoded_once_and_shared_by_the_snapshot_keys_and_every_plan() {
    let mut f = Fx::new();
    f.push_sale(|_| {});
    let entries = f.entries();
    let decoded = Entries::new(&entries);
    let ctx = PushContext {
        device: &f.device,
        received_at: t("2026-06-28T13:00:00Z"),
        forms: &[],
    };
    let for_keys: *const Payload = decoded.fresh(0)[0].1.unwrap();
    // The collision retry plans again with the same entries.
    for _ in 0..2 {
        let p = plan(&ctx, &decoded, &f.epoch, &f.stored, &f.snap);
        let Ok(Payload::Sale(s)) = decoded.payload(0) else {
            panic!("entry 1 is a sale")
        };
        assert!(
            std::ptr::eq(p.orders[0].sale, s),
            "the plan borrows the decoded sale"
        );
    }
    assert!(std::ptr::eq(for_keys, decoded.payload(0).unwrap()));
    assert!(decoded.fresh(1).is_empty(), "a stored entry is not new");
}
