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

mod idempotency;

pub(crate) use idempotency::{IDEMPOTENCY_KEY, IdempotentJson, money_response};

/// A JSON body. Wrong content type is 415, an oversized body 413, malformed JSON or a body
/// that does not fit the DTO (including unknown fields where the DTO denies them) 400, and so
/// is a NUL anywhere in it, with `details` naming each place (`username`, `data.title`). An
/// integer field takes an integral number in any JSON spelling (`4`, `4.0`, `4e0`).
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
            Err(JsonRejection::JsonDataError(e)) => match integral_floats_as_integers(&bytes) {
                Some(v) => v,
                None => return Err(json_rejection(JsonRejection::JsonDataError(e))),
            },
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        refuse_nul_in_json(&bytes)?;
        Ok(Self(value))
    }
}

/// Largest integer every f64 near it represents exactly (2^53).
const EXACT_F64_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// A second reading of a body that did not fit its DTO, with every integral number written
/// as a float (`4.0`, `1e3`) taken as the integer it is. JSON has one number type and the
/// OpenAPI document's `integer` is JSON Schema's, where `4.0` is an integer; serde reads it as
/// a float and refuses it for an integer field. Only values up to 2^53 are converted, where
/// the float is the integer exactly, so no amount is ever rounded. `None` when nothing was
/// converted or the body still does not fit: the first error stands.
fn integral_floats_as_integers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let mut doc: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !integral_floats_to_integers(&mut doc) {
        return None;
    }
    serde_json::from_value(doc).ok()
}

/// Rewrites integral floats in place; whether any was.
fn integral_floats_to_integers(v: &mut serde_json::Value) -> bool {
    use serde_json::{Number, Value};
    match v {
        Value::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) if f.fract() == 0.0 && f.abs() <= EXACT_F64_INTEGERS => {
                // In range, so the casts are exact.
                *n = if f >= 0.0 {
                    Number::from(f as u64)
                } else {
                    Number::from(f as i64)
                };
                true
            }
            _ => false,
        },
        // Every element is visited (no short-circuit): all of them are rewritten.
        Value::Array(items) => items
            .iter_mut()
            .map(integral_floats_to_integers)
            .fold(false, |any, changed| any | changed),
        Value::Object(fields) => fields
            .values_mut()
            .map(integral_floats_to_integers)
            .fold(false, |any, changed| any | changed),
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers_and_nothing_else_changes() {
        let mut v = json!({"a": 4.0, "b": [1e3, 2.5, -0.0], "c": {"d": 7}, "e": "4.0",
                           "f": 9007199254740992.0, "g": 1e300});
        assert!(integral_floats_to_integers(&mut v));
        assert_eq!(
            v,
            json!({"a": 4, "b": [1000, 2.5, 0], "c": {"d": 7}, "e": "4.0",
                   "f": 9_007_199_254_740_992_u64, "g": 1e300})
        );
        let mut plain = json!({"a": 4, "b": [2.5], "s": "x"});
        assert!(!integral_floats_to_integers(&mut plain));
    }
}
