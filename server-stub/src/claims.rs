//! Prize claims and receipt checks (issue 12, DESIGN §7 "Draw"): a claim by validation number
//! (its tag checked with the key of the epoch that sold it) or by the receipt's signed QR
//! (checked with the device's public key of any epoch; a key revoked later still verifies the
//! sales made before). Refusals: unknown, voided, not a winner, already claimed, past the claim
//! deadline. Wrong numbers are counted: a burst is refused for a minute and logged as a
//! critical event.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rsu_core::receipt_qr::ReceiptQr;
use rsu_core::validation::{ValidationKey, ValidationNumber};
use rsu_core::wire::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Wrong numbers one person may enter per minute before claims are refused for them.
pub const MAX_WRONG_PER_PERSON: i64 = 5;
/// Wrong numbers per minute across everyone before every claim is refused.
pub const MAX_WRONG_TOTAL: i64 = 20;

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Claim {
    /// The validation number on the receipt (any case; O/I/L read as 0/1 in the tag).
    #[arg(long, required_unless_present = "qr", conflicts_with = "qr")]
    #[serde(default)]
    pub validation_number: Option<String>,
    /// The text of the receipt's QR code (a signed receipt), instead of the number.
    #[arg(long)]
    #[serde(default)]
    pub qr: Option<String>,
    /// Only needed when two organizations issued the same validation number.
    #[arg(long)]
    #[serde(default)]
    pub organization_id: Option<Uuid>,
    /// Accept a claim past the claim deadline, saying why (e.g. "regulator letter 2026-114");
    /// recorded with the claim and logged as a critical event.
    #[arg(long)]
    #[serde(default)]
    pub deadline_override: Option<String>,
}

#[derive(Clone, Debug, clap::Args, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyReceipt {
    /// The text of the receipt's QR code.
    #[arg(long)]
    pub qr: String,
}

/// When claims close, from the jurisdiction's `claimDeadline` text: an RFC 3339 time, a date
/// `YYYY-MM-DD` (claims close at the end of that day, UTC), or `N days` (after the draw),
/// each possibly followed by a comment ("2026-09-28 (90 days after the draw)"). `None` when
/// the text says none of these: the claim desk checks the deadline by hand.
pub fn claim_deadline(text: &str, drawn_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let first = text.split_whitespace().next()?;
    if let Ok(t) = DateTime::parse_from_rfc3339(first) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(first, "%Y-%m-%d") {
        return d
            .succ_opt()
            .and_then(|n| n.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(2).find_map(|w| {
        let days: i64 = w[0].parse().ok()?;
        matches!(w[1].trim_end_matches([',', '.', ')']), "days" | "day")
            .then(|| drawn_at + Duration::days(days))
    })
}

/// Counts the attempts of the last minute; refuses when a limit is reached.
async fn check_rate(conn: &mut PgConnection, by: &str) -> AppResult<()> {
    let (mine, all): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE attempted_by = $1), count(*)
           FROM claim_attempts WHERE attempted_at > NOW() - INTERVAL '60 seconds'",
    )
    .bind(by)
    .fetch_one(conn)
    .await?;
    if mine >= MAX_WRONG_PER_PERSON || all >= MAX_WRONG_TOTAL {
        return Err(AppError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyAttempts,
            format!(
                "{} wrong validation numbers in the last minute ({} by {by}): claims are paused for a minute; the attempts are logged as a critical event",
                all, mine
            ),
        ));
    }
    Ok(())
}

/// Records a wrong number; the attempt that reaches a limit logs a CRITICAL event.
async fn wrong_number(
    pool: &PgPool,
    by: &str,
    outcome: &str,
    input: &str,
    err: AppError,
) -> AppError {
    let input: String = input.chars().take(200).collect();
    let r: Result<(i64, i64), sqlx::Error> = async {
        let mut conn = pool.acquire().await?;
        sqlx::query(
            "INSERT INTO claim_attempts (attempted_by, outcome, input) VALUES ($1, $2, $3)",
        )
        .bind(by)
        .bind(outcome)
        .bind(&input)
        .execute(&mut *conn)
        .await?;
        sqlx::query_as(
            "SELECT count(*) FILTER (WHERE attempted_by = $1), count(*)
               FROM claim_attempts WHERE attempted_at > NOW() - INTERVAL '60 seconds'",
        )
        .bind(by)
        .fetch_one(&mut *conn)
        .await
    }
    .await;
    match r {
        Ok((mine, all)) if mine == MAX_WRONG_PER_PERSON || all == MAX_WRONG_TOTAL => {
            let logged = sqlx::query(
                "INSERT INTO critical_events (event_type, severity, description, metadata)
                 VALUES ('CLAIM_ATTEMPTS_BURST', 'CRITICAL', $1, $2)",
            )
            .bind(format!(
                "{all} wrong validation numbers in a minute ({mine} by {by}): claims paused"
            ))
            .bind(json!({"by": by, "byPerson": mine, "total": all, "lastInput": input}))
            .execute(pool)
            .await;
            if let Err(e) = logged {
                tracing::error!(error = %e, "logging a burst of wrong claim numbers failed");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "recording a wrong claim number failed"),
    }
    err
}

fn require_name(by: Option<&str>) -> AppResult<String> {
    by.map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            AppError::bad_request(
                ErrorCode::MissingAdminName,
                "say who verifies the claim: `--by NAME` (or SERVER_STUB_ADMIN_NAME) on the CLI, header X-Admin-Name over HTTP",
            )
        })
}

type OrderRow = (
    Uuid,
    Uuid,
    Uuid,
    Option<Uuid>,
    Option<i32>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
);

/// The order of a canonical validation number (in one organization if given).
async fn find_order(
    conn: &mut PgConnection,
    vn: &str,
    org: Option<Uuid>,
) -> AppResult<Option<OrderRow>> {
    let rows: Vec<OrderRow> = sqlx::query_as(
        "SELECT id, organization_id, event_id, rsu_id, journal_epoch, voided_at, sold_at
           FROM orders WHERE validation_number = $1 AND ($2::uuid IS NULL OR organization_id = $2)",
    )
    .bind(vn)
    .bind(org)
    .fetch_all(conn)
    .await?;
    if rows.len() > 1 {
        return Err(AppError::conflict(
            ErrorCode::AmbiguousValidationNumber,
            format!(
                "{vn} was issued in {} organizations: add --organization-id (organizationId)",
                rows.len()
            ),
        ));
    }
    Ok(rows.into_iter().next())
}

/// Whether the tag checks out with the key of the epoch that sold the order, or (no order)
/// with any epoch key of an RSU with that number.
async fn tag_ok(
    conn: &mut PgConnection,
    vn: &ValidationNumber,
    order: Option<&OrderRow>,
) -> AppResult<bool> {
    let keys: Vec<Vec<u8>> = match order {
        Some((_, _, _, Some(rsu), Some(epoch), _, _)) => sqlx::query_scalar(
            "SELECT validation_key FROM rsu_epochs WHERE rsu_id = $1 AND epoch = $2 AND validation_key IS NOT NULL",
        )
        .bind(rsu)
        .bind(epoch)
        .fetch_all(&mut *conn)
        .await?,
        // Not an RSU sale: no device key made its tag.
        Some(_) => return Ok(true),
        None => sqlx::query_scalar(
            "SELECT e.validation_key FROM rsu_epochs e JOIN rsus r ON r.id = e.rsu_id
              WHERE r.rsu_no = $1 AND e.validation_key IS NOT NULL",
        )
        .bind(i32::try_from(vn.rsu_no()).unwrap_or(0))
        .fetch_all(&mut *conn)
        .await?,
    };
    Ok(keys
        .iter()
        .any(|k| vn.verify(&ValidationKey::new(k)).is_ok()))
}

/// What a receipt QR's key says: the RSU, its number and organization, its public key, and when
/// it was revoked.
type KeyRow = (Uuid, i32, Uuid, Vec<u8>, Option<DateTime<Utc>>);

async fn key_of(conn: &mut PgConnection, key_id: Uuid) -> AppResult<KeyRow> {
    let row: Option<KeyRow> = sqlx::query_as(
        "SELECT k.rsu_id, r.rsu_no, r.organization_id, k.public_key, k.revoked_at
           FROM rsu_keys k JOIN rsus r ON r.id = k.rsu_id WHERE k.id = $1",
    )
    .bind(key_id)
    .fetch_optional(conn)
    .await?;
    row.ok_or_else(|| {
        AppError::bad_request(
            ErrorCode::UnknownKey,
            format!("the receipt names device key {key_id}, which this server never registered: not a receipt of ours"),
        )
    })
}

/// Checks a QR: signature with the named key, the key belongs to the RSU of the validation
/// number; returns the key row.
async fn check_qr(conn: &mut PgConnection, qr: &ReceiptQr) -> AppResult<KeyRow> {
    let key = key_of(conn, qr.key_id).await?;
    qr.verify(&key.3)
        .map_err(|e| AppError::bad_request(ErrorCode::BadSignature, e.to_string()))?;
    if i64::from(key.1) != i64::from(qr.validation_number.rsu_no()) {
        return Err(AppError::bad_request(
            ErrorCode::BadSignature,
            format!(
                "the receipt is signed by a key of RSU {} but its validation number is of RSU {}",
                key.1,
                qr.validation_number.rsu_no()
            ),
        ));
    }
    Ok(key)
}

/// Compares a verified QR with the order the server holds.
async fn qr_matches_order(
    conn: &mut PgConnection,
    qr: &ReceiptQr,
    key: &KeyRow,
    order: &OrderRow,
) -> AppResult<()> {
    let numbers: Vec<i32> = sqlx::query_scalar(
        "SELECT draw_number FROM tickets WHERE order_id = $1 ORDER BY draw_number",
    )
    .bind(order.0)
    .fetch_all(conn)
    .await?;
    let numbers: Vec<u32> = numbers
        .into_iter()
        .filter_map(|n| u32::try_from(n).ok())
        .collect();
    let mut problems = Vec::new();
    if order.3 != Some(key.0) {
        problems.push("the order was sold by another RSU than the key's".to_string());
    }
    if order.2 != qr.event_id {
        problems.push(format!(
            "the order is of event {}, the receipt says {}",
            order.2, qr.event_id
        ));
    }
    if numbers != qr.draw_numbers {
        problems.push("the receipt's draw numbers differ from the order's".to_string());
    }
    if let Some(rev) = key.4 {
        if rev <= order.6 {
            problems.push(format!(
                "the key was revoked at {} before the sale at {}",
                rsu_core::journal::format_time(&rev),
                rsu_core::journal::format_time(&order.6)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::conflict(
            ErrorCode::ReceiptMismatch,
            format!(
                "the receipt's signature is genuine but {}",
                problems.join("; ")
            ),
        ))
    }
}

/// `admin verify-receipt --qr TEXT`: whether the QR is a receipt signed by one of our devices
/// and what the server holds for it.
pub async fn verify_receipt(pool: &PgPool, a: &VerifyReceipt) -> AppResult<Value> {
    let qr = ReceiptQr::parse(&a.qr)
        .map_err(|e| AppError::bad_request(ErrorCode::BadReceipt, e.to_string()))?;
    let mut conn = pool.acquire().await?;
    let key = check_qr(&mut conn, &qr).await?;
    let vn = qr.validation_number.to_string();
    let order = find_order(&mut conn, &vn, Some(key.2)).await?;
    let mut out = json!({"valid": true, "validationNumber": vn, "eventId": qr.event_id,
                         "drawNumbers": qr.draw_numbers, "rsuId": key.0, "rsuNo": key.1,
                         "keyId": qr.key_id, "keyRevokedAt": key.4, "order": null});
    if let Some(o) = &order {
        qr_matches_order(&mut conn, &qr, &key, o).await?;
        let states: Vec<(i32, String)> = sqlx::query_as(
            "SELECT draw_number, state FROM tickets WHERE order_id = $1 ORDER BY draw_number",
        )
        .bind(o.0)
        .fetch_all(&mut *conn)
        .await?;
        out["order"] = json!({"orderId": o.0, "soldAt": o.6, "voided": o.5.is_some(),
                              "tickets": states.iter().map(|(n, s)| json!({"drawNumber": n, "state": s})).collect::<Vec<_>>()});
    } else {
        out["note"] = json!("the signature is genuine but the server holds no such sale yet: the device may not have synced it");
    }
    Ok(out)
}

/// `admin claim`: checks the number (or QR), finds the order and records the claim of every
/// prize its tickets won.
pub async fn claim(pool: &PgPool, a: &Claim, by: Option<&str>) -> AppResult<Value> {
    let by = require_name(by)?;
    {
        let mut conn = pool.acquire().await?;
        check_rate(&mut conn, &by).await?;
    }
    let input = a
        .validation_number
        .clone()
        .or_else(|| a.qr.clone())
        .unwrap_or_default();
    let (vn, qr) = match (&a.validation_number, &a.qr) {
        (Some(v), None) => match ValidationNumber::parse(v) {
            Ok(vn) => (vn, None),
            Err(e) => {
                let err =
                    AppError::bad_request(ErrorCode::MalformedValidationNumber, e.to_string());
                return Err(wrong_number(pool, &by, "malformed", &input, err).await);
            }
        },
        (None, Some(q)) => match ReceiptQr::parse(q) {
            Ok(qr) => (qr.validation_number.clone(), Some(qr)),
            Err(e) => {
                let err = AppError::bad_request(ErrorCode::BadReceipt, e.to_string());
                return Err(wrong_number(pool, &by, "bad_receipt", &input, err).await);
            }
        },
        _ => {
            return Err(AppError::bad_request(
                ErrorCode::InvalidField,
                "give exactly one of validationNumber (--validation-number) and qr (--qr)",
            ))
        }
    };
    let canonical = vn.to_string();
    let mut tx = pool.begin().await?;
    let key = match &qr {
        Some(q) => match check_qr(&mut tx, q).await {
            Ok(k) => Some(k),
            Err(e) => return Err(wrong_number(pool, &by, "bad_signature", &input, e).await),
        },
        None => None,
    };
    let org = a.organization_id.or(key.as_ref().map(|k| k.2));
    let order = find_order(&mut tx, &canonical, org).await?;
    if !tag_ok(&mut tx, &vn, order.as_ref()).await? {
        let err = AppError::bad_request(
            ErrorCode::BadTag,
            format!("{canonical} does not check out: mistyped or not issued by one of our devices (check each character)"),
        );
        return Err(wrong_number(pool, &by, "bad_tag", &input, err).await);
    }
    let Some(order) = order else {
        let err = AppError::not_found(
            ErrorCode::UnknownValidationNumber,
            format!("no sale {canonical} on the server: if the receipt is genuine, its device has not synced it yet"),
        );
        return Err(wrong_number(pool, &by, "unknown", &input, err).await);
    };
    if let (Some(q), Some(k)) = (&qr, &key) {
        qr_matches_order(&mut tx, q, k, &order).await?;
    }
    if let Some(at) = order.5 {
        return Err(AppError::conflict(
            ErrorCode::Voided,
            format!(
                "sale {canonical} was voided at {}: its tickets cannot win",
                rsu_core::journal::format_time(&at)
            ),
        ));
    }
    type Won = (
        Uuid,
        i32,
        String,
        Uuid,
        i64,
        String,
        i16,
        Option<DateTime<Utc>>,
        Option<String>,
    );
    let won: Vec<Won> = sqlx::query_as(
        "SELECT t.id, t.draw_number, t.state, r.id, r.prize_value_at_draw, p.name, r.position,
                c.claimed_at, c.verified_by_name
           FROM tickets t
           JOIN draw_results r ON r.winning_ticket_id = t.id AND r.superseded_by IS NULL
           JOIN prizes p ON p.id = r.prize_id
           LEFT JOIN prize_claims c ON c.draw_result_id = r.id
          WHERE t.order_id = $1
          ORDER BY r.pick
          FOR UPDATE OF t",
    )
    .bind(order.0)
    .fetch_all(&mut *tx)
    .await?;
    if won.is_empty() {
        let forfeited: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT x.started_at FROM tickets t
               JOIN draw_results r ON r.winning_ticket_id = t.id
               JOIN draw_executions x ON x.id = r.superseded_by
              WHERE t.order_id = $1 LIMIT 1",
        )
        .bind(order.0)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(at) = forfeited {
            return Err(AppError::conflict(
                ErrorCode::PrizeForfeited,
                format!(
                    "sale {canonical} won, but its prize went unclaimed past the deadline and was redrawn at {}",
                    rsu_core::journal::format_time(&at)
                ),
            ));
        }
        return Err(AppError::conflict(
            ErrorCode::NotAWinner,
            format!("sale {canonical} holds no winning ticket"),
        ));
    }
    let open: Vec<&Won> = won.iter().filter(|w| w.7.is_none()).collect();
    if open.is_empty() {
        let w = &won[0];
        return Err(AppError::conflict(
            ErrorCode::AlreadyClaimed,
            format!(
                "the prize of sale {canonical} (number {}) was already claimed at {} (verified by {})",
                w.1,
                w.7.map(|t| rsu_core::journal::format_time(&t)).unwrap_or_default(),
                w.8.as_deref().unwrap_or("(unknown)")
            ),
        ));
    }
    let (deadline_text, drawn_at): (Option<String>, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT e.configuration->'jurisdiction'->>'claimDeadline',
                (SELECT max(x.started_at) FROM draw_executions x WHERE x.event_id = e.id)
           FROM events e WHERE e.id = $1",
    )
    .bind(order.2)
    .fetch_one(&mut *tx)
    .await?;
    let now = Utc::now();
    let deadline = deadline_text
        .as_deref()
        .and_then(|t| claim_deadline(t, drawn_at.unwrap_or(now)));
    let override_reason = a
        .deadline_override
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let mut overridden = None;
    if let Some(d) = deadline {
        if now >= d && override_reason.is_some() {
            overridden = override_reason;
        } else if now >= d {
            return Err(AppError::conflict(
                ErrorCode::ClaimDeadlinePassed,
                format!(
                    "claims for this event closed at {} ({:?}): sale {canonical} can no longer be claimed unless a recorded override allows it (--deadline-override REASON)",
                    rsu_core::journal::format_time(&d),
                    deadline_text.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    let method = if qr.is_some() {
        "receipt_signature"
    } else {
        "validation_number"
    };
    let mut prizes = Vec::new();
    for w in &open {
        sqlx::query(
            "INSERT INTO prize_claims (draw_result_id, claimed_at, verification_method, verified_by_name,
                                       order_id, validation_number, receipt_qr, deadline_override)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(w.3)
        .bind(now)
        .bind(method)
        .bind(&by)
        .bind(order.0)
        .bind(&canonical)
        .bind(a.qr.as_deref().map(str::trim))
        .bind(overridden)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE tickets SET state = 'claimed', updated_at = NOW() WHERE id = $1")
            .bind(w.0)
            .execute(&mut *tx)
            .await?;
        prizes.push(json!({"drawNumber": w.1, "prize": w.5, "position": w.6, "value": w.4}));
    }
    let out = json!({"validationNumber": canonical, "orderId": order.0, "eventId": order.2,
                     "verificationMethod": method, "verifiedBy": by, "claimedAt": now,
                     "claimDeadline": deadline, "deadlineOverride": overridden,
                     "deadlineCheck": if deadline.is_some() { "checked" } else { "not machine-readable: check the claim deadline by hand" },
                     "prizes": prizes});
    let (kind, severity) = match overridden {
        Some(_) => ("PRIZE_CLAIMED_PAST_DEADLINE", "WARNING"),
        None => ("PRIZE_CLAIMED", "INFO"),
    };
    sqlx::query(
        "INSERT INTO critical_events (event_type, event_id, severity, description, metadata)
         VALUES ($4, $1, $5, $2, $3)",
    )
    .bind(order.2)
    .bind(format!(
        "Prize of sale {canonical} claimed, verified by {by} ({method}){}",
        overridden
            .map(|r| format!(", past the deadline: {r}"))
            .unwrap_or_default()
    ))
    .bind(&out)
    .bind(kind)
    .bind(severity)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO audit_log (table_name, operation, record_id, new_data, changed_by)
         VALUES ('prize_claims', 'INSERT', $1, $2, $3)",
    )
    .bind(order.0)
    .bind(&out)
    .bind(crate::accounts::changed_by())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn claim_deadlines_are_read_from_dates_times_and_days_after_the_draw() {
        let drawn = t("2026-07-01T19:00:00Z");
        assert_eq!(
            claim_deadline("2026-09-28 (90 days after the draw)", drawn),
            Some(t("2026-09-29T00:00:00Z"))
        );
        assert_eq!(
            claim_deadline("2026-09-28T17:00:00-04:00", drawn),
            Some(t("2026-09-28T21:00:00Z"))
        );
        assert_eq!(
            claim_deadline("90 days", drawn),
            Some(t("2026-09-29T19:00:00Z"))
        );
        assert_eq!(
            claim_deadline("within 1 day.", drawn),
            Some(t("2026-07-02T19:00:00Z"))
        );
        assert_eq!(claim_deadline("x", drawn), None);
        assert_eq!(claim_deadline("", drawn), None);
    }
}
