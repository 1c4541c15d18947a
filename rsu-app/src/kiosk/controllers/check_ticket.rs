//! The "Check a ticket" screen and the results panels: the draw results the device last pulled
//! (the final jackpot and the winning numbers), and whether a validation number (typed on the
//! on-screen keyboard, or scanned from the receipt by a keyboard-wedge scanner) won. Reachable
//! without a login and works with no network: it reads only the store.

use super::{Device, Emit};
use crate::kiosk::model::{TicketCheckView, UiEvent};
use crate::kiosk::view::{results_view, sentence, ticket_check_view};

/// The results panel: the latest drawn event's results held on the device, if any.
pub fn results(d: &mut Device, emit: Emit<'_>) {
    match d.store.latest_results() {
        Ok(r) => emit(UiEvent::Results(results_view(r.as_ref()))),
        Err(e) => tracing::warn!(error = %e, "cannot read the draw results"),
    }
}

/// Checks one typed or scanned validation number against the results held on the device.
pub fn check(d: &mut Device, input: &str, emit: Emit<'_>) {
    let view = match d.store.check_ticket(input) {
        Ok(c) => ticket_check_view(&c),
        Err(e) => TicketCheckView {
            title: "The ticket could not be checked".into(),
            detail: sentence(&e),
            ..TicketCheckView::default()
        },
    };
    emit(UiEvent::TicketChecked(view));
    // The panel beside the answer shows the results the answer came from.
    results(d, emit);
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::kiosk::model::{CheckOutcome, Command, UiEvent};
    use rsu_core::config::Winner;

    fn checked(events: &[UiEvent]) -> &crate::kiosk::model::TicketCheckView {
        match events {
            [UiEvent::TicketChecked(v), UiEvent::Results(_)] => v,
            other => panic!("{other:?}"),
        }
    }

    fn check(s: &mut super::super::KioskService, input: &str) -> Vec<UiEvent> {
        run(
            s,
            Command::CheckTicket {
                input: input.into(),
            },
        )
    }

    #[test]
    fn a_ticket_is_checked_against_the_pulled_results_without_a_login() {
        let demo = demo();
        let mut s = demo.service();
        let ids = logged_in(&mut s);
        let events = run(&mut s, order(&ids[1]));
        let UiEvent::SalePrinted(sold) = &events[1] else {
            panic!("{events:?}")
        };
        run(&mut s, Command::Lock);

        // Before the results arrive.
        let events = check(&mut s, &sold.validation_number);
        let v = checked(&events);
        assert_eq!(v.outcome, CheckOutcome::NoResults);
        assert_eq!(v.title, "Results not yet received \u{2014} sync the device");
        assert_eq!(
            run(&mut s, Command::Results),
            vec![UiEvent::Results(Default::default())]
        );

        // The daemon applies the configuration that carries the draw.
        let mut store = demo.store();
        let version = store.status().unwrap().config_version + 1;
        let cfg = rsu_store::demo_drawn_config(
            store.now().unwrap(),
            version,
            2_000,
            vec![Winner {
                position: 1,
                winner_index: 1,
                prize_name: "50/50 Winner".into(),
                prize_value: 1_000,
                draw_number: 1003,
                validation_number: sold.validation_number.clone(),
                redrawn: false,
            }],
        )
        .unwrap();
        assert!(store.apply_config(&cfg).unwrap());

        let events = check(&mut s, &sold.validation_number.to_lowercase());
        let v = checked(&events);
        assert_eq!(v.outcome, CheckOutcome::Winner);
        assert_eq!(v.title, "Winner: 50/50 Winner $10.00");
        assert!(v.detail.starts_with("Draw number 1003 · "), "{}", v.detail);

        let events = check(&mut s, "RSU001-2026-999999-ZZZZ");
        assert_eq!(checked(&events).outcome, CheckOutcome::NotAWinner);
        let events = check(&mut s, "not a number");
        let v = checked(&events);
        assert_eq!(v.outcome, CheckOutcome::Malformed);
        assert!(v.detail.contains("\"not a number\""), "{}", v.detail);

        let events = run(&mut s, Command::Results);
        let [UiEvent::Results(r)] = &events[..] else {
            panic!("{events:?}")
        };
        assert!(r.available);
        assert_eq!(r.final_jackpot, "$10.00");
        assert_eq!(r.winners[0].draw_number, "1003");
        // The status bar says the jackpot is final.
        let status = s.status().unwrap();
        assert_eq!(status.jackpot_label, "Final jackpot");
        assert_eq!(status.jackpot, "$10.00");
        assert!(status.jackpot_as_of.starts_with("drawn "), "{status:?}");
    }
}
