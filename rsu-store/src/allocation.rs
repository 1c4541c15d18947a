//! The device's number ranges: applying one allocation of a pulled configuration, and giving
//! back the unused rest of a range (`allocation_release`), on request or when the device closes.

use chrono::{DateTime, Utc};
use rsu_core::config::*;
use rsu_core::journal::EntryKind;
use rsu_core::payload::AllocationReleasePayload;
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;
use uuid::Uuid;

use crate::journal::{append, critical};
use crate::{parse_uuid, ts, Store, StoreError};

impl Store {
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

/// Applies one allocation of a pulled configuration. Returns why it was skipped, if it was.
///
/// A new range starts at the server's `nextNumber` (numbers below it were sold by an earlier
/// database of this RSU). For a range the device already holds, the device's own position wins
/// when it is ahead (it knows its unsynced sales) and the server's when it is ahead (an earlier
/// epoch's sales); `withheld` and `exhausted` stop sales from it, `released` ends it.
pub(crate) fn apply_allocation(
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
