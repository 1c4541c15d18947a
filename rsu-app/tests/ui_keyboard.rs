//! The on-screen keyboard on Slint's testing backend: tapping a text field opens it, its keys
//! (found by their accessible labels) type into the focused field, and Done hides it again.
//! One test per binary: the testing backend's event loop can be set up once per process.
#![allow(clippy::unwrap_used)]

mod common;

use common::{demo, sleep, tap, wait_for};
use i_slint_backend_testing::ElementHandle;
use rsu_app::kiosk::ui::SellAdapter;
use rsu_app::kiosk::{self, MainWindow};
use slint::platform::PointerEventButton;
use slint::ComponentHandle;
use std::time::Duration;

fn find(window: &MainWindow, label: &str) -> ElementHandle {
    ElementHandle::find_by_accessible_label(window, label)
        .next()
        .unwrap_or_else(|| panic!("no element labelled {label:?}"))
}

fn taps(window: &MainWindow, keys: &[&str]) {
    for k in keys {
        tap(window, &format!("Key {k}"));
    }
}

fn exists(window: &MainWindow, label: &str) -> bool {
    ElementHandle::find_by_accessible_label(window, label)
        .next()
        .is_some()
}

fn keyboard_open(window: &MainWindow) -> bool {
    exists(window, "On-screen keyboard")
}

#[test]
fn tapping_a_field_opens_the_keyboard_and_its_keys_type_into_that_field() {
    i_slint_backend_testing::init_integration_test_with_system_time();
    let demo = demo();
    let window = MainWindow::new().unwrap();
    window
        .window()
        .set_size(slint::LogicalSize::new(1280., 800.));
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

        wait_for("the login screen", || exists(&w, "PIN digit 1")).await;
        for d in rsu_store::DEMO_SELLER_PIN.chars() {
            tap(&w, &format!("PIN digit {d}"));
        }
        tap(&w, "PIN OK");
        wait_for("the sell screen", || exists(&w, "Package 5 tickets")).await;
        tap(&w, "Package 5 tickets");
        wait_for("the confirmation", || exists(&w, "Customer name")).await;
        assert!(!keyboard_open(&w), "no field has the focus yet");
        assert!(exists(&w, "Go to sell"));

        // Tap the name field: the keyboard replaces the navigation bar.
        find(&w, "Customer name")
            .single_click(PointerEventButton::Left)
            .await;
        wait_for("the keyboard", || keyboard_open(&w)).await;
        assert!(
            !exists(&w, "Go to sell"),
            "the keyboard takes the nav bar's place"
        );

        // Shift is one-shot; backspace deletes the typo ("Lex" → "Le" → "Lee").
        taps(&w, &["shift", "J", "o", "space", "shift", "L", "e", "x"]);
        assert!(exists(&w, "Key a"), "shift is off again after one letter");
        taps(&w, &["backspace", "e"]);
        assert_eq!(w.global::<SellAdapter>().get_customer_name(), "Jo Lee");

        // Another field: the keyboard stays open and types there.
        find(&w, "Customer email")
            .single_click(PointerEventButton::Left)
            .await;
        taps(&w, &["j", "o", "at", "x", "period", "o", "r", "g"]);
        let sell = w.global::<SellAdapter>();
        assert_eq!(sell.get_customer_email(), "jo@x.org");
        assert_eq!(sell.get_customer_name(), "Jo Lee");
        assert!(keyboard_open(&w));

        // Card: digits and symbols into the terminal reference.
        tap(&w, "Pay by card");
        wait_for("the card reference field", || exists(&w, "Card reference")).await;
        find(&w, "Card reference")
            .single_click(PointerEventButton::Left)
            .await;
        taps(
            &w,
            &[
                "4",
                "8",
                "2",
                "9",
                "hyphen",
                "0",
                "1",
                "slash",
                "7",
                "colon",
                "underscore",
            ],
        );
        assert_eq!(sell.get_card_reference(), "4829-01/7:_");

        // Done hides the keyboard and brings the navigation back.
        tap(&w, "Keyboard done");
        wait_for("the keyboard to close", || !keyboard_open(&w)).await;
        assert!(exists(&w, "Go to sell"));
        assert!(!exists(&w, "Key a"));

        // What was typed is what is sold.
        tap(&w, "Confirm sale");
        let vn = std::cell::RefCell::new(String::new());
        wait_for("the sale", || {
            *vn.borrow_mut() = sell.get_validation_number().to_string();
            !vn.borrow().is_empty()
        })
        .await;
        let store = rsu_store::Store::open_existing(&db).unwrap();
        let sale = store.find_sale(&vn.borrow()).unwrap();
        let customer = sale.customer.unwrap();
        assert_eq!(customer.name.as_deref(), Some("Jo Lee"));
        assert_eq!(customer.email.as_deref(), Some("jo@x.org"));

        sleep(Duration::from_millis(10)).await;
        slint::quit_event_loop().unwrap();
    })
    .unwrap();
    slint::run_event_loop().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}
