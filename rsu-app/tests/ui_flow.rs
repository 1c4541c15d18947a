//! The kiosk's wiring, end to end, on Slint's testing backend: elements are found by their
//! accessible labels and tapped through their default actions, as a screen reader would.
//! One test per binary: the testing backend's event loop can be set up once per process.
#![allow(clippy::unwrap_used)]

mod common;

use common::{demo, sleep, tap, wait_for};
use i_slint_backend_testing::ElementHandle;
use rsu_app::kiosk::ui::{AppAdapter, SellAdapter};
use rsu_app::kiosk::{self, MainWindow};
use slint::ComponentHandle;
use std::time::Duration;

fn value(window: &MainWindow, label: &str) -> String {
    // A caption's own text carries the same label; the value is on the element that has one.
    ElementHandle::find_by_accessible_label(window, label)
        .find_map(|e| e.accessible_value().filter(|v| !v.is_empty()))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

fn exists(window: &MainWindow, label: &str) -> bool {
    ElementHandle::find_by_accessible_label(window, label)
        .next()
        .is_some()
}

fn enter_pin(window: &MainWindow, purpose: &str, pin: &str) {
    for d in pin.chars() {
        tap(window, &format!("{purpose} digit {d}"));
    }
    tap(window, &format!("{purpose} OK"));
}

#[test]
fn log_in_sell_survive_paper_out_and_void_with_a_supervisor_pin() {
    i_slint_backend_testing::init_integration_test_with_system_time();
    let demo = demo();
    let window = MainWindow::new().unwrap();
    let (_handle, stop, _idle) = kiosk::wire(
        &window,
        demo.service(),
        demo.db.clone(),
        Duration::from_secs(300),
    )
    .unwrap();
    window.show().unwrap();
    let weak = window.as_weak();
    let sim = demo.sim.clone();
    let db = demo.db.clone();
    slint::spawn_local(async move {
        let w = weak.upgrade().unwrap();

        // Log in. A wrong PIN first: the store's sentence appears.
        wait_for("the login screen", || exists(&w, "PIN digit 1")).await;
        enter_pin(&w, "PIN", "4321");
        wait_for("the wrong-PIN message", || {
            value(&w, "Login message").contains("Wrong PIN")
        })
        .await;
        enter_pin(&w, "PIN", rsu_store::DEMO_SELLER_PIN);
        wait_for("the sell screen", || exists(&w, "Package 5 tickets")).await;
        assert!(value(&w, "Operator").contains("Sam Seller"));

        // Sell a package; the receipt prints on the simulated printer.
        tap(&w, "Package 5 tickets");
        tap(&w, "Confirm sale");
        wait_for("the printed receipt", || {
            value(&w, "Receipt state").starts_with("Printed")
        })
        .await;
        let vn = value(&w, "Validation number");
        assert!(vn.starts_with("RSU001-"), "validation number {vn:?}");
        assert_eq!(value(&w, "Draw numbers"), "1001\u{2013}1005");
        let store = rsu_store::Store::open_existing(&db).unwrap();
        assert_eq!(
            store.find_sale(&vn).unwrap().print_state.as_str(),
            "printed"
        );
        let txt = std::fs::read_dir(&sim)
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.path().extension().is_some_and(|x| x == "txt"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .unwrap();
        assert!(txt.contains(&vn), "the receipt transcript shows {vn}");

        // Paper out: the sale is recorded, the failure screen locks selling.
        tap(&w, "Next sale");
        std::fs::write(sim.join("PAPER_OUT"), b"").unwrap();
        wait_for("the packages", || exists(&w, "Package 1 ticket")).await;
        tap(&w, "Package 1 ticket");
        tap(&w, "Confirm sale");
        wait_for("the print failure screen", || exists(&w, "Print failure")).await;
        assert!(w.global::<AppAdapter>().get_selling_locked());
        assert!(!exists(&w, "Package 1 ticket"), "selling is locked");
        let failed_vn = w
            .global::<SellAdapter>()
            .get_validation_number()
            .to_string();
        assert_eq!(
            store.find_sale(&failed_vn).unwrap().print_state.as_str(),
            "print_failed"
        );

        // Load paper and reprint: REPRINT 1, selling resumes.
        std::fs::remove_file(sim.join("PAPER_OUT")).unwrap();
        tap(&w, "Reprint receipt");
        wait_for("selling to resume", || {
            !w.global::<AppAdapter>().get_selling_locked()
        })
        .await;
        assert!(value(&w, "Sale message").contains("REPRINT 1"));
        assert_eq!(
            store.find_sale(&failed_vn).unwrap().print_state.as_str(),
            "reprinted"
        );

        // Void the first sale from the recent sales, with a supervisor PIN and a reason.
        tap(&w, "Go to recent sales");
        let row = format!("Sale {vn}");
        wait_for("the recent sales", || exists(&w, &row)).await;
        tap(&w, &row);
        tap(&w, "Void selected sale");
        tap(&w, "Reason wrong package");
        enter_pin(&w, "Supervisor PIN", rsu_store::DEMO_SELLER_PIN);
        wait_for("the refusal of a seller's PIN", || {
            value(&w, "Sales message").contains("supervisor PIN")
        })
        .await;
        tap(&w, &row);
        tap(&w, "Void selected sale");
        tap(&w, "Reason wrong package");
        enter_pin(&w, "Supervisor PIN", rsu_store::DEMO_SUPERVISOR_PIN);
        wait_for("the void", || {
            value(&w, "Sales message").starts_with("Voided")
        })
        .await;
        assert!(store.find_sale(&vn).unwrap().voided_at.is_some());

        // The status bar is kept up to date by the poller.
        wait_for("the status bar", || {
            value(&w, "Numbers left").contains("194")
        })
        .await;

        // Lock.
        tap(&w, "Lock screen");
        wait_for("the PIN pad", || exists(&w, "PIN digit 1")).await;
        sleep(Duration::from_millis(10)).await;
        slint::quit_event_loop().unwrap();
    })
    .unwrap();
    slint::run_event_loop().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}
