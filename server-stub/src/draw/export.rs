//! The file `verify-draw` replays (`admin draw-export`, docs/draw.md "Publishing"): the draw's
//! execution and results, the redraw if one was run, and the eligible set read again.

use super::algorithm::{self as alg, DrawFile, Jackpot, Prize, Winner};
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use rsu_core::wire::ErrorCode;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::redraw_store::redraws_of;
use super::store::{eligible_numbers, unknown_event};

type ExecRow = (
    Uuid,
    Option<String>,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<Value>,
    Option<Value>,
);

/// The file `verify-draw` replays (`admin draw-export`). The eligible set is read again and
/// must give the checksum recorded at the draw.
pub async fn export(pool: &PgPool, event_id: Uuid) -> AppResult<DrawFile> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let ev: Option<(String, String, String)> =
        sqlx::query_as("SELECT event_identifier, name, currency::text FROM events WHERE id = $1")
            .bind(event_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (ident, name, currency) = ev.ok_or_else(|| unknown_event(event_id))?;
    let row: Option<ExecRow> = sqlx::query_as(
        "SELECT id, conducted_by_name, started_at, commitment, secret, beacon, system_checksum,
                ticket_count, rng_seed, net_sales, jackpot, prizes
           FROM draw_executions WHERE event_id = $1 AND kind = 'draw'",
    )
    .bind(event_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((
        exec_id,
        by,
        at,
        commitment,
        secret,
        beacon,
        checksum,
        count,
        seed,
        net,
        jackpot,
        prizes,
    )) = row
    else {
        return Err(AppError::conflict(
            ErrorCode::NotDrawn,
            format!("event {event_id} has not been drawn yet: admin draw --event-id {event_id}"),
        ));
    };
    let committed_at: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT committed_at FROM event_draw_seeds WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(&mut *tx)
            .await?;
    let bad =
        |what: &str| AppError::internal("draw export", format!("execution {exec_id}: {what}"));
    let jackpot: Option<Jackpot> = match jackpot {
        Some(Value::Null) | None => None,
        Some(v) => Some(serde_json::from_value(v).map_err(|_| bad("jackpot"))?),
    };
    let prizes: Vec<Prize> =
        serde_json::from_value(prizes.unwrap_or(Value::Null)).map_err(|_| bad("prizes"))?;
    let results: Vec<(i32, Uuid, i16, i32, i32, i64)> = sqlx::query_as(
        "SELECT pick, prize_id, position, winner_index, winning_number, prize_value_at_draw
           FROM draw_results WHERE draw_execution_id = $1 ORDER BY pick",
    )
    .bind(exec_id)
    .fetch_all(&mut *tx)
    .await?;
    let tickets = eligible_numbers(&mut tx, event_id).await?;
    let checksum = checksum.unwrap_or_default();
    let now_sum = alg::checksum(&tickets).map_err(|e| bad(&e.to_string()))?;
    if hex::encode(now_sum) != checksum {
        return Err(AppError::conflict(
            ErrorCode::TicketSetChanged,
            format!(
                "the eligible tickets of event {event_id} no longer give the checksum recorded at the draw ({checksum}, now {}): the tickets were changed after the draw; investigate before publishing",
                hex::encode(now_sum)
            ),
        ));
    }
    let (redraw_commitment, redraws) = redraws_of(&mut tx, event_id).await?;
    tx.commit().await?;
    Ok(DrawFile {
        format: alg::FORMAT.into(),
        event_id,
        event_identifier: ident,
        event_name: name,
        currency,
        execution_id: exec_id,
        conducted_by: by.unwrap_or_default(),
        conducted_at: at,
        commitment: commitment.unwrap_or_default(),
        committed_at,
        secret: secret.unwrap_or_default(),
        beacon,
        ticket_count: u64::try_from(count.unwrap_or(0)).unwrap_or(0),
        checksum,
        seed: seed.unwrap_or_default(),
        net_sales: net.unwrap_or(0),
        jackpot,
        prizes,
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
        redraw_commitment,
        redraws,
        tickets,
    })
}
