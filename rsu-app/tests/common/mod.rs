//! Helpers for the kiosk's UI tests: a demo device in a temporary directory and async waits on
//! Slint's event loop.
#![allow(dead_code, clippy::unwrap_used)]

use rsu_app::kiosk::{self, KioskService};
use rsu_app::printer::{self, Printer};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

pub struct Demo {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub sim: PathBuf,
}

pub fn demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rsu.sqlite3");
    kiosk::open_store(&db, true).unwrap();
    let sim = printer::sim_dir(&db);
    Demo { dir, db, sim }
}

impl Demo {
    pub fn service(&self) -> KioskService {
        let store = kiosk::open_store(&self.db, true).unwrap();
        let p = Printer::start(printer::simulated(self.sim.clone(), Default::default()));
        KioskService::new(store, self.db.clone(), Some(p))
    }
    pub fn store(&self) -> rsu_store::Store {
        rsu_store::Store::open_existing(&self.db).unwrap()
    }
}

type SleepState = (Rc<Cell<bool>>, Rc<RefCell<Option<Waker>>>);

struct Sleep {
    duration: Duration,
    state: Option<SleepState>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.is_none() {
            let done = Rc::new(Cell::new(false));
            let waker: Rc<RefCell<Option<Waker>>> = Rc::new(RefCell::new(None));
            let (d, w) = (done.clone(), waker.clone());
            slint::Timer::single_shot(self.duration, move || {
                d.set(true);
                if let Some(w) = w.borrow_mut().take() {
                    w.wake();
                }
            });
            self.state = Some((done, waker));
        }
        let Some((done, waker)) = &self.state else {
            return Poll::Pending;
        };
        if done.get() {
            Poll::Ready(())
        } else {
            *waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Lets the event loop run for `d`.
pub fn sleep(d: Duration) -> impl Future<Output = ()> {
    Sleep {
        duration: d,
        state: None,
    }
}

/// Waits (on the event loop) until `cond` holds; panics after 20 s.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

/// Taps the element with this accessible label, which must exist and be enabled.
pub fn tap(window: &kiosk::MainWindow, label: &str) {
    let el = i_slint_backend_testing::ElementHandle::find_by_accessible_label(window, label)
        .next()
        .unwrap_or_else(|| panic!("no element labelled {label:?}"));
    assert_ne!(
        el.accessible_enabled(),
        Some(false),
        "{label:?} is disabled"
    );
    el.invoke_accessible_default_action();
}

/// The accessible value of the first element labelled `label` that has one ("" if none).
pub fn value(window: &kiosk::MainWindow, label: &str) -> String {
    i_slint_backend_testing::ElementHandle::find_by_accessible_label(window, label)
        .find_map(|e| e.accessible_value().filter(|v| !v.is_empty()))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// Whether an element labelled `label` is on screen.
pub fn exists(window: &kiosk::MainWindow, label: &str) -> bool {
    i_slint_backend_testing::ElementHandle::find_by_accessible_label(window, label)
        .next()
        .is_some()
}

/// Taps `pin` on the keypad labelled `purpose` ("PIN", "Supervisor PIN", …), then its OK.
pub fn enter_pin(window: &kiosk::MainWindow, purpose: &str, pin: &str) {
    for d in pin.chars() {
        tap(window, &format!("{purpose} digit {d}"));
    }
    tap(window, &format!("{purpose} OK"));
}
