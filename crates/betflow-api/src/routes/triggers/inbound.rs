//! `POST /api/v1/hooks/{endpointId}`: public, verified by the endpoint's own secret.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use betflow_engine::triggers::{HookRequest, MAX_HOOK_BODY, Received};
use uuid::Uuid;

use super::{HookAccepted, TAG};
use crate::AppState;
use crate::auth::ClientInfo;
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope, codes};
use crate::extract::ApiPath;

/// A replayed message id.
pub const WEBHOOK_REPLAYED: &str = "WEBHOOK_REPLAYED";

#[utoipa::path(post, path = "/api/v1/hooks/{endpointId}", tag = TAG,
    summary = "Receive an inbound webhook",
    description = "Public: no bearer token; the request is verified with the endpoint's own \
                   secret. Standard Webhooks endpoints need `webhook-id`, `webhook-timestamp` \
                   (Unix seconds, within the endpoint's tolerance, 5 minutes by default) and \
                   `webhook-signature` (`v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\">`); \
                   `hmac_sha256` endpoints need the hex HMAC-SHA256 of the body (optionally \
                   `sha256=`-prefixed) in their header (`X-Signature` by default); their \
                   replay key is `webhook-id` or `X-Request-Id` when the sender sends one. The \
                   verified JSON object (at most 256 KiB) becomes the input of a new run of the \
                   endpoint's definition. A message id already accepted is refused (409) and \
                   starts nothing; a bad signature is refused (401), recorded as a system \
                   event, and starts nothing.",
    params(("endpointId" = Uuid, Path, description = "The endpoint id")),
    request_body(content = Object, content_type = "application/json",
        description = "A JSON object: the run's input"),
    responses(
        (status = 202, body = Envelope<HookAccepted>, description = "Verified; the run started"),
        (status = 400, body = ErrorEnvelope, description = "VALIDATION_ERROR: the body is not a JSON \
            object"),
        (status = 401, body = ErrorEnvelope, description = "SIGNATURE_MISSING, INVALID_SIGNATURE \
            or TIMESTAMP_OUT_OF_TOLERANCE: the request is not signed with the endpoint's \
            secret, or is stale"),
        (status = 404, body = ErrorEnvelope, description = "NOT_FOUND: no such active endpoint"),
        (status = 409, body = ErrorEnvelope, description = "WEBHOOK_REPLAYED: this message id \
            was already accepted"),
        (status = 413, body = ErrorEnvelope, description = "PAYLOAD_TOO_LARGE: over 256 KiB"),
        (status = 429, body = ErrorEnvelope, description = "RATE_LIMITED: over the endpoint's \
            requests per minute; retry after `Retry-After` seconds",
            headers(("Retry-After" = u64, description = "Seconds until the window resets"))),
    ),
    security(()))]
pub async fn receive(
    State(state): State<AppState>,
    ClientInfo(actor): ClientInfo,
    ApiPath(endpoint_id): ApiPath<Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if body.len() > MAX_HOOK_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!("The body is larger than {} KiB", MAX_HOOK_BODY / 1024),
        ));
    }
    let req = HookRequest {
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect::<BTreeMap<_, _>>(),
        body: body.to_vec(),
        ip: actor.ip_address,
    };
    let received = state
        .engine
        .receive_hook(endpoint_id, &req, betflow_domain::time::now())
        .await?;
    Ok(match received {
        Received::Accepted { execution_id } => ApiResponse::accepted(HookAccepted {
            execution_id: execution_id.into(),
        })
        .message("Webhook accepted; the run started")
        .into_response(),
        Received::NotFound => {
            ApiError::not_found(format!("Not found: inbound endpoint {endpoint_id}"))
                .into_response()
        }
        Received::RateLimited { limit, reset } => {
            let secs = reset.as_secs().max(1);
            let mut r = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                codes::RATE_LIMITED,
                format!("Over this endpoint's limit of {limit} requests per minute"),
            )
            .into_response();
            r.headers_mut().insert(
                HeaderName::from_static("retry-after"),
                HeaderValue::from(secs),
            );
            r
        }
        Received::Unauthenticated(why) => {
            ApiError::new(StatusCode::UNAUTHORIZED, why.code(), why.message()).into_response()
        }
        Received::Replayed => ApiError::new(
            StatusCode::CONFLICT,
            WEBHOOK_REPLAYED,
            "This message id was already accepted; nothing was started",
        )
        .into_response(),
        Received::NotJson(why) => {
            ApiError::validation(format!("The body is not a JSON object: {why}")).into_response()
        }
    })
}
