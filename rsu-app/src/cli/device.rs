//! The device itself from the command line: enroll, the demo device, status, verify, export and
//! reset.

use anyhow::{bail, Context, Result};
use rsu_store::Store;
use std::path::Path;
use std::process::ExitCode;

use super::{open, print_json};

/// `enroll`: registers this device with a server.
pub fn enroll(db: &Path, server: String, token: String) -> Result<()> {
    // A new device: the data directory may not exist yet, and enrollment takes its
    // lock file there before it creates the database.
    rsu_store::create_data_dir(db)?;
    let report = rsu_sync::enroll::enroll(db, &server, &token)?;
    print!("{report}");
    Ok(())
}

/// `demo-init`: the demo device.
pub fn demo_init(db: &Path) -> Result<()> {
    let mut store = Store::open(db)?;
    if store.is_enrolled()? {
        println!("{} already holds a device; nothing changed.", db.display());
        return Ok(());
    }
    let (identity, config) = rsu_store::demo_config(store.now()?)?;
    store.set_identity(&identity)?;
    store.apply_config(&config)?;
    println!("Demo device created at {}", db.display());
    println!("Event: Summer Festival Raffle; draw numbers 1001–1200");
    println!(
        "Seller PIN {}, supervisor PIN {}",
        rsu_store::DEMO_SELLER_PIN,
        rsu_store::DEMO_SUPERVISOR_PIN
    );
    Ok(())
}

/// `status`: the device's state.
pub fn status(db: &Path, json: bool) -> Result<()> {
    let status = open(db)?.status()?;
    if json {
        print_json(&status)?;
    } else {
        println!(
            "Device:        {} (RSU {:03}, epoch {})",
            status.device_name, status.rsu_no, status.epoch
        );
        println!(
            "Event:         {} ({})",
            status.event_name.as_deref().unwrap_or("none"),
            status.event_state.as_deref().unwrap_or("-")
        );
        println!(
            "Operator:      {}",
            status.operator.as_deref().unwrap_or("nobody logged in")
        );
        println!(
            "Numbers left:  {}{}",
            status.numbers_left,
            if status.numbers_left < status.low_water_mark {
                " (low: connect to get more)"
            } else {
                ""
            }
        );
        println!("Sales:         {} ({} voided)", status.sales, status.voids);
        println!(
            "Unsynced:      {} entries, {} tickets; oldest {}",
            status.sync.pending_entries,
            status.sync.unsynced_tickets,
            status
                .sync
                .oldest_pending_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into())
        );
        println!("Rejected:      {}", status.sync.rejected);
        if let (Some(j), Some(c)) = (status.jackpot_estimate, &status.jackpot_currency) {
            let cur = rsu_core::Currency::new(c)?;
            println!(
                "Jackpot:       {} ({})",
                rsu_core::Money::new(j, cur),
                if status.jackpot_final {
                    "final, from the draw's results"
                } else {
                    "estimated"
                }
            );
        }
        if let Some(vn) = status.unresolved_print {
            println!("ATTENTION:     receipt {vn} is not confirmed printed: reprint it or have a supervisor spoil it");
        }
    }
    Ok(())
}

/// `verify`: the database check and the journal chain; exit 1 when either fails.
pub fn verify(db: &Path, json: bool) -> Result<ExitCode> {
    let store = open(db)?;
    let report = store.verify()?;
    if json {
        print_json(&report)?;
    } else {
        println!("Database check: {}", report.quick_check);
        println!(
            "Journal: {} entries, chain verified, head {}",
            report.entries,
            report.chain_head.as_deref().unwrap_or("-")
        );
        println!(
            "Sales: {}, draw numbers: {}, sold twice: {}",
            report.sales, report.draw_numbers, report.duplicate_draw_numbers
        );
    }
    if report.quick_check != "ok" || report.duplicate_draw_numbers > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `export`: the whole journal, signed, for a device that cannot sync.
pub fn export(db: &Path, out: Option<std::path::PathBuf>) -> Result<()> {
    // Opened first so a missing or corrupt database says so before anything is written.
    drop(open(db)?);
    let trailer = match out {
        Some(path) => {
            let mut f = std::fs::File::create(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let t = rsu_sync::export::write_signed_export(db, &mut f)?;
            f.sync_all()
                .with_context(|| format!("cannot write {}", path.display()))?;
            t
        }
        None => rsu_sync::export::write_signed_export(db, &mut std::io::stdout().lock())?,
    };
    let n: u64 = trailer.epochs.iter().map(|e| e.entries).sum();
    match trailer.signature {
        Some(_) => eprintln!(
            "{n} journal entries exported, signed with device key {}.",
            trailer.key_id.map(|k| k.to_string()).unwrap_or_default()
        ),
        None => eprintln!(
            "{n} journal entries exported, unsigned: this database has no device key (a demo), so the server will not import it."
        ),
    }
    Ok(())
}

/// `reset`: the database moves aside once nothing waits to sync.
pub fn reset(db: &Path, yes: bool) -> Result<()> {
    if !yes {
        bail!(
            "reset moves the device database {} aside and starts empty: add --yes to confirm",
            db.display()
        );
    }
    let aside = rsu_store::reset_database(db)?;
    println!(
        "Moved the database aside to {}; `demo-init` or `enroll` starts a new one.",
        aside.display()
    );
    Ok(())
}
