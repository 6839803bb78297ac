//! Webhook endpoints, deliveries and attempts.

use async_trait::async_trait;
use betflow_domain::webhooks::{Attempt, Delivery, DeliveryStatus, Webhook};
use betflow_domain::{Page, PageRequest};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// Reading webhook endpoints and their deliveries.
#[async_trait]
pub trait WebhookRead {
    async fn get_webhook(&self, id: Uuid) -> Result<Option<Webhook>>;
    /// Oldest first.
    async fn list_webhooks(&self) -> Result<Vec<Webhook>>;
    async fn get_delivery(&self, id: Uuid) -> Result<Option<Delivery>>;
    /// Newest first.
    async fn list_deliveries(
        &self,
        webhook_id: Uuid,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<Delivery>>;
    /// Every attempt of these deliveries (at most a page of them).
    async fn list_attempts(&self, delivery_ids: &[Uuid]) -> Result<Vec<Attempt>>;
    /// Failed deliveries of one endpoint created in `[since, until)`, oldest first.
    async fn failed_deliveries(
        &self,
        webhook_id: Uuid,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Delivery>>;
}

/// Changing webhook endpoints and recording deliveries, inside a transaction.
#[async_trait]
pub trait WebhookWrite {
    async fn insert_webhook(&mut self, webhook: &Webhook) -> Result<()>;
    /// `false` if it no longer exists.
    async fn update_webhook(&mut self, webhook: &Webhook) -> Result<bool>;
    /// Deletes an endpoint with its deliveries; `false` if it did not exist.
    async fn delete_webhook(&mut self, id: Uuid) -> Result<bool>;
    /// Inserts deliveries, skipping any (endpoint, event) already present; returns the ids
    /// actually inserted.
    async fn insert_deliveries(&mut self, deliveries: &[Delivery]) -> Result<Vec<Uuid>>;
    async fn update_delivery(&mut self, delivery: &Delivery) -> Result<()>;
    async fn insert_attempt(&mut self, attempt: &Attempt) -> Result<()>;
}
