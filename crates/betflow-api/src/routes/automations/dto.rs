//! Executions, their step attempts, analytics and the registries on the wire.

use betflow_domain::automation::execution::{
    DailyAnalytics, Execution, ExecutionStatus, StepExecution, StepExecutionStatus, TriggerType,
};
use betflow_engine::automations::ExecutionDetail;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// What started a run; `test` renders external actions instead of performing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TriggerType)]
pub enum TriggerTypeDto {
    Manual,
    Event,
    Schedule,
    Webhook,
    Test,
}

impl From<TriggerType> for TriggerTypeDto {
    fn from(t: TriggerType) -> Self {
        match t {
            TriggerType::Manual => Self::Manual,
            TriggerType::Event => Self::Event,
            TriggerType::Schedule => Self::Schedule,
            TriggerType::Webhook => Self::Webhook,
            TriggerType::Test => Self::Test,
        }
    }
}

impl From<TriggerTypeDto> for TriggerType {
    fn from(t: TriggerTypeDto) -> Self {
        match t {
            TriggerTypeDto::Manual => Self::Manual,
            TriggerTypeDto::Event => Self::Event,
            TriggerTypeDto::Schedule => Self::Schedule,
            TriggerTypeDto::Webhook => Self::Webhook,
            TriggerTypeDto::Test => Self::Test,
        }
    }
}

/// An execution's status: `waiting` while its current step waits on people or on something
/// an action started; `succeeded`, `failed` and `cancelled` are final (a failed one may be
/// retried from its failed step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ExecutionStatus)]
pub enum ExecutionStatusDto {
    Pending,
    Running,
    Waiting,
    Succeeded,
    Failed,
    Cancelled,
}

impl From<ExecutionStatus> for ExecutionStatusDto {
    fn from(s: ExecutionStatus) -> Self {
        match s {
            ExecutionStatus::Pending => Self::Pending,
            ExecutionStatus::Running => Self::Running,
            ExecutionStatus::Waiting => Self::Waiting,
            ExecutionStatus::Succeeded => Self::Succeeded,
            ExecutionStatus::Failed => Self::Failed,
            ExecutionStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<ExecutionStatusDto> for ExecutionStatus {
    fn from(s: ExecutionStatusDto) -> Self {
        match s {
            ExecutionStatusDto::Pending => Self::Pending,
            ExecutionStatusDto::Running => Self::Running,
            ExecutionStatusDto::Waiting => Self::Waiting,
            ExecutionStatusDto::Succeeded => Self::Succeeded,
            ExecutionStatusDto::Failed => Self::Failed,
            ExecutionStatusDto::Cancelled => Self::Cancelled,
        }
    }
}

/// One attempt's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = StepExecutionStatus)]
pub enum StepExecutionStatusDto {
    Running,
    Succeeded,
    Failed,
}

impl From<StepExecutionStatus> for StepExecutionStatusDto {
    fn from(s: StepExecutionStatus) -> Self {
        match s {
            StepExecutionStatus::Running => Self::Running,
            StepExecutionStatus::Succeeded => Self::Succeeded,
            StepExecutionStatus::Failed => Self::Failed,
        }
    }
}

/// Why an execution failed, and at which step.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExecutionErrorDto {
    pub message: String,
    pub step: Option<String>,
}

/// An execution (a workflow instance started by the execution API or a trigger).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Execution)]
pub struct ExecutionDto {
    /// Also the workflow instance's id.
    pub id: Uuid,
    pub definition_key: String,
    pub version: u32,
    pub trigger_type: TriggerTypeDto,
    pub trigger_id: Option<Uuid>,
    pub trigger_event_id: Option<String>,
    #[schema(value_type = Object)]
    pub input: Value,
    /// The final data, once succeeded.
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub error: Option<ExecutionErrorDto>,
    pub status: ExecutionStatusDto,
    pub created_by: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

impl From<Execution> for ExecutionDto {
    fn from(e: Execution) -> Self {
        Self {
            id: e.id,
            definition_key: e.definition_key,
            version: e.version,
            trigger_type: e.trigger_type.into(),
            trigger_id: e.trigger_id,
            trigger_event_id: e.trigger_event_id,
            input: e.input,
            output: e.output,
            error: e.error.map(|x| ExecutionErrorDto {
                message: x.message,
                step: x.step,
            }),
            status: e.status.into(),
            created_by: e.created_by,
            started_at: e.started_at,
            ended_at: e.ended_at,
            duration_ms: e.duration_ms,
        }
    }
}

/// One attempt of an action step.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = StepExecution)]
pub struct StepExecutionDto {
    pub step_id: String,
    /// Which visit of the step (a loop or a retry from the failed step visits it again).
    pub visit: u32,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub status: StepExecutionStatusDto,
    /// The rendered params, secrets masked.
    #[schema(value_type = Object)]
    pub input: Value,
    /// What the action returned (in a test run, what it would have sent).
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

impl From<StepExecution> for StepExecutionDto {
    fn from(s: StepExecution) -> Self {
        Self {
            step_id: s.step_id,
            visit: s.visit,
            attempt: s.attempt,
            status: s.status.into(),
            input: s.input,
            output: s.output,
            error: s.error,
            started_at: s.started_at,
            ended_at: s.ended_at,
            duration_ms: s.duration_ms,
        }
    }
}

/// An execution with every attempt of its action steps.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetailDto {
    #[serde(flatten)]
    pub execution: ExecutionDto,
    pub steps: Vec<StepExecutionDto>,
}

impl From<ExecutionDetail> for ExecutionDetailDto {
    fn from(d: ExecutionDetail) -> Self {
        Self {
            execution: d.execution.into(),
            steps: d.steps.into_iter().map(Into::into).collect(),
        }
    }
}

/// A page of executions, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionPage {
    pub items: Vec<ExecutionDto>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<Uuid>,
}

/// `202`: the run started (or, for a trigger occurrence seen before, the run it started).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStarted {
    pub execution_id: Uuid,
    /// Present for a test run: the run as far as it went, with each step's rendered input
    /// and, for external actions, what would have been sent.
    pub execution: Option<ExecutionDetailDto>,
}

/// One day of a definition's executions (seed 004's `recordWorkflowAnalytics`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyAnalyticsDto {
    pub day: NaiveDate,
    pub executions: u64,
    pub successes: u64,
    pub failures: u64,
    pub avg_duration_ms: f64,
    pub p95_duration_ms: f64,
}

impl From<DailyAnalytics> for DailyAnalyticsDto {
    fn from(d: DailyAnalytics) -> Self {
        Self {
            day: d.day,
            executions: d.executions,
            successes: d.successes,
            failures: d.failures,
            avg_duration_ms: d.avg_duration_ms,
            p95_duration_ms: d.p95_duration_ms,
        }
    }
}

/// A definition's daily execution analytics, oldest day first (days without runs left out).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionAnalytics {
    pub definition_key: String,
    pub days: Vec<DailyAnalyticsDto>,
}

/// One registered action.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionSpecDto {
    /// The step's `action` value.
    pub key: String,
    pub name: String,
    pub description: String,
    /// JSON Schema of the step's `params` (after expressions are rendered).
    #[schema(value_type = Object)]
    pub config_schema: Value,
    /// JSON Schema of `steps.<id>.output`.
    #[schema(value_type = Object)]
    pub output_schema: Value,
    /// The credential type `params.credentialId` must name, if any.
    pub credential_type: Option<String>,
    /// Reaches outside the process: a test run renders it instead.
    pub external: bool,
}

/// One trigger kind.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerKindDto {
    pub kind: String,
    pub description: String,
    /// JSON Schema of the trigger's configuration.
    #[schema(value_type = Object)]
    pub config_schema: Value,
}
