//! Printer status with `DLE EOT n` (real-time status transmission).
//!
//! The queries are exactly three bytes, `10 04 n`: `escpos` 0.20 appends a stray `0x00`, which a
//! printer then takes as the first byte of whatever follows, so these bytes are written here.
//!
//! Every answer is one byte of the form `0xx1xx10`. The bytes seen on Epson-class printers are
//! `0x12` ready, `0x1A` offline (n=1), `0x16` cover open (n=2), `0x32` stopped at paper end (n=2),
//! `0x1E` paper near end (n=4) and `0x7E` paper out (n=4).

use crate::error::PrintError;
use serde::{Deserialize, Serialize};

/// Which status a `DLE EOT n` query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusQuery {
    /// n = 1: printer status (online / offline, drawer pin).
    Printer = 1,
    /// n = 2: offline cause (cover, paper end, error).
    OfflineCause = 2,
    /// n = 3: error cause (cutter, unrecoverable).
    ErrorCause = 3,
    /// n = 4: roll paper sensor (near end, end).
    PaperSensor = 4,
}

impl StatusQuery {
    /// The three bytes of the query, with no trailing NUL.
    pub fn bytes(self) -> [u8; 3] {
        [0x10, 0x04, self as u8]
    }
}

/// True when `byte` has the fixed bits of a `DLE EOT` answer (`0xx1xx10`).
pub fn is_status_byte(byte: u8) -> bool {
    byte & 0b1001_0011 == 0b0001_0010
}

/// What the printer reported, merged from the answers to `DLE EOT 1`, `2` and `4`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrinterStatus {
    pub online: bool,
    pub cover_open: bool,
    /// Printing stopped because the paper ran out (offline cause).
    pub paper_end_stop: bool,
    /// An error (cutter jam, head temperature…) holds the printer offline.
    pub error: bool,
    pub paper_near_end: bool,
    pub paper_out: bool,
}

/// A condition worth showing the operator that does not stop printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PrinterWarning {
    /// The roll is nearly used up: change it soon.
    PaperNearEnd,
}

impl PrinterStatus {
    /// A status with everything fine.
    pub fn ready() -> Self {
        PrinterStatus {
            online: true,
            ..Default::default()
        }
    }

    /// Applies the answer `byte` to query `q`.
    pub fn apply(&mut self, q: StatusQuery, byte: u8) -> Result<(), PrintError> {
        if !is_status_byte(byte) {
            return Err(PrintError::BadStatus(byte));
        }
        match q {
            StatusQuery::Printer => self.online = byte & 0x08 == 0,
            StatusQuery::OfflineCause => {
                self.cover_open = byte & 0x04 != 0;
                self.paper_end_stop = byte & 0x20 != 0;
                self.error = byte & 0x40 != 0;
            }
            StatusQuery::ErrorCause => {
                if byte & 0x6C != 0 {
                    self.error = true;
                }
            }
            StatusQuery::PaperSensor => {
                self.paper_near_end = byte & 0x0C != 0;
                self.paper_out = byte & 0x60 != 0;
            }
        }
        Ok(())
    }

    /// Turns the status into what the print path does: an error that stops the job, or the
    /// warnings to show while printing goes on. The most specific cause wins: paper out, then
    /// cover open, then offline.
    pub fn verdict(&self) -> Result<Vec<PrinterWarning>, PrintError> {
        if self.paper_out || self.paper_end_stop {
            return Err(PrintError::PaperOut);
        }
        if self.cover_open {
            return Err(PrintError::CoverOpen);
        }
        if self.error {
            return Err(PrintError::Offline(Some("printer error".into())));
        }
        if !self.online {
            return Err(PrintError::Offline(None));
        }
        let mut warnings = Vec::new();
        if self.paper_near_end {
            warnings.push(PrinterWarning::PaperNearEnd);
        }
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(answers: &[(StatusQuery, u8)]) -> PrinterStatus {
        let mut s = PrinterStatus::default();
        for (q, b) in answers {
            s.apply(*q, *b).unwrap();
        }
        s
    }

    #[test]
    fn queries_are_three_bytes_without_a_trailing_nul() {
        assert_eq!(StatusQuery::Printer.bytes(), [0x10, 0x04, 0x01]);
        assert_eq!(StatusQuery::PaperSensor.bytes(), [0x10, 0x04, 0x04]);
    }

    #[test]
    fn ready_bytes_give_a_ready_printer() {
        let s = status(&[
            (StatusQuery::Printer, 0x12),
            (StatusQuery::PaperSensor, 0x12),
        ]);
        assert_eq!(s, PrinterStatus::ready());
        assert_eq!(s.verdict(), Ok(vec![]));
    }

    #[test]
    fn x1a_is_offline() {
        let s = status(&[
            (StatusQuery::Printer, 0x1A),
            (StatusQuery::OfflineCause, 0x12),
        ]);
        assert!(!s.online);
        assert_eq!(s.verdict(), Err(PrintError::Offline(None)));
    }

    #[test]
    fn x16_is_cover_open() {
        let s = status(&[
            (StatusQuery::Printer, 0x1A),
            (StatusQuery::OfflineCause, 0x16),
        ]);
        assert!(s.cover_open);
        assert_eq!(s.verdict(), Err(PrintError::CoverOpen));
    }

    #[test]
    fn x32_is_stopped_at_paper_end() {
        let s = status(&[
            (StatusQuery::Printer, 0x1A),
            (StatusQuery::OfflineCause, 0x32),
        ]);
        assert!(s.paper_end_stop && !s.cover_open);
        assert_eq!(s.verdict(), Err(PrintError::PaperOut));
    }

    #[test]
    fn x1e_is_paper_near_end_a_warning_only() {
        let s = status(&[
            (StatusQuery::Printer, 0x12),
            (StatusQuery::PaperSensor, 0x1E),
        ]);
        assert!(s.paper_near_end && !s.paper_out);
        assert_eq!(s.verdict(), Ok(vec![PrinterWarning::PaperNearEnd]));
    }

    #[test]
    fn x7e_is_paper_out() {
        let s = status(&[
            (StatusQuery::Printer, 0x12),
            (StatusQuery::PaperSensor, 0x7E),
        ]);
        assert!(s.paper_out);
        assert_eq!(s.verdict(), Err(PrintError::PaperOut));
    }

    #[test]
    fn a_byte_without_the_fixed_bits_is_refused() {
        let mut s = PrinterStatus::default();
        assert_eq!(
            s.apply(StatusQuery::Printer, 0x00),
            Err(PrintError::BadStatus(0))
        );
        assert_eq!(
            s.apply(StatusQuery::Printer, 0xFF),
            Err(PrintError::BadStatus(0xFF))
        );
    }
}
