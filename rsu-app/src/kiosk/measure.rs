//! `rsu-app measure`: the kiosk's numbers, as a documented command (not a timed test).
//!
//! - Cold start to first frame: starts `rsu-app --demo` as a new process on the display
//!   (X11 or Wayland; use `xvfb-run` on a machine without one) and times it until its window has
//!   drawn its first frame.
//! - Tap "sell" to the "printing…" frame, and resident memory after N sales: in this process, on
//!   the headless software renderer, driving the real controller, adapters and simulated printer.

use anyhow::{Context, Result};
use slint::ComponentHandle;
use std::cell::RefCell;
use std::io::BufRead;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::ui::{
    AppAdapter, LoginAdapter, ReceiptState, SaleStage, Screen, SellAdapter, SellRequest,
};
use super::{headless, KioskService, MainWindow};
use crate::printer::{self, Printer};

/// In a kiosk started with `RSU_EXIT_AFTER_FIRST_FRAME`, prints `FIRST_FRAME` once the first
/// frame is on screen and quits.
pub fn exit_after_first_frame(window: &MainWindow) {
    let done = std::sync::atomic::AtomicBool::new(false);
    let notifier = window.window().set_rendering_notifier(move |state, _| {
        if matches!(state, slint::RenderingState::AfterRendering)
            && !done.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            println!("FIRST_FRAME");
            let _ = slint::quit_event_loop();
        }
    });
    if notifier.is_err() {
        // Slint's software renderer has no rendering notifier. The window is drawn in the event
        // loop's first turns: wait two turns after show() (a zero timer, then a queued event),
        // which bounds the first frame from above within a few milliseconds.
        slint::Timer::single_shot(Duration::from_millis(0), || {
            let queued = slint::invoke_from_event_loop(|| {
                println!("FIRST_FRAME");
                let _ = slint::quit_event_loop();
            });
            if queued.is_err() {
                println!("FIRST_FRAME");
            }
        });
    }
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn cold_start(dir: &std::path::Path) -> Result<Option<Duration>> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return Ok(None);
    }
    let exe = std::env::current_exe()?;
    let db = dir.join("cold").join("rsu.sqlite3");
    let mut best: Option<Duration> = None;
    // The first run creates the demo database; the next ones start an existing device.
    for _ in 0..4 {
        let started = Instant::now();
        let mut child = std::process::Command::new(&exe)
            .arg("--demo")
            .arg("--db")
            .arg(&db)
            .env("RSU_EXIT_AFTER_FIRST_FRAME", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("cannot start the kiosk")?;
        let stdout = child.stdout.take().context("no kiosk stdout")?;
        let mut seen = None;
        for line in std::io::BufReader::new(stdout).lines() {
            if line?.trim() == "FIRST_FRAME" {
                seen = Some(started.elapsed());
                break;
            }
        }
        let _ = child.wait();
        if let Some(d) = seen {
            best = Some(best.map_or(d, |b: Duration| b.min(d)));
        }
    }
    Ok(best)
}

pub fn run(sales: u32) -> Result<()> {
    let dir = tempfile::tempdir()?;
    match cold_start(dir.path())? {
        Some(d) => println!(
            "cold start to first frame (new process, winit + software renderer, to the second event-loop turn after show; best of 3 after the first run): {} ms",
            d.as_millis()
        ),
        None => println!(
            "cold start to first frame: skipped (no display; run under `xvfb-run -a rsu-app measure`)"
        ),
    }

    let platform = headless::install(1280, 800)
        .map_err(|e| anyhow::anyhow!("cannot start the headless renderer: {e}"))?;
    let db = dir.path().join("measure").join("rsu.sqlite3");
    let mut store = rsu_store::Store::open(&db)?;
    let (identity, mut config) = rsu_store::demo_config(store.now()?)?;
    // Room for the run: more numbers and no offline cap (the demo's is 500 tickets).
    if let Some(last) = config.allocations.last_mut() {
        last.end_number = last.start_number + 1_000_000;
    }
    config.rsu.max_offline_tickets = Some(10_000_000);
    config.system.default_max_offline_tickets = 10_000_000;
    store.set_identity(&identity)?;
    store.apply_config(&config)?;
    let printer = Printer::start(printer::simulated(
        printer::sim_dir(&db),
        Default::default(),
    ));
    let service = KioskService::new(store, db.clone(), Some(printer));
    let window = MainWindow::new()?;
    let (_handle, stop, _idle) = super::wire(&window, service, db, Duration::from_secs(3600))?;
    window.show()?;
    let rss_start = rss_kib();

    #[derive(Default)]
    struct Run {
        stage: u8,
        done: u32,
        tapped: Option<Instant>,
        latencies: Vec<Duration>,
        missed_printing_frame: u32,
    }
    let state = Rc::new(RefCell::new(Run::default()));
    let total = sales;
    {
        // After every drawn frame: see whether it shows "printing…" (or already "printed").
        let state = state.clone();
        let weak = window.as_weak();
        platform.on_frame(Box::new(move |_| {
            let Some(w) = weak.upgrade() else { return };
            let mut st = state.borrow_mut();
            if let Some(t0) = st.tapped {
                let ps = w.global::<SellAdapter>().get_print_state();
                if matches!(
                    ps,
                    ReceiptState::Printing | ReceiptState::Printed | ReceiptState::Failed
                ) {
                    if ps != ReceiptState::Printing {
                        st.missed_printing_frame += 1;
                    }
                    st.latencies.push(t0.elapsed());
                    st.tapped = None;
                }
            }
        }));
    }
    let driver = slint::Timer::default();
    {
        let state = state.clone();
        let weak = window.as_weak();
        driver.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(1),
            move || {
                let Some(w) = weak.upgrade() else { return };
                let mut st = state.borrow_mut();
                let sell = w.global::<SellAdapter>();
                match st.stage {
                    0 => {
                        w.global::<LoginAdapter>()
                            .invoke_login(rsu_store::DEMO_SELLER_PIN.into());
                        st.stage = 1;
                    }
                    1 if w.global::<AppAdapter>().get_screen() == Screen::Sell
                        && slint::Model::row_count(&sell.get_packages()) > 0 =>
                    {
                        st.stage = 2;
                    }
                    2 if st.tapped.is_none() && sell.get_stage() != SaleStage::Result => {
                        if st.done >= total {
                            st.stage = 3;
                            let _ = slint::quit_event_loop();
                            return;
                        }
                        let Some(p) = slint::Model::row_data(&sell.get_packages(), 0) else {
                            return;
                        };
                        st.tapped = Some(Instant::now());
                        sell.invoke_sell(SellRequest {
                            package_id: p.id,
                            ..SellRequest::default()
                        });
                    }
                    2 if st.tapped.is_none() && sell.get_print_state() == ReceiptState::Printed => {
                        st.done += 1;
                        sell.invoke_next_sale();
                    }
                    2 if sell.get_print_state() == ReceiptState::Failed
                        || !sell.get_message().is_empty() =>
                    {
                        eprintln!("sale refused or failed: {}", sell.get_message());
                        st.stage = 3;
                        let _ = slint::quit_event_loop();
                    }
                    _ => {}
                }
            },
        );
    }
    let started = Instant::now();
    slint::run_event_loop()?;
    let elapsed = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let st = state.borrow();
    let mut lat = st.latencies.clone();
    lat.sort();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        lat[i].as_secs_f64() * 1000.0
    };
    println!(
        "sales through the UI (headless, simulated printer writing .txt/.png/.bin): {} in {:.1} s",
        st.done,
        elapsed.as_secs_f64()
    );
    println!(
        "tap \"sell\" to the \"printing\" frame: median {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} frames showed \"printed\" directly)",
        pct(0.5),
        pct(0.95),
        pct(1.0),
        st.missed_printing_frame
    );
    match (rss_start, rss_kib()) {
        (Some(a), Some(b)) => println!(
            "resident memory: {:.1} MiB after start-up, {:.1} MiB after {} sales",
            a as f64 / 1024.0,
            b as f64 / 1024.0,
            st.done
        ),
        _ => println!("resident memory: unavailable (no /proc/self/status)"),
    }
    Ok(())
}
