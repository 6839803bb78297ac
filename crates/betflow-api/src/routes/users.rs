//! `/api/v1/users`: user administration and password changes.

use axum::extract::State;
use betflow_engine::identity::{NewUser, UserPatch};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{ListData, PageParams, Permission, RoleName, UserDto, UserStatusName};
use crate::AppState;
use crate::auth::{Auth, Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope, NoData};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub const TAG: &str = "users";

crate::permissions! {
    UsersRead => ["users:read"];
    UsersManage => ["users:manage"];
}

/// A new user. The server trims surrounding white space (Rust's `str::trim`: Unicode
/// White_Space) from the username and email; the patterns spell that class out
/// (`[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]`) rather
/// than `\s`, whose members differ between regex engines.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// 3 to 50 letters, digits, `_`, `-` and `.`; surrounding white space is trimmed.
    #[schema(
        example = "jtrader",
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[A-Za-z0-9_.-]{3,50}[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub username: String,
    /// Trimmed and lower-cased; at most 255 characters.
    #[schema(
        example = "j.trader@example.com",
        max_length = 255,
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[A-Za-z0-9._%-]+@[A-Za-z0-9.-]+[.][A-Za-z]+[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub email: String,
    /// 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256, example = "a-long-password")]
    pub password: String,
    pub role: RoleName,
    /// Extra permissions on top of the role's defaults (default none).
    #[serde(default)]
    #[schema(value_type = Vec<Permission>)]
    pub permissions: Vec<String>,
}

/// Only the fields given change; `null` is the same as leaving a field out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub role: Option<RoleName>,
    /// Replaces the extra permissions.
    #[schema(value_type = Option<Vec<Permission>>)]
    pub permissions: Option<Vec<String>>,
    /// Suspending ends the user's sessions and stops their keys.
    pub status: Option<UserStatusName>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// Checked against the caller's password (403 `INVALID_CREDENTIALS` when it differs).
    pub current_password: String,
    /// 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

#[utoipa::path(get, path = "/api/v1/users", tag = TAG, summary = "List users",
    description = "Requires `users:read`. Oldest first.", params(PageParams),
    responses((status = 200, description = "A page of users", body = Envelope<ListData<UserDto>>)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<UsersRead>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<UserDto>>, ApiError> {
    let page = state.engine.identity().list_users(q.request()?).await?;
    Ok(ApiResponse::ok(ListData::from_page(page, UserDto::from)))
}

#[utoipa::path(post, path = "/api/v1/users", tag = TAG, summary = "Create a user",
    description = "Requires `users:manage`.",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = Envelope<UserDto>,
            headers(("Location" = String, description = "`/api/v1/users/{id}`"))),
        (status = 409, description = "CONFLICT: the username or email is taken", body = ErrorEnvelope),
    ))]
pub async fn create(
    State(state): State<AppState>,
    _auth: Authorized<UsersManage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<ApiResponse<UserDto>, ApiError> {
    let new = NewUser {
        role: body.role.into(),
        username: body.username,
        email: body.email,
        password: body.password,
        permissions: body.permissions,
    };
    let user = state.engine.identity().create_user(new, &actor).await?;
    let location = format!("/api/v1/users/{}", user.id);
    Ok(ApiResponse::created(user.into())
        .message("User created")
        .location(&location))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = TAG, summary = "Get a user",
    description = "Requires `users:read`, or being that user (403 otherwise).",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The user", body = Envelope<UserDto>)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<UserDto>, ApiError> {
    if principal.user_id != id && !principal.has("users:read") {
        return Err(
            betflow_engine::EngineError::PermissionDenied(vec!["users:read".into()]).into(),
        );
    }
    let user = state.engine.identity().get_user(id).await?;
    Ok(ApiResponse::ok(user.into()))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = TAG, summary = "Change role, permissions or status",
    description = "Requires `users:manage`. Not for the caller's own account (403 FORBIDDEN).",
    params(("id" = Uuid, Path)), request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The user as changed", body = Envelope<UserDto>),
        (status = 403, description = "INSUFFICIENT_PERMISSIONS without `users:manage`; \
            FORBIDDEN for the caller's own account", body = ErrorEnvelope),
    ))]
pub async fn update(
    State(state): State<AppState>,
    _auth: Authorized<UsersManage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<ApiResponse<UserDto>, ApiError> {
    let patch = UserPatch {
        role: body.role.map(Into::into),
        permissions: body.permissions,
        status: body.status.map(Into::into),
    };
    let user = state
        .engine
        .identity()
        .update_user(id, patch, &actor)
        .await?;
    Ok(ApiResponse::ok(user.into()).message("User updated"))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = TAG, summary = "Unlock after failed logins",
    description = "Requires `users:manage`. Clears the failed-login count and the lock.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The user, unlocked", body = Envelope<UserDto>)))]
pub async fn unlock(
    State(state): State<AppState>,
    _auth: Authorized<UsersManage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<UserDto>, ApiError> {
    let user = state.engine.identity().unlock_user(id, &actor).await?;
    Ok(ApiResponse::ok(user.into()).message("User unlocked"))
}

#[utoipa::path(post, path = "/api/v1/users/me/password", tag = TAG, summary = "Change my password",
    description = "Requires any valid credential and the current password. Ends the user's \
                   other sessions (with an API key, all of them); the caller's session stays.",
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Changed", body = Envelope<NoData>),
        (status = 403, description = "INVALID_CREDENTIALS: the current password is wrong",
            body = ErrorEnvelope),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<ApiResponse<NoData>, ApiError> {
    state
        .engine
        .identity()
        .change_password(
            &principal,
            &body.current_password,
            &body.new_password,
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(NoData).message("Password changed"))
}

/// The user administration routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(list, create))
        .routes(utoipa_axum::routes!(get, update))
        .routes(utoipa_axum::routes!(unlock))
        .routes(utoipa_axum::routes!(change_password))
}
