//! The audit trail and system events (seed 002, "Audit and Logging Schema").
//!
//! Audit rows are immutable records of who changed which row and how; later features write
//! them in the same transaction as the change they describe.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::{DomainError, PageRequest, Violation, text};

/// Longest `table_name` / `event_type`, as the seed's `VARCHAR(100)`.
pub const MAX_NAME_LEN: usize = 100;
/// Longest stored user agent; longer ones are truncated rather than refused.
pub const MAX_USER_AGENT_LEN: usize = 512;

/// The seed's `audit_action` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuditAction {
    Insert,
    Update,
    Delete,
}

impl AuditAction {
    pub const ALL: [AuditAction; 3] = [Self::Insert, Self::Update, Self::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "INSERT",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| DomainError::invalid("action", "must be one of INSERT, UPDATE, DELETE"))
    }
}

/// One row of `audit_log`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: Uuid,
    pub table_name: String,
    pub record_id: Uuid,
    pub action: AuditAction,
    pub old_values: Option<Value>,
    pub new_values: Option<Value>,
    pub user_id: Option<Uuid>,
    pub ip_address: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub timestamp: DateTime<Utc>,
}

/// Who did something and from where; attached to audit rows and system events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub ip_address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl AuditEntry {
    /// Builds a validated entry stamped with a fresh UUID v7 and the current time.
    ///
    /// Any NUL in the recorded values or the user agent becomes U+FFFD: the API refuses NUL
    /// at its boundary, but an audit row must never be what makes PostgreSQL fail a change
    /// that SQLite would have recorded.
    pub fn new(
        table_name: impl Into<String>,
        record_id: Uuid,
        action: AuditAction,
        old_values: Option<Value>,
        new_values: Option<Value>,
        actor: Actor,
    ) -> Result<Self, DomainError> {
        let table_name = table_name.into();
        validate_name("tableName", &table_name)?;
        let scrub = |mut v: Value| {
            text::scrub_nul_json(&mut v);
            v
        };
        Ok(Self {
            id: Uuid::now_v7(),
            table_name,
            record_id,
            action,
            old_values: old_values.map(scrub),
            new_values: new_values.map(scrub),
            user_id: actor.user_id,
            ip_address: actor.ip_address,
            user_agent: actor
                .user_agent
                .map(|ua| truncate_user_agent(text::scrub_nul(&ua))),
            timestamp: crate::time::now(),
        })
    }
}

/// Filters for reading the audit trail: by table and record, by user, by time range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub table_name: Option<String>,
    pub record_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub action: Option<AuditAction>,
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound, so consecutive windows never count a row twice.
    pub until: Option<DateTime<Utc>>,
    pub page: PageRequest,
}

impl AuditQuery {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut v = Vec::new();
        if let Some(t) = &self.table_name
            && let Err(DomainError::Validation(mut more)) = validate_name("tableName", t)
        {
            v.append(&mut more);
        }
        // An inverted range matches nothing (see `SystemEventQuery::validate`).
        if v.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(v))
        }
    }
}

/// The seed's `event_severity` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Self::Debug,
        Self::Info,
        Self::Warning,
        Self::Error,
        Self::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                DomainError::invalid(
                    "severity",
                    "must be one of debug, info, warning, error, critical",
                )
            })
    }
}

/// One row of `system_events`: application events and errors worth keeping beside the logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemEvent {
    pub id: Uuid,
    pub event_type: String,
    pub severity: Severity,
    pub message: String,
    pub details: Option<Value>,
    pub user_id: Option<Uuid>,
    pub session_id: Option<String>,
    pub ip_address: Option<IpAddr>,
    pub created_at: DateTime<Utc>,
}

impl SystemEvent {
    /// Builds a validated event; NUL in its message or details becomes U+FFFD, as in
    /// [`AuditEntry::new`].
    pub fn new(
        event_type: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
        details: Option<Value>,
    ) -> Result<Self, DomainError> {
        let event_type = event_type.into();
        let message = text::scrub_nul(&message.into());
        let details = details.map(|mut d| {
            text::scrub_nul_json(&mut d);
            d
        });
        let mut v = Vec::new();
        if let Err(DomainError::Validation(mut more)) = validate_name("eventType", &event_type) {
            v.append(&mut more);
        }
        if message.trim().is_empty() {
            v.push(Violation::new("message", "must not be empty"));
        }
        if !v.is_empty() {
            return Err(DomainError::Validation(v));
        }
        Ok(Self {
            id: Uuid::now_v7(),
            event_type,
            severity,
            message,
            details,
            user_id: None,
            session_id: None,
            ip_address: None,
            created_at: crate::time::now(),
        })
    }

    pub fn with_actor(mut self, actor: Actor, session_id: Option<String>) -> Self {
        self.user_id = actor.user_id;
        self.ip_address = actor.ip_address;
        self.session_id = session_id;
        self
    }
}

/// Filters for reading system events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemEventQuery {
    pub event_type: Option<String>,
    /// Events at this severity or above.
    pub min_severity: Option<Severity>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub page: PageRequest,
}

impl SystemEventQuery {
    /// Nothing to refuse: an inverted range (`from` after `until`) is valid and matches
    /// nothing, as an empty window would. The API's schema can state each bound but not their
    /// order, and what it allows the server takes.
    pub fn validate(&self) -> Result<(), DomainError> {
        Ok(())
    }

    /// The severities a `min_severity` filter admits.
    pub fn severities(&self) -> Vec<Severity> {
        match self.min_severity {
            None => Severity::ALL.to_vec(),
            Some(min) => Severity::ALL.into_iter().filter(|s| *s >= min).collect(),
        }
    }
}

fn validate_name(field: &str, value: &str) -> Result<(), DomainError> {
    text::check_name(field, value).map_err(|v| DomainError::Validation(vec![v]))?;
    if value.trim().is_empty() {
        Err(DomainError::invalid(field, "must not be empty"))
    } else if value.chars().count() > MAX_NAME_LEN {
        Err(DomainError::invalid(
            field,
            format!("must be at most {MAX_NAME_LEN} characters"),
        ))
    } else {
        Ok(())
    }
}

fn truncate_user_agent(mut ua: String) -> String {
    if ua.len() > MAX_USER_AGENT_LEN {
        let mut cut = MAX_USER_AGENT_LEN;
        while !ua.is_char_boundary(cut) {
            cut -= 1;
        }
        ua.truncate(cut);
    }
    ua
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn action_and_severity_parse_their_seed_spellings() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), a);
        }
        assert_eq!(
            "update".parse::<AuditAction>().unwrap(),
            AuditAction::Update
        );
        assert!("UPSERT".parse::<AuditAction>().is_err());
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
        }
        assert!("fatal".parse::<Severity>().is_err());
    }

    #[test]
    fn entry_requires_a_table_name_of_seed_length() {
        let id = Uuid::now_v7();
        assert!(
            AuditEntry::new("", id, AuditAction::Insert, None, None, Actor::default()).is_err()
        );
        let long = "t".repeat(MAX_NAME_LEN + 1);
        assert!(
            AuditEntry::new(long, id, AuditAction::Insert, None, None, Actor::default()).is_err()
        );
        let ok = AuditEntry::new(
            "users",
            id,
            AuditAction::Insert,
            None,
            None,
            Actor::default(),
        )
        .unwrap();
        assert_eq!(ok.timestamp.timestamp_subsec_nanos() % 1000, 0);
    }

    #[test]
    fn entries_and_events_never_carry_nul() {
        let actor = Actor {
            user_agent: Some("agent\0x".into()),
            ..Actor::default()
        };
        let e = AuditEntry::new(
            "users",
            Uuid::now_v7(),
            AuditAction::Update,
            Some(serde_json::json!({"name": "a\0b"})),
            Some(serde_json::json!({"k\0": ["c\0"]})),
            actor,
        )
        .unwrap();
        for v in [&e.old_values, &e.new_values] {
            assert!(
                text::nul_violations("", v.as_ref().unwrap()).is_empty(),
                "{v:?}"
            );
        }
        assert_eq!(e.user_agent.as_deref(), Some("agent\u{FFFD}x"));
        let ev = SystemEvent::new(
            "auth.failed",
            Severity::Warning,
            "bad\0",
            Some(serde_json::json!({"login": "x\0"})),
        )
        .unwrap();
        assert!(!ev.message.contains('\0'));
        assert!(text::nul_violations("", ev.details.as_ref().unwrap()).is_empty());
    }

    #[test]
    fn table_names_are_names() {
        let q = AuditQuery {
            table_name: Some("users\u{7}".into()),
            ..Default::default()
        };
        let DomainError::Validation(v) = q.validate().unwrap_err();
        assert_eq!(v[0].field, "tableName");
        let id = Uuid::now_v7();
        assert!(
            AuditEntry::new(
                "us\0ers",
                id,
                AuditAction::Insert,
                None,
                None,
                Actor::default()
            )
            .is_err()
        );
    }

    #[test]
    fn an_inverted_time_range_is_a_valid_empty_window() {
        let now = crate::time::now();
        let q = AuditQuery {
            from: Some(now),
            until: Some(now - chrono::Duration::seconds(1)),
            ..Default::default()
        };
        assert!(q.validate().is_ok());
        let q = SystemEventQuery {
            from: Some(now),
            until: Some(now - chrono::Duration::seconds(1)),
            ..Default::default()
        };
        assert!(q.validate().is_ok());
    }

    #[test]
    fn min_severity_admits_itself_and_above() {
        let q = SystemEventQuery {
            min_severity: Some(Severity::Warning),
            ..Default::default()
        };
        assert_eq!(
            q.severities(),
            [Severity::Warning, Severity::Error, Severity::Critical]
        );
    }

    proptest! {
        #[test]
        fn user_agent_truncation_keeps_valid_utf8(s in "\\PC{0,700}") {
            let t = truncate_user_agent(s.clone());
            prop_assert!(t.len() <= MAX_USER_AGENT_LEN);
            prop_assert!(s.starts_with(&t));
        }
    }
}
