//! The kiosk's side of printing: where the printer settings live, how a stored sale becomes a
//! [`SaleReceipt`], and print-confirmed issuance (DESIGN §4) on top of `rsu-print`'s worker.
//!
//! Printer settings are kept in `printer.json` next to the device database (the store's schema
//! belongs to `rsu-store`; a printer is a property of this box, not of the server's configuration).
//! The file holds an `rsu_print::PrinterConfig` as camelCase JSON. No file means "no printer
//! configured": the CLI then shows receipts on the terminal, as it always did.

use anyhow::{Context, Result};
use rsu_core::draw::{DrawNumber, DrawRange};
use rsu_core::money::{Currency, Money};
use rsu_core::payload::{PaymentMethod, ShiftClosePayload};
use rsu_core::printer_status::PrinterCondition;
use rsu_print::{
    compose_sale, compose_test_page, compose_z_report, PaperWidth, PrintError, PrintFailure,
    PrintJob, PrintReport, PrintWorker, PrinterConfig, ReceiptPerk, SaleReceipt, TestPage,
    TransportConfig, ZPackageLine, ZRangeUse, ZReport,
};
use rsu_store::{ReceiptContext, Sale, Store, StoreError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The printer settings file for the database at `db`.
pub fn settings_path(db: &Path) -> PathBuf {
    data_dir(db).join("printer.json")
}

/// The directory holding the database (where the demo's simulated printer writes receipts).
pub fn data_dir(db: &Path) -> PathBuf {
    match db.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where the simulated printer writes its `.txt`/`.png` receipts for the database at `db`.
pub fn sim_dir(db: &Path) -> PathBuf {
    data_dir(db).join("receipts")
}

/// A simulated printer writing into `dir`.
pub fn simulated(dir: PathBuf, paper_width: PaperWidth) -> PrinterConfig {
    PrinterConfig {
        transport: TransportConfig::Simulated { dir },
        paper_width,
        ..PrinterConfig::default()
    }
}

/// The configured printer, if any.
pub fn load_settings(db: &Path) -> Result<Option<PrinterConfig>> {
    let path = settings_path(db);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let config = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not valid printer settings: fix it or set the printer again with `rsu-app printer set`",
            path.display()
        )
    })?;
    Ok(Some(config))
}

/// Writes the printer settings atomically (temporary file, then rename).
pub fn save_settings(db: &Path, config: &PrinterConfig) -> Result<PathBuf> {
    let path = settings_path(db);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(config)?;
    std::fs::write(&tmp, text + "\n").with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Removes the printer settings (back to "no printer": receipts on the terminal).
pub fn clear_settings(db: &Path) -> Result<bool> {
    let path = settings_path(db);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// A venue-local time for the receipt and its label (`EDT (UTC-04:00)`, `UTC+02:00`, `UTC`):
/// IANA names through the time zone database, fixed offsets as given. See [`rsu_print::venue`].
pub use rsu_print::venue_time;

/// The receipt of a stored sale (`reprint = Some(n)` for the n-th reprint) with `qr_payload` in
/// its QR code (see [`crate::receipt_qr::receipt_qr_text`]; the validation number when `None`).
pub fn sale_receipt(
    sale: &Sale,
    ctx: &ReceiptContext,
    reprint: Option<u32>,
    qr_payload: Option<String>,
) -> SaleReceipt {
    let (draw_at, draw_tz) = venue_time(ctx.draw_time, &ctx.timezone);
    let (issued_at, tz) = venue_time(sale.sold_at, &ctx.timezone);
    // What the jurisdiction adds beyond DESIGN §5, each only when required.
    let extras = ctx.required_extras();
    SaleReceipt {
        organization_name: ctx.organization_name.clone(),
        licence_number: ctx.license_number.clone(),
        event_name: ctx.event_name.clone(),
        event_id: ctx.event_identifier.clone(),
        draw_at,
        // The draw may fall on the other side of a daylight-saving change.
        draw_time_zone: (draw_tz != tz).then_some(draw_tz),
        time_zone: tz,
        rsu_id: format!("RSU{:03}", ctx.rsu_no),
        operator_name: ctx.operator_name.clone(),
        issued_at,
        draw_numbers: sale.draw_numbers.clone(),
        package_name: sale.package_name.clone(),
        package_quantity: 1,
        package_price: sale.unit_price,
        total: sale.total,
        payment_method: Some(
            match sale.payment.method {
                PaymentMethod::Cash => "Cash",
                PaymentMethod::Card => "Card",
            }
            .to_string(),
        ),
        payment_reference: sale.payment.reference.clone(),
        validation_number: sale.validation_number.clone(),
        qr_payload: qr_payload.unwrap_or_else(|| sale.validation_number.clone()),
        rules_url: ctx.jurisdiction.rules_url.clone(),
        claim_deadline: ctx.jurisdiction.claim_deadline.clone(),
        responsible_gaming_text: ctx.jurisdiction.responsible_gaming_text.clone(),
        reprint,
        perks: sale
            .perks
            .iter()
            .map(|p| ReceiptPerk {
                name: p.perk_name.clone(),
                claim_code: p.claim_code.clone(),
            })
            .collect(),
        licensee_address: extras.licensee_address,
        organization_phone: extras.organization_phone,
        venue_name: extras.venue_name,
    }
}

/// The printable Z report of a closed shift.
pub fn z_report(store: &Store, z: &ShiftClosePayload) -> Result<ZReport> {
    let dev = store.device_context()?;
    let event = dev.event.clone();
    let tz = event.as_ref().map(|e| e.timezone.as_str()).unwrap_or("UTC");
    let currency = Currency::new(&z.currency)?;
    let money = |v: i64| Money::new(v, currency);
    let (opened_at, time_zone) = venue_time(z.opened_at, tz);
    let (closed_at, _) = venue_time(z.closed_at, tz);
    let allocations = store.allocations()?;
    let mut ranges = Vec::new();
    for r in &z.ranges {
        let alloc = allocations
            .iter()
            .find(|a| a.id == r.allocation_id)
            .map(|a| DrawRange::new(a.start_number, a.end_number))
            .transpose()?;
        let allocation = match alloc {
            Some(a) => a,
            None => DrawRange::new(r.first_number, r.last_number)?,
        };
        // Numbers are taken in order, so a shift's use of a range is contiguous unless another
        // operator sold from it in between; the report shows first to last either way.
        let used = (r.first_number..=r.last_number).map(DrawNumber).collect();
        ranges.push(ZRangeUse { allocation, used });
    }
    Ok(ZReport {
        organization_name: dev.organization_name,
        licence_number: dev.license_number,
        event_name: event.as_ref().map(|e| e.name.clone()).unwrap_or_default(),
        event_id: event
            .as_ref()
            .map(|e| e.identifier.clone())
            .unwrap_or_default(),
        rsu_id: format!("RSU{:03}", dev.rsu_no),
        operator_name: store
            .operator_name(z.operator_id)?
            .unwrap_or_else(|| z.operator_id.to_string()),
        supervisor_name: store.operator_name(z.closed_by)?,
        shift_id: z.shift_id.to_string(),
        opened_at,
        closed_at,
        time_zone,
        currency,
        packages: z
            .lines
            .iter()
            .map(|l| ZPackageLine {
                package_name: l.package_name.clone(),
                sales_count: l.sales_count as u32,
                sales_amount: money(l.sales_amount),
                void_count: l.voids_count as u32,
                void_amount: money(l.voids_amount),
            })
            .collect(),
        cash_float: Some(money(z.float_amount)),
        cash_expected: money(z.cash_expected),
        first_seq: z.first_seq,
        last_seq: z.last_seq,
        chain_head: z.chain_head.clone(),
        ranges,
        reprint: None,
    })
}

/// The printer test page for this device.
pub fn test_page(store: &Store, config: &PrinterConfig) -> Result<TestPage> {
    let dev = store.device_context()?;
    let tz = dev
        .event
        .as_ref()
        .map(|e| e.timezone.clone())
        .unwrap_or_else(|| "UTC".into());
    let (printed_at, time_zone) = venue_time(store.now()?, &tz);
    Ok(TestPage {
        device: format!("RSU{:03} {}", dev.rsu_no, dev.rsu_name),
        transport: config.transport.describe(),
        printed_at,
        time_zone,
    })
}

/// Why a receipt did not come out.
#[derive(Debug)]
pub enum IssueError {
    /// The store refused (nothing was printed).
    Store(StoreError),
    /// The receipt could not be composed (nothing was printed).
    Compose(String),
    /// The printer failed; the sale is recorded `print_failed`.
    Print(PrintFailure),
}

impl std::error::Error for IssueError {}

impl std::fmt::Display for IssueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IssueError::Store(e) => write!(f, "{e}"),
            IssueError::Compose(e) => write!(f, "the receipt could not be composed: {e}"),
            IssueError::Print(p) => write!(f, "{}", p.error),
        }
    }
}

impl From<StoreError> for IssueError {
    fn from(e: StoreError) -> Self {
        IssueError::Store(e)
    }
}

/// Longest the issuing thread waits for the print worker; the worker's own watchdog fires first.
const ISSUE_WAIT: Duration = Duration::from_secs(120);

/// The failure reported when the worker did not answer in time (its own watchdog fires first).
fn overrun(label: &str) -> PrintFailure {
    PrintFailure {
        label: label.to_string(),
        error: rsu_print::PrintError::Watchdog(ISSUE_WAIT),
        phase: rsu_print::worker::FailurePhase::Watchdog,
        bytes_sent: 0,
        job_bytes: 0,
        status: None,
    }
}

/// The printer's condition after a job, in the heartbeat's vocabulary: from the printer's own
/// `DLE EOT` answers when it gave them (after the job, else before), else from why the job failed.
/// A job that went out on a one-way transport (no answers) says nothing: `unknown`.
pub fn printer_condition(
    outcome: &Result<PrintReport, PrintFailure>,
) -> (PrinterCondition, Option<String>) {
    match outcome {
        Ok(r) => match r.status_after.or(r.status_before) {
            Some(s) => (condition_of_status(&s), None),
            None => (PrinterCondition::Unknown, None),
        },
        Err(f) => {
            let from_status = f
                .status
                .map(|s| condition_of_status(&s))
                .filter(|c| !c.prints());
            let c = from_status.unwrap_or(match &f.error {
                PrintError::PaperOut => PrinterCondition::PaperOut,
                PrintError::CoverOpen => PrinterCondition::CoverOpen,
                PrintError::Offline(Some(_)) => PrinterCondition::Error,
                PrintError::Offline(None)
                | PrintError::NoAnswer(_)
                | PrintError::Timeout(_)
                | PrintError::Disconnected(_)
                | PrintError::Open { .. } => PrinterCondition::Offline,
                PrintError::Io(_)
                | PrintError::BadStatus(_)
                | PrintError::Watchdog(_)
                | PrintError::WorkerGone => PrinterCondition::Error,
            });
            (c, Some(f.error.to_string()))
        }
    }
}

/// One `DLE EOT` status in the heartbeat's words; the most specific fault wins, as in
/// [`rsu_print::PrinterStatus::verdict`].
fn condition_of_status(s: &rsu_print::PrinterStatus) -> PrinterCondition {
    if s.paper_out || s.paper_end_stop {
        PrinterCondition::PaperOut
    } else if s.cover_open {
        PrinterCondition::CoverOpen
    } else if s.error {
        PrinterCondition::Error
    } else if !s.online {
        PrinterCondition::Offline
    } else if s.paper_near_end {
        PrinterCondition::PaperLow
    } else {
        PrinterCondition::Ok
    }
}

/// Records the condition after a job; a failure to record is logged, never stops the job's caller.
fn record_condition(store: &Store, outcome: &Result<PrintReport, PrintFailure>) {
    let (condition, detail) = printer_condition(outcome);
    if let Err(e) = store.record_printer_status(condition, detail.as_deref()) {
        tracing::warn!(error = %e, %condition, "cannot record the printer status");
    }
}

/// A check for [`Store::sell_checked`]: composes the receipt the sale would print, inside the
/// sale's transaction, so a receipt that would miss a required field or hold an unprintable
/// character refuses the sale before it is committed (DESIGN §5).
pub fn receipt_check(
    width: PaperWidth,
) -> impl FnOnce(&Sale, &ReceiptContext) -> Result<(), String> {
    move |sale, ctx| {
        // The signed QR is made after the commit; its fit at 58 mm is checked when it is made.
        let receipt = sale_receipt(sale, ctx, None, None);
        rsu_print::check_complete(&receipt, width).map_err(|e| e.to_string())
    }
}

/// A printer the kiosk or the CLI prints through: the worker plus its settings.
pub struct Printer {
    pub config: PrinterConfig,
    worker: PrintWorker,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("transport", &self.config.transport.describe())
            .finish()
    }
}

impl Printer {
    /// The pre-commit receipt check for this printer's paper width.
    pub fn receipt_check(&self) -> impl FnOnce(&Sale, &ReceiptContext) -> Result<(), String> {
        receipt_check(self.config.paper_width)
    }

    pub fn start(config: PrinterConfig) -> Self {
        let worker = PrintWorker::start(config.clone());
        Printer { config, worker }
    }

    /// A printer driven by a custom worker (tests: slow or failing transports).
    pub fn with_worker(config: PrinterConfig, worker: PrintWorker) -> Self {
        Printer { config, worker }
    }

    pub fn describe(&self) -> String {
        self.config.transport.describe()
    }

    /// Sends bytes and waits for the outcome. Call from a worker thread, never the UI thread.
    pub fn print_blocking(&self, label: &str, bytes: Vec<u8>) -> Result<PrintReport, PrintFailure> {
        let handle = self.worker.submit(PrintJob::new(label, bytes));
        handle
            .wait_timeout(ISSUE_WAIT)
            .unwrap_or_else(|| Err(overrun(label)))
    }

    /// [`Printer::print_blocking`], then the printer's condition recorded in the store for the
    /// heartbeat.
    fn print_recorded(
        &self,
        store: &Store,
        label: &str,
        bytes: Vec<u8>,
    ) -> Result<PrintReport, PrintFailure> {
        let outcome = self.print_blocking(label, bytes);
        record_condition(store, &outcome);
        outcome
    }

    /// Print-confirmed issuance of a committed sale (or its reprint): compose, print, check the
    /// status, then `mark_printed`; on failure `mark_print_failed`, and selling stays locked.
    pub fn issue(
        &self,
        store: &mut Store,
        sale: &Sale,
        reprint: Option<u32>,
    ) -> Result<(Sale, PrintReport), IssueError> {
        let ctx = store.receipt_context(sale)?;
        let qr = crate::receipt_qr::receipt_qr_text(store, sale);
        let receipt = sale_receipt(sale, &ctx, reprint, Some(qr));
        let bytes = match compose_sale(&receipt, self.config.paper_width) {
            Ok(b) => b,
            Err(e) => {
                let msg = format!("the receipt could not be composed: {e}");
                store.mark_print_failed(sale.id, &msg)?;
                return Err(IssueError::Compose(e.to_string()));
            }
        };
        let label = match reprint {
            Some(n) => format!("{}-REPRINT-{n}", sale.validation_number),
            None => sale.validation_number.clone(),
        };
        let kick = if sale.payment.method == PaymentMethod::Cash && reprint.is_none() {
            self.config.cash_drawer
        } else {
            None
        };
        let handle = self
            .worker
            .submit(PrintJob::new(label.clone(), bytes).with_drawer_kick(kick));
        let outcome = match handle.wait_timeout(ISSUE_WAIT) {
            Some(outcome) => outcome,
            None => Err(overrun(&label)),
        };
        record_condition(store, &outcome);
        match outcome {
            Ok(report) => {
                if report.drawer_kicked {
                    tracing::info!(sale = %sale.validation_number, "cash drawer opened");
                }
                let sale = store.mark_printed(sale.id)?;
                Ok((sale, report))
            }
            Err(failure) => {
                store.mark_print_failed(sale.id, &failure.error.to_string())?;
                Err(IssueError::Print(failure))
            }
        }
    }

    /// Composes and prints a Z report (not part of issuance: a failure is only reported).
    pub fn print_z(&self, store: &Store, z: &ShiftClosePayload) -> Result<PrintReport> {
        let report = z_report(store, z)?;
        let bytes = compose_z_report(&report, self.config.paper_width)?;
        Ok(self.print_recorded(store, &format!("Z-{}", z.shift_id), bytes)?)
    }

    /// Prints the test page.
    pub fn print_test_page(&self, store: &Store) -> Result<PrintReport> {
        let page = test_page(store, &self.config)?;
        let bytes = compose_test_page(&page, self.config.paper_width)?;
        Ok(self.print_recorded(store, "test-page", bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn failure(error: PrintError, status: Option<rsu_print::PrinterStatus>) -> PrintFailure {
        PrintFailure {
            label: "x".into(),
            error,
            phase: rsu_print::worker::FailurePhase::StatusBefore,
            bytes_sent: 0,
            job_bytes: 10,
            status,
        }
    }

    #[test]
    fn a_jobs_outcome_becomes_one_word_of_the_heartbeat_vocabulary() {
        use PrinterCondition as C;
        let cases = [
            (failure(PrintError::PaperOut, None), C::PaperOut),
            (failure(PrintError::CoverOpen, None), C::CoverOpen),
            (failure(PrintError::Offline(None), None), C::Offline),
            (
                failure(PrintError::Offline(Some("printer error".into())), None),
                C::Error,
            ),
            (
                failure(PrintError::NoAnswer(Duration::from_secs(1)), None),
                C::Offline,
            ),
            (failure(PrintError::WorkerGone, None), C::Error),
            // The printer's own answer is more specific than the error it led to.
            (
                failure(
                    PrintError::Offline(None),
                    Some(rsu_print::PrinterStatus {
                        cover_open: true,
                        ..Default::default()
                    }),
                ),
                C::CoverOpen,
            ),
        ];
        for (f, want) in cases {
            let (got, detail) = printer_condition(&Err(f.clone()));
            assert_eq!(got, want, "{f:?}");
            assert_eq!(detail, Some(f.error.to_string()));
        }
        let report = |after: Option<rsu_print::PrinterStatus>| PrintReport {
            label: "x".into(),
            bytes_sent: 10,
            confirmed: after.is_some(),
            status_before: after,
            status_after: after,
            warnings: vec![],
            drawer_kicked: false,
            drawer_error: None,
            transport: "sim".into(),
            elapsed: Duration::ZERO,
        };
        let near_end = rsu_print::PrinterStatus {
            paper_near_end: true,
            ..rsu_print::PrinterStatus::ready()
        };
        assert_eq!(
            printer_condition(&Ok(report(Some(rsu_print::PrinterStatus::ready())))).0,
            C::Ok
        );
        assert_eq!(
            printer_condition(&Ok(report(Some(near_end)))).0,
            C::PaperLow
        );
        assert_eq!(printer_condition(&Ok(report(None))).0, C::Unknown);
    }

    #[test]
    fn venue_time_converts_utc_fixed_offsets_and_named_zones() {
        let t = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(venue_time(t, "UTC").1, "UTC");
        let (local, label) = venue_time(t, "-04:00");
        assert_eq!(local.format("%H:%M").to_string(), "08:00");
        assert_eq!(label, "UTC-04:00");
        let (local, _) = venue_time(t, "UTC+05:30");
        assert_eq!(local.format("%H:%M").to_string(), "17:30");
        // Named zones used to print in UTC; they now print venue time (issue 15).
        let (local, label) = venue_time(t, "America/Toronto");
        assert_eq!(
            (local.format("%H:%M").to_string(), label.as_str()),
            ("08:00".into(), "EDT (UTC-04:00)")
        );
    }

    #[test]
    fn printer_settings_round_trip_through_the_file_next_to_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rsu.sqlite3");
        assert!(load_settings(&db).unwrap().is_none());
        let cfg = simulated(dir.path().join("r"), PaperWidth::Mm58);
        save_settings(&db, &cfg).unwrap();
        assert_eq!(load_settings(&db).unwrap(), Some(cfg));
        assert!(clear_settings(&db).unwrap());
        assert!(load_settings(&db).unwrap().is_none());
    }
}
