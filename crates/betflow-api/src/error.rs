//! The error half of the response envelope, and the mapping from every failure to it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use betflow_domain::DomainError;
use betflow_engine::{AuthFailure, EngineError, Refusal, RefusalKind};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Stable, machine-readable error codes. Clients switch on these, so they never change
/// meaning once published.
pub mod codes {
    pub const VALIDATION_ERROR: &str = "VALIDATION_ERROR";
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";
    pub const CONFLICT: &str = "CONFLICT";
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    pub const UNPROCESSABLE_ENTITY: &str = "UNPROCESSABLE_ENTITY";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const INVALID_TOKEN: &str = "INVALID_TOKEN";
    pub const INVALID_API_KEY: &str = "INVALID_API_KEY";
    pub const INVALID_AUTHORIZATION: &str = "INVALID_AUTHORIZATION";
    pub const INVALID_CREDENTIALS: &str = "INVALID_CREDENTIALS";
    pub const INSUFFICIENT_PERMISSIONS: &str = "INSUFFICIENT_PERMISSIONS";
    pub const INSUFFICIENT_PRIVILEGES: &str = "INSUFFICIENT_PRIVILEGES";
    pub const INVALID_TRANSITION: &str = "INVALID_TRANSITION";
    pub const SEGREGATION_OF_DUTIES: &str = "SEGREGATION_OF_DUTIES";
    pub const NOT_ASSIGNEE: &str = "NOT_ASSIGNEE";
}

/// An error answer: status, stable code, human message and optional structured details.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Adds `WWW-Authenticate` naming the accepted schemes (RFC 9110 for 401s).
    pub www_authenticate: bool,
}

/// `{"success": false, "error": {...}, "timestamp": "..."}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
    /// When the error was produced (RFC 3339, UTC).
    pub timestamp: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `VALIDATION_ERROR`.
    #[schema(example = "VALIDATION_ERROR")]
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            www_authenticate: false,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::VALIDATION_ERROR, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }

    /// A fault on our side. The cause is logged; the client sees a generic message so nothing
    /// internal (SQL, paths, secrets) leaks.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL_ERROR,
            "An internal error occurred",
        )
    }

    /// The default code and message for a bare status, used when a layer below us produced
    /// an error without a body of ours.
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::BAD_REQUEST => (codes::BAD_REQUEST, "The request is malformed"),
            StatusCode::UNAUTHORIZED => (codes::UNAUTHORIZED, "Authentication required"),
            StatusCode::FORBIDDEN => (codes::FORBIDDEN, "Access denied"),
            StatusCode::NOT_FOUND => (codes::NOT_FOUND, "Resource not found"),
            StatusCode::METHOD_NOT_ALLOWED => (
                codes::METHOD_NOT_ALLOWED,
                "This method is not allowed on this route",
            ),
            StatusCode::NOT_ACCEPTABLE => (codes::NOT_ACCEPTABLE, "Not acceptable"),
            StatusCode::REQUEST_TIMEOUT => (codes::REQUEST_TIMEOUT, "The request timed out"),
            StatusCode::PAYLOAD_TOO_LARGE => {
                (codes::PAYLOAD_TOO_LARGE, "The request body is too large")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                codes::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported content type; send application/json",
            ),
            StatusCode::UNPROCESSABLE_ENTITY => (
                codes::UNPROCESSABLE_ENTITY,
                "The request cannot be processed",
            ),
            StatusCode::TOO_MANY_REQUESTS => (codes::RATE_LIMITED, "Too many requests"),
            StatusCode::SERVICE_UNAVAILABLE => (
                codes::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable",
            ),
            s if s.is_client_error() => (codes::BAD_REQUEST, "The request was refused"),
            _ => (codes::INTERNAL_ERROR, "An internal error occurred"),
        };
        Self::new(status, code, message)
    }

    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope {
            success: false,
            error: ErrorBody {
                code: self.code.to_owned(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
            timestamp: crate::envelope::timestamp(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.envelope())).into_response();
        if self.www_authenticate {
            res.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer, ApiKey"),
            );
        }
        res
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Validation(violations) => {
                let message = violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                Self::validation(message).with_details(serde_json::json!(violations))
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Unauthenticated(failure) => {
                let (code, message) = match failure {
                    AuthFailure::Missing => (codes::UNAUTHORIZED, "Authorization header required"),
                    AuthFailure::InvalidToken => {
                        (codes::INVALID_TOKEN, "Token is invalid or expired")
                    }
                    AuthFailure::InvalidApiKey => {
                        (codes::INVALID_API_KEY, "API key is invalid or expired")
                    }
                    AuthFailure::InvalidScheme => (
                        codes::INVALID_AUTHORIZATION,
                        "Authorization header must be Bearer token or ApiKey",
                    ),
                    AuthFailure::InvalidCredentials => (
                        codes::INVALID_CREDENTIALS,
                        "Invalid username or password, or the account is locked or suspended",
                    ),
                };
                let mut e = Self::new(StatusCode::UNAUTHORIZED, code, message);
                e.www_authenticate = true;
                e
            }
            EngineError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "dependency unavailable");
                Self::from_status(StatusCode::SERVICE_UNAVAILABLE)
            }
            EngineError::Contention(cause) => {
                // Retried by the engine and still aborted: nothing was written, and the
                // same request may go through in a moment.
                tracing::warn!(error = %cause, "transaction aborted for contention");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    codes::SERVICE_UNAVAILABLE,
                    "The request met conflicting writes and was not carried out; retry it",
                )
            }
            EngineError::Internal(cause) => Self::internal(cause),
            other => match other.refusal() {
                Some(r) => Self::refusal(r),
                None => Self::internal(other),
            },
        }
    }
}

impl ApiError {
    /// The answer to an engine's refusal: its kind's status, its code, message and details.
    pub fn refusal(r: Refusal) -> Self {
        let mut e = Self::new(status_of(r.kind), r.code, r.message);
        e.details = r.details;
        e
    }
}

/// The one place a refusal's kind becomes an HTTP status.
pub fn status_of(kind: RefusalKind) -> StatusCode {
    match kind {
        RefusalKind::Invalid => StatusCode::BAD_REQUEST,
        RefusalKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        RefusalKind::Forbidden => StatusCode::FORBIDDEN,
        RefusalKind::NotFound => StatusCode::NOT_FOUND,
        RefusalKind::Conflict => StatusCode::CONFLICT,
        RefusalKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transaction the database kept aborting for contention is a 503 with a stable code
    /// (the client may retry; nothing was written), never a 500.
    #[test]
    fn contention_is_a_503() {
        let e = ApiError::from(EngineError::Contention("deadlock detected".into()));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::SERVICE_UNAVAILABLE, codes::SERVICE_UNAVAILABLE)
        );
        assert!(!e.message.contains("deadlock"), "{}", e.message);
    }

    /// Each kind of refusal answers with the status it always had.
    #[test]
    fn refusals_keep_their_statuses() {
        let refused = |kind| EngineError::refused(kind, "X", "x", None);
        let cases = [
            (
                EngineError::from(DomainError::invalid("f", "bad")),
                400,
                "VALIDATION_ERROR",
            ),
            (
                EngineError::PermissionDenied(vec!["a".into()]),
                403,
                "INSUFFICIENT_PERMISSIONS",
            ),
            (EngineError::NotFound("x".into()), 404, "NOT_FOUND"),
            (
                EngineError::InvalidTransition("x".into()),
                409,
                "INVALID_TRANSITION",
            ),
            (
                EngineError::SegregationOfDuties("x".into()),
                403,
                "SEGREGATION_OF_DUTIES",
            ),
            (EngineError::NotAssignee("x".into()), 403, "NOT_ASSIGNEE"),
            (
                EngineError::Unprocessable("x".into()),
                422,
                "UNPROCESSABLE_ENTITY",
            ),
            (EngineError::Conflict("x".into()), 409, "CONFLICT"),
            (refused(RefusalKind::Invalid), 400, "X"),
            (refused(RefusalKind::Unauthenticated), 401, "X"),
            (refused(RefusalKind::Forbidden), 403, "X"),
            (refused(RefusalKind::NotFound), 404, "X"),
            (refused(RefusalKind::Conflict), 409, "X"),
            (refused(RefusalKind::Unprocessable), 422, "X"),
        ];
        for (error, status, code) in cases {
            let e = ApiError::from(error);
            assert_eq!((e.status.as_u16(), e.code), (status, code));
            assert!(
                !e.www_authenticate,
                "only failed authentication names schemes"
            );
        }
    }
}
