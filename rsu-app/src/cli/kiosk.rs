//! The kiosk's pictures and measurements from the command line: a screenshot, the tour, and the
//! measurements. (The kiosk itself runs from `run`, before a database is opened.)

use anyhow::Result;
use std::path::PathBuf;

use crate::printer;

/// `screenshot`: one kiosk screen with demo data, as a PNG.
pub fn screenshot(screen: String, out: PathBuf, width: u32, height: u32) -> Result<()> {
    crate::kiosk::screenshot::render_to_file(&screen, &out, width, height)?;
    println!("Wrote {}", out.display());
    Ok(())
}

/// `tour`: the kiosk driven through a demo, a screenshot of each step and every receipt.
pub fn tour(out: PathBuf, width: u32, height: u32) -> Result<()> {
    let shots = crate::kiosk::screenshot::tour(&out, width, height)?;
    for shot in &shots {
        println!("Wrote {}", shot.display());
    }
    println!(
        "Receipts (.txt, .png, .bin) are in {}",
        printer::sim_dir(&out.join("rsu.sqlite3")).display()
    );
    Ok(())
}
