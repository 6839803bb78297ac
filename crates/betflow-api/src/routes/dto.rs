//! Wire shapes shared by several routes: the identity DTOs, the list page and its paging
//! parameters, and the schema patterns for the domain's text rules.

use betflow_domain::identity::{self, ApiKey, Role, User, UserStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Schema patterns for [`betflow_domain::text`]'s rules, spelled for JSON Schema (ECMA-262)
/// and Python alike: explicit classes, never `\s`, whose members differ between engines.
///
/// `CONTROL` is Unicode's Cc (C0, DEL, C1); `SPACE` is what Rust's `str::trim` removes
/// (White_Space), so a pattern can say "trimmed" exactly as the server does.
pub mod patterns {
    /// A name or identifier: no control character (the server refuses any).
    pub const NAME: &str = r"^[^\x00-\x1F\x7F-\x9F]*$";
    /// Free text: no control character but tab, line feed and carriage return.
    pub const FREE_TEXT: &str = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$";
}

/// A built-in role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Admin,
    Manager,
    Trader,
    SeniorTrader,
    TradingManager,
    RiskManager,
    ContentManager,
    ContentTeam,
    ComplianceOfficer,
    Auditor,
    Customer,
}

// Both conversions are exhaustive matches, so a role added to the domain fails to compile
// here until the API names it too.
impl From<RoleName> for Role {
    fn from(r: RoleName) -> Self {
        match r {
            RoleName::Admin => Role::Admin,
            RoleName::Manager => Role::Manager,
            RoleName::Trader => Role::Trader,
            RoleName::SeniorTrader => Role::SeniorTrader,
            RoleName::TradingManager => Role::TradingManager,
            RoleName::RiskManager => Role::RiskManager,
            RoleName::ContentManager => Role::ContentManager,
            RoleName::ContentTeam => Role::ContentTeam,
            RoleName::ComplianceOfficer => Role::ComplianceOfficer,
            RoleName::Auditor => Role::Auditor,
            RoleName::Customer => Role::Customer,
        }
    }
}

impl From<Role> for RoleName {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => RoleName::Admin,
            Role::Manager => RoleName::Manager,
            Role::Trader => RoleName::Trader,
            Role::SeniorTrader => RoleName::SeniorTrader,
            Role::TradingManager => RoleName::TradingManager,
            Role::RiskManager => RoleName::RiskManager,
            Role::ContentManager => RoleName::ContentManager,
            Role::ContentTeam => RoleName::ContentTeam,
            Role::ComplianceOfficer => RoleName::ComplianceOfficer,
            Role::Auditor => RoleName::Auditor,
            Role::Customer => RoleName::Customer,
        }
    }
}

/// An account status. Suspending ends the user's sessions and stops their keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatusName {
    Active,
    Suspended,
}

impl From<UserStatusName> for UserStatus {
    fn from(s: UserStatusName) -> Self {
        match s {
            UserStatusName::Active => UserStatus::Active,
            UserStatusName::Suspended => UserStatus::Suspended,
        }
    }
}

impl From<UserStatus> for UserStatusName {
    fn from(s: UserStatus) -> Self {
        match s {
            UserStatus::Active => UserStatusName::Active,
            UserStatus::Suspended => UserStatusName::Suspended,
        }
    }
}

/// The schema of a permission: one the platform checks (`users:read`), a wildcard over one
/// resource (`users:*`) or `*`, as the enum of every such value from the domain's list.
/// Request fields stay `String`s declared with `#[schema(value_type = Vec<Permission>)]`, so
/// the domain reports every bad entry at once.
pub struct Permission;

impl Permission {
    /// Every value a permission may take, from the domain's list.
    pub fn all() -> Vec<String> {
        let mut out: Vec<String> = identity::PERMISSIONS
            .iter()
            .map(|p| (*p).to_owned())
            .collect();
        let mut resources: Vec<&str> = identity::PERMISSIONS
            .iter()
            .filter_map(|p| p.split(':').next())
            .collect();
        resources.dedup();
        out.extend(resources.into_iter().map(|r| format!("{r}:*")));
        out.push("*".to_owned());
        out
    }
}

impl utoipa::PartialSchema for Permission {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A permission (`resource:action`), a wildcard over one resource \
                 (`resource:*`) or `*`",
            ))
            .enum_values(Some(Permission::all()))
            .into()
    }
}

impl ToSchema for Permission {}

/// A user as the API shows it (never with a password hash).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub role: RoleName,
    /// Extra permissions on top of the role's defaults.
    #[schema(value_type = Vec<Permission>)]
    pub permissions: Vec<String>,
    /// Role defaults plus extras: what the user may do.
    #[schema(value_type = Vec<Permission>)]
    pub effective_permissions: Vec<String>,
    pub status: UserStatusName,
    /// Failed logins since the last success; the account locks at the configured threshold.
    pub failed_login_attempts: u32,
    /// Until when failed logins lock the account (`null`: not locked).
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
            role: u.role.into(),
            permissions: u.permissions,
            status: u.status.into(),
            failed_login_attempts: u.failed_login_attempts,
            locked_until: u.locked_until,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// What a delete answers: the id of the object that is gone.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub id: Uuid,
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
    #[schema(value_type = Vec<Permission>)]
    pub permissions: Vec<String>,
    /// `false` once revoked.
    pub is_active: bool,
    /// `null`: never expires.
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
    /// One page of a list the engine hands over whole (a short one, such as webhooks), so it
    /// has the same shape and paging as every other list.
    pub fn from_all<U>(
        all: Vec<U>,
        page: betflow_domain::PageRequest,
        f: impl FnMut(U) -> T,
    ) -> Self {
        let total = all.len() as u64;
        let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let items: Vec<U> = all
            .into_iter()
            .skip(skip)
            .take(page.limit() as usize)
            .collect();
        Self::from_page(betflow_domain::Page::new(items, total, page), f)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_role_round_trips_through_its_api_name() {
        for role in Role::ALL {
            let name = RoleName::from(role);
            assert_eq!(Role::from(name), role);
            assert_eq!(
                serde_json::to_value(name).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
    }

    #[test]
    fn the_permission_enum_is_exactly_what_the_domain_accepts() {
        let all = Permission::all();
        assert!(identity::parse_permissions("p", &all).is_ok());
        for p in ["users:*", "*", "workflows:approve"] {
            assert!(all.iter().any(|a| a == p), "{p}");
        }
        // Anything else is refused: what is not in the enum is not a permission.
        for bad in [
            " users:read",
            "users:read ",
            "users",
            "nobody:*",
            "",
            "users:**",
        ] {
            assert!(!all.iter().any(|a| a == bad));
            assert!(
                identity::parse_permissions("p", &[bad.to_owned()]).is_err(),
                "{bad:?}"
            );
        }
    }
}
