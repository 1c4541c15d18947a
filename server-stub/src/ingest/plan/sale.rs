//! The check of a sale (DESIGN §6 "Push"): the event's state and sales window, the package, its
//! window and price, the operator, the validation number and its tag, and the draw numbers with
//! the allocations they came from. The event and package rules are rsu-core's
//! ([`rsu_core::event::EventState`], [`rsu_core::event::Package::available_at`]).

use chrono::{DateTime, Datelike, Utc};
use rsu_core::event::EventState;
use rsu_core::journal::{format_time, EntryKind, JournalEntry};
use rsu_core::payload::SalePayload;
use rsu_core::validation::ValidationNumber;
use rsu_core::wire::{EntryCode, FLAG_LATE};
use std::collections::HashSet;
use uuid::Uuid;

use super::{check_time, reject, Batch, OrderInsert, Reject, TicketInsert};
use crate::ingest::snapshot::{EventPackage, OrderRow};

impl<'p> Batch<'_, 'p> {
    /// Checks a sale and, when it is accepted, records its order, tickets and numbers.
    pub(super) fn sale(
        &mut self,
        e: &JournalEntry,
        s: &'p SalePayload,
    ) -> Result<Vec<String>, Reject> {
        check_time(EntryKind::Sale, "soldAt", &s.sold_at)?;
        let vn = self.check_sale(s)?;
        let perks = self.check_perks(s, &vn)?;
        let late = self.ctx.received_at > self.event_of(s.event_id)?.effective_end();
        let flags = if late {
            vec![FLAG_LATE.to_string()]
        } else {
            vec![]
        };
        // Accepted: record what later entries of the batch must see.
        let allocation_id = s
            .draw_numbers
            .first()
            .and_then(|n| self.allocation_of(s.event_id, *n))
            .map_or(s.allocation_id, |a| a.id);
        for n in &s.draw_numbers {
            self.numbers.insert((s.event_id, *n));
            if let Some(a) = self.allocation_of(s.event_id, *n) {
                let sold = self.plan.alloc_sold.entry(a.id).or_insert((0, 0));
                sold.0 += 1;
                sold.1 = sold.1.max(*n);
            }
            self.plan.tickets.push(TicketInsert {
                id: Uuid::now_v7(),
                event_id: s.event_id,
                draw_number: *n,
                order_id: s.local_id,
            });
        }
        self.record_perks(perks);
        self.validation_numbers.insert(vn.clone());
        self.sale_seqs.insert(s.sale_seq);
        self.orders.insert(
            s.local_id,
            OrderRow {
                id: s.local_id,
                validation_number: vn.clone(),
                rsu_id: Some(self.ctx.device.rsu_id),
                event_id: s.event_id,
                organization_id: self.ctx.device.organization_id,
                sale_seq: i64::try_from(s.sale_seq).ok(),
                voided: false,
            },
        );
        self.plan.orders.push(OrderInsert {
            sale: s,
            validation_number: vn,
            allocation_id,
            seq: e.body.seq,
            late,
        });
        Ok(flags)
    }

    /// Checks a sale; returns its validation number in canonical form.
    pub(super) fn check_sale(&self, s: &SalePayload) -> Result<String, Reject> {
        let snap = self.snap;
        let device = self.ctx.device;
        // The sale's own id must be new (it becomes the order id).
        if snap.orders.contains_key(&s.local_id) || self.orders.contains_key(&s.local_id) {
            return Err(reject(
                EntryCode::IdConflict,
                format!(
                    "localId {} is already an order from another entry; nothing was overwritten",
                    s.local_id
                ),
            ));
        }
        let ev = self.event_of(s.event_id)?;
        match ev.state {
            EventState::Created | EventState::Configured => {
                return Err(reject(
                    EntryCode::EventNotActive,
                    format!("the event is {}: it has not opened for sales", ev.state),
                ))
            }
            EventState::Cancelled => {
                return Err(reject(EntryCode::EventCancelled, "the event was cancelled"))
            }
            st if st.is_reconciled_or_later() => {
                return Err(reject(
                    EntryCode::EventReconciled,
                    format!("the event is {st}: new sales are no longer accepted"),
                ))
            }
            _ => {}
        }
        if s.currency != ev.currency.code() {
            return Err(reject(
                EntryCode::CurrencyMismatch,
                format!(
                    "currency {} differs from the event's {}",
                    s.currency, ev.currency
                ),
            ));
        }
        if s.sold_at < ev.sales_start_time {
            return Err(reject(
                EntryCode::SalesNotOpen,
                format!(
                    "soldAt {} is before salesStartTime {}",
                    s.sold_at, ev.sales_start_time
                ),
            ));
        }
        let end = ev.effective_end();
        if s.sold_at > end {
            return Err(reject(
                EntryCode::SalesClosed,
                format!("soldAt {} is after sales closed at {end}", s.sold_at),
            ));
        }
        let pkg = snap
            .packages
            .get(&s.package_id)
            .filter(|p| p.event_id == s.event_id)
            .ok_or_else(|| {
                reject(
                    EntryCode::UnknownPackage,
                    format!(
                        "packageId {} is not a package of event {}",
                        s.package_id, s.event_id
                    ),
                )
            })?;
        let package = &pkg.package;
        if !package.available_at(s.sold_at) {
            return Err(reject(
                EntryCode::PackageNotOnSale,
                format!(
                    "package {} was not on sale at soldAt {}",
                    package.id, s.sold_at
                ),
            ));
        }
        if package.price.currency.code() != s.currency {
            return Err(reject(
                EntryCode::CurrencyMismatch,
                format!(
                    "currency {} differs from the package's {}",
                    s.currency, package.price.currency
                ),
            ));
        }
        let per = i64::from(package.ticket_count);
        let count = i64::from(s.ticket_count);
        if count == 0 || count % per != 0 || s.draw_numbers.len() as i64 != count {
            return Err(reject(
                EntryCode::TicketCountMismatch,
                format!(
                    "ticketCount {} with {} draw numbers does not fit package {} of {} tickets",
                    s.ticket_count,
                    s.draw_numbers.len(),
                    package.id,
                    package.ticket_count
                ),
            ));
        }
        let price = self.price_at(pkg, s.sold_at, ev.price_lock);
        let packs = count / per;
        if s.unit_price != price || Some(s.total_amount) != price.checked_mul(packs) {
            return Err(reject(
                EntryCode::PriceMismatch,
                format!(
                    "unitPrice {} / totalAmount {} do not match the package price {} in force at soldAt (× {packs})",
                    s.unit_price, s.total_amount, price
                ),
            ));
        }
        self.on_roster(EntryKind::Sale, "operatorId", s.operator_id, false)?;
        let vn = ValidationNumber::parse(&s.validation_number).map_err(|err| {
            reject(
                EntryCode::BadValidationNumber,
                format!("validationNumber: {err}"),
            )
        })?;
        if vn.prefix() != device.validation_prefix
            || vn.rsu_no() != device.rsu_no
            || vn.seq() != s.sale_seq
        {
            return Err(reject(
                EntryCode::BadValidationNumber,
                format!(
                    "validationNumber {} must have prefix {}, rsuNo {} and saleSeq {}",
                    s.validation_number, device.validation_prefix, device.rsu_no, s.sale_seq
                ),
            ));
        }
        if vn.year() != s.sold_at.year() {
            return Err(reject(
                EntryCode::BadValidationNumber,
                format!(
                    "validationNumber {}: its year {} is not the year of soldAt {} (UTC)",
                    s.validation_number,
                    vn.year(),
                    format_time(&s.sold_at)
                ),
            ));
        }
        let key = device.validation_key.as_ref().ok_or_else(|| {
            reject(
                EntryCode::BadTag,
                "this RSU has no validation key: enroll it",
            )
        })?;
        vn.verify(key)
            .map_err(|err| reject(EntryCode::BadTag, format!("validationNumber: {err}")))?;
        let canonical = vn.to_string();
        if snap.validation_numbers.contains_key(&canonical)
            || self.validation_numbers.contains(&canonical)
        {
            return Err(reject(
                EntryCode::DuplicateValidationNumber,
                format!(
                    "validationNumber {} is already used by another order of this organization",
                    s.validation_number
                ),
            ));
        }
        if let Some(other) = snap.sale_seqs.get(&s.sale_seq) {
            return Err(reject(
                EntryCode::DuplicateValidationNumber,
                format!(
                    "saleSeq {} was already used by order {other} of this RSU (sale seqs never restart, not even in a new epoch)",
                    s.sale_seq
                ),
            ));
        }
        if self.sale_seqs.contains(&s.sale_seq) {
            return Err(reject(
                EntryCode::DuplicateValidationNumber,
                format!(
                    "saleSeq {} was already used by an earlier sale of this push",
                    s.sale_seq
                ),
            ));
        }
        let mut seen = HashSet::with_capacity(s.draw_numbers.len());
        for n in &s.draw_numbers {
            if !seen.insert(*n) {
                return Err(reject(
                    EntryCode::BadPayload,
                    format!("sale payload field drawNumbers: {n} appears twice"),
                ));
            }
            if self.allocation_of(s.event_id, *n).is_none() {
                return Err(reject(
                    EntryCode::DrawNumberNotAllocated,
                    format!(
                        "draw number {n} is not inside an allocation of this RSU for event {}",
                        s.event_id
                    ),
                ));
            }
            if self.numbers.contains(&(s.event_id, *n)) || snap.taken.contains(&(s.event_id, *n)) {
                return Err(reject(
                    EntryCode::DrawNumberTaken,
                    format!("draw number {n} of event {} is already sold", s.event_id),
                ));
            }
        }
        self.check_segments(s)?;
        Ok(canonical)
    }

    /// `allocationId` and `segments` must say where the draw numbers came from: the segments, in
    /// order, cover exactly `drawNumbers`, each inside the allocation it names, and `allocationId`
    /// is the first segment's.
    fn check_segments(&self, s: &SalePayload) -> Result<(), Reject> {
        let mine = |id: Uuid| {
            self.snap
                .allocations
                .iter()
                .any(|a| a.id == id && a.event_id == s.event_id)
        };
        for (i, id) in std::iter::once(("allocationId".to_string(), s.allocation_id)).chain(
            s.segments
                .iter()
                .enumerate()
                .map(|(i, g)| (format!("segments[{i}].allocationId"), g.allocation_id)),
        ) {
            if !mine(id) {
                return Err(reject(
                    EntryCode::UnknownAllocation,
                    format!(
                        "sale payload field {i}: {id} is not an allocation of this RSU for event {}",
                        s.event_id
                    ),
                ));
            }
        }
        if s.segments.first().map(|g| g.allocation_id) != Some(s.allocation_id) {
            return Err(reject(
                EntryCode::BadPayload,
                "sale payload field allocationId: must be the allocation of the first segment",
            ));
        }
        let mut numbers = s.draw_numbers.iter();
        for (i, g) in s.segments.iter().enumerate() {
            if g.start_number > g.end_number {
                return Err(reject(
                    EntryCode::BadPayload,
                    format!(
                        "sale payload field segments[{i}]: startNumber {} is above endNumber {}",
                        g.start_number, g.end_number
                    ),
                ));
            }
            for expect in g.start_number..=g.end_number {
                if numbers.next() != Some(&expect) {
                    return Err(reject(
                        EntryCode::BadPayload,
                        format!(
                            "sale payload field segments[{i}]: {}–{} does not match drawNumbers (the segments, in order, must list exactly the numbers sold)",
                            g.start_number, g.end_number
                        ),
                    ));
                }
                let holder = self.allocation_of(s.event_id, expect).map(|a| a.id);
                if holder != Some(g.allocation_id) {
                    return Err(reject(
                        EntryCode::BadPayload,
                        format!(
                            "sale payload field segments[{i}].allocationId: number {expect} is not in allocation {}",
                            g.allocation_id
                        ),
                    ));
                }
            }
        }
        if numbers.next().is_some() {
            return Err(reject(
                EntryCode::BadPayload,
                "sale payload field segments: drawNumbers has numbers no segment covers",
            ));
        }
        Ok(())
    }

    /// The package price in force at `at`: the latest price history row not after it, or the
    /// current price (always, when the jurisdiction locks prices).
    fn price_at(&self, pkg: &EventPackage, at: DateTime<Utc>, price_lock: bool) -> i64 {
        let current = pkg.package.price.minor;
        if price_lock {
            return current;
        }
        self.snap
            .prices
            .get(&pkg.package.id)
            .and_then(|h| {
                h.iter()
                    .rev()
                    .find(|(from, _)| *from <= at)
                    .map(|(_, p)| *p)
            })
            .unwrap_or(current)
    }
}
