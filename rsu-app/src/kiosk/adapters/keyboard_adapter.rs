//! The on-screen keyboard: every key the view sends is dispatched to the window as a key press
//! and a key release, exactly as a physical keyboard's would be, so it types into whichever text
//! field has the focus (and backspace, `Key.Backspace`, deletes there).

use slint::platform::WindowEvent;
use slint::{ComponentHandle, SharedString};

use crate::kiosk::ui::KeyboardAdapter;
use crate::kiosk::MainWindow;

pub fn connect(window: &MainWindow) {
    let weak = window.as_weak();
    window.global::<KeyboardAdapter>().on_key(move |text| {
        if let Some(w) = weak.upgrade() {
            type_key(w.window(), text);
        }
    });
}

/// Sends one key (its text, or one of `slint::platform::Key`'s codes) to the focused field.
pub fn type_key(window: &slint::Window, text: SharedString) {
    window.dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
    window.dispatch_event(WindowEvent::KeyReleased { text });
}
