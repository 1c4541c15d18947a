//! Validation numbers made on the device (DESIGN §4): `<prefix><rsuNo>-<yyyy>-<seq>-<tag>`,
//! e.g. `RSU001-2026-000123-K7QF`.
//!
//! The tag is HMAC-SHA-256 over the text before it (`RSU001-2026-000123`) with the device's
//! validation key, truncated to 20 bits and written as 4 Crockford base32 characters. It makes
//! numbers unguessable and lets the claim desk detect a typo or a forgery.

use ring::hmac;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub(crate) const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TAG_LEN: usize = 4;

/// The device's secret for validation tags, issued by the server at enrollment.
#[derive(Clone)]
pub struct ValidationKey(hmac::Key);

impl ValidationKey {
    pub fn new(secret: &[u8]) -> Self {
        ValidationKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    pub fn from_hex(secret_hex: &str) -> Result<Self, ValidationError> {
        let bytes = hex::decode(secret_hex).map_err(|_| ValidationError::BadKey)?;
        if bytes.len() < 16 {
            return Err(ValidationError::BadKey);
        }
        Ok(ValidationKey::new(&bytes))
    }

    fn tag(&self, body: &str) -> [u8; TAG_LEN] {
        let mut out = [0u8; TAG_LEN];
        self.crockford_mac(body, &mut out);
        out
    }

    /// The first `5 × out.len()` bits (at most 60) of HMAC-SHA-256 over `body`, as Crockford
    /// base32 characters.
    pub(crate) fn crockford_mac(&self, body: &str, out: &mut [u8]) {
        let mac = hmac::sign(&self.0, body.as_bytes());
        let b = mac.as_ref();
        let mut word = [0u8; 8];
        word.copy_from_slice(&b[..8]);
        let bits = u64::from_be_bytes(word);
        for (i, slot) in out.iter_mut().enumerate().take(12) {
            *slot = CROCKFORD[((bits >> (59 - 5 * i)) & 0x1f) as usize];
        }
    }
}

impl fmt::Debug for ValidationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ValidationKey(<secret>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("{0:?} is not a validation number: expected the form RSU001-2026-000123-K7QF")]
    Malformed(String),
    #[error("validation number {0} does not check out: mistyped or not issued by this device")]
    BadTag(String),
    #[error("the validation key must be at least 16 bytes of hex")]
    BadKey,
}

/// A well-formed validation number. Whether its tag is genuine needs the key: see [`ValidationNumber::verify`].
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ValidationNumber {
    prefix: String,
    rsu_no: u32,
    year: i32,
    seq: u64,
    tag: String,
}

impl ValidationNumber {
    /// Issues the number for sale `seq` of device `rsu_no` in `year`.
    pub fn issue(
        key: &ValidationKey,
        prefix: &str,
        rsu_no: u32,
        year: i32,
        seq: u64,
    ) -> Result<Self, ValidationError> {
        if prefix.is_empty() || prefix.len() > 8 || !prefix.chars().all(|c| c.is_ascii_uppercase())
        {
            return Err(ValidationError::Malformed(format!(
                "prefix {prefix:?} (use 1 to 8 upper-case letters)"
            )));
        }
        if !(1000..=9999).contains(&year) || rsu_no == 0 || seq == 0 {
            return Err(ValidationError::Malformed(format!(
                "{prefix}{rsu_no}-{year}-{seq}"
            )));
        }
        let body = body_text(prefix, rsu_no, year, seq);
        let tag = key.tag(&body);
        Ok(ValidationNumber {
            prefix: prefix.to_string(),
            rsu_no,
            year,
            seq,
            tag: String::from_utf8_lossy(&tag).into_owned(),
        })
    }

    /// Parses the text form. Crockford's forgiving reading applies to the tag (lower case,
    /// `O`→`0`, `I`/`L`→`1`), so a number read aloud or typed carelessly still parses.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::Malformed(text.to_string());
        let t = text.trim().to_ascii_uppercase();
        let parts: Vec<&str> = t.split('-').collect();
        let [head, year, seq, tag] = parts.as_slice() else {
            return Err(bad());
        };
        let split = head.find(|c: char| c.is_ascii_digit()).ok_or_else(bad)?;
        let (prefix, rsu) = head.split_at(split);
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_uppercase()) || rsu.is_empty() {
            return Err(bad());
        }
        let rsu_no: u32 = rsu.parse().map_err(|_| bad())?;
        if year.len() != 4 {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        if seq.is_empty() || !seq.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let seq: u64 = seq.parse().map_err(|_| bad())?;
        if tag.len() != TAG_LEN || rsu_no == 0 || seq == 0 {
            return Err(bad());
        }
        let tag = read_crockford(tag).ok_or_else(bad)?;
        Ok(ValidationNumber {
            prefix: prefix.to_string(),
            rsu_no,
            year,
            seq,
            tag,
        })
    }

    /// Checks the tag against the key, in constant time.
    pub fn verify(&self, key: &ValidationKey) -> Result<(), ValidationError> {
        let expect = key.tag(&self.body());
        let got = self.tag.as_bytes();
        let mut diff = (got.len() ^ expect.len()) as u8;
        for (a, b) in got.iter().zip(expect.iter()) {
            diff |= a ^ b;
        }
        if diff == 0 {
            Ok(())
        } else {
            Err(ValidationError::BadTag(self.to_string()))
        }
    }

    /// The number without its tag, `RSU001-2026-000123`.
    pub fn body(&self) -> String {
        body_text(&self.prefix, self.rsu_no, self.year, self.seq)
    }

    pub fn rsu_no(&self) -> u32 {
        self.rsu_no
    }
    pub fn year(&self) -> i32 {
        self.year
    }
    pub fn seq(&self) -> u64 {
        self.seq
    }
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// An upper-case tag read the forgiving Crockford way (`O`→`0`, `I`/`L`→`1`); `None` when a
/// character is not Crockford base32.
pub(crate) fn read_crockford(tag: &str) -> Option<String> {
    tag.chars()
        .map(|c| match c {
            'O' => Some('0'),
            'I' | 'L' => Some('1'),
            c if c.is_ascii() && CROCKFORD.contains(&(c as u8)) => Some(c),
            _ => None,
        })
        .collect()
}

fn body_text(prefix: &str, rsu_no: u32, year: i32, seq: u64) -> String {
    format!("{prefix}{rsu_no:03}-{year:04}-{seq:06}")
}

impl fmt::Display for ValidationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.body(), self.tag)
    }
}

impl fmt::Debug for ValidationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ValidationNumber({self})")
    }
}

impl FromStr for ValidationNumber {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ValidationNumber::parse(s)
    }
}

impl TryFrom<String> for ValidationNumber {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ValidationNumber::parse(&s)
    }
}

impl From<ValidationNumber> for String {
    fn from(v: ValidationNumber) -> Self {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ValidationKey {
        ValidationKey::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn an_issued_number_has_the_documented_form_and_verifies() {
        let v = ValidationNumber::issue(&key(), "RSU", 1, 2026, 123).unwrap();
        let text = v.to_string();
        assert!(text.starts_with("RSU001-2026-000123-"), "{text}");
        assert_eq!(text.len(), "RSU001-2026-000123-K7QF".len());
        let parsed = ValidationNumber::parse(&text).unwrap();
        assert_eq!(parsed, v);
        parsed.verify(&key()).unwrap();
    }

    #[test]
    fn every_single_character_typo_in_the_digits_or_tag_is_detected() {
        let v = ValidationNumber::issue(&key(), "RSU", 1, 2026, 123)
            .unwrap()
            .to_string();
        let mut detected = 0;
        let mut tried = 0;
        for (i, c) in v.char_indices().skip(3) {
            if c == '-' {
                continue;
            }
            for r in CROCKFORD.iter().map(|b| *b as char).filter(|r| *r != c) {
                let mut typo = v.clone();
                typo.replace_range(i..i + 1, &r.to_string());
                tried += 1;
                let caught = match ValidationNumber::parse(&typo) {
                    Err(_) => true,
                    Ok(p) => p.verify(&key()).is_err(),
                };
                assert!(caught, "undetected typo {typo}");
                detected += 1;
            }
        }
        assert!(tried > 400);
        assert_eq!(detected, tried, "every typo must be caught");
    }

    #[test]
    fn a_forged_tag_or_another_key_fails_verification() {
        let v = ValidationNumber::issue(&key(), "RSU", 7, 2026, 5).unwrap();
        let other = ValidationKey::new(b"another key of the same length!!");
        assert!(matches!(v.verify(&other), Err(ValidationError::BadTag(_))));
        let forged = format!("RSU007-2026-000005-{}", "ZZZZ");
        let f = ValidationNumber::parse(&forged).unwrap();
        if f != v {
            assert!(f.verify(&key()).is_err());
        }
    }

    #[test]
    fn crockford_reading_is_forgiving_for_the_tag() {
        let v = ValidationNumber::issue(&key(), "RSU", 1, 2026, 9).unwrap();
        let lower = v.to_string().to_lowercase();
        ValidationNumber::parse(&lower)
            .unwrap()
            .verify(&key())
            .unwrap();
    }

    #[test]
    fn malformed_numbers_are_refused_with_the_expected_form() {
        for bad in [
            "",
            "RSU001-2026-000123",
            "001-2026-000123-K7QF",
            "RSU001-26-000123-K7QF",
            "RSU001-2026-000123-K7Q!",
            "RSU001-2026-0001x3-K7QF",
        ] {
            let err = ValidationNumber::parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("expected the form"),
                "{bad}: {err}"
            );
        }
    }
}
