//! What starts an automation by itself (seed 003's `workflow_subscription`, `schedule_trigger`
//! and `webhook_endpoint`): event subscriptions with a CEL filter, cron schedules in an IANA
//! time zone, and inbound webhook endpoints verified by their own secret.
//!
//! - this file: the three trigger records, event type patterns and event filters;
//! - [`schedule`]: cron plus zone, the next fire time across DST, catch-up after downtime;
//! - [`inbound`]: Standard Webhooks and plain HMAC-SHA256 signature checks.

pub mod inbound;
pub mod schedule;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{DomainError, Violation};

pub use inbound::Scheme;
pub use schedule::{CatchUp, Schedule};

/// The kinds of trigger a definition can have (the `kind` of the triggers API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    Event,
    Schedule,
    Webhook,
}

impl TriggerKind {
    pub const ALL: [Self; 3] = [Self::Event, Self::Schedule, Self::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Schedule => "schedule",
            Self::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A definition's subscription to outbox events.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: Uuid,
    pub definition_id: Uuid,
    /// Filled in when read (joined), so a run can be started by key.
    pub definition_key: String,
    /// `bet.*`, `workflow.completed` or `*`.
    pub event_pattern: String,
    /// A CEL expression over `event` (`type`, `id`, `data`); `None` matches every event.
    pub filter: Option<String>,
    pub is_active: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A definition's cron schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleTrigger {
    pub id: Uuid,
    pub definition_id: Uuid,
    pub definition_key: String,
    pub cron: String,
    /// IANA zone name, e.g. `Europe/London`.
    pub timezone: String,
    pub catch_up: CatchUp,
    /// The next occurrence to fire; `None` when the cron has no future occurrence.
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_fired_at: Option<DateTime<Utc>>,
    pub is_active: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A definition's inbound webhook endpoint (`POST /api/v1/hooks/{id}`).
#[derive(Debug, Clone, PartialEq)]
pub struct InboundEndpoint {
    pub id: Uuid,
    pub definition_id: Uuid,
    pub definition_key: String,
    pub name: String,
    pub scheme: Scheme,
    /// The signature header of [`Scheme::HmacSha256`] (`X-Signature` by default).
    pub header: Option<String>,
    /// The stored (encrypted) secret; never serialised to clients.
    pub secret: String,
    /// How far a request's timestamp may be from now, in seconds.
    pub tolerance_secs: u32,
    /// Requests per minute; `None` is unlimited.
    pub rate_limit: Option<u32>,
    pub is_active: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The `automation.trigger_start` job: start one run of `definition_key` for a trigger
/// occurrence (an event for a subscription, a fire time for a schedule). Starting is keyed
/// on (`trigger_id`, `event_id`), so running the job twice starts one run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerStart {
    pub definition_key: String,
    /// `event` or `schedule`.
    pub trigger_type: String,
    pub trigger_id: Uuid,
    /// The outbox event id, or the schedule occurrence in RFC 3339.
    pub event_id: String,
    pub input: Value,
}

/// Default replay window of inbound requests.
pub const DEFAULT_TOLERANCE_SECS: u32 = 300;
pub const MAX_TOLERANCE_SECS: u32 = 3600;
pub const MAX_RATE_LIMIT: u32 = 100_000;
/// Longest filter expression.
pub const MAX_FILTER_LEN: usize = 4096;

/// Checks an event type pattern: `*`, an event type (`workflow.completed`) or a `prefix.*`
/// wildcard (`bet.*`).
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if crate::events::valid_pattern(pattern) {
        Ok(())
    } else {
        Err(format!(
            "{pattern:?} is not an event type, a `prefix.*` wildcard or `*` \
             (dot-separated names of a-z, 0-9 and _, at most 100 characters)"
        ))
    }
}

/// Whether `event_type` matches `pattern`.
pub fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    crate::events::matches(pattern, event_type)
}

/// What an event filter sees: `event.type`, `event.id` and `event.data`.
#[derive(Debug, Clone, Copy)]
pub struct EventFacts<'a> {
    pub event_type: &'a str,
    pub id: &'a str,
    pub data: &'a Value,
}

/// A compiled event filter (CEL over `event`).
pub struct EventFilter(cel::Program);

impl std::fmt::Debug for EventFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventFilter")
    }
}

impl EventFilter {
    /// Parses `source`, refusing any variable but `event`, so a typo fails when the
    /// subscription is saved, not when an event arrives.
    pub fn compile(source: &str) -> Result<Self, String> {
        if source.trim().is_empty() {
            return Err("the filter is empty".into());
        }
        if source.len() > MAX_FILTER_LEN {
            return Err(format!(
                "the filter is longer than {MAX_FILTER_LEN} characters"
            ));
        }
        let program = cel::Program::compile(source)
            .map_err(|e| format!("the filter does not compile: {}", e.to_string().trim()))?;
        let unknown: Vec<String> = program
            .references()
            .variables()
            .into_iter()
            .filter(|v| *v != "event")
            .map(str::to_owned)
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "the filter reads unknown variables {unknown:?} (it sees only `event`: type, id, data)"
            ));
        }
        Ok(Self(program))
    }

    /// Whether the event passes. An evaluation error or a non-boolean result is an `Err`,
    /// which the caller treats as "does not match".
    pub fn matches(&self, facts: &EventFacts<'_>) -> Result<bool, String> {
        let event =
            serde_json::json!({"type": facts.event_type, "id": facts.id, "data": facts.data});
        let mut ctx = cel::Context::default();
        ctx.add_variable_from_value("event", cel::to_value(&event).map_err(|e| e.to_string())?);
        match self.0.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "the filter gave {:?}, not a boolean",
                other.type_of()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Checks a subscription's pattern and filter, naming every problem.
pub fn check_subscription(pattern: &str, filter: Option<&str>) -> Result<(), DomainError> {
    let mut v = Vec::new();
    if let Err(e) = check_pattern(pattern) {
        v.push(Violation::new("eventType", e));
    }
    if let Some(f) = filter
        && let Err(e) = EventFilter::compile(f)
    {
        v.push(Violation::new("filter", e));
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(v))
    }
}

/// Checks an endpoint's name, header, tolerance and rate limit, naming every problem.
pub fn check_endpoint(
    name: &str,
    header: Option<&str>,
    tolerance_secs: u32,
    rate_limit: Option<u32>,
) -> Result<(), DomainError> {
    let mut v = Vec::new();
    let name_len = name.trim().chars().count();
    if name_len == 0 || name_len > 100 {
        v.push(Violation::new("name", "must be 1 to 100 characters"));
    }
    crate::text::check_name_into(&mut v, "name", Some(name.trim()));
    if let Some(h) = header
        && let Err(e) = inbound::check_header_name(h)
    {
        v.push(Violation::new("header", e));
    }
    if tolerance_secs == 0 || tolerance_secs > MAX_TOLERANCE_SECS {
        v.push(Violation::new(
            "toleranceSeconds",
            format!("must be 1 to {MAX_TOLERANCE_SECS} seconds"),
        ));
    }
    if rate_limit.is_some_and(|r| r == 0 || r > MAX_RATE_LIMIT) {
        v.push(Violation::new(
            "rateLimit",
            format!("must be 1 to {MAX_RATE_LIMIT} requests per minute, or null"),
        ));
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_match_types_wildcards_and_everything() {
        assert!(pattern_matches("bet.*", "bet.placed"));
        assert!(pattern_matches("bet.*", "bet.settled.won"));
        assert!(!pattern_matches("bet.*", "betting.placed"));
        assert!(!pattern_matches("bet.*", "bet"));
        assert!(pattern_matches("workflow.completed", "workflow.completed"));
        assert!(!pattern_matches("workflow.completed", "workflow.created"));
        assert!(pattern_matches("*", "exposure.threshold_crossed"));
        for ok in ["*", "bet.*", "exposure.threshold_crossed"] {
            assert!(check_pattern(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Bet.*", "bet.", "*.placed", "bet..x", "a b"] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
    }

    fn facts(data: &Value) -> EventFacts<'_> {
        EventFacts {
            event_type: "bet.placed",
            id: "0190-1",
            data,
        }
    }

    #[test]
    fn filters_see_the_event_and_nothing_else() {
        let data = json!({"stake": 150, "currency": "EUR"});
        let f =
            EventFilter::compile("event.type == 'bet.placed' && event.data.stake > 100").unwrap();
        assert_eq!(f.matches(&facts(&data)), Ok(true));
        let f = EventFilter::compile("event.data.currency == 'GBP'").unwrap();
        assert_eq!(f.matches(&facts(&data)), Ok(false));
        let f = EventFilter::compile("event.id.startsWith('0190')").unwrap();
        assert_eq!(f.matches(&facts(&data)), Ok(true));
        assert!(EventFilter::compile("data.stake > 1").is_err());
        assert!(EventFilter::compile("event.data.stake >").is_err());
        assert!(EventFilter::compile("  ").is_err());
        let f = EventFilter::compile("event.data.missing > 1").unwrap();
        assert!(f.matches(&facts(&data)).is_err());
    }

    #[test]
    fn every_problem_is_named() {
        let Err(DomainError::Validation(v)) = check_subscription("Bad", Some("x > 1")) else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["eventType", "filter"]);
        let Err(DomainError::Validation(v)) = check_endpoint("", Some("bad header"), 0, Some(0))
        else {
            panic!("expected a validation error");
        };
        let fields: Vec<&str> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "header", "toleranceSeconds", "rateLimit"]);
        assert!(check_endpoint("orders", Some("X-Signature"), 300, Some(60)).is_ok());
    }
}
