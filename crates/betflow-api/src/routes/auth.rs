//! `/api/v1/auth`: login, token refresh, logout, current user.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::UserDto;
use crate::AppState;
use crate::auth::{Auth, ClientInfo};
use crate::envelope::{ApiResponse, Envelope, NoData};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use axum::extract::State;
use betflow_engine::identity::Tokens;

pub const TAG: &str = "auth";

/// Every wrong, unknown, locked or suspended login answers the same 401; only a username
/// holding a control character (after trimming surrounding white space) is a 400.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or email; surrounding white space is trimmed.
    #[schema(
        example = "admin",
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*([^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]([^\x00-\x1F\x7F-\x9F]*[^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    /// From the last login or refresh; any other value is a 401.
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// A JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Single use: exchange it at `/auth/refresh` for a new pair.
    pub refresh_token: String,
    #[schema(value_type = String, pattern = "^Bearer$", example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: UserDto,
}

impl From<Tokens> for TokenResponse {
    fn from(t: Tokens) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            user: t.user.into(),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = TAG, summary = "Log in",
    description = "Public. Rate-limited per client IP. Every failure (unknown user, wrong \
                   password, locked or suspended account) answers the same 401.",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens", body = Envelope<TokenResponse>),
        (status = 401, description = "INVALID_CREDENTIALS", body = ErrorEnvelope),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<ApiResponse<TokenResponse>, ApiError> {
    let tokens = state
        .engine
        .identity()
        .login(body.username.trim(), &body.password, &actor)
        .await?;
    Ok(ApiResponse::ok(tokens.into()).message("Login successful"))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = TAG, summary = "Rotate tokens",
    description = "Public. Rate-limited per client IP. Presenting an already-used refresh \
                   token revokes the whole session.",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = Envelope<TokenResponse>),
        (status = 401, description = "INVALID_TOKEN", body = ErrorEnvelope),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<ApiResponse<TokenResponse>, ApiError> {
    let tokens = state
        .engine
        .identity()
        .refresh(body.refresh_token.trim(), &actor)
        .await?;
    Ok(ApiResponse::ok(tokens.into()).message("Tokens refreshed"))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = TAG, summary = "Log out",
    description = "Requires a session (bearer token): revokes every token of the session. \
                   An API key has no session (400; revoke the key instead).",
    responses(
        (status = 200, description = "Logged out", body = Envelope<NoData>),
        (status = 400, description = "VALIDATION_ERROR: the credential is an API key, which has no session",
            body = ErrorEnvelope),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientInfo(actor): ClientInfo,
) -> Result<ApiResponse<NoData>, ApiError> {
    state.engine.identity().logout(&principal, &actor).await?;
    Ok(ApiResponse::ok(NoData).message("Logged out"))
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = TAG, summary = "Current user",
    description = "Requires any valid credential.",
    responses((status = 200, description = "The caller", body = Envelope<UserDto>)))]
pub async fn me(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<ApiResponse<UserDto>, ApiError> {
    let user = state.engine.identity().get_user(principal.user_id).await?;
    Ok(ApiResponse::ok(user.into()))
}

/// Login and refresh, open to anyone (the password-guessing budget is per client IP).
pub(crate) fn public_router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(login))
        .routes(utoipa_axum::routes!(refresh))
}

/// The authenticated session routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(logout))
        .routes(utoipa_axum::routes!(me))
}
