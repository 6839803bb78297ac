//! Credentials and definition variables, encrypted at rest (seeds 003 and 004).
//!
//! A credential's data (its type's fields, a JSON object) is stored only as ciphertext under
//! the engine's [`Keyring`]; the API sees metadata alone. The action runner gets the data
//! through [`Credentials::resolve`], which refuses an expired or deleted credential and marks
//! it used (seed 004's `isValid` and `markAsUsed`). Variables are per definition; secret ones
//! are encrypted like credentials, shown masked, and decrypted only for expressions
//! ([`Credentials::vars_for`]).
//!
//! - `variables`: reading and replacing a definition's variables;
//! - `rotate`: re-encrypting every stored secret under the current key (`betflow keys rotate`).

mod rotate;
mod variables;

use std::sync::Arc;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::automation::credentials::{
    self as rules, CredentialType, StoredCredential, credential_ids,
};
use betflow_domain::refusal::RefusalKind;
use betflow_domain::time::now;
use betflow_domain::{DomainError, Page, PageRequest};
use betflow_store::{Store, Transaction};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::EngineError;
use crate::secrets::Keyring;

pub use rotate::RotationReport;
pub use variables::{NewVariable, VariableView};

/// The associated-data purpose of a credential's data.
pub(crate) const CREDENTIAL_PURPOSE: &str = "credential.data";

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

impl CredentialSecret {
    /// A field as text (numbers too), if present.
    pub fn text(&self, field: &str) -> Option<String> {
        match self.fields.get(field)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// A credential as everyone but the action runner sees it: metadata only.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialInfo {
    pub id: Uuid,
    pub name: String,
    /// Its type's key.
    pub kind: String,
    pub owner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&StoredCredential> for CredentialInfo {
    fn from(c: &StoredCredential) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            kind: c.kind.clone(),
            owner_id: c.owner_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
            expires_at: c.expires_at,
            last_used_at: c.last_used_at,
        }
    }
}

/// A new credential.
#[derive(Clone)]
pub struct NewCredential {
    pub name: String,
    /// A credential type's key (`GET /api/v1/credential-types`).
    pub kind: String,
    /// The type's fields.
    pub data: Map<String, Value>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Changes to a credential; only what is given changes.
#[derive(Clone, Default)]
pub struct CredentialChanges {
    pub name: Option<String>,
    /// Merged into the stored data: a field given replaces it, a field given as `null`
    /// removes it, others stay. The result is checked against the type.
    pub data: Option<Map<String, Value>>,
    /// `Some(None)` removes the expiry.
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

impl std::fmt::Debug for CredentialChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialChanges")
            .field("name", &self.name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Credentials, variables and the keys that encrypt them.
#[derive(Clone)]
pub struct Credentials {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
}

fn not_found(id: Uuid) -> EngineError {
    EngineError::NotFound(format!("credential {id}"))
}

fn kind_of(c: &StoredCredential) -> Result<&'static CredentialType, EngineError> {
    rules::credential_type(&c.kind)
        .ok_or_else(|| EngineError::Internal(format!("credential {} has an unknown type", c.id)))
}

impl Credentials {
    pub fn new(store: Arc<dyn Store>, keyring: Arc<Keyring>) -> Self {
        Self { store, keyring }
    }

    /// The keyring every stored secret goes through.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    fn seal(&self, id: Uuid, data: &Map<String, Value>) -> Result<String, EngineError> {
        let text = serde_json::to_vec(data)
            .map_err(|e| EngineError::Internal(format!("credential data: {e}")))?;
        self.keyring
            .encrypt(CREDENTIAL_PURPOSE, &id.to_string(), &text)
    }

    fn open(&self, c: &StoredCredential) -> Result<Map<String, Value>, EngineError> {
        let bytes = self
            .keyring
            .decrypt(CREDENTIAL_PURPOSE, &c.id.to_string(), &c.ciphertext)?;
        serde_json::from_slice(bytes.expose())
            .map_err(|_| EngineError::Internal(format!("credential {} holds no JSON object", c.id)))
    }

    fn audit_values(
        c: &StoredCredential,
        kind: &CredentialType,
        data: &Map<String, Value>,
    ) -> Value {
        json!({
            "name": c.name,
            "type": c.kind,
            "ownerId": c.owner_id,
            "expiresAt": c.expires_at,
            "data": rules::masked(kind, data),
        })
    }

    async fn audit(
        tx: &mut Box<dyn Transaction>,
        id: Uuid,
        action: AuditAction,
        old: Option<Value>,
        new: Option<Value>,
        actor: &Actor,
    ) -> Result<(), EngineError> {
        let entry = AuditEntry::new("user_credentials", id, action, old, new, actor.clone())?;
        tx.insert_audit(&entry).await?;
        Ok(())
    }

    /// Stores a new credential owned by `owner`, its data checked against its type and
    /// encrypted. The audit row shows secret fields masked.
    #[tracing::instrument(name = "credentials.create", skip_all)]
    pub async fn create(
        &self,
        owner: Uuid,
        new: NewCredential,
        actor: &Actor,
    ) -> Result<CredentialInfo, EngineError> {
        let name = rules::check_credential_name(&new.name)
            .map_err(|v| DomainError::Validation(vec![v]))?;
        let kind = rules::known_type(&new.kind)?;
        let data = rules::check_data(kind, &new.data)?;
        let t = now();
        let id = Uuid::now_v7();
        let c = StoredCredential {
            id,
            name,
            kind: kind.key.to_owned(),
            owner_id: Some(owner),
            ciphertext: self.seal(id, &data)?,
            key_id: self.keyring.current_id().to_owned(),
            created_at: t,
            updated_at: t,
            expires_at: new.expires_at,
            last_used_at: None,
            deleted_at: None,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_credential(&c).await?;
        let shown = Self::audit_values(&c, kind, &data);
        Self::audit(&mut tx, id, AuditAction::Insert, None, Some(shown), actor).await?;
        tx.commit().await?;
        Ok(CredentialInfo::from(&c))
    }

    /// Credentials not deleted, oldest first; only `owner`'s when given (seed 004's
    /// `findByUser`). Metadata only.
    pub async fn list(
        &self,
        owner: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<CredentialInfo>, EngineError> {
        let p = self.store.list_credentials(owner, page).await?;
        Ok(Page::new(
            p.items.iter().map(CredentialInfo::from).collect(),
            p.total,
            page,
        ))
    }

    /// One credential's metadata; a deleted one is not found.
    pub async fn get(&self, id: Uuid) -> Result<CredentialInfo, EngineError> {
        match self.store.get_credential(id).await? {
            Some(c) if c.deleted_at.is_none() => Ok(CredentialInfo::from(&c)),
            _ => Err(not_found(id)),
        }
    }

    /// Renames, re-dates or changes the data of a credential (data merged field by field,
    /// then checked against the type and encrypted again).
    #[tracing::instrument(name = "credentials.update", skip_all, fields(credential_id = %id))]
    pub async fn update(
        &self,
        id: Uuid,
        changes: CredentialChanges,
        actor: &Actor,
    ) -> Result<CredentialInfo, EngineError> {
        let name = changes
            .name
            .as_deref()
            .map(rules::check_credential_name)
            .transpose()
            .map_err(|v| DomainError::Validation(vec![v]))?;
        let mut tx = self.store.begin().await?;
        let mut c = match tx.lock_credential(id).await? {
            Some(c) if c.deleted_at.is_none() => c,
            _ => return Err(not_found(id)),
        };
        let kind = kind_of(&c)?;
        let before_data = self.open(&c)?;
        let before = Self::audit_values(&c, kind, &before_data);
        let mut data = before_data.clone();
        if let Some(patch) = changes.data {
            for (k, v) in patch {
                if v.is_null() && kind.fields.iter().any(|f| f.name == k) {
                    data.remove(&k);
                } else {
                    data.insert(k, v);
                }
            }
            data = rules::check_data(kind, &data)?;
            c.ciphertext = self.seal(id, &data)?;
            c.key_id = self.keyring.current_id().to_owned();
        }
        if let Some(n) = name {
            c.name = n;
        }
        if let Some(e) = changes.expires_at {
            c.expires_at = e;
        }
        c.updated_at = now();
        if !tx.update_credential(&c).await? {
            return Err(not_found(id));
        }
        let after = Self::audit_values(&c, kind, &data);
        Self::audit(
            &mut tx,
            id,
            AuditAction::Update,
            Some(before),
            Some(after),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok(CredentialInfo::from(&c))
    }

    /// The keys of active definitions whose latest version has a step naming this credential
    /// in `params.credentialId`.
    pub async fn used_by(&self, id: Uuid) -> Result<Vec<String>, EngineError> {
        let mut users = Vec::new();
        for d in self.store.list_definitions().await? {
            if !d.is_active {
                continue;
            }
            if let Some(v) = self.store.get_version(d.id, d.latest_version).await?
                && credential_ids(&v.graph).contains(&id)
            {
                users.push(d.key);
            }
        }
        Ok(users)
    }

    /// Deletes a credential (soft: its row stays for the audit trail, its data is erased).
    /// Refused with `CREDENTIAL_IN_USE` (409) while an active definition uses it.
    #[tracing::instrument(name = "credentials.delete", skip_all, fields(credential_id = %id))]
    pub async fn delete(&self, id: Uuid, actor: &Actor) -> Result<(), EngineError> {
        self.get(id).await?;
        let users = self.used_by(id).await?;
        if !users.is_empty() {
            return Err(EngineError::refused(
                RefusalKind::Conflict,
                "CREDENTIAL_IN_USE",
                format!(
                    "the credential is used by active workflow definitions: {}",
                    users.join(", ")
                ),
                Some(json!({ "definitions": users })),
            ));
        }
        let mut tx = self.store.begin().await?;
        let mut c = match tx.lock_credential(id).await? {
            Some(c) if c.deleted_at.is_none() => c,
            _ => return Err(not_found(id)),
        };
        let kind = kind_of(&c)?;
        let before = Self::audit_values(&c, kind, &self.open(&c).unwrap_or_default());
        let t = now();
        c.ciphertext = self.seal(id, &Map::new())?;
        c.key_id = self.keyring.current_id().to_owned();
        c.deleted_at = Some(t);
        c.updated_at = t;
        tx.update_credential(&c).await?;
        Self::audit(&mut tx, id, AuditAction::Delete, Some(before), None, actor).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A credential decrypted for an action call at `now` (seed 004's
    /// `getCredentialForExecution`): not found if unknown or deleted, `CREDENTIAL_EXPIRED`
    /// (422) once expired; marks it used.
    #[tracing::instrument(name = "credentials.resolve", skip_all, fields(credential_id = %id))]
    pub async fn resolve(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<CredentialSecret, EngineError> {
        let c = match self.store.get_credential(id).await? {
            Some(c) if c.deleted_at.is_none() => c,
            _ => return Err(not_found(id)),
        };
        if !c.is_valid(now) {
            return Err(EngineError::refused(
                RefusalKind::Unprocessable,
                "CREDENTIAL_EXPIRED",
                format!(
                    "credential {} ({}) expired at {}",
                    c.id,
                    c.name,
                    c.expires_at.map(|e| e.to_rfc3339()).unwrap_or_default()
                ),
                Some(json!({ "credentialId": c.id })),
            ));
        }
        let fields = self.open(&c)?;
        let mut tx = self.store.begin().await?;
        tx.mark_credential_used(id, now).await?;
        tx.commit().await?;
        Ok(CredentialSecret {
            id: c.id,
            kind: c.kind,
            fields,
        })
    }
}
