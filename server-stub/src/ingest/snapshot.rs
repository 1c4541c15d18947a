//! Loading and locking: the device's epoch row locked for the batch, then in one more statement
//! everything the plan looks at (the stored entries of the batch's seqs, and the snapshot of
//! events, packages, prices, allocations, orders, roster, entry ids and shift ids the new entries
//! name, and the perks: the packages' perks, this RSU's perk allocations, the claimed perks of
//! the orders named). After a collision, [`load_taken`] reads the draw numbers other orders hold.

use chrono::{DateTime, Utc};
use rsu_core::config::Role;
use rsu_core::event::{EventState, Package};
use rsu_core::journal::JournalEntry;
use rsu_core::money::{Currency, Money};
use rsu_core::payload::Payload;
use rsu_core::wire::ErrorCode;
use rsu_core::wire::PushRequest;
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

use super::canonical_vn;
use crate::auth::Device;
use crate::error::{AppError, AppResult};

/// An event a new entry names, with its rules in rsu-core's types.
#[derive(Clone, Debug, sqlx::FromRow, serde::Deserialize)]
pub struct EventRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub state: EventState,
    pub currency: Currency,
    pub sales_start_time: DateTime<Utc>,
    pub sales_end_time: DateTime<Utc>,
    pub sales_closed_at: Option<DateTime<Utc>>,
    pub price_lock: bool,
}

impl EventRow {
    /// When sales ended: the scheduled end, or the earlier moment they were closed.
    pub fn effective_end(&self) -> DateTime<Utc> {
        match self.sales_closed_at {
            Some(c) if c < self.sales_end_time => c,
            _ => self.sales_end_time,
        }
    }
}

/// A package of an event the batch names: rsu-core's [`Package`] (price and sale window) and the
/// event it belongs to.
#[derive(Clone, Debug)]
pub struct EventPackage {
    pub event_id: Uuid,
    /// Always `is_active`: the push judges a sale by the package's window at `soldAt` only. A
    /// package switched off after an offline sale does not undo that sale.
    pub package: Package,
}

/// A package as it is read (`ticket_packages`).
#[derive(serde::Deserialize)]
struct PackageRow {
    id: Uuid,
    event_id: Uuid,
    ticket_count: i32,
    price: i64,
    currency: Currency,
    active_from: Option<DateTime<Utc>>,
    active_to: Option<DateTime<Utc>>,
    #[serde(default)]
    perk_ids: Option<Vec<Uuid>>,
}

impl PackageRow {
    fn into_event_package(self) -> AppResult<EventPackage> {
        let ticket_count = u32::try_from(self.ticket_count).map_err(|_| {
            AppError::internal(
                "ingest",
                format!("package {} has ticket_count {}", self.id, self.ticket_count),
            )
        })?;
        Ok(EventPackage {
            event_id: self.event_id,
            package: Package {
                perk_ids: self.perk_ids.unwrap_or_default(),
                id: self.id,
                name: String::new(),
                ticket_count,
                price: Money::new(self.price, self.currency),
                display_order: 0,
                is_active: true,
                active_from: self.active_from,
                active_to: self.active_to,
            },
        })
    }
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

/// A perk named by a package of the batch's events.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct PerkRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub requires_inventory: bool,
}

/// A perk allocation of this RSU.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct PerkAllocRow {
    pub id: Uuid,
    pub perk_id: Uuid,
    pub event_id: Uuid,
    pub quantity: i32,
    /// Units the server holds as issued from it.
    pub issued: i32,
    pub released: bool,
}

/// A perk of an order named by the batch that was already handed out at the desk.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ClaimedPerk {
    pub order_id: Uuid,
    pub claim_code: String,
    pub perk_name: String,
    pub claimed_by: Option<String>,
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

/// What the plan needs to know from the database about the batch's new entries.
#[derive(Default, Debug)]
pub struct Snapshot {
    pub events: HashMap<Uuid, EventRow>,
    pub packages: HashMap<Uuid, EventPackage>,
    /// Price history per package, ascending by effective time.
    pub prices: HashMap<Uuid, Vec<(DateTime<Utc>, i64)>>,
    pub allocations: Vec<AllocRow>,
    pub orders: HashMap<Uuid, OrderRow>,
    /// This organization's orders by canonical validation number.
    pub validation_numbers: HashMap<String, Uuid>,
    /// This RSU's orders by sale seq (any epoch).
    pub sale_seqs: HashMap<u64, Uuid>,
    /// The batch's operators that are on the organization's roster, with their role.
    pub roster: HashMap<Uuid, Role>,
    pub used_entry_ids: HashSet<Uuid>,
    pub shift_ids: HashSet<Uuid>,
    /// Draw numbers known to be sold by other orders (filled only after a collision).
    pub taken: HashSet<(Uuid, i64)>,
    /// The perks the packages of the batch's events include.
    pub perks: HashMap<Uuid, PerkRow>,
    /// Every perk allocation of this RSU.
    pub perk_allocations: Vec<PerkAllocRow>,
    /// Claimed perks of the orders the batch names (a void reports them).
    pub claimed_perks: Vec<ClaimedPerk>,
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

/// A new entry of the batch (its seq is above the epoch's `last_seq`) and its decoded payload,
/// when it decoded.
pub type Fresh<'a> = (&'a JournalEntry, Option<&'a Payload>);

/// Records the nonce (it commits with the batch) and locks the device's epoch row in one
/// statement. A batch that starts past the next seq is refused (`gap`).
pub async fn lock(
    tx: &mut Transaction<'_, Postgres>,
    device: &Device,
    epoch: i32,
    req: &PushRequest,
) -> AppResult<EpochRow> {
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
            ErrorCode::UnknownEpoch,
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
                ErrorCode::Gap,
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
    Ok(er)
}

/// Reads in one statement the stored entries of the batch's seqs and the snapshot of every row
/// the plan looks at for the `fresh` entries. It runs after [`lock`], so a push of the same device
/// that committed while this one waited is seen.
pub async fn load(
    tx: &mut Transaction<'_, Postgres>,
    device: &Device,
    epoch: i32,
    req: &PushRequest,
    last_seq: u64,
    fresh: &[Fresh<'_>],
) -> AppResult<(HashMap<u64, StoredEntry>, Snapshot)> {
    let (lo, hi) = match (req.entries.first(), req.entries.last()) {
        (Some(a), Some(b)) => (a.body.seq, b.body.seq.min(last_seq)),
        _ => (1, 0),
    };
    if lo > hi && fresh.is_empty() {
        return Ok((HashMap::new(), Snapshot::default()));
    }
    let keys = SnapshotKeys::of(fresh);
    // Every lookup by a batch's keys is `UNNEST(keys), LATERAL (… WHERE key = k LIMIT 1)`: one
    // index probe per key, whatever the planner believes about the table. `WHERE id = ANY($1)`
    // (or a join with UNNEST) was planned as a sequential scan of orders and device_journal while
    // they were small and stayed one: EXPLAIN showed this statement at 53 ms per 500-sale batch
    // with 70 k journal rows, growing with the tables.
    let (
        orders,
        events,
        packages,
        prices,
        allocations,
        used,
        shifts,
        stored,
        roster,
        perks,
        perk_allocations,
        claimed_perks,
    ): SnapshotRow =
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
                 SELECT id, event_id, ticket_count, price, currency::text AS currency, active_from, active_to,
                        perk_ids
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
                                  AND r.key IN ('seller', 'supervisor') LIMIT 1) x) r),
               (SELECT COALESCE(json_agg(p), '[]')
                  FROM (SELECT id, organization_id, name, requires_inventory FROM perks
                         WHERE id IN (SELECT UNNEST(perk_ids) FROM pk)) p),
               (SELECT COALESCE(json_agg(a), '[]')
                  FROM (SELECT id, perk_id, event_id, quantity, issued, state = 'released' AS released
                          FROM perk_allocations WHERE rsu_id = $4) a),
               (SELECT COALESCE(json_agg(c), '[]')
                  FROM (SELECT order_id, claim_code, perk_name, claimed_by FROM perk_claims
                         WHERE order_id IN (SELECT id FROM o) AND status = 'claimed') c)",
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
        return Ok((stored_map, snap));
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
    for p in packages.0 {
        let p = p.into_event_package()?;
        snap.packages.insert(p.package.id, p);
    }
    for p in prices.0 {
        snap.prices
            .entry(p.package_id)
            .or_default()
            .push((p.effective_from, p.price));
    }
    snap.allocations = allocations.0;
    snap.perks = perks.0.into_iter().map(|p| (p.id, p)).collect();
    snap.perk_allocations = perk_allocations.0;
    snap.claimed_perks = claimed_perks.0;
    snap.used_entry_ids = used.into_iter().collect();
    snap.shift_ids = shifts.into_iter().collect();
    Ok((stored_map, snap))
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
    Json<Vec<PerkRow>>,
    Json<Vec<PerkAllocRow>>,
    Json<Vec<ClaimedPerk>>,
);

#[derive(serde::Deserialize)]
struct RosterRow {
    id: Uuid,
    role: Role,
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

/// The ids the new entries of a batch refer to, read from their decoded payloads. An entry whose
/// payload did not decode is answered `bad_payload` and needs no rows.
struct SnapshotKeys {
    event_ids: Vec<Uuid>,
    /// Orders named by sales (their ids must be new), voids and reprints; their events come too.
    order_ids: Vec<Uuid>,
    /// Canonical form.
    validation_numbers: Vec<String>,
    sale_seqs: Vec<i64>,
    shift_ids: Vec<Uuid>,
    entry_ids: Vec<Uuid>,
    /// Every operator the plan checks against the roster: `operatorId`, `supervisorId` and
    /// `closedBy` of sales, voids, reprints and shift closes.
    operator_ids: Vec<Uuid>,
}

impl SnapshotKeys {
    fn of(fresh: &[Fresh<'_>]) -> Self {
        let mut event_ids: HashSet<Uuid> = HashSet::new();
        let mut operators: HashSet<Uuid> = HashSet::new();
        let mut k = SnapshotKeys {
            event_ids: vec![],
            order_ids: Vec::with_capacity(fresh.len()),
            validation_numbers: Vec::with_capacity(fresh.len()),
            sale_seqs: Vec::with_capacity(fresh.len()),
            shift_ids: vec![],
            entry_ids: fresh.iter().map(|(e, _)| e.body.entry_id).collect(),
            operator_ids: vec![],
        };
        for payload in fresh.iter().filter_map(|(_, p)| *p) {
            match payload {
                Payload::Sale(s) => {
                    event_ids.insert(s.event_id);
                    k.order_ids.push(s.local_id);
                    operators.insert(s.operator_id);
                    k.validation_numbers
                        .push(canonical_vn(&s.validation_number));
                    if let Ok(n) = i64::try_from(s.sale_seq) {
                        k.sale_seqs.push(n);
                    }
                }
                Payload::Void(v) => {
                    k.order_ids.push(v.local_id);
                    operators.extend([v.operator_id, v.supervisor_id]);
                }
                Payload::Reprint(r) => {
                    k.order_ids.push(r.local_id);
                    operators.insert(r.operator_id);
                    operators.extend(r.supervisor_id);
                }
                Payload::CriticalEvent(c) => event_ids.extend(c.event_id),
                Payload::ShiftClose(s) => {
                    k.shift_ids.push(s.shift_id);
                    operators.extend([s.operator_id, s.closed_by]);
                }
                Payload::AllocationRelease(r) => {
                    event_ids.insert(r.event_id);
                }
                Payload::PerkRelease(r) => {
                    event_ids.insert(r.event_id);
                }
            }
        }
        k.event_ids = event_ids.into_iter().collect();
        k.operator_ids = operators.into_iter().collect();
        k
    }
}

/// After a collision: which of the batch's draw numbers are already sold by other orders. Order
/// ids, validation numbers, sale seqs, entry ids and shift ids taken meanwhile are in the
/// snapshot, which every attempt reads again after the lock.
pub async fn load_taken(
    tx: &mut Transaction<'_, Postgres>,
    fresh: &[Fresh<'_>],
    taken: &mut HashSet<(Uuid, i64)>,
) -> Result<(), sqlx::Error> {
    let mut evs: Vec<Uuid> = vec![];
    let mut nums: Vec<i32> = vec![];
    for (_, payload) in fresh {
        let Some(Payload::Sale(s)) = payload else {
            continue;
        };
        for n in s.draw_numbers.iter().filter_map(|n| i32::try_from(*n).ok()) {
            evs.push(s.event_id);
            nums.push(n);
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
    taken.extend(found.into_iter().map(|(e, n)| (e, i64::from(n))));
    Ok(())
}
