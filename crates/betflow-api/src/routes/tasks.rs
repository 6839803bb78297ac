//! `/api/v1/tasks`: the caller's inbox of open steps.

use axum::extract::State;
use betflow_domain::ids::WorkflowId;
use betflow_engine::workflows::WorkflowView;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{ListData, PageParams};
use super::workflows::{PriorityDto, StepKindDto, WorkflowResponse};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiPath, ApiQuery, OptionalJson};

pub const TAG: &str = "tasks";

crate::permissions! {
    Read => ["workflows:read"];
    Execute => ["workflows:execute"];
}

/// One open step the caller can act on. Its id is the workflow's id: a workflow has one open
/// step at a time.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskDto {
    pub id: Uuid,
    pub workflow_id: Uuid,
    pub workflow_type: String,
    pub step_id: Option<String>,
    pub step_name: Option<String>,
    /// `approval` or `task`: the kinds that wait for people.
    pub kind: Option<StepKindDto>,
    /// Roles that may act on it now.
    pub assignees: Vec<String>,
    pub priority: PriorityDto,
    /// When the step was entered.
    pub since: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    #[schema(value_type = Object)]
    pub data: Value,
}

impl From<WorkflowView> for TaskDto {
    fn from(v: WorkflowView) -> Self {
        let w = v.instance;
        Self {
            id: w.id,
            workflow_id: w.id,
            workflow_type: w.workflow_type,
            step_id: w.current_step,
            step_name: v.step_name,
            kind: v.step_kind.map(StepKindDto::from),
            assignees: w.assignees,
            priority: w.priority.into(),
            since: w.step_started_at,
            due_at: w.due_at,
            overdue: v.overdue,
            data: w.data,
        }
    }
}

/// The body is optional. Unknown fields are refused (400).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    #[schema(pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    pub comments: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/tasks", tag = TAG, summary = "My inbox",
    description = "Requires `workflows:read`. Open approval and task steps assigned (or \
                   escalated) to the caller's role; an admin sees all. Newest first.",
    params(PageParams),
    responses((status = 200, body = Envelope<ListData<TaskDto>>)))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Read>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<TaskDto>>, ApiError> {
    let page = state
        .engine
        .workflows()
        .inbox(&principal, q.request()?)
        .await?;
    Ok(ApiResponse::ok(ListData::from_page(page, TaskDto::from)))
}

#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = TAG, summary = "Complete a task",
    description = "Requires `workflows:execute` and the task step's assignee role. An approval \
                   step is decided with approve or reject instead (409).",
    params(("id" = Uuid, Path, description = "The task's id: its workflow's id")),
    request_body = Option<CompleteRequest>,
    responses((status = 200, body = Envelope<WorkflowResponse>),
        (status = 403, body = ErrorEnvelope, description = "NOT_ASSIGNEE: the caller's role is \
            not an assignee of the step; INSUFFICIENT_PERMISSIONS"),
        (status = 409, body = ErrorEnvelope, description = "INVALID_TRANSITION: the workflow is \
            not in progress, or its current step is not a task")))]
pub async fn complete(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Execute>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<Option<CompleteRequest>>,
) -> Result<ApiResponse<WorkflowResponse>, ApiError> {
    let body = body.unwrap_or_default();
    let view = state
        .engine
        .workflows()
        .complete_task(&principal, WorkflowId::from(id), body.comments, &actor)
        .await?;
    Ok(ApiResponse::ok(view.into()).message("Task completed"))
}

/// The task inbox routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(list))
        .routes(utoipa_axum::routes!(complete))
}
