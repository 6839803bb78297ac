//! Unit tests of the state machine and what transitions derive, without a database.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::approval::{Decision, DecisionError};
use super::graph::{Branch, Edge, StepDef, StepKind, TimeoutAction, WorkflowGraph};
use super::machine::{self, Decider, DecisionInput, MachineError};
use super::record::{Approval, Instance, StepRunStatus};
use super::status::{Priority, WorkflowStatus};
use super::timeline::TimelineEntry;
use super::transition::{Before, derive, step_runs};
use crate::audit::{Actor, AuditAction};
use crate::events::{Address, types};
use crate::identity::Role;
use crate::jobs::JobKind;

pub(super) fn step(id: &str, kind: StepKind) -> StepDef {
    StepDef {
        id: id.into(),
        name: format!("Step {id}"),
        kind,
        assignees: vec!["risk_manager".into()],
        required: true,
        timeout: Some(30.into()),
        retry: None,
        on_timeout: TimeoutAction::default(),
        required_approvals: 1,
        four_eyes: false,
        condition: None,
        action: None,
        params: None,
        delay: None,
    }
}

pub(super) fn instance(created_by: Uuid, data: serde_json::Value) -> Instance {
    let t = crate::time::now();
    Instance {
        id: Uuid::now_v7(),
        definition_id: Uuid::now_v7(),
        workflow_type: "test_flow".into(),
        version: 1,
        status: WorkflowStatus::Pending,
        priority: Priority::Medium,
        current_step: None,
        step_visit: 0,
        step_started_at: None,
        escalated_roles: vec![],
        assignees: vec![],
        completed_steps: 0,
        data,
        tags: vec![],
        created_by: Some(created_by),
        created_at: t,
        updated_at: t,
        started_at: None,
        completed_at: None,
        due_at: None,
    }
}

fn kinds(entries: &[TimelineEntry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.kind.as_str()).collect()
}

fn now() -> DateTime<Utc> {
    crate::time::now()
}

fn risk(user: Uuid) -> Decider {
    Decider {
        user_id: user,
        role: Role::RiskManager,
    }
}

fn input(decision: Decision) -> DecisionInput<'static> {
    DecisionInput {
        step_id: None,
        decision,
        comments: Some("ok"),
        reason: None,
    }
}

#[test]
fn starting_enters_the_first_step_and_schedules_its_timer() {
    let graph = WorkflowGraph::linear(vec![step("a", StepKind::Approval)]);
    let mut w = instance(Uuid::now_v7(), json!({}));
    let prev = Before::created();
    let by = w.created_by;
    let mut entries = vec![machine::created(&w, by)];
    entries.extend(machine::begin(&mut w, &graph, by, now()).unwrap());
    assert_eq!(
        kinds(&entries),
        ["workflow.created", "workflow.started", "step.entered"]
    );
    assert_eq!(
        (w.status, w.current_step.as_deref(), w.step_visit),
        (WorkflowStatus::InProgress, Some("a"), 1)
    );
    let d = derive(&prev, &w, &graph, &entries, &Actor::default()).unwrap();
    assert_eq!(d.audit.action, AuditAction::Insert);
    assert_eq!(d.step_runs.len(), 1);
    assert_eq!(d.step_runs[0].status, StepRunStatus::Running);
    let job = d.job.expect("a timer");
    assert_eq!(job.kind, JobKind::StepTimeout.as_str());
    assert_eq!(Some(job.run_at), w.due_at);
    let sent: Vec<&str> = d.events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(sent, [types::WORKFLOW_CREATED, types::TASK_CREATED]);
    assert!(
        d.events[1]
            .to
            .contains(&Address::Role("risk_manager".into()))
    );
}

#[test]
fn a_started_workflow_cannot_start_again() {
    let graph = WorkflowGraph::linear(vec![step("a", StepKind::Task)]);
    let mut w = instance(Uuid::now_v7(), json!({}));
    machine::start(&mut w, &graph, None, now()).unwrap();
    let e = machine::start(&mut w, &graph, None, now()).unwrap_err();
    assert_eq!(
        e,
        MachineError::InvalidTransition("cannot start a workflow that is in_progress".into())
    );
}

#[test]
fn quorum_waits_then_moves_on() {
    let mut a = step("a", StepKind::Approval);
    a.required_approvals = 2;
    let graph = WorkflowGraph::linear(vec![a, step("b", StepKind::Task)]);
    let creator = Uuid::now_v7();
    let mut w = instance(creator, json!({}));
    machine::begin(&mut w, &graph, None, now()).unwrap();
    let first = Uuid::now_v7();
    let prev = Before::of(&w);
    let d = machine::decide(
        &mut w,
        &graph,
        &[],
        risk(first),
        input(Decision::Approve),
        now(),
    )
    .unwrap();
    assert!(!d.step_decided);
    assert_eq!(kinds(&d.entries), ["approval.recorded"]);
    assert_eq!(d.entries[0].data["approvals"], 1);
    let derived = derive(&prev, &w, &graph, &d.entries, &Actor::default()).unwrap();
    assert!(derived.step_runs.is_empty() && derived.job.is_none());
    assert_eq!(derived.events[0].event_type, types::WORKFLOW_APPROVED);

    // The same person again is refused: an approval never counts twice.
    let history = vec![d.record.clone()];
    let again = machine::decide(
        &mut w.clone(),
        &graph,
        &history,
        risk(first),
        input(Decision::Approve),
        now(),
    );
    assert_eq!(again.unwrap_err(), DecisionError::AlreadyVoted.into());

    let prev = Before::of(&w);
    let second = Uuid::now_v7();
    let d = machine::decide(
        &mut w,
        &graph,
        &history,
        risk(second),
        input(Decision::Approve),
        now(),
    )
    .unwrap();
    assert!(d.step_decided);
    assert_eq!(kinds(&d.entries), ["step.approved", "step.entered"]);
    let runs = step_runs(&prev, &w, &graph, &d.entries);
    let got: Vec<_> = runs.iter().map(|r| (r.visit, r.status)).collect();
    assert_eq!(
        got,
        [(1, StepRunStatus::Approved), (2, StepRunStatus::Running)]
    );
}

#[test]
fn a_rejection_without_an_edge_rejects_the_workflow() {
    let graph = WorkflowGraph::linear(vec![step("a", StepKind::Approval)]);
    let mut w = instance(Uuid::now_v7(), json!({}));
    machine::begin(&mut w, &graph, None, now()).unwrap();
    let prev = Before::of(&w);
    let by = Uuid::now_v7();
    let d = machine::decide(
        &mut w,
        &graph,
        &[],
        risk(by),
        input(Decision::Reject),
        now(),
    )
    .unwrap();
    assert_eq!(kinds(&d.entries), ["step.rejected", "workflow.rejected"]);
    assert_eq!(w.status, WorkflowStatus::Rejected);
    let derived = derive(&prev, &w, &graph, &d.entries, &Actor::default()).unwrap();
    // One `workflow.rejected`, the person's: not a second one for the workflow's end.
    let sent: Vec<&str> = derived
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(sent, [types::WORKFLOW_REJECTED]);
    assert_eq!(derived.events[0].payload["decision"], "rejected");
    assert_eq!(derived.step_runs[0].status, StepRunStatus::Rejected);
}

#[test]
fn decisions_are_checked() {
    let mut a = step("a", StepKind::Approval);
    a.four_eyes = true;
    let graph = WorkflowGraph::linear(vec![a]);
    let creator = Uuid::now_v7();
    let mut w = instance(creator, json!({}));
    let e = machine::decide(
        &mut w,
        &graph,
        &[],
        risk(creator),
        input(Decision::Approve),
        now(),
    );
    assert_eq!(
        e.unwrap_err(),
        MachineError::InvalidTransition("the workflow is pending; nothing to decide".into())
    );
    machine::begin(&mut w, &graph, None, now()).unwrap();
    let e = machine::decide(
        &mut w,
        &graph,
        &[],
        risk(creator),
        input(Decision::Approve),
        now(),
    );
    assert_eq!(e.unwrap_err(), DecisionError::CreatorMayNotDecide.into());
    let trader = Decider {
        user_id: Uuid::now_v7(),
        role: Role::Trader,
    };
    let e = machine::decide(&mut w, &graph, &[], trader, input(Decision::Approve), now());
    assert_eq!(
        e.unwrap_err(),
        DecisionError::NotAssignee(Role::Trader).into()
    );
    let wrong = DecisionInput {
        step_id: Some("b"),
        ..input(Decision::Approve)
    };
    let e = machine::decide(&mut w, &graph, &[], risk(Uuid::now_v7()), wrong, now());
    assert_eq!(
        e.unwrap_err(),
        MachineError::InvalidTransition("step b is not the current step (a)".into())
    );
}

#[test]
fn votes_of_an_earlier_visit_do_not_count() {
    let mut graph = WorkflowGraph::linear(vec![
        step("a", StepKind::Approval),
        step("b", StepKind::Approval),
    ]);
    graph.edges.push(Edge {
        from: "b".into(),
        to: "a".into(),
        branch: Branch::Rejected,
    });
    let mut w = instance(Uuid::now_v7(), json!({}));
    machine::begin(&mut w, &graph, None, now()).unwrap();
    let (x, y) = (Uuid::now_v7(), Uuid::now_v7());
    let mut history: Vec<Approval> = Vec::new();
    for (who, decision) in [(x, Decision::Approve), (y, Decision::Reject)] {
        let d =
            machine::decide(&mut w, &graph, &history, risk(who), input(decision), now()).unwrap();
        history.push(d.record);
    }
    assert_eq!((w.current_step.as_deref(), w.step_visit), (Some("a"), 3));
    // x approved visit 1 of `a`; on visit 3 they may decide again.
    machine::decide(
        &mut w,
        &graph,
        &history,
        risk(x),
        input(Decision::Approve),
        now(),
    )
    .unwrap();
    assert_eq!(w.current_step.as_deref(), Some("b"));
}

#[test]
fn conditions_route_on_the_spot() {
    let mut c = step("c", StepKind::Condition);
    c.condition = Some("data.amount > 10".into());
    let graph = WorkflowGraph {
        steps: vec![
            c,
            step("big", StepKind::Task),
            step("small", StepKind::Task),
        ],
        edges: vec![
            Edge {
                from: "c".into(),
                to: "big".into(),
                branch: Branch::True,
            },
            Edge {
                from: "c".into(),
                to: "small".into(),
                branch: Branch::False,
            },
        ],
    };
    let mut w = instance(Uuid::now_v7(), json!({"amount": 50}));
    let entries = machine::begin(&mut w, &graph, None, now()).unwrap();
    assert_eq!(
        kinds(&entries),
        [
            "workflow.started",
            "step.entered",
            "condition.evaluated",
            "step.entered"
        ]
    );
    assert_eq!(w.current_step.as_deref(), Some("big"));
    let runs = step_runs(&Before::created(), &w, &graph, &entries);
    let got: Vec<_> = runs
        .iter()
        .map(|r| (r.step_id.as_str(), r.status))
        .collect();
    assert_eq!(
        got,
        [
            ("c", StepRunStatus::Completed),
            ("big", StepRunStatus::Running)
        ]
    );
    // A condition that cannot be evaluated takes `false` and keeps the error.
    let mut w = instance(Uuid::now_v7(), json!({}));
    let entries = machine::begin(&mut w, &graph, None, now()).unwrap();
    assert_eq!(entries[2].data["result"], false);
    assert!(entries[2].data["error"].is_string());
    assert_eq!(w.current_step.as_deref(), Some("small"));
}
