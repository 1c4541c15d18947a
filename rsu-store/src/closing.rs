//! Closing the device for an event (DESIGN §4 "At device close, unused ranges are released"):
//! every open shift closes with its Z report, the unused part of every range this device sells
//! from is given back as an `allocation_release` entry (and the unissued units of every perk
//! allocation as a `perk_release` entry), and the event is marked closed so no
//! sale follows, whatever the clock says. A supervisor closes it on the kiosk or with
//! `rsu-app close`; a `close` command from the server (event → `sales_closed`) does the same
//! once the last receipt is confirmed.

use chrono::{DateTime, Utc};
use rsu_core::journal::EntryKind;
use rsu_core::payload::{PerkReleasePayload, ShiftClosePayload};
use rusqlite::{params, Transaction};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::allocation::release_tx;
use crate::journal::{append, critical};
use crate::people::z_report;
use crate::sale::unresolved_sale;
use crate::{parse_uuid, ts, Store, StoreError};

/// What closing did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseReport {
    pub event_ids: Vec<Uuid>,
    /// The ranges given back, `(first, last)`.
    pub released: Vec<(i64, i64)>,
    pub numbers_released: i64,
    /// The perk units given back, one `perk_release` entry each (issue 14).
    pub perks_released: Vec<PerkReleasePayload>,
    /// The Z reports of the shifts closed on the way.
    pub shifts_closed: Vec<ShiftClosePayload>,
    /// Journal entries still to reach the server (the daemon pushes them).
    pub entries_to_sync: u64,
}

impl std::fmt::Display for CloseReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "closed: {} numbers released; {} entries still to sync",
            self.numbers_released, self.entries_to_sync
        )
    }
}

impl Store {
    /// Closes the device for every event it holds numbers of, with a supervisor's PIN. Refused
    /// while a receipt is not confirmed printed (reprint or spoil it first), and when there is
    /// nothing to close.
    pub fn close_device(&mut self, supervisor_pin: &str) -> Result<CloseReport, StoreError> {
        let sup = self.authenticate(supervisor_pin, true)?;
        let now = self.now()?;
        let tx = self.begin()?;
        refuse_unconfirmed(&tx)?;
        let events = open_events(&tx)?;
        if events.is_empty() {
            return Err(StoreError::Invalid(
                "nothing to close: this device holds no draw numbers of an event it has not closed"
                    .into(),
            ));
        }
        let mut report = close_tx(&tx, now, Some(sup.id), &events)?;
        tx.commit()?;
        report.entries_to_sync = self.sync_counts()?.pending_entries;
        Ok(report)
    }

    /// Carries out `close` commands from the server that waited for the last receipt to be
    /// confirmed (the daemon calls this every round). `None` when there was nothing to do.
    pub fn complete_requested_closes(&mut self) -> Result<Option<CloseReport>, StoreError> {
        let waiting: i64 = self.conn.query_row(
            "SELECT count(*) FROM events WHERE close_requested_at IS NOT NULL AND closed_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        if waiting == 0 {
            // Nothing to do: no write transaction (the kiosk may be selling).
            return Ok(None);
        }
        let now = self.now()?;
        let tx = self.begin()?;
        let report = complete_requested_tx(&tx, now)?;
        if report.is_some() {
            tx.commit()?;
        } else {
            drop(tx);
        }
        Ok(match report {
            Some(mut r) => {
                r.entries_to_sync = self.sync_counts()?.pending_entries;
                Some(r)
            }
            None => None,
        })
    }

    /// Events this device was closed for, with when.
    pub fn closed_events(&self) -> Result<Vec<(Uuid, DateTime<Utc>)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, closed_at FROM events WHERE closed_at IS NOT NULL ORDER BY closed_at",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, at) = row?;
            out.push((parse_uuid(&id)?, crate::parse_ts(&at)?));
        }
        Ok(out)
    }
}

fn refuse_unconfirmed(tx: &Transaction<'_>) -> Result<(), StoreError> {
    if let Some(id) = unresolved_sale(tx)? {
        let vn: String = tx.query_row(
            "SELECT validation_number FROM sales WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )?;
        return Err(StoreError::Invalid(format!(
            "receipt {vn} is not confirmed printed: reprint it, or have a supervisor spoil it, then close the device"
        )));
    }
    Ok(())
}

/// Events not closed yet in which this device holds a range.
fn open_events(tx: &Transaction<'_>) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx.prepare(
        "SELECT e.id FROM events e WHERE e.closed_at IS NULL
            AND EXISTS (SELECT 1 FROM allocations a WHERE a.event_id = e.id)
          ORDER BY e.sales_start",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Closes the events the server asked to close, unless a receipt is still unconfirmed.
pub(crate) fn complete_requested_tx(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
) -> Result<Option<CloseReport>, StoreError> {
    let requested: Vec<String> = {
        let mut stmt = tx.prepare(
            "SELECT id FROM events WHERE close_requested_at IS NOT NULL AND closed_at IS NULL",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    if requested.is_empty() || unresolved_sale(tx)?.is_some() {
        return Ok(None);
    }
    close_tx(tx, now, None, &requested).map(Some)
}

/// Closes `events` inside the caller's transaction. `by` is the supervisor, or `None` for the
/// server's `close` command.
fn close_tx(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    by: Option<Uuid>,
    events: &[String],
) -> Result<CloseReport, StoreError> {
    // Every open shift closes with its Z report (closed by the supervisor, or by its own
    // operator when the server closed the device).
    let shifts: Vec<(String, String)> = {
        let mut stmt = tx.prepare("SELECT id, operator_id FROM shifts WHERE closed_at IS NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut shifts_closed = Vec::new();
    for (id, operator) in shifts {
        let closer = match by {
            Some(s) => s,
            None => parse_uuid(&operator)?,
        };
        let mut z = z_report(tx, parse_uuid(&id)?, closer, now)?;
        z.closed_by = closer;
        append(tx, EntryKind::ShiftClose, &z, now)?;
        let z_json = serde_json::to_string(&z).map_err(|e| StoreError::Invalid(e.to_string()))?;
        tx.execute(
            "UPDATE shifts SET closed_at = ?2, closed_by = ?3, z_report_json = ?4 WHERE id = ?1",
            params![id, ts(&now), closer.to_string(), z_json],
        )?;
        shifts_closed.push(z);
    }
    // The unused part of every range is given back; a withheld range is not this device's to
    // release (an earlier database of the RSU may have sold from it).
    let mut released = Vec::new();
    let mut perks_released = Vec::new();
    let mut event_ids = Vec::new();
    for ev in events {
        let ids: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT id FROM allocations WHERE event_id = ?1 AND state = 'active' AND withheld = 0
                  ORDER BY start_number",
            )?;
            let rows = stmt.query_map([ev], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for id in ids {
            if let Some(range) = release_tx(tx, now, parse_uuid(&id)?)? {
                released.push(range);
            }
        }
        // Beside the numbers, the perk units not issued go back (issued + released = quantity).
        perks_released.extend(crate::perks::release_perks_tx(tx, now, ev)?);
        tx.execute(
            "UPDATE events SET closed_at = ?2, closed_by = ?3 WHERE id = ?1",
            params![ev, ts(&now), by.map(|b| b.to_string())],
        )?;
        event_ids.push(parse_uuid(ev)?);
    }
    let numbers_released: i64 = released.iter().map(|(a, b)| b - a + 1).sum();
    tx.execute("DELETE FROM session WHERE id = 1", [])?;
    critical(
        tx,
        now,
        "DEVICE_CLOSED",
        "INFO",
        format!(
            "device closed for {} event(s){}: {numbers_released} numbers released, {} shift(s) closed",
            event_ids.len(),
            if by.is_some() {
                ""
            } else {
                " by the server's close command"
            },
            shifts_closed.len()
        ),
        by,
        json!({"eventIds": event_ids, "released": released, "closedBy": by}),
    )?;
    Ok(CloseReport {
        event_ids,
        released,
        numbers_released,
        perks_released,
        shifts_closed,
        entries_to_sync: 0,
    })
}
