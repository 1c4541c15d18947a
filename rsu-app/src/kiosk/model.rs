//! What the kiosk's controller and its screens say to each other: commands from the screens,
//! events back to them. Plain Rust data, `Send`, no Slint types: the controller is tested
//! without a window and the adapters turn these into the views' properties.

/// Something an operator asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start-up: load the device, lock any left-over session, show an unconfirmed print.
    Start,
    Login {
        pin: String,
    },
    /// Lock the screen (by the button or after inactivity). The shift stays open.
    Lock,
    Packages,
    Sell(SellOrder),
    /// Reprint the receipt that failed (no supervisor needed for an unconfirmed print).
    ReprintFailed,
    /// Spoil the receipt that failed (supervisor PIN).
    SpoilFailed {
        supervisor_pin: String,
    },
    Sales {
        search: String,
    },
    /// Reprint a printed receipt from the recent-sales list (supervisor PIN).
    Reprint {
        validation_number: String,
        supervisor_pin: String,
    },
    Void {
        validation_number: String,
        supervisor_pin: String,
        reason: String,
    },
    Shift,
    /// Open a shift with a cash float typed as money text, e.g. `100.00`.
    OpenShift {
        float: String,
    },
    CloseShift {
        supervisor_pin: String,
    },
    /// Close this device for the event (supervisor PIN): every open shift closes with its Z
    /// report, the unused draw numbers go back to the server, and no sale follows.
    CloseDevice {
        supervisor_pin: String,
    },
    UnlockSettings {
        supervisor_pin: String,
    },
    SavePrinter(PrinterForm),
    TestPrint,
    Enroll {
        server_url: String,
        token: String,
    },
    /// The draw results held on the device, for the results panels (no login needed).
    Results,
    /// Is this validation number (typed, or a scanned receipt QR) a winner? (no login needed)
    CheckTicket {
        input: String,
    },
}

/// The confirmation screen's answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SellOrder {
    pub package_id: String,
    pub card: bool,
    pub card_reference: String,
    pub customer_name: String,
    pub customer_phone: String,
    pub customer_email: String,
}

/// The printer settings form. `path` is a device path, a folder (sim) or `host[:port]` (network).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrinterForm {
    pub transport: String,
    pub path: String,
    pub baud: String,
    pub paper_width: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageView {
    pub id: String,
    pub name: String,
    pub tickets: String,
    pub price: String,
    /// The perks a sale of the package includes, e.g. `VIP Parking + Team Scarf` (empty: none).
    pub perks: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaleView {
    pub validation_number: String,
    pub draw_numbers: String,
    /// e.g. `5 tickets · $20.00 · cash · 14:05`.
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailureView {
    pub validation_number: String,
    /// The printer's or store's sentence: what went wrong and what to do.
    pub reason: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaleRowView {
    pub validation_number: String,
    pub package: String,
    pub total: String,
    pub draw_numbers: String,
    pub state: String,
    pub time: String,
    pub voided: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShiftLineView {
    pub package: String,
    pub sales: String,
    pub amount: String,
    pub voids: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShiftView {
    pub operator_name: String,
    pub opened_at: String,
    pub lines: Vec<ShiftLineView>,
    pub sales_total: String,
    pub voids_total: String,
    pub float: String,
    pub cash_expected: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusView {
    pub event_name: String,
    /// `Jackpot` (the live estimate) or `Final jackpot` (from the draw's results).
    pub jackpot_label: String,
    pub jackpot: String,
    pub jackpot_as_of: String,
    pub numbers_left: i64,
    pub numbers_total: i64,
    pub numbers_low: bool,
    pub online: bool,
    pub sync_text: String,
    /// Journal entries not yet on the server (the figure in `sync_text`).
    pub pending_entries: u64,
    pub printer_text: String,
    pub printer_ok: bool,
    pub clock: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SettingsView {
    pub server_url: String,
    pub enroll_available: bool,
    pub transport: String,
    pub path: String,
    pub baud: String,
    pub paper_width: String,
    pub version: String,
    pub app_hash: String,
    pub device_id: String,
    pub device_name: String,
    pub epoch: String,
    pub database: String,
}

/// One winning number of the results panel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultLineView {
    pub prize: String,
    pub value: String,
    pub draw_number: String,
    pub redrawn: bool,
}

/// The draw's results as the device last pulled them; `available` false before any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResultsView {
    pub available: bool,
    /// e.g. `Summer Festival Raffle · drawn 2 Dec 14:05`.
    pub title: String,
    pub final_jackpot: String,
    pub winners: Vec<ResultLineView>,
}

/// The four answers of "Check a ticket" (the Slint enum `CheckOutcome` mirrors it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckOutcome {
    #[default]
    None,
    Winner,
    NotAWinner,
    NoResults,
    Malformed,
}

/// The answer to one ticket check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TicketCheckView {
    pub outcome: CheckOutcome,
    /// `Winner: 50/50 Winner $1,234.50`, `Not a winning ticket`, …
    pub title: String,
    pub detail: String,
}

/// What the controller tells the screens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiEvent {
    LoggedIn {
        operator: String,
    },
    /// The screen is locked: back to the PIN pad.
    Locked,
    LoginMessage(String),
    /// The device's name for the login screen.
    Device(String),
    Packages(Vec<PackageView>),
    /// A refusal or an error on the sell screen (the sale did not happen).
    SaleRefused(String),
    /// The sale is committed; its receipt is printing.
    SaleCommitted(SaleView),
    SalePrinted(SaleView),
    /// A receipt is not confirmed printed: selling is locked until it is reprinted or spoiled.
    PrintFailed(FailureView),
    FailureBusy(bool),
    FailureMessage(String),
    /// The failed receipt was reprinted or spoiled: selling is open again.
    PrintResolved(String),
    Sales(Vec<SaleRowView>),
    SalesMessage {
        text: String,
        error: bool,
    },
    /// The open shift, or `None` when no shift is open.
    Shift(Option<ShiftView>),
    ShiftMessage {
        text: String,
        error: bool,
    },
    ZReport(String),
    /// The device is closed for the event (`entries_to_sync` then follows the status bar).
    DeviceClosed {
        numbers_released: i64,
        entries_to_sync: u64,
    },
    Status(StatusView),
    Settings(SettingsView),
    SettingsUnlocked(bool),
    SettingsMessage {
        text: String,
        error: bool,
    },
    Results(ResultsView),
    TicketChecked(TicketCheckView),
}
