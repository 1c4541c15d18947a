//! The journal: the outbox of everything the device did, hash-chained and gap-free per epoch.

use chrono::{DateTime, Utc};
use rsu_core::journal::{verify_chain, ChainHash, EntryBody, EntryKind, JournalEntry};
use rsu_core::payload::CriticalEventPayload;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use std::io::Write;
use uuid::Uuid;

use crate::CachedSql;
use crate::{parse_ts, ts, Store, StoreError};

/// How the server answered one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryOutcome {
    Applied,
    Duplicate,
    Conflict { message: String },
    Rejected { code: String, message: String },
}

/// One per-entry answer, to be recorded beside the entry (never in its hashed bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncResult {
    pub epoch: i64,
    pub seq: u64,
    pub outcome: EntryOutcome,
}

/// The epoch in force, the last seq and hash in it.
pub(crate) fn chain_tail(tx: &Transaction<'_>) -> Result<(i64, u64, ChainHash), StoreError> {
    let epoch: i64 = tx
        .query_row_cached("SELECT epoch FROM device WHERE id = 1", [], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotEnrolled)?;
    let last: Option<(u64, Vec<u8>)> = tx
        .query_row_cached(
            "SELECT seq, hash FROM journal WHERE epoch = ?1 ORDER BY seq DESC LIMIT 1",
            [epoch],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match last {
        Some((seq, hash)) => Ok((epoch, seq, ChainHash::from_slice(&hash)?)),
        None => Ok((epoch, 0, ChainHash::GENESIS)),
    }
}

/// The latest `created_at` in the journal: a clock that goes back before it is not trusted.
pub(crate) fn last_entry_time(tx: &Transaction<'_>) -> Result<Option<DateTime<Utc>>, StoreError> {
    let t: Option<String> =
        tx.query_row_cached("SELECT max(created_at) FROM journal", [], |r| r.get(0))?;
    t.map(|s| parse_ts(&s)).transpose()
}

/// Appends one entry inside the caller's transaction and returns it.
pub(crate) fn append(
    tx: &Transaction<'_>,
    kind: EntryKind,
    payload: &impl Serialize,
    created_at: DateTime<Utc>,
) -> Result<JournalEntry, StoreError> {
    let (epoch, seq, prev) = chain_tail(tx)?;
    let payload = serde_json::to_value(payload)
        .map_err(|e| StoreError::Invalid(format!("journal payload: {e}")))?;
    let body = EntryBody {
        epoch,
        seq: seq + 1,
        entry_id: rsu_core::ids::new_id(),
        kind,
        created_at,
        payload,
    };
    let canonical = body.canonical_bytes()?;
    let entry = body.chain(prev)?;
    let text = String::from_utf8(canonical)
        .map_err(|_| StoreError::Invalid("canonical bytes are not UTF-8".into()))?;
    tx.execute_cached(
        "INSERT INTO journal (epoch, seq, entry_id, kind, created_at, body_json, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            entry.body.epoch,
            entry.body.seq,
            entry.body.entry_id.to_string(),
            kind.as_str(),
            ts(&created_at),
            text,
            entry.prev_hash.0.as_slice(),
            entry.hash.0.as_slice(),
        ],
    )?;
    Ok(entry)
}

/// Records a significant event inside the caller's transaction.
pub(crate) fn critical(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    event_type: &str,
    severity: &str,
    description: String,
    operator_id: Option<Uuid>,
    metadata: serde_json::Value,
) -> Result<JournalEntry, StoreError> {
    let p = CriticalEventPayload {
        event_type: event_type.into(),
        severity: severity.into(),
        description,
        operator_id,
        event_id: None,
        metadata,
    };
    append(tx, EntryKind::CriticalEvent, &p, now)
}

fn row_to_entry(
    epoch: i64,
    seq: u64,
    body_json: String,
    prev: Vec<u8>,
    hash: Vec<u8>,
) -> Result<JournalEntry, StoreError> {
    let body: EntryBody = serde_json::from_str(&body_json).map_err(|e| {
        StoreError::Invalid(format!("journal entry {epoch}/{seq} cannot be read: {e}"))
    })?;
    Ok(JournalEntry {
        body,
        prev_hash: ChainHash::from_slice(&prev)?,
        hash: ChainHash::from_slice(&hash)?,
    })
}

impl Store {
    /// Records a significant event in its own transaction.
    pub fn record_critical_event(
        &mut self,
        event_type: &str,
        severity: &str,
        description: impl Into<String>,
        metadata: serde_json::Value,
    ) -> Result<JournalEntry, StoreError> {
        let now = self.now()?;
        let tx = self.begin()?;
        let op = crate::session::session_operator(&tx)?;
        let e = critical(
            &tx,
            now,
            event_type,
            severity,
            description.into(),
            op,
            metadata,
        )?;
        tx.commit()?;
        Ok(e)
    }

    /// Entries the server has not answered yet, in (epoch, seq) order, at most `limit`.
    pub fn pending_entries(&self, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT epoch, seq, body_json, prev_hash, hash FROM journal
             WHERE sync_status = 'pending' ORDER BY epoch, seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (epoch, seq, body, prev, hash) = row?;
            out.push(row_to_entry(epoch, seq, body, prev, hash)?);
        }
        Ok(out)
    }

    /// All entries of one epoch from `from_seq` on (for export and re-sending).
    pub fn entries_from(&self, epoch: i64, from_seq: u64) -> Result<Vec<JournalEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT epoch, seq, body_json, prev_hash, hash FROM journal
             WHERE epoch = ?1 AND seq >= ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![epoch, from_seq], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (epoch, seq, body, prev, hash) = row?;
            out.push(row_to_entry(epoch, seq, body, prev, hash)?);
        }
        Ok(out)
    }

    /// Records the server's per-entry answers. Only bookkeeping columns change; the hashed
    /// columns are never touched. Recording the same answer twice is harmless.
    pub fn record_results(&mut self, results: &[SyncResult]) -> Result<(), StoreError> {
        let now = ts(&self.now()?);
        let tx = self.begin()?;
        write_results(&tx, results, &now)?;
        tx.commit()?;
        Ok(())
    }

    /// Copies the write-ahead log into the database file as far as no reader needs it, without
    /// waiting for anyone (`PRAGMA wal_checkpoint(PASSIVE)`). The daemon does this after each
    /// batch it records, so that the checkpoint SQLite would otherwise run inside whichever
    /// commit crosses 1,000 log pages — usually a sale's — runs in the daemon instead.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// One push's answer in one transaction: the per-entry results ([`Store::record_results`])
    /// and how far the server holds this epoch ([`Store::record_push_ack`]). The daemon writes
    /// once per batch, so a kiosk selling meanwhile waits for at most one short write.
    pub fn record_push_answer(
        &mut self,
        results: &[SyncResult],
        acked_through_seq: u64,
        chain_head_hex: &str,
        chain_verified: bool,
    ) -> Result<(), StoreError> {
        let now = ts(&self.now()?);
        let tx = self.begin()?;
        write_results(&tx, results, &now)?;
        crate::sync_state::write_push_ack(&tx, acked_through_seq, chain_head_hex, chain_verified)?;
        tx.commit()?;
        Ok(())
    }

    /// Notes a failed attempt (network error, 5xx) on entries that stay pending.
    pub fn record_attempt_failure(
        &mut self,
        entries: &[(i64, u64)],
        error: &str,
    ) -> Result<(), StoreError> {
        let now = ts(&self.now()?);
        let tx = self.begin()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE journal SET attempts = attempts + 1, last_attempt_at = ?3, last_error = ?4
                 WHERE epoch = ?1 AND seq = ?2 AND sync_status = 'pending'",
            )?;
            for (epoch, seq) in entries {
                stmt.execute(params![epoch, seq, now, error])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Verifies every epoch's chain from its first entry: gap-free seq, links, and hashes that
    /// match the stored canonical bytes.
    pub fn verify_journal(&self) -> Result<(u64, Option<ChainHash>), StoreError> {
        let epochs: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare("SELECT DISTINCT epoch FROM journal ORDER BY epoch")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut total = 0;
        let mut head = None;
        for epoch in epochs {
            let entries = self.entries_from(epoch, 1)?;
            // The stored text must be exactly the canonical form of what it says.
            for e in &entries {
                let stored: String = self.conn.query_row_cached(
                    "SELECT body_json FROM journal WHERE epoch = ?1 AND seq = ?2",
                    params![epoch, e.body.seq],
                    |r| r.get(0),
                )?;
                if stored.as_bytes() != e.body.canonical_bytes()?.as_slice() {
                    return Err(
                        rsu_core::journal::JournalError::HashMismatch { seq: e.body.seq }.into(),
                    );
                }
            }
            let (n, h) = verify_chain((0, ChainHash::GENESIS), &entries)?;
            total += n;
            head = Some(h);
        }
        Ok((total, head))
    }

    /// Every journal entry in (epoch, seq) order with its sync status and reason code, read in
    /// one statement (one snapshot, whatever the kiosk appends meanwhile).
    pub fn journal_for_export(
        &self,
    ) -> Result<Vec<(JournalEntry, String, Option<String>)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT epoch, seq, body_json, prev_hash, hash, sync_status, reason_code FROM journal ORDER BY epoch, seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, u64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (epoch, seq, body, prev, hash, status, code) = row?;
            out.push((row_to_entry(epoch, seq, body, prev, hash)?, status, code));
        }
        Ok(out)
    }

    /// Writes every journal entry as one JSON object per line, with its sync status. For a dead
    /// or replaced device, this file can be imported on the server through the normal push path
    /// (`rsu-app export` adds the signed trailer; see `rsu_core::export`).
    pub fn export_journal(&self, out: &mut dyn Write) -> Result<u64, StoreError> {
        write_export_lines(&self.journal_for_export()?, out)
    }
}

/// Writes export lines (`{"entry", "syncStatus", "reasonCode"}`) for `rows`.
pub fn write_export_lines(
    rows: &[(JournalEntry, String, Option<String>)],
    out: &mut dyn Write,
) -> Result<u64, StoreError> {
    let io = |e: std::io::Error| StoreError::Io {
        what: "writing the export".into(),
        source: e,
    };
    let mut n = 0;
    for (entry, status, code) in rows {
        let line = serde_json::json!({
            "entry": entry,
            "syncStatus": status,
            "reasonCode": code,
        });
        serde_json::to_writer(&mut *out, &line).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
        n += 1;
    }
    Ok(n)
}

/// Records the server's per-entry answers inside the caller's transaction.
fn write_results(
    tx: &Transaction<'_>,
    results: &[SyncResult],
    now: &str,
) -> Result<(), StoreError> {
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE journal SET sync_status = ?3, reason_code = ?4, last_error = ?5,
                    acked_at = ?6, attempts = attempts + 1, last_attempt_at = ?6
             WHERE epoch = ?1 AND seq = ?2",
        )?;
        for r in results {
            let (status, code, msg) = match &r.outcome {
                EntryOutcome::Applied => ("applied", None, None),
                EntryOutcome::Duplicate => ("duplicate", None, None),
                EntryOutcome::Conflict { message } => {
                    ("conflict", Some("conflict"), Some(message.as_str()))
                }
                EntryOutcome::Rejected { code, message } => {
                    ("rejected", Some(code.as_str()), Some(message.as_str()))
                }
            };
            let n = stmt.execute(params![r.epoch, r.seq, status, code, msg, now])?;
            if n == 0 {
                return Err(StoreError::NotFound(format!(
                    "the server answered for journal entry {}/{} which this device does not have",
                    r.epoch, r.seq
                )));
            }
        }
    }
    Ok(())
}
