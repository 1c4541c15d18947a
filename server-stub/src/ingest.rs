//! Journal push = reconciliation (DESIGN §6 "Push", §7; docs/protocol.md §5).
//!
//! One PostgreSQL transaction per batch. The device's epoch row is locked first (`FOR UPDATE`),
//! so pushes of one device are serialized and the same batch sent on many connections at once is
//! applied exactly once: the later pushes find every seq stored and answer `duplicate`.
//!
//! The work is split the way atuin's sync is: a pure [`plan`] decides every entry's answer from
//! the batch and a snapshot of the rows it touches, then [`write`] applies the plan set-wise:
//! `COPY` straight into `device_journal`, `orders` and `tickets` (the fastest path PostgreSQL
//! has), and `UPDATE … FROM UNNEST(…)` for voids and counters. Nothing uses a bare
//! `ON CONFLICT DO NOTHING` (see shared/notes/sync.md): a draw number that collides with another
//! order raises `tickets_event_draw_number_key`, the batch rolls back to its savepoint, the taken
//! numbers are read, the plan is made again with them, and those sales are answered
//! `draw_number_taken`.
//!
//! Why this file is over 800 lines: the push's plan, snapshot and writes are one transaction's parts; issue 10 turns this into `ingest/{mod,snapshot,plan,write}.rs` with a table-tested plan.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use rsu_core::journal::{chain_hash, format_time, ChainHash, EntryBody, EntryKind, JournalEntry};
use rsu_core::payload::{
    AllocationReleasePayload, CriticalEventPayload, ReprintPayload, SalePayload, ShiftClosePayload,
    VoidPayload,
};
use rsu_core::validation::ValidationNumber;
use rsu_core::wire::{EntryCode, EntryResult, EntryStatus, PushRequest, PushResponse, FLAG_LATE};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

use crate::auth::Device;
use crate::copy::CopyBuf;
use crate::error::{AppError, AppResult};

/// A copy of `v` with every NUL character replaced by U+FFFD, when it has any: PostgreSQL's
/// `jsonb` and `text` cannot store NUL, and a stored entry must never make the batch fail.
pub fn without_nul(v: &Value) -> Option<Value> {
    fn has(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(has),
            Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has(v)),
            _ => false,
        }
    }
    fn clean(v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(s.replace('\0', "\u{FFFD}")),
            Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.replace('\0', "\u{FFFD}"), clean(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    has(v).then(|| clean(v))
}

/// Named crash points for the kill tests (`SERVER_STUB_CRASH_POINT`): the process aborts there,
/// as a power cut or `kill -9` would, before the batch commits.
fn crash_point(name: &str) {
    if std::env::var("SERVER_STUB_CRASH_POINT").is_ok_and(|v| v == name) {
        eprintln!("server-stub: crash point {name} reached, aborting");
        std::process::abort();
    }
}

// ----------------------------------------------------------------------------------------------
// The push as it arrives
// ----------------------------------------------------------------------------------------------

/// `POST /v1/rsu/journal` as the client wrote it. Entries are read field by field (not through
/// `JournalEntry`'s flattened form) so that an error names its path (`entries[0].seq`), and
/// `createdAt` and `entryId` are kept as written: the server rebuilds them for the canonical
/// bytes, so a client that wrote another form would otherwise get a permanent `broken_chain`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IncomingPush {
    pub epoch: i64,
    pub entries: Vec<IncomingEntry>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingEntry {
    pub epoch: i64,
    pub seq: u64,
    pub entry_id: String,
    pub kind: EntryKind,
    pub created_at: String,
    pub payload: Value,
    pub prev_hash: ChainHash,
    pub hash: ChainHash,
}

/// The earliest time the server accepts in a journal entry (`createdAt`, `soldAt`, …).
pub fn earliest_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The first time the server no longer accepts (2100-01-01T00:00:00Z).
pub fn end_of_times() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn in_range(t: &DateTime<Utc>) -> bool {
    *t >= earliest_time() && *t < end_of_times()
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

impl IncomingPush {
    /// The push as typed entries, and per entry what is wrong with the form of its `createdAt`
    /// or `entryId` (answered `bad_payload` for that entry alone). An entryId that is no UUID at
    /// all cannot be stored and is refused for the whole push (400 `invalid_field`).
    pub fn into_push(
        self,
        received_at: DateTime<Utc>,
    ) -> AppResult<(PushRequest, Vec<Option<String>>)> {
        let mut entries = Vec::with_capacity(self.entries.len());
        let mut forms = Vec::with_capacity(self.entries.len());
        for (i, e) in self.entries.into_iter().enumerate() {
            let entry_id = Uuid::parse_str(&e.entry_id).map_err(|_| {
                AppError::bad_request(
                    "invalid_field",
                    format!("field entries[{i}].entryId: {:?} is not a UUID", e.entry_id),
                )
            })?;
            let mut form = None;
            let created_at = match DateTime::parse_from_rfc3339(&e.created_at) {
                Ok(t) => {
                    let t = t.with_timezone(&Utc);
                    if format_time(&t) != e.created_at {
                        form = Some(format!(
                            "createdAt {:?} is not in the canonical form YYYY-MM-DDTHH:MM:SS.mmmZ (UTC, milliseconds): write {:?} and hash that",
                            e.created_at,
                            format_time(&t)
                        ));
                    }
                    t
                }
                Err(err) => {
                    form = Some(format!(
                        "createdAt {:?} is not an RFC 3339 time ({err}): write YYYY-MM-DDTHH:MM:SS.mmmZ",
                        e.created_at
                    ));
                    received_at
                }
            };
            if form.is_none() && entry_id.hyphenated().to_string() != e.entry_id {
                form = Some(format!(
                    "entryId {:?} is not in the canonical form (lower-case hyphenated): write {:?} and hash that",
                    e.entry_id,
                    entry_id.hyphenated().to_string()
                ));
            }
            forms.push(form);
            entries.push(JournalEntry {
                body: EntryBody {
                    epoch: e.epoch,
                    seq: e.seq,
                    entry_id,
                    kind: e.kind,
                    created_at,
                    payload: e.payload,
                },
                prev_hash: e.prev_hash,
                hash: e.hash,
            });
        }
        Ok((
            PushRequest {
                epoch: self.epoch,
                entries,
            },
            forms,
        ))
    }
}

// ----------------------------------------------------------------------------------------------
// Snapshot: what the plan needs to know from the database
// ----------------------------------------------------------------------------------------------

#[derive(Clone, Debug, sqlx::FromRow, serde::Deserialize)]
pub struct EventRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub state: String,
    pub currency: String,
    pub sales_start_time: DateTime<Utc>,
    pub sales_end_time: DateTime<Utc>,
    pub sales_closed_at: Option<DateTime<Utc>>,
    pub price_lock: bool,
}

impl EventRow {
    fn effective_end(&self) -> DateTime<Utc> {
        match self.sales_closed_at {
            Some(c) if c < self.sales_end_time => c,
            _ => self.sales_end_time,
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow, serde::Deserialize)]
pub struct PackageRow {
    pub id: Uuid,
    pub event_id: Uuid,
    pub ticket_count: i32,
    pub price: i64,
    pub currency: String,
    pub active_from: Option<DateTime<Utc>>,
    pub active_to: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, sqlx::FromRow, serde::Deserialize)]
pub struct AllocRow {
    pub id: Uuid,
    pub event_id: Uuid,
    pub start_number: i32,
    pub end_number: i32,
    pub released_from: Option<i32>,
    /// One past the highest number the server holds sold from this allocation.
    pub next_draw_number: i32,
}

#[derive(Clone, Debug, sqlx::FromRow, serde::Deserialize)]
pub struct OrderRow {
    pub id: Uuid,
    pub validation_number: String,
    pub rsu_id: Option<Uuid>,
    pub event_id: Uuid,
    pub organization_id: Uuid,
    pub sale_seq: Option<i64>,
    pub voided: bool,
}

#[derive(Default, Debug)]
pub struct Snapshot {
    pub events: HashMap<Uuid, EventRow>,
    pub packages: HashMap<Uuid, PackageRow>,
    /// Price history per package, ascending by effective time.
    pub prices: HashMap<Uuid, Vec<(DateTime<Utc>, i64)>>,
    pub allocations: Vec<AllocRow>,
    pub orders: HashMap<Uuid, OrderRow>,
    /// This organization's orders by canonical validation number.
    pub validation_numbers: HashMap<String, Uuid>,
    /// This RSU's orders by sale seq (any epoch).
    pub sale_seqs: HashMap<u64, Uuid>,
    /// The batch's operators that are on the organization's roster, with their role.
    pub roster: HashMap<Uuid, String>,
    pub used_entry_ids: HashSet<Uuid>,
    pub shift_ids: HashSet<Uuid>,
    /// Draw numbers known to be sold by other orders (filled only after a collision).
    pub taken: HashSet<(Uuid, i64)>,
}

/// A stored journal entry, for duplicate and conflict answers.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredEntry {
    pub seq: i64,
    pub entry_id: Uuid,
    pub hash: Vec<u8>,
    pub status: String,
    pub reason_code: Option<String>,
    pub reason_message: Option<String>,
    pub flags: Vec<String>,
}

/// The device's epoch row, locked for the batch.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EpochRow {
    pub last_seq: i64,
    pub head_hash: Vec<u8>,
    pub chain_verified: bool,
    pub chain_broken_at: Option<i64>,
}

// ----------------------------------------------------------------------------------------------
// The plan
// ----------------------------------------------------------------------------------------------

pub struct OrderInsert {
    pub sale: SalePayload,
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

pub struct Plan {
    pub results: Vec<EntryResult>,
    pub journal: Vec<JournalInsert>,
    pub orders: Vec<OrderInsert>,
    pub tickets: Vec<TicketInsert>,
    pub voids: Vec<VoidPayload>,
    pub critical: Vec<CriticalInsert>,
    pub shifts: Vec<(u64, ShiftClosePayload)>,
    pub releases: Vec<ReleaseApply>,
    /// Known seqs sent again with a different hash.
    pub seq_conflicts: Vec<usize>,
    /// Per allocation: tickets sold, highest number.
    pub alloc_sold: HashMap<Uuid, (i64, i64)>,
    pub last_seq: u64,
    pub head: ChainHash,
    pub chain_broken_at: Option<u64>,
}

struct Reject(EntryCode, String);

fn reject(code: EntryCode, msg: impl Into<String>) -> Reject {
    Reject(code, msg.into())
}

fn decode<T: DeserializeOwned>(v: &Value, kind: EntryKind) -> Result<T, Reject> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        reject(
            EntryCode::BadPayload,
            format!("{kind} payload field {path}: {}", e.into_inner()),
        )
    })
}

/// What the device is allowed to do in this push.
pub struct PushContext<'a> {
    pub device: &'a Device,
    pub received_at: DateTime<Utc>,
    /// Per entry of the batch: what is wrong with the form of its `createdAt` or `entryId`.
    pub forms: &'a [Option<String>],
}

/// Decides every entry's answer. Pure: no I/O.
pub fn plan(
    ctx: &PushContext<'_>,
    entries: &[JournalEntry],
    epoch: &EpochRow,
    stored: &HashMap<u64, StoredEntry>,
    snap: &Snapshot,
) -> Plan {
    let mut p = Plan {
        results: Vec::with_capacity(entries.len()),
        journal: Vec::with_capacity(entries.len()),
        orders: vec![],
        tickets: vec![],
        voids: vec![],
        critical: vec![],
        shifts: vec![],
        releases: vec![],
        seq_conflicts: vec![],
        alloc_sold: HashMap::new(),
        last_seq: u64::try_from(epoch.last_seq).unwrap_or(0),
        head: ChainHash::from_slice(&epoch.head_hash).unwrap_or(ChainHash::GENESIS),
        chain_broken_at: epoch.chain_broken_at.and_then(|s| u64::try_from(s).ok()),
    };
    // State that earlier entries of this batch change for later ones.
    let mut batch_orders: HashMap<Uuid, OrderRow> = HashMap::new();
    let mut batch_vns: HashSet<String> = HashSet::new();
    let mut batch_numbers: HashSet<(Uuid, i64)> = HashSet::new();
    let mut batch_entry_ids: HashSet<Uuid> = HashSet::new();
    let mut batch_voided: HashSet<Uuid> = HashSet::new();
    let mut batch_shifts: HashSet<Uuid> = HashSet::new();
    let mut batch_sale_seqs: HashSet<u64> = HashSet::new();
    let mut released: HashMap<Uuid, i64> = snap
        .allocations
        .iter()
        .filter_map(|a| a.released_from.map(|r| (a.id, i64::from(r))))
        .collect();

    for (idx, e) in entries.iter().enumerate() {
        let seq = e.body.seq;
        if seq <= p.last_seq {
            // Already stored: same hash = duplicate with the first answer; else a conflict.
            match stored.get(&seq) {
                Some(s) if s.hash == e.hash.0 => {
                    let first = EntryStatus::parse(&s.status);
                    p.results.push(EntryResult {
                        seq,
                        entry_id: e.body.entry_id,
                        status: EntryStatus::Duplicate,
                        code: s.reason_code.as_deref().and_then(EntryCode::parse),
                        message: s.reason_message.clone(),
                        first_status: first,
                        flags: s.flags.clone(),
                    });
                }
                _ => {
                    p.seq_conflicts.push(idx);
                    p.results.push(EntryResult {
                        seq,
                        entry_id: e.body.entry_id,
                        status: EntryStatus::Conflict,
                        code: Some(EntryCode::SeqConflict),
                        message: Some(format!(
                            "seq {seq} is already stored with a different hash; nothing was overwritten (a restored backup or cloned database?)"
                        )),
                        first_status: None,
                        flags: vec![],
                    });
                }
            }
            continue;
        }

        // A new seq (the caller checked contiguity).
        let head = p.head;
        let outcome = check_new(
            ctx,
            e,
            ctx.forms.get(idx).and_then(|f| f.as_deref()),
            &head,
            snap,
            &mut batch_orders,
            &mut batch_vns,
            &mut batch_sale_seqs,
            &mut batch_numbers,
            &mut batch_entry_ids,
            &mut batch_voided,
            &mut batch_shifts,
            &mut released,
            &mut p,
        );
        let (status, code, message, flags) = match outcome {
            Ok(flags) => (EntryStatus::Applied, None, None, flags),
            Err(Reject(code, msg)) => {
                let status = if matches!(code, EntryCode::IdConflict) {
                    EntryStatus::Conflict
                } else {
                    EntryStatus::Rejected
                };
                if code == EntryCode::BrokenChain && p.chain_broken_at.is_none() {
                    p.chain_broken_at = Some(seq);
                }
                (status, Some(code), Some(msg), vec![])
            }
        };
        batch_entry_ids.insert(e.body.entry_id);
        p.journal.push(JournalInsert {
            idx,
            status,
            code,
            message: message.clone(),
            flags: flags.clone(),
        });
        p.results.push(EntryResult {
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
        p.last_seq = seq;
        p.head = e.hash;
    }
    p
}

#[allow(clippy::too_many_arguments)]
fn check_new(
    ctx: &PushContext<'_>,
    e: &JournalEntry,
    form: Option<&str>,
    prev: &ChainHash,
    snap: &Snapshot,
    batch_orders: &mut HashMap<Uuid, OrderRow>,
    batch_vns: &mut HashSet<String>,
    batch_sale_seqs: &mut HashSet<u64>,
    batch_numbers: &mut HashSet<(Uuid, i64)>,
    batch_entry_ids: &mut HashSet<Uuid>,
    batch_voided: &mut HashSet<Uuid>,
    batch_shifts: &mut HashSet<Uuid>,
    released: &mut HashMap<Uuid, i64>,
    p: &mut Plan,
) -> Result<Vec<String>, Reject> {
    let seq = e.body.seq;
    // 1. The chain.
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
    // 2. The fields the server rebuilds for the canonical bytes must be in canonical form.
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
    // 3. The entry id is new.
    if snap.used_entry_ids.contains(&e.body.entry_id) || batch_entry_ids.contains(&e.body.entry_id)
    {
        return Err(reject(
            EntryCode::IdConflict,
            format!(
                "entryId {} is already used by another entry",
                e.body.entry_id
            ),
        ));
    }
    let org = ctx.device.organization_id;
    let event_of = |id: Uuid| -> Result<&EventRow, Reject> {
        snap.events
            .get(&id)
            .filter(|ev| ev.organization_id == org)
            .ok_or_else(|| {
                reject(
                    EntryCode::UnknownEvent,
                    format!("eventId {id} is not an event of this RSU's organization"),
                )
            })
    };
    let kind = e.body.kind;
    // Operators named by an entry must be on the organization's roster (a supervisor for
    // `supervisorId`).
    let on_roster = |field: &str, id: Uuid, supervisor: bool| -> Result<(), Reject> {
        match snap.roster.get(&id) {
            Some(role) if !supervisor || role == "supervisor" => Ok(()),
            Some(role) => Err(reject(
                EntryCode::UnknownOperator,
                format!("{kind} payload field {field}: operator {id} is a {role} of this organization, not a supervisor"),
            )),
            None => Err(reject(
                EntryCode::UnknownOperator,
                format!("{kind} payload field {field}: {id} is not a seller or supervisor of this RSU's organization"),
            )),
        }
    };
    match kind {
        EntryKind::Sale => {
            let s: SalePayload = decode(&e.body.payload, kind)?;
            check_time(kind, "soldAt", &s.sold_at)?;
            let vn = check_sale(
                ctx,
                &s,
                snap,
                batch_orders,
                batch_vns,
                batch_sale_seqs,
                batch_numbers,
                released,
                &event_of,
                &on_roster,
            )?;
            let flags = if ctx.received_at > event_of(s.event_id)?.effective_end() {
                vec![FLAG_LATE.to_string()]
            } else {
                vec![]
            };
            // Accepted: record what later entries of the batch must see.
            let alloc_id = allocation_of(snap, released, s.event_id, s.draw_numbers[0])
                .map(|a| a.id)
                .unwrap_or(s.allocation_id);
            for n in &s.draw_numbers {
                batch_numbers.insert((s.event_id, *n));
                if let Some(a) = allocation_of(snap, released, s.event_id, *n) {
                    let entry = p.alloc_sold.entry(a.id).or_insert((0, 0));
                    entry.0 += 1;
                    entry.1 = entry.1.max(*n);
                }
                p.tickets.push(TicketInsert {
                    id: Uuid::now_v7(),
                    event_id: s.event_id,
                    draw_number: *n,
                    order_id: s.local_id,
                });
            }
            batch_vns.insert(vn.clone());
            batch_sale_seqs.insert(s.sale_seq);
            batch_orders.insert(
                s.local_id,
                OrderRow {
                    id: s.local_id,
                    validation_number: vn.clone(),
                    rsu_id: Some(ctx.device.rsu_id),
                    event_id: s.event_id,
                    organization_id: ctx.device.organization_id,
                    sale_seq: i64::try_from(s.sale_seq).ok(),
                    voided: false,
                },
            );
            p.orders.push(OrderInsert {
                sale: s,
                validation_number: vn,
                allocation_id: alloc_id,
                seq,
                late: flags.iter().any(|f| f == FLAG_LATE),
            });
            Ok(flags)
        }
        EntryKind::Void => {
            let v: VoidPayload = decode(&e.body.payload, kind)?;
            if v.reason.trim().is_empty() {
                return Err(reject(
                    EntryCode::BadPayload,
                    "void payload field reason: must not be empty",
                ));
            }
            check_time(kind, "voidedAt", &v.voided_at)?;
            let order = batch_orders
                .get(&v.local_id)
                .or_else(|| snap.orders.get(&v.local_id))
                .filter(|o| o.rsu_id == Some(ctx.device.rsu_id))
                .ok_or_else(|| {
                    reject(
                        EntryCode::UnknownOrder,
                        format!(
                            "localId {} is not an order of this RSU (was the sale rejected?)",
                            v.local_id
                        ),
                    )
                })?;
            if order.validation_number != canonical_vn(&v.validation_number) {
                return Err(reject(
                    EntryCode::UnknownOrder,
                    format!(
                        "validationNumber {} does not belong to order {}",
                        v.validation_number, v.local_id
                    ),
                ));
            }
            if order.voided || batch_voided.contains(&v.local_id) {
                return Err(reject(
                    EntryCode::AlreadyVoided,
                    format!("order {} is already voided", v.local_id),
                ));
            }
            on_roster("operatorId", v.operator_id, false)?;
            on_roster("supervisorId", v.supervisor_id, true)?;
            let ev = event_of(order.event_id)?;
            if is_reconciled_or_later(&ev.state) {
                return Err(reject(
                    EntryCode::EventReconciled,
                    format!("the event is {}: voids are no longer accepted", ev.state),
                ));
            }
            batch_voided.insert(v.local_id);
            p.voids.push(v);
            Ok(vec![])
        }
        EntryKind::Reprint => {
            let r: ReprintPayload = decode(&e.body.payload, kind)?;
            let order = batch_orders
                .get(&r.local_id)
                .or_else(|| snap.orders.get(&r.local_id));
            // A reprint names a sale of this RSU; one the server does not hold (a rejected sale)
            // is still recorded, another RSU's or organization's order is not.
            if order.is_some_and(|o| o.rsu_id != Some(ctx.device.rsu_id)) {
                return Err(reject(
                    EntryCode::UnknownOrder,
                    format!(
                        "reprint payload field localId: {} is not an order of this RSU",
                        r.local_id
                    ),
                ));
            }
            on_roster("operatorId", r.operator_id, false)?;
            if let Some(sup) = r.supervisor_id {
                on_roster("supervisorId", sup, true)?;
            }
            let event_id = order.map(|o| o.event_id);
            p.critical.push(CriticalInsert {
                entry_id: e.body.entry_id,
                event_type: "REPRINT".into(),
                event_id,
                user_id: Some(r.operator_id),
                severity: "WARNING".into(),
                description: format!(
                    "Receipt {} reprinted (REPRINT {})",
                    r.validation_number, r.reprint_number
                ),
                metadata: json!({
                    "localId": r.local_id, "reprintNumber": r.reprint_number,
                    "supervisorId": r.supervisor_id, "epoch": e.body.epoch, "seq": seq,
                }),
                at: e.body.created_at,
            });
            Ok(vec![])
        }
        EntryKind::CriticalEvent => {
            let c: CriticalEventPayload = decode(&e.body.payload, kind)?;
            let severity = c.severity.to_ascii_uppercase();
            if !["INFO", "WARN", "WARNING", "ERROR", "CRITICAL"].contains(&severity.as_str()) {
                return Err(reject(
                    EntryCode::BadPayload,
                    format!("critical_event payload field severity: {:?} is not INFO, WARNING, ERROR or CRITICAL", c.severity),
                ));
            }
            if c.event_type.trim().is_empty() {
                return Err(reject(
                    EntryCode::BadPayload,
                    "critical_event payload field eventType: must not be empty",
                ));
            }
            if let Some(ev) = c.event_id {
                event_of(ev)?;
            }
            let mut metadata = if c.metadata.is_object() {
                c.metadata.clone()
            } else {
                json!({ "value": c.metadata })
            };
            if let Some(m) = metadata.as_object_mut() {
                m.insert("epoch".into(), json!(e.body.epoch));
                m.insert("seq".into(), json!(seq));
            }
            p.critical.push(CriticalInsert {
                entry_id: e.body.entry_id,
                event_type: c.event_type,
                event_id: c.event_id,
                user_id: c.operator_id,
                severity,
                description: c.description,
                metadata,
                at: e.body.created_at,
            });
            Ok(vec![])
        }
        EntryKind::ShiftClose => {
            let s: ShiftClosePayload = decode(&e.body.payload, kind)?;
            check_time(kind, "openedAt", &s.opened_at)?;
            check_time(kind, "closedAt", &s.closed_at)?;
            on_roster("operatorId", s.operator_id, false)?;
            on_roster("closedBy", s.closed_by, false)?;
            if snap.shift_ids.contains(&s.shift_id) || batch_shifts.contains(&s.shift_id) {
                return Err(reject(
                    EntryCode::IdConflict,
                    format!("shiftId {} was already closed by another entry", s.shift_id),
                ));
            }
            batch_shifts.insert(s.shift_id);
            p.shifts.push((seq, s));
            Ok(vec![])
        }
        EntryKind::AllocationRelease => {
            let r: AllocationReleasePayload = decode(&e.body.payload, kind)?;
            let a = snap
                .allocations
                .iter()
                .find(|a| a.id == r.allocation_id && a.event_id == r.event_id)
                .ok_or_else(|| {
                    reject(
                        EntryCode::UnknownAllocation,
                        format!(
                            "allocationId {} is not an allocation of this RSU for event {}",
                            r.allocation_id, r.event_id
                        ),
                    )
                })?;
            if r.end_number != i64::from(a.end_number)
                || r.start_number < i64::from(a.start_number)
                || r.start_number > r.end_number
            {
                return Err(reject(
                    EntryCode::BadPayload,
                    format!(
                        "allocation_release payload fields startNumber/endNumber: {}–{} must be the unused tail of {}–{}",
                        r.start_number, r.end_number, a.start_number, a.end_number
                    ),
                ));
            }
            // Every number the server holds sold from this allocation, in earlier pushes
            // (`next_draw_number`) or earlier in this batch, must lie below the release.
            let held = i64::from(a.next_draw_number) - 1;
            let in_batch = p.alloc_sold.get(&a.id).map_or(0, |(_, max)| *max);
            let highest = held.max(in_batch);
            if highest >= r.start_number {
                return Err(reject(
                    EntryCode::BadPayload,
                    format!(
                        "allocation_release payload field startNumber: {} but number {highest} of allocation {}–{} is sold; a release starts above every sold number (from {})",
                        r.start_number, a.start_number, a.end_number, highest + 1
                    ),
                ));
            }
            let from = released
                .get(&a.id)
                .map_or(r.start_number, |f| (*f).min(r.start_number));
            released.insert(a.id, from);
            p.releases.push(ReleaseApply {
                allocation_id: a.id,
                from,
            });
            Ok(vec![])
        }
    }
}

fn is_reconciled_or_later(state: &str) -> bool {
    matches!(state, "reconciled" | "drawing_ready" | "completed")
}

fn allocation_of<'a>(
    snap: &'a Snapshot,
    released: &HashMap<Uuid, i64>,
    event_id: Uuid,
    n: i64,
) -> Option<&'a AllocRow> {
    snap.allocations.iter().find(|a| {
        a.event_id == event_id
            && n >= i64::from(a.start_number)
            && n <= i64::from(a.end_number)
            && released.get(&a.id).is_none_or(|r| n < *r)
    })
}

/// The canonical form of a validation number (what is stored and compared), or the text itself
/// when it does not parse.
pub fn canonical_vn(text: &str) -> String {
    ValidationNumber::parse(text).map_or_else(|_| text.to_string(), |v| v.to_string())
}

/// Checks a sale; returns its validation number in canonical form.
#[allow(clippy::too_many_arguments)]
fn check_sale<'s>(
    ctx: &PushContext<'_>,
    s: &SalePayload,
    snap: &'s Snapshot,
    batch_orders: &HashMap<Uuid, OrderRow>,
    batch_vns: &HashSet<String>,
    batch_sale_seqs: &HashSet<u64>,
    batch_numbers: &HashSet<(Uuid, i64)>,
    released: &HashMap<Uuid, i64>,
    event_of: &dyn Fn(Uuid) -> Result<&'s EventRow, Reject>,
    on_roster: &dyn Fn(&str, Uuid, bool) -> Result<(), Reject>,
) -> Result<String, Reject> {
    // The sale's own id must be new (it becomes the order id).
    if snap.orders.contains_key(&s.local_id) || batch_orders.contains_key(&s.local_id) {
        return Err(reject(
            EntryCode::IdConflict,
            format!(
                "localId {} is already an order from another entry; nothing was overwritten",
                s.local_id
            ),
        ));
    }
    let ev = event_of(s.event_id)?;
    match ev.state.as_str() {
        "created" | "configured" => {
            return Err(reject(
                EntryCode::EventNotActive,
                format!("the event is {}: it has not opened for sales", ev.state),
            ))
        }
        "cancelled" => return Err(reject(EntryCode::EventCancelled, "the event was cancelled")),
        st if is_reconciled_or_later(st) => {
            return Err(reject(
                EntryCode::EventReconciled,
                format!("the event is {st}: new sales are no longer accepted"),
            ))
        }
        _ => {}
    }
    if s.currency != ev.currency {
        return Err(reject(
            EntryCode::CurrencyMismatch,
            format!(
                "currency {} differs from the event's {}",
                s.currency, ev.currency
            ),
        ));
    }
    if s.sold_at < ev.sales_start_time {
        return Err(reject(
            EntryCode::SalesNotOpen,
            format!(
                "soldAt {} is before salesStartTime {}",
                s.sold_at, ev.sales_start_time
            ),
        ));
    }
    let end = ev.effective_end();
    if s.sold_at > end {
        return Err(reject(
            EntryCode::SalesClosed,
            format!("soldAt {} is after sales closed at {end}", s.sold_at),
        ));
    }
    let pkg = snap
        .packages
        .get(&s.package_id)
        .filter(|p| p.event_id == s.event_id)
        .ok_or_else(|| {
            reject(
                EntryCode::UnknownPackage,
                format!(
                    "packageId {} is not a package of event {}",
                    s.package_id, s.event_id
                ),
            )
        })?;
    let in_window = pkg.active_from.is_none_or(|f| s.sold_at >= f)
        && pkg.active_to.is_none_or(|t| s.sold_at < t);
    if !in_window {
        return Err(reject(
            EntryCode::PackageNotOnSale,
            format!("package {} was not on sale at soldAt {}", pkg.id, s.sold_at),
        ));
    }
    if pkg.currency != s.currency {
        return Err(reject(
            EntryCode::CurrencyMismatch,
            format!(
                "currency {} differs from the package's {}",
                s.currency, pkg.currency
            ),
        ));
    }
    let per = i64::from(pkg.ticket_count);
    let count = i64::from(s.ticket_count);
    if count == 0 || count % per != 0 || s.draw_numbers.len() as i64 != count {
        return Err(reject(
            EntryCode::TicketCountMismatch,
            format!(
                "ticketCount {} with {} draw numbers does not fit package {} of {} tickets",
                s.ticket_count,
                s.draw_numbers.len(),
                pkg.id,
                pkg.ticket_count
            ),
        ));
    }
    let price = price_at(snap, pkg, s.sold_at, ev.price_lock);
    let packs = count / per;
    if s.unit_price != price || Some(s.total_amount) != price.checked_mul(packs) {
        return Err(reject(
            EntryCode::PriceMismatch,
            format!(
                "unitPrice {} / totalAmount {} do not match the package price {} in force at soldAt (× {packs})",
                s.unit_price, s.total_amount, price
            ),
        ));
    }
    on_roster("operatorId", s.operator_id, false)?;
    let vn = ValidationNumber::parse(&s.validation_number).map_err(|err| {
        reject(
            EntryCode::BadValidationNumber,
            format!("validationNumber: {err}"),
        )
    })?;
    if vn.prefix() != ctx.device.validation_prefix
        || vn.rsu_no() != ctx.device.rsu_no
        || vn.seq() != s.sale_seq
    {
        return Err(reject(
            EntryCode::BadValidationNumber,
            format!(
                "validationNumber {} must have prefix {}, rsuNo {} and saleSeq {}",
                s.validation_number, ctx.device.validation_prefix, ctx.device.rsu_no, s.sale_seq
            ),
        ));
    }
    if vn.year() != s.sold_at.year() {
        return Err(reject(
            EntryCode::BadValidationNumber,
            format!(
                "validationNumber {}: its year {} is not the year of soldAt {} (UTC)",
                s.validation_number,
                vn.year(),
                format_time(&s.sold_at)
            ),
        ));
    }
    let key = ctx.device.validation_key.as_ref().ok_or_else(|| {
        reject(
            EntryCode::BadTag,
            "this RSU has no validation key: enroll it",
        )
    })?;
    vn.verify(key)
        .map_err(|err| reject(EntryCode::BadTag, format!("validationNumber: {err}")))?;
    let canonical = vn.to_string();
    if snap.validation_numbers.contains_key(&canonical) || batch_vns.contains(&canonical) {
        return Err(reject(
            EntryCode::DuplicateValidationNumber,
            format!(
                "validationNumber {} is already used by another order of this organization",
                s.validation_number
            ),
        ));
    }
    if let Some(other) = snap.sale_seqs.get(&s.sale_seq) {
        return Err(reject(
            EntryCode::DuplicateValidationNumber,
            format!(
                "saleSeq {} was already used by order {other} of this RSU (sale seqs never restart, not even in a new epoch)",
                s.sale_seq
            ),
        ));
    }
    if batch_sale_seqs.contains(&s.sale_seq) {
        return Err(reject(
            EntryCode::DuplicateValidationNumber,
            format!(
                "saleSeq {} was already used by an earlier sale of this push",
                s.sale_seq
            ),
        ));
    }
    let mut seen = HashSet::with_capacity(s.draw_numbers.len());
    for n in &s.draw_numbers {
        if !seen.insert(*n) {
            return Err(reject(
                EntryCode::BadPayload,
                format!("sale payload field drawNumbers: {n} appears twice"),
            ));
        }
        if allocation_of(snap, released, s.event_id, *n).is_none() {
            return Err(reject(
                EntryCode::DrawNumberNotAllocated,
                format!(
                    "draw number {n} is not inside an allocation of this RSU for event {}",
                    s.event_id
                ),
            ));
        }
        if batch_numbers.contains(&(s.event_id, *n)) || snap.taken.contains(&(s.event_id, *n)) {
            return Err(reject(
                EntryCode::DrawNumberTaken,
                format!("draw number {n} of event {} is already sold", s.event_id),
            ));
        }
    }
    check_segments(s, snap, released)?;
    Ok(canonical)
}

/// `allocationId` and `segments` must say where the draw numbers came from: the segments, in
/// order, cover exactly `drawNumbers`, each inside the allocation it names, and `allocationId` is
/// the first segment's.
fn check_segments(
    s: &SalePayload,
    snap: &Snapshot,
    released: &HashMap<Uuid, i64>,
) -> Result<(), Reject> {
    let mine = |id: Uuid| {
        snap.allocations
            .iter()
            .any(|a| a.id == id && a.event_id == s.event_id)
    };
    for (i, id) in std::iter::once(("allocationId".to_string(), s.allocation_id)).chain(
        s.segments
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("segments[{i}].allocationId"), g.allocation_id)),
    ) {
        if !mine(id) {
            return Err(reject(
                EntryCode::UnknownAllocation,
                format!(
                    "sale payload field {i}: {id} is not an allocation of this RSU for event {}",
                    s.event_id
                ),
            ));
        }
    }
    if s.segments.first().map(|g| g.allocation_id) != Some(s.allocation_id) {
        return Err(reject(
            EntryCode::BadPayload,
            "sale payload field allocationId: must be the allocation of the first segment",
        ));
    }
    let mut numbers = s.draw_numbers.iter();
    for (i, g) in s.segments.iter().enumerate() {
        if g.start_number > g.end_number {
            return Err(reject(
                EntryCode::BadPayload,
                format!(
                    "sale payload field segments[{i}]: startNumber {} is above endNumber {}",
                    g.start_number, g.end_number
                ),
            ));
        }
        for expect in g.start_number..=g.end_number {
            if numbers.next() != Some(&expect) {
                return Err(reject(
                    EntryCode::BadPayload,
                    format!(
                        "sale payload field segments[{i}]: {}–{} does not match drawNumbers (the segments, in order, must list exactly the numbers sold)",
                        g.start_number, g.end_number
                    ),
                ));
            }
            let holder = allocation_of(snap, released, s.event_id, expect).map(|a| a.id);
            if holder != Some(g.allocation_id) {
                return Err(reject(
                    EntryCode::BadPayload,
                    format!(
                        "sale payload field segments[{i}].allocationId: number {expect} is not in allocation {}",
                        g.allocation_id
                    ),
                ));
            }
        }
    }
    if numbers.next().is_some() {
        return Err(reject(
            EntryCode::BadPayload,
            "sale payload field segments: drawNumbers has numbers no segment covers",
        ));
    }
    Ok(())
}

/// The package price in force at `at`: the latest price history row not after it, or the
/// current price (always, when the jurisdiction locks prices).
fn price_at(snap: &Snapshot, pkg: &PackageRow, at: DateTime<Utc>, price_lock: bool) -> i64 {
    if price_lock {
        return pkg.price;
    }
    snap.prices
        .get(&pkg.id)
        .and_then(|h| {
            h.iter()
                .rev()
                .find(|(from, _)| *from <= at)
                .map(|(_, p)| *p)
        })
        .unwrap_or(pkg.price)
}

// ----------------------------------------------------------------------------------------------
// The transaction
// ----------------------------------------------------------------------------------------------

/// Checks the batch's shape before any database work.
pub fn check_shape(req: &PushRequest) -> AppResult<()> {
    if req.entries.len() > rsu_core::wire::MAX_BATCH_ENTRIES {
        return Err(AppError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "entries has {} items; send at most {} per push",
                req.entries.len(),
                rsu_core::wire::MAX_BATCH_ENTRIES
            ),
        ));
    }
    for (i, e) in req.entries.iter().enumerate() {
        if e.body.epoch != req.epoch {
            return Err(AppError::bad_request(
                "invalid_field",
                format!(
                    "field entries[{i}].epoch is {} but the push is for epoch {}",
                    e.body.epoch, req.epoch
                ),
            ));
        }
        if e.body.seq == 0 {
            return Err(AppError::bad_request(
                "invalid_field",
                format!("field entries[{i}].seq must be 1 or more"),
            ));
        }
        if i > 0 && e.body.seq != req.entries[i - 1].body.seq + 1 {
            return Err(AppError::bad_request(
                "batch_not_contiguous",
                format!(
                    "field entries[{i}].seq is {} after {}: a batch is consecutive seqs in order",
                    e.body.seq,
                    req.entries[i - 1].body.seq
                ),
            ));
        }
    }
    if req.epoch <= 0 || req.epoch > i64::from(i32::MAX) {
        return Err(AppError::bad_request(
            "invalid_field",
            "field epoch must be a positive epoch number",
        ));
    }
    Ok(())
}

/// Applies one push. The caller has authenticated the device and checked the shape.
///
/// Round trips of a batch of new sales: `BEGIN`, one statement that records the nonce and locks
/// the epoch row, one statement that reads everything the plan needs (stored entries of the
/// batch's seqs and the snapshot), three `COPY`s, one statement that advances the allocation
/// counters and the epoch, `COMMIT`. Voids, critical events, shift closes, releases and seq
/// conflicts add one statement each, only when the batch has them.
///
/// A draw number or validation number taken by another order makes the write fail on its UNIQUE
/// constraint; the whole transaction then rolls back and runs again with those numbers read
/// (`load_taken`), so the sales that claimed them are answered as rejections. No savepoint is
/// needed for that, and the common path pays for none.
pub async fn push(
    pool: &PgPool,
    device: &Device,
    req: &PushRequest,
    forms: &[Option<String>],
    received_at: DateTime<Utc>,
) -> AppResult<PushResponse> {
    let epoch = i32::try_from(req.epoch)
        .map_err(|_| AppError::bad_request("invalid_field", "field epoch is out of range"))?;
    let mut taken = Taken::default();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tx = pool.begin().await?;
        let (er, stored, mut snap) = lock_and_load(&mut tx, device, epoch, req).await?;
        let fresh_from = u64::try_from(er.last_seq).unwrap_or(0);
        if attempt > 1 {
            let fresh: Vec<&JournalEntry> = req
                .entries
                .iter()
                .filter(|e| e.body.seq > fresh_from)
                .collect();
            load_taken(&mut tx, &fresh, &mut taken).await?;
        }
        snap.taken.extend(taken.numbers.iter().copied());
        let ctx = PushContext {
            device,
            received_at,
            forms,
        };
        let plan = plan(&ctx, &req.entries, &er, &stored, &snap);
        match write(&mut tx, device, epoch, &req.entries, &plan, received_at).await {
            Ok(()) => {
                crash_point("before_commit");
                tx.commit().await?;
                return Ok(PushResponse {
                    epoch: req.epoch,
                    results: plan.results,
                    acked_through_seq: plan.last_seq,
                    chain_head: plan.head,
                    chain_verified: plan.chain_broken_at.is_none(),
                    server_time: Utc::now(),
                });
            }
            Err(WriteError::Collision) if attempt < 4 => {
                // Another order holds a number or validation number this batch claims: start
                // again, read them after the lock, and plan again.
                tx.rollback().await?;
            }
            Err(WriteError::Collision) => {
                return Err(AppError::internal(
                    "ingest",
                    "collisions persisted after re-planning",
                ))
            }
            Err(WriteError::Db(e)) => return Err(e.into()),
        }
    }
}

/// Records the nonce (it commits with the batch) and locks the device's epoch row in one
/// statement, then reads in one more statement the stored entries of the batch's seqs and the
/// snapshot of every row the plan looks at. The snapshot is read only after the lock, so a push
/// of the same device that committed while this one waited is seen.
async fn lock_and_load(
    tx: &mut Transaction<'_, Postgres>,
    device: &Device,
    epoch: i32,
    req: &PushRequest,
) -> AppResult<(EpochRow, HashMap<u64, StoredEntry>, Snapshot)> {
    #[derive(sqlx::FromRow)]
    struct Locked {
        nonce_fresh: bool,
        #[sqlx(flatten)]
        epoch: EpochRow,
    }
    let row: Option<Locked> = sqlx::query_as(
        "WITH n AS (INSERT INTO request_nonces (key_id, nonce) VALUES ($3, $4)
                    ON CONFLICT (key_id, nonce) DO NOTHING RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM n) AS nonce_fresh, last_seq, head_hash, chain_verified, chain_broken_at
           FROM rsu_epochs WHERE rsu_id = $1 AND epoch = $2 FOR UPDATE",
    )
    .bind(device.rsu_id)
    .bind(epoch)
    .bind(device.key_id)
    .bind(&device.nonce)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(Locked {
        nonce_fresh,
        epoch: er,
    }) = row
    else {
        // (The nonce insert rolls back with the transaction, as it always did here.)
        return Err(AppError::conflict(
            "unknown_epoch",
            format!(
                "field epoch: epoch {} of this RSU was never enrolled (current epoch {})",
                req.epoch, device.current_epoch
            ),
        ));
    };
    if !nonce_fresh {
        return Err(crate::auth::nonce_reused());
    }
    let last = u64::try_from(er.last_seq).unwrap_or(0);
    if let Some(first) = req.entries.first() {
        if first.body.seq > last + 1 {
            let mut err = AppError::conflict(
                "gap",
                format!(
                    "entries start at seq {} but the server holds this epoch through seq {last}: send from seq {}",
                    first.body.seq,
                    last + 1
                ),
            );
            err.expected_seq = Some(last + 1);
            return Err(err);
        }
    }
    let (lo, hi) = match (req.entries.first(), req.entries.last()) {
        (Some(a), Some(b)) => (a.body.seq, b.body.seq.min(last)),
        _ => (1, 0),
    };
    let fresh: Vec<&JournalEntry> = req.entries.iter().filter(|e| e.body.seq > last).collect();
    if lo > hi && fresh.is_empty() {
        return Ok((er, HashMap::new(), Snapshot::default()));
    }
    let keys = SnapshotKeys::of(&fresh);
    // Every lookup by a batch's keys is `UNNEST(keys), LATERAL (… WHERE key = k LIMIT 1)`: one
    // index probe per key, whatever the planner believes about the table. `WHERE id = ANY($1)`
    // (or a join with UNNEST) was planned as a sequential scan of orders and device_journal while
    // they were small and stayed one: EXPLAIN showed this statement at 53 ms per 500-sale batch
    // with 70 k journal rows, growing with the tables.
    let (orders, events, packages, prices, allocations, used, shifts, stored, roster): SnapshotRow =
        sqlx::query_as(
            "WITH o AS (
                 SELECT x.* FROM UNNEST($1::uuid[]) AS k(id), LATERAL (
                        SELECT id, validation_number, rsu_id, event_id, organization_id, sale_seq,
                               voided_at IS NOT NULL AS voided
                          FROM orders WHERE id = k.id LIMIT 1) x
                 UNION
                 SELECT x.* FROM UNNEST($2::text[]) AS k(vn), LATERAL (
                        SELECT id, validation_number, rsu_id, event_id, organization_id, sale_seq,
                               voided_at IS NOT NULL AS voided
                          FROM orders WHERE organization_id = $10 AND validation_number = k.vn LIMIT 1) x
                 UNION
                 SELECT x.* FROM UNNEST($11::int8[]) AS k(s), LATERAL (
                        SELECT id, validation_number, rsu_id, event_id, organization_id, sale_seq,
                               voided_at IS NOT NULL AS voided
                          FROM orders WHERE rsu_id = $4 AND sale_seq = k.s LIMIT 1) x),
             -- FOR SHARE: an admin transition of the event (to reconciled, sales_closed, …)
             -- that is in flight is waited for and then seen, and none can start until this
             -- push commits.
             ev AS (
                 SELECT id, organization_id, state, currency::text AS currency, sales_start_time,
                        sales_end_time, sales_closed_at,
                        COALESCE((configuration->'jurisdiction'->>'priceLock')::boolean, TRUE) AS price_lock
                   FROM events
                  WHERE id = ANY($3) OR id IN (SELECT event_id FROM o WHERE organization_id = $10)
                    FOR SHARE),
             pk AS (
                 SELECT id, event_id, ticket_count, price, currency::text AS currency, active_from, active_to
                   FROM ticket_packages WHERE event_id IN (SELECT id FROM ev))
             SELECT
               (SELECT COALESCE(json_agg(o), '[]') FROM o),
               (SELECT COALESCE(json_agg(ev), '[]') FROM ev),
               (SELECT COALESCE(json_agg(pk), '[]') FROM pk),
               (SELECT COALESCE(json_agg(h ORDER BY h.package_id, h.effective_from), '[]')
                  FROM (SELECT package_id, effective_from, price FROM package_price_history
                         WHERE package_id IN (SELECT id FROM pk)) h),
               (SELECT COALESCE(json_agg(a), '[]')
                  FROM (SELECT id, event_id, start_number, end_number, released_from, next_draw_number
                          FROM rsu_allocations WHERE rsu_id = $4) a),
               ARRAY(SELECT x.entry_id FROM UNNEST($5::uuid[]) AS k(id), LATERAL (
                            SELECT entry_id FROM device_journal
                             WHERE entry_id = k.id AND status <> 'conflict' LIMIT 1) x),
               ARRAY(SELECT shift_id FROM shift_closes WHERE shift_id = ANY($6)),
               (SELECT COALESCE(json_agg(s), '[]')
                  FROM (SELECT seq, entry_id, encode(hash, 'hex') AS hash, status, reason_code,
                               reason_message, flags
                          FROM device_journal
                         WHERE rsu_id = $4 AND epoch = $7 AND seq BETWEEN $8 AND $9) s),
               (SELECT COALESCE(json_agg(r), '[]')
                  FROM (SELECT x.* FROM UNNEST($12::uuid[]) AS k(id), LATERAL (
                               SELECT ou.user_id AS id, r.key AS role
                                 FROM organization_users ou JOIN roles r ON r.id = ou.role_id
                                WHERE ou.organization_id = $10 AND ou.user_id = k.id
                                  AND r.key IN ('seller', 'supervisor') LIMIT 1) x) r)",
        )
        .bind(&keys.order_ids)
        .bind(&keys.validation_numbers)
        .bind(&keys.event_ids)
        .bind(device.rsu_id)
        .bind(&keys.entry_ids)
        .bind(&keys.shift_ids)
        .bind(epoch)
        .bind(lo as i64)
        .bind(hi as i64)
        .bind(device.organization_id)
        .bind(&keys.sale_seqs)
        .bind(&keys.operator_ids)
        .fetch_one(&mut **tx)
        .await?;
    let mut stored_map = HashMap::with_capacity(stored.0.len());
    for s in stored.0 {
        let hash = hex::decode(&s.hash)
            .map_err(|_| AppError::internal("ingest", "a stored journal hash is not hex"))?;
        stored_map.insert(
            u64::try_from(s.seq).unwrap_or(0),
            StoredEntry {
                seq: s.seq,
                entry_id: s.entry_id,
                hash,
                status: s.status,
                reason_code: s.reason_code,
                reason_message: s.reason_message,
                flags: s.flags,
            },
        );
    }
    let mut snap = Snapshot::default();
    if fresh.is_empty() {
        return Ok((er, stored_map, snap));
    }
    for o in orders.0 {
        if o.organization_id == device.organization_id {
            snap.validation_numbers
                .insert(o.validation_number.clone(), o.id);
        }
        if o.rsu_id == Some(device.rsu_id) {
            if let Some(n) = o.sale_seq.and_then(|n| u64::try_from(n).ok()) {
                snap.sale_seqs.insert(n, o.id);
            }
        }
        snap.orders.insert(o.id, o);
    }
    snap.roster = roster.0.into_iter().map(|r| (r.id, r.role)).collect();
    snap.events = events.0.into_iter().map(|e| (e.id, e)).collect();
    snap.packages = packages.0.into_iter().map(|p| (p.id, p)).collect();
    for p in prices.0 {
        snap.prices
            .entry(p.package_id)
            .or_default()
            .push((p.effective_from, p.price));
    }
    snap.allocations = allocations.0;
    snap.used_entry_ids = used.into_iter().collect();
    snap.shift_ids = shifts.into_iter().collect();
    Ok((er, stored_map, snap))
}

type SnapshotRow = (
    Json<Vec<OrderRow>>,
    Json<Vec<EventRow>>,
    Json<Vec<PackageRow>>,
    Json<Vec<PriceRow>>,
    Json<Vec<AllocRow>>,
    Vec<Uuid>,
    Vec<Uuid>,
    Json<Vec<StoredJson>>,
    Json<Vec<RosterRow>>,
);

#[derive(serde::Deserialize)]
struct RosterRow {
    id: Uuid,
    role: String,
}

#[derive(serde::Deserialize)]
struct PriceRow {
    package_id: Uuid,
    effective_from: DateTime<Utc>,
    price: i64,
}

#[derive(serde::Deserialize)]
struct StoredJson {
    seq: i64,
    entry_id: Uuid,
    hash: String,
    status: String,
    reason_code: Option<String>,
    reason_message: Option<String>,
    flags: Vec<String>,
}

/// The ids the new entries of a batch refer to.
struct SnapshotKeys {
    event_ids: Vec<Uuid>,
    order_ids: Vec<Uuid>,
    /// Canonical form.
    validation_numbers: Vec<String>,
    sale_seqs: Vec<i64>,
    shift_ids: Vec<Uuid>,
    entry_ids: Vec<Uuid>,
    /// Every operatorId, supervisorId and closedBy of the batch.
    operator_ids: Vec<Uuid>,
}

impl SnapshotKeys {
    fn of(fresh: &[&JournalEntry]) -> Self {
        let mut event_ids: HashSet<Uuid> = HashSet::new();
        let mut k = SnapshotKeys {
            event_ids: vec![],
            order_ids: Vec::with_capacity(fresh.len()),
            validation_numbers: Vec::with_capacity(fresh.len()),
            sale_seqs: Vec::with_capacity(fresh.len()),
            shift_ids: vec![],
            entry_ids: fresh.iter().map(|e| e.body.entry_id).collect(),
            operator_ids: vec![],
        };
        let mut operators: HashSet<Uuid> = HashSet::new();
        for e in fresh {
            let p = &e.body.payload;
            let uuid_at = |key: &str| {
                p.get(key)
                    .and_then(Value::as_str)
                    .and_then(|s| Uuid::parse_str(s).ok())
            };
            if let Some(ev) = uuid_at("eventId") {
                event_ids.insert(ev);
            }
            // Orders referenced by voids and reprints bring their events too.
            if let Some(id) = uuid_at("localId") {
                k.order_ids.push(id);
            }
            if let Some(id) = uuid_at("shiftId") {
                k.shift_ids.push(id);
            }
            for key in ["operatorId", "supervisorId", "closedBy"] {
                if let Some(id) = uuid_at(key) {
                    operators.insert(id);
                }
            }
            if e.body.kind == EntryKind::Sale {
                if let Some(v) = p.get("validationNumber").and_then(Value::as_str) {
                    k.validation_numbers.push(canonical_vn(v));
                }
                if let Some(n) = p
                    .get("saleSeq")
                    .and_then(Value::as_u64)
                    .and_then(|n| i64::try_from(n).ok())
                {
                    k.sale_seqs.push(n);
                }
            }
        }
        k.event_ids = event_ids.into_iter().collect();
        k.operator_ids = operators.into_iter().collect();
        k
    }
}

/// Numbers found taken after a collision, kept across attempts.
#[derive(Default)]
struct Taken {
    numbers: HashSet<(Uuid, i64)>,
}

/// After a collision: which of the batch's draw numbers and validation numbers are already taken.
async fn load_taken(
    tx: &mut Transaction<'_, Postgres>,
    fresh: &[&JournalEntry],
    taken: &mut Taken,
) -> Result<(), sqlx::Error> {
    let mut evs: Vec<Uuid> = vec![];
    let mut nums: Vec<i32> = vec![];
    for e in fresh.iter().filter(|e| e.body.kind == EntryKind::Sale) {
        let p = &e.body.payload;
        let Some(ev) = p
            .get("eventId")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            continue;
        };
        for n in p
            .get("drawNumbers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = n.as_i64().and_then(|n| i32::try_from(n).ok()) {
                evs.push(ev);
                nums.push(n);
            }
        }
    }
    let found: Vec<(Uuid, i32)> = sqlx::query_as(
        "SELECT t.event_id, t.draw_number FROM UNNEST($1::uuid[], $2::int4[]) AS x(event_id, n), LATERAL (
                SELECT event_id, draw_number FROM tickets
                 WHERE event_id = x.event_id AND draw_number = x.n LIMIT 1) t",
    )
    .bind(&evs)
    .bind(&nums)
    .fetch_all(&mut **tx)
    .await?;
    taken
        .numbers
        .extend(found.into_iter().map(|(e, n)| (e, i64::from(n))));
    // Order ids, validation numbers, sale seqs, entry ids and shift ids taken meanwhile are in
    // the snapshot, which every attempt reads again after the lock.
    Ok(())
}

enum WriteError {
    /// A UNIQUE constraint fired: a number, validation number, sale seq, order id, entry id or
    /// shift id of the batch was taken meanwhile by another push.
    Collision,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.code().as_deref() == Some("23505")
                && matches!(
                    db.constraint(),
                    Some("tickets_event_draw_number_key")
                        | Some("orders_organization_validation_number_key")
                        | Some("orders_rsu_sale_seq_key")
                        | Some("orders_pkey")
                        | Some("device_journal_entry_id_key")
                        | Some("shift_closes_pkey")
                )
            {
                return WriteError::Collision;
            }
        }
        WriteError::Db(e)
    }
}

async fn copy_in(
    tx: &mut Transaction<'_, Postgres>,
    statement: &str,
    buf: CopyBuf,
) -> Result<(), WriteError> {
    if buf.rows == 0 {
        return Ok(());
    }
    let mut copy = tx.copy_in_raw(statement).await?;
    if let Err(e) = copy.send(buf.bytes).await {
        let _ = copy.abort("send failed").await;
        return Err(e.into());
    }
    copy.finish().await?;
    Ok(())
}

async fn write(
    tx: &mut Transaction<'_, Postgres>,
    device: &Device,
    epoch: i32,
    entries: &[JournalEntry],
    plan: &Plan,
    received_at: DateTime<Utc>,
) -> Result<(), WriteError> {
    // The journal: every new entry, whatever its answer, with its full payload.
    let mut j = CopyBuf::new();
    for ji in &plan.journal {
        let e = &entries[ji.idx];
        j.uuid(device.rsu_id)
            .int(i64::from(epoch))
            .int(e.body.seq as i64)
            .uuid(e.body.entry_id)
            .text(e.body.kind.as_str())
            // A createdAt the entry was rejected for may be one PostgreSQL cannot store; the
            // reason message quotes it, the row keeps the receive time.
            .ts(if in_range(&e.body.created_at) {
                &e.body.created_at
            } else {
                &received_at
            });
        match without_nul(&e.body.payload) {
            Some(clean) => j.json(&clean),
            None => j.json(&e.body.payload),
        };
        j.bytea(&e.prev_hash.0)
            .bytea(&e.hash.0)
            .text(ji.status.as_str())
            .opt_text(ji.code.map(|c| c.as_str()))
            .opt_text(ji.message.as_deref())
            .words(&ji.flags)
            .uuid(device.key_id)
            .ts(&received_at);
        j.end_row();
    }
    copy_in(
        tx,
        "COPY device_journal (rsu_id, epoch, seq, entry_id, kind, created_at, payload, prev_hash, hash,
                              status, reason_code, reason_message, flags, key_id, received_at) FROM STDIN",
        j,
    )
    .await?;

    // Orders, then their tickets.
    let mut o = CopyBuf::new();
    for oi in &plan.orders {
        let s = &oi.sale;
        let customer = s
            .customer_info
            .as_ref()
            .filter(|c| !c.is_empty())
            .and_then(|c| serde_json::to_value(c).ok());
        o.uuid(s.local_id)
            .text(&oi.validation_number)
            .uuid(s.event_id)
            .uuid(s.package_id)
            .uuid(device.rsu_id)
            .uuid(oi.allocation_id)
            .int(s.unit_price)
            .int(s.total_amount)
            .text(&s.currency)
            .text("completed")
            .text(s.payment.method.as_str())
            .opt_text(s.payment.reference.as_deref());
        o.int(i64::from(s.ticket_count));
        match &customer {
            Some(c) => o.json(c),
            None => o.null(),
        };
        o.text("rsu")
            .uuid(s.operator_id)
            .opt_uuid(s.shift_id)
            .bool(true)
            .text("synced")
            .int(i64::from(epoch))
            .int(oi.seq as i64)
            .bool(oi.late)
            .ts(&s.sold_at)
            .uuid(s.operator_id)
            .ts(&received_at)
            .uuid(device.organization_id)
            .int(i64::try_from(s.sale_seq).unwrap_or(i64::MAX));
        o.end_row();
    }
    copy_in(
        tx,
        "COPY orders (id, validation_number, event_id, package_id, rsu_id, rsu_allocation_id, unit_price,
                      total_amount, currency, payment_status, payment_method, payment_reference, ticket_count,
                      customer_info, source, operator_id, shift_id, is_offline_sale, offline_sync_status,
                      journal_epoch, journal_seq, is_late, sold_at, sold_by, received_at, organization_id,
                      sale_seq) FROM STDIN",
        o,
    )
    .await?;
    let mut t = CopyBuf::new();
    for ti in &plan.tickets {
        t.uuid(ti.id)
            .uuid(ti.event_id)
            .int(ti.draw_number)
            .text("sold")
            .uuid(ti.order_id);
        t.end_row();
    }
    copy_in(
        tx,
        "COPY tickets (id, event_id, draw_number, state, order_id) FROM STDIN",
        t,
    )
    .await?;
    crash_point("after_tickets");

    if !plan.voids.is_empty() {
        let ids: Vec<Uuid> = plan.voids.iter().map(|v| v.local_id).collect();
        let at: Vec<DateTime<Utc>> = plan.voids.iter().map(|v| v.voided_at).collect();
        let by: Vec<Uuid> = plan.voids.iter().map(|v| v.supervisor_id).collect();
        let reason: Vec<String> = plan.voids.iter().map(|v| v.reason.clone()).collect();
        sqlx::query(
            "UPDATE orders o SET voided_at = x.at, voided_by = x.by, voided_reason = x.reason,
                    updated_at = NOW(), updated_by = x.by
               FROM UNNEST($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[]) AS x(id, at, by, reason)
              WHERE o.id = x.id AND o.voided_at IS NULL",
        )
        .bind(&ids)
        .bind(&at)
        .bind(&by)
        .bind(&reason)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE tickets SET state = 'voided', updated_at = NOW() WHERE order_id = ANY($1)",
        )
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
        // Each voided ticket is charged to the allocation holding its number (a sale may span
        // two); allocations of an event never overlap.
        sqlx::query(
            "UPDATE rsu_allocations a SET tickets_voided = a.tickets_voided + c.n
               FROM (SELECT h.id, COUNT(*)::int4 AS n
                       FROM tickets t
                       JOIN rsu_allocations h ON h.event_id = t.event_id
                        AND int4range(h.start_number, h.end_number, '[]') @> t.draw_number
                      WHERE t.order_id = ANY($1) GROUP BY h.id) c
              WHERE a.id = c.id",
        )
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    }

    if !plan.critical.is_empty() {
        let c = &plan.critical;
        sqlx::query(
            "INSERT INTO critical_events (journal_entry_id, event_type, event_id, rsu_id, user_id, severity,
                                          description, metadata, timestamp, received_at)
             SELECT x.entry_id, x.event_type, x.event_id, $9, x.user_id, x.severity, x.description, x.metadata, x.at, $10
               FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::jsonb[], $8::timestamptz[])
                    AS x(entry_id, event_type, event_id, user_id, severity, description, metadata, at)
             ON CONFLICT (journal_entry_id) DO NOTHING",
        )
        .bind(c.iter().map(|x| x.entry_id).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.event_type.clone()).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.event_id).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.user_id).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.severity.clone()).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.description.clone()).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.metadata.clone()).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.at).collect::<Vec<_>>())
        .bind(device.rsu_id)
        .bind(received_at)
        .execute(&mut **tx)
        .await?;
    }

    for (seq, s) in &plan.shifts {
        let report = serde_json::to_value(s).unwrap_or(Value::Null);
        sqlx::query(
            "INSERT INTO shift_closes (shift_id, rsu_id, epoch, seq, operator_id, closed_at, sales_count,
                                       sales_amount, voids_count, voids_amount, cash_expected, report)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(s.shift_id)
        .bind(device.rsu_id)
        .bind(epoch)
        .bind(*seq as i64)
        .bind(s.operator_id)
        .bind(s.closed_at)
        .bind(s.sales_count as i64)
        .bind(s.sales_amount)
        .bind(s.voids_count as i64)
        .bind(s.voids_amount)
        .bind(s.cash_expected)
        .bind(report)
        .execute(&mut **tx)
        .await?;
    }

    for r in &plan.releases {
        sqlx::query(
            "UPDATE rsu_allocations
                SET released_from = $2::int4, state = 'released',
                    tickets_available = GREATEST(0, ($2::int4 - start_number) - tickets_sold)
              WHERE id = $1",
        )
        .bind(r.allocation_id)
        .bind(r.from as i32)
        .execute(&mut **tx)
        .await?;
    }

    if !plan.seq_conflicts.is_empty() {
        let idx = &plan.seq_conflicts;
        let seqs: Vec<i64> = idx.iter().map(|i| entries[*i].body.seq as i64).collect();
        let hashes: Vec<Vec<u8>> = idx.iter().map(|i| entries[*i].hash.0.to_vec()).collect();
        let bodies: Vec<Value> = idx
            .iter()
            .map(|i| {
                let v = serde_json::to_value(&entries[*i]).unwrap_or(Value::Null);
                without_nul(&v).unwrap_or(v)
            })
            .collect();
        sqlx::query(
            "INSERT INTO journal_conflicts (rsu_id, epoch, seq, hash, entry)
             SELECT $1, $2, x.seq, x.hash, x.entry FROM UNNEST($3::int8[], $4::bytea[], $5::jsonb[]) AS x(seq, hash, entry)
             ON CONFLICT (rsu_id, epoch, seq, hash) DO NOTHING",
        )
        .bind(device.rsu_id)
        .bind(epoch)
        .bind(&seqs)
        .bind(&hashes)
        .bind(&bodies)
        .execute(&mut **tx)
        .await?;
    }

    // The allocation counters and the epoch's chain position, in one statement.
    let new_conflicts = plan.seq_conflicts.len() as i32
        + plan
            .journal
            .iter()
            .filter(|j| j.status == EntryStatus::Conflict)
            .count() as i32;
    let (ids, (counts, maxes)): (Vec<Uuid>, (Vec<i32>, Vec<i32>)) = plan
        .alloc_sold
        .iter()
        .map(|(id, (n, max))| (*id, (*n as i32, *max as i32)))
        .unzip();
    sqlx::query(
        "WITH a AS (
             UPDATE rsu_allocations a
                SET tickets_sold = a.tickets_sold + x.n,
                    tickets_available = GREATEST(a.tickets_available - x.n, 0),
                    next_draw_number = GREATEST(a.next_draw_number, x.maxn + 1),
                    state = CASE WHEN a.state = 'active' AND x.maxn >= a.end_number THEN 'exhausted' ELSE a.state END,
                    exhausted_at = CASE WHEN x.maxn >= a.end_number THEN COALESCE(a.exhausted_at, NOW()) ELSE a.exhausted_at END
               FROM UNNEST($8::uuid[], $9::int4[], $10::int4[]) AS x(id, n, maxn)
              WHERE a.id = x.id)
         UPDATE rsu_epochs SET last_seq = $3, head_hash = $4,
                chain_verified = chain_verified AND $5::int8 IS NULL,
                chain_broken_at = COALESCE(chain_broken_at, $5::int8),
                conflicts = conflicts + $6, last_push_at = $7
          WHERE rsu_id = $1 AND epoch = $2",
    )
    .bind(device.rsu_id)
    .bind(epoch)
    .bind(plan.last_seq as i64)
    .bind(plan.head.0.to_vec())
    .bind(plan.chain_broken_at.map(|s| s as i64))
    .bind(new_conflicts)
    .bind(received_at)
    .bind(&ids)
    .bind(&counts)
    .bind(&maxes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
