//! Drafts (seed 003's flow): open a draft of a definition's next version, add, change and
//! remove steps, connect them, then publish it whole. Every edit answers the draft as it
//! now is, with the problems publishing would report.

use axum::extract::State;
use betflow_domain::DomainError;
use betflow_domain::workflow::definitions::Draft;
use betflow_domain::workflow::expr::merge_patch;
use betflow_domain::workflow::graph::{Branch, Edge, StepDef};
use betflow_engine::workflows::DraftStart;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::super::catalog::dto::NulFreeObject;
use super::super::workflows::{Created, refused_by_rules};
use super::dto::{VersionDto, graph_rule};
use super::graph::{BranchDto, EdgeDto, StepDto, edges_of, steps_of};
use super::{Manage, Read, TAG};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope, NoData};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};

/// One problem publishing would report now.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftProblem {
    /// `steps` or `steps.<id>`.
    pub field: String,
    pub message: String,
}

/// The open draft of a definition's next version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DraftDto {
    pub key: String,
    /// The version it started from; `null` when it started empty.
    #[schema(minimum = 1)]
    pub base_version: Option<u32>,
    /// In order; the first is the start.
    pub steps: Vec<StepDto>,
    pub edges: Vec<EdgeDto>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What publishing would refuse now, every problem at once; empty: it would publish.
    pub problems: Vec<DraftProblem>,
}

fn draft_dto(state: &AppState, key: &str, d: &Draft) -> DraftDto {
    DraftDto {
        key: key.to_owned(),
        base_version: d.base_version,
        steps: steps_of(&d.graph),
        edges: edges_of(&d.graph),
        created_by: d.created_by,
        created_at: d.created_at,
        updated_at: d.updated_at,
        problems: state
            .engine
            .workflows()
            .draft_problems(d)
            .into_iter()
            .map(|v| DraftProblem {
                field: v.field,
                message: v.message,
            })
            .collect(),
    }
}

/// What a new draft starts from.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DraftStart)]
pub enum DraftStartDto {
    /// A copy of the latest version.
    #[default]
    Latest,
    /// No steps.
    Empty,
}

/// The body is optional. Unknown fields are refused (400).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenDraftRequest {
    /// Default `latest`.
    #[serde(default)]
    pub from: DraftStartDto,
}

/// The edge to remove.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EdgeQuery {
    #[param(pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub from: String,
    #[param(pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub to: String,
    /// Default `default`.
    #[serde(default)]
    pub branch: BranchDto,
}

fn located(key: &str, d: DraftDto, message: &str) -> Created<DraftDto> {
    let location = format!("/api/v1/workflow-definitions/{key}/draft");
    Created::new(location, ApiResponse::created(d).message(message))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/draft", tag = TAG, summary = "Get the draft",
    description = "Requires `workflows:read`. 404 when the definition has no open draft.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The definition key")),
    responses((status = 200, body = Envelope<DraftDto>)))]
pub async fn get_draft(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<DraftDto>, ApiError> {
    let (_, d) = state.engine.workflows().draft(&key).await?;
    Ok(ApiResponse::ok(draft_dto(&state, &key, &d)))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/draft", tag = TAG, summary = "Open a draft",
    description = "Requires `workflows:create` and `workflows:update`. Starts the next version \
                   from the latest one (default) or empty. One open draft per definition.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The definition key")),
    request_body = Option<OpenDraftRequest>,
    responses((status = 201, body = Envelope<DraftDto>,
        description = "Opened; `Location` is the draft's URL",
        headers(("Location" = String, description = "`/api/v1/workflow-definitions/{key}/draft`"))),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: a draft is open already")))]
pub async fn open_draft(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    OptionalJson(body): OptionalJson<Option<OpenDraftRequest>>,
) -> Result<Created<DraftDto>, ApiError> {
    let start = match body.unwrap_or_default().from {
        DraftStartDto::Latest => DraftStart::Latest,
        DraftStartDto::Empty => DraftStart::Empty,
    };
    let (_, d) = state
        .engine
        .workflows()
        .open_draft(&principal, &key, start, &actor)
        .await?;
    Ok(located(&key, draft_dto(&state, &key, &d), "Draft opened"))
}

#[utoipa::path(delete, path = "/api/v1/workflow-definitions/{key}/draft", tag = TAG, summary = "Discard the draft",
    description = "Requires `workflows:create` and `workflows:update`.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The definition key")),
    responses((status = 200, body = Envelope<NoData>, description = "Discarded; `data` is null")))]
pub async fn discard_draft(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<NoData>, ApiError> {
    state.engine.workflows().discard_draft(&key, &actor).await?;
    Ok(ApiResponse::ok(NoData).message("Draft discarded"))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/draft/steps", tag = TAG, summary = "Add a step to the draft",
    description = "Requires `workflows:create` and `workflows:update`. Appended; the first step \
                   is the start. The whole graph is checked when the draft is published.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The definition key")),
    request_body = StepDto,
    responses((status = 201, body = Envelope<DraftDto>,
        description = "Added; `Location` is the draft's URL",
        headers(("Location" = String, description = "`/api/v1/workflow-definitions/{key}/draft`"))),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: the draft has a step with this id")))]
pub async fn add_step(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    ApiJson(step): ApiJson<StepDto>,
) -> Result<Created<DraftDto>, ApiError> {
    let what = json!({"addStep": step.id});
    let (d, ()) = state
        .engine
        .workflows()
        .edit_draft(&key, what, &actor, move |d| {
            Ok(d.add_step(StepDef::from(step))?)
        })
        .await
        .map_err(|e| refused_by_rules(e, |f| f == "id"))?;
    Ok(located(&key, draft_dto(&state, &key, &d), "Step added"))
}

#[utoipa::path(patch, path = "/api/v1/workflow-definitions/{key}/draft/steps/{stepId}", tag = TAG, summary = "Change a draft step",
    description = "Requires `workflows:create` and `workflows:update`. The body is a JSON merge \
                   patch (RFC 7396) over the step as `GET .../draft` shows it; the result must \
                   be a valid step (422 naming the problem otherwise). A new `id` renames the \
                   step's edges too.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The definition key"),
        ("stepId" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The step id")),
    request_body(content = NulFreeObject, description = "Members of `Step` to change; `null` \
        resets an optional one"),
    responses((status = 200, body = Envelope<DraftDto>),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: the new id is taken"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR: the patched step \
            is not a valid step (`step`) or its id is empty or too long (`id`)")))]
pub async fn patch_step(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath((key, step_id)): ApiPath<(String, String)>,
    ApiJson(patch): ApiJson<Value>,
) -> Result<ApiResponse<DraftDto>, ApiError> {
    if !patch.is_object() {
        return Err(DomainError::invalid("body", "must be a JSON object").into());
    }
    let what = json!({"changeStep": step_id});
    let (d, ()) = state
        .engine
        .workflows()
        .edit_draft(&key, what, &actor, move |d| {
            let current = d.graph.step(&step_id).cloned().ok_or_else(|| {
                betflow_engine::EngineError::NotFound(format!("draft step {step_id:?}"))
            })?;
            let mut value = serde_json::to_value(StepDto::from(current))
                .map_err(|e| betflow_engine::EngineError::Internal(e.to_string()))?;
            merge_patch(&mut value, &patch);
            let step: StepDto = serde_json::from_value(value)
                .map_err(|e| DomainError::invalid("step", format!("not a valid step: {e}")))?;
            Ok(d.replace_step(&step_id, StepDef::from(step))?)
        })
        .await
        .map_err(|e| refused_by_rules(e, |f| f == "step" || f == "id"))?;
    Ok(ApiResponse::ok(draft_dto(&state, &key, &d)).message("Step changed"))
}

#[utoipa::path(delete, path = "/api/v1/workflow-definitions/{key}/draft/steps/{stepId}", tag = TAG, summary = "Remove a draft step",
    description = "Requires `workflows:create` and `workflows:update`. Its edges go with it.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The definition key"),
        ("stepId" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The step id")),
    responses((status = 200, body = Envelope<DraftDto>)))]
pub async fn remove_step(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath((key, step_id)): ApiPath<(String, String)>,
) -> Result<ApiResponse<DraftDto>, ApiError> {
    let what = json!({"removeStep": step_id});
    let (d, _) = state
        .engine
        .workflows()
        .edit_draft(&key, what, &actor, move |d| Ok(d.remove_step(&step_id)?))
        .await?;
    Ok(ApiResponse::ok(draft_dto(&state, &key, &d)).message("Step removed"))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/draft/edges", tag = TAG, summary = "Connect two draft steps",
    description = "Requires `workflows:create` and `workflows:update`. Both steps must be in the \
                   draft (422 otherwise); whether the branch suits the step is reported when \
                   publishing, with every other problem.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The definition key")),
    request_body = EdgeDto,
    responses((status = 201, body = Envelope<DraftDto>,
        description = "Connected; `Location` is the draft's URL",
        headers(("Location" = String, description = "`/api/v1/workflow-definitions/{key}/draft`"))),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: the edge exists"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR: `from` or `to` \
            names no step of the draft")))]
pub async fn add_edge(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    ApiJson(edge): ApiJson<EdgeDto>,
) -> Result<Created<DraftDto>, ApiError> {
    let edge = Edge::from(edge);
    let what =
        json!({"addEdge": {"from": edge.from, "to": edge.to, "branch": edge.branch.as_str()}});
    let (d, ()) = state
        .engine
        .workflows()
        .edit_draft(&key, what, &actor, move |d| Ok(d.add_edge(edge)?))
        .await
        .map_err(|e| refused_by_rules(e, |f| f == "from" || f == "to"))?;
    Ok(located(
        &key,
        draft_dto(&state, &key, &d),
        "Steps connected",
    ))
}

#[utoipa::path(delete, path = "/api/v1/workflow-definitions/{key}/draft/edges", tag = TAG, summary = "Remove a draft edge",
    description = "Requires `workflows:create` and `workflows:update`.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The definition key"), EdgeQuery),
    responses((status = 200, body = Envelope<DraftDto>)))]
pub async fn remove_edge(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    ApiQuery(q): ApiQuery<EdgeQuery>,
) -> Result<ApiResponse<DraftDto>, ApiError> {
    let branch = Branch::from(q.branch);
    let what = json!({"removeEdge": {"from": q.from, "to": q.to, "branch": branch.as_str()}});
    let (d, ()) = state
        .engine
        .workflows()
        .edit_draft(&key, what, &actor, move |d| {
            Ok(d.remove_edge(&q.from, &q.to, branch)?)
        })
        .await?;
    Ok(ApiResponse::ok(draft_dto(&state, &key, &d)).message("Edge removed"))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/draft/publish", tag = TAG, summary = "Publish the draft",
    description = "Requires `workflows:create` and `workflows:update`. Validates the whole graph \
                   and reports every problem at once (422, each in `details` with its step); \
                   otherwise the draft becomes the next immutable version and is closed. \
                   Running workflows keep the version they started on.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", description = "The definition key")),
    responses((status = 201, body = Envelope<VersionDto>),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: another version was \
            published at the same time; retry"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR, `details` naming \
            every problem (`steps`, `steps.<id>`)")))]
pub async fn publish_draft(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<VersionDto>, ApiError> {
    let v = state
        .engine
        .workflows()
        .publish_draft(&principal, &key, &actor)
        .await
        .map_err(|e| refused_by_rules(e, graph_rule))?;
    Ok(ApiResponse::created(VersionDto::from(v.as_ref())).message("Draft published"))
}
