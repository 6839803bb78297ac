//! `/api/v1/users`: user administration and password changes.

use axum::extract::State;
use betflow_domain::DomainError;
use betflow_domain::identity::{Role, UserStatus};
use betflow_engine::identity::{NewUser, UserPatch};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{ListData, PageParams, UserDto};
use crate::AppState;
use crate::auth::{Auth, Authorized, ClientInfo};
use crate::envelope::ApiResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub const TAG: &str = "users";

crate::permissions! {
    UsersRead => ["users:read"];
    UsersManage => ["users:manage"];
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(example = "jtrader")]
    pub username: String,
    #[schema(example = "j.trader@example.com")]
    pub email: String,
    /// At least 8 characters.
    pub password: String,
    #[schema(example = "trader")]
    pub role: String,
    /// Extra permissions on top of the role's defaults.
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub role: Option<String>,
    pub permissions: Option<Vec<String>>,
    /// `active` or `suspended`. Suspending ends the user's sessions and stops their keys.
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

fn parse_role(s: &str) -> Result<Role, DomainError> {
    s.trim().parse()
}

#[utoipa::path(get, path = "/api/v1/users", tag = TAG, summary = "List users",
    description = "Requires `users:read`.", params(PageParams),
    responses((status = 200, body = ListData<UserDto>), (status = 403, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<UsersRead>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<UserDto>>, ApiError> {
    let page = state.engine.identity().list_users(q.request()?).await?;
    Ok(ApiResponse::ok(ListData::from_page(page, UserDto::from)))
}

#[utoipa::path(post, path = "/api/v1/users", tag = TAG, summary = "Create a user",
    description = "Requires `users:manage`. 409 when the username or email is taken.",
    request_body = CreateUserRequest,
    responses((status = 201, body = UserDto), (status = 400, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    _auth: Authorized<UsersManage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<ApiResponse<UserDto>, ApiError> {
    let new = NewUser {
        role: parse_role(&body.role)?,
        username: body.username,
        email: body.email,
        password: body.password,
        permissions: body.permissions,
    };
    let user = state.engine.identity().create_user(new, &actor).await?;
    Ok(ApiResponse::created(user.into()).message("User created"))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = TAG, summary = "Get a user",
    description = "Requires `users:read`, or being that user.",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserDto), (status = 404, body = ErrorEnvelope)))]
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
    description = "Requires `users:manage`.",
    params(("id" = Uuid, Path)), request_body = UpdateUserRequest,
    responses((status = 200, body = UserDto), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn update(
    State(state): State<AppState>,
    _auth: Authorized<UsersManage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<ApiResponse<UserDto>, ApiError> {
    let patch = UserPatch {
        role: body.role.as_deref().map(parse_role).transpose()?,
        permissions: body.permissions,
        status: body
            .status
            .as_deref()
            .map(|s| s.trim().parse::<UserStatus>())
            .transpose()?,
    };
    let user = state
        .engine
        .identity()
        .update_user(id, patch, &actor)
        .await?;
    Ok(ApiResponse::ok(user.into()).message("User updated"))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = TAG, summary = "Unlock after failed logins",
    description = "Requires `users:manage`.", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserDto), (status = 404, body = ErrorEnvelope)))]
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
    description = "Requires any valid credential and the current password.",
    request_body = ChangePasswordRequest,
    responses((status = 200, description = "Changed"), (status = 400, body = ErrorEnvelope)))]
pub async fn change_password(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<ApiResponse<()>, ApiError> {
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
    Ok(ApiResponse::ok(()).message("Password changed"))
}
