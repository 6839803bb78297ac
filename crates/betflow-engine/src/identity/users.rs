//! Users: reading, creating and changing them, unlocking, passwords, the first admin.

use betflow_domain::audit::{Actor, AuditAction};
use betflow_domain::identity::{self, Role, User, UserStatus};
use betflow_domain::time::now;
use betflow_domain::{DomainError, Violation};
use betflow_domain::{Page, PageRequest};
use serde_json::json;
use uuid::Uuid;

use super::{Credential, Identity, NewUser, Principal, UserPatch, audit, secrets, user_conflict};
use crate::EngineError;

impl Identity {
    pub async fn get_user(&self, id: Uuid) -> Result<User, EngineError> {
        self.store
            .get_user(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("user {id}")))
    }

    pub async fn list_users(&self, page: PageRequest) -> Result<Page<User>, EngineError> {
        Ok(self.store.list_users(page).await?)
    }

    #[tracing::instrument(name = "identity.create_user", skip_all)]
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

    /// Changes role, extra permissions or status. Suspending ends every session at once.
    ///
    /// Never the caller's own account (403): one that could would grant itself permissions,
    /// or suspend or demote the last administrator and lock everyone out.
    #[tracing::instrument(name = "identity.update_user", skip_all, fields(user_id = %id))]
    pub async fn update_user(
        &self,
        id: Uuid,
        patch: UserPatch,
        actor: &Actor,
    ) -> Result<User, EngineError> {
        if actor.user_id == Some(id) {
            return Err(EngineError::Rejected {
                kind: crate::RefusalKind::Forbidden,
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

    #[tracing::instrument(name = "identity.unlock_user", skip_all, fields(user_id = %id))]
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

    #[tracing::instrument(name = "identity.change_password", skip_all, fields(user_id = %principal.user_id))]
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
                kind: crate::RefusalKind::Forbidden,
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

    /// Finds a user id by username (for the CLI).
    pub async fn find_user_id(&self, login: &str) -> Result<Uuid, EngineError> {
        self.store
            .find_user_credentials(login)
            .await?
            .map(|(u, _)| u.id)
            .ok_or_else(|| EngineError::NotFound(format!("user {login}")))
    }
}
