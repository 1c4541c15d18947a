//! The kiosk's controller: it owns the device store and the printer, carries out each
//! [`Command`] and reports [`UiEvent`]s. It never touches a widget and runs on its own thread,
//! so the UI thread never waits on SQLite or the printer (DESIGN §3.9). Tests drive it directly.
//!
//! Why this file is over 800 lines: one controller for eight screens; issue 10 splits it into one controller per screen (controllers/ mirroring adapters/).

use chrono::{DateTime, Local, Utc};
use rsu_core::draw::compress_display;
use rsu_core::money::{Currency, Money};
use rsu_core::payload::{CustomerInfo, Payment, PaymentMethod};
use rsu_print::{FlowControl, PaperWidth, PrinterConfig, TransportConfig};
use rsu_store::{Sale, SaleRequest, Status, Store, StoreError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::model::*;
use crate::printer::{self, IssueError, Printer};

/// The printer's state as the status bar shows it, shared with the status poller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterState {
    pub text: String,
    pub ok: bool,
}

pub type SharedPrinterState = Arc<Mutex<PrinterState>>;

/// How long the kiosk waits without a touch before it locks (DESIGN: default 5 minutes).
pub const DEFAULT_INACTIVITY_LOCK: std::time::Duration = std::time::Duration::from_secs(5 * 60);

pub struct KioskService {
    store: Store,
    db: PathBuf,
    printer: Option<Printer>,
    printer_state: SharedPrinterState,
    /// The sale whose receipt is not confirmed printed, if any.
    unresolved: Option<String>,
    app_hash: Option<String>,
}

impl std::fmt::Debug for KioskService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KioskService")
            .field("db", &self.db)
            .field("printer", &self.printer)
            .finish()
    }
}

/// A refusal or failure as the plain sentence the operator reads.
pub fn sentence(e: &StoreError) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => text,
    }
}

fn local_hm(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%H:%M").to_string()
}

/// Parses money typed by a person (`100`, `100.5`, `100.50`) into minor units.
pub fn parse_money(text: &str, currency: Currency) -> Option<i64> {
    let t = text.trim().trim_start_matches('$');
    if t.is_empty() {
        return Some(0);
    }
    let exp = currency.exponent();
    let (whole, frac) = match t.split_once(['.', ',']) {
        Some((w, f)) => (w, f),
        None => (t, ""),
    };
    if frac.len() > exp as usize
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut frac_val: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..exp as usize {
        frac_val *= 10;
    }
    whole.checked_mul(10i64.pow(exp))?.checked_add(frac_val)
}

pub fn sale_view(sale: &Sale) -> SaleView {
    SaleView {
        validation_number: sale.validation_number.clone(),
        draw_numbers: compress_display(&sale.draw_numbers),
        summary: format!(
            "{} · {} · {} · {}",
            sale.package_name,
            sale.total,
            sale.payment.method.as_str(),
            local_hm(sale.sold_at)
        ),
    }
}

fn sale_row(sale: &Sale) -> SaleRowView {
    SaleRowView {
        validation_number: sale.validation_number.clone(),
        package: sale.package_name.clone(),
        total: sale.total.to_string(),
        draw_numbers: compress_display(&sale.draw_numbers),
        state: if sale.voided_at.is_some() {
            if sale.print_state == rsu_store::PrintState::Spoiled {
                "spoiled".into()
            } else {
                "voided".into()
            }
        } else {
            sale.print_state.as_str().replace('_', " ")
        },
        time: local_hm(sale.sold_at),
        voided: sale.voided_at.is_some(),
    }
}

/// The status bar from the store's status and the printer state.
pub fn status_view(status: &Status, printer: &PrinterState, now: DateTime<Utc>) -> StatusView {
    let jackpot = match (status.jackpot_estimate, &status.jackpot_currency) {
        (Some(j), Some(c)) => Currency::new(c)
            .map(|c| Money::new(j, c).to_string())
            .unwrap_or_else(|_| j.to_string()),
        _ => "—".into(),
    };
    let jackpot_as_of = status
        .jackpot_as_of
        .map(|t| format!("estimated, as of {}", local_hm(t)))
        .unwrap_or_else(|| "estimated".into());
    let total: i64 = status
        .allocations
        .iter()
        .map(|a| a.end_number - a.start_number + 1)
        .sum();
    // The sync daemon records each contact; ten minutes without one counts as offline.
    let online = status
        .last_server_contact_at
        .is_some_and(|t| now - t <= chrono::Duration::minutes(10));
    let sync = &status.sync;
    let mut sync_text = format!(
        "{} · {} pending",
        if online { "Online" } else { "Offline" },
        sync.pending_entries
    );
    if let Some(oldest) = sync.oldest_pending_at {
        let mins = (now - oldest).num_minutes().max(0);
        sync_text += &if mins >= 60 {
            format!(" · oldest {} h {} min", mins / 60, mins % 60)
        } else {
            format!(" · oldest {mins} min")
        };
    }
    sync_text += &match sync.last_acked_at.or(status.last_server_contact_at) {
        Some(t) => format!(" · last sync {}", local_hm(t)),
        None => " · last sync never".into(),
    };
    if sync.rejected > 0 {
        sync_text += &format!(" · {} rejected", sync.rejected);
    }
    // A conflict is as much a problem as a rejection: the server kept its own version.
    if sync.conflicts > 0 {
        sync_text += &format!(" · {} in conflict", sync.conflicts);
    }
    StatusView {
        event_name: status
            .event_name
            .clone()
            .unwrap_or_else(|| "No event".into()),
        jackpot,
        jackpot_as_of,
        numbers_left: status.numbers_left,
        numbers_total: total,
        numbers_low: status.numbers_left < status.low_water_mark,
        online,
        sync_text,
        pending_entries: sync.pending_entries,
        printer_text: printer.text.clone(),
        printer_ok: printer.ok,
        clock: now.with_timezone(&Local).format("%H:%M").to_string(),
    }
}

/// SHA-256 of the running program, hex (the "app hash" of DESIGN §6).
pub fn app_hash() -> String {
    use sha2::Digest;
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return format!("unknown ({e})"),
    };
    match std::fs::File::open(&exe) {
        Ok(mut f) => {
            let mut hasher = sha2::Sha256::new();
            match std::io::copy(&mut f, &mut hasher) {
                Ok(_) => hex_string(&hasher.finalize()),
                Err(e) => format!("unknown ({e})"),
            }
        }
        Err(e) => format!("unknown ({e})"),
    }
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn printer_ready_text(p: &Printer) -> String {
    match &p.config.transport {
        TransportConfig::Simulated { .. } => "Printer ready (simulated)".into(),
        t => format!("Printer ready ({})", t.describe()),
    }
}

impl KioskService {
    /// A controller on `store`, printing on `printer` (`None`: no printer is set up, and selling
    /// is refused until a supervisor sets one).
    pub fn new(store: Store, db: PathBuf, printer: Option<Printer>) -> Self {
        let state = match &printer {
            Some(p) => PrinterState {
                text: printer_ready_text(p),
                ok: true,
            },
            None => PrinterState {
                text: "No printer set up".into(),
                ok: false,
            },
        };
        KioskService {
            store,
            db,
            printer,
            printer_state: Arc::new(Mutex::new(state)),
            unresolved: None,
            app_hash: None,
        }
    }

    pub fn printer_state(&self) -> SharedPrinterState {
        self.printer_state.clone()
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    fn set_printer_state(&self, text: String, ok: bool) {
        if let Ok(mut s) = self.printer_state.lock() {
            *s = PrinterState { text, ok };
        }
    }

    /// The status bar now (the poller uses its own connection; this is for start-up and tests).
    pub fn status(&mut self) -> Result<StatusView, StoreError> {
        let status = self.store.status()?;
        let state = self
            .printer_state
            .lock()
            .map(|s| s.clone())
            .unwrap_or(PrinterState {
                text: "Printer state unknown".into(),
                ok: false,
            });
        Ok(status_view(&status, &state, self.store.now()?))
    }

    /// Carries out one command, reporting what happened through `emit`.
    pub fn handle(&mut self, cmd: Command, emit: &mut dyn FnMut(UiEvent)) {
        match cmd {
            Command::Start => self.start(emit),
            Command::Login { pin } => match self.store.login(&pin, None) {
                Ok((op, _shift)) => {
                    emit(UiEvent::LoggedIn {
                        operator: format!("{} ({})", op.name, op.role.as_str()),
                    });
                    self.packages(emit);
                    self.check_unresolved(emit);
                }
                Err(e) => emit(UiEvent::LoginMessage(sentence(&e))),
            },
            Command::Lock => {
                if let Err(e) = self.store.lock_screen() {
                    tracing::error!(error = %e, "locking the screen");
                }
                emit(UiEvent::Locked);
            }
            Command::Packages => self.packages(emit),
            Command::Sell(order) => self.sell(order, emit),
            Command::ReprintFailed => self.reprint_failed(emit),
            Command::SpoilFailed { supervisor_pin } => self.spoil_failed(&supervisor_pin, emit),
            Command::Sales { search } => self.sales(&search, emit),
            Command::Reprint {
                validation_number,
                supervisor_pin,
            } => self.reprint(&validation_number, &supervisor_pin, emit),
            Command::Void {
                validation_number,
                supervisor_pin,
                reason,
            } => match self
                .store
                .void(&validation_number, &supervisor_pin, &reason)
            {
                Ok(sale) => {
                    emit(UiEvent::SalesMessage {
                        text: format!(
                            "Voided {} ({}): {}. Its draw numbers will not be sold again.",
                            sale.validation_number, sale.total, reason
                        ),
                        error: false,
                    });
                    self.sales("", emit);
                }
                Err(e) => emit(UiEvent::SalesMessage {
                    text: sentence(&e),
                    error: true,
                }),
            },
            Command::Shift => self.shift(emit),
            Command::OpenShift { float } => self.open_shift(&float, emit),
            Command::CloseShift { supervisor_pin } => self.close_shift(&supervisor_pin, emit),
            Command::CloseDevice { supervisor_pin } => self.close_device(&supervisor_pin, emit),
            Command::UnlockSettings { supervisor_pin } => {
                match self.store.authenticate(&supervisor_pin, true) {
                    Ok(_) => {
                        emit(UiEvent::SettingsUnlocked(true));
                        emit(UiEvent::SettingsMessage {
                            text: String::new(),
                            error: false,
                        });
                        self.settings(emit);
                    }
                    Err(e) => emit(UiEvent::SettingsMessage {
                        text: sentence(&e),
                        error: true,
                    }),
                }
            }
            Command::SavePrinter(form) => self.save_printer(&form, emit),
            Command::TestPrint => self.test_print(emit),
            Command::Enroll { server_url, token } => self.enroll(&server_url, &token, emit),
        }
    }

    /// Enrolls this device with a server (a network round trip on this controller thread, never
    /// on the UI thread). Refused while sales are waiting to sync.
    fn enroll(&mut self, server_url: &str, token: &str, emit: &mut dyn FnMut(UiEvent)) {
        let (url, token) = (server_url.trim(), token.trim());
        if url.is_empty() || token.is_empty() {
            emit(UiEvent::SettingsMessage {
                text: "Enter the server address and the enrollment token from the raffle manager."
                    .into(),
                error: true,
            });
            return;
        }
        match rsu_sync::enroll::enroll(&self.db, url, token) {
            Ok(report) => {
                emit(UiEvent::SettingsMessage {
                    text: format!(
                        "Enrolled as RSU {} of {} (epoch {}). {} draw numbers on hand.",
                        report.rsu_no, report.organization_name, report.epoch, report.numbers_left
                    ),
                    error: false,
                });
                self.settings(emit);
                self.packages(emit);
            }
            Err(e) => emit(UiEvent::SettingsMessage {
                text: format!("Enrollment failed, nothing was changed: {e}"),
                error: true,
            }),
        }
    }

    fn start(&mut self, emit: &mut dyn FnMut(UiEvent)) {
        if let Ok(s) = self.store.status() {
            emit(UiEvent::Device(s.device_name));
        }
        // A kiosk always starts at the PIN pad, whoever was logged in before a restart.
        match self.store.current_operator() {
            Ok(Some(_)) => {
                if let Err(e) = self.store.lock_screen() {
                    tracing::error!(error = %e, "locking the screen at start-up");
                }
            }
            Ok(None) => {}
            Err(e) => emit(UiEvent::LoginMessage(sentence(&e))),
        }
        match self.store.startup_check() {
            Ok(report) => {
                if let Some(ms) = report.clock_behind_by_ms {
                    emit(UiEvent::LoginMessage(format!(
                        "The clock is {} s behind the last recorded sale: check the date and time.",
                        ms / 1000
                    )));
                }
            }
            Err(e) => emit(UiEvent::LoginMessage(sentence(&e))),
        }
        emit(UiEvent::Locked);
        self.check_unresolved(emit);
        self.check_closed(emit);
        if let Ok(status) = self.status() {
            emit(UiEvent::Status(status));
        }
    }

    /// After a restart on a device closed for the event, the closed message comes back.
    fn check_closed(&mut self, emit: &mut dyn FnMut(UiEvent)) {
        match self.store.closed_events() {
            Ok(closed) if closed.is_empty() => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading whether the device is closed");
                return;
            }
        }
        // What the close gave back: the unsold rest of each released range of a closed event.
        let released = self.store.connection().query_row(
            "SELECT COALESCE(SUM(a.end_number - a.next_number + 1), 0) FROM allocations a
               JOIN events e ON e.id = a.event_id
              WHERE e.closed_at IS NOT NULL AND a.state = 'released' AND a.next_number <= a.end_number",
            [],
            |r| r.get::<_, i64>(0),
        );
        match (released, self.store.status()) {
            (Ok(numbers_released), Ok(status)) => emit(UiEvent::DeviceClosed {
                numbers_released,
                entries_to_sync: status.sync.pending_entries,
            }),
            (Err(e), _) => tracing::warn!(error = %e, "counting the released numbers"),
            (_, Err(e)) => tracing::warn!(error = %e, "reading the entries to sync"),
        }
    }

    /// Shows the unconfirmed print, if any (at start-up, after login).
    fn check_unresolved(&mut self, emit: &mut dyn FnMut(UiEvent)) {
        match self.store.unresolved_print() {
            Ok(Some(sale)) => {
                let reason = sale.print_error.clone().unwrap_or_else(|| {
                    "The kiosk stopped before this receipt was confirmed printed. Check the printer, then reprint it or have a supervisor spoil it.".into()
                });
                self.unresolved = Some(sale.validation_number.clone());
                emit(UiEvent::PrintFailed(FailureView {
                    validation_number: sale.validation_number.clone(),
                    reason: capitalize(&reason),
                    summary: format!(
                        "{} · {} · draw numbers {}",
                        sale.package_name,
                        sale.total,
                        compress_display(&sale.draw_numbers)
                    ),
                }));
            }
            Ok(None) => self.unresolved = None,
            Err(e) => emit(UiEvent::SaleRefused(sentence(&e))),
        }
    }

    fn packages(&mut self, emit: &mut dyn FnMut(UiEvent)) {
        match self.store.packages_on_sale() {
            Ok(list) => emit(UiEvent::Packages(
                list.iter()
                    .map(|p| PackageView {
                        id: p.id.to_string(),
                        name: p.name.clone(),
                        tickets: if p.ticket_count == 1 {
                            "1 ticket".into()
                        } else {
                            format!("{} tickets", p.ticket_count)
                        },
                        price: p.price.to_string(),
                    })
                    .collect(),
            )),
            Err(e) => emit(UiEvent::SaleRefused(sentence(&e))),
        }
    }

    fn sell(&mut self, order: SellOrder, emit: &mut dyn FnMut(UiEvent)) {
        let Some(printer) = self.printer.as_ref() else {
            emit(UiEvent::SaleRefused(
                "No printer is set up, so nothing was sold. A supervisor sets one in Settings → Printer.".into(),
            ));
            return;
        };
        let package_id = match uuid::Uuid::parse_str(&order.package_id) {
            Ok(id) => id,
            Err(_) => {
                emit(UiEvent::SaleRefused(
                    "That package is not on sale any more. Choose another package.".into(),
                ));
                return;
            }
        };
        let opt = |s: &str| {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_string())
        };
        let customer = CustomerInfo {
            name: opt(&order.customer_name),
            phone: opt(&order.customer_phone),
            email: opt(&order.customer_email),
        };
        let has_customer =
            customer.name.is_some() || customer.phone.is_some() || customer.email.is_some();
        let req = SaleRequest {
            package_id,
            payment: Payment {
                method: if order.card {
                    PaymentMethod::Card
                } else {
                    PaymentMethod::Cash
                },
                reference: if order.card {
                    opt(&order.card_reference)
                } else {
                    None
                },
            },
            customer: has_customer.then_some(customer),
        };
        let sale = match self.store.sell_checked(&req, printer.receipt_check()) {
            Ok(s) => s,
            Err(e) => {
                emit(UiEvent::SaleRefused(sentence(&e)));
                return;
            }
        };
        emit(UiEvent::SaleCommitted(sale_view(&sale)));
        match printer.issue(&mut self.store, &sale, None) {
            Ok((sale, report)) => {
                let mut text = printer_ready_text(printer);
                if !report.warnings.is_empty() {
                    text = "Printer: paper nearly out — change the roll soon".into();
                }
                self.set_printer_state(text, true);
                emit(UiEvent::SalePrinted(sale_view(&sale)));
            }
            Err(e) => self.print_failed(&sale, e, emit),
        }
    }

    fn print_failed(&mut self, sale: &Sale, e: IssueError, emit: &mut dyn FnMut(UiEvent)) {
        let reason = capitalize(&e.to_string());
        if let IssueError::Print(f) = &e {
            self.set_printer_state(format!("Printer: {}", short_fault(&f.error)), false);
        }
        self.unresolved = Some(sale.validation_number.clone());
        emit(UiEvent::PrintFailed(FailureView {
            validation_number: sale.validation_number.clone(),
            reason,
            summary: format!(
                "{} · {} · draw numbers {}",
                sale.package_name,
                sale.total,
                compress_display(&sale.draw_numbers)
            ),
        }));
    }

    fn reprint_failed(&mut self, emit: &mut dyn FnMut(UiEvent)) {
        let Some(vn) = self.unresolved.clone() else {
            emit(UiEvent::PrintResolved(String::new()));
            return;
        };
        let Some(printer) = self.printer.as_ref() else {
            emit(UiEvent::FailureMessage(
                "No printer is set up. A supervisor sets one in Settings → Printer.".into(),
            ));
            return;
        };
        emit(UiEvent::FailureBusy(true));
        let (sale, n) = match self.store.reprint(&vn, None) {
            Ok(x) => x,
            Err(e) => {
                emit(UiEvent::FailureBusy(false));
                emit(UiEvent::FailureMessage(sentence(&e)));
                return;
            }
        };
        match printer.issue(&mut self.store, &sale, Some(n)) {
            Ok((sale, _)) => {
                self.set_printer_state(printer_ready_text(printer), true);
                self.unresolved = None;
                emit(UiEvent::FailureBusy(false));
                emit(UiEvent::PrintResolved(format!(
                    "Receipt {} reprinted (REPRINT {n}). Selling can continue.",
                    sale.validation_number
                )));
                self.check_unresolved(emit);
            }
            Err(e) => {
                emit(UiEvent::FailureBusy(false));
                self.print_failed(&sale, e, emit);
                emit(UiEvent::FailureMessage(
                    "The reprint did not print either. Fix the printer and try again, or have a supervisor spoil the receipt.".into(),
                ));
            }
        }
    }

    fn spoil_failed(&mut self, pin: &str, emit: &mut dyn FnMut(UiEvent)) {
        let Some(vn) = self.unresolved.clone() else {
            emit(UiEvent::PrintResolved(String::new()));
            return;
        };
        match self.store.spoil(&vn, pin) {
            Ok(sale) => {
                self.unresolved = None;
                emit(UiEvent::PrintResolved(format!(
                    "Receipt {} spoiled: its draw numbers will not be sold again. Selling can continue.",
                    sale.validation_number
                )));
                self.check_unresolved(emit);
            }
            Err(e) => emit(UiEvent::FailureMessage(sentence(&e))),
        }
    }

    fn sales(&mut self, search: &str, emit: &mut dyn FnMut(UiEvent)) {
        let search = search.trim();
        match self
            .store
            .recent_sales(50, (!search.is_empty()).then_some(search))
        {
            Ok(list) => emit(UiEvent::Sales(list.iter().map(sale_row).collect())),
            Err(e) => emit(UiEvent::SalesMessage {
                text: sentence(&e),
                error: true,
            }),
        }
    }

    fn reprint(&mut self, vn: &str, pin: &str, emit: &mut dyn FnMut(UiEvent)) {
        let Some(printer) = self.printer.as_ref() else {
            emit(UiEvent::SalesMessage {
                text: "No printer is set up. A supervisor sets one in Settings → Printer.".into(),
                error: true,
            });
            return;
        };
        let (sale, n) = match self.store.reprint(vn, Some(pin)) {
            Ok(x) => x,
            Err(e) => {
                emit(UiEvent::SalesMessage {
                    text: sentence(&e),
                    error: true,
                });
                return;
            }
        };
        match printer.issue(&mut self.store, &sale, Some(n)) {
            Ok((sale, _)) => {
                emit(UiEvent::SalesMessage {
                    text: format!(
                        "Receipt {} reprinted, marked REPRINT {n}.",
                        sale.validation_number
                    ),
                    error: false,
                });
                self.sales("", emit);
            }
            Err(e) => {
                self.print_failed(&sale, e, emit);
                self.sales("", emit);
            }
        }
    }

    fn shift(&mut self, emit: &mut dyn FnMut(UiEvent)) {
        let operator = match self.store.current_operator() {
            Ok(op) => op.map(|o| o.name).unwrap_or_default(),
            Err(e) => {
                emit(UiEvent::ShiftMessage {
                    text: sentence(&e),
                    error: true,
                });
                return;
            }
        };
        let shift = match self.store.current_shift() {
            Ok(s) => s,
            Err(e) => {
                emit(UiEvent::ShiftMessage {
                    text: sentence(&e),
                    error: true,
                });
                return;
            }
        };
        let totals = match self.store.shift_totals() {
            Ok(t) => t,
            Err(e) => {
                emit(UiEvent::ShiftMessage {
                    text: sentence(&e),
                    error: true,
                });
                return;
            }
        };
        let (Some(shift), Some(z)) = (shift, totals) else {
            emit(UiEvent::Shift(None));
            return;
        };
        let Ok(cur) = Currency::new(&z.currency) else {
            emit(UiEvent::Shift(None));
            return;
        };
        let m = |v: i64| Money::new(v, cur).to_string();
        let plural = |n: u64, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        emit(UiEvent::Shift(Some(ShiftView {
            operator_name: operator,
            opened_at: local_hm(shift.opened_at),
            lines: z
                .lines
                .iter()
                .map(|l| ShiftLineView {
                    package: l.package_name.clone(),
                    sales: l.sales_count.to_string(),
                    amount: m(l.sales_amount),
                    voids: l.voids_count.to_string(),
                })
                .collect(),
            sales_total: format!(
                "{} · {}",
                plural(z.sales_count, "sale", "sales"),
                m(z.sales_amount)
            ),
            voids_total: format!(
                "{} · {}",
                plural(z.voids_count, "void", "voids"),
                m(z.voids_amount)
            ),
            float: m(z.float_amount),
            cash_expected: m(z.cash_expected),
        })));
    }

    fn currency(&self) -> Option<Currency> {
        self.store
            .current_event()
            .ok()
            .flatten()
            .and_then(|e| Currency::new(&e.currency).ok())
    }

    fn open_shift(&mut self, float: &str, emit: &mut dyn FnMut(UiEvent)) {
        let Some(cur) = self.currency() else {
            emit(UiEvent::ShiftMessage {
                text: "This device has no event to sell for, so no shift can open.".into(),
                error: true,
            });
            return;
        };
        let Some(minor) = parse_money(float, cur) else {
            emit(UiEvent::ShiftMessage {
                text: format!("{float:?} is not an amount: type the float like 100.00."),
                error: true,
            });
            return;
        };
        match self.store.open_shift(minor) {
            Ok(s) => {
                emit(UiEvent::ShiftMessage {
                    text: format!(
                        "Shift opened at {} with a float of {}.",
                        local_hm(s.opened_at),
                        Money::new(s.float_minor, cur)
                    ),
                    error: false,
                });
                emit(UiEvent::ZReport(String::new()));
                self.shift(emit);
            }
            Err(e) => emit(UiEvent::ShiftMessage {
                text: sentence(&e),
                error: true,
            }),
        }
    }

    fn close_shift(&mut self, pin: &str, emit: &mut dyn FnMut(UiEvent)) {
        let z = match self.store.close_shift(pin) {
            Ok(z) => z,
            Err(e) => {
                emit(UiEvent::ShiftMessage {
                    text: sentence(&e),
                    error: true,
                });
                return;
            }
        };
        let (summary, printed) = self.print_z_report(&z);
        emit(UiEvent::ZReport(summary));
        emit(UiEvent::ShiftMessage {
            text: format!("Shift closed. {printed}"),
            error: false,
        });
        emit(UiEvent::Shift(None));
    }

    /// Closes the device for the event with a supervisor's PIN: the Z report of every shift it
    /// closes prints as a shift close does, then the release and the entries still to sync.
    /// A refusal (wrong PIN, a receipt not confirmed printed, nothing to close) changes nothing.
    fn close_device(&mut self, pin: &str, emit: &mut dyn FnMut(UiEvent)) {
        let report = match self.store.close_device(pin) {
            Ok(r) => r,
            Err(e) => {
                emit(UiEvent::ShiftMessage {
                    text: sentence(&e),
                    error: true,
                });
                return;
            }
        };
        let mut summaries = Vec::new();
        let mut printed = Vec::new();
        for z in &report.shifts_closed {
            let (summary, p) = self.print_z_report(z);
            summaries.push(summary);
            printed.push(p);
        }
        printed.dedup();
        emit(UiEvent::ZReport(summaries.join("\n\n")));
        let shifts = match report.shifts_closed.len() {
            0 => "No shift was open.".to_string(),
            1 => format!("1 shift closed. {}", printed.join(" ")),
            n => format!("{n} shifts closed. {}", printed.join(" ")),
        };
        emit(UiEvent::ShiftMessage {
            text: format!("This device is closed for the event: no more sales. {shifts}"),
            error: false,
        });
        emit(UiEvent::Shift(None));
        emit(UiEvent::DeviceClosed {
            numbers_released: report.numbers_released,
            entries_to_sync: report.entries_to_sync,
        });
        // The store ended the session with the close: back to the PIN pad, which keeps the
        // closed message and the entries still to sync in sight.
        emit(UiEvent::Locked);
    }

    /// The Z report as the shift screen shows it, printed; and a sentence on how printing went.
    fn print_z_report(&self, z: &rsu_core::payload::ShiftClosePayload) -> (String, String) {
        let mut summary = String::new();
        let cur = Currency::new(&z.currency).ok();
        let m = |v: i64| {
            cur.map(|c| Money::new(v, c).to_string())
                .unwrap_or_else(|| v.to_string())
        };
        summary += &format!(
            "Z report · {} – {}\n",
            local_hm(z.opened_at),
            local_hm(z.closed_at)
        );
        for l in &z.lines {
            summary += &format!(
                "{}: {} sold ({}), {} voided\n",
                l.package_name,
                l.sales_count,
                m(l.sales_amount),
                l.voids_count
            );
        }
        summary += &format!(
            "Sales {} · voids {} · cash expected {}",
            m(z.sales_amount),
            m(z.voids_amount),
            m(z.cash_expected)
        );
        let printed = match &self.printer {
            Some(p) => match p.print_z(&self.store, z) {
                Ok(_) => "The Z report printed.".to_string(),
                Err(e) => format!("The Z report did not print ({e}); the shift is closed and its report is recorded."),
            },
            None => "No printer is set up, so the Z report was not printed; it is recorded.".into(),
        };
        (summary, printed)
    }

    fn settings(&mut self, emit: &mut dyn FnMut(UiEvent)) {
        let status = self.store.status().ok();
        let hash = self.app_hash.get_or_insert_with(app_hash).clone();
        let (transport, path, baud, paper) = match &self.printer {
            Some(p) => form_of(&p.config),
            None => (
                "usb".into(),
                "/dev/usb/lp0".into(),
                "38400".into(),
                "80mm".into(),
            ),
        };
        let server_url = self
            .store
            .connection()
            .query_row("SELECT server_url FROM device WHERE id = 1", [], |r| {
                r.get::<_, Option<String>>(0)
            })
            .ok()
            .flatten()
            .unwrap_or_default();
        emit(UiEvent::Settings(SettingsView {
            server_url,
            enroll_available: false,
            transport,
            path,
            baud,
            paper_width: paper,
            version: env!("CARGO_PKG_VERSION").into(),
            app_hash: hash,
            device_id: status
                .as_ref()
                .map(|s| format!("{} (RSU {:03})", s.rsu_id, s.rsu_no))
                .unwrap_or_default(),
            device_name: status
                .as_ref()
                .map(|s| s.device_name.clone())
                .unwrap_or_default(),
            epoch: status
                .as_ref()
                .map(|s| s.epoch.to_string())
                .unwrap_or_default(),
            database: self.db.display().to_string(),
        }));
    }

    fn save_printer(&mut self, form: &PrinterForm, emit: &mut dyn FnMut(UiEvent)) {
        let config = match config_of(form, &self.db) {
            Ok(c) => c,
            Err(text) => {
                emit(UiEvent::SettingsMessage { text, error: true });
                return;
            }
        };
        match printer::save_settings(&self.db, &config) {
            Ok(path) => {
                let p = Printer::start(config);
                self.set_printer_state(printer_ready_text(&p), true);
                emit(UiEvent::SettingsMessage {
                    text: format!(
                        "Printer saved: {} ({}), in {}. Print a test page to check it.",
                        p.describe(),
                        p.config.paper_width.label(),
                        path.display()
                    ),
                    error: false,
                });
                self.printer = Some(p);
            }
            Err(e) => emit(UiEvent::SettingsMessage {
                text: format!("The printer settings were not saved: {e:#}"),
                error: true,
            }),
        }
    }

    fn test_print(&mut self, emit: &mut dyn FnMut(UiEvent)) {
        let Some(p) = &self.printer else {
            emit(UiEvent::SettingsMessage {
                text: "No printer is set up: choose one and save it first.".into(),
                error: true,
            });
            return;
        };
        match p.print_test_page(&self.store) {
            Ok(r) => {
                let ready = printer_ready_text(p);
                self.set_printer_state(ready, true);
                emit(UiEvent::SettingsMessage {
                    text: format!(
                        "Test page printed on {}{}.",
                        r.transport,
                        if r.confirmed {
                            " and the printer confirmed it"
                        } else {
                            ""
                        }
                    ),
                    error: false,
                });
            }
            Err(e) => {
                let text = format!("The test page did not print: {e:#}");
                self.set_printer_state("Printer: test page failed".into(), false);
                emit(UiEvent::SettingsMessage { text, error: true });
            }
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn short_fault(e: &rsu_print::PrintError) -> String {
    use rsu_print::PrintError as E;
    match e {
        E::PaperOut => "out of paper".into(),
        E::CoverOpen => "cover open".into(),
        E::Offline(_) => "offline".into(),
        E::NoAnswer(_) => "not answering".into(),
        E::Timeout(_) => "not taking data".into(),
        E::Disconnected(_) => "disconnected".into(),
        E::Open { .. } => "cannot be opened".into(),
        E::Watchdog(_) => "stuck (reset pending)".into(),
        _ => "error".into(),
    }
}

/// The settings form for a printer configuration.
pub fn form_of(c: &PrinterConfig) -> (String, String, String, String) {
    let paper = c.paper_width.label().to_string();
    match &c.transport {
        TransportConfig::Serial { path, baud, .. } => {
            ("serial".into(), path.clone(), baud.to_string(), paper)
        }
        TransportConfig::Usb { path, .. } => (
            "usb".into(),
            path.display().to_string(),
            "38400".into(),
            paper,
        ),
        TransportConfig::Network { host, port } => (
            "network".into(),
            format!("{host}:{port}"),
            "38400".into(),
            paper,
        ),
        TransportConfig::File { path } => (
            "file".into(),
            path.display().to_string(),
            "38400".into(),
            paper,
        ),
        TransportConfig::Simulated { dir } => (
            "sim".into(),
            dir.display().to_string(),
            "38400".into(),
            paper,
        ),
    }
}

/// A printer configuration from the settings form, or the sentence saying what to fix.
pub fn config_of(form: &PrinterForm, db: &std::path::Path) -> Result<PrinterConfig, String> {
    let path = form.path.trim();
    let paper_width = match form.paper_width.as_str() {
        "58mm" => PaperWidth::Mm58,
        _ => PaperWidth::Mm80,
    };
    let need = |what: &str| -> Result<String, String> {
        if path.is_empty() {
            Err(format!("Enter the {what}."))
        } else {
            Ok(path.to_string())
        }
    };
    let transport = match form.transport.as_str() {
        "serial" => TransportConfig::Serial {
            path: need("serial port, e.g. /dev/ttyUSB0")?,
            baud: form.baud.trim().parse().map_err(|_| {
                format!(
                    "{:?} is not a baud rate: use e.g. 9600, 38400 or 115200.",
                    form.baud
                )
            })?,
            flow_control: FlowControl::RtsCts,
            dtr: true,
        },
        "usb" => TransportConfig::Usb {
            path: PathBuf::from(need("USB printer device, e.g. /dev/usb/lp0")?),
            two_way: true,
        },
        "network" => {
            let hp = need("printer's host name or address")?;
            let (host, port) = match hp.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse()
                        .map_err(|_| format!("{p:?} is not a port number: use e.g. 9100."))?,
                ),
                None => (hp, 9100),
            };
            TransportConfig::Network { host, port }
        }
        "file" => TransportConfig::File {
            path: PathBuf::from(need("file to write")?),
        },
        "sim" => TransportConfig::Simulated {
            dir: if path.is_empty() {
                printer::sim_dir(db)
            } else {
                PathBuf::from(path)
            },
        },
        other => return Err(format!("Unknown printer transport {other:?}.")),
    };
    Ok(PrinterConfig {
        transport,
        paper_width,
        ..PrinterConfig::default()
    })
}
