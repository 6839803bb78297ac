//! `/api/v1/webhooks`: signed outbound webhooks (Standard Webhooks), their deliveries and
//! attempts, secret rotation, test pings, retries and recovery.

use axum::extract::State;
use betflow_domain::DomainError;
use betflow_domain::webhooks::{Attempt, DeliveryStatus, Webhook, WebhookChanges};
use betflow_engine::webhooks::{DeliveryView, NewWebhook};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::ListData;
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::ApiResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};

pub const TAG: &str = "webhooks";

crate::permissions! { Manage => ["webhooks:manage"]; }

/// `null` and absent differ: absent keeps the value, `null` clears it.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhookRequest {
    #[schema(example = "slack-notifications")]
    pub name: String,
    #[schema(example = "https://hooks.example.com/betflow")]
    pub url: String,
    /// Event types; `workflow.*` style wildcards, `*` for all.
    #[schema(example = json!(["workflow.approved", "workflow.created"]))]
    pub events: Vec<String>,
    pub description: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
    /// Per-request timeout in milliseconds (default 5000, at most 30000).
    pub timeout: Option<u32>,
    /// Deliveries per minute; omitted: unlimited.
    pub rate_limit: Option<u32>,
    /// Retries after the first attempt (the seed's `retryAttempts`), capped by the retry
    /// schedule. Default: the schedule's length.
    pub retry_attempts: Option<u32>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Enabling again clears the failure record.
    pub enabled: Option<bool>,
    pub timeout: Option<u32>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>)]
    pub rate_limit: Option<Option<u32>>,
    pub retry_attempts: Option<u32>,
}

/// An endpoint; its secret is shown only when created or rotated.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookResponse {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Milliseconds.
    pub timeout: u32,
    pub rate_limit: Option<u32>,
    pub retry_attempts: u32,
    /// Since when every delivery has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Why it was disabled automatically (410 Gone, or failing too long).
    pub disabled_reason: Option<String>,
    /// Until when the secret replaced by the last rotation still signs (a second signature).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookResponse {
    fn from(w: Webhook) -> Self {
        let now = Utc::now();
        Self {
            id: w.id,
            name: w.name,
            url: w.url,
            events: w.events,
            description: w.description,
            enabled: w.enabled,
            timeout: w.timeout_ms,
            rate_limit: w.rate_limit,
            retry_attempts: w.retry_attempts,
            failing_since: w.failing_since,
            disabled_reason: w.disabled_reason,
            previous_secret_expires_at: w.previous_expires_at.filter(|t| *t > now),
            created_by: w.created_by,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookWithSecret {
    /// `whsec_…`: verify signatures with it. Shown only in this response.
    pub secret: String,
    pub webhook: WebhookResponse,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptResponse {
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    /// The start of the response body.
    pub response: Option<String>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<Attempt> for AttemptResponse {
    fn from(a: Attempt) -> Self {
        Self {
            attempt: a.attempt,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response: a.response_snippet,
            error: a.error,
            at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryResponse {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The `webhook-id` header: the receiver's idempotency key.
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempt_count: u32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub attempts: Vec<AttemptResponse>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<DeliveryView> for DeliveryResponse {
    fn from(v: DeliveryView) -> Self {
        let d = v.delivery;
        Self {
            id: d.id,
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status.as_str().to_owned(),
            attempt_count: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status_code: d.last_status,
            last_error: d.last_error,
            attempts: v.attempts.into_iter().map(AttemptResponse::from).collect(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    pub page: Option<u32>,
    pub limit: Option<u32>,
    /// `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoverRequest {
    /// Re-queue failed deliveries created at or after this time…
    pub since: DateTime<Utc>,
    /// …and before this one (default: now).
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoverResponse {
    pub recovered: usize,
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = TAG, summary = "Register a webhook",
    description = "Requires `webhooks:manage`. Deliveries are signed per Standard Webhooks \
                   (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`); the \
                   secret is returned only here. URLs resolving to private, loopback or \
                   link-local addresses are refused.",
    request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookWithSecret), (status = 400, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> Result<ApiResponse<WebhookWithSecret>, ApiError> {
    let w = state
        .engine
        .create_webhook(
            &principal,
            NewWebhook {
                name: body.name,
                url: body.url,
                events: body.events,
                description: body.description,
                enabled: body.enabled.unwrap_or(true),
                timeout_ms: body.timeout,
                rate_limit: body.rate_limit,
                retry_attempts: body.retry_attempts,
            },
            &actor,
        )
        .await?;
    Ok(ApiResponse::created(WebhookWithSecret {
        secret: w.secret.clone(),
        webhook: w.into(),
    })
    .message("Webhook registered; the secret is shown only once"))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = TAG, summary = "List webhooks",
    description = "Requires `webhooks:manage`.",
    responses((status = 200, body = Vec<WebhookResponse>), (status = 403, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
) -> Result<ApiResponse<Vec<WebhookResponse>>, ApiError> {
    let hooks = state.engine.webhooks().await?;
    Ok(ApiResponse::ok(
        hooks.into_iter().map(WebhookResponse::from).collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = TAG, summary = "Get a webhook",
    description = "Requires `webhooks:manage`.", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookResponse), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<WebhookResponse>, ApiError> {
    Ok(ApiResponse::ok(state.engine.webhook(id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = TAG, summary = "Change a webhook",
    description = "Requires `webhooks:manage`. Only the fields given change.",
    params(("id" = Uuid, Path)), request_body = UpdateWebhookRequest,
    responses((status = 200, body = WebhookResponse), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn update(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateWebhookRequest>,
) -> Result<ApiResponse<WebhookResponse>, ApiError> {
    let changes = WebhookChanges {
        name: body.name,
        url: body.url,
        events: body.events,
        description: body.description,
        enabled: body.enabled,
        timeout_ms: body.timeout,
        rate_limit: body.rate_limit,
        retry_attempts: body.retry_attempts,
    };
    let w = state.engine.update_webhook(id, changes, &actor).await?;
    Ok(ApiResponse::ok(w.into()).message("Webhook updated"))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = TAG, summary = "Delete a webhook",
    description = "Requires `webhooks:manage`. Its deliveries go with it.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, body = ErrorEnvelope)))]
pub async fn delete(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<serde_json::Value>, ApiError> {
    state.engine.delete_webhook(id, &actor).await?;
    Ok(ApiResponse::ok(serde_json::json!({"id": id})).message("Webhook deleted"))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = TAG,
    summary = "Rotate a webhook's secret",
    description = "Requires `webhooks:manage`. Returns the new secret once. The old one keeps \
                   signing for a grace period (`BETFLOW_WEBHOOK_SECRET_GRACE`), so deliveries \
                   carry both signatures until receivers switch.",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookWithSecret), (status = 404, body = ErrorEnvelope)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<WebhookWithSecret>, ApiError> {
    let w = state.engine.rotate_webhook_secret(id, &actor).await?;
    Ok(ApiResponse::ok(WebhookWithSecret {
        secret: w.secret.clone(),
        webhook: w.into(),
    })
    .message("Secret rotated; the new secret is shown only once"))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = TAG,
    summary = "Send a test ping",
    description = "Requires `webhooks:manage`. Sends a signed `ping` event now and returns the \
                   delivery with its attempt (a failed ping is retried like any delivery).",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = DeliveryResponse), (status = 404, body = ErrorEnvelope)))]
pub async fn test(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
    _body: OptionalJson<serde_json::Value>,
) -> Result<ApiResponse<DeliveryResponse>, ApiError> {
    let d = state.engine.test_webhook(id).await?;
    Ok(ApiResponse::ok(d.into()))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = TAG,
    summary = "List a webhook's deliveries",
    description = "Requires `webhooks:manage`. Newest first, each with its attempts (status \
                   code, latency, response snippet) and the next retry time.",
    params(("id" = Uuid, Path), DeliveryParams),
    responses((status = 200, body = ListData<DeliveryResponse>),
        (status = 404, body = ErrorEnvelope)))]
pub async fn deliveries(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DeliveryParams>,
) -> Result<ApiResponse<ListData<DeliveryResponse>>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                DomainError::invalid("status", "must be pending, succeeded or failed")
            })
        })
        .transpose()?;
    let page = betflow_domain::PageRequest::new(q.page, q.limit)?;
    let page = state.engine.deliveries(id, status, page).await?;
    Ok(ApiResponse::ok(ListData::from_page(
        page,
        DeliveryResponse::from,
    )))
}

#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{deliveryId}/retry", tag = TAG,
    summary = "Retry a delivery now",
    description = "Requires `webhooks:manage`. Queues the delivery again at once, whatever \
                   its state.",
    params(("deliveryId" = Uuid, Path)),
    responses((status = 200, body = DeliveryResponse), (status = 404, body = ErrorEnvelope)))]
pub async fn retry(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
    _body: OptionalJson<serde_json::Value>,
) -> Result<ApiResponse<DeliveryResponse>, ApiError> {
    let d = state.engine.retry_delivery(id).await?;
    Ok(ApiResponse::ok(d.into()).message("Delivery queued"))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/recover", tag = TAG,
    summary = "Re-queue failed deliveries",
    description = "Requires `webhooks:manage`. Queues again every failed delivery created in \
                   `[since, until)` (at most 10,000 per call).",
    params(("id" = Uuid, Path)), request_body = RecoverRequest,
    responses((status = 200, body = RecoverResponse), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn recover(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<RecoverRequest>,
) -> Result<ApiResponse<RecoverResponse>, ApiError> {
    let recovered = state
        .engine
        .recover_webhook(id, body.since, body.until)
        .await?;
    Ok(ApiResponse::ok(RecoverResponse { recovered }))
}
