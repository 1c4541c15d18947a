//! Supervisor settings: unlock, enrollment with a server, the printer and the About card.

use super::{printer_ready_text, sell, Device, Emit};
use crate::kiosk::model::{PrinterForm, SettingsView, UiEvent};
use crate::kiosk::view::{config_of, default_form, form_of, sentence};
use crate::printer::{self, Printer};

fn message(text: String, error: bool) -> UiEvent {
    UiEvent::SettingsMessage { text, error }
}

/// SHA-256 of the running program, hex (the "app hash" of docs/design.md §6).
pub fn app_hash() -> String {
    use sha2::Digest;
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return format!("unknown ({e})"),
    };
    match std::fs::File::open(&exe) {
        Ok(mut f) => {
            let mut hasher = sha2::Sha256::new();
            match std::io::copy(&mut f, &mut hasher) {
                Ok(_) => hasher
                    .finalize()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
                Err(e) => format!("unknown ({e})"),
            }
        }
        Err(e) => format!("unknown ({e})"),
    }
}

/// Unlocks the settings with a supervisor PIN and shows them.
pub fn unlock(d: &mut Device, pin: &str, emit: Emit<'_>) {
    match d.store.authenticate(pin, true) {
        Ok(_) => {
            emit(UiEvent::SettingsUnlocked(true));
            emit(message(String::new(), false));
            show(d, emit);
        }
        Err(e) => emit(message(sentence(&e), true)),
    }
}

/// Enrolls this device with a server (a network round trip on the controller thread, never on
/// the UI thread). Refused while sales are waiting to sync.
pub fn enroll(d: &mut Device, server_url: &str, token: &str, emit: Emit<'_>) {
    let (url, token) = (server_url.trim(), token.trim());
    if url.is_empty() || token.is_empty() {
        emit(message(
            "Enter the server address and the enrollment token from the raffle manager.".into(),
            true,
        ));
        return;
    }
    match rsu_sync::enroll::enroll(&d.db, url, token) {
        Ok(report) => {
            emit(message(
                format!(
                    "Enrolled as RSU {} of {} (epoch {}). {} draw numbers on hand.",
                    report.rsu_no, report.organization_name, report.epoch, report.numbers_left
                ),
                false,
            ));
            show(d, emit);
            sell::packages(d, emit);
        }
        Err(e) => emit(message(
            format!("Enrollment failed, nothing was changed: {e}"),
            true,
        )),
    }
}

/// The settings as they are: server, printer form, About.
fn show(d: &mut Device, emit: Emit<'_>) {
    let status = d.store.status().ok();
    let hash = d.app_hash.get_or_insert_with(app_hash).clone();
    let form = match &d.printer {
        Some(p) => form_of(&p.config),
        None => default_form(),
    };
    let server_url = d
        .store
        .connection()
        .query_row("SELECT server_url FROM device WHERE id = 1", [], |r| {
            r.get::<_, Option<String>>(0)
        })
        .ok()
        .flatten()
        .unwrap_or_default();
    emit(UiEvent::Settings(SettingsView {
        server_url,
        enroll_available: false,
        transport: form.transport,
        path: form.path,
        baud: form.baud,
        paper_width: form.paper_width,
        version: env!("CARGO_PKG_VERSION").into(),
        app_hash: hash,
        device_id: status
            .as_ref()
            .map(|s| format!("{} (RSU {:03})", s.rsu_id, s.rsu_no))
            .unwrap_or_default(),
        device_name: status
            .as_ref()
            .map(|s| s.device_name.clone())
            .unwrap_or_default(),
        epoch: status
            .as_ref()
            .map(|s| s.epoch.to_string())
            .unwrap_or_default(),
        database: d.db.display().to_string(),
    }));
}

/// Saves the printer form and starts printing on it.
pub fn save_printer(d: &mut Device, form: &PrinterForm, emit: Emit<'_>) {
    let config = match config_of(form, &d.db) {
        Ok(c) => c,
        Err(text) => return emit(message(text, true)),
    };
    match printer::save_settings(&d.db, &config) {
        Ok(path) => {
            let p = Printer::start(config);
            d.set_printer_state(printer_ready_text(&p), true);
            emit(message(
                format!(
                    "Printer saved: {} ({}), in {}. Print a test page to check it.",
                    p.describe(),
                    p.config.paper_width.label(),
                    path.display()
                ),
                false,
            ));
            d.printer = Some(p);
        }
        Err(e) => emit(message(
            format!("The printer settings were not saved: {e:#}"),
            true,
        )),
    }
}

/// Prints the test page; the status bar follows how it went.
pub fn test_print(d: &mut Device, emit: Emit<'_>) {
    let Some(p) = &d.printer else {
        emit(message(
            "No printer is set up: choose one and save it first.".into(),
            true,
        ));
        return;
    };
    match p.print_test_page(&d.store) {
        Ok(r) => {
            d.set_printer_state(printer_ready_text(p), true);
            emit(message(
                format!(
                    "Test page printed on {}{}.",
                    r.transport,
                    if r.confirmed {
                        " and the printer confirmed it"
                    } else {
                        ""
                    }
                ),
                false,
            ));
        }
        Err(e) => {
            let text = format!("The test page did not print: {e:#}");
            d.set_printer_state("Printer: test page failed".into(), false);
            emit(message(text, true));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::kiosk::model::{Command, PrinterForm, UiEvent};

    #[test]
    fn enrollment_that_cannot_happen_says_why_and_changes_nothing() {
        let demo = demo();
        let mut s = demo.service();
        // Nothing listens on port 9 of the loopback, and the demo has unsynced entries anyway.
        let events = run(
            &mut s,
            Command::Enroll {
                server_url: "http://127.0.0.1:9".into(),
                token: "not-a-token".into(),
            },
        );
        assert!(
            matches!(&events[0], UiEvent::SettingsMessage { text, error: true } if text.contains("nothing was changed")),
            "{events:?}"
        );
        let events = run(
            &mut s,
            Command::Enroll {
                server_url: " ".into(),
                token: "".into(),
            },
        );
        assert!(
            matches!(&events[0], UiEvent::SettingsMessage { text, error: true } if text.contains("server address")),
            "{events:?}"
        );
    }

    #[test]
    fn only_a_supervisor_unlocks_the_settings_which_show_the_printer_and_the_device() {
        let demo = demo();
        let mut s = demo.service();
        let events = run(
            &mut s,
            Command::UnlockSettings {
                supervisor_pin: rsu_store::DEMO_SELLER_PIN.into(),
            },
        );
        assert!(
            matches!(&events[..], [UiEvent::SettingsMessage { error: true, .. }]),
            "{events:?}"
        );
        let events = run(
            &mut s,
            Command::UnlockSettings {
                supervisor_pin: rsu_store::DEMO_SUPERVISOR_PIN.into(),
            },
        );
        assert!(matches!(&events[0], UiEvent::SettingsUnlocked(true)));
        let Some(UiEvent::Settings(v)) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!(v.transport, "sim");
        assert!(v.device_id.contains("RSU"), "{}", v.device_id);
        assert_eq!(v.database, demo.db.display().to_string());
    }

    #[test]
    fn a_bad_printer_form_is_not_saved_and_a_good_one_prints_a_test_page() {
        let demo = demo();
        let mut s = demo.service();
        let form = |path: &str| PrinterForm {
            transport: "usb".into(),
            path: path.into(),
            baud: "38400".into(),
            paper_width: "80mm".into(),
        };
        let events = run(&mut s, Command::SavePrinter(form("")));
        assert!(
            matches!(&events[..], [UiEvent::SettingsMessage { text, error: true }] if text.starts_with("Enter")),
            "{events:?}"
        );
        assert!(!crate::printer::settings_path(&demo.db).exists());
        let events = run(
            &mut s,
            Command::SavePrinter(PrinterForm {
                transport: "sim".into(),
                ..form("")
            }),
        );
        assert!(
            matches!(&events[..], [UiEvent::SettingsMessage { text, error: false }] if text.starts_with("Printer saved")),
            "{events:?}"
        );
        let events = run(&mut s, Command::TestPrint);
        assert!(
            matches!(&events[..], [UiEvent::SettingsMessage { text, error: false }] if text.starts_with("Test page printed")),
            "{events:?}"
        );
    }
}
