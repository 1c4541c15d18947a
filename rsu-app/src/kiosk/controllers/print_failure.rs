//! The print-failure screen: a receipt not confirmed printed locks selling until it is reprinted
//! (no supervisor needed) or spoiled (supervisor PIN).

use rsu_store::Sale;

use super::{printer_ready_text, Device, Emit};
use crate::kiosk::model::UiEvent;
use crate::kiosk::view::{capitalize, failure_view, sentence, short_fault};
use crate::printer::IssueError;

/// Shows the unconfirmed print, if any (at start-up, after login).
pub fn check_unresolved(d: &mut Device, emit: Emit<'_>) {
    match d.store.unresolved_print() {
        Ok(Some(sale)) => {
            let reason = sale.print_error.clone().unwrap_or_else(|| {
                "The kiosk stopped before this receipt was confirmed printed. Check the printer, then reprint it or have a supervisor spoil it.".into()
            });
            d.unresolved = Some(sale.validation_number.clone());
            emit(UiEvent::PrintFailed(failure_view(
                &sale,
                capitalize(&reason),
            )));
        }
        Ok(None) => d.unresolved = None,
        Err(e) => emit(UiEvent::SaleRefused(sentence(&e))),
    }
}

/// A receipt did not print: the status bar says why, and selling locks on this sale.
pub fn print_failed(d: &mut Device, sale: &Sale, e: IssueError, emit: Emit<'_>) {
    let reason = capitalize(&e.to_string());
    if let IssueError::Print(f) = &e {
        d.set_printer_state(format!("Printer: {}", short_fault(&f.error)), false);
    }
    d.unresolved = Some(sale.validation_number.clone());
    emit(UiEvent::PrintFailed(failure_view(sale, reason)));
}

/// Reprints the receipt that failed (no supervisor needed for an unconfirmed print).
pub fn reprint(d: &mut Device, emit: Emit<'_>) {
    let Some(vn) = d.unresolved.clone() else {
        emit(UiEvent::PrintResolved(String::new()));
        return;
    };
    let Some(printer) = d.printer.as_ref() else {
        emit(UiEvent::FailureMessage(
            "No printer is set up. A supervisor sets one in Settings → Printer.".into(),
        ));
        return;
    };
    emit(UiEvent::FailureBusy(true));
    let (sale, n) = match d.store.reprint(&vn, None) {
        Ok(x) => x,
        Err(e) => {
            emit(UiEvent::FailureBusy(false));
            emit(UiEvent::FailureMessage(sentence(&e)));
            return;
        }
    };
    match printer.issue(&mut d.store, &sale, Some(n)) {
        Ok((sale, _)) => {
            d.set_printer_state(printer_ready_text(printer), true);
            d.unresolved = None;
            emit(UiEvent::FailureBusy(false));
            emit(UiEvent::PrintResolved(format!(
                "Receipt {} reprinted (REPRINT {n}). Selling can continue.",
                sale.validation_number
            )));
            check_unresolved(d, emit);
        }
        Err(e) => {
            emit(UiEvent::FailureBusy(false));
            print_failed(d, &sale, e, emit);
            emit(UiEvent::FailureMessage(
                "The reprint did not print either. Fix the printer and try again, or have a supervisor spoil the receipt.".into(),
            ));
        }
    }
}

/// Spoils the receipt that failed (supervisor PIN).
pub fn spoil(d: &mut Device, pin: &str, emit: Emit<'_>) {
    let Some(vn) = d.unresolved.clone() else {
        emit(UiEvent::PrintResolved(String::new()));
        return;
    };
    match d.store.spoil(&vn, pin) {
        Ok(sale) => {
            d.unresolved = None;
            emit(UiEvent::PrintResolved(format!(
                "Receipt {} spoiled: its draw numbers will not be sold again. Selling can continue.",
                sale.validation_number
            )));
            check_unresolved(d, emit);
        }
        Err(e) => emit(UiEvent::FailureMessage(sentence(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::kiosk::model::{Command, UiEvent};

    #[test]
    fn a_paper_out_failure_records_the_printer_status_for_the_heartbeat() {
        use rsu_core::printer_status::PrinterCondition;
        let demo = demo();
        let mut s = demo.service();
        let ids = logged_in(&mut s);
        assert_eq!(demo.store().printer_status().unwrap(), None);
        run(&mut s, order(&ids[0]));
        let ok = demo.store().printer_status().unwrap().unwrap();
        assert_eq!(ok.condition, PrinterCondition::Ok);

        std::fs::write(demo.sim.join("PAPER_OUT"), b"").unwrap();
        let events = run(&mut s, order(&ids[0]));
        assert!(
            matches!(
                &events[..],
                [UiEvent::SaleCommitted(_), UiEvent::PrintFailed(_)]
            ),
            "{events:?}"
        );
        let out = demo.store().printer_status().unwrap().unwrap();
        assert_eq!(out.condition, PrinterCondition::PaperOut);
        assert!(
            out.detail
                .as_deref()
                .is_some_and(|d| d.contains("out of paper")),
            "{out:?}"
        );

        // Paper loaded: the reprint records the printer fine again.
        std::fs::remove_file(demo.sim.join("PAPER_OUT")).unwrap();
        run(&mut s, Command::ReprintFailed);
        assert_eq!(
            demo.store().printer_status().unwrap().unwrap().condition,
            PrinterCondition::Ok
        );
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
    fn a_kiosk_started_after_a_crash_mid_print_shows_the_unconfirmed_receipt() {
        let demo = demo();
        let mut s = demo.service();
        let ids = logged_in(&mut s);
        std::fs::create_dir_all(&demo.sim).unwrap();
        std::fs::write(demo.sim.join("PAPER_OUT"), b"").unwrap();
        let events = run(&mut s, order(&ids[0]));
        let UiEvent::PrintFailed(failure) = &events[1] else {
            panic!("{events:?}")
        };
        let mut again = demo.service();
        let events = run(&mut again, Command::Start);
        assert!(
            events.iter().any(|e| matches!(e, UiEvent::PrintFailed(f)
                if f.validation_number == failure.validation_number)),
            "{events:?}"
        );
    }
}
