//! Credentials and definition variables (seeds 003 and 004's `user_credentials` and `workflow_variable`). Secret values arrive and leave encrypted: the store never sees plaintext.

use async_trait::async_trait;
use betflow_domain::automation::credentials::{StoredCredential, StoredVariable};
use betflow_domain::{Page, PageRequest};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// Reading credentials and variables (ciphertext included; only the engine decrypts).
#[async_trait]
pub trait CredentialRead {
    /// A credential, deleted or not.
    async fn get_credential(&self, id: Uuid) -> Result<Option<StoredCredential>>;
    /// Credentials not deleted, oldest first; only `owner`'s when given.
    async fn list_credentials(
        &self,
        owner: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<StoredCredential>>;
    /// Up to `limit` credentials (deleted ones too) whose ciphertext is not under `key_id`.
    async fn credentials_not_under(
        &self,
        key_id: &str,
        limit: u32,
    ) -> Result<Vec<StoredCredential>>;
    /// A definition's variables, by name.
    async fn list_variables(&self, definition_id: Uuid) -> Result<Vec<StoredVariable>>;
    /// Up to `limit` secret variables (of any definition) not under `key_id`.
    async fn variables_not_under(&self, key_id: &str, limit: u32) -> Result<Vec<StoredVariable>>;
    /// Up to `limit` inbound webhook endpoints whose stored secret is not a ciphertext under
    /// `key_id`: `(endpoint id, stored secret)`.
    async fn inbound_secrets_not_under(
        &self,
        key_id: &str,
        limit: u32,
    ) -> Result<Vec<(Uuid, String)>>;
}

/// Changing credentials and variables, inside a transaction.
#[async_trait]
pub trait CredentialWrite {
    async fn insert_credential(&mut self, credential: &StoredCredential) -> Result<()>;
    /// A credential, locked until the transaction ends (PostgreSQL; SQLite's writer is alone).
    async fn lock_credential(&mut self, id: Uuid) -> Result<Option<StoredCredential>>;
    /// Sets every changeable column by id; `false` if it does not exist.
    async fn update_credential(&mut self, credential: &StoredCredential) -> Result<bool>;
    /// Seed 004's `markAsUsed`.
    async fn mark_credential_used(&mut self, id: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// Replaces a credential's ciphertext if it still is `old` (a rotation racing an edit
    /// leaves the edit alone); `false` if it changed meanwhile.
    async fn reencrypt_credential(
        &mut self,
        id: Uuid,
        old: &str,
        new: &str,
        key_id: &str,
    ) -> Result<bool>;
    /// A definition's variables inside the transaction, by name.
    async fn variables_in_tx(&mut self, definition_id: Uuid) -> Result<Vec<StoredVariable>>;
    /// Replaces every variable of a definition with these.
    async fn replace_variables(
        &mut self,
        definition_id: Uuid,
        variables: &[StoredVariable],
    ) -> Result<()>;
    /// Replaces a secret variable's ciphertext if it still is `old`.
    async fn reencrypt_variable(
        &mut self,
        definition_id: Uuid,
        name: &str,
        old: &str,
        new: &str,
        key_id: &str,
    ) -> Result<bool>;
    /// Replaces an inbound endpoint's stored secret if it still is `old`.
    async fn reencrypt_inbound_secret(&mut self, id: Uuid, old: &str, new: &str) -> Result<bool>;
    /// Replaces an outbound webhook's stored secrets if they still are `old`
    /// (`(secret, previous_secret)`), for encryption at rest and key rotation.
    async fn reencrypt_webhook_secrets(
        &mut self,
        id: Uuid,
        old: (&str, Option<&str>),
        new: (&str, Option<&str>),
    ) -> Result<bool>;
}
