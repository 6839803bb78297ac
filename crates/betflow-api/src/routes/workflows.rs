//! `/api/v1/workflows`: the seed's workflow API.

use axum::extract::State;
use betflow_domain::DomainError;
use betflow_domain::workflow::record::{InstanceFilter, TimelineEvent, normalize_tags};
use betflow_domain::workflow::{Decision, Priority, WorkflowStatus};
use betflow_engine::workflows::{NewWorkflow, WorkflowView};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::ListData;
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::ApiResponse;
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWorkflowRequest {
    /// The definition key, e.g. `line_change_approval`.
    #[schema(example = "content_publishing")]
    pub workflow_type: String,
    /// Checked against the definition's data schema.
    #[schema(value_type = Object)]
    pub data: Value,
    /// `low`, `medium` (default), `high` or `critical`.
    pub priority: Option<String>,
    /// `false` leaves the workflow pending until `POST .../start`. Default `true`.
    pub start: Option<bool>,
    /// Tags besides the definition's own (at most 20 in all, each 1 to 50 characters).
    #[serde(default)]
    pub tags: Vec<String>,
}

crate::roles! {
    AdminOrManager => [Admin, Manager];
    AdminOrAuditor => [Admin, Auditor];
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWorkflowRequest {
    /// Replaces the data; checked against the definition's data schema.
    #[schema(value_type = Object)]
    pub data: Option<Value>,
    pub priority: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkApproveRequest {
    /// At most 1000.
    pub workflow_ids: Vec<Uuid>,
    pub comments: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItem {
    pub id: Uuid,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub successful: usize,
    pub failed: usize,
    pub total: usize,
    pub results: Vec<BulkItem>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveRequest {
    pub comments: Option<String>,
    /// If given, must be the current step (guards against approving a step that moved on).
    pub step_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectRequest {
    pub comments: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelRequest {
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDto {
    pub step_id: String,
    pub approver: Uuid,
    /// `approved` or `rejected`.
    pub status: &'static str,
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
    pub status: String,
    pub current_step: Option<String>,
    pub current_step_name: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub data: Value,
    /// The definition's tags and those given at creation.
    pub tags: Vec<String>,
    /// 0 to 100, from completed steps.
    pub progress: u8,
    /// Now plus the median decision time of every step left on the approval path (this
    /// definition's last 90 days); null until each of those steps has history.
    pub estimated_completion: Option<DateTime<Utc>>,
    pub approvals: Vec<ApprovalDto>,
    pub priority: String,
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
            status: w.status.as_str().to_owned(),
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
                    status: match a.decision {
                        Decision::Approve => "approved",
                        Decision::Reject => "rejected",
                    },
                    comments: a.comments,
                    decided_at: a.decided_at,
                })
                .collect(),
            priority: w.priority.as_str().to_owned(),
            version: w.version,
            overdue: v.overdue,
            due_at: w.due_at,
            started_at: w.started_at,
            completed_at: w.completed_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub page: Option<u32>,
    /// At most 100.
    pub limit: Option<u32>,
    pub status: Option<String>,
    /// Definition key.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub workflow_type: Option<String>,
    pub priority: Option<String>,
    /// Created at or after (RFC 3339).
    pub start_date: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub end_date: Option<DateTime<Utc>>,
    /// Text anywhere in the workflow's data, case-insensitive.
    pub search: Option<String>,
    /// A role: open workflows whose current step that role may act on.
    pub assignee: Option<String>,
    /// Comma-separated: workflows carrying every one of these tags.
    pub tags: Option<String>,
}

/// The workflow filters shared by listing and export.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Filters {
    pub status: Option<String>,
    /// Definition key.
    #[serde(rename = "type")]
    pub workflow_type: Option<String>,
    pub priority: Option<String>,
    /// Created at or after (RFC 3339).
    pub start_date: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub end_date: Option<DateTime<Utc>>,
    /// Text anywhere in the workflow's data, case-insensitive.
    pub search: Option<String>,
    /// A role: open workflows whose current step that role may act on.
    pub assignee: Option<String>,
    /// Workflows carrying every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Filters {
    pub fn into_filter(
        self,
        page: betflow_domain::PageRequest,
    ) -> Result<InstanceFilter, DomainError> {
        Ok(InstanceFilter {
            status: parse::<WorkflowStatus>(self.status.as_deref())?,
            workflow_type: self.workflow_type,
            priority: parse::<Priority>(self.priority.as_deref())?,
            start_date: self.start_date,
            end_date: self.end_date,
            created_by: None,
            search: self.search,
            assignee_role: parse::<betflow_domain::identity::Role>(self.assignee.as_deref())?
                .map(|r| r.as_str().to_owned()),
            tags: normalize_tags(&self.tags).map_err(|e| DomainError::invalid("tags", e))?,
            page,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    pub id: Uuid,
    pub status: String,
    pub current_step: Option<String>,
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
    pub visit: u32,
    /// approval, task, condition, action or delay.
    #[serde(rename = "type")]
    pub kind: String,
    /// running, completed, approved, rejected, timed_out or cancelled.
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Milliseconds from start to end; `null` while running.
    pub duration_ms: Option<i64>,
}

impl From<betflow_domain::workflow::record::StepRun> for StepRunDto {
    fn from(r: betflow_domain::workflow::record::StepRun) -> Self {
        Self {
            duration_ms: r.ended_at.map(|e| (e - r.started_at).num_milliseconds()),
            kind: r.kind.as_str().to_owned(),
            status: r.status.as_str().to_owned(),
            step_id: r.step_id,
            visit: r.visit,
            started_at: r.started_at,
            ended_at: r.ended_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineDto {
    pub id: Uuid,
    pub event_type: String,
    pub step_id: Option<String>,
    pub user_id: Option<Uuid>,
    #[schema(value_type = Object)]
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

fn parse<T: std::str::FromStr<Err = DomainError>>(
    v: Option<&str>,
) -> Result<Option<T>, DomainError> {
    v.map(|s| s.trim().parse()).transpose()
}

#[utoipa::path(post, path = "/api/v1/workflows", tag = TAG, summary = "Create (and start) a workflow",
    description = "Requires `workflows:create`. `data` is checked against the definition's \
                   data schema; a 400 lists every violation.",
    request_body = CreateWorkflowRequest,
    responses((status = 201, body = WorkflowResponse), (status = 400, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Create>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<CreateWorkflowRequest>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let new = NewWorkflow {
        workflow_type: body.workflow_type,
        data: body.data,
        priority: parse::<Priority>(body.priority.as_deref())?.unwrap_or_default(),
        start: body.start.unwrap_or(true),
        tags: body.tags,
    };
    let view = state
        .engine
        .workflows()
        .create(&principal, new, &actor)
        .await?;
    Ok(ApiResponse::created(view.into()).message("Workflow created successfully"))
}

#[utoipa::path(get, path = "/api/v1/workflows", tag = TAG, summary = "List workflows",
    description = "Requires `workflows:read`. Newest first.", params(ListParams),
    responses((status = 200, body = ListData<WorkflowResponse>), (status = 400, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<ApiResponse<ListData<WorkflowResponse>>, ApiError> {
    let filters = Filters {
        status: q.status,
        workflow_type: q.workflow_type,
        priority: q.priority,
        start_date: q.start_date,
        end_date: q.end_date,
        search: q.search,
        assignee: q.assignee,
        tags: q
            .tags
            .iter()
            .flat_map(|t| t.split(','))
            .filter(|t| !t.trim().is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let filter = filters.into_filter(betflow_domain::PageRequest::new(q.page, q.limit)?)?;
    let page = state.engine.workflows().list(&filter).await?;
    Ok(
        ApiResponse::ok(ListData::from_page(page, WorkflowResponse::from))
            .message("Workflows retrieved successfully"),
    )
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = TAG, summary = "Get a workflow",
    description = "Requires `workflows:read`.", params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkflowResponse), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    Ok(ApiResponse::ok(
        state.engine.workflows().get(id).await?.into(),
    ))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/start", tag = TAG, summary = "Start a pending workflow",
    description = "Requires `workflows:execute`. 409 `INVALID_TRANSITION` unless pending.",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkflowResponse), (status = 409, body = ErrorEnvelope)))]
pub async fn start(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Execute>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let view = state
        .engine
        .workflows()
        .start(&principal, id, &actor)
        .await?;
    Ok(ApiResponse::ok(view.into()).message("Workflow started"))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/approve", tag = TAG, summary = "Approve the current step",
    description = "Requires `workflows:approve` and one of the step's assignee roles. On a task \
                   step this completes the task. 403 `SEGREGATION_OF_DUTIES` when the four-eyes \
                   rule refuses; 409 when the step was already decided.",
    params(("id" = Uuid, Path)), request_body = ApproveRequest,
    responses((status = 200, body = WorkflowResponse), (status = 403, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn approve(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Approve>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<ApproveRequest>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let view = state
        .engine
        .workflows()
        .approve(
            &principal,
            id,
            body.step_id.as_deref(),
            body.comments,
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(view.into()).message("Workflow step approved successfully"))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/reject", tag = TAG, summary = "Reject the current step",
    description = "Requires `workflows:reject` and one of the step's assignee roles. Without a \
                   `rejected` edge in the graph this rejects the workflow.",
    params(("id" = Uuid, Path)), request_body = RejectRequest,
    responses((status = 200, body = WorkflowResponse), (status = 403, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn reject(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Reject>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<RejectRequest>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let view = state
        .engine
        .workflows()
        .reject(&principal, id, body.comments, body.reason, &actor)
        .await?;
    Ok(ApiResponse::ok(view.into()).message("Workflow step rejected"))
}

#[utoipa::path(post, path = "/api/v1/workflows/{id}/cancel", tag = TAG, summary = "Cancel a workflow",
    description = "Requires `workflows:cancel`. 409 `INVALID_TRANSITION` once finished.",
    params(("id" = Uuid, Path)), request_body = CancelRequest,
    responses((status = 200, body = WorkflowResponse), (status = 409, body = ErrorEnvelope)))]
pub async fn cancel(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Cancel>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<CancelRequest>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let view = state
        .engine
        .workflows()
        .cancel(&principal, id, body.reason, &actor)
        .await?;
    Ok(ApiResponse::ok(view.into()).message("Workflow cancelled"))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/status", tag = TAG, summary = "Workflow status",
    description = "Requires `workflows:monitor`. With every step run so far: which step, when \
                   it started and ended, and how (approved, rejected, timed_out, ...).", params(("id" = Uuid, Path)),
    responses((status = 200, body = StatusResponse), (status = 404, body = ErrorEnvelope)))]
pub async fn status(
    State(state): State<AppState>,
    _auth: Authorized<Monitor>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<StatusResponse>, ApiError> {
    let v = state.engine.workflows().get(id).await?;
    let steps = state.engine.workflows().step_runs(id).await?;
    Ok(ApiResponse::ok(StatusResponse {
        id: v.instance.id,
        status: v.instance.status.as_str().to_owned(),
        current_step: v.instance.current_step,
        progress: v.progress,
        overdue: v.overdue,
        due_at: v.instance.due_at,
        steps: steps.into_iter().map(StepRunDto::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/history", tag = TAG, summary = "Workflow timeline",
    description = "Requires `workflows:audit`. Oldest first.", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<TimelineDto>), (status = 404, body = ErrorEnvelope)))]
pub async fn history(
    State(state): State<AppState>,
    _auth: Authorized<Audit>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Vec<TimelineDto>>, ApiError> {
    let events = state.engine.workflows().history(id).await?;
    Ok(ApiResponse::ok(
        events.into_iter().map(TimelineDto::from).collect(),
    ))
}

#[utoipa::path(put, path = "/api/v1/workflows/{id}", tag = TAG, summary = "Change data or priority",
    description = "Requires `workflows:update`. Only while the workflow has not finished \
                   (409 `INVALID_TRANSITION` after).",
    params(("id" = Uuid, Path)), request_body = UpdateWorkflowRequest,
    responses((status = 200, body = WorkflowResponse), (status = 400, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn update(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Update>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateWorkflowRequest>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let priority = parse::<Priority>(body.priority.as_deref())?;
    let view = state
        .engine
        .workflows()
        .update(&principal, id, body.data, priority, &actor)
        .await?;
    Ok(ApiResponse::ok(view.into()).message("Workflow updated"))
}

#[utoipa::path(delete, path = "/api/v1/workflows/{id}", tag = TAG, summary = "Delete a workflow",
    description = "Requires role admin or manager, and `workflows:delete`. The workflow is \
                   hidden from reads; its history and audit rows are kept.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "Deleted"), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn delete(
    State(state): State<AppState>,
    _role: crate::auth::WithRole<AdminOrManager>,
    Authorized(principal, _): Authorized<Delete>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<()>, ApiError> {
    state
        .engine
        .workflows()
        .delete(&principal, id, &actor)
        .await?;
    Ok(ApiResponse::ok(()).message("Workflow deleted"))
}

#[utoipa::path(get, path = "/api/v1/workflows/{id}/audit", tag = TAG, summary = "Workflow audit trail",
    description = "Requires role admin or auditor, and `workflows:audit`. Oldest first.",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<super::audit::AuditEntryDto>), (status = 403, body = ErrorEnvelope)))]
pub async fn audit(
    State(state): State<AppState>,
    _role: crate::auth::WithRole<AdminOrAuditor>,
    _auth: Authorized<Audit>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Vec<super::audit::AuditEntryDto>>, ApiError> {
    let rows = state.engine.workflows().audit_trail(id).await?;
    Ok(ApiResponse::ok(rows.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/workflows/bulk/approve", tag = TAG, summary = "Approve many workflows",
    description = "Requires `workflows:approve`. Each workflow is approved in its own \
                   transaction; one failure does not undo the others.",
    request_body = BulkApproveRequest,
    responses((status = 200, body = BulkResult), (status = 400, body = ErrorEnvelope)))]
pub async fn bulk_approve(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Approve>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<BulkApproveRequest>,
) -> Result<ApiResponse<BulkResult>, ApiError> {
    let outcomes = state
        .engine
        .workflows()
        .bulk_approve(&principal, &body.workflow_ids, body.comments, &actor)
        .await?;
    let results: Vec<BulkItem> = outcomes
        .into_iter()
        .map(|(id, r)| match r {
            Ok(_) => BulkItem {
                id,
                success: true,
                error: None,
            },
            Err(e) => BulkItem {
                id,
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
