//! A workflow's history, typed.
//!
//! Every transition writes timeline entries; the step runs and outbox events it writes
//! beside them are derived from the entries' [`TimelineKind`], so a misspelt kind cannot
//! compile, let alone silently drop a step run or a webhook. The seed's dotted strings
//! (`step.entered`, …) are kept only for storage and the API ([`TimelineKind::as_str`],
//! [`TimelineKind::parse`]).

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::record::{Instance, TimelineEvent};

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimelineKind {
    WorkflowCreated,
    WorkflowStarted,
    /// Its data or priority was edited.
    WorkflowUpdated,
    WorkflowDeleted,
    WorkflowCancelled,
    /// A step's timeout fell due.
    WorkflowOverdue,
    WorkflowCompleted,
    WorkflowRejected,
    StepEntered,
    /// A condition step chose its branch.
    ConditionEvaluated,
    /// An approval step reached its quorum, or a task step was completed.
    StepApproved,
    StepRejected,
    /// An approval that leaves its step waiting for more.
    ApprovalRecorded,
    /// A timeout added roles to the step.
    StepEscalated,
    /// A timeout rejected the step or followed its `timeout` edge.
    StepTimedOut,
    ActionCompleted,
    /// An `emit_event` action's event (it becomes an outbox event of its own name).
    EventEmitted,
    DelayElapsed,
    /// An action step failed for good (its retries exhausted): it leaves by its `error` edge,
    /// or the workflow fails.
    StepFailed,
    /// An action step failed with no `error` edge: the workflow is `failed` (final).
    WorkflowFailed,
    /// A failed workflow was re-opened at its failed step.
    WorkflowRetried,
}

impl TimelineKind {
    pub const ALL: [Self; 21] = [
        Self::WorkflowCreated,
        Self::WorkflowStarted,
        Self::WorkflowUpdated,
        Self::WorkflowDeleted,
        Self::WorkflowCancelled,
        Self::WorkflowOverdue,
        Self::WorkflowCompleted,
        Self::WorkflowRejected,
        Self::StepEntered,
        Self::ConditionEvaluated,
        Self::StepApproved,
        Self::StepRejected,
        Self::ApprovalRecorded,
        Self::StepEscalated,
        Self::StepTimedOut,
        Self::ActionCompleted,
        Self::EventEmitted,
        Self::DelayElapsed,
        Self::StepFailed,
        Self::WorkflowFailed,
        Self::WorkflowRetried,
    ];

    /// The seed's name: what is stored and what the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WorkflowCreated => "workflow.created",
            Self::WorkflowStarted => "workflow.started",
            Self::WorkflowUpdated => "workflow.updated",
            Self::WorkflowDeleted => "workflow.deleted",
            Self::WorkflowCancelled => "workflow.cancelled",
            Self::WorkflowOverdue => "workflow.overdue",
            Self::WorkflowCompleted => "workflow.completed",
            Self::WorkflowRejected => "workflow.rejected",
            Self::StepEntered => "step.entered",
            Self::ConditionEvaluated => "condition.evaluated",
            Self::StepApproved => "step.approved",
            Self::StepRejected => "step.rejected",
            Self::ApprovalRecorded => "approval.recorded",
            Self::StepEscalated => "step.escalated",
            Self::StepTimedOut => "step.timed_out",
            Self::ActionCompleted => "action.completed",
            Self::EventEmitted => "event.emitted",
            Self::DelayElapsed => "delay.elapsed",
            Self::StepFailed => "step.failed",
            Self::WorkflowFailed => "workflow.failed",
            Self::WorkflowRetried => "workflow.retried",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for TimelineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One timeline entry as a transition produces it; [`TimelineEntry::into_record`] is the
/// row the store keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    pub id: Uuid,
    pub workflow_id: Uuid,
    pub kind: TimelineKind,
    pub step_id: Option<String>,
    pub user_id: Option<Uuid>,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

impl TimelineEntry {
    /// An entry about `w`, stamped with a fresh UUID v7 and the time it is written.
    pub fn new(
        w: &Instance,
        kind: TimelineKind,
        step: Option<String>,
        by: Option<Uuid>,
        data: Value,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            workflow_id: w.id,
            kind,
            step_id: step,
            user_id: by,
            data,
            created_at: crate::time::now(),
        }
    }

    /// The stored row.
    pub fn into_record(self) -> TimelineEvent {
        TimelineEvent {
            id: self.id,
            workflow_id: self.workflow_id,
            event_type: self.kind.as_str().to_owned(),
            step_id: self.step_id,
            user_id: self.user_id,
            data: Some(self.data),
            created_at: self.created_at,
        }
    }

    /// A stored row read back; `None` for a kind this release does not know.
    pub fn from_record(e: &TimelineEvent) -> Option<Self> {
        Some(Self {
            id: e.id,
            workflow_id: e.workflow_id,
            kind: TimelineKind::parse(&e.event_type)?,
            step_id: e.step_id.clone(),
            user_id: e.user_id,
            data: e.data.clone().unwrap_or(Value::Null),
            created_at: e.created_at,
        })
    }
}

/// The stored rows of `entries`, in order.
pub fn records(entries: Vec<TimelineEntry>) -> Vec<TimelineEvent> {
    entries
        .into_iter()
        .map(TimelineEntry::into_record)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for k in TimelineKind::ALL {
            assert!(seen.insert(k.as_str()), "{k} twice");
            assert_eq!(TimelineKind::parse(k.as_str()), Some(k));
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!(TimelineKind::parse("step.enterd"), None);
    }

    #[test]
    fn seed_names_are_kept() {
        assert_eq!(TimelineKind::StepEntered.as_str(), "step.entered");
        assert_eq!(TimelineKind::StepTimedOut.as_str(), "step.timed_out");
        assert_eq!(TimelineKind::ApprovalRecorded.as_str(), "approval.recorded");
        assert_eq!(
            TimelineKind::ConditionEvaluated.as_str(),
            "condition.evaluated"
        );
    }

    #[test]
    fn a_record_round_trips() {
        let e = TimelineEntry {
            id: Uuid::now_v7(),
            workflow_id: Uuid::now_v7(),
            kind: TimelineKind::StepEscalated,
            step_id: Some("review".into()),
            user_id: None,
            data: serde_json::json!({"addedRoles": ["admin"]}),
            created_at: crate::time::now(),
        };
        let row = e.clone().into_record();
        assert_eq!(row.event_type, "step.escalated");
        assert_eq!(TimelineEntry::from_record(&row), Some(e));
    }
}
