//! The redraw of unclaimed prizes against the database (`admin redraw`, docs/draw.md
//! "Redraw"): after the claim deadline, every place of the draw whose prize nobody claimed is
//! drawn again from the tickets that have not won, as a separate execution with its reason. The
//! replaced results are marked `superseded_by` and can no longer be claimed.

use chrono::{DateTime, Utc};
use rsu_core::wire::ErrorCode;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::algorithm::Redraw;
use super::algorithm::{self as alg, Winner};
use super::redraw;
use crate::error::{AppError, AppResult};

/// What the redraw needs from the admin.
#[derive(Clone, Debug)]
pub struct RedrawRequest<'a> {
    pub event_id: Uuid,
    /// Why, citing what allows it (e.g. "unclaimed after 90 days, rules §7").
    pub reason: &'a str,
    pub beacon: Option<&'a str>,
    pub by: &'a str,
}

type ResultRow = (Uuid, i32, Uuid, i16, i32, i32, i64, Uuid, bool);

/// The draw's current results (not superseded), in pick order, with whether each was claimed.
async fn draw_results(conn: &mut PgConnection, exec: Uuid) -> AppResult<Vec<ResultRow>> {
    Ok(sqlx::query_as(
        "SELECT r.id, r.pick, r.prize_id, r.position, r.winner_index, r.winning_number,
                r.prize_value_at_draw, r.winning_ticket_id,
                EXISTS (SELECT 1 FROM prize_claims c WHERE c.draw_result_id = r.id)
           FROM draw_results r WHERE r.draw_execution_id = $1 ORDER BY r.pick",
    )
    .bind(exec)
    .fetch_all(conn)
    .await?)
}

fn winner(r: &ResultRow) -> Winner {
    Winner {
        pick: u32::try_from(r.1).unwrap_or(0),
        prize_id: r.2,
        position: r.3,
        winner_index: u32::try_from(r.4).unwrap_or(0),
        winning_number: u32::try_from(r.5).unwrap_or(0),
        prize_value: r.6,
    }
}

/// Redraws every unclaimed place once the claim deadline has passed.
pub async fn run_redraw(pool: &PgPool, r: &RedrawRequest<'_>) -> AppResult<Value> {
    if r.reason.trim().is_empty() {
        return Err(AppError::bad_request(
            ErrorCode::InvalidField,
            "field reason: say why the prizes are redrawn and what allows it (e.g. \"unclaimed after 90 days, rules §7\")",
        ));
    }
    if let Some(b) = r.beacon {
        if b.len() > 1000 || b.chars().any(char::is_control) {
            return Err(AppError::bad_request(
                ErrorCode::InvalidField,
                "field beacon: at most 1000 bytes and no control characters (newlines, tabs)",
            ));
        }
    }
    let mut tx = pool.begin().await?;
    let ev: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT state, configuration->'jurisdiction'->>'claimDeadline' FROM events WHERE id = $1 FOR UPDATE",
    )
    .bind(r.event_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (state, deadline_text) = ev.ok_or_else(|| {
        AppError::not_found(
            ErrorCode::UnknownEvent,
            format!("field eventId: no event {}", r.event_id),
        )
    })?;
    let draw: Option<(Uuid, DateTime<Utc>, String)> = sqlx::query_as(
        "SELECT id, started_at, system_checksum FROM draw_executions WHERE event_id = $1 AND kind = 'draw'",
    )
    .bind(r.event_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((draw_id, drawn_at, draw_checksum)) = draw else {
        return Err(AppError::conflict(
            ErrorCode::NotDrawn,
            format!("the event is {state} and has not been drawn: there is nothing to redraw"),
        ));
    };
    let done: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT started_at FROM draw_executions WHERE event_id = $1 AND kind = 'redraw'",
    )
    .bind(r.event_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(at) = done {
        return Err(AppError::conflict(
            ErrorCode::AlreadyRedrawn,
            format!(
                "the event's unclaimed prizes were already redrawn at {}: a redraw runs once (one redraw secret)",
                rsu_core::journal::format_time(&at)
            ),
        ));
    }
    let now = Utc::now();
    let deadline = deadline_text
        .as_deref()
        .and_then(|t| crate::claims::claim_deadline(t, drawn_at));
    match deadline {
        None => {
            return Err(AppError::conflict(
                ErrorCode::ClaimDeadlineUnknown,
                format!(
                    "the claim deadline {:?} is not a date, a time or \"N days\": a redraw needs a deadline that has passed",
                    deadline_text.unwrap_or_default()
                ),
            ))
        }
        Some(d) if now < d => {
            return Err(AppError::conflict(
                ErrorCode::ClaimDeadlineNotPassed,
                format!(
                    "claims are open until {}: unclaimed prizes can be redrawn after that",
                    rsu_core::journal::format_time(&d)
                ),
            ))
        }
        Some(_) => {}
    }
    let results = draw_results(&mut tx, draw_id).await?;
    let unclaimed: Vec<&ResultRow> = results.iter().filter(|x| !x.8).collect();
    if unclaimed.is_empty() {
        return Err(AppError::conflict(
            ErrorCode::NothingToRedraw,
            "every prize of the draw was claimed: there is nothing to redraw",
        ));
    }
    let secret: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT redraw_secret FROM event_draw_seeds WHERE event_id = $1")
            .bind(r.event_id)
            .fetch_optional(&mut *tx)
            .await?;
    let secret: [u8; 32] = secret
        .flatten()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| {
            AppError::conflict(
                ErrorCode::NoRedrawCommitment,
                "the draw committed no redraw secret: this event cannot be redrawn verifiably",
            )
        })?;
    let tickets = super::store::eligible_numbers(&mut tx, r.event_id).await?;
    let sum = alg::checksum(&tickets).map_err(|e| AppError::internal("redraw", e))?;
    if hex::encode(sum) != draw_checksum {
        return Err(AppError::conflict(
            ErrorCode::TicketSetChanged,
            "the eligible tickets no longer give the checksum recorded at the draw: investigate before redrawing",
        ));
    }
    let all: Vec<Winner> = results.iter().map(winner).collect();
    let rest = redraw::remaining(&tickets, &all);
    drop(tickets);
    let rest_sum = alg::checksum(&rest).map_err(|e| AppError::internal("redraw", e))?;
    let seed = redraw::redraw_seed(&secret, &rest_sum, r.beacon.unwrap_or(""));
    let replaced: Vec<Winner> = unclaimed.iter().map(|x| winner(x)).collect();
    let new = redraw::select_replacements(&rest, &seed, &replaced);
    let replaced_picks: Vec<u32> = replaced.iter().map(|w| w.pick).collect();

    let exec_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO draw_executions (id, event_id, state, started_at, rng_seed, system_checksum, kind, reason,
                                      conducted_by_name, completed_at, commitment, secret, beacon, ticket_count, prizes)
         SELECT $1, $2, 'completed', $3, $4, $5, 'redraw', $6, $7, $3, encode(s.redraw_commitment, 'hex'),
                $8, $9, $10, $11
           FROM event_draw_seeds s WHERE s.event_id = $2",
    )
    .bind(exec_id)
    .bind(r.event_id)
    .bind(now)
    .bind(hex::encode(seed))
    .bind(hex::encode(rest_sum))
    .bind(r.reason.trim())
    .bind(r.by)
    .bind(hex::encode(secret))
    .bind(r.beacon)
    .bind(rest.len() as i64)
    .bind(json!({"replacedPicks": replaced_picks}))
    .execute(&mut *tx)
    .await?;
    super::store::write_results(&mut tx, r.event_id, exec_id, &new, now).await?;
    let old_ids: Vec<Uuid> = unclaimed.iter().map(|x| x.0).collect();
    let old_tickets: Vec<Uuid> = unclaimed.iter().map(|x| x.7).collect();
    sqlx::query("UPDATE draw_results SET superseded_by = $2 WHERE id = ANY($1)")
        .bind(&old_ids)
        .bind(exec_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE tickets SET state = 'sold', updated_at = NOW() WHERE id = ANY($1)")
        .bind(&old_tickets)
        .execute(&mut *tx)
        .await?;
    let out = json!({"eventId": r.event_id, "executionId": exec_id, "reason": r.reason.trim(),
                     "conductedBy": r.by, "conductedAt": now, "secret": hex::encode(secret),
                     "beacon": r.beacon, "checksum": hex::encode(rest_sum), "seed": hex::encode(seed),
                     "remainingTickets": rest.len(), "replacedPicks": replaced_picks,
                     "forfeitedNumbers": replaced.iter().map(|w| w.winning_number).collect::<Vec<_>>(),
                     "winners": new});
    sqlx::query(
        "INSERT INTO critical_events (event_type, event_id, severity, description, metadata)
         VALUES ('DRAW_REDRAWN', $1, 'WARNING', $2, $3)",
    )
    .bind(r.event_id)
    .bind(format!(
        "{} unclaimed prize place(s) redrawn by {}: {}",
        new.len(),
        r.by,
        r.reason.trim()
    ))
    .bind(&out)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, new_data, changed_by)
         VALUES ('draw_executions', 'INSERT', $1, $2, $3)",
    )
    .bind(exec_id)
    .bind(&out)
    .bind(crate::accounts::changed_by())
    .execute(&mut *tx)
    .await?;
    // Devices carry the results in their configuration: the new winners reach them at their next pull.
    crate::config_version::bump_config_version_of_event(&mut tx, r.event_id).await?;
    tx.commit().await?;
    Ok(out)
}

/// The redraw commitment and the redraw (if any) of an event, for the export.
pub async fn redraws_of(
    conn: &mut PgConnection,
    event_id: Uuid,
) -> AppResult<(Option<String>, Vec<Redraw>)> {
    let commitment: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT redraw_commitment FROM event_draw_seeds WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(&mut *conn)
            .await?;
    type Row = (
        Uuid,
        Option<String>,
        DateTime<Utc>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<Value>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, conducted_by_name, started_at, reason, secret, beacon, system_checksum, rng_seed, prizes
           FROM draw_executions WHERE event_id = $1 AND kind = 'redraw' ORDER BY started_at",
    )
    .bind(event_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    for (id, by, at, reason, secret, beacon, checksum, seed, prizes) in rows {
        let replaced_picks: Vec<u32> = prizes
            .and_then(|p| p.get("replacedPicks").cloned())
            .and_then(|p| serde_json::from_value(p).ok())
            .unwrap_or_default();
        let results: Vec<(i32, Uuid, i16, i32, i32, i64)> = sqlx::query_as(
            "SELECT pick, prize_id, position, winner_index, winning_number, prize_value_at_draw
               FROM draw_results WHERE draw_execution_id = $1 ORDER BY pick",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        out.push(Redraw {
            execution_id: id,
            conducted_by: by.unwrap_or_default(),
            conducted_at: at,
            reason: reason.unwrap_or_default(),
            secret: secret.unwrap_or_default(),
            beacon,
            checksum: checksum.unwrap_or_default(),
            seed: seed.unwrap_or_default(),
            replaced_picks,
            results: results
                .into_iter()
                .map(|(pick, prize_id, position, idx, num, value)| Winner {
                    pick: u32::try_from(pick).unwrap_or(0),
                    prize_id,
                    position,
                    winner_index: u32::try_from(idx).unwrap_or(0),
                    winning_number: u32::try_from(num).unwrap_or(0),
                    prize_value: value,
                })
                .collect(),
        });
    }
    Ok((commitment.flatten().map(hex::encode), out))
}
