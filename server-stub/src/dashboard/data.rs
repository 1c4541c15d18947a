//! The dashboard's queries. None of them reads the tickets: event totals and the chart come from
//! `event_sales_minutes` (kept by triggers on `orders`, migration 0011), devices from the
//! epochs' heartbeat columns and the allocation counters, exceptions from the partial indexes
//! on rejected entries and late orders. The reconciliation report (which does count tickets)
//! is built only on the report page.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::AppResult;

/// An event as every event page needs it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub name: String,
    pub event_identifier: String,
    pub state: String,
    pub currency: String,
    pub configuration: Value,
    pub sales_start_time: DateTime<Utc>,
    pub sales_end_time: DateTime<Utc>,
    pub draw_time: DateTime<Utc>,
    pub sales_closed_at: Option<DateTime<Utc>>,
}

const EVENT_COLUMNS: &str = "e.id, e.organization_id, o.name AS organization_name, e.name,
    e.event_identifier, e.state, e.currency::text AS currency, e.configuration,
    e.sales_start_time, e.sales_end_time, e.draw_time, e.sales_closed_at";

pub async fn event(pool: &PgPool, id: Uuid) -> AppResult<Option<EventRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM events e JOIN organizations o ON o.id = e.organization_id
          WHERE e.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// An event's sales so far, from the per-minute summary.
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct Sales {
    pub orders: i64,
    pub tickets: i64,
    pub gross: i64,
    pub voided_orders: i64,
    pub voided_tickets: i64,
    pub voided_amount: i64,
}

impl Sales {
    /// Tickets sold and not voided.
    pub fn tickets_sold(&self) -> i64 {
        self.tickets - self.voided_tickets
    }
    /// Net sales as the draw computes them: every order's amount minus the voided ones'.
    pub fn net(&self) -> i64 {
        self.gross - self.voided_amount
    }
}

/// One row of the events list.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EventListRow {
    #[sqlx(flatten)]
    pub event: EventRow,
    #[sqlx(flatten)]
    pub sales: Sales,
    /// Hex of the draw's commitment (from sales_closed on).
    pub commitment: Option<String>,
}

const SALES_SUMS: &str =
    "COALESCE(sum(orders), 0)::int8 AS orders, COALESCE(sum(tickets), 0)::int8 AS tickets,
    COALESCE(sum(gross), 0)::int8 AS gross, COALESCE(sum(voided_orders), 0)::int8 AS voided_orders,
    COALESCE(sum(voided_tickets), 0)::int8 AS voided_tickets,
    COALESCE(sum(voided_amount), 0)::int8 AS voided_amount";

/// The events of the given organizations (`None`: every organization), newest sales first.
pub async fn events(pool: &PgPool, orgs: Option<&[Uuid]>) -> AppResult<Vec<EventListRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS}, s.*, encode(c.commitment, 'hex') AS commitment
           FROM events e
           JOIN organizations o ON o.id = e.organization_id
           LEFT JOIN event_draw_seeds c ON c.event_id = e.id
          CROSS JOIN LATERAL (SELECT {SALES_SUMS} FROM event_sales_minutes WHERE event_id = e.id) s
          WHERE $1::uuid[] IS NULL OR e.organization_id = ANY($1)
          ORDER BY e.sales_start_time DESC, e.name"
    ))
    .bind(orgs)
    .fetch_all(pool)
    .await?)
}

pub async fn sales(pool: &PgPool, event_id: Uuid) -> AppResult<Sales> {
    Ok(sqlx::query_as(&format!(
        "SELECT {SALES_SUMS} FROM event_sales_minutes WHERE event_id = $1"
    ))
    .bind(event_id)
    .fetch_one(pool)
    .await?)
}

/// Tickets and sales (orders) per minute of sale, net of voids, oldest first.
pub async fn sales_per_minute(
    pool: &PgPool,
    event_id: Uuid,
) -> AppResult<Vec<(DateTime<Utc>, i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT minute, sum(tickets - voided_tickets)::int8, sum(orders - voided_orders)::int8
           FROM event_sales_minutes WHERE event_id = $1
          GROUP BY minute ORDER BY minute",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?)
}

/// The jackpot of an event's configuration at `net` sales (`None` without a jackpot rule).
pub fn jackpot(configuration: &Value, currency: &str, net: i64) -> Option<i64> {
    use rsu_core::event::{jackpot, JackpotRule};
    use rsu_core::money::{Currency, Money};
    let bp = configuration.get("jackpotPercentageBp")?.as_u64()?;
    let cur = Currency::new(currency).ok()?;
    let amount = |k: &str| configuration.get(k).and_then(Value::as_i64).unwrap_or(0);
    let rule = JackpotRule {
        seed: Money::new(amount("jackpotSeedAmount"), cur),
        starting: Money::new(amount("jackpotStartingAmount"), cur),
        percentage_bp: u32::try_from(bp).ok()?,
    };
    jackpot(&rule, Money::new(net, cur)).ok().map(|m| m.minor)
}

/// One RSU of an event's devices page: its current epoch's latest heartbeat and push, and its
/// allocations in the event.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeviceRow {
    pub rsu_id: Uuid,
    pub rsu_no: i32,
    pub name: String,
    pub rsu_state: String,
    pub epoch: Option<i32>,
    pub last_seq: Option<i64>,
    pub reported_last_seq: Option<i64>,
    pub pending_count: Option<i64>,
    pub oldest_pending_age_secs: Option<i64>,
    pub printer_status: Option<String>,
    pub app_version: Option<String>,
    pub app_hash: Option<String>,
    pub hash_approved: bool,
    pub clock_offset_secs: Option<i32>,
    pub chain_verified: Option<bool>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub last_push_at: Option<DateTime<Utc>>,
    /// Numbers still to sell in the RSU's active, not withheld allocations of the event.
    pub allocation_left: i64,
    pub allocated: i64,
    /// Tickets sold (not voided) from its allocations, by the server's counters.
    pub sold: i64,
}

/// Every RSU holding an allocation in the event, by number. One pass over the event's
/// allocations (`idx_rsu_alloc_event`) and a primary-key lookup per RSU.
pub async fn devices(pool: &PgPool, event_id: Uuid) -> AppResult<Vec<DeviceRow>> {
    Ok(sqlx::query_as(
        "SELECT r.id AS rsu_id, r.rsu_no, r.name, r.state AS rsu_state,
                ep.epoch, ep.last_seq, ep.reported_last_seq, ep.pending_count,
                ep.oldest_pending_age_secs, ep.printer_status, ep.app_version, ep.app_hash,
                (ah.app_hash IS NOT NULL) AS hash_approved, ep.clock_offset_secs,
                ep.chain_verified, ep.last_heartbeat_at, ep.last_push_at,
                a.allocation_left, a.allocated, a.sold
           FROM (SELECT rsu_id,
                        COALESCE(sum(tickets_available) FILTER (WHERE state = 'active' AND withheld_at IS NULL), 0)::int8 AS allocation_left,
                        sum(total_tickets)::int8 AS allocated,
                        sum(tickets_sold - tickets_voided)::int8 AS sold
                   FROM rsu_allocations WHERE event_id = $1 GROUP BY rsu_id) a
           JOIN rsus r ON r.id = a.rsu_id
           LEFT JOIN rsu_epochs ep ON ep.rsu_id = r.id AND ep.epoch = r.current_epoch
           LEFT JOIN approved_app_hashes ah
                  ON ah.organization_id = r.organization_id AND ah.app_hash = ep.app_hash
          ORDER BY r.rsu_no",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?)
}

/// A rejected or conflicting entry, or a second version of a seq, of the event's RSUs.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ExceptionRow {
    /// `entry` or `seq_conflict`.
    pub source: String,
    /// What `closeout::resolve` takes: the entry id, or the seq conflict's id.
    pub id: Uuid,
    pub rsu_no: i32,
    pub rsu_name: String,
    pub epoch: i32,
    pub seq: i64,
    pub kind: Option<String>,
    pub status: String,
    pub reason_code: Option<String>,
    pub reason_message: Option<String>,
    pub received_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution_note: Option<String>,
}

/// The event's exceptions, open ones first, newest first (at most 500). Entries that name
/// another event in their payload are left out.
pub async fn exceptions(pool: &PgPool, event_id: Uuid) -> AppResult<Vec<ExceptionRow>> {
    Ok(sqlx::query_as(
        "WITH r AS (SELECT DISTINCT a.rsu_id FROM rsu_allocations a WHERE a.event_id = $1)
         SELECT * FROM (
           SELECT 'entry' AS source, j.entry_id AS id, x.rsu_no, x.name AS rsu_name, j.epoch,
                  j.seq, j.kind, j.status, j.reason_code, j.reason_message, j.received_at,
                  j.resolved_at, j.resolved_by_name AS resolved_by, j.resolution_note
             FROM r JOIN device_journal j ON j.rsu_id = r.rsu_id AND j.status <> 'applied'
             JOIN rsus x ON x.id = j.rsu_id
            WHERE COALESCE(j.payload->>'eventId', $1::text) = $1::text
           UNION ALL
           SELECT 'seq_conflict', c.id, x.rsu_no, x.name, c.epoch, c.seq, NULL, 'conflict',
                  'seq_conflict', 'a second version of a seq the server already holds',
                  c.received_at, c.resolved_at, c.resolved_by_name, c.resolution_note
             FROM r JOIN journal_conflicts c ON c.rsu_id = r.rsu_id
             JOIN rsus x ON x.id = c.rsu_id
         ) e
         ORDER BY (resolved_at IS NULL) DESC, received_at DESC
         LIMIT 500",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?)
}

/// An epoch whose hash chain failed.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChainBreak {
    pub rsu_no: i32,
    pub rsu_name: String,
    pub epoch: i32,
    pub chain_broken_at: Option<i64>,
}

pub async fn chain_breaks(pool: &PgPool, event_id: Uuid) -> AppResult<Vec<ChainBreak>> {
    Ok(sqlx::query_as(
        "SELECT x.rsu_no, x.name AS rsu_name, ep.epoch, ep.chain_broken_at
           FROM (SELECT DISTINCT rsu_id FROM rsu_allocations WHERE event_id = $1) r
           JOIN rsu_epochs ep ON ep.rsu_id = r.rsu_id AND NOT ep.chain_verified
           JOIN rsus x ON x.id = r.rsu_id
          ORDER BY x.rsu_no, ep.epoch",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?)
}

/// A sale that arrived after the sales end time (sold before it): accepted and flagged.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LateSale {
    pub validation_number: String,
    pub rsu_no: Option<i32>,
    pub sold_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub total_amount: i64,
    pub ticket_count: i32,
}

/// The event's late sales (partial index `idx_orders_late`), newest first, at most 500.
pub async fn late_sales(pool: &PgPool, event_id: Uuid) -> AppResult<Vec<LateSale>> {
    Ok(sqlx::query_as(
        "SELECT o.validation_number, r.rsu_no, o.sold_at, o.received_at, o.total_amount, o.ticket_count
           FROM orders o LEFT JOIN rsus r ON r.id = o.rsu_id
          WHERE o.event_id = $1 AND o.is_late
          ORDER BY o.sold_at DESC LIMIT 500",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?)
}

/// One winner of the event's draw or redraw, with its claim.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct WinnerRow {
    pub kind: String,
    pub prize: String,
    pub position: i16,
    pub winner_index: Option<i32>,
    pub winning_number: i32,
    pub value: i64,
    pub superseded: bool,
    pub claimed_at: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    pub validation_number: Option<String>,
}

pub async fn winners(pool: &PgPool, event_id: Uuid) -> AppResult<Vec<WinnerRow>> {
    Ok(sqlx::query_as(
        "SELECT x.kind, p.name AS prize, d.position, d.winner_index, d.winning_number,
                d.prize_value_at_draw AS value, (d.superseded_by IS NOT NULL) AS superseded,
                c.claimed_at, c.verified_by_name AS claimed_by, c.validation_number
           FROM draw_executions x
           JOIN draw_results d ON d.draw_execution_id = x.id
           JOIN prizes p ON p.id = d.prize_id
           LEFT JOIN prize_claims c ON c.draw_result_id = d.id
          WHERE x.event_id = $1
          ORDER BY x.kind, d.pick",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?)
}

/// The event's draw execution, if drawn: who, when, beacon, tickets, net sales.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DrawRow {
    pub conducted_by: Option<String>,
    pub started_at: DateTime<Utc>,
    pub beacon: Option<String>,
    pub ticket_count: Option<i64>,
    pub net_sales: Option<i64>,
    pub system_checksum: Option<String>,
}

pub async fn draw(pool: &PgPool, event_id: Uuid) -> AppResult<Option<DrawRow>> {
    Ok(sqlx::query_as(
        "SELECT conducted_by_name AS conducted_by, started_at, beacon, ticket_count, net_sales,
                system_checksum
           FROM draw_executions WHERE event_id = $1 AND kind = 'draw'",
    )
    .bind(event_id)
    .fetch_optional(pool)
    .await?)
}

/// Hex of the event's draw commitment, if committed.
pub async fn commitment(pool: &PgPool, event_id: Uuid) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT encode(commitment, 'hex') FROM event_draw_seeds WHERE event_id = $1",
    )
    .bind(event_id)
    .fetch_optional(pool)
    .await?)
}
