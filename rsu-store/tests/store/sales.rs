//! Sales: draw numbers never sold twice, exhaustion, the sales window, every refusal, configuration pulls, money, validation numbers and the pre-commit receipt check.

use chrono::Duration;
use rsu_core::config::CommandKind;
use rsu_core::payload::{Payment, PaymentMethod};
use rsu_store::{SaleRequest, Store, StoreError, DEMO_SELLER_PIN as SELLER};
use std::collections::HashSet;
use uuid::Uuid;

use crate::*;

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
fn an_overlapping_allocation_is_skipped_and_the_rest_applies() {
    // Was `an_overlapping_allocation_is_refused_whole`: issue 15 (defect 3) changed the rule, so
    // that one range the device cannot take never stops the rest of the configuration.
    let mut d = demo();
    let mut cfg = d.config.clone();
    cfg.version = 2;
    cfg.allocations.push(rsu_core::config::AllocationConfig {
        id: Uuid::from_u128(77),
        event_id: cfg.events[0].id,
        start_number: 1150,
        end_number: 1250,
        state: "active".into(),
        next_number: None,
    });
    cfg.events[0].name = "Renamed".into();
    assert!(d.store.apply_config(&cfg).unwrap());
    let c = d.store.connection();
    let name: String = c
        .query_row("SELECT name FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "Renamed", "the rest of the configuration applied");
    let overlapping: i64 = c
        .query_row(
            "SELECT count(*) FROM allocations WHERE start_number = 1150",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(overlapping, 0, "the overlapping range was not taken");
    let logged: i64 = c
        .query_row(
            "SELECT count(*) FROM journal WHERE body_json LIKE '%CONFIG_ITEM_SKIPPED%' AND body_json LIKE '%overlaps%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(logged, 1, "and the skip is a critical event");
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
