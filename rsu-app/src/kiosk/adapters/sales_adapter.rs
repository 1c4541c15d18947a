//! Recent sales: search, reprint and void.

use slint::ComponentHandle;

use super::model;
use crate::kiosk::ui::{SaleRow, SalesAction, SalesAdapter};
use crate::kiosk::{Command, KioskHandle, MainWindow, UiEvent};

pub fn connect(window: &MainWindow, handle: &KioskHandle) {
    let s = window.global::<SalesAdapter>();
    {
        let handle = handle.clone();
        s.on_search(move |text| {
            handle.send(Command::Sales {
                search: text.to_string(),
            })
        });
    }
    {
        let handle = handle.clone();
        s.on_reprint(move |req| {
            handle.send(Command::Reprint {
                validation_number: req.validation_number.to_string(),
                supervisor_pin: req.supervisor_pin.to_string(),
            })
        });
    }
    {
        let handle = handle.clone();
        s.on_void(move |req| {
            handle.send(Command::Void {
                validation_number: req.validation_number.to_string(),
                supervisor_pin: req.supervisor_pin.to_string(),
                reason: req.reason.to_string(),
            })
        });
    }
}

pub fn apply(window: &MainWindow, ev: &UiEvent) {
    let s = window.global::<SalesAdapter>();
    match ev {
        UiEvent::Sales(rows) => {
            s.set_rows(model(
                rows.iter()
                    .map(|r| SaleRow {
                        validation_number: r.validation_number.clone().into(),
                        package: r.package.clone().into(),
                        total: r.total.clone().into(),
                        draw_numbers: r.draw_numbers.clone().into(),
                        state: r.state.clone().into(),
                        time: r.time.clone().into(),
                        voided: r.voided,
                    })
                    .collect(),
            ));
            s.set_selected(-1);
            s.set_action(SalesAction::Idle);
        }
        UiEvent::SalesMessage { text, error } => {
            s.set_message_is_error(*error);
            s.set_message(text.into());
        }
        _ => {}
    }
}
