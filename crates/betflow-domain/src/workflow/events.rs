//! Turning a workflow transition into the domain events of seed 001 for the outbox.
//!
//! A transition already produces timeline entries (the workflow's own history); the outbox
//! events are derived from their typed kinds and from the state before and after, so the two
//! can never disagree and are written in the same transaction.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::graph::{StepKind, WorkflowGraph};
use super::record::Instance;
use super::status::WorkflowStatus;
use super::timeline::{TimelineEntry, TimelineKind};
use super::transition::Before;
use crate::events::{Address, NewEvent, types};

/// The seed's `WorkflowInstance` payload (formatWorkflowResponse's fields that do not need
/// further reads).
pub fn instance_payload(w: &Instance) -> Value {
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
pub fn update_payload(
    w: &Instance,
    before: &Before,
    by: Option<Uuid>,
    extra: Option<&Value>,
) -> Value {
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
pub fn approval_payload(w: &Instance, e: &TimelineEntry, decision: &str) -> Value {
    let data = &e.data;
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

/// `task.created`: a step that now waits for people.
pub fn task_payload(w: &Instance, graph: &WorkflowGraph, escalated: bool) -> Value {
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

fn new_event(kind: &str, w: &Instance, payload: Value, t: DateTime<Utc>) -> NewEvent {
    // The workflow's watchers, then its creator.
    NewEvent::new(kind, payload, t)
        .to([Address::Workflow(w.id)])
        .to(w.created_by.map(Address::User))
}

/// The outbox event one timeline entry announces on its own, if any; `by` is the first
/// person named in the transition.
fn entry_event(
    before: &Before,
    w: &Instance,
    graph: &WorkflowGraph,
    e: &TimelineEntry,
    by: Option<Uuid>,
) -> Option<NewEvent> {
    let t = w.updated_at;
    let ev = match e.kind {
        TimelineKind::WorkflowCreated => {
            new_event(types::WORKFLOW_CREATED, w, instance_payload(w), t)
        }
        TimelineKind::StepApproved | TimelineKind::ApprovalRecorded => new_event(
            types::WORKFLOW_APPROVED,
            w,
            approval_payload(w, e, "approved"),
            t,
        ),
        TimelineKind::StepRejected => new_event(
            types::WORKFLOW_REJECTED,
            w,
            approval_payload(w, e, "rejected"),
            t,
        ),
        TimelineKind::WorkflowCancelled => new_event(
            types::WORKFLOW_CANCELLED,
            w,
            update_payload(w, before, by, Some(&e.data)),
            t,
        ),
        TimelineKind::WorkflowOverdue => new_event(
            types::WORKFLOW_OVERDUE,
            w,
            update_payload(w, before, None, Some(&e.data)),
            t,
        ),
        TimelineKind::StepEscalated => {
            // The escalation's notification: the added roles get the task.
            let added: Vec<String> = e
                .data
                .get("addedRoles")
                .and_then(|r| serde_json::from_value(r.clone()).ok())
                .unwrap_or_default();
            let ev = new_event(types::TASK_CREATED, w, task_payload(w, graph, true), t);
            ev.to(added.into_iter().map(Address::Role))
        }
        TimelineKind::EventEmitted => {
            let kind = e.data.get("event").and_then(Value::as_str)?;
            let mut payload = e.data.get("payload").cloned().unwrap_or(json!({}));
            if let Value::Object(m) = &mut payload {
                m.entry("workflowId").or_insert(json!(w.id));
            }
            new_event(kind, w, payload, t)
        }
        TimelineKind::WorkflowFailed => new_event(
            types::WORKFLOW_FAILED,
            w,
            update_payload(w, before, by, Some(&e.data)),
            t,
        ),
        TimelineKind::WorkflowStarted
        | TimelineKind::StepFailed
        | TimelineKind::WorkflowRetried
        | TimelineKind::WorkflowUpdated
        | TimelineKind::WorkflowDeleted
        | TimelineKind::WorkflowCompleted
        | TimelineKind::WorkflowRejected
        | TimelineKind::StepEntered
        | TimelineKind::ConditionEvaluated
        | TimelineKind::StepTimedOut
        | TimelineKind::ActionCompleted
        | TimelineKind::DelayElapsed => return None,
    };
    Some(ev)
}

/// The outbox events for one transition, in the order they happened.
pub fn workflow_events(
    before: &Before,
    w: &Instance,
    graph: &WorkflowGraph,
    timeline: &[TimelineEntry],
) -> Vec<NewEvent> {
    let t = w.updated_at;
    let by = timeline.iter().find_map(|e| e.user_id);
    let mut out: Vec<NewEvent> = timeline
        .iter()
        .filter_map(|e| entry_event(before, w, graph, e, by))
        .collect();
    let decided = timeline.iter().any(|e| {
        matches!(
            e.kind,
            TimelineKind::StepApproved
                | TimelineKind::ApprovalRecorded
                | TimelineKind::StepRejected
        )
    });
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
    let updated_in_place = timeline
        .iter()
        .any(|e| e.kind == TimelineKind::WorkflowUpdated);
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
        let ev = new_event(types::TASK_CREATED, w, task_payload(w, graph, false), t);
        out.push(ev.to(w.assignees.iter().cloned().map(Address::Role)));
    }
    out
}
