//! Extractors whose rejections are answered in the error envelope with a stable code,
//! never with axum's plain-text bodies.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, codes};

/// A JSON body. Wrong content type is 415, an oversized body 413, malformed JSON or a body
/// that does not fit the DTO (including unknown fields where the DTO denies them) 400.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
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

/// Query-string parameters; a bad one is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|r: QueryRejection| {
                ApiError::validation(format!("Invalid query string: {}", r.body_text()))
            })
    }
}

/// Path parameters; a malformed one (say, not a UUID) is a 400, not a 404 or a 500.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
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
