//! Sales: the types, reading sales back and what a receipt shows. Selling itself is in
//! `sell.rs`; what happens to a receipt afterwards (print states, reprints, voids, spoils) in
//! `receipt.rs`.

mod receipt;
mod sell;

pub(crate) use receipt::unresolved_sale;

use chrono::{DateTime, Utc};
use rsu_core::config::JurisdictionProfile;
use rsu_core::draw::DrawNumber;
use rsu_core::event::{EventState, Package};
use rsu_core::money::{Currency, Money};
use rsu_core::payload::{CustomerInfo, IssuedPerk, Payment, PaymentMethod};
use rsu_core::validation::ValidationNumber;
use rusqlite::{params, OptionalExtension, Transaction};
use uuid::Uuid;

use crate::CachedSql;
use crate::{parse_ts, parse_uuid, Store, StoreError};

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
    /// The perks the sale issued, in receipt order, with their claim codes (issue 14).
    pub perks: Vec<IssuedPerk>,
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
    /// The licensee's postal address, lines separated by `\n` (None when none is on file).
    pub organization_address: Option<String>,
    pub organization_phone: Option<String>,
    pub venue_name: Option<String>,
}

/// What a jurisdiction's `requiredReceiptFields` add to a receipt beyond DESIGN §5. Each is set
/// only when the event's jurisdiction requires it, so a receipt prints exactly what is required
/// (the operator's name, required or not, is printed on every receipt as before).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequiredReceiptExtras {
    /// `licenseeAddress`: the organization's address, one entry per printed line.
    pub licensee_address: Vec<String>,
    /// `venueName`.
    pub venue_name: Option<String>,
    /// `organizationPhone`.
    pub organization_phone: Option<String>,
}

/// The receipt fields a jurisdiction may require (server `jurisdictions::RECEIPT_FIELDS`), with
/// how a refusal names each one when it has no value.
pub(crate) const RECEIPT_FIELD_LABELS: [(&str, &str); 4] = [
    ("licenseeAddress", "the licensee's address"),
    ("venueName", "the venue name"),
    ("operatorName", "the operator's name"),
    ("organizationPhone", "the organization's phone number"),
];

/// The non-blank lines of an address as stored (`\n` between lines).
pub(crate) fn address_lines(address: Option<&str>) -> Vec<String> {
    address
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn non_blank(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

impl ReceiptContext {
    /// Whether the event's jurisdiction requires `field` (`licenseeAddress`, `venueName`,
    /// `operatorName` or `organizationPhone`) on the receipt.
    pub fn requires(&self, field: &str) -> bool {
        self.jurisdiction
            .required_receipt_fields
            .iter()
            .any(|f| f == field)
    }

    /// The extra receipt lines the jurisdiction requires (see [`RequiredReceiptExtras`]).
    pub fn required_extras(&self) -> RequiredReceiptExtras {
        RequiredReceiptExtras {
            licensee_address: if self.requires("licenseeAddress") {
                address_lines(self.organization_address.as_deref())
            } else {
                Vec::new()
            },
            venue_name: non_blank(&self.venue_name).filter(|_| self.requires("venueName")),
            organization_phone: non_blank(&self.organization_phone)
                .filter(|_| self.requires("organizationPhone")),
        }
    }
}

struct EventRow {
    state: EventState,
    currency: String,
    sales_start: DateTime<Utc>,
    sales_end: DateTime<Utc>,
    suspended: bool,
    jurisdiction: JurisdictionProfile,
}

/// The columns [`event_row`] reads, in its order.
const EVENT_COLUMNS: &str = "state, currency, sales_start, sales_end, suspended, jurisdiction_json";

/// Reads an event row selected with [`EVENT_COLUMNS`] first.
fn event_row(r: &rusqlite::Row<'_>) -> Result<EventRow, StoreError> {
    let state: String = r.get(0)?;
    let jur: String = r.get(5)?;
    Ok(EventRow {
        state: EventState::parse(&state)
            .ok_or_else(|| StoreError::Invalid(format!("unknown event state {state}")))?,
        currency: r.get(1)?,
        sales_start: parse_ts(&r.get::<_, String>(2)?)?,
        sales_end: parse_ts(&r.get::<_, String>(3)?)?,
        suspended: r.get(4)?,
        jurisdiction: serde_json::from_str(&jur)
            .map_err(|e| StoreError::Invalid(format!("jurisdiction profile: {e}")))?,
    })
}

fn load_event(tx: &Transaction<'_>, id: &str) -> Result<Option<EventRow>, StoreError> {
    let mut stmt =
        tx.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(r) => event_row(r).map(Some),
        None => Ok(None),
    }
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
            perk_ids: vec![],
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
        perks: crate::perks::sale_perks(conn, &id)?,
    })
}

impl Store {
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
    type OrgRow = (String, String, Option<String>, Option<String>);
    let (org, licence, address, phone): OrgRow = conn.query_row_cached(
        "SELECT name, license_number, address, phone FROM organization WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    type EventFacts = (String, String, String, String, String, Option<String>);
    let (name, ident, draw, tz, jur, venue): EventFacts = conn.query_row_cached(
        "SELECT name, identifier, draw_time, timezone, jurisdiction_json, venue_name FROM events WHERE id = ?1",
        [sale.event_id.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
    )?;
    let (rsu_name, rsu_no): (String, u32) =
        conn.query_row_cached("SELECT name, rsu_no FROM device WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let operator_name: String = conn
        .query_row_cached(
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
        organization_address: address,
        organization_phone: phone,
        venue_name: venue,
    })
}
