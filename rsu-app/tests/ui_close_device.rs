//! Closing the device for the event from the kiosk's Shift screen, on Slint's testing backend:
//! a wrong PIN changes nothing; the supervisor's PIN closes it, the closed message counts the
//! entries still to sync down to 0 as they reach the server, and the sell screen refuses sales
//! with the store's sentence. One test per binary (the testing backend is set up once).
#![allow(clippy::unwrap_used)]

mod common;

use common::{demo, enter_pin, exists, sleep, tap, value, wait_for};
use rsu_app::kiosk::{self, MainWindow};
use slint::ComponentHandle;
use std::time::Duration;

#[test]
fn a_supervisor_closes_the_device_from_the_shift_screen_and_sales_stop() {
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
        tap(&w, "Package 5 tickets");
        tap(&w, "Confirm sale");
        wait_for("the printed receipt", || {
            value(&w, "Receipt state").starts_with("Printed")
        })
        .await;

        // A wrong PIN: a sentence on the Shift screen, and nothing changes.
        tap(&w, "Go to shift");
        wait_for("the shift screen", || {
            exists(&w, "Close this device for the event")
        })
        .await;
        tap(&w, "Close this device for the event");
        enter_pin(&w, "Supervisor PIN", "4321");
        wait_for("the wrong-PIN message", || {
            value(&w, "Shift message").starts_with("Wrong PIN")
        })
        .await;
        assert!(!exists(&w, "Device closed"));
        assert!(exists(&w, "Close shift"), "the shift is still open");
        assert!(store.closed_events().unwrap().is_empty());
        assert_eq!(store.status().unwrap().numbers_left, 195);

        // The supervisor's PIN closes it: the Z report prints, the unused numbers go back, and
        // the kiosk returns to the PIN pad (the store ended the session) showing what is left.
        tap(&w, "Close this device for the event");
        enter_pin(&w, "Supervisor PIN", rsu_store::DEMO_SUPERVISOR_PIN);
        wait_for("the closed message", || {
            value(&w, "Device closed").contains("closed: 195 numbers released; ")
        })
        .await;
        assert!(exists(&w, "PIN digit 1"), "back at the PIN pad");
        assert!(
            value(&w, "Device closed").starts_with("This device is closed for the event"),
            "{}",
            value(&w, "Device closed")
        );
        assert_eq!(store.closed_events().unwrap().len(), 1);
        let pending = store.status().unwrap().sync.pending_entries;
        assert!(pending > 0);
        assert!(
            value(&w, "Device closed").contains(&format!("; {pending} entries still to sync")),
            "{}",
            value(&w, "Device closed")
        );

        // The entries reach the server (as rsu-syncd would record them): the status poller
        // brings the figure down to 0.
        store
            .connection()
            .execute(
                "UPDATE journal SET sync_status = 'applied' WHERE sync_status = 'pending'",
                [],
            )
            .unwrap();
        wait_for("0 entries still to sync", || {
            value(&w, "Device closed").contains("; 0 entries still to sync")
        })
        .await;

        // Logged in again, the sell screen refuses with the store's sentence.
        enter_pin(&w, "PIN", rsu_store::DEMO_SELLER_PIN);
        wait_for("the sell screen", || exists(&w, "Package 1 ticket")).await;
        tap(&w, "Package 1 ticket");
        tap(&w, "Confirm sale");
        wait_for("the refusal", || {
            value(&w, "Sale message").contains("closed for the event")
        })
        .await;
        assert_eq!(store.status().unwrap().sales, 1);
        // The Shift screen keeps the closed message and no longer offers to close.
        tap(&w, "Go to shift");
        wait_for("the shift screen", || exists(&w, "Device closed")).await;
        assert!(!exists(&w, "Close this device for the event"));

        sleep(Duration::from_millis(10)).await;
        slint::quit_event_loop().unwrap();
    })
    .unwrap();
    slint::run_event_loop().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}
