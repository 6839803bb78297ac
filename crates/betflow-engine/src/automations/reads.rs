//! Reading executions (one with its step attempts, a filtered page, daily analytics), and
//! acting on one: retry from the failed step, cancel, resume a waiting step, prune old ones.

use betflow_domain::audit::Actor;
use betflow_domain::automation::execution::{
    DailyAnalytics, Execution, ExecutionFilter, ExecutionStatus, MAX_LIST_LIMIT, StepExecution,
    StepExecutionStatus, daily,
};
use betflow_domain::ids::WorkflowId;
use betflow_domain::time::now;
use betflow_domain::workflow::{Before, machine};
use betflow_domain::{DomainError, text};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::identity::Principal;
use crate::{Engine, EngineError};

/// Days of analytics one request may ask for.
pub const DAYS_OF_ANALYTICS: u32 = 366;

/// Rows deleted per transaction while pruning executions.
const PRUNE_CHUNK: u32 = 2_000;

/// An execution with every attempt of its action steps.
#[derive(Debug, Clone)]
pub struct ExecutionDetail {
    pub execution: Execution,
    pub steps: Vec<StepExecution>,
}

fn not_found(id: WorkflowId) -> EngineError {
    EngineError::NotFound(format!("execution {id}"))
}

impl Engine {
    /// One execution with its step attempts.
    pub async fn get_execution(&self, id: WorkflowId) -> Result<ExecutionDetail, EngineError> {
        let store = self.workflows().store();
        let execution = store
            .get_execution(id.uuid())
            .await?
            .ok_or_else(|| not_found(id))?;
        let steps = store.list_step_executions(id.uuid()).await?;
        Ok(ExecutionDetail { execution, steps })
    }

    /// A page of executions, newest first; the next page's cursor is the last id.
    pub async fn list_executions(
        &self,
        filter: ExecutionFilter,
    ) -> Result<Vec<Execution>, EngineError> {
        let mut v = Vec::new();
        text::check_name_into(&mut v, "definition", filter.definition_key.as_deref());
        if !(1..=MAX_LIST_LIMIT).contains(&filter.limit) {
            v.push(betflow_domain::Violation::new(
                "limit",
                format!("must be 1 to {MAX_LIST_LIMIT}"),
            ));
        }
        if !v.is_empty() {
            return Err(DomainError::Validation(v).into());
        }
        Ok(self.workflows().store().list_executions(&filter).await?)
    }

    /// A definition's executions per day over the `days` days up to `to` (test runs left
    /// out): executions, successes, failures, average and p95 duration.
    pub async fn execution_analytics(
        &self,
        definition_key: &str,
        days: u32,
        to: DateTime<Utc>,
    ) -> Result<Vec<DailyAnalytics>, EngineError> {
        if !(1..=DAYS_OF_ANALYTICS).contains(&days) {
            return Err(
                DomainError::invalid("days", format!("must be 1 to {DAYS_OF_ANALYTICS}")).into(),
            );
        }
        let store = self.workflows().store();
        if store.get_definition(definition_key).await?.is_none() {
            return Err(EngineError::NotFound(format!(
                "workflow definition {definition_key}"
            )));
        }
        let from = to - chrono::Duration::days(i64::from(days));
        let runs = store.ended_executions(definition_key, from, to).await?;
        Ok(daily(&runs))
    }

    /// Re-runs a failed execution from its failed step, with the same input (a new visit of
    /// that step). Anything but a failed execution is a conflict.
    pub async fn retry_execution(
        &self,
        id: WorkflowId,
        actor: &Actor,
    ) -> Result<ExecutionDetail, EngineError> {
        let e = self
            .workflows()
            .store()
            .get_execution(id.uuid())
            .await?
            .ok_or_else(|| not_found(id))?;
        if e.status != ExecutionStatus::Failed {
            return Err(EngineError::Conflict(format!(
                "only a failed execution can be retried; this one is {}",
                e.status
            )));
        }
        self.workflows().reopen(id.uuid(), actor).await?;
        self.get_execution(id).await
    }

    /// Cancels a running or waiting execution (its workflow's cancel).
    pub async fn cancel_execution(
        &self,
        principal: &Principal,
        id: WorkflowId,
        actor: &Actor,
    ) -> Result<ExecutionDetail, EngineError> {
        let e = self
            .workflows()
            .store()
            .get_execution(id.uuid())
            .await?
            .ok_or_else(|| not_found(id))?;
        if e.status.is_final() {
            return Err(EngineError::Conflict(format!(
                "a {} execution cannot be cancelled",
                e.status
            )));
        }
        self.workflows().cancel(principal, id, None, actor).await?;
        self.get_execution(id).await
    }

    /// Finishes a step an action left waiting (`ActionOutcome::Wait`) with `output`: the run
    /// moves on down the step's `default` edge. `visit` 0 means whatever visit is current.
    /// A run no longer at that step is left alone (`Ok`).
    pub async fn resume_step(
        &self,
        execution_id: WorkflowId,
        step_id: &str,
        visit: u32,
        output: Value,
    ) -> Result<(), EngineError> {
        let wf = self.workflows();
        // Read before locking: a lock holder never waits for a second pooled connection.
        let attempts = wf.store().list_step_executions(execution_id.uuid()).await?;
        let Some((mut tx, mut w, version)) = wf.lock_any(execution_id.uuid()).await? else {
            return Err(not_found(execution_id));
        };
        let visit = if visit == 0 { w.step_visit } else { visit };
        if !machine::still_at(&w, step_id, visit) {
            tx.rollback().await?;
            return Ok(());
        }
        let t = now();
        if let Some(mut waiting) = attempts
            .into_iter()
            .filter(|s| s.step_id == step_id && s.visit == visit)
            .filter(|s| s.status == StepExecutionStatus::Running)
            .max_by_key(|s| s.attempt)
        {
            waiting.status = StepExecutionStatus::Succeeded;
            waiting.output = Some(output.clone());
            waiting.ended_at = Some(t);
            waiting.duration_ms = Some((t - waiting.started_at).num_milliseconds().max(0));
            tx.record_step_execution(&waiting).await?;
        }
        let prev = Before::of(&w);
        let entries = machine::complete_action(&mut w, &version.graph, &output, t)
            .map_err(|e| EngineError::InvalidTransition(e.to_string()))?;
        // Waiting -> running (or the end) is the sync's: the step changed.
        wf.commit_automated(tx, &prev, &w, &version.graph, entries, &Actor::default())
            .await
    }

    /// Deletes executions (and their step attempts) that ended before `cutoff`, a chunk per
    /// transaction; how many went. Their workflow instances and histories stay.
    pub async fn prune_executions(&self, cutoff: DateTime<Utc>) -> Result<u64, EngineError> {
        let mut pruned = 0;
        loop {
            let mut tx = self.workflows().store().begin().await?;
            let n = tx.prune_executions(cutoff, PRUNE_CHUNK).await?;
            tx.commit().await?;
            pruned += n;
            if n < u64::from(PRUNE_CHUNK) {
                return Ok(pruned);
            }
        }
    }
}
