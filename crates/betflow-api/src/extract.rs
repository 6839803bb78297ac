//! Extractors whose rejections are answered in the error envelope with a stable code,
//! never with axum's plain-text bodies.
//!
//! They are also where the API decides, once for every route, what characters input may
//! carry (the rules are [`betflow_domain::text`]'s): no NUL in any JSON string or object key
//! (free-form objects included), and no control character at all in a query or path value,
//! all of which are identifiers, filters or search terms. Which body fields are names and
//! which free text is a per-field matter, checked where the domain validates those fields.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use betflow_domain::{DomainError, Violation, text};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, codes};

/// A JSON body. Wrong content type is 415, an oversized body 413, malformed JSON or a body
/// that does not fit the DTO (including unknown fields where the DTO denies them) 400, and so
/// is a NUL anywhere in it, with `details` naming each place (`username`, `data.title`).
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // The body is buffered once and handed back to axum's extractor, so content-type,
        // size and syntax are judged exactly as before; the bytes stay for the NUL check.
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|r| json_rejection(JsonRejection::from(r)))?;
        let rebuilt = Request::from_parts(parts, Body::from(bytes.clone()));
        let value = match axum::Json::<T>::from_request(rebuilt, state).await {
            Ok(axum::Json(v)) => v,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        refuse_nul_in_json(&bytes)?;
        Ok(Self(value))
    }
}

/// A NUL can only reach a JSON string through the escape `\u0000` (raw control bytes are a
/// syntax error), so bodies without that text, nearly all of them, are not parsed again.
/// The escape may also be literal text (`\\u0000`); the walk over the parsed document tells.
fn refuse_nul_in_json(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    let violations = text::nul_violations("", &doc);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(violations).into())
    }
}

/// Refuses control characters in query or path parameters (names and percent-decoded
/// values), naming each parameter. Pairs that cannot be read at all are left to the typed
/// extractor, which reports them its own way.
fn refuse_controls<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), ApiError> {
    let violations: Vec<Violation> = pairs
        .into_iter()
        .filter_map(|(name, value)| {
            let field = text::join_key("", name);
            text::check_name(&field, name)
                .and_then(|()| text::check_name(&field, value))
                .err()
        })
        .take(text::MAX_REPORTED)
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(violations).into())
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let status = r.status();
    let detail = r.body_text();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            codes::PAYLOAD_TOO_LARGE,
            "The request body exceeds the configured limit",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            codes::UNSUPPORTED_MEDIA_TYPE,
            "Expected request with `Content-Type: application/json`",
        ),
        _ => {
            let kind = match r {
                JsonRejection::JsonSyntaxError(_) => "syntax",
                JsonRejection::JsonDataError(_) => "data",
                _ => "body",
            };
            ApiError::validation(format!("Invalid JSON body: {detail}"))
                .with_details(serde_json::json!({ "reason": kind }))
        }
    }
}

/// Query-string parameters; a bad one is a 400 naming it, and so is one holding a control
/// character.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // A control character can only arrive percent-encoded.
        if parts.uri.query().is_some_and(|q| q.contains('%'))
            && let Ok(axum::extract::Query(pairs)) =
                axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        {
            refuse_controls(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|r: QueryRejection| {
                ApiError::validation(format!("Invalid query string: {}", r.body_text()))
            })
    }
}

/// Path parameters; a malformed one (say, not a UUID) is a 400, not a 404 or a 500, and so is
/// one holding a control character.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(raw) = RawPathParams::from_request_parts(parts, state).await {
            refuse_controls(&raw)?;
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|r: PathRejection| {
                ApiError::validation(format!("Invalid path parameter: {}", r.body_text()))
            })
    }
}

/// A JSON body that may be omitted entirely (an empty body reads as `T::default()`), for
/// action endpoints like `approve` whose fields are all optional. A body that is present is
/// held to the same rules as [`ApiJson`].
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers();
        let length = headers.get(axum::http::header::CONTENT_LENGTH);
        let no_body = match length {
            Some(v) => v.as_bytes() == b"0",
            None => !headers.contains_key(axum::http::header::TRANSFER_ENCODING),
        };
        if no_body {
            return Ok(Self(T::default()));
        }
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(v)| Self(v))
    }
}
