//! The printer's condition as a device reports it in its heartbeat (`printerStatus`,
//! docs/protocol.md §8): a small fixed vocabulary, so a dashboard can flag "paper out" without
//! parsing sentences. The kiosk derives it from the printer's last `DLE EOT` answers (or the
//! failure of its last job) and keeps it in the device store; `rsu-syncd` sends it with its age.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What the printer last said about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterCondition {
    /// It answered and reported no fault.
    Ok,
    /// It prints, but the roll is nearly used up.
    PaperLow,
    /// Out of paper: nothing prints until a roll is loaded.
    PaperOut,
    CoverOpen,
    /// Offline, unreachable or not answering its status queries.
    Offline,
    /// Any other fault (cutter jam, head temperature, I/O error, the print worker stopped).
    Error,
    /// Nothing known: no job yet, or a one-way transport that cannot answer.
    Unknown,
}

impl PrinterCondition {
    pub const ALL: [PrinterCondition; 7] = [
        PrinterCondition::Ok,
        PrinterCondition::PaperLow,
        PrinterCondition::PaperOut,
        PrinterCondition::CoverOpen,
        PrinterCondition::Offline,
        PrinterCondition::Error,
        PrinterCondition::Unknown,
    ];

    /// The wire word (`paper_out`).
    pub fn as_str(&self) -> &'static str {
        match self {
            PrinterCondition::Ok => "ok",
            PrinterCondition::PaperLow => "paper_low",
            PrinterCondition::PaperOut => "paper_out",
            PrinterCondition::CoverOpen => "cover_open",
            PrinterCondition::Offline => "offline",
            PrinterCondition::Error => "error",
            PrinterCondition::Unknown => "unknown",
        }
    }

    /// The condition for a wire word; `None` for a word outside the vocabulary.
    pub fn parse(s: &str) -> Option<PrinterCondition> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether receipts print in this condition (`paper_low` still prints).
    pub fn prints(&self) -> bool {
        matches!(self, PrinterCondition::Ok | PrinterCondition::PaperLow)
    }
}

impl fmt::Display for PrinterCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips_and_matches_serde() {
        for c in PrinterCondition::ALL {
            assert_eq!(PrinterCondition::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::String(c.as_str().into())
            );
        }
        assert_eq!(PrinterCondition::parse("PAPER_OUT"), None);
        assert_eq!(PrinterCondition::parse("fine"), None);
    }

    #[test]
    fn only_ok_and_paper_low_print() {
        let printing: Vec<_> = PrinterCondition::ALL
            .into_iter()
            .filter(PrinterCondition::prints)
            .collect();
        assert_eq!(
            printing,
            vec![PrinterCondition::Ok, PrinterCondition::PaperLow]
        );
    }
}
