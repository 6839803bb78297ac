//! Deciding a workflow's current step: the approval rules (quorum, four eyes) applied to
//! the decisions already recorded, then the walk to the next step.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Entries, MachineError, advance, current_step, entry, invalid};
use crate::identity::Role;
use crate::workflow::approval::{self, Decision, DecisionError, StepOutcome, Vote};
use crate::workflow::graph::{Branch, StepKind, WorkflowGraph};
use crate::workflow::record::{Approval, Instance};
use crate::workflow::status::WorkflowStatus;
use crate::workflow::timeline::TimelineKind;

/// Who decides, as the approval rules need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decider {
    pub user_id: Uuid,
    pub role: Role,
}

/// A decision on a workflow's current step, as the API takes it.
#[derive(Debug, Clone, Copy)]
pub struct DecisionInput<'a> {
    /// The step the caller means, if they named one: it must be the current step.
    pub step_id: Option<&'a str>,
    pub decision: Decision,
    pub comments: Option<&'a str>,
    pub reason: Option<&'a str>,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// The decision's row.
    pub record: Approval,
    pub entries: Entries,
    /// The step is decided (not waiting for more approvals).
    pub step_decided: bool,
}

/// Decides `input` by `by` on `w`, given every earlier decision on it (`history`): the
/// four-eyes and quorum rules, then the walk to the next step.
pub fn decide(
    w: &mut Instance,
    graph: &WorkflowGraph,
    history: &[Approval],
    by: Decider,
    input: DecisionInput<'_>,
    t: DateTime<Utc>,
) -> Result<Decided, MachineError> {
    if w.status != WorkflowStatus::InProgress {
        return Err(invalid(format!(
            "the workflow is {}; nothing to decide",
            w.status
        )));
    }
    let current = w.current_step.clone().unwrap_or_default();
    if let Some(s) = input.step_id
        && s != current
    {
        return Err(invalid(format!(
            "step {s} is not the current step ({current})"
        )));
    }
    let step = current_step(graph, &current)?;
    // Votes of earlier visits of this step do not count again (a rework loop starts over).
    let votes: Vec<Vote> = history
        .iter()
        .filter(|a| a.step_id != current || a.step_visit == w.step_visit)
        .map(|a| Vote {
            step_id: a.step_id.clone(),
            user_id: a.approver_id,
            decision: a.decision,
        })
        .collect();
    let outcome = match step.kind {
        StepKind::Approval => approval::decide(
            step,
            &w.escalated_roles,
            w.created_by,
            by.user_id,
            by.role,
            input.decision,
            &votes,
        )?,
        StepKind::Task => {
            let allowed = by.role == Role::Admin
                || step
                    .assignees
                    .iter()
                    .chain(&w.escalated_roles)
                    .any(|r| r == by.role.as_str());
            if !allowed {
                return Err(DecisionError::NotAssignee(by.role).into());
            }
            match input.decision {
                Decision::Approve => StepOutcome::Approved,
                Decision::Reject => StepOutcome::Rejected,
            }
        }
        other => {
            return Err(invalid(format!(
                "a {other:?} step is not decided by people"
            )));
        }
    };
    let record = Approval {
        id: Uuid::now_v7(),
        workflow_id: w.id,
        step_id: current.clone(),
        step_visit: w.step_visit,
        approver_id: by.user_id,
        decision: input.decision,
        comments: input.comments.map(str::to_owned),
        decided_at: t,
    };
    let step_id = Some(current.clone());
    let who = Some(by.user_id);
    let (comments, reason) = (input.comments, input.reason);
    let mut entries = Vec::new();
    let step_decided = !matches!(outcome, StepOutcome::Pending { .. });
    let next = match outcome {
        StepOutcome::Pending {
            approvals,
            required,
        } => {
            let data = json!({"comments": comments, "approvals": approvals, "required": required});
            entries.push(entry(w, TimelineKind::ApprovalRecorded, step_id, who, data));
            w.updated_at = t;
            None
        }
        StepOutcome::Approved => {
            let data = json!({"comments": comments, "reason": reason});
            entries.push(entry(w, TimelineKind::StepApproved, step_id, who, data));
            w.completed_steps += 1;
            Some(Branch::Approved)
        }
        StepOutcome::Rejected => {
            let data = json!({"comments": comments, "reason": reason});
            entries.push(entry(w, TimelineKind::StepRejected, step_id, who, data));
            Some(Branch::Rejected)
        }
    };
    if let Some(branch) = next {
        entries.extend(advance(w, graph, graph.next(&current, branch), who, t)?);
    }
    Ok(Decided {
        record,
        entries,
        step_decided,
    })
}
