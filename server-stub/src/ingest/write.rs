//! Writing a plan: `COPY` straight into `device_journal`, `orders` and `tickets` (the fastest
//! path PostgreSQL has), and `UPDATE … FROM UNNEST(…)` for voids and counters.
//!
//! This is the only code that inserts journal rows (`device_journal`): every new entry of a push,
//! whatever its answer, with its payload as the device wrote it. (Closeout only marks rejected
//! rows resolved.)

use chrono::{DateTime, Utc};
use rsu_core::journal::JournalEntry;
use rsu_core::wire::EntryStatus;
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::plan::Plan;
use super::{crash_point, in_range, without_nul};
use crate::auth::Device;
use crate::copy::CopyBuf;

/// Why a write failed.
pub enum WriteError {
    /// A UNIQUE constraint fired: a number, validation number, sale seq, order id, entry id or
    /// shift id of the batch was taken meanwhile by another push.
    Collision,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.code().as_deref() == Some("23505")
                && matches!(
                    db.constraint(),
                    Some("tickets_event_draw_number_key")
                        | Some("orders_organization_validation_number_key")
                        | Some("orders_rsu_sale_seq_key")
                        | Some("orders_pkey")
                        | Some("device_journal_entry_id_key")
                        | Some("shift_closes_pkey")
                )
            {
                return WriteError::Collision;
            }
        }
        WriteError::Db(e)
    }
}

async fn copy_in(
    tx: &mut Transaction<'_, Postgres>,
    statement: &str,
    buf: CopyBuf,
) -> Result<(), WriteError> {
    if buf.rows == 0 {
        return Ok(());
    }
    let mut copy = tx.copy_in_raw(statement).await?;
    if let Err(e) = copy.send(buf.bytes).await {
        let _ = copy.abort("send failed").await;
        return Err(e.into());
    }
    copy.finish().await?;
    Ok(())
}

/// Applies `plan` inside the push's transaction.
pub async fn write(
    tx: &mut Transaction<'_, Postgres>,
    device: &Device,
    epoch: i32,
    entries: &[JournalEntry],
    plan: &Plan<'_>,
    received_at: DateTime<Utc>,
) -> Result<(), WriteError> {
    // The journal: every new entry, whatever its answer, with its full payload.
    let mut j = CopyBuf::new();
    for ji in &plan.journal {
        let e = &entries[ji.idx];
        j.uuid(device.rsu_id)
            .int(i64::from(epoch))
            .int(e.body.seq as i64)
            .uuid(e.body.entry_id)
            .text(e.body.kind.as_str())
            // A createdAt the entry was rejected for may be one PostgreSQL cannot store; the
            // reason message quotes it, the row keeps the receive time.
            .ts(if in_range(&e.body.created_at) {
                &e.body.created_at
            } else {
                &received_at
            });
        match without_nul(&e.body.payload) {
            Some(clean) => j.json(&clean),
            None => j.json(&e.body.payload),
        };
        j.bytea(&e.prev_hash.0)
            .bytea(&e.hash.0)
            .text(ji.status.as_str())
            .opt_text(ji.code.map(|c| c.as_str()))
            .opt_text(ji.message.as_deref())
            .words(&ji.flags)
            .uuid(device.key_id)
            .ts(&received_at);
        j.end_row();
    }
    copy_in(
        tx,
        "COPY device_journal (rsu_id, epoch, seq, entry_id, kind, created_at, payload, prev_hash, hash,
                              status, reason_code, reason_message, flags, key_id, received_at) FROM STDIN",
        j,
    )
    .await?;

    // Orders, then their tickets.
    let mut o = CopyBuf::new();
    for oi in &plan.orders {
        let s = oi.sale;
        let customer = s
            .customer_info
            .as_ref()
            .filter(|c| !c.is_empty())
            .and_then(|c| serde_json::to_value(c).ok());
        o.uuid(s.local_id)
            .text(&oi.validation_number)
            .uuid(s.event_id)
            .uuid(s.package_id)
            .uuid(device.rsu_id)
            .uuid(oi.allocation_id)
            .int(s.unit_price)
            .int(s.total_amount)
            .text(&s.currency)
            .text("completed")
            .text(s.payment.method.as_str())
            .opt_text(s.payment.reference.as_deref());
        o.int(i64::from(s.ticket_count));
        match &customer {
            Some(c) => o.json(c),
            None => o.null(),
        };
        o.text("rsu")
            .uuid(s.operator_id)
            .opt_uuid(s.shift_id)
            .bool(true)
            .text("synced")
            .int(i64::from(epoch))
            .int(oi.seq as i64)
            .bool(oi.late)
            .ts(&s.sold_at)
            .uuid(s.operator_id)
            .ts(&received_at)
            .uuid(device.organization_id)
            .int(i64::try_from(s.sale_seq).unwrap_or(i64::MAX));
        o.end_row();
    }
    copy_in(
        tx,
        "COPY orders (id, validation_number, event_id, package_id, rsu_id, rsu_allocation_id, unit_price,
                      total_amount, currency, payment_status, payment_method, payment_reference, ticket_count,
                      customer_info, source, operator_id, shift_id, is_offline_sale, offline_sync_status,
                      journal_epoch, journal_seq, is_late, sold_at, sold_by, received_at, organization_id,
                      sale_seq) FROM STDIN",
        o,
    )
    .await?;
    let mut t = CopyBuf::new();
    for ti in &plan.tickets {
        t.uuid(ti.id)
            .uuid(ti.event_id)
            .int(ti.draw_number)
            .text("sold")
            .uuid(ti.order_id);
        t.end_row();
    }
    copy_in(
        tx,
        "COPY tickets (id, event_id, draw_number, state, order_id) FROM STDIN",
        t,
    )
    .await?;
    crash_point("after_tickets");

    // The perk units the sales issued, and what they took from this RSU's perk allocations.
    if !plan.perk_claims.is_empty() {
        let c = &plan.perk_claims;
        sqlx::query(
            "INSERT INTO perk_claims (organization_id, perk_id, perk_allocation_id, event_id, order_id,
                                      rsu_id, position, perk_name, claim_code, issued_at)
             SELECT $1, x.perk_id, x.alloc, x.event_id, x.order_id, $2, x.position, x.name, x.code, x.at
               FROM UNNEST($3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::int4[], $8::text[],
                           $9::text[], $10::timestamptz[])
                    AS x(perk_id, alloc, event_id, order_id, position, name, code, at)",
        )
        .bind(device.organization_id)
        .bind(device.rsu_id)
        .bind(c.iter().map(|x| x.perk_id).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.perk_allocation_id).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.event_id).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.order_id).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.position).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.perk_name.clone()).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.claim_code.clone()).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.issued_at).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    }
    if !plan.perk_issued.is_empty() {
        let (ids, counts): (Vec<Uuid>, Vec<i32>) =
            plan.perk_issued.iter().map(|(k, v)| (*k, *v)).unzip();
        sqlx::query(
            "UPDATE perk_allocations a SET issued = a.issued + x.n, updated_at = NOW()
               FROM UNNEST($1::uuid[], $2::int4[]) AS x(id, n) WHERE a.id = x.id",
        )
        .bind(&ids)
        .bind(&counts)
        .execute(&mut **tx)
        .await?;
    }

    if !plan.voids.is_empty() {
        let ids: Vec<Uuid> = plan.voids.iter().map(|v| v.local_id).collect();
        let at: Vec<DateTime<Utc>> = plan.voids.iter().map(|v| v.voided_at).collect();
        let by: Vec<Uuid> = plan.voids.iter().map(|v| v.supervisor_id).collect();
        let reason: Vec<String> = plan.voids.iter().map(|v| v.reason.clone()).collect();
        sqlx::query(
            "UPDATE orders o SET voided_at = x.at, voided_by = x.by, voided_reason = x.reason,
                    updated_at = NOW(), updated_by = x.by
               FROM UNNEST($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[]) AS x(id, at, by, reason)
              WHERE o.id = x.id AND o.voided_at IS NULL",
        )
        .bind(&ids)
        .bind(&at)
        .bind(&by)
        .bind(&reason)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE tickets SET state = 'voided', updated_at = NOW() WHERE order_id = ANY($1)",
        )
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
        // A voided sale's perks can no longer be claimed; one already handed out stays claimed
        // (the plan flagged the void).
        sqlx::query(
            "UPDATE perk_claims SET status = 'voided', voided_at = NOW()
              WHERE order_id = ANY($1) AND status = 'pending'",
        )
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
        // Each voided ticket is charged to the allocation holding its number (a sale may span
        // two); allocations of an event never overlap.
        sqlx::query(
            "UPDATE rsu_allocations a SET tickets_voided = a.tickets_voided + c.n
               FROM (SELECT h.id, COUNT(*)::int4 AS n
                       FROM tickets t
                       JOIN rsu_allocations h ON h.event_id = t.event_id
                        AND int4range(h.start_number, h.end_number, '[]') @> t.draw_number
                      WHERE t.order_id = ANY($1) GROUP BY h.id) c
              WHERE a.id = c.id",
        )
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    }

    if !plan.critical.is_empty() {
        let c = &plan.critical;
        sqlx::query(
            "INSERT INTO critical_events (journal_entry_id, event_type, event_id, rsu_id, user_id, severity,
                                          description, metadata, timestamp, received_at)
             SELECT x.entry_id, x.event_type, x.event_id, $9, x.user_id, x.severity, x.description, x.metadata, x.at, $10
               FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::jsonb[], $8::timestamptz[])
                    AS x(entry_id, event_type, event_id, user_id, severity, description, metadata, at)
             ON CONFLICT (journal_entry_id) DO NOTHING",
        )
        .bind(c.iter().map(|x| x.entry_id).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.event_type.clone()).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.event_id).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.user_id).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.severity.clone()).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.description.clone()).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.metadata.clone()).collect::<Vec<_>>())
        .bind(c.iter().map(|x| x.at).collect::<Vec<_>>())
        .bind(device.rsu_id)
        .bind(received_at)
        .execute(&mut **tx)
        .await?;
    }

    for (seq, s) in &plan.shifts {
        let report = serde_json::to_value(s).unwrap_or(Value::Null);
        sqlx::query(
            "INSERT INTO shift_closes (shift_id, rsu_id, epoch, seq, operator_id, closed_at, sales_count,
                                       sales_amount, voids_count, voids_amount, cash_expected, report)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(s.shift_id)
        .bind(device.rsu_id)
        .bind(epoch)
        .bind(*seq as i64)
        .bind(s.operator_id)
        .bind(s.closed_at)
        .bind(s.sales_count as i64)
        .bind(s.sales_amount)
        .bind(s.voids_count as i64)
        .bind(s.voids_amount)
        .bind(s.cash_expected)
        .bind(report)
        .execute(&mut **tx)
        .await?;
    }

    for r in &plan.releases {
        sqlx::query(
            "UPDATE rsu_allocations
                SET released_from = $2::int4, state = 'released',
                    tickets_available = GREATEST(0, ($2::int4 - start_number) - tickets_sold)
              WHERE id = $1",
        )
        .bind(r.allocation_id)
        .bind(r.from as i32)
        .execute(&mut **tx)
        .await?;
    }

    if !plan.perk_releases.is_empty() {
        // The units not issued go back to the perk's inventory.
        sqlx::query(
            "UPDATE perk_allocations
                SET state = 'released', released = quantity - issued, released_at = NOW(), updated_at = NOW()
              WHERE id = ANY($1) AND state = 'active'",
        )
        .bind(&plan.perk_releases)
        .execute(&mut **tx)
        .await?;
    }

    if !plan.seq_conflicts.is_empty() {
        let idx = &plan.seq_conflicts;
        let seqs: Vec<i64> = idx.iter().map(|i| entries[*i].body.seq as i64).collect();
        let hashes: Vec<Vec<u8>> = idx.iter().map(|i| entries[*i].hash.0.to_vec()).collect();
        let bodies: Vec<Value> = idx
            .iter()
            .map(|i| {
                let v = serde_json::to_value(&entries[*i]).unwrap_or(Value::Null);
                without_nul(&v).unwrap_or(v)
            })
            .collect();
        sqlx::query(
            "INSERT INTO journal_conflicts (rsu_id, epoch, seq, hash, entry)
             SELECT $1, $2, x.seq, x.hash, x.entry FROM UNNEST($3::int8[], $4::bytea[], $5::jsonb[]) AS x(seq, hash, entry)
             ON CONFLICT (rsu_id, epoch, seq, hash) DO NOTHING",
        )
        .bind(device.rsu_id)
        .bind(epoch)
        .bind(&seqs)
        .bind(&hashes)
        .bind(&bodies)
        .execute(&mut **tx)
        .await?;
    }

    // The allocation counters and the epoch's chain position, in one statement.
    let new_conflicts = plan.seq_conflicts.len() as i32
        + plan
            .journal
            .iter()
            .filter(|j| j.status == EntryStatus::Conflict)
            .count() as i32;
    let (ids, (counts, maxes)): (Vec<Uuid>, (Vec<i32>, Vec<i32>)) = plan
        .alloc_sold
        .iter()
        .map(|(id, (n, max))| (*id, (*n as i32, *max as i32)))
        .unzip();
    sqlx::query(
        "WITH a AS (
             UPDATE rsu_allocations a
                SET tickets_sold = a.tickets_sold + x.n,
                    tickets_available = GREATEST(a.tickets_available - x.n, 0),
                    next_draw_number = GREATEST(a.next_draw_number, x.maxn + 1),
                    state = CASE WHEN a.state = 'active' AND x.maxn >= a.end_number THEN 'exhausted' ELSE a.state END,
                    exhausted_at = CASE WHEN x.maxn >= a.end_number THEN COALESCE(a.exhausted_at, NOW()) ELSE a.exhausted_at END
               FROM UNNEST($8::uuid[], $9::int4[], $10::int4[]) AS x(id, n, maxn)
              WHERE a.id = x.id)
         UPDATE rsu_epochs SET last_seq = $3, head_hash = $4,
                chain_verified = chain_verified AND $5::int8 IS NULL,
                chain_broken_at = COALESCE(chain_broken_at, $5::int8),
                conflicts = conflicts + $6, last_push_at = $7
          WHERE rsu_id = $1 AND epoch = $2",
    )
    .bind(device.rsu_id)
    .bind(epoch)
    .bind(plan.last_seq as i64)
    .bind(plan.head.0.to_vec())
    .bind(plan.chain_broken_at.map(|s| s as i64))
    .bind(new_conflicts)
    .bind(received_at)
    .bind(&ids)
    .bind(&counts)
    .bind(&maxes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
