//! The betflow runtime: the services the API and the workers call.
//!
//! Handlers never reach into the store; they call the engine, which validates with the
//! domain rules, talks to the store, runs workflows and jobs, and relays the outbox.
//!
//! Each area is a service: a struct holding what it needs (the store, the event hub,
//! settings, caches), built here from one [`EngineConfig`] and reached through an accessor
//! (`engine.identity()`, `engine.customers()`, `engine.workflows()`, `engine.webhooks()`,
//! `engine.realtime()`, ...). Services never name [`Engine`]: this file alone composes them.
//! The few operations that belong to no area (readiness, the audit trail, rate limits) are
//! `impl Engine` blocks in files named for them.

mod audit;
pub mod automations;
pub mod batch;
pub mod bets;
pub mod catalog;
mod config;
pub mod credentials;
pub mod customers;
mod error;
pub mod events;
pub mod examples;
pub mod idempotency;
pub mod identity;
pub mod jobs;
pub mod line_changes;
pub mod ratelimit;
mod readiness;
pub mod realtime;
mod retry;
pub mod secrets;
pub mod tasks;
pub mod triggers;
pub mod wallet;
pub mod webhooks;
pub mod workflows;

use std::sync::Arc;

use betflow_store::Store;
use betflow_store::redis::RedisHandle;

use customers::Customers;
use identity::Identity;
use ratelimit::RateLimiter;
use realtime::Realtime;
use webhooks::Webhooks;
use workflows::Workflows;

pub use betflow_domain::refusal::RefusalKind;
pub use betflow_store::{AccountCheck, Backend, PoolStats, TransactionFilter};
pub use config::{EncryptionConfig, EngineConfig};
pub use error::{AuthFailure, EngineError, Refusal};
pub use readiness::{Check, READINESS_TIMEOUT, Readiness};
pub use retry::CONTENDED_ATTEMPTS;
pub(crate) use retry::retry_contended;

/// The running platform: its database, its optional Redis, and the services over them.
pub struct Engine {
    store: Arc<dyn Store>,
    redis: Option<Arc<RedisHandle>>,
    /// Request rate limits; shared with the webhooks service's per-endpoint limits.
    limiter: Arc<RateLimiter>,
    identity: Identity,
    customers: Customers,
    workflows: Workflows,
    webhooks: Arc<Webhooks>,
    realtime: Arc<Realtime>,
    wallet: wallet::Wallet,
    bets: bets::Bets,
    catalog: catalog::Catalog,
    line_change: line_changes::LineChangeSettings,
    retention: jobs::Retention,
    automations: automations::Automations,
    credentials: credentials::Credentials,
    triggers: Arc<triggers::Triggers>,
    tasks: tasks::Tasks,
    keyring: Arc<secrets::Keyring>,
}

impl Engine {
    /// Wires the services. With Redis, rate-limit counters, identity cache invalidations and
    /// real-time events are shared by every node.
    pub fn new(
        store: Arc<dyn Store>,
        redis: Option<Arc<RedisHandle>>,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let limiter = Arc::new(match &redis {
            Some(r) => RateLimiter::redis(r.clone()),
            None => RateLimiter::local(),
        });
        let hub = Arc::new(events::EventHub::default());
        let keyring = Arc::new(secrets::Keyring::from_config(&config.encryption)?);
        let identity = Identity::new(store.clone(), &config.identity, redis.clone())?;
        let customers = Customers::new(store.clone(), identity.hasher());
        let mut workflows = Workflows::new(store.clone(), hub.clone());
        workflows.set_batching(config.decision_batching);
        workflows.risk = config.risk;
        let webhooks = Arc::new(Webhooks::new(
            store.clone(),
            hub.clone(),
            limiter.clone(),
            config.webhooks,
            keyring.clone(),
        )?);
        let triggers = Arc::new(triggers::Triggers::new(
            store.clone(),
            hub.clone(),
            keyring.clone(),
        ));
        let realtime = Arc::new(Realtime::new(
            store.clone(),
            redis.clone(),
            hub,
            webhooks.clone(),
            triggers.clone(),
        ));
        let idempotency = idempotency::Idempotency::new(store.clone());
        let currencies = wallet::Currencies::new(store.clone());
        let wallet = wallet::Wallet::new(
            store.clone(),
            idempotency.clone(),
            currencies.clone(),
            config.payments_secret,
        );
        let bets = bets::Bets::new(
            store.clone(),
            config.bets,
            config.bet_batching,
            idempotency,
            currencies,
        );
        let catalog = catalog::Catalog::new(store.clone());
        let automations = automations::Automations::new(store.clone());
        // Publishing checks action steps against the registry (later registrations too).
        let registry = automations.clone();
        workflows.set_graph_check(Arc::new(move |g| registry.validate_graph(g)));
        let credentials = credentials::Credentials::new(store.clone(), keyring.clone());
        let tasks = tasks::Tasks::new(store.clone());
        Ok(Self {
            store,
            redis,
            limiter,
            identity,
            customers,
            workflows,
            webhooks,
            realtime,
            wallet,
            bets,
            catalog,
            line_change: config.line_change,
            retention: config.retention,
            automations,
            credentials,
            triggers,
            tasks,
            keyring,
        })
    }

    /// Logins, tokens, API keys and users.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Customer registration, profiles and preferences.
    pub fn customers(&self) -> &Customers {
        &self.customers
    }

    pub fn workflows(&self) -> &Workflows {
        &self.workflows
    }

    /// Webhook endpoints and their deliveries.
    pub fn webhooks(&self) -> &Webhooks {
        &self.webhooks
    }

    /// The outbox relay and the in-process event hub.
    pub fn realtime(&self) -> &Arc<Realtime> {
        &self.realtime
    }

    /// Deposits, withdrawals, payment methods, limits and the ledger.
    pub fn wallet(&self) -> &wallet::Wallet {
        &self.wallet
    }

    /// Bet placement, history, settlement and exposure.
    pub fn bets(&self) -> &bets::Bets {
        &self.bets
    }

    /// Sports, leagues, teams, events, markets and selections.
    pub fn catalog(&self) -> &catalog::Catalog {
        &self.catalog
    }

    /// Automation executions and the action registry.
    pub fn automations(&self) -> &automations::Automations {
        &self.automations
    }

    /// Credentials and definition variables.
    pub fn credentials(&self) -> &credentials::Credentials {
        &self.credentials
    }

    /// Event subscriptions, schedules and inbound webhook endpoints.
    pub fn triggers(&self) -> &Arc<triggers::Triggers> {
        &self.triggers
    }

    /// The keys that encrypt stored secrets (credentials, secret variables, webhook and
    /// inbound endpoint secrets): `encrypt_str(purpose, row, text)` / `decrypt_str`.
    pub fn keyring(&self) -> &Arc<secrets::Keyring> {
        &self.keyring
    }

    /// Tasks created by automations.
    pub fn tasks(&self) -> &tasks::Tasks {
        &self.tasks
    }

    /// How bets have been batched since start (see [`bets`]).
    pub fn placement_stats(&self) -> batch::BatchStats {
        self.bets.placement_stats()
    }

    /// Stops listening to Redis and closes the database pool once in-flight work has
    /// returned its connections.
    pub async fn shutdown(&self) {
        self.realtime.stop();
        self.store.close().await;
    }
}
