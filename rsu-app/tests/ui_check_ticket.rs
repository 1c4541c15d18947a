//! "Check a ticket" on Slint's testing backend, driven as a ticket holder would: from the PIN pad
//! with nobody logged in, the number typed on the on-screen keyboard or "scanned" (a
//! keyboard-wedge scanner types the text and Enter). Before the results arrive the screen says to
//! sync; once the store holds them: a winner, a non-winner and a malformed number; and from the
//! sell screen, the final jackpot and the winning numbers.
//! One test per binary: the testing backend's event loop can be set up once per process.
#![allow(clippy::unwrap_used)]

mod common;

use common::{demo, enter_pin, exists, sleep, tap, value, wait_for};
use i_slint_backend_testing::ElementHandle;
use rsu_app::kiosk::ui::{AppAdapter, CheckTicketAdapter, Screen, SellAdapter};
use rsu_app::kiosk::{self, MainWindow};
use rsu_core::config::Winner;
use slint::platform::PointerEventButton;
use slint::ComponentHandle;
use std::time::Duration;

fn find(window: &MainWindow, label: &str) -> ElementHandle {
    ElementHandle::find_by_accessible_label(window, label)
        .next()
        .unwrap_or_else(|| panic!("no element labelled {label:?}"))
}

/// Types `text` into the focused field as a keyboard-wedge scanner does, then Enter.
fn scan(window: &MainWindow, text: &str) {
    for c in text.chars() {
        window
            .window()
            .dispatch_event(slint::platform::WindowEvent::KeyPressed { text: c.into() });
        window
            .window()
            .dispatch_event(slint::platform::WindowEvent::KeyReleased { text: c.into() });
    }
    let enter: slint::SharedString = slint::platform::Key::Return.into();
    window
        .window()
        .dispatch_event(slint::platform::WindowEvent::KeyPressed {
            text: enter.clone(),
        });
    window
        .window()
        .dispatch_event(slint::platform::WindowEvent::KeyReleased { text: enter });
}

async fn verdict(w: &MainWindow, what: &str, starts: &str) -> String {
    wait_for(what, || value(w, "Ticket check result").starts_with(starts)).await;
    value(w, "Ticket check result")
}

#[test]
fn a_ticket_holder_checks_tickets_from_the_pin_pad_offline() {
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
        let app = w.global::<AppAdapter>();
        let check = w.global::<CheckTicketAdapter>();

        // A sale to check later.
        wait_for("the login screen", || exists(&w, "PIN digit 1")).await;
        enter_pin(&w, "PIN", rsu_store::DEMO_SELLER_PIN);
        wait_for("the sell screen", || exists(&w, "Package 5 tickets")).await;
        tap(&w, "Package 5 tickets");
        wait_for("the confirmation", || exists(&w, "Confirm sale")).await;
        tap(&w, "Confirm sale");
        let sell = w.global::<SellAdapter>();
        wait_for("the receipt", || {
            exists(&w, "Next sale") && !sell.get_validation_number().is_empty()
        })
        .await;
        let vn = sell.get_validation_number().to_string();
        tap(&w, "Lock screen");
        wait_for("the lock", || app.get_screen() == Screen::Login).await;

        // From the PIN pad, nobody logged in: no navigation bar to the selling screens.
        tap(&w, "Check a ticket");
        wait_for("the check screen", || {
            exists(&w, "Validation number to check")
        })
        .await;
        assert!(!exists(&w, "Go to sell"), "no navigation without a login");

        // No results on the device yet.
        find(&w, "Validation number to check")
            .single_click(PointerEventButton::Left)
            .await;
        scan(&w, &vn);
        let v = verdict(&w, "the no-results answer", "Results not yet received").await;
        assert_eq!(v, "Results not yet received \u{2014} sync the device");

        // rsu-syncd applies the configuration that carries the draw: this sale's first number
        // won the 50/50. The kiosk reads it from the store, no network involved.
        let mut store = rsu_store::Store::open_existing(&db).unwrap();
        let sale = store.find_sale(&vn).unwrap();
        let first = sale.draw_numbers[0].0 as u32;
        let version = store.status().unwrap().config_version + 1;
        let cfg = rsu_store::demo_drawn_config(
            store.now().unwrap(),
            version,
            4_000,
            vec![Winner {
                position: 1,
                winner_index: 1,
                prize_name: "50/50 Winner".into(),
                prize_value: 2_000,
                draw_number: first,
                validation_number: vn.clone(),
                redrawn: false,
            }],
        )
        .unwrap();
        assert!(store.apply_config(&cfg).unwrap());

        // Winner: typed on the on-screen keyboard, in lower case.
        check.set_input("".into());
        find(&w, "Validation number to check")
            .single_click(PointerEventButton::Left)
            .await;
        wait_for("the keyboard", || exists(&w, "On-screen keyboard")).await;
        for c in vn.to_lowercase().chars() {
            let key = match c {
                '-' => "hyphen".to_string(),
                c => c.to_string(),
            };
            tap(&w, &format!("Key {key}"));
        }
        assert_eq!(check.get_input().to_string(), vn.to_lowercase());
        tap(&w, "Keyboard done");
        tap(&w, "Check ticket");
        let v = verdict(&w, "the winner", "Winner").await;
        assert_eq!(v, "Winner: 50/50 Winner $20.00");
        let detail = value(&w, "Ticket check detail");
        assert!(
            detail.starts_with(&format!("Draw number {first} · {vn}")),
            "{detail}"
        );
        assert!(value(&w, "Final jackpot").contains("$20.00"));

        // Not a winner: scanned.
        check.set_input("".into());
        find(&w, "Validation number to check")
            .single_click(PointerEventButton::Left)
            .await;
        scan(&w, "RSU001-2026-999999-ZZZZ");
        let v = verdict(&w, "the non-winner", "Not a").await;
        assert_eq!(v, "Not a winning ticket");

        // Malformed.
        check.set_input("".into());
        scan(&w, "12345");
        let v = verdict(&w, "the malformed answer", "Not a validation").await;
        assert_eq!(v, "Not a validation number");
        assert!(value(&w, "Ticket check detail").contains("\"12345\""));

        // Back to the PIN pad; after a login the sell screen shows the final jackpot and the
        // winning numbers, and opens the check screen too.
        tap(&w, "Keyboard done");
        tap(&w, "Back from ticket check");
        wait_for("the PIN pad", || app.get_screen() == Screen::Login).await;
        enter_pin(&w, "PIN", rsu_store::DEMO_SELLER_PIN);
        wait_for("the results on the sell screen", || {
            value(&w, "Winning number").starts_with(&first.to_string())
        })
        .await;
        assert!(value(&w, "Final jackpot").contains("$20.00"));
        wait_for("the final jackpot in the status bar", || {
            value(&w, "Jackpot").starts_with("Final jackpot $20.00")
        })
        .await;
        tap(&w, "Check a ticket");
        wait_for("the check screen", || {
            exists(&w, "Validation number to check")
        })
        .await;
        assert!(exists(&w, "Go to sell"), "logged in: the navigation stays");

        sleep(Duration::from_millis(10)).await;
        slint::quit_event_loop().unwrap();
    })
    .unwrap();
    slint::run_event_loop().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}
