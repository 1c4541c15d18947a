//! `admin list <kind>`: organizations, events, packages, operators, RSUs and allocations, one
//! typed row each (docs/server.md "Admin CLI answers"). Every id is `<thing>Id`, the row's own id
//! included (an event row has `eventId`, never `id`), so a value pastes into the flag of the same
//! name. `admin show` adds details to the same rows (`admin/show.rs`).

use chrono::{DateTime, Utc};
use rsu_core::config::Role;
use rsu_core::event::EventState;
use rsu_core::wire::ErrorCode;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// What `list` and `show` handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Organization,
    Event,
    Package,
    Operator,
    Rsu,
    Allocation,
}

impl Kind {
    /// As in messages: `event`, `RSU`.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Organization => "organization",
            Kind::Event => "event",
            Kind::Package => "package",
            Kind::Operator => "operator",
            Kind::Rsu => "RSU",
            Kind::Allocation => "allocation",
        }
    }

    /// As `admin list` takes it, and the key of the list answer: `events`, `rsus`.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Organization => "organizations",
            Kind::Event => "events",
            Kind::Package => "packages",
            Kind::Operator => "operators",
            Kind::Rsu => "rsus",
            Kind::Allocation => "allocations",
        }
    }

    fn code(self) -> ErrorCode {
        match self {
            Kind::Organization => ErrorCode::UnknownOrganization,
            Kind::Event => ErrorCode::UnknownEvent,
            Kind::Package => ErrorCode::UnknownPackage,
            Kind::Operator => ErrorCode::UnknownOperator,
            Kind::Rsu => ErrorCode::UnknownRsu,
            Kind::Allocation => ErrorCode::UnknownAllocation,
        }
    }

    /// The filters `list` accepts for this kind, as flags.
    fn filters(self) -> &'static [&'static str] {
        match self {
            Kind::Organization => &[],
            Kind::Event => &["--organization-id", "--state"],
            Kind::Package => &["--organization-id", "--event-id"],
            Kind::Operator => &["--organization-id"],
            Kind::Rsu => &["--organization-id", "--event-id", "--state"],
            Kind::Allocation => &["--organization-id", "--event-id", "--rsu-id"],
        }
    }
}

/// "no event 0190…; `server-stub admin list events` shows them" (404 with the kind's code).
pub fn unknown(kind: Kind, id: Uuid) -> AppError {
    AppError::of(
        kind.code(),
        format!(
            "no {} {id}; `server-stub admin list {}` shows them",
            kind.singular(),
            kind.plural()
        ),
    )
}

/// Which rows: the filters of `list`, or one id for `show`.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub rsu_id: Option<Uuid>,
    pub state: Option<String>,
}

impl Filter {
    /// Refuses a filter the kind does not take, a state that does not exist, and an id that
    /// names nothing (so an empty list always means "none", never "typo").
    pub async fn check(&self, pool: &PgPool, kind: Kind) -> AppResult<()> {
        let given = [
            ("--organization-id", self.organization_id.is_some()),
            ("--event-id", self.event_id.is_some()),
            ("--rsu-id", self.rsu_id.is_some()),
            ("--state", self.state.is_some()),
        ];
        for (flag, set) in given {
            if set && !kind.filters().contains(&flag) {
                let takes = if kind.filters().is_empty() {
                    "no filters".to_string()
                } else {
                    kind.filters().join(", ")
                };
                return Err(AppError::of(
                    ErrorCode::InvalidField,
                    format!(
                        "{flag} does not filter {}: they take {takes}",
                        kind.plural()
                    ),
                ));
            }
        }
        if let Some(s) = &self.state {
            let known: Vec<String> = match kind {
                Kind::Event => EventState::ALL.iter().map(|s| s.as_str().into()).collect(),
                _ => {
                    sqlx::query_scalar("SELECT key FROM rsu_states ORDER BY key")
                        .fetch_all(pool)
                        .await?
                }
            };
            if !known.contains(s) {
                return Err(AppError::of(
                    ErrorCode::InvalidField,
                    format!(
                        "--state {s:?} is not a state of {} (one of {})",
                        kind.plural(),
                        known.join(", ")
                    ),
                ));
            }
        }
        for (k, table, id) in [
            (Kind::Organization, "organizations", self.organization_id),
            (Kind::Event, "events", self.event_id),
            (Kind::Rsu, "rsus", self.rsu_id),
        ] {
            if let Some(id) = id {
                let found: bool = sqlx::query_scalar(&format!(
                    "SELECT EXISTS (SELECT 1 FROM {table} WHERE id = $1)"
                ))
                .bind(id)
                .fetch_one(pool)
                .await?;
                if !found {
                    return Err(unknown(k, id));
                }
            }
        }
        Ok(())
    }
}

/// An organization: the licensee running raffles.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationRow {
    pub organization_id: Uuid,
    pub name: String,
    pub license_number: Option<String>,
    pub currency: String,
    pub validation_number_prefix: Option<String>,
    pub is_active: bool,
    pub event_count: i64,
    pub rsu_count: i64,
    pub operator_count: i64,
    pub created_at: DateTime<Utc>,
}

pub async fn organizations(pool: &PgPool, f: &Filter) -> AppResult<Vec<OrganizationRow>> {
    Ok(sqlx::query_as(
        "SELECT o.id AS organization_id, o.name, o.license_number,
                o.primary_currency::text AS currency,
                o.settings->'rsuSettings'->>'validationNumberPrefix' AS validation_number_prefix,
                o.is_active,
                (SELECT count(*) FROM events e WHERE e.organization_id = o.id) AS event_count,
                (SELECT count(*) FROM rsus r WHERE r.organization_id = o.id) AS rsu_count,
                (SELECT count(*) FROM organization_users ou JOIN roles ro ON ro.id = ou.role_id
                  WHERE ou.organization_id = o.id AND ro.key = ANY($2)) AS operator_count,
                o.created_at
           FROM organizations o
          WHERE ($1::uuid IS NULL OR o.id = $1)
          ORDER BY o.created_at, o.id",
    )
    .bind(f.id)
    .bind(operator_roles())
    .fetch_all(pool)
    .await?)
}

/// An event with its sales so far (orders not voided) and the draw commitment once published.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct EventRow {
    pub event_id: Uuid,
    pub organization_id: Uuid,
    pub venue_id: Option<Uuid>,
    pub name: String,
    pub event_identifier: String,
    pub state: String,
    pub currency: String,
    pub sales_start_time: DateTime<Utc>,
    pub sales_end_time: DateTime<Utc>,
    pub draw_time: DateTime<Utc>,
    pub max_tickets: i32,
    /// Orders not voided.
    pub sales_count: i64,
    /// Tickets of orders not voided.
    pub tickets_sold: i64,
    /// Sum of orders not voided, minor units.
    pub net_sales: i64,
    /// SHA-256 of the draw secret (hex), from `sales_closed` on; null before.
    pub commitment: Option<String>,
}

pub async fn events(pool: &PgPool, f: &Filter) -> AppResult<Vec<EventRow>> {
    Ok(sqlx::query_as(
        "SELECT e.id AS event_id, e.organization_id, e.venue_id, e.name, e.event_identifier,
                e.state, e.currency::text AS currency, e.sales_start_time, e.sales_end_time,
                e.draw_time, e.max_tickets,
                COALESCE(s.sales_count, 0) AS sales_count,
                COALESCE(s.tickets_sold, 0) AS tickets_sold,
                COALESCE(s.net_sales, 0) AS net_sales,
                encode(d.commitment, 'hex') AS commitment
           FROM events e
           LEFT JOIN LATERAL (
                SELECT count(*) FILTER (WHERE o.voided_at IS NULL) AS sales_count,
                       (sum(o.ticket_count) FILTER (WHERE o.voided_at IS NULL))::int8 AS tickets_sold,
                       (sum(o.total_amount) FILTER (WHERE o.voided_at IS NULL))::int8 AS net_sales
                  FROM orders o WHERE o.event_id = e.id) s ON TRUE
           LEFT JOIN event_draw_seeds d ON d.event_id = e.id
          WHERE ($1::uuid IS NULL OR e.id = $1)
            AND ($2::uuid IS NULL OR e.organization_id = $2)
            AND ($3::text IS NULL OR e.state = $3)
          ORDER BY e.sales_start_time DESC, e.id",
    )
    .bind(f.id)
    .bind(f.organization_id)
    .bind(&f.state)
    .fetch_all(pool)
    .await?)
}

/// A ticket package of an event, with how many orders (not voided) bought it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct PackageRow {
    pub package_id: Uuid,
    pub event_id: Uuid,
    pub name: String,
    pub ticket_count: i32,
    /// The current price of the whole package, minor units.
    pub price: i64,
    pub currency: String,
    pub display_order: i32,
    pub is_active: bool,
    pub active_from: Option<DateTime<Utc>>,
    pub active_to: Option<DateTime<Utc>>,
    pub sales_count: i64,
}

pub async fn packages(pool: &PgPool, f: &Filter) -> AppResult<Vec<PackageRow>> {
    Ok(sqlx::query_as(
        "SELECT p.id AS package_id, p.event_id, p.name, p.ticket_count, p.price,
                p.currency::text AS currency, p.display_order, p.is_active, p.active_from,
                p.active_to,
                (SELECT count(*) FROM orders o
                  WHERE o.event_id = p.event_id AND o.package_id = p.id AND o.voided_at IS NULL)
                  AS sales_count
           FROM ticket_packages p JOIN events e ON e.id = p.event_id
          WHERE ($1::uuid IS NULL OR p.id = $1)
            AND ($2::uuid IS NULL OR p.event_id = $2)
            AND ($3::uuid IS NULL OR e.organization_id = $3)
          ORDER BY e.sales_start_time DESC, p.event_id, p.display_order, p.ticket_count, p.id",
    )
    .bind(f.id)
    .bind(f.event_id)
    .bind(f.organization_id)
    .fetch_all(pool)
    .await?)
}

/// A kiosk operator (seller or supervisor). The PIN hash is never shown.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct OperatorRow {
    pub operator_id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub role: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

fn operator_roles() -> Vec<&'static str> {
    [Role::Seller, Role::Supervisor]
        .iter()
        .map(Role::as_str)
        .collect()
}

pub async fn operators(pool: &PgPool, f: &Filter) -> AppResult<Vec<OperatorRow>> {
    Ok(sqlx::query_as(
        "SELECT u.id AS operator_id, ou.organization_id, u.display_name AS name, ro.key AS role,
                u.is_active, u.created_at
           FROM organization_users ou
           JOIN users u ON u.id = ou.user_id
           JOIN roles ro ON ro.id = ou.role_id
          WHERE ro.key = ANY($3)
            AND ($1::uuid IS NULL OR u.id = $1)
            AND ($2::uuid IS NULL OR ou.organization_id = $2)
          ORDER BY ou.organization_id, ro.key DESC, u.display_name, u.id",
    )
    .bind(f.id)
    .bind(f.organization_id)
    .bind(operator_roles())
    .fetch_all(pool)
    .await?)
}

/// Numbers of an allocation the RSU may still sell as far as the server knows: 0 once released,
/// else from one past the highest number sold to the end.
pub(crate) const NUMBERS_LEFT: &str =
    "CASE WHEN a.state = 'released' OR a.released_from IS NOT NULL THEN 0
      ELSE GREATEST(0, a.end_number + 1 - a.next_draw_number) END";

/// The allocation's state as configuration shows it (`lifecycle::allocations_for_config`).
const ALLOCATION_STATE: &str =
    "CASE WHEN a.state = 'released' OR a.released_from IS NOT NULL THEN 'released'
      WHEN a.state = 'exhausted' OR a.next_draw_number > a.end_number THEN 'exhausted'
      WHEN a.withheld_at IS NOT NULL THEN 'withheld' ELSE 'active' END";

/// An RSU with what its current epoch's last heartbeat reported, its usable keys and the numbers
/// it may still sell in events that are selling (`configured`, `active`, `suspended`).
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct RsuRow {
    pub rsu_id: Uuid,
    pub organization_id: Uuid,
    pub venue_id: Option<Uuid>,
    pub rsu_no: i32,
    pub name: String,
    pub state: String,
    pub device_identifier: Option<String>,
    /// 0 until the device enrolls.
    pub current_epoch: i32,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub last_push_at: Option<DateTime<Utc>>,
    /// Journal entries the device had not had acknowledged at its last heartbeat.
    pub pending_count: Option<i64>,
    pub oldest_pending_age_secs: Option<i64>,
    pub printer_status: Option<String>,
    pub app_version: Option<String>,
    pub app_hash: Option<String>,
    /// Keys neither revoked nor expired.
    pub active_key_count: i64,
    pub numbers_left: i64,
}

pub async fn rsus(pool: &PgPool, f: &Filter) -> AppResult<Vec<RsuRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT r.id AS rsu_id, r.organization_id, r.venue_id, r.rsu_no, r.name, r.state,
                r.device_identifier, r.current_epoch, ep.last_heartbeat_at, ep.last_push_at,
                ep.pending_count, ep.oldest_pending_age_secs, ep.printer_status, ep.app_version,
                ep.app_hash,
                (SELECT count(*) FROM rsu_keys k
                  WHERE k.rsu_id = r.id AND k.revoked_at IS NULL AND k.expires_at > NOW())
                  AS active_key_count,
                COALESCE((SELECT sum({NUMBERS_LEFT}) FROM rsu_allocations a
                            JOIN events e ON e.id = a.event_id
                           WHERE a.rsu_id = r.id AND a.withheld_at IS NULL
                             AND e.state IN ('configured', 'active', 'suspended')), 0)::int8
                  AS numbers_left
           FROM rsus r
           LEFT JOIN rsu_epochs ep ON ep.rsu_id = r.id AND ep.epoch = r.current_epoch
          WHERE ($1::uuid IS NULL OR r.id = $1)
            AND ($2::uuid IS NULL OR r.organization_id = $2)
            AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM rsu_allocations a
                                              WHERE a.rsu_id = r.id AND a.event_id = $3))
            AND ($4::text IS NULL OR r.state = $4)
          ORDER BY r.organization_id, r.rsu_no"
    ))
    .bind(f.id)
    .bind(f.organization_id)
    .bind(f.event_id)
    .bind(&f.state)
    .fetch_all(pool)
    .await?)
}

/// A range of draw numbers an RSU may sell in an event.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct AllocationRow {
    pub allocation_id: Uuid,
    pub event_id: Uuid,
    pub rsu_id: Uuid,
    pub rsu_no: i32,
    pub event_identifier: String,
    pub start_number: i32,
    pub end_number: i32,
    /// One past the highest number the server has seen sold from it.
    pub next_number: i32,
    pub numbers_left: i32,
    /// `active`, `exhausted`, `released` or `withheld` (as configuration shows it).
    pub state: String,
    pub tickets_sold: i32,
    pub tickets_voided: i32,
    pub released_from: Option<i32>,
    pub withheld_at: Option<DateTime<Utc>>,
    pub withheld_reason: Option<String>,
    pub allocated_at: DateTime<Utc>,
}

pub async fn allocations(pool: &PgPool, f: &Filter) -> AppResult<Vec<AllocationRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT a.id AS allocation_id, a.event_id, a.rsu_id, r.rsu_no, e.event_identifier,
                a.start_number, a.end_number, a.next_draw_number AS next_number,
                ({NUMBERS_LEFT}) AS numbers_left, ({ALLOCATION_STATE}) AS state,
                a.tickets_sold, a.tickets_voided, a.released_from, a.withheld_at,
                a.withheld_reason, a.allocated_at
           FROM rsu_allocations a
           JOIN events e ON e.id = a.event_id
           JOIN rsus r ON r.id = a.rsu_id
          WHERE ($1::uuid IS NULL OR a.id = $1)
            AND ($2::uuid IS NULL OR e.organization_id = $2)
            AND ($3::uuid IS NULL OR a.event_id = $3)
            AND ($4::uuid IS NULL OR a.rsu_id = $4)
          ORDER BY e.sales_start_time DESC, a.event_id, a.start_number"
    ))
    .bind(f.id)
    .bind(f.organization_id)
    .bind(f.event_id)
    .bind(f.rsu_id)
    .fetch_all(pool)
    .await?)
}
