//! Perk claim codes (seed 002 "Perk claim" `claimCode`), made on the device when a sale issues a
//! perk: `<validation number body>-P<n>-<tag>`, e.g. `RSU001-2026-000123-P1-7KQF9M`.
//!
//! - The validation number's body names the sale, so the code is unique within the organization
//!   by construction (validation numbers are) and the desk sees which receipt it came from.
//! - `P<n>` is the perk's place on that receipt (1 for the first perk the package includes).
//! - The tag is 30 bits of HMAC-SHA-256 with the device's validation key over
//!   `perk|<body>-P<n>|<perk id>`, as 6 Crockford base32 characters: a code cannot be guessed
//!   from a receipt's number, and the server, which holds the key, detects a forged one.

use std::fmt;
use uuid::Uuid;

use crate::validation::{read_crockford, ValidationKey, ValidationNumber};

const TAG_LEN: usize = 6;

/// A well-formed claim code. Whether its tag is genuine needs the key: [`ClaimCode::verify`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimCode {
    /// The sale's validation number without its tag.
    sale: String,
    index: u32,
    tag: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimCodeError {
    #[error("{0:?} is not a perk claim code: expected the form RSU001-2026-000123-P1-7KQF9M")]
    Malformed(String),
    #[error("claim code {0} does not check out: mistyped, or not issued for this perk")]
    BadTag(String),
}

fn mac_body(sale: &str, index: u32, perk_id: Uuid) -> String {
    format!("perk|{sale}-P{index}|{perk_id}")
}

impl ClaimCode {
    /// The code of the `index`-th perk (from 1) of the sale numbered `vn`.
    pub fn issue(key: &ValidationKey, vn: &ValidationNumber, index: u32, perk_id: Uuid) -> Self {
        let sale = vn.body();
        let mut tag = [0u8; TAG_LEN];
        key.crockford_mac(&mac_body(&sale, index, perk_id), &mut tag);
        ClaimCode {
            sale,
            index,
            tag: String::from_utf8_lossy(&tag).into_owned(),
        }
    }

    /// Parses a typed or scanned code: any case, surrounding blanks, and Crockford's forgiving
    /// reading of the tag (`O`→`0`, `I`/`L`→`1`).
    pub fn parse(text: &str) -> Result<Self, ClaimCodeError> {
        let bad = || ClaimCodeError::Malformed(text.trim().to_string());
        let t = text.trim().to_ascii_uppercase();
        let parts: Vec<&str> = t.split('-').collect();
        let [head, year, seq, p, tag] = parts.as_slice() else {
            return Err(bad());
        };
        // The sale part must be a validation number's body: check it with a placeholder tag.
        let sale = format!("{head}-{year}-{seq}");
        let vn = ValidationNumber::parse(&format!("{sale}-0000")).map_err(|_| bad())?;
        let index: u32 = p
            .strip_prefix('P')
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .filter(|n| *n > 0)
            .ok_or_else(bad)?;
        if tag.len() != TAG_LEN {
            return Err(bad());
        }
        let tag = read_crockford(tag).ok_or_else(bad)?;
        Ok(ClaimCode {
            sale: vn.body(),
            index,
            tag,
        })
    }

    /// Checks the tag against the device's key for the perk it was issued for, in constant time.
    pub fn verify(&self, key: &ValidationKey, perk_id: Uuid) -> Result<(), ClaimCodeError> {
        let mut expect = [0u8; TAG_LEN];
        key.crockford_mac(&mac_body(&self.sale, self.index, perk_id), &mut expect);
        let got = self.tag.as_bytes();
        let mut diff = (got.len() ^ expect.len()) as u8;
        for (a, b) in got.iter().zip(expect.iter()) {
            diff |= a ^ b;
        }
        if diff == 0 {
            Ok(())
        } else {
            Err(ClaimCodeError::BadTag(self.to_string()))
        }
    }

    /// The sale's validation number without its tag (`RSU001-2026-000123`).
    pub fn sale_body(&self) -> &str {
        &self.sale
    }

    /// The perk's place on the receipt, from 1.
    pub fn index(&self) -> u32 {
        self.index
    }
}

impl fmt::Display for ClaimCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-P{}-{}", self.sale, self.index, self.tag)
    }
}

impl fmt::Debug for ClaimCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClaimCode({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ValidationKey {
        ValidationKey::new(b"0123456789abcdef-perk-test")
    }

    fn vn() -> ValidationNumber {
        ValidationNumber::issue(&key(), "RSU", 1, 2026, 123).expect("a number")
    }

    #[test]
    fn a_code_round_trips_and_verifies_for_its_perk_only() {
        let perk = Uuid::from_u128(7);
        let code = ClaimCode::issue(&key(), &vn(), 1, perk);
        let text = code.to_string();
        assert!(text.starts_with("RSU001-2026-000123-P1-"), "{text}");
        assert_eq!(text.len(), "RSU001-2026-000123-P1-".len() + TAG_LEN);
        let back = ClaimCode::parse(&format!("  {}  ", text.to_lowercase())).expect("parses");
        assert_eq!(back, code);
        back.verify(&key(), perk).expect("genuine");
        assert!(back.verify(&key(), Uuid::from_u128(8)).is_err());
        assert!(back
            .verify(&ValidationKey::new(b"another key of sixteen"), perk)
            .is_err());
        // The second perk of the same sale gets another tag.
        let second = ClaimCode::issue(&key(), &vn(), 2, perk);
        assert_ne!(second.to_string()[22..], text[22..]);
    }

    #[test]
    fn a_changed_character_is_caught() {
        let perk = Uuid::from_u128(7);
        let text = ClaimCode::issue(&key(), &vn(), 1, perk).to_string();
        let mut caught = 0;
        for (i, c) in text.char_indices() {
            if c == '-' {
                continue;
            }
            let other = if c == '9' {
                '8'
            } else if c.is_ascii_digit() {
                '9'
            } else {
                'X'
            };
            let changed = format!("{}{}{}", &text[..i], other, &text[i + 1..]);
            match ClaimCode::parse(&changed) {
                Ok(code) if code.verify(&key(), perk).is_ok() => {}
                _ => caught += 1,
            }
        }
        let positions = text.chars().filter(|c| *c != '-').count();
        assert_eq!(caught, positions, "every changed character is refused");
    }

    #[test]
    fn malformed_codes_are_refused_with_the_expected_form() {
        for bad in [
            "",
            "RSU001-2026-000123-K7QF",
            "RSU001-2026-000123-X1-7KQF9M",
            "RSU001-2026-000123-P0-7KQF9M",
            "RSU001-2026-000123-P1-7KQF9",
            "RSU001-2026-000123-P1-7KQF9U",
        ] {
            let e = ClaimCode::parse(bad).expect_err(bad);
            assert!(e.to_string().contains("expected the form"), "{e}");
        }
    }
}
