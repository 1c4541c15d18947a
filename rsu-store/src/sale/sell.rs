//! Selling: one `BEGIN IMMEDIATE` transaction gathers the `SaleContext`, calls `check_sale`,
//! takes the package's perks (`perks.rs`) and draw numbers across allocations, makes the
//! validation number and the perks' claim codes, and writes the sale, its numbers, its perks and
//! its journal entry.

use chrono::{DateTime, Datelike, Utc};
use rsu_core::config::JurisdictionProfile;
use rsu_core::draw::DrawNumber;
use rsu_core::event::{check_sale, Package, SaleContext, SaleRefusal};
use rsu_core::journal::EntryKind;
use rsu_core::payload::{AllocationSegment, PaymentMethod, SalePayload};
use rsu_core::validation::{ValidationKey, ValidationNumber};
use rusqlite::{params, OptionalExtension, Transaction};
use uuid::Uuid;

use super::{
    address_lines, load_event, load_sale, package_from_row, receipt_context_of, unresolved_sale,
    ReceiptContext, Sale, SaleRequest, PACKAGE_COLUMNS, RECEIPT_FIELD_LABELS,
};
use crate::journal::{append, last_entry_time};
use crate::people::open_shift_tx;
use crate::perks::{claim_codes, record_sale_perks, take_perks};
use crate::session::{open_shift_of, session_operator};
use crate::{parse_ts, parse_uuid, ts, Store, StoreError};

fn load_package(tx: &Transaction<'_>, id: Uuid) -> Result<Option<(String, Package)>, StoreError> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {PACKAGE_COLUMNS} FROM packages WHERE id = ?1"
    ))?;
    let mut rows = stmt.query([id.to_string()])?;
    match rows.next()? {
        Some(r) => package_from_row(r).map(Some),
        None => Ok(None),
    }
}

/// Unsynced tickets and the oldest pending entry time, in time independent of the backlog: the
/// total is kept by triggers (migration 0008), and the oldest pending entry is the first pending
/// one in journal order (entry times never go backwards), found through `journal_pending`.
fn offline_exposure(tx: &Transaction<'_>) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
    let tickets: i64 = tx
        .prepare_cached("SELECT tickets FROM pending_tickets WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let oldest: Option<String> = tx
        .prepare_cached(
            "SELECT created_at FROM journal WHERE sync_status = 'pending' ORDER BY epoch, seq LIMIT 1",
        )?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok((tickets as u64, oldest.map(|s| parse_ts(&s)).transpose()?))
}

/// The fields DESIGN §5 requires that come from configuration, and those the event's
/// jurisdiction adds (`requiredReceiptFields`); empty ones refuse the sale. `operator` is the
/// selling operator (`operatorName`).
fn missing_receipt_fields(
    tx: &Transaction<'_>,
    event_id: &str,
    j: &JurisdictionProfile,
    operator: Option<Uuid>,
) -> Result<Vec<String>, StoreError> {
    type OrgRow = (String, String, Option<String>, Option<String>);
    let (org, licence, address, phone): OrgRow = tx
        .query_row(
            "SELECT name, license_number, address, phone FROM organization WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .ok_or(StoreError::NotEnrolled)?;
    let (name, ident, venue): (String, String, Option<String>) = tx.query_row(
        "SELECT name, identifier, venue_name FROM events WHERE id = ?1",
        [event_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut missing = Vec::new();
    for (value, label) in [
        (&org, "the organization name"),
        (&licence, "the licence number"),
        (&name, "the event name"),
        (&ident, "the event identifier"),
        (&j.rules_url, "the rules URL"),
        (&j.claim_deadline, "the claim deadline"),
        (&j.responsible_gaming_text, "the responsible-gaming line"),
    ] {
        if value.trim().is_empty() {
            missing.push(label.to_string());
        }
    }
    let operator_name: Option<String> = match operator {
        Some(id) => tx
            .query_row(
                "SELECT name FROM operators WHERE id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?,
        None => None,
    };
    for field in &j.required_receipt_fields {
        let value = match field.as_str() {
            "licenseeAddress" => address_lines(address.as_deref()).join("\n"),
            "venueName" => venue.clone().unwrap_or_default(),
            "operatorName" => operator_name.clone().unwrap_or_default(),
            "organizationPhone" => phone.clone().unwrap_or_default(),
            other => {
                // A field a newer server requires that this kiosk cannot print: strict, as
                // DESIGN §5 asks, rather than a receipt without it.
                missing.push(format!(
                    "the {other} field (this kiosk cannot print it yet: update the kiosk software)"
                ));
                continue;
            }
        };
        if value.trim().is_empty() {
            let label = RECEIPT_FIELD_LABELS
                .iter()
                .find(|(f, _)| f == field)
                .map_or("a required field", |(_, l)| l);
            missing.push(label.to_string());
        }
    }
    Ok(missing)
}

/// The highest corrected time the device has seen (see `Store::record_server_contact`).
fn clock_high_water(tx: &Transaction<'_>) -> Result<Option<DateTime<Utc>>, StoreError> {
    let t: Option<String> = tx
        .query_row(
            "SELECT clock_high_water FROM device WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    t.map(|s| parse_ts(&s)).transpose()
}

/// Takes the next `k` numbers from the event's active allocations, lowest range first,
/// spanning into the next allocation when one runs out.
fn take_numbers(
    tx: &Transaction<'_>,
    event_id: &str,
    k: u32,
) -> Result<(Vec<DrawNumber>, Vec<AllocationSegment>), StoreError> {
    let allocs: Vec<(String, i64, i64)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, next_number, end_number FROM allocations
             WHERE event_id = ?1 AND state = 'active' AND withheld = 0 AND next_number <= end_number ORDER BY start_number",
        )?;
        let rows = stmt.query_map([event_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut left = i64::from(k);
    let mut numbers = Vec::with_capacity(k as usize);
    let mut segments = Vec::new();
    for (id, next, end) in allocs {
        if left == 0 {
            break;
        }
        let take = left.min(end - next + 1);
        let last = next + take - 1;
        numbers.extend((next..=last).map(DrawNumber));
        segments.push(AllocationSegment {
            allocation_id: parse_uuid(&id)?,
            start_number: next,
            end_number: last,
        });
        tx.execute(
            "UPDATE allocations SET next_number = ?2 WHERE id = ?1",
            params![id, last + 1],
        )?;
        left -= take;
    }
    if left > 0 {
        // The preconditions counted the numbers left in this same transaction, so this is a bug.
        return Err(StoreError::Invalid(
            "allocations changed during the sale".into(),
        ));
    }
    Ok((numbers, segments))
}

pub(crate) fn numbers_left(tx: &Transaction<'_>, event_id: &str) -> Result<u64, StoreError> {
    let n: i64 = tx.query_row(
        "SELECT coalesce(sum(end_number - next_number + 1), 0) FROM allocations WHERE event_id = ?1 AND state = 'active' AND withheld = 0",
        [event_id],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

/// Whether the device was closed for `event_id`.
fn is_closed(tx: &Transaction<'_>, event_id: &str) -> Result<bool, StoreError> {
    Ok(tx
        .query_row(
            "SELECT closed_at IS NOT NULL FROM events WHERE id = ?1",
            [event_id],
            |r| r.get::<_, bool>(0),
        )
        .optional()?
        .unwrap_or(false))
}

impl Store {
    /// Sells a package: one `BEGIN IMMEDIATE` transaction that checks every precondition, takes
    /// the next draw numbers, the next seq and sale sequence, makes the validation number and
    /// writes the sale with its journal entry. Nothing is written if anything fails.
    pub fn sell(&mut self, req: &SaleRequest) -> Result<Sale, StoreError> {
        self.sell_checked(req, |_, _| Ok(()))
    }

    /// Like [`Store::sell`], but calls `receipt_check` with the sale and its receipt context
    /// inside the transaction, before the commit. If it returns an error (for example the receipt
    /// would miss a required field, or a name cannot be printed), the sale is rolled back and
    /// refused with `receipt_incomplete`: a receipt that would be incomplete is refused before
    /// the sale, not printed incomplete (DESIGN §5).
    pub fn sell_checked(
        &mut self,
        req: &SaleRequest,
        receipt_check: impl FnOnce(&Sale, &ReceiptContext) -> Result<(), String>,
    ) -> Result<Sale, StoreError> {
        if req.payment.method == PaymentMethod::Card
            && req
                .payment
                .reference
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            return Err(StoreError::Invalid("a card payment needs the terminal's reference: enter it from the card terminal's slip".into()));
        }
        let clock = self.now()?;
        let tx = self.begin()?;
        // A clock set back can never reopen sales: time never runs backwards for the rules.
        let now = match last_entry_time(&tx)?.max(clock_high_water(&tx)?) {
            Some(last) if last > clock => last,
            _ => clock,
        };
        let operator = session_operator(&tx)?;
        let (event_id, package) = load_package(&tx, req.package_id)?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "no package {}: choose one from the list",
                req.package_id
            ))
        })?;
        let event = load_event(&tx, &event_id)?
            .ok_or_else(|| StoreError::NotFound(format!("no event {event_id}")))?;
        if operator.is_some() && is_closed(&tx, &event_id)? {
            return Err(SaleRefusal::DeviceClosed.into());
        }
        let (max_offline, expiry): (Option<u64>, Option<i64>) = tx
            .query_row("SELECT max_offline_tickets, offline_sale_expiration_minutes FROM settings WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or(StoreError::NotEnrolled)?;
        let (sync_interval, last_contact): (i64, Option<String>) = tx.query_row(
            "SELECT s.sync_interval_minutes, d.last_server_contact_at FROM settings s, device d WHERE s.id = 1 AND d.id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let online = match last_contact {
            Some(t) => now - parse_ts(&t)? <= chrono::Duration::minutes(2 * sync_interval.max(1)),
            None => false,
        };
        let (unsynced, oldest) = offline_exposure(&tx)?;
        let ctx = SaleContext {
            now,
            operator_logged_in: operator.is_some(),
            event_state: event.state,
            sales_start: event.sales_start,
            sales_end: event.sales_end,
            suspended_by_server: event.suspended,
            package_available: package.available_at(now),
            ticket_count: package.ticket_count,
            numbers_left: numbers_left(&tx, &event_id)?,
            unsynced_tickets: unsynced,
            max_offline_tickets: max_offline,
            oldest_pending_at: oldest,
            offline_expiration_minutes: expiry,
            print_unresolved: unresolved_sale(&tx)?.is_some(),
            offline_forbidden: !event.jurisdiction.offline_sales_allowed && !online,
        };
        check_sale(&ctx)?;
        let missing = missing_receipt_fields(&tx, &event_id, &event.jurisdiction, operator)?;
        if !missing.is_empty() {
            return Err(SaleRefusal::ReceiptIncomplete(missing.join(", ")).into());
        }
        let operator = operator.ok_or(SaleRefusal::NotLoggedIn)?;
        if package.price.currency.code() != event.currency {
            return Err(StoreError::Invalid(format!(
                "package {} is priced in {} but the event sells in {}: ask the raffle manager to fix the package",
                package.name, package.price.currency, event.currency
            )));
        }
        // Every sale belongs to a shift so that a Z report accounts for it: after a shift was
        // closed, the next sale opens a new one (with no float).
        let shift_id = match open_shift_of(&tx, operator)? {
            Some(id) => Some(id),
            None => Some(open_shift_tx(&tx, now, operator, 0)?),
        };
        // One unit of each perk of the package, or the whole sale is refused (and the
        // transaction, dropped, writes nothing).
        let perks = take_perks(&tx, &event_id, &package)?;
        let (numbers, segments) = take_numbers(&tx, &event_id, package.ticket_count)?;

        let (rsu_no, key_hex, sale_seq): (u32, String, u64) = tx.query_row(
            "SELECT rsu_no, validation_key_hex, sale_seq + 1 FROM device WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        tx.execute("UPDATE device SET sale_seq = ?1 WHERE id = 1", [sale_seq])?;
        let prefix: String = tx.query_row(
            "SELECT validation_prefix FROM organization WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        let key =
            ValidationKey::from_hex(&key_hex).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let number = ValidationNumber::issue(&key, &prefix, rsu_no, now.year(), sale_seq)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let vn = number.to_string();
        let perks = claim_codes(&key, &number, perks);

        let total = package.price; // A package price is the price of the whole package.
        let id = rsu_core::ids::new_id();
        let customer = req.customer.clone().filter(|c| !c.is_empty());
        let payload = SalePayload {
            perks: perks.clone(),
            local_id: id,
            event_id: parse_uuid(&event_id)?,
            allocation_id: segments
                .first()
                .map(|s| s.allocation_id)
                .unwrap_or_default(),
            segments: segments.clone(),
            validation_number: vn.clone(),
            sale_seq,
            draw_numbers: numbers.iter().map(|n| n.0).collect(),
            package_id: package.id,
            package_name: package.name.clone(),
            ticket_count: package.ticket_count,
            unit_price: package.price.minor,
            total_amount: total.minor,
            currency: event.currency.clone(),
            payment: req.payment.clone(),
            customer_info: customer.clone(),
            operator_id: operator,
            shift_id,
            sold_at: now,
        };
        let entry = append(&tx, EntryKind::Sale, &payload, now)?;
        let customer_json = customer
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        tx.execute(
            "INSERT INTO sales (id, epoch, seq, event_id, package_id, package_name, ticket_count, unit_price_minor, total_minor, currency,
                                validation_number, sale_seq, operator_id, shift_id, payment_method, payment_reference, customer_json, sold_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                id.to_string(), entry.body.epoch, entry.body.seq, event_id, package.id.to_string(), package.name,
                package.ticket_count, package.price.minor, total.minor, event.currency, vn, sale_seq,
                operator.to_string(), shift_id.map(|s| s.to_string()), req.payment.method.as_str(),
                req.payment.reference, customer_json, ts(&now),
            ],
        )?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO sale_numbers (event_id, draw_number, sale_id, allocation_id) VALUES (?1, ?2, ?3, ?4)")?;
            for seg in &segments {
                for n in seg.start_number..=seg.end_number {
                    stmt.execute(params![
                        event_id,
                        n,
                        id.to_string(),
                        seg.allocation_id.to_string()
                    ])?;
                }
            }
        }
        record_sale_perks(&tx, id, &perks)?;
        tx.execute(
            "UPDATE session SET last_activity_at = ?1 WHERE id = 1",
            [ts(&now)],
        )?;
        let sale = load_sale(&tx, id)?;
        let ctx = receipt_context_of(&tx, &sale)?;
        receipt_check(&sale, &ctx).map_err(SaleRefusal::ReceiptIncomplete)?;
        tx.commit()?;
        Ok(sale)
    }
}
