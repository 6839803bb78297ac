//! Users, API keys and sessions, compiled once per backend (see the crate docs).

use async_trait::async_trait;
use betflow_domain::identity::{ApiKey, Role, Session, User, UserStatus};
use betflow_domain::{Page, PageRequest};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::{corrupt, micros, parse_ip, push_page, to_total};
use super::{BackendStore, BackendTx, Db, FOR_UPDATE, IP_CAST, IP_SELECT};
use crate::{IdentityRead, IdentityWrite, Result};

const USER_COLUMNS: &str = "id, username, email, role, permissions, status, \
    failed_login_attempts, locked_until, last_login_at, created_at, updated_at";
const KEY_COLUMNS: &str = "id, user_id, name, prefix, permissions, is_active, expires_at, \
    last_used, revoked_at, created_at, updated_at";

#[derive(FromRow)]
struct UserRow {
    id: Uuid,
    username: String,
    email: String,
    role: String,
    permissions: Json<Vec<String>>,
    status: String,
    failed_login_attempts: i32,
    locked_until: Option<DateTime<Utc>>,
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct CredentialRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

impl TryFrom<UserRow> for User {
    type Error = crate::StoreError;
    fn try_from(r: UserRow) -> Result<Self> {
        Ok(User {
            id: r.id,
            username: r.username,
            email: r.email,
            role: r.role.parse::<Role>().map_err(|e| corrupt("users", e))?,
            permissions: r.permissions.0,
            status: r
                .status
                .parse::<UserStatus>()
                .map_err(|e| corrupt("users", e))?,
            failed_login_attempts: u32::try_from(r.failed_login_attempts).unwrap_or(0),
            locked_until: r.locked_until,
            last_login_at: r.last_login_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct KeyRow {
    id: Uuid,
    user_id: Uuid,
    name: String,
    prefix: String,
    permissions: Json<Vec<String>>,
    is_active: bool,
    expires_at: Option<DateTime<Utc>>,
    last_used: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<KeyRow> for ApiKey {
    fn from(r: KeyRow) -> Self {
        ApiKey {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            prefix: r.prefix,
            permissions: r.permissions.0,
            is_active: r.is_active,
            expires_at: r.expires_at,
            last_used: r.last_used,
            revoked_at: r.revoked_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
struct SessionRow {
    id: Uuid,
    family_id: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    created_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<SessionRow> for Session {
    type Error = crate::StoreError;
    fn try_from(r: SessionRow) -> Result<Self> {
        Ok(Session {
            id: r.id,
            family_id: r.family_id,
            user_id: r.user_id,
            expires_at: r.expires_at,
            ip_address: parse_ip("user_sessions", r.ip_address)?,
            user_agent: r.user_agent,
            created_at: r.created_at,
            used_at: r.used_at,
            revoked_at: r.revoked_at,
        })
    }
}

fn credentials_query(login: &str, lock: bool) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::<Db>::new(format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(username) = lower("
    ));
    qb.push_bind(login.to_owned())
        .push(") OR lower(email) = lower(")
        .push_bind(login.to_owned())
        .push(")");
    if lock {
        qb.push(FOR_UPDATE);
    }
    qb
}

fn into_credentials(row: Option<CredentialRow>) -> Result<Option<(User, String)>> {
    row.map(|r| Ok((User::try_from(r.user)?, r.password_hash)))
        .transpose()
}

#[async_trait]
impl IdentityRead for BackendStore {
    async fn count_users(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(to_total(n))
    }

    async fn get_user(&self, id: Uuid) -> Result<Option<User>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {USER_COLUMNS} FROM users WHERE id = "));
        qb.push_bind(id);
        let row: Option<UserRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(User::try_from).transpose()
    }

    async fn find_user_credentials(&self, login: &str) -> Result<Option<(User, String)>> {
        let mut qb = credentials_query(login, false);
        into_credentials(qb.build_query_as().fetch_optional(&self.pool).await?)
    }

    async fn list_users(&self, page: PageRequest) -> Result<Page<User>> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id"
        ));
        push_page(&mut qb, page);
        let rows: Vec<UserRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let items = rows
            .into_iter()
            .map(User::try_from)
            .collect::<Result<_>>()?;
        Ok(Page::new(items, to_total(total), page))
    }

    async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<(ApiKey, User)>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = "
        ));
        qb.push_bind(key_hash.to_owned());
        let Some(key) = qb
            .build_query_as::<KeyRow>()
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let key = ApiKey::from(key);
        Ok(self.get_user(key.user_id).await?.map(|owner| (key, owner)))
    }

    async fn get_api_key(&self, id: Uuid) -> Result<Option<ApiKey>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = "));
        qb.push_bind(id);
        let row: Option<KeyRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        Ok(row.map(ApiKey::from))
    }

    async fn list_api_keys(
        &self,
        user_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<ApiKey>> {
        let filter = |qb: &mut QueryBuilder<Db>| {
            if let Some(u) = user_id {
                qb.push(" WHERE user_id = ").push_bind(u);
            }
        };
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM api_keys");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {KEY_COLUMNS} FROM api_keys"));
        filter(&mut qb);
        qb.push(" ORDER BY created_at DESC, id DESC");
        push_page(&mut qb, page);
        let rows: Vec<KeyRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::new(
            rows.into_iter().map(ApiKey::from).collect(),
            to_total(total),
            page,
        ))
    }

    async fn session_family_active(&self, family_id: Uuid, now: DateTime<Utc>) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT COUNT(*) FROM user_sessions WHERE revoked_at IS NULL AND family_id = ",
        );
        qb.push_bind(family_id)
            .push(" AND expires_at > ")
            .push_bind(micros(now));
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(n > 0)
    }
}

#[async_trait]
impl IdentityWrite for BackendTx {
    async fn insert_user(&mut self, u: &User, password_hash: &str) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "INSERT INTO users ({USER_COLUMNS}, password_hash) VALUES ("
        ));
        let mut v = qb.separated(", ");
        v.push_bind(u.id)
            .push_bind(u.username.clone())
            .push_bind(u.email.clone())
            .push_bind(u.role.as_str())
            .push_bind(Json(u.permissions.clone()))
            .push_bind(u.status.as_str())
            .push_bind(i32::try_from(u.failed_login_attempts).unwrap_or(i32::MAX))
            .push_bind(u.locked_until.map(micros))
            .push_bind(u.last_login_at.map(micros))
            .push_bind(micros(u.created_at))
            .push_bind(micros(u.updated_at))
            .push_bind(password_hash.to_owned());
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn lock_user(&mut self, id: Uuid) -> Result<Option<User>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {USER_COLUMNS} FROM users WHERE id = "));
        qb.push_bind(id).push(FOR_UPDATE);
        let row: Option<UserRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(User::try_from).transpose()
    }

    async fn lock_user_credentials(&mut self, login: &str) -> Result<Option<(User, String)>> {
        let mut qb = credentials_query(login, true);
        into_credentials(qb.build_query_as().fetch_optional(&mut *self.tx).await?)
    }

    async fn update_user(&mut self, u: &User) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE users SET role = ");
        qb.push_bind(u.role.as_str())
            .push(", permissions = ")
            .push_bind(Json(u.permissions.clone()))
            .push(", status = ")
            .push_bind(u.status.as_str())
            .push(", failed_login_attempts = ")
            .push_bind(i32::try_from(u.failed_login_attempts).unwrap_or(i32::MAX))
            .push(", locked_until = ")
            .push_bind(u.locked_until.map(micros))
            .push(", last_login_at = ")
            .push_bind(u.last_login_at.map(micros))
            .push(", updated_at = ")
            .push_bind(micros(u.updated_at))
            .push(" WHERE id = ")
            .push_bind(u.id);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn set_password_hash(&mut self, id: Uuid, hash: &str, now: DateTime<Utc>) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE users SET password_hash = ");
        qb.push_bind(hash.to_owned())
            .push(", updated_at = ")
            .push_bind(micros(now))
            .push(" WHERE id = ")
            .push_bind(id);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn insert_api_key(&mut self, k: &ApiKey, key_hash: &str) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}, key_hash) VALUES ("
        ));
        let mut v = qb.separated(", ");
        v.push_bind(k.id)
            .push_bind(k.user_id)
            .push_bind(k.name.clone())
            .push_bind(k.prefix.clone())
            .push_bind(Json(k.permissions.clone()))
            .push_bind(k.is_active)
            .push_bind(k.expires_at.map(micros))
            .push_bind(k.last_used.map(micros))
            .push_bind(k.revoked_at.map(micros))
            .push_bind(micros(k.created_at))
            .push_bind(micros(k.updated_at))
            .push_bind(key_hash.to_owned());
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn revoke_api_key(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE api_keys SET is_active = ");
        qb.push_bind(false)
            .push(", revoked_at = ")
            .push_bind(micros(now))
            .push(", updated_at = ")
            .push_bind(micros(now))
            .push(" WHERE revoked_at IS NULL AND id = ")
            .push_bind(id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn touch_api_key(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE api_keys SET last_used = ");
        qb.push_bind(micros(now)).push(" WHERE id = ").push_bind(id);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn insert_session(&mut self, s: &Session, token_hash: &str) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO user_sessions (id, family_id, user_id, session_token, expires_at, \
             ip_address, user_agent, created_at, used_at, revoked_at) VALUES (",
        );
        let mut v = qb.separated(", ");
        v.push_bind(s.id)
            .push_bind(s.family_id)
            .push_bind(s.user_id)
            .push_bind(token_hash.to_owned())
            .push_bind(micros(s.expires_at))
            .push_bind(s.ip_address.map(|ip| ip.to_string()))
            .push_unseparated(IP_CAST)
            .push_bind(s.user_agent.clone())
            .push_bind(micros(s.created_at))
            .push_bind(s.used_at.map(micros))
            .push_bind(s.revoked_at.map(micros));
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn lock_session_by_hash(&mut self, token_hash: &str) -> Result<Option<Session>> {
        // The session's user first, then the session: the lock order's (users, then their
        // sessions), which suspending a user or changing a password also follows, so a
        // refresh racing either cannot deadlock with it.
        // (SQLite has no row locks: its one writer already runs this alone.)
        if !FOR_UPDATE.is_empty() {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT id FROM users WHERE id = \
                 (SELECT user_id FROM user_sessions WHERE session_token = ",
            );
            qb.push_bind(token_hash.to_owned())
                .push(")")
                .push(FOR_UPDATE);
            qb.build().fetch_all(&mut *self.tx).await?;
        }
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT id, family_id, user_id, expires_at, {IP_SELECT}, user_agent, created_at, \
             used_at, revoked_at FROM user_sessions WHERE session_token = "
        ));
        qb.push_bind(token_hash.to_owned()).push(FOR_UPDATE);
        let row: Option<SessionRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(Session::try_from).transpose()
    }

    async fn mark_session_used(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE user_sessions SET used_at = ");
        qb.push_bind(micros(now))
            .push(" WHERE used_at IS NULL AND revoked_at IS NULL AND id = ")
            .push_bind(id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn revoke_session_family(&mut self, family_id: Uuid, now: DateTime<Utc>) -> Result<u64> {
        // The user first (lock order: users, then their sessions), so a logout and a
        // suspension of the same user, each revoking several sessions, take turns instead
        // of each holding a session the other waits for.
        if !FOR_UPDATE.is_empty() {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT id FROM users WHERE id IN \
                 (SELECT user_id FROM user_sessions WHERE family_id = ",
            );
            qb.push_bind(family_id)
                .push(") ORDER BY id")
                .push(FOR_UPDATE);
            qb.build().fetch_all(&mut *self.tx).await?;
        }
        let mut qb = QueryBuilder::<Db>::new("UPDATE user_sessions SET revoked_at = ");
        qb.push_bind(micros(now))
            .push(" WHERE revoked_at IS NULL AND family_id = ")
            .push_bind(family_id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected())
    }

    async fn revoke_other_sessions(
        &mut self,
        user_id: Uuid,
        keep: Uuid,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE user_sessions SET revoked_at = ");
        qb.push_bind(micros(now))
            .push(" WHERE revoked_at IS NULL AND user_id = ")
            .push_bind(user_id)
            .push(" AND family_id <> ")
            .push_bind(keep);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected())
    }

    async fn revoke_user_sessions(&mut self, user_id: Uuid, now: DateTime<Utc>) -> Result<u64> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE user_sessions SET revoked_at = ");
        qb.push_bind(micros(now))
            .push(" WHERE revoked_at IS NULL AND user_id = ")
            .push_bind(user_id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected())
    }
}
