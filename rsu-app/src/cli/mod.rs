//! The headless CLI: for operators at a terminal, scripts, and tests. One file per command group:
//! `sale` (sell, void, reprint, spoil, sales), `shift` (login, lock, shifts, close), `device`
//! (enroll, demo, status, verify, export, reset), `printer` and `kiosk` (screenshots, tour).
//! Every failure is one clear line on stderr and a non-zero exit.

mod device;
mod kiosk;
mod printer;
mod sale;
mod shift;

pub use printer::{DrawerArg, FlowArg, PaperArg, PrinterAction, PrinterSetArgs, TransportArg};
pub use sale::{PayArg, SellArgs};
pub use shift::ShiftAction;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use rsu_store::{Store, StoreError};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::printer::Printer;

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
    Sell(sale::SellArgs),
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
        action: shift::ShiftAction,
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
        action: printer::PrinterAction,
    },
    /// Render a kiosk screen with demo data to a PNG, headlessly (no display needed).
    Screenshot {
        /// One of: login, sell, confirm, keyboard, printing, result, print-failure, sales, void, shift, shift-closed, device-closed, settings-locked, settings, check-ticket.
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
pub(crate) fn printer_for(db: &Path, choice: Option<PrinterChoice>) -> Result<Option<Printer>> {
    let config = match choice {
        Some(PrinterChoice::Terminal) => None,
        Some(PrinterChoice::Sim) => Some(crate::printer::simulated(
            crate::printer::sim_dir(db),
            crate::printer::load_settings(db)?
                .map(|c| c.paper_width)
                .unwrap_or_default(),
        )),
        Some(PrinterChoice::Configured) => {
            Some(crate::printer::load_settings(db)?.with_context(|| {
                format!(
                    "no printer is configured for {}: set one with `rsu-app printer set`",
                    db.display()
                )
            })?)
        }
        None => crate::printer::load_settings(db)?,
    };
    Ok(config.map(Printer::start))
}

pub(crate) fn open(db: &Path) -> Result<Store> {
    let store = Store::open_existing(db)?;
    if !store.is_enrolled()? {
        return Err(StoreError::NotEnrolled.into());
    }
    Ok(store)
}

pub(crate) fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn execute(command: Command, db: PathBuf) -> Result<ExitCode> {
    let db = db.as_path();
    match command {
        Command::Enroll { server, token } => device::enroll(db, server, token)?,
        Command::DemoInit => device::demo_init(db)?,
        Command::Login { pin, float } => shift::login(db, pin, float)?,
        Command::Logout => shift::logout(db)?,
        Command::Lock => shift::lock(db)?,
        Command::Sell(args) => sale::sell(db, args)?,
        Command::Void {
            validation_number,
            supervisor_pin,
            reason,
        } => sale::void(db, validation_number, supervisor_pin, reason)?,
        Command::Reprint {
            validation_number,
            supervisor_pin,
            printer,
        } => sale::reprint(db, validation_number, supervisor_pin, printer)?,
        Command::Kiosk => bail!("the kiosk subcommand is handled before the database is opened"),
        Command::PrintTest { printer } => printer::print_test(db, printer)?,
        Command::Printer { action } => printer::printer_command(db, action)?,
        Command::Screenshot {
            screen,
            out,
            width,
            height,
        } => kiosk::screenshot(screen, out, width, height)?,
        Command::Tour { out, width, height } => kiosk::tour(out, width, height)?,
        Command::Measure { sales } => crate::kiosk::measure::run(sales)?,
        Command::Spoil {
            validation_number,
            supervisor_pin,
        } => sale::spoil(db, validation_number, supervisor_pin)?,
        Command::Shift { action } => shift::shift(db, action)?,
        Command::Close {
            supervisor_pin,
            json,
        } => shift::close(db, supervisor_pin, json)?,
        Command::Sales {
            search,
            limit,
            json,
        } => sale::sales(db, search, limit, json)?,
        Command::Status { json } => device::status(db, json)?,
        Command::Verify { json } => return device::verify(db, json),
        Command::Export { out } => device::export(db, out)?,
        Command::Reset { yes } => device::reset(db, yes)?,
        Command::SellLoop { count } => sale::sell_loop(db, count)?,
    }
    Ok(ExitCode::SUCCESS)
}
