//! Domain events: what changed, written to the outbox in the transaction that changed it, then
//! relayed in order to real-time clients, other nodes and webhooks.

use std::fmt;
use std::str::FromStr;

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
    /// An automated step failed with no `error` edge.
    pub const WORKFLOW_FAILED: &str = "workflow.failed";
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
        WORKFLOW_FAILED,
        TASK_CREATED,
        ENDPOINT_DISABLED,
    ];
}

/// Who an event is for: one real-time room. Its string form (`user:{id}`, `role:{name}`,
/// `workflow:{id}`, `market:{id}`, `event:{id}`, `topic:{name}`) is the socket.io room name,
/// and what the outbox stores, so a new kind of audience needs no new column or field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    /// One user (a workflow's creator, a customer).
    User(Uuid),
    /// Everyone with a role (a task's assignees).
    Role(String),
    /// The watchers of a workflow.
    Workflow(Uuid),
    /// The watchers of a sportsbook market.
    Market(Uuid),
    /// The watchers of a sportsbook event (a fixture).
    Event(Uuid),
    /// Any named topic.
    Topic(String),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::User(id) => write!(f, "user:{id}"),
            Address::Role(name) => write!(f, "role:{name}"),
            Address::Workflow(id) => write!(f, "workflow:{id}"),
            Address::Market(id) => write!(f, "market:{id}"),
            Address::Event(id) => write!(f, "event:{id}"),
            Address::Topic(name) => write!(f, "topic:{name}"),
        }
    }
}

/// A string that is not `kind:value` with a known kind, a UUID where one is due, and a
/// non-empty name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an event address (user:, role:, workflow:, market:, event: or topic:)")]
pub struct BadAddress(pub String);

impl FromStr for Address {
    type Err = BadAddress;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadAddress(s.to_owned());
        let (kind, value) = s.split_once(':').ok_or_else(bad)?;
        let id = || value.parse::<Uuid>().map_err(|_| bad());
        let name = || {
            if value.is_empty() {
                Err(bad())
            } else {
                Ok(value.to_owned())
            }
        };
        Ok(match kind {
            "user" => Address::User(id()?),
            "role" => Address::Role(name()?),
            "workflow" => Address::Workflow(id()?),
            "market" => Address::Market(id()?),
            "event" => Address::Event(id()?),
            "topic" => Address::Topic(name()?),
            _ => return Err(bad()),
        })
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An event to append to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: Uuid,
    pub event_type: String,
    /// The rooms it goes to, in order; who may read it is decided by its type as well (see
    /// `Realtime::may_see` in the engine).
    pub to: Vec<Address>,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

impl NewEvent {
    pub fn new(event_type: &str, payload: Value, created_at: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type: event_type.to_owned(),
            to: Vec::new(),
            payload,
            created_at,
        }
    }

    /// The event, also addressed to `to`.
    pub fn to(mut self, to: impl IntoIterator<Item = Address>) -> Self {
        self.to.extend(to);
        self
    }
}

/// An event as relayed: with its place in the total order. Serialised whole between nodes;
/// clients get [`Event::client_view`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "WireEvent")]
pub struct Event {
    pub id: Uuid,
    /// Increases with every event; SSE's `Last-Event-ID`.
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The rooms it goes to, in order.
    pub to: Vec<Address>,
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

    /// Whether the event goes to `address`.
    pub fn is_for(&self, address: &Address) -> bool {
        self.to.contains(address)
    }
}

/// An [`Event`] as a node of any version sends it between nodes: before addresses, its rooms
/// were `workflowId`, `userId` and `roles`, in that order.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent {
    id: Uuid,
    seq: i64,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    to: Vec<Address>,
    #[serde(default)]
    workflow_id: Option<Uuid>,
    #[serde(default)]
    user_id: Option<Uuid>,
    #[serde(default)]
    roles: Vec<String>,
    timestamp: DateTime<Utc>,
    data: Value,
}

impl From<WireEvent> for Event {
    fn from(w: WireEvent) -> Self {
        let mut to = w.to;
        if to.is_empty() {
            to.extend(w.workflow_id.map(Address::Workflow));
            to.extend(w.user_id.map(Address::User));
            to.extend(w.roles.into_iter().map(Address::Role));
        }
        Event {
            id: w.id,
            seq: w.seq,
            event_type: w.event_type,
            to,
            timestamp: w.timestamp,
            data: w.data,
        }
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
    fn addresses_are_room_names_and_back() {
        let id = Uuid::now_v7();
        let all = [
            (Address::User(id), format!("user:{id}")),
            (
                Address::Role("risk_manager".into()),
                "role:risk_manager".into(),
            ),
            (Address::Workflow(id), format!("workflow:{id}")),
            (Address::Market(id), format!("market:{id}")),
            (Address::Event(id), format!("event:{id}")),
            (Address::Topic("odds:live".into()), "topic:odds:live".into()),
        ];
        for (address, room) in all {
            assert_eq!(address.to_string(), room);
            assert_eq!(room.parse::<Address>(), Ok(address.clone()));
            assert_eq!(serde_json::to_value(&address).unwrap(), Value::String(room));
        }
        for bad in ["", "user", "user:", "user:42", "role:", "team:x", "topic:"] {
            assert_eq!(bad.parse::<Address>(), Err(BadAddress(bad.into())), "{bad}");
        }
    }

    #[test]
    fn events_between_nodes_keep_their_rooms_across_versions() {
        let (w, u) = (Uuid::now_v7(), Uuid::now_v7());
        let event = Event {
            id: Uuid::now_v7(),
            seq: 7,
            event_type: types::TASK_CREATED.into(),
            to: vec![
                Address::Workflow(w),
                Address::User(u),
                Address::Role("editor".into()),
            ],
            timestamp: Utc::now(),
            data: serde_json::json!({"a": 1}),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["to"][2], "role:editor");
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
        // What a node from before addresses sends.
        let legacy = serde_json::json!({
            "id": event.id, "seq": 7, "type": "task.created", "workflowId": w, "userId": u,
            "roles": ["editor"], "timestamp": event.timestamp, "data": {"a": 1},
        });
        assert_eq!(serde_json::from_value::<Event>(legacy).unwrap(), event);
        assert_eq!(
            event.client_view(),
            serde_json::json!({"id": event.id, "seq": 7, "type": "task.created",
                "timestamp": event.timestamp, "data": {"a": 1}})
        );
        assert!(event.is_for(&Address::Workflow(w)));
        assert!(!event.is_for(&Address::Workflow(u)));
    }

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
