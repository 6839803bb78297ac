//! `/api/v1` routes for automation triggers: a definition's event subscriptions, schedules
//! and inbound webhook endpoints under `/workflow-definitions/{key}/triggers`, and the
//! public inbound URL `POST /api/v1/hooks/{endpointId}`.
//!
//! - [`dto`]: request and response bodies;
//! - [`inbound`]: the public hook.

mod dto;
mod inbound;

use axum::extract::State;
use axum::http::HeaderMap;
use betflow_domain::DomainError;
use betflow_engine::EngineError;
use betflow_engine::triggers::NewTrigger;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub use dto::{
    CatchUpName, CreateTriggerRequest, HookAccepted, SchemeName, TriggerDto, TriggerKindName,
    UpdateTriggerRequest,
};

use super::dto::Deleted;
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};

pub const TAG: &str = "triggers";

crate::permissions! {
    Read => ["workflows:read"];
    Manage => ["workflows:create", "workflows:update"];
    Remove => ["workflows:delete"];
}

/// Problems only the server can find (a schema-valid request a rule refuses) are 422, as
/// DESIGN.md has it: a cron, zone, filter or name, or a field of another kind of trigger. A
/// field whose rule the schema states (the event type's and header's patterns, the numeric
/// bounds) broken is a 400.
fn refused(e: EngineError) -> ApiError {
    let business = matches!(&e, EngineError::Invalid(DomainError::Validation(v))
    if !v.is_empty() && v.iter().all(|v| {
        matches!(v.field.as_str(), "cron" | "timezone" | "filter" | "name")
            || v.message.starts_with("not a field of")
            || v.message.starts_with("is required for")
    }));
    let mut err = ApiError::from(e);
    if business {
        err.status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    err
}

/// Authenticated routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(utoipa_axum::routes!(list, create))
        .routes(utoipa_axum::routes!(get, update, delete))
}

/// Inbound webhooks: public URLs verified by each endpoint's own secret, not a bearer token.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(utoipa_axum::routes!(inbound::receive))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/triggers", tag = TAG,
    summary = "List a definition's triggers",
    description = "Requires `workflows:read`. Event subscriptions, then schedules, then inbound \
                   webhook endpoints, each oldest first. Secrets are never shown.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")),
    responses((status = 200, body = Envelope<Vec<TriggerDto>>, description = "The triggers"),
        (status = 404, body = ErrorEnvelope, description = "NOT_FOUND: no such definition")))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    headers: HeaderMap,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<Vec<TriggerDto>>, ApiError> {
    let all = state.engine.triggers().list(&key).await?;
    Ok(ApiResponse::ok(
        all.into_iter()
            .map(|t| TriggerDto::new(t, &headers))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/triggers", tag = TAG,
    summary = "Add a trigger to a definition",
    description = "Requires `workflows:create` and `workflows:update`. `kind` picks the body: \
                   `event` (an event type pattern such as `bet.*` and an optional CEL `filter` \
                   over `event`), `schedule` (a five-field `cron` in an IANA `timezone`, with a \
                   `catchUp` policy for occurrences missed while no scheduler ran) or `webhook` \
                   (an inbound endpoint; the answer carries its public `url` and its `whsec_` \
                   secret, shown only here). Every problem is named at once (VALIDATION_ERROR, \
                   `details` listing each field): 400 when the request breaks its schema \
                   (`eventType`, `header`, `toleranceSeconds`, `rateLimit`), 422 when only \
                   the server can tell (`cron`, `timezone`, `filter`, `name`).",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")),
    request_body = CreateTriggerRequest,
    responses((status = 201, body = Envelope<TriggerDto>,
        description = "Created; an endpoint's secret is shown only here",
        headers(("Location" = String,
            description = "`/api/v1/workflow-definitions/{key}/triggers/{id}`"))),
        (status = 400, body = ErrorEnvelope, description = "VALIDATION_ERROR: the request \
            breaks its schema (a bad event type pattern, header name or bound)"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR: a cron that does \
            not parse or never fires, an unknown time zone, a filter that does not compile, \
            an empty name; each named in `details`"),
        (status = 404, body = ErrorEnvelope, description = "NOT_FOUND: no such definition")))]
pub async fn create(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    headers: HeaderMap,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<CreateTriggerRequest>,
) -> Result<ApiResponse<TriggerDto>, ApiError> {
    let (new, active): (NewTrigger, Option<bool>) =
        body.into_new().map_err(|e| refused(e.into()))?;
    let created = state
        .engine
        .triggers()
        .create(&key, new, active.unwrap_or(true), &actor)
        .await
        .map_err(refused)?;
    let id = created.trigger.id();
    let mut dto = TriggerDto::new(created.trigger, &headers);
    dto.secret = created.secret;
    let location = format!("/api/v1/workflow-definitions/{key}/triggers/{id}");
    Ok(ApiResponse::created(dto)
        .message("Trigger created")
        .location(&location))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/triggers/{id}", tag = TAG,
    summary = "Get a trigger", description = "Requires `workflows:read`.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key"), ("id" = Uuid, Path, description = "The trigger id")),
    responses((status = 200, body = Envelope<TriggerDto>, description = "The trigger"),
        (status = 404, body = ErrorEnvelope, description = "NOT_FOUND: no such definition or \
            trigger")))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    headers: HeaderMap,
    ApiPath((key, id)): ApiPath<(String, Uuid)>,
) -> Result<ApiResponse<TriggerDto>, ApiError> {
    let t = state.engine.triggers().get(&key, id).await?;
    Ok(ApiResponse::ok(TriggerDto::new(t, &headers)))
}

#[utoipa::path(patch, path = "/api/v1/workflow-definitions/{key}/triggers/{id}", tag = TAG,
    summary = "Change a trigger",
    description = "Requires `workflows:create` and `workflows:update`. Only the fields given \
                   change; a field of another kind of trigger is refused (422). A schedule whose \
                   cron or zone changes, or that is enabled again, fires from now on.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key"), ("id" = Uuid, Path, description = "The trigger id")),
    request_body = UpdateTriggerRequest,
    responses((status = 200, body = Envelope<TriggerDto>, description = "The trigger as changed"),
        (status = 400, body = ErrorEnvelope, description = "VALIDATION_ERROR: the request \
            breaks its schema"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR: a field of \
            another kind of trigger, a bad cron, zone or filter; each named in `details`"),
        (status = 404, body = ErrorEnvelope, description = "NOT_FOUND: no such definition or \
            trigger")))]
pub async fn update(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    headers: HeaderMap,
    ApiPath((key, id)): ApiPath<(String, Uuid)>,
    ApiJson(body): ApiJson<UpdateTriggerRequest>,
) -> Result<ApiResponse<TriggerDto>, ApiError> {
    let t = state
        .engine
        .triggers()
        .update(&key, id, body.into_changes(), &actor)
        .await
        .map_err(refused)?;
    Ok(ApiResponse::ok(TriggerDto::new(t, &headers)).message("Trigger updated"))
}

#[utoipa::path(delete, path = "/api/v1/workflow-definitions/{key}/triggers/{id}", tag = TAG,
    summary = "Delete a trigger",
    description = "Requires `workflows:delete`. Runs it started stay.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key"), ("id" = Uuid, Path, description = "The trigger id")),
    responses((status = 200, body = Envelope<Deleted>, description = "Deleted"),
        (status = 404, body = ErrorEnvelope, description = "NOT_FOUND: no such definition or \
            trigger")))]
pub async fn delete(
    State(state): State<AppState>,
    _auth: Authorized<Remove>,
    ClientInfo(actor): ClientInfo,
    ApiPath((key, id)): ApiPath<(String, Uuid)>,
) -> Result<ApiResponse<Deleted>, ApiError> {
    state.engine.triggers().delete(&key, id, &actor).await?;
    Ok(ApiResponse::ok(Deleted { id }).message("Trigger deleted"))
}
