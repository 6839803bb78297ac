//! `/api/v1/workflows`: the seed's workflow API.
//!
//! Every request and response shape here is the type that is (de)serialized, so the OpenAPI
//! document cannot drift from the wire. Enumerations the server checks (status, priority,
//! role) are declared as enums; a value outside them is a 400 naming the field.

use axum::extract::State;
use betflow_domain::DomainError;
use betflow_domain::identity::Role;
use betflow_domain::ids::WorkflowId;
use betflow_domain::workflow::graph::StepKind;
use betflow_domain::workflow::record::{
    InstanceFilter, MAX_TAG_LEN, MAX_TAGS, StepRunStatus, TimelineEvent, normalize_tags,
};
use betflow_domain::workflow::{Decision, Priority, WorkflowStatus};
use betflow_engine::EngineError;
use betflow_engine::workflows::{NewWorkflow, WorkflowView};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::catalog::dto::NulFreeObject;
use super::dto::{ListData, PageParams};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope, NoData};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};

pub const TAG: &str = "workflows";

crate::permissions! {
    Create => ["workflows:create"];
    Update => ["workflows:update"];
    Delete => ["workflows:delete"];
    Read => ["workflows:read"];
    Execute => ["workflows:execute"];
    Approve => ["workflows:approve"];
    Reject => ["workflows:reject"];
    Cancel => ["workflows:cancel"];
    Monitor => ["workflows:monitor"];
    Audit => ["workflows:audit"];
}

crate::roles! {
    AdminOrManager => [Admin, Manager];
    AdminOrAuditor => [Admin, Auditor];
}

// String patterns in the document say what the server refuses before any rule of its own:
// NUL anywhere in a JSON body (`^[^\u0000]*$`), and any control character (Unicode Cc) in a
// query or path value, a tag, a step id or name (`[^\u0000-\u001F\u007F-\u009F]`): see
// `betflow_domain::text` and the extractors. utoipa takes only literals there, hence the
// repetition.

// ---- wire enums ------------------------------------------------------------------------
//
// The domain's enums carry no OpenAPI schema (the domain knows nothing of HTTP), so each has
// a wire twin here. The conversions are exhaustive matches both ways: a variant added on one
// side and not the other does not compile.

/// The seed's `WorkflowStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = WorkflowStatus)]
pub enum StatusDto {
    Pending,
    InProgress,
    Completed,
    Rejected,
    Cancelled,
    Failed,
}

impl StatusDto {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::InProgress,
        Self::Completed,
        Self::Rejected,
        Self::Cancelled,
        Self::Failed,
    ];
}

impl From<WorkflowStatus> for StatusDto {
    fn from(s: WorkflowStatus) -> Self {
        match s {
            WorkflowStatus::Pending => Self::Pending,
            WorkflowStatus::InProgress => Self::InProgress,
            WorkflowStatus::Completed => Self::Completed,
            WorkflowStatus::Rejected => Self::Rejected,
            WorkflowStatus::Cancelled => Self::Cancelled,
            WorkflowStatus::Failed => Self::Failed,
        }
    }
}

impl From<StatusDto> for WorkflowStatus {
    fn from(s: StatusDto) -> Self {
        match s {
            StatusDto::Pending => Self::Pending,
            StatusDto::InProgress => Self::InProgress,
            StatusDto::Completed => Self::Completed,
            StatusDto::Rejected => Self::Rejected,
            StatusDto::Cancelled => Self::Cancelled,
            StatusDto::Failed => Self::Failed,
        }
    }
}

/// The seed's priority; `medium` when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = WorkflowPriority)]
pub enum PriorityDto {
    Low,
    Medium,
    High,
    Critical,
}

impl PriorityDto {
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];
}

impl From<Priority> for PriorityDto {
    fn from(p: Priority) -> Self {
        match p {
            Priority::Low => Self::Low,
            Priority::Medium => Self::Medium,
            Priority::High => Self::High,
            Priority::Critical => Self::Critical,
        }
    }
}

impl From<PriorityDto> for Priority {
    fn from(p: PriorityDto) -> Self {
        match p {
            PriorityDto::Low => Self::Low,
            PriorityDto::Medium => Self::Medium,
            PriorityDto::High => Self::High,
            PriorityDto::Critical => Self::Critical,
        }
    }
}

/// A role, as the `assignee` filter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AssigneeRole)]
pub enum RoleDto {
    Admin,
    Manager,
    Trader,
    SeniorTrader,
    TradingManager,
    RiskManager,
    ContentManager,
    ContentTeam,
    ComplianceOfficer,
    Auditor,
    Customer,
}

impl RoleDto {
    pub const ALL: [Self; 11] = [
        Self::Admin,
        Self::Manager,
        Self::Trader,
        Self::SeniorTrader,
        Self::TradingManager,
        Self::RiskManager,
        Self::ContentManager,
        Self::ContentTeam,
        Self::ComplianceOfficer,
        Self::Auditor,
        Self::Customer,
    ];
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Admin => Self::Admin,
            RoleDto::Manager => Self::Manager,
            RoleDto::Trader => Self::Trader,
            RoleDto::SeniorTrader => Self::SeniorTrader,
            RoleDto::TradingManager => Self::TradingManager,
            RoleDto::RiskManager => Self::RiskManager,
            RoleDto::ContentManager => Self::ContentManager,
            RoleDto::ContentTeam => Self::ContentTeam,
            RoleDto::ComplianceOfficer => Self::ComplianceOfficer,
            RoleDto::Auditor => Self::Auditor,
            RoleDto::Customer => Self::Customer,
        }
    }
}

/// The kind of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = StepKind)]
pub enum StepKindDto {
    Approval,
    Task,
    Condition,
    Action,
    Delay,
}

impl From<StepKind> for StepKindDto {
    fn from(k: StepKind) -> Self {
        match k {
            StepKind::Approval => Self::Approval,
            StepKind::Task => Self::Task,
            StepKind::Condition => Self::Condition,
            StepKind::Action => Self::Action,
            StepKind::Delay => Self::Delay,
        }
    }
}

impl From<StepKindDto> for StepKind {
    fn from(k: StepKindDto) -> Self {
        match k {
            StepKindDto::Approval => Self::Approval,
            StepKindDto::Task => Self::Task,
            StepKindDto::Condition => Self::Condition,
            StepKindDto::Action => Self::Action,
            StepKindDto::Delay => Self::Delay,
        }
    }
}

/// How one visit of a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = StepRunStatus)]
pub enum StepRunStatusDto {
    Running,
    /// Left the way its kind leaves: a condition routed, an action ran, a delay ended, a
    /// task was done.
    Completed,
    Approved,
    Rejected,
    TimedOut,
    /// The workflow was cancelled while the step was current.
    Cancelled,
    /// An automated step failed (its retries exhausted).
    Failed,
}

impl From<StepRunStatus> for StepRunStatusDto {
    fn from(s: StepRunStatus) -> Self {
        match s {
            StepRunStatus::Running => Self::Running,
            StepRunStatus::Completed => Self::Completed,
            StepRunStatus::Approved => Self::Approved,
            StepRunStatus::Rejected => Self::Rejected,
            StepRunStatus::TimedOut => Self::TimedOut,
            StepRunStatus::Cancelled => Self::Cancelled,
            StepRunStatus::Failed => Self::Failed,
        }
    }
}

/// A decision recorded on a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Approved,
    Rejected,
}

impl From<Decision> for ApprovalStatus {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Approve => Self::Approved,
            Decision::Reject => Self::Rejected,
        }
    }
}

/// Reads `value` as exactly one of `all`'s wire names (no trimming, no case folding), so the
/// server accepts precisely the enum the document declares, and names the field otherwise.
pub(crate) fn wire_enum<T>(
    field: &str,
    all: &[T],
    value: Option<&str>,
) -> Result<Option<T>, DomainError>
where
    T: Serialize + serde::de::DeserializeOwned + Copy,
{
    let Some(value) = value else {
        return Ok(None);
    };
    serde_json::from_value(Value::String(value.to_owned()))
        .map(Some)
        .map_err(|_| {
            let names: Vec<String> = all
                .iter()
                .filter_map(|v| serde_json::to_value(v).ok())
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            DomainError::invalid(field, format!("must be one of {}", names.join(", ")))
        })
}

/// Tags as a request gives them: at most [`MAX_TAGS`], each 1 to [`MAX_TAG_LEN`] characters,
/// not only whitespace and without control characters, counted as sent (before trimming and
/// dropping repeats), so the server refuses with a 400 exactly what the schema forbids. The
/// domain then trims and deduplicates them.
pub(crate) fn check_tags(field: &str, tags: &[String]) -> Result<(), DomainError> {
    if tags.len() > MAX_TAGS {
        return Err(DomainError::invalid(
            field,
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    if let Some(v) = tags
        .iter()
        .find_map(|t| betflow_domain::text::check_name(field, t).err())
    {
        return Err(DomainError::Validation(vec![v]));
    }
    if tags
        .iter()
        .any(|t| t.trim().is_empty() || t.chars().count() > MAX_TAG_LEN)
    {
        return Err(DomainError::invalid(
            field,
            format!("each tag must be 1 to {MAX_TAG_LEN} characters, not only whitespace"),
        ));
    }
    Ok(())
}

/// Maps a refusal of the engine's validation to its status: 422 (still `VALIDATION_ERROR`,
/// with the same `details`) when every violation is of a rule the document cannot state,
/// which `semantic` tells by field, and 400 as usual otherwise. The convention (DESIGN.md):
/// 400 for a request that breaks what its schema states, 422 for a schema-valid request that
/// a business rule refuses, such as a workflow's `data` against its definition's data schema
/// or a definition's step graph.
pub(crate) fn refused_by_rules(e: EngineError, semantic: impl Fn(&str) -> bool) -> ApiError {
    let business = matches!(&e, EngineError::Invalid(DomainError::Validation(v))
        if !v.is_empty() && v.iter().all(|v| semantic(&v.field)));
    let mut err = ApiError::from(e);
    if business {
        err.status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    err
}

/// A workflow's `data` must be a JSON object: what the schema states, so a 400 (after it,
/// every refusal of the data is the definition's rules, a 422).
fn check_data_object(data: &Value) -> Result<(), DomainError> {
    if data.is_object() {
        Ok(())
    } else {
        Err(DomainError::invalid("data", "must be a JSON object"))
    }
}

// ---- requests --------------------------------------------------------------------------

/// Unknown fields are refused (400).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "workflowType": "line_change_approval",
    "data": {"lineId": "line-1", "eventName": "Arsenal v Chelsea", "oldOdds": 1.85,
             "newOdds": 1.95, "marketType": "match_winner", "financialImpact": 25000,
             "requestedBy": "live-betting-system"},
    "priority": "high",
    "tags": ["in-play"]
}))]
pub struct CreateWorkflowRequest {
    /// The key of an active workflow definition, e.g. `line_change_approval`; another value
    /// is a 422 naming `workflowType`.
    #[schema(
        example = "content_publishing",
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub workflow_type: String,
    /// Checked against the definition's data schema (a 422 lists every violation).
    #[schema(value_type = NulFreeObject)]
    pub data: Value,
    /// `medium` when not given.
    #[schema(value_type = Option<PriorityDto>)]
    pub priority: Option<String>,
    /// `false` leaves the workflow pending until `POST .../start`. Default `true`.
    pub start: Option<bool>,
    /// Tags besides the definition's own: at most 20, each 1 to 50 characters; with the
    /// definition's (repeats dropped) at most 20 in all.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<TagValue>)]
    pub tags: Vec<String>,
}

/// One tag: 1 to 50 characters, not only whitespace, no control character.
// Only a schema: tags are read as strings and checked by `check_tags` and the domain.
#[derive(ToSchema)]
#[schema(
    as = Tag,
    min_length = 1,
    max_length = 50,
    pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
)]
pub struct TagValue(#[allow(dead_code)] String);

/// Unknown fields are refused (400). An empty object changes nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWorkflowRequest {
    /// Replaces the data; checked against the definition's data schema. `null` or absent
    /// leaves it.
    #[schema(value_type = Option<NulFreeObject>)]
    pub data: Option<Value>,
    /// `null` or absent leaves it.
    #[schema(value_type = Option<PriorityDto>)]
    pub priority: Option<String>,
}

/// Unknown fields are refused (400).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkApproveRequest {
    /// 1 to 1000 workflows; the same id named twice is decided twice (the second fails).
    #[schema(min_items = 1, max_items = 1000)]
    pub workflow_ids: Vec<Uuid>,
    #[schema(pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    pub comments: Option<String>,
}

/// One id's outcome in a bulk action.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItem {
    pub id: Uuid,
    pub success: bool,
    /// Why this one failed; absent when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<crate::error::ErrorBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub successful: usize,
    pub failed: usize,
    pub total: usize,
    /// In the order the ids were given.
    pub results: Vec<BulkItem>,
}

/// The body is optional: no body, an empty body, `null` and `{}` all mean no comment.
/// Unknown fields are refused (400).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveRequest {
    #[schema(pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    pub comments: Option<String>,
    /// If given, must be the current step (409 `INVALID_TRANSITION` otherwise): guards
    /// against approving a step that moved on.
    #[schema(pattern = r"^[^\u0000]*$")]
    pub step_id: Option<String>,
}

/// The body is optional. Unknown fields are refused (400).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectRequest {
    #[schema(pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    pub comments: Option<String>,
    #[schema(pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    pub reason: Option<String>,
}

/// The body is optional. Unknown fields are refused (400).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelRequest {
    #[schema(pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    pub reason: Option<String>,
}

// ---- responses -------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDto {
    pub step_id: String,
    pub approver: Uuid,
    pub status: ApprovalStatus,
    pub comments: Option<String>,
    pub decided_at: DateTime<Utc>,
}

/// The seed's `formatWorkflowResponse`, plus priority, version, overdue and dueAt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowResponse {
    pub id: Uuid,
    /// The definition key.
    pub workflow_id: String,
    pub status: StatusDto,
    pub current_step: Option<String>,
    pub current_step_name: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The workflow's data, as its definition's data schema shapes it.
    #[schema(value_type = Object)]
    pub data: Value,
    /// The definition's tags and those given at creation.
    pub tags: Vec<String>,
    /// 0 to 100, from completed steps.
    #[schema(maximum = 100)]
    pub progress: u8,
    /// Now plus the median decision time of every step left on the approval path (this
    /// definition's last 90 days); null until each of those steps has history.
    pub estimated_completion: Option<DateTime<Utc>>,
    pub approvals: Vec<ApprovalDto>,
    pub priority: PriorityDto,
    /// The definition version the workflow runs on.
    #[schema(minimum = 1)]
    pub version: u32,
    pub overdue: bool,
    pub due_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<WorkflowView> for WorkflowResponse {
    fn from(v: WorkflowView) -> Self {
        let w = v.instance;
        Self {
            id: w.id,
            workflow_id: w.workflow_type,
            status: w.status.into(),
            current_step: w.current_step,
            current_step_name: v.step_name,
            created_by: w.created_by,
            created_at: w.created_at,
            updated_at: w.updated_at,
            data: w.data,
            tags: w.tags,
            progress: v.progress,
            estimated_completion: v.estimated_completion,
            approvals: v
                .approvals
                .into_iter()
                .map(|a| ApprovalDto {
                    step_id: a.step_id,
                    approver: a.approver_id,
                    status: a.decision.into(),
                    comments: a.comments,
                    decided_at: a.decided_at,
                })
                .collect(),
            priority: w.priority.into(),
            version: w.version,
            overdue: v.overdue,
            due_at: w.due_at,
            started_at: w.started_at,
            completed_at: w.completed_at,
        }
    }
}

/// The filters of `GET /workflows` (paged by [`PageParams`]). Their rules are those of the
/// export's [`Filters`].
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListFilters {
    #[param(value_type = Option<StatusDto>)]
    pub status: Option<String>,
    /// Definition key.
    #[serde(rename = "type")]
    #[param(rename = "type", pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub workflow_type: Option<String>,
    #[param(value_type = Option<PriorityDto>)]
    pub priority: Option<String>,
    /// Created at or after (RFC 3339); not after `endDate`.
    pub start_date: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub end_date: Option<DateTime<Utc>>,
    /// Text anywhere in the workflow's data, case-insensitive.
    #[param(pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub search: Option<String>,
    /// A role: open workflows whose current step that role may act on.
    #[param(value_type = Option<RoleDto>)]
    pub assignee: Option<String>,
    /// Comma-separated: workflows carrying every one of these tags (at most 20 items of at
    /// most 50 characters; items empty or only whitespace are skipped).
    #[param(
        pattern = r"^[^,\u0000-\u001F\u007F-\u009F]{0,50}(?:,[^,\u0000-\u001F\u007F-\u009F]{0,50}){0,19}$"
    )]
    pub tags: Option<String>,
}

/// The workflow filters of the export. Unknown fields are refused (400).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filters {
    #[schema(value_type = Option<StatusDto>)]
    pub status: Option<String>,
    /// Definition key.
    #[serde(rename = "type")]
    #[schema(pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub workflow_type: Option<String>,
    #[schema(value_type = Option<PriorityDto>)]
    pub priority: Option<String>,
    /// Created at or after (RFC 3339); not after `endDate` (400).
    pub start_date: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub end_date: Option<DateTime<Utc>>,
    /// Text anywhere in the workflow's data, case-insensitive.
    #[schema(pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub search: Option<String>,
    /// A role: open workflows whose current step that role may act on.
    #[schema(value_type = Option<RoleDto>)]
    pub assignee: Option<String>,
    /// Workflows carrying every one of these tags.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<TagValue>)]
    pub tags: Vec<String>,
}

impl Filters {
    pub fn into_filter(
        self,
        page: betflow_domain::PageRequest,
    ) -> Result<InstanceFilter, DomainError> {
        check_tags("tags", &self.tags)?;
        Ok(InstanceFilter {
            status: wire_enum("status", &StatusDto::ALL, self.status.as_deref())?
                .map(WorkflowStatus::from),
            workflow_type: self.workflow_type,
            priority: wire_enum("priority", &PriorityDto::ALL, self.priority.as_deref())?
                .map(Priority::from),
            start_date: self.start_date,
            end_date: self.end_date,
            created_by: None,
            search: self.search,
            assignee_role: wire_enum("assignee", &RoleDto::ALL, self.assignee.as_deref())?
                .map(|r| Role::from(r).as_str().to_owned()),
            tags: normalize_tags(&self.tags).map_err(|e| DomainError::invalid("tags", e))?,
            page,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    pub id: Uuid,
    pub status: StatusDto,
    pub current_step: Option<String>,
    #[schema(maximum = 100)]
    pub progress: u8,
    pub overdue: bool,
    pub due_at: Option<DateTime<Utc>>,
    /// Every visit of a step so far (seed 003's step runs), oldest first.
    pub steps: Vec<StepRunDto>,
}

/// One visit of a step.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepRunDto {
    pub step_id: String,
    /// 1 for the first visit, more when an edge leads back to the step.
    #[schema(minimum = 1)]
    pub visit: u32,
    #[serde(rename = "type")]
    pub kind: StepKindDto,
    pub status: StepRunStatusDto,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Milliseconds from start to end; `null` while running.
    #[schema(minimum = 0)]
    pub duration_ms: Option<i64>,
}

impl From<betflow_domain::workflow::record::StepRun> for StepRunDto {
    fn from(r: betflow_domain::workflow::record::StepRun) -> Self {
        Self {
            duration_ms: r.ended_at.map(|e| (e - r.started_at).num_milliseconds()),
            kind: r.kind.into(),
            status: r.status.into(),
            step_id: r.step_id,
            visit: r.visit,
            started_at: r.started_at,
            ended_at: r.ended_at,
        }
    }
}

/// One entry of a workflow's timeline.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineDto {
    pub id: Uuid,
    /// `workflow.created`, `step.approved`, ...
    pub event_type: String,
    pub step_id: Option<String>,
    pub user_id: Option<Uuid>,
    /// The event's details; their fields depend on `eventType`.
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    pub created_at: DateTime<Utc>,
}

impl From<TimelineEvent> for TimelineDto {
    fn from(e: TimelineEvent) -> Self {
        Self {
            id: e.id,
            event_type: e.event_type,
            step_id: e.step_id,
            user_id: e.user_id,
            data: e.data,
            created_at: e.created_at,
        }
    }
}

/// Reads the `tags` query value: items split on `,`, at most [`MAX_TAGS`] of at most
/// [`MAX_TAG_LEN`] characters (as its documented pattern says); empty items are skipped.
fn query_tags(tags: Option<&str>) -> Result<Vec<String>, DomainError> {
    let Some(tags) = tags else {
        return Ok(vec![]);
    };
    let items: Vec<&str> = tags.split(',').collect();
    if items.len() > MAX_TAGS || items.iter().any(|t| t.chars().count() > MAX_TAG_LEN) {
        return Err(DomainError::invalid(
            "tags",
            format!("at most {MAX_TAGS} comma-separated tags of at most {MAX_TAG_LEN} characters"),
        ));
    }
    Ok(items
        .into_iter()
        .filter(|t| !t.trim().is_empty())
        .map(str::to_owned)
        .collect())
}

#[utoipa::path(post, path = "/api/v1/workflows", tag = TAG, summary = "Create (and start) a workflow",
    description = "Requires `workflows:create`. `data` is checked against the definition's \
                   data schema; a 422 lists every violation.",
    request_body = CreateWorkflowRequest,
    responses((status = 201, body = Envelope<WorkflowResponse>,
        description = "Created; `Location` is the new workflow's URL",
        headers(("Location" = String, description = "`/api/v1/workflows/{id}`")),
        // The reads and actions under /workflows/{id} are linked by `ApiConventions`; a
        // task's id is its workflow's.
        links(("tasks_complete" = (operation_id = "tasks_complete",
            parameters(("id" = "$response.body#/data/id")),
            description = "Complete the workflow's open task step")))),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR, `details` naming \
            each violation: `workflowType` names no active definition, `data` breaks the \
            definition's data schema or its domain rules, or the tags with the definition's \
            exceed 20")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Create>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<CreateWorkflowRequest>,
) -> Result<Created<WorkflowResponse>, ApiError> {
    check_tags("tags", &body.tags)?;
    check_data_object(&body.data)?;
    let priority = wire_enum("priority", &PriorityDto::ALL, body.priority.as_deref())?;
    let new = NewWorkflow {
        workflow_type: body.workflow_type,
        data: body.data,
        priority: priority.map(Priority::from).unwrap_or_default(),
        start: body.start.unwrap_or(true),
        tags: body.tags,
    };
    // Past the checks above, every refusal is a rule of the definition (its key exists, its
    // data schema, its tags with these, its domain rules): 422.
    let view = state
        .engine
        .workflows()
        .create(&principal, new, &actor)
        .await
        .map_err(|e| refused_by_rules(e, |_| true))?;
    let w = WorkflowResponse::from(view);
    let location = format!("/api/v1/workflows/{}", w.id);
    Ok(Created::new(
        location,
        ApiResponse::created(w).message("Workflow created successfully"),
    ))
}

/// A 201 with the `Location` of what it created.
pub struct Created<T> {
    location: String,
    response: ApiResponse<T>,
}

impl<T> Created<T> {
    pub fn new(location: String, response: ApiResponse<T>) -> Self {
        Self { location, response }
    }
}

impl<T: Serialize> axum::response::IntoResponse for Created<T> {
    fn into_response(self) -> axum::response::Response {
        let mut res = self.response.into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(&self.location) {
            res.headers_mut().insert(axum::http::header::LOCATION, v);
        }
        res
    }
}

#[utoipa::path(get, path = "/api/v1/workflows", tag = TAG, summary = "List workflows",
    description = "Requires `workflows:read`. Newest first. 400 when `startDate` is after \
                   `endDate`.",
    params(PageParams, ListFilters),
    responses((status = 200, body = Envelope<ListData<WorkflowResponse>>)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(paging): ApiQuery<PageParams>,
    ApiQuery(q): ApiQuery<ListFilters>,
) -> Result<ApiResponse<ListData<WorkflowResponse>>, ApiError> {
    let filters = Filters {
        status: q.status,
        workflow_type: q.workflow_type,
        priority: q.priority,
        start_date: q.start_date,
        end_date: q.end_date,
        search: q.search,
        assignee: q.assignee,
        tags: query_tags(q.tags.as_deref())?,
    };
    let filter = filters.into_filter(paging.request()?)?;
    let page = state.engine.workflows().list(&filter).await?;
    Ok(
        ApiResponse::ok(ListData::from_page(page, WorkflowResponse::from))
            .message("Workflows retrieved successfully"),
    )
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = TAG, summary = "Get a workflow",
    description = "Requires `workflows:read`.", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<WorkflowResponse>)))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    Ok(ApiResponse::ok(
        state
            .engine
            .workflows()
            .get(WorkflowId::from(id))
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/start", tag = TAG, summary = "Start a pending workflow",
    description = "Requires `workflows:execute`. Takes no body.",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<WorkflowResponse>),
        (status = 409, body = ErrorEnvelope, description = "INVALID_TRANSITION: the workflow is not pending")))]
pub async fn start(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Execute>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let view = state
        .engine
        .workflows()
        .start(&principal, WorkflowId::from(id), &actor)
        .await?;
    Ok(ApiResponse::ok(view.into()).message("Workflow started"))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/approve", tag = TAG, summary = "Approve the current step",
    description = "Requires `workflows:approve` and one of the step's assignee roles. On a task \
                   step this completes the task. The body is optional.",
    params(("id" = Uuid, Path)), request_body = Option<ApproveRequest>,
    responses((status = 200, body = Envelope<WorkflowResponse>),
        (status = 403, body = ErrorEnvelope, description = "SEGREGATION_OF_DUTIES: the four-eyes \
            rule refuses this user (the creator, or the decider of another step); NOT_ASSIGNEE: \
            the caller's role is not an assignee of the step; INSUFFICIENT_PERMISSIONS"),
        (status = 409, body = ErrorEnvelope, description = "INVALID_TRANSITION: the workflow is \
            not in progress, `stepId` is not the current step, or the caller already decided it")))]
pub async fn approve(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Approve>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<Option<ApproveRequest>>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let body = body.unwrap_or_default();
    let view = state
        .engine
        .workflows()
        .approve(
            &principal,
            WorkflowId::from(id),
            body.step_id.as_deref(),
            body.comments,
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(view.into()).message("Workflow step approved successfully"))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/reject", tag = TAG, summary = "Reject the current step",
    description = "Requires `workflows:reject` and one of the step's assignee roles. Without a \
                   `rejected` edge in the graph this rejects the workflow. The body is optional.",
    params(("id" = Uuid, Path)), request_body = Option<RejectRequest>,
    responses((status = 200, body = Envelope<WorkflowResponse>),
        (status = 403, body = ErrorEnvelope, description = "SEGREGATION_OF_DUTIES, NOT_ASSIGNEE \
            or INSUFFICIENT_PERMISSIONS, as for approve"),
        (status = 409, body = ErrorEnvelope, description = "INVALID_TRANSITION: the workflow is \
            not in progress, or the caller already decided the step")))]
pub async fn reject(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Reject>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<Option<RejectRequest>>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let body = body.unwrap_or_default();
    let view = state
        .engine
        .workflows()
        .reject(
            &principal,
            WorkflowId::from(id),
            body.comments,
            body.reason,
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(view.into()).message("Workflow step rejected"))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/cancel", tag = TAG, summary = "Cancel a workflow",
    description = "Requires `workflows:cancel`. The body is optional.",
    params(("id" = Uuid, Path)), request_body = Option<CancelRequest>,
    responses((status = 200, body = Envelope<WorkflowResponse>),
        (status = 409, body = ErrorEnvelope, description = "INVALID_TRANSITION: the workflow has \
            already finished")))]
pub async fn cancel(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Cancel>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<Option<CancelRequest>>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let body = body.unwrap_or_default();
    let view = state
        .engine
        .workflows()
        .cancel(&principal, WorkflowId::from(id), body.reason, &actor)
        .await?;
    Ok(ApiResponse::ok(view.into()).message("Workflow cancelled"))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/status", tag = TAG, summary = "Workflow status",
    description = "Requires `workflows:monitor`. With every step run so far: which step, when \
                   it started and ended, and how (approved, rejected, timed_out, ...).", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<StatusResponse>)))]
pub async fn status(
    State(state): State<AppState>,
    _auth: Authorized<Monitor>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<StatusResponse>, ApiError> {
    let id = WorkflowId::from(id);
    let v = state.engine.workflows().get(id).await?;
    let steps = state.engine.workflows().step_runs(id).await?;
    Ok(ApiResponse::ok(StatusResponse {
        id: v.instance.id,
        status: v.instance.status.into(),
        current_step: v.instance.current_step,
        progress: v.progress,
        overdue: v.overdue,
        due_at: v.instance.due_at,
        steps: steps.into_iter().map(StepRunDto::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/history", tag = TAG, summary = "Workflow timeline",
    description = "Requires `workflows:audit`. Oldest first.", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<Vec<TimelineDto>>)))]
pub async fn history(
    State(state): State<AppState>,
    _auth: Authorized<Audit>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Vec<TimelineDto>>, ApiError> {
    let events = state
        .engine
        .workflows()
        .history(WorkflowId::from(id))
        .await?;
    Ok(ApiResponse::ok(
        events.into_iter().map(TimelineDto::from).collect(),
    ))
}

#[utoipa::path(put, path = "/api/v1/workflows/{id}", tag = TAG, summary = "Change data or priority",
    description = "Requires `workflows:update`. `data` is checked against the definition's \
                   data schema (422).",
    params(("id" = Uuid, Path)), request_body = UpdateWorkflowRequest,
    responses((status = 200, body = Envelope<WorkflowResponse>),
        (status = 409, body = ErrorEnvelope, description = "INVALID_TRANSITION: the workflow has \
            finished and can no longer be edited"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR, `details` naming \
            each violation: `data` breaks the definition's data schema or its domain rules")))]
pub async fn update(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Update>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateWorkflowRequest>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let priority =
        wire_enum("priority", &PriorityDto::ALL, body.priority.as_deref())?.map(Priority::from);
    if let Some(d) = &body.data {
        check_data_object(d)?;
    }
    let view = state
        .engine
        .workflows()
        .update(
            &principal,
            WorkflowId::from(id),
            body.data,
            priority,
            &actor,
        )
        .await
        .map_err(|e| refused_by_rules(e, |_| true))?;
    Ok(ApiResponse::ok(view.into()).message("Workflow updated"))
}

#[utoipa::path(delete, path = "/api/v1/workflows/{id}", tag = TAG, summary = "Delete a workflow",
    description = "Requires role admin or manager, and `workflows:delete`. The workflow is \
                   hidden from reads (404 after); its history and audit rows are kept.",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<NoData>, description = "Deleted; `data` is null")))]
pub async fn delete(
    State(state): State<AppState>,
    _role: crate::auth::WithRole<AdminOrManager>,
    Authorized(principal, _): Authorized<Delete>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<NoData>, ApiError> {
    state
        .engine
        .workflows()
        .delete(&principal, WorkflowId::from(id), &actor)
        .await?;
    Ok(ApiResponse::ok(NoData).message("Workflow deleted"))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/audit", tag = TAG, summary = "Workflow audit trail",
    description = "Requires role admin or auditor, and `workflows:audit`. Oldest first.",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<Vec<super::audit::AuditEntryDto>>)))]
pub async fn audit(
    State(state): State<AppState>,
    _role: crate::auth::WithRole<AdminOrAuditor>,
    _auth: Authorized<Audit>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Vec<super::audit::AuditEntryDto>>, ApiError> {
    let rows = state
        .engine
        .workflows()
        .audit_trail(WorkflowId::from(id))
        .await?;
    Ok(ApiResponse::ok(rows.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/workflows/bulk/approve", tag = TAG, summary = "Approve many workflows",
    description = "Requires `workflows:approve`. Each workflow is approved in its own \
                   transaction; one failure does not undo the others, and each id's outcome \
                   (with its error code) is in `results`.",
    request_body = BulkApproveRequest,
    responses((status = 200, body = Envelope<BulkResult>)))]
pub async fn bulk_approve(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Approve>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<BulkApproveRequest>,
) -> Result<ApiResponse<BulkResult>, ApiError> {
    let outcomes = state
        .engine
        .workflows()
        .bulk_approve(
            &principal,
            &body
                .workflow_ids
                .iter()
                .copied()
                .map(WorkflowId::from)
                .collect::<Vec<_>>(),
            body.comments,
            &actor,
        )
        .await?;
    let results: Vec<BulkItem> = outcomes
        .into_iter()
        .map(|(id, r)| match r {
            Ok(_) => BulkItem {
                id: id.uuid(),
                success: true,
                error: None,
            },
            Err(e) => BulkItem {
                id: id.uuid(),
                success: false,
                error: Some(ApiError::from(e).envelope().error),
            },
        })
        .collect();
    let successful = results.iter().filter(|r| r.success).count();
    let total = results.len();
    let failed = total - successful;
    let message = format!("Bulk operation completed: {successful} successful, {failed} failed");
    Ok(ApiResponse::ok(BulkResult {
        successful,
        failed,
        total,
        results,
    })
    .message(message))
}

/// The workflow instance routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(create, list))
        .routes(utoipa_axum::routes!(get, update, delete))
        .routes(utoipa_axum::routes!(audit))
        .routes(utoipa_axum::routes!(bulk_approve))
        .routes(utoipa_axum::routes!(start))
        .routes(utoipa_axum::routes!(approve))
        .routes(utoipa_axum::routes!(reject))
        .routes(utoipa_axum::routes!(cancel))
        .routes(utoipa_axum::routes!(status))
        .routes(utoipa_axum::routes!(history))
}
