//! The signed QR code of a receipt (DESIGN §4 "Validation numbers", §5): the validation number,
//! the event, the draw numbers and the device's Ed25519 signature over them, so a claim desk can
//! tell a real receipt from a printed copy with nothing but the device's public key.
//!
//! The text is compact (it must stay readable by a phone at 58 mm), six fields joined by `.`:
//!
//! ```text
//! R1.<validation number>.<event id>.<draw numbers>.<key id>.<signature>
//! R1.RSU001-2026-000123-K7QF.AZS8H7N0d4i8Nn1Yq2k5gA.1001-1005,1010.AZS8H7N0d4i8Nn1Yq2k5gQ.<86 chars>
//! ```
//!
//! - `R1`: the format version;
//! - the validation number in its canonical form (upper case, rsuNo ≥ 3 digits, seq ≥ 6);
//! - the event id and the id of the device key that signed, each as the 16 bytes of the UUID in
//!   unpadded base64url (22 characters);
//! - the draw numbers ascending, runs of consecutive numbers written `first-last`, runs joined
//!   by `,` (`1001-1005,1010`), decimal without leading zeros;
//! - the Ed25519 signature (64 bytes, unpadded base64url, 86 characters) over the signed message:
//!   the ASCII bytes `rsu-receipt-v1` and a line feed, followed by the text before the last `.`
//!   (`R1.<vn>.<event>.<numbers>.<key id>`).
//!
//! A text that is not in exactly this canonical form is refused by [`ReceiptQr::parse`], so one
//! receipt has one QR text and the signature covers every character a reader sees except itself.
//! A reprint carries the same text (the signature is made once, at sale time).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use std::fmt;
use uuid::Uuid;

use crate::validation::ValidationNumber;
use crate::wire::DeviceKey;

/// The first field of every QR text of this format.
pub const VERSION: &str = "R1";
/// What precedes the body in the signed message (domain separation from request signatures).
pub const SIGNING_CONTEXT: &[u8] = b"rsu-receipt-v1\n";

/// Why a QR text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("not a receipt QR code ({0}): expected R1.<validation number>.<event>.<numbers>.<key id>.<signature>")]
    Malformed(String),
    #[error("the receipt's signature does not verify with the device key {0}: the QR was changed or not made by this device")]
    BadSignature(Uuid),
    #[error("a receipt needs at least one draw number, each 1 or more")]
    NoNumbers,
    #[error("the device public key must be 32 bytes")]
    BadKey,
}

/// A parsed (or freshly signed) receipt QR. The signature is checked by [`ReceiptQr::verify`].
#[derive(Clone, PartialEq, Eq)]
pub struct ReceiptQr {
    pub validation_number: ValidationNumber,
    pub event_id: Uuid,
    /// Ascending, distinct, each ≥ 1.
    pub draw_numbers: Vec<u32>,
    pub key_id: Uuid,
    pub signature: [u8; 64],
}

impl fmt::Debug for ReceiptQr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReceiptQr({self})")
    }
}

fn uuid_b64(id: &Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// `1001-1005,1010` from ascending distinct numbers.
pub fn compress_numbers(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = numbers[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
        i += 1;
    }
    out
}

/// The numbers of a `1001-1005,1010` list, refusing anything but the canonical spelling.
fn expand_numbers(text: &str) -> Result<Vec<u32>, QrError> {
    let bad = || QrError::Malformed(format!("draw numbers {text:?}"));
    let num = |s: &str| -> Result<u32, QrError> {
        if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let mut out: Vec<u32> = Vec::new();
    for part in text.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let a = num(part)?;
                (a, a)
            }
        };
        if a > b || b - a > 1_000_000 {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    let numbers = normalise(out)?;
    if compress_numbers(&numbers) != text {
        return Err(bad());
    }
    Ok(numbers)
}

fn normalise(mut numbers: Vec<u32>) -> Result<Vec<u32>, QrError> {
    numbers.sort_unstable();
    numbers.dedup();
    if numbers.is_empty() || numbers[0] == 0 {
        return Err(QrError::NoNumbers);
    }
    Ok(numbers)
}

fn parse_uuid_b64(field: &str, what: &str) -> Result<Uuid, QrError> {
    let bad = || QrError::Malformed(format!("{what} {field:?}"));
    if field.len() != 22 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(field).map_err(|_| bad())?;
    let arr: [u8; 16] = bytes.try_into().map_err(|_| bad())?;
    let id = Uuid::from_bytes(arr);
    if uuid_b64(&id) != field {
        return Err(bad());
    }
    Ok(id)
}

/// The text before the signature: `R1.<vn>.<event>.<numbers>.<key id>`.
fn body_text(vn: &ValidationNumber, event_id: &Uuid, numbers: &[u32], key_id: &Uuid) -> String {
    format!(
        "{VERSION}.{vn}.{}.{}.{}",
        uuid_b64(event_id),
        compress_numbers(numbers),
        uuid_b64(key_id)
    )
}

/// The bytes the device signs: [`SIGNING_CONTEXT`] followed by the body text.
pub fn signed_message(
    vn: &ValidationNumber,
    event_id: &Uuid,
    numbers: &[u32],
    key_id: &Uuid,
) -> Vec<u8> {
    let mut m = SIGNING_CONTEXT.to_vec();
    m.extend_from_slice(body_text(vn, event_id, numbers, key_id).as_bytes());
    m
}

impl ReceiptQr {
    /// Signs a receipt with the device's key pair (`ring`). The numbers may come in any order.
    pub fn sign(
        pair: &Ed25519KeyPair,
        key_id: Uuid,
        validation_number: ValidationNumber,
        event_id: Uuid,
        draw_numbers: Vec<u32>,
    ) -> Result<Self, QrError> {
        let draw_numbers = normalise(draw_numbers)?;
        let msg = signed_message(&validation_number, &event_id, &draw_numbers, &key_id);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(pair.sign(&msg).as_ref());
        Ok(ReceiptQr {
            validation_number,
            event_id,
            draw_numbers,
            key_id,
            signature,
        })
    }

    /// [`ReceiptQr::sign`] with the device key the kiosk already holds.
    pub fn sign_with_device_key(
        key: &DeviceKey,
        key_id: Uuid,
        validation_number: ValidationNumber,
        event_id: Uuid,
        draw_numbers: Vec<u32>,
    ) -> Result<Self, QrError> {
        let draw_numbers = normalise(draw_numbers)?;
        let msg = signed_message(&validation_number, &event_id, &draw_numbers, &key_id);
        let sig = hex::decode(key.sign_hex(&msg))
            .map_err(|_| QrError::Malformed("device signature".into()))?;
        let signature: [u8; 64] = sig
            .try_into()
            .map_err(|_| QrError::Malformed("device signature".into()))?;
        Ok(ReceiptQr {
            validation_number,
            event_id,
            draw_numbers,
            key_id,
            signature,
        })
    }

    /// The signed message of this receipt.
    pub fn signed_message(&self) -> Vec<u8> {
        signed_message(
            &self.validation_number,
            &self.event_id,
            &self.draw_numbers,
            &self.key_id,
        )
    }

    /// Reads a QR text; refuses anything not in the canonical form (see the module docs).
    pub fn parse(text: &str) -> Result<Self, QrError> {
        let text = text.trim();
        let fields: Vec<&str> = text.split('.').collect();
        let [version, vn, event, numbers, key, sig] = fields.as_slice() else {
            return Err(QrError::Malformed(format!(
                "{} fields instead of 6",
                fields.len()
            )));
        };
        if *version != VERSION {
            return Err(QrError::Malformed(format!(
                "version {version:?} (this reader knows {VERSION})"
            )));
        }
        let validation_number = ValidationNumber::parse(vn)
            .map_err(|_| QrError::Malformed(format!("validation number {vn:?}")))?;
        if validation_number.to_string() != *vn {
            return Err(QrError::Malformed(format!(
                "validation number {vn:?} is not in canonical form"
            )));
        }
        let event_id = parse_uuid_b64(event, "event id")?;
        let draw_numbers = expand_numbers(numbers)?;
        let key_id = parse_uuid_b64(key, "key id")?;
        let bad_sig = || QrError::Malformed("signature".into());
        if sig.len() != 86 {
            return Err(bad_sig());
        }
        let sig_bytes = URL_SAFE_NO_PAD.decode(sig).map_err(|_| bad_sig())?;
        let signature: [u8; 64] = sig_bytes.try_into().map_err(|_| bad_sig())?;
        if URL_SAFE_NO_PAD.encode(signature) != *sig {
            return Err(bad_sig());
        }
        Ok(ReceiptQr {
            validation_number,
            event_id,
            draw_numbers,
            key_id,
            signature,
        })
    }

    /// Checks the signature with the device's 32-byte Ed25519 public key.
    pub fn verify(&self, public_key: &[u8]) -> Result<(), QrError> {
        if public_key.len() != 32 {
            return Err(QrError::BadKey);
        }
        signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
            .verify(&self.signed_message(), &self.signature)
            .map_err(|_| QrError::BadSignature(self.key_id))
    }
}

impl fmt::Display for ReceiptQr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}",
            body_text(
                &self.validation_number,
                &self.event_id,
                &self.draw_numbers,
                &self.key_id
            ),
            URL_SAFE_NO_PAD.encode(self.signature)
        )
    }
}

/// The public key of a `ring` key pair, for tests and tools.
pub fn public_key(pair: &Ed25519KeyPair) -> [u8; 32] {
    let mut k = [0u8; 32];
    k.copy_from_slice(pair.public_key().as_ref());
    k
}

/// The validation number in what a person typed or a scanner read at a "check a ticket" screen:
/// a validation number (any case, Crockford's forgiving reading of the tag, spaces taken for
/// hyphens) or a whole receipt QR text (`R1.<validation number>.…`, whose second field is read
/// even when a keyboard-wedge scanner changed the case of the rest). Only the form is checked:
/// the tag needs the issuing device's key.
pub fn validation_number_from_scan(
    text: &str,
) -> Result<ValidationNumber, crate::validation::ValidationError> {
    let t = text.trim();
    if let Ok(qr) = ReceiptQr::parse(t) {
        return Ok(qr.validation_number);
    }
    let fields: Vec<&str> = t.split('.').collect();
    if fields.len() == 6 && fields[0].eq_ignore_ascii_case(VERSION) {
        return ValidationNumber::parse(fields[1]);
    }
    let joined = t.split_whitespace().collect::<Vec<_>>().join("-");
    ValidationNumber::parse(&joined)
        .map_err(|_| crate::validation::ValidationError::Malformed(t.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::validation::ValidationKey;
    use ring::rand::SystemRandom;

    fn pair() -> Ed25519KeyPair {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap()
    }

    fn vn() -> ValidationNumber {
        ValidationNumber::issue(&ValidationKey::new(&[7u8; 32]), "RSU", 1, 2026, 123).unwrap()
    }

    fn qr(p: &Ed25519KeyPair) -> ReceiptQr {
        ReceiptQr::sign(
            p,
            Uuid::from_u128(0xAB),
            vn(),
            Uuid::from_u128(0xCD),
            vec![1010, 1003, 1001, 1002, 1004, 1005],
        )
        .unwrap()
    }

    #[test]
    fn a_signed_qr_round_trips_through_its_text_and_verifies() {
        let p = pair();
        let q = qr(&p);
        let text = q.to_string();
        assert!(text.starts_with("R1.RSU001-2026-000123-"), "{text}");
        assert!(text.contains(".1001-1005,1010."), "{text}");
        let back = ReceiptQr::parse(&text).unwrap();
        assert_eq!(back, q);
        back.verify(&public_key(&p)).unwrap();
        // Compact: well under what a version-10 QR holds in byte mode (213 bytes at level M).
        assert!(text.len() < 200, "{} chars: {text}", text.len());
    }

    #[test]
    fn one_byte_changed_anywhere_is_refused() {
        let p = pair();
        let text = qr(&p).to_string();
        let key = public_key(&p);
        for i in 0..text.len() {
            let mut b = text.clone().into_bytes();
            // A different character of the same class, so most changes still parse.
            b[i] = match b[i] {
                b'0'..=b'8' => b[i] + 1,
                b'9' => b'8',
                b'A'..=b'Y' | b'a'..=b'y' => b[i] + 1,
                b'Z' | b'z' => b[i] - 1,
                _ => b'x',
            };
            let changed = String::from_utf8(b).unwrap();
            let ok = ReceiptQr::parse(&changed).and_then(|q| q.verify(&key));
            assert!(
                ok.is_err(),
                "byte {i} changed and still accepted: {changed}"
            );
        }
    }

    #[test]
    fn another_devices_key_does_not_verify() {
        let q = qr(&pair());
        assert_eq!(
            q.verify(&public_key(&pair())),
            Err(QrError::BadSignature(Uuid::from_u128(0xAB)))
        );
        assert_eq!(q.verify(&[0u8; 31]), Err(QrError::BadKey));
    }

    #[test]
    fn the_device_key_signs_the_same_message() {
        let dk = DeviceKey::generate().unwrap();
        let q = ReceiptQr::sign_with_device_key(
            &dk,
            Uuid::from_u128(1),
            vn(),
            Uuid::from_u128(2),
            vec![5],
        )
        .unwrap();
        let pk = crate::wire::parse_public_key_hex(&dk.public_key_hex()).unwrap();
        ReceiptQr::parse(&q.to_string())
            .unwrap()
            .verify(&pk)
            .unwrap();
    }

    #[test]
    fn non_canonical_spellings_are_refused() {
        let p = pair();
        let text = qr(&p).to_string();
        for changed in [
            text.replace("1001-1005,1010", "1001-1004,1005,1010"),
            text.replace("1001-1005,1010", "1010,1001-1005"),
            text.replace("1001-1005,1010", "01001-1005,1010"),
            text.replace("RSU001-", "rsu001-"),
            text.replace("RSU001-", "RSU1-"),
            format!("{text}="),
            text.replacen("R1.", "R2.", 1),
            text.replacen(".", "..", 1),
        ] {
            assert!(
                matches!(ReceiptQr::parse(&changed), Err(QrError::Malformed(_))),
                "{changed}"
            );
        }
        assert!(ReceiptQr::parse("").is_err());
    }

    #[test]
    fn a_receipt_without_numbers_cannot_be_signed() {
        let p = pair();
        let e = ReceiptQr::sign(&p, Uuid::nil(), vn(), Uuid::nil(), vec![]);
        assert_eq!(e, Err(QrError::NoNumbers));
        let e = ReceiptQr::sign(&p, Uuid::nil(), vn(), Uuid::nil(), vec![0, 1]);
        assert_eq!(e, Err(QrError::NoNumbers));
    }

    #[test]
    fn numbers_compress_into_runs() {
        assert_eq!(compress_numbers(&[1, 2, 3, 5, 7, 8]), "1-3,5,7-8");
        assert_eq!(compress_numbers(&[42]), "42");
        assert_eq!(expand_numbers("1-3,5,7-8").unwrap(), vec![1, 2, 3, 5, 7, 8]);
        assert!(expand_numbers("3-1").is_err());
        assert!(expand_numbers("1,1").is_err());
        assert!(expand_numbers("").is_err());
    }

    #[test]
    fn a_scan_yields_the_validation_number_of_a_typed_number_or_a_whole_qr() {
        let vn = ValidationNumber::parse("RSU001-2026-000123-K7QF").unwrap();
        for typed in [
            "RSU001-2026-000123-K7QF",
            "  rsu001-2026-000123-k7qf\n",
            "RSU001 2026 000123 K7QF",
            "rsu1-2026-123-k7qf",
        ] {
            assert_eq!(validation_number_from_scan(typed).unwrap(), vn, "{typed}");
        }
        let key = DeviceKey::generate().unwrap();
        let qr = ReceiptQr::sign_with_device_key(
            &key,
            Uuid::now_v7(),
            vn.clone(),
            Uuid::now_v7(),
            vec![1001, 1002],
        )
        .unwrap()
        .to_string();
        assert_eq!(validation_number_from_scan(&qr).unwrap(), vn);
        // A scanner with caps lock on still gives the number.
        assert_eq!(
            validation_number_from_scan(&qr.to_ascii_lowercase()).unwrap(),
            vn
        );
        for bad in ["", "12345", "RSU001-2026-000123", "RSU001-2026-000123-K7Q!"] {
            assert!(validation_number_from_scan(bad).is_err(), "{bad:?}");
        }
    }
}
