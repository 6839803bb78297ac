//! Customers' currencies, fixed at registration, so cached: every bet and money movement
//! needs its customer's.

use std::sync::Arc;

use betflow_domain::sportsbook::customers::VerificationStatus;
use betflow_store::Store;
use uuid::Uuid;

use crate::EngineError;

/// A customer's currency by user id, read from their profile once.
#[derive(Clone)]
pub(crate) struct Currencies {
    store: Arc<dyn Store>,
    cache: moka::future::Cache<Uuid, Arc<str>>,
}

impl Currencies {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(std::time::Duration::from_secs(600))
                .build(),
        }
    }

    /// A customer's currency (cached); staff have no wallet.
    pub(crate) async fn of(&self, user_id: Uuid) -> Result<String, EngineError> {
        if let Some(c) = self.cache.get(&user_id).await {
            return Ok(c.to_string());
        }
        let (currency, _) = self.profile(user_id).await?;
        self.cache
            .insert(user_id, Arc::from(currency.as_str()))
            .await;
        Ok(currency)
    }

    /// A customer's currency and verification status, from their profile (not cached: the
    /// status changes).
    pub(crate) async fn profile(
        &self,
        user_id: Uuid,
    ) -> Result<(String, VerificationStatus), EngineError> {
        let profile = self
            .store
            .get_profile(user_id)
            .await?
            .ok_or_else(|| EngineError::NotFound("wallet (only customers have one)".into()))?;
        Ok((profile.currency_code, profile.verification_status))
    }
}
