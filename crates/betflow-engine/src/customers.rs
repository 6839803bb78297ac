//! Customers: self-registration (the user, their profile and default preferences in one
//! transaction) and their preferences. Staff users and logins are [`crate::identity`].

use std::sync::Arc;

use betflow_domain::DomainError;
use betflow_domain::audit::{Actor, AuditAction};
use betflow_domain::identity::{self, Role, User, UserStatus};
use betflow_domain::sportsbook::customers::{
    MINIMUM_AGE, Preferences, Profile, VerificationStatus,
};
use betflow_domain::time::now;
use betflow_store::{Store, StoreError};
use serde_json::json;
use uuid::Uuid;

use crate::identity::password::PasswordHasherService;
use crate::identity::{audit, audit_table};
use crate::{EngineError, RefusalKind};

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

/// Registration, profiles and preferences.
pub struct Customers {
    store: Arc<dyn Store>,
    /// The identity service's hasher: one pool of hashing threads for every password.
    hasher: Arc<PasswordHasherService>,
}

impl Customers {
    pub fn new(store: Arc<dyn Store>, hasher: Arc<PasswordHasherService>) -> Self {
        Self { store, hasher }
    }

    /// A customer registering themselves: the user (role customer), the profile and the
    /// default preferences in one transaction. `today` decides the 18+ rule (a parameter so
    /// tests can move the clock).
    #[tracing::instrument(name = "customers.register", skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn register(
        &self,
        new: NewCustomer,
        today: chrono::NaiveDate,
        actor: &Actor,
    ) -> Result<(User, Profile, Preferences), EngineError> {
        let t = now();
        let id = Uuid::now_v7();
        tracing::Span::current().record("user_id", tracing::field::display(id));
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
            return Err(EngineError::refused(
                RefusalKind::Unprocessable,
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
    pub async fn get(
        &self,
        user_id: Uuid,
    ) -> Result<(Option<Profile>, Option<Preferences>), EngineError> {
        Ok((
            self.store.get_profile(user_id).await?,
            self.store.get_preferences(user_id).await?,
        ))
    }

    /// Changes preferences by merge patch; users without any get the defaults first.
    #[tracing::instrument(name = "customers.update_preferences", skip_all, fields(user_id = %user_id))]
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
}
