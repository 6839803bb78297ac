//! An execution's status follows its workflow instance: every transition that changes the
//! instance's status or step writes the execution's new status (running, waiting on people,
//! succeeded with the final data, failed with its error, cancelled) and its
//! `execution.succeeded` / `execution.failed` event, in the transition's transaction.

use betflow_domain::automation::execution::{Execution, ExecutionError, ExecutionStatus};
use betflow_domain::workflow::graph::{StepKind, WorkflowGraph};
use betflow_domain::workflow::record::Instance;
use betflow_domain::workflow::timeline::{TimelineEntry, TimelineKind};
use betflow_domain::workflow::{Before, WorkflowStatus};
use betflow_store::Transaction;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::EngineError;

/// Whether `w`'s current step waits on people (an approval or a task).
fn waits_on_people(w: &Instance, graph: &WorkflowGraph) -> bool {
    w.current_step
        .as_deref()
        .and_then(|s| graph.step(s))
        .is_some_and(|s| matches!(s.kind, StepKind::Approval | StepKind::Task))
}

/// Sets `e`'s status (and output, error, end) from the instance `w` after a transition that
/// produced `entries`.
pub(crate) fn execution_status(
    e: &mut Execution,
    w: &Instance,
    graph: &WorkflowGraph,
    entries: &[TimelineEntry],
    t: DateTime<Utc>,
) {
    let status = ExecutionStatus::of_workflow(w.status, waits_on_people(w, graph));
    match status {
        ExecutionStatus::Succeeded => {
            e.output = Some(w.data.clone());
            e.error = None;
            e.end(status, t);
        }
        ExecutionStatus::Failed => {
            let failed = entries
                .iter()
                .rev()
                .find(|x| x.kind == TimelineKind::WorkflowFailed);
            let message = failed
                .and_then(|x| x.data.get("message"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| match w.status {
                    WorkflowStatus::Rejected => "rejected".to_owned(),
                    _ => "failed".to_owned(),
                });
            e.error = Some(ExecutionError {
                message,
                step: w.current_step.clone(),
            });
            e.end(status, t);
        }
        ExecutionStatus::Cancelled => e.end(status, t),
        ExecutionStatus::Pending | ExecutionStatus::Running | ExecutionStatus::Waiting => {
            e.status = status;
            e.ended_at = None;
            e.duration_ms = None;
            e.error = None;
        }
    }
}

/// Writes the transition from `prev` to `w` to `w`'s execution, if it has one.
pub(crate) async fn sync_execution(
    tx: &mut Box<dyn Transaction>,
    prev: &Before,
    w: &Instance,
    graph: &WorkflowGraph,
    entries: &[TimelineEntry],
) -> Result<(), EngineError> {
    if prev.new || (prev.status == w.status && prev.visit == w.step_visit) {
        return Ok(());
    }
    let Some(mut e) = tx.execution_in_tx(w.id).await? else {
        return Ok(());
    };
    let before = e.status;
    let t = w.updated_at;
    execution_status(&mut e, w, graph, entries, t);
    if e.status == before {
        return Ok(());
    }
    tx.update_execution(&e).await?;
    if e.status.is_final()
        && let Some(ev) = e.event(t)
    {
        tx.insert_events(&[ev]).await?;
    }
    Ok(())
}
