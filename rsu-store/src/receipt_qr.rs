//! The signed receipt QR text kept with a sale (`sales.receipt_qr`, migration 0006): written once
//! after the sale commits, read by every print and reprint of its receipt.

use uuid::Uuid;

use crate::{Store, StoreError};

impl Store {
    /// Keeps `qr` as the receipt QR text of `sale_id`. The first text wins: a sale that already
    /// has one keeps it (a reprint must carry what the first print carried). Returns whether it
    /// was stored.
    pub fn set_receipt_qr(&mut self, sale_id: Uuid, qr: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE sales SET receipt_qr = ?2 WHERE id = ?1 AND receipt_qr IS NULL",
            rusqlite::params![sale_id.to_string(), qr],
        )?;
        Ok(n == 1)
    }

    /// The receipt QR text stored for `sale_id`; `None` when the sale was not signed (demo mode,
    /// unreadable key) or does not exist.
    pub fn receipt_qr(&self, sale_id: Uuid) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        let qr: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT receipt_qr FROM sales WHERE id = ?1",
                [sale_id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(qr.flatten())
    }
}
