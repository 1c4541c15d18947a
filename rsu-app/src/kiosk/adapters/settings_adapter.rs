//! Supervisor settings: enrollment, printer, about.

use slint::ComponentHandle;

use crate::kiosk::model::PrinterForm;
use crate::kiosk::ui::SettingsAdapter;
use crate::kiosk::{Command, KioskHandle, MainWindow, UiEvent};

pub fn connect(window: &MainWindow, handle: &KioskHandle) {
    let s = window.global::<SettingsAdapter>();
    {
        let handle = handle.clone();
        s.on_unlock(move |pin| {
            handle.send(Command::UnlockSettings {
                supervisor_pin: pin.to_string(),
            })
        });
    }
    {
        let handle = handle.clone();
        s.on_enroll(move |url, token| {
            handle.send(Command::Enroll {
                server_url: url.to_string(),
                token: token.to_string(),
            })
        });
    }
    {
        let handle = handle.clone();
        s.on_save_printer(move |p| {
            handle.send(Command::SavePrinter(PrinterForm {
                transport: p.transport.to_string(),
                path: p.path.to_string(),
                baud: p.baud.to_string(),
                paper_width: p.paper_width.to_string(),
            }))
        });
    }
    {
        let handle = handle.clone();
        s.on_test_print(move || handle.send(Command::TestPrint));
    }
}

pub fn apply(window: &MainWindow, ev: &UiEvent) {
    let s = window.global::<SettingsAdapter>();
    match ev {
        UiEvent::Locked | UiEvent::LoggedIn { .. } => s.set_unlocked(false),
        UiEvent::SettingsUnlocked(b) => s.set_unlocked(*b),
        UiEvent::SettingsMessage { text, error } => {
            s.set_message_is_error(*error);
            s.set_message(text.into());
        }
        UiEvent::Settings(v) => {
            s.set_server_url(v.server_url.clone().into());
            s.set_enroll_available(v.enroll_available);
            s.set_transport(v.transport.clone().into());
            s.set_path(v.path.clone().into());
            s.set_baud(v.baud.clone().into());
            s.set_paper_width(v.paper_width.clone().into());
            s.set_version(v.version.clone().into());
            // Two lines of 32 hex digits: a SHA-256 fits the About card at arm's length.
            let hash = if v.app_hash.len() == 64 && v.app_hash.is_ascii() {
                format!("{}\n{}", &v.app_hash[..32], &v.app_hash[32..])
            } else {
                v.app_hash.clone()
            };
            s.set_app_hash(hash.into());
            s.set_device_id(format!("{}\n{}", v.device_name, v.device_id).into());
            s.set_epoch(v.epoch.clone().into());
            s.set_database(v.database.clone().into());
        }
        _ => {}
    }
}
