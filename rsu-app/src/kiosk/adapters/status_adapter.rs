//! The status bar.

use slint::ComponentHandle;

use crate::kiosk::ui::StatusAdapter;
use crate::kiosk::{MainWindow, UiEvent};

pub fn apply(window: &MainWindow, ev: &UiEvent) {
    let UiEvent::Status(v) = ev else { return };
    let s = window.global::<StatusAdapter>();
    s.set_event_name(v.event_name.clone().into());
    s.set_jackpot_label(v.jackpot_label.clone().into());
    s.set_jackpot(v.jackpot.clone().into());
    s.set_jackpot_as_of(v.jackpot_as_of.clone().into());
    s.set_numbers_left(v.numbers_left.clamp(0, i32::MAX as i64) as i32);
    s.set_numbers_total(v.numbers_total.clamp(0, i32::MAX as i64) as i32);
    s.set_numbers_low(v.numbers_low);
    s.set_online(v.online);
    s.set_sync_text(v.sync_text.clone().into());
    s.set_printer_text(v.printer_text.clone().into());
    s.set_printer_ok(v.printer_ok);
    s.set_clock(v.clock.clone().into());
}
