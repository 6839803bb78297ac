//! `/api/v1/webhooks`: signed outbound webhooks (Standard Webhooks), their deliveries and
//! attempts, secret rotation, test pings, retries and recovery.

use axum::extract::State;
use betflow_domain::webhooks::{Attempt, DeliveryStatus, Webhook, WebhookChanges};
use betflow_engine::webhooks::{DeliveryView, NewWebhook};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{Deleted, ListData, PageParams};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};

pub const TAG: &str = "webhooks";

crate::permissions! { Manage => ["webhooks:manage"]; }

/// `null` and absent differ: absent keeps the value, `null` clears it.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A new endpoint. The server trims surrounding white space (Rust's `str::trim`) from `name`
/// and `url`; the patterns spell that class out rather than use `\\s`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// 1 to 100 characters once trimmed, no control characters.
    #[schema(
        example = "slack-notifications",
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]([^\x00-\x1F\x7F-\x9F]{0,98}[^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: String,
    /// An absolute `http://` or `https://` URL without credentials or white space, at most
    /// 2048 characters. Unless `BETFLOW_WEBHOOKS_ALLOW_PRIVATE` is set, a URL whose host is
    /// (or resolves to) a private, loopback or link-local address is refused (400).
    #[schema(
        example = "https://hooks.example.com/betflow",
        max_length = 2048,
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*https?://[^/?#@\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+([/?#][^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*)?[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub url: String,
    /// 1 to 50 event types, `prefix.*` wildcards, or `*` for all.
    #[schema(example = json!(["workflow.approved", "workflow.created"]), min_items = 1,
        max_items = 50, inline)]
    pub events: Vec<EventPattern>,
    /// Free text, at most 1000 characters.
    #[schema(
        max_length = 1000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub description: Option<String>,
    /// Default `true`.
    pub enabled: Option<bool>,
    /// Per-request timeout in milliseconds (default 5000).
    #[schema(minimum = 1, maximum = 30000)]
    pub timeout: Option<u32>,
    /// Deliveries per minute; omitted or `null`: unlimited.
    #[schema(minimum = 1, maximum = 100000)]
    pub rate_limit: Option<u32>,
    /// Retries after the first attempt (the seed's `retryAttempts`), capped by the retry
    /// schedule. Default: the schedule's length.
    #[schema(minimum = 0, maximum = 20)]
    pub retry_attempts: Option<u32>,
}

/// An event type (`workflow.created`), a `prefix.*` wildcard, or `*`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(value_type = String, max_length = 100, pattern = r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$")]
#[serde(transparent)]
pub struct EventPattern(pub String);

/// Only the fields given change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    /// 1 to 100 characters once trimmed, no control characters.
    #[schema(
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]([^\x00-\x1F\x7F-\x9F]{0,98}[^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: Option<String>,
    /// As on creation.
    #[schema(
        max_length = 2048,
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*https?://[^/?#@\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+([/?#][^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*)?[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub url: Option<String>,
    /// 1 to 50 event types, `prefix.*` wildcards, or `*`.
    #[schema(min_items = 1, max_items = 50, inline)]
    pub events: Option<Vec<EventPattern>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 1000, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")]
    pub description: Option<Option<String>>,
    /// Enabling again clears the failure record.
    pub enabled: Option<bool>,
    /// Milliseconds.
    #[schema(minimum = 1, maximum = 30000)]
    pub timeout: Option<u32>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 100000)]
    pub rate_limit: Option<Option<u32>>,
    #[schema(minimum = 0, maximum = 20)]
    pub retry_attempts: Option<u32>,
}

fn patterns(events: Vec<EventPattern>) -> Vec<String> {
    events.into_iter().map(|e| e.0).collect()
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

/// A delivery's state.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatusName {
    Pending,
    Succeeded,
    Failed,
}

impl From<DeliveryStatus> for DeliveryStatusName {
    fn from(s: DeliveryStatus) -> Self {
        match s {
            DeliveryStatus::Pending => Self::Pending,
            DeliveryStatus::Succeeded => Self::Succeeded,
            DeliveryStatus::Failed => Self::Failed,
        }
    }
}

impl From<DeliveryStatusName> for DeliveryStatus {
    fn from(s: DeliveryStatusName) -> Self {
        match s {
            DeliveryStatusName::Pending => Self::Pending,
            DeliveryStatusName::Succeeded => Self::Succeeded,
            DeliveryStatusName::Failed => Self::Failed,
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
    pub status: DeliveryStatusName,
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
            status: d.status.into(),
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

/// The filter; paging is [`PageParams`], read from the same query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// Only deliveries in this state.
    pub status: Option<DeliveryStatusName>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoverRequest {
    /// Re-queue failed deliveries created at or after this time…
    pub since: DateTime<Utc>,
    /// …and before this one (default: now). A window that ends before it starts holds
    /// nothing (0 re-queued).
    pub until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoverResponse {
    /// Deliveries queued again (at most 10,000 per call).
    pub recovered: usize,
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = TAG, summary = "Register a webhook",
    description = "Requires `webhooks:manage`. Deliveries are signed per Standard Webhooks \
                   (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`); the \
                   secret is returned only here. URLs resolving to private, loopback or \
                   link-local addresses are refused.",
    request_body = CreateWebhookRequest,
    responses((status = 201, description = "Registered; the secret is shown only here",
        body = Envelope<WebhookWithSecret>,
        headers(("Location" = String, description = "`/api/v1/webhooks/{id}`")))))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> Result<ApiResponse<WebhookWithSecret>, ApiError> {
    let w = state
        .engine
        .webhooks()
        .create(
            &principal,
            NewWebhook {
                name: body.name,
                url: body.url,
                events: patterns(body.events),
                description: body.description,
                enabled: body.enabled.unwrap_or(true),
                timeout_ms: body.timeout,
                rate_limit: body.rate_limit,
                retry_attempts: body.retry_attempts,
            },
            &actor,
        )
        .await?;
    let location = format!("/api/v1/webhooks/{}", w.id);
    Ok(ApiResponse::created(WebhookWithSecret {
        secret: w.secret.clone(),
        webhook: w.into(),
    })
    .message("Webhook registered; the secret is shown only once")
    .location(&location))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = TAG, summary = "List webhooks",
    description = "Requires `webhooks:manage`. Oldest first.", params(PageParams),
    responses((status = 200, description = "A page of webhooks",
        body = Envelope<ListData<WebhookResponse>>)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<WebhookResponse>>, ApiError> {
    let page = paging.request()?;
    let hooks = state.engine.webhooks().list().await?;
    Ok(ApiResponse::ok(ListData::from_all(
        hooks,
        page,
        WebhookResponse::from,
    )))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = TAG, summary = "Get a webhook",
    description = "Requires `webhooks:manage`.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The webhook", body = Envelope<WebhookResponse>)))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<WebhookResponse>, ApiError> {
    Ok(ApiResponse::ok(
        state.engine.webhooks().get(id).await?.into(),
    ))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = TAG, summary = "Change a webhook",
    description = "Requires `webhooks:manage`. Only the fields given change.",
    params(("id" = Uuid, Path)), request_body = UpdateWebhookRequest,
    responses((status = 200, description = "The webhook as changed", body = Envelope<WebhookResponse>)))]
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
        events: body.events.map(patterns),
        description: body.description,
        enabled: body.enabled,
        timeout_ms: body.timeout,
        rate_limit: body.rate_limit,
        retry_attempts: body.retry_attempts,
    };
    let w = state.engine.webhooks().update(id, changes, &actor).await?;
    Ok(ApiResponse::ok(w.into()).message("Webhook updated"))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = TAG, summary = "Delete a webhook",
    description = "Requires `webhooks:manage`. Its deliveries go with it.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Envelope<Deleted>)))]
pub async fn delete(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Deleted>, ApiError> {
    state.engine.webhooks().delete(id, &actor).await?;
    Ok(ApiResponse::ok(Deleted { id }).message("Webhook deleted"))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = TAG,
    summary = "Rotate a webhook's secret",
    description = "Requires `webhooks:manage`. Returns the new secret once. The old one keeps \
                   signing for a grace period (`BETFLOW_WEBHOOK_SECRET_GRACE`), so deliveries \
                   carry both signatures until receivers switch.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The new secret", body = Envelope<WebhookWithSecret>)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<WebhookWithSecret>, ApiError> {
    let w = state.engine.webhooks().rotate_secret(id, &actor).await?;
    Ok(ApiResponse::ok(WebhookWithSecret {
        secret: w.secret.clone(),
        webhook: w.into(),
    })
    .message("Secret rotated; the new secret is shown only once"))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = TAG,
    summary = "Send a test ping",
    description = "Requires `webhooks:manage`. Sends a signed `ping` event now and returns the \
                   delivery with its attempt (a failed ping is retried like any delivery). \
                   A body, if sent, must be JSON and is ignored.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The ping's delivery", body = Envelope<DeliveryResponse>)))]
pub async fn test(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
    _body: OptionalJson<serde_json::Value>,
) -> Result<ApiResponse<DeliveryResponse>, ApiError> {
    let d = state.engine.webhooks().test(id).await?;
    Ok(ApiResponse::ok(d.into()))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = TAG,
    summary = "List a webhook's deliveries",
    description = "Requires `webhooks:manage`. Newest first, each with its attempts (status \
                   code, latency, response snippet) and the next retry time.",
    params(("id" = Uuid, Path), DeliveryParams, PageParams),
    responses((status = 200, description = "A page of deliveries",
        body = Envelope<ListData<DeliveryResponse>>)))]
pub async fn deliveries(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<DeliveryParams>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<DeliveryResponse>>, ApiError> {
    let status = q.status.map(DeliveryStatus::from);
    let page = paging.request()?;
    let page = state.engine.webhooks().deliveries(id, status, page).await?;
    Ok(ApiResponse::ok(ListData::from_page(
        page,
        DeliveryResponse::from,
    )))
}

#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{deliveryId}/retry", tag = TAG,
    summary = "Retry a delivery now",
    description = "Requires `webhooks:manage`. Queues the delivery again at once, whatever \
                   its state. A body, if sent, must be JSON and is ignored.",
    params(("deliveryId" = Uuid, Path)),
    responses((status = 200, description = "The delivery, queued", body = Envelope<DeliveryResponse>)))]
pub async fn retry(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
    _body: OptionalJson<serde_json::Value>,
) -> Result<ApiResponse<DeliveryResponse>, ApiError> {
    let d = state.engine.webhooks().retry_delivery(id).await?;
    Ok(ApiResponse::ok(d.into()).message("Delivery queued"))
}

#[utoipa::path(post, path = "/api/v1/webhooks/{id}/recover", tag = TAG,
    summary = "Re-queue failed deliveries",
    description = "Requires `webhooks:manage`. Queues again every failed delivery created in \
                   `[since, until)` (at most 10,000 per call).",
    params(("id" = Uuid, Path)), request_body = RecoverRequest,
    responses((status = 200, description = "How many were queued again", body = Envelope<RecoverResponse>)))]
pub async fn recover(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<RecoverRequest>,
) -> Result<ApiResponse<RecoverResponse>, ApiError> {
    let recovered = state
        .engine
        .webhooks()
        .recover(id, body.since, body.until)
        .await?;
    Ok(ApiResponse::ok(RecoverResponse { recovered }))
}

/// The webhook routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(create, list))
        .routes(utoipa_axum::routes!(get, update, delete))
        .routes(utoipa_axum::routes!(rotate_secret))
        .routes(utoipa_axum::routes!(test))
        .routes(utoipa_axum::routes!(deliveries))
        .routes(utoipa_axum::routes!(retry))
        .routes(utoipa_axum::routes!(recover))
}
