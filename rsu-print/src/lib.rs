//! Receipts on thermal ESC/POS printers for the raffle sales unit.
//!
//! The crate is split the way the print path runs:
//!
//! - [`receipt`] turns plain data (a sale, a shift Z report, a test page) into ESC/POS bytes.
//!   It is pure: no I/O, so the store can compose a receipt *before* committing a sale and refuse
//!   the sale when a required field is missing (DESIGN §5).
//! - [`text`] encodes text to Windows-1252 (selected with `ESC t 16`) and refuses what the printer
//!   cannot print, instead of letting a library substitute soft hyphens or `?`.
//! - [`transport`] moves bytes to a printer: serial, USB printer class, TCP 9100, a file, or the
//!   simulated directory printer used by the kiosk demo. Every write has a deadline.
//! - [`status`] asks the printer how it is (`DLE EOT n`) and turns the answer into typed states.
//! - [`worker`] runs each job on a printer thread under a watchdog: status before, job, status
//!   after, optional cash-drawer kick; the caller gets a [`worker::JobHandle`] and never blocks.
//! - [`sim`] holds simulated printers (pseudo-terminal and TCP) that record every byte, answer
//!   status queries and can be told to fail.
//! - [`decode`] turns recorded bytes back into a text transcript and a 1-bit PNG.
//! - [`venue`] turns UTC instants into the venue's local time and its label (`EDT (UTC-04:00)`).
//!
//! Invariants this crate keeps:
//! - A job is sent at most once. Nothing here retries; a reprint is a new, explicit job.
//! - A failure is never reported as success: paper out, cover open, offline, no answer, timeouts
//!   and disconnects are typed errors, with the number of job bytes that left this machine.
//! - After a failed job, the next job starts with a run of NULs and `ESC @` to reset the printer.

pub mod config;
pub mod decode;
pub mod error;
pub mod receipt;
pub mod sim;
pub mod status;
pub mod text;
pub mod transport;
pub mod venue;
pub mod worker;

mod fdio;

pub use config::{FlowControl, PrinterConfig, TransportConfig};
pub use error::{PrintError, ReceiptError};
pub use receipt::{
    check_complete, claim_line, compose_sale, compose_test_page, compose_z_report,
    required_fields_missing, DrawerPin, ReceiptPerk, SaleReceipt, TestPage, ZPackageLine,
    ZRangeUse, ZReport, CLAIM_AT_THE_DESK,
};
pub use status::{PrinterStatus, PrinterWarning};
pub use venue::venue_time;
pub use worker::{JobHandle, PrintFailure, PrintJob, PrintOutcome, PrintReport, PrintWorker};

use serde::{Deserialize, Serialize};

/// The paper (and print head) width of a receipt printer.
///
/// Text is laid out in Font A (12 × 24 dots), so the column count is the dot width divided by 12.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PaperWidth {
    /// 58 mm roll: 384 dots at 203 dpi, 32 columns.
    #[serde(rename = "58mm")]
    Mm58,
    /// 80 mm roll: 576 dots at 203 dpi, 48 columns.
    #[default]
    #[serde(rename = "80mm")]
    Mm80,
    /// 80 mm roll on a 180 dpi printer (Epson TM-T88 class): 512 dots, 42 columns.
    #[serde(rename = "80mm-180dpi")]
    Mm80At180Dpi,
}

impl PaperWidth {
    /// Printable width in dots.
    pub fn dots(self) -> u32 {
        match self {
            PaperWidth::Mm58 => 384,
            PaperWidth::Mm80 => 576,
            PaperWidth::Mm80At180Dpi => 512,
        }
    }

    /// Characters per line in Font A at normal size.
    pub fn columns(self) -> usize {
        (self.dots() / 12) as usize
    }

    /// Short label used in file names and reports, e.g. `58mm`.
    pub fn label(self) -> &'static str {
        match self {
            PaperWidth::Mm58 => "58mm",
            PaperWidth::Mm80 => "80mm",
            PaperWidth::Mm80At180Dpi => "80mm-180dpi",
        }
    }
}
