//! The kiosk locks itself when nobody touches it (here after 1 s instead of 5 minutes).
#![allow(clippy::unwrap_used)]

mod common;

use common::{demo, wait_for};
use i_slint_backend_testing::ElementHandle;
use rsu_app::kiosk::{self, MainWindow};
use slint::ComponentHandle;
use std::time::{Duration, Instant};

fn exists(window: &MainWindow, label: &str) -> bool {
    ElementHandle::find_by_accessible_label(window, label)
        .next()
        .is_some()
}

fn tap(window: &MainWindow, label: &str) {
    ElementHandle::find_by_accessible_label(window, label)
        .next()
        .unwrap_or_else(|| panic!("no element labelled {label:?}"))
        .invoke_accessible_default_action();
}

#[test]
fn the_kiosk_locks_itself_after_the_inactivity_timeout() {
    i_slint_backend_testing::init_integration_test_with_system_time();
    let demo = demo();
    let window = MainWindow::new().unwrap();
    let (_handle, stop, _idle) = kiosk::wire(
        &window,
        demo.service(),
        demo.db.clone(),
        Duration::from_secs(1),
    )
    .unwrap();
    window.show().unwrap();
    let weak = window.as_weak();
    slint::spawn_local(async move {
        let w = weak.upgrade().unwrap();
        wait_for("the login screen", || exists(&w, "PIN digit 1")).await;
        for d in rsu_store::DEMO_SELLER_PIN.chars() {
            tap(&w, &format!("PIN digit {d}"));
        }
        tap(&w, "PIN OK");
        wait_for("the sell screen", || exists(&w, "Package 1 ticket")).await;
        let idle_from = Instant::now();
        wait_for("the inactivity lock", || exists(&w, "PIN digit 1")).await;
        assert!(idle_from.elapsed() >= Duration::from_millis(900));
        assert!(rsu_store::Store::open_existing(&demo.db)
            .unwrap()
            .current_operator()
            .unwrap()
            .is_none());
        slint::quit_event_loop().unwrap();
    })
    .unwrap();
    slint::run_event_loop().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}
