//! Actions: what an automation's `action` steps do beyond the domain's pure built-ins
//! (`noop`, `set_data`, `emit_event`, which the state machine runs itself).
//!
//! Each action is one type implementing [`Action`], registered in
//! [`ActionRegistry::standard`] with its JSON Schemas. The registry is what
//! `GET /api/v1/automation/actions` lists and what publishing validates a step's `params`
//! against. An action runs outside any database transaction: the step's runner renders its
//! inputs, calls [`Action::run`] with a timeout, and records the outcome in a transaction of
//! its own afterwards, so a slow receiver never holds a lock or the SQLite writer.

mod acting;
pub mod email_send;
pub mod http_request;
pub mod market;
pub mod notify;
pub mod odds_change;
pub mod sms_send;
mod support;
pub mod task_create;
pub mod workflow_start;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use betflow_domain::ids::{UserId, WorkflowId};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::Engine;
use crate::credentials::CredentialSecret;

/// What the registry says about an action.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    /// The step's `action` value, e.g. `http.request`.
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// JSON Schema of the step's `params` (after expressions are rendered).
    pub config_schema: Value,
    /// JSON Schema of what the action returns as `steps.<id>.output`.
    pub output_schema: Value,
    /// The credential type a step must name (`params.credentialId`), if any.
    pub credential_type: Option<&'static str>,
    /// The action reaches outside the process (network, mail, SMS): a test run renders it
    /// instead of performing it.
    pub external: bool,
}

/// One call of an action by a step.
pub struct ActionCall<'a> {
    /// The platform, for actions that act on it (tasks, workflows, markets, rooms).
    pub engine: &'a Engine,
    /// The run this step belongs to (an execution is a workflow instance).
    pub execution_id: WorkflowId,
    pub definition_key: &'a str,
    pub step_id: &'a str,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The step's `params`, every expression rendered.
    pub config: &'a Value,
    /// The decrypted credential named by `params.credentialId`, if any.
    pub credential: Option<&'a CredentialSecret>,
    /// The definition's owner, on whose behalf sportsbook actions act.
    pub owner: Option<UserId>,
    pub now: DateTime<Utc>,
    /// How long the action may take; the runner also enforces it.
    pub timeout: Duration,
}

/// How an action ended when it did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    /// Finished: `output` becomes `steps.<id>.output` and the run moves on.
    Done(Value),
    /// Started something the step waits for (a task, a child workflow): the run is
    /// `waiting` until that thing resumes it. `waiting_on` says what, for the execution view.
    Wait { waiting_on: Value },
}

/// An action that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionError {
    /// Shown in the step execution; never contains a secret.
    pub message: String,
    /// `false` when another attempt cannot help (bad config, an expired credential): the
    /// step skips its remaining retries.
    pub retryable: bool,
    /// What the action got before failing (an HTTP answer's status and body), if anything.
    pub output: Option<Value>,
}

impl ActionError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
            output: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
            output: None,
        }
    }
}

/// One kind of automated work.
#[async_trait]
pub trait Action: Send + Sync {
    fn spec(&self) -> &ActionSpec;

    /// Does the work.
    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError>;

    /// What a test run shows instead of running an external action: what would be sent.
    fn render(&self, call: &ActionCall<'_>) -> Value {
        json!({"wouldRun": self.spec().key, "config": call.config})
    }
}

/// Every action this release runs, by key.
#[derive(Clone, Default)]
pub struct ActionRegistry {
    actions: BTreeMap<&'static str, Arc<dyn Action>>,
}

impl ActionRegistry {
    /// The built-in actions.
    pub fn standard() -> Self {
        let mut r = Self::default();
        r.register(Arc::new(http_request::HttpRequest::new()));
        r.register(Arc::new(email_send::EmailSend::new()));
        r.register(Arc::new(sms_send::SmsSend::new()));
        r.register(Arc::new(notify::Notify::new()));
        r.register(Arc::new(task_create::TaskCreate::new()));
        r.register(Arc::new(workflow_start::WorkflowStart::new()));
        for op in market::MarketOp::ALL {
            r.register(Arc::new(market::MarketAction::new(op)));
        }
        r.register(Arc::new(odds_change::OddsChange::new()));
        r
    }

    /// Adds `action`, replacing one with the same key.
    pub fn register(&mut self, action: Arc<dyn Action>) {
        self.actions.insert(action.spec().key, action);
    }

    pub fn get(&self, key: &str) -> Option<&Arc<dyn Action>> {
        self.actions.get(key)
    }

    /// Every action's spec, by key.
    pub fn specs(&self) -> impl Iterator<Item = &ActionSpec> {
        self.actions.values().map(|a| a.spec())
    }
}
