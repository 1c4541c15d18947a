//! Closing the device with the wrong PIN on Slint's testing backend: a wrong PIN and a seller's
//! PIN are refused in a sentence on the Shift screen, the shift stays open, the device is not
//! closed and selling goes on. One test per binary (the testing backend is set up once).
#![allow(clippy::unwrap_used)]

mod common;

use common::{demo, enter_pin, exists, sleep, tap, value, wait_for};
use rsu_app::kiosk::{self, MainWindow};
use slint::ComponentHandle;
use std::time::Duration;

#[test]
fn a_wrong_pin_does_not_close_the_device() {
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
    let db = demo.db.clone();
    slint::spawn_local(async move {
        let w = weak.upgrade().unwrap();
        let mut store = rsu_store::Store::open_existing(&db).unwrap();

        wait_for("the login screen", || exists(&w, "PIN digit 1")).await;
        enter_pin(&w, "PIN", rsu_store::DEMO_SELLER_PIN);
        wait_for("the sell screen", || exists(&w, "Package 5 tickets")).await;
        tap(&w, "Go to shift");
        wait_for("the shift screen", || {
            exists(&w, "Close this device for the event")
        })
        .await;

        // Cancelling asks nothing of the store.
        tap(&w, "Close this device for the event");
        tap(&w, "Supervisor PIN cancel");
        assert!(!exists(&w, "Supervisor PIN digit 1"));

        tap(&w, "Close this device for the event");
        enter_pin(&w, "Supervisor PIN", "4321");
        wait_for("the wrong-PIN message", || {
            value(&w, "Shift message").starts_with("Wrong PIN")
        })
        .await;
        tap(&w, "Close this device for the event");
        enter_pin(&w, "Supervisor PIN", rsu_store::DEMO_SELLER_PIN);
        wait_for("the refusal of a seller's PIN", || {
            value(&w, "Shift message").contains("supervisor PIN")
        })
        .await;

        // Nothing changed: the shift is open, the device is not closed, selling goes on.
        assert!(!exists(&w, "Device closed"));
        assert!(exists(&w, "Close shift"), "the shift is still open");
        assert!(exists(&w, "Close this device for the event"));
        assert!(store.closed_events().unwrap().is_empty());
        assert_eq!(store.status().unwrap().numbers_left, 200);
        tap(&w, "Go to sell");
        wait_for("the sell screen", || exists(&w, "Package 1 ticket")).await;
        tap(&w, "Package 1 ticket");
        tap(&w, "Confirm sale");
        wait_for("the printed receipt", || {
            value(&w, "Receipt state").starts_with("Printed")
        })
        .await;
        assert_eq!(store.status().unwrap().sales, 1);

        sleep(Duration::from_millis(10)).await;
        slint::quit_event_loop().unwrap();
    })
    .unwrap();
    slint::run_event_loop().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}
