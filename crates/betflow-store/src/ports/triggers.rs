//! What starts an automation by itself (seed 003's `workflow_subscription`, `schedule_trigger` and `webhook_endpoint`): event subscriptions, schedules and inbound webhook endpoints.
//!
//! Every trigger read carries its definition's key (joined), so a run can be started by key.

use async_trait::async_trait;
use betflow_domain::automation::triggers::{InboundEndpoint, ScheduleTrigger, Subscription};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// Reading triggers.
#[async_trait]
pub trait TriggerRead {
    /// A definition's subscriptions, oldest first.
    async fn list_subscriptions(&self, definition_id: Uuid) -> Result<Vec<Subscription>>;
    async fn get_subscription(&self, id: Uuid) -> Result<Option<Subscription>>;
    /// Every active subscription of an active definition: what the relay matches events
    /// against.
    async fn active_subscriptions(&self) -> Result<Vec<Subscription>>;
    /// A definition's schedules, oldest first.
    async fn list_schedules(&self, definition_id: Uuid) -> Result<Vec<ScheduleTrigger>>;
    async fn get_schedule(&self, id: Uuid) -> Result<Option<ScheduleTrigger>>;
    /// A definition's inbound endpoints, oldest first.
    async fn list_endpoints(&self, definition_id: Uuid) -> Result<Vec<InboundEndpoint>>;
    async fn get_endpoint(&self, id: Uuid) -> Result<Option<InboundEndpoint>>;
}

/// Changing triggers, firing schedules and remembering inbound message ids, inside a transaction.
#[async_trait]
pub trait TriggerWrite {
    async fn insert_subscription(&mut self, s: &Subscription) -> Result<()>;
    /// `false` if it no longer exists.
    async fn update_subscription(&mut self, s: &Subscription) -> Result<bool>;
    async fn delete_subscription(&mut self, id: Uuid) -> Result<bool>;

    async fn insert_schedule(&mut self, s: &ScheduleTrigger) -> Result<()>;
    async fn update_schedule(&mut self, s: &ScheduleTrigger) -> Result<bool>;
    async fn delete_schedule(&mut self, id: Uuid) -> Result<bool>;
    /// Active schedules of active definitions due at `now` (next fire at or before it),
    /// locked until the transaction ends; on PostgreSQL rows another scheduler holds are
    /// skipped (`FOR UPDATE SKIP LOCKED`), on SQLite the transaction is the only writer.
    async fn claim_due_schedules(
        &mut self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduleTrigger>>;
    /// Records a scheduler pass over one schedule: its new next fire time and, when it
    /// fired, when.
    async fn set_schedule_fired(
        &mut self,
        id: Uuid,
        next_fire_at: Option<DateTime<Utc>>,
        fired_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()>;

    async fn insert_endpoint(&mut self, e: &InboundEndpoint) -> Result<()>;
    async fn update_endpoint(&mut self, e: &InboundEndpoint) -> Result<bool>;
    async fn delete_endpoint(&mut self, id: Uuid) -> Result<bool>;
    /// Remembers an accepted message id; `false` when the endpoint had already seen it (a
    /// replay).
    async fn remember_message(
        &mut self,
        endpoint_id: Uuid,
        message_id: &str,
        seen_at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Forgets one remembered id (its run could not be started, so a retry may come).
    async fn forget_message(&mut self, endpoint_id: Uuid, message_id: &str) -> Result<()>;
    /// Forgets ids seen before `before`; returns how many.
    async fn prune_seen_messages(&mut self, before: DateTime<Utc>) -> Result<u64>;
}
