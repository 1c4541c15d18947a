//! Operator PIN hashes: PBKDF2-HMAC-SHA256 from `ring`, encoded as
//! `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`. The server makes them, the device verifies.

use ring::pbkdf2;
use std::num::NonZeroU32;

/// Iterations for new hashes. A 4–6 digit PIN has little entropy whatever we do; the lockout after
/// repeated failures is the real protection, this only slows an offline attack on a stolen disk.
pub const DEFAULT_ITERATIONS: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("a PIN is 4 to 8 digits")]
    BadPin,
    #[error("stored PIN hash is malformed")]
    BadHash,
}

/// Checks the PIN's form: 4 to 8 ASCII digits.
pub fn check_form(pin: &str) -> Result<(), PinError> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PinError::BadPin)
    }
}

/// Hashes `pin` with `salt` (16 random bytes are plenty).
pub fn hash_pin(pin: &str, salt: &[u8], iterations: u32) -> Result<String, PinError> {
    check_form(pin)?;
    let iters = NonZeroU32::new(iterations).ok_or(PinError::BadHash)?;
    let mut out = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iters,
        salt,
        pin.as_bytes(),
        &mut out,
    );
    Ok(format!(
        "pbkdf2-sha256${iterations}${}${}",
        hex::encode(salt),
        hex::encode(out)
    ))
}

/// Whether `pin` matches `encoded`, compared in constant time by `ring`.
pub fn verify_pin(pin: &str, encoded: &str) -> Result<bool, PinError> {
    let parts: Vec<&str> = encoded.split('$').collect();
    let [scheme, iters, salt, hash] = parts.as_slice() else {
        return Err(PinError::BadHash);
    };
    if *scheme != "pbkdf2-sha256" {
        return Err(PinError::BadHash);
    }
    let iters: u32 = iters.parse().map_err(|_| PinError::BadHash)?;
    let iters = NonZeroU32::new(iters).ok_or(PinError::BadHash)?;
    let salt = hex::decode(salt).map_err(|_| PinError::BadHash)?;
    let hash = hex::decode(hash).map_err(|_| PinError::BadHash)?;
    Ok(pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iters,
        &salt,
        pin.as_bytes(),
        &hash,
    )
    .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_pin_verifies_and_a_wrong_one_does_not() {
        let h = hash_pin("1234", b"salt-salt-salt-1", 1000).unwrap();
        assert!(h.starts_with("pbkdf2-sha256$1000$"));
        assert!(verify_pin("1234", &h).unwrap());
        assert!(!verify_pin("1235", &h).unwrap());
    }

    #[test]
    fn malformed_pins_and_hashes_are_refused() {
        assert_eq!(hash_pin("12a4", b"s", 1000), Err(PinError::BadPin));
        assert_eq!(hash_pin("123", b"s", 1000), Err(PinError::BadPin));
        assert_eq!(verify_pin("1234", "md5$x"), Err(PinError::BadHash));
    }
}
