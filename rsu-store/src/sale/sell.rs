//! Selling: one `BEGIN IMMEDIATE` transaction gathers the `SaleContext`, calls `check_sale`,
//! takes the package's perks (`perks.rs`) and draw numbers across allocations, makes the
//! validation number and the perks' claim codes, and writes the sale, its numbers, its perks and
//! its journal entry.

use chrono::{DateTime, Datelike, Utc};
use rsu_core::draw::DrawNumber;
use rsu_core::event::{check_sale, Package, SaleContext, SaleRefusal};
use rsu_core::journal::EntryKind;
use rsu_core::payload::{AllocationSegment, PaymentMethod, SalePayload};
use rsu_core::validation::{ValidationKey, ValidationNumber};
use rusqlite::{params, OptionalExtension, Transaction};
use uuid::Uuid;

use super::{
    address_lines, event_row, package_from_row, unresolved_sale, EventRow, PrintState,
    ReceiptContext, Sale, SaleRequest, EVENT_COLUMNS, PACKAGE_COLUMNS, RECEIPT_FIELD_LABELS,
};
use crate::journal::{append, last_entry_time};
use crate::people::open_shift_tx;
use crate::perks::{claim_codes, record_sale_perks, take_perks};
use crate::session::open_shift_of;
use crate::{parse_ts, parse_uuid, ts, CachedSql, Store, StoreError};

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

/// What a sale reads of the device, its settings, its organization and its session: one row,
/// read once per sale (each statement a sale runs costs about as much as a row it writes).
struct DeviceFacts {
    clock_offset_ms: i64,
    clock_high_water: Option<DateTime<Utc>>,
    last_server_contact: Option<DateTime<Utc>>,
    rsu_no: u32,
    rsu_name: String,
    validation_key_hex: String,
    next_sale_seq: u64,
    max_offline_tickets: Option<u64>,
    offline_expiration_minutes: Option<i64>,
    sync_interval_minutes: i64,
    organization_name: String,
    license_number: String,
    address: Option<String>,
    phone: Option<String>,
    validation_prefix: String,
    operator: Option<Uuid>,
    pending_tickets: u64,
}

fn device_facts(tx: &Transaction<'_>) -> Result<DeviceFacts, StoreError> {
    type Row = (
        (
            Option<String>,
            Option<String>,
            u32,
            String,
            String,
            u64,
            i64,
        ),
        (Option<u64>, Option<i64>, i64),
        (String, String, Option<String>, Option<String>, String),
        (Option<String>, i64),
    );
    let row: Option<Row> = tx
        .query_row_cached(
            "SELECT d.clock_high_water, d.last_server_contact_at, d.rsu_no, d.name, d.validation_key_hex, d.sale_seq + 1, coalesce(d.clock_offset_ms, 0),
                    s.max_offline_tickets, s.offline_sale_expiration_minutes, s.sync_interval_minutes,
                    o.name, o.license_number, o.address, o.phone, o.validation_prefix,
                    (SELECT operator_id FROM session WHERE id = 1),
                    coalesce((SELECT tickets FROM pending_tickets WHERE id = 1), 0)
               FROM device d, settings s, organization o
              WHERE d.id = 1 AND s.id = 1 AND o.id = 1",
            [],
            |r| {
                Ok((
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                    (r.get(7)?, r.get(8)?, r.get(9)?),
                    (r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?, r.get(14)?),
                    (r.get(15)?, r.get(16)?),
                ))
            },
        )
        .optional()?;
    let Some((d, st, o, (operator, pending))) = row else {
        return Err(StoreError::NotEnrolled);
    };
    let ts_of = |t: Option<String>| t.map(|s| parse_ts(&s)).transpose();
    Ok(DeviceFacts {
        clock_offset_ms: d.6,
        clock_high_water: ts_of(d.0)?,
        last_server_contact: ts_of(d.1)?,
        rsu_no: d.2,
        rsu_name: d.3,
        validation_key_hex: d.4,
        next_sale_seq: d.5,
        max_offline_tickets: st.0,
        offline_expiration_minutes: st.1,
        sync_interval_minutes: st.2,
        organization_name: o.0,
        license_number: o.1,
        address: o.2,
        phone: o.3,
        validation_prefix: o.4,
        operator: operator.map(|s| parse_uuid(&s)).transpose()?,
        pending_tickets: pending.max(0) as u64,
    })
}

/// The oldest pending entry's time, in time independent of the backlog (the pending ticket
/// total is kept by triggers, migration 0008, and read with [`device_facts`]): the first pending
/// entry in journal order (entry times never go backwards), found through `journal_pending`.
fn oldest_pending(tx: &Transaction<'_>) -> Result<Option<DateTime<Utc>>, StoreError> {
    let oldest: Option<String> = tx
        .query_row_cached(
            "SELECT created_at FROM journal WHERE sync_status = 'pending' ORDER BY epoch, seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    oldest.map(|s| parse_ts(&s)).transpose()
}

/// The receipt context of a sale being made, from what the sale already read.
fn receipt_context(
    d: &DeviceFacts,
    e: &SaleEvent,
    operator_name: Option<String>,
    operator: Uuid,
) -> ReceiptContext {
    ReceiptContext {
        organization_name: d.organization_name.clone(),
        license_number: d.license_number.clone(),
        event_name: e.name.clone(),
        event_identifier: e.identifier.clone(),
        draw_time: e.draw_time,
        timezone: e.timezone.clone(),
        rsu_name: d.rsu_name.clone(),
        rsu_no: d.rsu_no,
        operator_name: operator_name.unwrap_or_else(|| operator.to_string()),
        jurisdiction: e.row.jurisdiction.clone(),
        organization_address: d.address.clone(),
        organization_phone: d.phone.clone(),
        venue_name: e.venue.clone(),
    }
}

/// The fields DESIGN §5 requires that come from configuration, and those the event's
/// jurisdiction adds (`requiredReceiptFields`); empty ones refuse the sale. `operator_name` is
/// the selling operator's name as stored (`operatorName`), if any.
fn missing_receipt_fields(ctx: &ReceiptContext, operator_name: Option<&str>) -> Vec<String> {
    let j = &ctx.jurisdiction;
    let mut missing = Vec::new();
    for (value, label) in [
        (&ctx.organization_name, "the organization name"),
        (&ctx.license_number, "the licence number"),
        (&ctx.event_name, "the event name"),
        (&ctx.event_identifier, "the event identifier"),
        (&j.rules_url, "the rules URL"),
        (&j.claim_deadline, "the claim deadline"),
        (&j.responsible_gaming_text, "the responsible-gaming line"),
    ] {
        if value.trim().is_empty() {
            missing.push(label.to_string());
        }
    }
    for field in &j.required_receipt_fields {
        let value = match field.as_str() {
            "licenseeAddress" => address_lines(ctx.organization_address.as_deref()).join("\n"),
            "venueName" => ctx.venue_name.clone().unwrap_or_default(),
            "operatorName" => operator_name.unwrap_or_default().to_string(),
            "organizationPhone" => ctx.organization_phone.clone().unwrap_or_default(),
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
    missing
}

/// The event of a sale: the rules' facts ([`EventRow`]) and what its receipt shows.
struct SaleEvent {
    row: EventRow,
    closed: bool,
    name: String,
    identifier: String,
    venue: Option<String>,
    draw_time: DateTime<Utc>,
    timezone: String,
}

fn sale_event(tx: &Transaction<'_>, id: &str) -> Result<Option<SaleEvent>, StoreError> {
    // One read of the row: the rules' columns first, then what the receipt shows.
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS}, closed_at IS NOT NULL, name, identifier, venue_name, draw_time, timezone FROM events WHERE id = ?1"
    ))?;
    let mut rows = stmt.query([id])?;
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    Ok(Some(SaleEvent {
        row: event_row(r)?,
        closed: r.get(6)?,
        name: r.get(7)?,
        identifier: r.get(8)?,
        venue: r.get(9)?,
        draw_time: parse_ts(&r.get::<_, String>(10)?)?,
        timezone: r.get(11)?,
    }))
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
        tx.execute_cached(
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
    let n: i64 = tx.query_row_cached(
        "SELECT coalesce(sum(end_number - next_number + 1), 0) FROM allocations WHERE event_id = ?1 AND state = 'active' AND withheld = 0",
        [event_id],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
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
        let fixed_now = self.fixed_now;
        let tx = self.begin()?;
        let device = device_facts(&tx)?;
        let clock = fixed_now
            .unwrap_or_else(|| Utc::now() + chrono::Duration::milliseconds(device.clock_offset_ms));
        // A clock set back can never reopen sales: time never runs backwards for the rules.
        let now = match last_entry_time(&tx)?.max(device.clock_high_water) {
            Some(last) if last > clock => last,
            _ => clock,
        };
        let operator = device.operator;
        let (event_id, package) = load_package(&tx, req.package_id)?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "no package {}: choose one from the list",
                req.package_id
            ))
        })?;
        let event = sale_event(&tx, &event_id)?
            .ok_or_else(|| StoreError::NotFound(format!("no event {event_id}")))?;
        if operator.is_some() && event.closed {
            return Err(SaleRefusal::DeviceClosed.into());
        }
        let online = match device.last_server_contact {
            Some(t) => {
                now - t <= chrono::Duration::minutes(2 * device.sync_interval_minutes.max(1))
            }
            None => false,
        };
        let ctx = SaleContext {
            now,
            operator_logged_in: operator.is_some(),
            event_state: event.row.state,
            sales_start: event.row.sales_start,
            sales_end: event.row.sales_end,
            suspended_by_server: event.row.suspended,
            package_available: package.available_at(now),
            ticket_count: package.ticket_count,
            numbers_left: numbers_left(&tx, &event_id)?,
            unsynced_tickets: device.pending_tickets,
            max_offline_tickets: device.max_offline_tickets,
            oldest_pending_at: oldest_pending(&tx)?,
            offline_expiration_minutes: device.offline_expiration_minutes,
            print_unresolved: unresolved_sale(&tx)?.is_some(),
            offline_forbidden: !event.row.jurisdiction.offline_sales_allowed && !online,
        };
        check_sale(&ctx)?;
        let operator_name: Option<String> = match operator {
            Some(id) => tx
                .query_row_cached(
                    "SELECT name FROM operators WHERE id = ?1",
                    [id.to_string()],
                    |r| r.get(0),
                )
                .optional()?,
            None => None,
        };
        let operator = operator.ok_or(SaleRefusal::NotLoggedIn)?;
        let receipt = receipt_context(&device, &event, operator_name.clone(), operator);
        let missing = missing_receipt_fields(&receipt, operator_name.as_deref());
        if !missing.is_empty() {
            return Err(SaleRefusal::ReceiptIncomplete(missing.join(", ")).into());
        }
        let currency = &event.row.currency;
        if package.price.currency.code() != *currency {
            return Err(StoreError::Invalid(format!(
                "package {} is priced in {} but the event sells in {}: ask the raffle manager to fix the package",
                package.name, package.price.currency, currency
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

        let sale_seq = device.next_sale_seq;
        tx.execute_cached("UPDATE device SET sale_seq = ?1 WHERE id = 1", [sale_seq])?;
        let key = ValidationKey::from_hex(&device.validation_key_hex)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let number = ValidationNumber::issue(
            &key,
            &device.validation_prefix,
            device.rsu_no,
            now.year(),
            sale_seq,
        )
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
            currency: currency.clone(),
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
        tx.execute_cached(
            "INSERT INTO sales (id, epoch, seq, event_id, package_id, package_name, ticket_count, unit_price_minor, total_minor, currency,
                                validation_number, sale_seq, operator_id, shift_id, payment_method, payment_reference, customer_json, sold_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                id.to_string(), entry.body.epoch, entry.body.seq, event_id, package.id.to_string(), package.name,
                package.ticket_count, package.price.minor, total.minor, currency, vn, sale_seq,
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
        tx.execute_cached(
            "UPDATE session SET last_activity_at = ?1 WHERE id = 1",
            [ts(&now)],
        )?;
        // The sale as `Store::sale` reads it back (times are stored to the millisecond).
        let mut draw_numbers = numbers;
        draw_numbers.sort();
        let sale = Sale {
            id,
            epoch: entry.body.epoch,
            seq: entry.body.seq,
            event_id: payload.event_id,
            package_id: package.id,
            package_name: package.name,
            ticket_count: package.ticket_count,
            unit_price: package.price,
            total,
            validation_number: vn,
            draw_numbers,
            operator_id: operator,
            shift_id,
            payment: req.payment.clone(),
            customer,
            sold_at: parse_ts(&ts(&now))?,
            print_state: PrintState::Pending,
            print_count: 0,
            reprint_count: 0,
            print_error: None,
            voided_at: None,
            void_reason: None,
            perks,
        };
        receipt_check(&sale, &receipt).map_err(SaleRefusal::ReceiptIncomplete)?;
        tx.commit()?;
        Ok(sale)
    }
}
