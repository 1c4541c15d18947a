//! The print-failure screen: reprint, or spoil with a supervisor PIN.

use slint::ComponentHandle;

use crate::kiosk::ui::PrintFailureAdapter;
use crate::kiosk::{Command, KioskHandle, MainWindow, UiEvent};

pub fn connect(window: &MainWindow, handle: &KioskHandle) {
    let f = window.global::<PrintFailureAdapter>();
    {
        let handle = handle.clone();
        let weak = window.as_weak();
        f.on_reprint(move || {
            if let Some(w) = weak.upgrade() {
                let f = w.global::<PrintFailureAdapter>();
                f.set_busy(true);
                f.set_message("".into());
            }
            handle.send(Command::ReprintFailed);
        });
    }
    {
        let handle = handle.clone();
        let weak = window.as_weak();
        f.on_spoil(move |pin| {
            if let Some(w) = weak.upgrade() {
                let f = w.global::<PrintFailureAdapter>();
                f.set_asking_pin(false);
                f.set_message("".into());
            }
            handle.send(Command::SpoilFailed {
                supervisor_pin: pin.to_string(),
            });
        });
    }
}

pub fn apply(window: &MainWindow, ev: &UiEvent) {
    let f = window.global::<PrintFailureAdapter>();
    match ev {
        UiEvent::PrintFailed(v) => {
            f.set_validation_number(v.validation_number.clone().into());
            f.set_reason(v.reason.clone().into());
            f.set_summary(v.summary.clone().into());
            f.set_busy(false);
        }
        UiEvent::PrintResolved(_) => {
            f.set_busy(false);
            f.set_asking_pin(false);
            f.set_message("".into());
        }
        UiEvent::FailureBusy(b) => f.set_busy(*b),
        UiEvent::FailureMessage(m) => f.set_message(m.into()),
        _ => {}
    }
}
