//! Logging in, refreshing tokens (with reuse detection) and logging out.

use betflow_domain::DomainError;
use betflow_domain::audit::{Actor, AuditAction};
use betflow_domain::identity::{self, Session, User, UserStatus};
use betflow_domain::time::now;
use betflow_store::Transaction;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{
    Claims, Credential, Identity, Principal, Tokens, actor_as, audit, secrets, to_chrono, tokens,
};
use crate::{AuthFailure, EngineError};

impl Identity {
    /// Logs in with a username or email. Every failure looks the same to the caller, and an
    /// unknown user costs the same password hash as a known one.
    #[tracing::instrument(name = "identity.login", skip_all, fields(user_id = tracing::field::Empty))]
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
        tracing::Span::current().record("user_id", tracing::field::display(user_id));
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
    #[tracing::instrument(name = "identity.refresh", skip_all)]
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
    #[tracing::instrument(name = "identity.logout", skip_all, fields(user_id = %principal.user_id))]
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
}
