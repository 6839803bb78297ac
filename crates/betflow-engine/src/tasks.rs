//! Tasks created by automations (seed 003's `tasks`): work for a user or a role, listed in
//! `/tasks` beside approval steps.

use std::sync::Arc;

use betflow_store::Store;

/// Tasks.
#[derive(Clone)]
pub struct Tasks {
    #[allow(dead_code, reason = "filled in by the tasks work")]
    store: Arc<dyn Store>,
}

impl Tasks {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}
