//! Unit tests of the machine's worker-driven and administrative transitions (timeouts,
//! automated steps, edits, cancellation) and what they derive.

use serde_json::json;
use uuid::Uuid;

use super::graph::{StepKind, TimeoutAction, WorkflowGraph};
use super::machine;
use super::machine_tests::{instance, step};
use super::record::StepRunStatus;
use super::status::{Priority, WorkflowStatus};
use super::timeline::{TimelineEntry, TimelineKind};
use super::transition::{Before, derive};
use crate::audit::Actor;
use crate::events::{Address, types};
use crate::jobs::JobArgs;

fn kinds(entries: &[TimelineEntry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.kind.as_str()).collect()
}

fn now() -> chrono::DateTime<chrono::Utc> {
    crate::time::now()
}

#[test]
fn timeouts_escalate_or_reject() {
    let mut a = step("a", StepKind::Approval);
    a.on_timeout = TimeoutAction::Escalate {
        add_roles: vec!["admin".into()],
    };
    let graph = WorkflowGraph::linear(vec![a]);
    let mut w = instance(Uuid::now_v7(), json!({}));
    machine::begin(&mut w, &graph, None, now()).unwrap();
    assert!(machine::still_at(&w, "a", 1) && !machine::still_at(&w, "a", 2));
    let prev = Before::of(&w);
    let entries = machine::time_out(&mut w, &graph, now()).unwrap();
    assert_eq!(kinds(&entries), ["workflow.overdue", "step.escalated"]);
    assert_eq!(w.assignees, ["risk_manager", "admin"]);
    let d = derive(&prev, &w, &graph, &entries, &Actor::default()).unwrap();
    let sent: Vec<&str> = d.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(sent, [types::WORKFLOW_OVERDUE, types::TASK_CREATED]);
    assert!(d.events[1].to.contains(&Address::Role("admin".into())));
    assert!(d.step_runs.is_empty() && d.job.is_none());

    let mut a = step("a", StepKind::Approval);
    a.on_timeout = TimeoutAction::AutoReject;
    let graph = WorkflowGraph::linear(vec![a]);
    let mut w = instance(Uuid::now_v7(), json!({}));
    machine::begin(&mut w, &graph, None, now()).unwrap();
    let prev = Before::of(&w);
    let entries = machine::time_out(&mut w, &graph, now()).unwrap();
    assert_eq!(
        kinds(&entries),
        ["workflow.overdue", "step.timed_out", "workflow.rejected"]
    );
    let d = derive(&prev, &w, &graph, &entries, &Actor::default()).unwrap();
    let sent: Vec<&str> = d.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(sent, [types::WORKFLOW_OVERDUE, types::WORKFLOW_REJECTED]);
    assert_eq!(d.events[1].payload["reason"], "timeout");
    assert_eq!(d.step_runs[0].status, StepRunStatus::TimedOut);
}

#[test]
fn actions_run_in_the_worker_and_emit_events() {
    let mut act = step("act", StepKind::Action);
    act.action = Some("emit_event".into());
    act.params = Some(json!({"event": "custom.thing", "payload": {"x": 1}}));
    let graph = WorkflowGraph::linear(vec![act]);
    let mut w = instance(Uuid::now_v7(), json!({}));
    let entries = machine::begin(&mut w, &graph, None, now()).unwrap();
    let d = derive(&Before::created(), &w, &graph, &entries, &Actor::default()).unwrap();
    let job = d.job.expect("the action's run");
    assert!(matches!(
        JobArgs::from_stored(&job.kind, &job.payload),
        Ok(JobArgs::RunStep(s)) if s.step_id == "act" && s.visit == 1
    ));
    let prev = Before::of(&w);
    let entries = machine::run_step(&mut w, &graph, now()).unwrap();
    assert_eq!(
        kinds(&entries),
        ["event.emitted", "action.completed", "workflow.completed"]
    );
    let d = derive(&prev, &w, &graph, &entries, &Actor::default()).unwrap();
    let sent: Vec<&str> = d.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(sent, ["custom.thing", types::WORKFLOW_COMPLETED]);
    assert_eq!(d.events[0].payload, json!({"x": 1, "workflowId": w.id}));
    assert_eq!(d.step_runs[0].status, StepRunStatus::Completed);
}

#[test]
fn cancel_and_edit() {
    let graph = WorkflowGraph::linear(vec![step("a", StepKind::Task)]);
    let mut w = instance(Uuid::now_v7(), json!({}));
    machine::begin(&mut w, &graph, None, now()).unwrap();
    let prev = Before::of(&w);
    let entries = machine::edit(&mut w, None, Some(Priority::High), None, now()).unwrap();
    assert_eq!(entries[0].data, json!({"changed": ["priority"]}));
    let d = derive(&prev, &w, &graph, &entries, &Actor::default()).unwrap();
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].event_type, types::WORKFLOW_UPDATED);
    let prev = Before::of(&w);
    let entries = machine::cancel(&mut w, None, Some("dup"), now()).unwrap();
    assert_eq!(w.status, WorkflowStatus::Cancelled);
    let d = derive(&prev, &w, &graph, &entries, &Actor::default()).unwrap();
    assert_eq!(d.step_runs[0].status, StepRunStatus::Cancelled);
    assert_eq!(d.events[0].payload["reason"], "dup");
    assert!(machine::cancel(&mut w, None, None, now()).is_err());
    assert!(machine::edit(&mut w, None, None, None, now()).is_err());
    assert_eq!(
        machine::deleted(&w, None).kind,
        TimelineKind::WorkflowDeleted
    );
}
