//! Device identity, applying pulled configuration, allocation release, and the demo data.

use chrono::{DateTime, Duration, Utc};
use rsu_core::config::*;
use rsu_core::event::{EventState, JackpotRule, Package};
use rsu_core::journal::EntryKind;
use rsu_core::money::{Currency, Money};
use rsu_core::payload::AllocationReleasePayload;
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;
use uuid::Uuid;

use crate::journal::{append, critical};
use crate::{parse_uuid, ts, Store, StoreError};

/// The most one server contact may move the device clock back (10 minutes). Forward corrections
/// are applied whole: they can only close a sales window early, never reopen one.
pub const MAX_CLOCK_STEP_BACK_MS: i64 = 10 * 60 * 1000;

/// Who this device is, from enrollment (or the demo).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub rsu_id: Uuid,
    pub rsu_no: u32,
    pub name: String,
    pub server_url: Option<String>,
    pub key_id: Option<String>,
    pub validation_key_hex: String,
}

impl Store {
    /// Sets the device identity. The first time, epoch 1 starts; later (re-enrollment) a new
    /// epoch starts, which is refused while journal entries are pending.
    pub fn set_identity(&mut self, id: &DeviceIdentity) -> Result<i64, StoreError> {
        let pending = self.sync_counts()?.pending_entries;
        let now = self.now()?;
        let tx = self.begin()?;
        let current: Option<i64> = tx
            .query_row("SELECT epoch FROM device WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        let epoch = match current {
            Some(_) if pending > 0 => {
                return Err(StoreError::PendingEntries {
                    count: pending,
                    action: "re-enrollment",
                })
            }
            Some(e) => e + 1,
            None => 1,
        };
        tx.execute(
            "INSERT INTO device (id, rsu_id, rsu_no, name, epoch, server_url, key_id, validation_key_hex, enrolled_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET rsu_id = excluded.rsu_id, rsu_no = excluded.rsu_no, name = excluded.name,
                 epoch = excluded.epoch, server_url = excluded.server_url, key_id = excluded.key_id,
                 validation_key_hex = excluded.validation_key_hex, enrolled_at = excluded.enrolled_at",
            params![id.rsu_id.to_string(), id.rsu_no, id.name, epoch, id.server_url, id.key_id, id.validation_key_hex, ts(&now)],
        )?;
        critical(
            &tx,
            now,
            "ENROLLED",
            "INFO",
            format!(
                "device {} enrolled as RSU {} (epoch {epoch})",
                id.name, id.rsu_no
            ),
            None,
            json!({"rsuId": id.rsu_id, "epoch": epoch}),
        )?;
        tx.commit()?;
        Ok(epoch)
    }

    /// Whether the device has an identity yet.
    pub fn is_enrolled(&self) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM device", [], |r| r.get::<_, i64>(0))?
            > 0)
    }

    /// Records that the server answered, and the clock offset it implies.
    ///
    /// One correction moves the clock back by at most [`MAX_CLOCK_STEP_BACK_MS`]; a larger
    /// correction (either way) is logged as a critical event. The corrected time the device had
    /// before is kept as a high-water mark the sale rules never go below, so no correction, of
    /// any size, reopens a sales window that had closed.
    pub fn record_server_contact(
        &mut self,
        clock_offset_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let before = self.now()?;
        let tx = self.begin()?;
        tx.execute(
            "UPDATE device SET last_server_contact_at = ?1 WHERE id = 1",
            [ts(&before)],
        )?;
        if let Some(wanted) = clock_offset_ms {
            let current: i64 = tx
                .query_row("SELECT clock_offset_ms FROM device WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(0);
            let step = wanted - current;
            let applied = current + step.max(-MAX_CLOCK_STEP_BACK_MS);
            tx.execute(
                "UPDATE device SET clock_offset_ms = ?1,
                        clock_high_water = CASE WHEN clock_high_water IS NULL OR clock_high_water < ?2
                                                THEN ?2 ELSE clock_high_water END
                  WHERE id = 1",
                params![applied, ts(&before)],
            )?;
            if step.abs() > MAX_CLOCK_STEP_BACK_MS {
                critical(
                    &tx,
                    before,
                    "CLOCK_CORRECTION_LARGE",
                    "WARNING",
                    if applied == wanted {
                        format!(
                            "clock corrected by {:+} s from the server's time",
                            step / 1000
                        )
                    } else {
                        format!(
                            "the server's time is {:+} s from this device's: moved back {} s only (at most {} s per contact)",
                            step / 1000,
                            (current - applied) / 1000,
                            MAX_CLOCK_STEP_BACK_MS / 1000
                        )
                    },
                    None,
                    json!({"offsetBeforeMs": current, "offsetWantedMs": wanted, "offsetAppliedMs": applied}),
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Applies pulled configuration in one transaction. Committed sales are never changed: a new
    /// price applies to new sales only. Returns false if `cfg` is older than what is applied.
    pub fn apply_config(&mut self, cfg: &DeviceConfig) -> Result<bool, StoreError> {
        let now = self.now()?;
        let tx = self.begin()?;
        let (version, rsu_no): (i64, u32) = tx
            .query_row(
                "SELECT config_version, rsu_no FROM device WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or(StoreError::NotEnrolled)?;
        if cfg.version < version {
            return Ok(false);
        }
        if cfg.rsu.rsu_no != rsu_no {
            return Err(StoreError::Invalid(format!(
                "the configuration is for RSU {} but this device is RSU {rsu_no}: re-enroll the device",
                cfg.rsu.rsu_no
            )));
        }
        apply(&tx, cfg, now)?;
        tx.execute(
            "UPDATE device SET config_version = ?1, name = ?2 WHERE id = 1",
            params![cfg.version, cfg.rsu.name],
        )?;
        critical(
            &tx,
            now,
            "CONFIG_APPLIED",
            "INFO",
            format!("configuration version {} applied", cfg.version),
            None,
            json!({"version": cfg.version}),
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Gives back the unused rest of an allocation, recorded as an `allocation_release` entry.
    pub fn release_allocation(
        &mut self,
        allocation_id: Uuid,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let now = self.now()?;
        let tx = self.begin()?;
        let released = release_tx(&tx, now, allocation_id)?;
        tx.commit()?;
        Ok(released)
    }
}

pub(crate) fn release_tx(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    allocation_id: Uuid,
) -> Result<Option<(i64, i64)>, StoreError> {
    let row: Option<(String, i64, i64, String)> = tx
        .query_row(
            "SELECT event_id, next_number, end_number, state FROM allocations WHERE id = ?1",
            [allocation_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let (event_id, next, end, state) =
        row.ok_or_else(|| StoreError::NotFound(format!("no allocation {allocation_id}")))?;
    if state == "released" {
        return Ok(None);
    }
    tx.execute(
        "UPDATE allocations SET state = 'released' WHERE id = ?1",
        [allocation_id.to_string()],
    )?;
    if next > end {
        return Ok(None);
    }
    append(
        tx,
        EntryKind::AllocationRelease,
        &AllocationReleasePayload {
            allocation_id,
            event_id: parse_uuid(&event_id)?,
            start_number: next,
            end_number: end,
        },
        now,
    )?;
    critical(
        tx,
        now,
        "ALLOCATION_RELEASED",
        "INFO",
        format!("draw numbers {next}\u{2013}{end} released"),
        None,
        json!({"allocationId": allocation_id}),
    )?;
    Ok(Some((next, end)))
}

fn apply(tx: &Transaction<'_>, cfg: &DeviceConfig, now: DateTime<Utc>) -> Result<(), StoreError> {
    let org = &cfg.organization;
    Currency::new(&org.primary_currency).map_err(|e| StoreError::Invalid(e.to_string()))?;
    tx.execute(
        "INSERT INTO organization (id, org_id, name, license_number, primary_currency, validation_prefix) VALUES (1, ?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET org_id = excluded.org_id, name = excluded.name, license_number = excluded.license_number,
             primary_currency = excluded.primary_currency, validation_prefix = excluded.validation_prefix",
        params![org.id.to_string(), org.name, org.license_number, org.primary_currency, org.rsu_settings.validation_number_prefix],
    )?;
    let config_json = serde_json::to_string(cfg).map_err(|e| StoreError::Invalid(e.to_string()))?;
    tx.execute(
        "INSERT INTO settings (id, max_offline_tickets, offline_sale_expiration_minutes, sync_interval_minutes, low_water_mark, config_json)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET max_offline_tickets = excluded.max_offline_tickets,
             offline_sale_expiration_minutes = excluded.offline_sale_expiration_minutes,
             sync_interval_minutes = excluded.sync_interval_minutes, low_water_mark = excluded.low_water_mark,
             config_json = excluded.config_json",
        params![
            cfg.rsu.max_offline_tickets.unwrap_or(cfg.system.default_max_offline_tickets),
            cfg.system.offline_sale_expiration_minutes,
            cfg.rsu.sync_interval_minutes,
            cfg.rsu.low_water_mark,
            config_json
        ],
    )?;
    for ev in &cfg.events {
        tx.execute(
            "INSERT INTO events (id, name, identifier, state, currency, sales_start, sales_end, draw_time, timezone, venue_name,
                                 jackpot_json, jackpot_current_json, jurisdiction_json, prizes_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, identifier = excluded.identifier, state = excluded.state,
                 currency = excluded.currency, sales_start = excluded.sales_start, sales_end = excluded.sales_end,
                 draw_time = excluded.draw_time, timezone = excluded.timezone, venue_name = excluded.venue_name,
                 jackpot_json = excluded.jackpot_json, jackpot_current_json = excluded.jackpot_current_json,
                 jurisdiction_json = excluded.jurisdiction_json, prizes_json = excluded.prizes_json",
            params![
                ev.id.to_string(), ev.name, ev.event_identifier, ev.state.as_str(), ev.currency,
                ts(&ev.sales_start_time), ts(&ev.sales_end_time), ts(&ev.draw_time), ev.timezone, ev.venue_name,
                ev.jackpot.as_ref().map(json).transpose()?, ev.jackpot_current.as_ref().map(json).transpose()?,
                json(&ev.jurisdiction)?, json(&ev.prizes)?,
            ],
        )?;
        tx.execute(
            "UPDATE packages SET is_active = 0 WHERE event_id = ?1",
            [ev.id.to_string()],
        )?;
        for p in &ev.packages {
            tx.execute(
                "INSERT INTO packages (id, event_id, name, ticket_count, price_minor, currency, display_order, is_active, active_from, active_to)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, ticket_count = excluded.ticket_count,
                     price_minor = excluded.price_minor, currency = excluded.currency, display_order = excluded.display_order,
                     is_active = excluded.is_active, active_from = excluded.active_from, active_to = excluded.active_to",
                params![
                    p.id.to_string(), ev.id.to_string(), p.name, p.ticket_count, p.price.minor, p.price.currency.code(),
                    p.display_order, p.is_active, p.active_from.map(|t| ts(&t)), p.active_to.map(|t| ts(&t)),
                ],
            )?;
        }
    }
    let event_ids: Vec<String> = cfg.events.iter().map(|e| e.id.to_string()).collect();
    for a in &cfg.allocations {
        if let Some(why) = apply_allocation(tx, a, &event_ids, now)? {
            // One range the device cannot take never stops the rest of the configuration (and
            // so never stops sales of other events from syncing): it is skipped and logged.
            tracing::warn!(allocation = %a.id, "allocation skipped: {why}");
            critical(
                tx,
                now,
                "CONFIG_ITEM_SKIPPED",
                "WARNING",
                format!(
                    "draw numbers {}\u{2013}{} not applied: {why}",
                    a.start_number, a.end_number
                ),
                None,
                json!({"allocationId": a.id, "eventId": a.event_id}),
            )?;
        }
    }
    // Validation numbers of earlier epochs (another database of this RSU) are never reissued.
    tx.execute(
        "UPDATE device SET sale_seq = max(sale_seq, ?1) WHERE id = 1",
        [i64::try_from(cfg.rsu.last_sale_seq).unwrap_or(i64::MAX)],
    )?;
    tx.execute("UPDATE operators SET is_active = 0", [])?;
    for o in &cfg.operators {
        tx.execute(
            "INSERT INTO operators (id, name, role, pin_hash, is_active) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, pin_hash = excluded.pin_hash, is_active = excluded.is_active",
            params![o.id.to_string(), o.name, o.role.as_str(), o.pin_hash, o.is_active],
        )?;
    }
    // An operator deactivated (or removed) on the server is logged out at once; the shift stays
    // open for a supervisor to close.
    let deactivated: Option<(String, String)> = tx
        .query_row(
            "SELECT o.id, o.name FROM session s JOIN operators o ON o.id = s.operator_id
              WHERE s.id = 1 AND o.is_active = 0",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((op_id, name)) = deactivated {
        tx.execute("DELETE FROM session WHERE id = 1", [])?;
        critical(
            tx,
            now,
            "OPERATOR_DEACTIVATED_LOGOUT",
            "WARNING",
            format!("{name} was deactivated on the server and has been logged out"),
            Some(parse_uuid(&op_id)?),
            json!({}),
        )?;
    }
    for c in &cfg.commands {
        let events: Vec<String> = match c.event_id {
            Some(e) => vec![e.to_string()],
            None => cfg.events.iter().map(|e| e.id.to_string()).collect(),
        };
        for ev in events {
            match c.kind {
                CommandKind::Suspend => {
                    tx.execute("UPDATE events SET suspended = 1 WHERE id = ?1", [&ev])?;
                }
                CommandKind::Resume => {
                    tx.execute("UPDATE events SET suspended = 0 WHERE id = ?1", [&ev])?;
                }
                CommandKind::Close => {
                    // Carried out below, or by the daemon once the last receipt is confirmed.
                    tx.execute(
                        "UPDATE events SET close_requested_at = coalesce(close_requested_at, ?2) WHERE id = ?1",
                        params![ev, ts(&now)],
                    )?;
                }
            }
        }
    }
    crate::closing::complete_requested_tx(tx, now)?;
    Ok(())
}

/// Applies one allocation of a pulled configuration. Returns why it was skipped, if it was.
///
/// A new range starts at the server's `nextNumber` (numbers below it were sold by an earlier
/// database of this RSU). For a range the device already holds, the device's own position wins
/// when it is ahead (it knows its unsynced sales) and the server's when it is ahead (an earlier
/// epoch's sales); `withheld` and `exhausted` stop sales from it, `released` ends it.
fn apply_allocation(
    tx: &Transaction<'_>,
    a: &AllocationConfig,
    event_ids: &[String],
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    if a.start_number < 1 || a.start_number > a.end_number {
        return Ok(Some(format!(
            "the range {}..{} is empty",
            a.start_number, a.end_number
        )));
    }
    let event = a.event_id.to_string();
    let known_event = event_ids.contains(&event)
        || tx.query_row("SELECT count(*) FROM events WHERE id = ?1", [&event], |r| {
            r.get::<_, i64>(0)
        })? > 0;
    if !known_event {
        return Ok(Some(format!(
            "its event {event} is not in the configuration (not open for sales yet)"
        )));
    }
    let server_next = a
        .next_number
        .unwrap_or(a.start_number)
        .clamp(a.start_number, a.end_number + 1);
    let server_next = match a.state.as_str() {
        "exhausted" => a.end_number + 1,
        _ => server_next,
    };
    let withheld = i64::from(a.state == "withheld");
    let existing: Option<(i64, i64, i64, String)> = tx
        .query_row(
            "SELECT start_number, end_number, next_number, state FROM allocations WHERE id = ?1",
            [a.id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    if let Some((start, end, next, state)) = existing {
        if (start, end) != (a.start_number, a.end_number) {
            return Ok(Some(format!(
                "the server's range {}\u{2013}{} differs from the {start}\u{2013}{end} this device holds under the same id",
                a.start_number, a.end_number
            )));
        }
        let released = state == "released" || a.state == "released";
        tx.execute(
            "UPDATE allocations SET next_number = ?2, withheld = ?3, state = ?4 WHERE id = ?1",
            params![
                a.id.to_string(),
                next.max(server_next),
                withheld,
                if released { "released" } else { "active" }
            ],
        )?;
        return Ok(None);
    }
    let overlap: i64 = tx.query_row(
        "SELECT count(*) FROM allocations WHERE event_id = ?1 AND start_number <= ?3 AND ?2 <= end_number",
        params![event, a.start_number, a.end_number],
        |r| r.get(0),
    )?;
    if overlap > 0 {
        return Ok(Some(
            "it overlaps a range this device already holds: refused so no number is sold twice"
                .into(),
        ));
    }
    let state = if a.state == "released" {
        "released"
    } else {
        "active"
    };
    tx.execute(
        "INSERT INTO allocations (id, event_id, start_number, end_number, next_number, state, withheld, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![a.id.to_string(), event, a.start_number, a.end_number, server_next, state, withheld, ts(&now)],
    )?;
    critical(
        tx,
        now,
        "ALLOCATION_RECEIVED",
        "INFO",
        format!(
            "draw numbers {}\u{2013}{} received{}",
            a.start_number,
            a.end_number,
            match (withheld, server_next > a.start_number) {
                (1, _) =>
                    " (withheld: an earlier database of this RSU may have sold from it)".to_string(),
                (_, true) => format!(", selling from {server_next}"),
                _ => String::new(),
            }
        ),
        None,
        json!({"allocationId": a.id, "eventId": a.event_id}),
    )?;
    Ok(None)
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// The demo PINs, printed by `rsu-app demo-init`.
pub const DEMO_SELLER_PIN: &str = "1111";
pub const DEMO_SUPERVISOR_PIN: &str = "9999";

/// The demo device: "Summer Festival Raffle", active from an hour ago for 30 days, packages
/// 1 ticket $5 / 5 tickets $20 / 25 tickets $50, allocations 1001–1100 and 1101–1200, a seller
/// (PIN 1111) and a supervisor (PIN 9999).
pub fn demo_config(now: DateTime<Utc>) -> Result<(DeviceIdentity, DeviceConfig), StoreError> {
    let usd = Currency::new("USD").map_err(|e| StoreError::Invalid(e.to_string()))?;
    let id = |n: u128| Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n);
    let event_id = id(0x100);
    let pin = |p: &str, salt: &[u8]| {
        rsu_core::pin::hash_pin(p, salt, rsu_core::pin::DEFAULT_ITERATIONS)
            .map_err(|e| StoreError::Invalid(e.to_string()))
    };
    let package = |n: u128, name: &str, count: u32, price: i64, order: i32| Package {
        id: id(0x200 + n),
        name: name.into(),
        ticket_count: count,
        price: Money::new(price, usd),
        display_order: order,
        is_active: true,
        active_from: None,
        active_to: None,
    };
    let sales_end = now + Duration::days(30);
    let identity = DeviceIdentity {
        rsu_id: id(0x1),
        rsu_no: 1,
        name: "RSU-001 Main Gate (demo)".into(),
        server_url: None,
        key_id: None,
        // A fixed key is fine for the demo: its tickets are not real.
        validation_key_hex: "d3m0d3m0".replace('m', "0").repeat(4),
    };
    let config = DeviceConfig {
        version: 1,
        organization: OrganizationConfig {
            id: id(0x2),
            name: "Riverside Community Foundation".into(),
            license_number: "LIC-2026-0042".into(),
            primary_currency: "USD".into(),
            rsu_settings: RsuSettings {
                validation_number_prefix: "RSU".into(),
                default_validation_number_block_size: 100,
                offline_sync_timeout_minutes: 30,
            },
        },
        rsu: RsuConfig {
            id: id(0x1),
            rsu_no: 1,
            name: "RSU-001 Main Gate (demo)".into(),
            max_offline_tickets: Some(500),
            sync_interval_minutes: 5,
            low_water_mark: None,
            last_sale_seq: 0,
        },
        system: SystemRsuSettings {
            offline_sale_expiration_minutes: 1440,
            api_key_rotation_days: 90,
            default_max_offline_tickets: 100,
        },
        events: vec![EventConfig {
            id: event_id,
            name: "Summer Festival Raffle".into(),
            event_identifier: "RAFFLE-2026-001".into(),
            state: EventState::Active,
            currency: "USD".into(),
            sales_start_time: now - Duration::hours(1),
            sales_end_time: sales_end,
            draw_time: sales_end + Duration::hours(1),
            timezone: "UTC".into(),
            venue_name: Some("Riverside Park".into()),
            jackpot: Some(JackpotRule {
                seed: Money::new(100_000, usd),
                starting: Money::new(0, usd),
                percentage_bp: 5000,
            }),
            jackpot_current: None,
            jurisdiction: JurisdictionProfile {
                price_lock: true,
                offline_sales_allowed: true,
                required_receipt_fields: vec![],
                responsible_gaming_text: "Play responsibly. Help: 1-800-522-4700".into(),
                claim_deadline: format!(
                    "Claim within 90 days of the draw ({})",
                    (sales_end + Duration::days(90)).format("%Y-%m-%d")
                ),
                rules_url: "https://example.org/raffle-rules".into(),
            },
            packages: vec![
                package(1, "1 ticket", 1, 500, 1),
                package(2, "5 tickets", 5, 2000, 2),
                package(3, "25 tickets", 25, 5000, 3),
            ],
            prizes: vec![Prize {
                id: id(0x300),
                name: "50/50 Winner".into(),
                kind: "percentage".into(),
                value: None,
                percentage_bp: Some(5000),
                position: 1,
                winner_count: 1,
            }],
        }],
        allocations: vec![
            AllocationConfig {
                id: id(0x401),
                event_id,
                start_number: 1001,
                end_number: 1100,
                state: "active".into(),
                next_number: None,
            },
            AllocationConfig {
                id: id(0x402),
                event_id,
                start_number: 1101,
                end_number: 1200,
                state: "active".into(),
                next_number: None,
            },
        ],
        operators: vec![
            OperatorConfig {
                id: id(0x501),
                name: "Sam Seller".into(),
                role: Role::Seller,
                pin_hash: pin(DEMO_SELLER_PIN, b"demo-salt-seller")?,
                is_active: true,
            },
            OperatorConfig {
                id: id(0x502),
                name: "Pat Supervisor".into(),
                role: Role::Supervisor,
                pin_hash: pin(DEMO_SUPERVISOR_PIN, b"demo-salt-superv")?,
                is_active: true,
            },
        ],
        commands: vec![],
    };
    Ok((identity, config))
}
