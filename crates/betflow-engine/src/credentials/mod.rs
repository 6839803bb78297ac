//! Credentials and definition variables, encrypted at rest (seeds 003 and 004).

use std::sync::Arc;

use betflow_store::Store;
use serde_json::{Map, Value};
use uuid::Uuid;

/// A credential decrypted for one action call. Never logged, returned or stored in clear.
#[derive(Clone)]
pub struct CredentialSecret {
    pub id: Uuid,
    /// Its credential type's key, e.g. `http_bearer` or `smtp`.
    pub kind: String,
    /// The type's fields, secret ones included.
    pub fields: Map<String, Value>,
}

impl std::fmt::Debug for CredentialSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSecret")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Credentials, variables and the keys that encrypt them.
#[derive(Clone)]
pub struct Credentials {
    #[allow(dead_code, reason = "filled in by the credentials work")]
    store: Arc<dyn Store>,
}

impl Credentials {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}
