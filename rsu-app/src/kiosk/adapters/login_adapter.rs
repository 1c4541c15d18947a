//! The PIN pad.

use slint::ComponentHandle;

use crate::kiosk::ui::LoginAdapter;
use crate::kiosk::{Command, KioskHandle, MainWindow, UiEvent};

pub fn connect(window: &MainWindow, handle: &KioskHandle) {
    let handle = handle.clone();
    let weak = window.as_weak();
    window.global::<LoginAdapter>().on_login(move |pin| {
        if let Some(w) = weak.upgrade() {
            let l = w.global::<LoginAdapter>();
            l.set_busy(true);
            l.set_message("".into());
        }
        handle.send(Command::Login {
            pin: pin.to_string(),
        });
    });
}

pub fn apply(window: &MainWindow, ev: &UiEvent) {
    let l = window.global::<LoginAdapter>();
    match ev {
        UiEvent::LoggedIn { .. } => {
            l.set_busy(false);
            l.set_message("".into());
        }
        UiEvent::Locked => l.set_busy(false),
        UiEvent::LoginMessage(m) => {
            l.set_busy(false);
            l.set_message(m.into());
        }
        UiEvent::Device(name) => l.set_device_name(name.into()),
        _ => {}
    }
}
