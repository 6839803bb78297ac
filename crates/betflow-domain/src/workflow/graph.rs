//! A workflow version's graph: steps, and edges labelled with the branch they follow.
//!
//! The seeds define workflows as an ordered list of steps; such a list (no `edges`) is read
//! as a straight line, each step leading to the next on success.

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::identity::Role;
use crate::workflow::expr::{Condition, check_action};
use crate::workflow::policy::{Retry, StepTimeout};

pub const MAX_STEP_ID_LEN: usize = 100;
pub const MAX_REQUIRED_APPROVALS: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Decided by users holding one of the assignee roles, with an optional quorum.
    Approval,
    /// Work completed by one assignee.
    Task,
    /// A boolean expression over the workflow's data chooses `true` or `false`.
    Condition,
    /// Automated work.
    Action,
    /// Waits a duration.
    Delay,
}

impl StepKind {
    pub const ALL: [Self; 5] = [
        Self::Approval,
        Self::Task,
        Self::Condition,
        Self::Action,
        Self::Delay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approval => "approval",
            Self::Task => "task",
            Self::Condition => "condition",
            Self::Action => "action",
            Self::Delay => "delay",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Which way a step leaves.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Branch {
    #[default]
    Default,
    Approved,
    Rejected,
    True,
    False,
    Timeout,
    /// An action step's `on_error` path: taken once its retries are exhausted.
    Error,
}

impl Branch {
    pub fn as_str(self) -> &'static str {
        match self {
            Branch::Default => "default",
            Branch::Approved => "approved",
            Branch::Rejected => "rejected",
            Branch::True => "true",
            Branch::False => "false",
            Branch::Timeout => "timeout",
            Branch::Error => "error",
        }
    }
}

/// What happens when an approval or task step's timeout passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TimeoutAction {
    /// Add these roles as assignees and raise a notification; the step stays open.
    Escalate {
        #[serde(default, rename = "addRoles")]
        add_roles: Vec<String>,
    },
    /// Reject the step (and so, without a `rejected` edge, the workflow).
    AutoReject,
    /// Follow the step's `timeout` edge.
    FollowTimeoutEdge,
}

impl Default for TimeoutAction {
    fn default() -> Self {
        Self::Escalate { add_roles: vec![] }
    }
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// One step, in the seeds' JSON shape (`id`, `name`, `type`, `assignees`, `required`,
/// `timeout` in minutes) plus what the richer engine needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepDef {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: StepKind,
    /// Role names that may act on the step.
    #[serde(default)]
    pub assignees: Vec<String>,
    #[serde(default = "yes")]
    pub required: bool,
    /// Until the step times out: minutes (a number) or a duration (`"30s"`). For an action
    /// step, how long one attempt may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<StepTimeout>,
    /// For an action step: how it retries before taking its `error` edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    #[serde(default)]
    pub on_timeout: TimeoutAction,
    /// Approvals needed (quorum) for an approval step.
    #[serde(default = "one")]
    pub required_approvals: u32,
    /// The creator may not decide this step, and nobody may decide two approval steps of
    /// one workflow.
    #[serde(default = "yes")]
    pub four_eyes: bool,
    /// For a condition step: the expression over `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// For an action step: `noop`, `set_data` or `emit_event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// For a delay step: minutes to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub branch: Branch,
}

/// Actions the engine knows.
pub const ACTIONS: &[&str] = &["noop", "set_data", "emit_event"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowGraph {
    pub steps: Vec<StepDef>,
    #[serde(default)]
    pub edges: Vec<Edge>,
}

/// One problem found while validating a graph, tied to its step when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphProblem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub message: String,
}

fn problem(step: Option<&str>, message: impl Into<String>) -> GraphProblem {
    GraphProblem {
        step: step.map(str::to_owned),
        message: message.into(),
    }
}

/// Where a step leads on a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Step(String),
    /// The workflow completes.
    Complete,
    /// The workflow is rejected.
    Reject,
    /// The workflow fails (an action failed with no `error` edge).
    Fail,
}

impl StepDef {
    /// The branches this kind of step can leave by.
    pub fn branches(&self) -> Vec<Branch> {
        let mut b = match self.kind {
            StepKind::Approval => vec![Branch::Approved, Branch::Rejected],
            StepKind::Task | StepKind::Action | StepKind::Delay => vec![Branch::Default],
            StepKind::Condition => vec![Branch::True, Branch::False],
        };
        if self.on_timeout == TimeoutAction::FollowTimeoutEdge {
            b.push(Branch::Timeout);
        }
        b
    }

    fn accepts_edge(&self, branch: Branch) -> bool {
        match (self.kind, branch) {
            (_, Branch::Timeout) => matches!(self.kind, StepKind::Approval | StepKind::Task),
            (_, Branch::Error) => self.kind == StepKind::Action,
            (StepKind::Approval, Branch::Approved | Branch::Rejected | Branch::Default) => true,
            (StepKind::Condition, Branch::True | Branch::False) => true,
            (StepKind::Task | StepKind::Action | StepKind::Delay, Branch::Default) => true,
            _ => false,
        }
    }
}

impl WorkflowGraph {
    /// A straight line through `steps`, as the seeds define workflows.
    pub fn linear(steps: Vec<StepDef>) -> Self {
        let edges = steps
            .windows(2)
            .map(|w| Edge {
                from: w[0].id.clone(),
                to: w[1].id.clone(),
                branch: if w[0].kind == StepKind::Approval {
                    Branch::Approved
                } else {
                    Branch::Default
                },
            })
            .collect();
        Self { steps, edges }
    }

    /// Reads a list without edges as a straight line.
    pub fn normalized(self) -> Self {
        if self.edges.is_empty() && self.steps.len() > 1 {
            Self::linear(self.steps)
        } else {
            self
        }
    }

    pub fn step(&self, id: &str) -> Option<&StepDef> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The step a workflow starts at: the first listed, as in the seeds. Edges may lead back
    /// to it (a rework loop), so "no incoming edge" would be the wrong rule.
    pub fn start(&self) -> Option<&StepDef> {
        self.steps.first()
    }

    /// Where `from` leads on `branch`. An approval rejected without a `rejected` edge rejects
    /// the workflow; any other branch without an edge (or a `default` one) completes it.
    pub fn next(&self, from: &str, branch: Branch) -> Next {
        let edge = |b: Branch| {
            self.edges
                .iter()
                .find(|e| e.from == from && e.branch == b)
                .map(|e| Next::Step(e.to.clone()))
        };
        match branch {
            Branch::Rejected => edge(Branch::Rejected).unwrap_or(Next::Reject),
            Branch::Timeout => edge(Branch::Timeout).unwrap_or(Next::Reject),
            Branch::Error => edge(Branch::Error).unwrap_or(Next::Fail),
            b => edge(b)
                .or_else(|| edge(Branch::Default))
                .unwrap_or(Next::Complete),
        }
    }

    /// Checks everything publishing requires and reports every problem at once, knowing only
    /// the domain's built-in actions.
    pub fn validate(&self) -> Result<(), Vec<GraphProblem>> {
        self.validate_with(&|a| ACTIONS.contains(&a))
    }

    /// [`Self::validate`], with `known` saying which action keys exist beside the built-ins
    /// (the engine's registry); their `params` are the engine's to check.
    pub fn validate_with(&self, known: &dyn Fn(&str) -> bool) -> Result<(), Vec<GraphProblem>> {
        let mut out = Vec::new();
        if self.steps.is_empty() {
            out.push(problem(None, "a workflow needs at least one step"));
            return Err(out);
        }
        let mut seen = BTreeSet::new();
        for s in &self.steps {
            let id = Some(s.id.as_str());
            if s.id.trim().is_empty() || s.id.len() > MAX_STEP_ID_LEN {
                out.push(problem(
                    id,
                    format!("step ids must be 1 to {MAX_STEP_ID_LEN} characters"),
                ));
            }
            if !seen.insert(s.id.as_str()) {
                out.push(problem(id, "duplicate step id"));
            }
            if s.name.trim().is_empty() {
                out.push(problem(id, "a step needs a name"));
            }
            for (what, value) in [("step id", &s.id), ("step name", &s.name)] {
                if let Err(v) = crate::text::check_name(what, value) {
                    out.push(problem(id, format!("the {what} {}", v.message)));
                }
            }
            self.validate_step(s, known, &mut out);
        }
        let ids: BTreeSet<&str> = self.steps.iter().map(|s| s.id.as_str()).collect();
        let mut from_branch = BTreeSet::new();
        for e in &self.edges {
            let from = Some(e.from.as_str());
            if !ids.contains(e.from.as_str()) {
                out.push(problem(
                    from,
                    format!("edge from unknown step {:?}", e.from),
                ));
                continue;
            }
            if !ids.contains(e.to.as_str()) {
                out.push(problem(from, format!("edge to unknown step {:?}", e.to)));
            }
            if !from_branch.insert((e.from.as_str(), e.branch)) {
                out.push(problem(
                    from,
                    format!("two {:?} edges leave this step", e.branch.as_str()),
                ));
            }
            if let Some(step) = self.step(&e.from)
                && !step.accepts_edge(e.branch)
            {
                out.push(problem(
                    from,
                    format!(
                        "a {:?} step has no {:?} branch",
                        step.kind,
                        e.branch.as_str()
                    ),
                ));
            }
        }
        let Some(start) = self.start() else {
            return Err(out);
        };
        // Reachability from the start, following every edge.
        let mut adjacency: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in &self.edges {
            adjacency
                .entry(e.from.as_str())
                .or_default()
                .push(e.to.as_str());
        }
        let mut reached = BTreeSet::from([start.id.as_str()]);
        let mut queue = VecDeque::from([start.id.as_str()]);
        while let Some(s) = queue.pop_front() {
            for t in adjacency.get(s).into_iter().flatten() {
                if reached.insert(t) {
                    queue.push_back(t);
                }
            }
        }
        for s in &self.steps {
            if !reached.contains(s.id.as_str()) {
                out.push(problem(Some(&s.id), "not reachable from the start"));
            }
        }
        // Every step must be able to reach a step that can end the workflow.
        let mut can_end: BTreeSet<&str> = self
            .steps
            .iter()
            .filter(|s| {
                s.branches()
                    .into_iter()
                    .any(|b| !matches!(self.next(&s.id, b), Next::Step(_)))
            })
            .map(|s| s.id.as_str())
            .collect();
        loop {
            let before = can_end.len();
            for e in &self.edges {
                if can_end.contains(e.to.as_str()) {
                    can_end.insert(e.from.as_str());
                }
            }
            if can_end.len() == before {
                break;
            }
        }
        for s in &self.steps {
            if reached.contains(s.id.as_str()) && !can_end.contains(s.id.as_str()) {
                out.push(problem(Some(&s.id), "no path from here reaches an end"));
            }
        }
        if let Some(s) = self.condition_cycle() {
            out.push(problem(
                Some(&s),
                "conditions loop back here without a step that waits or acts",
            ));
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }

    /// Conditions are evaluated inline as a workflow moves, so a cycle made only of condition
    /// steps would never stop. Returns a step on such a cycle.
    fn condition_cycle(&self) -> Option<String> {
        let is_condition = |id: &str| self.step(id).is_some_and(|s| s.kind == StepKind::Condition);
        // Repeatedly drop condition steps with no incoming condition-to-condition edge; what
        // is left lies on (or behind) a cycle.
        let edges: Vec<(&str, &str)> = self
            .edges
            .iter()
            .filter(|e| is_condition(&e.from) && is_condition(&e.to))
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect();
        let mut alive: BTreeSet<&str> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
        loop {
            let before = alive.len();
            let with_incoming: BTreeSet<&str> = edges
                .iter()
                .filter(|(a, b)| alive.contains(a) && alive.contains(b))
                .map(|&(_, b)| b)
                .collect();
            alive.retain(|s| with_incoming.contains(s));
            if alive.len() == before {
                break;
            }
        }
        alive.first().map(|s| (*s).to_owned())
    }

    fn validate_step(
        &self,
        s: &StepDef,
        known: &dyn Fn(&str) -> bool,
        out: &mut Vec<GraphProblem>,
    ) {
        let id = Some(s.id.as_str());
        let needs_people = matches!(s.kind, StepKind::Approval | StepKind::Task);
        if needs_people && s.assignees.is_empty() {
            out.push(problem(id, "needs at least one assignee role"));
        }
        let mut roles: Vec<&String> = s.assignees.iter().collect();
        if let TimeoutAction::Escalate { add_roles } = &s.on_timeout {
            roles.extend(add_roles);
        }
        for r in roles {
            if r.parse::<Role>().is_err() {
                out.push(problem(id, format!("unknown role {r:?}")));
            }
        }
        if s.kind == StepKind::Approval
            && (s.required_approvals == 0 || s.required_approvals > MAX_REQUIRED_APPROVALS)
        {
            out.push(problem(
                id,
                format!("requiredApprovals must be 1 to {MAX_REQUIRED_APPROVALS}"),
            ));
        }
        match &s.timeout {
            Some(StepTimeout::Minutes(0)) => {
                out.push(problem(id, "timeout must be at least one minute"));
            }
            Some(t @ StepTimeout::Duration(d)) => {
                match crate::workflow::policy::parse_duration(d) {
                    Err(e) => out.push(problem(id, format!("timeout: {e}"))),
                    Ok(_) if t.duration().is_some_and(|d| d.is_zero()) => {
                        out.push(problem(id, "timeout must be more than zero"));
                    }
                    Ok(_) => {}
                }
            }
            _ => {}
        }
        if let Some(r) = &s.retry {
            if s.kind != StepKind::Action {
                out.push(problem(id, "only action steps retry"));
            }
            for p in r.problems() {
                out.push(problem(id, p));
            }
        }
        let has_timeout_edge = self
            .edges
            .iter()
            .any(|e| e.from == s.id && e.branch == Branch::Timeout);
        if s.on_timeout == TimeoutAction::FollowTimeoutEdge && !has_timeout_edge {
            out.push(problem(
                id,
                "onTimeout follows a timeout edge, but there is none",
            ));
        }
        if (has_timeout_edge || s.on_timeout != TimeoutAction::default()) && s.timeout.is_none() {
            out.push(problem(
                id,
                "timeout behaviour is set but the step has no timeout",
            ));
        }
        match s.kind {
            StepKind::Condition => match s.condition.as_deref().map(str::trim) {
                None | Some("") => {
                    out.push(problem(id, "a condition step needs a condition expression"));
                }
                Some(c) => {
                    if let Err(e) = Condition::compile(c) {
                        out.push(problem(id, e));
                    }
                }
            },
            StepKind::Action => match s.action.as_deref() {
                None => out.push(problem(id, "an action step needs an action")),
                Some(a) if !ACTIONS.contains(&a) && !known(a) => out.push(problem(
                    id,
                    format!("unknown action {a:?} (built in: {})", ACTIONS.join(", ")),
                )),
                // A registered action's params are the engine's to check.
                Some(a) if !ACTIONS.contains(&a) => {}
                Some(a) => {
                    if let Err(e) = check_action(a, s.params.as_ref()) {
                        out.push(problem(id, e));
                    }
                }
            },
            StepKind::Delay if s.delay.is_none_or(|d| d == 0) => {
                out.push(problem(
                    id,
                    "a delay step needs a delay of at least one minute",
                ));
            }
            _ => {}
        }
    }

    /// Progress, 0 to 100, from the number of completed steps.
    pub fn progress(&self, completed_steps: usize) -> u8 {
        if self.steps.is_empty() {
            return 0;
        }
        let pct = completed_steps.min(self.steps.len()) * 100 / self.steps.len();
        u8::try_from(pct).unwrap_or(100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn approval(id: &str, role: &str) -> StepDef {
        StepDef {
            id: id.into(),
            name: id.into(),
            kind: StepKind::Approval,
            assignees: vec![role.into()],
            required: true,
            timeout: Some(30.into()),
            retry: None,
            on_timeout: TimeoutAction::default(),
            required_approvals: 1,
            four_eyes: true,
            condition: None,
            action: None,
            params: None,
            delay: None,
        }
    }

    #[test]
    fn a_seed_style_list_is_a_valid_line() {
        let g = WorkflowGraph {
            steps: vec![approval("a", "trader"), approval("b", "risk_manager")],
            edges: vec![],
        }
        .normalized();
        assert_eq!(g.validate(), Ok(()));
        assert_eq!(g.start().unwrap().id, "a");
        assert_eq!(g.next("a", Branch::Approved), Next::Step("b".into()));
        assert_eq!(g.next("a", Branch::Rejected), Next::Reject);
        assert_eq!(g.next("b", Branch::Approved), Next::Complete);
        assert_eq!(g.progress(1), 50);
    }

    #[test]
    fn a_rejected_edge_routes_instead_of_rejecting() {
        let mut g = WorkflowGraph::linear(vec![approval("a", "trader"), approval("b", "trader")]);
        g.steps.push(StepDef {
            kind: StepKind::Task,
            ..approval("rework", "trader")
        });
        g.edges.push(Edge {
            from: "a".into(),
            to: "rework".into(),
            branch: Branch::Rejected,
        });
        g.edges.push(Edge {
            from: "rework".into(),
            to: "a".into(),
            branch: Branch::Default,
        });
        assert_eq!(g.validate(), Ok(()));
        assert_eq!(g.start().unwrap().id, "a");
        assert_eq!(g.next("a", Branch::Rejected), Next::Step("rework".into()));
        assert_eq!(g.next("b", Branch::Rejected), Next::Reject);
    }

    fn condition(id: &str, expr: &str) -> StepDef {
        StepDef {
            kind: StepKind::Condition,
            condition: Some(expr.into()),
            assignees: vec![],
            timeout: None,
            ..approval(id, "trader")
        }
    }

    fn edge(from: &str, to: &str, branch: Branch) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            branch,
        }
    }

    #[test]
    fn conditions_must_compile_and_may_not_loop_on_their_own() {
        let g = WorkflowGraph {
            steps: vec![
                condition("c1", "data.amount > 10"),
                condition("c2", "data.amount >"),
                condition("c3", "amount > 1"),
                approval("a", "trader"),
            ],
            edges: vec![
                edge("c1", "c2", Branch::True),
                edge("c1", "a", Branch::False),
                edge("c2", "c1", Branch::True),
                edge("c2", "c3", Branch::False),
                edge("c3", "a", Branch::True),
            ],
        };
        let problems = g.validate().unwrap_err();
        let steps: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.step.as_deref().unwrap_or("-"), p.message.as_str()))
            .collect();
        assert!(
            steps
                .iter()
                .any(|(s, m)| *s == "c2" && m.contains("does not compile")),
            "{steps:?}"
        );
        assert!(
            steps
                .iter()
                .any(|(s, m)| *s == "c3" && m.contains("unknown variables")),
            "{steps:?}"
        );
        assert!(
            steps.iter().any(|(_, m)| m.contains("conditions loop")),
            "{steps:?}"
        );

        // The same loop through an approval step is fine: someone has to act each time round.
        let ok = WorkflowGraph {
            steps: vec![condition("c1", "data.amount > 10"), approval("a", "trader")],
            edges: vec![
                edge("c1", "a", Branch::True),
                edge("a", "c1", Branch::Rejected),
            ],
        };
        assert_eq!(ok.validate(), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_with_its_step() {
        let mut bad = approval("x", "pope");
        bad.required_approvals = 0;
        let cond = StepDef {
            kind: StepKind::Condition,
            condition: None,
            ..approval("c", "trader")
        };
        let orphan = approval("orphan", "trader");
        let g = WorkflowGraph {
            steps: vec![approval("a", "trader"), bad, cond, orphan.clone(), orphan],
            edges: vec![
                Edge {
                    from: "a".into(),
                    to: "x".into(),
                    branch: Branch::Approved,
                },
                Edge {
                    from: "a".into(),
                    to: "c".into(),
                    branch: Branch::True,
                },
                Edge {
                    from: "x".into(),
                    to: "nowhere".into(),
                    branch: Branch::Approved,
                },
            ],
        };
        let problems = g.validate().unwrap_err();
        let text: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.step.as_deref().unwrap_or("-"), p.message))
            .collect();
        for expected in [
            "x: unknown role \"pope\"",
            "x: requiredApprovals must be 1 to 20",
            "c: a condition step needs a condition expression",
            "orphan: duplicate step id",
            "x: edge to unknown step \"nowhere\"",
            "a: a Approval step has no \"true\" branch",
        ] {
            assert!(
                text.iter().any(|t| t == expected),
                "{expected:?} not in {text:#?}"
            );
        }
    }

    #[test]
    fn step_ids_and_names_hold_no_control_characters() {
        let mut named = approval("a", "trader");
        named.name = "Review\u{1b}[2J".into();
        let g = WorkflowGraph::linear(vec![named, approval("b\u{7}", "trader")]);
        let problems = g.validate().unwrap_err();
        let text: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.step.as_deref().unwrap_or("-"), p.message))
            .collect();
        for expected in [
            "a: the step name must not contain control characters (found U+001B)",
            "b\u{7}: the step id must not contain control characters (found U+0007)",
        ] {
            assert!(
                text.iter().any(|t| t == expected),
                "{expected:?} not in {text:#?}"
            );
        }
    }

    #[test]
    fn a_cycle_without_exit_is_refused() {
        let task = |id: &str| StepDef {
            kind: StepKind::Task,
            ..approval(id, "trader")
        };
        let g = WorkflowGraph {
            steps: vec![task("s"), task("a"), task("b")],
            edges: vec![
                Edge {
                    from: "s".into(),
                    to: "a".into(),
                    branch: Branch::Default,
                },
                Edge {
                    from: "a".into(),
                    to: "b".into(),
                    branch: Branch::Default,
                },
                Edge {
                    from: "b".into(),
                    to: "a".into(),
                    branch: Branch::Default,
                },
            ],
        };
        let problems = g.validate().unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.message == "no path from here reaches an end")
        );
    }

    #[test]
    fn timeout_edges_need_a_timeout() {
        let mut a = approval("a", "trader");
        a.on_timeout = TimeoutAction::FollowTimeoutEdge;
        let g = WorkflowGraph {
            steps: vec![a],
            edges: vec![],
        };
        let problems = g.validate().unwrap_err();
        assert!(problems.iter().any(|p| p.message.contains("there is none")));
    }

    proptest! {
        /// Any straight line of valid steps validates, starts at its first step, and walks
        /// to completion through approvals.
        #[test]
        fn lines_validate_and_complete(n in 1usize..12, roles in proptest::collection::vec(0usize..11, 12)) {
            let steps: Vec<StepDef> = (0..n)
                .map(|i| approval(&format!("s{i}"), Role::ALL[roles[i]].as_str()))
                .collect();
            let g = WorkflowGraph::linear(steps);
            prop_assert_eq!(g.validate(), Ok(()));
            let mut at = g.start().unwrap().id.clone();
            let mut hops = 0;
            loop {
                match g.next(&at, Branch::Approved) {
                    Next::Step(s) => at = s,
                    Next::Complete => break,
                    Next::Reject | Next::Fail => prop_assert!(false, "approving never rejects"),
                }
                hops += 1;
            }
            prop_assert_eq!(hops, n - 1);
            prop_assert_eq!(g.progress(n), 100);
        }
    }
}
