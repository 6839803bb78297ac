//! `/api/v1/api-keys`: keys for service-to-service calls.

use axum::extract::State;
use betflow_domain::DomainError;
use betflow_domain::units::parse_duration;
use betflow_engine::identity::NewApiKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{ApiKeyDto, ListData, PageParams};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::ApiResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub const TAG: &str = "api-keys";

crate::permissions! {
    ApiKeysManage => ["apikeys:manage"];
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    #[schema(example = "settlement-service")]
    pub name: String,
    /// At most the caller's own permissions. Omitted: all of them.
    pub permissions: Option<Vec<String>>,
    /// Lifetime such as `30d` or `12h`. Omitted: no expiry.
    #[schema(example = "30d")]
    pub expires_in: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    /// The secret. Shown only in this response; store it now.
    pub key: String,
    pub api_key: ApiKeyDto,
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = TAG, summary = "Create an API key",
    description = "Requires `apikeys:manage`. The key is the caller's and may carry only \
                   permissions the caller holds (403 naming the excess otherwise).",
    request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope)))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<ApiKeysManage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<CreateApiKeyRequest>,
) -> Result<ApiResponse<CreatedApiKey>, ApiError> {
    let expires_in = body
        .expires_in
        .as_deref()
        .map(|s| parse_duration(s).map_err(|e| DomainError::invalid("expiresIn", e)))
        .transpose()?;
    // A key may not mint keys with more than it carries itself.
    let permissions = match (body.permissions, &principal.key_permissions) {
        (None, Some(k)) => Some(k.clone()),
        (p, _) => p,
    };
    if let (Some(wanted), Some(key)) = (&permissions, &principal.key_permissions) {
        let excess: Vec<String> = wanted
            .iter()
            .filter(|p| !betflow_domain::identity::covers(key, p))
            .cloned()
            .collect();
        if !excess.is_empty() {
            return Err(betflow_engine::EngineError::PermissionDenied(excess).into());
        }
    }
    let (key, secret) = state
        .engine
        .identity()
        .create_api_key(
            principal.user_id,
            NewApiKey {
                name: body.name,
                permissions,
                expires_in,
            },
            &actor,
        )
        .await?;
    Ok(ApiResponse::created(CreatedApiKey {
        key: secret,
        api_key: key.into(),
    })
    .message("API key created; the key is shown only once"))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = TAG, summary = "List API keys",
    description = "Requires `apikeys:manage`. Lists the caller's keys; with `users:manage`, \
                   everyone's.", params(PageParams),
    responses((status = 200, body = ListData<ApiKeyDto>), (status = 403, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<ApiKeysManage>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<ApiKeyDto>>, ApiError> {
    let owner = (!principal.has("users:manage")).then_some(principal.user_id);
    let page = state
        .engine
        .identity()
        .list_api_keys(owner, q.request()?)
        .await?;
    Ok(ApiResponse::ok(ListData::from_page(page, ApiKeyDto::from)))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = TAG, summary = "Revoke an API key",
    description = "Requires `apikeys:manage`; another user's key also needs `users:manage`.",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiKeyDto), (status = 404, body = ErrorEnvelope)))]
pub async fn revoke(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<ApiKeysManage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<ApiKeyDto>, ApiError> {
    let owner = (!principal.has("users:manage")).then_some(principal.user_id);
    let key = state
        .engine
        .identity()
        .revoke_api_key(id, owner, &actor)
        .await?;
    Ok(ApiResponse::ok(key.into()).message("API key revoked"))
}
