//! Counts and reports: what the sync daemon, the status bar and `rsu-app status` show.

use chrono::{DateTime, Utc};
use rsu_core::config::JackpotFigure;
use rsu_core::event::{jackpot, JackpotRule};
use rsu_core::journal::ChainHash;
use rsu_core::money::{Currency, Money};
use rusqlite::OptionalExtension;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::journal::{critical, last_entry_time};
use crate::session::session_operator;
use crate::{parse_ts, parse_uuid, Sale, Store, StoreError};

/// The sync picture of the journal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncCounts {
    pub pending_entries: u64,
    pub pending_sales: u64,
    pub unsynced_tickets: u64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub rejected: u64,
    pub conflicts: u64,
    pub last_seq: u64,
    pub last_acked_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocationStatus {
    pub id: Uuid,
    pub event_id: Uuid,
    pub start_number: i64,
    pub end_number: i64,
    pub next_number: i64,
    pub left: i64,
    pub state: String,
}

/// Everything `rsu-app status` shows.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub rsu_id: Uuid,
    pub rsu_no: u32,
    pub device_name: String,
    pub epoch: i64,
    pub schema_version: i64,
    pub config_version: i64,
    pub clock_offset_ms: i64,
    pub operator: Option<String>,
    pub event_name: Option<String>,
    pub event_state: Option<String>,
    pub numbers_left: i64,
    pub low_water_mark: i64,
    pub allocations: Vec<AllocationStatus>,
    pub sales: u64,
    pub voids: u64,
    pub sync: SyncCounts,
    pub unresolved_print: Option<String>,
    /// Minor units; the server's last figure plus this device's unsynced sales.
    pub jackpot_estimate: Option<i64>,
    pub jackpot_currency: Option<String>,
    pub jackpot_as_of: Option<DateTime<Utc>>,
    /// The event has been drawn and `jackpot_estimate` is the final jackpot from its results
    /// (`jackpot_as_of` is then when it was drawn).
    pub jackpot_final: bool,
    pub last_server_contact_at: Option<DateTime<Utc>>,
}

/// What the start-up check found.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartupReport {
    pub entries_verified: u64,
    pub chain_head: Option<String>,
    pub unresolved_print: Option<String>,
    /// Set when the clock reads earlier than the last journal entry.
    pub clock_behind_by_ms: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub quick_check: String,
    pub entries: u64,
    pub chain_head: Option<String>,
    pub sales: u64,
    pub draw_numbers: u64,
    pub duplicate_draw_numbers: u64,
}

impl Store {
    pub fn sync_counts(&self) -> Result<SyncCounts, StoreError> {
        let c = &self.conn;
        let one =
            |sql: &str| -> Result<i64, StoreError> { Ok(c.query_row(sql, [], |r| r.get(0))?) };
        let oldest: Option<String> = c.query_row(
            "SELECT min(created_at) FROM journal WHERE sync_status = 'pending'",
            [],
            |r| r.get(0),
        )?;
        let acked: Option<String> =
            c.query_row("SELECT max(acked_at) FROM journal", [], |r| r.get(0))?;
        let last_error: Option<String> = c
            .query_row("SELECT last_error FROM journal WHERE last_error IS NOT NULL ORDER BY last_attempt_at DESC LIMIT 1", [], |r| r.get(0))
            .optional()?;
        Ok(SyncCounts {
            pending_entries: one("SELECT count(*) FROM journal WHERE sync_status = 'pending'")? as u64,
            pending_sales: one("SELECT count(*) FROM journal WHERE sync_status = 'pending' AND kind = 'sale'")? as u64,
            unsynced_tickets: one("SELECT coalesce(sum(s.ticket_count), 0) FROM sales s JOIN journal j ON j.epoch = s.epoch AND j.seq = s.seq WHERE j.sync_status = 'pending'")? as u64,
            oldest_pending_at: oldest.map(|s| parse_ts(&s)).transpose()?,
            rejected: one("SELECT count(*) FROM journal WHERE sync_status = 'rejected'")? as u64,
            conflicts: one("SELECT count(*) FROM journal WHERE sync_status = 'conflict'")? as u64,
            last_seq: one("SELECT coalesce(max(seq), 0) FROM journal WHERE epoch = (SELECT epoch FROM device WHERE id = 1)")? as u64,
            last_acked_at: acked.map(|s| parse_ts(&s)).transpose()?,
            last_error,
        })
    }

    pub fn allocations(&self) -> Result<Vec<AllocationStatus>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, event_id, start_number, end_number, next_number,
                    CASE WHEN withheld = 1 AND state = 'active' THEN 'withheld' ELSE state END
               FROM allocations ORDER BY start_number",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, ev, start, end, next, state) = row?;
            let left = if state == "active" { end - next + 1 } else { 0 };
            out.push(AllocationStatus {
                id: parse_uuid(&id)?,
                event_id: parse_uuid(&ev)?,
                start_number: start,
                end_number: end,
                next_number: next,
                left,
                state,
            });
        }
        Ok(out)
    }

    /// The low-water mark: configured, or 5 × the largest active package.
    /// The server's key lifetime (`apiKeyRotationDays` of the applied configuration; 90 before
    /// any configuration).
    pub fn key_lifetime_days(&self) -> Result<i64, StoreError> {
        let days: Option<i64> = self
            .conn
            .query_row(
                "SELECT json_extract(config_json, '$.system.apiKeyRotationDays') FROM settings WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(days.unwrap_or(90))
    }

    pub fn low_water_mark(&self) -> Result<i64, StoreError> {
        let configured: Option<i64> = self
            .conn
            .query_row(
                "SELECT low_water_mark FROM settings WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        if let Some(m) = configured {
            return Ok(m);
        }
        let largest: Option<i64> = self.conn.query_row(
            "SELECT max(ticket_count) FROM packages WHERE is_active = 1",
            [],
            |r| r.get(0),
        )?;
        Ok(5 * largest.unwrap_or(1))
    }

    pub fn status(&mut self) -> Result<Status, StoreError> {
        type DeviceRow = (String, u32, String, i64, i64, i64, Option<String>);
        let dev: Option<DeviceRow> = self
            .conn
            .query_row(
                "SELECT rsu_id, rsu_no, name, epoch, config_version, clock_offset_ms, last_server_contact_at FROM device WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .optional()?;
        let (rsu_id, rsu_no, name, epoch, config_version, offset, contact) =
            dev.ok_or(StoreError::NotEnrolled)?;
        let operator = self.current_operator()?.map(|o| o.name);
        type EventRow = (String, String, String, Option<String>, Option<String>);
        let event: Option<EventRow> = self
            .conn
            .query_row(
                "SELECT name, state, currency, jackpot_json, jackpot_current_json FROM events ORDER BY (state = 'active') DESC, sales_start DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let allocations = self.allocations()?;
        let sync = self.sync_counts()?;
        let sales: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sales", [], |r| r.get(0))?;
        let voids: i64 = self.conn.query_row(
            "SELECT count(*) FROM sales WHERE voided_at IS NOT NULL",
            [],
            |r| r.get(0),
        )?;
        let unresolved = self.unresolved_print()?.map(|s| s.validation_number);
        let (mut jp, mut jp_cur, mut jp_asof) = (None, None, None);
        if let Some((_, _, currency, Some(rule), current)) = &event {
            let rule: JackpotRule =
                serde_json::from_str(rule).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let figure: Option<JackpotFigure> = current
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let cur = Currency::new(currency).map_err(|e| StoreError::Invalid(e.to_string()))?;
            // The server counted everything it has; add what only this device knows.
            let local_net: i64 = self.conn.query_row(
                "SELECT coalesce(sum(s.total_minor), 0) FROM sales s JOIN journal j ON j.epoch = s.epoch AND j.seq = s.seq
                 WHERE s.voided_at IS NULL AND j.sync_status = 'pending'",
                [],
                |r| r.get(0),
            )?;
            let all_net: i64 = self.conn.query_row(
                "SELECT coalesce(sum(total_minor), 0) FROM sales WHERE voided_at IS NULL",
                [],
                |r| r.get(0),
            )?;
            let (net, as_of) = match &figure {
                Some(f) => (f.net_sales + local_net, Some(f.as_of)),
                None => (all_net, None),
            };
            let pot = jackpot(&rule, Money::new(net, cur))
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            jp = Some(pot.minor);
            jp_cur = Some(currency.clone());
            jp_asof = as_of.or(Some(self.now()?));
        }
        // Once drawn, the figure is no estimate: the draw's own jackpot.
        let mut jp_final = false;
        if let Some(r) = self.current_results()? {
            if let Some(j) = r.final_jackpot {
                jp = Some(j.minor);
                jp_cur = Some(r.currency.code().to_string());
                jp_asof = Some(r.drawn_at);
                jp_final = true;
            }
        }
        Ok(Status {
            rsu_id: parse_uuid(&rsu_id)?,
            rsu_no,
            device_name: name,
            epoch,
            schema_version: self.schema_version()?,
            config_version,
            clock_offset_ms: offset,
            operator,
            event_name: event.as_ref().map(|e| e.0.clone()),
            event_state: event.as_ref().map(|e| e.1.clone()),
            numbers_left: allocations.iter().map(|a| a.left).sum(),
            low_water_mark: self.low_water_mark()?,
            allocations,
            sales: sales as u64,
            voids: voids as u64,
            sync,
            unresolved_print: unresolved,
            jackpot_estimate: jp,
            jackpot_currency: jp_cur,
            jackpot_as_of: jp_asof,
            jackpot_final: jp_final,
            last_server_contact_at: contact.map(|s| parse_ts(&s)).transpose()?,
        })
    }

    /// The start-up check (DESIGN §4, notes "Rules" 16): the file passed `quick_check` when it was
    /// opened; here the chain is verified, a clock behind the journal is flagged, the unconfirmed
    /// print is found, and the start-up itself is recorded.
    pub fn startup_check(&mut self) -> Result<StartupReport, StoreError> {
        let verified = self.verify_journal();
        let now = self.now()?;
        let tx = self.begin()?;
        let op = session_operator(&tx)?;
        let behind = match last_entry_time(&tx)? {
            Some(last) if last > now + chrono::Duration::seconds(60) => {
                Some((last - now).num_milliseconds())
            }
            _ => None,
        };
        match &verified {
            Ok((n, _)) => {
                critical(
                    &tx,
                    now,
                    "STARTUP",
                    "INFO",
                    format!("started, {n} journal entries verified"),
                    op,
                    json!({"version": env!("CARGO_PKG_VERSION")}),
                )?;
            }
            Err(e) => {
                critical(
                    &tx,
                    now,
                    "INTEGRITY_FAILED",
                    "CRITICAL",
                    format!("start-up check failed: {e}"),
                    op,
                    json!({}),
                )?;
            }
        }
        if let Some(ms) = behind {
            critical(
                &tx,
                now,
                "CLOCK_JUMP",
                "CRITICAL",
                format!("the clock reads {ms} ms earlier than the last journal entry"),
                op,
                json!({"behindMs": ms}),
            )?;
        }
        tx.commit()?;
        let (n, head) = verified?;
        let unresolved: Option<Sale> = self.unresolved_print()?;
        Ok(StartupReport {
            entries_verified: n,
            chain_head: head.map(|h: ChainHash| h.to_hex()),
            unresolved_print: unresolved.map(|s| s.validation_number),
            clock_behind_by_ms: behind,
        })
    }

    /// The full check behind `rsu-app verify`.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let qc: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        let (n, head) = self.verify_journal()?;
        let sales: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sales", [], |r| r.get(0))?;
        let numbers: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sale_numbers", [], |r| r.get(0))?;
        let dup: i64 = self.conn.query_row(
            "SELECT count(*) FROM (SELECT event_id, draw_number FROM sale_numbers GROUP BY 1, 2 HAVING count(*) > 1)",
            [],
            |r| r.get(0),
        )?;
        Ok(VerifyReport {
            quick_check: qc,
            entries: n,
            chain_head: head.map(|h| h.to_hex()),
            sales: sales as u64,
            draw_numbers: numbers as u64,
            duplicate_draw_numbers: dup as u64,
        })
    }

    /// Refuses a destructive operation while entries are pending (DESIGN §3.10).
    pub fn ensure_nothing_pending(&self, action: &'static str) -> Result<(), StoreError> {
        let pending = self.sync_counts()?.pending_entries;
        if pending > 0 {
            return Err(StoreError::PendingEntries {
                count: pending,
                action,
            });
        }
        Ok(())
    }
}

/// Resets the device (database re-creation): moves the database files aside to
/// `<name>.reset-<UTC time>` and returns the new name. Refused while anything is pending. The check
/// and the move happen under an exclusive lock, so no sale can be committed in between; and as the
/// files are renamed rather than deleted, nothing a still-running process writes is destroyed.
/// A database that cannot be opened is never touched.
pub fn reset_database(path: &std::path::Path) -> Result<std::path::PathBuf, StoreError> {
    let store = Store::open_existing(path)?;
    store.conn.execute_batch("BEGIN EXCLUSIVE")?;
    let result = (|| {
        store.ensure_nothing_pending("resetting the database")?;
        let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = std::path::PathBuf::from(format!("{}.reset-{stamp}", path.display()));
        let [db, wal, shm] = crate::privacy::database_files(path);
        let [db_to, wal_to, shm_to] = crate::privacy::database_files(&aside);
        for (from, to) in [(wal, wal_to), (shm, shm_to), (db, db_to)] {
            if from.exists() {
                std::fs::rename(&from, &to).map_err(|e| StoreError::Io {
                    what: format!("moving {} aside", from.display()),
                    source: e,
                })?;
                // The copy holds the same secrets as the original: owner-only, whatever it was.
                crate::privacy::make_private(&to)?;
            }
        }
        Ok(aside)
    })();
    // The connection now points at the moved file; end the transaction there.
    let _ = store.conn.execute_batch("ROLLBACK");
    result
}
