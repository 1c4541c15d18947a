//! The UI thread never waits on the printer (DESIGN §3.9): with a printer that takes two
//! seconds per job, the event loop keeps turning and the "printing…" state shows meanwhile.
#![allow(clippy::unwrap_used)]

mod common;

use common::{demo, wait_for};
use i_slint_backend_testing::ElementHandle;
use rsu_app::kiosk::{self, KioskService, MainWindow};
use rsu_app::printer::{self, Printer};
use rsu_print::transport::{Transport, WriteFailure};
use rsu_print::worker::{Opener, WorkerOptions};
use rsu_print::{PrintError, PrintWorker};
use slint::ComponentHandle;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A one-way printer that takes `delay` to accept each write.
struct SlowPrinter {
    delay: Duration,
}

impl Transport for SlowPrinter {
    fn describe(&self) -> String {
        "slow test printer".into()
    }
    fn is_two_way(&self) -> bool {
        false
    }
    fn write_all(&mut self, _data: &[u8], _deadline: Instant) -> Result<(), WriteFailure> {
        std::thread::sleep(self.delay);
        Ok(())
    }
    fn read(&mut self, _buf: &mut [u8], _timeout: Duration) -> Result<usize, PrintError> {
        Ok(0)
    }
}

fn tap(window: &MainWindow, label: &str) {
    ElementHandle::find_by_accessible_label(window, label)
        .next()
        .unwrap_or_else(|| panic!("no element labelled {label:?}"))
        .invoke_accessible_default_action();
}

fn value(window: &MainWindow, label: &str) -> String {
    // A caption's own text carries the same label; the value is on the element that has one.
    ElementHandle::find_by_accessible_label(window, label)
        .find_map(|e| e.accessible_value().filter(|v| !v.is_empty()))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

#[test]
fn a_slow_printer_never_blocks_the_ui_thread() {
    i_slint_backend_testing::init_integration_test_with_system_time();
    let demo = demo();
    let opener: Opener = Arc::new(|| {
        Ok(Box::new(SlowPrinter {
            delay: Duration::from_secs(2),
        }) as Box<dyn Transport>)
    });
    let worker = PrintWorker::with_opener(opener, WorkerOptions::default());
    let config = printer::simulated(demo.sim.clone(), Default::default());
    let store = kiosk::open_store(&demo.db, true).unwrap();
    let service = KioskService::new(
        store,
        demo.db.clone(),
        Some(Printer::with_worker(config, worker)),
    );
    let window = MainWindow::new().unwrap();
    let (_handle, stop, _idle) =
        kiosk::wire(&window, service, demo.db.clone(), Duration::from_secs(300)).unwrap();
    window.show().unwrap();

    // A heartbeat on the UI thread: the longest gap between its ticks is how long the UI froze.
    let last = Rc::new(Cell::new(Instant::now()));
    let worst = Rc::new(Cell::new(Duration::ZERO));
    let heartbeat = slint::Timer::default();
    {
        let (last, worst) = (last.clone(), worst.clone());
        heartbeat.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(10),
            move || {
                let gap = last.get().elapsed();
                worst.set(worst.get().max(gap));
                last.set(Instant::now());
            },
        );
    }

    let weak = window.as_weak();
    let worst_in = worst.clone();
    let last_in = last.clone();
    slint::spawn_local(async move {
        let w = weak.upgrade().unwrap();
        wait_for("the login screen", || {
            ElementHandle::find_by_accessible_label(&w, "PIN digit 1")
                .next()
                .is_some()
        })
        .await;
        for d in rsu_store::DEMO_SELLER_PIN.chars() {
            tap(&w, &format!("PIN digit {d}"));
        }
        tap(&w, "PIN OK");
        wait_for("the packages", || {
            ElementHandle::find_by_accessible_label(&w, "Package 1 ticket")
                .next()
                .is_some()
        })
        .await;
        // Measure from here: login's PBKDF2 ran on the controller thread, not this one.
        last_in.set(Instant::now());
        worst_in.set(Duration::ZERO);
        tap(&w, "Package 1 ticket");
        let tapped = Instant::now();
        tap(&w, "Confirm sale");
        wait_for("\"printing\"", || {
            value(&w, "Receipt state").contains("Printing")
        })
        .await;
        let printing_at = tapped.elapsed();
        wait_for("\"printed\"", || {
            value(&w, "Receipt state").starts_with("Printed")
        })
        .await;
        let printed_at = tapped.elapsed();
        assert!(
            printing_at < Duration::from_millis(1500),
            "\"printing\" showed after {printing_at:?}"
        );
        assert!(
            printed_at >= Duration::from_secs(2),
            "the slow printer took {printed_at:?}"
        );
        slint::quit_event_loop().unwrap();
    })
    .unwrap();
    slint::run_event_loop().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let worst = worst.get();
    assert!(
        worst < Duration::from_millis(250),
        "the UI thread stalled for {worst:?} while the printer worked"
    );
}
