//! Users, roles and permissions: who may do what.
//!
//! Roles and their default permissions are one table of data ([`ROLE_PERMISSIONS`]); a user
//! may hold extra permissions on top of their role's. Permissions are `resource:action`
//! strings as in the seeds, with `resource:*` and `*` as wildcards.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{DomainError, Violation};

/// Every permission the platform checks. A granted permission must be one of these, a
/// `resource:*` over one of their resources, or `*`.
pub const PERMISSIONS: &[&str] = &[
    "workflows:create",
    "workflows:read",
    "workflows:update",
    "workflows:delete",
    "workflows:execute",
    "workflows:approve",
    "workflows:reject",
    "workflows:cancel",
    "workflows:monitor",
    "workflows:audit",
    "workflows:export",
    "users:read",
    "users:manage",
    "apikeys:manage",
    "webhooks:manage",
    "credentials:manage",
    "audit:read",
    "sportsbook:read",
    "sportsbook:manage",
    "sportsbook:settle",
    "wallet:read",
    "wallet:manage",
    "realtime:read",
];

/// The built-in roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
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

/// Default permissions per role: the single place roles are defined.
pub const ROLE_PERMISSIONS: &[(Role, &[&str])] = &[
    (Role::Admin, &["*"]),
    (
        Role::Manager,
        &[
            "workflows:*",
            "credentials:manage",
            "users:read",
            "audit:read",
            "sportsbook:read",
            "realtime:read",
        ],
    ),
    (
        Role::Trader,
        &[
            "workflows:create",
            "workflows:read",
            "workflows:update",
            "workflows:execute",
            "sportsbook:read",
            "sportsbook:manage",
            "realtime:read",
        ],
    ),
    (
        Role::SeniorTrader,
        &[
            "workflows:create",
            "workflows:read",
            "workflows:update",
            "workflows:execute",
            "workflows:approve",
            "workflows:reject",
            "sportsbook:read",
            "sportsbook:manage",
            "realtime:read",
        ],
    ),
    (
        Role::TradingManager,
        &[
            "workflows:*",
            "credentials:manage",
            "sportsbook:read",
            "sportsbook:manage",
            "sportsbook:settle",
            "audit:read",
            "realtime:read",
        ],
    ),
    (
        Role::RiskManager,
        &[
            "workflows:read",
            "workflows:approve",
            "workflows:reject",
            "workflows:monitor",
            "workflows:audit",
            "sportsbook:read",
            "sportsbook:settle",
            "wallet:read",
            "audit:read",
            "realtime:read",
        ],
    ),
    (
        Role::ContentManager,
        &[
            "workflows:create",
            "workflows:read",
            "workflows:update",
            "workflows:approve",
            "workflows:reject",
            "workflows:cancel",
            "sportsbook:read",
            "realtime:read",
        ],
    ),
    (
        Role::ContentTeam,
        &[
            "workflows:create",
            "workflows:read",
            "workflows:update",
            // Completing a task step (`approve` on it, or the inbox's complete).
            "workflows:approve",
            "workflows:execute",
            "sportsbook:read",
            "realtime:read",
        ],
    ),
    (
        Role::ComplianceOfficer,
        &[
            "workflows:read",
            "workflows:approve",
            "workflows:reject",
            "workflows:audit",
            "workflows:export",
            "audit:read",
            "users:read",
            "wallet:read",
            "realtime:read",
        ],
    ),
    (
        Role::Auditor,
        &[
            "workflows:read",
            "workflows:audit",
            "workflows:export",
            "audit:read",
            "sportsbook:read",
        ],
    ),
    (Role::Customer, &["sportsbook:read"]),
];

impl Role {
    pub const ALL: [Role; 11] = [
        Role::Admin,
        Role::Manager,
        Role::Trader,
        Role::SeniorTrader,
        Role::TradingManager,
        Role::RiskManager,
        Role::ContentManager,
        Role::ContentTeam,
        Role::ComplianceOfficer,
        Role::Auditor,
        Role::Customer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Trader => "trader",
            Role::SeniorTrader => "senior_trader",
            Role::TradingManager => "trading_manager",
            Role::RiskManager => "risk_manager",
            Role::ContentManager => "content_manager",
            Role::ContentTeam => "content_team",
            Role::ComplianceOfficer => "compliance_officer",
            Role::Auditor => "auditor",
            Role::Customer => "customer",
        }
    }

    pub fn default_permissions(self) -> &'static [&'static str] {
        ROLE_PERMISSIONS
            .iter()
            .find(|(r, _)| *r == self)
            .map(|(_, p)| *p)
            .unwrap_or(&[])
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
                DomainError::invalid("role", format!("must be one of {}", all.join(", ")))
            })
    }
}

/// Checks that `p` names a known permission, a wildcard over a known resource, or `*`.
pub fn validate_permission(p: &str) -> Result<(), String> {
    if p == "*" || PERMISSIONS.contains(&p) {
        return Ok(());
    }
    if let Some(resource) = p.strip_suffix(":*")
        && PERMISSIONS
            .iter()
            .any(|k| k.split(':').next() == Some(resource))
    {
        return Ok(());
    }
    Err(format!("unknown permission {p:?}"))
}

/// Validates and de-duplicates a list of permissions, reporting every bad entry. Entries
/// are taken as written (an identifier with white space around it is not one), so the API
/// can state the accepted values as an enum.
pub fn parse_permissions(field: &str, list: &[String]) -> Result<Vec<String>, DomainError> {
    let mut out: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    for p in list {
        let p = p.as_str();
        match validate_permission(p) {
            Ok(()) if !out.iter().any(|x| x == p) => out.push(p.to_owned()),
            Ok(()) => {}
            Err(e) => bad.push(Violation::new(field, e)),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(DomainError::Validation(bad))
    }
}

/// Whether a set of held permissions grants `required` (a concrete `resource:action`).
pub fn grants<S: AsRef<str>>(held: &[S], required: &str) -> bool {
    let resource = required.split(':').next().unwrap_or(required);
    held.iter()
        .map(AsRef::as_ref)
        .any(|h| h == "*" || h == required || h.strip_suffix(":*").is_some_and(|r| r == resource))
}

/// Whether `held` covers everything `wanted` would grant, wildcards included. An API key may
/// carry only permissions its owner's cover.
pub fn covers<S: AsRef<str>>(held: &[S], wanted: &str) -> bool {
    if wanted == "*" {
        return held.iter().any(|h| h.as_ref() == "*");
    }
    if let Some(resource) = wanted.strip_suffix(":*") {
        return held
            .iter()
            .map(AsRef::as_ref)
            .any(|h| h == "*" || h == wanted)
            || PERMISSIONS
                .iter()
                .filter(|k| k.split(':').next() == Some(resource))
                .all(|k| grants(held, k));
    }
    grants(held, wanted)
}

/// A user's role defaults plus their extra permissions.
pub fn effective_permissions(role: Role, extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = role
        .default_permissions()
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    for p in extra {
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// Account status. Locked is not a status: it is a time (`locked_until`) that passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Suspended,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Suspended => "suspended",
        }
    }
}

impl FromStr for UserStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(UserStatus::Active),
            "suspended" => Ok(UserStatus::Suspended),
            _ => Err(DomainError::invalid(
                "status",
                "must be active or suspended",
            )),
        }
    }
}

/// A user as the rest of the system sees it (never with the password hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub role: Role,
    /// Extra permissions on top of the role's defaults.
    pub permissions: Vec<String>,
    pub status: UserStatus,
    pub failed_login_attempts: u32,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn effective_permissions(&self) -> Vec<String> {
        effective_permissions(self.role, &self.permissions)
    }

    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

pub const MIN_USERNAME_LEN: usize = 3;
pub const MAX_USERNAME_LEN: usize = 50;
pub const MIN_PASSWORD_LEN: usize = 8;
/// Bounds the work an attacker can ask of the password hasher (256 characters are at most
/// 1 KiB of UTF-8). Counted in characters, like the minimum, so the API can state both as
/// one JSON Schema length range.
pub const MAX_PASSWORD_LEN: usize = 256;

/// Validates a new user's fields, reporting every problem at once. Returns the normalised
/// username (trimmed) and email (trimmed, lower-cased).
pub fn validate_new_user(
    username: &str,
    email: &str,
    password: &str,
) -> Result<(String, String), DomainError> {
    let mut v = Vec::new();
    let username = username.trim().to_owned();
    let email = email.trim().to_ascii_lowercase();
    if let Err(e) = validate_username(&username) {
        v.push(e);
    }
    if !is_valid_email(&email) {
        v.push(Violation::new("email", "must be a valid email address"));
    }
    if let Err(e) = validate_password(password) {
        v.push(e);
    }
    if v.is_empty() {
        Ok((username, email))
    } else {
        Err(DomainError::Validation(v))
    }
}

fn validate_username(u: &str) -> Result<(), Violation> {
    let len = u.chars().count();
    if !(MIN_USERNAME_LEN..=MAX_USERNAME_LEN).contains(&len) {
        return Err(Violation::new(
            "username",
            format!("must be {MIN_USERNAME_LEN} to {MAX_USERNAME_LEN} characters"),
        ));
    }
    if !u
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(Violation::new(
            "username",
            "may contain only letters, digits, '_', '-' and '.'",
        ));
    }
    Ok(())
}

pub fn validate_password(p: &str) -> Result<(), Violation> {
    let len = p.chars().count();
    if len < MIN_PASSWORD_LEN {
        Err(Violation::new(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ))
    } else if len > MAX_PASSWORD_LEN {
        Err(Violation::new(
            "password",
            format!("must be at most {MAX_PASSWORD_LEN} characters"),
        ))
    } else {
        Ok(())
    }
}

/// The seed's email constraint: `^[A-Za-z0-9._%-]+@[A-Za-z0-9.-]+[.][A-Za-z]+$`.
pub fn is_valid_email(e: &str) -> bool {
    if e.len() > 255 {
        return false;
    }
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    let Some((host, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '-'))
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        && !tld.is_empty()
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

/// An API key as stored and listed. The secret itself is shown once at creation and kept
/// only as a hash; `prefix` is its visible start, so a leaked key can be identified.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub permissions: Vec<String>,
    pub is_active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ApiKey {
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.is_active && self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

pub const MAX_API_KEY_NAME_LEN: usize = 100;

pub fn validate_api_key_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_API_KEY_NAME_LEN {
        Err(DomainError::invalid(
            "name",
            format!("must be 1 to {MAX_API_KEY_NAME_LEN} characters"),
        ))
    } else {
        crate::text::check_name("name", name).map_err(|v| DomainError::Validation(vec![v]))?;
        Ok(name.to_owned())
    }
}

/// What a login attempt names (a username or an email) may contain: no control character.
/// Such a name cannot belong to anyone, so refusing it reveals nothing, and it never reaches
/// the lookup or the failed-login audit row.
pub fn check_login(login: &str) -> Result<(), DomainError> {
    crate::text::check_name("username", login).map_err(|v| DomainError::Validation(vec![v]))
}

/// One refresh token of a login session. Tokens of one login share a `family_id`; rotating a
/// token marks it used and issues the next in the same family, so a token presented twice
/// reveals theft and revokes the family.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub ip_address: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// When failed logins lock an account, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_attempts: u32,
    pub lock_for: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            lock_for: Duration::from_secs(15 * 60),
        }
    }
}

impl LockoutPolicy {
    /// Counts a failed login. Reaching `max_attempts` locks the account for `lock_for` and
    /// resets the count, so the user gets a fresh set of attempts once the lock passes.
    /// Returns whether this failure locked the account.
    pub fn register_failure(&self, user: &mut User, now: DateTime<Utc>) -> bool {
        user.failed_login_attempts = user.failed_login_attempts.saturating_add(1);
        user.updated_at = now;
        if user.failed_login_attempts >= self.max_attempts.max(1) {
            let lock_for = chrono::Duration::from_std(self.lock_for)
                .unwrap_or_else(|_| chrono::Duration::days(365));
            user.locked_until = Some(now + lock_for);
            user.failed_login_attempts = 0;
            true
        } else {
            false
        }
    }

    /// A successful login clears the failure count and any expired lock.
    pub fn register_success(&self, user: &mut User, now: DateTime<Utc>) {
        user.failed_login_attempts = 0;
        user.locked_until = None;
        user.last_login_at = Some(now);
        user.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_user() -> User {
        let t = crate::time::now();
        User {
            id: Uuid::now_v7(),
            username: "u".repeat(3),
            email: "u@example.com".into(),
            role: Role::Trader,
            permissions: vec![],
            status: UserStatus::Active,
            failed_login_attempts: 0,
            locked_until: None,
            last_login_at: None,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn password_length_is_counted_in_characters_at_both_ends() {
        assert!(validate_password(&"é".repeat(8)).is_ok());
        assert!(validate_password(&"é".repeat(7)).is_err());
        // 256 two-byte characters are 512 bytes, and allowed: the API states 8..=256 chars.
        assert!(validate_password(&"é".repeat(MAX_PASSWORD_LEN)).is_ok());
        assert!(validate_password(&"é".repeat(MAX_PASSWORD_LEN + 1)).is_err());
        assert!(validate_password(&"a".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }

    #[test]
    fn fifth_failure_locks_for_the_configured_time() {
        let policy = LockoutPolicy::default();
        let mut u = sample_user();
        let now = crate::time::now();
        for _ in 0..4 {
            assert!(!policy.register_failure(&mut u, now));
            assert!(!u.is_locked(now));
        }
        assert!(policy.register_failure(&mut u, now));
        assert!(u.is_locked(now + chrono::Duration::minutes(14)));
        assert!(!u.is_locked(now + chrono::Duration::minutes(15)));
        assert_eq!(u.failed_login_attempts, 0);
        policy.register_success(&mut u, now);
        assert!(u.locked_until.is_none() && u.last_login_at == Some(now));
    }

    #[test]
    fn every_role_has_a_row_and_every_default_permission_is_valid() {
        for role in Role::ALL {
            assert!(
                ROLE_PERMISSIONS.iter().any(|(r, _)| *r == role),
                "{role} missing"
            );
            for p in role.default_permissions() {
                assert!(validate_permission(p).is_ok(), "{role}: {p}");
            }
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn wildcards_grant_within_their_resource_only() {
        let held = ["workflows:*".to_owned(), "audit:read".to_owned()];
        assert!(grants(&held, "workflows:approve"));
        assert!(grants(&held, "audit:read"));
        assert!(!grants(&held, "audit:write"));
        assert!(!grants(&held, "users:manage"));
        assert!(!grants(&["workflowsx:*"], "workflows:read"));
        assert!(grants(&["*"], "anything:at_all"));
    }

    #[test]
    fn keys_cannot_exceed_their_owner() {
        let trader: Vec<String> = Role::Trader
            .default_permissions()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(covers(&trader, "workflows:read"));
        assert!(!covers(&trader, "workflows:approve"));
        assert!(!covers(&trader, "workflows:*"));
        assert!(!covers(&trader, "*"));
        assert!(covers(&["workflows:*"], "workflows:*"));
        assert!(covers(&["*"], "*"));
    }

    #[test]
    fn unknown_permissions_are_refused_all_at_once() {
        let err = parse_permissions(
            "permissions",
            &["workflows:read".into(), "nope".into(), "bogus:*".into()],
        )
        .unwrap_err();
        let DomainError::Validation(v) = err;
        assert_eq!(v.len(), 2);
        assert_eq!(
            parse_permissions("p", &["users:*".into(), "users:*".into()]).unwrap(),
            ["users:*"]
        );
    }

    #[test]
    fn seed_user_constraints() {
        assert!(validate_new_user("ab", "a@b.co", "password123").is_err());
        assert!(validate_new_user("alice", "not-an-email", "password123").is_err());
        assert!(validate_new_user("alice", "a@b.co", "short").is_err());
        let (u, e) = validate_new_user(" alice ", " Alice@Example.COM ", "password123").unwrap();
        assert_eq!((u.as_str(), e.as_str()), ("alice", "alice@example.com"));
        let DomainError::Validation(all) = validate_new_user("a", "x", "y").unwrap_err();
        assert_eq!(all.len(), 3);
        for bad in ["a@b", "@b.co", "a@.co", "a@b.c0", "a b@c.de", "a@b@c.de"] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn key_names_and_logins_hold_no_control_characters() {
        assert_eq!(validate_api_key_name(" ci key ").unwrap(), "ci key");
        for bad in ["ci\u{7}key", "ci\0", "\u{1b}[31mred"] {
            let DomainError::Validation(v) = validate_api_key_name(bad).unwrap_err();
            assert_eq!(v[0].field, "name", "{bad:?}");
        }
        assert!(check_login("admin").is_ok());
        assert!(check_login("admin@example.com").is_ok());
        let DomainError::Validation(v) = check_login("ad\0min").unwrap_err();
        assert_eq!(v[0].field, "username");
        assert!(check_login("ad\u{1b}min").is_err());
        // Control characters never pass the username rule either.
        assert!(validate_new_user("ad\u{7}min", "a@b.co", "password123").is_err());
    }

    proptest! {
        #[test]
        fn admin_covers_every_valid_permission(i in 0..PERMISSIONS.len()) {
            prop_assert!(covers(&["*"], PERMISSIONS[i]));
            prop_assert!(grants(&["*"], PERMISSIONS[i]));
        }

        #[test]
        fn covers_implies_grants_for_concrete_permissions(
            held in proptest::collection::vec(0..PERMISSIONS.len(), 0..6),
            want in 0..PERMISSIONS.len(),
        ) {
            let held: Vec<&str> = held.into_iter().map(|i| PERMISSIONS[i]).collect();
            prop_assert_eq!(covers(&held, PERMISSIONS[want]), grants(&held, PERMISSIONS[want]));
        }
    }
}
