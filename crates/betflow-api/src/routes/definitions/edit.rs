//! The filtered list (seed 004's `findByUser`), `PATCH` (with `createVersion`) and soft
//! `DELETE`.

use axum::extract::State;
use betflow_domain::DomainError;
use betflow_domain::page::MAX_LIMIT;
use betflow_domain::workflow::definitions::{DefinitionFilter, DefinitionOrder, DefinitionStatus};
use betflow_domain::workflow::record::{MAX_TAG_LEN, MAX_TAGS};
use betflow_engine::workflows::DefinitionPatch;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::super::catalog::dto::{nullable, present};
use super::super::dto::{ListData, PageParams};
use super::super::workflows::{TagValue, check_tags, refused_by_rules};
use super::dto::{DefinitionDto, dto, graph_rule};
use super::graph::{EdgeDto, StepDto, graph};
use super::{Manage, Read, Remove, TAG};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope, NoData};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// A definition's state, as the list filters it.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DefinitionStatus)]
pub enum DefinitionStatusDto {
    /// May start runs.
    Active,
    /// Deactivated: starts nothing new.
    Inactive,
    /// Has an open draft.
    Draft,
}

impl From<DefinitionStatusDto> for DefinitionStatus {
    fn from(s: DefinitionStatusDto) -> Self {
        match s {
            DefinitionStatusDto::Active => Self::Active,
            DefinitionStatusDto::Inactive => Self::Inactive,
            DefinitionStatusDto::Draft => Self::Draft,
        }
    }
}

/// The list's filters (combined with AND). Paging takes `page`/`limit` or seed 004's
/// `skip`/`limit` (not `page` and `skip` together).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DefinitionListQuery {
    #[param(inline)]
    pub status: Option<DefinitionStatusDto>,
    /// Comma-separated: definitions carrying every one of these tags (at most 20 items of
    /// at most 50 characters; empty items are skipped).
    #[param(
        pattern = r"^[^,\u0000-\u001F\u007F-\u009F]{0,50}(?:,[^,\u0000-\u001F\u007F-\u009F]{0,50}){0,19}$"
    )]
    pub tags: Option<String>,
    /// Text in the key, name or description, case-insensitive.
    #[param(pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub search: Option<String>,
    /// The owner (the user who created it).
    pub owner: Option<Uuid>,
    /// Rows to skip (seed 004); with `limit`, instead of `page` (it wins over `page`).
    #[param(value_type = Option<i64>, format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub skip: Option<u32>,
    /// `field[:asc|desc]`, field one of `key`, `name`, `category`, `createdAt`,
    /// `updatedAt`. Default `key:asc`; anything else is a 400.
    #[param(pattern = r"^(key|name|category|createdAt|updatedAt)(:(asc|desc))?$")]
    pub order_by: Option<String>,
}

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
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect())
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions", tag = TAG, summary = "List definitions",
    description = "Requires `workflows:read`. Deleted definitions are never listed. Filters: \
                   `status`, `tags`, `search`, `owner`; order: `orderBy` (default `key:asc`); \
                   paging: `page`/`limit` or `skip`/`limit`.",
    params(PageParams, DefinitionListQuery),
    responses((status = 200, body = Envelope<ListData<DefinitionDto>>)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(paging): ApiQuery<PageParams>,
    ApiQuery(q): ApiQuery<DefinitionListQuery>,
) -> Result<ApiResponse<ListData<DefinitionDto>>, ApiError> {
    let request = paging.request()?;
    let limit = request.limit();
    let offset = match q.skip {
        Some(skip) => u64::from(skip),
        None => request.offset(),
    };
    let order = match q.order_by.as_deref() {
        Some(o) => DefinitionOrder::parse(o)?,
        None => DefinitionOrder::default(),
    };
    let filter = DefinitionFilter {
        status: q.status.map(Into::into),
        tags: query_tags(q.tags.as_deref())?,
        search: q.search.filter(|s| !s.trim().is_empty()),
        owner: q.owner,
        order,
        offset,
        limit,
    };
    let (items, total) = state.engine.workflows().find_definitions(&filter).await?;
    // The page a skip falls in, for the envelope's `page` and `totalPages`.
    let page = u32::try_from(offset / u64::from(limit.clamp(1, MAX_LIMIT)) + 1).unwrap_or(u32::MAX);
    let shown = betflow_domain::PageRequest::new(Some(page), Some(limit))?;
    let page = betflow_domain::Page::new(items, total, shown);
    Ok(ApiResponse::ok(ListData::from_page(page, |(d, v)| {
        dto(d, &v)
    })))
}

/// A change to a definition. Absent members stay; `null` clears `description` and
/// `category`. With `createVersion: true` and `steps`, the graph is published as a new
/// version in the same change; `steps` without it are refused (a published version never
/// changes). Unknown fields are refused (400).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "Odds Override (EU)", "tags": ["odds", "eu"], "isActive": false}))]
pub struct UpdateDefinitionRequest {
    /// 1 to 255 characters, not only whitespace.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        value_type = String,
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(
        value_type = Option<String>,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub description: Option<Option<String>>,
    /// `null` clears it. At most 100 characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(
        value_type = Option<String>,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub category: Option<Option<String>>,
    /// Replaces the tags.
    #[serde(default, deserialize_with = "present")]
    #[schema(max_items = 20, value_type = Vec<TagValue>)]
    pub tags: Option<Vec<String>>,
    /// `false` deactivates: no new runs; running workflows continue.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    /// Publish `steps`/`edges` as a new version. Default `false`.
    #[serde(default)]
    pub create_version: bool,
    /// The new version's steps (with `createVersion: true`); the first is the start.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Vec<StepDto>, min_items = 1)]
    pub steps: Option<Vec<StepDto>>,
    /// Its edges; omitted or empty: a straight line. Only with `steps`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Vec<EdgeDto>)]
    pub edges: Option<Vec<EdgeDto>>,
}

#[utoipa::path(patch, path = "/api/v1/workflow-definitions/{key}", tag = TAG, summary = "Edit a definition",
    description = "Requires `workflows:create` and `workflows:update`. Name, description, \
                   category, tags and `isActive`; with `createVersion: true` and `steps`, also a \
                   new version (validated as on publishing; running workflows keep theirs). \
                   Audited with the before and after.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")),
    request_body = UpdateDefinitionRequest,
    responses((status = 200, body = Envelope<DefinitionDto>),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: another version was \
            published at the same time; retry"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR, `details` naming \
            every problem of the new version's graph (`steps`, `steps.<id>`), or `steps` \
            without `createVersion: true` (`createVersion`: a published version never \
            changes), or `edges` without `steps`")))]
pub async fn update(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateDefinitionRequest>,
) -> Result<ApiResponse<DefinitionDto>, ApiError> {
    if let Some(tags) = &body.tags {
        check_tags("tags", tags)?;
    }
    let graph = match (body.steps, body.edges) {
        (Some(steps), edges) => Some(graph(steps, edges.unwrap_or_default())),
        (None, Some(_)) => {
            let e = betflow_engine::EngineError::from(DomainError::invalid(
                "edges",
                "edges need steps",
            ));
            return Err(refused_by_rules(e, graph_rule));
        }
        (None, None) => None,
    };
    let patch = DefinitionPatch {
        name: body.name,
        description: body.description,
        category: body.category,
        tags: body.tags,
        is_active: body.is_active,
        create_version: body.create_version,
        graph,
    };
    let (d, v) = state
        .engine
        .workflows()
        .update_definition(&principal, &key, patch, &actor)
        .await
        // The immutability of a published version is a rule, not the document's shape.
        .map_err(|e| refused_by_rules(e, |f| graph_rule(f) || f == "createVersion"))?;
    Ok(ApiResponse::ok(dto(d, &v)).message("Workflow definition updated"))
}

#[utoipa::path(delete, path = "/api/v1/workflow-definitions/{key}", tag = TAG, summary = "Delete a definition",
    description = "Requires `workflows:delete`. A soft delete: the definition is hidden (404 \
                   after) and starts no runs; running workflows continue on their version, and \
                   its versions, runs and history are kept. Its key stays taken (runs and the \
                   audit name it): creating another definition with it is a 409. Audited.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")),
    responses((status = 200, body = Envelope<NoData>, description = "Deleted; `data` is null")))]
pub async fn delete(
    State(state): State<AppState>,
    _auth: Authorized<Remove>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<NoData>, ApiError> {
    state
        .engine
        .workflows()
        .delete_definition(&key, &actor)
        .await?;
    Ok(ApiResponse::ok(NoData).message("Workflow definition deleted"))
}
