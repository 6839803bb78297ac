//! `workflow.start`: starts another definition with an input.
//!
//! A seeded approval type (`line_change_approval`, `content_publishing`) is created as a
//! person would create it, by the definition's owner (its domain rows and checks included);
//! any other definition is started as a run (`Engine::start_execution`) keyed on this run and
//! step, so a retried step finds the child it already started instead of starting another.
//!
//! With `wait: true` the step waits, within its timeout, for the child to end, and its output
//! is the child's final status and data (a failed child fails the step). A child still open at
//! the timeout fails the attempt retryably: the next attempt waits for the same child.

use std::time::Duration;

use async_trait::async_trait;
use betflow_domain::automation::execution::TriggerType;
use betflow_domain::ids::WorkflowId;
use betflow_domain::workflow::{Priority, WorkflowStatus, seeded};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Action, ActionCall, ActionError, ActionOutcome, ActionSpec};
use super::{acting, support};
use crate::EngineError;
use crate::automations::start::{StartExecution, TriggerRef};
use crate::workflows::NewWorkflow;

const KEY: &str = "workflow.start";
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    definition_key: String,
    #[serde(default)]
    input: Map<String, Value>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    wait: bool,
}

pub struct WorkflowStart {
    spec: ActionSpec,
}

impl Default for WorkflowStart {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkflowStart {
    pub fn new() -> Self {
        Self {
            spec: ActionSpec {
                key: KEY,
                name: "Start workflow",
                description: "Starts another definition (an automation, or an approval type \
                              such as line_change_approval) with an input; with wait, waits \
                              within the step's timeout for its result.",
                config_schema: json!({
                    "type": "object",
                    "required": ["definitionKey"],
                    "additionalProperties": false,
                    "properties": {
                        "definitionKey": {"type": "string", "minLength": 1, "maxLength": 100},
                        "input": {"type": "object",
                                  "description": "the child's data (its definition's schema)"},
                        "priority": {"type": "string", "enum": Priority::ALL.map(Priority::as_str),
                                     "description": "approval types only"},
                        "wait": {"type": "boolean", "default": false}
                    }
                }),
                output_schema: json!({
                    "type": "object",
                    "required": ["workflowId", "definitionKey", "status"],
                    "properties": {
                        "workflowId": {"type": "string", "format": "uuid"},
                        "definitionKey": {"type": "string"},
                        "status": {"type": "string", "description": "the child's status"},
                        "data": {"type": "object", "description": "the child's data, when waited for"}
                    }
                }),
                credential_type: None,
                external: true,
            },
        }
    }
}

fn engine_error(e: EngineError) -> ActionError {
    acting::engine_error(KEY, e)
}

/// Starts the child; its id.
async fn start(call: &ActionCall<'_>, c: &Config) -> Result<WorkflowId, ActionError> {
    let key = c.definition_key.trim();
    if key == call.definition_key {
        return Err(ActionError::permanent(format!(
            "{KEY}: a definition may not start itself"
        )));
    }
    let priority = match c.priority.as_deref() {
        None => Priority::default(),
        Some(p) => p
            .parse()
            .map_err(|_| ActionError::permanent(format!("{KEY}: unknown priority '{p}'")))?,
    };
    let actor = acting::actor(call);
    if seeded::all().iter().any(|s| s.key == key) {
        let principal = acting::owner(KEY, call).await?;
        let new = NewWorkflow {
            workflow_type: key.to_owned(),
            data: Value::Object(c.input.clone()),
            priority,
            start: true,
            tags: vec![],
        };
        let view = call
            .engine
            .workflows()
            .create(&principal, new, &actor)
            .await
            .map_err(engine_error)?;
        return Ok(WorkflowId::from(view.instance.id));
    }
    let started = call
        .engine
        .start_execution(
            StartExecution {
                definition_key: key.to_owned(),
                trigger: TriggerRef {
                    kind: TriggerType::Manual,
                    trigger_id: Some(call.execution_id.uuid()),
                    event_id: Some(format!("workflow.start:{}", call.step_id)),
                },
                input: Value::Object(c.input.clone()),
            },
            &actor,
        )
        .await
        .map_err(engine_error)?;
    Ok(started.execution_id)
}

#[async_trait]
impl Action for WorkflowStart {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let c: Config = support::config(KEY, call.config)?;
        let id = start(&call, &c).await?;
        let key = c.definition_key.trim();
        let deadline = tokio::time::Instant::now() + call.timeout.saturating_sub(POLL);
        loop {
            let view = call
                .engine
                .workflows()
                .get(id)
                .await
                .map_err(engine_error)?;
            let w = view.instance;
            let out = json!({"workflowId": id, "definitionKey": key,
                             "status": w.status.as_str()});
            if !c.wait {
                return Ok(ActionOutcome::Done(out));
            }
            if w.status.is_final() {
                let mut out = out;
                out["data"] = w.data;
                if w.status == WorkflowStatus::Failed {
                    return Err(ActionError {
                        message: format!("{KEY}: {key} {id} failed"),
                        retryable: false,
                        output: Some(out),
                    });
                }
                return Ok(ActionOutcome::Done(out));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ActionError {
                    message: format!("{KEY}: {key} {id} is still {}", w.status.as_str()),
                    retryable: true,
                    output: Some(out),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
