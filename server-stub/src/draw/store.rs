//! The draw against the database: the committed secret, the eligible set, the execution and
//! its results, and the export that `verify-draw` replays. The algorithm itself is
//! [`super::algorithm`].

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use rsu_core::event::EventState;
use rsu_core::wire::ErrorCode;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::algorithm::{self as alg, Jackpot, Prize, Winner};
use crate::error::{AppError, AppResult};

/// Draws the event's 256-bit secret from the system RNG and stores it with its commitment,
/// unless the event already has one (a commitment once published is never replaced). Called by
/// the transition to `sales_closed`, inside its transaction.
pub async fn commit_seed(conn: &mut PgConnection, event_id: Uuid) -> AppResult<()> {
    let secret = crate::crypto::random_bytes::<32>()?;
    let commitment = alg::commitment(&secret);
    sqlx::query(
        "INSERT INTO event_draw_seeds (event_id, secret, commitment) VALUES ($1, $2, $3)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(&secret[..])
    .bind(&commitment[..])
    .execute(conn)
    .await?;
    Ok(())
}

/// The published part of an event's seed.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Commitment {
    /// SHA-256 of the secret, lower-case hex.
    pub commitment: String,
    pub committed_at: DateTime<Utc>,
    /// The secret, once the draw revealed it.
    pub secret: Option<String>,
    pub revealed_at: Option<DateTime<Utc>>,
}

/// The event's commitment (and the secret once revealed), if it has entered `sales_closed`.
pub async fn commitment_of(
    conn: &mut PgConnection,
    event_id: Uuid,
) -> AppResult<Option<Commitment>> {
    type SeedRow = (Vec<u8>, Vec<u8>, DateTime<Utc>, Option<DateTime<Utc>>);
    let row: Option<SeedRow> = sqlx::query_as(
        "SELECT secret, commitment, committed_at, revealed_at FROM event_draw_seeds WHERE event_id = $1",
    )
    .bind(event_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(secret, c, at, revealed)| Commitment {
        commitment: hex::encode(c),
        committed_at: at,
        secret: revealed.map(|_| hex::encode(secret)),
        revealed_at: revealed,
    }))
}

/// `admin draw-commitment`: the commitment of an event, or why there is none.
pub async fn show_commitment(pool: &PgPool, event_id: Uuid) -> AppResult<Value> {
    let mut conn = pool.acquire().await?;
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM events WHERE id = $1")
        .bind(event_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(state) = state else {
        return Err(unknown_event(event_id));
    };
    match commitment_of(&mut conn, event_id).await? {
        Some(c) => Ok(json!({"eventId": event_id, "state": state, "commitment": c.commitment,
                             "committedAt": c.committed_at, "secret": c.secret,
                             "revealedAt": c.revealed_at})),
        None => Err(AppError::not_found(
            ErrorCode::NoCommitment,
            format!("event {event_id} is {state} and has no committed seed: one is drawn when it enters sales_closed"),
        )),
    }
}

pub(super) fn unknown_event(id: Uuid) -> AppError {
    AppError::not_found(
        ErrorCode::UnknownEvent,
        format!("field eventId: no event {id}"),
    )
}

/// The eligible numbers, ascending: every ticket of the event that is not voided, of an order
/// that is not voided and not sold by an RSU excluded from the event (DESIGN §7 "Draw").
pub async fn eligible_numbers(conn: &mut PgConnection, event_id: Uuid) -> AppResult<Vec<u32>> {
    let excluded: Vec<Uuid> = sqlx::query_scalar(
        "SELECT rsu_id FROM rsu_event_exclusions WHERE event_id = $1 AND lifted_at IS NULL",
    )
    .bind(event_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::new();
    let mut rows = sqlx::query_scalar::<_, i32>(
        "SELECT t.draw_number FROM tickets t
          WHERE t.event_id = $1 AND t.state <> 'voided'
            AND t.order_id NOT IN (SELECT o.id FROM orders o
                                    WHERE o.event_id = $1
                                      AND (o.voided_at IS NOT NULL OR o.rsu_id = ANY($2)))
          ORDER BY t.draw_number",
    )
    .bind(event_id)
    .bind(&excluded)
    .fetch(&mut *conn);
    while let Some(n) = rows.try_next().await? {
        out.push(u32::try_from(n).map_err(|_| AppError::internal("draw number", n))?);
    }
    Ok(out)
}

/// The event's jackpot rule from its configuration, without the amount (set by the caller).
fn jackpot_rule(configuration: &Value) -> Option<Jackpot> {
    let bp = configuration.get("jackpotPercentageBp")?.as_u64()?;
    Some(Jackpot {
        seed_amount: configuration
            .get("jackpotSeedAmount")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        starting_amount: configuration
            .get("jackpotStartingAmount")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        percentage_bp: u32::try_from(bp).unwrap_or(u32::MAX),
        amount: 0,
    })
}

fn draw_error(e: alg::DrawError) -> AppError {
    AppError::conflict(
        ErrorCode::DrawInputsInvalid,
        format!("the draw cannot run: {e}"),
    )
}

/// What the draw needs from the admin.
#[derive(Clone, Debug)]
pub struct DrawRequest<'a> {
    pub event_id: Uuid,
    pub beacon: Option<&'a str>,
    pub by: &'a str,
}

/// The draw (DESIGN §7 "Draw", docs/draw.md): only in `drawing_ready`, once per event. Records
/// the execution and its results, reveals the secret, marks the winning tickets `winner` and
/// moves the event to `completed`, all in one transaction.
pub async fn run_draw(pool: &PgPool, r: &DrawRequest<'_>) -> AppResult<Value> {
    if let Some(b) = r.beacon {
        if b.len() > 1000 || b.chars().any(char::is_control) {
            return Err(AppError::bad_request(
                ErrorCode::InvalidField,
                "field beacon: at most 1000 bytes and no control characters (newlines, tabs)",
            ));
        }
    }
    let mut tx = pool.begin().await?;
    let ev: Option<(String, String, Value)> = sqlx::query_as(
        "SELECT state, currency::text, configuration FROM events WHERE id = $1 FOR UPDATE",
    )
    .bind(r.event_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (state, _currency, configuration) = ev.ok_or_else(|| unknown_event(r.event_id))?;
    let done: Option<(Uuid, DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "SELECT id, started_at, conducted_by_name FROM draw_executions WHERE event_id = $1 AND kind = 'draw'",
    )
    .bind(r.event_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((id, at, who)) = done {
        return Err(AppError::conflict(
            ErrorCode::AlreadyDrawn,
            format!(
                "event {} was already drawn at {} by {} (execution {id}): a draw runs once; see admin draw-export",
                r.event_id,
                rsu_core::journal::format_time(&at),
                who.as_deref().unwrap_or("(unknown)")
            ),
        ));
    }
    if EventState::parse(&state) != Some(EventState::DrawingReady) {
        return Err(AppError::conflict(
            ErrorCode::NotDrawingReady,
            format!(
                "the event is {state}: the draw runs only in drawing_ready (reconcile it, then admin transition --to drawing_ready)"
            ),
        ));
    }
    let seed_row: Option<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT secret, commitment FROM event_draw_seeds WHERE event_id = $1")
            .bind(r.event_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((secret, commitment)) = seed_row else {
        return Err(AppError::conflict(
            ErrorCode::NoCommitment,
            "the event has no committed seed (it entered sales_closed before the draw existed): the draw cannot be verified without one",
        ));
    };
    let secret: [u8; 32] = secret
        .try_into()
        .map_err(|_| AppError::internal("draw secret", "not 32 bytes"))?;
    if alg::commitment(&secret)[..] != commitment[..] {
        return Err(AppError::internal(
            "draw secret",
            "the stored secret does not match its commitment",
        ));
    }

    type PrizeRow = (Uuid, String, i16, String, Option<i64>, Option<i32>, i16);
    let prize_rows: Vec<PrizeRow> = sqlx::query_as(
        "SELECT id, name, position, type, value, percentage_bp, winner_count FROM prizes WHERE event_id = $1",
    )
    .bind(r.event_id)
    .fetch_all(&mut *tx)
    .await?;
    if prize_rows.is_empty() {
        return Err(AppError::conflict(
            ErrorCode::NoPrizes,
            "the event has no prize to draw: admin add-prize first",
        ));
    }
    let mut prizes: Vec<Prize> = prize_rows
        .into_iter()
        .map(|(id, name, position, kind, value, bp, count)| Prize {
            prize_id: id,
            name,
            position,
            kind,
            value,
            percentage_bp: bp.and_then(|b| u32::try_from(b).ok()),
            winner_count: u32::try_from(count).unwrap_or(0),
            value_per_winner: 0,
        })
        .collect();
    alg::draw_order(&mut prizes);
    let net_sales: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(total_amount) FILTER (WHERE voided_at IS NULL), 0)::int8 FROM orders WHERE event_id = $1",
    )
    .bind(r.event_id)
    .fetch_one(&mut *tx)
    .await?;
    let mut jackpot = jackpot_rule(&configuration);
    if let Some(j) = jackpot.as_mut() {
        j.amount = alg::jackpot_amount(j, net_sales).map_err(draw_error)?;
    }
    let values = alg::prize_values(&prizes, net_sales, jackpot.as_ref()).map_err(draw_error)?;
    for (p, v) in prizes.iter_mut().zip(values) {
        p.value_per_winner = v;
    }

    let numbers = eligible_numbers(&mut tx, r.event_id).await?;
    let checksum = alg::checksum(&numbers).map_err(draw_error)?;
    let beacon = r.beacon.unwrap_or("");
    let seed = alg::seed(&secret, &checksum, beacon);
    let winners = alg::select_winners(&numbers, &seed, &prizes);
    let ticket_count = numbers.len() as i64;
    drop(numbers);

    let exec_id = Uuid::now_v7();
    let now = Utc::now();
    sqlx::query(
        "INSERT INTO draw_executions (id, event_id, state, started_at, rng_seed, system_checksum, kind,
                                      conducted_by_name, completed_at, commitment, secret, beacon,
                                      ticket_count, net_sales, jackpot, prizes)
         VALUES ($1, $2, 'completed', $3, $4, $5, 'draw', $6, $3, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(exec_id)
    .bind(r.event_id)
    .bind(now)
    .bind(hex::encode(seed))
    .bind(hex::encode(checksum))
    .bind(r.by)
    .bind(hex::encode(&commitment))
    .bind(hex::encode(secret))
    .bind(r.beacon)
    .bind(ticket_count)
    .bind(net_sales)
    .bind(jackpot.as_ref().map(|j| json!(j)))
    .bind(json!(prizes))
    .execute(&mut *tx)
    .await?;
    write_results(&mut tx, r.event_id, exec_id, &winners, now).await?;
    // The second secret, for a redraw of unclaimed prizes: committed now, before anyone knows
    // which prizes will go unclaimed.
    let redraw_secret = crate::crypto::random_bytes::<32>()?;
    let redraw_commitment = alg::commitment(&redraw_secret);
    sqlx::query(
        "UPDATE event_draw_seeds SET revealed_at = $2, redraw_secret = $3, redraw_commitment = $4
          WHERE event_id = $1",
    )
    .bind(r.event_id)
    .bind(now)
    .bind(&redraw_secret[..])
    .bind(&redraw_commitment[..])
    .execute(&mut *tx)
    .await?;
    let names: std::collections::HashMap<Uuid, &str> = prizes
        .iter()
        .map(|p| (p.prize_id, p.name.as_str()))
        .collect();
    let listed: Vec<Value> = winners
        .iter()
        .map(|w| {
            json!({"pick": w.pick, "prizeId": w.prize_id,
                   "prizeName": names.get(&w.prize_id).copied().unwrap_or(""),
                   "position": w.position, "winnerIndex": w.winner_index,
                   "winningNumber": w.winning_number, "prizeValue": w.prize_value})
        })
        .collect();
    let places: u64 = prizes.iter().map(|p| u64::from(p.winner_count)).sum();
    let out = json!({
        "eventId": r.event_id, "executionId": exec_id, "conductedBy": r.by, "conductedAt": now,
        "ticketCount": ticket_count, "checksum": hex::encode(checksum),
        "commitment": hex::encode(&commitment), "secret": hex::encode(secret),
        "beacon": r.beacon, "seed": hex::encode(seed), "netSales": net_sales,
        "jackpot": jackpot, "winners": listed,
        "unawardedPlaces": places.saturating_sub(winners.len() as u64),
        "redrawCommitment": hex::encode(redraw_commitment),
        "state": "completed",
    });
    sqlx::query(
        "INSERT INTO critical_events (event_type, event_id, severity, description, metadata)
         VALUES ('DRAW_COMPLETED', $1, 'INFO', $2, $3)",
    )
    .bind(r.event_id)
    .bind(format!(
        "Draw by {}: {} winners from {ticket_count} eligible tickets, checksum {}",
        r.by,
        winners.len(),
        hex::encode(checksum)
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
    crate::admin::transition_in(
        &mut tx,
        &crate::admin::Transition {
            event_id: r.event_id,
            to: "completed".into(),
            reason: Some(format!("draw {exec_id}")),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// Inserts the results and marks the winning tickets `winner`.
pub(crate) async fn write_results(
    conn: &mut PgConnection,
    event_id: Uuid,
    exec_id: Uuid,
    winners: &[Winner],
    at: DateTime<Utc>,
) -> AppResult<()> {
    let numbers: Vec<i32> = winners
        .iter()
        .map(|w| i32::try_from(w.winning_number).unwrap_or(i32::MAX))
        .collect();
    let picks: Vec<i32> = winners.iter().map(|w| w.pick as i32).collect();
    let idx: Vec<i32> = winners.iter().map(|w| w.winner_index as i32).collect();
    let prizes: Vec<Uuid> = winners.iter().map(|w| w.prize_id).collect();
    let positions: Vec<i16> = winners.iter().map(|w| w.position).collect();
    let values: Vec<i64> = winners.iter().map(|w| w.prize_value).collect();
    let n = sqlx::query(
        "INSERT INTO draw_results (draw_execution_id, prize_id, position, winning_ticket_id, winning_number,
                                   prize_value_at_draw, selected_at, pick, winner_index)
         SELECT $1, w.prize_id, w.position, t.id, w.num, w.value, $3, w.pick, w.idx
           FROM unnest($4::uuid[], $5::int2[], $6::int4[], $7::int8[], $8::int4[], $9::int4[])
                  AS w(prize_id, position, num, value, pick, idx)
           JOIN tickets t ON t.event_id = $2 AND t.draw_number = w.num",
    )
    .bind(exec_id)
    .bind(event_id)
    .bind(at)
    .bind(&prizes)
    .bind(&positions)
    .bind(&numbers)
    .bind(&values)
    .bind(&picks)
    .bind(&idx)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n != winners.len() as u64 {
        return Err(AppError::internal(
            "draw results",
            format!("{n} results written for {} winners", winners.len()),
        ));
    }
    sqlx::query(
        "UPDATE tickets SET state = 'winner', updated_at = NOW() WHERE event_id = $1 AND draw_number = ANY($2)",
    )
    .bind(event_id)
    .bind(&numbers)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
