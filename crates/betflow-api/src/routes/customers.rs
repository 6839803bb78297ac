//! Customers: self-registration (`POST /api/v1/auth/register`, role customer, 18+) and the
//! caller's own profile and preferences.

use axum::extract::State;
use betflow_domain::sportsbook::customers::{Preferences, Profile};
use betflow_engine::identity::NewCustomer;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::dto::UserDto;
use crate::AppState;
use crate::auth::{Auth, ClientInfo};
use crate::envelope::ApiResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;

pub const TAG: &str = "customers";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    pub username: String,
    pub email: String,
    pub password: String,
    /// `YYYY-MM-DD`; customers must be at least 18.
    #[schema(value_type = String, example = "1990-05-17")]
    pub date_of_birth: NaiveDate,
    /// ISO 3166 alpha-2, e.g. `GB`.
    pub country_code: String,
    /// ISO 4217, e.g. `GBP`.
    pub currency_code: String,
    /// IANA zone, e.g. `Europe/London`.
    pub timezone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// ISO 639-1, default `en`.
    pub language_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerResponse {
    pub user: UserDto,
    #[schema(value_type = Object)]
    pub profile: Option<Profile>,
    #[schema(value_type = Object)]
    pub preferences: Option<Preferences>,
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = TAG,
    summary = "Register as a customer",
    description = "Open to anyone, limited per client IP like login. Creates a user with role \
                   `customer`, its profile and default preferences; then log in. Under-18s are \
                   refused (400, `dateOfBirth`); a taken username or email is a 409 that does \
                   not say which.",
    request_body = RegisterRequest,
    responses((status = 201, body = CustomerResponse), (status = 400, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)))]
pub async fn register(
    State(state): State<AppState>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<ApiResponse<CustomerResponse>, ApiError> {
    let (user, profile, prefs) = state
        .engine
        .identity()
        .register_customer(
            NewCustomer {
                username: body.username,
                email: body.email,
                password: body.password,
                first_name: body.first_name,
                last_name: body.last_name,
                date_of_birth: body.date_of_birth,
                phone: body.phone,
                country_code: body.country_code,
                timezone: body.timezone,
                language_code: body.language_code,
                currency_code: body.currency_code,
            },
            chrono::Utc::now().date_naive(),
            &actor,
        )
        .await?;
    Ok(ApiResponse::created(CustomerResponse {
        user: user.into(),
        profile: Some(profile),
        preferences: Some(prefs),
    })
    .message("Registered; log in to continue"))
}

#[utoipa::path(get, path = "/api/v1/me/profile", tag = TAG,
    summary = "The caller's profile and preferences",
    description = "Any authenticated user; staff accounts have no profile (null).",
    responses((status = 200, body = CustomerResponse), (status = 401, body = ErrorEnvelope)))]
pub async fn me(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<ApiResponse<CustomerResponse>, ApiError> {
    let identity = state.engine.identity();
    let user = identity.get_user(principal.user_id).await?;
    let (profile, preferences) = identity.customer(principal.user_id).await?;
    Ok(ApiResponse::ok(CustomerResponse {
        user: user.into(),
        profile,
        preferences,
    }))
}

#[utoipa::path(patch, path = "/api/v1/me/preferences", tag = TAG,
    summary = "Change the caller's preferences",
    description = "Any authenticated user. A merge patch over `{oddsFormat \
                   (american|decimal|fractional), notifications, responsibleGaming \
                   (realityCheckMinutes 5–240), uiPreferences}`. Catalog reads render odds in \
                   `oddsFormat` unless `?oddsFormat=` says otherwise.",
    request_body = Object,
    responses((status = 200, description = "The preferences"), (status = 400, body = ErrorEnvelope)))]
pub async fn update_preferences(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Preferences>, ApiError> {
    let prefs = state
        .engine
        .identity()
        .update_preferences(principal.user_id, &body, &actor)
        .await?;
    Ok(ApiResponse::ok(prefs))
}
