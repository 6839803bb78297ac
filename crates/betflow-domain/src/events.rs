//! Domain events: what changed, written to the outbox in the transaction that changed it, then
//! relayed in order to real-time clients, other nodes and webhooks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The workflow event types, as seed 001 names them.
pub mod types {
    pub const WORKFLOW_CREATED: &str = "workflow.created";
    pub const WORKFLOW_UPDATED: &str = "workflow.updated";
    pub const WORKFLOW_APPROVED: &str = "workflow.approved";
    pub const WORKFLOW_REJECTED: &str = "workflow.rejected";
    pub const WORKFLOW_CANCELLED: &str = "workflow.cancelled";
    pub const WORKFLOW_COMPLETED: &str = "workflow.completed";
    pub const WORKFLOW_OVERDUE: &str = "workflow.overdue";
    pub const TASK_CREATED: &str = "task.created";
    /// Sent by `POST /webhooks/{id}/test`; never written to the outbox.
    pub const PING: &str = "ping";
    pub const ENDPOINT_DISABLED: &str = "endpoint.disabled";

    pub const ALL: &[&str] = &[
        WORKFLOW_CREATED,
        WORKFLOW_UPDATED,
        WORKFLOW_APPROVED,
        WORKFLOW_REJECTED,
        WORKFLOW_CANCELLED,
        WORKFLOW_COMPLETED,
        WORKFLOW_OVERDUE,
        TASK_CREATED,
        ENDPOINT_DISABLED,
    ];
}

/// An event to append to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: Uuid,
    pub event_type: String,
    /// The workflow it concerns, which decides who may see it.
    pub workflow_id: Option<Uuid>,
    /// Roles that may act on what the event announces (a task's assignees), for `role:` rooms.
    pub roles: Vec<String>,
    /// The user it concerns beside the workflow's watchers (its creator), for `user:` rooms.
    pub user_id: Option<Uuid>,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

impl NewEvent {
    pub fn new(event_type: &str, payload: Value, created_at: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type: event_type.to_owned(),
            workflow_id: None,
            roles: Vec::new(),
            user_id: None,
            payload,
            created_at,
        }
    }
}

/// An event as relayed: with its place in the total order. Serialised whole between nodes;
/// clients get [`Event::client_view`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: Uuid,
    /// Increases with every event; SSE's `Last-Event-ID`.
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub workflow_id: Option<Uuid>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub user_id: Option<Uuid>,
    pub timestamp: DateTime<Utc>,
    pub data: Value,
}

impl Event {
    /// What clients (SSE, socket.io, webhooks) receive: `{id, seq, type, timestamp, data}`.
    pub fn client_view(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "seq": self.seq,
            "type": self.event_type,
            "timestamp": self.timestamp,
            "data": self.data,
        })
    }
}

/// Whether an event type matches a filter: exact, `*` for everything, or a `prefix.*`
/// wildcard (`workflow.*` matches `workflow.created`, not `workflowx.created`).
pub fn matches(pattern: &str, event_type: &str) -> bool {
    let pattern = pattern.trim();
    if pattern == "*" || pattern == event_type {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(prefix) => event_type
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => false,
    }
}

/// Checks a filter pattern: `*`, or dot-separated names of a-z, 0-9 and `_`, optionally
/// ending in `.*`.
pub fn valid_pattern(pattern: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let body = pattern.strip_suffix(".*").unwrap_or(pattern);
    !body.is_empty()
        && pattern.len() <= 100
        && body.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_segments() {
        assert!(matches("*", "workflow.created"));
        assert!(matches("workflow.*", "workflow.created"));
        assert!(matches("workflow.created", "workflow.created"));
        assert!(!matches("workflow.*", "workflowx.created"));
        assert!(!matches("workflow.*", "task.created"));
        assert!(!matches("workflow.created", "workflow.creat"));
        assert!(matches("workflow.*", "workflow.step.entered"));
    }

    #[test]
    fn patterns_are_checked() {
        for ok in ["*", "workflow.*", "task.created", "endpoint.disabled"] {
            assert!(valid_pattern(ok), "{ok}");
        }
        for bad in [
            "",
            ".*",
            "workflow.",
            "Workflow.*",
            "a..b",
            "*.created",
            "a b",
        ] {
            assert!(!valid_pattern(bad), "{bad}");
        }
    }
}
