//! Selling, voiding, reprinting and the print state of each sale.
//!
//! Why this file is over 800 lines: the sale, void, reprint, spoil and print-state paths share one transaction helper set (`take_numbers`, `unresolved_sale`, the receipt check); issue 10 moves `issue_sale` out when the kiosk and CLI share it.

use chrono::{DateTime, Datelike, Utc};
use rsu_core::config::JurisdictionProfile;
use rsu_core::draw::DrawNumber;
use rsu_core::event::{check_sale, EventState, Package, SaleContext, SaleRefusal};
use rsu_core::journal::EntryKind;
use rsu_core::money::{Currency, Money};
use rsu_core::payload::{
    AllocationSegment, CustomerInfo, Payment, PaymentMethod, ReprintPayload, SalePayload,
    VoidPayload,
};
use rsu_core::validation::{ValidationKey, ValidationNumber};
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;
use uuid::Uuid;

use crate::journal::{append, critical, last_entry_time};
use crate::people::open_shift_tx;
use crate::session::{open_shift_of, session_operator};
use crate::{parse_ts, parse_uuid, ts, Store, StoreError};

/// Where a sale's receipt stands (DESIGN §4 "Print-confirmed issuance").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrintState {
    /// Committed; the print is not confirmed yet (or the kiosk stopped while printing).
    Pending,
    Printed,
    PrintFailed,
    /// A reprint was confirmed printed.
    Reprinted,
    /// Voided as a misprint by a supervisor.
    Spoiled,
}

impl PrintState {
    pub fn as_str(&self) -> &'static str {
        match self {
            PrintState::Pending => "pending",
            PrintState::Printed => "printed",
            PrintState::PrintFailed => "print_failed",
            PrintState::Reprinted => "reprinted",
            PrintState::Spoiled => "spoiled",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => PrintState::Pending,
            "printed" => PrintState::Printed,
            "print_failed" => PrintState::PrintFailed,
            "reprinted" => PrintState::Reprinted,
            "spoiled" => PrintState::Spoiled,
            other => return Err(StoreError::Invalid(format!("unknown print state {other}"))),
        })
    }
    /// Selling stays locked while a receipt is in one of these states.
    pub fn is_unresolved(&self) -> bool {
        matches!(self, PrintState::Pending | PrintState::PrintFailed)
    }
}

/// What the operator asks to sell.
#[derive(Clone, Debug)]
pub struct SaleRequest {
    pub package_id: Uuid,
    pub payment: Payment,
    pub customer: Option<CustomerInfo>,
}

/// A committed sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sale {
    pub id: Uuid,
    pub epoch: i64,
    pub seq: u64,
    pub event_id: Uuid,
    pub package_id: Uuid,
    pub package_name: String,
    pub ticket_count: u32,
    pub unit_price: Money,
    pub total: Money,
    pub validation_number: String,
    pub draw_numbers: Vec<DrawNumber>,
    pub operator_id: Uuid,
    pub shift_id: Option<Uuid>,
    pub payment: Payment,
    pub customer: Option<CustomerInfo>,
    pub sold_at: DateTime<Utc>,
    pub print_state: PrintState,
    pub print_count: u32,
    pub reprint_count: u32,
    pub print_error: Option<String>,
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
}

/// Everything besides the sale that its receipt shows.
#[derive(Clone, Debug)]
pub struct ReceiptContext {
    pub organization_name: String,
    pub license_number: String,
    pub event_name: String,
    pub event_identifier: String,
    pub draw_time: DateTime<Utc>,
    pub timezone: String,
    pub rsu_name: String,
    pub rsu_no: u32,
    pub operator_name: String,
    pub jurisdiction: JurisdictionProfile,
}

struct EventRow {
    state: EventState,
    currency: String,
    sales_start: DateTime<Utc>,
    sales_end: DateTime<Utc>,
    suspended: bool,
    jurisdiction: JurisdictionProfile,
}

fn load_event(tx: &Transaction<'_>, id: &str) -> Result<Option<EventRow>, StoreError> {
    let row: Option<(String, String, String, String, bool, String)> = tx
        .query_row(
            "SELECT state, currency, sales_start, sales_end, suspended, jurisdiction_json FROM events WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    let Some((state, currency, start, end, suspended, jur)) = row else {
        return Ok(None);
    };
    Ok(Some(EventRow {
        state: EventState::parse(&state)
            .ok_or_else(|| StoreError::Invalid(format!("unknown event state {state}")))?,
        currency,
        sales_start: parse_ts(&start)?,
        sales_end: parse_ts(&end)?,
        suspended,
        jurisdiction: serde_json::from_str(&jur)
            .map_err(|e| StoreError::Invalid(format!("jurisdiction profile: {e}")))?,
    }))
}

/// The columns [`package_from_row`] reads, in its order.
pub(crate) const PACKAGE_COLUMNS: &str =
    "id, event_id, name, ticket_count, price_minor, currency, display_order, is_active, active_from, active_to";

/// Reads a package row selected with [`PACKAGE_COLUMNS`]; returns its event id and the package.
pub(crate) fn package_from_row(r: &rusqlite::Row<'_>) -> Result<(String, Package), StoreError> {
    let currency: String = r.get(5)?;
    let currency = Currency::new(&currency).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let from: Option<String> = r.get(8)?;
    let to: Option<String> = r.get(9)?;
    Ok((
        r.get(1)?,
        Package {
            id: parse_uuid(&r.get::<_, String>(0)?)?,
            name: r.get(2)?,
            ticket_count: r.get(3)?,
            price: Money::new(r.get(4)?, currency),
            display_order: r.get(6)?,
            is_active: r.get(7)?,
            active_from: from.map(|s| parse_ts(&s)).transpose()?,
            active_to: to.map(|s| parse_ts(&s)).transpose()?,
        },
    ))
}

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

/// Sum of unsynced tickets and the oldest pending entry time.
fn offline_exposure(tx: &Transaction<'_>) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
    let tickets: i64 = tx.query_row(
        "SELECT coalesce(sum(s.ticket_count), 0) FROM sales s JOIN journal j ON j.epoch = s.epoch AND j.seq = s.seq WHERE j.sync_status = 'pending'",
        [],
        |r| r.get(0),
    )?;
    let oldest: Option<String> = tx.query_row(
        "SELECT min(created_at) FROM journal WHERE sync_status = 'pending'",
        [],
        |r| r.get(0),
    )?;
    Ok((tickets as u64, oldest.map(|s| parse_ts(&s)).transpose()?))
}

/// The earliest receipt whose print is not confirmed and not spoiled.
pub(crate) fn unresolved_sale(tx: &Transaction<'_>) -> Result<Option<String>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT id FROM sales WHERE print_state IN ('pending', 'print_failed') AND voided_at IS NULL ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// The fields DESIGN §5 requires that come from configuration; empty ones refuse the sale.
fn missing_receipt_fields(
    tx: &Transaction<'_>,
    event_id: &str,
    j: &JurisdictionProfile,
) -> Result<Vec<&'static str>, StoreError> {
    let (org, licence): (String, String) = tx
        .query_row(
            "SELECT name, license_number FROM organization WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or(StoreError::NotEnrolled)?;
    let (name, ident): (String, String) = tx.query_row(
        "SELECT name, identifier FROM events WHERE id = ?1",
        [event_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
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
            missing.push(label);
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

const SALE_COLUMNS: &str = "id, epoch, seq, event_id, package_id, package_name, ticket_count, unit_price_minor, total_minor, currency, validation_number, operator_id, shift_id, payment_method, payment_reference, customer_json, sold_at, print_state, print_count, reprint_count, print_error, voided_at, void_reason";

fn sale_from_row(conn: &rusqlite::Connection, r: &rusqlite::Row<'_>) -> Result<Sale, StoreError> {
    let id: String = r.get(0)?;
    let currency: String = r.get(9)?;
    let cur = Currency::new(&currency).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let method: String = r.get(13)?;
    let customer: Option<String> = r.get(15)?;
    let mut stmt = conn.prepare_cached(
        "SELECT draw_number FROM sale_numbers WHERE sale_id = ?1 ORDER BY draw_number",
    )?;
    let draw_numbers = stmt
        .query_map([&id], |r| r.get(0).map(DrawNumber))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Sale {
        id: parse_uuid(&id)?,
        epoch: r.get(1)?,
        seq: r.get(2)?,
        event_id: parse_uuid(&r.get::<_, String>(3)?)?,
        package_id: parse_uuid(&r.get::<_, String>(4)?)?,
        package_name: r.get(5)?,
        ticket_count: r.get(6)?,
        unit_price: Money::new(r.get(7)?, cur),
        total: Money::new(r.get(8)?, cur),
        validation_number: r.get(10)?,
        draw_numbers,
        operator_id: parse_uuid(&r.get::<_, String>(11)?)?,
        shift_id: r
            .get::<_, Option<String>>(12)?
            .map(|s| parse_uuid(&s))
            .transpose()?,
        payment: Payment {
            method: PaymentMethod::parse(&method)
                .ok_or_else(|| StoreError::Invalid(format!("payment method {method}")))?,
            reference: r.get(14)?,
        },
        customer: customer
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(|e| StoreError::Invalid(format!("customer info: {e}")))?,
        sold_at: parse_ts(&r.get::<_, String>(16)?)?,
        print_state: PrintState::parse(&r.get::<_, String>(17)?)?,
        print_count: r.get(18)?,
        reprint_count: r.get(19)?,
        print_error: r.get(20)?,
        voided_at: r
            .get::<_, Option<String>>(21)?
            .map(|s| parse_ts(&s))
            .transpose()?,
        void_reason: r.get(22)?,
    })
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
        if operator.is_some() && crate::closing::is_closed(&tx, &event_id)? {
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
        let missing = missing_receipt_fields(&tx, &event_id, &event.jurisdiction)?;
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
        let vn = ValidationNumber::issue(&key, &prefix, rsu_no, now.year(), sale_seq)
            .map_err(|e| StoreError::Invalid(e.to_string()))?
            .to_string();

        let total = package.price; // A package price is the price of the whole package.
        let id = rsu_core::ids::new_id();
        let customer = req.customer.clone().filter(|c| !c.is_empty());
        let payload = SalePayload {
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

    pub fn sale(&self, id: Uuid) -> Result<Sale, StoreError> {
        load_sale(&self.conn, id)
    }

    /// Finds a sale by validation number (forgiving of case and surrounding spaces).
    pub fn find_sale(&self, validation_number: &str) -> Result<Sale, StoreError> {
        let wanted = ValidationNumber::parse(validation_number)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| validation_number.trim().to_ascii_uppercase());
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SALE_COLUMNS} FROM sales WHERE validation_number = ?1"
        ))?;
        let mut rows = stmt.query([&wanted])?;
        match rows.next()? {
            Some(r) => sale_from_row(&self.conn, r),
            None => Err(StoreError::NotFound(format!("no sale with validation number {wanted} on this device: check the number on the receipt"))),
        }
    }

    /// The latest sales, newest first; `search` filters by a part of the validation number.
    pub fn recent_sales(
        &self,
        limit: usize,
        search: Option<&str>,
    ) -> Result<Vec<Sale>, StoreError> {
        let pattern = format!("%{}%", search.unwrap_or("").trim().to_ascii_uppercase());
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SALE_COLUMNS} FROM sales WHERE validation_number LIKE ?1 ORDER BY epoch DESC, seq DESC LIMIT ?2"
        ))?;
        let mut rows = stmt.query(params![pattern, limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(sale_from_row(&self.conn, r)?);
        }
        Ok(out)
    }

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
        let n = tx.execute(
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
        let n = tx.execute(
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
        tx.execute(
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
        tx.execute(
            "UPDATE sales SET voided_at = ?2, void_reason = ?3, voided_by = ?4, void_seq = ?5, void_shift_id = ?6,
                    print_state = CASE WHEN ?7 OR print_state IN ('pending', 'print_failed') THEN 'spoiled' ELSE print_state END
             WHERE id = ?1",
            params![sale.id.to_string(), ts(&now), reason, sup.id.to_string(), entry.body.seq, void_shift.map(|s| s.to_string()), spoil],
        )?;
        tx.commit()?;
        self.sale(sale.id)
    }

    /// Everything a receipt needs besides the sale itself.
    pub fn receipt_context(&self, sale: &Sale) -> Result<ReceiptContext, StoreError> {
        receipt_context_of(&self.conn, sale)
    }
}

fn load_sale(conn: &rusqlite::Connection, id: Uuid) -> Result<Sale, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {SALE_COLUMNS} FROM sales WHERE id = ?1"))?;
    let mut rows = stmt.query([id.to_string()])?;
    match rows.next()? {
        Some(r) => sale_from_row(conn, r),
        None => Err(StoreError::NotFound(format!("no sale {id}"))),
    }
}

fn receipt_context_of(
    conn: &rusqlite::Connection,
    sale: &Sale,
) -> Result<ReceiptContext, StoreError> {
    let (org, licence): (String, String) = conn.query_row(
        "SELECT name, license_number FROM organization WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (name, ident, draw, tz, jur): (String, String, String, String, String) = conn.query_row(
        "SELECT name, identifier, draw_time, timezone, jurisdiction_json FROM events WHERE id = ?1",
        [sale.event_id.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let (rsu_name, rsu_no): (String, u32) =
        conn.query_row("SELECT name, rsu_no FROM device WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let operator_name: String = conn
        .query_row(
            "SELECT name FROM operators WHERE id = ?1",
            [sale.operator_id.to_string()],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_else(|| sale.operator_id.to_string());
    Ok(ReceiptContext {
        organization_name: org,
        license_number: licence,
        event_name: name,
        event_identifier: ident,
        draw_time: parse_ts(&draw)?,
        timezone: tz,
        rsu_name,
        rsu_no,
        operator_name,
        jurisdiction: serde_json::from_str(&jur)
            .map_err(|e| StoreError::Invalid(format!("jurisdiction profile: {e}")))?,
    })
}
