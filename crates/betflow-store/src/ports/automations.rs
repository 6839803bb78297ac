//! Automation executions (seeds 003 and 004's `workflow_execution` and `step_execution`): what a run was started by, its input, output and error, and each step attempt.

use async_trait::async_trait;

/// Reading executions and their step attempts.
#[async_trait]
pub trait AutomationRead {}

/// Recording executions and step attempts, inside a transaction.
#[async_trait]
pub trait AutomationWrite {}
