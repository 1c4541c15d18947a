//! The sell screen: the packages on sale, and a sale from the confirmation screen's answers.

use rsu_core::payload::{CustomerInfo, Payment, PaymentMethod};
use rsu_store::SaleRequest;
use std::convert::Infallible;

use super::{print_failure, printer_ready_text, Device, Emit};
use crate::issue::{issue_sale, SaleError};
use crate::kiosk::model::{SellOrder, UiEvent};
use crate::kiosk::view::{package_view, sale_view, sentence};

pub fn packages(d: &mut Device, emit: Emit<'_>) {
    let views = d.store.packages_on_sale().and_then(|list| {
        list.iter()
            .map(|p| Ok(package_view(p, &d.store.package_perk_names(p.id)?)))
            .collect::<Result<Vec<_>, rsu_store::StoreError>>()
    });
    match views {
        Ok(views) => emit(UiEvent::Packages(views)),
        Err(e) => emit(UiEvent::SaleRefused(sentence(&e))),
    }
}

/// The sale request for the confirmation screen's answers; `None` when the package id is not
/// one (the package is no longer on sale).
fn request(order: &SellOrder) -> Option<SaleRequest> {
    let package_id = uuid::Uuid::parse_str(&order.package_id).ok()?;
    let opt = |s: &str| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_string())
    };
    let customer = CustomerInfo {
        name: opt(&order.customer_name),
        phone: opt(&order.customer_phone),
        email: opt(&order.customer_email),
    };
    let has_customer =
        customer.name.is_some() || customer.phone.is_some() || customer.email.is_some();
    Some(SaleRequest {
        package_id,
        payment: Payment {
            method: if order.card {
                PaymentMethod::Card
            } else {
                PaymentMethod::Cash
            },
            reference: if order.card {
                opt(&order.card_reference)
            } else {
                None
            },
        },
        customer: has_customer.then_some(customer),
    })
}

/// Sells: committed (the screen shows "printing"), then printed, or the print failure screen.
pub fn sell(d: &mut Device, order: &SellOrder, emit: Emit<'_>) {
    let Some(printer) = d.printer.as_ref() else {
        emit(UiEvent::SaleRefused(
            "No printer is set up, so nothing was sold. A supervisor sets one in Settings → Printer.".into(),
        ));
        return;
    };
    let Some(req) = request(order) else {
        emit(UiEvent::SaleRefused(
            "That package is not on sale any more. Choose another package.".into(),
        ));
        return;
    };
    let outcome = issue_sale(&mut d.store, Some(printer), &req, |_, sale| {
        emit(UiEvent::SaleCommitted(sale_view(sale)));
        Ok::<(), Infallible>(())
    });
    match outcome.map_err(|e| *e) {
        Ok(issued) => {
            let mut text = printer_ready_text(printer);
            if issued.report.is_some_and(|r| !r.warnings.is_empty()) {
                text = "Printer: paper nearly out — change the roll soon".into();
            }
            d.set_printer_state(text, true);
            emit(UiEvent::SalePrinted(sale_view(&issued.sale)));
        }
        Err(SaleError::Refused(e)) => emit(UiEvent::SaleRefused(sentence(&e))),
        Err(SaleError::NotPrinted { sale, error }) => {
            print_failure::print_failed(d, &sale, error, emit)
        }
        Err(SaleError::Interrupted { error, .. }) => match error {},
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::KioskService;
    use crate::kiosk::model::UiEvent;

    #[test]
    fn a_sale_is_committed_then_printed_and_the_receipt_lands_in_the_simulated_printer() {
        let demo = demo();
        let mut s = demo.service();
        let ids = logged_in(&mut s);
        let events = run(&mut s, order(&ids[1]));
        let (committed, printed) = match &events[..] {
            [UiEvent::SaleCommitted(c), UiEvent::SalePrinted(p)] => (c, p),
            other => panic!("{other:?}"),
        };
        assert_eq!(committed.validation_number, printed.validation_number);
        assert_eq!(printed.draw_numbers, "1001\u{2013}1005");
        let sale = demo.store().find_sale(&printed.validation_number).unwrap();
        assert_eq!(sale.print_state.as_str(), "printed");
        let files: Vec<String> = std::fs::read_dir(&demo.sim)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(files.iter().any(|f| f.ends_with(".png")), "{files:?}");
        assert!(files.iter().any(|f| f.ends_with(".txt")), "{files:?}");
    }

    #[test]
    fn without_a_printer_nothing_is_sold() {
        let demo = demo();
        let store = crate::kiosk::open_store(&demo.db, true).unwrap();
        let mut s = KioskService::new(store, demo.db.clone(), None);
        let ids = logged_in(&mut s);
        match &run(&mut s, order(&ids[0]))[..] {
            [UiEvent::SaleRefused(m)] => assert!(m.contains("No printer"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(demo.store().status().unwrap().sales, 0);
    }

    #[test]
    fn the_status_bar_turns_amber_at_the_low_water_mark() {
        let demo = demo();
        let mut s = demo.service();
        let ids = logged_in(&mut s);
        let v = s.status().unwrap();
        assert_eq!(
            (v.numbers_left, v.numbers_total, v.numbers_low),
            (200, 200, false)
        );
        assert!(
            v.jackpot_as_of.starts_with("estimated, as of"),
            "{}",
            v.jackpot_as_of
        );
        assert!(v.sync_text.starts_with("Offline · "), "{}", v.sync_text);
        let pending = |t: &str| -> u64 {
            t.split(" · ")
                .nth(1)
                .and_then(|p| p.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let before = pending(&v.sync_text);
        // The demo's low-water mark is 5 × 25 = 125: sell 25-ticket packages until below it.
        for _ in 0..3 {
            run(&mut s, order(&ids[2]));
        }
        let v = s.status().unwrap();
        assert_eq!(v.numbers_left, 125);
        assert!(!v.numbers_low);
        run(&mut s, order(&ids[0]));
        assert!(s.status().unwrap().numbers_low);
        assert!(pending(&s.status().unwrap().sync_text) >= before + 4);
    }

    #[test]
    fn a_package_that_is_not_on_sale_sells_nothing_and_says_to_choose_another() {
        let demo = demo();
        let mut s = demo.service();
        logged_in(&mut s);
        match &run(&mut s, order("not-a-package"))[..] {
            [UiEvent::SaleRefused(m)] => assert!(m.contains("Choose another package"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(demo.store().status().unwrap().sales, 0);
    }

    /// Gives the demo's 5-ticket package one `VIP Parking` (a single unit) and makes the
    /// jurisdiction require the licensee's address, as a pulled configuration would.
    fn with_one_vip_parking_and_an_address(demo: &Demo) -> uuid::Uuid {
        use rsu_core::config::{DeviceConfig, PerkAllocationConfig, PerkConfig};
        let mut store = demo.store();
        let json: String = store
            .connection()
            .query_row("SELECT config_json FROM settings", [], |r| r.get(0))
            .unwrap();
        let mut c: DeviceConfig = serde_json::from_str(&json).unwrap();
        c.version += 1;
        let vip = uuid::Uuid::from_u128(0x9001);
        let event = &mut c.events[0];
        event.perks = vec![PerkConfig {
            id: vip,
            name: "VIP Parking".into(),
            description: String::new(),
            kind: "benefit".into(),
            category: "parking".into(),
            requires_inventory: true,
        }];
        event.jurisdiction.required_receipt_fields = vec!["licenseeAddress".into()];
        let five = event
            .packages
            .iter_mut()
            .find(|p| p.ticket_count == 5)
            .unwrap();
        five.perk_ids = vec![vip];
        let five = five.id;
        c.perk_allocations = vec![PerkAllocationConfig {
            id: uuid::Uuid::from_u128(0x9101),
            perk_id: vip,
            event_id: c.events[0].id,
            quantity: 1,
            state: "active".into(),
        }];
        c.organization.address = Some("12 Harbour Road\nPortsmouth PO1 2AB".into());
        assert!(store.apply_config(&c).unwrap());
        five
    }

    #[test]
    fn a_package_shows_its_perk_prints_its_claim_code_and_when_none_is_left_says_so() {
        let demo = demo();
        let five = with_one_vip_parking_and_an_address(&demo);
        let mut s = demo.service();
        let events = run(
            &mut s,
            crate::kiosk::model::Command::Login {
                pin: rsu_store::DEMO_SELLER_PIN.into(),
            },
        );
        let packages = events
            .iter()
            .find_map(|e| match e {
                UiEvent::Packages(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap();
        let shown: Vec<(&str, &str)> = packages
            .iter()
            .map(|p| (p.tickets.as_str(), p.perks.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("1 ticket", ""),
                ("5 tickets", "VIP Parking"),
                ("25 tickets", "")
            ]
        );
        let printed = match &run(&mut s, order(&five.to_string()))[..] {
            [UiEvent::SaleCommitted(_), UiEvent::SalePrinted(p)] => p.clone(),
            other => panic!("{other:?}"),
        };
        let sale = demo.store().find_sale(&printed.validation_number).unwrap();
        let code = &sale.perks[0].claim_code;
        // The simulated printer's transcript of the receipt: the perk, its code, the address.
        let text: String = std::fs::read_dir(&demo.sim)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".txt"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        for needle in [
            "VIP Parking",
            rsu_print::CLAIM_AT_THE_DESK,
            code.as_str(),
            "12 Harbour Road",
            "Portsmouth PO1 2AB",
        ] {
            assert!(
                text.contains(needle),
                "{needle:?} not on the receipt:\n{text}"
            );
        }
        // The only unit is gone: the next sale is refused with the store's sentence.
        match &run(&mut s, order(&five.to_string()))[..] {
            [UiEvent::SaleRefused(m)] => {
                assert!(m.contains("VIP Parking") && m.contains("none left"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(demo.store().status().unwrap().sales, 1);
    }
}
