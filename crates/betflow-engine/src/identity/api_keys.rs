//! API keys: creating (the secret shown once), listing and revoking.

use betflow_domain::DomainError;
use betflow_domain::audit::{Actor, AuditAction};
use betflow_domain::identity::{self, ApiKey};
use betflow_domain::time::now;
use betflow_domain::{Page, PageRequest};
use serde_json::json;
use uuid::Uuid;

use super::{Identity, NewApiKey, audit_table, secrets};
use crate::EngineError;

impl Identity {
    /// Creates a key for `owner`. It may carry only permissions the owner holds; the secret
    /// is returned here and never again.
    #[tracing::instrument(name = "identity.create_api_key", skip_all, fields(owner_id = %owner_id))]
    pub async fn create_api_key(
        &self,
        owner_id: Uuid,
        new: NewApiKey,
        actor: &Actor,
    ) -> Result<(ApiKey, String), EngineError> {
        let name = identity::validate_api_key_name(&new.name)?;
        let owner = self.get_user(owner_id).await?;
        let held = owner.effective_permissions();
        let permissions = match new.permissions {
            None => held.clone(),
            Some(p) => identity::parse_permissions("permissions", &p)?,
        };
        let excess: Vec<String> = permissions
            .iter()
            .filter(|p| !identity::covers(&held, p))
            .cloned()
            .collect();
        if !excess.is_empty() {
            return Err(EngineError::PermissionDenied(excess));
        }
        let t = now();
        let expires_at = match new.expires_in {
            None => None,
            Some(d) if d.is_zero() => {
                return Err(DomainError::invalid("expiresIn", "must be positive").into());
            }
            Some(d) => Some(
                chrono::Duration::from_std(d)
                    .ok()
                    .and_then(|d| t.checked_add_signed(d))
                    .ok_or_else(|| DomainError::invalid("expiresIn", "is too far in the future"))?,
            ),
        };
        let (secret, prefix, hash) = secrets::new_api_key();
        let key = ApiKey {
            id: Uuid::now_v7(),
            user_id: owner.id,
            name,
            prefix,
            permissions,
            is_active: true,
            expires_at,
            last_used: None,
            revoked_at: None,
            created_at: t,
            updated_at: t,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_api_key(&key, &hash).await?;
        audit_table(
            &mut tx,
            "api_keys",
            key.id,
            AuditAction::Insert,
            None,
            json!({"event": "apikey.created", "userId": key.user_id, "name": key.name,
                   "prefix": key.prefix, "permissions": key.permissions,
                   "expiresAt": key.expires_at}),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok((key, secret))
    }

    /// Keys of `owner`, or of everyone when `None`.
    pub async fn list_api_keys(
        &self,
        owner: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, EngineError> {
        Ok(self.store.list_api_keys(owner, page).await?)
    }

    /// Revokes a key. With `owner` set, only that user's keys are visible (others are
    /// reported as not found, so key ids cannot be probed).
    #[tracing::instrument(name = "identity.revoke_api_key", skip_all, fields(key_id = %id))]
    pub async fn revoke_api_key(
        &self,
        id: Uuid,
        owner: Option<Uuid>,
        actor: &Actor,
    ) -> Result<ApiKey, EngineError> {
        let not_found = || EngineError::NotFound(format!("API key {id}"));
        let key = self.store.get_api_key(id).await?.ok_or_else(not_found)?;
        if owner.is_some_and(|o| o != key.user_id) {
            return Err(not_found());
        }
        let mut tx = self.store.begin().await?;
        let t = now();
        if tx.revoke_api_key(id, t).await? {
            audit_table(
                &mut tx,
                "api_keys",
                id,
                AuditAction::Update,
                Some(json!({"isActive": true})),
                json!({"event": "apikey.revoked", "isActive": false}),
                actor,
            )
            .await?;
        }
        tx.commit().await?;
        self.changed().await;
        self.store.get_api_key(id).await?.ok_or_else(not_found)
    }
}
