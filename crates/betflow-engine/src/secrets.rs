//! Encryption at rest: the [`Keyring`] every stored secret goes through (credentials, secret
//! variables, outbound webhook secrets, inbound endpoint secrets).
//!
//! AES-256-GCM under `BETFLOW_ENCRYPTION_KEY`. A ciphertext is stored as text,
//! `v1:<keyid>:<base64(nonce || ciphertext || tag)>`, where the key id is the first 8 hex
//! characters of the SHA-256 of the key, so each value records the key it is under and a
//! rotation (`betflow keys rotate`) can find the values still under an old one. The
//! associated data binds a ciphertext to its purpose (the column) and its row: a value
//! copied into another row or column does not decrypt.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use betflow_domain::automation::credentials::{KeyFormatError, parse_encryption_key};
use sha2::{Digest, Sha256};

use crate::EngineError;

/// The format's version prefix.
const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// A 32-byte AES key; shows only its id.
#[derive(Clone)]
pub struct EncryptionKey {
    bytes: [u8; 32],
}

impl EncryptionKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { bytes }
    }

    /// `BETFLOW_ENCRYPTION_KEY`'s format: 64 hex characters or base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, KeyFormatError> {
        parse_encryption_key(text).map(Self::from_bytes)
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, EngineError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| EngineError::Internal(format!("no system randomness: {e}")))?;
        Ok(Self { bytes })
    }

    /// 64 lowercase hex characters, for a key file.
    pub fn to_hex(&self) -> String {
        self.bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The first 8 hex characters of the key's SHA-256.
    pub fn id(&self) -> String {
        Sha256::digest(self.bytes)
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKey({})", self.id())
    }
}

/// Decrypted bytes. No `Debug` or `Display` with the contents.
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as UTF-8 text.
    pub fn into_string(self) -> Result<SecretString, EngineError> {
        String::from_utf8(self.0)
            .map(SecretString)
            .map_err(|_| EngineError::Internal("a decrypted secret is not UTF-8".into()))
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBytes(***)")
    }
}

/// Decrypted text. No `Debug` or `Display` with the contents.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// The key of engines built without one (tests): one random key made once per process, so
/// engines built over the same database in one process read each other's values.
pub fn process_key() -> Result<EncryptionKey, EngineError> {
    static PROCESS_KEY: std::sync::OnceLock<EncryptionKey> = std::sync::OnceLock::new();
    if let Some(k) = PROCESS_KEY.get() {
        return Ok(k.clone());
    }
    let k = EncryptionKey::generate()?;
    Ok(PROCESS_KEY.get_or_init(|| k).clone())
}

struct Slot {
    id: String,
    cipher: Aes256Gcm,
}

/// The current key, which encrypts, and older keys, which only decrypt (until a rotation has
/// moved every value to the current one).
pub struct Keyring {
    current: Slot,
    older: Vec<Slot>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field(
                "older",
                &self.older.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn slot(key: &EncryptionKey) -> Slot {
    Slot {
        id: key.id(),
        cipher: Aes256Gcm::new(&key.bytes.into()),
    }
}

/// What a ciphertext is bound to.
fn aad(purpose: &str, row: &str) -> Vec<u8> {
    format!("betflow:{VERSION}:{purpose}:{row}").into_bytes()
}

fn undecryptable(why: &str) -> EngineError {
    // Never the value: only why it could not be read.
    EngineError::Internal(format!("a stored secret cannot be decrypted: {why}"))
}

impl Keyring {
    /// Encrypts with `current`; decrypts with it or any of `older` (duplicates ignored).
    pub fn new(current: &EncryptionKey, older: &[EncryptionKey]) -> Self {
        let current = slot(current);
        let mut slots: Vec<Slot> = Vec::new();
        for k in older {
            let s = slot(k);
            if s.id != current.id && !slots.iter().any(|o| o.id == s.id) {
                slots.push(s);
            }
        }
        Self {
            current,
            older: slots,
        }
    }

    /// A keyring with one random key.
    pub fn ephemeral() -> Result<Self, EngineError> {
        Ok(Self::new(&EncryptionKey::generate()?, &[]))
    }

    /// The configured keys; without a current key (tests), [`process_key`].
    pub fn from_config(config: &crate::EncryptionConfig) -> Result<Self, EngineError> {
        let current = match &config.key {
            Some(k) => k.clone(),
            None => process_key()?,
        };
        Ok(Self::new(&current, &config.previous))
    }

    /// The id of the key new values are encrypted under.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// The ids of the keys kept for decryption only.
    pub fn older_ids(&self) -> Vec<&str> {
        self.older.iter().map(|s| s.id.as_str()).collect()
    }

    /// The key id a stored value is under, if it is in this format.
    pub fn key_id_of(text: &str) -> Option<&str> {
        let rest = text.strip_prefix(VERSION)?.strip_prefix(':')?;
        let (id, _) = rest.split_once(':')?;
        Some(id)
    }

    /// Whether a stored value is a ciphertext of this format (rather than legacy clear text).
    pub fn is_ciphertext(text: &str) -> bool {
        Self::key_id_of(text).is_some()
    }

    /// Encrypts `plaintext` for one column (`purpose`, e.g. `credential.data`) of one row
    /// (`row`, its id) under the current key.
    pub fn encrypt(
        &self,
        purpose: &str,
        row: &str,
        plaintext: &[u8],
    ) -> Result<String, EngineError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| EngineError::Internal(format!("no system randomness: {e}")))?;
        let ad = aad(purpose, row);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad: &ad,
                },
            )
            .map_err(|_| EngineError::Internal("encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION}:{}:{}", self.current.id, B64.encode(out)))
    }

    /// [`Keyring::encrypt`] of text.
    pub fn encrypt_str(
        &self,
        purpose: &str,
        row: &str,
        plaintext: &str,
    ) -> Result<String, EngineError> {
        self.encrypt(purpose, row, plaintext.as_bytes())
    }

    /// Decrypts a value [`Keyring::encrypt`] wrote for this purpose and row, under the current
    /// key or an older one. Fails (an internal error, never showing the value) for an unknown
    /// key id, another row's or purpose's value, or a tampered one.
    pub fn decrypt(
        &self,
        purpose: &str,
        row: &str,
        text: &str,
    ) -> Result<SecretBytes, EngineError> {
        let id = Self::key_id_of(text).ok_or_else(|| undecryptable("not a v1 ciphertext"))?;
        let Some((_, body)) = text.rsplit_once(':') else {
            return Err(undecryptable("not a v1 ciphertext"));
        };
        let slot = std::iter::once(&self.current)
            .chain(self.older.iter())
            .find(|s| s.id == id)
            .ok_or_else(|| {
                undecryptable(&format!(
                    "it is under key {id}, which is neither BETFLOW_ENCRYPTION_KEY nor one of \
                     BETFLOW_PREVIOUS_ENCRYPTION_KEYS"
                ))
            })?;
        let raw = B64.decode(body).map_err(|_| undecryptable("bad base64"))?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(undecryptable("too short"));
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| undecryptable("bad nonce"))?;
        let ad = aad(purpose, row);
        slot.cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: sealed,
                    aad: &ad,
                },
            )
            .map(SecretBytes)
            .map_err(|_| {
                undecryptable("authentication failed (wrong row, purpose or key, or tampered)")
            })
    }

    /// [`Keyring::decrypt`] of text.
    pub fn decrypt_str(
        &self,
        purpose: &str,
        row: &str,
        text: &str,
    ) -> Result<SecretString, EngineError> {
        self.decrypt(purpose, row, text)?.into_string()
    }

    /// Whether a stored value needs re-encrypting under the current key (legacy clear text,
    /// or a ciphertext under an older key).
    pub fn is_stale(&self, text: &str) -> bool {
        Self::key_id_of(text) != Some(self.current.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> EncryptionKey {
        EncryptionKey::from_bytes([b; 32])
    }

    #[test]
    fn round_trips_and_records_the_key_id() {
        let ring = Keyring::new(&key(1), &[]);
        let text = ring
            .encrypt_str("credential.data", "row-1", "hunter2")
            .unwrap();
        assert!(text.starts_with(&format!("v1:{}:", key(1).id())), "{text}");
        assert_eq!(key(1).id().len(), 8);
        assert!(!text.contains("hunter2"));
        assert_eq!(Keyring::key_id_of(&text), Some(ring.current_id()));
        assert_eq!(
            ring.decrypt_str("credential.data", "row-1", &text)
                .unwrap()
                .expose(),
            "hunter2"
        );
        // Fresh nonces: the same value encrypts differently each time.
        assert_ne!(
            text,
            ring.encrypt_str("credential.data", "row-1", "hunter2")
                .unwrap()
        );
        assert!(!ring.is_stale(&text));
        assert!(ring.is_stale("whsec_legacy"));
    }

    #[test]
    fn a_ciphertext_is_bound_to_its_row_and_purpose() {
        let ring = Keyring::new(&key(1), &[]);
        let text = ring
            .encrypt_str("credential.data", "row-1", "hunter2")
            .unwrap();
        assert!(ring.decrypt("credential.data", "row-2", &text).is_err());
        assert!(ring.decrypt("variable.value", "row-1", &text).is_err());
        let mut tampered = text.clone();
        tampered.pop();
        tampered.push(if text.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.decrypt("credential.data", "row-1", &tampered).is_err());
        let err = ring
            .decrypt("credential.data", "row-2", &text)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn older_keys_decrypt_but_only_the_current_one_encrypts() {
        let old = Keyring::new(&key(1), &[]);
        let text = old.encrypt_str("p", "r", "s").unwrap();
        let rotated = Keyring::new(&key(2), &[key(1), key(1), key(2)]);
        assert_eq!(rotated.older_ids(), vec![key(1).id()]);
        assert_eq!(rotated.decrypt_str("p", "r", &text).unwrap().expose(), "s");
        assert!(rotated.is_stale(&text));
        let new = rotated.encrypt_str("p", "r", "s").unwrap();
        assert_eq!(Keyring::key_id_of(&new), Some(key(2).id().as_str()));
        // Without the old key, its values no longer decrypt.
        let only_new = Keyring::new(&key(2), &[]);
        let err = only_new.decrypt("p", "r", &text).unwrap_err().to_string();
        assert!(err.contains(&key(1).id()), "{err}");
        assert!(only_new.decrypt("p", "r", &new).is_ok());
    }

    #[test]
    fn nothing_shows_key_material_or_plaintext() {
        let k = key(7);
        let ring = Keyring::new(&k, &[]);
        let shown = format!("{k:?} {ring:?}");
        assert!(!shown.contains(&k.to_hex()), "{shown}");
        let s = ring
            .decrypt_str("p", "r", &ring.encrypt_str("p", "r", "hunter2").unwrap())
            .unwrap();
        assert_eq!(format!("{s:?}"), "SecretString(***)");
        assert_eq!(EncryptionKey::parse(&k.to_hex()).unwrap().id(), k.id());
        assert!(EncryptionKey::parse("nope").is_err());
    }
}
