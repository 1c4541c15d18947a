//! `admin show <kind> --id ID`: one row of `admin list` with its details (an RSU's keys, epochs,
//! allocations and offline limits; an event's packages, prizes, jackpot and draw commitment), and
//! the offline limits `admin create-rsu` prints. Shapes in docs/server.md "Admin CLI answers".

use chrono::{DateTime, Utc};
use rsu_core::event::{jackpot, JackpotRule};
use rsu_core::money::{Currency, Money};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::list::{self, unknown, Filter, Kind};
use crate::error::{AppError, AppResult};

/// The tickets of a typical stadium sale, used to say how many sales a limit is "about".
pub const TICKETS_PER_SALE: u64 = 5;

/// What a device may do without reaching the server (docs/server.md "Sizing the offline limits").
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OfflineLimits {
    /// The device refuses a sale that would take its unsynced tickets above this.
    pub max_offline_tickets: u64,
    /// `rsu` (set with `create-rsu --max-offline-tickets`) or `system` (the system default,
    /// `defaultMaxOfflineTickets`, 100 unless the system configuration says otherwise).
    pub max_offline_tickets_from: &'static str,
    /// The device refuses a sale once its oldest unsynced entry is this old.
    pub offline_sale_expiration_minutes: i64,
    /// How often the device syncs when it can.
    pub sync_interval_minutes: u64,
    /// The limit in words, e.g. "about 20 sales of 5 tickets".
    pub note: String,
}

/// The offline limits the device of `rsu_id` gets in its configuration (the same rules as
/// `device_config`: the RSU's own `maxOfflineTickets`, else the system default).
pub async fn offline_limits(pool: &PgPool, rsu_id: Uuid) -> AppResult<OfflineLimits> {
    let cfg: Option<Value> = sqlx::query_scalar("SELECT configuration FROM rsus WHERE id = $1")
        .bind(rsu_id)
        .fetch_optional(pool)
        .await?;
    let cfg = cfg.ok_or_else(|| unknown(Kind::Rsu, rsu_id))?;
    let system = crate::device_config::system_rsu_settings(pool).await?;
    let own = cfg.get("maxOfflineTickets").and_then(Value::as_u64);
    let max = own.unwrap_or(system.default_max_offline_tickets);
    let sync = cfg
        .get("syncIntervalMinutes")
        .and_then(Value::as_u64)
        .unwrap_or(5);
    let minutes = system.offline_sale_expiration_minutes;
    Ok(OfflineLimits {
        max_offline_tickets: max,
        max_offline_tickets_from: if own.is_some() { "rsu" } else { "system" },
        offline_sale_expiration_minutes: minutes,
        sync_interval_minutes: sync,
        note: format!(
            "sales stop after {max} unsynced tickets (about {} sales of {TICKETS_PER_SALE} tickets) \
             or when the oldest unsynced sale is {minutes} minutes old; \
             see docs/server.md \"Sizing the offline limits\"",
            max / TICKETS_PER_SALE
        ),
    })
}

/// `admin create-rsu`: [`super::create_rsu`]'s answer with the RSU's `offlineLimits`, so whoever
/// registers a device sees how long it may sell without a network.
pub async fn create_rsu_with_limits(pool: &PgPool, a: &super::NewRsu) -> AppResult<Value> {
    let mut v = super::create_rsu(pool, a).await?;
    let id = v
        .get("rsuId")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| AppError::internal("create-rsu", "no rsuId in its answer"))?;
    let limits = offline_limits(pool, id).await?;
    if let Some(o) = v.as_object_mut() {
        o.insert("offlineLimits".into(), to_json(&limits)?);
    }
    Ok(v)
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> AppResult<Value> {
    serde_json::to_value(v).map_err(|e| AppError::internal("admin json", e))
}

fn one<T>(rows: Vec<T>, kind: Kind, id: Uuid) -> AppResult<T> {
    rows.into_iter().next().ok_or_else(|| unknown(kind, id))
}

fn by_id(id: Uuid) -> Filter {
    Filter {
        id: Some(id),
        ..Filter::default()
    }
}

/// An organization with its settings and venues.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationDetail {
    #[serde(flatten)]
    pub row: list::OrganizationRow,
    pub config_version: i64,
    pub settings: Value,
    pub venues: Vec<VenueRow>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct VenueRow {
    pub venue_id: Uuid,
    pub name: String,
    pub timezone: Option<String>,
    pub is_active: bool,
}

pub async fn organization(pool: &PgPool, id: Uuid) -> AppResult<OrganizationDetail> {
    let row = one(
        list::organizations(pool, &by_id(id)).await?,
        Kind::Organization,
        id,
    )?;
    let (config_version, settings): (i64, Value) =
        sqlx::query_as("SELECT config_version, settings FROM organizations WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await?;
    let venues = sqlx::query_as(
        "SELECT id AS venue_id, name, timezone, is_active FROM venues
          WHERE organization_id = $1 ORDER BY name, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(OrganizationDetail {
        row,
        config_version,
        settings,
        venues,
    })
}

/// An event with its packages, prizes, ranges, jackpot, allocation totals and draw.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetail {
    #[serde(flatten)]
    pub row: list::EventRow,
    pub description: Option<String>,
    /// `{ranges: [{type, start, end, defaultAllocationSize}]}` as created.
    pub ticket_allocation: Value,
    pub jackpot: Option<JackpotNow>,
    /// RSUs holding an allocation in the event, the numbers allocated and those still unsold.
    pub rsu_count: i64,
    pub allocated_numbers: i64,
    pub numbers_left: i64,
    pub sales_closed_at: Option<DateTime<Utc>>,
    pub reconciliation_confirmed_at: Option<DateTime<Utc>>,
    pub reconciliation_confirmed_by_name: Option<String>,
    /// The published commitment (and the secret once the draw revealed it), as in the report.
    pub draw_commitment: Option<crate::draw::Commitment>,
    pub drawn_at: Option<DateTime<Utc>>,
    pub packages: Vec<list::PackageRow>,
    pub prizes: Vec<PrizeRow>,
}

/// The jackpot rule and today's amount (`max(seed, starting + percentage × net sales)`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JackpotNow {
    pub seed_amount: i64,
    pub starting_amount: i64,
    pub percentage_bp: u32,
    pub amount: i64,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct PrizeRow {
    pub prize_id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub prize_type: String,
    /// Minor units, for `fixed` prizes.
    pub value: Option<i64>,
    pub percentage_bp: Option<i32>,
    pub position: i16,
    pub winner_count: i16,
}

fn jackpot_now(configuration: &Value, currency: &str, net: i64) -> AppResult<Option<JackpotNow>> {
    let Some(bp) = configuration
        .get("jackpotPercentageBp")
        .and_then(Value::as_u64)
    else {
        return Ok(None);
    };
    let cur = Currency::new(currency).map_err(|e| AppError::internal("event currency", e))?;
    let int = |k: &str| configuration.get(k).and_then(Value::as_i64).unwrap_or(0);
    let rule = JackpotRule {
        seed: Money::new(int("jackpotSeedAmount"), cur),
        starting: Money::new(int("jackpotStartingAmount"), cur),
        percentage_bp: u32::try_from(bp).unwrap_or(0),
    };
    let amount = jackpot(&rule, Money::new(net, cur))
        .map_err(|e| AppError::internal("jackpot", e))?
        .minor;
    Ok(Some(JackpotNow {
        seed_amount: rule.seed.minor,
        starting_amount: rule.starting.minor,
        percentage_bp: rule.percentage_bp,
        amount,
    }))
}

type EventExtra = (
    Option<String>,
    Value,
    Value,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
);

pub async fn event(pool: &PgPool, id: Uuid) -> AppResult<EventDetail> {
    let row = one(list::events(pool, &by_id(id)).await?, Kind::Event, id)?;
    let (description, configuration, ticket_allocation, closed, confirmed, confirmed_by, drawn): EventExtra =
        sqlx::query_as(
            "SELECT e.description, e.configuration, e.ticket_allocation, e.sales_closed_at,
                    e.reconciliation_confirmed_at, e.reconciliation_confirmed_by_name,
                    (SELECT max(x.completed_at) FROM draw_executions x
                      WHERE x.event_id = e.id AND x.kind = 'draw')
               FROM events e WHERE e.id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await?;
    let (rsu_count, allocated, left): (i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT count(DISTINCT a.rsu_id), COALESCE(sum(a.total_tickets), 0)::int8,
                COALESCE(sum({}) FILTER (WHERE a.withheld_at IS NULL), 0)::int8
           FROM rsu_allocations a WHERE a.event_id = $1",
        list::NUMBERS_LEFT
    ))
    .bind(id)
    .fetch_one(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    let draw_commitment = crate::draw::commitment_of(&mut conn, id).await?;
    drop(conn);
    let filter = Filter {
        event_id: Some(id),
        ..Filter::default()
    };
    let packages = list::packages(pool, &filter).await?;
    let prizes = sqlx::query_as(
        "SELECT id AS prize_id, name, type AS prize_type, value, percentage_bp, position, winner_count
           FROM prizes WHERE event_id = $1 ORDER BY position, id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(EventDetail {
        jackpot: jackpot_now(&configuration, &row.currency, row.net_sales)?,
        row,
        description,
        ticket_allocation,
        rsu_count,
        allocated_numbers: allocated,
        numbers_left: left,
        sales_closed_at: closed,
        reconciliation_confirmed_at: confirmed,
        reconciliation_confirmed_by_name: confirmed_by,
        draw_commitment,
        drawn_at: drawn,
        packages,
        prizes,
    })
}

/// A package with the prices it had and from when.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageDetail {
    #[serde(flatten)]
    pub row: list::PackageRow,
    pub price_history: Vec<PriceRow>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct PriceRow {
    pub effective_from: DateTime<Utc>,
    pub price: i64,
}

pub async fn package(pool: &PgPool, id: Uuid) -> AppResult<PackageDetail> {
    let row = one(list::packages(pool, &by_id(id)).await?, Kind::Package, id)?;
    let price_history = sqlx::query_as(
        "SELECT effective_from, price FROM package_price_history
          WHERE package_id = $1 ORDER BY effective_from",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(PackageDetail { row, price_history })
}

/// An operator with what they sold.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorDetail {
    #[serde(flatten)]
    pub row: list::OperatorRow,
    /// Orders (not voided) this operator sold, in every event.
    pub sales_count: i64,
    pub last_sale_at: Option<DateTime<Utc>>,
}

pub async fn operator(pool: &PgPool, id: Uuid) -> AppResult<OperatorDetail> {
    let row = one(list::operators(pool, &by_id(id)).await?, Kind::Operator, id)?;
    let (sales_count, last_sale_at): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE voided_at IS NULL), max(sold_at)
           FROM orders WHERE operator_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    Ok(OperatorDetail {
        row,
        sales_count,
        last_sale_at,
    })
}

/// An RSU with its offline limits, keys, epochs and allocations.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RsuDetail {
    #[serde(flatten)]
    pub row: list::RsuRow,
    pub offline_limits: OfflineLimits,
    /// Rejected or conflicting journal entries nobody has resolved yet.
    pub open_exceptions: i64,
    /// Commands (suspend, resume, close) the device has not acknowledged yet.
    pub pending_commands: i64,
    /// As `admin list-keys` prints them, with `registeredByKeyId` for its `registeredBy`.
    pub keys: Vec<Value>,
    pub epochs: Vec<EpochRow>,
    pub allocations: Vec<list::AllocationRow>,
}

/// One enrollment of the device: what it runs and what the server holds of its journal.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct EpochRow {
    pub epoch: i32,
    pub started_at: DateTime<Utc>,
    /// The key it enrolled with.
    pub key_id: Uuid,
    pub device_identifier: String,
    pub app_version: String,
    pub app_hash: String,
    /// Every seq up to this is stored on the server.
    pub last_seq: i64,
    /// The device's own last seq at its last heartbeat.
    pub reported_last_seq: Option<i64>,
    pub pending_count: Option<i64>,
    pub oldest_pending_age_secs: Option<i64>,
    pub printer_status: Option<String>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub last_push_at: Option<DateTime<Utc>>,
    pub chain_verified: bool,
    pub chain_broken_at: Option<i64>,
    pub conflicts: i32,
    /// The epoch whose database this one continued (same database), if any.
    pub continued_from: Option<i32>,
}

pub async fn rsu(pool: &PgPool, id: Uuid) -> AppResult<RsuDetail> {
    let row = one(list::rsus(pool, &by_id(id)).await?, Kind::Rsu, id)?;
    let keys = crate::lifecycle::list_keys(pool, &crate::lifecycle::ListKeys { rsu_id: id })
        .await?
        .get("keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut k| {
            if let Some(o) = k.as_object_mut() {
                let by = o.remove("registeredBy").unwrap_or(Value::Null);
                o.insert("registeredByKeyId".into(), by);
            }
            k
        })
        .collect();
    let epochs = sqlx::query_as(
        "SELECT epoch, started_at, key_id, device_identifier, app_version, app_hash, last_seq,
                reported_last_seq, pending_count, oldest_pending_age_secs, printer_status,
                last_heartbeat_at, last_push_at, chain_verified, chain_broken_at, conflicts,
                continued_from
           FROM rsu_epochs WHERE rsu_id = $1 ORDER BY epoch DESC",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let (open_exceptions, pending_commands): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM device_journal
                  WHERE rsu_id = $1 AND status <> 'applied' AND resolved_at IS NULL)
              + (SELECT count(*) FROM journal_conflicts WHERE rsu_id = $1 AND resolved_at IS NULL),
                (SELECT count(*) FROM rsu_commands WHERE rsu_id = $1 AND acknowledged_at IS NULL)",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let allocations = list::allocations(
        pool,
        &Filter {
            rsu_id: Some(id),
            ..Filter::default()
        },
    )
    .await?;
    Ok(RsuDetail {
        offline_limits: offline_limits(pool, id).await?,
        row,
        open_exceptions,
        pending_commands,
        keys,
        epochs,
        allocations,
    })
}

pub async fn allocation(pool: &PgPool, id: Uuid) -> AppResult<list::AllocationRow> {
    one(
        list::allocations(pool, &by_id(id)).await?,
        Kind::Allocation,
        id,
    )
}
