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

use std::sync::Arc;

use betflow_store::Store;

pub use actions::{Action, ActionCall, ActionError, ActionOutcome, ActionRegistry, ActionSpec};

/// Executions, their steps and the action registry.
#[derive(Clone)]
pub struct Automations {
    #[allow(dead_code, reason = "filled in by the executions work")]
    store: Arc<dyn Store>,
    actions: Arc<ActionRegistry>,
}

impl Automations {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            actions: Arc::new(ActionRegistry::standard()),
        }
    }

    /// The registered actions.
    pub fn actions(&self) -> &ActionRegistry {
        &self.actions
    }
}
