//! Executions: what started a run, its status as the workflow instance moves, and each
//! action step's attempts (seeds 003 and 004's `workflow_execution` and `step_execution`).
//!
//! An execution is a workflow instance (same id); its row adds the trigger, input, output
//! and error. Its status follows the instance ([`ExecutionStatus::of_workflow`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::DomainError;
use crate::events::{Address, NewEvent};
use crate::workflow::WorkflowStatus;

/// The outbox event types of executions.
pub mod types {
    pub const EXECUTION_STARTED: &str = "execution.started";
    pub const EXECUTION_SUCCEEDED: &str = "execution.succeeded";
    pub const EXECUTION_FAILED: &str = "execution.failed";
    pub const ALL: &[&str] = &[EXECUTION_STARTED, EXECUTION_SUCCEEDED, EXECUTION_FAILED];
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $field:literal { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|x| x.as_str() == s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| {
                    let all: Vec<&str> = Self::ALL.iter().map(|x| x.as_str()).collect();
                    DomainError::invalid($field, format!("must be one of {}", all.join(", ")))
                })
            }
        }
    };
}

string_enum!(
    /// What started a run (`test`: external actions are rendered, not performed).
    TriggerType, "triggerType" {
        Manual => "manual",
        Event => "event",
        Schedule => "schedule",
        Webhook => "webhook",
        Test => "test",
    }
);

string_enum!(
    /// An execution's status (seed 004's `ExecutionStatus`); `waiting`: the current step
    /// waits for something outside the run (a task, a child run, people).
    ExecutionStatus, "status" {
        Pending => "pending",
        Running => "running",
        Waiting => "waiting",
        Succeeded => "succeeded",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

string_enum!(
    /// One attempt of an action step.
    StepExecutionStatus, "status" {
        Running => "running",
        Succeeded => "succeeded",
        Failed => "failed",
    }
);

impl ExecutionStatus {
    /// The status an execution has when its instance is `w` (`waiting` says the current
    /// step waits on people or something else outside the run).
    pub fn of_workflow(w: WorkflowStatus, waiting: bool) -> Self {
        match w {
            WorkflowStatus::Pending => Self::Pending,
            WorkflowStatus::InProgress if waiting => Self::Waiting,
            WorkflowStatus::InProgress => Self::Running,
            WorkflowStatus::Completed => Self::Succeeded,
            WorkflowStatus::Rejected | WorkflowStatus::Failed => Self::Failed,
            WorkflowStatus::Cancelled => Self::Cancelled,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// Why an execution failed: the message and the step that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionError {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// An execution row.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The workflow instance's id.
    pub id: Uuid,
    pub definition_id: Uuid,
    pub definition_key: String,
    pub version: u32,
    pub trigger_type: TriggerType,
    pub trigger_id: Option<Uuid>,
    pub trigger_event_id: Option<String>,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<ExecutionError>,
    pub status: ExecutionStatus,
    pub created_by: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

impl Execution {
    /// Whether this is a test run (external actions rendered, not performed).
    pub fn is_test(&self) -> bool {
        self.trigger_type == TriggerType::Test
    }

    /// Ends the execution with `status` at `t`, computing its duration.
    pub fn end(&mut self, status: ExecutionStatus, t: DateTime<Utc>) {
        self.status = status;
        self.ended_at = Some(t);
        self.duration_ms = Some((t - self.started_at).num_milliseconds().max(0));
    }

    /// The outbox payload of this execution's events.
    pub fn payload(&self) -> Value {
        json!({
            "executionId": self.id,
            "workflowId": self.id,
            "definitionKey": self.definition_key,
            "version": self.version,
            "triggerType": self.trigger_type.as_str(),
            "triggerId": self.trigger_id,
            "triggerEventId": self.trigger_event_id,
            "status": self.status.as_str(),
            "output": self.output,
            "error": self.error,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "durationMs": self.duration_ms,
        })
    }

    /// The outbox event announcing this execution's current status: started, succeeded or
    /// failed; `None` for the other statuses.
    pub fn event(&self, t: DateTime<Utc>) -> Option<NewEvent> {
        let kind = match self.status {
            ExecutionStatus::Pending | ExecutionStatus::Running => types::EXECUTION_STARTED,
            ExecutionStatus::Succeeded => types::EXECUTION_SUCCEEDED,
            ExecutionStatus::Failed => types::EXECUTION_FAILED,
            ExecutionStatus::Waiting | ExecutionStatus::Cancelled => return None,
        };
        Some(
            NewEvent::new(kind, self.payload(), t)
                .to([Address::Workflow(self.id)])
                .to(self.created_by.map(Address::User))
                .to([Address::Topic("automations".into())]),
        )
    }
}

/// One attempt of an action step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepExecution {
    pub id: Uuid,
    pub execution_id: Uuid,
    pub step_id: String,
    pub visit: u32,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub status: StepExecutionStatus,
    /// The rendered params, secrets masked.
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

impl StepExecution {
    /// A finished attempt that started at `started` and ended at `ended`.
    #[allow(clippy::too_many_arguments)]
    pub fn finished(
        execution_id: Uuid,
        step_id: &str,
        visit: u32,
        attempt: u32,
        input: Value,
        result: Result<Value, (String, Option<Value>)>,
        started: DateTime<Utc>,
        ended: DateTime<Utc>,
    ) -> Self {
        let (status, output, error) = match result {
            Ok(out) => (StepExecutionStatus::Succeeded, Some(out), None),
            Err((message, out)) => (StepExecutionStatus::Failed, out, Some(message)),
        };
        Self {
            id: Uuid::now_v7(),
            execution_id,
            step_id: step_id.to_owned(),
            visit,
            attempt,
            status,
            input,
            output,
            error,
            started_at: started,
            ended_at: Some(ended),
            duration_ms: Some((ended - started).num_milliseconds().max(0)),
        }
    }
}

/// Most executions one list page holds.
pub const MAX_LIST_LIMIT: u32 = 100;

/// Which executions a list shows, newest first; `before` is the cursor (the last id of the
/// previous page: ids are UUID v7, so they sort by start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionFilter {
    pub definition_key: Option<String>,
    pub status: Option<ExecutionStatus>,
    pub trigger_type: Option<TriggerType>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub before: Option<Uuid>,
    /// 1 to [`MAX_LIST_LIMIT`].
    pub limit: u32,
}

/// One ended execution, as the daily analytics count it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedRun {
    pub started_at: DateTime<Utc>,
    pub status: ExecutionStatus,
    pub duration_ms: Option<i64>,
}

/// Per day, in day order: executions, successes, failures, average and p95 duration.
pub fn daily(runs: &[EndedRun]) -> Vec<DailyAnalytics> {
    let mut by_day: std::collections::BTreeMap<chrono::NaiveDate, Vec<&EndedRun>> =
        std::collections::BTreeMap::new();
    for r in runs {
        by_day.entry(r.started_at.date_naive()).or_default().push(r);
    }
    by_day
        .into_iter()
        .map(|(day, rs)| {
            let mut durations: Vec<i64> = rs.iter().filter_map(|r| r.duration_ms).collect();
            let avg = if durations.is_empty() {
                0.0
            } else {
                durations.iter().sum::<i64>() as f64 / durations.len() as f64
            };
            DailyAnalytics {
                day,
                executions: rs.len() as u64,
                successes: rs
                    .iter()
                    .filter(|r| r.status == ExecutionStatus::Succeeded)
                    .count() as u64,
                failures: rs
                    .iter()
                    .filter(|r| r.status == ExecutionStatus::Failed)
                    .count() as u64,
                avg_duration_ms: avg,
                p95_duration_ms: p95(&mut durations),
            }
        })
        .collect()
}

/// One definition's executions on one day (seed 004's `recordWorkflowAnalytics`).
#[derive(Debug, Clone, PartialEq)]
pub struct DailyAnalytics {
    pub day: chrono::NaiveDate,
    pub executions: u64,
    pub successes: u64,
    pub failures: u64,
    pub avg_duration_ms: f64,
    pub p95_duration_ms: f64,
}

/// The p95 of `durations` (nearest rank); 0 for none.
pub fn p95(durations: &mut [i64]) -> f64 {
    if durations.is_empty() {
        return 0.0;
    }
    durations.sort_unstable();
    let rank = (durations.len() as f64 * 0.95).ceil() as usize;
    durations[rank.clamp(1, durations.len()) - 1] as f64
}

/// Masks every value under a key that names a secret (`password`, `token`, `secret`,
/// `apiKey`, `authorization`…), recursively: what a step execution stores as its input.
pub fn mask_secrets(v: &Value) -> Value {
    const SECRET: &[&str] = &[
        "password",
        "secret",
        "token",
        "apikey",
        "api_key",
        "authorization",
        "credential",
    ];
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let lower = k.to_ascii_lowercase();
                    let secret = SECRET.iter().any(|s| lower.contains(s))
                        && lower != "credentialid"
                        && !x.is_object();
                    let x = if secret {
                        json!("***")
                    } else {
                        mask_secrets(x)
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(mask_secrets).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for t in TriggerType::ALL {
            assert_eq!(t.as_str().parse::<TriggerType>().unwrap(), *t);
        }
        for s in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(*s));
        }
        assert!("cron".parse::<TriggerType>().is_err());
    }

    #[test]
    fn status_follows_the_workflow() {
        use WorkflowStatus as W;
        assert_eq!(
            ExecutionStatus::of_workflow(W::InProgress, false),
            ExecutionStatus::Running
        );
        assert_eq!(
            ExecutionStatus::of_workflow(W::InProgress, true),
            ExecutionStatus::Waiting
        );
        assert_eq!(
            ExecutionStatus::of_workflow(W::Completed, false),
            ExecutionStatus::Succeeded
        );
        assert_eq!(
            ExecutionStatus::of_workflow(W::Failed, false),
            ExecutionStatus::Failed
        );
        assert!(ExecutionStatus::Cancelled.is_final());
    }

    #[test]
    fn p95_is_nearest_rank() {
        let mut d: Vec<i64> = (1..=100).collect();
        assert_eq!(p95(&mut d), 95.0);
        assert_eq!(p95(&mut [7]), 7.0);
        assert_eq!(p95(&mut []), 0.0);
    }

    #[test]
    fn secrets_are_masked() {
        let v = json!({"url": "x", "headers": {"Authorization": "Bearer a"}, "password": "p", "credentialId": "c"});
        let m = mask_secrets(&v);
        assert_eq!(m["headers"]["Authorization"], "***");
        assert_eq!(m["password"], "***");
        assert_eq!(m["credentialId"], "c");
        assert_eq!(m["url"], "x");
    }
}
