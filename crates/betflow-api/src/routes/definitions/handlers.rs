//! Create, read, publish a version, list versions, duplicate and export.

use axum::extract::State;
use betflow_engine::workflows::NewDefinition;

use super::super::workflows::{Created, check_tags, refused_by_rules};
use super::dto::{
    DefinitionDocument, DefinitionDto, DuplicateRequest, PublishRequest, VersionDto,
    check_data_schema, copy_key, created_definition, dto, graph_rule,
};
use super::graph::{edges_of, graph, steps_of};
use super::{Manage, Read, TAG};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, OptionalJson};

#[utoipa::path(post, path = "/api/v1/workflow-definitions", tag = TAG, summary = "Create or import a definition",
    description = "Requires `workflows:create` and `workflows:update`. Publishing validates the \
                   graph (one start, every step reachable, every path reaches an end, roles \
                   exist) and reports every problem at once, each with its step (422).",
    request_body = DefinitionDocument,
    responses((status = 201, body = Envelope<DefinitionDto>,
        description = "Created; `Location` is the definition's URL",
        headers(("Location" = String, description = "`/api/v1/workflow-definitions/{key}`")),
        links(
            ("workflow_definitions_get" = (operation_id = "workflow_definitions_get",
                parameters(("key" = "$response.body#/data/key")),
                description = "The created definition")),
            ("workflow_definitions_publish" = (operation_id = "workflow_definitions_publish",
                parameters(("key" = "$response.body#/data/key")),
                description = "Publish a new version of it")),
            ("workflow_definitions_versions" = (operation_id = "workflow_definitions_versions",
                parameters(("key" = "$response.body#/data/key")),
                description = "Its versions")),
            ("workflow_definitions_duplicate" = (operation_id = "workflow_definitions_duplicate",
                parameters(("key" = "$response.body#/data/key")),
                description = "Copy it under a new key")),
            ("workflow_definitions_export" = (operation_id = "workflow_definitions_export",
                parameters(("key" = "$response.body#/data/key")),
                description = "Export it")),
        )),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: the key is taken"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR, `details` naming \
            each problem (`steps`, `steps.<id>`, `dataSchema`): the graph breaks a publishing \
            rule, or the data schema does not compile")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<DefinitionDocument>,
) -> Result<Created<DefinitionDto>, ApiError> {
    check_tags("tags", &body.tags)?;
    check_data_schema(body.data_schema.as_ref())?;
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
                graph: graph(body.steps, body.edges),
            },
            &actor,
        )
        .await
        .map_err(|e| refused_by_rules(e, graph_rule))?;
    Ok(created_definition(
        dto(d, &v),
        "Workflow definition created",
    ))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}", tag = TAG, summary = "Get a definition",
    description = "Requires `workflows:read`.", params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")),
    responses((status = 200, body = Envelope<DefinitionDto>)))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<DefinitionDto>, ApiError> {
    let (d, v) = state.engine.workflows().definition(&key).await?;
    Ok(ApiResponse::ok(dto(d, &v)))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/versions", tag = TAG, summary = "Publish a version",
    description = "Requires `workflows:create` and `workflows:update`. The graph is validated as \
                   on creation (422). Running workflows keep the version they started on.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")), request_body = PublishRequest,
    responses((status = 201, body = Envelope<VersionDto>),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: another version was \
            published at the same time; retry"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR, `details` naming \
            each problem (`steps`, `steps.<id>`): the graph breaks a publishing rule")))]
pub async fn publish(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<PublishRequest>,
) -> Result<ApiResponse<VersionDto>, ApiError> {
    let v = state
        .engine
        .workflows()
        .publish_version(&principal, &key, graph(body.steps, body.edges), &actor)
        .await
        .map_err(|e| refused_by_rules(e, graph_rule))?;
    Ok(ApiResponse::created(VersionDto::from(&v)).message("Version published"))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/versions", tag = TAG, summary = "List versions",
    description = "Requires `workflows:read`. Oldest first.", params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")),
    responses((status = 200, body = Envelope<Vec<VersionDto>>)))]
pub async fn versions(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<Vec<VersionDto>>, ApiError> {
    let all = state.engine.workflows().versions(&key).await?;
    Ok(ApiResponse::ok(all.iter().map(VersionDto::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/duplicate", tag = TAG, summary = "Duplicate a definition",
    description = "Requires `workflows:create` and `workflows:update`. Copies the latest version \
                   and the data schema under a new key. The body is optional.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")), request_body = Option<DuplicateRequest>,
    responses((status = 201, body = Envelope<DefinitionDto>,
        description = "Created; `Location` is the copy's URL",
        headers(("Location" = String, description = "`/api/v1/workflow-definitions/{key}`"))),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: the new key is taken")))]
pub async fn duplicate(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    OptionalJson(body): OptionalJson<Option<DuplicateRequest>>,
) -> Result<Created<DefinitionDto>, ApiError> {
    let body = body.unwrap_or_default();
    let new_key = body.key.unwrap_or_else(|| copy_key(&key));
    let (d, v) = state
        .engine
        .workflows()
        .duplicate(&principal, &key, new_key, body.name, &actor)
        .await?;
    Ok(created_definition(
        dto(d, &v),
        "Workflow definition duplicated",
    ))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/export", tag = TAG, summary = "Export a definition",
    description = "Requires `workflows:read`. `data` is a valid body for `POST \
                   /workflow-definitions` (change the key to import it as a new one).",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")),
    responses((status = 200, body = Envelope<DefinitionDocument>)))]
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
        steps: steps_of(&v.graph),
        edges: edges_of(&v.graph),
    }))
}
