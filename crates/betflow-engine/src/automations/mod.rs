//! Automations: workflow definitions whose steps run by themselves, started by a person, an
//! event, a schedule or an inbound webhook (seeds 003 and 004).
//!
//! An execution is a workflow instance on the same versioned engine, so one graph can mix
//! automated steps with approvals and tasks; its execution row adds what started it, its
//! input, output and error, and each action step's attempts.
//!
//! Actions act on the whole platform (tasks, workflows, markets, rooms), so unlike the other
//! services this one is driven with the [`crate::Engine`] in hand.

pub mod actions;
mod reads;
mod runner;
pub mod start;
pub(crate) mod sync;
mod validate;

use std::sync::{Arc, RwLock};

use betflow_store::Store;

pub use actions::{Action, ActionCall, ActionError, ActionOutcome, ActionRegistry, ActionSpec};
pub use reads::{DAYS_OF_ANALYTICS, ExecutionDetail};
pub use start::{StartExecution, Started, TriggerRef};
pub use validate::{action_problems, validate_graph};

/// Executions, their steps and the action registry.
#[derive(Clone)]
pub struct Automations {
    #[allow(dead_code, reason = "reads go through the workflows service's store")]
    store: Arc<dyn Store>,
    actions: Arc<RwLock<Arc<ActionRegistry>>>,
}

impl Automations {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            actions: Arc::new(RwLock::new(Arc::new(ActionRegistry::standard()))),
        }
    }

    /// The registered actions (a snapshot: an action registered later is not in it).
    pub fn actions(&self) -> Arc<ActionRegistry> {
        match self.actions.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Adds `action` to the registry of this engine, replacing one with the same key
    /// (embedders and tests add their own actions this way).
    pub fn register(&self, action: Arc<dyn Action>) {
        let mut guard = match self.actions.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next = ActionRegistry::clone(&guard);
        next.register(action);
        *guard = Arc::new(next);
    }
}
