//! Operators and shifts: PINs and lockouts, and the Z report.

use chrono::{DateTime, Duration, Utc};
use rsu_core::payload::{Payment, PaymentMethod};
use rsu_store::{SaleRequest, StoreError, DEMO_SELLER_PIN as SELLER, DEMO_SUPERVISOR_PIN as SUPER};
use uuid::Uuid;

use crate::*;

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
