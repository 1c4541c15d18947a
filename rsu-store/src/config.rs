//! Device identity, clock corrections from server contact, and applying pulled configuration
//! (its allocations are applied by `allocation.rs`; the demo configuration is in `demo.rs`).

use chrono::{DateTime, Utc};
use rsu_core::config::*;
use rsu_core::money::Currency;
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;
use uuid::Uuid;

use crate::journal::critical;
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
}

fn apply(tx: &Transaction<'_>, cfg: &DeviceConfig, now: DateTime<Utc>) -> Result<(), StoreError> {
    let org = &cfg.organization;
    Currency::new(&org.primary_currency).map_err(|e| StoreError::Invalid(e.to_string()))?;
    tx.execute(
        "INSERT INTO organization (id, org_id, name, license_number, primary_currency, validation_prefix, address, phone)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET org_id = excluded.org_id, name = excluded.name, license_number = excluded.license_number,
             primary_currency = excluded.primary_currency, validation_prefix = excluded.validation_prefix,
             address = excluded.address, phone = excluded.phone",
        params![org.id.to_string(), org.name, org.license_number, org.primary_currency, org.rsu_settings.validation_number_prefix,
                org.address, org.phone],
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
        crate::draw_results::apply_results(tx, ev, cfg.version, now)?;
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
        crate::perks::apply_event_perks(tx, ev)?;
    }
    let event_ids: Vec<String> = cfg.events.iter().map(|e| e.id.to_string()).collect();
    for a in &cfg.allocations {
        if let Some(why) = crate::allocation::apply_allocation(tx, a, &event_ids, now)? {
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
    crate::perks::apply_perk_allocations(tx, &cfg.perk_allocations, now)?;
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

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}
