//! What starts an automation by itself (seed 003's `workflow_subscription`, `schedule_trigger` and `webhook_endpoint`): event subscriptions, schedules and inbound webhook endpoints.

use async_trait::async_trait;

/// Reading triggers.
#[async_trait]
pub trait TriggerRead {}

/// Changing triggers, firing schedules and remembering inbound message ids, inside a transaction.
#[async_trait]
pub trait TriggerWrite {}
