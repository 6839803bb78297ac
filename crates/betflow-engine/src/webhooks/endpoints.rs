//! Creating, reading, changing and deleting endpoints, and rotating their secrets.

use betflow_domain::audit::{Actor, AuditAction};
use betflow_domain::time::now;
use betflow_domain::webhooks::{DEFAULT_TIMEOUT_MS, Webhook, WebhookChanges};
use serde_json::json;
use uuid::Uuid;

use super::{NewWebhook, Webhooks, audit, new_secret, not_found, open_secrets, seal_secrets};
use crate::EngineError;
use crate::identity::Principal;

impl Webhooks {
    #[tracing::instrument(name = "webhooks.create", skip_all)]
    pub async fn create(
        &self,
        principal: &Principal,
        new: NewWebhook,
        actor: &Actor,
    ) -> Result<Webhook, EngineError> {
        let t = now();
        let mut w = Webhook {
            id: Uuid::now_v7(),
            name: String::new(),
            url: String::new(),
            events: Vec::new(),
            description: None,
            enabled: true,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            rate_limit: None,
            retry_attempts: self.settings.schedule.len() as u32,
            secret: new_secret()?,
            previous_secret: None,
            previous_expires_at: None,
            failing_since: None,
            disabled_reason: None,
            created_by: Some(principal.user_id),
            created_at: t,
            updated_at: t,
        };
        WebhookChanges {
            name: Some(new.name),
            url: Some(new.url),
            events: Some(new.events),
            description: Some(new.description),
            enabled: Some(new.enabled),
            timeout_ms: new.timeout_ms,
            rate_limit: Some(new.rate_limit),
            retry_attempts: new.retry_attempts,
        }
        .apply(&mut w)?;
        self.guard_url(&w.url).await?;
        let mut tx = self.store.begin().await?;
        tx.insert_webhook(&seal_secrets(&self.keyring, &w)?).await?;
        audit(&mut tx, &w, AuditAction::Insert, None, actor).await?;
        tx.commit().await?;
        self.cache.invalidate_all();
        Ok(w)
    }

    pub async fn list(&self) -> Result<Vec<Webhook>, EngineError> {
        self.store
            .list_webhooks()
            .await?
            .into_iter()
            .map(|w| open_secrets(&self.keyring, w))
            .collect()
    }

    pub async fn get(&self, id: Uuid) -> Result<Webhook, EngineError> {
        let w = self
            .store
            .get_webhook(id)
            .await?
            .ok_or_else(|| not_found(id))?;
        open_secrets(&self.keyring, w)
    }

    #[tracing::instrument(name = "webhooks.update", skip_all, fields(webhook_id = %id))]
    pub async fn update(
        &self,
        id: Uuid,
        changes: WebhookChanges,
        actor: &Actor,
    ) -> Result<Webhook, EngineError> {
        let mut w = self.get(id).await?;
        let before =
            json!({"name": w.name, "url": w.url, "events": w.events, "enabled": w.enabled});
        let url_changed = changes.url.is_some();
        changes.apply(&mut w)?;
        if url_changed {
            self.guard_url(&w.url).await?;
        }
        w.updated_at = now();
        let mut tx = self.store.begin().await?;
        if !tx.update_webhook(&seal_secrets(&self.keyring, &w)?).await? {
            return Err(not_found(id));
        }
        audit(&mut tx, &w, AuditAction::Update, Some(before), actor).await?;
        tx.commit().await?;
        self.cache.invalidate_all();
        Ok(w)
    }

    #[tracing::instrument(name = "webhooks.delete", skip_all, fields(webhook_id = %id))]
    pub async fn delete(&self, id: Uuid, actor: &Actor) -> Result<(), EngineError> {
        let w = self.get(id).await?;
        let mut tx = self.store.begin().await?;
        if !tx.delete_webhook(id).await? {
            return Err(not_found(id));
        }
        let old = json!({"name": w.name, "url": w.url, "events": w.events});
        audit(&mut tx, &w, AuditAction::Delete, Some(old), actor).await?;
        tx.commit().await?;
        self.cache.invalidate_all();
        Ok(())
    }

    /// A new secret; the old one keeps signing (a second signature) for the grace period.
    #[tracing::instrument(name = "webhooks.rotate_secret", skip_all, fields(webhook_id = %id))]
    pub async fn rotate_secret(&self, id: Uuid, actor: &Actor) -> Result<Webhook, EngineError> {
        let mut w = self.get(id).await?;
        let t = now();
        w.previous_secret = Some(std::mem::replace(&mut w.secret, new_secret()?));
        w.previous_expires_at = Some(
            t + chrono::Duration::from_std(self.settings.secret_grace)
                .unwrap_or(chrono::Duration::hours(24)),
        );
        w.updated_at = t;
        let mut tx = self.store.begin().await?;
        if !tx.update_webhook(&seal_secrets(&self.keyring, &w)?).await? {
            return Err(not_found(id));
        }
        audit(
            &mut tx,
            &w,
            AuditAction::Update,
            Some(json!({"secret": "rotated"})),
            actor,
        )
        .await?;
        tx.commit().await?;
        self.cache.invalidate_all();
        Ok(w)
    }
}
