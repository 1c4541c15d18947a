//! One adapter per view: `connect` forwards the view's callbacks to the controller as commands,
//! `apply` sets the view's properties from the controller's events. Only this module (and the
//! `.slint` files) know about widgets; everything runs on the UI thread.

pub mod app_adapter;
pub mod check_ticket_adapter;
pub mod keyboard_adapter;
pub mod login_adapter;
pub mod print_failure_adapter;
pub mod sales_adapter;
pub mod sell_adapter;
pub mod settings_adapter;
pub mod shift_adapter;
pub mod status_adapter;

use super::{KioskHandle, MainWindow, UiEvent};
use std::time::Duration;

/// Connects every view; returns the inactivity timer, which must live as long as the window.
pub fn connect_all(
    window: &MainWindow,
    handle: &KioskHandle,
    inactivity: Duration,
) -> slint::Timer {
    login_adapter::connect(window, handle);
    sell_adapter::connect(window, handle);
    print_failure_adapter::connect(window, handle);
    sales_adapter::connect(window, handle);
    shift_adapter::connect(window, handle);
    settings_adapter::connect(window, handle);
    keyboard_adapter::connect(window);
    check_ticket_adapter::connect(window, handle);
    app_adapter::connect(window, handle, inactivity)
}

/// Shows one controller event.
pub fn apply(window: &MainWindow, ev: UiEvent) {
    match ev {
        UiEvent::LoggedIn { .. } | UiEvent::Locked => {
            app_adapter::apply(window, &ev);
            login_adapter::apply(window, &ev);
            sell_adapter::apply(window, &ev);
            settings_adapter::apply(window, &ev);
        }
        UiEvent::LoginMessage(_) | UiEvent::Device(_) => login_adapter::apply(window, &ev),
        UiEvent::Packages(_)
        | UiEvent::SaleRefused(_)
        | UiEvent::SaleCommitted(_)
        | UiEvent::SalePrinted(_) => sell_adapter::apply(window, &ev),
        UiEvent::PrintFailed(_) | UiEvent::PrintResolved(_) => {
            app_adapter::apply(window, &ev);
            sell_adapter::apply(window, &ev);
            print_failure_adapter::apply(window, &ev);
        }
        UiEvent::FailureBusy(_) | UiEvent::FailureMessage(_) => {
            print_failure_adapter::apply(window, &ev)
        }
        UiEvent::Sales(_) | UiEvent::SalesMessage { .. } => sales_adapter::apply(window, &ev),
        UiEvent::Shift(_)
        | UiEvent::ShiftMessage { .. }
        | UiEvent::ZReport(_)
        | UiEvent::DeviceClosed { .. } => shift_adapter::apply(window, &ev),
        UiEvent::Status(_) => {
            status_adapter::apply(window, &ev);
            shift_adapter::apply(window, &ev);
        }
        UiEvent::Settings(_) | UiEvent::SettingsUnlocked(_) | UiEvent::SettingsMessage { .. } => {
            settings_adapter::apply(window, &ev)
        }
        UiEvent::Results(_) | UiEvent::TicketChecked(_) => check_ticket_adapter::apply(window, &ev),
    }
}

/// A Slint list model from a vector.
pub(crate) fn model<T: Clone + 'static>(items: Vec<T>) -> slint::ModelRc<T> {
    slint::ModelRc::new(slint::VecModel::from(items))
}
