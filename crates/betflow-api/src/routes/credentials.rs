//! `/api/v1` routes for automation credentials, their types, and definition variables.
//!
//! Credentials are stored encrypted; every answer carries metadata only (name, type, owner,
//! dates, `lastUsedAt`), never a field's value. Secret variables are shown masked.

use axum::extract::State;
use betflow_domain::automation::credentials::{CREDENTIAL_TYPES, CredentialType, FieldType};
use betflow_engine::credentials::{
    CredentialChanges, CredentialInfo, NewCredential, NewVariable, VariableView,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{Deleted, ListData, PageParams};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::catalog::dto::{NulFreeJson, NulFreeObject};

pub const TAG: &str = "credentials";

crate::permissions! {
    Manage => ["credentials:manage"];
    ReadVariables => ["workflows:read"];
    WriteVariables => ["workflows:create", "workflows:update"];
}

/// `null` and absent differ: absent keeps the value, `null` clears it.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A new credential (seed 004's `createCredential`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCredentialRequest {
    /// 1 to 100 characters once trimmed, no control characters.
    #[schema(
        example = "Results feed token",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// A credential type's key (`GET /api/v1/credential-types`).
    #[serde(rename = "type")]
    #[schema(example = "http_bearer", max_length = 64)]
    pub kind: String,
    /// The type's fields. Stored encrypted and never shown again.
    #[schema(value_type = NulFreeObject, example = json!({"token": "s3cr3t"}))]
    pub data: Map<String, Value>,
    /// After this instant the credential is refused to steps (`CREDENTIAL_EXPIRED`).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Only the fields given change.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCredentialRequest {
    /// 1 to 100 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: Option<String>,
    /// Merged into the stored fields: a field given replaces it, a field given as `null`
    /// removes it (refused if the type requires it), others stay.
    #[schema(value_type = Option<NulFreeObject>)]
    pub data: Option<Map<String, Value>>,
    /// `null` removes the expiry.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// A credential's metadata. Its fields' values are never returned.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialResponse {
    pub id: Uuid,
    pub name: String,
    /// Its type's key.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user who created it.
    pub owner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// When a step last used it.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Whether it has expired (steps refuse it).
    pub expired: bool,
}

impl From<CredentialInfo> for CredentialResponse {
    fn from(c: CredentialInfo) -> Self {
        Self {
            expired: c.expires_at.is_some_and(|e| e <= Utc::now()),
            id: c.id,
            name: c.name,
            kind: c.kind,
            owner_id: c.owner_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
            expires_at: c.expires_at,
            last_used_at: c.last_used_at,
        }
    }
}

/// Filters of the credentials list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CredentialFilter {
    /// Only this user's credentials (seed 004's `findByUser`); `me` for the caller's. A user
    /// id in its hyphenated form only: the pattern is enforced as the document states it.
    #[param(value_type = Option<String>, example = "me", pattern = r"^(me|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub owner: Option<String>,
}

/// One field of a credential type.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialFieldResponse {
    pub name: &'static str,
    /// `string`, `url`, `integer` or `enum`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub required: bool,
    /// A secret field (all are encrypted; secret ones are also masked in the audit trail).
    pub secret: bool,
    pub description: &'static str,
    /// For `enum`: the allowed values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<&'static str>>,
    /// For `integer`: the smallest allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    /// For `integer`: the largest allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
}

/// A credential type and the fields it needs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialTypeResponse {
    #[schema(example = "smtp")]
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub fields: Vec<CredentialFieldResponse>,
}

impl From<&'static CredentialType> for CredentialTypeResponse {
    fn from(t: &'static CredentialType) -> Self {
        Self {
            key: t.key,
            name: t.name,
            description: t.description,
            fields: t
                .fields
                .iter()
                .map(|f| {
                    let (kind, values, minimum, maximum) = match f.kind {
                        FieldType::String => ("string", None, None, None),
                        FieldType::Url => ("url", None, None, None),
                        FieldType::Integer { min, max } => ("integer", None, Some(min), Some(max)),
                        FieldType::Enum(v) => ("enum", Some(v.to_vec()), None, None),
                    };
                    CredentialFieldResponse {
                        name: f.name,
                        kind,
                        required: f.required,
                        secret: f.secret,
                        description: f.description,
                        values,
                        minimum,
                        maximum,
                    }
                })
                .collect(),
        }
    }
}

/// The credential types.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialTypesResponse {
    pub items: Vec<CredentialTypeResponse>,
}

/// A definition's variable; a secret one's value reads `********`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariableResponse {
    #[schema(example = "apiBase")]
    pub name: String,
    #[schema(value_type = Object)]
    pub value: Value,
    pub secret: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<VariableView> for VariableResponse {
    fn from(v: VariableView) -> Self {
        Self {
            name: v.name,
            value: v.value,
            secret: v.secret,
            created_at: v.created_at,
            updated_at: v.updated_at,
        }
    }
}

/// A definition's variables, by name.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariablesResponse {
    pub items: Vec<VariableResponse>,
}

/// One variable of the new set.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VariableInput {
    /// An identifier expressions reach as `vars.<name>`.
    #[schema(
        example = "apiBase",
        max_length = 64,
        pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"
    )]
    pub name: String,
    /// Any JSON value (at most 16 KiB as JSON). For an existing secret variable,
    /// `"********"` (as read back) keeps its stored value.
    #[schema(value_type = NulFreeJson)]
    pub value: Value,
    /// Encrypted at rest and shown masked. Default `false`.
    #[serde(default)]
    pub secret: bool,
}

/// The whole new set of a definition's variables (those not listed are removed).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutVariablesRequest {
    #[schema(max_items = 200)]
    pub variables: Vec<VariableInput>,
}

/// Authenticated routes.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(create, list))
        .routes(utoipa_axum::routes!(get, update, delete))
        .routes(utoipa_axum::routes!(types))
        .routes(utoipa_axum::routes!(get_variables, put_variables))
}

#[utoipa::path(post, path = "/api/v1/credentials", tag = TAG, summary = "Store a credential",
    description = "Requires `credentials:manage`. The data is checked against its type's fields \
                   (unknown type: 422 `UNKNOWN_CREDENTIAL_TYPE`; unknown, missing or malformed \
                   fields: 422 `INVALID_CREDENTIAL_DATA` with every problem in `details`), \
                   encrypted (AES-256-GCM) and never returned; the audit trail shows secret \
                   fields masked.",
    request_body = CreateCredentialRequest,
    responses((status = 201, description = "Stored; metadata only",
        body = Envelope<CredentialResponse>,
        headers(("Location" = String, description = "`/api/v1/credentials/{id}`"))),
        (status = 422, body = ErrorEnvelope, description = "UNKNOWN_CREDENTIAL_TYPE, or \
                   INVALID_CREDENTIAL_DATA naming every field its type refuses")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<CreateCredentialRequest>,
) -> Result<ApiResponse<CredentialResponse>, ApiError> {
    let c = state
        .engine
        .credentials()
        .create(
            principal.user_id,
            NewCredential {
                name: body.name,
                kind: body.kind,
                data: body.data,
                expires_at: body.expires_at,
            },
            &actor,
        )
        .await?;
    let location = format!("/api/v1/credentials/{}", c.id);
    Ok(ApiResponse::created(CredentialResponse::from(c))
        .message("Credential stored")
        .location(&location))
}

#[utoipa::path(get, path = "/api/v1/credentials", tag = TAG, summary = "List credentials",
    description = "Requires `credentials:manage`. Oldest first; metadata only.",
    params(PageParams, CredentialFilter),
    responses((status = 200, description = "A page of credentials",
        body = Envelope<ListData<CredentialResponse>>)))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ApiQuery(paging): ApiQuery<PageParams>,
    ApiQuery(filter): ApiQuery<CredentialFilter>,
) -> Result<ApiResponse<ListData<CredentialResponse>>, ApiError> {
    let page = paging.request()?;
    let owner = match filter.owner.as_deref() {
        None => None,
        Some("me") => Some(principal.user_id),
        Some(s) => Some(
            Uuid::try_parse(s)
                .ok()
                .filter(|_| s.len() == 36)
                .ok_or_else(|| {
                    betflow_domain::DomainError::invalid("owner", "must be a user id or `me`")
                })?,
        ),
    };
    let p = state.engine.credentials().list(owner, page).await?;
    Ok(ApiResponse::ok(ListData::from_page(
        p,
        CredentialResponse::from,
    )))
}

#[utoipa::path(get, path = "/api/v1/credentials/{id}", tag = TAG, summary = "Get a credential",
    description = "Requires `credentials:manage`. Metadata only.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The credential", body = Envelope<CredentialResponse>)))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<CredentialResponse>, ApiError> {
    Ok(ApiResponse::ok(
        state.engine.credentials().get(id).await?.into(),
    ))
}

#[utoipa::path(patch, path = "/api/v1/credentials/{id}", tag = TAG,
    summary = "Change a credential",
    description = "Requires `credentials:manage`. Only the fields given change; `data` is merged \
                   field by field, checked against the type and encrypted again.",
    params(("id" = Uuid, Path)), request_body = UpdateCredentialRequest,
    responses((status = 200, description = "The credential as changed",
        body = Envelope<CredentialResponse>),
        (status = 422, body = ErrorEnvelope, description = "INVALID_CREDENTIAL_DATA naming \
                   every field its type refuses")))]
pub async fn update(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateCredentialRequest>,
) -> Result<ApiResponse<CredentialResponse>, ApiError> {
    let c = state
        .engine
        .credentials()
        .update(
            id,
            CredentialChanges {
                name: body.name,
                data: body.data,
                expires_at: body.expires_at,
            },
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(c.into()).message("Credential updated"))
}

#[utoipa::path(delete, path = "/api/v1/credentials/{id}", tag = TAG,
    summary = "Delete a credential",
    description = "Requires `credentials:manage`. Refused with 409 `CREDENTIAL_IN_USE` while the \
                   latest version of an active definition names it in a step's \
                   `params.credentialId` (`details.definitions` lists them). Its data is erased.",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "Deleted", body = Envelope<Deleted>),
        (status = 409, description = "In use by an active definition (`CREDENTIAL_IN_USE`)",
            body = crate::error::ErrorEnvelope)))]
pub async fn delete(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Deleted>, ApiError> {
    state.engine.credentials().delete(id, &actor).await?;
    Ok(ApiResponse::ok(Deleted { id }).message("Credential deleted"))
}

#[utoipa::path(get, path = "/api/v1/credential-types", tag = TAG,
    summary = "List credential types",
    description = "Requires `credentials:manage`. The kinds of credential and the fields each \
                   needs (name, type, required, secret).",
    responses((status = 200, description = "Every credential type",
        body = Envelope<CredentialTypesResponse>)))]
pub async fn types(_auth: Authorized<Manage>) -> ApiResponse<CredentialTypesResponse> {
    ApiResponse::ok(CredentialTypesResponse {
        items: CREDENTIAL_TYPES
            .iter()
            .map(CredentialTypeResponse::from)
            .collect(),
    })
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/variables", tag = TAG,
    summary = "Get a definition's variables",
    description = "Requires `workflows:read`. By name; secret values read `********`.",
    params(("key" = String, Path, description = "The definition's key")),
    responses((status = 200, description = "The variables", body = Envelope<VariablesResponse>)))]
pub async fn get_variables(
    State(state): State<AppState>,
    _auth: Authorized<ReadVariables>,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<VariablesResponse>, ApiError> {
    let vars = state.engine.credentials().variables(&key).await?;
    Ok(ApiResponse::ok(VariablesResponse {
        items: vars.into_iter().map(VariableResponse::from).collect(),
    }))
}

#[utoipa::path(put, path = "/api/v1/workflow-definitions/{key}/variables", tag = TAG,
    summary = "Replace a definition's variables",
    description = "Requires `workflows:create` and `workflows:update`. The set given replaces \
                   the whole set. Secret values are encrypted at rest, shown masked, and seen \
                   decrypted only by expressions (`vars.<name>`); sending `********` for an \
                   existing secret keeps it. Audited with secret values masked.",
    params(("key" = String, Path, description = "The definition's key")),
    request_body = PutVariablesRequest,
    responses((status = 200, description = "The variables as stored",
        body = Envelope<VariablesResponse>),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR: a name given \
                   twice, or a value over 16 KiB of JSON (each named)")))]
pub async fn put_variables(
    State(state): State<AppState>,
    _auth: Authorized<WriteVariables>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<PutVariablesRequest>,
) -> Result<ApiResponse<VariablesResponse>, ApiError> {
    let vars = body
        .variables
        .into_iter()
        .map(|v| NewVariable {
            name: v.name,
            value: v.value,
            secret: v.secret,
        })
        .collect();
    let stored = state
        .engine
        .credentials()
        .put_variables(&key, vars, &actor)
        .await?;
    Ok(ApiResponse::ok(VariablesResponse {
        items: stored.into_iter().map(VariableResponse::from).collect(),
    })
    .message("Variables saved"))
}
