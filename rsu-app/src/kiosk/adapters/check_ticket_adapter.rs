//! "Check a ticket" and the results panels: opening the screen (from the PIN pad or the sell
//! screen), a typed or scanned number sent to the controller, and going back to where it came
//! from (the PIN pad when nobody is logged in).

use slint::ComponentHandle;

use super::model;
use crate::kiosk::ui::{
    AppAdapter, CheckOutcome as UiOutcome, CheckTicketAdapter, ResultLine, ResultsAdapter, Screen,
};
use crate::kiosk::{model::CheckOutcome, Command, KioskHandle, MainWindow, UiEvent};

pub fn connect(window: &MainWindow, handle: &KioskHandle) {
    let c = window.global::<CheckTicketAdapter>();
    {
        let handle = handle.clone();
        let weak = window.as_weak();
        c.on_open(move || {
            let Some(w) = weak.upgrade() else { return };
            let c = w.global::<CheckTicketAdapter>();
            c.set_input("".into());
            c.set_outcome(UiOutcome::None);
            c.set_verdict("".into());
            c.set_detail("".into());
            w.global::<AppAdapter>().set_screen(Screen::Check);
            handle.send(Command::Results);
        });
    }
    {
        let handle = handle.clone();
        c.on_check(move |input| {
            handle.send(Command::CheckTicket {
                input: input.to_string(),
            });
        });
    }
    {
        let handle = handle.clone();
        let weak = window.as_weak();
        c.on_back(move || {
            let Some(w) = weak.upgrade() else { return };
            let app = w.global::<AppAdapter>();
            if app.get_operator_name().is_empty() {
                app.set_screen(Screen::Login);
            } else {
                app.set_screen(Screen::Sell);
                handle.send(Command::Packages);
            }
        });
    }
}

fn outcome(o: CheckOutcome) -> UiOutcome {
    match o {
        CheckOutcome::None => UiOutcome::None,
        CheckOutcome::Winner => UiOutcome::Winner,
        CheckOutcome::NotAWinner => UiOutcome::NotWinner,
        CheckOutcome::NoResults => UiOutcome::NoResults,
        CheckOutcome::Malformed => UiOutcome::Malformed,
    }
}

pub fn apply(window: &MainWindow, ev: &UiEvent) {
    match ev {
        UiEvent::Results(r) => {
            let a = window.global::<ResultsAdapter>();
            a.set_available(r.available);
            a.set_title(r.title.clone().into());
            a.set_final_jackpot(r.final_jackpot.clone().into());
            a.set_winners(model(
                r.winners
                    .iter()
                    .map(|w| ResultLine {
                        prize: w.prize.clone().into(),
                        value: w.value.clone().into(),
                        draw_number: w.draw_number.clone().into(),
                        redrawn: w.redrawn,
                    })
                    .collect(),
            ));
        }
        UiEvent::TicketChecked(v) => {
            let c = window.global::<CheckTicketAdapter>();
            c.set_outcome(outcome(v.outcome));
            c.set_verdict(v.title.clone().into());
            c.set_detail(v.detail.clone().into());
        }
        _ => {}
    }
}
