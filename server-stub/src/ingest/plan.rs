//! The plan: every entry's answer, decided from the batch and the snapshot. Pure: no I/O, no
//! database; its table test (`plan/tests.rs`) runs without PostgreSQL.
//!
//! [`plan`] walks the batch in seq order. A seq already stored is answered `duplicate` (same
//! hash) or `seq_conflict`. A new entry goes through the checks common to every kind (chain,
//! canonical form, NUL, `createdAt`, entry id) and then the one check of its kind, a method of
//! [`Batch`]: the context that holds the push, the snapshot and what the entries before this one
//! changed (their orders, validation numbers, sale seqs, draw numbers, entry ids, voids, shifts,
//! releases and perk units). A check decides first and records only when the entry is accepted, so a
//! rejected entry leaves no trace for later ones.

use chrono::{DateTime, Utc};
use rsu_core::journal::{chain_hash, format_time, ChainHash, EntryKind, JournalEntry};
use rsu_core::payload::{Payload, PayloadError, SalePayload, ShiftClosePayload, VoidPayload};
use rsu_core::wire::{EntryCode, EntryResult, EntryStatus};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use uuid::Uuid;

use super::snapshot::{AllocRow, EpochRow, EventRow, Fresh, OrderRow, Snapshot, StoredEntry};
use super::{in_range, without_nul};
use crate::auth::Device;

mod kinds;
mod perks;
mod sale;
#[cfg(test)]
mod tests;

/// What the device is allowed to do in this push.
pub struct PushContext<'a> {
    pub device: &'a Device,
    pub received_at: DateTime<Utc>,
    /// Per entry of the batch: what is wrong with the form of its `createdAt` or `entryId`.
    pub forms: &'a [Option<String>],
}

/// The batch's entries, each payload decoded at most once per push: the first time the snapshot
/// or the plan looks at it, however often the push is planned again after a collision. An entry
/// already stored is never decoded.
pub struct Entries<'a> {
    list: &'a [JournalEntry],
    payloads: Vec<OnceLock<Result<Payload, PayloadError>>>,
}

impl<'a> Entries<'a> {
    pub fn new(list: &'a [JournalEntry]) -> Self {
        Entries {
            list,
            payloads: list.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    pub fn list(&self) -> &'a [JournalEntry] {
        self.list
    }

    /// The typed payload of entry `idx`.
    pub fn payload(&self, idx: usize) -> Result<&Payload, &PayloadError> {
        let e = &self.list[idx];
        self.payloads[idx]
            .get_or_init(|| Payload::decode(e.body.kind, &e.body.payload))
            .as_ref()
    }

    /// The entries after `last_seq` (the new ones) with their payloads, when they decoded.
    pub fn fresh(&self, last_seq: u64) -> Vec<Fresh<'_>> {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, e)| e.body.seq > last_seq)
            .map(|(i, e)| (e, self.payload(i).ok()))
            .collect()
    }
}

pub struct OrderInsert<'a> {
    pub sale: &'a SalePayload,
    /// The validation number in canonical form, as stored.
    pub validation_number: String,
    pub allocation_id: Uuid,
    pub seq: u64,
    pub late: bool,
}

pub struct TicketInsert {
    pub id: Uuid,
    pub event_id: Uuid,
    pub draw_number: i64,
    pub order_id: Uuid,
}

pub struct JournalInsert {
    pub idx: usize,
    pub status: EntryStatus,
    pub code: Option<EntryCode>,
    pub message: Option<String>,
    pub flags: Vec<String>,
}

pub struct CriticalInsert {
    pub entry_id: Uuid,
    pub event_type: String,
    pub event_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub severity: String,
    pub description: String,
    pub metadata: Value,
    pub at: DateTime<Utc>,
}

pub struct ReleaseApply {
    pub allocation_id: Uuid,
    pub from: i64,
}

/// One perk unit a sale issued: a `perk_claims` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerkClaimInsert {
    pub order_id: Uuid,
    pub perk_id: Uuid,
    pub perk_allocation_id: Option<Uuid>,
    pub event_id: Uuid,
    /// The perk's place on the receipt, from 1.
    pub position: i32,
    pub perk_name: String,
    /// Canonical form.
    pub claim_code: String,
    pub issued_at: DateTime<Utc>,
}

/// Every answer of the batch and every row the write must make.
pub struct Plan<'a> {
    pub results: Vec<EntryResult>,
    pub journal: Vec<JournalInsert>,
    pub orders: Vec<OrderInsert<'a>>,
    pub tickets: Vec<TicketInsert>,
    pub voids: Vec<&'a VoidPayload>,
    pub critical: Vec<CriticalInsert>,
    pub shifts: Vec<(u64, &'a ShiftClosePayload)>,
    pub releases: Vec<ReleaseApply>,
    /// Perk units issued by the batch's sales.
    pub perk_claims: Vec<PerkClaimInsert>,
    /// Per perk allocation: units the batch's sales issued from it.
    pub perk_issued: HashMap<Uuid, i32>,
    /// Perk allocations the batch released (`perk_release`).
    pub perk_releases: Vec<Uuid>,
    /// Known seqs sent again with a different hash.
    pub seq_conflicts: Vec<usize>,
    /// Per allocation: tickets sold, highest number.
    pub alloc_sold: HashMap<Uuid, (i64, i64)>,
    pub last_seq: u64,
    pub head: ChainHash,
    pub chain_broken_at: Option<u64>,
}

/// Why an entry is not applied: its code and a message saying what is wrong.
struct Reject(EntryCode, String);

fn reject(code: EntryCode, msg: impl Into<String>) -> Reject {
    Reject(code, msg.into())
}

/// Decides every entry's answer. Pure: no I/O.
pub fn plan<'p>(
    ctx: &PushContext<'_>,
    entries: &'p Entries<'_>,
    epoch: &EpochRow,
    stored: &HashMap<u64, StoredEntry>,
    snap: &Snapshot,
) -> Plan<'p> {
    let mut b = Batch::new(ctx, snap, epoch, entries.list().len());
    for (idx, e) in entries.list().iter().enumerate() {
        let seq = e.body.seq;
        if seq <= b.plan.last_seq {
            let answer = known(idx, e, stored, &mut b.plan.seq_conflicts);
            b.plan.results.push(answer);
            continue;
        }
        // A new seq (the caller checked contiguity).
        let form = ctx.forms.get(idx).and_then(|f| f.as_deref());
        let (status, code, message, flags) = match b.entry(e, form, entries.payload(idx)) {
            Ok(flags) => (EntryStatus::Applied, None, None, flags),
            Err(Reject(code, msg)) => {
                let status = if matches!(code, EntryCode::IdConflict) {
                    EntryStatus::Conflict
                } else {
                    EntryStatus::Rejected
                };
                if code == EntryCode::BrokenChain && b.plan.chain_broken_at.is_none() {
                    b.plan.chain_broken_at = Some(seq);
                }
                (status, Some(code), Some(msg), vec![])
            }
        };
        b.entry_ids.insert(e.body.entry_id);
        b.plan.journal.push(JournalInsert {
            idx,
            status,
            code,
            message: message.clone(),
            flags: flags.clone(),
        });
        b.plan.results.push(EntryResult {
            seq,
            entry_id: e.body.entry_id,
            status,
            code,
            message,
            first_status: None,
            flags,
        });
        // The chain continues from the hash the device stated, so one bad entry does not
        // make every later one fail too.
        b.plan.last_seq = seq;
        b.plan.head = e.hash;
    }
    b.plan
}

/// The answer to a seq already stored: the same hash is a duplicate with the first answer;
/// another hash is a conflict, kept aside (nothing is overwritten).
fn known(
    idx: usize,
    e: &JournalEntry,
    stored: &HashMap<u64, StoredEntry>,
    seq_conflicts: &mut Vec<usize>,
) -> EntryResult {
    let seq = e.body.seq;
    match stored.get(&seq) {
        Some(s) if s.hash == e.hash.0 => EntryResult {
            seq,
            entry_id: e.body.entry_id,
            status: EntryStatus::Duplicate,
            code: s.reason_code.as_deref().and_then(EntryCode::parse),
            message: s.reason_message.clone(),
            first_status: EntryStatus::parse(&s.status),
            flags: s.flags.clone(),
        },
        _ => {
            seq_conflicts.push(idx);
            EntryResult {
                seq,
                entry_id: e.body.entry_id,
                status: EntryStatus::Conflict,
                code: Some(EntryCode::SeqConflict),
                message: Some(format!(
                    "seq {seq} is already stored with a different hash; nothing was overwritten (a restored backup or cloned database?)"
                )),
                first_status: None,
                flags: vec![],
            }
        }
    }
}

/// The checks every new entry passes before its kind's: it chains from `prev`, the fields the
/// server rebuilds for the canonical bytes are in canonical form, its hash is right, and nothing
/// in it cannot be stored.
fn check_chain(e: &JournalEntry, form: Option<&str>, prev: &ChainHash) -> Result<(), Reject> {
    let seq = e.body.seq;
    if e.prev_hash != *prev {
        return Err(reject(
            EntryCode::BrokenChain,
            format!(
                "prevHash of seq {seq} is {} but the server's hash of seq {} is {}",
                e.prev_hash,
                seq - 1,
                prev
            ),
        ));
    }
    if let Some(why) = form {
        return Err(reject(EntryCode::BadPayload, format!("seq {seq}: {why}")));
    }
    let canonical = e
        .body
        .canonical_bytes()
        .map_err(|err| reject(EntryCode::BadPayload, format!("seq {seq}: {err}")))?;
    if chain_hash(&e.prev_hash, &canonical) != e.hash {
        return Err(reject(
            EntryCode::BrokenChain,
            format!("hash of seq {seq} is not SHA-256(prevHash ‖ canonical bytes): the entry was altered"),
        ));
    }
    if without_nul(&e.body.payload).is_some() {
        return Err(reject(
            EntryCode::BadPayload,
            format!(
                "seq {seq}: the payload contains a NUL character (\\u0000), which cannot be stored"
            ),
        ));
    }
    if !in_range(&e.body.created_at) {
        return Err(reject(
            EntryCode::BadPayload,
            format!(
                "seq {seq}: createdAt {} is outside 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z (is the device clock right?)",
                format_time(&e.body.created_at)
            ),
        ));
    }
    Ok(())
}

/// Refuses a payload time outside 2000-01-01 ≤ t < 2100-01-01 (UTC).
fn check_time(kind: EntryKind, field: &str, t: &DateTime<Utc>) -> Result<(), Reject> {
    if in_range(t) {
        Ok(())
    } else {
        Err(reject(
            EntryCode::BadPayload,
            format!(
                "{kind} payload field {field}: {} is outside 2000-01-01T00:00:00Z to 2100-01-01T00:00:00Z (is the device clock right?)",
                format_time(t)
            ),
        ))
    }
}

/// What the plan knows while it walks the batch: the push, the snapshot, what the entries before
/// this one changed, and the plan made so far.
struct Batch<'s, 'p> {
    ctx: &'s PushContext<'s>,
    snap: &'s Snapshot,
    /// Orders made by earlier sales of the batch.
    orders: HashMap<Uuid, OrderRow>,
    /// Validation numbers (canonical) of earlier sales of the batch.
    validation_numbers: HashSet<String>,
    sale_seqs: HashSet<u64>,
    /// (event, draw number) sold by earlier sales of the batch.
    numbers: HashSet<(Uuid, i64)>,
    /// Entry ids of earlier entries of the batch, whatever their answer.
    entry_ids: HashSet<Uuid>,
    /// Orders voided by earlier entries of the batch.
    voided: HashSet<Uuid>,
    /// Shifts closed by earlier entries of the batch.
    shifts: HashSet<Uuid>,
    /// Per allocation: the first released number, stored or released earlier in the batch.
    released: HashMap<Uuid, i64>,
    plan: Plan<'p>,
}

impl<'s, 'p> Batch<'s, 'p> {
    fn new(ctx: &'s PushContext<'s>, snap: &'s Snapshot, epoch: &EpochRow, n: usize) -> Self {
        Batch {
            ctx,
            snap,
            orders: HashMap::new(),
            validation_numbers: HashSet::new(),
            sale_seqs: HashSet::new(),
            numbers: HashSet::new(),
            entry_ids: HashSet::new(),
            voided: HashSet::new(),
            shifts: HashSet::new(),
            released: snap
                .allocations
                .iter()
                .filter_map(|a| a.released_from.map(|r| (a.id, i64::from(r))))
                .collect(),
            plan: Plan {
                results: Vec::with_capacity(n),
                journal: Vec::with_capacity(n),
                orders: vec![],
                tickets: vec![],
                voids: vec![],
                critical: vec![],
                shifts: vec![],
                releases: vec![],
                perk_claims: vec![],
                perk_issued: HashMap::new(),
                perk_releases: vec![],
                seq_conflicts: vec![],
                alloc_sold: HashMap::new(),
                last_seq: u64::try_from(epoch.last_seq).unwrap_or(0),
                head: ChainHash::from_slice(&epoch.head_hash).unwrap_or(ChainHash::GENESIS),
                chain_broken_at: epoch.chain_broken_at.and_then(|s| u64::try_from(s).ok()),
            },
        }
    }

    /// Checks a new entry and, when it is accepted, records what it does. Returns its flags.
    fn entry(
        &mut self,
        e: &JournalEntry,
        form: Option<&str>,
        payload: Result<&'p Payload, &PayloadError>,
    ) -> Result<Vec<String>, Reject> {
        check_chain(e, form, &self.plan.head)?;
        let id = e.body.entry_id;
        if self.snap.used_entry_ids.contains(&id) || self.entry_ids.contains(&id) {
            return Err(reject(
                EntryCode::IdConflict,
                format!("entryId {id} is already used by another entry"),
            ));
        }
        let payload = payload.map_err(|err| reject(EntryCode::BadPayload, err.to_string()))?;
        match payload {
            Payload::Sale(s) => self.sale(e, s),
            Payload::Void(v) => self.void(e, v),
            Payload::Reprint(r) => self.reprint(e, r),
            Payload::CriticalEvent(c) => self.critical_event(e, c),
            Payload::ShiftClose(s) => self.shift_close(e, s),
            Payload::AllocationRelease(r) => self.release(r),
            Payload::PerkRelease(r) => self.perk_release(r),
        }
    }

    /// The event `id` when it is one of this RSU's organization.
    fn event_of(&self, id: Uuid) -> Result<&'s EventRow, Reject> {
        let org = self.ctx.device.organization_id;
        self.snap
            .events
            .get(&id)
            .filter(|ev| ev.organization_id == org)
            .ok_or_else(|| {
                reject(
                    EntryCode::UnknownEvent,
                    format!("eventId {id} is not an event of this RSU's organization"),
                )
            })
    }

    /// An operator named by an entry must be on the organization's roster (a supervisor, for
    /// `supervisor`).
    fn on_roster(
        &self,
        kind: EntryKind,
        field: &str,
        id: Uuid,
        supervisor: bool,
    ) -> Result<(), Reject> {
        use rsu_core::config::Role;
        match self.snap.roster.get(&id) {
            Some(role) if !supervisor || *role == Role::Supervisor => Ok(()),
            Some(role) => Err(reject(
                EntryCode::UnknownOperator,
                format!(
                    "{kind} payload field {field}: operator {id} is a {} of this organization, not a supervisor",
                    role.as_str()
                ),
            )),
            None => Err(reject(
                EntryCode::UnknownOperator,
                format!("{kind} payload field {field}: {id} is not a seller or supervisor of this RSU's organization"),
            )),
        }
    }

    /// The order `id`, made earlier in the batch or stored.
    fn order(&self, id: Uuid) -> Option<&OrderRow> {
        self.orders.get(&id).or_else(|| self.snap.orders.get(&id))
    }

    /// The allocation of this RSU that holds number `n` of the event, below any release.
    fn allocation_of(&self, event_id: Uuid, n: i64) -> Option<&'s AllocRow> {
        self.snap.allocations.iter().find(|a| {
            a.event_id == event_id
                && n >= i64::from(a.start_number)
                && n <= i64::from(a.end_number)
                && self.released.get(&a.id).is_none_or(|r| n < *r)
        })
    }
}
