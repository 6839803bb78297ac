//! Opaque secrets (API keys, refresh tokens) and their stored hashes.
//!
//! These secrets carry 256 bits of randomness, so a fast SHA-256 is the right hash: it cannot
//! be brute-forced, and it lets the database find the row by an indexed lookup instead of
//! comparing secrets in application code.

use sha2::{Digest, Sha256};

/// API keys start with this, so scanners and people can recognise one.
pub const API_KEY_PREFIX: &str = "bf_";
/// Characters of a key (after `bf_`) kept in clear as its visible prefix.
const VISIBLE: usize = 8;

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source is unavailable");
    hex(&buf)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random password for generated accounts: 24 hex characters (96 bits).
pub fn generate_password() -> String {
    random_hex(12)
}

pub fn sha256_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// A new API key: `(secret shown once, visible prefix, stored hash)`.
pub fn new_api_key() -> (String, String, String) {
    let secret = format!("{API_KEY_PREFIX}{}", random_hex(32));
    let prefix = secret[..API_KEY_PREFIX.len() + VISIBLE].to_owned();
    let hash = sha256_hex(&secret);
    (secret, prefix, hash)
}

/// A new refresh token: `(token, stored hash)`.
pub fn new_refresh_token() -> (String, String) {
    let token = random_hex(32);
    let hash = sha256_hex(&token);
    (token, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_prefixed_and_hashed() {
        let (a, prefix, hash) = new_api_key();
        let (b, _, _) = new_api_key();
        assert_ne!(a, b);
        assert!(a.starts_with("bf_") && a.len() == 3 + 64);
        assert!(a.starts_with(&prefix) && prefix.len() == 11);
        assert_eq!(hash, sha256_hex(&a));
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&a[3..]));
    }
}
