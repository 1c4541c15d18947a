//! The kiosk's controllers: one per screen, mirroring `adapters/`. Together they own the device
//! store and the printer ([`Device`]), carry out each [`Command`] and report [`UiEvent`]s. They
//! never touch a widget and run on their own thread, so the UI thread never waits on SQLite or
//! the printer (docs/design.md §3.9). Their unit tests drive them directly, without a window.
//!
//! Each screen's controller is a set of functions over the shared [`Device`]: a screen's command
//! may show another screen's state (a login shows the packages and an unconfirmed print), so they
//! share one context rather than each owning a part of it.

pub mod check_ticket;
pub mod login;
pub mod print_failure;
pub mod sales;
pub mod sell;
pub mod settings;
pub mod shift;

use rsu_print::TransportConfig;
use rsu_store::{Store, StoreError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::model::{Command, StatusView, UiEvent};
use super::view::{status_view, PrinterState};
use crate::printer::Printer;

pub type SharedPrinterState = Arc<Mutex<PrinterState>>;

/// How long the kiosk waits without a touch before it locks (docs/design.md: default 5 minutes).
pub const DEFAULT_INACTIVITY_LOCK: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Where the controllers report what happened.
pub type Emit<'a> = &'a mut dyn FnMut(UiEvent);

/// What every screen's controller works on: the store, the printer and what the kiosk remembers
/// between commands.
pub struct Device {
    pub(crate) store: Store,
    pub(crate) db: PathBuf,
    pub(crate) printer: Option<Printer>,
    printer_state: SharedPrinterState,
    /// The sale whose receipt is not confirmed printed, if any.
    pub(crate) unresolved: Option<String>,
    pub(crate) app_hash: Option<String>,
}

impl Device {
    pub(crate) fn set_printer_state(&self, text: String, ok: bool) {
        if let Ok(mut s) = self.printer_state.lock() {
            *s = PrinterState { text, ok };
        }
    }

    /// The status bar now (the poller uses its own connection; this is for start-up and tests).
    pub(crate) fn status(&mut self) -> Result<StatusView, StoreError> {
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
}

/// The status bar's words for a printer that works.
pub(crate) fn printer_ready_text(p: &Printer) -> String {
    match &p.config.transport {
        TransportConfig::Simulated { .. } => "Printer ready (simulated)".into(),
        t => format!("Printer ready ({})", t.describe()),
    }
}

/// The kiosk's controller thread's state: every screen's controller over one [`Device`].
pub struct KioskService {
    device: Device,
}

impl std::fmt::Debug for KioskService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KioskService")
            .field("db", &self.device.db)
            .field("printer", &self.device.printer)
            .finish()
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
            device: Device {
                store,
                db,
                printer,
                printer_state: Arc::new(Mutex::new(state)),
                unresolved: None,
                app_hash: None,
            },
        }
    }

    pub fn printer_state(&self) -> SharedPrinterState {
        self.device.printer_state.clone()
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.device.store
    }

    /// The status bar now (the poller uses its own connection; this is for start-up and tests).
    pub fn status(&mut self) -> Result<StatusView, StoreError> {
        self.device.status()
    }

    /// Carries out one command, reporting what happened through `emit`.
    pub fn handle(&mut self, cmd: Command, emit: Emit<'_>) {
        let d = &mut self.device;
        match cmd {
            Command::Start => login::start(d, emit),
            Command::Login { pin } => login::login(d, &pin, emit),
            Command::Lock => login::lock(d, emit),
            Command::Packages => {
                sell::packages(d, emit);
                check_ticket::results(d, emit);
            }
            Command::Sell(order) => sell::sell(d, &order, emit),
            Command::ReprintFailed => print_failure::reprint(d, emit),
            Command::SpoilFailed { supervisor_pin } => {
                print_failure::spoil(d, &supervisor_pin, emit)
            }
            Command::Sales { search } => sales::list(d, &search, emit),
            Command::Reprint {
                validation_number,
                supervisor_pin,
            } => sales::reprint(d, &validation_number, &supervisor_pin, emit),
            Command::Void {
                validation_number,
                supervisor_pin,
                reason,
            } => sales::void(d, &validation_number, &supervisor_pin, &reason, emit),
            Command::Shift => shift::show(d, emit),
            Command::OpenShift { float } => shift::open(d, &float, emit),
            Command::CloseShift { supervisor_pin } => shift::close(d, &supervisor_pin, emit),
            Command::CloseDevice { supervisor_pin } => {
                shift::close_device(d, &supervisor_pin, emit)
            }
            Command::UnlockSettings { supervisor_pin } => {
                settings::unlock(d, &supervisor_pin, emit)
            }
            Command::SavePrinter(form) => settings::save_printer(d, &form, emit),
            Command::TestPrint => settings::test_print(d, emit),
            Command::Enroll { server_url, token } => settings::enroll(d, &server_url, &token, emit),
            Command::Results => check_ticket::results(d, emit),
            Command::CheckTicket { input } => check_ticket::check(d, &input, emit),
        }
    }
}

/// What the controllers' unit tests share: a demo device in a temporary directory with the
/// simulated printer, and the commands and answers every screen's test starts from.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::kiosk::model::SellOrder;
    use crate::printer;

    pub struct Demo {
        pub _dir: tempfile::TempDir,
        pub db: PathBuf,
        pub sim: PathBuf,
    }

    pub fn demo() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("rsu.sqlite3");
        crate::kiosk::open_store(&db, true).unwrap();
        let sim = printer::sim_dir(&db);
        Demo { _dir: dir, db, sim }
    }

    impl Demo {
        pub fn service(&self) -> KioskService {
            let store = crate::kiosk::open_store(&self.db, true).unwrap();
            let p = Printer::start(printer::simulated(self.sim.clone(), Default::default()));
            KioskService::new(store, self.db.clone(), Some(p))
        }
        pub fn store(&self) -> Store {
            Store::open_existing(&self.db).unwrap()
        }
    }

    pub fn run(service: &mut KioskService, cmd: Command) -> Vec<UiEvent> {
        let mut out = Vec::new();
        service.handle(cmd, &mut |e| out.push(e));
        out
    }

    /// Logs the demo seller in; returns the package ids on sale, in display order.
    pub fn logged_in(service: &mut KioskService) -> Vec<String> {
        let events = run(
            service,
            Command::Login {
                pin: rsu_store::DEMO_SELLER_PIN.into(),
            },
        );
        assert!(
            matches!(&events[0], UiEvent::LoggedIn { operator } if operator.contains("Sam Seller")),
            "{events:?}"
        );
        events
            .iter()
            .find_map(|e| match e {
                UiEvent::Packages(p) => Some(p.iter().map(|p| p.id.clone()).collect()),
                _ => None,
            })
            .unwrap()
    }

    pub fn order(package_id: &str) -> Command {
        Command::Sell(SellOrder {
            package_id: package_id.into(),
            ..SellOrder::default()
        })
    }
}
