//! The signed QR code of a receipt (docs/design.md §4, `rsu_core::receipt_qr`): made once, right
//! after the sale commits, with the device key of an enrolled device, and kept with the sale so
//! every reprint carries the same text, even after the key has rotated.
//!
//! A device that is not enrolled (the demo) has no key: its QR carries the validation number
//! alone, as does an enrolled device whose key file cannot be read (logged, never blocking the
//! sale: the receipt is still valid by its validation number at the claim desk).

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
    let qr = rsu_store::sign_receipt_qr(&key, key_id, sale)?.to_string();
    // A reprint may go to the narrowest paper: the text must fit there.
    rsu_print::receipt::qr_geometry(&qr, PaperWidth::Mm58).map_err(|e| e.to_string())?;
    Ok(qr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::issue_sale;
    use crate::printer::sale_receipt;
    use rsu_core::receipt_qr::ReceiptQr;
    use rsu_core::validation::ValidationNumber;
    use rsu_core::wire::DeviceKey;
    use rsu_store::testkit::{cash, package_on_sale};
    use uuid::Uuid;

    /// A device enrolled as the demo's RSU with its own key (written as enrollment writes it).
    fn enrolled(dir: &std::path::Path, with_key_file: bool) -> (Store, DeviceKey, Uuid) {
        let path = dir.join("rsu.sqlite3");
        let mut store = Store::open(&path).unwrap();
        let (mut identity, config) = rsu_store::demo_config(chrono::Utc::now()).unwrap();
        let key = DeviceKey::generate().unwrap();
        let key_id = Uuid::now_v7();
        identity.key_id = Some(key_id.to_string());
        store.set_identity(&identity).unwrap();
        store.apply_config(&config).unwrap();
        if with_key_file {
            let kp = rsu_sync::keyfile::key_path(&path, key_id);
            rsu_sync::keyfile::write_private(&kp, key.pkcs8()).unwrap();
        }
        (store, key, key_id)
    }

    fn sell(store: &mut Store, tickets: u32) -> Sale {
        store.login(rsu_store::DEMO_SELLER_PIN, None).unwrap();
        let package = package_on_sale(store, tickets);
        issue_sale(store, None, &cash(package), |_, _| Ok::<(), ()>(()))
            .unwrap()
            .sale
    }

    fn public_key(key: &DeviceKey) -> Vec<u8> {
        hex::decode(key.public_key_hex()).unwrap()
    }

    #[test]
    fn an_enrolled_sale_carries_a_signed_qr_that_every_reprint_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, key, key_id) = enrolled(dir.path(), true);
        let sale = sell(&mut store, 25);
        let stored = store
            .receipt_qr(sale.id)
            .unwrap()
            .expect("a signed QR stored");
        let qr = ReceiptQr::parse(&stored).unwrap();
        qr.verify(&public_key(&key)).unwrap();
        assert_eq!(qr.key_id, key_id);
        assert_eq!(qr.event_id, sale.event_id);
        assert_eq!(qr.validation_number.to_string(), sale.validation_number);
        let numbers: Vec<u32> = sale.draw_numbers.iter().map(|n| n.0 as u32).collect();
        assert_eq!(qr.draw_numbers, numbers);

        // The receipt prints it; a reprint prints the same text, even once the key is gone
        // (rotated away).
        let ctx = store.receipt_context(&sale).unwrap();
        let first = receipt_qr_text(&mut store, &sale);
        assert_eq!(first, stored);
        assert_eq!(
            sale_receipt(&sale, &ctx, None, Some(first)).qr_payload,
            stored
        );
        std::fs::remove_file(rsu_sync::keyfile::key_path(store.path(), key_id)).unwrap();
        let again = receipt_qr_text(&mut store, &sale);
        assert_eq!(
            sale_receipt(&sale, &ctx, Some(1), Some(again)).qr_payload,
            stored
        );
        // A second signature never replaces the first.
        assert!(!store.set_receipt_qr(sale.id, "R1.other").unwrap());
        assert_eq!(
            store.receipt_qr(sale.id).unwrap().as_deref(),
            Some(stored.as_str())
        );
    }

    #[test]
    fn one_changed_character_fails_verification() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, key, _) = enrolled(dir.path(), true);
        let sale = sell(&mut store, 1);
        let stored = store.receipt_qr(sale.id).unwrap().unwrap();
        let pk = public_key(&key);
        // Every character after the version, changed, is refused: by the parser (not
        // canonical) or by the signature.
        for i in 3..stored.len() {
            let mut bytes = stored.clone().into_bytes();
            bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
            let text = String::from_utf8(bytes).unwrap();
            let verified = ReceiptQr::parse(&text).is_ok_and(|q| q.verify(&pk).is_ok());
            assert!(!verified, "{text} verified");
        }
        // Another device's key does not verify it either.
        let other = DeviceKey::generate().unwrap();
        assert!(ReceiptQr::parse(&stored)
            .unwrap()
            .verify(&public_key(&other))
            .is_err());
    }

    #[test]
    fn the_demo_and_a_missing_key_print_the_bare_validation_number_and_still_sell() {
        let mut demo = rsu_store::testkit::Demo::new();
        let sale = sell(&mut demo.store, 5);
        assert_eq!(demo.store.receipt_qr(sale.id).unwrap(), None);
        assert_eq!(
            receipt_qr_text(&mut demo.store, &sale),
            sale.validation_number
        );

        let dir = tempfile::tempdir().unwrap();
        let (mut store, _, _) = enrolled(dir.path(), false);
        let sale = sell(&mut store, 5);
        assert_eq!(store.receipt_qr(sale.id).unwrap(), None);
        assert_eq!(receipt_qr_text(&mut store, &sale), sale.validation_number);
    }

    #[test]
    fn a_ten_number_receipt_qr_fits_58_mm_even_with_no_two_numbers_in_a_row() {
        let key = DeviceKey::generate().unwrap();
        let mut demo = rsu_store::testkit::Demo::new();
        let vn = ValidationNumber::parse(&sell(&mut demo.store, 1).validation_number).unwrap();
        let numbers: Vec<u32> = (0..10).map(|i| 9_000_001 + i * 2).collect();
        let qr = ReceiptQr::sign_with_device_key(&key, Uuid::now_v7(), vn, Uuid::now_v7(), numbers)
            .unwrap()
            .to_string();
        assert!(
            qr.len() <= rsu_print::receipt::MAX_QR_PAYLOAD,
            "{}",
            qr.len()
        );
        rsu_print::receipt::qr_geometry(&qr, PaperWidth::Mm58).unwrap();
    }
}
