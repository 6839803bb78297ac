//! What the store keeps about definitions and running workflows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::approval::Decision;
use super::graph::{StepKind, WorkflowGraph};
use super::status::{Priority, WorkflowStatus};
use crate::PageRequest;

/// A workflow definition (the template): key, descriptive fields, the data schema its
/// workflows must satisfy, and its newest published version number.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub data_schema: Option<Value>,
    pub latest_version: u32,
    pub is_active: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Soft-deleted: hidden from reads, starts nothing; its versions and runs stay. Its key
    /// stays taken.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// One immutable, numbered version of a definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub definition_id: Uuid,
    pub version: u32,
    pub graph: WorkflowGraph,
    pub published_by: Option<Uuid>,
    pub published_at: DateTime<Utc>,
}

/// A workflow (an instance of a definition version).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: Uuid,
    pub definition_id: Uuid,
    /// The definition key, e.g. `line_change_approval` (the seed's `workflowType`).
    pub workflow_type: String,
    pub version: u32,
    pub status: WorkflowStatus,
    pub priority: Priority,
    pub current_step: Option<String>,
    /// How many times the current step has been entered; votes belong to one visit.
    pub step_visit: u32,
    pub step_started_at: Option<DateTime<Utc>>,
    /// Roles added to the current step by a timeout escalation.
    pub escalated_roles: Vec<String>,
    /// Roles that may act on the current step now (its assignees plus escalations); empty
    /// once the workflow has finished. Kept here so inboxes are one indexed query.
    pub assignees: Vec<String>,
    pub completed_steps: u32,
    pub data: Value,
    /// The definition's tags and any given when the workflow was created.
    pub tags: Vec<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// When the current step times out.
    pub due_at: Option<DateTime<Utc>>,
}

impl Instance {
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        !self.status.is_final() && self.due_at.is_some_and(|d| d < now)
    }
}

/// One recorded decision on one visit of an approval or task step.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub id: Uuid,
    pub workflow_id: Uuid,
    pub step_id: String,
    pub step_visit: u32,
    pub approver_id: Uuid,
    pub decision: Decision,
    pub comments: Option<String>,
    pub decided_at: DateTime<Utc>,
}

/// One visit of a step (seed 003's `step_run`): which step, when it started and ended, and
/// how it ended. A step visited twice (a rework loop) has two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRun {
    pub workflow_id: Uuid,
    /// The workflow's step visit counter when the step was entered (1 for the first step).
    pub visit: u32,
    pub step_id: String,
    pub kind: StepKind,
    pub status: StepRunStatus,
    pub started_at: DateTime<Utc>,
    /// `None` while the step is current.
    pub ended_at: Option<DateTime<Utc>>,
}

/// How a step run ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepRunStatus {
    Running,
    /// Left the way its kind leaves: a condition routed, an action ran, a delay ended.
    Completed,
    Approved,
    Rejected,
    TimedOut,
    /// The workflow was cancelled while the step was current.
    Cancelled,
    /// An automated step failed (its retries exhausted).
    Failed,
}

impl StepRunStatus {
    pub const ALL: [Self; 7] = [
        Self::Running,
        Self::Completed,
        Self::Approved,
        Self::Rejected,
        Self::TimedOut,
        Self::Cancelled,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One entry of a workflow's history (the seed's `workflow_timeline`).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEvent {
    pub id: Uuid,
    pub workflow_id: Uuid,
    pub event_type: String,
    pub step_id: Option<String>,
    pub user_id: Option<Uuid>,
    pub data: Option<Value>,
    pub created_at: DateTime<Utc>,
}

/// Filters for listing workflows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceFilter {
    pub status: Option<WorkflowStatus>,
    pub workflow_type: Option<String>,
    pub priority: Option<Priority>,
    /// Created at or after.
    pub start_date: Option<DateTime<Utc>>,
    /// Created before.
    pub end_date: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    /// Case-insensitive text anywhere in the workflow's data.
    pub search: Option<String>,
    /// Open workflows whose current step this role may act on (the seed's `assignee`).
    pub assignee_role: Option<String>,
    /// Workflows carrying every one of these tags.
    pub tags: Vec<String>,
    pub page: PageRequest,
}

/// The seed's `betting_lines` row kept for a `line_change_approval` workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct BettingLine {
    pub id: Uuid,
    pub workflow_id: Uuid,
    pub line_id: String,
    pub event_name: Option<String>,
    pub sport: Option<String>,
    pub league: Option<String>,
    pub market_type: Option<String>,
    pub old_odds: rust_decimal::Decimal,
    pub new_odds: rust_decimal::Decimal,
    pub odds_change_percentage: rust_decimal::Decimal,
    /// Minor units.
    pub total_exposure: i64,
    pub risk_level: super::seeded::RiskLevel,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
}

/// The seed's `betting_content` row kept for a `content_publishing` workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct BettingContent {
    pub id: Uuid,
    pub workflow_id: Uuid,
    pub content_type: String,
    pub content_id: String,
    pub title: String,
    pub jurisdiction: Option<String>,
    /// Minor units.
    pub financial_impact: i64,
    pub metadata: Value,
    /// `draft`, then `published` or `rejected` with the workflow.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Most tags one definition or workflow carries.
pub const MAX_TAGS: usize = 20;
/// Longest tag.
pub const MAX_TAG_LEN: usize = 50;

/// Trims tags, drops repeats (keeping the first), and refuses empty, overlong or too many.
pub fn normalize_tags<'a>(
    tags: impl IntoIterator<Item = &'a String>,
) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim();
        if t.is_empty() || t.chars().count() > MAX_TAG_LEN {
            return Err(format!("each tag must be 1 to {MAX_TAG_LEN} characters"));
        }
        if let Err(v) = crate::text::check_name("tags", t) {
            return Err(format!("each tag {}", v.message));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(format!("at most {MAX_TAGS} tags"));
    }
    Ok(out)
}

#[cfg(test)]
mod tag_tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        let t = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            normalize_tags(&t(&[" vip", "live", "vip "])),
            Ok(t(&["vip", "live"]))
        );
        assert!(normalize_tags(&t(&[""])).is_err());
        assert!(normalize_tags(&t(&[&"x".repeat(51)])).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(&many).is_err());
        let bell = normalize_tags(&t(&["ok", "b\u{7}ell"])).unwrap_err();
        assert!(bell.contains("control characters"), "{bell}");
    }
}
