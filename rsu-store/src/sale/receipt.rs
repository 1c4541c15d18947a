//! What happens to a receipt after the sale: its print state (pending, printed, failed),
//! reprints, voids and spoils.

use rsu_core::event::{EventState, SaleRefusal};
use rsu_core::journal::EntryKind;
use rsu_core::payload::{ReprintPayload, VoidPayload};
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;
use uuid::Uuid;

use super::{load_event, Sale};
use crate::journal::{append, critical};
use crate::people::open_shift_tx;
use crate::session::{open_shift_of, session_operator};
use crate::CachedSql;
use crate::{parse_uuid, ts, Store, StoreError};

/// The earliest receipt whose print is not confirmed and not spoiled.
pub(crate) fn unresolved_sale(tx: &Transaction<'_>) -> Result<Option<String>, StoreError> {
    Ok(tx
        .query_row_cached(
            "SELECT id FROM sales WHERE print_state IN ('pending', 'print_failed') AND voided_at IS NULL ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

impl Store {
    /// The earliest sale whose receipt is not confirmed printed (shown at start-up and after a failure).
    pub fn unresolved_print(&mut self) -> Result<Option<Sale>, StoreError> {
        let tx = self.begin()?;
        let id = unresolved_sale(&tx)?;
        drop(tx);
        id.map(|id| parse_uuid(&id).and_then(|id| self.sale(id)))
            .transpose()
    }

    /// Confirms the sale's receipt (or its latest reprint) printed.
    pub fn mark_printed(&mut self, sale_id: Uuid) -> Result<Sale, StoreError> {
        let tx = self.begin()?;
        let n = tx.execute_cached(
            "UPDATE sales SET print_state = CASE WHEN reprint_count > 0 THEN 'reprinted' ELSE 'printed' END,
                    print_count = print_count + 1, print_error = NULL
             WHERE id = ?1 AND print_state IN ('pending', 'print_failed')",
            [sale_id.to_string()],
        )?;
        if n == 0 {
            return Err(StoreError::Invalid(format!(
                "sale {sale_id} has no print waiting for confirmation"
            )));
        }
        tx.commit()?;
        self.sale(sale_id)
    }

    /// Records that printing failed. The sale stays committed; selling stays locked until the
    /// receipt is reprinted or spoiled.
    pub fn mark_print_failed(&mut self, sale_id: Uuid, error: &str) -> Result<Sale, StoreError> {
        let now = self.now()?;
        let tx = self.begin()?;
        let n = tx.execute_cached(
            "UPDATE sales SET print_state = 'print_failed', print_count = print_count + 1, print_error = ?2
             WHERE id = ?1 AND print_state IN ('pending', 'print_failed')",
            params![sale_id.to_string(), error],
        )?;
        if n == 0 {
            return Err(StoreError::Invalid(format!(
                "sale {sale_id} has no print waiting for confirmation"
            )));
        }
        let op = session_operator(&tx)?;
        critical(
            &tx,
            now,
            "PRINT_FAILED",
            "CRITICAL",
            format!("receipt did not print: {error}"),
            op,
            json!({"saleId": sale_id}),
        )?;
        tx.commit()?;
        self.sale(sale_id)
    }

    /// Asks for another print of a sale's receipt, marked `REPRINT n`. After a failed or
    /// unconfirmed print the logged-in operator may do it; a receipt that printed needs a
    /// supervisor PIN. Returns the sale and `n`.
    pub fn reprint(
        &mut self,
        validation_number: &str,
        supervisor_pin: Option<&str>,
    ) -> Result<(Sale, u32), StoreError> {
        let sale = self.find_sale(validation_number)?;
        let supervisor = match (sale.print_state.is_unresolved(), supervisor_pin) {
            (_, Some(pin)) => Some(self.authenticate(pin, true)?),
            (true, None) => None,
            (false, None) => return Err(crate::LoginError::NotSupervisor.into()),
        };
        if sale.voided_at.is_some() {
            return Err(StoreError::Invalid(format!(
                "sale {} is voided: its receipt cannot be reprinted",
                sale.validation_number
            )));
        }
        let now = self.now()?;
        let tx = self.begin()?;
        let op = session_operator(&tx)?
            .or(supervisor.as_ref().map(|s| s.id))
            .ok_or(SaleRefusal::NotLoggedIn)?;
        let n = sale.reprint_count + 1;
        append(
            &tx,
            EntryKind::Reprint,
            &ReprintPayload {
                local_id: sale.id,
                validation_number: sale.validation_number.clone(),
                reprint_number: n,
                operator_id: op,
                supervisor_id: supervisor.as_ref().map(|s| s.id),
            },
            now,
        )?;
        critical(
            &tx,
            now,
            "REPRINT",
            "CRITICAL",
            format!("receipt {} reprinted (REPRINT {n})", sale.validation_number),
            Some(op),
            json!({"saleId": sale.id, "reprintNumber": n}),
        )?;
        tx.execute_cached(
            "UPDATE sales SET reprint_count = ?2, print_state = 'pending' WHERE id = ?1",
            params![sale.id.to_string(), n],
        )?;
        tx.commit()?;
        Ok((self.sale(sale.id)?, n))
    }

    /// Voids a whole sale with a supervisor PIN and a reason, as a new journal entry.
    /// Its draw numbers are never sold again.
    pub fn void(
        &mut self,
        validation_number: &str,
        supervisor_pin: &str,
        reason: &str,
    ) -> Result<Sale, StoreError> {
        self.void_inner(validation_number, supervisor_pin, reason, false)
    }

    /// Spoils a receipt that failed to print: a void with reason `misprint`.
    pub fn spoil(
        &mut self,
        validation_number: &str,
        supervisor_pin: &str,
    ) -> Result<Sale, StoreError> {
        self.void_inner(validation_number, supervisor_pin, "misprint", true)
    }

    fn void_inner(
        &mut self,
        validation_number: &str,
        supervisor_pin: &str,
        reason: &str,
        spoil: bool,
    ) -> Result<Sale, StoreError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::Invalid(
                "a void needs a reason: say why the sale is voided".into(),
            ));
        }
        let sale = self.find_sale(validation_number)?;
        if spoil && !sale.print_state.is_unresolved() {
            return Err(StoreError::Invalid(format!(
                "receipt {} printed: void it instead of spoiling it",
                sale.validation_number
            )));
        }
        let sup = self.authenticate(supervisor_pin, true)?;
        let now = self.now()?;
        let tx = self.begin()?;
        if sale.voided_at.is_some() {
            return Err(StoreError::Invalid(format!(
                "sale {} is already voided",
                sale.validation_number
            )));
        }
        let event = load_event(&tx, &sale.event_id.to_string())?
            .ok_or_else(|| StoreError::NotFound("the sale's event is gone".into()))?;
        if event.state.is_reconciled_or_later() || event.state == EventState::Cancelled {
            return Err(StoreError::Invalid(format!(
                "the event is {}: voids are no longer allowed",
                event.state
            )));
        }
        let op = session_operator(&tx)?.unwrap_or(sup.id);
        let entry = append(
            &tx,
            EntryKind::Void,
            &VoidPayload {
                local_id: sale.id,
                validation_number: sale.validation_number.clone(),
                reason: reason.to_string(),
                operator_id: op,
                supervisor_id: sup.id,
                voided_at: now,
            },
            now,
        )?;
        let (kind, text) = if spoil {
            ("SPOIL", "spoiled")
        } else {
            ("VOID", "voided")
        };
        critical(
            &tx,
            now,
            kind,
            "WARNING",
            format!(
                "sale {} {text} by {}: {reason}",
                sale.validation_number, sup.name
            ),
            Some(op),
            json!({"saleId": sale.id, "supervisorId": sup.id}),
        )?;
        let void_shift = match open_shift_of(&tx, op)? {
            Some(id) => Some(id),
            None => Some(open_shift_tx(&tx, now, op, 0)?),
        };
        tx.execute_cached(
            "UPDATE sales SET voided_at = ?2, void_reason = ?3, voided_by = ?4, void_seq = ?5, void_shift_id = ?6,
                    print_state = CASE WHEN ?7 OR print_state IN ('pending', 'print_failed') THEN 'spoiled' ELSE print_state END
             WHERE id = ?1",
            params![sale.id.to_string(), ts(&now), reason, sup.id.to_string(), entry.body.seq, void_shift.map(|s| s.to_string()), spoil],
        )?;
        tx.commit()?;
        self.sale(sale.id)
    }
}
