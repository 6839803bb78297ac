//! `Idempotency-Key` handling, shared by every money-moving route (deposits, withdrawals,
//! bet placement): the extractor that reads the key and binds it to the request, and the
//! answer that is either the fresh result or the first outcome replayed.

use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use betflow_domain::DomainError;
use betflow_domain::idempotency::Outcome;
use betflow_engine::identity::Principal;
use betflow_engine::wallet::{IdempotencyKey, Idempotent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::ApiJson;
use crate::auth::Auth;
use crate::envelope::ApiResponse;
use crate::error::{ApiError, status_of};

/// The OpenAPI description of the `Idempotency-Key` request header.
pub(crate) const IDEMPOTENCY_KEY: &str = "1 to 255 visible ASCII characters. A retry with \
    the same key and body gets the first response back (`Idempotent-Replayed: true`); the \
    key with another body is 422 `IDEMPOTENCY_KEY_REUSED`; while the first request runs, 409 \
    `IDEMPOTENCY_KEY_IN_USE`. Remembered for 24 hours.";

/// A money-moving request: its JSON body (read as [`ApiJson`] reads it) and its
/// `Idempotency-Key`, if it sent one, bound to the caller, the route (method and path
/// template) and the body in canonical JSON, so the same key with another body is
/// recognised. A key that is not 1 to 255 visible ASCII characters is a 400.
pub struct IdempotentJson<T> {
    pub key: Option<IdempotencyKey>,
    pub body: T,
}

impl<T, S> FromRequest<S> for IdempotentJson<T>
where
    T: DeserializeOwned + Serialize,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Auth(principal) = Auth::from_request_parts(&mut parts, state).await?;
        let path = match parts.extensions.get::<MatchedPath>() {
            Some(m) => m.as_str().to_owned(),
            None => parts.uri.path().to_owned(),
        };
        let route = format!("{} {path}", parts.method);
        let header = parts.headers.get("idempotency-key").cloned();
        let ApiJson(body) =
            ApiJson::<T>::from_request(Request::from_parts(parts, body), state).await?;
        let key = match header {
            None => None,
            Some(raw) => Some(bind(&raw, &principal, &route, &body)?),
        };
        Ok(Self { key, body })
    }
}

/// The key in `raw`, with the fingerprint of `route` and `body`.
fn bind<T: Serialize>(
    raw: &HeaderValue,
    principal: &Principal,
    route: &str,
    body: &T,
) -> Result<IdempotencyKey, ApiError> {
    let key = raw
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::from(DomainError::invalid(
                "Idempotency-Key",
                "1 to 255 visible ASCII characters",
            ))
        })?;
    Ok(IdempotencyKey {
        user_id: principal.user_id,
        key: key.to_owned(),
        fingerprint: fingerprint(route, body)?,
    })
}

/// SHA-256 over the route and the body's canonical JSON, in hex.
fn fingerprint<T: Serialize>(route: &str, body: &T) -> Result<String, ApiError> {
    let canonical = serde_json::to_value(body)
        .map(|v| v.to_string())
        .map_err(ApiError::internal)?;
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    h.update(canonical.as_bytes());
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A money-moving call's answer: 201 with the result and its `Location`, or the first
/// outcome under its key (marked `Idempotent-Replayed: true`): the resource it created
/// (201), or its refusal with the status of its kind.
pub(crate) fn money_response<T, D>(
    result: Idempotent<T>,
    location: impl FnOnce(&D) -> String,
) -> Result<Response, ApiError>
where
    D: From<T> + Serialize,
{
    let outcome = match result {
        Idempotent::Fresh(v) => {
            let dto = D::from(v);
            let at = location(&dto);
            return Ok(([(LOCATION, at)], ApiResponse::created(dto)).into_response());
        }
        Idempotent::Replay(outcome) => outcome,
    };
    let timestamp = crate::envelope::timestamp();
    let (status, envelope) = match outcome {
        Outcome::Created(data) => (
            StatusCode::CREATED,
            json!({"success": true, "data": data, "timestamp": timestamp}),
        ),
        Outcome::Refused {
            kind,
            code,
            message,
            details,
        } => (
            status_of(kind),
            json!({"success": false,
                   "error": {"code": code, "message": message, "details": details},
                   "timestamp": timestamp}),
        ),
    };
    let mut res = (status, axum::Json(envelope)).into_response();
    res.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::post;
    use betflow_domain::identity::Role;
    use tower::ServiceExt;

    /// The fingerprint is the one keys were always stored with: the route's method and path
    /// template, a NUL, the body's canonical JSON; so keys recorded before this extractor
    /// existed still match their retries.
    #[tokio::test]
    async fn the_fingerprint_binds_the_route_template_and_the_body() {
        let principal = Principal {
            user_id: uuid::Uuid::now_v7(),
            username: "punter".into(),
            role: Role::Customer,
            permissions: Vec::new(),
            key_permissions: None,
            credential: betflow_engine::identity::Credential::Session(uuid::Uuid::now_v7()),
        };
        let user = principal.user_id;
        let app = Router::new().route(
            "/api/v1/bets",
            post(|r: IdempotentJson<serde_json::Value>| async move {
                let key = r.key.map(|k| (k.user_id, k.key, k.fingerprint));
                axum::Json(json!(key))
            }),
        );
        let req = |key: &str| {
            let mut req = Request::post("/api/v1/bets")
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(axum::body::Body::from(r#"{"stake": 100,  "legs": []}"#))
                .unwrap();
            req.extensions_mut().insert(principal.clone());
            req
        };
        let res = app.clone().oneshot(req("k-1")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .unwrap();
        let got: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let expected =
            fingerprint("POST /api/v1/bets", &json!({"stake": 100, "legs": []})).unwrap();
        assert_eq!(got, json!([user, "k-1", expected]));
        let res = app.oneshot(req("k 1")).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
}
