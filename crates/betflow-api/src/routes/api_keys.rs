//! `/api/v1/api-keys`: keys for service-to-service calls.

use axum::extract::State;
use betflow_domain::DomainError;
use betflow_domain::units::parse_duration;
use betflow_engine::identity::NewApiKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{ApiKeyDto, ListData, PageParams, Permission};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub const TAG: &str = "api-keys";

crate::permissions! {
    ApiKeysManage => ["apikeys:manage"];
}

/// A new key. The server trims surrounding white space (Rust's `str::trim`) from `name` and
/// `expiresIn`; the patterns spell that class out rather than use `\s`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// 1 to 100 characters once trimmed, no control characters.
    #[schema(
        example = "settlement-service",
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]([^\x00-\x1F\x7F-\x9F]{0,98}[^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub name: String,
    /// At most the caller's own permissions (403 naming the excess). Omitted or `null`: all
    /// of them.
    #[schema(value_type = Option<Vec<Permission>>)]
    pub permissions: Option<Vec<String>>,
    /// Lifetime: a whole number from 1 to 99999 (no leading zero) and a unit, `ms`, `s`
    /// (`sec`, `secs`, the default), `m` (`min`, `mins`), `h` (`hr`, `hrs`), `d` (`day`,
    /// `days`) or `w` (`week`, `weeks`), any case. Omitted or `null`: no expiry.
    #[schema(
        example = "30d",
        pattern = r"^[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[1-9][0-9]{0,4}[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*([mM][sS]|[sS]([eE][cC][sS]?)?|[mM]([iI][nN][sS]?)?|[hH]([rR][sS]?)?|[dD]([aA][yY][sS]?)?|[wW]([eE][eE][kK][sS]?)?)?[\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub expires_in: Option<String>,
}

/// Most digits a key lifetime may have: 99999 weeks ends in the year ~3900, so an expiry
/// always fits a four-digit year (and every backend's timestamp).
const MAX_LIFETIME_DIGITS: usize = 5;

/// A key's lifetime, held to the document's pattern: the duration grammar of
/// [`parse_duration`], with a number of 1 to 5 digits and no leading zero.
fn key_lifetime(input: &str) -> Result<std::time::Duration, DomainError> {
    let invalid = || {
        DomainError::invalid(
            "expiresIn",
            "must be a whole number from 1 to 99999 and a unit (ms, s, m, h, d or w), e.g. 30d",
        )
    };
    let s = input.trim();
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits > MAX_LIFETIME_DIGITS || s.starts_with('0') {
        return Err(invalid());
    }
    parse_duration(s).map_err(|_| invalid())
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
    responses((status = 201, description = "Created; the key is shown only here",
        body = Envelope<CreatedApiKey>)))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<ApiKeysManage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<CreateApiKeyRequest>,
) -> Result<ApiResponse<CreatedApiKey>, ApiError> {
    let expires_in = body.expires_in.as_deref().map(key_lifetime).transpose()?;
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
    responses((status = 200, description = "A page of keys", body = Envelope<ListData<ApiKeyDto>>)))]
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
    description = "Requires `apikeys:manage`; another user's key also needs `users:manage` \
                   (without it, another user's key is a 404). Revoking a revoked key changes \
                   nothing and answers the same.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The key, revoked", body = Envelope<ApiKeyDto>)))]
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

/// The API key routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(create, list))
        .routes(utoipa_axum::routes!(revoke))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lifetimes_follow_the_documented_pattern() {
        for ok in ["30d", "1", " 12 h ", "99999w", "250ms", "5 Mins", "2HRS"] {
            assert!(key_lifetime(ok).is_ok(), "{ok:?}");
        }
        for bad in ["0", "0s", "030d", "100000s", "d", "", "5 fortnights", "-1d"] {
            assert!(key_lifetime(bad).is_err(), "{bad:?}");
        }
    }
}
