//! The sync daemon's bookkeeping (`rsu-syncd`): who to talk to, how the last rounds went, what the
//! server last said. Per-entry sync status stays beside each journal entry; this is about the
//! device as a whole. The table comes from migration `migrations/device/0002_sync.sql`;
//! [`Store::ensure_sync_state`] re-runs its idempotent statements for safety.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use uuid::Uuid;

use crate::CachedSql;
use crate::{parse_ts, parse_uuid, ts, Store, StoreError};

const SYNC_STATE_SQL: &str = include_str!("../../migrations/device/0002_sync.sql");

/// What the daemon needs to sign requests and to know where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncIdentity {
    pub rsu_id: Uuid,
    pub rsu_no: u32,
    pub epoch: i64,
    pub server_url: Option<String>,
    pub key_id: Option<Uuid>,
    pub config_version: i64,
    pub clock_offset_ms: i64,
}

/// The row of `sync_state`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncState {
    pub key_path: Option<String>,
    pub last_round_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub server_acked_through_seq: Option<u64>,
    pub server_chain_head: Option<String>,
    pub server_chain_verified: Option<bool>,
    pub server_config_version: Option<i64>,
    pub last_pull_at: Option<DateTime<Utc>>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub unacked_commands: Vec<Uuid>,
}

/// An event the device holds numbers for (or sells in), with how many numbers are left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopUpCandidate {
    pub event_id: Uuid,
    pub state: String,
    pub suspended: bool,
    pub numbers_left: i64,
}

fn opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.map(|s| parse_ts(&s)).transpose()
}

impl Store {
    /// Creates the `sync_state` table if it is missing. Idempotent; the daemon calls it at start.
    pub fn ensure_sync_state(&mut self) -> Result<(), StoreError> {
        let tx = self.begin()?;
        tx.execute_batch(SYNC_STATE_SQL)?;
        tx.commit()?;
        Ok(())
    }

    /// The identity the daemon signs with, or [`StoreError::NotEnrolled`].
    pub fn sync_identity(&self) -> Result<SyncIdentity, StoreError> {
        type Row = (String, u32, i64, Option<String>, Option<String>, i64, i64);
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT rsu_id, rsu_no, epoch, server_url, key_id, config_version, clock_offset_ms FROM device WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .optional()?;
        let (rsu_id, rsu_no, epoch, server_url, key_id, config_version, clock_offset_ms) =
            row.ok_or(StoreError::NotEnrolled)?;
        Ok(SyncIdentity {
            rsu_id: parse_uuid(&rsu_id)?,
            rsu_no,
            epoch,
            server_url,
            key_id: key_id.map(|k| parse_uuid(&k)).transpose()?,
            config_version,
            clock_offset_ms,
        })
    }

    /// The daemon's bookkeeping (all empty before the first round).
    pub fn sync_state(&self) -> Result<SyncState, StoreError> {
        let exists: i64 = self.conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sync_state'",
            [],
            |r| r.get(0),
        )?;
        if exists == 0 {
            return Ok(SyncState::default());
        }
        type Row = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            u32,
            Option<i64>,
            Option<String>,
            Option<bool>,
            Option<i64>,
            Option<String>,
            Option<String>,
            String,
        );
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT key_path, last_round_at, last_success_at, last_error_at, last_error_code, last_error,
                        consecutive_failures, server_acked_through_seq, server_chain_head, server_chain_verified,
                        server_config_version, last_pull_at, last_heartbeat_at, unacked_commands_json
                   FROM sync_state WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?,
                        r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?,
                    ))
                },
            )
            .optional()?;
        let Some(r) = row else {
            return Ok(SyncState::default());
        };
        let unacked: Vec<Uuid> = serde_json::from_str(&r.13)
            .map_err(|e| StoreError::Invalid(format!("sync_state.unacked_commands_json: {e}")))?;
        Ok(SyncState {
            key_path: r.0,
            last_round_at: opt_ts(r.1)?,
            last_success_at: opt_ts(r.2)?,
            last_error_at: opt_ts(r.3)?,
            last_error_code: r.4,
            last_error: r.5,
            consecutive_failures: r.6,
            server_acked_through_seq: r.7.map(|v| v.max(0) as u64),
            server_chain_head: r.8,
            server_chain_verified: r.9,
            server_config_version: r.10,
            last_pull_at: opt_ts(r.11)?,
            last_heartbeat_at: opt_ts(r.12)?,
            unacked_commands: unacked,
        })
    }

    /// Remembers where the private key was written at enrollment.
    pub fn set_key_path(&mut self, key_path: &str) -> Result<(), StoreError> {
        self.ensure_sync_state()?;
        let tx = self.begin()?;
        tx.execute(
            "UPDATE sync_state SET key_path = ?1 WHERE id = 1",
            [key_path],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A round in which every step succeeded: resets the failure count.
    pub fn record_sync_success(&mut self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self.begin()?;
        tx.execute(
            "UPDATE sync_state SET last_round_at = ?1, last_success_at = ?1, consecutive_failures = 0 WHERE id = 1",
            [ts(&at)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A failed round; returns the number of failed rounds in a row.
    pub fn record_sync_failure(
        &mut self,
        at: DateTime<Utc>,
        code: &str,
        message: &str,
    ) -> Result<u32, StoreError> {
        let tx = self.begin()?;
        tx.execute(
            "UPDATE sync_state SET last_round_at = ?1, last_error_at = ?1, last_error_code = ?2, last_error = ?3,
                    consecutive_failures = consecutive_failures + 1 WHERE id = 1",
            params![ts(&at), code, message],
        )?;
        let n: u32 = tx.query_row(
            "SELECT consecutive_failures FROM sync_state WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// The server's view after a push answer.
    pub fn record_push_ack(
        &mut self,
        acked_through_seq: u64,
        chain_head_hex: &str,
        chain_verified: bool,
    ) -> Result<(), StoreError> {
        let tx = self.begin()?;
        write_push_ack(&tx, acked_through_seq, chain_head_hex, chain_verified)?;
        tx.commit()?;
        Ok(())
    }

    /// A configuration was pulled (and applied); `commands` are its command ids, to be
    /// acknowledged by the next heartbeat.
    pub fn record_pull(&mut self, at: DateTime<Utc>, commands: &[Uuid]) -> Result<(), StoreError> {
        let mut state = self.sync_state()?;
        for c in commands {
            if !state.unacked_commands.contains(c) {
                state.unacked_commands.push(*c);
            }
        }
        let json = serde_json::to_string(&state.unacked_commands)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let tx = self.begin()?;
        tx.execute(
            "UPDATE sync_state SET last_pull_at = ?1, unacked_commands_json = ?2 WHERE id = 1",
            params![ts(&at), json],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A heartbeat was answered: the server's config version, and the commands it now knows
    /// were carried out.
    pub fn record_heartbeat(
        &mut self,
        at: DateTime<Utc>,
        server_config_version: i64,
        acknowledged: &[Uuid],
    ) -> Result<(), StoreError> {
        let mut state = self.sync_state()?;
        state.unacked_commands.retain(|c| !acknowledged.contains(c));
        let json = serde_json::to_string(&state.unacked_commands)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let tx = self.begin()?;
        tx.execute(
            "UPDATE sync_state SET last_heartbeat_at = ?1, server_config_version = ?2, unacked_commands_json = ?3 WHERE id = 1",
            params![ts(&at), server_config_version, json],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Events with their state and the numbers left in their active allocations (0 when none
    /// is active), for the top-up decision.
    pub fn top_up_candidates(&self) -> Result<Vec<TopUpCandidate>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.state, e.suspended,
                    coalesce((SELECT sum(a.end_number - a.next_number + 1) FROM allocations a
                               WHERE a.event_id = e.id AND a.state = 'active' AND a.withheld = 0), 0)
               FROM events e ORDER BY e.sales_start, e.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, state, suspended, left) = row?;
            out.push(TopUpCandidate {
                event_id: parse_uuid(&id)?,
                state,
                suspended,
                numbers_left: left,
            });
        }
        Ok(out)
    }
}

/// What an enrollment answer says beyond the identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnrollmentFacts {
    /// The highest sale seq the server has seen from this RSU: the next sale takes a higher one.
    pub last_sale_seq: u64,
    pub key_expires_at: Option<DateTime<Utc>>,
    /// The server accepted this database's continuity proof: entries of earlier epochs that
    /// are still pending stay and are pushed under the new key.
    pub continued: bool,
}

/// The device's signing key and a rotation in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyState {
    pub key_id: Option<Uuid>,
    pub key_expires_at: Option<DateTime<Utc>>,
    /// The key that signed the rotation to `key_id`, kept until `key_id` has worked once.
    pub previous_key_id: Option<Uuid>,
}

impl Store {
    /// Sets the identity from an enrollment answer, taking the epoch the *server* assigned
    /// (the server counts enrollments of this RSU across devices, so a fresh database may start
    /// at epoch 3). Same rules as [`Store::set_identity`]: refused while entries are pending, and
    /// an epoch that does not move forward is refused, so seqs of two epochs never mix.
    pub fn adopt_identity(
        &mut self,
        id: &crate::DeviceIdentity,
        server_epoch: i64,
    ) -> Result<i64, StoreError> {
        self.adopt_enrollment(id, server_epoch, &EnrollmentFacts::default())
    }

    /// [`Store::adopt_identity`] with the rest of the enrollment answer. With
    /// `facts.continued` (the server accepted this database's proof that it held the previous
    /// key of the same RSU), pending entries are allowed: they keep their epoch and are pushed
    /// under the new key.
    pub fn adopt_enrollment(
        &mut self,
        id: &crate::DeviceIdentity,
        server_epoch: i64,
        facts: &EnrollmentFacts,
    ) -> Result<i64, StoreError> {
        let pending = self.sync_counts()?.pending_entries;
        let now = self.now()?;
        let tx = self.begin()?;
        if pending > 0 {
            let same_rsu: Option<String> = tx
                .query_row("SELECT rsu_id FROM device WHERE id = 1", [], |r| r.get(0))
                .optional()?;
            if !facts.continued || same_rsu != Some(id.rsu_id.to_string()) {
                return Err(StoreError::PendingEntries {
                    count: pending,
                    action: "re-enrollment",
                });
            }
        }
        let max_epoch: Option<i64> = tx.query_row(
            "SELECT max(e) FROM (SELECT max(epoch) AS e FROM journal UNION ALL SELECT epoch FROM device WHERE id = 1)",
            [],
            |r| r.get(0),
        )?;
        if server_epoch < 1 || max_epoch.is_some_and(|m| server_epoch <= m) {
            return Err(StoreError::Invalid(format!(
                "the server started epoch {server_epoch} but this database already holds epoch {}: \
                 it may be a copy of another device's database; contact support",
                max_epoch.unwrap_or(0)
            )));
        }
        tx.execute(
            "INSERT INTO device (id, rsu_id, rsu_no, name, epoch, server_url, key_id, validation_key_hex, enrolled_at, sale_seq, key_expires_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (id) DO UPDATE SET rsu_id = excluded.rsu_id, rsu_no = excluded.rsu_no, name = excluded.name,
                 epoch = excluded.epoch, server_url = excluded.server_url, key_id = excluded.key_id,
                 validation_key_hex = excluded.validation_key_hex, enrolled_at = excluded.enrolled_at,
                 config_version = 0, sale_seq = max(device.sale_seq, excluded.sale_seq),
                 key_expires_at = excluded.key_expires_at",
            params![
                id.rsu_id.to_string(), id.rsu_no, id.name, server_epoch, id.server_url, id.key_id,
                id.validation_key_hex, ts(&now), i64::try_from(facts.last_sale_seq).unwrap_or(i64::MAX),
                facts.key_expires_at.map(|t| ts(&t)),
            ],
        )?;
        tx.execute(
            "UPDATE sync_state SET previous_key_id = NULL WHERE id = 1",
            [],
        )?;
        crate::journal::critical(
            &tx,
            now,
            "ENROLLED",
            "INFO",
            format!(
                "device {} enrolled as RSU {} (epoch {server_epoch}{})",
                id.name,
                id.rsu_no,
                if facts.continued {
                    format!(", continuing this database with {pending} entries still to sync")
                } else {
                    String::new()
                }
            ),
            None,
            serde_json::json!({"rsuId": id.rsu_id, "epoch": server_epoch, "continued": facts.continued,
                               "lastSaleSeq": facts.last_sale_seq}),
        )?;
        tx.commit()?;
        Ok(server_epoch)
    }

    /// The signing key, its expiry and a rotation in flight.
    pub fn key_state(&self) -> Result<KeyState, StoreError> {
        let (key_id, expires): (Option<String>, Option<String>) = self
            .conn
            .query_row(
                "SELECT key_id, key_expires_at FROM device WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or(StoreError::NotEnrolled)?;
        let previous: Option<String> = self
            .conn
            .query_row(
                "SELECT previous_key_id FROM sync_state WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(KeyState {
            key_id: key_id.map(|k| parse_uuid(&k)).transpose()?,
            key_expires_at: opt_ts(expires)?,
            previous_key_id: previous.map(|k| parse_uuid(&k)).transpose()?,
        })
    }

    /// Records when the current key expires (the server says so with every configuration).
    pub fn set_key_expiry(&mut self, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE device SET key_expires_at = ?1 WHERE id = 1",
            [ts(&expires_at)],
        )?;
        Ok(())
    }

    /// Switches to the key a rotation registered, in one transaction: the old key id is kept
    /// as `previous_key_id` until [`Store::confirm_key`].
    pub fn record_key_rotation(
        &mut self,
        new_key_id: Uuid,
        expires_at: DateTime<Utc>,
        key_path: &str,
    ) -> Result<(), StoreError> {
        let now = self.now()?;
        let tx = self.begin()?;
        let old: Option<String> = tx
            .query_row("SELECT key_id FROM device WHERE id = 1", [], |r| r.get(0))
            .optional()?
            .flatten();
        tx.execute(
            "UPDATE device SET key_id = ?1, key_expires_at = ?2 WHERE id = 1",
            params![new_key_id.to_string(), ts(&expires_at)],
        )?;
        tx.execute(
            "UPDATE sync_state SET previous_key_id = ?1, key_path = ?2 WHERE id = 1",
            params![old, key_path],
        )?;
        crate::journal::critical(
            &tx,
            now,
            "KEY_ROTATED",
            "INFO",
            format!(
                "device key rotated to {new_key_id} (expires {})",
                expires_at.format("%Y-%m-%d")
            ),
            None,
            serde_json::json!({"keyId": new_key_id, "previousKeyId": old, "expiresAt": ts(&expires_at)}),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The new key worked once: forget the previous one. Returns its id (its file can go).
    pub fn confirm_key(&mut self) -> Result<Option<Uuid>, StoreError> {
        let previous = self.key_state()?.previous_key_id;
        if previous.is_some() {
            self.conn.execute(
                "UPDATE sync_state SET previous_key_id = NULL WHERE id = 1",
                [],
            )?;
        }
        Ok(previous)
    }
}

/// How far the server holds this epoch and whether it verified the chain, inside the caller's
/// transaction.
pub(crate) fn write_push_ack(
    tx: &rusqlite::Transaction<'_>,
    acked_through_seq: u64,
    chain_head_hex: &str,
    chain_verified: bool,
) -> Result<(), StoreError> {
    tx.execute_cached(
        "UPDATE sync_state SET server_acked_through_seq = ?1, server_chain_head = ?2, server_chain_verified = ?3 WHERE id = 1",
        params![acked_through_seq as i64, chain_head_hex, chain_verified],
    )?;
    Ok(())
}
