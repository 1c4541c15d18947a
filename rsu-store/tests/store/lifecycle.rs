//! The device store through a device's life (issue 15): ranges pulled with the server's next
//! number and state, configuration items it cannot apply skipped instead of refusing everything,
//! sale seqs of earlier databases never reissued, operators deactivated on the server logged
//! out, and clock corrections that never reopen a closed sales window. Real SQLite files.

use chrono::{Duration, Utc};
use rsu_core::config::{AllocationConfig, DeviceConfig};
use rsu_store::testkit::{self, Demo};
use rsu_store::{
    demo_config, SaleRequest, Store, DEMO_SELLER_PIN as SELLER, MAX_CLOCK_STEP_BACK_MS,
};
use uuid::Uuid;

struct Device {
    _dir: tempfile::TempDir,
    store: Store,
    config: DeviceConfig,
}

/// The demo device on the real clock (no fixed time: clock offsets matter here).
fn device() -> Device {
    let d = Demo::on_real_clock();
    Device {
        _dir: d.dir,
        store: d.store,
        config: d.config,
    }
}

fn cash(d: &Device, tickets: u32) -> SaleRequest {
    testkit::cash(
        d.config.events[0]
            .packages
            .iter()
            .find(|p| p.ticket_count == tickets)
            .unwrap()
            .id,
    )
}

fn sell(d: &mut Device, tickets: u32) -> Result<rsu_store::Sale, rsu_store::StoreError> {
    let s = d.store.sell(&cash(d, tickets))?;
    d.store.mark_printed(s.id)
}

/// Applies the demo configuration again as a newer version after `edit`.
fn reconfigure(d: &mut Device, edit: impl FnOnce(&mut DeviceConfig)) {
    d.config.version += 1;
    edit(&mut d.config);
    assert!(d.store.apply_config(&d.config).unwrap());
}

fn critical_count(store: &Store, event_type: &str) -> i64 {
    store
        .connection()
        .query_row(
            "SELECT count(*) FROM journal WHERE kind = 'critical_event' AND body_json LIKE ?1",
            [format!("%\"eventType\":\"{event_type}\"%")],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn a_new_range_starts_at_the_servers_next_number_and_a_withheld_range_is_not_sold() {
    // A fresh database (a replacement device): the server says 1001–1015 were sold by an
    // earlier database and 1101–1200 is withheld.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("rsu.sqlite3")).unwrap();
    let (identity, mut config) = demo_config(Utc::now()).unwrap();
    config.allocations[0].next_number = Some(1016);
    config.allocations[1].state = "withheld".into();
    config.allocations[1].next_number = Some(1101);
    store.set_identity(&identity).unwrap();
    store.apply_config(&config).unwrap();
    store.login(SELLER, None).unwrap();
    let mut d = Device {
        _dir: dir,
        store,
        config,
    };
    let s = sell(&mut d, 5).unwrap();
    assert_eq!(s.draw_numbers.first().map(|n| n.0), Some(1016));
    // 1021–1100 left (80): a 25-ticket sale fits three times, then the withheld range is not
    // touched.
    for _ in 0..3 {
        sell(&mut d, 25).unwrap();
    }
    let left: i64 = d.store.allocations().unwrap().iter().map(|a| a.left).sum();
    assert_eq!(left, 5);
    let e = sell(&mut d, 25).unwrap_err();
    assert_eq!(e.code(), "allocation_exhausted", "{e}");
    assert!(d
        .store
        .allocations()
        .unwrap()
        .iter()
        .any(|a| a.state == "withheld"));
    // The administrator releases it: the next pull makes it sellable from the server's next.
    reconfigure(&mut d, |c| c.allocations[1].state = "active".into());
    let s = sell(&mut d, 25).unwrap();
    assert_eq!(s.draw_numbers.first().map(|n| n.0), Some(1096));
    assert_eq!(s.draw_numbers.last().map(|n| n.0), Some(1120));
}

#[test]
fn the_devices_own_position_wins_when_it_is_ahead_of_the_server() {
    let mut d = device();
    d.store.login(SELLER, None).unwrap();
    sell(&mut d, 5).unwrap(); // 1001–1005, not synced: the server still says 1001
    reconfigure(&mut d, |c| c.allocations[0].next_number = Some(1001));
    let s = sell(&mut d, 1).unwrap();
    assert_eq!(s.draw_numbers[0].0, 1006);
    // …and the server's wins when it is ahead (sold by an earlier epoch of this RSU).
    reconfigure(&mut d, |c| c.allocations[0].next_number = Some(1050));
    let s = sell(&mut d, 1).unwrap();
    assert_eq!(s.draw_numbers[0].0, 1050);
}

#[test]
fn a_range_of_an_unknown_event_or_an_overlapping_range_is_skipped_and_the_rest_applies() {
    // Issue 15, defect 3: one such item used to refuse the whole configuration.
    let mut d = device();
    d.store.login(SELLER, None).unwrap();
    let event = d.config.events[0].id;
    reconfigure(&mut d, |c| {
        c.allocations.push(AllocationConfig {
            id: Uuid::now_v7(),
            event_id: Uuid::now_v7(),
            start_number: 5001,
            end_number: 5100,
            state: "active".into(),
            next_number: Some(5001),
        });
        c.allocations.push(AllocationConfig {
            id: Uuid::now_v7(),
            event_id: event,
            start_number: 1050,
            end_number: 1300,
            state: "active".into(),
            next_number: None,
        });
        c.allocations.push(AllocationConfig {
            id: Uuid::now_v7(),
            event_id: event,
            start_number: 1201,
            end_number: 1250,
            state: "active".into(),
            next_number: None,
        });
        c.events[0].packages[0].price.minor = 700;
    });
    assert_eq!(critical_count(&d.store, "CONFIG_ITEM_SKIPPED"), 2);
    let ranges: Vec<(i64, i64)> = d
        .store
        .allocations()
        .unwrap()
        .iter()
        .map(|a| (a.start_number, a.end_number))
        .collect();
    assert_eq!(ranges, vec![(1001, 1100), (1101, 1200), (1201, 1250)]);
    let s = sell(&mut d, 1).unwrap();
    assert_eq!(
        s.total.minor, 700,
        "the rest of the configuration was applied"
    );
}

#[test]
fn sale_seqs_the_server_has_seen_are_never_reissued() {
    let mut d = device();
    d.store.login(SELLER, None).unwrap();
    reconfigure(&mut d, |c| c.rsu.last_sale_seq = 40);
    let s = sell(&mut d, 1).unwrap();
    assert!(
        s.validation_number.contains("-000041-"),
        "{}",
        s.validation_number
    );
    // A lower figure later never moves it back.
    reconfigure(&mut d, |c| c.rsu.last_sale_seq = 3);
    let s = sell(&mut d, 1).unwrap();
    assert!(
        s.validation_number.contains("-000042-"),
        "{}",
        s.validation_number
    );
}

#[test]
fn an_operator_deactivated_on_the_server_is_logged_out_at_the_next_config_apply() {
    let mut d = device();
    d.store.login(SELLER, None).unwrap();
    sell(&mut d, 1).unwrap();
    reconfigure(&mut d, |c| {
        for o in &mut c.operators {
            if o.role == rsu_core::config::Role::Seller {
                o.is_active = false;
            }
        }
    });
    assert!(d.store.current_operator().unwrap().is_none());
    assert_eq!(critical_count(&d.store, "OPERATOR_DEACTIVATED_LOGOUT"), 1);
    let e = sell(&mut d, 1).unwrap_err();
    assert_eq!(e.code(), "not_logged_in");
    assert!(d.store.login(SELLER, None).is_err());
}

#[test]
fn a_clock_correction_back_is_capped_logged_and_never_reopens_a_closed_sales_window() {
    let mut d = device();
    d.store.login(SELLER, None).unwrap();
    // Sales end in an hour by the real clock.
    reconfigure(&mut d, |c| {
        c.events[0].sales_end_time = Utc::now() + Duration::hours(1);
    });
    sell(&mut d, 1).unwrap();
    // The server says the device is two hours behind: forward corrections apply whole, and
    // sales are closed by the corrected clock.
    d.store
        .record_server_contact(Some(2 * 3600 * 1000))
        .unwrap();
    assert_eq!(critical_count(&d.store, "CLOCK_CORRECTION_LARGE"), 1);
    assert_eq!(sell(&mut d, 1).unwrap_err().code(), "sales_closed");
    // Then a server (wrong, or malicious) says it is two hours earlier: one contact moves the
    // clock back by at most the cap…
    d.store.record_server_contact(Some(0)).unwrap();
    let offset: i64 = d
        .store
        .connection()
        .query_row("SELECT clock_offset_ms FROM device", [], |r| r.get(0))
        .unwrap();
    assert_eq!(offset, 2 * 3600 * 1000 - MAX_CLOCK_STEP_BACK_MS);
    assert_eq!(critical_count(&d.store, "CLOCK_CORRECTION_LARGE"), 2);
    // …and however many contacts it takes, the window that closed stays closed.
    for _ in 0..20 {
        d.store.record_server_contact(Some(0)).unwrap();
    }
    let offset: i64 = d
        .store
        .connection()
        .query_row("SELECT clock_offset_ms FROM device", [], |r| r.get(0))
        .unwrap();
    assert_eq!(offset, 0);
    assert_eq!(sell(&mut d, 1).unwrap_err().code(), "sales_closed");
}

fn journal_kinds(store: &Store, kind: &str) -> Vec<String> {
    let mut stmt = store
        .connection()
        .prepare("SELECT body_json FROM journal WHERE kind = ?1 ORDER BY epoch, seq")
        .unwrap();
    let rows = stmt.query_map([kind], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn closing_the_device_releases_exactly_the_unused_numbers_closes_the_shift_and_stops_sales() {
    // Issue 11, item 1.
    let mut d = device();
    d.store.login(SELLER, None).unwrap();
    sell(&mut d, 5).unwrap(); // 1001–1005
    let spoiled = d.store.sell(&cash(&d, 1)).unwrap(); // 1006, never printed
    d.store
        .spoil(&spoiled.validation_number, rsu_store::DEMO_SUPERVISOR_PIN)
        .unwrap();
    let report = d
        .store
        .close_device(rsu_store::DEMO_SUPERVISOR_PIN)
        .unwrap();
    assert_eq!(report.released, vec![(1007, 1100), (1101, 1200)]);
    assert_eq!(report.numbers_released, 194);
    assert_eq!(report.shifts_closed.len(), 1);
    assert!(report.entries_to_sync > 0);
    assert!(report
        .to_string()
        .starts_with("closed: 194 numbers released; "));
    // The journal says the same, as entries the daemon pushes.
    let releases = journal_kinds(&d.store, "allocation_release");
    assert_eq!(releases.len(), 2);
    assert!(
        releases[0].contains("\"startNumber\":1007"),
        "{}",
        releases[0]
    );
    assert_eq!(journal_kinds(&d.store, "shift_close").len(), 1);
    // No sale after it, with a sentence that says why.
    d.store.login(SELLER, None).unwrap();
    let e = sell(&mut d, 1).unwrap_err();
    assert_eq!(e.code(), "device_closed", "{e}");
    assert!(e.to_string().contains("closed"), "{e}");
    // Closing twice: nothing left to close.
    let e = d
        .store
        .close_device(rsu_store::DEMO_SUPERVISOR_PIN)
        .unwrap_err();
    assert!(e.to_string().contains("nothing to close"), "{e}");
}

#[test]
fn closing_is_refused_with_an_unconfirmed_receipt_or_a_sellers_pin_and_changes_nothing() {
    let mut d = device();
    d.store.login(SELLER, None).unwrap();
    let s = d.store.sell(&cash(&d, 1)).unwrap();
    let before = journal_kinds(&d.store, "allocation_release").len();
    assert!(
        d.store.close_device(SELLER).is_err(),
        "a seller cannot close"
    );
    let e = d
        .store
        .close_device(rsu_store::DEMO_SUPERVISOR_PIN)
        .unwrap_err();
    assert!(e.to_string().contains(&s.validation_number), "{e}");
    assert!(e.to_string().contains("reprint"), "{e}");
    assert_eq!(journal_kinds(&d.store, "allocation_release").len(), before);
    assert!(d.store.closed_events().unwrap().is_empty());
}

#[test]
fn the_servers_close_command_waits_for_the_last_receipt_then_closes() {
    let mut d = device();
    d.store.login(SELLER, None).unwrap();
    let s = d.store.sell(&cash(&d, 1)).unwrap(); // 1001, printing
    let event = d.config.events[0].id;
    reconfigure(&mut d, |c| {
        c.commands = vec![rsu_core::config::Command {
            id: Uuid::now_v7(),
            kind: rsu_core::config::CommandKind::Close,
            event_id: Some(event),
            issued_at: Utc::now(),
        }]
    });
    assert!(
        d.store.closed_events().unwrap().is_empty(),
        "waits for the receipt"
    );
    assert!(d.store.complete_requested_closes().unwrap().is_none());
    d.store.mark_printed(s.id).unwrap();
    let report = d
        .store
        .complete_requested_closes()
        .unwrap()
        .expect("closed");
    assert_eq!(report.released, vec![(1002, 1100), (1101, 1200)]);
    assert_eq!(d.store.closed_events().unwrap().len(), 1);
    assert!(d.store.complete_requested_closes().unwrap().is_none());
}
