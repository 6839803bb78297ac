//! The betflow runtime: the services the API and the workers call.
//!
//! Handlers never reach into the store; they call the engine, which validates with the
//! domain rules, talks to the store, and (in later features) runs workflows, timers and the
//! outbox relay.

pub mod batch;
pub mod bets;
pub mod catalog;
mod error;
pub mod events;
pub mod identity;
pub mod jobs;
pub mod line_changes;
mod outbox;
pub mod placement;
pub mod ratelimit;
pub mod wallet;
pub mod webhooks;
pub mod workflows;

use std::sync::Arc;
use std::time::{Duration, Instant};

use betflow_domain::Page;
use betflow_domain::audit::{AuditEntry, AuditQuery, SystemEvent, SystemEventQuery};
use betflow_store::Store;
use betflow_store::redis::RedisHandle;

use identity::{Identity, IdentityConfig};
use ratelimit::{Decision, RateLimiter, Rule};
use workflows::Workflows;

pub use betflow_store::{AccountCheck, Backend, PoolStats, TransactionFilter};
pub use error::{AuthFailure, ClientError, EngineError};

/// How long a readiness probe waits on one dependency.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// How many times in all a transaction the database aborted for contention is run.
pub const CONTENDED_ATTEMPTS: u32 = 4;

/// Runs `attempt`, one whole transaction, again when the database aborted it to break a
/// deadlock or a serialization conflict ([`EngineError::Contention`]): nothing of it was
/// written, and the rows it waited for are free once the transaction it raced ends. The
/// runs are a few milliseconds apart, jittered, so racing transactions do not meet again
/// in step; after [`CONTENDED_ATTEMPTS`] the error goes to the caller, a 503 the client
/// may retry. The store's lock order keeps deadlocks from happening in the first place:
/// this is the net under it, for a race the order did not foresee.
pub(crate) async fn retry_contended<T, F, Fut>(mut attempt: F) -> Result<T, EngineError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, EngineError>>,
{
    let mut run = 1;
    loop {
        match attempt().await {
            Err(EngineError::Contention(why)) if run < CONTENDED_ATTEMPTS => {
                tracing::warn!(run, error = %why, "transaction aborted for contention; running it again");
                let mut b = [0u8; 2];
                let _ = getrandom::fill(&mut b);
                let base = 5u64 << run;
                let pause = base + u64::from(u16::from_le_bytes(b)) % base;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                run += 1;
            }
            other => return other,
        }
    }
}

/// The running platform: its database, its optional Redis, and the services over them.
pub struct Engine {
    store: Arc<dyn Store>,
    redis: Option<Arc<RedisHandle>>,
    identity: Identity,
    workflows: Workflows,
    limiter: RateLimiter,
    hub: Arc<events::EventHub>,
    /// Feeds `hub` from Redis, on every node, when Redis is configured.
    event_subscriber: Option<tokio::task::JoinHandle<()>>,
    webhook_settings: webhooks::WebhookSettings,
    /// Outbound webhook requests, through the SSRF-guarding resolver.
    http: reqwest::Client,
    webhook_cache: moka::future::Cache<(), Arc<Vec<betflow_domain::webhooks::Webhook>>>,
    bet_settings: betflow_domain::sportsbook::bets::BetSettings,
    batch_settings: batch::BatchSettings,
    /// Places bets in batches (see [`placement`]).
    placer: Arc<batch::Batcher<placement::Placer>>,
    line_change: line_changes::LineChangeSettings,
    /// Shared with the payment provider to sign its callbacks; `None`: no callbacks.
    payments_secret: Option<String>,
    /// Customers' currencies (fixed at registration), by user id.
    currencies: moka::future::Cache<uuid::Uuid, Arc<str>>,
    retention: jobs::Retention,
}

/// The outcome of probing one dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub latency: Duration,
    /// Why the check failed, without secrets.
    pub error: Option<String>,
}

/// Whether the process can serve traffic, with the result of each check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub checks: Vec<Check>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

/// The bet placer for `store` with these settings.
fn placer(
    store: Arc<dyn Store>,
    bets: betflow_domain::sportsbook::bets::BetSettings,
    settings: batch::BatchSettings,
) -> Arc<batch::Batcher<placement::Placer>> {
    let backend = store.backend();
    Arc::new(batch::Batcher::new(
        placement::Placer { store, bets },
        settings,
        backend,
    ))
}

impl Engine {
    /// Wires the services. With Redis, rate-limit counters are shared by every node.
    pub fn new(
        store: Arc<dyn Store>,
        redis: Option<Arc<RedisHandle>>,
        identity: &IdentityConfig,
    ) -> Result<Self, EngineError> {
        let limiter = match &redis {
            Some(r) => RateLimiter::redis(r.clone()),
            None => RateLimiter::local(),
        };
        let hub = Arc::new(events::EventHub::default());
        let event_subscriber = redis
            .as_ref()
            .map(|r| Self::spawn_event_subscriber(r, hub.clone()));
        let placer_store = store.clone();
        Ok(Self {
            identity: Identity::new(store.clone(), identity, redis.clone())?,
            workflows: Workflows::new(store.clone(), hub.clone()),
            store,
            redis,
            limiter,
            hub,
            event_subscriber,
            webhook_settings: webhooks::WebhookSettings::default(),
            http: webhooks::http_client(false)?,
            webhook_cache: moka::future::Cache::builder()
                .time_to_live(std::time::Duration::from_secs(2))
                .build(),
            bet_settings: Default::default(),
            batch_settings: Default::default(),
            placer: placer(placer_store, Default::default(), Default::default()),
            line_change: Default::default(),
            payments_secret: None,
            currencies: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(std::time::Duration::from_secs(600))
                .build(),
            retention: jobs::Retention::default(),
        })
    }

    /// The secret a payment provider signs its callbacks with (Standard Webhooks).
    pub fn with_payment_callback_secret(mut self, secret: Option<String>) -> Self {
        self.payments_secret = secret.filter(|s| !s.is_empty());
        self
    }

    /// Where an odds change stops applying directly and goes to approval.
    pub fn with_line_change(mut self, settings: line_changes::LineChangeSettings) -> Self {
        self.line_change = settings;
        self
    }

    /// Stake and payout bounds and the in-play delay.
    pub fn with_bet_settings(
        mut self,
        settings: betflow_domain::sportsbook::bets::BetSettings,
    ) -> Self {
        self.bet_settings = settings;
        self.placer = placer(self.store.clone(), self.bet_settings, self.batch_settings);
        self
    }

    /// How many bets share a transaction, and how many such batches run at once.
    pub fn with_bet_batching(mut self, batch: batch::BatchSettings) -> Self {
        self.batch_settings = batch;
        self.placer = placer(self.store.clone(), self.bet_settings, batch);
        self
    }

    /// How many workflow decisions share a transaction, and how many such batches run at
    /// once.
    pub fn with_decision_batching(mut self, batch: batch::BatchSettings) -> Self {
        self.workflows.set_batching(batch);
        self
    }

    /// How long audit rows and system events are kept (the seed's daily maintenance).
    pub fn with_retention(mut self, retention: jobs::Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How webhook deliveries retry, and whether they may reach private addresses.
    pub fn with_webhook_settings(
        mut self,
        settings: webhooks::WebhookSettings,
    ) -> Result<Self, EngineError> {
        self.http = webhooks::http_client(settings.allow_private)?;
        self.webhook_settings = settings;
        Ok(self)
    }

    /// Where a line change's risk levels start (the default is the seed's).
    pub fn with_risk_thresholds(
        mut self,
        thresholds: betflow_domain::workflow::seeded::RiskThresholds,
    ) -> Self {
        self.workflows.risk = thresholds;
        self
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn workflows(&self) -> &Workflows {
        &self.workflows
    }

    /// Counts a request against `rule` in `bucket`.
    pub async fn rate_limit(&self, bucket: &str, rule: Rule) -> Decision {
        self.limiter.check(bucket, rule).await
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.store.pool_stats()
    }

    /// How bets have been batched since start (see [`placement`]).
    pub fn placement_stats(&self) -> batch::BatchStats {
        self.placer.stats()
    }

    pub fn redis_configured(&self) -> bool {
        self.redis.is_some()
    }

    /// Probes the database, and Redis when configured, each bounded by
    /// [`READINESS_TIMEOUT`], concurrently.
    pub async fn readiness(&self) -> Readiness {
        let db = timed("database", async {
            match tokio::time::timeout(READINESS_TIMEOUT, self.store.ping()).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("ping timed out".to_owned()),
            }
        });
        let redis = async {
            match &self.redis {
                None => None,
                Some(r) => Some(
                    timed("redis", async {
                        r.ping(READINESS_TIMEOUT).await.map_err(|e| e.to_string())
                    })
                    .await,
                ),
            }
        };
        let (db, redis) = tokio::join!(db, redis);
        Readiness {
            checks: std::iter::once(db).chain(redis).collect(),
        }
    }

    /// Reads the audit trail: by table and record, by user, by action, by time range.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Page<AuditEntry>, EngineError> {
        query.validate()?;
        Ok(self.store.query_audit(query).await?)
    }

    /// Reads recorded system events.
    pub async fn system_events(
        &self,
        query: &SystemEventQuery,
    ) -> Result<Page<SystemEvent>, EngineError> {
        query.validate()?;
        Ok(self.store.query_system_events(query).await?)
    }

    /// Records a system event (startup, shutdown, operational errors) in its own transaction.
    pub async fn record_system_event(&self, event: &SystemEvent) -> Result<(), EngineError> {
        let mut tx = self.store.begin().await?;
        tx.insert_system_event(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes the database pool once in-flight work has returned its connections.
    pub async fn shutdown(&self) {
        if let Some(s) = &self.event_subscriber {
            s.abort();
        }
        self.store.close().await;
    }
}

async fn timed(
    name: &'static str,
    probe: impl std::future::Future<Output = Result<(), String>>,
) -> Check {
    let started = Instant::now();
    let result = probe.await;
    Check {
        name,
        ok: result.is_ok(),
        latency: started.elapsed(),
        error: result.err(),
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(task) = &self.event_subscriber {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn aborted() -> EngineError {
        EngineError::from(betflow_store::StoreError::Contention {
            code: "40P01".into(),
            message: "deadlock detected".into(),
        })
    }

    /// A transaction aborted for contention runs again, and one that keeps being aborted
    /// gives up after a bounded number of runs with the contention error (a 503), while
    /// any other error is not retried at all.
    #[tokio::test]
    async fn contention_is_retried_a_bounded_number_of_times() {
        let runs = AtomicU32::new(0);
        let r = retry_contended(|| async {
            if runs.fetch_add(1, Ordering::Relaxed) < 2 {
                Err(aborted())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!((r.unwrap(), runs.load(Ordering::Relaxed)), (7, 3));

        let runs = AtomicU32::new(0);
        let r: Result<(), _> = retry_contended(|| async {
            runs.fetch_add(1, Ordering::Relaxed);
            Err(aborted())
        })
        .await;
        assert!(matches!(r, Err(EngineError::Contention(_))), "{r:?}");
        assert_eq!(runs.load(Ordering::Relaxed), CONTENDED_ATTEMPTS);
        assert!(aborted().client_error().is_none(), "not the client's fault");

        let runs = AtomicU32::new(0);
        let r: Result<(), _> = retry_contended(|| async {
            runs.fetch_add(1, Ordering::Relaxed);
            Err(EngineError::Conflict("x".into()))
        })
        .await;
        assert!(matches!(r, Err(EngineError::Conflict(_))));
        assert_eq!(runs.load(Ordering::Relaxed), 1);
    }
}
