//! The printer's last reported condition (migration 0007 `printer_status`): the kiosk records it
//! after every print job from the printer's `DLE EOT` answers or the job's failure, and
//! `rsu-syncd` sends it, with its age, in its heartbeat.

use chrono::{DateTime, Utc};
use rsu_core::printer_status::PrinterCondition;
use rusqlite::{params, OptionalExtension};

use crate::{parse_ts, ts, Store, StoreError};

/// What the kiosk last learned about the printer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterReport {
    pub condition: PrinterCondition,
    /// The printer's or the kiosk's sentence, for people.
    pub detail: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

impl Store {
    /// Records the printer's condition now (device time). One short write, outside any sale's
    /// transaction: it never holds up a sale.
    pub fn record_printer_status(
        &self,
        condition: PrinterCondition,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.now()?;
        self.conn.execute(
            "INSERT INTO printer_status (id, status, detail, recorded_at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, detail = excluded.detail,
                 recorded_at = excluded.recorded_at",
            params![condition.as_str(), detail, ts(&now)],
        )?;
        Ok(())
    }

    /// The printer's last recorded condition; `None` before the first print. A word outside the
    /// vocabulary (written by a newer kiosk) reads as `unknown`.
    pub fn printer_status(&self) -> Result<Option<PrinterReport>, StoreError> {
        let row: Option<(String, Option<String>, String)> = self
            .conn
            .query_row(
                "SELECT status, detail, recorded_at FROM printer_status WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(status, detail, at)| {
            Ok(PrinterReport {
                condition: PrinterCondition::parse(&status).unwrap_or(PrinterCondition::Unknown),
                detail,
                recorded_at: parse_ts(&at)?,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Demo;

    #[test]
    fn the_last_recorded_condition_is_kept_with_its_time() {
        let demo = Demo::new();
        assert_eq!(demo.store.printer_status().unwrap(), None);
        demo.store
            .record_printer_status(PrinterCondition::Ok, None)
            .unwrap();
        demo.store
            .record_printer_status(
                PrinterCondition::PaperOut,
                Some("the printer is out of paper"),
            )
            .unwrap();
        let r = demo.store.printer_status().unwrap().unwrap();
        assert_eq!(r.condition, PrinterCondition::PaperOut);
        assert_eq!(r.detail.as_deref(), Some("the printer is out of paper"));
        // Stored to the millisecond, at the device's (corrected) time.
        let off = demo.store.now().unwrap() - r.recorded_at;
        assert!(off.num_milliseconds().abs() < 1, "{off}");
    }
}
