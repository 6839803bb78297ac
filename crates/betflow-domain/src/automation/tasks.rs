//! Tasks (seed 003's `task_management`): work for a user or a role, created by an automation's
//! `task.create` step and listed in `/tasks` beside approval steps. A step may wait for its
//! task: completing the task resumes the run with the task as the step's output.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::DomainError;
use crate::workflow::Priority;

/// The longest title and description.
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 10_000;

/// Where a task is: `pending -> in_progress -> completed`, or `cancelled` from either open
/// state. Completed and cancelled are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    InProgress,
    Completed,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 4] = [
        TaskStatus::Pending,
        TaskStatus::InProgress,
        TaskStatus::Completed,
        TaskStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Completed => "completed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    /// Still to be done.
    pub fn is_open(self) -> bool {
        matches!(self, TaskStatus::Pending | TaskStatus::InProgress)
    }

    /// Whether a task may move from `self` to `to` (staying put is allowed while open).
    pub fn may_become(self, to: TaskStatus) -> bool {
        self.is_open() && !(self == TaskStatus::InProgress && to == TaskStatus::Pending)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskStatus {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "status",
                    "must be pending, in_progress, completed or cancelled",
                )
            })
    }
}

/// A task.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub assignee_user_id: Option<Uuid>,
    pub assignee_role: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub priority: Priority,
    pub status: TaskStatus,
    /// The run and step that created it, if an automation did.
    pub execution_id: Option<Uuid>,
    pub step_id: Option<String>,
    /// The step waits for the task: completing it resumes the run.
    pub wait: bool,
    /// Anything the assignee needs (the step's `data`).
    pub data: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<Uuid>,
}

/// What a new task says; [`NewTask::into_task`] checks it.
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub assignee_user_id: Option<Uuid>,
    pub assignee_role: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub priority: Priority,
    pub execution_id: Option<Uuid>,
    pub step_id: Option<String>,
    pub wait: bool,
    pub data: Option<Value>,
}

impl NewTask {
    /// The task, `pending`, or what is wrong with it: a title of 1 to 200 characters, a
    /// description of at most 10,000, an assignee (user or role, a role named as the
    /// platform names them) and `data` an object.
    pub fn into_task(self, now: DateTime<Utc>) -> Result<Task, DomainError> {
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(DomainError::invalid(
                "title",
                format!("must be 1 to {MAX_TITLE} characters"),
            ));
        }
        let description = self.description.map(|d| d.trim().to_owned());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
        {
            return Err(DomainError::invalid(
                "description",
                format!("must be at most {MAX_DESCRIPTION} characters"),
            ));
        }
        let role = match self.assignee_role {
            Some(r) => Some(
                r.trim()
                    .parse::<crate::identity::Role>()
                    .map_err(|_| DomainError::invalid("assigneeRole", "is not a role"))?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        if role.is_none() && self.assignee_user_id.is_none() {
            return Err(DomainError::invalid(
                "assignee",
                "needs an assignee user or role",
            ));
        }
        let data = self.data.unwrap_or_else(|| json!({}));
        if !data.is_object() {
            return Err(DomainError::invalid("data", "must be an object"));
        }
        Ok(Task {
            id: Uuid::now_v7(),
            title,
            description: description.filter(|d| !d.is_empty()),
            assignee_user_id: self.assignee_user_id,
            assignee_role: role,
            due_at: self.due_at,
            priority: self.priority,
            status: TaskStatus::Pending,
            execution_id: self.execution_id,
            step_id: self.step_id,
            wait: self.wait,
            data,
            created_at: now,
            updated_at: now,
            completed_at: None,
            completed_by: None,
        })
    }
}

impl Task {
    /// Moves the task to `to`; completing or cancelling records when and by whom.
    pub fn set_status(
        &mut self,
        to: TaskStatus,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if !self.status.may_become(to) {
            return Err(DomainError::invalid(
                "status",
                format!("a {} task cannot become {to}", self.status),
            ));
        }
        self.status = to;
        self.updated_at = now;
        if !to.is_open() {
            self.completed_at = Some(now);
            self.completed_by = by;
        }
        Ok(())
    }

    /// Whether the task is the user's, by user or by role.
    pub fn is_for(&self, user: Uuid, role: &str) -> bool {
        self.assignee_user_id == Some(user) || self.assignee_role.as_deref() == Some(role)
    }

    /// Past its due time while still open.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.status.is_open() && self.due_at.is_some_and(|d| d < now)
    }

    /// The task as a step's output and an event's payload.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "assigneeUserId": self.assignee_user_id,
            "assigneeRole": self.assignee_role,
            "dueAt": self.due_at,
            "priority": self.priority.as_str(),
            "status": self.status.as_str(),
            "executionId": self.execution_id,
            "stepId": self.step_id,
            "data": self.data,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "completedAt": self.completed_at,
            "completedBy": self.completed_by,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new() -> NewTask {
        NewTask {
            title: " Check market 42 ".into(),
            assignee_role: Some("trader".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_task_is_checked() {
        let t = new().into_task(Utc::now()).unwrap();
        assert_eq!(t.title, "Check market 42");
        assert_eq!(t.status, TaskStatus::Pending);
        assert_eq!(t.assignee_role.as_deref(), Some("trader"));
        for (bad, field) in [
            (
                NewTask {
                    title: " ".into(),
                    ..new()
                },
                "title",
            ),
            (
                NewTask {
                    assignee_role: None,
                    ..new()
                },
                "assignee",
            ),
            (
                NewTask {
                    assignee_role: Some("pilot".into()),
                    ..new()
                },
                "assigneeRole",
            ),
            (
                NewTask {
                    data: Some(json!([1])),
                    ..new()
                },
                "data",
            ),
        ] {
            let e = bad.into_task(Utc::now()).unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn statuses_move_forward_only() {
        let now = Utc::now();
        let by = Uuid::now_v7();
        let mut t = new().into_task(now).unwrap();
        t.set_status(TaskStatus::InProgress, Some(by), now).unwrap();
        assert!(t.set_status(TaskStatus::Pending, Some(by), now).is_err());
        t.set_status(TaskStatus::Completed, Some(by), now).unwrap();
        assert_eq!(t.completed_by, Some(by));
        assert!(t.set_status(TaskStatus::Cancelled, Some(by), now).is_err());
        assert_eq!(
            "in_progress".parse::<TaskStatus>().unwrap(),
            TaskStatus::InProgress
        );
        assert!("done".parse::<TaskStatus>().is_err());
    }
}
