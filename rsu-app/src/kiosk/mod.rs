//! The kiosk: a Slint touchscreen UI over the device store and the printer.
//!
//! Threads (DESIGN §3.9, the UI thread never waits on the printer or the network):
//! - the UI thread runs Slint's event loop and the adapters (`adapters/`), which only set
//!   properties and forward callbacks as [`Command`]s;
//! - the controller thread owns the [`KioskService`] (the store and the printer) and reports
//!   [`UiEvent`]s back with `upgrade_in_event_loop`: one controller per screen in
//!   `controllers/`, the domain-to-text mapping in `view`;
//! - the status poller opens a second store connection (WAL lets it read while a sale writes)
//!   and refreshes the status bar every second;
//! - `rsu-print`'s worker does the printer I/O under its watchdog.

pub mod adapters;
pub mod controllers;
pub mod headless;
pub mod measure;
pub mod model;
pub mod screenshot;
pub mod view;

pub use controllers::{KioskService, DEFAULT_INACTIVITY_LOCK};
pub use model::{Command, UiEvent};

use anyhow::{Context, Result};
use rsu_store::Store;
use slint::ComponentHandle;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use crate::printer::{self, Printer};

/// The Rust side of the `.slint` files under `ui/` (generated code, not held to our lints).
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, missing_docs)]
pub mod ui {
    slint::include_modules!();
}

pub use ui::MainWindow;

/// How the kiosk is started.
#[derive(Debug, Clone)]
pub struct KioskOptions {
    pub db: PathBuf,
    pub demo: bool,
    pub fullscreen: bool,
    /// Lock after this long without a touch (default 5 minutes).
    pub inactivity_lock: Duration,
}

/// Where the UI sends what the controller reports.
pub type Sink = Arc<dyn Fn(UiEvent) + Send + Sync>;

/// The screens' way to the controller thread. Sending never blocks.
#[derive(Clone, Debug)]
pub struct KioskHandle {
    tx: mpsc::Sender<Command>,
}

impl KioskHandle {
    pub fn send(&self, cmd: Command) {
        if self.tx.send(cmd).is_err() {
            tracing::error!("the kiosk controller thread has stopped");
        }
    }
}

/// Starts the controller thread; each command's events go to `sink`.
pub fn spawn_controller(mut service: KioskService, sink: Sink) -> Result<KioskHandle> {
    let (tx, rx) = mpsc::channel::<Command>();
    thread::Builder::new()
        .name("rsu-kiosk-controller".into())
        .spawn(move || {
            for cmd in rx {
                service.handle(cmd, &mut |ev| sink(ev));
            }
        })
        .context("cannot start the kiosk controller thread")?;
    Ok(KioskHandle { tx })
}

/// Refreshes the status bar from its own store connection until `stop` is set.
pub fn spawn_status_poller(
    db: PathBuf,
    printer_state: controllers::SharedPrinterState,
    sink: Sink,
    stop: Arc<AtomicBool>,
    every: Duration,
) -> Result<()> {
    thread::Builder::new()
        .name("rsu-kiosk-status".into())
        .spawn(move || {
            let mut store = match Store::open_existing(&db) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "the status poller cannot open the database");
                    return;
                }
            };
            while !stop.load(Ordering::Relaxed) {
                let state = printer_state.lock().map(|s| s.clone()).ok();
                match (store.status(), store.now(), state) {
                    (Ok(status), Ok(now), Some(state)) => {
                        sink(UiEvent::Status(view::status_view(&status, &state, now)));
                    }
                    (Err(e), _, _) | (_, Err(e), _) => {
                        tracing::warn!(error = %e, "status poll failed");
                    }
                    _ => {}
                }
                thread::sleep(every);
            }
        })
        .context("cannot start the status poller thread")?;
    Ok(())
}

/// The demo database's default place: `<data dir>/demo/rsu.sqlite3`, apart from a real device's.
pub fn default_demo_db_path() -> Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("org", "EliteRaffle", "rsu")
        .context("cannot find a home directory for the demo database: pass --db PATH")?;
    Ok(dirs.data_dir().join("demo").join("rsu.sqlite3"))
}

/// Opens the device store; in demo mode creates the demo device first if there is none.
pub fn open_store(db: &Path, demo: bool) -> Result<Store> {
    if !demo {
        let store = Store::open_existing(db).with_context(|| {
            "run `rsu-app --demo` to try the kiosk with a demo device".to_string()
        })?;
        if !store.is_enrolled()? {
            return Err(rsu_store::StoreError::NotEnrolled.into());
        }
        return Ok(store);
    }
    let mut store = Store::open(db)?;
    if !store.is_enrolled()? {
        let (identity, config) = rsu_store::demo_config(store.now()?)?;
        store.set_identity(&identity)?;
        store.apply_config(&config)?;
        eprintln!(
            "Demo device created at {}: seller PIN {}, supervisor PIN {}",
            db.display(),
            rsu_store::DEMO_SELLER_PIN,
            rsu_store::DEMO_SUPERVISOR_PIN
        );
    }
    Ok(store)
}

/// The printer for the kiosk: the simulated one in demo mode, else the configured one.
pub fn kiosk_printer(db: &Path, demo: bool) -> Result<Option<Printer>> {
    let config = if demo {
        let width = printer::load_settings(db)?
            .map(|c| c.paper_width)
            .unwrap_or_default();
        Some(printer::simulated(printer::sim_dir(db), width))
    } else {
        printer::load_settings(db)?
    };
    Ok(config.map(Printer::start))
}

/// A sink that hands each event to the UI thread.
pub fn window_sink(window: &MainWindow) -> Sink {
    let weak = window.as_weak();
    Arc::new(move |ev: UiEvent| {
        if weak
            .upgrade_in_event_loop(move |w| adapters::apply(&w, ev))
            .is_err()
        {
            tracing::debug!("the event loop has stopped; event dropped");
        }
    })
}

/// Wires a window to a controller: adapters, inactivity lock, status poller. Returns the handle
/// and the poller's stop flag.
pub fn wire(
    window: &MainWindow,
    service: KioskService,
    db: PathBuf,
    inactivity: Duration,
) -> Result<(KioskHandle, Arc<AtomicBool>, slint::Timer)> {
    let state = service.printer_state();
    let sink = window_sink(window);
    let handle = spawn_controller(service, sink.clone())?;
    let idle_timer = adapters::connect_all(window, &handle, inactivity);
    let stop = Arc::new(AtomicBool::new(false));
    spawn_status_poller(db, state, sink, stop.clone(), Duration::from_secs(1))?;
    handle.send(Command::Start);
    Ok((handle, stop, idle_timer))
}

/// Runs the kiosk until its window closes.
pub fn run(opts: KioskOptions) -> Result<()> {
    let store = open_store(&opts.db, opts.demo)?;
    let printer = kiosk_printer(&opts.db, opts.demo)?;
    if opts.demo {
        eprintln!(
            "Simulated printer: receipts go to {}",
            printer::sim_dir(&opts.db).display()
        );
    }
    let service = KioskService::new(store, opts.db.clone(), printer);
    let window = MainWindow::new().context("cannot open the kiosk window")?;
    if opts.fullscreen {
        window.window().set_fullscreen(true);
    }
    let (_handle, stop, _idle) = wire(&window, service, opts.db.clone(), opts.inactivity_lock)?;
    if std::env::var_os("RSU_EXIT_AFTER_FIRST_FRAME").is_some() {
        measure::exit_after_first_frame(&window);
    }
    let result = window.run().context("the kiosk window failed");
    stop.store(true, Ordering::Relaxed);
    result
}
