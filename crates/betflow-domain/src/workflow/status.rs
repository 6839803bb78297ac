//! Instance status and priority, with the seed's transition table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The seed's `WorkflowStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    Pending,
    InProgress,
    Completed,
    Rejected,
    Cancelled,
    /// An automated step failed with no `error` edge to follow (final).
    Failed,
}

impl WorkflowStatus {
    pub const ALL: [WorkflowStatus; 6] = [
        Self::Pending,
        Self::InProgress,
        Self::Completed,
        Self::Rejected,
        Self::Cancelled,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    /// The seed's `canTransitionTo`: pending → in_progress | cancelled;
    /// in_progress → completed | rejected | cancelled, plus in_progress → failed (an
    /// automated step failed) and failed → in_progress (retried from the failed step).
    pub fn can_transition_to(self, next: WorkflowStatus) -> bool {
        use WorkflowStatus::*;
        matches!(
            (self, next),
            (Pending, InProgress)
                | (Pending, Cancelled)
                | (InProgress, Completed)
                | (InProgress, Rejected)
                | (InProgress, Cancelled)
                | (InProgress, Failed)
                | (Failed, InProgress)
        )
    }

    /// Nothing moves a final workflow on by itself; a failed one only comes back through an
    /// explicit retry.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Rejected | Self::Cancelled | Self::Failed
        )
    }
}

impl fmt::Display for WorkflowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkflowStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "status",
                    "must be one of pending, in_progress, completed, rejected, cancelled, failed",
                )
            })
    }
}

/// The seed's priority.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl FromStr for Priority {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid("priority", "must be one of low, medium, high, critical")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_exactly_the_seeds() {
        use WorkflowStatus::*;
        let allowed = [
            (Pending, InProgress),
            (Pending, Cancelled),
            (InProgress, Completed),
            (InProgress, Rejected),
            (InProgress, Cancelled),
            (InProgress, Failed),
            (Failed, InProgress),
        ];
        for from in WorkflowStatus::ALL {
            for to in WorkflowStatus::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
            assert_eq!(
                from.is_final(),
                from == Failed || !allowed.iter().any(|(f, _)| *f == from)
            );
            assert_eq!(from.as_str().parse::<WorkflowStatus>().unwrap(), from);
        }
        assert!("done".parse::<WorkflowStatus>().is_err());
        assert_eq!("critical".parse::<Priority>().unwrap(), Priority::Critical);
        assert_eq!(Priority::default(), Priority::Medium);
        assert!("urgent".parse::<Priority>().is_err());
    }
}
