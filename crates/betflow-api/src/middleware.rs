//! Cross-cutting HTTP behaviour applied to every route.

use std::any::Any;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, codes};

/// Headers equivalent to the seed's helmet settings. Set only when a route has not set its
/// own, so the docs page can carry a looser CSP.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'; \
         object-src 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("x-dns-prefetch-control", "off"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

/// Swagger UI styles elements inline and draws icons from data: URIs; nothing loads from
/// outside this server.
pub const DOCS_CSP: &str = "default-src 'self'; base-uri 'self'; frame-ancestors 'none'; \
     form-action 'self'; object-src 'none'; script-src 'self'; style-src 'self' \
     'unsafe-inline'; img-src 'self' data:; connect-src 'self'";

/// Adds [`SECURITY_HEADERS`] to every response that does not carry its own value.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert_with(|| HeaderValue::from_static(value));
    }
    response
}

/// Bounds the time to produce a response head. A slow handler answers 503 `REQUEST_TIMEOUT`
/// and its future is dropped (cancelling its work, and rolling back any open transaction).
pub async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::REQUEST_TIMEOUT,
            format!(
                "The request did not complete within {} ms",
                limit.as_millis()
            ),
        )
        .into_response(),
    }
}

/// Refuses a declared body larger than the limit before reading any of it. Bodies without a
/// `Content-Length` are bounded while they are read (axum's `DefaultBodyLimit`).
pub async fn content_length_limit(State(limit): State<u64>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!("The request body ({len} bytes) exceeds the limit of {limit} bytes"),
        )
        .into_response(),
        _ => next.run(req).await,
    }
}

/// The safety net for "never a plain-text error": any 4xx/5xx that reached here without a
/// JSON body (axum's 405, a layer's bare status) is rewritten into the error envelope,
/// keeping the headers that give it meaning.
pub async fn envelope_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return response;
    }
    let mut rewritten = ApiError::from_status(status).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = response.headers().get(&name) {
            rewritten.headers_mut().insert(name, v.clone());
        }
    }
    rewritten
}

/// A panicking handler answers 500 in the envelope; the process and its other requests
/// carry on.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic payload");
    tracing::error!(panic = detail, "handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        codes::INTERNAL_ERROR,
        "An internal error occurred",
    )
    .into_response()
}
