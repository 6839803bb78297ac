//! Checking the credential a request presents: access tokens and API keys, with their
//! lookups cached for at most the configured TTL.

use std::sync::Arc;

use betflow_domain::identity::{User, UserStatus};
use betflow_domain::time::now;
use betflow_store::StoreError;
use uuid::Uuid;

use super::{
    Credential, Identity, Presented, Principal, clone_store_error, invalid_clone, secrets,
};
use crate::{AuthFailure, EngineError};

impl Identity {
    /// Checks a presented credential. Runs on every authenticated request, so lookups are
    /// cached for at most the configured TTL.
    pub async fn authenticate(&self, presented: Presented) -> Result<Principal, EngineError> {
        match presented {
            Presented::None => Err(EngineError::Unauthenticated(AuthFailure::Missing)),
            Presented::UnknownScheme => {
                Err(EngineError::Unauthenticated(AuthFailure::InvalidScheme))
            }
            Presented::Bearer(token) => self.authenticate_bearer(&token).await,
            Presented::ApiKey(key) => self.authenticate_key(&key).await,
        }
    }

    async fn authenticate_bearer(&self, token: &str) -> Result<Principal, EngineError> {
        let invalid = EngineError::Unauthenticated(AuthFailure::InvalidToken);
        let claims = self
            .tokens
            .verify(token)
            .ok_or_else(|| invalid_clone(&invalid))?;
        let user = self
            .cached_user(claims.user_id)
            .await?
            .ok_or_else(|| invalid_clone(&invalid))?;
        if user.status != UserStatus::Active || !self.session_active(claims.sid).await? {
            return Err(invalid);
        }
        Ok(Principal {
            user_id: user.id,
            username: user.username.clone(),
            role: user.role,
            permissions: user.effective_permissions(),
            key_permissions: None,
            credential: Credential::Session(claims.sid),
        })
    }

    async fn authenticate_key(&self, key: &str) -> Result<Principal, EngineError> {
        let invalid = || EngineError::Unauthenticated(AuthFailure::InvalidApiKey);
        if !key.starts_with(secrets::API_KEY_PREFIX) || key.len() > 128 {
            return Err(invalid());
        }
        let hash = secrets::sha256_hex(key);
        let store = self.store.clone();
        let lookup = hash.clone();
        let found = self
            .keys
            .try_get_with(hash, async move {
                let found = store.find_api_key_by_hash(&lookup).await?;
                Ok::<_, StoreError>(found.map(|(k, _)| Arc::new(k)))
            })
            .await
            .map_err(|e| EngineError::from(clone_store_error(&e)))?;
        let key = found.ok_or_else(invalid)?;
        let now = now();
        if !key.is_usable(now) {
            return Err(invalid());
        }
        let owner = self.cached_user(key.user_id).await?.ok_or_else(invalid)?;
        if owner.status != UserStatus::Active {
            return Err(invalid());
        }
        if self.touched.get(&key.id).await.is_none() {
            self.touched.insert(key.id, ()).await;
            let store = self.store.clone();
            let id = key.id;
            tokio::spawn(async move {
                let result = async {
                    let mut tx = store.begin().await?;
                    tx.touch_api_key(id, now).await?;
                    tx.commit().await
                }
                .await;
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not record API key use");
                }
            });
        }
        Ok(Principal {
            user_id: owner.id,
            username: owner.username.clone(),
            role: owner.role,
            permissions: owner.effective_permissions(),
            key_permissions: Some(key.permissions.clone()),
            credential: Credential::ApiKey(key.id),
        })
    }

    async fn cached_user(&self, id: Uuid) -> Result<Option<Arc<User>>, EngineError> {
        if let Some(u) = self.users.get(&id).await {
            return Ok(Some(u));
        }
        match self.store.get_user(id).await? {
            Some(u) => {
                let u = Arc::new(u);
                self.users.insert(id, u.clone()).await;
                Ok(Some(u))
            }
            None => Ok(None),
        }
    }

    async fn session_active(&self, family: Uuid) -> Result<bool, EngineError> {
        if let Some(active) = self.sessions.get(&family).await {
            return Ok(active);
        }
        let active = self.store.session_family_active(family, now()).await?;
        self.sessions.insert(family, active).await;
        Ok(active)
    }
}
