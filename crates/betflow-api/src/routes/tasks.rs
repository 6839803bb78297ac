//! `/api/v1/tasks`: the caller's inbox of open steps.

use axum::extract::State;
use betflow_domain::automation::tasks::{Task, TaskStatus};
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
use crate::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};

pub const TAG: &str = "tasks";

crate::permissions! {
    Read => ["workflows:read"];
    Execute => ["workflows:execute"];
}

/// One open item the caller can act on: a workflow's approval or task step (its id is the
/// workflow's id: a workflow has one open step at a time), or a task an automation created
/// (`kind` `task` with a `title` and `status`; its id is the task's, `workflowId` the run's).
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
    /// An automation's task: its title (also its `stepName`).
    pub title: Option<String>,
    /// An automation's task: its description.
    pub description: Option<String>,
    /// An automation's task: `pending`, `in_progress`, `completed` or `cancelled`.
    pub status: Option<TaskStatusDto>,
    /// An automation's task assigned to one user.
    pub assignee_user_id: Option<Uuid>,
}

/// Where an automation's task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TaskStatus)]
pub enum TaskStatusDto {
    Pending,
    InProgress,
    Completed,
    Cancelled,
}

impl From<TaskStatus> for TaskStatusDto {
    fn from(s: TaskStatus) -> Self {
        match s {
            TaskStatus::Pending => Self::Pending,
            TaskStatus::InProgress => Self::InProgress,
            TaskStatus::Completed => Self::Completed,
            TaskStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<TaskStatusDto> for TaskStatus {
    fn from(s: TaskStatusDto) -> Self {
        match s {
            TaskStatusDto::Pending => Self::Pending,
            TaskStatusDto::InProgress => Self::InProgress,
            TaskStatusDto::Completed => Self::Completed,
            TaskStatusDto::Cancelled => Self::Cancelled,
        }
    }
}

impl TaskDto {
    /// An automation's task as an inbox item.
    fn from_task(t: Task, now: DateTime<Utc>) -> Self {
        Self {
            id: t.id,
            workflow_id: t.execution_id.unwrap_or(t.id),
            workflow_type: String::new(),
            step_id: t.step_id.clone(),
            step_name: Some(t.title.clone()),
            kind: Some(StepKindDto::Task),
            assignees: t.assignee_role.iter().cloned().collect(),
            priority: t.priority.into(),
            since: Some(t.created_at),
            due_at: t.due_at,
            overdue: t.overdue(now),
            data: t.data.clone(),
            title: Some(t.title),
            description: t.description,
            status: Some(t.status.into()),
            assignee_user_id: t.assignee_user_id,
        }
    }
}

/// A task's new status. Unknown fields are refused (400).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    pub status: TaskStatusDto,
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
            title: None,
            description: None,
            status: None,
            assignee_user_id: None,
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
                   escalated) to the caller's role, newest first, then the open tasks \
                   automations created for the caller or their role (kind `task` with a \
                   `title` and `status`), newest first; an admin sees all.",
    params(PageParams),
    responses((status = 200, body = Envelope<ListData<TaskDto>>)))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Read>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<TaskDto>>, ApiError> {
    let request = q.request()?;
    let page = state.engine.workflows().inbox(&principal, request).await?;
    // Workflow steps first, then automation tasks: the page's window over that sequence.
    let steps = page.total;
    let offset = request.offset();
    let room = request
        .limit()
        .saturating_sub(u32::try_from(page.items.len()).unwrap_or(0));
    let (tasks, tasks_total) = state
        .engine
        .tasks()
        .open_for(&principal, offset.saturating_sub(steps), room)
        .await?;
    let now = betflow_domain::time::now();
    let mut items: Vec<TaskDto> = page.items.into_iter().map(TaskDto::from).collect();
    items.extend(tasks.into_iter().map(|t| TaskDto::from_task(t, now)));
    let total = steps + tasks_total;
    let merged = betflow_domain::Page::new(items, total, request);
    Ok(ApiResponse::ok(ListData::from_page(merged, |t| t)))
}

#[utoipa::path(patch, path = "/api/v1/tasks/{id}", tag = TAG, summary = "Update a task",
    description = "Requires `workflows:execute`; the task's assignee (user or role) or an admin. \
                   Moves an automation's task: pending -> in_progress -> completed, or \
                   cancelled while open. Completing (or cancelling) a task its step waits for \
                   resumes the run with the task as the step's output.",
    params(("id" = Uuid, Path, description = "The task's id")),
    request_body = TaskPatch,
    responses((status = 200, body = Envelope<TaskDto>),
        (status = 404, body = ErrorEnvelope, description = "NOT_FOUND: no such task for the \
            caller"),
        (status = 409, body = ErrorEnvelope, description = "INVALID_TRANSITION: the task is \
            completed or cancelled, or back to pending from in_progress")))]
pub async fn update(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Execute>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<TaskPatch>,
) -> Result<ApiResponse<TaskDto>, ApiError> {
    let t = state
        .engine
        .update_task(&principal, id, body.status.into(), &actor)
        .await?;
    Ok(ApiResponse::ok(TaskDto::from_task(t, betflow_domain::time::now())).message("Task updated"))
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
        .routes(utoipa_axum::routes!(update))
}
