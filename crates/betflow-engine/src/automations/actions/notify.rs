//! `notify`: a message to a user's or a role's room on socket.io and SSE.
//!
//! The message is a `notification` event written to the outbox in a transaction of its own,
//! addressed to `user:{id}` and/or `role:{name}`, so it is durable and reaches every node's
//! sockets and streams through the relay like any other event (and a client that reconnects
//! gets it from the outbox).

use async_trait::async_trait;
use betflow_domain::events::{Address, NewEvent};
use betflow_domain::identity::Role;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::support;
use super::{Action, ActionCall, ActionError, ActionOutcome, ActionSpec};

const KEY: &str = "notify";
/// The event type notifications are sent as.
pub const NOTIFICATION: &str = "notification";
const LEVELS: [&str; 4] = ["info", "success", "warning", "critical"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    #[serde(default)]
    user: Option<Uuid>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    title: Option<String>,
    message: String,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
}

pub struct Notify {
    spec: ActionSpec,
}

impl Default for Notify {
    fn default() -> Self {
        Self::new()
    }
}

impl Notify {
    pub fn new() -> Self {
        Self {
            spec: ActionSpec {
                key: KEY,
                name: "Notify",
                description: "Sends a message to a user's or a role's room on socket.io and \
                              SSE (a `notification` event, through the outbox).",
                config_schema: json!({
                    "type": "object",
                    "required": ["message"],
                    "anyOf": [{"required": ["user"]}, {"required": ["role"]}],
                    "additionalProperties": false,
                    "properties": {
                        "user": {"type": "string", "format": "uuid",
                                 "description": "the user whose room gets it"},
                        "role": {"type": "string", "minLength": 1,
                                 "description": "the role whose room gets it, e.g. trader"},
                        "title": {"type": "string", "maxLength": 200},
                        "message": {"type": "string", "minLength": 1, "maxLength": 4000},
                        "level": {"type": "string", "enum": LEVELS, "default": "info"},
                        "data": {"type": "object", "description": "anything the client needs"}
                    }
                }),
                output_schema: json!({
                    "type": "object",
                    "required": ["eventId", "to"],
                    "properties": {
                        "eventId": {"type": "string", "format": "uuid"},
                        "to": {"type": "array", "items": {"type": "string"},
                               "description": "the rooms, e.g. role:trader"}
                    }
                }),
                credential_type: None,
                // Reaches people: a test run shows it instead of sending it.
                external: true,
            },
        }
    }
}

/// The rooms and the event, or why not.
fn event(call: &ActionCall<'_>, c: &Config) -> Result<NewEvent, ActionError> {
    let mut to = Vec::new();
    if let Some(user) = c.user {
        to.push(Address::User(user));
    }
    if let Some(role) = &c.role {
        let role: Role = role.trim().parse().map_err(|_| {
            ActionError::permanent(format!("{KEY}: '{}' is not a role", role.trim()))
        })?;
        to.push(Address::Role(role.as_str().to_owned()));
    }
    if to.is_empty() {
        return Err(ActionError::permanent(format!(
            "{KEY}: needs a user or a role"
        )));
    }
    if c.message.trim().is_empty() {
        return Err(ActionError::permanent(format!("{KEY}: 'message' is empty")));
    }
    let level = c.level.as_deref().unwrap_or("info");
    if !LEVELS.contains(&level) {
        return Err(ActionError::permanent(format!(
            "{KEY}: level must be one of {}",
            LEVELS.join(", ")
        )));
    }
    let payload = json!({
        "title": c.title,
        "message": c.message,
        "level": level,
        "data": c.data.clone().unwrap_or_default(),
        "executionId": call.execution_id,
        "definitionKey": call.definition_key,
        "stepId": call.step_id,
        "sentAt": call.now,
    });
    Ok(NewEvent::new(NOTIFICATION, payload, call.now).to(to))
}

#[async_trait]
impl Action for Notify {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let c: Config = support::config(KEY, call.config)?;
        let ev = event(&call, &c)?;
        if let Some(user) = c.user {
            let found = call
                .engine
                .store
                .get_user(user)
                .await
                .map_err(|e| ActionError::retryable(format!("{KEY}: {e}")))?;
            if found.is_none() {
                return Err(ActionError::permanent(format!("{KEY}: no user {user}")));
            }
        }
        let store_err =
            |e: betflow_store::StoreError| ActionError::retryable(format!("{KEY}: {e}"));
        let mut tx = call.engine.store.begin().await.map_err(store_err)?;
        tx.insert_events(std::slice::from_ref(&ev))
            .await
            .map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        call.engine.realtime().hub().notify_written();
        let to: Vec<String> = ev.to.iter().map(ToString::to_string).collect();
        Ok(ActionOutcome::Done(json!({"eventId": ev.id, "to": to})))
    }

    fn render(&self, call: &ActionCall<'_>) -> Value {
        match support::config::<Config>(KEY, call.config).and_then(|c| event(call, &c)) {
            Ok(ev) => json!({"wouldRun": KEY, "to": ev.to, "payload": ev.payload}),
            Err(e) => json!({"wouldRun": KEY, "error": e.message}),
        }
    }
}
