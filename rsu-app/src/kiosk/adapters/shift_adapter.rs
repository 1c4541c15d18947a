//! The shift: open with a float, running totals, close with the Z report.

use slint::ComponentHandle;

use super::model;
use crate::kiosk::ui::{ShiftAdapter, ShiftLine};
use crate::kiosk::{Command, KioskHandle, MainWindow, UiEvent};

pub fn connect(window: &MainWindow, handle: &KioskHandle) {
    let s = window.global::<ShiftAdapter>();
    {
        let handle = handle.clone();
        s.on_open_shift(move |float| {
            handle.send(Command::OpenShift {
                float: float.to_string(),
            })
        });
    }
    {
        let handle = handle.clone();
        s.on_close_shift(move |pin| {
            handle.send(Command::CloseShift {
                supervisor_pin: pin.to_string(),
            })
        });
    }
    {
        let handle = handle.clone();
        s.on_close_device(move |pin| {
            handle.send(Command::CloseDevice {
                supervisor_pin: pin.to_string(),
            })
        });
    }
}

pub fn apply(window: &MainWindow, ev: &UiEvent) {
    let s = window.global::<ShiftAdapter>();
    match ev {
        UiEvent::Shift(Some(v)) => {
            s.set_open(true);
            s.set_operator_name(v.operator_name.clone().into());
            s.set_opened_at(v.opened_at.clone().into());
            s.set_lines(model(
                v.lines
                    .iter()
                    .map(|l| ShiftLine {
                        package: l.package.clone().into(),
                        sales: l.sales.clone().into(),
                        amount: l.amount.clone().into(),
                        voids: l.voids.clone().into(),
                    })
                    .collect(),
            ));
            s.set_sales_total(v.sales_total.clone().into());
            s.set_voids_total(v.voids_total.clone().into());
            s.set_float(v.float.clone().into());
            s.set_cash_expected(v.cash_expected.clone().into());
        }
        UiEvent::Shift(None) => s.set_open(false),
        UiEvent::ShiftMessage { text, error } => {
            s.set_message_is_error(*error);
            s.set_message(text.into());
        }
        UiEvent::ZReport(text) => s.set_z_report(text.into()),
        UiEvent::DeviceClosed {
            numbers_released,
            entries_to_sync,
        } => {
            s.set_numbers_released(numbers_released.to_string().into());
            s.set_entries_to_sync(entries_to_sync.to_string().into());
            s.set_device_closed(true);
        }
        // The entries still to sync count down as the daemon delivers them.
        UiEvent::Status(v) => s.set_entries_to_sync(v.pending_entries.to_string().into()),
        _ => {}
    }
}
