//! Navigation, the lock button and the inactivity lock.

use slint::ComponentHandle;
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::kiosk::ui::{Activity, AppAdapter, Screen, SettingsAdapter};
use crate::kiosk::{Command, KioskHandle, MainWindow, UiEvent};

pub fn connect(window: &MainWindow, handle: &KioskHandle, inactivity: Duration) -> slint::Timer {
    let last_touch = Rc::new(Cell::new(Instant::now()));
    {
        let last_touch = last_touch.clone();
        window
            .global::<Activity>()
            .on_touched(move || last_touch.set(Instant::now()));
    }
    let app = window.global::<AppAdapter>();
    {
        let handle = handle.clone();
        let weak = window.as_weak();
        app.on_navigate(move |target| {
            let Some(w) = weak.upgrade() else { return };
            w.global::<AppAdapter>().set_screen(target);
            match target {
                Screen::Sell => handle.send(Command::Packages),
                Screen::Sales => handle.send(Command::Sales {
                    search: String::new(),
                }),
                Screen::Shift => handle.send(Command::Shift),
                Screen::Settings => {
                    let s = w.global::<SettingsAdapter>();
                    s.set_unlocked(false);
                    s.set_message("".into());
                }
                Screen::Login => {}
                Screen::Check => handle.send(Command::Results),
            }
        });
    }
    {
        let handle = handle.clone();
        app.on_lock(move || handle.send(Command::Lock));
    }
    // The inactivity lock: checked every few seconds on the UI thread (cheap, never blocks).
    let timer = slint::Timer::default();
    let weak = window.as_weak();
    let handle = handle.clone();
    timer.start(
        slint::TimerMode::Repeated,
        Duration::from_secs(2).min(inactivity),
        move || {
            let Some(w) = weak.upgrade() else { return };
            let app = w.global::<AppAdapter>();
            if app.get_screen() != Screen::Login && last_touch.get().elapsed() >= inactivity {
                last_touch.set(Instant::now());
                handle.send(Command::Lock);
            }
        },
    );
    timer
}

pub fn apply(window: &MainWindow, ev: &UiEvent) {
    let app = window.global::<AppAdapter>();
    match ev {
        UiEvent::LoggedIn { operator } => {
            app.set_operator_name(operator.into());
            app.set_screen(Screen::Sell);
        }
        UiEvent::Locked => {
            app.set_operator_name("".into());
            app.set_screen(Screen::Login);
        }
        UiEvent::PrintFailed(_) => app.set_selling_locked(true),
        UiEvent::PrintResolved(_) => app.set_selling_locked(false),
        _ => {}
    }
}
