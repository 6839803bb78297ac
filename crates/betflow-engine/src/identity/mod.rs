//! Identity and access: logins, sessions, API keys, users, and the checks every request
//! passes through.

mod password;
pub mod secrets;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::identity::{
    self, ApiKey, LockoutPolicy, Role, Session, User, UserStatus, grants,
};
use betflow_domain::sportsbook::customers::{
    MINIMUM_AGE, Preferences, Profile, VerificationStatus,
};
use betflow_domain::time::now;
use betflow_domain::{DomainError, Page, PageRequest, Violation};
use betflow_store::redis::RedisHandle;
use betflow_store::{Store, StoreError, Transaction};
use chrono::{DateTime, Utc};
use moka::future::Cache;
use serde_json::{Value, json};
use uuid::Uuid;

pub use password::PasswordCost;
pub use tokens::Claims;

use crate::{AuthFailure, EngineError};

/// Identity settings.
#[derive(Debug, Clone)]
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

/// A customer registering themselves (`POST /auth/register`).
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub username: String,
    pub email: String,
    pub password: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: chrono::NaiveDate,
    pub phone: Option<String>,
    pub country_code: String,
    pub timezone: String,
    pub language_code: Option<String>,
    pub currency_code: String,
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
    hasher: password::PasswordHasherService,
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
            tokens: tokens::TokenKeys::new(&config.jwt_secret, config.access_ttl),
            hasher: password::PasswordHasherService::new(config.password_cost)?,
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

    // ---- authentication -------------------------------------------------------------

    /// Checks a presented credential. Runs on every authenticated request, so lookups are
    /// cached for at most the configured TTL.
    pub async fn authenticate(&self, presented: Presented) -> Result<Principal, EngineError> {
        match presented {
            Presented::None => Err(EngineError::Unauthenticated(AuthFailure::Missing)),
            Presented::UnknownScheme => {
                Err(EngineError::Unauthenticated(AuthFailure::InvalidScheme))
            }
            Presented::Bearer(token) => self.authenticate_bearer(&token).await,
            Presented::ApiKey(key) => self.authenticate_key(&key).await,
        }
    }

    async fn authenticate_bearer(&self, token: &str) -> Result<Principal, EngineError> {
        let invalid = EngineError::Unauthenticated(AuthFailure::InvalidToken);
        let claims = self
            .tokens
            .verify(token)
            .ok_or_else(|| invalid_clone(&invalid))?;
        let user = self
            .cached_user(claims.user_id)
            .await?
            .ok_or_else(|| invalid_clone(&invalid))?;
        if user.status != UserStatus::Active || !self.session_active(claims.sid).await? {
            return Err(invalid);
        }
        Ok(Principal {
            user_id: user.id,
            username: user.username.clone(),
            role: user.role,
            permissions: user.effective_permissions(),
            key_permissions: None,
            credential: Credential::Session(claims.sid),
        })
    }

    async fn authenticate_key(&self, key: &str) -> Result<Principal, EngineError> {
        let invalid = || EngineError::Unauthenticated(AuthFailure::InvalidApiKey);
        if !key.starts_with(secrets::API_KEY_PREFIX) || key.len() > 128 {
            return Err(invalid());
        }
        let hash = secrets::sha256_hex(key);
        let store = self.store.clone();
        let lookup = hash.clone();
        let found = self
            .keys
            .try_get_with(hash, async move {
                let found = store.find_api_key_by_hash(&lookup).await?;
                Ok::<_, StoreError>(found.map(|(k, _)| Arc::new(k)))
            })
            .await
            .map_err(|e| EngineError::from(clone_store_error(&e)))?;
        let key = found.ok_or_else(invalid)?;
        let now = now();
        if !key.is_usable(now) {
            return Err(invalid());
        }
        let owner = self.cached_user(key.user_id).await?.ok_or_else(invalid)?;
        if owner.status != UserStatus::Active {
            return Err(invalid());
        }
        if self.touched.get(&key.id).await.is_none() {
            self.touched.insert(key.id, ()).await;
            let store = self.store.clone();
            let id = key.id;
            tokio::spawn(async move {
                let result = async {
                    let mut tx = store.begin().await?;
                    tx.touch_api_key(id, now).await?;
                    tx.commit().await
                }
                .await;
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not record API key use");
                }
            });
        }
        Ok(Principal {
            user_id: owner.id,
            username: owner.username.clone(),
            role: owner.role,
            permissions: owner.effective_permissions(),
            key_permissions: Some(key.permissions.clone()),
            credential: Credential::ApiKey(key.id),
        })
    }

    async fn cached_user(&self, id: Uuid) -> Result<Option<Arc<User>>, EngineError> {
        if let Some(u) = self.users.get(&id).await {
            return Ok(Some(u));
        }
        match self.store.get_user(id).await? {
            Some(u) => {
                let u = Arc::new(u);
                self.users.insert(id, u.clone()).await;
                Ok(Some(u))
            }
            None => Ok(None),
        }
    }

    async fn session_active(&self, family: Uuid) -> Result<bool, EngineError> {
        if let Some(active) = self.sessions.get(&family).await {
            return Ok(active);
        }
        let active = self.store.session_family_active(family, now()).await?;
        self.sessions.insert(family, active).await;
        Ok(active)
    }

    // ---- sessions -----------------------------------------------------------------------

    /// Logs in with a username or email. Every failure looks the same to the caller, and an
    /// unknown user costs the same password hash as a known one.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        actor: &Actor,
    ) -> Result<Tokens, EngineError> {
        let refused = || EngineError::Unauthenticated(AuthFailure::InvalidCredentials);
        identity::check_login(login)?;
        // The password bound is the one new passwords are held to (characters), so every
        // password that could be set can be used.
        if login.is_empty()
            || login.len() > 255
            || password.chars().count() > identity::MAX_PASSWORD_LEN
        {
            return Err(refused());
        }
        let found = self.store.find_user_credentials(login).await?;
        let (user_id, hash) = match found {
            Some((u, h)) => (Some(u.id), Some(h)),
            None => (None, None),
        };
        let password_ok = self.hasher.verify(password.to_owned(), hash).await;

        let mut tx = self.store.begin().await?;
        let Some(user_id) = user_id else {
            audit(
                &mut tx,
                Uuid::nil(),
                AuditAction::Update,
                None,
                json!({"event": "auth.login_failed", "reason": "unknown_user", "login": login}),
                actor,
            )
            .await?;
            tx.commit().await?;
            return Err(refused());
        };
        let Some(mut user) = tx.lock_user(user_id).await? else {
            return Err(refused());
        };
        let now = now();
        let denial = if user.status != UserStatus::Active {
            Some("suspended")
        } else if user.is_locked(now) {
            Some("locked")
        } else if !password_ok {
            None
        } else {
            // Success.
            self.lockout.register_success(&mut user, now);
            tx.update_user(&user).await?;
            let (refresh, session) = self
                .new_session(&mut tx, user.id, Uuid::now_v7(), actor, now)
                .await?;
            audit(
                &mut tx,
                user.id,
                AuditAction::Update,
                None,
                json!({"event": "auth.login_succeeded", "sessionId": session}),
                &actor_as(actor, user.id),
            )
            .await?;
            tx.commit().await?;
            self.users.invalidate(&user.id).await;
            return self.tokens_for(user, session, refresh);
        };
        if let Some(reason) = denial {
            audit(
                &mut tx,
                user.id,
                AuditAction::Update,
                None,
                json!({"event": "auth.login_denied", "reason": reason}),
                &actor_as(actor, user.id),
            )
            .await?;
        } else {
            let locked = self.lockout.register_failure(&mut user, now);
            tx.update_user(&user).await?;
            audit(
                &mut tx,
                user.id,
                AuditAction::Update,
                None,
                json!({"event": "auth.login_failed", "reason": "bad_password",
                       "failedAttempts": user.failed_login_attempts}),
                &actor_as(actor, user.id),
            )
            .await?;
            if locked {
                audit(
                    &mut tx,
                    user.id,
                    AuditAction::Update,
                    None,
                    json!({"event": "auth.account_locked", "lockedUntil": user.locked_until}),
                    &actor_as(actor, user.id),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Err(refused())
    }

    async fn new_session(
        &self,
        tx: &mut Box<dyn Transaction>,
        user_id: Uuid,
        family: Uuid,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(String, Uuid), EngineError> {
        let (token, hash) = secrets::new_refresh_token();
        let session = Session {
            id: Uuid::now_v7(),
            family_id: family,
            user_id,
            expires_at: now + to_chrono(self.refresh_ttl),
            ip_address: actor.ip_address,
            user_agent: actor.user_agent.clone(),
            created_at: now,
            used_at: None,
            revoked_at: None,
        };
        tx.insert_session(&session, &hash).await?;
        Ok((token, family))
    }

    fn tokens_for(
        &self,
        user: User,
        session: Uuid,
        refresh: String,
    ) -> Result<Tokens, EngineError> {
        let issued = now();
        let claims = Claims {
            sub: user.id.to_string(),
            user_id: user.id,
            username: user.username.clone(),
            role: user.role.as_str().to_owned(),
            permissions: user.effective_permissions(),
            sid: session,
            jti: Uuid::now_v7(),
            iss: tokens::ISSUER.to_owned(),
            iat: issued.timestamp(),
            exp: (issued + to_chrono(self.tokens.ttl)).timestamp(),
        };
        let access_token = self
            .tokens
            .issue(&claims)
            .map_err(|e| EngineError::Internal(format!("cannot sign token: {e}")))?;
        Ok(Tokens {
            access_token,
            refresh_token: refresh,
            expires_in: self.tokens.ttl.as_secs(),
            user,
        })
    }

    /// Exchanges a refresh token for new tokens. A token presented a second time means it was
    /// stolen (or the client is confused): the whole session is revoked.
    pub async fn refresh(&self, refresh_token: &str, actor: &Actor) -> Result<Tokens, EngineError> {
        let invalid = || EngineError::Unauthenticated(AuthFailure::InvalidToken);
        if refresh_token.is_empty() || refresh_token.len() > 128 {
            return Err(invalid());
        }
        let hash = secrets::sha256_hex(refresh_token);
        let mut tx = self.store.begin().await?;
        let Some(session) = tx.lock_session_by_hash(&hash).await? else {
            return Err(invalid());
        };
        let now = now();
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(invalid());
        }
        let reused = session.used_at.is_some() || !tx.mark_session_used(session.id, now).await?;
        let user = tx.lock_user(session.user_id).await?;
        let active_user = user.filter(|u| u.status == UserStatus::Active);
        match active_user {
            Some(user) if !reused => {
                let (refresh, family) = self
                    .new_session(&mut tx, user.id, session.family_id, actor, now)
                    .await?;
                tx.commit().await?;
                self.tokens_for(user, family, refresh)
            }
            _ => {
                tx.revoke_session_family(session.family_id, now).await?;
                if reused {
                    audit(
                        &mut tx,
                        session.user_id,
                        AuditAction::Update,
                        None,
                        json!({"event": "auth.refresh_reuse_detected",
                               "sessionId": session.family_id}),
                        &actor_as(actor, session.user_id),
                    )
                    .await?;
                }
                tx.commit().await?;
                self.changed().await;
                Err(invalid())
            }
        }
    }

    /// Ends the caller's login session (every token of it).
    pub async fn logout(&self, principal: &Principal, actor: &Actor) -> Result<(), EngineError> {
        let Credential::Session(family) = principal.credential else {
            return Err(DomainError::invalid(
                "authorization",
                "API keys have no session to log out of; revoke the key instead",
            )
            .into());
        };
        let mut tx = self.store.begin().await?;
        tx.revoke_session_family(family, now()).await?;
        audit(
            &mut tx,
            principal.user_id,
            AuditAction::Update,
            None,
            json!({"event": "auth.logout", "sessionId": family}),
            actor,
        )
        .await?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }

    // ---- users --------------------------------------------------------------------------

    pub async fn get_user(&self, id: Uuid) -> Result<User, EngineError> {
        self.store
            .get_user(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("user {id}")))
    }

    pub async fn list_users(&self, page: PageRequest) -> Result<Page<User>, EngineError> {
        Ok(self.store.list_users(page).await?)
    }

    pub async fn create_user(&self, new: NewUser, actor: &Actor) -> Result<User, EngineError> {
        let (username, email) =
            identity::validate_new_user(&new.username, &new.email, &new.password)?;
        let permissions = identity::parse_permissions("permissions", &new.permissions)?;
        let hash = self.hasher.hash(new.password).await?;
        let t = now();
        let user = User {
            id: Uuid::now_v7(),
            username,
            email,
            role: new.role,
            permissions,
            status: UserStatus::Active,
            failed_login_attempts: 0,
            locked_until: None,
            last_login_at: None,
            created_at: t,
            updated_at: t,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_user(&user, &hash).await.map_err(user_conflict)?;
        audit(
            &mut tx,
            user.id,
            AuditAction::Insert,
            None,
            json!({"username": user.username, "email": user.email, "role": user.role,
                   "permissions": user.permissions}),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// A customer registering themselves: the user (role customer), the profile and the
    /// default preferences in one transaction. `today` decides the 18+ rule (a parameter so
    /// tests can move the clock).
    pub async fn register_customer(
        &self,
        new: NewCustomer,
        today: chrono::NaiveDate,
        actor: &Actor,
    ) -> Result<(User, Profile, Preferences), EngineError> {
        let t = now();
        let id = Uuid::now_v7();
        let profile = Profile {
            user_id: id,
            first_name: new.first_name,
            last_name: new.last_name,
            date_of_birth: new.date_of_birth,
            phone: new.phone,
            country_code: new.country_code,
            timezone: new.timezone,
            language_code: new.language_code.unwrap_or_else(|| "en".to_owned()),
            currency_code: new.currency_code,
            verification_status: VerificationStatus::Unverified,
            created_at: t,
            updated_at: t,
        };
        // Every problem at once: the account's and the profile's.
        let mut violations = Vec::new();
        let names = identity::validate_new_user(&new.username, &new.email, &new.password);
        for r in [names.as_ref().err(), profile.validate(today).as_ref().err()]
            .into_iter()
            .flatten()
        {
            let DomainError::Validation(v) = r;
            violations.extend(v.iter().cloned());
        }
        // The age rule depends on today, which a schema cannot state: when it is the only
        // problem the request is well formed and refused by a business rule (422); with other
        // problems, every one is reported at once (400).
        if !violations.is_empty() && violations.iter().all(|v| v.field == "dateOfBirth") {
            return Err(crate::wallet::rejected(
                422,
                "UNDERAGE",
                format!("customers must be at least {MINIMUM_AGE} years old"),
                Some(serde_json::json!(violations)),
            ));
        }
        let (username, email) = match names {
            Ok(n) if violations.is_empty() => n,
            _ => return Err(DomainError::Validation(violations).into()),
        };
        let hash = self.hasher.hash(new.password).await?;
        let user = User {
            id,
            username,
            email,
            role: Role::Customer,
            permissions: vec![],
            status: UserStatus::Active,
            failed_login_attempts: 0,
            locked_until: None,
            last_login_at: None,
            created_at: t,
            updated_at: t,
        };
        let prefs = Preferences::defaults(id, t);
        let mut tx = self.store.begin().await?;
        tx.insert_user(&user, &hash).await.map_err(|e| match e {
            // One answer for both, so registration says no more than it must.
            StoreError::Conflict { .. } => {
                EngineError::Conflict("that username or email is already registered".into())
            }
            other => other.into(),
        })?;
        tx.insert_profile(&profile).await?;
        tx.save_preferences(&prefs, false).await?;
        audit(
            &mut tx,
            user.id,
            AuditAction::Insert,
            None,
            json!({"username": user.username, "email": user.email, "role": user.role,
                   "registered": true, "countryCode": profile.country_code}),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok((user, profile, prefs))
    }

    /// A customer's profile and preferences.
    pub async fn customer(
        &self,
        user_id: Uuid,
    ) -> Result<(Option<Profile>, Option<Preferences>), EngineError> {
        Ok((
            self.store.get_profile(user_id).await?,
            self.store.get_preferences(user_id).await?,
        ))
    }

    /// Changes preferences by merge patch; users without any get the defaults first.
    pub async fn update_preferences(
        &self,
        user_id: Uuid,
        patch: &serde_json::Value,
        actor: &Actor,
    ) -> Result<Preferences, EngineError> {
        if !patch.is_object() {
            return Err(DomainError::invalid("body", "must be a JSON object").into());
        }
        for fixed in ["userId", "createdAt", "updatedAt"] {
            if patch.get(fixed).is_some() {
                return Err(DomainError::invalid(fixed, "cannot be set").into());
            }
        }
        let t = now();
        let existing = self.store.get_preferences(user_id).await?;
        let current = existing
            .clone()
            .unwrap_or_else(|| Preferences::defaults(user_id, t));
        let mut doc =
            serde_json::to_value(&current).map_err(|e| EngineError::Internal(e.to_string()))?;
        betflow_domain::workflow::expr::merge_patch(&mut doc, patch);
        let mut next: Preferences = serde_path_to_error::deserialize(doc).map_err(|e| {
            DomainError::invalid(
                e.path().to_string().trim_start_matches('.'),
                e.inner().to_string(),
            )
        })?;
        next.updated_at = t;
        next.validate()?;
        let mut tx = self.store.begin().await?;
        tx.save_preferences(&next, existing.is_some()).await?;
        audit_table(
            &mut tx,
            "user_preferences",
            user_id,
            AuditAction::Update,
            serde_json::to_value(&current).ok(),
            serde_json::to_value(&next).unwrap_or_default(),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Changes role, extra permissions or status. Suspending ends every session at once.
    ///
    /// Never the caller's own account (403): one that could would grant itself permissions,
    /// or suspend or demote the last administrator and lock everyone out.
    pub async fn update_user(
        &self,
        id: Uuid,
        patch: UserPatch,
        actor: &Actor,
    ) -> Result<User, EngineError> {
        if actor.user_id == Some(id) {
            return Err(EngineError::Rejected {
                status: 403,
                code: "FORBIDDEN",
                message: "An account cannot change its own role, permissions or status".into(),
                details: None,
            });
        }
        let permissions = patch
            .permissions
            .as_ref()
            .map(|p| identity::parse_permissions("permissions", p))
            .transpose()?;
        let mut tx = self.store.begin().await?;
        let mut user = tx
            .lock_user(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("user {id}")))?;
        let before =
            json!({"role": user.role, "permissions": user.permissions, "status": user.status});
        if let Some(role) = patch.role {
            user.role = role;
        }
        if let Some(p) = permissions {
            user.permissions = p;
        }
        if let Some(status) = patch.status {
            user.status = status;
        }
        user.updated_at = now();
        tx.update_user(&user).await?;
        if user.status == UserStatus::Suspended {
            tx.revoke_user_sessions(user.id, user.updated_at).await?;
        }
        let after =
            json!({"role": user.role, "permissions": user.permissions, "status": user.status});
        if before != after {
            audit(
                &mut tx,
                user.id,
                AuditAction::Update,
                Some(before),
                after,
                actor,
            )
            .await?;
        }
        tx.commit().await?;
        self.changed().await;
        Ok(user)
    }

    pub async fn unlock_user(&self, id: Uuid, actor: &Actor) -> Result<User, EngineError> {
        let mut tx = self.store.begin().await?;
        let mut user = tx
            .lock_user(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("user {id}")))?;
        let before = json!({"failedLoginAttempts": user.failed_login_attempts,
                            "lockedUntil": user.locked_until});
        user.failed_login_attempts = 0;
        user.locked_until = None;
        user.updated_at = now();
        tx.update_user(&user).await?;
        audit(
            &mut tx,
            user.id,
            AuditAction::Update,
            Some(before),
            json!({"event": "auth.account_unlocked"}),
            actor,
        )
        .await?;
        tx.commit().await?;
        self.changed().await;
        Ok(user)
    }

    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new_password: &str,
        actor: &Actor,
    ) -> Result<(), EngineError> {
        if let Err(v) = identity::validate_password(new_password) {
            return Err(
                DomainError::Validation(vec![Violation::new("newPassword", v.message)]).into(),
            );
        }
        let user = self.get_user(principal.user_id).await?;
        let (_, hash) = self
            .store
            .find_user_credentials(&user.username)
            .await?
            .ok_or_else(|| EngineError::NotFound("user".into()))?;
        if current.chars().count() > identity::MAX_PASSWORD_LEN
            || !self.hasher.verify(current.to_owned(), Some(hash)).await
        {
            // A 403, not a 400: the request is well formed, the caller is just not allowed to
            // change the password without proving they know it.
            return Err(EngineError::Rejected {
                status: 403,
                code: "INVALID_CREDENTIALS",
                message: "The current password is incorrect".into(),
                details: Some(json!({"field": "currentPassword"})),
            });
        }
        let new_hash = self.hasher.hash(new_password.to_owned()).await?;
        let mut tx = self.store.begin().await?;
        let t = now();
        tx.set_password_hash(user.id, &new_hash, t).await?;
        // Whoever knew the old password loses their sessions; the caller keeps theirs (an
        // API key has no session, so every session ends).
        match principal.credential {
            Credential::Session(keep) => tx.revoke_other_sessions(user.id, keep, t).await?,
            Credential::ApiKey(_) => tx.revoke_user_sessions(user.id, t).await?,
        };
        audit(
            &mut tx,
            user.id,
            AuditAction::Update,
            None,
            json!({"event": "auth.password_changed"}),
            actor,
        )
        .await?;
        tx.commit().await?;
        self.changed().await;
        Ok(())
    }

    /// Creates the `admin` user when there are no users at all. Returns the generated
    /// password when none was given, to be shown once.
    pub async fn ensure_admin(
        &self,
        password: Option<String>,
    ) -> Result<Option<String>, EngineError> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(secrets::generate_password);
        let created = self
            .create_user(
                NewUser {
                    username: "admin".into(),
                    email: "admin@betflow.local".into(),
                    password: password.clone(),
                    role: Role::Admin,
                    permissions: vec!["*".into()],
                },
                &Actor::default(),
            )
            .await;
        match created {
            Ok(_) => Ok(generated.then_some(password)),
            // Another node created it first.
            Err(EngineError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    // ---- API keys -----------------------------------------------------------------------

    /// Creates a key for `owner`. It may carry only permissions the owner holds; the secret
    /// is returned here and never again.
    pub async fn create_api_key(
        &self,
        owner_id: Uuid,
        new: NewApiKey,
        actor: &Actor,
    ) -> Result<(ApiKey, String), EngineError> {
        let name = identity::validate_api_key_name(&new.name)?;
        let owner = self.get_user(owner_id).await?;
        let held = owner.effective_permissions();
        let permissions = match new.permissions {
            None => held.clone(),
            Some(p) => identity::parse_permissions("permissions", &p)?,
        };
        let excess: Vec<String> = permissions
            .iter()
            .filter(|p| !identity::covers(&held, p))
            .cloned()
            .collect();
        if !excess.is_empty() {
            return Err(EngineError::PermissionDenied(excess));
        }
        let t = now();
        let expires_at = match new.expires_in {
            None => None,
            Some(d) if d.is_zero() => {
                return Err(DomainError::invalid("expiresIn", "must be positive").into());
            }
            Some(d) => Some(
                chrono::Duration::from_std(d)
                    .ok()
                    .and_then(|d| t.checked_add_signed(d))
                    .ok_or_else(|| DomainError::invalid("expiresIn", "is too far in the future"))?,
            ),
        };
        let (secret, prefix, hash) = secrets::new_api_key();
        let key = ApiKey {
            id: Uuid::now_v7(),
            user_id: owner.id,
            name,
            prefix,
            permissions,
            is_active: true,
            expires_at,
            last_used: None,
            revoked_at: None,
            created_at: t,
            updated_at: t,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_api_key(&key, &hash).await?;
        audit_table(
            &mut tx,
            "api_keys",
            key.id,
            AuditAction::Insert,
            None,
            json!({"event": "apikey.created", "userId": key.user_id, "name": key.name,
                   "prefix": key.prefix, "permissions": key.permissions,
                   "expiresAt": key.expires_at}),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok((key, secret))
    }

    /// Keys of `owner`, or of everyone when `None`.
    pub async fn list_api_keys(
        &self,
        owner: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<ApiKey>, EngineError> {
        Ok(self.store.list_api_keys(owner, page).await?)
    }

    /// Revokes a key. With `owner` set, only that user's keys are visible (others are
    /// reported as not found, so key ids cannot be probed).
    pub async fn revoke_api_key(
        &self,
        id: Uuid,
        owner: Option<Uuid>,
        actor: &Actor,
    ) -> Result<ApiKey, EngineError> {
        let not_found = || EngineError::NotFound(format!("API key {id}"));
        let key = self.store.get_api_key(id).await?.ok_or_else(not_found)?;
        if owner.is_some_and(|o| o != key.user_id) {
            return Err(not_found());
        }
        let mut tx = self.store.begin().await?;
        let t = now();
        if tx.revoke_api_key(id, t).await? {
            audit_table(
                &mut tx,
                "api_keys",
                id,
                AuditAction::Update,
                Some(json!({"isActive": true})),
                json!({"event": "apikey.revoked", "isActive": false}),
                actor,
            )
            .await?;
        }
        tx.commit().await?;
        self.changed().await;
        self.store.get_api_key(id).await?.ok_or_else(not_found)
    }

    /// Finds a user id by username (for the CLI).
    pub async fn find_user_id(&self, login: &str) -> Result<Uuid, EngineError> {
        self.store
            .find_user_credentials(login)
            .await?
            .map(|(u, _)| u.id)
            .ok_or_else(|| EngineError::NotFound(format!("user {login}")))
    }
}

impl Drop for Identity {
    fn drop(&mut self) {
        if let Some(task) = &self.subscriber {
            task.abort();
        }
    }
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

async fn audit(
    tx: &mut Box<dyn Transaction>,
    user: Uuid,
    action: AuditAction,
    old: Option<Value>,
    new: Value,
    actor: &Actor,
) -> Result<(), EngineError> {
    audit_table(tx, "users", user, action, old, new, actor).await
}

async fn audit_table(
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
