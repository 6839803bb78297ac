//! Identity and access: logins, sessions, API keys, users, and the checks every request
//! passes through.

mod api_keys;
mod auth;
pub(crate) mod password;
pub mod secrets;
mod sessions;
mod tokens;
mod users;

use std::sync::Arc;
use std::time::Duration;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::identity::{ApiKey, LockoutPolicy, Role, User, UserStatus, grants};
use betflow_store::redis::RedisHandle;
use betflow_store::{Store, StoreError, Transaction};
use moka::future::Cache;
use serde_json::Value;
use uuid::Uuid;

pub use password::PasswordCost;
pub use tokens::Claims;

use crate::EngineError;

/// Identity settings.
#[derive(Clone)]
pub struct IdentityConfig {
    pub jwt_secret: Vec<u8>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub lockout: LockoutPolicy,
    pub password_cost: PasswordCost,
    /// How long a node may serve a cached user, session or key. Revocations made on another
    /// node take effect within this time.
    pub cache_ttl: Duration,
}

/// Everything but the signing secret, so settings can be logged.
impl std::fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityConfig")
            .field("jwt_secret", &"[redacted]")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("lockout", &self.lockout)
            .field("password_cost", &self.password_cost)
            .field("cache_ttl", &self.cache_ttl)
            .finish()
    }
}

/// No signing secret (a random one is drawn at start) and the defaults below.
impl Default for IdentityConfig {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl IdentityConfig {
    pub fn new(jwt_secret: impl Into<Vec<u8>>) -> Self {
        Self {
            jwt_secret: jwt_secret.into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            lockout: LockoutPolicy::default(),
            password_cost: PasswordCost::default(),
            cache_ttl: Duration::from_millis(900),
        }
    }
}

/// A credential as presented, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    None,
    Bearer(String),
    ApiKey(String),
    UnknownScheme,
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// An access token of this login session (its refresh-token family).
    Session(Uuid),
    ApiKey(Uuid),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub username: String,
    pub role: Role,
    /// The user's current effective permissions (role defaults plus extras).
    pub permissions: Vec<String>,
    /// For an API key, the key's own permissions; a request needs both.
    pub key_permissions: Option<Vec<String>>,
    pub credential: Credential,
}

impl Principal {
    /// Whether this caller holds `permission`. An API key grants only what both the key
    /// and its owner hold *now*, so demoting a user demotes their keys at once.
    pub fn has(&self, permission: &str) -> bool {
        grants(&self.permissions, permission)
            && self
                .key_permissions
                .as_ref()
                .is_none_or(|k| grants(k, permission))
    }

    /// The permissions in `required` this caller lacks.
    pub fn missing(&self, required: &[&str]) -> Vec<String> {
        required
            .iter()
            .filter(|p| !self.has(p))
            .map(|p| (*p).to_owned())
            .collect()
    }

    /// The bucket this caller's requests are rate-limited in.
    pub fn rate_limit_key(&self) -> String {
        match self.credential {
            Credential::Session(_) => format!("user:{}", self.user_id),
            Credential::ApiKey(id) => format!("key:{id}"),
        }
    }
}

/// What a successful login or refresh returns.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub user: User,
}

/// A user an administrator creates.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password: String,
    pub role: Role,
    pub permissions: Vec<String>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub role: Option<Role>,
    pub permissions: Option<Vec<String>>,
    pub status: Option<UserStatus>,
}

/// A key to create.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    /// `None`: the owner's current effective permissions.
    pub permissions: Option<Vec<String>>,
    pub expires_in: Option<Duration>,
}

/// The Redis channel on which nodes tell each other to drop cached identity records.
pub const INVALIDATION_CHANNEL: &str = "betflow:identity:invalidate";

/// Logins, tokens, keys and users.
pub struct Identity {
    store: Arc<dyn Store>,
    bus: Option<Arc<RedisHandle>>,
    subscriber: Option<tokio::task::JoinHandle<()>>,
    tokens: tokens::TokenKeys,
    /// Shared with [`crate::customers::Customers`]: one pool of hashing threads.
    hasher: Arc<password::PasswordHasherService>,
    lockout: LockoutPolicy,
    refresh_ttl: Duration,
    users: Cache<Uuid, Arc<User>>,
    sessions: Cache<Uuid, bool>,
    keys: Cache<String, Option<Arc<ApiKey>>>,
    touched: Cache<Uuid, ()>,
}

impl Identity {
    /// With Redis, changes made on this node are broadcast so every node drops its cached
    /// copies at once; the cache TTL remains the bound if Redis is unreachable.
    pub fn new(
        store: Arc<dyn Store>,
        config: &IdentityConfig,
        redis: Option<Arc<RedisHandle>>,
    ) -> Result<Self, EngineError> {
        let users: Cache<Uuid, Arc<User>> = short_lived(config.cache_ttl);
        let sessions: Cache<Uuid, bool> = short_lived(config.cache_ttl);
        let keys: Cache<String, Option<Arc<ApiKey>>> = short_lived(config.cache_ttl);
        let subscriber = redis.as_ref().map(|r| {
            let (users, sessions, keys) = (users.clone(), sessions.clone(), keys.clone());
            r.spawn_subscriber(INVALIDATION_CHANNEL, move |_| {
                users.invalidate_all();
                sessions.invalidate_all();
                keys.invalidate_all();
            })
        });
        Ok(Self {
            store,
            bus: redis,
            subscriber,
            tokens: tokens::TokenKeys::new(&jwt_secret(config)?, config.access_ttl),
            hasher: Arc::new(password::PasswordHasherService::new(config.password_cost)?),
            lockout: config.lockout,
            refresh_ttl: config.refresh_ttl,
            users,
            sessions,
            keys,
            touched: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
        })
    }

    /// The password hasher, for services that set passwords (registration).
    pub(crate) fn hasher(&self) -> Arc<password::PasswordHasherService> {
        self.hasher.clone()
    }

    /// Drops every cached identity record on this node, and asks the other nodes to do the
    /// same when Redis is configured.
    async fn changed(&self) {
        self.users.invalidate_all();
        self.sessions.invalidate_all();
        self.keys.invalidate_all();
        if let Some(bus) = &self.bus
            && let Err(e) = bus
                .publish(INVALIDATION_CHANNEL, "*", Duration::from_secs(1))
                .await
        {
            tracing::warn!(error = %e, "could not broadcast identity change; other nodes catch up within the cache TTL");
        }
    }

    /// Entries in this node's caches: `(users, sessions, api keys)`.
    pub fn cache_sizes(&self) -> (u64, u64, u64) {
        (
            self.users.entry_count(),
            self.sessions.entry_count(),
            self.keys.entry_count(),
        )
    }

    /// How many users exist.
    pub async fn count_users(&self) -> Result<u64, EngineError> {
        Ok(self.store.count_users().await?)
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        if let Some(task) = &self.subscriber {
            task.abort();
        }
    }
}

/// The configured signing secret, or (when none is set, as in [`IdentityConfig::default`])
/// a random one: tokens then do not outlive the process, which suits tests and tools, and
/// no guessable default secret ever signs a token.
fn jwt_secret(config: &IdentityConfig) -> Result<Vec<u8>, EngineError> {
    if !config.jwt_secret.is_empty() {
        return Ok(config.jwt_secret.clone());
    }
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| EngineError::Internal(format!("randomness: {e}")))?;
    Ok(secret)
}

fn short_lived<K, V>(ttl: Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(100_000)
        .time_to_live(ttl)
        .build()
}

fn invalid_clone(e: &EngineError) -> EngineError {
    match e {
        EngineError::Unauthenticated(f) => EngineError::Unauthenticated(*f),
        other => EngineError::Internal(other.to_string()),
    }
}

fn clone_store_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        other => StoreError::Database(other.to_string()),
    }
}

fn user_conflict(e: StoreError) -> EngineError {
    match e {
        StoreError::Conflict { constraint } if constraint.contains("username") => {
            EngineError::Conflict("username is already taken".into())
        }
        StoreError::Conflict { constraint } if constraint.contains("email") => {
            EngineError::Conflict("email is already registered".into())
        }
        other => other.into(),
    }
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::days(3650))
}

fn actor_as(actor: &Actor, user_id: Uuid) -> Actor {
    Actor {
        user_id: Some(user_id),
        ..actor.clone()
    }
}

pub(crate) async fn audit(
    tx: &mut Box<dyn Transaction>,
    user: Uuid,
    action: AuditAction,
    old: Option<Value>,
    new: Value,
    actor: &Actor,
) -> Result<(), EngineError> {
    audit_table(tx, "users", user, action, old, new, actor).await
}

pub(crate) async fn audit_table(
    tx: &mut Box<dyn Transaction>,
    table: &str,
    record: Uuid,
    action: AuditAction,
    old: Option<Value>,
    new: Value,
    actor: &Actor,
) -> Result<(), EngineError> {
    let entry = AuditEntry::new(table, record, action, old, Some(new), actor.clone())?;
    tx.insert_audit(&entry).await?;
    Ok(())
}
