//! Property tests of the state machine: random valid graphs driven by random decisions,
//! timeouts, worker runs, edits and cancellations, checked without a database.
//!
//! - a run ends exactly once, and nothing moves it after;
//! - every step run that starts ends (by the time the workflow finishes), and every step
//!   entered has its run;
//! - no approval counts twice;
//! - the outbox events derived from each transition match its timeline entries, and the
//!   job it derives matches the step it entered.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::approval::Decision;
use super::graph::{Branch, Edge, StepKind, TimeoutAction, WorkflowGraph};
use super::machine::{self, Decider, DecisionInput, MachineError};
use super::machine_tests::{instance, step};
use super::record::{Approval, Instance, StepRun, StepRunStatus};
use super::status::{Priority, WorkflowStatus};
use super::timeline::{TimelineEntry, TimelineKind};
use super::transition::{Before, derive};
use crate::audit::Actor;
use crate::events::{Address, types};
use crate::identity::Role;
use crate::jobs::{JobArgs, JobKind};

#[derive(Debug, Clone)]
struct Spec {
    kind: StepKind,
    required: u32,
    four_eyes: bool,
    on_timeout: u8,
    /// Where a secondary branch (rejected, false, timeout) leads, if anywhere.
    alt: Option<usize>,
    action: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(StepKind::ALL.to_vec()),
        1u32..=3,
        any::<bool>(),
        0u8..3,
        prop::option::of(0usize..6),
        0u8..3,
    )
        .prop_map(
            |(kind, required, four_eyes, on_timeout, alt, action)| Spec {
                kind,
                required,
                four_eyes,
                on_timeout,
                alt,
                action,
            },
        )
}

fn graph_of(specs: &[Spec]) -> WorkflowGraph {
    let n = specs.len();
    let mut steps = Vec::new();
    let mut edges = Vec::new();
    let id = |i: usize| format!("s{i}");
    let mut edge = |from: usize, to: usize, branch: Branch| {
        edges.push(Edge {
            from: id(from),
            to: id(to % n),
            branch,
        })
    };
    for (i, s) in specs.iter().enumerate() {
        let mut st = step(&id(i), s.kind);
        let primary = match s.kind {
            StepKind::Approval => Branch::Approved,
            StepKind::Condition => Branch::True,
            _ => Branch::Default,
        };
        if i + 1 < n {
            edge(i, i + 1, primary);
        }
        match s.kind {
            StepKind::Approval | StepKind::Task => {
                st.required_approvals = s.required;
                st.four_eyes = s.four_eyes;
                st.on_timeout = match s.on_timeout {
                    0 => TimeoutAction::Escalate {
                        add_roles: vec!["admin".into()],
                    },
                    1 => TimeoutAction::AutoReject,
                    _ => TimeoutAction::FollowTimeoutEdge,
                };
                if s.kind == StepKind::Approval
                    && let Some(to) = s.alt
                {
                    edge(i, to, Branch::Rejected);
                }
                if st.on_timeout == TimeoutAction::FollowTimeoutEdge {
                    edge(i, s.alt.unwrap_or(i + 1), Branch::Timeout);
                }
            }
            StepKind::Condition => {
                st.timeout = None;
                st.condition = Some("data.flag == true".into());
                if let Some(to) = s.alt {
                    edge(i, to, Branch::False);
                }
            }
            StepKind::Action => {
                st.timeout = None;
                let (action, params) = match s.action {
                    0 => ("noop", None),
                    1 => ("set_data", Some(json!({"flag": false}))),
                    _ => ("emit_event", Some(json!({"event": "custom.done"}))),
                };
                st.action = Some(action.into());
                st.params = params;
                // Some action steps have an `error` edge to follow when they fail.
                if let Some(to) = s.alt {
                    edge(i, to, Branch::Error);
                }
            }
            StepKind::Delay => {
                st.timeout = None;
                st.delay = Some(5);
            }
        }
        steps.push(st);
    }
    WorkflowGraph { steps, edges }
}

#[derive(Debug, Clone)]
enum Op {
    Decide {
        user: usize,
        admin: bool,
        approve: bool,
    },
    Timeout,
    Run,
    /// The current action step fails for good (its retries exhausted).
    Fail,
    /// A failed run is re-opened at its failed step.
    Reopen,
    Cancel,
    Edit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..4, any::<bool>(), prop::bool::weighted(0.8))
            .prop_map(|(user, admin, approve)| Op::Decide { user, admin, approve }),
        2 => Just(Op::Timeout),
        3 => Just(Op::Run),
        2 => Just(Op::Fail),
        1 => Just(Op::Reopen),
        1 => Just(Op::Cancel),
        1 => Just(Op::Edit),
    ]
}

fn current_kind(w: &Instance, graph: &WorkflowGraph) -> Option<StepKind> {
    graph.step(w.current_step.as_deref()?).map(|s| s.kind)
}

fn count(entries: &[TimelineEntry], kinds: &[TimelineKind]) -> usize {
    entries.iter().filter(|e| kinds.contains(&e.kind)).count()
}

/// What the worker would have queued for the current step.
fn queued(w: &Instance, graph: &WorkflowGraph) -> Option<JobKind> {
    let step = graph.step(w.current_step.as_deref()?)?;
    match (w.status, step.kind) {
        (WorkflowStatus::InProgress, StepKind::Action | StepKind::Delay) => Some(JobKind::RunStep),
        (WorkflowStatus::InProgress, StepKind::Approval | StepKind::Task) if w.due_at.is_some() => {
            Some(JobKind::StepTimeout)
        }
        _ => None,
    }
}

/// Checks one transition's derived rows against its timeline entries.
fn check_transition(
    prev: &Before,
    w: &Instance,
    graph: &WorkflowGraph,
    entries: &[TimelineEntry],
) -> Result<Vec<StepRun>, TestCaseError> {
    let d = derive(prev, w, graph, entries, &Actor::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let n = |t: &str| d.events.iter().filter(|e| e.event_type == t).count();
    use TimelineKind as K;
    let decided = count(
        entries,
        &[K::StepApproved, K::ApprovalRecorded, K::StepRejected],
    );
    prop_assert_eq!(
        n(types::WORKFLOW_APPROVED),
        count(entries, &[K::StepApproved, K::ApprovalRecorded])
    );
    let auto_rejected = prev.status != WorkflowStatus::Rejected
        && w.status == WorkflowStatus::Rejected
        && decided == 0;
    prop_assert_eq!(
        n(types::WORKFLOW_REJECTED),
        count(entries, &[K::StepRejected]) + usize::from(auto_rejected)
    );
    let completed =
        prev.status != WorkflowStatus::Completed && w.status == WorkflowStatus::Completed;
    prop_assert_eq!(n(types::WORKFLOW_COMPLETED), usize::from(completed));
    prop_assert_eq!(
        n(types::WORKFLOW_CANCELLED),
        count(entries, &[K::WorkflowCancelled])
    );
    prop_assert_eq!(
        n(types::WORKFLOW_OVERDUE),
        count(entries, &[K::WorkflowOverdue])
    );
    let waits = w.status == WorkflowStatus::InProgress
        && w.step_visit != prev.visit
        && graph
            .step(w.current_step.as_deref().unwrap_or_default())
            .is_some_and(|s| matches!(s.kind, StepKind::Approval | StepKind::Task));
    prop_assert_eq!(
        n(types::TASK_CREATED),
        count(entries, &[K::StepEscalated]) + usize::from(waits)
    );
    prop_assert_eq!(n("custom.done"), count(entries, &[K::EventEmitted]));
    for e in &d.events {
        prop_assert!(e.to.first() == Some(&Address::Workflow(w.id)), "{e:?}");
    }
    let job_kind = d.job.as_ref().and_then(|j| JobKind::parse(&j.kind));
    let expected = if w.step_visit != prev.visit {
        queued(w, graph)
    } else {
        None
    };
    prop_assert_eq!(job_kind, expected);
    if let Some(j) = &d.job {
        let args = JobArgs::from_stored(&j.kind, &j.payload);
        prop_assert!(
            matches!(&args, Ok(JobArgs::RunStep(s) | JobArgs::StepTimeout(s))
                if s.visit == w.step_visit && Some(&s.step_id) == w.current_step.as_ref()),
            "{args:?}"
        );
    }
    Ok(d.step_runs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_runs_keep_the_invariants(
        specs in prop::collection::vec(spec(), 1..6),
        flag in any::<bool>(),
        ops in prop::collection::vec(op(), 0..40),
    ) {
        let graph = graph_of(&specs);
        prop_assume!(graph.validate().is_ok());
        let users: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
        let mut w = instance(users[0], json!({"flag": flag}));
        let t = crate::time::now();
        let mut entries = vec![machine::created(&w, w.created_by)];
        entries.extend(machine::begin(&mut w, &graph, Some(users[0]), t).map_err(|e| TestCaseError::fail(e.to_string()))?);
        let mut ends = count(&entries, &[TimelineKind::WorkflowCompleted, TimelineKind::WorkflowRejected]);
        let mut runs: BTreeMap<u32, StepRun> = BTreeMap::new();
        for r in check_transition(&Before::created(), &w, &graph, &entries)? {
            runs.insert(r.visit, r);
        }
        let mut history: Vec<Approval> = Vec::new();
        for op in ops {
            let before = w.clone();
            let prev = Before::of(&w);
            let t = crate::time::now();
            let result = match op {
                Op::Decide { user, admin, approve } => {
                    let by = Decider {
                        user_id: users[user],
                        role: if admin { Role::Admin } else { Role::RiskManager },
                    };
                    let input = DecisionInput {
                        step_id: None,
                        decision: if approve { Decision::Approve } else { Decision::Reject },
                        comments: None,
                        reason: None,
                    };
                    machine::decide(&mut w, &graph, &history, by, input, t).map(|d| {
                        history.push(d.record);
                        d.entries
                    })
                }
                // The worker runs only the job the step queued.
                Op::Timeout if queued(&w, &graph) == Some(JobKind::StepTimeout) => {
                    machine::time_out(&mut w, &graph, t)
                }
                Op::Run if queued(&w, &graph) == Some(JobKind::RunStep) => {
                    machine::run_step(&mut w, &graph, t)
                }
                Op::Fail
                    if queued(&w, &graph) == Some(JobKind::RunStep)
                        && current_kind(&w, &graph) == Some(StepKind::Action) =>
                {
                    machine::fail_step(&mut w, &graph, "boom", 3, t)
                }
                Op::Reopen => machine::reopen_failed(&mut w, &graph, None, t),
                Op::Timeout | Op::Run | Op::Fail => continue,
                Op::Cancel => machine::cancel(&mut w, None, Some("stop"), t),
                Op::Edit => machine::edit(&mut w, None, Some(Priority::Critical), None, t),
            };
            let step_entries = match result {
                Ok(e) => e,
                Err(MachineError::Inconsistent(e)) => {
                    return Err(TestCaseError::fail(format!("a valid graph broke: {e}")));
                }
                Err(_) => {
                    // Refused: the engine discards the changed copy.
                    w = before;
                    continue;
                }
            };
            let reopened = count(&step_entries, &[TimelineKind::WorkflowRetried]);
            prop_assert!(
                !prev.status.is_final() || (prev.status == WorkflowStatus::Failed && reopened == 1),
                "a finished run moved: {step_entries:?}"
            );
            ends += count(&step_entries, &[
                TimelineKind::WorkflowCompleted,
                TimelineKind::WorkflowRejected,
                TimelineKind::WorkflowCancelled,
                TimelineKind::WorkflowFailed,
            ]);
            ends -= reopened;
            if count(&step_entries, &[TimelineKind::StepFailed]) == 1 {
                // A failure leaves by the `error` edge or fails the run, nothing else.
                let failed_at = prev.step.clone().unwrap_or_default();
                let has_edge = graph
                    .edges
                    .iter()
                    .any(|e| e.from == failed_at && e.branch == Branch::Error);
                prop_assert_eq!(w.status == WorkflowStatus::Failed, !has_edge);
            }
            for r in check_transition(&prev, &w, &graph, &step_entries)? {
                if let Some(old) = runs.get(&r.visit) {
                    prop_assert_eq!(old.status, StepRunStatus::Running, "a run ended twice");
                }
                runs.insert(r.visit, r);
            }
            entries.extend(step_entries);
        }
        // A run ends exactly once.
        prop_assert_eq!(ends, usize::from(w.status.is_final()));
        // Every step entered has its run, and every run that started has ended unless it is
        // the current step of a running workflow.
        let visits: Vec<u32> = runs.keys().copied().collect();
        prop_assert_eq!(visits, (1..=w.step_visit).collect::<Vec<_>>());
        for (visit, r) in &runs {
            let current = w.status == WorkflowStatus::InProgress && *visit == w.step_visit;
            prop_assert_eq!(r.status == StepRunStatus::Running, current, "{:?}", r);
            prop_assert_eq!(r.ended_at.is_none(), current);
        }
        // No approval counts twice.
        let mut seen = std::collections::HashSet::new();
        for a in &history {
            prop_assert!(seen.insert((a.step_id.clone(), a.step_visit, a.approver_id)), "{a:?}");
        }
        for e in entries.iter().filter(|e| e.kind == TimelineKind::ApprovalRecorded) {
            let counted = e.data["approvals"].as_u64().unwrap_or(0);
            prop_assert!(counted >= 1 && counted < e.data["required"].as_u64().unwrap_or(0));
        }
    }
}
