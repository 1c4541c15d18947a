//! Perks on Slint's testing backend (issue 14): the package button names its perk, and when this
//! device has no unit of it left the sale is refused with the store's sentence on the sell
//! screen, and nothing is sold. One test per binary (the testing backend is set up once).
#![allow(clippy::unwrap_used)]

mod common;

use common::{demo, enter_pin, exists, sleep, tap, value, wait_for};
use rsu_app::kiosk::{self, MainWindow};
use rsu_core::config::{DeviceConfig, PerkAllocationConfig, PerkConfig};
use slint::ComponentHandle;
use std::time::Duration;
use uuid::Uuid;

/// The demo's 5-ticket package includes VIP Parking, of which this device holds no unit.
fn with_vip_parking_and_no_unit(store: &mut rsu_store::Store) {
    let json: String = store
        .connection()
        .query_row("SELECT config_json FROM settings", [], |r| r.get(0))
        .unwrap();
    let mut c: DeviceConfig = serde_json::from_str(&json).unwrap();
    c.version += 1;
    let vip = Uuid::from_u128(0x9001);
    c.events[0].perks = vec![PerkConfig {
        id: vip,
        name: "VIP Parking".into(),
        description: String::new(),
        kind: "benefit".into(),
        category: "parking".into(),
        requires_inventory: true,
    }];
    for p in &mut c.events[0].packages {
        if p.ticket_count == 5 {
            p.perk_ids = vec![vip];
        }
    }
    c.perk_allocations = vec![PerkAllocationConfig {
        id: Uuid::from_u128(0x9101),
        perk_id: vip,
        event_id: c.events[0].id,
        quantity: 0,
        state: "active".into(),
    }];
    assert!(store.apply_config(&c).unwrap());
}

#[test]
fn a_package_without_a_perk_unit_left_is_refused_with_the_sentence_on_screen() {
    i_slint_backend_testing::init_integration_test_with_system_time();
    let demo = demo();
    with_vip_parking_and_no_unit(&mut demo.store());
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
        wait_for("the package with its perk", || {
            exists(&w, "Package 5 tickets with VIP Parking")
        })
        .await;
        assert!(exists(&w, "Package 1 ticket"), "a package without perks");
        tap(&w, "Package 5 tickets with VIP Parking");
        tap(&w, "Confirm sale");
        wait_for("the refusal", || {
            value(&w, "Sale message").contains("none left")
        })
        .await;
        let m = value(&w, "Sale message");
        assert!(
            m.contains("VIP Parking") && m.contains("Sync the device"),
            "{m}"
        );
        assert_eq!(store.status().unwrap().sales, 0, "nothing was sold");

        sleep(Duration::from_millis(10)).await;
        slint::quit_event_loop().unwrap();
    })
    .unwrap();
    slint::run_event_loop().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}
