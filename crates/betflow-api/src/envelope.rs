//! The success half of the response envelope.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// RFC 3339 UTC with millisecond precision, as the seeds' `new Date().toISOString()`.
pub fn timestamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `{"success": true, "data": ..., "message": "...", "timestamp": "..."}`.
///
/// Every `/api/v1` success answer has this shape, so the OpenAPI document declares each
/// response body as `Envelope<Payload>` (utoipa names the instance `Envelope_Payload`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
    /// A human-readable note, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the answer was produced (RFC 3339, UTC, milliseconds).
    pub timestamp: String,
}

/// The `data` of an answer that carries none (logout, a password change): always `null`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoData;

impl Serialize for NoData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl utoipa::PartialSchema for NoData {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Null)
            .description(Some("Always null"))
            .into()
    }
}

impl ToSchema for NoData {}

/// A success answer with its status; handlers return this.
pub struct ApiResponse<T> {
    status: StatusCode,
    envelope: Envelope<T>,
    location: Option<HeaderValue>,
}

impl<T: Serialize> ApiResponse<T> {
    pub fn ok(data: T) -> Self {
        Self {
            status: StatusCode::OK,
            envelope: Envelope {
                success: true,
                data,
                message: None,
                timestamp: timestamp(),
            },
            location: None,
        }
    }

    pub fn created(data: T) -> Self {
        Self {
            status: StatusCode::CREATED,
            ..Self::ok(data)
        }
    }

    /// 202: taken, but not done yet (it waits for an approval).
    pub fn accepted(data: T) -> Self {
        Self {
            status: StatusCode::ACCEPTED,
            ..Self::ok(data)
        }
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.envelope.message = Some(message.into());
        self
    }

    /// Adds `Location`: where the object a 201 created can be read. Declare it on the route
    /// as `headers(("Location" = String, description = "..."))`.
    pub fn location(mut self, path: &str) -> Self {
        self.location = HeaderValue::from_str(path).ok();
        self
    }
}

impl<T: Serialize> IntoResponse for ApiResponse<T> {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.envelope)).into_response();
        if let Some(location) = self.location {
            res.headers_mut().insert(header::LOCATION, location);
        }
        res
    }
}
