//! Transitions of automated steps run outside the machine (the engine's registered actions):
//! one finished with an output, one failed for good, and a failed workflow re-opened.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Entries, MachineError, advance, current, enter, entry, invalid, step_of};
use crate::workflow::graph::{Branch, StepKind, WorkflowGraph};
use crate::workflow::record::Instance;
use crate::workflow::status::WorkflowStatus;
use crate::workflow::timeline::TimelineKind;

fn current_action<'g>(
    w: &Instance,
    graph: &'g WorkflowGraph,
) -> Result<&'g crate::workflow::graph::StepDef, MachineError> {
    if w.status != WorkflowStatus::InProgress {
        return Err(invalid(format!("the workflow is {}", w.status)));
    }
    let step = current(w, graph)?;
    if step.kind != StepKind::Action {
        return Err(invalid(format!("step {} is not an action step", step.id)));
    }
    Ok(step)
}

/// The current action step finished with `output` (its `steps.<id>.output`): the workflow
/// moves on down the step's `default` edge.
pub fn complete_action(
    w: &mut Instance,
    graph: &WorkflowGraph,
    output: &Value,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    let step = current_action(w, graph)?;
    w.updated_at = t;
    let action = step.action.as_deref().unwrap_or("noop");
    let data = json!({"action": action, "result": {"output": output}});
    let mut out = vec![entry(
        w,
        TimelineKind::ActionCompleted,
        Some(step.id.clone()),
        None,
        data,
    )];
    w.completed_steps += 1;
    out.extend(advance(
        w,
        graph,
        graph.next(&step.id, Branch::Default),
        None,
        t,
    )?);
    Ok(out)
}

/// The current action step failed for good (`message` says why, `attempts` were made): it
/// leaves by its `error` edge if it has one, else the workflow ends `failed`.
pub fn fail_step(
    w: &mut Instance,
    graph: &WorkflowGraph,
    message: &str,
    attempts: u32,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    let step = current_action(w, graph)?;
    w.updated_at = t;
    let id = Some(step.id.clone());
    let data = json!({"message": message, "attempts": attempts});
    let mut out = vec![entry(w, TimelineKind::StepFailed, id, None, data)];
    out.extend(advance(
        w,
        graph,
        graph.next(&step.id, Branch::Error),
        None,
        t,
    )?);
    if let Some(last) = out.last_mut()
        && last.kind == TimelineKind::WorkflowFailed
    {
        last.data = json!({"message": message, "step": step.id});
    }
    Ok(out)
}

/// Re-opens a failed workflow at the step that failed, as a new visit of that step (so the
/// runner's job for it is new and stale jobs of the failed visit do nothing).
pub fn reopen_failed(
    w: &mut Instance,
    graph: &WorkflowGraph,
    by: Option<Uuid>,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    if w.status != WorkflowStatus::Failed {
        return Err(invalid(format!(
            "only a failed workflow can be retried; this one is {}",
            w.status
        )));
    }
    let failed = w.current_step.clone().ok_or_else(|| {
        MachineError::Inconsistent(format!("failed workflow {} has no step", w.id))
    })?;
    let step = step_of(graph, &failed, "failed step missing from the graph:")?;
    w.status = WorkflowStatus::InProgress;
    w.completed_at = None;
    w.updated_at = t;
    let data = json!({"step": failed});
    let mut out = vec![entry(
        w,
        TimelineKind::WorkflowRetried,
        Some(failed.clone()),
        by,
        data,
    )];
    out.extend(enter(w, graph, step, by, t)?);
    Ok(out)
}
