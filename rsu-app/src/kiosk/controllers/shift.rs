//! The shift screen: running totals, open with a float, close with the Z report, and the close
//! of the whole device for the event.

use rsu_core::money::{Currency, Money};
use rsu_core::payload::ShiftClosePayload;

use super::{Device, Emit};
use crate::kiosk::model::UiEvent;
use crate::kiosk::view::{local_hm, parse_money, sentence, shift_view, z_summary};

fn message(text: String, error: bool) -> UiEvent {
    UiEvent::ShiftMessage { text, error }
}

/// The open shift's running totals, or no shift.
pub fn show(d: &mut Device, emit: Emit<'_>) {
    let operator = match d.store.current_operator() {
        Ok(op) => op.map(|o| o.name).unwrap_or_default(),
        Err(e) => return emit(message(sentence(&e), true)),
    };
    let shift = match d.store.current_shift() {
        Ok(s) => s,
        Err(e) => return emit(message(sentence(&e), true)),
    };
    let totals = match d.store.shift_totals() {
        Ok(t) => t,
        Err(e) => return emit(message(sentence(&e), true)),
    };
    let (Some(shift), Some(z)) = (shift, totals) else {
        emit(UiEvent::Shift(None));
        return;
    };
    emit(UiEvent::Shift(shift_view(operator, &shift, &z)));
}

fn currency(d: &Device) -> Option<Currency> {
    d.store
        .current_event()
        .ok()
        .flatten()
        .and_then(|e| Currency::new(&e.currency).ok())
}

/// Opens a shift with a cash float typed as money text, e.g. `100.00`.
pub fn open(d: &mut Device, float: &str, emit: Emit<'_>) {
    let Some(cur) = currency(d) else {
        emit(message(
            "This device has no event to sell for, so no shift can open.".into(),
            true,
        ));
        return;
    };
    let Some(minor) = parse_money(float, cur) else {
        emit(message(
            format!("{float:?} is not an amount: type the float like 100.00."),
            true,
        ));
        return;
    };
    match d.store.open_shift(minor) {
        Ok(s) => {
            emit(message(
                format!(
                    "Shift opened at {} with a float of {}.",
                    local_hm(s.opened_at),
                    Money::new(s.float_minor, cur)
                ),
                false,
            ));
            emit(UiEvent::ZReport(String::new()));
            show(d, emit);
        }
        Err(e) => emit(message(sentence(&e), true)),
    }
}

/// Closes the shift (supervisor PIN) and prints its Z report.
pub fn close(d: &mut Device, pin: &str, emit: Emit<'_>) {
    let z = match d.store.close_shift(pin) {
        Ok(z) => z,
        Err(e) => return emit(message(sentence(&e), true)),
    };
    let (summary, printed) = print_z_report(d, &z);
    emit(UiEvent::ZReport(summary));
    emit(message(format!("Shift closed. {printed}"), false));
    emit(UiEvent::Shift(None));
}

/// Closes the device for the event with a supervisor's PIN: the Z report of every shift it
/// closes prints as a shift close does, then the release and the entries still to sync.
/// A refusal (wrong PIN, a receipt not confirmed printed, nothing to close) changes nothing.
pub fn close_device(d: &mut Device, pin: &str, emit: Emit<'_>) {
    let report = match d.store.close_device(pin) {
        Ok(r) => r,
        Err(e) => return emit(message(sentence(&e), true)),
    };
    let mut summaries = Vec::new();
    let mut printed = Vec::new();
    for z in &report.shifts_closed {
        let (summary, p) = print_z_report(d, z);
        summaries.push(summary);
        printed.push(p);
    }
    printed.dedup();
    emit(UiEvent::ZReport(summaries.join("\n\n")));
    let shifts = match report.shifts_closed.len() {
        0 => "No shift was open.".to_string(),
        1 => format!("1 shift closed. {}", printed.join(" ")),
        n => format!("{n} shifts closed. {}", printed.join(" ")),
    };
    emit(message(
        format!("This device is closed for the event: no more sales. {shifts}"),
        false,
    ));
    emit(UiEvent::Shift(None));
    emit(UiEvent::DeviceClosed {
        numbers_released: report.numbers_released,
        entries_to_sync: report.entries_to_sync,
    });
    // The store ended the session with the close: back to the PIN pad, which keeps the
    // closed message and the entries still to sync in sight.
    emit(UiEvent::Locked);
}

/// The Z report as the shift screen shows it, printed; and a sentence on how printing went.
fn print_z_report(d: &Device, z: &ShiftClosePayload) -> (String, String) {
    let printed = match &d.printer {
        Some(p) => match p.print_z(&d.store, z) {
            Ok(_) => "The Z report printed.".to_string(),
            Err(e) => format!(
                "The Z report did not print ({e}); the shift is closed and its report is recorded."
            ),
        },
        None => "No printer is set up, so the Z report was not printed; it is recorded.".into(),
    };
    (z_summary(z), printed)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::KioskService;
    use crate::kiosk::model::{Command, UiEvent};

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

    #[test]
    fn a_float_that_is_not_an_amount_is_refused_in_a_sentence() {
        let demo = demo();
        let mut s = demo.service();
        logged_in(&mut s);
        let events = run(
            &mut s,
            Command::OpenShift {
                float: "ten".into(),
            },
        );
        assert!(
            matches!(&events[..], [UiEvent::ShiftMessage { text, error: true }] if text.contains("not an amount")),
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
}
