//! The two cryptographic helpers the server needs beyond request signing (auth.rs): random bytes
//! from the system generator and SHA-256.

use crate::error::{AppError, AppResult};

pub fn sha256(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

pub fn random_bytes<const N: usize>() -> AppResult<[u8; N]> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| AppError::internal("rng", "system random number generator failed"))?;
    Ok(b)
}
