//! Building the report from the database (one pass over the tickets per block of numbers, then
//! the orders, journal, shift closes and exclusions of the event).
//!
//! Why this file is over 800 lines: the report is built in one read transaction whose queries feed each other (ranges → blocks → per-RSU reasons); the text/CSV rendering and the types already live beside it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rsu_core::event::{jackpot, JackpotRule};
use rsu_core::money::{Currency, Money};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::*;
use crate::error::{AppError, AppResult};
use rsu_core::wire::ErrorCode;

// ----------------------------------------------------------------------------------------------

type AllocRow = (Uuid, Uuid, i32, i32, Option<i32>, bool, i64, i64, i64);
type EpochRow = (
    Uuid,
    i32,
    bool,
    i64,
    Option<i64>,
    Option<i64>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    bool,
    Option<i64>,
);
type EntryRow = (
    Uuid,
    i32,
    i64,
    Uuid,
    String,
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<Value>,
);
type ConflictRow = (
    Uuid,
    Uuid,
    i32,
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
);
type OrderAgg = (
    Option<Uuid>,
    Option<String>,
    Option<Uuid>,
    Option<Uuid>,
    bool,
    bool,
    i64,
    i64,
    i64,
);
type ShiftRow = (
    Uuid,
    Uuid,
    Uuid,
    i32,
    i64,
    DateTime<Utc>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);
type ExclusionRow = (
    Uuid,
    Uuid,
    String,
    bool,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
);

/// Builds the report of `event_id` on `conn` (a plain connection or the gate's transaction).
/// An unknown event is a 404 `unknown_event`.
pub async fn build(conn: &mut PgConnection, event_id: Uuid) -> AppResult<Report> {
    // Inside the caller's transaction only. JIT compiling the aggregates cost more than running
    // them (0.5 s at 1 M tickets), and the orders aggregate spilled to disk at 4 MB.
    sqlx::query("SET LOCAL jit = off")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SET LOCAL work_mem = '64MB'")
        .execute(&mut *conn)
        .await?;
    // The planner expects one group per ticket for the per-block count and would not give it
    // the parallel workers a plain GROUP BY of the same tickets gets.
    sqlx::query("SET LOCAL parallel_setup_cost = 0")
        .execute(&mut *conn)
        .await?;
    sqlx::query("SET LOCAL parallel_tuple_cost = 0")
        .execute(&mut *conn)
        .await?;
    type EventRow = (
        Uuid,
        String,
        String,
        String,
        String,
        Value,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<String>,
    );
    let ev: Option<EventRow> = sqlx::query_as(
        "SELECT organization_id, event_identifier, name, state, currency::text, configuration,
                sales_closed_at, reconciliation_confirmed_at, reconciliation_confirmed_by_name
           FROM events WHERE id = $1",
    )
    .bind(event_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((org, ident, name, state, currency, configuration, closed_at, conf_at, conf_by)) = ev
    else {
        return Err(AppError::of(
            ErrorCode::UnknownEvent,
            format!("field eventId: no event {event_id}: check the id (create-event printed it as eventId)"),
        ));
    };

    // Per range, from the tickets themselves: the range join of allocations with
    // tickets(event_id, draw_number), done as one pass over the event's tickets (see
    // count_by_range). An index range scan per allocation fetched every ticket from the heap
    // (1.2 s at 1 M tickets), width_bucket over the boundaries cost 2 µs a ticket (0.9 s).
    let alloc_rows: Vec<(Uuid, Uuid, i32, i32, Option<i32>, bool)> = sqlx::query_as(
        "SELECT id, rsu_id, start_number, end_number, released_from, withheld_at IS NOT NULL
           FROM rsu_allocations WHERE event_id = $1 ORDER BY rsu_id, start_number",
    )
    .bind(event_id)
    .fetch_all(&mut *conn)
    .await?;
    let allocs = count_by_range(&mut *conn, event_id, alloc_rows).await?;
    let mut rsu_ids: Vec<Uuid> = allocs.iter().map(|a| a.1).collect();
    rsu_ids.sort_unstable();
    rsu_ids.dedup();

    let rsus: Vec<(Uuid, i32, String, String)> = sqlx::query_as(
        "SELECT id, rsu_no, name, state FROM rsus WHERE id = ANY($1) ORDER BY rsu_no, id",
    )
    .bind(&rsu_ids)
    .fetch_all(&mut *conn)
    .await?;

    let epochs: Vec<EpochRow> = sqlx::query_as(
        "SELECT e.rsu_id, e.epoch, e.epoch = r.current_epoch, e.last_seq, e.reported_last_seq,
                e.pending_count, e.last_heartbeat_at, e.last_push_at, e.chain_verified, e.chain_broken_at
           FROM rsu_epochs e JOIN rsus r ON r.id = e.rsu_id
          WHERE e.rsu_id = ANY($1) ORDER BY e.rsu_id, e.epoch",
    )
    .bind(&rsu_ids)
    .fetch_all(&mut *conn)
    .await?;

    // Rejected and conflicting entries of these RSUs that concern this event (by the payload's
    // eventId, or a void's order) or no event we can tell (those count for every event).
    let entries: Vec<EntryRow> = sqlx::query_as(
        "SELECT dj.rsu_id, dj.epoch, dj.seq, dj.entry_id, dj.kind, dj.status, dj.reason_code,
                dj.reason_message, dj.received_at, dj.resolved_at, dj.resolved_by_name,
                dj.resolution_note,
                CASE WHEN dj.kind = 'sale' AND jsonb_typeof(dj.payload->'drawNumbers') = 'array'
                     THEN dj.payload->'drawNumbers' END
           FROM device_journal dj
           LEFT JOIN orders o ON dj.kind = 'void'
                AND o.id = CASE WHEN dj.payload->>'localId' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                THEN (dj.payload->>'localId')::uuid END
          WHERE dj.rsu_id = ANY($1) AND dj.status <> 'applied'
            AND COALESCE(lower(dj.payload->>'eventId'), o.event_id::text, $2::text) = $2::text
          ORDER BY dj.rsu_id, dj.epoch, dj.seq",
    )
    .bind(&rsu_ids)
    .bind(event_id.to_string())
    .fetch_all(&mut *conn)
    .await?;

    let conflicts: Vec<ConflictRow> = sqlx::query_as(
        "SELECT id, rsu_id, epoch, seq, received_at, resolved_at, resolved_by_name, resolution_note
           FROM journal_conflicts WHERE rsu_id = ANY($1) ORDER BY rsu_id, epoch, seq, received_at",
    )
    .bind(&rsu_ids)
    .fetch_all(&mut *conn)
    .await?;

    // Every order of the event, grouped finely once; everything else is summed from this.
    let orders: Vec<OrderAgg> = sqlx::query_as(
        "SELECT rsu_id, payment_method, COALESCE(sold_by, operator_id), shift_id, is_late,
                voided_at IS NOT NULL, count(*), COALESCE(sum(ticket_count), 0)::int8,
                COALESCE(sum(total_amount), 0)::int8
           FROM orders WHERE event_id = $1
          GROUP BY 1, 2, 3, 4, 5, 6",
    )
    .bind(event_id)
    .fetch_all(&mut *conn)
    .await?;

    // Shift closes of these RSUs whose Z report concerns this event (a line of one of its
    // packages, or no line at all), with the voids the server holds for the shift: void
    // entries of that operator between the Z report's first and last seq.
    let shifts: Vec<ShiftRow> = sqlx::query_as(
        "SELECT sc.shift_id, sc.rsu_id, sc.operator_id, sc.epoch, sc.seq, sc.closed_at,
                sc.sales_count, sc.sales_amount, sc.voids_count, sc.voids_amount,
                COALESCE(v.n, 0), COALESCE(v.amount, 0)
           FROM shift_closes sc
           LEFT JOIN LATERAL (
                SELECT count(*)::int8 AS n, COALESCE(sum(o.total_amount), 0)::int8 AS amount
                  FROM device_journal vj
                  JOIN orders o ON o.id = (vj.payload->>'localId')::uuid
                 WHERE vj.rsu_id = sc.rsu_id AND vj.epoch = sc.epoch AND vj.kind = 'void'
                   AND vj.status = 'applied'
                   AND vj.seq BETWEEN (sc.report->>'firstSeq')::int8 AND (sc.report->>'lastSeq')::int8
                   AND vj.payload->>'operatorId' = sc.operator_id::text) v ON TRUE
          WHERE sc.rsu_id = ANY($1)
            AND (jsonb_typeof(sc.report->'lines') IS DISTINCT FROM 'array'
                 OR jsonb_array_length(sc.report->'lines') = 0
                 OR EXISTS (SELECT 1 FROM jsonb_array_elements(sc.report->'lines') l
                              JOIN ticket_packages p ON p.id::text = l->>'packageId'
                             WHERE p.event_id = $2))
          ORDER BY sc.rsu_id, sc.closed_at",
    )
    .bind(&rsu_ids)
    .bind(event_id)
    .fetch_all(&mut *conn)
    .await?;

    let exclusions: Vec<ExclusionRow> = sqlx::query_as(
        "SELECT id, rsu_id, reason, marked_lost, excluded_by, excluded_at, lifted_at, lifted_by, lift_reason
           FROM rsu_event_exclusions WHERE event_id = $1 ORDER BY excluded_at",
    )
    .bind(event_id)
    .fetch_all(&mut *conn)
    .await?;

    // Numbers printed on rejected sales (not tickets), per RSU: resolved ones are accounted for.
    let mut resolved_numbers: HashMap<Uuid, HashSet<i64>> = HashMap::new();
    for e in &entries {
        if let (Some(_), Some(Value::Array(ns))) = (&e.9, &e.12) {
            let set = resolved_numbers.entry(e.0).or_default();
            set.extend(ns.iter().filter_map(Value::as_i64));
        }
    }

    // A resolved entry answered `conflict` may repeat a sale that was applied: its numbers are
    // tickets, counted once, as tickets.
    let all_resolved: Vec<i32> = resolved_numbers
        .values()
        .flatten()
        .filter_map(|n| i32::try_from(*n).ok())
        .collect();
    if !all_resolved.is_empty() {
        let tickets: Vec<i32> = sqlx::query_scalar(
            "SELECT draw_number FROM tickets WHERE event_id = $1 AND draw_number = ANY($2)",
        )
        .bind(event_id)
        .bind(&all_resolved)
        .fetch_all(&mut *conn)
        .await?;
        let tickets: HashSet<i64> = tickets.into_iter().map(i64::from).collect();
        for set in resolved_numbers.values_mut() {
            set.retain(|n| !tickets.contains(n));
        }
    }

    // Per range numbers.
    let mut ranges: HashMap<Uuid, Vec<RangeReport>> = HashMap::new();
    let mut need_gaps: Vec<Uuid> = Vec::new();
    for (id, rsu, s, e, rel, withheld, sold, voided, in_tail) in &allocs {
        let allocated = i64::from(*e) - i64::from(*s) + 1;
        let released = rel.map_or(0, |r| (i64::from(*e) - i64::from(r) + 1) - in_tail);
        let used_end = rel.map_or(i64::from(*e), |r| i64::from(r) - 1);
        let resolved = resolved_numbers.get(rsu).map_or(0, |set| {
            set.iter()
                .filter(|n| (i64::from(*s)..=used_end).contains(*n))
                .count() as i64
        });
        let unaccounted = allocated - sold - voided - released - resolved;
        if unaccounted > 0 {
            need_gaps.push(*id);
        }
        ranges.entry(*rsu).or_default().push(RangeReport {
            allocation_id: *id,
            start_number: *s,
            end_number: *e,
            released_from: *rel,
            withheld: *withheld,
            numbers: Numbers {
                allocated,
                sold: *sold,
                voided: *voided,
                released,
                resolved_rejected: resolved,
                unaccounted,
                excluded: 0,
            },
            unaccounted_numbers: vec![],
            sold_in_released: *in_tail,
        });
    }
    // The unaccounted numbers themselves, only for the ranges that have some.
    if !need_gaps.is_empty() {
        let taken: Vec<(Uuid, i32)> = sqlx::query_as(
            "SELECT a.id, t.draw_number
               FROM rsu_allocations a
               JOIN tickets t ON t.event_id = a.event_id
                             AND t.draw_number BETWEEN a.start_number
                                                   AND COALESCE(a.released_from - 1, a.end_number)
              WHERE a.id = ANY($1)
              ORDER BY a.id, t.draw_number",
        )
        .bind(&need_gaps)
        .fetch_all(&mut *conn)
        .await?;
        let mut by_alloc: HashMap<Uuid, Vec<i64>> = HashMap::new();
        for (id, n) in taken {
            by_alloc.entry(id).or_default().push(i64::from(n));
        }
        for (rsu, list) in ranges.iter_mut() {
            for r in list.iter_mut().filter(|r| r.numbers.unaccounted > 0) {
                let mut used = by_alloc.remove(&r.allocation_id).unwrap_or_default();
                if let Some(set) = resolved_numbers.get(rsu) {
                    used.extend(set.iter().copied());
                }
                let end = r
                    .released_from
                    .map_or(i64::from(r.end_number), |x| i64::from(x) - 1);
                r.unaccounted_numbers = gaps(i64::from(r.start_number), end, &mut used);
            }
        }
    }

    let mut epochs_by: HashMap<Uuid, Vec<EpochSync>> = HashMap::new();
    for (rsu, epoch, current, last, reported, pending, hb, push, ok, broken) in epochs {
        epochs_by.entry(rsu).or_default().push(EpochSync {
            epoch,
            current,
            last_seq_received: last,
            last_seq_reported: reported,
            pending_at_last_heartbeat: pending,
            last_heartbeat_at: hb,
            last_push_at: push,
            chain_verified: ok,
            chain_broken_at: broken,
        });
    }

    let mut exceptions_by: HashMap<Uuid, Vec<Exception>> = HashMap::new();
    for (rsu, epoch, seq, id, kind, status, code, msg, at, rat, rby, note, _) in entries {
        exceptions_by.entry(rsu).or_default().push(Exception {
            source: "entry",
            id,
            epoch,
            seq,
            kind: Some(kind),
            status,
            reason_code: code,
            reason_message: msg,
            received_at: at,
            resolved_at: rat,
            resolved_by: rby,
            resolution_note: note,
        });
    }
    for (id, rsu, epoch, seq, at, rat, rby, note) in conflicts {
        exceptions_by.entry(rsu).or_default().push(Exception {
            source: "seq_conflict",
            id,
            epoch,
            seq,
            kind: None,
            status: "conflict".into(),
            reason_code: Some("seq_conflict".into()),
            reason_message: Some(format!(
                "a second version of seq {seq} (epoch {epoch}) was received; nothing was overwritten"
            )),
            received_at: at,
            resolved_at: rat,
            resolved_by: rby,
            resolution_note: note,
        });
    }

    // Orders: event totals, per RSU, per seller, per shift, late sales.
    let mut totals = Totals::default();
    let mut rsu_money: HashMap<Uuid, MoneyTotals> = HashMap::new();
    let mut late: HashMap<Uuid, (i64, i64)> = HashMap::new();
    let mut sellers: BTreeMap<Option<Uuid>, Seller> = BTreeMap::new();
    let mut shift_sales: HashMap<Uuid, (i64, i64)> = HashMap::new();
    for (rsu, method, seller, shift, is_late, voided, n, tickets, amount) in &orders {
        let method = method.as_deref().unwrap_or("unknown");
        totals.amounts.add(method, *n, *tickets, *amount, *voided);
        if let Some(rsu) = rsu {
            rsu_money
                .entry(*rsu)
                .or_default()
                .add(method, *n, *tickets, *amount, *voided);
            if *is_late {
                let l = late.entry(*rsu).or_default();
                l.0 += n;
                l.1 += amount;
            }
        }
        if *is_late {
            totals.late_sales += n;
        }
        let s = sellers.entry(*seller).or_insert_with(|| Seller {
            operator_id: *seller,
            name: None,
            sales: 0,
            tickets: 0,
            gross: 0,
            voids: 0,
            voided: 0,
            net: 0,
        });
        s.sales += n;
        s.tickets += tickets;
        s.gross += amount;
        if *voided {
            s.voids += n;
            s.voided += amount;
        }
        s.net = s.gross - s.voided;
        if let Some(shift) = shift {
            let t = shift_sales.entry(*shift).or_default();
            t.0 += n;
            t.1 += amount;
        }
    }
    let seller_ids: Vec<Uuid> = sellers.keys().flatten().copied().collect();
    let names: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, display_name FROM users WHERE id = ANY($1)")
            .bind(&seller_ids)
            .fetch_all(&mut *conn)
            .await?;
    let names: HashMap<Uuid, String> = names.into_iter().collect();
    let mut sellers: Vec<Seller> = sellers
        .into_values()
        .map(|mut s| {
            s.name = s.operator_id.and_then(|id| names.get(&id).cloned());
            s
        })
        .collect();
    sellers.sort_by(|a, b| a.name.cmp(&b.name).then(a.operator_id.cmp(&b.operator_id)));

    let mut shifts_by: HashMap<Uuid, Vec<ShiftCheck>> = HashMap::new();
    for (shift, rsu, op, epoch, seq, closed, sc, sa, vc, va, svc, sva) in shifts {
        let device = ShiftTotals {
            sales_count: sc,
            sales_amount: sa,
            voids_count: vc,
            voids_amount: va,
        };
        let (ssc, ssa) = shift_sales.get(&shift).copied().unwrap_or((0, 0));
        let server = ShiftTotals {
            sales_count: ssc,
            sales_amount: ssa,
            voids_count: svc,
            voids_amount: sva,
        };
        shifts_by.entry(rsu).or_default().push(ShiftCheck {
            shift_id: shift,
            operator_id: op,
            epoch,
            seq,
            closed_at: closed,
            matches: device == server,
            device,
            server,
        });
    }

    let mut excl_by: HashMap<Uuid, (Option<ExclusionInfo>, Vec<ExclusionInfo>)> = HashMap::new();
    for (id, rsu, reason, lost, by, at, lifted_at, lifted_by, lift_reason) in exclusions {
        let info = ExclusionInfo {
            id,
            reason,
            marked_lost: lost,
            excluded_by: by,
            excluded_at: at,
            lifted_at,
            lifted_by,
            lift_reason,
        };
        let slot = excl_by.entry(rsu).or_default();
        if info.lifted_at.is_none() {
            slot.0 = Some(info);
        } else {
            slot.1.push(info);
        }
    }

    let mut perks_by = crate::perks::report::perks_by_rsu(&mut *conn, event_id).await?;
    // Assemble per RSU.
    let mut out_rsus = Vec::with_capacity(rsus.len());
    let mut blocking = Vec::new();
    for (rsu_id, rsu_no, rsu_name, rsu_state) in rsus {
        let ranges = ranges.remove(&rsu_id).unwrap_or_default();
        let mut numbers = Numbers::default();
        for r in &ranges {
            numbers.add(&r.numbers);
        }
        let epochs = epochs_by.remove(&rsu_id).unwrap_or_default();
        let mut exceptions = exceptions_by.remove(&rsu_id).unwrap_or_default();
        exceptions.sort_by_key(|x| (x.resolved_at.is_some(), x.epoch, x.seq));
        let open = exceptions
            .iter()
            .filter(|x| x.resolved_at.is_none())
            .count() as i64;
        let first_bad = epochs
            .iter()
            .filter(|e| !e.chain_verified)
            .map(|e| EpochSeq {
                epoch: e.epoch,
                seq: e.chain_broken_at.unwrap_or(0),
            })
            .next();
        let reasons = reasons_for(&ranges, &numbers, &epochs, &first_bad, open);
        let (exclusion, history) = excl_by.remove(&rsu_id).unwrap_or_default();
        let mut excluded_numbers = Vec::new();
        let status = if exclusion.is_some() {
            numbers.excluded = numbers.unaccounted;
            numbers.unaccounted = 0;
            excluded_numbers = ranges
                .iter()
                .flat_map(|r| r.unaccounted_numbers.iter().cloned())
                .collect();
            totals.rsus_excluded += 1;
            "excluded"
        } else if reasons.is_empty() {
            totals.rsus_reconciled += 1;
            "reconciled"
        } else {
            totals.rsus_pending += 1;
            blocking.push(Blocking {
                rsu_id,
                rsu_no,
                rsu_name: rsu_name.clone(),
                reasons: reasons.clone(),
            });
            "pending"
        };
        totals.rsus += 1;
        totals.ranges += ranges.len() as i64;
        totals.numbers.add(&numbers);
        totals.open_exceptions += open;
        let (lc, la) = late.get(&rsu_id).copied().unwrap_or((0, 0));
        out_rsus.push(RsuReport {
            rsu_id,
            rsu_no,
            name: rsu_name,
            rsu_state,
            status: status.into(),
            reasons,
            exclusion,
            exclusion_history: history,
            numbers,
            excluded_numbers,
            ranges,
            amounts: rsu_money.remove(&rsu_id).unwrap_or_default(),
            sync: SyncReport {
                chain_verified: first_bad.is_none(),
                first_bad_seq: first_bad,
                epochs,
            },
            open_exceptions: open,
            exceptions,
            late_sales: LateSales {
                count: lc,
                amount: la,
            },
            shift_closes: shifts_by.remove(&rsu_id).unwrap_or_default(),
            perks: perks_by.remove(&rsu_id).unwrap_or_default(),
        });
    }

    let jackpot = jackpot_of(&configuration, &currency, totals.amounts.all.net)?;
    let draw_commitment = crate::draw::commitment_of(&mut *conn, event_id).await?;
    let proceeds = super::proceeds::proceeds(
        &mut *conn,
        event_id,
        org,
        &configuration,
        totals.amounts.all.net,
    )
    .await?;
    Ok(Report {
        report_version: REPORT_VERSION,
        generated_at: Utc::now(),
        event: EventInfo {
            id: event_id,
            organization_id: org,
            event_identifier: ident,
            name,
            state,
            currency,
            sales_closed_at: closed_at,
            reconciliation_confirmed_at: conf_at,
            reconciliation_confirmed_by: conf_by,
        },
        status: if blocking.is_empty() {
            "reconciled".into()
        } else {
            "pending".into()
        },
        blocking,
        totals,
        jackpot,
        proceeds,
        draw_commitment,
        rsus: out_rsus,
        sellers,
    })
}

/// Numbers per block in the first pass of [`count_by_range`].
const BLOCK: i32 = 64;

/// Sold, voided and in-released-tail ticket counts per allocation: one pass over the event's
/// tickets counting per block of numbers, then the tickets of the blocks an allocation
/// boundary cuts, one by one.
async fn count_by_range(
    conn: &mut PgConnection,
    event_id: Uuid,
    rows: Vec<(Uuid, Uuid, i32, i32, Option<i32>, bool)>,
) -> AppResult<Vec<AllocRow>> {
    // Allocations never overlap (rsu_allocations_no_overlap): sorted by start, each boundary
    // starts a segment that lies in one allocation's used part, its released tail, or no
    // allocation at all.
    let mut by_start: Vec<(i32, i32, Option<i32>, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.2, r.3, r.4, i))
        .collect();
    by_start.sort_unstable();
    let mut bounds: Vec<i32> = Vec::with_capacity(rows.len() * 3);
    for (s, e, rel, _) in &by_start {
        bounds.push(*s);
        if let Some(r) = rel {
            bounds.push(*r);
        }
        bounds.push(e.saturating_add(1));
    }
    bounds.sort_unstable();
    bounds.dedup();
    let mut sold = vec![0i64; rows.len()];
    let mut voided = vec![0i64; rows.len()];
    let mut tail = vec![0i64; rows.len()];
    // Adds n tickets at `number` (or a whole block starting there) to its allocation.
    let mut add = |number: i32, is_void: bool, n: i64| {
        let seg = bounds.partition_point(|b| *b <= number);
        let Some(lower) = seg.checked_sub(1).and_then(|i| bounds.get(i)) else {
            return; // below every allocation
        };
        let pos = by_start.partition_point(|a| a.0 <= *lower);
        let Some((_, end, rel, idx)) = pos.checked_sub(1).and_then(|p| by_start.get(p)) else {
            return;
        };
        if lower > end {
            return; // between allocations: not an RSU number
        }
        if is_void {
            voided[*idx] += n;
        } else {
            sold[*idx] += n;
        }
        if rel.is_some_and(|r| *lower >= r) {
            tail[*idx] += n;
        }
    };
    if !bounds.is_empty() {
        // Pass 1: tickets counted per block of BLOCK numbers (integer division: as cheap per
        // row as any GROUP BY). A block without a boundary lies in one segment.
        let blocks: Vec<(i32, i64, i64)> = sqlx::query_as(
            "SELECT draw_number / $2, count(*) FILTER (WHERE state <> 'voided'),
                    count(*) FILTER (WHERE state = 'voided')
               FROM tickets WHERE event_id = $1 GROUP BY 1",
        )
        .bind(event_id)
        .bind(BLOCK)
        .fetch_all(&mut *conn)
        .await?;
        let mut split: Vec<i32> = bounds.iter().map(|b| b / BLOCK).collect();
        split.dedup();
        for (block, n_sold, n_void) in blocks {
            if split.binary_search(&block).is_err() {
                add(block.saturating_mul(BLOCK), false, n_sold);
                add(block.saturating_mul(BLOCK), true, n_void);
            }
        }
        // Pass 2: the tickets of the blocks a boundary cuts, one by one (an index range scan
        // of at most BLOCK numbers per boundary).
        let exact: Vec<(i32, bool)> = sqlx::query_as(
            "SELECT t.draw_number, t.state = 'voided'
               FROM UNNEST($2::int4[]) AS b(block),
                    LATERAL (SELECT draw_number, state FROM tickets
                              WHERE event_id = $1
                                AND draw_number BETWEEN b.block * $3 AND b.block * $3 + $3 - 1) t",
        )
        .bind(event_id)
        .bind(&split)
        .bind(BLOCK)
        .fetch_all(&mut *conn)
        .await?;
        for (number, is_void) in exact {
            add(number, is_void, 1);
        }
    }
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, (id, rsu, s, e, rel, w))| (id, rsu, s, e, rel, w, sold[i], voided[i], tail[i]))
        .collect())
}

/// Every reason an RSU is not reconciled (DESIGN §7 gate): unaccounted numbers, entries still
/// pending on the device or not received, a broken chain, open exceptions.
fn reasons_for(
    ranges: &[RangeReport],
    numbers: &Numbers,
    epochs: &[EpochSync],
    first_bad: &Option<EpochSeq>,
    open: i64,
) -> Vec<Reason> {
    let mut out = Vec::new();
    if numbers.unaccounted != 0 {
        let list: Vec<String> = ranges
            .iter()
            .flat_map(|r| r.unaccounted_numbers.iter().cloned())
            .collect();
        out.push(Reason {
            code: "unaccounted_numbers",
            message: format!(
                "{} allocated numbers are neither sold, voided nor released ({}): close the device so it releases them, let it sync, or exclude it",
                numbers.unaccounted,
                if list.is_empty() { "see ranges".to_string() } else { list.join(", ") }
            ),
        });
    }
    let in_tail: i64 = ranges.iter().map(|r| r.sold_in_released).sum();
    if in_tail > 0 {
        out.push(Reason {
            code: "sold_in_released_range",
            message: format!(
                "{in_tail} tickets lie in a range the device released: investigate before the draw"
            ),
        });
    }
    match epochs.iter().find(|e| e.current) {
        None => out.push(Reason {
            code: "never_synced",
            message: "the RSU never enrolled or synced: nothing it sold is known; enroll and sync it, or exclude it".into(),
        }),
        Some(cur) => match (cur.last_heartbeat_at, cur.pending_at_last_heartbeat) {
            (None, _) => out.push(Reason {
                code: "no_heartbeat",
                message: format!(
                    "no heartbeat from epoch {} yet, so the server cannot tell whether entries are still on the device: let rsu-syncd run once",
                    cur.epoch
                ),
            }),
            // Entries pending at the heartbeat that have all arrived since (pushed later, or
            // imported from the device's export) no longer hold the RSU back.
            (Some(at), Some(p))
                if p > 0
                    && cur
                        .last_seq_reported
                        .is_none_or(|r| r > cur.last_seq_received) =>
            {
                out.push(Reason {
                code: "pending_entries",
                message: format!(
                    "the device reported {p} entries not yet synced at its last heartbeat ({}): let it sync and send a heartbeat",
                    rsu_core::journal::format_time(&at)
                ),
            })
            }
            _ => {}
        },
    }
    for e in epochs {
        if let Some(reported) = e.last_seq_reported {
            if reported > e.last_seq_received {
                out.push(Reason {
                    code: "seq_behind",
                    message: format!(
                        "epoch {}: the device reported seq {reported} but the server holds up to {}: let it sync (or import its journal)",
                        e.epoch, e.last_seq_received
                    ),
                });
            }
        }
    }
    if let Some(b) = first_bad {
        out.push(Reason {
            code: "chain_broken",
            message: format!(
                "the journal chain of epoch {} is broken at seq {}: investigate the device, then exclude it or import a good journal",
                b.epoch, b.seq
            ),
        });
    }
    if open > 0 {
        out.push(Reason {
            code: "open_exceptions",
            message: format!(
                "{open} rejected or conflicting entries are not resolved: see exceptions, then `server-stub admin resolve --entry-id ID --note …`"
            ),
        });
    }
    out
}

/// The numbers of `start..=end` not in `used`, as compressed ranges.
fn gaps(start: i64, end: i64, used: &mut Vec<i64>) -> Vec<String> {
    used.retain(|n| (start..=end).contains(n));
    used.sort_unstable();
    used.dedup();
    let mut out = Vec::new();
    let mut next = start;
    for &n in used.iter() {
        if n > next {
            out.push(span(next, n - 1));
        }
        next = n + 1;
    }
    if next <= end {
        out.push(span(next, end));
    }
    out
}

fn span(a: i64, b: i64) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}–{b}")
    }
}

fn jackpot_of(configuration: &Value, currency: &str, net: i64) -> AppResult<Option<Jackpot>> {
    let Some(bp) = configuration
        .get("jackpotPercentageBp")
        .and_then(Value::as_u64)
    else {
        return Ok(None);
    };
    let cur = Currency::new(currency).map_err(|e| AppError::internal("event currency", e))?;
    let seed = configuration
        .get("jackpotSeedAmount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let starting = configuration
        .get("jackpotStartingAmount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let percentage_bp = u32::try_from(bp).unwrap_or(0);
    let rule = JackpotRule {
        seed: Money::new(seed, cur),
        starting: Money::new(starting, cur),
        percentage_bp,
    };
    let amount = jackpot(&rule, Money::new(net, cur))
        .map_err(|e| AppError::internal("jackpot", e))?
        .minor;
    Ok(Some(Jackpot {
        seed_amount: seed,
        starting_amount: starting,
        percentage_bp,
        net_sales: net,
        amount,
    }))
}

/// The report in a consistent snapshot (one REPEATABLE READ, READ ONLY transaction).
pub async fn event_report(pool: &sqlx::PgPool, event_id: Uuid) -> AppResult<Report> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let r = build(&mut tx, event_id).await?;
    tx.commit().await?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_lists_every_unused_number_compressed() {
        assert_eq!(gaps(1, 10, &mut vec![3, 4, 7]), vec!["1–2", "5–6", "8–10"]);
        assert_eq!(gaps(1, 3, &mut vec![1, 2, 3]), Vec::<String>::new());
        assert_eq!(gaps(5, 5, &mut vec![]), vec!["5"]);
        assert_eq!(gaps(1, 4, &mut vec![9, 2, 2]), vec!["1", "3–4"]);
    }
}
