//! The headless CLI: for operators at a terminal, scripts, and tests.
//! Every failure is one clear line on stderr and a non-zero exit.
//!
//! Why this file is over 800 lines: one `match` over every command; issue 10 makes the CLI a folder with one file per command group.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use rsu_core::payload::{CustomerInfo, Payment, PaymentMethod};
use rsu_store::{Sale, SaleRequest, Store, StoreError};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::issue::{issue_sale, Issued, SaleError};
use crate::printer::{self, IssueError, Printer};
use crate::receipt_text::sale_text;

/// Elite Raffle RSU: the raffle sales unit kiosk and its command line.
///
/// Sales are committed to the device's SQLite database before anything prints, and stay there
/// until the sync daemon (rsu-syncd) has delivered them to the server.
#[derive(Parser, Debug)]
#[command(name = "rsu-app", version, about, long_about = None)]
pub struct Cli {
    /// The device database. Defaults to the platform data directory (e.g. ~/.local/share/rsu/rsu.sqlite3).
    #[arg(long, global = true, env = "RSU_DB")]
    pub db: Option<PathBuf>,

    /// Run the kiosk on a demo database (created if absent) with the simulated printer, which
    /// writes each receipt as .txt and .png next to the database.
    #[arg(long, global = true)]
    pub demo: bool,

    /// Run the kiosk full screen (the default on the linuxkms backend).
    #[arg(long, global = true)]
    pub fullscreen: bool,

    /// Lock the kiosk after this many seconds without a touch.
    #[arg(long, global = true, default_value_t = 300, value_name = "SECONDS")]
    pub lock_after: u64,

    /// Without a subcommand, rsu-app runs the kiosk touchscreen UI.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a demo device database: "Summer Festival Raffle", three packages, draw numbers 1001–1200, seller PIN 1111, supervisor PIN 9999.
    DemoInit,
    /// Enroll this device with a server: makes the device key, registers it with the one-time
    /// token from the raffle manager, and pulls the first configuration. Refused while sales are
    /// waiting to sync (re-enrollment starts a new epoch).
    Enroll {
        /// The server's base URL, e.g. https://raffle.example.org
        #[arg(long)]
        server: String,
        /// The one-time enrollment token printed by `server-stub admin create-rsu`,
        /// `server-stub admin enrollment-token` or `server-stub demo-seed`.
        #[arg(long)]
        token: String,
    },
    /// Log an operator in with a PIN (opens their shift if none is open).
    Login {
        #[arg(long, env = "RSU_PIN")]
        pin: String,
        /// Cash float for the shift, in minor units (cents).
        #[arg(long)]
        float: Option<i64>,
    },
    /// Log out. Refused while sales are waiting to sync; use `lock` to step away instead.
    Logout,
    /// Lock the kiosk without logging out (the shift stays open).
    Lock,
    /// Sell a package to the logged-in operator's customer and show its receipt.
    Sell(SellArgs),
    /// Void a whole sale (supervisor PIN and a reason needed).
    Void {
        validation_number: String,
        #[arg(long)]
        supervisor_pin: String,
        #[arg(long)]
        reason: String,
    },
    /// Print a sale's receipt again, marked REPRINT n. A receipt that printed needs a supervisor PIN.
    Reprint {
        validation_number: String,
        #[arg(long)]
        supervisor_pin: Option<String>,
        /// Where the receipt goes: the configured printer (default when one is set), the
        /// terminal, or the simulated printer (.txt/.png next to the database).
        #[arg(long, value_enum)]
        printer: Option<PrinterChoice>,
    },
    /// Spoil a receipt that failed to print (a void with reason "misprint"; supervisor PIN needed).
    Spoil {
        validation_number: String,
        #[arg(long)]
        supervisor_pin: String,
    },
    /// Open or close a shift.
    Shift {
        #[command(subcommand)]
        action: ShiftAction,
    },
    /// Close this device for the event (supervisor PIN): stop selling, close every open shift
    /// with its Z report, and give back the unused draw numbers. rsu-syncd then delivers it all.
    Close {
        #[arg(long)]
        supervisor_pin: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List recent sales (newest first).
    Sales {
        /// Show only sales whose validation number contains this text.
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show the device's state: event, numbers left, sync backlog, unresolved print.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Check the database and the journal's hash chain.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Write the whole journal as JSON lines, with a last line signed by the device key, for a
    /// device that cannot sync: the server imports it with `server-stub admin import-journal`.
    Export {
        /// Output file; standard output if omitted.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Move the device database aside and start empty. Refused while anything is waiting to sync.
    Reset {
        /// Confirm the reset.
        #[arg(long)]
        yes: bool,
    },
    /// Run the kiosk touchscreen UI (the same as running rsu-app without a subcommand).
    Kiosk,
    /// Print the printer test page on the configured printer (or the simulated one with --printer sim).
    PrintTest {
        #[arg(long, value_enum)]
        printer: Option<PrinterChoice>,
    },
    /// Show or change the printer settings (kept in printer.json next to the database).
    Printer {
        #[command(subcommand)]
        action: PrinterAction,
    },
    /// Render a kiosk screen with demo data to a PNG, headlessly (no display needed).
    Screenshot {
        /// One of: login, sell, confirm, keyboard, printing, result, print-failure, sales, void, shift, shift-closed, device-closed, settings-locked, settings.
        #[arg(long)]
        screen: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1280)]
        width: u32,
        #[arg(long, default_value_t = 800)]
        height: u32,
    },
    /// A tour of the kiosk with no display: a demo device in OUT driven through login, sales, a
    /// print failure and its reprint, recent sales and the shift, with a screenshot of each
    /// screen and every receipt (in OUT/receipts). `scripts/demo.sh` runs it when there is no
    /// display.
    Tour {
        /// An empty or new directory for the screenshots, the receipts and the demo database.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1280)]
        width: u32,
        #[arg(long, default_value_t = 800)]
        height: u32,
    },
    /// Measure the kiosk: cold start to first frame, memory after N sales, tap-to-"printing" time.
    Measure {
        /// Sales to make before reading resident memory.
        #[arg(long, default_value_t = 1000)]
        sales: u32,
    },
    /// Sell 1-ticket packages in a loop, printing each validation number after its commit
    /// (used by the crash test).
    #[command(hide = true)]
    SellLoop {
        #[arg(long)]
        count: Option<u64>,
    },
}

#[derive(clap::Args, Debug)]
pub struct SellArgs {
    /// Package name (e.g. "5 tickets"), its id, or its ticket count.
    #[arg(long)]
    pub package: String,
    #[arg(long, value_enum, default_value_t = PayArg::Cash)]
    pub payment: PayArg,
    /// Card terminal reference (required for card payments).
    #[arg(long)]
    pub reference: Option<String>,
    #[arg(long)]
    pub customer_name: Option<String>,
    #[arg(long)]
    pub customer_email: Option<String>,
    #[arg(long)]
    pub customer_phone: Option<String>,
    /// Log in with this PIN first (otherwise the logged-in operator sells).
    #[arg(long, env = "RSU_PIN")]
    pub pin: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Where the receipt goes: the configured printer (default when one is set), the terminal,
    /// or the simulated printer (.txt/.png next to the database).
    #[arg(long, value_enum)]
    pub printer: Option<PrinterChoice>,
}

/// Where a receipt is printed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum PrinterChoice {
    /// The printer in printer.json.
    Configured,
    /// The terminal (the receipt text on standard output).
    Terminal,
    /// The simulated printer: .txt and .png files in the `receipts` folder next to the database.
    Sim,
}

#[derive(Subcommand, Debug)]
pub enum PrinterAction {
    /// Show the printer settings.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Set the printer. Examples: `printer set --transport serial --path /dev/ttyUSB0 --baud 38400
    /// --flow-control rts-cts`, `printer set --transport network --host 10.0.0.5`,
    /// `printer set --transport usb --path /dev/usb/lp0 --paper-width 58mm`.
    Set(PrinterSetArgs),
    /// Forget the printer (the CLI prints receipts on the terminal again).
    Clear,
}

#[derive(clap::Args, Debug)]
pub struct PrinterSetArgs {
    #[arg(long, value_enum)]
    pub transport: TransportArg,
    /// Device path (serial, usb, file) or directory (sim).
    #[arg(long)]
    pub path: Option<String>,
    /// Host name or address (network).
    #[arg(long)]
    pub host: Option<String>,
    #[arg(long, default_value_t = 9100)]
    pub port: u16,
    #[arg(long, default_value_t = 38400)]
    pub baud: u32,
    #[arg(long, value_enum, default_value_t = FlowArg::RtsCts)]
    pub flow_control: FlowArg,
    #[arg(long, value_enum, default_value_t = PaperArg::Mm80)]
    pub paper_width: PaperArg,
    /// Kick the cash drawer on this pin after cash sales.
    #[arg(long, value_enum)]
    pub cash_drawer: Option<DrawerArg>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    Serial,
    Usb,
    Network,
    File,
    Sim,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FlowArg {
    None,
    XonXoff,
    RtsCts,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum PaperArg {
    #[value(name = "58mm")]
    Mm58,
    #[value(name = "80mm")]
    Mm80,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum DrawerArg {
    Pin2,
    Pin5,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum PayArg {
    Cash,
    Card,
}

#[derive(Subcommand, Debug)]
pub enum ShiftAction {
    /// Open a shift for the logged-in operator.
    Open {
        /// Cash float in minor units (cents).
        #[arg(long, default_value_t = 0)]
        float: i64,
    },
    /// Close the logged-in operator's shift and show the Z report (supervisor PIN needed).
    Close {
        #[arg(long)]
        supervisor_pin: String,
        #[arg(long)]
        json: bool,
    },
    /// Show the running totals of the open shift.
    Show {
        #[arg(long)]
        json: bool,
    },
}

/// The default database path from the platform's data directory.
pub fn default_db_path() -> Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("org", "EliteRaffle", "rsu")
        .context("cannot find a home directory for the default database: pass --db PATH")?;
    Ok(dirs.data_dir().join("rsu.sqlite3"))
}

pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> Result<ExitCode> {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(ExitCode::from(code));
        }
    };
    let command = match cli.command {
        None | Some(Command::Kiosk) => {
            let db = match (cli.db.clone(), cli.demo) {
                (Some(p), _) => p,
                (None, true) => crate::kiosk::default_demo_db_path()?,
                (None, false) => default_db_path()?,
            };
            crate::kiosk::run(crate::kiosk::KioskOptions {
                db,
                demo: cli.demo,
                fullscreen: cli.fullscreen,
                inactivity_lock: std::time::Duration::from_secs(cli.lock_after.max(10)),
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(c) => c,
    };
    let db = match cli.db.clone() {
        Some(p) => p,
        None => default_db_path()?,
    };
    execute(command, db)
}

/// The printer a receipt goes to: `None` means the terminal.
fn printer_for(db: &Path, choice: Option<PrinterChoice>) -> Result<Option<Printer>> {
    let config = match choice {
        Some(PrinterChoice::Terminal) => None,
        Some(PrinterChoice::Sim) => Some(printer::simulated(
            printer::sim_dir(db),
            printer::load_settings(db)?
                .map(|c| c.paper_width)
                .unwrap_or_default(),
        )),
        Some(PrinterChoice::Configured) => {
            Some(printer::load_settings(db)?.with_context(|| {
                format!(
                    "no printer is configured for {}: set one with `rsu-app printer set`",
                    db.display()
                )
            })?)
        }
        None => printer::load_settings(db)?,
    };
    Ok(config.map(Printer::start))
}

/// What the printer said about a receipt it printed.
fn report_printed(report: &rsu_print::PrintReport) {
    eprintln!(
        "Printed on {}{}.",
        report.transport,
        if report.confirmed {
            " (status confirmed)"
        } else {
            " (one-way printer: not confirmed)"
        }
    );
    for w in &report.warnings {
        eprintln!("Printer warning: {w:?}");
    }
}

/// The error for a committed sale whose receipt did not print: what to do next.
fn not_printed(sale: &Sale, e: &IssueError) -> anyhow::Error {
    anyhow::anyhow!(
        "the receipt for {} did not print: {e}. The sale is recorded; reprint it with `rsu-app reprint {}` or have a supervisor spoil it with `rsu-app spoil {} --supervisor-pin PIN`",
        sale.validation_number,
        sale.validation_number,
        sale.validation_number
    )
}

/// Prints a committed sale's reprint through `printer`, confirming it in the store.
fn issue_on(printer: &Printer, store: &mut Store, sale: &Sale, reprint: Option<u32>) -> Result<()> {
    match printer.issue(store, sale, reprint) {
        Ok((_, report)) => {
            report_printed(&report);
            Ok(())
        }
        Err(e) => Err(not_printed(sale, &e)),
    }
}

fn open(db: &PathBuf) -> Result<Store> {
    let store = Store::open_existing(db)?;
    if !store.is_enrolled()? {
        return Err(StoreError::NotEnrolled.into());
    }
    Ok(store)
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn find_package(store: &Store, wanted: &str) -> Result<uuid::Uuid> {
    let mut stmt = store.connection().prepare(
        "SELECT p.id, p.name, p.ticket_count FROM packages p JOIN events e ON e.id = p.event_id
         WHERE p.is_active = 1 ORDER BY (e.state = 'active') DESC, p.display_order",
    )?;
    let rows: Vec<(String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let w = wanted.trim();
    let hit = rows.iter().find(|(id, name, count)| {
        id == w || name.eq_ignore_ascii_case(w) || w.parse::<i64>().ok() == Some(*count)
    });
    match hit {
        Some((id, _, _)) => Ok(uuid::Uuid::parse_str(id)?),
        None => {
            let names: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
            bail!(
                "no package {w:?} on sale: choose one of {}",
                names.join(", ")
            )
        }
    }
}

fn show_sale(store: &Store, sale: &Sale, reprint: Option<u32>, json: bool) -> Result<()> {
    if json {
        return print_json(&serde_json::json!({
            "id": sale.id,
            "seq": sale.seq,
            "validationNumber": sale.validation_number,
            "drawNumbers": sale.draw_numbers.iter().map(|n| n.0).collect::<Vec<_>>(),
            "package": sale.package_name,
            "ticketCount": sale.ticket_count,
            "total": sale.total.minor,
            "currency": sale.total.currency.code(),
            "printState": sale.print_state.as_str(),
            "reprint": reprint,
            "voided": sale.voided_at.is_some(),
        }));
    }
    let ctx = store.receipt_context(sale)?;
    print!("{}", sale_text(sale, &ctx, reprint));
    Ok(())
}

fn execute(command: Command, db: PathBuf) -> Result<ExitCode> {
    match command {
        Command::Enroll { server, token } => {
            // A new device: the data directory may not exist yet, and enrollment takes its
            // lock file there before it creates the database.
            rsu_store::create_data_dir(&db)?;
            let report = rsu_sync::enroll::enroll(&db, &server, &token)?;
            print!("{report}");
        }
        Command::DemoInit => {
            let mut store = Store::open(&db)?;
            if store.is_enrolled()? {
                println!("{} already holds a device; nothing changed.", db.display());
                return Ok(ExitCode::SUCCESS);
            }
            let (identity, config) = rsu_store::demo_config(store.now()?)?;
            store.set_identity(&identity)?;
            store.apply_config(&config)?;
            println!("Demo device created at {}", db.display());
            println!("Event: Summer Festival Raffle; draw numbers 1001–1200");
            println!(
                "Seller PIN {}, supervisor PIN {}",
                rsu_store::DEMO_SELLER_PIN,
                rsu_store::DEMO_SUPERVISOR_PIN
            );
        }
        Command::Login { pin, float } => {
            let mut store = open(&db)?;
            let (op, shift) = store.login(&pin, float)?;
            println!(
                "{} logged in ({}); shift opened {}",
                op.name,
                op.role.as_str(),
                shift.opened_at.format("%Y-%m-%d %H:%M")
            );
        }
        Command::Logout => {
            open(&db)?.logout()?;
            println!("Logged out.");
        }
        Command::Lock => {
            open(&db)?.lock_screen()?;
            println!("Locked. Log in with a PIN to continue.");
        }
        Command::Sell(args) => {
            let mut store = open(&db)?;
            if let Some(pin) = &args.pin {
                store.login(pin, None)?;
            }
            let package_id = find_package(&store, &args.package)?;
            let method = match args.payment {
                PayArg::Cash => PaymentMethod::Cash,
                PayArg::Card => PaymentMethod::Card,
            };
            let customer = CustomerInfo {
                name: args.customer_name,
                email: args.customer_email,
                phone: args.customer_phone,
            };
            let req = SaleRequest {
                package_id,
                payment: Payment {
                    method,
                    reference: args.reference,
                },
                customer: Some(customer),
            };
            let printer = printer_for(&db, args.printer)?;
            // The receipt is composed inside the sale's transaction: one that could not print
            // completely refuses the sale before it is committed. Without a printer the CLI's
            // "printer" is the terminal: shown, then confirmed.
            let json = args.json;
            let outcome = issue_sale(&mut store, printer.as_ref(), &req, |store, sale| {
                if json {
                    Ok(())
                } else {
                    show_sale(store, sale, None, false)
                }
            });
            let (sale_id, issued) = match outcome.map_err(|e| *e) {
                Ok(Issued { sale, report }) => {
                    if let Some(report) = &report {
                        report_printed(report);
                    }
                    (sale.id, Ok(()))
                }
                Err(SaleError::Refused(e)) => return Err(e.into()),
                Err(SaleError::Interrupted { error, .. }) => return Err(error),
                Err(SaleError::NotPrinted { sale, error }) => {
                    let e = match (&printer, error) {
                        (None, IssueError::Store(e)) => anyhow::Error::from(e),
                        (_, e) => not_printed(&sale, &e),
                    };
                    (sale.id, Err(e))
                }
            };
            if args.json {
                // After printing, so `printState` says what happened to the receipt
                // (`printed`, or `print_failed` with a non-zero exit).
                show_sale(&store, &store.sale(sale_id)?, None, true)?;
            }
            issued?;
        }
        Command::Void {
            validation_number,
            supervisor_pin,
            reason,
        } => {
            let sale = open(&db)?.void(&validation_number, &supervisor_pin, &reason)?;
            println!(
                "Voided {} ({} tickets, {}): {}",
                sale.validation_number, sale.ticket_count, sale.total, reason
            );
        }
        Command::Reprint {
            validation_number,
            supervisor_pin,
            printer,
        } => {
            let mut store = open(&db)?;
            let printer = printer_for(&db, printer)?;
            let (sale, n) = store.reprint(&validation_number, supervisor_pin.as_deref())?;
            show_sale(&store, &sale, Some(n), false)?;
            match &printer {
                None => {
                    store.mark_printed(sale.id)?;
                }
                Some(p) => issue_on(p, &mut store, &sale, Some(n))?,
            }
        }
        Command::Kiosk => unreachable_kiosk()?,
        Command::PrintTest { printer } => {
            let store = open(&db)?;
            let printer = match printer_for(&db, printer.or(Some(PrinterChoice::Configured)))? {
                Some(p) => p,
                None => bail!("the terminal is not a printer: use --printer sim or configure one with `rsu-app printer set`"),
            };
            let report = printer.print_test_page(&store)?;
            println!(
                "Test page printed on {}{}.",
                report.transport,
                if report.confirmed {
                    " (status confirmed)"
                } else {
                    ""
                }
            );
        }
        Command::Printer { action } => printer_command(&db, action)?,
        Command::Screenshot {
            screen,
            out,
            width,
            height,
        } => {
            crate::kiosk::screenshot::render_to_file(&screen, &out, width, height)?;
            println!("Wrote {}", out.display());
        }
        Command::Tour { out, width, height } => {
            let shots = crate::kiosk::screenshot::tour(&out, width, height)?;
            for shot in &shots {
                println!("Wrote {}", shot.display());
            }
            println!(
                "Receipts (.txt, .png, .bin) are in {}",
                printer::sim_dir(&out.join("rsu.sqlite3")).display()
            );
        }
        Command::Measure { sales } => crate::kiosk::measure::run(sales)?,
        Command::Spoil {
            validation_number,
            supervisor_pin,
        } => {
            let sale = open(&db)?.spoil(&validation_number, &supervisor_pin)?;
            println!(
                "Spoiled {}: its draw numbers will not be sold again. Selling can continue.",
                sale.validation_number
            );
        }
        Command::Shift { action } => {
            let mut store = open(&db)?;
            match action {
                ShiftAction::Open { float } => {
                    let s = store.open_shift(float)?;
                    println!(
                        "Shift opened at {} with float {}",
                        s.opened_at.format("%H:%M"),
                        s.float_minor
                    );
                }
                ShiftAction::Close {
                    supervisor_pin,
                    json,
                } => {
                    let z = store.close_shift(&supervisor_pin)?;
                    if json {
                        print_json(&z)?;
                    } else {
                        print_z(&z);
                    }
                }
                ShiftAction::Show { json } => match store.shift_totals()? {
                    Some(z) if json => print_json(&z)?,
                    Some(z) => print_z(&z),
                    None => bail!("no open shift: log in to open one"),
                },
            }
        }
        Command::Close {
            supervisor_pin,
            json,
        } => {
            let mut store = open(&db)?;
            let report = store.close_device(&supervisor_pin)?;
            if json {
                print_json(&report)?;
            } else {
                for z in &report.shifts_closed {
                    print_z(z);
                }
                println!("{report}");
                if report.entries_to_sync > 0 {
                    println!("Leave the device on the network until rsu-syncd has delivered them (rsu-syncd status).");
                }
            }
        }
        Command::Sales {
            search,
            limit,
            json,
        } => {
            let store = open(&db)?;
            let sales = store.recent_sales(limit, search.as_deref())?;
            if json {
                let v: Vec<_> = sales.iter().map(|s| serde_json::json!({
                    "validationNumber": s.validation_number, "package": s.package_name, "total": s.total.minor,
                    "drawNumbers": rsu_core::draw::compress_display(&s.draw_numbers), "printState": s.print_state.as_str(),
                    "voided": s.voided_at.is_some(), "soldAt": s.sold_at,
                })).collect();
                print_json(&v)?;
            } else {
                for s in sales {
                    println!(
                        "{}  {:<11} {:>9}  {:<20} {}{}",
                        s.validation_number,
                        s.package_name,
                        s.total.to_string(),
                        rsu_core::draw::compress_display(&s.draw_numbers),
                        s.print_state.as_str(),
                        if s.voided_at.is_some() { " VOID" } else { "" }
                    );
                }
            }
        }
        Command::Status { json } => {
            let status = open(&db)?.status()?;
            if json {
                print_json(&status)?;
            } else {
                println!(
                    "Device:        {} (RSU {:03}, epoch {})",
                    status.device_name, status.rsu_no, status.epoch
                );
                println!(
                    "Event:         {} ({})",
                    status.event_name.as_deref().unwrap_or("none"),
                    status.event_state.as_deref().unwrap_or("-")
                );
                println!(
                    "Operator:      {}",
                    status.operator.as_deref().unwrap_or("nobody logged in")
                );
                println!(
                    "Numbers left:  {}{}",
                    status.numbers_left,
                    if status.numbers_left < status.low_water_mark {
                        " (low: connect to get more)"
                    } else {
                        ""
                    }
                );
                println!("Sales:         {} ({} voided)", status.sales, status.voids);
                println!(
                    "Unsynced:      {} entries, {} tickets; oldest {}",
                    status.sync.pending_entries,
                    status.sync.unsynced_tickets,
                    status
                        .sync
                        .oldest_pending_at
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|| "-".into())
                );
                println!("Rejected:      {}", status.sync.rejected);
                if let (Some(j), Some(c)) = (status.jackpot_estimate, &status.jackpot_currency) {
                    let cur = rsu_core::Currency::new(c)?;
                    println!(
                        "Jackpot:       {} (estimated)",
                        rsu_core::Money::new(j, cur)
                    );
                }
                if let Some(vn) = status.unresolved_print {
                    println!("ATTENTION:     receipt {vn} is not confirmed printed: reprint it or have a supervisor spoil it");
                }
            }
        }
        Command::Verify { json } => {
            let store = open(&db)?;
            let report = store.verify()?;
            if json {
                print_json(&report)?;
            } else {
                println!("Database check: {}", report.quick_check);
                println!(
                    "Journal: {} entries, chain verified, head {}",
                    report.entries,
                    report.chain_head.as_deref().unwrap_or("-")
                );
                println!(
                    "Sales: {}, draw numbers: {}, sold twice: {}",
                    report.sales, report.draw_numbers, report.duplicate_draw_numbers
                );
            }
            if report.quick_check != "ok" || report.duplicate_draw_numbers > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Export { out } => {
            // Opened first so a missing or corrupt database says so before anything is written.
            drop(open(&db)?);
            let trailer = match out {
                Some(path) => {
                    let mut f = std::fs::File::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    let t = rsu_sync::export::write_signed_export(&db, &mut f)?;
                    f.sync_all()
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    t
                }
                None => rsu_sync::export::write_signed_export(&db, &mut std::io::stdout().lock())?,
            };
            let n: u64 = trailer.epochs.iter().map(|e| e.entries).sum();
            match trailer.signature {
                Some(_) => eprintln!(
                    "{n} journal entries exported, signed with device key {}.",
                    trailer.key_id.map(|k| k.to_string()).unwrap_or_default()
                ),
                None => eprintln!(
                    "{n} journal entries exported, unsigned: this database has no device key (a demo), so the server will not import it."
                ),
            }
        }
        Command::Reset { yes } => {
            if !yes {
                bail!(
                    "reset moves the device database {} aside and starts empty: add --yes to confirm",
                    db.display()
                );
            }
            let aside = rsu_store::reset_database(&db)?;
            println!(
                "Moved the database aside to {}; `demo-init` or `enroll` starts a new one.",
                aside.display()
            );
        }
        Command::SellLoop { count } => {
            let mut store = open(&db)?;
            let package_id = find_package(&store, "1")?;
            let req = SaleRequest {
                package_id,
                payment: Payment {
                    method: PaymentMethod::Cash,
                    reference: None,
                },
                customer: None,
            };
            let stdout = std::io::stdout();
            let mut i = 0u64;
            while count.is_none_or(|c| i < c) {
                let sale = store.sell(&req)?;
                {
                    let mut lock = stdout.lock();
                    writeln!(lock, "{}", sale.validation_number)?;
                    lock.flush()?;
                }
                store.mark_printed(sale.id)?;
                i += 1;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_z(z: &rsu_core::payload::ShiftClosePayload) {
    let cur = rsu_core::Currency::new(&z.currency).ok();
    let m = |v: i64| {
        cur.map(|c| rsu_core::Money::new(v, c).to_string())
            .unwrap_or_else(|| v.to_string())
    };
    println!("Z REPORT  shift {}", z.shift_id);
    println!(
        "Opened {}  closed {}",
        z.opened_at.format("%Y-%m-%d %H:%M"),
        z.closed_at.format("%Y-%m-%d %H:%M")
    );
    for l in &z.lines {
        println!(
            "  {:<12} sales {:>4} {:>10}   voids {:>3} {:>9}",
            l.package_name,
            l.sales_count,
            m(l.sales_amount),
            l.voids_count,
            m(l.voids_amount)
        );
    }
    println!(
        "Sales {} ({}), voids {} ({})",
        z.sales_count,
        m(z.sales_amount),
        z.voids_count,
        m(z.voids_amount)
    );
    println!(
        "Float {}  cash sales {}  card sales {}  cash expected {}",
        m(z.float_amount),
        m(z.cash_sales_amount),
        m(z.card_sales_amount),
        m(z.cash_expected)
    );
    for r in &z.ranges {
        println!(
            "  numbers {}\u{2013}{} ({} sold)",
            r.first_number, r.last_number, r.count
        );
    }
    println!(
        "Seq {}–{}  chain head {}",
        z.first_seq.map(|s| s.to_string()).unwrap_or_default(),
        z.last_seq.map(|s| s.to_string()).unwrap_or_default(),
        z.chain_head
    );
}

fn unreachable_kiosk() -> Result<()> {
    bail!("the kiosk subcommand is handled before the database is opened")
}

fn printer_command(db: &Path, action: PrinterAction) -> Result<()> {
    use rsu_print::{FlowControl, PaperWidth, PrinterConfig, TransportConfig};
    match action {
        PrinterAction::Show { json } => match printer::load_settings(db)? {
            Some(c) if json => print_json(&c)?,
            Some(c) => {
                println!("Printer:     {}", c.transport.describe());
                println!("Paper width: {}", c.paper_width.label());
                println!(
                    "Cash drawer: {}",
                    c.cash_drawer
                        .map(|p| format!("{p:?}"))
                        .unwrap_or_else(|| "none".into())
                );
                println!("Settings:    {}", printer::settings_path(db).display());
            }
            None => println!(
                "No printer configured: receipts are shown on the terminal. Set one with `rsu-app printer set`."
            ),
        },
        PrinterAction::Set(a) => {
            let need_path = |what: &str| -> Result<String> {
                a.path
                    .clone()
                    .with_context(|| format!("a {what} printer needs --path"))
            };
            let transport = match a.transport {
                TransportArg::Serial => TransportConfig::Serial {
                    path: need_path("serial")?,
                    baud: a.baud,
                    flow_control: match a.flow_control {
                        FlowArg::None => FlowControl::None,
                        FlowArg::XonXoff => FlowControl::XonXoff,
                        FlowArg::RtsCts => FlowControl::RtsCts,
                    },
                    dtr: true,
                },
                TransportArg::Usb => TransportConfig::Usb {
                    path: PathBuf::from(a.path.clone().unwrap_or_else(|| "/dev/usb/lp0".into())),
                    two_way: true,
                },
                TransportArg::Network => TransportConfig::Network {
                    host: a
                        .host
                        .clone()
                        .context("a network printer needs --host (name or address)")?,
                    port: a.port,
                },
                TransportArg::File => TransportConfig::File {
                    path: PathBuf::from(need_path("file")?),
                },
                TransportArg::Sim => TransportConfig::Simulated {
                    dir: a
                        .path
                        .clone()
                        .map(PathBuf::from)
                        .unwrap_or_else(|| printer::sim_dir(db)),
                },
            };
            let config = PrinterConfig {
                transport,
                paper_width: match a.paper_width {
                    PaperArg::Mm58 => PaperWidth::Mm58,
                    PaperArg::Mm80 => PaperWidth::Mm80,
                },
                cash_drawer: a.cash_drawer.map(|d| match d {
                    DrawerArg::Pin2 => rsu_print::DrawerPin::Pin2,
                    DrawerArg::Pin5 => rsu_print::DrawerPin::Pin5,
                }),
                ..PrinterConfig::default()
            };
            let path = printer::save_settings(db, &config)?;
            println!(
                "Printer set: {} ({}), saved in {}",
                config.transport.describe(),
                config.paper_width.label(),
                path.display()
            );
        }
        PrinterAction::Clear => {
            if printer::clear_settings(db)? {
                println!("Printer settings removed: receipts are shown on the terminal.");
            } else {
                println!("No printer was configured.");
            }
        }
    }
    Ok(())
}
