//! Turning a workflow transition into the domain events of seed 001 for the outbox.
//!
//! A transition already produces timeline rows (the workflow's own history); the outbox
//! events are derived from them and from the state before and after, so the two can never
//! disagree and are written in the same transaction.

use betflow_domain::events::{NewEvent, types};
use betflow_domain::workflow::WorkflowStatus;
use betflow_domain::workflow::graph::{StepKind, WorkflowGraph};
use betflow_domain::workflow::record::{Instance, TimelineEvent};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

/// Where the workflow stood before the transition.
#[derive(Debug, Clone)]
pub(crate) struct Before {
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
}

/// The seed's `WorkflowInstance` payload (formatWorkflowResponse's fields that do not need
/// further reads).
pub(crate) fn instance_payload(w: &Instance) -> Value {
    json!({
        "id": w.id,
        "workflowId": w.workflow_type,
        "status": w.status.as_str(),
        "currentStep": w.current_step,
        "priority": w.priority.as_str(),
        "version": w.version,
        "tags": w.tags,
        "createdBy": w.created_by,
        "createdAt": w.created_at,
        "updatedAt": w.updated_at,
        "dueAt": w.due_at,
        "data": w.data,
    })
}

/// The seed's `WorkflowUpdate` payload.
fn update_payload(w: &Instance, before: &Before, by: Option<Uuid>, extra: Option<&Value>) -> Value {
    let mut v = json!({
        "workflowId": w.id,
        "workflowType": w.workflow_type,
        "status": w.status.as_str(),
        "previousStatus": before.status.as_str(),
        "currentStep": w.current_step,
        "previousStep": before.step,
        "priority": w.priority.as_str(),
        "assignees": w.assignees,
        "dueAt": w.due_at,
        "updatedAt": w.updated_at,
        "updatedBy": by,
    });
    if let (Some(Value::Object(extra)), Value::Object(m)) = (extra, &mut v) {
        for (k, x) in extra {
            m.entry(k.clone()).or_insert_with(|| x.clone());
        }
    }
    v
}

/// The seed's `ApprovalUpdate` payload.
fn approval_payload(w: &Instance, e: &TimelineEvent, decision: &str) -> Value {
    let data = e.data.clone().unwrap_or(Value::Null);
    json!({
        "workflowId": w.id,
        "workflowType": w.workflow_type,
        "stepId": e.step_id,
        "approver": e.user_id,
        "decision": decision,
        "comments": data.get("comments"),
        "reason": data.get("reason"),
        "approvals": data.get("approvals"),
        "required": data.get("required"),
        "status": w.status.as_str(),
        "currentStep": w.current_step,
        "decidedAt": e.created_at,
    })
}

fn new_event(kind: &str, w: &Instance, payload: Value, t: DateTime<Utc>) -> NewEvent {
    let mut e = NewEvent::new(kind, payload, t);
    e.workflow_id = Some(w.id);
    e.user_id = w.created_by;
    e
}

/// The outbox events for one transition, in the order they happened.
pub(crate) fn workflow_events(
    before: &Before,
    w: &Instance,
    graph: &WorkflowGraph,
    timeline: &[TimelineEvent],
) -> Vec<NewEvent> {
    let t = w.updated_at;
    let by = timeline.iter().find_map(|e| e.user_id);
    let mut out = Vec::new();
    let mut decided = false;
    for e in timeline {
        match e.event_type.as_str() {
            "workflow.created" => {
                out.push(new_event(
                    types::WORKFLOW_CREATED,
                    w,
                    instance_payload(w),
                    t,
                ));
            }
            "step.approved" | "approval.recorded" => {
                decided = true;
                out.push(new_event(
                    types::WORKFLOW_APPROVED,
                    w,
                    approval_payload(w, e, "approved"),
                    t,
                ));
            }
            "step.rejected" => {
                decided = true;
                out.push(new_event(
                    types::WORKFLOW_REJECTED,
                    w,
                    approval_payload(w, e, "rejected"),
                    t,
                ));
            }
            "workflow.cancelled" => out.push(new_event(
                types::WORKFLOW_CANCELLED,
                w,
                update_payload(w, before, by, e.data.as_ref()),
                t,
            )),
            "workflow.overdue" => out.push(new_event(
                types::WORKFLOW_OVERDUE,
                w,
                update_payload(w, before, None, e.data.as_ref()),
                t,
            )),
            "step.escalated" => {
                // The escalation's notification: the added roles get the task.
                let added: Vec<String> = e
                    .data
                    .as_ref()
                    .and_then(|d| d.get("addedRoles"))
                    .and_then(|r| serde_json::from_value(r.clone()).ok())
                    .unwrap_or_default();
                let mut ev = new_event(types::TASK_CREATED, w, task_payload(w, graph, true), t);
                ev.roles = added;
                out.push(ev);
            }
            "event.emitted" => {
                let data = e.data.clone().unwrap_or(Value::Null);
                if let Some(kind) = data.get("event").and_then(Value::as_str) {
                    let mut payload = data.get("payload").cloned().unwrap_or(json!({}));
                    if let Value::Object(m) = &mut payload {
                        m.entry("workflowId").or_insert(json!(w.id));
                    }
                    out.push(new_event(kind, w, payload, t));
                }
            }
            _ => {}
        }
    }
    let moved = before.status != w.status || before.visit != w.step_visit;
    match w.status {
        WorkflowStatus::Completed if before.status != WorkflowStatus::Completed => {
            out.push(new_event(
                types::WORKFLOW_COMPLETED,
                w,
                update_payload(w, before, by, None),
                t,
            ));
        }
        WorkflowStatus::Rejected if before.status != WorkflowStatus::Rejected && !decided => {
            // Rejected without a person's decision (a timeout's auto-reject).
            out.push(new_event(
                types::WORKFLOW_REJECTED,
                w,
                update_payload(w, before, by, Some(&json!({"reason": "timeout"}))),
                t,
            ));
        }
        WorkflowStatus::Pending | WorkflowStatus::InProgress if moved && !before.new => {
            out.push(new_event(
                types::WORKFLOW_UPDATED,
                w,
                update_payload(w, before, by, None),
                t,
            ));
        }
        _ => {}
    }
    let updated_in_place = timeline.iter().any(|e| e.event_type == "workflow.updated");
    if updated_in_place && !moved {
        out.push(new_event(
            types::WORKFLOW_UPDATED,
            w,
            update_payload(w, before, by, None),
            t,
        ));
    }
    if w.status == WorkflowStatus::InProgress
        && w.step_visit != before.visit
        && let Some(step) = w.current_step.as_deref().and_then(|s| graph.step(s))
        && matches!(step.kind, StepKind::Approval | StepKind::Task)
    {
        let mut ev = new_event(types::TASK_CREATED, w, task_payload(w, graph, false), t);
        ev.roles = w.assignees.clone();
        out.push(ev);
    }
    out
}

/// `task.created`: a step that now waits for people.
fn task_payload(w: &Instance, graph: &WorkflowGraph, escalated: bool) -> Value {
    let step = w.current_step.as_deref().and_then(|s| graph.step(s));
    json!({
        "workflowId": w.id,
        "workflowType": w.workflow_type,
        "stepId": w.current_step,
        "stepName": step.map(|s| s.name.clone()),
        "kind": step.map(|s| match s.kind {
            StepKind::Task => "task",
            _ => "approval",
        }),
        "assignees": w.assignees,
        "priority": w.priority.as_str(),
        "dueAt": w.due_at,
        "escalated": escalated,
    })
}
