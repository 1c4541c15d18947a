//! What `GET /v1/rsu/config` serves a device: the organization, the RSU, the system settings,
//! the events it may sell (with packages, their perks, prizes, jackpot), the results of the events
//! drawn, its allocations and perk allocations, operators and pending commands. A pull first tops
//! up the device's perk allocations ([`crate::perks::topup`]), so the answer carries them.

use chrono::{DateTime, Utc};
use rsu_core::config::{
    Command, CommandKind, DeviceConfig, DrawResults, EventConfig, JackpotFigure,
    JurisdictionProfile, OperatorConfig, OrganizationConfig, PerkAllocationConfig, PerkConfig,
    Prize, Role, RsuConfig, RsuSettings, SystemRsuSettings, Winner,
};
use rsu_core::event::{jackpot, EventState, JackpotRule, Package};
use rsu_core::money::{Currency, Money};
use rsu_core::validation::ValidationNumber;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::Device;
use crate::error::{AppError, AppResult};

/// Settings of the `rsu` part of the current system configuration.
pub async fn system_rsu_settings(pool: &PgPool) -> Result<SystemRsuSettings, sqlx::Error> {
    let v: Option<Value> = sqlx::query_scalar(
        "SELECT settings->'rsu' FROM system_configurations
          WHERE effective_from <= NOW() AND (effective_to IS NULL OR effective_to > NOW())
          ORDER BY effective_from DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?
    .flatten();
    let v = v.unwrap_or(Value::Null);
    let int = |k: &str, d: i64| v.get(k).and_then(Value::as_i64).unwrap_or(d);
    Ok(SystemRsuSettings {
        offline_sale_expiration_minutes: int("offlineSaleExpirationMinutes", 1440),
        api_key_rotation_days: u32::try_from(int("apiKeyRotationDays", 90)).unwrap_or(90),
        default_max_offline_tickets: u64::try_from(int("defaultMaxOfflineTickets", 100))
            .unwrap_or(100),
    })
}

/// Row shapes of the package and prize queries (tuples, to keep the SQL next to its use).
type PackageDbRow = (
    Uuid,
    String,
    i32,
    i64,
    i32,
    bool,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Vec<Uuid>,
);
type PerkDbRow = (Uuid, String, String, String, String, bool);
type AddressDbRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// An `addresses` row as the receipt prints it: the street, then `city, state zip`, then the
/// country, one line each (empty parts left out); `None` when nothing is on file.
pub fn address_lines(a: &AddressDbRow) -> Option<String> {
    fn part(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let (street, city, state, zip, country) = a;
    let region = [part(state), part(zip)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let town = [part(city), Some(region.as_str()).filter(|r| !r.is_empty())]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let lines: Vec<&str> = [
        part(street),
        Some(town.as_str()).filter(|t| !t.is_empty()),
        part(country),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}
type PrizeDbRow = (Uuid, String, String, Option<i64>, Option<i32>, i16, i16);

#[derive(sqlx::FromRow)]
struct EventDbRow {
    id: Uuid,
    name: String,
    event_identifier: String,
    state: String,
    currency: String,
    sales_start_time: DateTime<Utc>,
    sales_end_time: DateTime<Utc>,
    draw_time: DateTime<Utc>,
    configuration: Value,
    timezone: Option<String>,
    venue_name: Option<String>,
    net_sales: i64,
}

fn bad_config(what: &str, detail: impl std::fmt::Display) -> AppError {
    AppError::internal("config", format!("{what}: {detail}"))
}

/// Builds what `GET /v1/rsu/config` serves for a device.
pub async fn device_config(pool: &PgPool, dev: &Device) -> AppResult<DeviceConfig> {
    // Before the version is read: a top-up bumps it, and this answer carries the new units. A
    // failed top-up does not fail the pull: the device keeps what it holds and asks again.
    if let Err(e) = crate::perks::topup::top_up(pool, dev).await {
        tracing::warn!(rsu = %dev.rsu_id, error = %e, "perk top-up at a configuration pull failed");
    }
    let (org_name, license, currency, settings, version, phone): (
        String,
        Option<String>,
        String,
        Value,
        i64,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT name, license_number, primary_currency::text, settings, config_version, phone
               FROM organizations WHERE id = $1",
    )
    .bind(dev.organization_id)
    .fetch_one(pool)
    .await?;
    let rsu_settings: RsuSettings = settings
        .get("rsuSettings")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| bad_config("organization rsuSettings", e))?
        .unwrap_or(RsuSettings {
            validation_number_prefix: "RSU".into(),
            default_validation_number_block_size: 100,
            offline_sync_timeout_minutes: 30,
        });
    let system = system_rsu_settings(pool).await?;
    let (rsu_name, rsu_no, rsu_cfg): (String, i32, Value) =
        sqlx::query_as("SELECT name, rsu_no, configuration FROM rsus WHERE id = $1")
            .bind(dev.rsu_id)
            .fetch_one(pool)
            .await?;
    let u64_at = |k: &str| rsu_cfg.get(k).and_then(Value::as_u64);
    let rsu = RsuConfig {
        id: dev.rsu_id,
        rsu_no: u32::try_from(rsu_no).unwrap_or(0),
        name: rsu_name,
        max_offline_tickets: Some(
            u64_at("maxOfflineTickets").unwrap_or(system.default_max_offline_tickets),
        ),
        sync_interval_minutes: u64_at("syncIntervalMinutes")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(5),
        low_water_mark: u64_at("lowWaterMark"),
        last_sale_seq: crate::lifecycle::last_sale_seq(pool, dev.rsu_id).await?,
    };

    let rows: Vec<EventDbRow> = sqlx::query_as(
        "SELECT e.id, e.name, e.event_identifier, e.state, e.currency::text AS currency,
                e.sales_start_time, e.sales_end_time, e.draw_time, e.configuration,
                v.timezone, v.name AS venue_name,
                COALESCE((SELECT SUM(o.total_amount) FROM orders o
                           WHERE o.event_id = e.id AND o.voided_at IS NULL), 0)::int8 AS net_sales
           FROM events e LEFT JOIN venues v ON v.id = e.venue_id
          WHERE e.organization_id = $1
            AND (e.state NOT IN ('created', 'completed', 'cancelled')
                 -- A drawn event stays in the configuration with its results, for the kiosk to
                 -- show and check tickets against offline.
                 OR (e.state = 'completed'
                     AND EXISTS (SELECT 1 FROM draw_executions d WHERE d.event_id = e.id AND d.kind = 'draw')))
          ORDER BY e.sales_start_time",
    )
    .bind(dev.organization_id)
    .fetch_all(pool)
    .await?;
    let now = Utc::now();
    let mut events = Vec::with_capacity(rows.len());
    for r in rows {
        let cur = Currency::new(&r.currency).map_err(|e| bad_config("event currency", e))?;
        let c = &r.configuration;
        let state =
            EventState::parse(&r.state).ok_or_else(|| bad_config("event state", &r.state))?;
        let jurisdiction: JurisdictionProfile =
            serde_json::from_value(c.get("jurisdiction").cloned().unwrap_or(Value::Null))
                .map_err(|e| bad_config("event jurisdiction", e))?;
        let jackpot_rule = c
            .get("jackpotPercentageBp")
            .and_then(Value::as_u64)
            .map(|bp| JackpotRule {
                seed: Money::new(
                    c.get("jackpotSeedAmount")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    cur,
                ),
                starting: Money::new(
                    c.get("jackpotStartingAmount")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    cur,
                ),
                percentage_bp: u32::try_from(bp).unwrap_or(0),
            });
        let jackpot_current = match &jackpot_rule {
            Some(rule) => Some(JackpotFigure {
                amount: jackpot(rule, Money::new(r.net_sales, cur))
                    .map_err(|e| bad_config("jackpot", e))?
                    .minor,
                net_sales: r.net_sales,
                as_of: now,
            }),
            None => None,
        };
        let packages: Vec<PackageDbRow> = sqlx::query_as(
            "SELECT id, name, ticket_count, price, display_order, is_active, active_from, active_to,
                    COALESCE(perk_ids, '{}')
                   FROM ticket_packages WHERE event_id = $1 ORDER BY display_order, ticket_count",
        )
        .bind(r.id)
        .fetch_all(pool)
        .await?;
        let perk_rows: Vec<PerkDbRow> = sqlx::query_as(
            "SELECT id, name, description, type, category, requires_inventory FROM perks
              WHERE id IN (SELECT UNNEST(perk_ids) FROM ticket_packages WHERE event_id = $1)
              ORDER BY name, id",
        )
        .bind(r.id)
        .fetch_all(pool)
        .await?;
        let perks: Vec<PerkConfig> = perk_rows
            .into_iter()
            .map(
                |(id, name, description, kind, category, requires_inventory)| PerkConfig {
                    id,
                    name,
                    description,
                    kind,
                    category,
                    requires_inventory,
                },
            )
            .collect();
        let packages = packages
            .into_iter()
            .map(
                |(id, name, tc, price, order, active, from, to, perk_ids)| Package {
                    perk_ids,
                    id,
                    name,
                    ticket_count: u32::try_from(tc).unwrap_or(0),
                    price: Money::new(price, cur),
                    display_order: order,
                    is_active: active,
                    active_from: from,
                    active_to: to,
                },
            )
            .collect();
        let prizes: Vec<PrizeDbRow> = sqlx::query_as(
            "SELECT id, name, type, value, percentage_bp, position, winner_count
               FROM prizes WHERE event_id = $1 ORDER BY position",
        )
        .bind(r.id)
        .fetch_all(pool)
        .await?;
        let prizes = prizes
            .into_iter()
            .map(|(id, name, kind, value, bp, pos, wc)| Prize {
                id,
                name,
                kind,
                value,
                percentage_bp: bp.and_then(|b| u32::try_from(b).ok()),
                position: u32::try_from(pos).unwrap_or(0),
                winner_count: u32::try_from(wc).unwrap_or(1),
            })
            .collect();
        let results = if state == EventState::Completed {
            draw_results(pool, r.id).await?
        } else {
            None
        };
        events.push(EventConfig {
            perks,
            id: r.id,
            name: r.name,
            event_identifier: r.event_identifier,
            state,
            currency: r.currency,
            sales_start_time: r.sales_start_time,
            sales_end_time: r.sales_end_time,
            draw_time: r.draw_time,
            timezone: r.timezone.unwrap_or_else(|| "UTC".into()),
            venue_name: r.venue_name,
            jackpot: jackpot_rule,
            jackpot_current,
            jurisdiction,
            packages,
            prizes,
            results,
        });
    }

    // Only for events sent above: a range of an event the device does not know could not be
    // applied (and must not stop the rest of the configuration).
    let allocations = crate::lifecycle::allocations_for_config(pool, dev.rsu_id).await?;
    let event_ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let perk_allocs: Vec<(Uuid, Uuid, Uuid, i32, String)> = sqlx::query_as(
        "SELECT id, perk_id, event_id, quantity, state FROM perk_allocations
          WHERE rsu_id = $1 AND event_id = ANY($2) ORDER BY created_at, id",
    )
    .bind(dev.rsu_id)
    .bind(&event_ids)
    .fetch_all(pool)
    .await?;
    let perk_allocations = perk_allocs
        .into_iter()
        .map(
            |(id, perk_id, event_id, quantity, state)| PerkAllocationConfig {
                id,
                perk_id,
                event_id,
                quantity: u32::try_from(quantity).unwrap_or(0),
                state,
            },
        )
        .collect();
    let address: Option<AddressDbRow> = sqlx::query_as(
        "SELECT a.street, a.city, a.state, a.zip_code, a.country::text
           FROM organizations o JOIN addresses a ON a.id = o.address_id WHERE o.id = $1",
    )
    .bind(dev.organization_id)
    .fetch_optional(pool)
    .await?;

    let ops: Vec<(Uuid, String, String, String, bool)> = sqlx::query_as(
        "SELECT u.id, u.display_name, r.key, u.pin_hash, u.is_active
           FROM organization_users ou
           JOIN users u ON u.id = ou.user_id
           JOIN roles r ON r.id = ou.role_id
          WHERE ou.organization_id = $1 AND r.key IN ('seller', 'supervisor') AND u.pin_hash IS NOT NULL
          ORDER BY u.display_name",
    )
    .bind(dev.organization_id)
    .fetch_all(pool)
    .await?;
    let operators = ops
        .into_iter()
        .filter_map(|(id, name, role, pin_hash, active)| {
            Some(OperatorConfig {
                id,
                name,
                role: Role::parse(&role)?,
                pin_hash,
                is_active: active,
            })
        })
        .collect();

    let cmds: Vec<(Uuid, String, Option<Uuid>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, kind, event_id, issued_at FROM rsu_commands
          WHERE rsu_id = $1 AND acknowledged_at IS NULL ORDER BY issued_at",
    )
    .bind(dev.rsu_id)
    .fetch_all(pool)
    .await?;
    let commands = cmds
        .into_iter()
        .filter_map(|(id, kind, event_id, issued_at)| {
            let kind = match kind.as_str() {
                "suspend" => CommandKind::Suspend,
                "resume" => CommandKind::Resume,
                "close" => CommandKind::Close,
                _ => return None,
            };
            Some(Command {
                id,
                kind,
                event_id,
                issued_at,
            })
        })
        .collect();

    Ok(DeviceConfig {
        perk_allocations,
        version,
        organization: OrganizationConfig {
            address: address.as_ref().and_then(address_lines),
            phone,
            id: dev.organization_id,
            name: org_name,
            license_number: license.unwrap_or_default(),
            primary_currency: currency,
            rsu_settings,
        },
        rsu,
        system,
        events,
        allocations,
        operators,
        commands,
    })
}

type WinnerDbRow = (i16, i32, String, i64, i32, String, bool);
/// `started_at, jackpot, net_sales, ticket_count` of an event's draw execution.
type DrawDbRow = (DateTime<Utc>, Option<Value>, Option<i64>, Option<i64>);

/// The published results of a drawn event: the draw's figures and, per prize place, its current
/// winner. A redraw of unclaimed places replaces their winners (the replaced results are
/// `superseded_by` the redraw), so every place carries the latest execution's winner.
/// `None` when the event has no draw.
pub async fn draw_results(pool: &PgPool, event_id: Uuid) -> AppResult<Option<DrawResults>> {
    let draw: Option<DrawDbRow> = sqlx::query_as(
        "SELECT started_at, jackpot, net_sales, ticket_count FROM draw_executions
          WHERE event_id = $1 AND kind = 'draw'",
    )
    .bind(event_id)
    .fetch_optional(pool)
    .await?;
    let Some((drawn_at, jackpot, net_sales, ticket_count)) = draw else {
        return Ok(None);
    };
    let rows: Vec<WinnerDbRow> = sqlx::query_as(
        "SELECT DISTINCT ON (r.position, COALESCE(r.winner_index, r.pick, 1))
                r.position, COALESCE(r.winner_index, r.pick, 1), p.name, r.prize_value_at_draw,
                r.winning_number, o.validation_number, x.kind = 'redraw'
           FROM draw_results r
           JOIN draw_executions x ON x.id = r.draw_execution_id
           JOIN prizes p ON p.id = r.prize_id
           JOIN tickets t ON t.id = r.winning_ticket_id
           JOIN orders o ON o.id = t.order_id
          WHERE x.event_id = $1 AND r.superseded_by IS NULL
          ORDER BY r.position, COALESCE(r.winner_index, r.pick, 1), x.started_at DESC",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await?;
    let winners = rows
        .into_iter()
        .map(|(position, idx, name, value, number, vn, redrawn)| Winner {
            position: u32::try_from(position).unwrap_or(0),
            winner_index: u32::try_from(idx).unwrap_or(1),
            prize_name: name,
            prize_value: value,
            draw_number: u32::try_from(number).unwrap_or(0),
            // The kiosk compares canonical forms; an order's number was checked when it arrived.
            validation_number: ValidationNumber::parse(&vn)
                .map(|v| v.to_string())
                .unwrap_or(vn),
            redrawn,
        })
        .collect();
    Ok(Some(DrawResults {
        drawn_at,
        final_jackpot: jackpot
            .as_ref()
            .and_then(|j| j.get("amount"))
            .and_then(Value::as_i64),
        net_sales: net_sales.unwrap_or(0),
        ticket_count: ticket_count.unwrap_or(0),
        winners,
    }))
}
