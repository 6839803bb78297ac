//! Tasks created by automations (seed 003's `tasks`): work for a user or a role, beside approval steps.

use async_trait::async_trait;

/// Reading tasks.
#[async_trait]
pub trait TaskRead {}

/// Creating and updating tasks, inside a transaction.
#[async_trait]
pub trait TaskWrite {}
