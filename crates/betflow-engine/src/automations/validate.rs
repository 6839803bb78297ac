//! Publishing an automation: every action step names a built-in or a registered action, its
//! expressions compile, and its `params` fit the action's config schema (values that hold
//! an expression are only known when the step runs, so a schema complaint about one is not
//! counted). Every problem is reported at once, each with its step.

use betflow_domain::automation::template;
use betflow_domain::workflow::graph::{ACTIONS, GraphProblem, StepKind, WorkflowGraph};
use serde_json::json;

use super::{ActionRegistry, Automations};

fn problem(step: &str, message: String) -> GraphProblem {
    GraphProblem {
        step: Some(step.to_owned()),
        message,
    }
}

/// The problems of `graph`'s action steps beyond what the domain checks: expressions that
/// do not compile, and params the registered action's config schema refuses.
pub fn action_problems(registry: &ActionRegistry, graph: &WorkflowGraph) -> Vec<GraphProblem> {
    let mut out = Vec::new();
    for s in graph.steps.iter().filter(|s| s.kind == StepKind::Action) {
        let params = s.params.clone().unwrap_or(json!({}));
        for p in template::check(&params) {
            out.push(problem(&s.id, p));
        }
        let Some(key) = s.action.as_deref() else {
            continue;
        };
        if ACTIONS.contains(&key) {
            continue;
        }
        let Some(action) = registry.get(key) else {
            continue;
        };
        let schema = &action.spec().config_schema;
        let validator = match jsonschema::validator_for(schema) {
            Ok(v) => v,
            Err(e) => {
                out.push(problem(
                    &s.id,
                    format!("the config schema of {key} does not compile: {e}"),
                ));
                continue;
            }
        };
        for e in validator.iter_errors(&params) {
            if template::has_expression(e.instance()) {
                continue;
            }
            let path = e.instance_path().to_string();
            let field = format!("params{}", path.replace('/', "."));
            out.push(problem(&s.id, format!("{field}: {}", e.masked())));
        }
    }
    out
}

/// Every problem of `graph` for publishing with `registry`'s actions, at once.
pub fn validate_graph(
    registry: &ActionRegistry,
    graph: &WorkflowGraph,
) -> Result<(), Vec<GraphProblem>> {
    let mut problems = match graph.validate_with(&|a| registry.get(a).is_some()) {
        Ok(()) => Vec::new(),
        Err(p) => p,
    };
    problems.extend(action_problems(registry, graph));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

impl Automations {
    /// [`validate_graph`] with this engine's registry: what publishing a version calls.
    pub fn validate_graph(&self, graph: &WorkflowGraph) -> Result<(), Vec<GraphProblem>> {
        validate_graph(&self.actions(), graph)
    }
}
