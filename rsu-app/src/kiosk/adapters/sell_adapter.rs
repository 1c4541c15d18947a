//! The sell screen: packages, confirmation, result.

use slint::ComponentHandle;

use super::model;
use crate::kiosk::model::SellOrder;
use crate::kiosk::ui::{PackageItem, ReceiptState, SaleStage, SellAdapter};
use crate::kiosk::{Command, KioskHandle, MainWindow, UiEvent};

pub fn connect(window: &MainWindow, handle: &KioskHandle) {
    let s = window.global::<SellAdapter>();
    {
        let handle = handle.clone();
        let weak = window.as_weak();
        s.on_sell(move |req| {
            // Show progress at once: the sale and its print run on the controller thread.
            if let Some(w) = weak.upgrade() {
                let s = w.global::<SellAdapter>();
                s.set_message("".into());
                s.set_validation_number("".into());
                s.set_draw_numbers("".into());
                s.set_sold_summary("".into());
                s.set_print_state(ReceiptState::Saving);
                s.set_stage(SaleStage::Result);
            }
            handle.send(Command::Sell(SellOrder {
                package_id: req.package_id.to_string(),
                card: req.card,
                card_reference: req.card_reference.to_string(),
                customer_name: req.customer_name.to_string(),
                customer_phone: req.customer_phone.to_string(),
                customer_email: req.customer_email.to_string(),
            }));
        });
    }
    {
        let handle = handle.clone();
        let weak = window.as_weak();
        s.on_next_sale(move || {
            if let Some(w) = weak.upgrade() {
                let s = w.global::<SellAdapter>();
                s.set_stage(SaleStage::Choose);
                s.set_print_state(ReceiptState::Idle);
                s.set_message("".into());
            }
            handle.send(Command::Packages);
        });
    }
}

fn show_sale(s: &SellAdapter<'_>, v: &crate::kiosk::model::SaleView) {
    s.set_validation_number(v.validation_number.clone().into());
    s.set_draw_numbers(v.draw_numbers.clone().into());
    s.set_sold_summary(v.summary.clone().into());
}

pub fn apply(window: &MainWindow, ev: &UiEvent) {
    let s = window.global::<SellAdapter>();
    match ev {
        UiEvent::LoggedIn { .. } | UiEvent::Locked => {
            s.set_stage(SaleStage::Choose);
            s.set_print_state(ReceiptState::Idle);
            s.set_message("".into());
        }
        UiEvent::Packages(list) => s.set_packages(model(
            list.iter()
                .map(|p| PackageItem {
                    id: p.id.clone().into(),
                    name: p.name.clone().into(),
                    tickets: p.tickets.clone().into(),
                    price: p.price.clone().into(),
                    perks: p.perks.clone().into(),
                })
                .collect(),
        )),
        UiEvent::SaleRefused(m) => {
            if s.get_stage() == SaleStage::Result && s.get_print_state() == ReceiptState::Saving {
                s.set_stage(if s.get_chosen() >= 0 {
                    SaleStage::Confirm
                } else {
                    SaleStage::Choose
                });
                s.set_print_state(ReceiptState::Idle);
            }
            s.set_message_is_error(true);
            s.set_message(m.into());
        }
        UiEvent::SaleCommitted(v) => {
            s.set_stage(SaleStage::Result);
            s.set_print_state(ReceiptState::Printing);
            show_sale(&s, v);
        }
        UiEvent::SalePrinted(v) => {
            s.set_print_state(ReceiptState::Printed);
            show_sale(&s, v);
        }
        UiEvent::PrintFailed(_) if s.get_print_state() == ReceiptState::Printing => {
            s.set_print_state(ReceiptState::Failed);
        }
        UiEvent::PrintResolved(m) => {
            s.set_stage(SaleStage::Choose);
            s.set_print_state(ReceiptState::Idle);
            s.set_message_is_error(false);
            s.set_message(m.into());
        }
        _ => {}
    }
}
