//! `rsu-app screenshot --screen NAME --out FILE.png`: a kiosk screen with demo data, rendered by
//! the software renderer with no display. The data is real: a demo device in a temporary
//! directory, driven through the same controller and adapters as the kiosk.

use anyhow::{bail, Context, Result};
use rsu_core::config::Winner;
use slint::ComponentHandle;
use std::path::Path;

use super::model::SellOrder;
use super::ui::{
    AppAdapter, CheckTicketAdapter, KeyboardAdapter, SaleStage, SalesAction, SalesAdapter, Screen,
    SellAdapter,
};
use super::{adapters, headless, Command, KioskService, MainWindow, UiEvent};
use crate::printer::{self, Printer};

/// The screens `screenshot` knows.
pub const SCREENS: &[&str] = &[
    "login",
    "sell",
    "confirm",
    "keyboard",
    "printing",
    "result",
    "print-failure",
    "sales",
    "void",
    "shift",
    "shift-closed",
    "device-closed",
    "settings-locked",
    "settings",
    "check-ticket",
];

pub fn render_to_file(screen: &str, out: &Path, width: u32, height: u32) -> Result<()> {
    if !SCREENS.contains(&screen) {
        bail!(
            "unknown screen {screen:?}: choose one of {}",
            SCREENS.join(", ")
        );
    }
    let platform = headless::install(width, height)
        .map_err(|e| anyhow::anyhow!("cannot start the headless renderer: {e}"))?;
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db = dir.path().join("rsu.sqlite3");
    let store = super::open_store(&db, true)?;
    let sim = printer::sim_dir(&db);
    let printer = Printer::start(printer::simulated(sim.clone(), Default::default()));
    let mut service = KioskService::new(store, db.clone(), Some(printer));
    let window = MainWindow::new().context("cannot create the kiosk window")?;
    let run = |service: &mut KioskService, cmd: Command, keep: &dyn Fn(&UiEvent) -> bool| {
        let mut events = Vec::new();
        service.handle(cmd, &mut |e| events.push(e));
        for e in events.into_iter().filter(|e| keep(e)) {
            adapters::apply(&window, e);
        }
    };
    let all = |_: &UiEvent| true;
    let sell = |package: usize, card: bool| -> Result<Command> {
        let list = window.global::<SellAdapter>().get_packages();
        let p = slint::Model::row_data(&list, package).context("the demo has no such package")?;
        Ok(Command::Sell(SellOrder {
            package_id: p.id.to_string(),
            card,
            card_reference: if card {
                "AUTH 482913".into()
            } else {
                String::new()
            },
            customer_name: "Jordan Lee".into(),
            ..SellOrder::default()
        }))
    };
    run(&mut service, Command::Start, &all);
    if screen != "login" && screen != "settings-locked" {
        run(
            &mut service,
            Command::Login {
                pin: rsu_store::DEMO_SELLER_PIN.into(),
            },
            &all,
        );
    }
    let app = window.global::<AppAdapter>();
    match screen {
        "login" | "sell" => {}
        "confirm" => {
            let s = window.global::<SellAdapter>();
            s.set_chosen(1);
            s.set_card(true);
            s.set_card_reference("AUTH 482913".into());
            s.set_customer_name("Jordan Lee".into());
            s.set_stage(SaleStage::Confirm);
        }
        "keyboard" => {
            let s = window.global::<SellAdapter>();
            s.set_chosen(1);
            s.set_card(true);
            s.set_customer_name("Jordan Lee".into());
            s.set_stage(SaleStage::Confirm);
        }
        "printing" => {
            let cmd = sell(1, false)?;
            run(&mut service, cmd, &|e| {
                !matches!(e, UiEvent::SalePrinted(_))
            });
        }
        "result" => {
            let cmd = sell(1, true)?;
            run(&mut service, cmd, &all);
        }
        "print-failure" => {
            let cmd = sell(0, false)?;
            run(&mut service, cmd, &all);
            std::fs::write(sim.join("PAPER_OUT"), b"").context("cannot simulate paper out")?;
            let cmd = sell(1, false)?;
            run(&mut service, cmd, &all);
        }
        "sales" | "void" => {
            for (p, card) in [(0, false), (1, true), (2, false), (1, false)] {
                let cmd = sell(p, card)?;
                run(&mut service, cmd, &all);
            }
            let vn = service
                .store_mut()
                .recent_sales(10, None)?
                .last()
                .map(|s| s.validation_number.clone())
                .unwrap_or_default();
            run(
                &mut service,
                Command::Void {
                    validation_number: vn,
                    supervisor_pin: rsu_store::DEMO_SUPERVISOR_PIN.into(),
                    reason: "customer changed their mind".into(),
                },
                &all,
            );
            app.set_screen(Screen::Sales);
            let s = window.global::<SalesAdapter>();
            s.set_selected(0);
            if screen == "void" {
                s.set_message("".into());
                s.set_reason("wrong package sold".into());
                s.set_action(SalesAction::VoidReason);
            }
        }
        "shift" | "shift-closed" => {
            for (p, card) in [(0, false), (1, true), (2, false)] {
                let cmd = sell(p, card)?;
                run(&mut service, cmd, &all);
            }
            run(&mut service, Command::Shift, &all);
            if screen == "shift-closed" {
                run(
                    &mut service,
                    Command::CloseShift {
                        supervisor_pin: rsu_store::DEMO_SUPERVISOR_PIN.into(),
                    },
                    &all,
                );
            }
            app.set_screen(Screen::Shift);
        }
        "device-closed" => {
            // After "Close this device for the event": the store ended the session, so the
            // kiosk is back at the PIN pad with the closed message.
            for (p, card) in [(0, false), (1, true)] {
                let cmd = sell(p, card)?;
                run(&mut service, cmd, &all);
            }
            run(
                &mut service,
                Command::CloseDevice {
                    supervisor_pin: rsu_store::DEMO_SUPERVISOR_PIN.into(),
                },
                &all,
            );
        }
        "settings-locked" => {
            run(
                &mut service,
                Command::Login {
                    pin: rsu_store::DEMO_SELLER_PIN.into(),
                },
                &all,
            );
            app.set_screen(Screen::Settings);
        }
        "settings" => {
            run(
                &mut service,
                Command::UnlockSettings {
                    supervisor_pin: rsu_store::DEMO_SUPERVISOR_PIN.into(),
                },
                &all,
            );
            app.set_screen(Screen::Settings);
        }
        "check-ticket" => {
            // After the draw: the device pulled the results, the seller locked the screen and a
            // ticket holder checks a receipt from the PIN pad.
            for (p, card) in [(1, false), (0, false)] {
                let cmd = sell(p, card)?;
                run(&mut service, cmd, &all);
            }
            let vn = window
                .global::<SellAdapter>()
                .get_validation_number()
                .to_string();
            apply_demo_draw(service.store_mut(), &vn)?;
            run(&mut service, Command::Lock, &all);
            app.set_screen(Screen::Check);
            run(&mut service, Command::Results, &all);
            window
                .global::<CheckTicketAdapter>()
                .set_input(vn.to_lowercase().into());
            run(&mut service, Command::CheckTicket { input: vn }, &all);
        }
        _ => {}
    }
    let status = service.status()?;
    adapters::apply(&window, UiEvent::Status(status));
    window.show().context("cannot show the kiosk window")?;
    if screen == "keyboard" {
        // Tab focuses the first field (the card reference), which opens the keyboard; then the
        // keys are "tapped" through the keyboard's own callback.
        platform.render();
        adapters::keyboard_adapter::connect(&window);
        adapters::keyboard_adapter::type_key(window.window(), slint::platform::Key::Tab.into());
        let keys = window.global::<KeyboardAdapter>();
        for c in "AUTH 4829".chars() {
            keys.invoke_key(c.to_string().into());
        }
    }
    let frame = platform.render();
    headless::write_png(&frame, out)?;
    window.hide().ok();
    Ok(())
}

/// Gives the demo device the results of a draw in which the sale `winner` (1 ticket) won the
/// 50/50 and two more numbers won the demo's extra places, as a pulled configuration would.
fn apply_demo_draw(store: &mut rsu_store::Store, winner: &str) -> Result<()> {
    let sale = store.find_sale(winner)?;
    let number = sale
        .draw_numbers
        .first()
        .and_then(|n| u32::try_from(n.0).ok())
        .context("the winning sale has no draw number")?;
    let place = |position: u32, name: &str, value: i64, n: u32, vn: &str| Winner {
        position,
        winner_index: 1,
        prize_name: name.into(),
        prize_value: value,
        draw_number: n,
        validation_number: vn.into(),
        redrawn: false,
    };
    let winners = vec![
        place(1, "50/50 Winner", 123_450, number, winner),
        place(2, "Signed jersey", 15_000, 1_187, "RSU004-2026-000031-M2QX"),
        place(3, "Parking pass", 2_500, 1_433, "RSU002-2026-000118-7BHD"),
    ];
    let version = store.status()?.config_version + 1;
    let config = rsu_store::demo_drawn_config(store.now()?, version, 246_900, winners)?;
    store.apply_config(&config)?;
    Ok(())
}

/// The steps of [`tour`], in order: each leaves `NN-<name>.png`.
pub const TOUR: &[&str] = &[
    "login",
    "sell",
    "sale-printed",
    "print-failure",
    "reprinted",
    "recent-sales",
    "shift",
    "shift-closed",
];

/// A tour of the kiosk with no display: one demo device in `dir` (`dir/rsu.sqlite3`), driven
/// through the kiosk's controller and adapters as a person would (log in, sell, a printer that
/// runs out of paper, the reprint, recent sales, the shift and its Z report), a screenshot of
/// the screen after each step in `dir`, and every receipt the simulated printer made in
/// `dir/receipts` (`.txt`, `.png`, `.bin`). Returns the screenshots written.
pub fn tour(dir: &Path, width: u32, height: u32) -> Result<Vec<std::path::PathBuf>> {
    let platform = headless::install(width, height)
        .map_err(|e| anyhow::anyhow!("cannot start the headless renderer: {e}"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db = dir.join("rsu.sqlite3");
    if db.exists() {
        bail!(
            "{} already holds a tour: choose an empty directory",
            dir.display()
        );
    }
    let store = super::open_store(&db, true)?;
    let sim = printer::sim_dir(&db);
    let printer = Printer::start(printer::simulated(sim.clone(), Default::default()));
    let mut service = KioskService::new(store, db.clone(), Some(printer));
    let window = MainWindow::new().context("cannot create the kiosk window")?;
    window.show().context("cannot show the kiosk window")?;
    let mut shots = Vec::new();
    let mut step = |service: &mut KioskService,
                    cmds: Vec<Command>,
                    screen: Option<Screen>,
                    name: &str|
     -> Result<()> {
        for cmd in cmds {
            let mut events = Vec::new();
            service.handle(cmd, &mut |e| events.push(e));
            for e in events {
                adapters::apply(&window, e);
            }
        }
        if let Some(s) = screen {
            window.global::<AppAdapter>().set_screen(s);
        }
        adapters::apply(&window, UiEvent::Status(service.status()?));
        // Let transitions finish so each picture shows the settled screen.
        std::thread::sleep(std::time::Duration::from_millis(400));
        slint::platform::update_timers_and_animations();
        let out = dir.join(format!("{:02}-{name}.png", shots.len() + 1));
        headless::write_png(&platform.render(), &out)?;
        shots.push(out);
        Ok(())
    };
    let order = |window: &MainWindow, package: usize, card: bool| -> Result<Command> {
        let list = window.global::<SellAdapter>().get_packages();
        let p = slint::Model::row_data(&list, package).context("the demo has no such package")?;
        Ok(Command::Sell(SellOrder {
            package_id: p.id.to_string(),
            card,
            card_reference: if card {
                "AUTH 482913".into()
            } else {
                String::new()
            },
            customer_name: if card {
                "Jordan Lee".into()
            } else {
                String::new()
            },
            ..SellOrder::default()
        }))
    };
    step(&mut service, vec![Command::Start], None, TOUR[0])?;
    let login = Command::Login {
        pin: rsu_store::DEMO_SELLER_PIN.into(),
    };
    step(&mut service, vec![login], None, TOUR[1])?;
    let sale = order(&window, 1, true)?;
    step(&mut service, vec![sale], None, TOUR[2])?;
    let paper_out = sim.join("PAPER_OUT");
    std::fs::write(&paper_out, b"").context("cannot simulate paper out")?;
    let sale = order(&window, 0, false)?;
    step(&mut service, vec![sale], None, TOUR[3])?;
    std::fs::remove_file(&paper_out).context("cannot load the paper again")?;
    step(&mut service, vec![Command::ReprintFailed], None, TOUR[4])?;
    let sale = order(&window, 2, false)?;
    let sales = Command::Sales {
        search: String::new(),
    };
    step(
        &mut service,
        vec![sale, sales],
        Some(Screen::Sales),
        TOUR[5],
    )?;
    step(
        &mut service,
        vec![Command::Shift],
        Some(Screen::Shift),
        TOUR[6],
    )?;
    let close = Command::CloseShift {
        supervisor_pin: rsu_store::DEMO_SUPERVISOR_PIN.into(),
    };
    step(&mut service, vec![close], Some(Screen::Shift), TOUR[7])?;
    window.hide().ok();
    Ok(shots)
}
