//! Argon2id password hashing, off the async runtime.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::EngineError;

/// Argon2id cost. The default is OWASP's recommendation (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordCost {
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasherService {
    params: Arc<Params>,
    /// A real hash of a random password, verified against when a login names no user, so
    /// unknown and known usernames take the same time.
    dummy: Arc<String>,
}

impl PasswordHasherService {
    pub fn new(cost: PasswordCost) -> Result<Self, EngineError> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| EngineError::Internal(format!("invalid Argon2 parameters: {e}")))?;
        let mut this = Self {
            params: Arc::new(params),
            dummy: Arc::new(String::new()),
        };
        let random = super::secrets::random_hex(16);
        this.dummy = Arc::new(this.hash_blocking(&random)?);
        Ok(this)
    }

    fn argon2(&self) -> Argon2<'_> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, (*self.params).clone())
    }

    fn hash_blocking(&self, password: &str) -> Result<String, EngineError> {
        self.argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
    }

    pub async fn hash(&self, password: String) -> Result<String, EngineError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.hash_blocking(&password))
            .await
            .map_err(|e| EngineError::Internal(format!("hashing task failed: {e}")))?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when `hash` is `None`
    /// (and then always answers `false`).
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let known = hash.is_some();
            let hash = hash.unwrap_or_else(|| this.dummy.to_string());
            let ok = this
                .argon2()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok();
            ok && known
        })
        .await
        .unwrap_or(false)
    }
}
