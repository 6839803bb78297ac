//! `/api/v1/workflow-definitions`: templates, their immutable versions, import and export.

use axum::extract::State;
use betflow_domain::workflow::graph::{Edge, StepDef, WorkflowGraph};
use betflow_domain::workflow::record::{Definition, Version};
use betflow_engine::workflows::NewDefinition;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::ApiResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, OptionalJson};

pub const TAG: &str = "workflow-definitions";

crate::permissions! {
    Read => ["workflows:read"];
    Manage => ["workflows:create", "workflows:update"];
}

/// A definition as created, imported and exported: the export of one is a valid body for
/// `POST /workflow-definitions`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefinitionDocument {
    #[schema(example = "odds_override")]
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// JSON Schema for the data of this definition's workflows.
    #[schema(value_type = Object)]
    pub data_schema: Option<Value>,
    /// Steps in order; the first is the start. Each: `id`, `name`, `type`
    /// (approval|task|condition|action|delay), `assignees` (roles), `timeout` (minutes),
    /// `requiredApprovals`, `fourEyes`, `onTimeout`. A condition step has `condition`, a CEL
    /// expression over `data`, `priority` and `workflowType` (leaves by `true`/`false`; an
    /// evaluation error takes `false`). An action step has `action`: `noop`, `set_data`
    /// (`params` merged into the data as an RFC 7396 merge patch) or `emit_event` (`params:
    /// {event, payload?}`). A delay step has `delay` (minutes).
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<StepDef>,
    /// Branch edges `{from, to, branch}`. Omitted: the steps form a straight line.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub edges: Vec<Edge>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishRequest {
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<StepDef>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub edges: Vec<Edge>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DuplicateRequest {
    /// Default: `<key>_copy`.
    pub key: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionDto {
    pub version: u32,
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<StepDef>,
    #[schema(value_type = Vec<Object>)]
    pub edges: Vec<Edge>,
    pub published_by: Option<Uuid>,
    pub published_at: DateTime<Utc>,
}

impl From<&Version> for VersionDto {
    fn from(v: &Version) -> Self {
        Self {
            version: v.version,
            steps: v.graph.steps.clone(),
            edges: v.graph.edges.clone(),
            published_by: v.published_by,
            published_at: v.published_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionDto {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub data_schema: Option<Value>,
    pub latest_version: u32,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest version.
    pub current: VersionDto,
}

fn dto(d: Definition, v: &Version) -> DefinitionDto {
    DefinitionDto {
        id: d.id,
        key: d.key,
        name: d.name,
        description: d.description,
        category: d.category,
        tags: d.tags,
        data_schema: d.data_schema,
        latest_version: d.latest_version,
        is_active: d.is_active,
        created_at: d.created_at,
        updated_at: d.updated_at,
        current: v.into(),
    }
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions", tag = TAG, summary = "List definitions",
    description = "Requires `workflows:read`.",
    responses((status = 200, body = Vec<DefinitionDto>)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
) -> Result<ApiResponse<Vec<DefinitionDto>>, ApiError> {
    let all = state.engine.workflows().definitions().await?;
    Ok(ApiResponse::ok(
        all.into_iter().map(|(d, v)| dto(d, &v)).collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions", tag = TAG, summary = "Create or import a definition",
    description = "Requires `workflows:create` and `workflows:update`. Publishing validates the \\
                   graph (one start, every step reachable, every path reaches an end, roles \\
                   exist) and reports every problem at once, each with its step.",
    request_body = DefinitionDocument,
    responses((status = 201, body = DefinitionDto), (status = 400, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<DefinitionDocument>,
) -> Result<ApiResponse<DefinitionDto>, ApiError> {
    let (d, v) = state
        .engine
        .workflows()
        .create_definition(
            &principal,
            NewDefinition {
                key: body.key,
                name: body.name,
                description: body.description,
                category: body.category,
                tags: body.tags,
                data_schema: body.data_schema,
                graph: WorkflowGraph {
                    steps: body.steps,
                    edges: body.edges,
                },
            },
            &actor,
        )
        .await?;
    Ok(ApiResponse::created(dto(d, &v)).message("Workflow definition created"))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}", tag = TAG, summary = "Get a definition",
    description = "Requires `workflows:read`.", params(("key" = String, Path)),
    responses((status = 200, body = DefinitionDto), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<DefinitionDto>, ApiError> {
    let (d, v) = state.engine.workflows().definition(&key).await?;
    Ok(ApiResponse::ok(dto(d, &v)))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/versions", tag = TAG, summary = "Publish a version",
    description = "Requires `workflows:create` and `workflows:update`. Running workflows keep \\
                   the version they started on.",
    params(("key" = String, Path)), request_body = PublishRequest,
    responses((status = 201, body = VersionDto), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn publish(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<PublishRequest>,
) -> Result<ApiResponse<VersionDto>, ApiError> {
    let graph = WorkflowGraph {
        steps: body.steps,
        edges: body.edges,
    };
    let v = state
        .engine
        .workflows()
        .publish_version(&principal, &key, graph, &actor)
        .await?;
    Ok(ApiResponse::created(VersionDto::from(&v)).message("Version published"))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/versions", tag = TAG, summary = "List versions",
    description = "Requires `workflows:read`. Oldest first.", params(("key" = String, Path)),
    responses((status = 200, body = Vec<VersionDto>), (status = 404, body = ErrorEnvelope)))]
pub async fn versions(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<Vec<VersionDto>>, ApiError> {
    let all = state.engine.workflows().versions(&key).await?;
    Ok(ApiResponse::ok(all.iter().map(VersionDto::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/duplicate", tag = TAG, summary = "Duplicate a definition",
    description = "Requires `workflows:create` and `workflows:update`. Copies the latest version \\
                   and the data schema under a new key.",
    params(("key" = String, Path)), request_body = DuplicateRequest,
    responses((status = 201, body = DefinitionDto), (status = 409, body = ErrorEnvelope)))]
pub async fn duplicate(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    OptionalJson(body): OptionalJson<DuplicateRequest>,
) -> Result<ApiResponse<DefinitionDto>, ApiError> {
    let new_key = body.key.unwrap_or_else(|| format!("{key}_copy"));
    let (d, v) = state
        .engine
        .workflows()
        .duplicate(&principal, &key, new_key, body.name, &actor)
        .await?;
    Ok(ApiResponse::created(dto(d, &v)).message("Workflow definition duplicated"))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/export", tag = TAG, summary = "Export a definition",
    description = "Requires `workflows:read`. The JSON is a valid body for `POST \\
                   /workflow-definitions` (change the key to import it as a new one).",
    params(("key" = String, Path)),
    responses((status = 200, body = DefinitionDocument), (status = 404, body = ErrorEnvelope)))]
pub async fn export(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<DefinitionDocument>, ApiError> {
    let (d, v) = state.engine.workflows().definition(&key).await?;
    Ok(ApiResponse::ok(DefinitionDocument {
        key: d.key,
        name: d.name,
        description: d.description,
        category: d.category,
        tags: d.tags,
        data_schema: d.data_schema,
        steps: v.graph.steps.clone(),
        edges: v.graph.edges.clone(),
    }))
}
