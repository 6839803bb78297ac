//! Users, API keys and login sessions.

use async_trait::async_trait;
use betflow_domain::identity::{ApiKey, Session, User};
use betflow_domain::{Page, PageRequest};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// Reading users, API keys and sessions.
#[async_trait]
pub trait IdentityRead {
    async fn count_users(&self) -> Result<u64>;
    async fn get_user(&self, id: Uuid) -> Result<Option<User>>;
    /// A user and their password hash, by username or email (case-insensitive).
    async fn find_user_credentials(&self, login: &str) -> Result<Option<(User, String)>>;
    async fn list_users(&self, page: PageRequest) -> Result<Page<User>>;
    /// An API key by the hash of its secret, with its owner.
    async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<(ApiKey, User)>>;
    async fn get_api_key(&self, id: Uuid) -> Result<Option<ApiKey>>;
    /// Keys of one user, or of everyone when `user_id` is `None`; newest first.
    async fn list_api_keys(&self, user_id: Option<Uuid>, page: PageRequest)
    -> Result<Page<ApiKey>>;
    /// Whether the login session `family_id` still has an unrevoked, unexpired token.
    async fn session_family_active(&self, family_id: Uuid, now: DateTime<Utc>) -> Result<bool>;
}

/// Changing users, API keys and sessions, inside a transaction.
#[async_trait]
pub trait IdentityWrite {
    /// Fails with [`StoreError::Conflict`](crate::StoreError::Conflict) naming `users_username_key` or `users_email_key`.
    async fn insert_user(&mut self, user: &User, password_hash: &str) -> Result<()>;
    /// Reads a user and locks the row until the transaction ends, so concurrent failed logins
    /// or edits cannot lose updates.
    async fn lock_user(&mut self, id: Uuid) -> Result<Option<User>>;
    /// Like [`IdentityRead::find_user_credentials`], locking the row.
    async fn lock_user_credentials(&mut self, login: &str) -> Result<Option<(User, String)>>;
    /// Writes role, permissions, status, lockout state, last login and `updated_at`.
    async fn update_user(&mut self, user: &User) -> Result<()>;
    async fn set_password_hash(&mut self, id: Uuid, hash: &str, now: DateTime<Utc>) -> Result<()>;
    async fn insert_api_key(&mut self, key: &ApiKey, key_hash: &str) -> Result<()>;
    /// Returns `false` when the key does not exist or was already revoked.
    async fn revoke_api_key(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<bool>;
    async fn touch_api_key(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<()>;
    async fn insert_session(&mut self, session: &Session, token_hash: &str) -> Result<()>;
    async fn lock_session_by_hash(&mut self, token_hash: &str) -> Result<Option<Session>>;
    /// Marks a token used; `false` if it was already used or revoked (a concurrent refresh).
    async fn mark_session_used(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<bool>;
    async fn revoke_session_family(&mut self, family_id: Uuid, now: DateTime<Utc>) -> Result<u64>;
    async fn revoke_user_sessions(&mut self, user_id: Uuid, now: DateTime<Utc>) -> Result<u64>;
    /// Revokes every session of a user but `keep` (the one making the change).
    async fn revoke_other_sessions(
        &mut self,
        user_id: Uuid,
        keep: Uuid,
        now: DateTime<Utc>,
    ) -> Result<u64>;
}
