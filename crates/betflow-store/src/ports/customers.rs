//! Customers' profiles and preferences.

use async_trait::async_trait;
use betflow_domain::sportsbook::customers::{Preferences, Profile, VerificationStatus};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// Reading customers' profiles and preferences.
#[async_trait]
pub trait CustomerRead {
    async fn get_profile(&self, user_id: Uuid) -> Result<Option<Profile>>;
    async fn get_preferences(&self, user_id: Uuid) -> Result<Option<Preferences>>;
}

/// Writing them, inside a transaction.
#[async_trait]
pub trait CustomerWrite {
    async fn insert_profile(&mut self, profile: &Profile) -> Result<()>;
    /// `false` when the user has no profile.
    async fn set_verification(
        &mut self,
        user_id: Uuid,
        status: VerificationStatus,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Inserts, or with `update` rewrites; `false` when there is nothing to update.
    async fn save_preferences(&mut self, prefs: &Preferences, update: bool) -> Result<bool>;
}
