//! Receipt composition: plain data in, ESC/POS bytes out. No I/O.
//!
//! The store calls [`check_complete`] (or simply [`compose_sale`]) *before* it commits a sale:
//! a receipt that would miss a required field of DESIGN §5, or carry text the printer cannot
//! print, is refused there and the sale does not happen. The bytes returned by `compose_*` are
//! deterministic for the same input, so a reprint composed from the same data (with `reprint`
//! set) differs from the original only by its `REPRINT n` lines.
//!
//! Bytes are built in memory with the `escpos` crate (init, alignment, styles, feeds, cut, the
//! printer-drawn QR code `GS ( k`, cash drawer) while all text goes through [`crate::text`].
//!
//! Why this file is over 800 lines: the sale receipt, the reprint and the Z report share one layout engine and its golden tests; splitting per document is for when a fourth document arrives.

use crate::error::ReceiptError;
use crate::text::{self, SELECT_CP1252};
use crate::PaperWidth;
use chrono::NaiveDateTime;
use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::utils::{JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption};
use qrcode::EcLevel;
use rsu_core::draw::{compress, DrawNumber, DrawRange};
use rsu_core::money::{Currency, Money};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;

/// The sentence every raffle ticket must carry (DESIGN §5).
pub const NEED_NOT_BE_PRESENT: &str = "Ticket holders need not be present to win.";

/// The longest QR payload accepted, in bytes. It keeps the `GS ( k` data short enough that the
/// NUL run sent after an aborted job (see [`crate::worker`]) always completes it.
pub const MAX_QR_PAYLOAD: usize = 300;

/// Everything a sale receipt prints. Plain data: the store fills it from the sale, the event, the
/// organization and the device, and may persist it (serde, camelCase) to reprint it later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaleReceipt {
    pub organization_name: String,
    /// The gaming licence number of the organization.
    pub licence_number: String,
    pub event_name: String,
    /// The event identifier as the regulator or the server knows it.
    pub event_id: String,
    /// Draw date and time in the venue's local time.
    pub draw_at: NaiveDateTime,
    /// Label printed after local times, e.g. `EDT (UTC-04:00)` (see [`crate::venue_time`]).
    pub time_zone: String,
    /// Label printed after the draw time when it is not `time_zone`: a daylight-saving change
    /// between issue and draw (issued in `EST`, drawn in `EDT`). `None` prints `time_zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw_time_zone: Option<String>,
    /// The device's identifier, e.g. `RSU001`.
    pub rsu_id: String,
    pub operator_name: String,
    /// Date and time of issue in the venue's local time.
    pub issued_at: NaiveDateTime,
    /// Every draw number sold, in any order; printed compressed as ranges.
    pub draw_numbers: Vec<DrawNumber>,
    pub package_name: String,
    /// How many of the package were sold in this sale (usually 1).
    pub package_quantity: u32,
    /// Price of one package.
    pub package_price: Money,
    /// Amount paid: `package_price × package_quantity`.
    pub total: Money,
    /// `Cash`, `Card`, …; printed when present.
    #[serde(default)]
    pub payment_method: Option<String>,
    /// Card authorisation or other payment reference; printed when present.
    #[serde(default)]
    pub payment_reference: Option<String>,
    /// The validation number, e.g. `RSU001-2026-000123-K7QF`.
    pub validation_number: String,
    /// What the QR code carries: the validation number and the device signature (given by the
    /// caller, printable ASCII, must contain the validation number).
    pub qr_payload: String,
    pub rules_url: String,
    /// Claim deadline as the jurisdiction profile words it, e.g. `2026-10-04` or `90 days after
    /// the draw`; printed after "Claim by " unless it is already a sentence starting with "Claim"
    /// (see [`claim_line`]).
    pub claim_deadline: String,
    pub responsible_gaming_text: String,
    /// `Some(n)` for the n-th reprint of this sale: the receipt says `REPRINT n`.
    #[serde(default)]
    pub reprint: Option<u32>,
    /// The perks the sale issued, in order, each printed with its one-time claim code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perks: Vec<ReceiptPerk>,
    /// The licensee's address, one entry per line, printed under the licence when a
    /// jurisdiction requires it (`licenseeAddress`); empty prints nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licensee_address: Vec<String>,
    /// The organization's phone, printed under the address when required (`organizationPhone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_phone: Option<String>,
    /// The venue, printed under the event when required (`venueName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_name: Option<String>,
}

/// A perk on a sale receipt: its name and the code the desk takes to hand it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptPerk {
    pub name: String,
    /// E.g. `RSU001-2026-000123-P1-7KQF9M` (printable ASCII).
    pub claim_code: String,
}

/// The label before a perk's claim code.
pub const CLAIM_AT_THE_DESK: &str = "Claim at the desk:";

/// One package line of a Z report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZPackageLine {
    pub package_name: String,
    pub sales_count: u32,
    pub sales_amount: Money,
    pub void_count: u32,
    pub void_amount: Money,
}

/// Draw numbers used from one allocated range during the shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZRangeUse {
    pub allocation: DrawRange,
    pub used: Vec<DrawNumber>,
}

/// The shift close (Z) report (DESIGN §4 "Shifts").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZReport {
    pub organization_name: String,
    pub licence_number: String,
    pub event_name: String,
    pub event_id: String,
    pub rsu_id: String,
    pub operator_name: String,
    #[serde(default)]
    pub supervisor_name: Option<String>,
    pub shift_id: String,
    pub opened_at: NaiveDateTime,
    pub closed_at: NaiveDateTime,
    pub time_zone: String,
    pub currency: Currency,
    pub packages: Vec<ZPackageLine>,
    #[serde(default)]
    pub cash_float: Option<Money>,
    /// Cash that should be in the drawer: float plus cash sales minus cash voids.
    pub cash_expected: Money,
    /// First and last journal `seq` of the shift; `None` for a shift without entries.
    #[serde(default)]
    pub first_seq: Option<u64>,
    #[serde(default)]
    pub last_seq: Option<u64>,
    /// Journal chain head (hex SHA-256) at close.
    pub chain_head: String,
    pub ranges: Vec<ZRangeUse>,
    #[serde(default)]
    pub reprint: Option<u32>,
}

/// What a printer test page shows besides its fixed samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestPage {
    /// Device identifier or host name.
    pub device: String,
    /// Human description of the transport, e.g. `serial /dev/ttyUSB0 38400 8N1 rts/cts`.
    pub transport: String,
    pub printed_at: NaiveDateTime,
    pub time_zone: String,
}

/// Which connector pin pulses the cash drawer (`ESC p m`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DrawerPin {
    #[default]
    Pin2,
    Pin5,
}

/// The required fields of DESIGN §5 that are blank or empty, by their camelCase names.
/// An empty list means every required field has a value (it may still fail to encode).
pub fn required_fields_missing(r: &SaleReceipt) -> Vec<&'static str> {
    let mut missing = Vec::new();
    let texts: [(&'static str, &str); 13] = [
        ("organizationName", &r.organization_name),
        ("licenceNumber", &r.licence_number),
        ("eventName", &r.event_name),
        ("eventId", &r.event_id),
        ("timeZone", &r.time_zone),
        ("rsuId", &r.rsu_id),
        ("operatorName", &r.operator_name),
        ("packageName", &r.package_name),
        ("validationNumber", &r.validation_number),
        ("qrPayload", &r.qr_payload),
        ("rulesUrl", &r.rules_url),
        ("claimDeadline", &r.claim_deadline),
        ("responsibleGamingText", &r.responsible_gaming_text),
    ];
    for (name, value) in texts {
        if value.trim().is_empty() {
            missing.push(name);
        }
    }
    if r.draw_numbers.is_empty() {
        missing.push("drawNumbers");
    }
    if r.package_quantity == 0 {
        missing.push("packageQuantity");
    }
    missing
}

/// Refuses a receipt that would print incomplete or wrong, without printing anything.
///
/// Call it before committing a sale, with the configured paper width: it checks the required
/// fields, the arithmetic (total = price × quantity, one currency), the draw numbers, that every
/// character can be printed, and that the QR code fits the paper.
pub fn check_complete(r: &SaleReceipt, width: PaperWidth) -> Result<(), ReceiptError> {
    compose_sale(r, width).map(|_| ())
}

fn check_sale_consistency(r: &SaleReceipt) -> Result<(), ReceiptError> {
    let missing = required_fields_missing(r);
    if !missing.is_empty() {
        return Err(ReceiptError::MissingFields(missing));
    }
    if r.package_price.minor < 0 || r.total.minor < 0 {
        return Err(ReceiptError::Inconsistent {
            field: "total",
            reason: "prices and totals must not be negative".into(),
        });
    }
    let expected = r
        .package_price
        .checked_mul(i64::from(r.package_quantity))
        .map_err(|e| ReceiptError::Inconsistent {
            field: "total",
            reason: e.to_string(),
        })?;
    if expected != r.total {
        return Err(ReceiptError::Inconsistent {
            field: "total",
            reason: format!(
                "total {} is not {} × {} = {}",
                r.total, r.package_quantity, r.package_price, expected
            ),
        });
    }
    let mut sorted: Vec<i64> = r.draw_numbers.iter().map(|n| n.0).collect();
    sorted.sort_unstable();
    if sorted.first().is_some_and(|n| *n < 1) {
        return Err(ReceiptError::Inconsistent {
            field: "drawNumbers",
            reason: "draw numbers start at 1".into(),
        });
    }
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(ReceiptError::Inconsistent {
            field: "drawNumbers",
            reason: "a draw number appears twice".into(),
        });
    }
    if !r.qr_payload.contains(r.validation_number.trim()) {
        return Err(ReceiptError::QrWithoutValidationNumber);
    }
    Ok(())
}

/// The receipt's claim line: `Claim by <deadline>`, or the deadline as given when the
/// jurisdiction profile already words it as a sentence ("Claim within 90 days of the draw"), so
/// it never reads "Claim by Claim within …".
pub fn claim_line(deadline: &str) -> String {
    let d = deadline.trim();
    let is_sentence = d
        .split_whitespace()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("claim"));
    if is_sentence {
        d.to_string()
    } else {
        format!("Claim by {d}")
    }
}

/// Composes a sale receipt (or a reprint of one, when `r.reprint` is set).
pub fn compose_sale(r: &SaleReceipt, width: PaperWidth) -> Result<Vec<u8>, ReceiptError> {
    check_sale_consistency(r)?;
    let mut d = Doc::new(width)?;
    let tz = &r.time_zone;

    if let Some(n) = r.reprint {
        d.reprint_banner(n)?;
    }
    d.align(JustifyMode::CENTER)?;
    d.bold(true)?;
    d.para(&r.organization_name, "organizationName")?;
    d.bold(false)?;
    d.para(&format!("Licence {}", r.licence_number), "licenceNumber")?;
    for line in r.licensee_address.iter().filter(|l| !l.trim().is_empty()) {
        d.para(line, "licenseeAddress")?;
    }
    if let Some(phone) = r
        .organization_phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
    {
        d.para(&format!("Tel. {}", phone.trim()), "organizationPhone")?;
    }
    d.blank()?;
    d.bold(true)?;
    d.size(1, 2)?;
    d.para(&r.event_name, "eventName")?;
    d.size(1, 1)?;
    d.bold(false)?;
    d.para(&format!("Event {}", r.event_id), "eventId")?;
    if let Some(venue) = r.venue_name.as_deref().filter(|v| !v.trim().is_empty()) {
        d.para(&format!("Venue {}", venue.trim()), "venueName")?;
    }
    d.para(
        &format!(
            "Draw {} {}",
            r.draw_at.format("%Y-%m-%d %H:%M"),
            r.draw_time_zone.as_deref().unwrap_or(tz)
        ),
        "drawAt",
    )?;
    d.rule()?;

    d.align(JustifyMode::LEFT)?;
    d.kv("Package", &r.package_name, "packageName")?;
    d.kv(
        "Quantity",
        &format!("{} x {}", r.package_quantity, r.package_price),
        "packagePrice",
    )?;
    d.kv("Tickets", &r.draw_numbers.len().to_string(), "drawNumbers")?;
    d.bold(true)?;
    d.kv("TOTAL", &r.total.to_string(), "total")?;
    d.bold(false)?;
    if let Some(method) = r.payment_method.as_deref().filter(|m| !m.trim().is_empty()) {
        let paid = match r
            .payment_reference
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(reference) => format!("{method} {reference}"),
            None => method.to_string(),
        };
        d.kv("Paid", &paid, "payment")?;
    }
    d.rule()?;
    if !r.perks.is_empty() {
        for p in &r.perks {
            d.bold(true)?;
            d.kv("Perk", &p.name, "perks")?;
            d.bold(false)?;
            if !p.claim_code.is_ascii() || p.claim_code.trim().is_empty() {
                return Err(ReceiptError::Inconsistent {
                    field: "perks",
                    reason: format!("claim code {:?} is not printable ASCII", p.claim_code),
                });
            }
            d.kv(CLAIM_AT_THE_DESK, &p.claim_code, "perks")?;
        }
        d.rule()?;
    }

    d.align(JustifyMode::CENTER)?;
    d.bold(true)?;
    d.para(
        &format!("DRAW NUMBERS ({})", r.draw_numbers.len()),
        "drawNumbers",
    )?;
    d.ranges(&compress(&r.draw_numbers))?;
    d.bold(false)?;
    d.rule()?;

    d.para("Validation number", "validationNumber")?;
    d.bold(true)?;
    d.exact(&r.validation_number, "validationNumber")?;
    d.bold(false)?;
    d.blank()?;
    d.qr(&r.qr_payload)?;
    d.blank()?;
    d.rule()?;

    d.align(JustifyMode::LEFT)?;
    d.kv("RSU", &r.rsu_id, "rsuId")?;
    d.kv("Operator", &r.operator_name, "operatorName")?;
    d.kv(
        "Issued",
        &format!("{} {}", r.issued_at.format("%Y-%m-%d %H:%M:%S"), tz),
        "issuedAt",
    )?;
    d.rule()?;

    d.align(JustifyMode::CENTER)?;
    d.bold(true)?;
    d.para(NEED_NOT_BE_PRESENT, "needNotBePresent")?;
    d.bold(false)?;
    d.para(&claim_line(&r.claim_deadline), "claimDeadline")?;
    d.para("Rules:", "rulesUrl")?;
    d.exact(&r.rules_url, "rulesUrl")?;
    d.blank()?;
    d.para(&r.responsible_gaming_text, "responsibleGamingText")?;
    if let Some(n) = r.reprint {
        d.blank()?;
        d.reprint_banner(n)?;
    }
    d.end()
}

/// Composes the shift close (Z) report.
pub fn compose_z_report(z: &ZReport, width: PaperWidth) -> Result<Vec<u8>, ReceiptError> {
    let mut missing = Vec::new();
    for (name, value) in [
        ("organizationName", &z.organization_name),
        ("licenceNumber", &z.licence_number),
        ("eventName", &z.event_name),
        ("eventId", &z.event_id),
        ("rsuId", &z.rsu_id),
        ("operatorName", &z.operator_name),
        ("shiftId", &z.shift_id),
        ("timeZone", &z.time_zone),
        ("chainHead", &z.chain_head),
    ] {
        if value.trim().is_empty() {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Err(ReceiptError::MissingFields(missing));
    }
    let mismatch =
        |field: &'static str, e: rsu_core::money::MoneyError| ReceiptError::Inconsistent {
            field,
            reason: e.to_string(),
        };
    let mut sales_total = Money::zero(z.currency);
    let mut void_total = Money::zero(z.currency);
    let (mut sales_count, mut void_count) = (0u64, 0u64);
    for line in &z.packages {
        sales_total = sales_total
            .checked_add(line.sales_amount)
            .map_err(|e| mismatch("packages.salesAmount", e))?;
        void_total = void_total
            .checked_add(line.void_amount)
            .map_err(|e| mismatch("packages.voidAmount", e))?;
        sales_count += u64::from(line.sales_count);
        void_count += u64::from(line.void_count);
    }
    let net = sales_total
        .checked_sub(void_total)
        .map_err(|e| mismatch("packages", e))?;

    let tz = &z.time_zone;
    let mut d = Doc::new(width)?;
    if let Some(n) = z.reprint {
        d.reprint_banner(n)?;
    }
    d.align(JustifyMode::CENTER)?;
    d.bold(true)?;
    d.size(2, 2)?;
    d.para("Z REPORT", "title")?;
    d.size(1, 1)?;
    d.para("Shift close", "title")?;
    d.bold(false)?;
    d.para(&z.organization_name, "organizationName")?;
    d.para(&format!("Licence {}", z.licence_number), "licenceNumber")?;
    d.para(&z.event_name, "eventName")?;
    d.para(&format!("Event {}", z.event_id), "eventId")?;
    d.rule()?;
    d.align(JustifyMode::LEFT)?;
    d.kv("RSU", &z.rsu_id, "rsuId")?;
    d.kv("Shift", &z.shift_id, "shiftId")?;
    d.kv("Operator", &z.operator_name, "operatorName")?;
    if let Some(s) = z
        .supervisor_name
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        d.kv("Supervisor", s, "supervisorName")?;
    }
    d.kv(
        "Opened",
        &format!("{} {}", z.opened_at.format("%Y-%m-%d %H:%M:%S"), tz),
        "openedAt",
    )?;
    d.kv(
        "Closed",
        &format!("{} {}", z.closed_at.format("%Y-%m-%d %H:%M:%S"), tz),
        "closedAt",
    )?;
    d.rule()?;
    for line in &z.packages {
        d.bold(true)?;
        d.para(&line.package_name, "packageName")?;
        d.bold(false)?;
        d.kv(
            "  Sales",
            &format!("{} / {}", line.sales_count, line.sales_amount),
            "salesAmount",
        )?;
        d.kv(
            "  Voids",
            &format!("{} / {}", line.void_count, line.void_amount),
            "voidAmount",
        )?;
    }
    if z.packages.is_empty() {
        d.para("No sales in this shift.", "packages")?;
    }
    d.rule()?;
    d.kv("Sales", &format!("{sales_count} / {sales_total}"), "sales")?;
    d.kv("Voids", &format!("{void_count} / {void_total}"), "voids")?;
    d.bold(true)?;
    d.kv("NET", &net.to_string(), "net")?;
    d.bold(false)?;
    if let Some(float) = z.cash_float {
        d.kv("Cash float", &float.to_string(), "cashFloat")?;
    }
    d.bold(true)?;
    d.kv(
        "Cash expected",
        &z.cash_expected.to_string(),
        "cashExpected",
    )?;
    d.bold(false)?;
    d.rule()?;
    let seq = |s: Option<u64>| s.map_or_else(|| "-".to_string(), |v| v.to_string());
    d.kv("First seq", &seq(z.first_seq), "firstSeq")?;
    d.kv("Last seq", &seq(z.last_seq), "lastSeq")?;
    d.para("Chain head", "chainHead")?;
    d.exact(&z.chain_head, "chainHead")?;
    d.rule()?;
    d.para("Draw numbers used", "ranges")?;
    for range in &z.ranges {
        let used: usize = range.used.len();
        d.kv(
            &format!("  {}", range.allocation),
            &format!("{used} used"),
            "ranges",
        )?;
        let compressed = compress(&range.used);
        if !compressed.is_empty() {
            d.indent_ranges(&compressed)?;
        }
    }
    if z.ranges.is_empty() {
        d.para("  none", "ranges")?;
    }
    d.rule()?;
    d.blank()?;
    d.para("Operator signature:", "signature")?;
    d.blank()?;
    d.rule()?;
    d.para("Supervisor signature:", "signature")?;
    d.blank()?;
    d.rule()?;
    if let Some(n) = z.reprint {
        d.reprint_banner(n)?;
    }
    d.end()
}

/// Composes a printer test page: width ruler, character samples (hyphen, accents, en dash,
/// currency), styles, alignment and a QR code.
pub fn compose_test_page(t: &TestPage, width: PaperWidth) -> Result<Vec<u8>, ReceiptError> {
    let mut d = Doc::new(width)?;
    let cols = width.columns();
    d.align(JustifyMode::CENTER)?;
    d.bold(true)?;
    d.size(2, 2)?;
    d.para("TEST PAGE", "title")?;
    d.size(1, 1)?;
    d.bold(false)?;
    d.para("Elite Raffle RSU", "title")?;
    d.rule()?;
    d.align(JustifyMode::LEFT)?;
    d.kv("Device", &t.device, "device")?;
    d.para("Transport:", "transport")?;
    d.para(&format!("  {}", t.transport), "transport")?;
    d.kv(
        "Printed",
        &format!(
            "{} {}",
            t.printed_at.format("%Y-%m-%d %H:%M:%S"),
            t.time_zone
        ),
        "printedAt",
    )?;
    d.kv(
        "Paper",
        &format!("{} {} dots {} cols", width.label(), width.dots(), cols),
        "paper",
    )?;
    d.rule()?;
    let ruler: String = (1..=cols)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    d.exact(&ruler, "ruler")?;
    d.para("Hyphen: a-b-c 2026-07-04", "sample")?;
    d.para("Accents: José Müller Ærøskøbing", "sample")?;
    d.para("àéîõü ÀÉÎÕÜ ñÑ çÇ ß", "sample")?;
    d.para("Ranges: 1001\u{2013}1005, 1101\u{2013}1102", "sample")?;
    d.para("Money: $20.00 €5.00 £3.00 ¥500", "sample")?;
    d.bold(true)?;
    d.para("Bold text", "sample")?;
    d.bold(false)?;
    d.size(2, 1)?;
    d.para("Double width", "sample")?;
    d.size(1, 2)?;
    d.para("Double height", "sample")?;
    d.size(1, 1)?;
    d.align(JustifyMode::CENTER)?;
    d.para("Centered", "sample")?;
    d.align(JustifyMode::RIGHT)?;
    d.para("Right", "sample")?;
    d.align(JustifyMode::CENTER)?;
    d.blank()?;
    d.qr(&format!("RSU-TEST-PAGE {}", t.device.trim()))?;
    d.blank()?;
    d.para("If you can read this, printing works.", "sample")?;
    d.end()
}

/// The module size (dots per module) for a printer-drawn QR code of `payload` on `width` paper,
/// and its width in modules. The printer silently drops a code wider than the paper, so the
/// composer checks here and refuses instead.
pub fn qr_geometry(payload: &str, width: PaperWidth) -> Result<(u8, usize), ReceiptError> {
    if payload.len() > MAX_QR_PAYLOAD {
        return Err(ReceiptError::QrTooLong {
            len: payload.len(),
            max: MAX_QR_PAYLOAD,
        });
    }
    // Only the symbol version (hence the width) is needed: encoding the data gives it without
    // the costly masking step of building the whole symbol.
    let bits = qrcode::bits::encode_auto(payload.as_bytes(), EcLevel::M).map_err(|_| {
        ReceiptError::QrTooLong {
            len: payload.len(),
            max: MAX_QR_PAYLOAD,
        }
    })?;
    let modules = usize::try_from(bits.version().width()).unwrap_or(usize::MAX);
    // Aim at no more than 60 % of the paper, with a module of 3 to 8 dots.
    let budget = width.dots() as usize * 6 / 10;
    let size = (budget / modules).min(8);
    if size < 3 {
        return Err(ReceiptError::QrTooWide {
            modules,
            dots: width.dots(),
        });
    }
    Ok((size as u8, modules))
}

/// An in-memory `escpos` driver: the printer writes its instructions into a shared buffer.
#[derive(Clone, Default)]
struct MemoryDriver {
    buf: Rc<RefCell<Vec<u8>>>,
}

impl Driver for MemoryDriver {
    fn name(&self) -> String {
        "memory".to_owned()
    }
    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.buf.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }
    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

fn builder_err(e: escpos::errors::PrinterError) -> ReceiptError {
    ReceiptError::Builder(e.to_string())
}

/// A receipt being laid out: tracks the width and the current character size.
struct Doc {
    printer: Printer<MemoryDriver>,
    buf: Rc<RefCell<Vec<u8>>>,
    width: PaperWidth,
    char_width: usize,
}

impl Doc {
    fn new(width: PaperWidth) -> Result<Self, ReceiptError> {
        let driver = MemoryDriver::default();
        let buf = driver.buf.clone();
        let mut printer = Printer::new(driver, Protocol::default(), None);
        printer.init().map_err(builder_err)?;
        printer.custom(&SELECT_CP1252).map_err(builder_err)?;
        Ok(Doc {
            printer,
            buf,
            width,
            char_width: 1,
        })
    }

    fn cols(&self) -> usize {
        self.width.columns() / self.char_width
    }

    fn align(&mut self, mode: JustifyMode) -> Result<(), ReceiptError> {
        self.printer.justify(mode).map_err(builder_err)?;
        Ok(())
    }

    fn bold(&mut self, on: bool) -> Result<(), ReceiptError> {
        self.printer.bold(on).map_err(builder_err)?;
        Ok(())
    }

    fn size(&mut self, w: u8, h: u8) -> Result<(), ReceiptError> {
        self.printer.size(w, h).map_err(builder_err)?;
        self.char_width = usize::from(w);
        Ok(())
    }

    fn raw_line(&mut self, bytes: &[u8]) -> Result<(), ReceiptError> {
        self.printer.custom(bytes).map_err(builder_err)?;
        self.printer.custom(b"\n").map_err(builder_err)?;
        Ok(())
    }

    fn blank(&mut self) -> Result<(), ReceiptError> {
        self.printer.custom(b"\n").map_err(builder_err)?;
        Ok(())
    }

    /// A paragraph of human text, word-wrapped to the line width.
    fn para(&mut self, text: &str, field: &'static str) -> Result<(), ReceiptError> {
        let bytes = text::encode(text.trim(), field)?;
        for line in wrap(&bytes, self.cols()) {
            self.raw_line(&line)?;
        }
        Ok(())
    }

    /// Text that must print exactly (identifiers, URLs): ASCII only, broken at the line width.
    fn exact(&mut self, text: &str, field: &'static str) -> Result<(), ReceiptError> {
        let bytes = text::encode_exact(text.trim(), field)?;
        for line in bytes.chunks(self.cols().max(1)) {
            self.raw_line(line)?;
        }
        Ok(())
    }

    /// `Label ........ value` on one line when it fits, else the label then the indented value.
    fn kv(&mut self, label: &str, value: &str, field: &'static str) -> Result<(), ReceiptError> {
        let label = text::encode(label, field)?;
        let value = text::encode(value.trim(), field)?;
        let cols = self.cols();
        if label.len() + 1 + value.len() <= cols {
            let mut line = label;
            line.resize(cols - value.len(), b' ');
            line.extend_from_slice(&value);
            self.raw_line(&line)
        } else {
            self.raw_line(&label)?;
            for line in wrap(&value, cols.saturating_sub(2).max(1)) {
                let mut indented = b"  ".to_vec();
                indented.extend_from_slice(&line);
                self.raw_line(&indented)?;
            }
            Ok(())
        }
    }

    fn rule(&mut self) -> Result<(), ReceiptError> {
        let line = vec![b'-'; self.cols()];
        self.raw_line(&line)
    }

    /// Compressed draw ranges, wrapped only between ranges so none is split.
    fn ranges(&mut self, ranges: &[DrawRange]) -> Result<(), ReceiptError> {
        let items: Vec<String> = ranges.iter().map(ToString::to_string).collect();
        let text = items.join(", ");
        let bytes = text::encode(&text, "drawNumbers")?;
        for line in wrap(&bytes, self.cols()) {
            self.raw_line(&line)?;
        }
        Ok(())
    }

    fn indent_ranges(&mut self, ranges: &[DrawRange]) -> Result<(), ReceiptError> {
        let items: Vec<String> = ranges.iter().map(ToString::to_string).collect();
        let bytes = text::encode(&items.join(", "), "ranges")?;
        for line in wrap(&bytes, self.cols().saturating_sub(4).max(1)) {
            let mut indented = b"    ".to_vec();
            indented.extend_from_slice(&line);
            self.raw_line(&indented)?;
        }
        Ok(())
    }

    fn qr(&mut self, payload: &str) -> Result<(), ReceiptError> {
        let payload = payload.trim();
        text::encode_exact(payload, "qrPayload")?;
        let (size, _) = qr_geometry(payload, self.width)?;
        let option = QRCodeOption::new(QRCodeModel::Model2, size, QRCodeCorrectionLevel::M);
        self.printer
            .qrcode_option(payload, option)
            .map_err(builder_err)?;
        Ok(())
    }

    fn reprint_banner(&mut self, n: u32) -> Result<(), ReceiptError> {
        self.align(JustifyMode::CENTER)?;
        self.bold(true)?;
        self.size(2, 2)?;
        self.para(&format!("REPRINT {n}"), "reprint")?;
        self.size(1, 1)?;
        self.bold(false)?;
        Ok(())
    }

    /// Feeds the paper past the cutter, cuts, and returns the job bytes.
    fn end(mut self) -> Result<Vec<u8>, ReceiptError> {
        self.printer.feeds(4).map_err(builder_err)?;
        self.printer.cut().map_err(builder_err)?;
        self.printer.print().map_err(builder_err)?;
        let bytes = self.buf.borrow().clone();
        Ok(bytes)
    }
}

/// The `ESC p m t1 t2` bytes that pulse the cash drawer on `pin`: 50 ms on, 500 ms off.
///
/// Written by hand: `escpos` 0.20 sends only `ESC p m`, without the two timing bytes, so the
/// printer would take the next two bytes of the job as `t1 t2`.
pub fn drawer_kick(pin: DrawerPin) -> Vec<u8> {
    let m = match pin {
        DrawerPin::Pin2 => 0,
        DrawerPin::Pin5 => 1,
    };
    vec![0x1B, b'p', m, 25, 250]
}

/// Word-wraps encoded text (one byte per column) at `cols`, hard-breaking words that are longer.
fn wrap(bytes: &[u8], cols: usize) -> Vec<Vec<u8>> {
    let cols = cols.max(1);
    let mut lines = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    for word in bytes.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
        let needed = if line.is_empty() {
            word.len()
        } else {
            line.len() + 1 + word.len()
        };
        if needed <= cols {
            if !line.is_empty() {
                line.push(b' ');
            }
            line.extend_from_slice(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word;
        while rest.len() > cols {
            lines.push(rest[..cols].to_vec());
            rest = &rest[cols..];
        }
        line.extend_from_slice(rest);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_breaks_long_ones() {
        let lines = wrap(b"aa bb cc", 5);
        assert_eq!(lines, vec![b"aa bb".to_vec(), b"cc".to_vec()]);
        let lines = wrap(b"abcdefghij", 4);
        assert_eq!(
            lines,
            vec![b"abcd".to_vec(), b"efgh".to_vec(), b"ij".to_vec()]
        );
    }

    #[test]
    fn drawer_kick_is_esc_p() {
        assert_eq!(drawer_kick(DrawerPin::Pin2), vec![0x1B, b'p', 0, 25, 250]);
        assert_eq!(drawer_kick(DrawerPin::Pin5), vec![0x1B, b'p', 1, 25, 250]);
    }

    #[test]
    fn a_long_payload_gets_smaller_modules_and_too_long_is_refused() {
        let (small, _) = qr_geometry("RSU001-2026-000123-K7QF", PaperWidth::Mm58).unwrap();
        let (big, _) = qr_geometry(&"X".repeat(200), PaperWidth::Mm58).unwrap();
        assert!(big < small);
        assert!(matches!(
            qr_geometry(&"X".repeat(MAX_QR_PAYLOAD + 1), PaperWidth::Mm58),
            Err(ReceiptError::QrTooLong { .. })
        ));
    }
}
