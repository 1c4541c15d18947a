//! Voids, reprints and spoils: supervisor PINs, reasons, and the print lock.

use rsu_store::{PrintState, DEMO_SELLER_PIN as SELLER, DEMO_SUPERVISOR_PIN as SUPER};

use crate::*;

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
