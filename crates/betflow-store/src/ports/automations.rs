//! Automation executions (seeds 003 and 004's `workflow_execution` and `step_execution`): what a run was started by, its input, output and error, and each step attempt.

use async_trait::async_trait;
use betflow_domain::automation::execution::{EndedRun, Execution, ExecutionFilter, StepExecution};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::Result;

/// Reading executions and their step attempts.
#[async_trait]
pub trait AutomationRead {
    async fn get_execution(&self, id: Uuid) -> Result<Option<Execution>>;

    /// The run a trigger already started for an event, if any.
    async fn find_execution_by_trigger(
        &self,
        trigger_id: Uuid,
        event_id: &str,
    ) -> Result<Option<Uuid>>;

    /// Every attempt of every step of an execution, in the order they started.
    async fn list_step_executions(&self, execution_id: Uuid) -> Result<Vec<StepExecution>>;

    /// A page of executions, newest first (see [`ExecutionFilter`]).
    async fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<Execution>>;

    /// The ended executions of a definition started in `[from, to)`, for the daily analytics.
    async fn ended_executions(
        &self,
        definition_key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<EndedRun>>;
}

/// Recording executions and step attempts, inside a transaction.
#[async_trait]
pub trait AutomationWrite {
    /// Inserts `e` unless its (trigger id, trigger event id) already has a run; `false` then.
    async fn insert_execution(&mut self, e: &Execution) -> Result<bool>;

    /// Reads an execution inside the transaction (after the workflow row is locked).
    async fn execution_in_tx(&mut self, id: Uuid) -> Result<Option<Execution>>;

    /// Writes an execution's status, output, error, end and duration.
    async fn update_execution(&mut self, e: &Execution) -> Result<()>;

    /// Inserts or replaces (same execution, step, visit and attempt) a step attempt.
    async fn record_step_execution(&mut self, s: &StepExecution) -> Result<()>;

    /// `steps.<id>.output` of an execution: the latest succeeded attempt's output per step.
    async fn step_outputs(&mut self, execution_id: Uuid) -> Result<Vec<(String, Value)>>;

    /// Deletes executions (and their step attempts) that ended before `cutoff`, at most
    /// `limit` of them; how many.
    async fn prune_executions(&mut self, cutoff: DateTime<Utc>, limit: u32) -> Result<u64>;
}
