//! The automation actions, each called directly through `Action::run` with a hand-built
//! `ActionCall`, against real local receivers (and, for email, a real SMTP server).

mod email_send;
mod http_request;
mod notify;
mod sms_send;
mod sportsbook;
mod task_create;
mod waiting;
mod workflow_start;

use std::sync::Arc;
use std::time::Duration;

use betflow_domain::ids::WorkflowId;
use betflow_engine::automations::{ActionCall, ActionError, ActionOutcome};
use betflow_engine::credentials::CredentialSecret;
use betflow_engine::webhooks::WebhookSettings;
use betflow_engine::{Engine, EngineConfig};
use serde_json::{Map, Value};
use uuid::Uuid;

/// An engine whose outbound requests may reach loopback (the receivers), or not.
pub fn engine(store: Arc<dyn betflow_store::Store>, allow_private: bool) -> Engine {
    super::make_engine_with(
        store,
        None,
        EngineConfig {
            webhooks: WebhookSettings {
                allow_private,
                ..Default::default()
            },
            ..Default::default()
        },
    )
}

/// A decrypted credential as the runner would pass it.
pub fn secret(kind: &str, fields: Value) -> CredentialSecret {
    let fields: Map<String, Value> = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    CredentialSecret {
        id: Uuid::now_v7(),
        kind: kind.to_owned(),
        fields,
    }
}

/// Runs `action` once with `config` as the step's rendered params.
pub async fn run(
    engine: &Engine,
    action: &str,
    execution_id: WorkflowId,
    attempt: u32,
    config: &Value,
    credential: Option<&CredentialSecret>,
) -> Result<ActionOutcome, ActionError> {
    run_as(
        engine,
        action,
        execution_id,
        attempt,
        config,
        credential,
        None,
        10_000,
    )
    .await
}

/// As [`run`], on behalf of `owner`, with a timeout in milliseconds.
#[allow(clippy::too_many_arguments)]
pub async fn run_as(
    engine: &Engine,
    action: &str,
    execution_id: WorkflowId,
    attempt: u32,
    config: &Value,
    credential: Option<&CredentialSecret>,
    owner: Option<Uuid>,
    timeout_ms: u64,
) -> Result<ActionOutcome, ActionError> {
    let action = engine
        .automations()
        .actions()
        .get(action)
        .unwrap_or_else(|| panic!("{action} is registered"))
        .clone();
    action
        .run(ActionCall {
            engine,
            execution_id,
            definition_key: "test_automation",
            step_id: "step_1",
            attempt,
            config,
            credential,
            owner: owner.map(Into::into),
            now: betflow_domain::time::now(),
            timeout: Duration::from_millis(timeout_ms),
        })
        .await
}

/// The output of an action that finished.
pub fn done(outcome: Result<ActionOutcome, ActionError>) -> Value {
    match outcome {
        Ok(ActionOutcome::Done(v)) => v,
        other => panic!("expected Done, got {other:?}"),
    }
}

/// The `admin` user's id, created on first use.
pub async fn admin_id(engine: &Engine) -> Uuid {
    engine
        .identity()
        .ensure_admin(Some("actions-admin-password-1".into()))
        .await
        .unwrap();
    engine.identity().find_user_id("admin").await.unwrap()
}
