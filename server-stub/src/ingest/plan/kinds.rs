//! The checks of voids, reprints, critical events, shift closes and allocation releases. Each
//! decides first and records only when the entry is accepted.

use rsu_core::journal::{EntryKind, JournalEntry};
use rsu_core::payload::{
    AllocationReleasePayload, CriticalEventPayload, ReprintPayload, ShiftClosePayload, VoidPayload,
};
use rsu_core::wire::EntryCode;
use serde_json::json;

use super::{check_time, reject, Batch, CriticalInsert, Reject, ReleaseApply};

impl<'p> Batch<'_, 'p> {
    pub(super) fn void(
        &mut self,
        e: &JournalEntry,
        v: &'p VoidPayload,
    ) -> Result<Vec<String>, Reject> {
        let kind = EntryKind::Void;
        if v.reason.trim().is_empty() {
            return Err(reject(
                EntryCode::BadPayload,
                "void payload field reason: must not be empty",
            ));
        }
        check_time(kind, "voidedAt", &v.voided_at)?;
        let order = self
            .order(v.local_id)
            .filter(|o| o.rsu_id == Some(self.ctx.device.rsu_id))
            .ok_or_else(|| {
                reject(
                    EntryCode::UnknownOrder,
                    format!(
                        "localId {} is not an order of this RSU (was the sale rejected?)",
                        v.local_id
                    ),
                )
            })?;
        if order.validation_number != crate::ingest::canonical_vn(&v.validation_number) {
            return Err(reject(
                EntryCode::UnknownOrder,
                format!(
                    "validationNumber {} does not belong to order {}",
                    v.validation_number, v.local_id
                ),
            ));
        }
        if order.voided || self.voided.contains(&v.local_id) {
            return Err(reject(
                EntryCode::AlreadyVoided,
                format!("order {} is already voided", v.local_id),
            ));
        }
        self.on_roster(kind, "operatorId", v.operator_id, false)?;
        self.on_roster(kind, "supervisorId", v.supervisor_id, true)?;
        let ev = self.event_of(order.event_id)?;
        if ev.state.is_reconciled_or_later() {
            return Err(reject(
                EntryCode::EventReconciled,
                format!("the event is {}: voids are no longer accepted", ev.state),
            ));
        }
        self.voided.insert(v.local_id);
        self.plan.voids.push(v);
        Ok(self.void_perks(e, v, ev.id))
    }

    pub(super) fn reprint(
        &mut self,
        e: &JournalEntry,
        r: &ReprintPayload,
    ) -> Result<Vec<String>, Reject> {
        let kind = EntryKind::Reprint;
        let order = self.order(r.local_id);
        // A reprint names a sale of this RSU; one the server does not hold (a rejected sale) is
        // still recorded, another RSU's or organization's order is not.
        if order.is_some_and(|o| o.rsu_id != Some(self.ctx.device.rsu_id)) {
            return Err(reject(
                EntryCode::UnknownOrder,
                format!(
                    "reprint payload field localId: {} is not an order of this RSU",
                    r.local_id
                ),
            ));
        }
        self.on_roster(kind, "operatorId", r.operator_id, false)?;
        if let Some(sup) = r.supervisor_id {
            self.on_roster(kind, "supervisorId", sup, true)?;
        }
        let event_id = order.map(|o| o.event_id);
        self.plan.critical.push(CriticalInsert {
            entry_id: e.body.entry_id,
            event_type: "REPRINT".into(),
            event_id,
            user_id: Some(r.operator_id),
            severity: "WARNING".into(),
            description: format!(
                "Receipt {} reprinted (REPRINT {})",
                r.validation_number, r.reprint_number
            ),
            metadata: json!({
                "localId": r.local_id, "reprintNumber": r.reprint_number,
                "supervisorId": r.supervisor_id, "epoch": e.body.epoch, "seq": e.body.seq,
            }),
            at: e.body.created_at,
        });
        Ok(vec![])
    }

    pub(super) fn critical_event(
        &mut self,
        e: &JournalEntry,
        c: &CriticalEventPayload,
    ) -> Result<Vec<String>, Reject> {
        let severity = c.severity.to_ascii_uppercase();
        if !["INFO", "WARN", "WARNING", "ERROR", "CRITICAL"].contains(&severity.as_str()) {
            return Err(reject(
                EntryCode::BadPayload,
                format!("critical_event payload field severity: {:?} is not INFO, WARNING, ERROR or CRITICAL", c.severity),
            ));
        }
        if c.event_type.trim().is_empty() {
            return Err(reject(
                EntryCode::BadPayload,
                "critical_event payload field eventType: must not be empty",
            ));
        }
        if let Some(ev) = c.event_id {
            self.event_of(ev)?;
        }
        let mut metadata = if c.metadata.is_object() {
            c.metadata.clone()
        } else {
            json!({ "value": c.metadata })
        };
        if let Some(m) = metadata.as_object_mut() {
            m.insert("epoch".into(), json!(e.body.epoch));
            m.insert("seq".into(), json!(e.body.seq));
        }
        self.plan.critical.push(CriticalInsert {
            entry_id: e.body.entry_id,
            event_type: c.event_type.clone(),
            event_id: c.event_id,
            user_id: c.operator_id,
            severity,
            description: c.description.clone(),
            metadata,
            at: e.body.created_at,
        });
        Ok(vec![])
    }

    pub(super) fn shift_close(
        &mut self,
        e: &JournalEntry,
        s: &'p ShiftClosePayload,
    ) -> Result<Vec<String>, Reject> {
        let kind = EntryKind::ShiftClose;
        check_time(kind, "openedAt", &s.opened_at)?;
        check_time(kind, "closedAt", &s.closed_at)?;
        self.on_roster(kind, "operatorId", s.operator_id, false)?;
        self.on_roster(kind, "closedBy", s.closed_by, false)?;
        if self.snap.shift_ids.contains(&s.shift_id) || self.shifts.contains(&s.shift_id) {
            return Err(reject(
                EntryCode::IdConflict,
                format!("shiftId {} was already closed by another entry", s.shift_id),
            ));
        }
        self.shifts.insert(s.shift_id);
        self.plan.shifts.push((e.body.seq, s));
        Ok(vec![])
    }

    pub(super) fn release(&mut self, r: &AllocationReleasePayload) -> Result<Vec<String>, Reject> {
        let a = self
            .snap
            .allocations
            .iter()
            .find(|a| a.id == r.allocation_id && a.event_id == r.event_id)
            .ok_or_else(|| {
                reject(
                    EntryCode::UnknownAllocation,
                    format!(
                        "allocationId {} is not an allocation of this RSU for event {}",
                        r.allocation_id, r.event_id
                    ),
                )
            })?;
        if r.end_number != i64::from(a.end_number)
            || r.start_number < i64::from(a.start_number)
            || r.start_number > r.end_number
        {
            return Err(reject(
                EntryCode::BadPayload,
                format!(
                    "allocation_release payload fields startNumber/endNumber: {}–{} must be the unused tail of {}–{}",
                    r.start_number, r.end_number, a.start_number, a.end_number
                ),
            ));
        }
        // Every number the server holds sold from this allocation, in earlier pushes
        // (`next_draw_number`) or earlier in this batch, must lie below the release.
        let held = i64::from(a.next_draw_number) - 1;
        let in_batch = self.plan.alloc_sold.get(&a.id).map_or(0, |(_, max)| *max);
        let highest = held.max(in_batch);
        if highest >= r.start_number {
            return Err(reject(
                EntryCode::BadPayload,
                format!(
                    "allocation_release payload field startNumber: {} but number {highest} of allocation {}–{} is sold; a release starts above every sold number (from {})",
                    r.start_number, a.start_number, a.end_number, highest + 1
                ),
            ));
        }
        let from = self
            .released
            .get(&a.id)
            .map_or(r.start_number, |f| (*f).min(r.start_number));
        self.released.insert(a.id, from);
        self.plan.releases.push(ReleaseApply {
            allocation_id: a.id,
            from,
        });
        Ok(vec![])
    }
}
