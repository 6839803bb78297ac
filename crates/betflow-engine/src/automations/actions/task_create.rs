//! `task.create` (seed 003's `task_management`): a task for a user or a role, listed in
//! `/tasks` beside approval steps. With `wait: true` the step waits for it: the run is
//! `waiting` until the task is completed, and the task becomes the step's output.

use async_trait::async_trait;
use betflow_domain::audit::Actor;
use betflow_domain::automation::tasks::NewTask;
use betflow_domain::workflow::Priority;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::support;
use super::{Action, ActionCall, ActionError, ActionOutcome, ActionSpec};
use crate::EngineError;

const KEY: &str = "task.create";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    assignee_user_id: Option<Uuid>,
    #[serde(default)]
    assignee_role: Option<String>,
    #[serde(default)]
    due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    due_in_minutes: Option<u32>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(default)]
    wait: bool,
}

pub struct TaskCreate {
    spec: ActionSpec,
}

impl Default for TaskCreate {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskCreate {
    pub fn new() -> Self {
        Self {
            spec: ActionSpec {
                key: KEY,
                name: "Create task",
                description: "Creates a task for a user or a role, listed in /tasks beside \
                              approval steps. With wait, the step waits until it is completed \
                              and its output is the task.",
                config_schema: json!({
                    "type": "object",
                    "required": ["title"],
                    "anyOf": [{"required": ["assigneeUserId"]}, {"required": ["assigneeRole"]}],
                    "additionalProperties": false,
                    "properties": {
                        "title": {"type": "string", "minLength": 1, "maxLength": 200},
                        "description": {"type": "string", "maxLength": 10000},
                        "assigneeUserId": {"type": "string", "format": "uuid"},
                        "assigneeRole": {"type": "string", "minLength": 1,
                                         "description": "a role, e.g. trader"},
                        "dueAt": {"type": "string", "format": "date-time"},
                        "dueInMinutes": {"type": "integer", "minimum": 1,
                                         "maximum": 525600,
                                         "description": "due this long after the step runs"},
                        "priority": {"type": "string", "enum": Priority::ALL.map(Priority::as_str),
                                     "default": "medium"},
                        "data": {"type": "object"},
                        "wait": {"type": "boolean", "default": false,
                                 "description": "wait for the task's completion"}
                    }
                }),
                output_schema: json!({
                    "type": "object",
                    "required": ["id", "title", "status"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "title": {"type": "string"},
                        "description": {"type": ["string", "null"]},
                        "assigneeUserId": {"type": ["string", "null"]},
                        "assigneeRole": {"type": ["string", "null"]},
                        "dueAt": {"type": ["string", "null"]},
                        "priority": {"type": "string"},
                        "status": {"type": "string",
                                   "enum": ["pending", "in_progress", "completed", "cancelled"]},
                        "data": {"type": "object"},
                        "completedAt": {"type": ["string", "null"]},
                        "completedBy": {"type": ["string", "null"]}
                    }
                }),
                credential_type: None,
                // Writes work for people: a test run shows it instead.
                external: true,
            },
        }
    }
}

fn new_task(call: &ActionCall<'_>, c: Config) -> Result<NewTask, ActionError> {
    let priority = match c.priority.as_deref() {
        None => Priority::default(),
        Some(p) => p
            .parse()
            .map_err(|_| ActionError::permanent(format!("{KEY}: unknown priority '{p}'")))?,
    };
    let due_at = match (c.due_at, c.due_in_minutes) {
        (Some(_), Some(_)) => {
            return Err(ActionError::permanent(format!(
                "{KEY}: give dueAt or dueInMinutes, not both"
            )));
        }
        (Some(at), None) => Some(at),
        (None, Some(m)) => Some(call.now + Duration::minutes(i64::from(m))),
        (None, None) => None,
    };
    Ok(NewTask {
        title: c.title,
        description: c.description,
        assignee_user_id: c.assignee_user_id,
        assignee_role: c.assignee_role,
        due_at,
        priority,
        execution_id: Some(call.execution_id.uuid()),
        step_id: Some(call.step_id.to_owned()),
        wait: c.wait,
        data: c.data.map(Value::Object),
    })
}

#[async_trait]
impl Action for TaskCreate {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let c: Config = support::config(KEY, call.config)?;
        let wait = c.wait;
        let new = new_task(&call, c)?;
        let actor = Actor {
            user_id: call.owner.map(Into::into),
            ..Default::default()
        };
        let task = call
            .engine
            .tasks()
            .create(new, &actor)
            .await
            .map_err(|e| match e {
                EngineError::Invalid(d) => ActionError::permanent(format!("{KEY}: {d}")),
                other => ActionError::retryable(format!("{KEY}: {other}")),
            })?;
        if wait {
            return Ok(ActionOutcome::Wait {
                waiting_on: json!({"task": task.id}),
            });
        }
        Ok(ActionOutcome::Done(task.to_json()))
    }

    fn render(&self, call: &ActionCall<'_>) -> Value {
        match support::config::<Config>(KEY, call.config).and_then(|c| new_task(call, c)) {
            Ok(t) => json!({"wouldRun": KEY, "task": {
                "title": t.title, "description": t.description,
                "assigneeUserId": t.assignee_user_id, "assigneeRole": t.assignee_role,
                "dueAt": t.due_at, "priority": t.priority.as_str(), "wait": t.wait,
            }}),
            Err(e) => json!({"wouldRun": KEY, "error": e.message}),
        }
    }
}
