//! What a transition writes beside the workflow's new state and its timeline: the step runs
//! it started or ended, the outbox events, and the audit row. All derived from the state
//! before and after and the typed timeline entries, so they can never disagree with it.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::graph::{StepKind, WorkflowGraph};
use super::record::{Instance, StepRun, StepRunStatus};
use super::status::WorkflowStatus;
use super::timeline::{TimelineEntry, TimelineKind};
use crate::DomainError;
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::events::NewEvent;
use crate::jobs::{JobArgs, NewJob, StepJob};

/// Where the workflow stood before the transition.
#[derive(Debug, Clone, PartialEq)]
pub struct Before {
    pub status: WorkflowStatus,
    pub step: Option<String>,
    pub visit: u32,
    /// When the current step was entered.
    pub started: Option<DateTime<Utc>>,
    /// The transition created the workflow.
    pub new: bool,
}

impl Before {
    pub fn of(w: &Instance) -> Self {
        Self {
            status: w.status,
            step: w.current_step.clone(),
            visit: w.step_visit,
            started: w.step_started_at,
            new: false,
        }
    }

    pub fn created() -> Self {
        Self {
            status: WorkflowStatus::Pending,
            step: None,
            visit: 0,
            started: None,
            new: true,
        }
    }

    /// Whether the transition moved the workflow onto a step (so that step needs its job).
    pub fn entered_step(&self, w: &Instance) -> bool {
        w.step_visit != self.visit
    }
}

/// The step runs a transition starts or ends, from the workflow before and after it and
/// the steps it entered, in order: a condition or action step passed through starts and ends
/// in the same transition.
pub fn step_runs(
    prev: &Before,
    w: &Instance,
    graph: &WorkflowGraph,
    timeline: &[TimelineEntry],
) -> Vec<StepRun> {
    let t = w.updated_at;
    let has = |kind: TimelineKind| timeline.iter().any(|e| e.kind == kind);
    let finished = matches!(
        w.status,
        WorkflowStatus::Completed
            | WorkflowStatus::Rejected
            | WorkflowStatus::Cancelled
            | WorkflowStatus::Failed
    );
    let closed_by_workflow = || match w.status {
        WorkflowStatus::Cancelled => StepRunStatus::Cancelled,
        WorkflowStatus::Rejected => StepRunStatus::Rejected,
        WorkflowStatus::Failed => StepRunStatus::Failed,
        _ => StepRunStatus::Completed,
    };
    let kind_of = |step: &str| graph.step(step).map_or(StepKind::Action, |s| s.kind);
    let mut runs = Vec::new();
    if let Some(step) = prev.step.as_deref()
        && prev.status == WorkflowStatus::InProgress
        && (w.step_visit != prev.visit || finished)
    {
        let status = if has(TimelineKind::StepFailed) {
            StepRunStatus::Failed
        } else if has(TimelineKind::StepTimedOut) {
            StepRunStatus::TimedOut
        } else if has(TimelineKind::StepRejected) {
            StepRunStatus::Rejected
        } else if has(TimelineKind::StepApproved) && kind_of(step) == StepKind::Task {
            // A task is done, not approved.
            StepRunStatus::Completed
        } else if has(TimelineKind::StepApproved) {
            StepRunStatus::Approved
        } else {
            closed_by_workflow()
        };
        runs.push(StepRun {
            workflow_id: w.id,
            visit: prev.visit,
            step_id: step.to_owned(),
            kind: kind_of(step),
            status,
            started_at: prev.started.unwrap_or(t),
            ended_at: Some(t),
        });
    }
    let entered: Vec<&TimelineEntry> = timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::StepEntered)
        .collect();
    for (i, e) in entered.iter().enumerate() {
        let Some(step) = e.step_id.as_deref() else {
            continue;
        };
        let visit = prev.visit + 1 + i as u32;
        let current = visit == w.step_visit && w.status == WorkflowStatus::InProgress;
        let status = if current {
            StepRunStatus::Running
        } else if i + 1 == entered.len() && finished {
            closed_by_workflow()
        } else {
            StepRunStatus::Completed
        };
        runs.push(StepRun {
            workflow_id: w.id,
            visit,
            step_id: step.to_owned(),
            kind: kind_of(step),
            status,
            started_at: e.created_at,
            ended_at: (!current).then_some(t),
        });
    }
    runs
}

/// The workflow's audit row for a transition: an insert when it created the workflow, an
/// update (with the status and step before) otherwise.
pub fn audit_entry(prev: &Before, w: &Instance, actor: &Actor) -> Result<AuditEntry, DomainError> {
    let new = json!({"status": w.status.as_str(), "currentStep": w.current_step, "priority": w.priority.as_str(), "workflowType": w.workflow_type});
    let (action, old) = if prev.new {
        (AuditAction::Insert, None)
    } else {
        let before = json!({"status": prev.status.as_str(), "currentStep": prev.step});
        (AuditAction::Update, Some(before))
    };
    AuditEntry::new(
        "workflow_instances",
        w.id,
        action,
        old,
        Some(new),
        actor.clone(),
    )
}

/// The audit row of a deletion.
pub fn deletion_audit(w: &Instance, actor: &Actor) -> Result<AuditEntry, DomainError> {
    let old = json!({"status": w.status.as_str(), "workflowType": w.workflow_type});
    AuditEntry::new(
        "workflow_instances",
        w.id,
        AuditAction::Delete,
        Some(old),
        None,
        actor.clone(),
    )
}

/// The job the step `w` has just entered needs: an action runs now, a delay when it ends,
/// and a step with a timeout gets its timer.
pub fn step_job(graph: &WorkflowGraph, w: &Instance) -> Option<NewJob> {
    if w.status != WorkflowStatus::InProgress {
        return None;
    }
    let step_id = w.current_step.clone()?;
    let step = graph.step(&step_id)?;
    let target = StepJob {
        workflow_id: w.id,
        step_id,
        visit: w.step_visit,
        attempt: 0,
    };
    let (args, run_at) = match step.kind {
        StepKind::Action => (JobArgs::RunStep(target), w.updated_at),
        StepKind::Delay => (
            JobArgs::RunStep(target),
            w.updated_at + chrono::Duration::minutes(i64::from(step.delay.unwrap_or(0))),
        ),
        StepKind::Approval | StepKind::Task | StepKind::Condition => {
            (JobArgs::StepTimeout(target), w.due_at?)
        }
    };
    Some(NewJob::new(&args, run_at))
}

/// Everything a transition writes that is derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub step_runs: Vec<StepRun>,
    /// The job of the step just entered, if the transition entered one.
    pub job: Option<NewJob>,
    /// The outbox events.
    pub events: Vec<NewEvent>,
    pub audit: AuditEntry,
}

/// Derives the step runs, outbox events and audit row of the transition from `prev` to `w`
/// that produced `timeline`.
pub fn derive(
    prev: &Before,
    w: &Instance,
    graph: &WorkflowGraph,
    timeline: &[TimelineEntry],
    actor: &Actor,
) -> Result<Derived, DomainError> {
    Ok(Derived {
        step_runs: step_runs(prev, w, graph, timeline),
        job: if prev.entered_step(w) {
            step_job(graph, w)
        } else {
            None
        },
        events: super::events::workflow_events(prev, w, graph, timeline),
        audit: audit_entry(prev, w, actor)?,
    })
}
