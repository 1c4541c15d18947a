//! Journal push = reconciliation (DESIGN §6 "Push", §7; docs/protocol.md §5).
//!
//! One PostgreSQL transaction per batch. The device's epoch row is locked first (`FOR UPDATE`),
//! so pushes of one device are serialized and the same batch sent on many connections at once is
//! applied exactly once: the later pushes find every seq stored and answer `duplicate`.
//!
//! The work is split the way atuin's sync is:
//! - [`snapshot`] locks the epoch row and reads, in one more statement, every row the new entries
//!   name;
//! - [`plan`] decides every entry's answer from the batch and that snapshot, with no I/O (one
//!   check per entry kind, each payload decoded once into rsu-core's [`rsu_core::payload::Payload`]);
//! - [`write`] applies the plan set-wise: `COPY` into `device_journal`, `orders` and `tickets`,
//!   `UPDATE … FROM UNNEST(…)` for voids and counters. It is the only code that inserts journal
//!   rows.
//!
//! This file holds the push as it arrives ([`IncomingPush`]), its shape check, and [`push`] with
//! the collision retry. Nothing uses a bare `ON CONFLICT DO NOTHING` (docs/sync.md rule 5): a
//! draw number that collides with another order raises `tickets_event_draw_number_key`, the
//! transaction rolls back, the taken numbers are read, the plan is made again with them, and
//! those sales are answered `draw_number_taken`.

use chrono::{DateTime, TimeZone, Utc};
use rsu_core::journal::{format_time, ChainHash, EntryBody, EntryKind, JournalEntry};
use rsu_core::validation::ValidationNumber;
use rsu_core::wire::ErrorCode;
use rsu_core::wire::{PushRequest, PushResponse};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::HashSet;
use uuid::Uuid;

use crate::auth::Device;
use crate::error::{AppError, AppResult};

pub mod plan;
pub mod snapshot;
mod write;

use plan::{Entries, PushContext};
use write::WriteError;

/// A copy of `v` with every NUL character replaced by U+FFFD, when it has any: PostgreSQL's
/// `jsonb` and `text` cannot store NUL, and a stored entry must never make the batch fail.
pub fn without_nul(v: &Value) -> Option<Value> {
    fn has(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(has),
            Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has(v)),
            _ => false,
        }
    }
    fn clean(v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(s.replace('\0', "\u{FFFD}")),
            Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.replace('\0', "\u{FFFD}"), clean(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    has(v).then(|| clean(v))
}

/// Named crash points for the kill tests (`SERVER_STUB_CRASH_POINT`): the process aborts there,
/// as a power cut or `kill -9` would, before the batch commits.
pub(crate) fn crash_point(name: &str) {
    if std::env::var("SERVER_STUB_CRASH_POINT").is_ok_and(|v| v == name) {
        eprintln!("server-stub: crash point {name} reached, aborting");
        std::process::abort();
    }
}

/// `POST /v1/rsu/journal` as the client wrote it. Entries are read field by field (not through
/// `JournalEntry`'s flattened form) so that an error names its path (`entries[0].seq`), and
/// `createdAt` and `entryId` are kept as written: the server rebuilds them for the canonical
/// bytes, so a client that wrote another form would otherwise get a permanent `broken_chain`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IncomingPush {
    pub epoch: i64,
    pub entries: Vec<IncomingEntry>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingEntry {
    pub epoch: i64,
    pub seq: u64,
    pub entry_id: String,
    pub kind: EntryKind,
    pub created_at: String,
    pub payload: Value,
    pub prev_hash: ChainHash,
    pub hash: ChainHash,
}

/// The earliest time the server accepts in a journal entry (`createdAt`, `soldAt`, …).
pub fn earliest_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The first time the server no longer accepts (2100-01-01T00:00:00Z).
pub fn end_of_times() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether `t` is a time the server accepts (2000-01-01 ≤ t < 2100-01-01, UTC).
pub fn in_range(t: &DateTime<Utc>) -> bool {
    *t >= earliest_time() && *t < end_of_times()
}

impl IncomingPush {
    /// The push as typed entries, and per entry what is wrong with the form of its `createdAt`
    /// or `entryId` (answered `bad_payload` for that entry alone). An entryId that is no UUID at
    /// all cannot be stored and is refused for the whole push (400 `invalid_field`).
    pub fn into_push(
        self,
        received_at: DateTime<Utc>,
    ) -> AppResult<(PushRequest, Vec<Option<String>>)> {
        let mut entries = Vec::with_capacity(self.entries.len());
        let mut forms = Vec::with_capacity(self.entries.len());
        for (i, e) in self.entries.into_iter().enumerate() {
            let entry_id = Uuid::parse_str(&e.entry_id).map_err(|_| {
                AppError::bad_request(
                    ErrorCode::InvalidField,
                    format!("field entries[{i}].entryId: {:?} is not a UUID", e.entry_id),
                )
            })?;
            let mut form = None;
            let created_at = match DateTime::parse_from_rfc3339(&e.created_at) {
                Ok(t) => {
                    let t = t.with_timezone(&Utc);
                    if format_time(&t) != e.created_at {
                        form = Some(format!(
                            "createdAt {:?} is not in the canonical form YYYY-MM-DDTHH:MM:SS.mmmZ (UTC, milliseconds): write {:?} and hash that",
                            e.created_at,
                            format_time(&t)
                        ));
                    }
                    t
                }
                Err(err) => {
                    form = Some(format!(
                        "createdAt {:?} is not an RFC 3339 time ({err}): write YYYY-MM-DDTHH:MM:SS.mmmZ",
                        e.created_at
                    ));
                    received_at
                }
            };
            if form.is_none() && entry_id.hyphenated().to_string() != e.entry_id {
                form = Some(format!(
                    "entryId {:?} is not in the canonical form (lower-case hyphenated): write {:?} and hash that",
                    e.entry_id,
                    entry_id.hyphenated().to_string()
                ));
            }
            forms.push(form);
            entries.push(JournalEntry {
                body: EntryBody {
                    epoch: e.epoch,
                    seq: e.seq,
                    entry_id,
                    kind: e.kind,
                    created_at,
                    payload: e.payload,
                },
                prev_hash: e.prev_hash,
                hash: e.hash,
            });
        }
        Ok((
            PushRequest {
                epoch: self.epoch,
                entries,
            },
            forms,
        ))
    }
}

/// Checks the batch's shape before any database work.
pub fn check_shape(req: &PushRequest) -> AppResult<()> {
    if req.entries.len() > rsu_core::wire::MAX_BATCH_ENTRIES {
        return Err(AppError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "entries has {} items; send at most {} per push",
                req.entries.len(),
                rsu_core::wire::MAX_BATCH_ENTRIES
            ),
        ));
    }
    for (i, e) in req.entries.iter().enumerate() {
        if e.body.epoch != req.epoch {
            return Err(AppError::bad_request(
                ErrorCode::InvalidField,
                format!(
                    "field entries[{i}].epoch is {} but the push is for epoch {}",
                    e.body.epoch, req.epoch
                ),
            ));
        }
        if e.body.seq == 0 {
            return Err(AppError::bad_request(
                ErrorCode::InvalidField,
                format!("field entries[{i}].seq must be 1 or more"),
            ));
        }
        if i > 0 && e.body.seq != req.entries[i - 1].body.seq + 1 {
            return Err(AppError::bad_request(
                ErrorCode::BatchNotContiguous,
                format!(
                    "field entries[{i}].seq is {} after {}: a batch is consecutive seqs in order",
                    e.body.seq,
                    req.entries[i - 1].body.seq
                ),
            ));
        }
    }
    if req.epoch <= 0 || req.epoch > i64::from(i32::MAX) {
        return Err(AppError::bad_request(
            ErrorCode::InvalidField,
            "field epoch must be a positive epoch number",
        ));
    }
    Ok(())
}

/// Applies one push. The caller has authenticated the device and checked the shape.
///
/// Round trips of a batch of new sales: `BEGIN`, one statement that records the nonce and locks
/// the epoch row, one statement that reads everything the plan needs (stored entries of the
/// batch's seqs and the snapshot), three `COPY`s, one statement that advances the allocation
/// counters and the epoch, `COMMIT`. Voids, critical events, shift closes, releases and seq
/// conflicts add one statement each, only when the batch has them.
///
/// A draw number or validation number taken by another order makes the write fail on its UNIQUE
/// constraint; the whole transaction then rolls back and runs again with those numbers read
/// (`load_taken`), so the sales that claimed them are answered as rejections. No savepoint is
/// needed for that, and the common path pays for none. Payloads are decoded once, whatever the
/// number of attempts.
pub async fn push(
    pool: &PgPool,
    device: &Device,
    req: &PushRequest,
    forms: &[Option<String>],
    received_at: DateTime<Utc>,
) -> AppResult<PushResponse> {
    let epoch = i32::try_from(req.epoch).map_err(|_| {
        AppError::bad_request(ErrorCode::InvalidField, "field epoch is out of range")
    })?;
    let entries = Entries::new(&req.entries);
    let ctx = PushContext {
        device,
        received_at,
        forms,
    };
    // Numbers found taken after a collision, kept across attempts.
    let mut taken: HashSet<(Uuid, i64)> = HashSet::new();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tx = pool.begin().await?;
        let er = snapshot::lock(&mut tx, device, epoch, req).await?;
        let last_seq = u64::try_from(er.last_seq).unwrap_or(0);
        let fresh = entries.fresh(last_seq);
        let (stored, mut snap) =
            snapshot::load(&mut tx, device, epoch, req, last_seq, &fresh).await?;
        if attempt > 1 {
            snapshot::load_taken(&mut tx, &fresh, &mut taken).await?;
        }
        snap.taken.extend(taken.iter().copied());
        let plan = plan::plan(&ctx, &entries, &er, &stored, &snap);
        match write::write(&mut tx, device, epoch, &req.entries, &plan, received_at).await {
            Ok(()) => {
                crash_point("before_commit");
                tx.commit().await?;
                return Ok(PushResponse {
                    epoch: req.epoch,
                    results: plan.results,
                    acked_through_seq: plan.last_seq,
                    chain_head: plan.head,
                    chain_verified: plan.chain_broken_at.is_none(),
                    server_time: Utc::now(),
                });
            }
            Err(WriteError::Collision) if attempt < 4 => {
                // Another order holds a number or validation number this batch claims: start
                // again, read them after the lock, and plan again.
                tx.rollback().await?;
            }
            Err(WriteError::Collision) => {
                return Err(AppError::internal(
                    "ingest",
                    "collisions persisted after re-planning",
                ))
            }
            Err(WriteError::Db(e)) => return Err(e.into()),
        }
    }
}

/// The canonical form of a validation number (what is stored and compared), or the text itself
/// when it does not parse.
pub fn canonical_vn(text: &str) -> String {
    ValidationNumber::parse(text).map_or_else(|_| text.to_string(), |v| v.to_string())
}
