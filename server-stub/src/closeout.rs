//! Closing out an event on the server (issue 11): resolving rejected or conflicting journal
//! entries, excluding an RSU from an event (a lost or destroyed device) and lifting that, the
//! draw gate of `admin transition` (`reconciling → reconciled` only when every RSU holding an
//! allocation is reconciled or excluded; `→ configured` only with packages, an rsu range and a
//! prize; `→ completed` only after a completed draw), and the report over HTTP.
//!
//! Who did it: the CLI's `--by NAME` (or SERVER_STUB_ADMIN_NAME, or the login name in USER),
//! over HTTP the API token's user, or the `X-Admin-Name` header with the shared token; the name is
//! recorded as text, the user's id in `audit_log.changed_by` (`accounts::actor`).
//!
//! Why this file is over 600 lines: resolve, exclusions and the draw gate share the event,
//! exception and allocation queries; its HTTP handlers already moved to `routes/admin/`.

use rsu_core::event::EventState;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::report;
use rsu_core::wire::ErrorCode;

/// The HTTP header naming the person behind an admin request.
pub const HEADER_ADMIN_NAME: &str = "x-admin-name";

tokio::task_local! {
    /// Who is performing the admin operation running in this task (set by the CLI and the
    /// HTTP handlers); read by the gate of `admin::transition` to record who confirmed a
    /// reconciliation.
    static ACTOR: String;
}

/// Runs `f` with `by` recorded as the person performing it.
pub async fn with_actor<F: std::future::Future>(by: Option<String>, f: F) -> F::Output {
    ACTOR.scope(by.unwrap_or_default(), f).await
}

/// The person performing the current operation, if one was given.
pub fn actor() -> Option<String> {
    ACTOR
        .try_with(|a| a.trim().to_string())
        .ok()
        .filter(|a| !a.is_empty())
}

fn require_actor(by: Option<&str>, what: &str) -> AppResult<String> {
    by.map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            AppError::of(
                ErrorCode::MissingAdminName,
                format!(
                    "say who {what}: `--by NAME` (or SERVER_STUB_ADMIN_NAME) on the CLI, header X-Admin-Name over HTTP"
                ),
            )
        })
}

fn bad(field: &str, why: impl std::fmt::Display) -> AppError {
    AppError::of(ErrorCode::InvalidField, format!("field {field}: {why}"))
}

async fn audit(
    conn: &mut PgConnection,
    table: &str,
    id: Uuid,
    old: Option<Value>,
    new: Value,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, old_data, new_data, changed_by)
         VALUES ($1, 'UPDATE', $2, $3, $4, $5)",
    )
    .bind(table)
    .bind(id)
    .bind(old)
    .bind(new)
    .bind(crate::accounts::changed_by())
    .execute(conn)
    .await?;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Resolving exceptions
// ----------------------------------------------------------------------------------------------

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resolve {
    /// The entry id of a rejected or conflicting journal entry (or the id of a seq conflict), as
    /// the report lists it under `exceptions[].id`.
    #[arg(long)]
    pub entry_id: Uuid,
    /// What was done about it, e.g. "customer refunded".
    #[arg(long)]
    pub note: String,
    /// Only when the entry id is used by more than one stored entry: the seq to resolve.
    #[arg(long)]
    #[serde(default)]
    pub seq: Option<i64>,
}

type OpenEntry = (
    Uuid,
    i32,
    i64,
    String,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<String>,
    Option<String>,
);

/// Records who resolved a rejected or conflicting entry, when and why. Nothing is deleted; a
/// second resolution is refused.
pub async fn resolve(pool: &PgPool, a: &Resolve, by: Option<&str>) -> AppResult<Value> {
    if a.note.trim().is_empty() {
        return Err(bad(
            "note",
            "must not be empty: say what was done (e.g. \"customer refunded\")",
        ));
    }
    let by = require_actor(by, "resolves the entry")?;
    let mut tx = pool.begin().await?;
    let rows: Vec<OpenEntry> = sqlx::query_as(
        "SELECT rsu_id, epoch, seq, status, reason_code, resolved_at, resolved_by_name, resolution_note
           FROM device_journal
          WHERE entry_id = $1 AND status <> 'applied' AND ($2::int8 IS NULL OR seq = $2)
          ORDER BY epoch, seq FOR UPDATE",
    )
    .bind(a.entry_id)
    .bind(a.seq)
    .fetch_all(&mut *tx)
    .await?;
    let open: Vec<&OpenEntry> = rows.iter().filter(|r| r.5.is_none()).collect();
    if open.len() > 1 {
        let seqs: Vec<String> = open
            .iter()
            .map(|r| format!("epoch {} seq {}", r.1, r.2))
            .collect();
        return Err(AppError::of(
            ErrorCode::AmbiguousEntry,
            format!(
                "entry id {} is used by {} open entries ({}): add --seq to say which one; nothing changed",
                a.entry_id,
                open.len(),
                seqs.join(", ")
            ),
        ));
    }
    if let Some((rsu, epoch, seq, status, code, ..)) = open.first().copied() {
        sqlx::query(
            "UPDATE device_journal SET resolved_at = NOW(), resolved_by_name = $4, resolution_note = $5
              WHERE rsu_id = $1 AND epoch = $2 AND seq = $3",
        )
        .bind(rsu)
        .bind(epoch)
        .bind(seq)
        .bind(&by)
        .bind(a.note.trim())
        .execute(&mut *tx)
        .await?;
        let out = json!({"entryId": a.entry_id, "source": "entry", "rsuId": rsu, "epoch": epoch,
                         "seq": seq, "status": status, "reasonCode": code,
                         "resolvedBy": by, "resolutionNote": a.note.trim()});
        record_resolution(&mut tx, *rsu, &out).await?;
        tx.commit().await?;
        return Ok(out);
    }
    if let Some((_, epoch, seq, _, _, Some(at), rby, note)) = rows.first() {
        return Err(already_resolved(a.entry_id, *epoch, *seq, at, rby, note));
    }
    // A seq conflict (journal_conflicts) by its id.
    type ConflictRow = (
        Uuid,
        i32,
        i64,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<String>,
        Option<String>,
    );
    let c: Option<ConflictRow> = sqlx::query_as(
        "SELECT rsu_id, epoch, seq, resolved_at, resolved_by_name, resolution_note
           FROM journal_conflicts WHERE id = $1 FOR UPDATE",
    )
    .bind(a.entry_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((rsu, epoch, seq, at, rby, note)) = c {
        if let Some(at) = at {
            return Err(already_resolved(a.entry_id, epoch, seq, &at, &rby, &note));
        }
        sqlx::query(
            "UPDATE journal_conflicts SET resolved_at = NOW(), resolved_by_name = $2, resolution_note = $3 WHERE id = $1",
        )
        .bind(a.entry_id)
        .bind(&by)
        .bind(a.note.trim())
        .execute(&mut *tx)
        .await?;
        let out = json!({"entryId": a.entry_id, "source": "seq_conflict", "rsuId": rsu,
                         "epoch": epoch, "seq": seq, "status": "conflict",
                         "reasonCode": "seq_conflict", "resolvedBy": by,
                         "resolutionNote": a.note.trim()});
        record_resolution(&mut tx, rsu, &out).await?;
        tx.commit().await?;
        return Ok(out);
    }
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM device_journal WHERE entry_id = $1 LIMIT 1")
            .bind(a.entry_id)
            .fetch_optional(&mut *tx)
            .await?;
    Err(match applied {
        Some(seq) => AppError::of(
            ErrorCode::NotAnException,
            format!(
                "entry {} (seq {seq}) was applied: only rejected or conflicting entries are resolved",
                a.entry_id
            ),
        ),
        None if a.seq.is_some() => AppError::of(
            ErrorCode::UnknownEntry,
            format!(
                "field entryId/seq: no rejected or conflicting entry {} at seq {}",
                a.entry_id,
                a.seq.unwrap_or(0)
            ),
        ),
        None => AppError::of(
            ErrorCode::UnknownEntry,
            format!(
                "field entryId: no journal entry or seq conflict {}; the report lists them under exceptions[].id",
                a.entry_id
            ),
        ),
    })
}

fn already_resolved(
    id: Uuid,
    epoch: i32,
    seq: i64,
    at: &chrono::DateTime<chrono::Utc>,
    by: &Option<String>,
    note: &Option<String>,
) -> AppError {
    AppError::of(
        ErrorCode::AlreadyResolved,
        format!(
            "entry {id} (epoch {epoch} seq {seq}) was already resolved at {} by {}: {:?}; nothing changed",
            rsu_core::journal::format_time(at),
            by.as_deref().unwrap_or("(unknown)"),
            note.as_deref().unwrap_or("")
        ),
    )
}

async fn record_resolution(conn: &mut PgConnection, rsu: Uuid, out: &Value) -> AppResult<()> {
    audit(
        conn,
        "device_journal",
        rsu,
        Some(json!({"resolvedAt": null})),
        out.clone(),
    )
    .await?;
    sqlx::query(
        "INSERT INTO critical_events (event_type, rsu_id, severity, description, metadata)
         VALUES ('EXCEPTION_RESOLVED', $1, 'INFO', $2, $3)",
    )
    .bind(rsu)
    .bind(format!(
        "Journal exception epoch {} seq {} resolved by {}: {}",
        out["epoch"], out["seq"], out["resolvedBy"], out["resolutionNote"]
    ))
    .bind(out)
    .execute(conn)
    .await?;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Excluding an RSU from an event
// ----------------------------------------------------------------------------------------------

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExcludeRsu {
    #[arg(long)]
    pub event_id: Uuid,
    #[arg(long)]
    pub rsu_id: Uuid,
    /// Why, e.g. "device stolen at gate 4, police report 123".
    #[arg(long)]
    pub reason: String,
    /// Also mark the RSU lost (every key revoked).
    #[arg(long, default_value_t = false)]
    #[serde(default)]
    pub lost: bool,
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IncludeRsu {
    #[arg(long)]
    pub event_id: Uuid,
    #[arg(long)]
    pub rsu_id: Uuid,
    /// Why the exclusion is lifted, e.g. "device found and synced".
    #[arg(long)]
    pub reason: String,
}

/// Locks the event row against a concurrent transition (`FOR SHARE`) and checks that its
/// exclusions may still change; returns its organization.
async fn lock_event_for_exclusion(conn: &mut PgConnection, event_id: Uuid) -> AppResult<Uuid> {
    let row: Option<(Uuid, String)> =
        sqlx::query_as("SELECT organization_id, state FROM events WHERE id = $1 FOR SHARE")
            .bind(event_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (org, state) = row.ok_or_else(|| {
        AppError::of(
            ErrorCode::UnknownEvent,
            format!("field eventId: no event {event_id}"),
        )
    })?;
    let st = EventState::parse(&state).ok_or_else(|| AppError::internal("event state", &state))?;
    if st.is_reconciled_or_later() || st == EventState::Cancelled {
        return Err(AppError::of(
            ErrorCode::EventClosed,
            format!("the event is {state}: its exclusions can no longer change"),
        ));
    }
    Ok(org)
}

/// Excludes an RSU from an event's reconciliation (a lost or destroyed device): the report
/// shows it `excluded` with its unaccounted numbers listed as excluded, and the gate no longer
/// waits for it. With `lost`, the RSU is also marked lost (every key revoked).
pub async fn exclude_rsu(pool: &PgPool, a: &ExcludeRsu, by: Option<&str>) -> AppResult<Value> {
    if a.reason.trim().is_empty() {
        return Err(bad(
            "reason",
            "must not be empty: say why the RSU is excluded",
        ));
    }
    let by = require_actor(by, "excludes the RSU")?;
    let mut tx = pool.begin().await?;
    let org = lock_event_for_exclusion(&mut tx, a.event_id).await?;
    let rsu_org: Option<Uuid> =
        sqlx::query_scalar("SELECT organization_id FROM rsus WHERE id = $1")
            .bind(a.rsu_id)
            .fetch_optional(&mut *tx)
            .await?;
    match rsu_org {
        None => {
            return Err(AppError::of(
                ErrorCode::UnknownRsu,
                format!("field rsuId: no RSU {}", a.rsu_id),
            ))
        }
        Some(o) if o != org => {
            return Err(AppError::of(
                ErrorCode::OtherOrganization,
                format!(
                    "field rsuId: RSU {} belongs to another organization than event {}; nothing changed",
                    a.rsu_id, a.event_id
                ),
            ))
        }
        Some(_) => {}
    }
    let allocations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rsu_allocations WHERE event_id = $1 AND rsu_id = $2",
    )
    .bind(a.event_id)
    .bind(a.rsu_id)
    .fetch_one(&mut *tx)
    .await?;
    if allocations == 0 {
        return Err(AppError::of(
            ErrorCode::NoAllocation,
            format!(
                "RSU {} holds no allocation in event {}: there is nothing to exclude",
                a.rsu_id, a.event_id
            ),
        ));
    }
    let existing: Option<(chrono::DateTime<chrono::Utc>, String, String)> = sqlx::query_as(
        "SELECT excluded_at, excluded_by, reason FROM rsu_event_exclusions
          WHERE event_id = $1 AND rsu_id = $2 AND lifted_at IS NULL",
    )
    .bind(a.event_id)
    .bind(a.rsu_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((at, who, why)) = existing {
        return Err(AppError::of(
            ErrorCode::AlreadyExcluded,
            format!(
                "RSU {} is already excluded from this event (at {} by {who}: {why}); nothing changed",
                a.rsu_id,
                rsu_core::journal::format_time(&at)
            ),
        ));
    }
    // Marking it lost first, in its own transaction: it locks the RSU row, which our inserts
    // below would hold (foreign keys) and so wait on. If what follows fails, the RSU stays lost
    // and running exclude-rsu again (without --lost) finishes the exclusion.
    let lost = if a.lost {
        Some(
            crate::lifecycle::set_rsu_state(
                pool,
                &crate::lifecycle::SetRsuState {
                    rsu_id: a.rsu_id,
                    state: "lost".into(),
                    reason: a.reason.trim().to_string(),
                },
            )
            .await?,
        )
    } else {
        None
    };
    // The numbers it leaves unaccounted, as evidence kept with the exclusion.
    let rep = report::build(&mut tx, a.event_id).await?;
    let numbers: Vec<String> = rep
        .rsus
        .iter()
        .filter(|r| r.rsu_id == a.rsu_id)
        .flat_map(|r| r.ranges.iter())
        .flat_map(|g| g.unaccounted_numbers.iter().cloned())
        .collect();
    let unaccounted: i64 = rep
        .rsus
        .iter()
        .filter(|r| r.rsu_id == a.rsu_id)
        .map(|r| r.numbers.unaccounted)
        .sum();
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO rsu_event_exclusions (event_id, rsu_id, reason, marked_lost, excluded_by, unaccounted_at_exclusion)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(a.event_id)
    .bind(a.rsu_id)
    .bind(a.reason.trim())
    .bind(a.lost)
    .bind(&by)
    .bind(json!(numbers))
    .fetch_one(&mut *tx)
    .await?;
    let out = json!({"exclusionId": id, "eventId": a.event_id, "rsuId": a.rsu_id,
                     "reason": a.reason.trim(), "excludedBy": by, "markedLost": a.lost,
                     "excludedNumbers": numbers, "excludedCount": unaccounted});
    audit(&mut tx, "rsu_event_exclusions", id, None, out.clone()).await?;
    sqlx::query(
        "INSERT INTO critical_events (event_type, event_id, rsu_id, severity, description, metadata)
         VALUES ('RSU_EXCLUDED', $1, $2, 'WARNING', $3, $4)",
    )
    .bind(a.event_id)
    .bind(a.rsu_id)
    .bind(format!(
        "RSU excluded from the event by {by}: {} ({unaccounted} numbers unaccounted)",
        a.reason.trim()
    ))
    .bind(&out)
    .execute(&mut *tx)
    .await?;
    tx.commit().await.map_err(|e| {
        AppError::internal(
            "exclude-rsu commit",
            format!(
                "{e} (the RSU may be marked lost already: run exclude-rsu again without --lost)"
            ),
        )
    })?;
    let mut out = out;
    if let (Some(l), Some(m)) = (lost, out.as_object_mut()) {
        m.insert("rsuState".into(), l);
    }
    Ok(out)
}

/// Lifts an RSU's exclusion from an event (the device turned up and synced, or its journal
/// was imported). The exclusion row is kept with who lifted it, when and why.
pub async fn include_rsu(pool: &PgPool, a: &IncludeRsu, by: Option<&str>) -> AppResult<Value> {
    if a.reason.trim().is_empty() {
        return Err(bad(
            "reason",
            "must not be empty: say why the exclusion is lifted",
        ));
    }
    let by = require_actor(by, "lifts the exclusion")?;
    let mut tx = pool.begin().await?;
    lock_event_for_exclusion(&mut tx, a.event_id).await?;
    let row: Option<(Uuid, String, bool)> = sqlx::query_as(
        "UPDATE rsu_event_exclusions SET lifted_at = NOW(), lifted_by = $3, lift_reason = $4
          WHERE event_id = $1 AND rsu_id = $2 AND lifted_at IS NULL
          RETURNING id, reason, marked_lost",
    )
    .bind(a.event_id)
    .bind(a.rsu_id)
    .bind(&by)
    .bind(a.reason.trim())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, why, lost)) = row else {
        return Err(AppError::of(
            ErrorCode::NotExcluded,
            format!(
                "RSU {} is not excluded from event {}; nothing changed",
                a.rsu_id, a.event_id
            ),
        ));
    };
    let out = json!({"exclusionId": id, "eventId": a.event_id, "rsuId": a.rsu_id,
                     "liftedBy": by, "liftReason": a.reason.trim(), "exclusionReason": why,
                     "note": if lost { "the RSU is still marked lost: `admin set-rsu-state --state active` and a new enrollment token let it sync again" } else { "" }});
    audit(
        &mut tx,
        "rsu_event_exclusions",
        id,
        Some(json!({"liftedAt": null})),
        out.clone(),
    )
    .await?;
    sqlx::query(
        "INSERT INTO critical_events (event_type, event_id, rsu_id, severity, description, metadata)
         VALUES ('RSU_EXCLUSION_LIFTED', $1, $2, 'WARNING', $3, $4)",
    )
    .bind(a.event_id)
    .bind(a.rsu_id)
    .bind(format!(
        "Exclusion of the RSU lifted by {by}: {}",
        a.reason.trim()
    ))
    .bind(&out)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(out)
}

// ----------------------------------------------------------------------------------------------
// The gate of admin::transition
// ----------------------------------------------------------------------------------------------

/// What a transition needs beyond the state machine, checked inside the transaction that
/// changes the state (the event row is locked `FOR UPDATE` by the caller, so pushes, which lock
/// it `FOR SHARE`, and exclusions wait):
/// - `→ configured`: an active package, an `rsu` range and a prize;
/// - `reconciling → reconciled`: every RSU holding an allocation reconciled or excluded (the
///   report's `blocking` is empty); records who confirmed it;
/// - `→ completed`: a completed draw.
pub async fn gate(
    conn: &mut PgConnection,
    event_id: Uuid,
    from: EventState,
    to: EventState,
) -> AppResult<()> {
    match to {
        EventState::Configured => {
            let (packages, prizes, rsu_range): (i64, i64, bool) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM ticket_packages WHERE event_id = $1 AND is_active),
                        (SELECT count(*) FROM prizes WHERE event_id = $1),
                        EXISTS (SELECT 1 FROM events e,
                                       jsonb_array_elements(CASE WHEN jsonb_typeof(e.ticket_allocation->'ranges') = 'array'
                                                                 THEN e.ticket_allocation->'ranges' ELSE '[]'::jsonb END) r
                                 WHERE e.id = $1 AND r->>'type' = 'rsu')",
            )
            .bind(event_id)
            .fetch_one(&mut *conn)
            .await?;
            let mut missing = Vec::new();
            if packages == 0 {
                missing.push("an active package (admin add-package)");
            }
            if !rsu_range {
                missing
                    .push("an rsu ticket range (create-event --rsu-range-start/--rsu-range-end)");
            }
            if prizes == 0 {
                missing.push("a prize (admin add-prize)");
            }
            if !missing.is_empty() {
                return Err(AppError::of(
                    ErrorCode::NotConfigured,
                    format!(
                        "the event cannot become configured: it needs {}",
                        missing.join(", ")
                    ),
                ));
            }
        }
        EventState::Reconciled if from == EventState::Reconciling => {
            // The CLI and HTTP always run inside with_actor and must name someone; a library
            // call outside it (tests, the demo) records no name.
            let by = match ACTOR.try_with(|_| ()) {
                Ok(()) => Some(require_actor(
                    actor().as_deref(),
                    "confirms the reconciliation",
                )?),
                Err(_) => None,
            };
            let rep = report::build(conn, event_id).await?;
            if !rep.blocking.is_empty() {
                let list: Vec<String> = rep
                    .blocking
                    .iter()
                    .map(|b| {
                        let reasons: Vec<String> =
                            b.reasons.iter().map(|r| r.message.clone()).collect();
                        format!(
                            "RSU {} ({}, {}): {}",
                            b.rsu_no,
                            b.rsu_name,
                            b.rsu_id,
                            reasons.join("; ")
                        )
                    })
                    .collect();
                return Err(AppError::of(
                    ErrorCode::ReconciliationBlocked,
                    format!(
                        "the event cannot be reconciled: {} RSU(s) are not reconciled or excluded — {}. Resolve, sync, close or exclude them (server-stub admin report --event-id {event_id})",
                        rep.blocking.len(),
                        list.join(" | ")
                    ),
                ));
            }
            sqlx::query("UPDATE events SET reconciliation_confirmed_by_name = $2 WHERE id = $1")
                .bind(event_id)
                .bind(&by)
                .execute(&mut *conn)
                .await?;
        }
        EventState::Completed => {
            let done: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM draw_executions WHERE event_id = $1 AND state = 'completed')",
            )
            .bind(event_id)
            .fetch_one(&mut *conn)
            .await?;
            if !done {
                return Err(AppError::of(
                    ErrorCode::DrawNotCompleted,
                    "the event cannot be completed before its draw is completed: run admin draw --event-id EV (docs/draw.md), which completes it",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportQuery {
    #[serde(default)]
    pub format: Option<String>,
}
