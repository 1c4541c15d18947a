//! The signed QR code of a receipt (docs/design.md §4, `rsu_core::receipt_qr`): made once, right
//! after the sale commits, with the device key of an enrolled device, and kept with the sale so
//! every reprint carries the same text, even after the key has rotated.
//!
//! A device that is not enrolled (the demo) has no key: its QR carries the validation number
//! alone, as does an enrolled device whose key file cannot be read (logged, never blocking the
//! sale: the receipt is still valid by its validation number at the claim desk).

use rsu_core::receipt_qr::ReceiptQr;
use rsu_core::validation::ValidationNumber;
use rsu_print::PaperWidth;
use rsu_store::{Sale, Store};

/// The QR text of `sale`'s receipt: the one stored with it, else a new signature (stored), else
/// the validation number alone.
pub fn receipt_qr_text(store: &mut Store, sale: &Sale) -> String {
    match store.receipt_qr(sale.id) {
        Ok(Some(qr)) => return qr,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(sale = %sale.validation_number, error = %e, "cannot read the stored receipt QR");
            return sale.validation_number.clone();
        }
    }
    sign_and_store(store, sale).unwrap_or_else(|| sale.validation_number.clone())
}

/// Signs `sale`'s receipt QR with the device key and stores it with the sale. `None` (nothing
/// stored) when the device is not enrolled, its key cannot be read or the text would not fit a
/// 58 mm receipt; every case but the first is logged as a warning.
pub fn sign_and_store(store: &mut Store, sale: &Sale) -> Option<String> {
    let key_id = match store.key_state() {
        Ok(k) => k.key_id?,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the device key id; the receipt QR is not signed");
            return None;
        }
    };
    let qr = match sign(store, sale, key_id) {
        Ok(qr) => qr,
        Err(why) => {
            tracing::warn!(sale = %sale.validation_number, "the receipt QR is not signed: {why}");
            return None;
        }
    };
    match store.set_receipt_qr(sale.id, &qr) {
        Ok(true) => Some(qr),
        // Another print stored one first: that one is the receipt's.
        Ok(false) => store.receipt_qr(sale.id).ok().flatten(),
        Err(e) => {
            tracing::warn!(sale = %sale.validation_number, error = %e, "cannot store the receipt QR");
            None
        }
    }
}

fn sign(store: &Store, sale: &Sale, key_id: uuid::Uuid) -> Result<String, String> {
    let key = rsu_sync::keyfile::load(store.path(), key_id).map_err(|e| e.to_string())?;
    let vn = ValidationNumber::parse(&sale.validation_number)
        .map_err(|e| format!("validation number {}: {e}", sale.validation_number))?;
    let numbers = sale
        .draw_numbers
        .iter()
        .map(|n| u32::try_from(n.0).map_err(|_| format!("draw number {} out of range", n.0)))
        .collect::<Result<Vec<u32>, String>>()?;
    let qr = ReceiptQr::sign_with_device_key(&key, key_id, vn, sale.event_id, numbers)
        .map_err(|e| e.to_string())?
        .to_string();
    // A reprint may go to the narrowest paper: the text must fit there.
    rsu_print::receipt::qr_geometry(&qr, PaperWidth::Mm58).map_err(|e| e.to_string())?;
    Ok(qr)
}
