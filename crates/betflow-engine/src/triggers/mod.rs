//! What starts an automation by itself: event subscriptions, schedules and inbound webhooks
//! (seed 003's `workflow_subscription`, `schedule_trigger` and `webhook_endpoint`).

use std::sync::Arc;

use betflow_store::Store;

/// Event subscriptions, schedules and inbound endpoints.
#[derive(Clone)]
pub struct Triggers {
    #[allow(dead_code, reason = "filled in by the triggers work")]
    store: Arc<dyn Store>,
}

impl Triggers {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}
