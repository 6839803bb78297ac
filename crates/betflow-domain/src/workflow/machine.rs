//! The workflow state machine: every change a workflow goes through, as a pure function of
//! the workflow, its graph and the input, returning the timeline entries it produced.
//!
//! The engine locks the row, calls one of these, derives the rest of the write from the
//! result ([`super::transition::derive`]) and commits. Nothing here reads or writes storage,
//! so every rule can be tested (and property-tested) without a database. On an error the
//! workflow may be partly changed and must be discarded, as the engine does.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::approval::DecisionError;
use super::expr::{ActionEffect, Condition, Facts, run_action};
use super::graph::{Branch, Next, StepDef, StepKind, TimeoutAction, WorkflowGraph};
use super::record::Instance;
use super::status::{Priority, WorkflowStatus};
use super::timeline::{TimelineEntry, TimelineKind};

mod automated;
mod decide;

pub use automated::{complete_action, fail_step, reopen_failed};
pub use decide::{Decided, Decider, DecisionInput, decide};

/// Why the machine refused or could not make a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MachineError {
    /// The workflow's state does not allow the change (the caller's mistake).
    #[error("{0}")]
    InvalidTransition(String),
    /// The approval rules refuse the decision.
    #[error(transparent)]
    Refused(#[from] DecisionError),
    /// The workflow and its graph contradict each other: never the caller's fault.
    #[error("{0}")]
    Inconsistent(String),
}

fn invalid(msg: String) -> MachineError {
    MachineError::InvalidTransition(msg)
}

type Entries = Vec<TimelineEntry>;

fn entry(
    w: &Instance,
    kind: TimelineKind,
    step: Option<String>,
    by: Option<Uuid>,
    data: Value,
) -> TimelineEntry {
    TimelineEntry::new(w, kind, step, by, data)
}

/// The first entry of every workflow.
pub fn created(w: &Instance, by: Option<Uuid>) -> TimelineEntry {
    let data = json!({"priority": w.priority.as_str(), "version": w.version});
    entry(w, TimelineKind::WorkflowCreated, None, by, data)
}

/// The entry of a (soft) deletion.
pub fn deleted(w: &Instance, by: Option<Uuid>) -> TimelineEntry {
    let step = w.current_step.clone();
    entry(w, TimelineKind::WorkflowDeleted, step, by, json!({}))
}

/// Puts `w` into progress at its graph's first step.
pub fn begin(
    w: &mut Instance,
    graph: &WorkflowGraph,
    by: Option<Uuid>,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    let first = graph
        .start()
        .ok_or_else(|| MachineError::Inconsistent("the definition has no steps".into()))?;
    w.status = WorkflowStatus::InProgress;
    w.started_at = Some(t);
    let mut out = vec![entry(w, TimelineKind::WorkflowStarted, None, by, json!({}))];
    out.extend(enter(w, graph, first, by, t)?);
    Ok(out)
}

/// Starts a pending workflow.
pub fn start(
    w: &mut Instance,
    graph: &WorkflowGraph,
    by: Option<Uuid>,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    if !w.status.can_transition_to(WorkflowStatus::InProgress) {
        return Err(invalid(format!(
            "cannot start a workflow that is {}",
            w.status
        )));
    }
    begin(w, graph, by, t)
}

/// Moves `w` onto `step`. Condition steps are decided on the spot (they only route), so
/// entering one carries on down the branch it chose until a step that waits for people, a
/// job, or the end.
pub fn enter(
    w: &mut Instance,
    graph: &WorkflowGraph,
    step: &StepDef,
    by: Option<Uuid>,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    let mut out = Vec::new();
    let mut step = step;
    // Publishing refuses cycles of conditions alone, so this bound is never the one that stops.
    for _ in 0..=graph.steps.len() {
        w.current_step = Some(step.id.clone());
        w.step_visit += 1;
        w.step_started_at = Some(t);
        w.escalated_roles.clear();
        w.assignees = step.assignees.clone();
        // An action step's timeout bounds each attempt; it is not a due date.
        w.due_at = step
            .timeout
            .as_ref()
            .filter(|_| step.kind != StepKind::Action)
            .map(|d| t + d.chrono());
        w.updated_at = t;
        let data = json!({"assignees": step.assignees, "dueAt": w.due_at});
        out.push(entry(
            w,
            TimelineKind::StepEntered,
            Some(step.id.clone()),
            by,
            data,
        ));
        if step.kind != StepKind::Condition {
            return Ok(out);
        }
        let source = step.condition.as_deref().unwrap_or_default();
        let facts = Facts {
            data: &w.data,
            priority: w.priority.as_str(),
            workflow_type: &w.workflow_type,
        };
        // An expression that cannot be evaluated (a missing field, say) takes the `false`
        // branch; the timeline keeps the error so the author can see why.
        let (result, error) = match Condition::compile(source).and_then(|c| c.evaluate(&facts)) {
            Ok(b) => (b, None),
            Err(e) => (false, Some(e)),
        };
        let data = json!({"condition": source, "result": result, "error": error});
        let kind = TimelineKind::ConditionEvaluated;
        out.push(entry(w, kind, Some(step.id.clone()), None, data));
        w.completed_steps += 1;
        let branch = if result { Branch::True } else { Branch::False };
        match graph.next(&step.id, branch) {
            Next::Step(id) => step = step_of(graph, &id, "edge to missing step")?,
            end => {
                out.extend(finish(w, end, by, t));
                return Ok(out);
            }
        }
    }
    Err(MachineError::Inconsistent(format!(
        "workflow {} loops through conditions without stopping",
        w.id
    )))
}

fn step_of<'g>(
    graph: &'g WorkflowGraph,
    id: &str,
    what: &str,
) -> Result<&'g StepDef, MachineError> {
    graph
        .step(id)
        .ok_or_else(|| MachineError::Inconsistent(format!("{what} {id}")))
}

/// Follows `next` from the current step: into a step, or to the end.
pub fn advance(
    w: &mut Instance,
    graph: &WorkflowGraph,
    next: Next,
    by: Option<Uuid>,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    w.updated_at = t;
    match next {
        Next::Step(id) => {
            let step = step_of(graph, &id, "edge to missing step")?;
            enter(w, graph, step, by, t)
        }
        end => Ok(finish(w, end, by, t)),
    }
}

/// Completes or rejects `w` (`end` is not a step).
pub fn finish(w: &mut Instance, end: Next, by: Option<Uuid>, t: DateTime<Utc>) -> Entries {
    let (status, kind) = match end {
        Next::Reject => (WorkflowStatus::Rejected, TimelineKind::WorkflowRejected),
        Next::Fail => (WorkflowStatus::Failed, TimelineKind::WorkflowFailed),
        Next::Step(_) | Next::Complete => {
            (WorkflowStatus::Completed, TimelineKind::WorkflowCompleted)
        }
    };
    w.status = status;
    w.completed_at = Some(t);
    w.updated_at = t;
    w.due_at = None;
    w.assignees.clear();
    vec![entry(w, kind, w.current_step.clone(), by, json!({}))]
}

/// Cancels a pending or running workflow.
pub fn cancel(
    w: &mut Instance,
    by: Option<Uuid>,
    reason: Option<&str>,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    if !w.status.can_transition_to(WorkflowStatus::Cancelled) {
        return Err(invalid(format!(
            "cannot cancel a workflow that is {}",
            w.status
        )));
    }
    w.status = WorkflowStatus::Cancelled;
    w.completed_at = Some(t);
    w.due_at = None;
    w.assignees.clear();
    w.updated_at = t;
    let step = w.current_step.clone();
    let data = json!({"reason": reason});
    Ok(vec![entry(
        w,
        TimelineKind::WorkflowCancelled,
        step,
        by,
        data,
    )])
}

/// Replaces the data and/or priority of a workflow that has not finished.
pub fn edit(
    w: &mut Instance,
    data: Option<Value>,
    priority: Option<Priority>,
    by: Option<Uuid>,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    if w.status.is_final() {
        return Err(invalid(format!("a {} workflow cannot be edited", w.status)));
    }
    let mut changed = Vec::new();
    if let Some(d) = data {
        w.data = d;
        changed.push("data");
    }
    if let Some(p) = priority {
        w.priority = p;
        changed.push("priority");
    }
    w.updated_at = t;
    let step = w.current_step.clone();
    let data = json!({"changed": changed});
    Ok(vec![entry(
        w,
        TimelineKind::WorkflowUpdated,
        step,
        by,
        data,
    )])
}

/// Whether a step job (a timer or a run) for visit `visit` of `step_id` still concerns `w`:
/// a job for a step the workflow has left does nothing, so a job run twice moves it once.
pub fn still_at(w: &Instance, step_id: &str, visit: u32) -> bool {
    w.status == WorkflowStatus::InProgress
        && w.current_step.as_deref() == Some(step_id)
        && w.step_visit == visit
}

fn current<'g>(w: &Instance, graph: &'g WorkflowGraph) -> Result<&'g StepDef, MachineError> {
    current_step(graph, w.current_step.as_deref().unwrap_or_default())
}

/// The current step's timeout fell due: escalate, auto-reject or follow the `timeout` edge,
/// as the step says.
pub fn time_out(
    w: &mut Instance,
    graph: &WorkflowGraph,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    let step = current(w, graph)?;
    let id = || Some(step.id.clone());
    w.updated_at = t;
    let mut out = vec![entry(
        w,
        TimelineKind::WorkflowOverdue,
        id(),
        None,
        json!({"dueAt": w.due_at}),
    )];
    let (action, branch) = match &step.on_timeout {
        TimeoutAction::Escalate { add_roles } => {
            for r in add_roles {
                if !w.escalated_roles.contains(r) {
                    w.escalated_roles.push(r.clone());
                }
                if !w.assignees.contains(r) {
                    w.assignees.push(r.clone());
                }
            }
            let data = json!({"addedRoles": add_roles, "assignees": step.assignees});
            out.push(entry(w, TimelineKind::StepEscalated, id(), None, data));
            return Ok(out);
        }
        TimeoutAction::AutoReject => ("auto_reject", Branch::Rejected),
        TimeoutAction::FollowTimeoutEdge => ("follow_timeout_edge", Branch::Timeout),
    };
    let data = json!({"action": action});
    out.push(entry(w, TimelineKind::StepTimedOut, id(), None, data));
    out.extend(advance(w, graph, graph.next(&step.id, branch), None, t)?);
    Ok(out)
}

/// Runs the current automated step (the worker's job): an action's work, or the end of a
/// delay, then moves on down the step's `default` edge.
pub fn run_step(
    w: &mut Instance,
    graph: &WorkflowGraph,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    run_step_with(w, graph, None, t)
}

/// [`run_step`], with `params` (an execution's rendered step inputs) in place of the step's
/// own.
pub fn run_step_with(
    w: &mut Instance,
    graph: &WorkflowGraph,
    params: Option<&Value>,
    t: DateTime<Utc>,
) -> Result<Entries, MachineError> {
    let step = current(w, graph)?;
    let params = params.or(step.params.as_ref());
    let id = || Some(step.id.clone());
    w.updated_at = t;
    let mut out = Vec::new();
    match step.kind {
        StepKind::Action => {
            let action = step.action.as_deref().unwrap_or("noop");
            let detail = match run_action(action, params, &w.data) {
                ActionEffect::Nothing => json!({}),
                ActionEffect::SetData(data) => {
                    let changed: Vec<&String> = params
                        .and_then(Value::as_object)
                        .map(|m| m.keys().collect())
                        .unwrap_or_default();
                    let detail = json!({"changed": changed});
                    w.data = data;
                    detail
                }
                ActionEffect::Emit { event, payload } => {
                    let data = json!({"event": event, "payload": payload});
                    out.push(entry(w, TimelineKind::EventEmitted, id(), None, data));
                    json!({"event": event})
                }
            };
            let data = json!({"action": action, "result": detail});
            out.push(entry(w, TimelineKind::ActionCompleted, id(), None, data));
        }
        StepKind::Delay => {
            let data = json!({"minutes": step.delay});
            out.push(entry(w, TimelineKind::DelayElapsed, id(), None, data));
        }
        other => {
            return Err(MachineError::Inconsistent(format!(
                "a {other:?} step is not run by the worker"
            )));
        }
    }
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

pub(super) fn current_step<'g>(
    graph: &'g WorkflowGraph,
    id: &str,
) -> Result<&'g StepDef, MachineError> {
    graph
        .step(id)
        .ok_or_else(|| MachineError::Inconsistent(format!("step {id} is not in the graph")))
}
