//! Recent sales: search, reprint and void (both with a supervisor PIN).

use super::{print_failure, Device, Emit};
use crate::kiosk::model::UiEvent;
use crate::kiosk::view::{sale_row, sentence};

fn message(text: String, error: bool) -> UiEvent {
    UiEvent::SalesMessage { text, error }
}

/// The 50 most recent sales whose validation number contains `search`.
pub fn list(d: &mut Device, search: &str, emit: Emit<'_>) {
    let search = search.trim();
    match d
        .store
        .recent_sales(50, (!search.is_empty()).then_some(search))
    {
        Ok(list) => emit(UiEvent::Sales(list.iter().map(sale_row).collect())),
        Err(e) => emit(message(sentence(&e), true)),
    }
}

/// Reprints a printed receipt, marked REPRINT n.
pub fn reprint(d: &mut Device, vn: &str, pin: &str, emit: Emit<'_>) {
    let Some(printer) = d.printer.as_ref() else {
        emit(message(
            "No printer is set up. A supervisor sets one in Settings → Printer.".into(),
            true,
        ));
        return;
    };
    let (sale, n) = match d.store.reprint(vn, Some(pin)) {
        Ok(x) => x,
        Err(e) => {
            emit(message(sentence(&e), true));
            return;
        }
    };
    match printer.issue(&mut d.store, &sale, Some(n)) {
        Ok((sale, _)) => {
            emit(message(
                format!(
                    "Receipt {} reprinted, marked REPRINT {n}.",
                    sale.validation_number
                ),
                false,
            ));
            list(d, "", emit);
        }
        Err(e) => {
            print_failure::print_failed(d, &sale, e, emit);
            list(d, "", emit);
        }
    }
}

/// Voids a whole sale with a reason; its draw numbers are never sold again.
pub fn void(d: &mut Device, vn: &str, pin: &str, reason: &str, emit: Emit<'_>) {
    match d.store.void(vn, pin, reason) {
        Ok(sale) => {
            emit(message(
                format!(
                    "Voided {} ({}): {}. Its draw numbers will not be sold again.",
                    sale.validation_number, sale.total, reason
                ),
                false,
            ));
            list(d, "", emit);
        }
        Err(e) => emit(message(sentence(&e), true)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::kiosk::model::{Command, UiEvent};

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
    fn a_supervisor_reprints_a_printed_receipt_marked_reprint_and_a_search_finds_it() {
        let demo = demo();
        let mut s = demo.service();
        let ids = logged_in(&mut s);
        let events = run(&mut s, order(&ids[0]));
        let UiEvent::SalePrinted(sale) = &events[1] else {
            panic!("{events:?}")
        };
        let vn = sale.validation_number.clone();
        let reprint = |pin: &str| Command::Reprint {
            validation_number: vn.clone(),
            supervisor_pin: pin.into(),
        };
        assert!(matches!(
            &run(&mut s, reprint(rsu_store::DEMO_SELLER_PIN))[..],
            [UiEvent::SalesMessage { error: true, .. }]
        ));
        let events = run(&mut s, reprint(rsu_store::DEMO_SUPERVISOR_PIN));
        assert!(
            matches!(&events[0], UiEvent::SalesMessage { text, error: false } if text.contains("REPRINT 1")),
            "{events:?}"
        );
        let events = run(&mut s, Command::Sales { search: vn.clone() });
        match &events[..] {
            [UiEvent::Sales(rows)] => {
                assert_eq!(rows.len(), 1);
                assert_eq!(rows[0].validation_number, vn);
            }
            other => panic!("{other:?}"),
        }
    }
}
