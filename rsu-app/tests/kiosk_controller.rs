//! The kiosk controller without a window: commands in, events out, against a real demo store
//! and the simulated printer.
#![allow(clippy::unwrap_used)]

mod common;

use common::demo;
use rsu_app::kiosk::model::{PrinterForm, SellOrder};
use rsu_app::kiosk::service::{config_of, parse_money};
use rsu_app::kiosk::{Command, KioskService, UiEvent};

fn run(service: &mut KioskService, cmd: Command) -> Vec<UiEvent> {
    let mut out = Vec::new();
    service.handle(cmd, &mut |e| out.push(e));
    out
}

fn logged_in(service: &mut KioskService) -> Vec<String> {
    let events = run(
        service,
        Command::Login {
            pin: rsu_store::DEMO_SELLER_PIN.into(),
        },
    );
    assert!(
        matches!(&events[0], UiEvent::LoggedIn { operator } if operator.contains("Sam Seller")),
        "{events:?}"
    );
    events
        .iter()
        .find_map(|e| match e {
            UiEvent::Packages(p) => Some(p.iter().map(|p| p.id.clone()).collect()),
            _ => None,
        })
        .unwrap()
}

fn order(package_id: &str) -> Command {
    Command::Sell(SellOrder {
        package_id: package_id.into(),
        ..SellOrder::default()
    })
}

#[test]
fn a_wrong_pin_is_refused_in_a_plain_sentence_and_the_right_one_shows_packages_in_display_order() {
    let demo = demo();
    let mut s = demo.service();
    let events = run(&mut s, Command::Login { pin: "4321".into() });
    match &events[..] {
        [UiEvent::LoginMessage(m)] => assert!(m.starts_with("Wrong PIN"), "{m}"),
        other => panic!("{other:?}"),
    }
    let events = run(
        &mut s,
        Command::Login {
            pin: rsu_store::DEMO_SELLER_PIN.into(),
        },
    );
    let names: Vec<String> = events
        .iter()
        .find_map(|e| match e {
            UiEvent::Packages(p) => Some(
                p.iter()
                    .map(|p| format!("{} {}", p.tickets, p.price))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        names,
        ["1 ticket $5.00", "5 tickets $20.00", "25 tickets $50.00"]
    );
}

#[test]
fn a_sale_is_committed_then_printed_and_the_receipt_lands_in_the_simulated_printer() {
    let demo = demo();
    let mut s = demo.service();
    let ids = logged_in(&mut s);
    let events = run(&mut s, order(&ids[1]));
    let (committed, printed) = match &events[..] {
        [UiEvent::SaleCommitted(c), UiEvent::SalePrinted(p)] => (c, p),
        other => panic!("{other:?}"),
    };
    assert_eq!(committed.validation_number, printed.validation_number);
    assert_eq!(printed.draw_numbers, "1001\u{2013}1005");
    let sale = demo.store().find_sale(&printed.validation_number).unwrap();
    assert_eq!(sale.print_state.as_str(), "printed");
    let files: Vec<String> = std::fs::read_dir(&demo.sim)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().any(|f| f.ends_with(".png")), "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(".txt")), "{files:?}");
}

#[test]
fn paper_out_locks_selling_until_a_reprint_succeeds() {
    let demo = demo();
    let mut s = demo.service();
    let ids = logged_in(&mut s);
    std::fs::create_dir_all(&demo.sim).unwrap();
    std::fs::write(demo.sim.join("PAPER_OUT"), b"").unwrap();
    let events = run(&mut s, order(&ids[0]));
    let failure = match &events[..] {
        [UiEvent::SaleCommitted(_), UiEvent::PrintFailed(f)] => f.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        failure.reason.contains("out of paper"),
        "{}",
        failure.reason
    );
    let vn = failure.validation_number.clone();
    assert_eq!(
        demo.store().find_sale(&vn).unwrap().print_state.as_str(),
        "print_failed"
    );

    // Selling is refused while the receipt is unresolved.
    match &run(&mut s, order(&ids[0]))[..] {
        [UiEvent::SaleRefused(m)] => assert!(m.contains("did not print"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A reprint with the paper still out fails again and says so.
    let events = run(&mut s, Command::ReprintFailed);
    assert!(
        events.iter().any(|e| matches!(e, UiEvent::PrintFailed(_))),
        "{events:?}"
    );
    // Paper loaded: the reprint goes through, marked REPRINT 2 (the first attempt counted).
    std::fs::remove_file(demo.sim.join("PAPER_OUT")).unwrap();
    let events = run(&mut s, Command::ReprintFailed);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, UiEvent::PrintResolved(m) if m.contains("REPRINT 2"))),
        "{events:?}"
    );
    assert_eq!(
        demo.store().find_sale(&vn).unwrap().print_state.as_str(),
        "reprinted"
    );
    assert!(matches!(
        &run(&mut s, order(&ids[0]))[..],
        [UiEvent::SaleCommitted(_), UiEvent::SalePrinted(_)]
    ));
}

#[test]
fn only_a_supervisor_can_spoil_a_receipt_that_did_not_print() {
    let demo = demo();
    let mut s = demo.service();
    let ids = logged_in(&mut s);
    std::fs::create_dir_all(&demo.sim).unwrap();
    std::fs::write(demo.sim.join("COVER_OPEN"), b"").unwrap();
    let events = run(&mut s, order(&ids[2]));
    assert!(
        matches!(&events[1], UiEvent::PrintFailed(f) if f.reason.contains("cover is open")),
        "{events:?}"
    );
    match &run(
        &mut s,
        Command::SpoilFailed {
            supervisor_pin: rsu_store::DEMO_SELLER_PIN.into(),
        },
    )[..]
    {
        [UiEvent::FailureMessage(m)] => assert!(m.contains("supervisor PIN"), "{m}"),
        other => panic!("{other:?}"),
    }
    let events = run(
        &mut s,
        Command::SpoilFailed {
            supervisor_pin: rsu_store::DEMO_SUPERVISOR_PIN.into(),
        },
    );
    assert!(
        matches!(&events[0], UiEvent::PrintResolved(m) if m.contains("spoiled")),
        "{events:?}"
    );
}

#[test]
fn a_void_needs_a_supervisor_pin_and_shows_in_recent_sales() {
    let demo = demo();
    let mut s = demo.service();
    let ids = logged_in(&mut s);
    let events = run(&mut s, order(&ids[0]));
    let UiEvent::SalePrinted(sale) = &events[1] else {
        panic!("{events:?}")
    };
    let void = |pin: &str| Command::Void {
        validation_number: sale.validation_number.clone(),
        supervisor_pin: pin.into(),
        reason: "wrong package sold".into(),
    };
    match &run(&mut s, void(rsu_store::DEMO_SELLER_PIN))[..] {
        [UiEvent::SalesMessage { text, error: true }] => {
            assert!(text.contains("supervisor"), "{text}")
        }
        other => panic!("{other:?}"),
    }
    let events = run(&mut s, void(rsu_store::DEMO_SUPERVISOR_PIN));
    assert!(
        matches!(&events[0], UiEvent::SalesMessage { error: false, .. }),
        "{events:?}"
    );
    let UiEvent::Sales(rows) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(rows[0].state, "voided");
    assert!(rows[0].voided);
}

#[test]
fn without_a_printer_nothing_is_sold() {
    let demo = demo();
    let store = rsu_app::kiosk::open_store(&demo.db, true).unwrap();
    let mut s = KioskService::new(store, demo.db.clone(), None);
    let ids = logged_in(&mut s);
    match &run(&mut s, order(&ids[0]))[..] {
        [UiEvent::SaleRefused(m)] => assert!(m.contains("No printer"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(demo.store().status().unwrap().sales, 0);
}

#[test]
fn closing_a_shift_needs_a_supervisor_and_prints_the_z_report() {
    let demo = demo();
    let mut s = demo.service();
    let ids = logged_in(&mut s);
    run(&mut s, order(&ids[1]));
    let events = run(&mut s, Command::Shift);
    let UiEvent::Shift(Some(view)) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(view.sales_total, "1 sale · $20.00");
    let events = run(
        &mut s,
        Command::CloseShift {
            supervisor_pin: rsu_store::DEMO_SUPERVISOR_PIN.into(),
        },
    );
    assert!(events.iter().any(|e| matches!(e, UiEvent::ShiftMessage { text, error: false } if text.contains("Z report printed"))), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, UiEvent::Shift(None))));
    let z = std::fs::read_dir(&demo.sim)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains("-Z-"));
    assert!(z, "a Z report went to the printer");
    // A new shift opens with a float typed as money.
    let events = run(
        &mut s,
        Command::OpenShift {
            float: "100.50".into(),
        },
    );
    assert!(
        matches!(&events[0], UiEvent::ShiftMessage { text, error: false } if text.contains("$100.50")),
        "{events:?}"
    );
}

fn close_device(service: &mut KioskService, pin: &str) -> Vec<UiEvent> {
    run(
        service,
        Command::CloseDevice {
            supervisor_pin: pin.into(),
        },
    )
}

fn refusal(events: &[UiEvent]) -> String {
    match events {
        [UiEvent::ShiftMessage { text, error: true }] => text.clone(),
        other => panic!("expected one refusal, got {other:?}"),
    }
}

#[test]
fn closing_the_device_needs_a_supervisor_prints_the_z_report_and_stops_sales() {
    let demo = demo();
    let mut s = demo.service();
    let ids = logged_in(&mut s);
    run(&mut s, order(&ids[1]));

    // A seller's PIN and a wrong PIN are refused in a sentence, and nothing changes.
    let m = refusal(&close_device(&mut s, rsu_store::DEMO_SELLER_PIN));
    assert!(m.contains("supervisor PIN"), "{m}");
    let m = refusal(&close_device(&mut s, "4321"));
    assert!(m.starts_with("Wrong PIN"), "{m}");
    assert!(demo.store().closed_events().unwrap().is_empty());
    assert_eq!(demo.store().status().unwrap().numbers_left, 195);
    assert!(matches!(
        &run(&mut s, Command::Shift)[..],
        [UiEvent::Shift(Some(_))]
    ));

    // The supervisor closes it: the shift's Z report prints, the unused numbers go back.
    let events = close_device(&mut s, rsu_store::DEMO_SUPERVISOR_PIN);
    let z = events
        .iter()
        .find_map(|e| match e {
            UiEvent::ZReport(z) => Some(z.clone()),
            _ => None,
        })
        .unwrap_or_default();
    assert!(z.starts_with("Z report"), "{events:?}");
    assert!(z.contains("5 tickets: 1 sold ($20.00)"), "{z}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, UiEvent::ShiftMessage { text, error: false }
            if text.contains("closed for the event") && text.contains("Z report printed"))),
        "{events:?}"
    );
    assert!(events.iter().any(|e| matches!(e, UiEvent::Shift(None))));
    let (released, to_sync) = events
        .iter()
        .find_map(|e| match e {
            UiEvent::DeviceClosed {
                numbers_released,
                entries_to_sync,
            } => Some((*numbers_released, *entries_to_sync)),
            _ => None,
        })
        .unwrap();
    assert_eq!(released, 195);
    assert!(to_sync > 0, "the sale and the close are still to sync");
    // The status bar (which the closed message follows) counts the same entries.
    assert_eq!(s.status().unwrap().pending_entries, to_sync);
    let z_printed = std::fs::read_dir(&demo.sim)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains("-Z-"));
    assert!(z_printed, "a Z report went to the printer");
    assert_eq!(demo.store().closed_events().unwrap().len(), 1);

    // The store ended the session: the kiosk goes back to the PIN pad.
    assert!(
        events.iter().any(|e| matches!(e, UiEvent::Locked)),
        "{events:?}"
    );
    // Logged in again, the sell screen refuses with the store's sentence.
    logged_in(&mut s);
    match &run(&mut s, order(&ids[0]))[..] {
        [UiEvent::SaleRefused(m)] => assert!(m.contains("closed for the event"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Closing again says there is nothing to close.
    let m = refusal(&close_device(&mut s, rsu_store::DEMO_SUPERVISOR_PIN));
    assert!(m.starts_with("Nothing to close"), "{m}");
    // A kiosk started again on the closed device shows the closed message again.
    let mut again = demo.service();
    let events = run(&mut again, Command::Start);
    assert!(
        events.iter().any(|e| matches!(
            e,
            UiEvent::DeviceClosed {
                numbers_released: 195,
                ..
            }
        )),
        "{events:?}"
    );
}

#[test]
fn a_device_with_an_unconfirmed_receipt_is_not_closed() {
    let demo = demo();
    let mut s = demo.service();
    let ids = logged_in(&mut s);
    std::fs::create_dir_all(&demo.sim).unwrap();
    std::fs::write(demo.sim.join("PAPER_OUT"), b"").unwrap();
    let events = run(&mut s, order(&ids[0]));
    let UiEvent::PrintFailed(failure) = &events[1] else {
        panic!("{events:?}")
    };
    let m = refusal(&close_device(&mut s, rsu_store::DEMO_SUPERVISOR_PIN));
    assert!(
        m.contains(&failure.validation_number) && m.contains("not confirmed printed"),
        "{m}"
    );
    assert!(demo.store().closed_events().unwrap().is_empty());
    assert_eq!(demo.store().status().unwrap().numbers_left, 199);
}

#[test]
fn the_status_bar_turns_amber_at_the_low_water_mark() {
    let demo = demo();
    let mut s = demo.service();
    let ids = logged_in(&mut s);
    let v = s.status().unwrap();
    assert_eq!(
        (v.numbers_left, v.numbers_total, v.numbers_low),
        (200, 200, false)
    );
    assert!(
        v.jackpot_as_of.starts_with("estimated, as of"),
        "{}",
        v.jackpot_as_of
    );
    assert!(v.sync_text.starts_with("Offline · "), "{}", v.sync_text);
    let pending = |t: &str| -> u64 {
        t.split(" · ")
            .nth(1)
            .and_then(|p| p.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let before = pending(&v.sync_text);
    // The demo's low-water mark is 5 × 25 = 125: sell 25-ticket packages until below it.
    for _ in 0..3 {
        run(&mut s, order(&ids[2]));
    }
    let v = s.status().unwrap();
    assert_eq!(v.numbers_left, 125);
    assert!(!v.numbers_low);
    run(&mut s, order(&ids[0]));
    assert!(s.status().unwrap().numbers_low);
    assert!(pending(&s.status().unwrap().sync_text) >= before + 4);
}

#[test]
fn enrollment_that_cannot_happen_says_why_and_changes_nothing() {
    let demo = demo();
    let mut s = demo.service();
    // Nothing listens on port 9 of the loopback, and the demo has unsynced entries anyway.
    let events = run(
        &mut s,
        Command::Enroll {
            server_url: "http://127.0.0.1:9".into(),
            token: "not-a-token".into(),
        },
    );
    assert!(
        matches!(&events[0], UiEvent::SettingsMessage { text, error: true } if text.contains("nothing was changed")),
        "{events:?}"
    );
    let events = run(
        &mut s,
        Command::Enroll {
            server_url: " ".into(),
            token: "".into(),
        },
    );
    assert!(
        matches!(&events[0], UiEvent::SettingsMessage { text, error: true } if text.contains("server address")),
        "{events:?}"
    );
}

#[test]
fn money_typed_by_a_person_parses_to_minor_units() {
    let usd = rsu_core::Currency::new("USD").unwrap();
    assert_eq!(parse_money("100", usd), Some(10_000));
    assert_eq!(parse_money("100.5", usd), Some(10_050));
    assert_eq!(parse_money("$0.05", usd), Some(5));
    assert_eq!(parse_money("", usd), Some(0));
    assert_eq!(parse_money("1.234", usd), None);
    assert_eq!(parse_money("ten", usd), None);
}

#[test]
fn the_printer_form_becomes_a_configuration_or_a_sentence_saying_what_to_fix() {
    let db = std::path::Path::new("/tmp/x/rsu.sqlite3");
    let form = |t: &str, p: &str, b: &str| PrinterForm {
        transport: t.into(),
        path: p.into(),
        baud: b.into(),
        paper_width: "58mm".into(),
    };
    let c = config_of(&form("network", "printer.local:9101", ""), db).unwrap();
    assert_eq!(c.transport.describe(), "tcp printer.local:9101");
    assert_eq!(c.paper_width.label(), "58mm");
    let c = config_of(&form("serial", "/dev/ttyUSB0", "115200"), db).unwrap();
    assert!(c
        .transport
        .describe()
        .starts_with("serial /dev/ttyUSB0 115200"));
    assert!(config_of(&form("serial", "/dev/ttyUSB0", "fast"), db)
        .unwrap_err()
        .contains("baud"));
    assert!(config_of(&form("usb", "", ""), db)
        .unwrap_err()
        .starts_with("Enter"));
    let c = config_of(&form("sim", "", ""), db).unwrap();
    assert_eq!(c.transport.describe(), "simulated /tmp/x/receipts");
}
