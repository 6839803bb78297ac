//! What starts an automation by itself (seed 003's `workflow_subscription`, `schedule_trigger` and `webhook_endpoint`): event subscriptions, schedules and inbound webhook endpoints, compiled once per backend.

use async_trait::async_trait;

use super::{BackendStore, BackendTx};
use crate::{TriggerRead, TriggerWrite};

#[async_trait]
impl TriggerRead for BackendStore {}

#[async_trait]
impl TriggerWrite for BackendTx {}
