#![allow(clippy::unwrap_used)]
//! The device store against real SQLite files: invariants of DESIGN §3 and every sale refusal.

use chrono::{DateTime, Duration, Utc};
use rsu_core::config::{CommandKind, DeviceConfig};
use rsu_core::payload::{Payment, PaymentMethod};
use rsu_store::{
    demo_config, EntryOutcome, PrintState, SaleRequest, Store, StoreError, SyncResult,
    DEMO_SELLER_PIN as SELLER, DEMO_SUPERVISOR_PIN as SUPER,
};
use std::collections::HashSet;
use tempfile::TempDir;
use uuid::Uuid;

struct Demo {
    _dir: TempDir,
    path: std::path::PathBuf,
    store: Store,
    config: DeviceConfig,
    t0: DateTime<Utc>,
}

fn demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rsu.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let t0 = Utc::now();
    store.set_fixed_now(Some(t0));
    let (identity, config) = demo_config(t0).unwrap();
    store.set_identity(&identity).unwrap();
    store.apply_config(&config).unwrap();
    Demo {
        _dir: dir,
        path,
        store,
        config,
        t0,
    }
}

fn package(d: &Demo, tickets: u32) -> Uuid {
    d.config.events[0]
        .packages
        .iter()
        .find(|p| p.ticket_count == tickets)
        .unwrap()
        .id
}

fn cash(package_id: Uuid) -> SaleRequest {
    SaleRequest {
        package_id,
        payment: Payment {
            method: PaymentMethod::Cash,
            reference: None,
        },
        customer: None,
    }
}

/// Sells and confirms the print, as the kiosk does.
fn sell_ok(d: &mut Demo, tickets: u32) -> rsu_store::Sale {
    let req = cash(package(d, tickets));
    let sale = d.store.sell(&req).unwrap();
    d.store.mark_printed(sale.id).unwrap()
}

fn refusal(r: Result<rsu_store::Sale, StoreError>) -> String {
    r.unwrap_err().code().to_string()
}

fn ack_all(store: &mut Store) {
    let pending = store.pending_entries(10_000).unwrap();
    let results: Vec<SyncResult> = pending
        .iter()
        .map(|e| SyncResult {
            epoch: e.body.epoch,
            seq: e.body.seq,
            outcome: EntryOutcome::Applied,
        })
        .collect();
    store.record_results(&results).unwrap();
}

#[test]
fn the_store_uses_wal_full_sync_foreign_keys_and_a_versioned_schema() {
    let d = demo();
    let c = d.store.connection();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    let fk: i64 = c
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous must be FULL (2)");
    assert_eq!(fk, 1);
    assert_eq!(d.store.schema_version().unwrap(), 3);
    // Reopening applies nothing twice and keeps the data.
    drop(d.store);
    let s = Store::open(&d.path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 3);
    assert!(s.is_enrolled().unwrap());
}

#[test]
fn a_database_from_a_newer_program_is_refused_not_downgraded() {
    let d = demo();
    d.store
        .connection()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    drop(d.store);
    let err = Store::open(&d.path).unwrap_err();
    assert_eq!(err.code(), "schema_too_new", "{err}");
}

#[test]
fn a_committed_sale_is_in_the_file_when_sell_returns() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let sale = d.store.sell(&cash(package(&d, 5))).unwrap();
    // A second connection (another process would see the same) finds it at once.
    let other = Store::open(&d.path).unwrap();
    let found = other.find_sale(&sale.validation_number).unwrap();
    assert_eq!(found.draw_numbers, sale.draw_numbers);
    assert_eq!(
        found.print_state,
        PrintState::Pending,
        "committed before any print"
    );
}

#[test]
fn no_draw_number_is_sold_twice_across_allocations_until_exhaustion() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let mut seen = HashSet::new();
    let mut spanned = false;
    // 25 + 25 + 25 + 5 + 5 + 1 … mixes sizes so a sale spans the 1100/1101 boundary.
    let plan = [25, 25, 25, 5, 5, 5, 5, 25, 25, 25, 25, 5, 1, 1, 1, 1, 1];
    for k in plan {
        let sale = match d.store.sell(&cash(package(&d, k))) {
            Ok(s) => s,
            Err(e) => {
                assert_eq!(e.code(), "allocation_exhausted", "{e}");
                continue;
            }
        };
        d.store.mark_printed(sale.id).unwrap();
        assert_eq!(sale.draw_numbers.len(), k as usize);
        let first = sale.draw_numbers[0].0;
        let last = sale.draw_numbers[k as usize - 1].0;
        if first <= 1100 && last >= 1101 {
            spanned = true;
        }
        for n in &sale.draw_numbers {
            assert!(
                (1001..=1200).contains(&n.0),
                "number {n} outside the allocations"
            );
            assert!(seen.insert(n.0), "number {n} sold twice");
        }
        ack_all(&mut d.store);
    }
    assert!(spanned, "one sale must span two allocations");
    assert_eq!(seen.len(), 200, "every allocated number sold exactly once");
    let err = d.store.sell(&cash(package(&d, 1))).unwrap_err();
    match err {
        StoreError::Refused(rsu_core::SaleRefusal::AllocationExhausted { left: 0, needed: 1 }) => {}
        other => panic!("expected exhaustion, got {other}"),
    }
}

#[test]
fn exhaustion_says_how_many_numbers_are_left() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    for _ in 0..7 {
        sell_ok(&mut d, 25);
        ack_all(&mut d.store);
    }
    sell_ok(&mut d, 5);
    sell_ok(&mut d, 5);
    sell_ok(&mut d, 5);
    // 175 + 15 = 190 sold, 10 left; a 25 needs more.
    let err = d.store.sell(&cash(package(&d, 25))).unwrap_err();
    assert!(err.to_string().contains("10 left, 25 needed"), "{err}");
    assert_eq!(err.code(), "allocation_exhausted");
}

#[test]
fn the_journal_is_gap_free_and_chained_and_tampering_is_detected() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    for _ in 0..5 {
        sell_ok(&mut d, 1);
    }
    let (n, head) = d.store.verify_journal().unwrap();
    assert!(
        n >= 5 + 3,
        "demo-init, login and shift entries plus five sales"
    );
    assert!(head.is_some());
    let seqs: Vec<u64> = d
        .store
        .entries_from(1, 1)
        .unwrap()
        .iter()
        .map(|e| e.body.seq)
        .collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>());

    // Change a sale's amount in place: the hash no longer matches.
    let c = d.store.connection();
    let seq: i64 = c
        .query_row(
            "SELECT seq FROM journal WHERE kind = 'sale' ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "UPDATE journal SET body_json = replace(body_json, '\"totalAmount\":500', '\"totalAmount\":1') WHERE seq = ?1",
        [seq],
    )
    .unwrap();
    let err = d.store.verify_journal().unwrap_err();
    assert_eq!(err.code(), "chain_broken", "{err}");
    assert!(err.to_string().contains(&format!("seq {seq}")), "{err}");
}

#[test]
fn a_missing_journal_entry_is_reported_as_a_gap() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 1);
    sell_ok(&mut d, 1);
    let c = d.store.connection();
    c.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    c.execute("DELETE FROM journal WHERE seq = 2", []).unwrap();
    let err = d.store.verify_journal().unwrap_err();
    assert!(err.to_string().contains("seq 3 follows 1"), "{err}");
    let report = d.store.startup_check();
    assert!(report.is_err());
    let failed: i64 = d
        .store
        .connection()
        .query_row(
            "SELECT count(*) FROM journal WHERE body_json LIKE '%INTEGRITY_FAILED%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        failed, 1,
        "the integrity failure is itself recorded as a critical event"
    );
}

#[test]
fn hashed_columns_never_change_when_sync_results_are_recorded() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 5);
    let before = d.store.entries_from(1, 1).unwrap();
    let pending = d.store.pending_entries(100).unwrap();
    let results: Vec<SyncResult> = pending
        .iter()
        .enumerate()
        .map(|(i, e)| SyncResult {
            epoch: e.body.epoch,
            seq: e.body.seq,
            outcome: if i == 0 {
                EntryOutcome::Rejected {
                    code: "bad_tag".into(),
                    message: "tag does not match".into(),
                }
            } else {
                EntryOutcome::Applied
            },
        })
        .collect();
    d.store.record_results(&results).unwrap();
    d.store.record_results(&results).unwrap();
    let after = d.store.entries_from(1, 1).unwrap();
    assert_eq!(before, after);
    d.store.verify_journal().unwrap();
    let counts = d.store.sync_counts().unwrap();
    assert_eq!(counts.pending_entries, 0);
    assert_eq!(
        counts.rejected, 1,
        "a rejection is kept and counted, not dropped"
    );
}

#[test]
fn a_rejected_entry_does_not_hold_back_later_ones() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 1);
    sell_ok(&mut d, 1);
    let first = d.store.pending_entries(1).unwrap()[0].body.seq;
    d.store
        .record_results(&[SyncResult {
            epoch: 1,
            seq: first,
            outcome: EntryOutcome::Rejected {
                code: "x".into(),
                message: "y".into(),
            },
        }])
        .unwrap();
    let next = d.store.pending_entries(100).unwrap();
    assert!(next.iter().all(|e| e.body.seq > first));
    assert!(!next.is_empty());
}

#[test]
fn sales_close_by_the_device_clock_even_offline_and_a_clock_set_back_cannot_reopen_them() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let end = d.config.events[0].sales_end_time;
    d.store.set_fixed_now(Some(end + Duration::seconds(1)));
    assert_eq!(refusal(d.store.sell(&cash(package(&d, 1)))), "sales_closed");
    // The clock is wound back before the close, but the journal already saw a later time.
    d.store
        .record_critical_event("TEST", "INFO", "time passes", serde_json::json!({}))
        .unwrap();
    d.store.set_fixed_now(Some(end - Duration::hours(1)));
    assert_eq!(refusal(d.store.sell(&cash(package(&d, 1)))), "sales_closed");
    let report = d.store.startup_check().unwrap();
    assert!(
        report.clock_behind_by_ms.unwrap() > 0,
        "the clock jump is flagged"
    );
}

#[test]
fn every_refusal_is_typed_and_leaves_nothing_behind() {
    let mut d = demo();
    let p1 = package(&d, 1);
    let entries = |s: &Store| {
        s.connection()
            .query_row("SELECT count(*) FROM sales", [], |r| r.get::<_, i64>(0))
            .unwrap()
    };

    assert_eq!(refusal(d.store.sell(&cash(p1))), "not_logged_in");
    d.store.login(SELLER, None).unwrap();

    // Not open yet.
    let mut cfg = d.config.clone();
    cfg.version = 2;
    cfg.events[0].sales_start_time = d.t0 + Duration::hours(1);
    d.store.apply_config(&cfg).unwrap();
    assert_eq!(refusal(d.store.sell(&cash(p1))), "sales_not_open_yet");
    cfg.events[0].sales_start_time = d.t0 - Duration::hours(1);

    // Event not active, then suspended by a server command, then resumed.
    cfg.version = 2;
    cfg.events[0].state = rsu_core::EventState::Configured;
    d.store.apply_config(&cfg).unwrap();
    assert_eq!(refusal(d.store.sell(&cash(p1))), "event_not_active");
    cfg.version = 3;
    cfg.events[0].state = rsu_core::EventState::Active;
    cfg.commands = vec![rsu_core::config::Command {
        id: Uuid::nil(),
        kind: CommandKind::Suspend,
        event_id: None,
        issued_at: d.t0,
    }];
    d.store.apply_config(&cfg).unwrap();
    assert_eq!(refusal(d.store.sell(&cash(p1))), "event_suspended");
    cfg.version = 4;
    cfg.commands[0].kind = CommandKind::Resume;
    d.store.apply_config(&cfg).unwrap();

    // Package inactive.
    cfg.version = 5;
    cfg.commands.clear();
    cfg.events[0].packages[0].is_active = false;
    d.store.apply_config(&cfg).unwrap();
    assert_eq!(refusal(d.store.sell(&cash(p1))), "package_inactive");
    cfg.events[0].packages[0].is_active = true;

    // Offline limit: 500 configured; lower it to 6.
    cfg.version = 6;
    cfg.rsu.max_offline_tickets = Some(6);
    d.store.apply_config(&cfg).unwrap();
    let s = d.store.sell(&cash(package(&d, 5))).unwrap();
    d.store.mark_printed(s.id).unwrap();
    assert_eq!(
        refusal(d.store.sell(&cash(package(&d, 5)))),
        "offline_limit_reached"
    );
    sell_ok(&mut d, 1); // 5 + 1 = 6 is at the limit and allowed.

    // Oldest pending too old.
    d.store.set_fixed_now(Some(d.t0 + Duration::minutes(1441)));
    cfg.version = 7;
    cfg.rsu.max_offline_tickets = Some(500);
    d.store.apply_config(&cfg).unwrap();
    assert_eq!(refusal(d.store.sell(&cash(p1))), "sync_required");
    ack_all(&mut d.store);
    let s = d.store.sell(&cash(p1)).unwrap();

    // Print unresolved: the last sale's receipt is not confirmed.
    assert_eq!(refusal(d.store.sell(&cash(p1))), "print_unresolved");
    d.store.mark_print_failed(s.id, "paper out").unwrap();
    assert_eq!(refusal(d.store.sell(&cash(p1))), "print_unresolved");
    d.store.reprint(&s.validation_number, None).unwrap();
    d.store.mark_printed(s.id).unwrap();

    // Offline sales not allowed by the jurisdiction, and no recent server contact.
    cfg.version = 8;
    cfg.events[0].jurisdiction.offline_sales_allowed = false;
    d.store.apply_config(&cfg).unwrap();
    assert_eq!(refusal(d.store.sell(&cash(p1))), "offline_not_allowed");
    d.store.record_server_contact(None).unwrap();
    sell_ok(&mut d, 1);

    // A receipt field missing from the configuration refuses the sale before it happens.
    cfg.version = 9;
    cfg.events[0].jurisdiction.offline_sales_allowed = true;
    cfg.events[0].jurisdiction.rules_url = String::new();
    d.store.apply_config(&cfg).unwrap();
    let before = entries(&d.store);
    let err = d.store.sell(&cash(p1)).unwrap_err();
    assert_eq!(err.code(), "receipt_incomplete");
    assert!(err.to_string().contains("rules URL"), "{err}");
    assert_eq!(entries(&d.store), before, "a refused sale writes nothing");

    // A card payment needs its reference.
    cfg.version = 10;
    cfg.events[0].jurisdiction.rules_url = "https://example.org/rules".into();
    d.store.apply_config(&cfg).unwrap();
    let card = SaleRequest {
        package_id: p1,
        payment: Payment {
            method: PaymentMethod::Card,
            reference: None,
        },
        customer: None,
    };
    assert!(d
        .store
        .sell(&card)
        .unwrap_err()
        .to_string()
        .contains("reference"));
}

#[test]
fn voids_need_a_supervisor_and_a_reason_and_numbers_are_never_reused() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 5);
    assert_eq!(
        d.store
            .void(&sale.validation_number, SELLER, "customer changed mind")
            .unwrap_err()
            .code(),
        "not_supervisor"
    );
    assert_eq!(
        d.store
            .void(&sale.validation_number, SUPER, "  ")
            .unwrap_err()
            .code(),
        "invalid"
    );
    let voided = d
        .store
        .void(&sale.validation_number, SUPER, "customer changed mind")
        .unwrap();
    assert!(voided.voided_at.is_some());
    assert_eq!(
        d.store
            .void(&sale.validation_number, SUPER, "again")
            .unwrap_err()
            .code(),
        "invalid"
    );
    let next = sell_ok(&mut d, 5);
    assert!(
        next.draw_numbers
            .iter()
            .all(|n| !sale.draw_numbers.contains(n)),
        "voided numbers are not reused"
    );
    let kinds: Vec<String> = d
        .store
        .entries_from(1, 1)
        .unwrap()
        .iter()
        .map(|e| e.body.kind.to_string())
        .collect();
    assert!(
        kinds.contains(&"void".to_string()),
        "a void is a new journal entry"
    );
    // Original sale entry unchanged.
    d.store.verify_journal().unwrap();
}

#[test]
fn voids_are_refused_once_the_event_is_reconciled() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 1);
    let mut cfg = d.config.clone();
    cfg.version = 2;
    cfg.events[0].state = rsu_core::EventState::Reconciled;
    d.store.apply_config(&cfg).unwrap();
    let err = d
        .store
        .void(&sale.validation_number, SUPER, "late")
        .unwrap_err();
    assert!(err.to_string().contains("reconciled"), "{err}");
}

#[test]
fn reprints_are_counted_and_a_printed_receipt_needs_a_supervisor() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 1);
    assert_eq!(
        d.store
            .reprint(&sale.validation_number, None)
            .unwrap_err()
            .code(),
        "not_supervisor"
    );
    let (_, n1) = d
        .store
        .reprint(&sale.validation_number, Some(SUPER))
        .unwrap();
    let s = d.store.mark_printed(sale.id).unwrap();
    assert_eq!(s.print_state, PrintState::Reprinted);
    let (_, n2) = d
        .store
        .reprint(&sale.validation_number, Some(SUPER))
        .unwrap();
    assert_eq!((n1, n2), (1, 2));
    let crit: i64 = d.store.connection().query_row(
        "SELECT count(*) FROM journal WHERE kind = 'critical_event' AND body_json LIKE '%\"eventType\":\"REPRINT\"%'", [], |r| r.get(0)).unwrap();
    assert_eq!(crit, 2, "every reprint is a critical event");
}

#[test]
fn a_failed_print_locks_selling_until_spoiled_by_a_supervisor() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let sale = d.store.sell(&cash(package(&d, 5))).unwrap();
    d.store.mark_print_failed(sale.id, "paper out").unwrap();
    assert_eq!(
        refusal(d.store.sell(&cash(package(&d, 1)))),
        "print_unresolved"
    );
    let unresolved = d.store.unresolved_print().unwrap().unwrap();
    assert_eq!(unresolved.validation_number, sale.validation_number);
    assert_eq!(unresolved.print_error.as_deref(), Some("paper out"));
    assert_eq!(
        d.store
            .spoil(&sale.validation_number, SELLER)
            .unwrap_err()
            .code(),
        "not_supervisor"
    );
    let spoiled = d.store.spoil(&sale.validation_number, SUPER).unwrap();
    assert_eq!(spoiled.print_state, PrintState::Spoiled);
    assert_eq!(spoiled.void_reason.as_deref(), Some("misprint"));
    sell_ok(&mut d, 1);
}

#[test]
fn five_wrong_pins_lock_the_keypad_and_each_is_recorded() {
    let mut d = demo();
    for i in 1..=4 {
        match d.store.login("0000", None).unwrap_err() {
            StoreError::Login(rsu_store::LoginError::WrongPin { attempts_left }) => {
                assert_eq!(attempts_left, 5 - i)
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(
        d.store.login("0000", None).unwrap_err().code(),
        "locked_out"
    );
    // Even the right PIN is refused while locked.
    assert_eq!(
        d.store.login(SELLER, None).unwrap_err().code(),
        "locked_out"
    );
    d.store.set_fixed_now(Some(d.t0 + Duration::minutes(6)));
    d.store.login(SELLER, None).unwrap();
    let c = d.store.connection();
    let failed: i64 = c
        .query_row(
            "SELECT count(*) FROM journal WHERE body_json LIKE '%\"eventType\":\"PIN_FAILED\"%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let locked: i64 = c
        .query_row(
            "SELECT count(*) FROM journal WHERE body_json LIKE '%\"eventType\":\"LOCKOUT\"%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!((failed, locked), (5, 1));
}

#[test]
fn nothing_destructive_happens_while_entries_are_pending() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 1);
    assert_eq!(d.store.logout().unwrap_err().code(), "pending_entries");
    let (identity, _) = demo_config(d.t0).unwrap();
    assert_eq!(
        d.store.set_identity(&identity).unwrap_err().code(),
        "pending_entries"
    );
    assert_eq!(
        rsu_store::reset_database(&d.path).unwrap_err().code(),
        "pending_entries"
    );
    assert!(d.path.exists());
    // Locking the screen is always allowed: nothing is discarded.
    d.store.lock_screen().unwrap();
    // Export works and carries every entry.
    let mut out = Vec::new();
    let n = d.store.export_journal(&mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap().lines().count() as u64, n);
    // Once synced, logout and re-enrollment (a new epoch) are allowed.
    ack_all(&mut d.store);
    d.store.login(SELLER, None).unwrap();
    ack_all(&mut d.store);
    d.store.logout().unwrap();
    ack_all(&mut d.store);
    assert_eq!(d.store.set_identity(&identity).unwrap(), 2);
    let pending = d.store.pending_entries(10).unwrap();
    assert_eq!(
        (pending[0].body.epoch, pending[0].body.seq),
        (2, 1),
        "a new epoch restarts seq at 1"
    );
}

#[test]
fn pulled_configuration_never_changes_a_committed_sale() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 5);
    let mut cfg = d.config.clone();
    cfg.version = 2;
    cfg.events[0].packages[1].price =
        rsu_core::Money::new(2500, cfg.events[0].packages[1].price.currency);
    cfg.events[0].packages[1].name = "Value pack".into();
    d.store.apply_config(&cfg).unwrap();
    let again = d.store.sale(sale.id).unwrap();
    assert_eq!(again.total.minor, 2000);
    assert_eq!(again.package_name, "5 tickets");
    let next = sell_ok(&mut d, 5);
    assert_eq!(next.total.minor, 2500, "the new price applies to new sales");
    // An older configuration is ignored.
    let mut old = d.config.clone();
    old.version = 1;
    assert!(!d.store.apply_config(&old).unwrap());
}

#[test]
fn an_overlapping_allocation_is_refused_whole() {
    let mut d = demo();
    let mut cfg = d.config.clone();
    cfg.version = 2;
    cfg.allocations.push(rsu_core::config::AllocationConfig {
        id: Uuid::from_u128(77),
        event_id: cfg.events[0].id,
        start_number: 1150,
        end_number: 1250,
        state: "active".into(),
    });
    cfg.events[0].name = "Renamed".into();
    let err = d.store.apply_config(&cfg).unwrap_err();
    assert!(err.to_string().contains("overlaps"), "{err}");
    let name: String = d
        .store
        .connection()
        .query_row("SELECT name FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        name, "Summer Festival Raffle",
        "nothing of the refused configuration applied"
    );
}

#[test]
fn the_z_report_counts_sales_voids_cash_and_ranges() {
    let mut d = demo();
    d.store.login(SELLER, Some(10_000)).unwrap();
    let a = sell_ok(&mut d, 5);
    sell_ok(&mut d, 25);
    let card = SaleRequest {
        package_id: package(&d, 1),
        payment: Payment {
            method: PaymentMethod::Card,
            reference: Some("T-1".into()),
        },
        customer: None,
    };
    let c = d.store.sell(&card).unwrap();
    d.store.mark_printed(c.id).unwrap();
    d.store
        .void(&a.validation_number, SUPER, "wrong package")
        .unwrap();
    assert_eq!(
        d.store.close_shift(SELLER).unwrap_err().code(),
        "not_supervisor"
    );
    let z = d.store.close_shift(SUPER).unwrap();
    assert_eq!(z.sales_count, 3);
    assert_eq!(z.sales_amount, 2000 + 5000 + 500);
    assert_eq!((z.voids_count, z.voids_amount), (1, 2000));
    assert_eq!(z.cash_sales_amount, 7000);
    assert_eq!(z.card_sales_amount, 500);
    assert_eq!(z.cash_expected, 10_000 + 7000 - 2000);
    assert_eq!(z.ranges.len(), 1);
    assert_eq!(
        (
            z.ranges[0].first_number,
            z.ranges[0].last_number,
            z.ranges[0].count
        ),
        (1001, 1031, 31)
    );
    let kinds: Vec<String> = d
        .store
        .entries_from(1, 1)
        .unwrap()
        .iter()
        .map(|e| e.body.kind.to_string())
        .collect();
    assert_eq!(kinds.last().map(String::as_str), Some("shift_close"));
    assert!(d.store.current_shift().unwrap().is_none());
}

#[test]
fn a_corrupted_database_is_refused_with_a_clear_error_and_left_in_place() {
    // A file that is not a database at all.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.sqlite3");
    std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
    let err = Store::open(&junk).unwrap_err();
    assert_eq!(err.code(), "not_a_database", "{err}");
    assert!(err.to_string().contains("left untouched"));
    assert_eq!(std::fs::read(&junk).unwrap(), vec![0x42u8; 8192]);

    // A real database with damaged pages.
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    for _ in 0..30 {
        sell_ok(&mut d, 1);
    }
    d.store
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    drop(d.store);
    let mut bytes = std::fs::read(&d.path).unwrap();
    let page = 4096;
    assert!(bytes.len() > 6 * page);
    for b in &mut bytes[3 * page + 100..5 * page] {
        *b = 0xA5;
    }
    std::fs::write(&d.path, &bytes).unwrap();
    let err = Store::open(&d.path).unwrap_err();
    assert!(
        matches!(err.code(), "database_corrupt" | "not_a_database"),
        "{err}"
    );
    assert!(
        err.to_string().contains("do not delete it") || err.to_string().contains("left untouched"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&d.path).unwrap(),
        bytes,
        "the damaged file is kept exactly as it was"
    );
}

#[test]
fn a_disk_that_fills_mid_sale_leaves_no_partial_sale() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let pages: i64 = d
        .store
        .connection()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    d.store.set_max_page_count(pages + 3).unwrap();
    let mut full = false;
    for _ in 0..200 {
        match d.store.sell(&cash(package(&d, 5))) {
            Ok(s) => {
                d.store.mark_printed(s.id).unwrap();
            }
            Err(e) => {
                assert_eq!(e.code(), "disk_full", "{e}");
                assert!(e.to_string().contains("nothing was recorded"));
                full = true;
                break;
            }
        }
    }
    assert!(full, "the page limit must be hit");
    let c = d.store.connection();
    let sales: i64 = c
        .query_row("SELECT count(*) FROM sales", [], |r| r.get(0))
        .unwrap();
    let sale_entries: i64 = c
        .query_row(
            "SELECT count(*) FROM journal WHERE kind = 'sale'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let numbers: i64 = c
        .query_row("SELECT count(*) FROM sale_numbers", [], |r| r.get(0))
        .unwrap();
    let used: i64 = c
        .query_row(
            "SELECT sum(next_number - start_number) FROM allocations",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        sales, sale_entries,
        "every sale has its journal entry and no entry lacks its sale"
    );
    assert_eq!(numbers, sales * 5);
    assert_eq!(
        used, numbers,
        "allocation counters match the numbers written"
    );
    d.store.verify_journal().unwrap();
    // Space comes back: selling resumes where it left off.
    d.store.set_max_page_count(1_000_000).unwrap();
    let s = sell_ok(&mut d, 5);
    assert_eq!(s.draw_numbers[0].0, 1001 + numbers);
}

#[test]
fn two_connections_sell_and_record_sync_results_without_busy_errors() {
    let d = demo();
    let path = d.path.clone();
    let pkg = package(&d, 1);
    drop(d.store);
    let seller = std::thread::spawn({
        let path = path.clone();
        move || {
            let mut s = Store::open(&path).unwrap();
            s.login(SELLER, None).unwrap();
            for _ in 0..150 {
                let sale = s.sell(&cash(pkg)).unwrap();
                s.mark_printed(sale.id).unwrap();
            }
        }
    });
    let syncer = std::thread::spawn({
        let path = path.clone();
        move || {
            let mut s = Store::open(&path).unwrap();
            for _ in 0..300 {
                ack_all(&mut s);
                std::thread::yield_now();
            }
        }
    });
    seller.join().unwrap();
    syncer.join().unwrap();
    let mut s = Store::open(&path).unwrap();
    ack_all(&mut s);
    let report = s.verify().unwrap();
    assert_eq!(report.quick_check, "ok");
    assert_eq!(report.sales, 150);
    assert_eq!(report.duplicate_draw_numbers, 0);
    assert_eq!(s.sync_counts().unwrap().pending_entries, 0);
}

#[test]
fn money_in_every_sale_payload_is_integer_minor_units() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 25);
    for e in d.store.entries_from(1, 1).unwrap() {
        // canonical_bytes refuses any float; the stored text is exactly those bytes.
        e.body.canonical_bytes().unwrap();
        if e.body.kind == rsu_core::EntryKind::Sale {
            assert_eq!(e.body.payload["totalAmount"], serde_json::json!(5000));
            assert!(e.body.payload["totalAmount"].is_i64());
            assert_eq!(e.body.payload["currency"], "USD");
        }
    }
}

#[test]
fn validation_numbers_verify_with_the_device_key_and_are_unique() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let key_hex: String = d
        .store
        .connection()
        .query_row("SELECT validation_key_hex FROM device", [], |r| r.get(0))
        .unwrap();
    let key = rsu_core::ValidationKey::from_hex(&key_hex).unwrap();
    let mut seen = HashSet::new();
    for _ in 0..10 {
        let s = sell_ok(&mut d, 1);
        let v = rsu_core::ValidationNumber::parse(&s.validation_number).unwrap();
        v.verify(&key).unwrap();
        assert!(s.validation_number.starts_with("RSU001-"));
        assert!(seen.insert(s.validation_number));
    }
}

#[test]
fn a_receipt_check_that_fails_before_commit_refuses_the_sale_and_writes_nothing() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let count = |s: &Store, sql: &str| {
        s.connection()
            .query_row(sql, [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let before = (
        count(&d.store, "SELECT count(*) FROM sales"),
        count(&d.store, "SELECT count(*) FROM journal"),
    );
    let mut seen = None;
    let err = d
        .store
        .sell_checked(&cash(package(&d, 5)), |sale, ctx| {
            seen = Some((
                sale.validation_number.clone(),
                ctx.organization_name.clone(),
            ));
            Err("the operator name cannot be printed".into())
        })
        .unwrap_err();
    assert_eq!(err.code(), "receipt_incomplete");
    assert!(err.to_string().contains("operator name"), "{err}");
    let (vn, org) = seen.expect("the check sees the sale before commit");
    assert!(vn.starts_with("RSU001-"));
    assert_eq!(org, "Riverside Community Foundation");
    assert_eq!(
        (
            count(&d.store, "SELECT count(*) FROM sales"),
            count(&d.store, "SELECT count(*) FROM journal")
        ),
        before
    );
    // The numbers it would have used are still the next ones.
    let s = sell_ok(&mut d, 5);
    assert_eq!(s.draw_numbers[0].0, 1001);
}

#[test]
fn a_version_1_database_file_upgrades_in_place_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    {
        // A database exactly as the version-1 program left it, with a device in it.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
        c.execute_batch(include_str!("../../migrations/device/0001_init.sql"))
            .unwrap();
        c.execute(
            "INSERT INTO device (id, rsu_id, rsu_no, name, epoch, validation_key_hex, enrolled_at)
             VALUES (1, '01900000-0000-7000-8000-000000000001', 7, 'old kiosk', 3, '00112233445566778899aabbccddeeff', '2026-01-01T00:00:00.000Z')",
            [],
        )
        .unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
    }
    // rusqlite created the file with the umask's mode; the store refuses a database other users
    // can read, so make it owner-only as the store itself would have created it.
    set_mode(&path, 0o600);
    let s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 3);
    let (no, epoch): (u32, i64) = s
        .connection()
        .query_row("SELECT rsu_no, epoch FROM device", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((no, epoch), (7, 3), "the device survives the upgrade");
    let rows: i64 = s
        .connection()
        .query_row("SELECT count(*) FROM sync_state", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "the version-2 table exists with its single row");
}

#[test]
fn voiding_a_sale_whose_receipt_never_printed_also_unlocks_selling() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let sale = d.store.sell(&cash(package(&d, 5))).unwrap();
    d.store.mark_print_failed(sale.id, "cover open").unwrap();
    let voided = d
        .store
        .void(&sale.validation_number, SUPER, "customer left")
        .unwrap();
    assert_eq!(
        voided.print_state,
        PrintState::Spoiled,
        "an unprinted voided receipt is spoiled"
    );
    assert!(d.store.unresolved_print().unwrap().is_none());
    sell_ok(&mut d, 1);
}

#[test]
fn a_sale_after_the_shift_closed_opens_a_new_shift_so_a_z_report_counts_it() {
    let mut d = demo();
    d.store.login(SELLER, Some(1000)).unwrap();
    sell_ok(&mut d, 1);
    let first = d.store.close_shift(SUPER).unwrap();
    assert_eq!(first.sales_count, 1);
    let s = sell_ok(&mut d, 5);
    let shift = d
        .store
        .current_shift()
        .unwrap()
        .expect("a new shift was opened by the sale");
    assert_ne!(shift.id, first.shift_id);
    let count: i64 = d
        .store
        .connection()
        .query_row(
            "SELECT count(*) FROM sales WHERE shift_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 0, "no sale outside a shift");
    let z = d.store.close_shift(SUPER).unwrap();
    assert_eq!(
        (z.sales_count, z.sales_amount, z.float_amount),
        (1, s.total.minor, 0)
    );
}

#[test]
fn reset_moves_the_database_aside_once_everything_is_synced() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 1);
    ack_all(&mut d.store);
    d.store.lock_screen().unwrap();
    ack_all(&mut d.store);
    drop(d.store);
    let aside = rsu_store::reset_database(&d.path).unwrap();
    assert!(!d.path.exists(), "the device starts empty");
    let old = Store::open(&aside).unwrap();
    old.find_sale(&sale.validation_number)
        .expect("the old database is kept, with its sales");
}

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(p: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn with_suffix(p: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    s.into()
}

#[test]
fn the_database_its_wal_and_shm_are_created_owner_only_in_an_owner_only_directory() {
    let dir = tempfile::tempdir().unwrap();
    // Let the parent be shared, as /tmp or a home directory may be: only what the store creates
    // must be private.
    set_mode(dir.path(), 0o755);
    let data = dir.path().join("data");
    let path = data.join("device").join("rsu.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let t0 = Utc::now();
    store.set_fixed_now(Some(t0));
    let (identity, config) = demo_config(t0).unwrap();
    store.set_identity(&identity).unwrap();
    store.apply_config(&config).unwrap();
    store.login(SELLER, None).unwrap();
    // While the store is open the WAL and the shared memory exist, and hold sales too.
    let wal = with_suffix(&path, "-wal");
    let shm = with_suffix(&path, "-shm");
    assert!(wal.exists() && shm.exists());
    for f in [&path, &wal, &shm] {
        assert_eq!(mode_of(f), 0o600, "{}", f.display());
    }
    for d in [&data, &data.join("device")] {
        assert_eq!(mode_of(d), 0o700, "{}", d.display());
    }
    assert_eq!(rsu_store::PRIVATE_FILE_MODE, 0o600);
}

#[test]
fn a_database_other_users_can_read_is_refused_with_the_command_that_fixes_it() {
    let d = demo();
    let path = d.path.clone();
    drop(d.store);
    set_mode(&path, 0o644);
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err.code(), "database_not_private", "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("chmod 600 {}", path.display())) && msg.contains("0644"),
        "{msg}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "left untouched");
    assert_eq!(
        mode_of(&path),
        0o644,
        "the store does not change it behind the user's back"
    );
    assert_eq!(
        Store::open_existing(&path).unwrap_err().code(),
        "database_not_private"
    );
    // Group-readable is just as shared.
    set_mode(&path, 0o640);
    assert_eq!(
        Store::open(&path).unwrap_err().code(),
        "database_not_private"
    );
    // The fix the message gives works.
    set_mode(&path, 0o600);
    let store = Store::open(&path).unwrap();
    assert!(store.is_enrolled().unwrap());

    // A WAL others can read (it holds the latest sales) is refused too, naming that file.
    let wal = with_suffix(&path, "-wal");
    assert!(wal.exists(), "the open store keeps its WAL");
    set_mode(&wal, 0o644);
    let err = Store::open(&path).unwrap_err();
    assert_eq!(err.code(), "database_not_private", "{err}");
    assert!(err
        .to_string()
        .contains(&format!("chmod 600 {}", wal.display())));
}

#[test]
fn a_reset_leaves_every_moved_aside_file_owner_only() {
    let mut d = demo();
    d.store.login(SELLER, None).unwrap();
    sell_ok(&mut d, 1);
    d.store.lock_screen().unwrap();
    ack_all(&mut d.store);
    // A second process (the sync daemon) still has the file open, so its WAL and shared memory
    // are moved aside with it.
    let daemon = Store::open(&d.path).unwrap();
    let aside = rsu_store::reset_database(&d.path).unwrap();
    let mut moved = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let f = with_suffix(&aside, suffix);
        if f.exists() {
            assert_eq!(mode_of(&f), 0o600, "{}", f.display());
            moved.push(f);
        }
    }
    assert!(
        moved.len() >= 2,
        "the database and its WAL were moved: {moved:?}"
    );
    drop(daemon);
    drop(d.store);
    // Nothing private is left readable in the directory.
    for entry in std::fs::read_dir(d.path.parent().unwrap()).unwrap() {
        let f = entry.unwrap().path();
        assert_eq!(mode_of(&f) & 0o077, 0, "{}", f.display());
    }
}

/// Five wrong PINs at `at`; returns the lockout's end.
fn lock_keypad(d: &mut Demo, at: DateTime<Utc>) -> DateTime<Utc> {
    d.store.set_fixed_now(Some(at));
    for _ in 1..rsu_store::MAX_PIN_ATTEMPTS {
        assert_eq!(d.store.login("0000", None).unwrap_err().code(), "wrong_pin");
    }
    match d.store.login("0000", None).unwrap_err() {
        StoreError::Login(rsu_store::LoginError::LockedOut { until }) => {
            DateTime::parse_from_rfc3339(&until)
                .unwrap()
                .with_timezone(&Utc)
        }
        other => panic!("expected a lockout, got {other}"),
    }
}

#[test]
fn repeated_lockouts_last_5_then_15_then_60_minutes_until_a_pin_is_accepted() {
    let mut d = demo();
    // Whole seconds: lockout ends are stored to the millisecond.
    let mut at = chrono::SubsecRound::trunc_subsecs(d.t0, 0);
    for (n, minutes) in [(1, 5), (2, 15), (3, 60), (4, 60)] {
        let until = lock_keypad(&mut d, at);
        assert_eq!(until - at, Duration::minutes(minutes), "lockout {n}");
        // Still locked one minute before the end, even for the right PIN.
        d.store.set_fixed_now(Some(until - Duration::minutes(1)));
        assert_eq!(
            d.store.login(SELLER, None).unwrap_err().code(),
            "locked_out"
        );
        at = until + Duration::seconds(1);
    }
    let minutes: Vec<i64> = {
        let c = d.store.connection();
        let mut stmt = c
            .prepare(
                "SELECT json_extract(body_json, '$.payload.metadata.minutes') FROM journal
                 WHERE body_json LIKE '%\"eventType\":\"LOCKOUT\"%' ORDER BY seq",
            )
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(
        minutes,
        vec![5, 15, 60, 60],
        "each lockout is recorded with its length"
    );
    // An accepted PIN starts the escalation again.
    d.store.set_fixed_now(Some(at));
    d.store.login(SELLER, None).unwrap();
    let at = at + Duration::minutes(1);
    let until = lock_keypad(&mut d, at);
    assert_eq!(until - at, Duration::minutes(5));
    assert_eq!(rsu_store::lockout_minutes(1), 5);
    assert_eq!(rsu_store::lockout_minutes(9), 60);
}

#[test]
fn a_pin_that_matches_two_active_operators_is_refused_not_taken_as_the_supervisor() {
    let mut d = demo();
    // The roster gives a seller the supervisor's PIN (a different salt, the same PIN).
    let mut cfg = d.config.clone();
    cfg.version += 1;
    let twin = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0999);
    cfg.operators.push(rsu_core::config::OperatorConfig {
        id: twin,
        name: "Tess Twin".into(),
        role: rsu_core::config::Role::Seller,
        pin_hash: rsu_core::pin::hash_pin(SUPER, b"another-salt-123", 1000).unwrap(),
        is_active: true,
    });
    d.store.apply_config(&cfg).unwrap();

    let err = d.store.login(SUPER, None).unwrap_err();
    assert_eq!(err.code(), "ambiguous_pin", "{err}");
    assert!(
        err.to_string().contains("more than one operator")
            && err.to_string().contains("a PIN of their own"),
        "{err}"
    );
    assert!(
        d.store.current_operator().unwrap().is_none(),
        "nobody logged in"
    );
    // Supervisor approvals with it are refused too: a seller cannot approve their own void.
    d.store.login(SELLER, None).unwrap();
    let sale = sell_ok(&mut d, 1);
    assert_eq!(
        d.store
            .void(&sale.validation_number, SUPER, "test")
            .unwrap_err()
            .code(),
        "ambiguous_pin"
    );
    // Refusals are recorded for the raffle manager and do not count towards a lockout.
    let c = d.store.connection();
    let (ambiguous, failed): (i64, i64) = c
        .query_row(
            "SELECT sum(body_json LIKE '%\"eventType\":\"PIN_AMBIGUOUS\"%'),
                    sum(body_json LIKE '%\"eventType\":\"PIN_FAILED\"%') FROM journal",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((ambiguous, failed), (2, 0));
    // Once the roster is fixed, the PIN says who it is again.
    cfg.version += 1;
    cfg.operators.last_mut().unwrap().is_active = false;
    d.store.apply_config(&cfg).unwrap();
    let (op, _) = d.store.login(SUPER, None).unwrap();
    assert_eq!(op.role, rsu_core::config::Role::Supervisor);
}
