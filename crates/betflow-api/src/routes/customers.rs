//! Customers: self-registration (`POST /api/v1/auth/register`, role customer, 18+) and the
//! caller's own profile and preferences.

use axum::extract::State;
use betflow_domain::sportsbook::customers::{Preferences, Profile, VerificationStatus};
use betflow_domain::sportsbook::odds::OddsFormat;
use betflow_engine::customers::NewCustomer;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::catalog::dto::{
    NulFreeJson, NulFreeObject, Whole, as_patch, enums as catalog_enums, present, typed,
};
use super::dto::UserDto;
use super::wallet::dto::enums as wallet_enums;
use crate::AppState;
use crate::auth::{Auth, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;

pub const TAG: &str = "customers";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3 to 50 of letters, digits, `_`, `-` and `.` (surrounding white space is trimmed).
    #[schema(pattern = r"^\s*[A-Za-z0-9_.-]{3,50}\s*$", example = "sam")]
    pub username: String,
    /// Trimmed and lower-cased; at most 255 characters.
    #[schema(
        pattern = r"^\s*[A-Za-z0-9._%-]+@[A-Za-z0-9.-]+\.[A-Za-z]+\s*$",
        max_length = 255,
        example = "sam@example.com"
    )]
    pub email: String,
    /// At least 8 characters and at most 256 bytes (UTF-8).
    #[schema(min_length = 8, max_length = 256, example = "a-long-password")]
    pub password: String,
    /// `YYYY-MM-DD`; customers must be at least 18 (422 `UNDERAGE` otherwise).
    #[schema(value_type = String, format = Date, example = "1990-05-17")]
    pub date_of_birth: NaiveDate,
    /// ISO 3166 alpha-2.
    #[schema(pattern = r"^[A-Z]{2}$", example = "GB")]
    pub country_code: String,
    /// ISO 4217: the wallet's currency.
    #[schema(pattern = r"^[A-Z]{3}$", example = "GBP")]
    pub currency_code: String,
    /// An IANA zone.
    #[schema(pattern = r"^[A-Za-z0-9/_+-]{1,50}$", example = "Europe/London")]
    pub timezone: String,
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub first_name: Option<String>,
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub last_name: Option<String>,
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "+44 20 7946 0000"
    )]
    pub phone: Option<String>,
    /// ISO 639-1, default `en`.
    #[serde(default)]
    #[schema(pattern = r"^[a-z]{2}$", example = "en")]
    pub language_code: Option<String>,
}

/// A customer's profile (the seed's user_profiles).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDto {
    pub user_id: Uuid,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[schema(value_type = String, format = Date, example = "1990-05-17")]
    pub date_of_birth: NaiveDate,
    pub phone: Option<String>,
    #[schema(example = "GB")]
    pub country_code: String,
    #[schema(example = "Europe/London")]
    pub timezone: String,
    #[schema(example = "en")]
    pub language_code: String,
    /// The wallet's currency (ISO 4217).
    #[schema(example = "GBP")]
    pub currency_code: String,
    #[schema(schema_with = wallet_enums::verification_status)]
    pub verification_status: VerificationStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Profile> for ProfileDto {
    fn from(p: Profile) -> Self {
        Self {
            user_id: p.user_id,
            first_name: p.first_name,
            last_name: p.last_name,
            date_of_birth: p.date_of_birth,
            phone: p.phone,
            country_code: p.country_code,
            timezone: p.timezone,
            language_code: p.language_code,
            currency_code: p.currency_code,
            verification_status: p.verification_status,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// How the customer reads the sportsbook (the seed's user_preferences).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesDto {
    pub user_id: Uuid,
    /// How catalog reads render `displayOdds` unless `?oddsFormat=` says otherwise.
    #[schema(schema_with = catalog_enums::odds_format)]
    pub odds_format: OddsFormat,
    #[schema(value_type = Object, example = json!({"email": true, "sms": false, "push": true}))]
    pub notifications: Value,
    #[schema(value_type = Object,
        example = json!({"sessionTimeout": 120, "realityCheck": true, "realityCheckMinutes": 60}))]
    pub responsible_gaming: Value,
    #[schema(value_type = Object, example = json!({"theme": "light", "language": "en"}))]
    pub ui_preferences: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Preferences> for PreferencesDto {
    fn from(p: Preferences) -> Self {
        Self {
            user_id: p.user_id,
            odds_format: p.odds_format,
            notifications: p.notifications,
            responsible_gaming: p.responsible_gaming,
            ui_preferences: p.ui_preferences,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerResponse {
    pub user: UserDto,
    /// Null for staff accounts, which have no customer profile.
    pub profile: Option<ProfileDto>,
    /// Null for staff accounts that never set any.
    pub preferences: Option<PreferencesDto>,
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = TAG,
    summary = "Register as a customer",
    description = "Open to anyone, limited per client IP. Creates a user with role \
                   `customer`, its profile and default preferences; then log in. Under-18s and \
                   future dates of birth are refused with 422 `UNDERAGE` (a rule of today's \
                   date the schema cannot state); a taken username or email is a 409 that \
                   does not say which.",
    request_body = RegisterRequest,
    responses((status = 201, description = "The new customer", body = Envelope<CustomerResponse>),
        (status = 409, description = "CONFLICT: the username or email is taken",
            body = ErrorEnvelope),
        (status = 422, description = "UNDERAGE: born less than 18 years ago (or in the \
                                      future)", body = ErrorEnvelope)))]
pub async fn register(
    State(state): State<AppState>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<ApiResponse<CustomerResponse>, ApiError> {
    let (user, profile, prefs) = state
        .engine
        .customers()
        .register(
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
        profile: Some(profile.into()),
        preferences: Some(prefs.into()),
    })
    .message("Registered; log in to continue"))
}

#[utoipa::path(get, path = "/api/v1/me/profile", tag = TAG,
    summary = "The caller's profile and preferences",
    description = "Any authenticated user; staff accounts have no profile (null) and, until \
                   they set some, no preferences (null).",
    responses((status = 200, description = "The caller", body = Envelope<CustomerResponse>)))]
pub async fn me(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<ApiResponse<CustomerResponse>, ApiError> {
    let identity = state.engine.identity();
    let user = identity.get_user(principal.user_id).await?;
    let (profile, preferences) = state.engine.customers().get(principal.user_id).await?;
    Ok(ApiResponse::ok(CustomerResponse {
        user: user.into(),
        profile: profile.map(ProfileDto::from),
        preferences: preferences.map(PreferencesDto::from),
    }))
}

/// `responsibleGaming`: the reality check's interval is bounded; other members are free
/// (without a NUL, as everywhere).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponsibleGamingPatch {
    /// Minutes between reality checks, 5 to 240; null removes it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::catalog::dto::nullable"
    )]
    #[schema(value_type = Option<i64>, minimum = 5, maximum = 240)]
    pub reality_check_minutes: Option<Option<Whole<u32>>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: Map<String, Value>,
}

/// [`ResponsibleGamingPatch`]'s schema with what its flattened members may hold said: keys
/// and values without a NUL, like every body.
pub struct ResponsibleGamingRequest;

impl utoipa::PartialSchema for ResponsibleGamingRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{
            AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type,
        };
        let mut schema = <ResponsibleGamingPatch as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(o)) = &mut schema {
            o.property_names = Some(Box::new(
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .pattern(Some(r"^[^\x00]*$"))
                    .into(),
            ));
            o.additional_properties = Some(Box::new(AdditionalProperties::RefOr(
                utoipa::openapi::Ref::from_schema_name("NulFreeJson").into(),
            )));
        }
        schema
    }
}

impl ToSchema for ResponsibleGamingRequest {
    fn name() -> std::borrow::Cow<'static, str> {
        "ResponsibleGamingPatch".into()
    }
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "NulFreeJson".to_owned(),
            <NulFreeJson as utoipa::PartialSchema>::schema(),
        ));
    }
}

/// A merge patch (RFC 7396) over the caller's preferences: members sent replace theirs,
/// objects merge, `null` inside an object removes that key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferencesPatch {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = catalog_enums::odds_format)]
    pub odds_format: Option<OddsFormat>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub notifications: Option<Map<String, Value>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = ResponsibleGamingRequest)]
    pub responsible_gaming: Option<ResponsibleGamingPatch>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub ui_preferences: Option<Map<String, Value>>,
}

#[utoipa::path(patch, path = "/api/v1/me/preferences", tag = TAG,
    summary = "Change the caller's preferences",
    description = "Any authenticated user. A merge patch over `{oddsFormat, notifications, \
                   responsibleGaming, uiPreferences}`; other members are refused. Catalog \
                   reads render odds in `oddsFormat` unless `?oddsFormat=` says otherwise.",
    request_body = PreferencesPatch,
    responses((status = 200, description = "The preferences", body = Envelope<PreferencesDto>)))]
pub async fn update_preferences(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<PreferencesDto>, ApiError> {
    let body: PreferencesPatch = typed(body)?;
    let prefs = state
        .engine
        .customers()
        .update_preferences(principal.user_id, &as_patch(&body)?, &actor)
        .await?;
    Ok(ApiResponse::ok(prefs.into()))
}

/// Registration, open to anyone (limited per client IP by its own rule).
pub(crate) fn public_router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(register))
}

/// The customer routes for the signed-in customer, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(me))
        .routes(utoipa_axum::routes!(update_preferences))
}
