//! The execution handlers: execute (manual or test), list, get, retry, cancel, analytics,
//! and the action and trigger registries.

use axum::extract::State;
use betflow_domain::automation::execution::{ExecutionFilter, MAX_LIST_LIMIT};
use betflow_domain::ids::WorkflowId;
use betflow_domain::{DomainError, Violation};
use betflow_engine::EngineError;
use betflow_engine::automations::{DAYS_OF_ANALYTICS, StartExecution, TriggerRef};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{
    ActionSpecDto, ExecutionAnalytics, ExecutionDetailDto, ExecutionDto, ExecutionPage,
    ExecutionStarted, ExecutionStatusDto, TriggerKindDto, TriggerTypeDto,
};
use super::{Cancel, Execute, Monitor, Read, TAG};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::catalog::dto::NulFreeObject;

/// A run to start. Unknown fields are refused (400).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecuteRequest {
    /// The run's input: a JSON object (default `{}`). It becomes the workflow's `data` (the
    /// definition's data schema applies) and the expressions' `input`.
    #[serde(default)]
    #[schema(value_type = Option<NulFreeObject>)]
    pub input: Option<Value>,
    /// A test run: external actions are rendered, not performed, and the answer holds the
    /// run as far as it went. Same as `?test=true`.
    #[serde(default)]
    pub test: Option<bool>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExecuteParams {
    /// A test run (see the body's `test`).
    pub test: Option<bool>,
}

/// Input the definition's data schema refuses (problems on `data…`) is a 422: the request is
/// valid against the document (any object), and only the definition can say what its input
/// must hold. Input that is not an object breaks the document and stays a 400.
fn input_refused(e: EngineError) -> ApiError {
    let semantic = matches!(&e, EngineError::Invalid(DomainError::Validation(v))
        if !v.is_empty() && v.iter().all(|v| v.field == "data" || v.field.starts_with("data.")
            || v.field.starts_with("data[")));
    let mut err = ApiError::from(e);
    if semantic {
        err.status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    err
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/execute", tag = TAG,
    summary = "Run a definition",
    description = "Requires `workflows:execute`. Starts a run (trigger type `manual`) of the \
                   definition's latest published version with `input` as its data; its \
                   automated steps run in the background. With `test` (body or query), the \
                   run is a `test` run driven at once through its action steps, external ones \
                   rendered instead of performed, and the answer holds it with its steps.",
    params(("key" = String, Path, description = "The definition's key"), ExecuteParams),
    request_body = ExecuteRequest,
    responses((status = 202, description = "Started", body = Envelope<ExecutionStarted>,
        headers(("Location" = String, description = "`/api/v1/executions/{id}`"))),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR: the input does \
                   not satisfy the definition's data schema (each problem named)")))]
pub async fn execute(
    State(state): State<AppState>,
    _auth: Authorized<Execute>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    ApiQuery(params): ApiQuery<ExecuteParams>,
    ApiJson(body): ApiJson<ExecuteRequest>,
) -> Result<ApiResponse<ExecutionStarted>, ApiError> {
    let input = body.input.unwrap_or_else(|| json!({}));
    let test = body.test.or(params.test).unwrap_or(false);
    let started = if test {
        let detail = state
            .engine
            .run_test(&key, input, &actor)
            .await
            .map_err(input_refused)?;
        ExecutionStarted {
            execution_id: detail.execution.id,
            execution: Some(detail.into()),
        }
    } else {
        let start = StartExecution {
            definition_key: key,
            trigger: TriggerRef::manual(),
            input,
        };
        let s = state
            .engine
            .start_execution(start, &actor)
            .await
            .map_err(input_refused)?;
        ExecutionStarted {
            execution_id: s.execution_id.uuid(),
            execution: None,
        }
    };
    let location = format!("/api/v1/executions/{}", started.execution_id);
    Ok(ApiResponse::accepted(started)
        .message("Execution started")
        .location(&location))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// A definition's key.
    #[param(pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$", max_length = 100)]
    pub definition: Option<String>,
    pub status: Option<ExecutionStatusDto>,
    pub trigger_type: Option<TriggerTypeDto>,
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
    /// The previous page's `nextCursor`.
    pub cursor: Option<Uuid>,
    /// Items per page.
    #[param(value_type = Option<i32>, format = Int32, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/executions", tag = TAG, summary = "List executions",
    description = "Requires `workflows:read`. Newest first, with cursor pagination: pass the \
                   page's `nextCursor` as `cursor` for the next one.",
    params(ListParams),
    responses((status = 200, description = "A page of executions", body = Envelope<ExecutionPage>)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<ApiResponse<ExecutionPage>, ApiError> {
    let limit = p.limit.unwrap_or(20);
    // The document's bounds, enforced: a request outside them is a 400, not a silent clamp.
    let mut problems = Vec::new();
    if p.definition
        .as_ref()
        .is_some_and(|d| d.chars().count() > 100)
    {
        problems.push(Violation::new(
            "definition",
            "must be at most 100 characters",
        ));
    }
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        problems.push(Violation::new(
            "limit",
            format!("must be between 1 and {MAX_LIST_LIMIT}"),
        ));
    }
    if !problems.is_empty() {
        return Err(EngineError::Invalid(DomainError::Validation(problems)).into());
    }
    let filter = ExecutionFilter {
        definition_key: p.definition,
        status: p.status.map(Into::into),
        trigger_type: p.trigger_type.map(Into::into),
        from: p.from,
        to: p.to,
        before: p.cursor,
        limit,
    };
    let items = state.engine.list_executions(filter).await?;
    let next_cursor = (items.len() == limit.min(MAX_LIST_LIMIT) as usize)
        .then(|| items.last().map(|e| e.id))
        .flatten();
    Ok(ApiResponse::ok(ExecutionPage {
        items: items.into_iter().map(ExecutionDto::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/v1/executions/{id}", tag = TAG, summary = "Get an execution",
    description = "Requires `workflows:read`. With every attempt of its action steps: input \
                   (secrets masked), output, error, attempt number and duration.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The execution", body = Envelope<ExecutionDetailDto>)))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<ExecutionDetailDto>, ApiError> {
    let d = state.engine.get_execution(WorkflowId::from(id)).await?;
    Ok(ApiResponse::ok(d.into()))
}

#[utoipa::path(post, path = "/api/v1/executions/{id}/retry", tag = TAG,
    summary = "Retry an execution from its failed step",
    description = "Requires `workflows:execute`. Re-opens a failed execution at the step that \
                   failed, with the same input; the step runs again (a new visit). Anything \
                   but a failed execution is a 409.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The execution, running again", body = Envelope<ExecutionDetailDto>)))]
pub async fn retry(
    State(state): State<AppState>,
    _auth: Authorized<Execute>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<ExecutionDetailDto>, ApiError> {
    let d = state
        .engine
        .retry_execution(WorkflowId::from(id), &actor)
        .await?;
    Ok(ApiResponse::ok(d.into()).message("Execution retried"))
}

#[utoipa::path(post, path = "/api/v1/executions/{id}/cancel", tag = TAG,
    summary = "Cancel an execution",
    description = "Requires `workflows:cancel`. Stops a running or waiting execution (its \
                   workflow is cancelled); an ended one is a 409.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The execution, cancelled", body = Envelope<ExecutionDetailDto>)))]
pub async fn cancel(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Cancel>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<ExecutionDetailDto>, ApiError> {
    let d = state
        .engine
        .cancel_execution(&principal, WorkflowId::from(id), &actor)
        .await?;
    Ok(ApiResponse::ok(d.into()).message("Execution cancelled"))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// Days up to now (default 30).
    #[param(value_type = Option<i32>, format = Int32, minimum = 1, maximum = 366, default = 30)]
    pub days: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/analytics", tag = TAG,
    summary = "A definition's daily execution analytics",
    description = "Requires `workflows:monitor`. Per day: executions, successes, failures, \
                   average and p95 duration of the runs that ended (test runs left out).",
    params(("key" = String, Path, description = "The definition's key"), AnalyticsParams),
    responses((status = 200, description = "Daily analytics", body = Envelope<ExecutionAnalytics>)))]
pub async fn analytics(
    State(state): State<AppState>,
    _auth: Authorized<Monitor>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(p): ApiQuery<AnalyticsParams>,
) -> Result<ApiResponse<ExecutionAnalytics>, ApiError> {
    let days = p
        .days
        .unwrap_or(30)
        .min(DAYS_OF_ANALYTICS.saturating_add(1));
    let rows = state
        .engine
        .execution_analytics(&key, days, Utc::now())
        .await?;
    Ok(ApiResponse::ok(ExecutionAnalytics {
        definition_key: key,
        days: rows.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/automation/actions", tag = TAG,
    summary = "The action registry",
    description = "Requires `workflows:read`. Every action an action step may name beside the \
                   built-ins (`noop`, `set_data`, `emit_event`), with the JSON Schemas of its \
                   config and output and the credential type it needs.",
    responses((status = 200, description = "The actions, by key", body = Envelope<Vec<ActionSpecDto>>)))]
pub async fn actions(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
) -> Result<ApiResponse<Vec<ActionSpecDto>>, ApiError> {
    let registry = state.engine.automations().actions();
    let specs = registry
        .specs()
        .map(|s| ActionSpecDto {
            key: s.key.to_owned(),
            name: s.name.to_owned(),
            description: s.description.to_owned(),
            config_schema: s.config_schema.clone(),
            output_schema: s.output_schema.clone(),
            credential_type: s.credential_type.map(str::to_owned),
            external: s.external,
        })
        .collect();
    Ok(ApiResponse::ok(specs))
}

#[utoipa::path(get, path = "/api/v1/automation/triggers", tag = TAG,
    summary = "The trigger kinds",
    description = "Requires `workflows:read`. What can start a run: `manual` \
                   (`POST /workflow-definitions/{key}/execute`), `event`, `schedule` and \
                   `webhook` (created under `/workflow-definitions/{key}/triggers`).",
    responses((status = 200, description = "The trigger kinds", body = Envelope<Vec<TriggerKindDto>>)))]
pub async fn triggers(
    _auth: Authorized<Read>,
) -> Result<ApiResponse<Vec<TriggerKindDto>>, ApiError> {
    let kind = |kind: &str, description: &str, config_schema: Value| TriggerKindDto {
        kind: kind.to_owned(),
        description: description.to_owned(),
        config_schema,
    };
    Ok(ApiResponse::ok(vec![
        kind(
            "manual",
            "A person runs the definition with an input.",
            json!({"type": "object", "properties": {"input": {"type": "object"}}}),
        ),
        kind(
            "event",
            "An outbox event whose type matches a pattern (`bet.*`) and whose payload passes \
             a CEL filter starts one run per subscription and event.",
            json!({"type": "object", "required": ["eventType"], "properties": {
                "eventType": {"type": "string", "description": "An event type or `prefix.*`"},
                "filter": {"type": "string", "description": "CEL over `event`"}}}),
        ),
        kind(
            "schedule",
            "A cron expression in an IANA time zone, with a catch-up policy for fires missed \
             while every node was down.",
            json!({"type": "object", "required": ["cron"], "properties": {
                "cron": {"type": "string"},
                "timezone": {"type": "string", "default": "UTC"},
                "catchUp": {"type": "string", "enum": ["fire_once", "skip"]}}}),
        ),
        kind(
            "webhook",
            "A public URL (`POST /api/v1/hooks/{endpointId}`) verified with the endpoint's \
             own secret (Standard Webhooks, or a plain HMAC-SHA256 header).",
            json!({"type": "object", "properties": {
                "scheme": {"type": "string", "enum": ["standard_webhooks", "hmac_sha256"]}}}),
        ),
    ]))
}
