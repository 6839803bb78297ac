//! Key rotation (`betflow keys rotate`): every stored secret re-encrypted under the current
//! key, row by row, each in its own small transaction.
//!
//! A run picks up whatever is not under the current key yet: credentials and secret
//! variables by their `key_id` column, inbound endpoint and outbound webhook secrets by their
//! text's key id (and legacy clear-text webhook secrets, encrypted for the first time). Each row is replaced only
//! if it still holds the value read (an edit meanwhile already wrote it under the current
//! key), so a rotation may run beside the server, be interrupted at any point and resumed by
//! running it again.

use betflow_domain::webhooks::Webhook;

use super::variables::{VARIABLE_PURPOSE, variable_row};
use super::{CREDENTIAL_PURPOSE, Credentials};
use crate::EngineError;
use crate::secrets::Keyring;
use crate::triggers::SECRET_PURPOSE as INBOUND_PURPOSE;
use crate::webhooks::{open_secrets, seal_secrets};

/// Rows read per query.
const BATCH: u32 = 100;

/// What one rotation run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Credentials re-encrypted.
    pub credentials: u64,
    /// Secret variables re-encrypted.
    pub variables: u64,
    /// Webhook endpoints whose secrets were re-encrypted (or encrypted for the first time).
    pub webhooks: u64,
    /// Inbound webhook endpoints whose secrets were re-encrypted.
    pub inbound_endpoints: u64,
    /// Rows that changed while being rotated (already under the current key).
    pub skipped: u64,
    /// Whether rows remain to do (the run stopped at its limit).
    pub remaining: bool,
}

impl RotationReport {
    pub fn rotated(&self) -> u64 {
        self.credentials + self.variables + self.webhooks + self.inbound_endpoints
    }
}

impl Credentials {
    /// Re-encrypts every stored secret not under the current key, at most `limit` rows
    /// (`None`: all). Fails on a value no key of the keyring decrypts, naming its row (never
    /// its value); rows done before stay done.
    #[tracing::instrument(name = "credentials.rotate_keys", skip_all)]
    pub async fn rotate_keys(&self, limit: Option<u64>) -> Result<RotationReport, EngineError> {
        let mut report = RotationReport::default();
        let current = self.keyring.current_id().to_owned();
        let left = |r: &RotationReport| limit.map(|l| l.saturating_sub(r.rotated() + r.skipped));
        let batch = |r: &RotationReport| -> u32 {
            left(r).map_or(BATCH, |l| {
                u32::try_from(l.min(u64::from(BATCH))).unwrap_or(BATCH)
            })
        };

        // Credentials.
        loop {
            let n = batch(&report);
            if n == 0 {
                break;
            }
            let rows = self.store.credentials_not_under(&current, n).await?;
            if rows.is_empty() {
                break;
            }
            for c in rows {
                let row = c.id.to_string();
                let plain = self
                    .keyring
                    .decrypt(CREDENTIAL_PURPOSE, &row, &c.ciphertext)
                    .map_err(|e| EngineError::Internal(format!("credential {}: {e}", c.id)))?;
                let sealed = self
                    .keyring
                    .encrypt(CREDENTIAL_PURPOSE, &row, plain.expose())?;
                let mut tx = self.store.begin().await?;
                let done = tx
                    .reencrypt_credential(c.id, &c.ciphertext, &sealed, &current)
                    .await?;
                tx.commit().await?;
                if done {
                    report.credentials += 1;
                } else {
                    report.skipped += 1;
                }
            }
        }

        // Secret variables.
        loop {
            let n = batch(&report);
            if n == 0 {
                break;
            }
            let rows = self.store.variables_not_under(&current, n).await?;
            if rows.is_empty() {
                break;
            }
            for v in rows {
                let row = variable_row(v.definition_id, &v.name);
                let plain = self
                    .keyring
                    .decrypt(VARIABLE_PURPOSE, &row, &v.value)
                    .map_err(|e| EngineError::Internal(format!("variable {row}: {e}")))?;
                let sealed = self
                    .keyring
                    .encrypt(VARIABLE_PURPOSE, &row, plain.expose())?;
                let mut tx = self.store.begin().await?;
                let done = tx
                    .reencrypt_variable(v.definition_id, &v.name, &v.value, &sealed, &current)
                    .await?;
                tx.commit().await?;
                if done {
                    report.variables += 1;
                } else {
                    report.skipped += 1;
                }
            }
        }

        // Inbound webhook endpoint secrets.
        loop {
            let n = batch(&report);
            if n == 0 {
                break;
            }
            let rows = self.store.inbound_secrets_not_under(&current, n).await?;
            if rows.is_empty() {
                break;
            }
            for (id, stored) in rows {
                let row = id.to_string();
                let plain = if Keyring::is_ciphertext(&stored) {
                    self.keyring
                        .decrypt(INBOUND_PURPOSE, &row, &stored)
                        .map_err(|e| EngineError::Internal(format!("inbound endpoint {id}: {e}")))?
                        .expose()
                        .to_vec()
                } else {
                    stored.as_bytes().to_vec()
                };
                let sealed = self.keyring.encrypt(INBOUND_PURPOSE, &row, &plain)?;
                let mut tx = self.store.begin().await?;
                let done = tx.reencrypt_inbound_secret(id, &stored, &sealed).await?;
                tx.commit().await?;
                if done {
                    report.inbound_endpoints += 1;
                } else {
                    report.skipped += 1;
                }
            }
        }

        // Outbound webhook secrets (few rows: read them all).
        for stored in self.store.list_webhooks().await? {
            if !needs_rotation(&self.keyring, &stored) {
                continue;
            }
            if batch(&report) == 0 {
                report.remaining = true;
                break;
            }
            let plain = open_secrets(&self.keyring, stored.clone())
                .map_err(|e| EngineError::Internal(format!("webhook {}: {e}", stored.id)))?;
            let sealed = seal_secrets(&self.keyring, &plain)?;
            let mut tx = self.store.begin().await?;
            let done = tx
                .reencrypt_webhook_secrets(
                    stored.id,
                    (&stored.secret, stored.previous_secret.as_deref()),
                    (&sealed.secret, sealed.previous_secret.as_deref()),
                )
                .await?;
            tx.commit().await?;
            if done {
                report.webhooks += 1;
            } else {
                report.skipped += 1;
            }
        }

        if !report.remaining && limit.is_some() {
            report.remaining = self.pending(&current).await?;
        }
        Ok(report)
    }

    /// Whether any stored secret is not under the key `current`.
    async fn pending(&self, current: &str) -> Result<bool, EngineError> {
        Ok(!self
            .store
            .credentials_not_under(current, 1)
            .await?
            .is_empty()
            || !self.store.variables_not_under(current, 1).await?.is_empty()
            || !self
                .store
                .inbound_secrets_not_under(current, 1)
                .await?
                .is_empty()
            || self
                .store
                .list_webhooks()
                .await?
                .iter()
                .any(|w| needs_rotation(&self.keyring, w)))
    }
}

fn needs_rotation(keyring: &Keyring, w: &Webhook) -> bool {
    keyring.is_stale(&w.secret)
        || w.previous_secret
            .as_deref()
            .is_some_and(|p| keyring.is_stale(p))
}
