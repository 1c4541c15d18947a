//! The operator and the shift from the command line: login, logout, lock, open, show and close a
//! shift, and the close of the device for the event.

use anyhow::{bail, Result};
use clap::Subcommand;
use std::path::Path;

use super::{open, print_json};

#[derive(Subcommand, Debug)]
pub enum ShiftAction {
    /// Open a shift for the logged-in operator.
    Open {
        /// Cash float in minor units (cents).
        #[arg(long, default_value_t = 0)]
        float: i64,
    },
    /// Close the logged-in operator's shift and show the Z report (supervisor PIN needed).
    Close {
        #[arg(long)]
        supervisor_pin: String,
        #[arg(long)]
        json: bool,
    },
    /// Show the running totals of the open shift.
    Show {
        #[arg(long)]
        json: bool,
    },
}

/// `login`: an operator logs in (and their shift opens if none is).
pub fn login(db: &Path, pin: String, float: Option<i64>) -> Result<()> {
    let mut store = open(db)?;
    let (op, shift) = store.login(&pin, float)?;
    println!(
        "{} logged in ({}); shift opened {}",
        op.name,
        op.role.as_str(),
        shift.opened_at.format("%Y-%m-%d %H:%M")
    );
    Ok(())
}

/// `logout`.
pub fn logout(db: &Path) -> Result<()> {
    open(db)?.logout()?;
    println!("Logged out.");
    Ok(())
}

/// `lock`: the screen locks, the shift stays open.
pub fn lock(db: &Path) -> Result<()> {
    open(db)?.lock_screen()?;
    println!("Locked. Log in with a PIN to continue.");
    Ok(())
}

/// `shift open|close|show`.
pub fn shift(db: &Path, action: ShiftAction) -> Result<()> {
    let mut store = open(db)?;
    match action {
        ShiftAction::Open { float } => {
            let s = store.open_shift(float)?;
            println!(
                "Shift opened at {} with float {}",
                s.opened_at.format("%H:%M"),
                s.float_minor
            );
        }
        ShiftAction::Close {
            supervisor_pin,
            json,
        } => {
            let z = store.close_shift(&supervisor_pin)?;
            if json {
                print_json(&z)?;
            } else {
                print_z(&z);
            }
        }
        ShiftAction::Show { json } => match store.shift_totals()? {
            Some(z) if json => print_json(&z)?,
            Some(z) => print_z(&z),
            None => bail!("no open shift: log in to open one"),
        },
    }
    Ok(())
}

/// `close`: the device closes for the event (supervisor PIN).
pub fn close(db: &Path, supervisor_pin: String, json: bool) -> Result<()> {
    let mut store = open(db)?;
    let report = store.close_device(&supervisor_pin)?;
    if json {
        print_json(&report)?;
    } else {
        for z in &report.shifts_closed {
            print_z(z);
        }
        println!("{report}");
        if report.entries_to_sync > 0 {
            println!("Leave the device on the network until rsu-syncd has delivered them (rsu-syncd status).");
        }
    }
    Ok(())
}

/// The Z report as text on the terminal.
pub fn print_z(z: &rsu_core::payload::ShiftClosePayload) {
    let cur = rsu_core::Currency::new(&z.currency).ok();
    let m = |v: i64| {
        cur.map(|c| rsu_core::Money::new(v, c).to_string())
            .unwrap_or_else(|| v.to_string())
    };
    println!("Z REPORT  shift {}", z.shift_id);
    println!(
        "Opened {}  closed {}",
        z.opened_at.format("%Y-%m-%d %H:%M"),
        z.closed_at.format("%Y-%m-%d %H:%M")
    );
    for l in &z.lines {
        println!(
            "  {:<12} sales {:>4} {:>10}   voids {:>3} {:>9}",
            l.package_name,
            l.sales_count,
            m(l.sales_amount),
            l.voids_count,
            m(l.voids_amount)
        );
    }
    println!(
        "Sales {} ({}), voids {} ({})",
        z.sales_count,
        m(z.sales_amount),
        z.voids_count,
        m(z.voids_amount)
    );
    println!(
        "Float {}  cash sales {}  card sales {}  cash expected {}",
        m(z.float_amount),
        m(z.cash_sales_amount),
        m(z.card_sales_amount),
        m(z.cash_expected)
    );
    for r in &z.ranges {
        println!(
            "  numbers {}\u{2013}{} ({} sold)",
            r.first_number, r.last_number, r.count
        );
    }
    println!(
        "Seq {}–{}  chain head {}",
        z.first_seq.map(|s| s.to_string()).unwrap_or_default(),
        z.last_seq.map(|s| s.to_string()).unwrap_or_default(),
        z.chain_head
    );
}
