//! Wire shapes shared by several routes: the identity DTOs, the list page and its paging
//! parameters.

use betflow_domain::identity::{ApiKey, User};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A user as the API shows it (never with a password hash).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    #[schema(example = "trader")]
    pub role: String,
    /// Extra permissions on top of the role's defaults.
    pub permissions: Vec<String>,
    /// Role defaults plus extras: what the user may do.
    pub effective_permissions: Vec<String>,
    /// `active` or `suspended`.
    pub status: String,
    pub failed_login_attempts: u32,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            effective_permissions: u.effective_permissions(),
            id: u.id,
            username: u.username,
            email: u.email,
            role: u.role.as_str().to_owned(),
            permissions: u.permissions,
            status: u.status.as_str().to_owned(),
            failed_login_attempts: u.failed_login_attempts,
            locked_until: u.locked_until,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// An API key's metadata; the secret is never shown after creation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The key's visible start, to recognise a leaked key.
    #[schema(example = "bf_1a2b3c4d")]
    pub prefix: String,
    pub permissions: Vec<String>,
    pub is_active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<ApiKey> for ApiKeyDto {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            user_id: k.user_id,
            name: k.name,
            prefix: k.prefix,
            permissions: k.permissions,
            is_active: k.is_active,
            expires_at: k.expires_at,
            last_used: k.last_used,
            revoked_at: k.revoked_at,
            created_at: k.created_at,
        }
    }
}

/// A page of results.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListData<T> {
    pub items: Vec<T>,
    /// Items matching the query, over all pages.
    pub total: u64,
    /// The page asked for (it may lie past the last page, then `items` is empty).
    #[schema(value_type = i64, format = Int64, minimum = 1, maximum = 4_294_967_295_u64)]
    pub page: u32,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: u32,
    pub total_pages: u64,
}

impl<T> ListData<T> {
    pub fn from_page<U>(p: betflow_domain::Page<U>, f: impl FnMut(U) -> T) -> Self {
        let p = p.map(f);
        Self {
            items: p.items,
            total: p.total,
            page: p.page,
            limit: p.limit,
            total_pages: p.total_pages,
        }
    }
}

/// `page` (from 1) and `limit` (1 to 100, default 20): the paging of every list.
///
/// The schema states exactly what [`betflow_domain::PageRequest::new`] accepts: `page` is
/// parsed as a `u32` and must be at least 1, so it is declared int64 with 1..=4294967295
/// (int32 would forbid values the server takes); `limit` is 1..=100.
///
/// A list with filters of its own declares them in a second `IntoParams` struct and takes
/// both extractors (`ApiQuery<PageParams>` and `ApiQuery<TheFilters>`): each reads the same
/// query string and ignores the other's keys. (`#[serde(flatten)]` cannot be used instead:
/// with a flattened struct the query deserializer hands numbers over as strings and `page=2`
/// would be refused.)
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number.
    #[param(value_type = Option<i64>, format = Int64, minimum = 1, maximum = 4_294_967_295_u64, default = 1)]
    pub page: Option<u32>,
    /// Items per page.
    #[param(value_type = Option<i32>, format = Int32, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
}

impl PageParams {
    pub fn request(&self) -> Result<betflow_domain::PageRequest, betflow_domain::DomainError> {
        betflow_domain::PageRequest::new(self.page, self.limit)
    }
}
