//! The signed receipt QR text kept with a sale (`sales.receipt_qr`, migration 0006): written once
//! after the sale commits, read by every print and reprint of its receipt; and the signing itself
//! ([`sign_receipt_qr`]), which the kiosk and the end-to-end tests share.

use rsu_core::receipt_qr::ReceiptQr;
use rsu_core::validation::ValidationNumber;
use rsu_core::wire::DeviceKey;
use uuid::Uuid;

use crate::{Sale, Store, StoreError};

/// The signed receipt QR of `sale` with the device key `key_id` (the pure part of what the kiosk
/// does right after a sale commits; reading the key file and checking the fit on paper are the
/// caller's). The error says why the sale cannot be signed.
pub fn sign_receipt_qr(key: &DeviceKey, key_id: Uuid, sale: &Sale) -> Result<ReceiptQr, String> {
    let vn = ValidationNumber::parse(&sale.validation_number)
        .map_err(|e| format!("validation number {}: {e}", sale.validation_number))?;
    let numbers = sale
        .draw_numbers
        .iter()
        .map(|n| u32::try_from(n.0).map_err(|_| format!("draw number {} out of range", n.0)))
        .collect::<Result<Vec<u32>, String>>()?;
    ReceiptQr::sign_with_device_key(key, key_id, vn, sale.event_id, numbers)
        .map_err(|e| e.to_string())
}

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
