//! Persistence for betflow.
//!
//! Each aggregate has a port: a read trait implemented by the [`Store`] (auto-commit, pooled)
//! and a write trait implemented by a [`Transaction`], so a state change, its audit rows and
//! (later) its outbox event are written in one database transaction or not at all.
//!
//! There are two implementations, chosen from the database URL at start: [`sqlite`] (the
//! embedded default) and [`postgres`]. Code common to both lives in `shared/` and is compiled
//! once per backend against that backend's concrete sqlx types, so there is one copy of each
//! query's binding and decoding logic and no generic-bound soup.
//!
//! # Lock order
//!
//! On PostgreSQL, writers run side by side under row locks, and two transactions that take
//! the same rows in different orders can each wait for the other: PostgreSQL then aborts one
//! after `deadlock_timeout` (a second) with `40P01`. So every transaction takes its row locks
//! in one global order, table by table, and within a table by key, whatever the path:
//!
//! 1. `workflow_instances`, by id ([`WorkflowWrite::lock_workflows`]; one at a time with
//!    [`WorkflowWrite::lock_workflow`]); a workflow's `workflow_step_runs` and approvals go
//!    with it. No transaction that holds a workflow locks a row further down this list:
//!    an approved line change is applied by a job, in a transaction of its own.
//! 2. Catalog rows: `markets` by id, each market before its `selections`, those by id.
//!    Bets share-lock their legs this way (`ORDER BY m.id, s.id FOR SHARE OF m, s`);
//!    settlement, suspension and odds changes lock one market or one selection. A
//!    market's `market_results` row is written only under its market's lock.
//! 3. `bets`, by id ([`BetWrite::lock_bets_on_market`]): settlement, after its market.
//! 4. `ledger_accounts`, by primary key (owner, kind, currency; kinds sort `bonus`, `cash`,
//!    `pending`), all of a transaction's accounts at once and before it writes any: one
//!    customer's with [`WalletWrite::lock_wallet`] (bets: [`BetWrite::bet_context`]),
//!    several customers' with [`WalletWrite::lock_accounts`] (settlement) or
//!    [`BetWrite::batch_context`] (bet batches). [`WalletWrite::apply_transfers`] then
//!    only updates rows already held; house accounts have no row. Accounts are opened
//!    in key order too.
//! 5. `responsible_gambling`, by user (a deposit reads its limits after the wallet).
//! 6. `transactions`, by id (a deposit or withdrawal resolved, after the wallet).
//! 7. `idempotency_keys`: a request's own key, written last.
//!
//! Rows a transaction inserts are new to everyone else and need no place in the order, but
//! an insert of several rows that may conflict (`INSERT ... ON CONFLICT`) waits on them in
//! `VALUES` order, so such rows are sorted by key (step runs, webhook deliveries, a
//! batch's stakes). Identity locks a user before their sessions (a token refresh and a
//! logout too, not only a suspension or a password change) and nothing above; money
//! transactions touch `users` only through foreign-key checks (key-share), after their
//! accounts. The job queue (`FOR UPDATE SKIP LOCKED`, which never waits), the relay's
//! cursor and the outbox sequencer's advisory lock are taken in transactions that lock
//! nothing above. SQLite has one writer at a time and no row locks: there the order costs
//! nothing and changes nothing.
//!
//! Should a deadlock or a serialization failure still abort a transaction, it surfaces as
//! [`StoreError::Contention`], which the engine retries.

mod config;
mod error;
pub mod postgres;
pub mod redis;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use betflow_domain::audit::{AuditEntry, AuditQuery, SystemEvent, SystemEventQuery};
use betflow_domain::events::{Event, NewEvent};
use betflow_domain::identity::{ApiKey, Session, User};
use betflow_domain::jobs::{Job, NewJob};
use betflow_domain::sportsbook::bets::{Bet, BetFilter, LegResult, SelectionExposure};
use betflow_domain::sportsbook::catalog::{
    Event as Fixture, EventFilter, EventSummary, League, Market, PriceChange, Selection, Sport,
    Team,
};
use betflow_domain::sportsbook::customers::{Preferences, Profile};
use betflow_domain::sportsbook::limits::ResponsibleGambling;
use betflow_domain::sportsbook::wallet::{
    AccountKind, Balances, PaymentMethod, Transaction as MoneyTransaction, TransactionStatus,
    TransactionType, Transfer,
};
use betflow_domain::webhooks::{Attempt, Delivery, DeliveryStatus, Webhook};
use betflow_domain::workflow::record::{
    Approval, BettingContent, BettingLine, Definition, Instance, InstanceFilter, StepRun,
    TimelineEvent, Version,
};
use betflow_domain::{Page, PageRequest};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use config::{Backend, StoreConfig, redact_url};
pub use error::StoreError;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Connects to the configured database (retrying while it is unreachable, within
/// [`StoreConfig::connect_timeout`]) and returns the backend behind the [`Store`] port.
/// Migrations are not run here; call [`Store::migrate`].
pub async fn connect(config: &StoreConfig) -> Result<Arc<dyn Store>> {
    match config.backend()? {
        Backend::Sqlite => Ok(Arc::new(sqlite::SqliteStore::connect(config).await?)),
        Backend::Postgres => Ok(Arc::new(postgres::PgStore::connect(config).await?)),
    }
}

/// Connection pool figures for the metrics endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// A database: reads through the pool, writes through [`Store::begin`].
#[async_trait]
pub trait Store:
    AuditRead
    + IdentityRead
    + WorkflowRead
    + JobQueue
    + EventRead
    + WebhookRead
    + CatalogRead
    + CustomerRead
    + WalletRead
    + BetRead
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Applies pending migrations. Safe to run from several processes at once: both backends
    /// serialise migrators with a lock.
    async fn migrate(&self) -> Result<()>;

    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;

    fn pool_stats(&self) -> PoolStats;

    /// Starts a write transaction. On SQLite the process's writers queue for its one writer
    /// connection, and transactions that follow each other share a commit (each in its own
    /// savepoint; see `sqlite::writer`): `commit` returns once that shared commit succeeded.
    async fn begin(&self) -> Result<Box<dyn Transaction>>;

    /// Closes the pool, waiting for checked-out connections to return.
    async fn close(&self);
}

/// An open write transaction. Dropping it without [`Transaction::commit`] rolls it back.
#[async_trait]
pub trait Transaction:
    AuditWrite
    + IdentityWrite
    + WorkflowWrite
    + JobWrite
    + EventWrite
    + WebhookWrite
    + CatalogWrite
    + CustomerWrite
    + WalletWrite
    + BetWrite
    + Send
{
    async fn commit(self: Box<Self>) -> Result<()>;
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Reading the audit trail and system events.
#[async_trait]
pub trait AuditRead {
    async fn get_audit_entry(&self, id: Uuid) -> Result<Option<AuditEntry>>;
    async fn query_audit(&self, query: &AuditQuery) -> Result<Page<AuditEntry>>;
    async fn query_system_events(&self, query: &SystemEventQuery) -> Result<Page<SystemEvent>>;
}

/// Appending to the audit trail and system events, inside a transaction.
#[async_trait]
pub trait AuditWrite {
    async fn insert_audit(&mut self, entry: &AuditEntry) -> Result<()>;
    async fn insert_system_event(&mut self, event: &SystemEvent) -> Result<()>;
    /// Deletes up to `limit` audit rows older than `before` (the oldest first); returns how
    /// many. Bounded so a first run over years of rows never holds one huge transaction.
    async fn prune_audit(&mut self, before: DateTime<Utc>, limit: u32) -> Result<u64>;
    /// The same for system events.
    async fn prune_system_events(&mut self, before: DateTime<Utc>, limit: u32) -> Result<u64>;
}

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
    /// Fails with [`StoreError::Conflict`] naming `users_username_key` or `users_email_key`.
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

/// Reading workflow definitions, versions and workflows.
#[async_trait]
pub trait WorkflowRead {
    async fn get_definition(&self, key: &str) -> Result<Option<Definition>>;
    async fn list_definitions(&self) -> Result<Vec<Definition>>;
    async fn get_version(&self, definition_id: Uuid, version: u32) -> Result<Option<Version>>;
    /// Every version of a definition, oldest first.
    async fn list_versions(&self, definition_id: Uuid) -> Result<Vec<Version>>;
    async fn get_workflow(&self, id: Uuid) -> Result<Option<Instance>>;
    /// Newest first.
    async fn list_workflows(&self, filter: &InstanceFilter) -> Result<Page<Instance>>;
    /// Up to `limit` workflows matching `filter` (its page ignored), newest first, strictly
    /// older than `before` (`created_at`, `id`). Keyset paging: an export walking every page
    /// sees each row once even while workflows are created or deleted, and no count is paid.
    async fn scan_workflows(
        &self,
        filter: &InstanceFilter,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: u32,
    ) -> Result<Vec<Instance>>;
    /// Every decision on a workflow, oldest first.
    async fn list_approvals(&self, workflow_id: Uuid) -> Result<Vec<Approval>>;
    /// Every decision on each of `workflow_ids` (at most a page of them), oldest first.
    async fn list_approvals_for(&self, workflow_ids: &[Uuid]) -> Result<Vec<Approval>>;
    /// A workflow's history, oldest first.
    async fn list_timeline(&self, workflow_id: Uuid) -> Result<Vec<TimelineEvent>>;
    async fn get_betting_line(&self, workflow_id: Uuid) -> Result<Option<BettingLine>>;
    async fn get_betting_content(&self, workflow_id: Uuid) -> Result<Option<BettingContent>>;
    /// Workflows created since `from` (optionally of one type), counted by status.
    async fn count_by_status(
        &self,
        from: Option<DateTime<Utc>>,
        workflow_type: Option<&str>,
    ) -> Result<Vec<(String, u64)>>;
    /// Workflows (created since `from`) counted by type.
    async fn count_by_type(&self, from: Option<DateTime<Utc>>) -> Result<Vec<(String, u64)>>;
    /// A workflow's step runs, in visit order.
    async fn list_step_runs(&self, workflow_id: Uuid) -> Result<Vec<StepRun>>;
    /// Rows of the seed's `betting_content` and `betting_lines` tables.
    async fn count_domain_rows(&self) -> Result<(u64, u64)>;
    /// Open workflows whose current step's due time has passed.
    async fn count_overdue(&self, now: DateTime<Utc>, workflow_type: Option<&str>) -> Result<u64>;
    /// Completion times of workflows completed since `from`.
    async fn completion_times(
        &self,
        from: DateTime<Utc>,
        workflow_type: Option<&str>,
    ) -> Result<Vec<DateTime<Utc>>>;
    /// Decisions made since `from`: `(workflow type, step, when the step was entered, when it
    /// was decided)`.
    async fn decision_times(
        &self,
        from: DateTime<Utc>,
        workflow_type: Option<&str>,
    ) -> Result<Vec<(String, String, Option<DateTime<Utc>>, DateTime<Utc>)>>;
}

/// Writing workflow definitions, versions and workflows, inside a transaction.
#[async_trait]
pub trait WorkflowWrite {
    /// Fails with [`StoreError::Conflict`] when the key exists.
    async fn insert_definition(&mut self, definition: &Definition) -> Result<()>;
    /// Fails with [`StoreError::Conflict`] when that version number exists (a concurrent
    /// publish).
    async fn insert_version(&mut self, version: &Version) -> Result<()>;
    /// Writes the descriptive fields, data schema, latest version and `updated_at`.
    async fn update_definition(&mut self, definition: &Definition) -> Result<()>;
    async fn insert_workflow(&mut self, workflow: &Instance) -> Result<()>;
    /// Reads a workflow and locks it until the transaction ends: transitions of one workflow
    /// are serialised.
    async fn lock_workflow(&mut self, id: Uuid) -> Result<Option<Instance>>;
    async fn update_workflow(&mut self, workflow: &Instance) -> Result<()>;
    /// Reads and locks several workflows at once, in id order (so two batches, or a batch
    /// and a single transition, never deadlock); missing and deleted ones are left out.
    async fn lock_workflows(&mut self, ids: &[Uuid]) -> Result<Vec<Instance>>;
    /// Every decision on these workflows, read inside this transaction.
    async fn approvals_in_tx_for(&mut self, workflow_ids: &[Uuid]) -> Result<Vec<Approval>>;
    /// Writes transitions of different workflows, each as one unit: the decision that
    /// caused it (if any), the instance's new state, its step runs, the next step's job, the
    /// timeline rows, the outbox events and the audit row. They share statements: one per
    /// 14 KiB of parameters or so on PostgreSQL (data-modifying CTEs), one batch for the
    /// writer's thread on SQLite. A decision this user already made on this visit fails the
    /// whole call with [`StoreError::Conflict`]; the caller rolls back.
    async fn record_transitions(&mut self, transitions: &[TransitionRef<'_>]) -> Result<()>;
    /// Writes new workflows with their domain rows, first step runs and jobs, timeline rows,
    /// outbox events and audit rows, sharing statements as
    /// [`record_transitions`](Self::record_transitions) does.
    async fn record_creations(&mut self, creations: &[CreationRef<'_>]) -> Result<()>;
    /// Hides a workflow from reads; its rows and history stay. `false` if already gone.
    async fn delete_workflow(&mut self, id: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// Fails with [`StoreError::Conflict`] if this user already decided this visit.
    async fn insert_approval(&mut self, approval: &Approval) -> Result<()>;
    /// Every decision on a workflow, read inside this transaction (so a caller holding the
    /// workflow's lock never needs a second pooled connection).
    async fn approvals_in_tx(&mut self, workflow_id: Uuid) -> Result<Vec<Approval>>;
    /// Appends events (one statement for all of them).
    async fn insert_timeline(&mut self, events: &[TimelineEvent]) -> Result<()>;
    /// Sets the status of a workflow's content row (no-op when it has none).
    async fn set_content_status(
        &mut self,
        workflow_id: Uuid,
        status: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;
}

/// The durable job queue, as workers see it.
#[async_trait]
pub trait JobQueue {
    /// Claims up to `limit` due jobs for `worker`: queued ones whose `run_at` has passed, and
    /// running ones whose lease expired (their worker died). Each is leased until
    /// `now + lease` and its attempt count goes up. No job is handed to two workers: PostgreSQL
    /// skips rows another claimer holds, SQLite has a single writer.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<Job>>;
    /// Marks a job done; `false` if `worker` no longer holds it (its lease was taken over).
    async fn complete_job(&self, id: Uuid, worker: &str, now: DateTime<Utc>) -> Result<bool>;
    /// Records a failure: queued again at `retry_at`, or dead when `None`.
    async fn fail_job(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// A job's status (`queued`, `running`, `done`, `dead`) and attempts, for operators.
    async fn job_status(&self, id: Uuid) -> Result<Option<(String, u32)>>;
}

/// Enqueuing jobs inside the transaction that makes them necessary.
#[async_trait]
pub trait JobWrite {
    async fn enqueue_job(&mut self, job: &NewJob) -> Result<Uuid>;
}

/// Reading the outbox.
#[async_trait]
pub trait EventRead {
    /// Gives the oldest unnumbered events their `seq` (PostgreSQL; one sequencer at a time, so
    /// numbers follow visibility). Returns how many were numbered; always 0 on SQLite, which
    /// numbers at insert.
    async fn sequence_events(&self, limit: u32) -> Result<u64>;
    /// Up to `limit` numbered events after `seq`, in order: SSE resume.
    async fn events_after(&self, seq: i64, limit: u32) -> Result<Vec<Event>>;
    /// The newest numbered event's `seq`, 0 when there is none.
    async fn last_event_seq(&self) -> Result<i64>;
}

/// Writing the outbox, and the relay's cursor, inside a transaction.
#[async_trait]
pub trait EventWrite {
    /// Appends events in order.
    async fn insert_events(&mut self, events: &[NewEvent]) -> Result<()>;
    /// Locks the relay's cursor (relays in several processes take turns) and returns it.
    async fn lock_relay_cursor(&mut self) -> Result<i64>;
    async fn set_relay_cursor(&mut self, seq: i64) -> Result<()>;
    /// As [`EventRead::events_after`], inside this transaction.
    async fn events_after_in_tx(&mut self, seq: i64, limit: u32) -> Result<Vec<Event>>;
}

/// Reading webhook endpoints and their deliveries.
#[async_trait]
pub trait WebhookRead {
    async fn get_webhook(&self, id: Uuid) -> Result<Option<Webhook>>;
    /// Oldest first.
    async fn list_webhooks(&self) -> Result<Vec<Webhook>>;
    async fn get_delivery(&self, id: Uuid) -> Result<Option<Delivery>>;
    /// Newest first.
    async fn list_deliveries(
        &self,
        webhook_id: Uuid,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<Delivery>>;
    /// Every attempt of these deliveries (at most a page of them).
    async fn list_attempts(&self, delivery_ids: &[Uuid]) -> Result<Vec<Attempt>>;
    /// Failed deliveries of one endpoint created in `[since, until)`, oldest first.
    async fn failed_deliveries(
        &self,
        webhook_id: Uuid,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Delivery>>;
}

/// Changing webhook endpoints and recording deliveries, inside a transaction.
#[async_trait]
pub trait WebhookWrite {
    async fn insert_webhook(&mut self, webhook: &Webhook) -> Result<()>;
    /// `false` if it no longer exists.
    async fn update_webhook(&mut self, webhook: &Webhook) -> Result<bool>;
    /// Deletes an endpoint with its deliveries; `false` if it did not exist.
    async fn delete_webhook(&mut self, id: Uuid) -> Result<bool>;
    /// Inserts deliveries, skipping any (endpoint, event) already present; returns the ids
    /// actually inserted.
    async fn insert_deliveries(&mut self, deliveries: &[Delivery]) -> Result<Vec<Uuid>>;
    async fn update_delivery(&mut self, delivery: &Delivery) -> Result<()>;
    async fn insert_attempt(&mut self, attempt: &Attempt) -> Result<()>;
}

/// Reading the sportsbook catalog.
#[async_trait]
pub trait CatalogRead {
    async fn get_sport(&self, id: Uuid) -> Result<Option<Sport>>;
    /// Whether DELETE retired the sport, league, team, market or selection with this id.
    /// Its row stays (and `get_*` still reads it, for bets and settlement); the catalog API
    /// treats it as gone, and the lists below leave it out.
    async fn is_retired(&self, id: Uuid) -> Result<bool>;
    /// In display order, a page at a time.
    async fn list_sports(&self, active_only: bool, page: PageRequest) -> Result<Page<Sport>>;
    async fn get_league(&self, id: Uuid) -> Result<Option<League>>;
    async fn list_leagues(&self, sport_id: Option<Uuid>, page: PageRequest)
    -> Result<Page<League>>;
    async fn get_team(&self, id: Uuid) -> Result<Option<Team>>;
    /// `search` is full-text over names, abbreviation and city, each word a prefix.
    async fn list_teams(
        &self,
        sport_id: Option<Uuid>,
        league_id: Option<Uuid>,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Team>>;
    async fn get_event(&self, id: Uuid) -> Result<Option<Fixture>>;
    /// Soonest first, with team names and active market counts (get_events_with_markets).
    async fn list_events(&self, filter: &EventFilter) -> Result<Page<EventSummary>>;
    async fn get_market(&self, id: Uuid) -> Result<Option<Market>>;
    /// The event's markets that are not retired.
    async fn list_markets(&self, event_id: Uuid) -> Result<Vec<Market>>;
    async fn get_selection(&self, id: Uuid) -> Result<Option<Selection>>;
    /// The selections of these markets that are not retired.
    async fn list_selections(&self, market_ids: &[Uuid]) -> Result<Vec<Selection>>;
    /// A selection's odds changes, oldest first, a page at a time.
    async fn price_history(
        &self,
        selection_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<PriceChange>>;
}

/// Writing the catalog inside a transaction. `save_*` inserts, or with `update` rewrites the
/// row by id (returning `false` when there is none).
#[async_trait]
pub trait CatalogWrite {
    async fn save_sport(&mut self, sport: &Sport, update: bool) -> Result<bool>;
    async fn save_league(&mut self, league: &League, update: bool) -> Result<bool>;
    async fn save_team(&mut self, team: &Team, update: bool) -> Result<bool>;
    async fn save_event(&mut self, event: &Fixture, update: bool) -> Result<bool>;
    async fn save_market(&mut self, market: &Market, update: bool) -> Result<bool>;
    async fn save_selection(&mut self, selection: &Selection, update: bool) -> Result<bool>;
    /// Records that DELETE retired `id` (of `table`); retiring it again changes nothing.
    async fn retire(&mut self, table: &str, id: Uuid, at: DateTime<Utc>) -> Result<()>;
    async fn lock_market(&mut self, id: Uuid) -> Result<Option<Market>>;
    async fn lock_selection(&mut self, id: Uuid) -> Result<Option<Selection>>;
    async fn insert_price_change(&mut self, change: &PriceChange) -> Result<()>;
}

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
        status: betflow_domain::sportsbook::customers::VerificationStatus,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Inserts, or with `update` rewrites; `false` when there is nothing to update.
    async fn save_preferences(&mut self, prefs: &Preferences, update: bool) -> Result<bool>;
}

/// One account in a reconciliation: its balance summed from the transfers, and (customer
/// accounts) the projection's balance, which must be equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCheck {
    pub owner: Uuid,
    pub kind: AccountKind,
    pub currency: String,
    pub from_transfers: i64,
    pub projected: Option<i64>,
}

/// Filters for a wallet's transactions.
#[derive(Debug, Clone, Default)]
pub struct TransactionFilter {
    pub user_id: Option<Uuid>,
    pub tx_type: Option<TransactionType>,
    pub status: Option<TransactionStatus>,
    pub page: PageRequest,
}

/// What claiming an `Idempotency-Key` found.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyClaim {
    /// The key is ours: run the request.
    Claimed,
    /// Another request with this key has not finished.
    InFlight,
    /// The key was used with a different request.
    Mismatch,
    /// The key's first response: replay it.
    Done {
        status: u16,
        body: serde_json::Value,
    },
}

/// Reading wallets, their transactions and the ledger.
#[async_trait]
pub trait WalletRead {
    /// A customer's balances, one row per currency they hold.
    async fn get_balances(&self, user_id: Uuid) -> Result<Vec<Balances>>;
    async fn get_transaction(&self, id: Uuid) -> Result<Option<MoneyTransaction>>;
    /// By the reference we gave the payment provider.
    async fn find_transaction_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<MoneyTransaction>>;
    /// Newest first.
    async fn list_transactions(&self, filter: &TransactionFilter)
    -> Result<Page<MoneyTransaction>>;
    /// A customer's payment methods, oldest first, a page at a time.
    async fn list_payment_methods(
        &self,
        user_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<PaymentMethod>>;
    async fn get_payment_method(&self, id: Uuid) -> Result<Option<PaymentMethod>>;
    /// Every account's balance summed from the transfers, beside the projection's.
    async fn reconcile(&self) -> Result<Vec<AccountCheck>>;
    async fn get_responsible_gambling(&self, user_id: Uuid) -> Result<Option<ResponsibleGambling>>;
}

/// Moving money, inside a transaction.
#[async_trait]
pub trait WalletWrite {
    /// Locks a customer's cash account in `currency` (creating their accounts at zero if
    /// needed), so one customer's money moves one request at a time, and returns the balances.
    async fn lock_wallet(&mut self, user_id: Uuid, currency: &str) -> Result<Balances>;
    /// [`lock_wallet`](Self::lock_wallet) and the customer's responsible-gambling settings
    /// in one round trip: what a bet reads before it decides.
    async fn lock_wallet_with_limits(
        &mut self,
        user_id: Uuid,
        currency: &str,
    ) -> Result<(Balances, Option<ResponsibleGambling>)>;
    /// Locks every account of each `(customer, currency)` (all their kinds), in the lock
    /// order, in one statement: what a transaction that moves several customers' money (a
    /// settlement) takes before its first transfer. Accounts not opened yet are not
    /// created.
    async fn lock_accounts(&mut self, wallets: &[(Uuid, String)]) -> Result<()>;
    /// Records transfers and moves the projection. A debit a customer account cannot cover
    /// fails with [`StoreError::InsufficientFunds`] and nothing is written. The customer
    /// accounts the transfers touch must already be locked by this transaction
    /// ([`lock_wallet`](Self::lock_wallet) or [`lock_accounts`](Self::lock_accounts)): the
    /// projection's updates and upserts would otherwise take their row locks in transfer
    /// order, outside the lock order.
    async fn apply_transfers(&mut self, transfers: &[Transfer]) -> Result<()>;
    async fn insert_transaction(&mut self, tx: &MoneyTransaction) -> Result<()>;
    async fn update_transaction(&mut self, tx: &MoneyTransaction) -> Result<()>;
    async fn lock_transaction(&mut self, id: Uuid) -> Result<Option<MoneyTransaction>>;
    /// Deposits (pending, processing or completed) created since `since`: what counts against
    /// deposit limits.
    async fn deposits_since(&mut self, user_id: Uuid, since: DateTime<Utc>) -> Result<i64>;
    async fn insert_payment_method(&mut self, method: &PaymentMethod) -> Result<()>;
    async fn responsible_gambling(&mut self, user_id: Uuid) -> Result<Option<ResponsibleGambling>>;
    async fn save_responsible_gambling(&mut self, rg: &ResponsibleGambling) -> Result<()>;
    /// Claims `key` for a request whose body hashes to `hash`; a claim older than
    /// `stale_before` whose request never finished is taken over.
    async fn claim_idempotency(
        &mut self,
        user_id: Uuid,
        key: &str,
        hash: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<IdempotencyClaim>;
    async fn complete_idempotency(
        &mut self,
        user_id: Uuid,
        key: &str,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<()>;
    async fn release_idempotency(&mut self, user_id: Uuid, key: &str) -> Result<()>;
    /// Forgets keys created before `before` (Stripe keeps them 24 hours); returns how many.
    async fn prune_idempotency_keys(&mut self, before: DateTime<Utc>) -> Result<u64>;
}

/// Reading bets and exposure.
#[async_trait]
pub trait BetRead {
    async fn get_bet(&self, id: Uuid) -> Result<Option<Bet>>;
    /// Newest first, with legs and selection names (get_user_betting_history).
    async fn list_bets(&self, filter: &BetFilter) -> Result<Page<Bet>>;
    /// Per selection of the market, over open bets.
    async fn market_exposure(&self, market_id: Uuid) -> Result<Vec<SelectionExposure>>;
}

/// One new workflow's rows, as [`WorkflowWrite::record_creations`] takes them.
#[derive(Debug, Clone, Copy)]
pub struct CreationRef<'a> {
    pub workflow: &'a Instance,
    pub row: Option<DomainRowRef<'a>>,
    pub step_runs: &'a [StepRun],
    pub job: Option<&'a NewJob>,
    pub timeline: &'a [TimelineEvent],
    pub events: &'a [NewEvent],
    pub audit: &'a AuditEntry,
}

/// One transition's rows, as [`WorkflowWrite::record_transitions`] takes them.
#[derive(Debug, Clone, Copy)]
pub struct TransitionRef<'a> {
    pub decision: Option<&'a Approval>,
    pub workflow: &'a Instance,
    /// Runs started or ended by the transition (written as upserts on the visit).
    pub step_runs: &'a [StepRun],
    pub job: Option<&'a NewJob>,
    pub timeline: &'a [TimelineEvent],
    pub events: &'a [NewEvent],
    pub audit: &'a AuditEntry,
}

/// The seed's row that goes with a new workflow of a seeded type.
#[derive(Debug, Clone, Copy)]
pub enum DomainRowRef<'a> {
    Line(&'a BettingLine),
    Content(&'a BettingContent),
}

/// What a bet is decided on, read in one round trip inside its transaction.
#[derive(Debug, Clone)]
pub struct BetContext {
    pub selections: Vec<Selection>,
    pub markets: Vec<Market>,
    pub events: Vec<Fixture>,
    /// The customer's balances, their accounts locked.
    pub balances: Balances,
    pub limits: Option<ResponsibleGambling>,
}

/// Several customers' wallets read for one batch of placements: each customer whose three
/// accounts (cash, bonus, pending) are open in the currency asked for, with their limits.
#[derive(Debug, Clone, Default)]
pub struct BatchContext {
    pub selections: Vec<Selection>,
    pub markets: Vec<Market>,
    pub events: Vec<Fixture>,
    /// The customers' balances, their accounts locked, in user-id order.
    pub wallets: Vec<(Balances, Option<ResponsibleGambling>)>,
}

/// Everything one placed bet writes: the bet and its legs, its `bet_debit` transaction, the
/// stake held (cash to pending, one customer's own accounts) and its audit row.
#[derive(Debug, Clone)]
pub struct Placement {
    pub bet: Bet,
    pub debit: MoneyTransaction,
    pub hold: Transfer,
    pub audit: AuditEntry,
}

/// Placing and settling bets, inside a transaction.
#[async_trait]
pub trait BetWrite {
    /// What a batch of placements is decided on, in two round trips: the legs share-locked
    /// (as in [`leg_states`](Self::leg_states)), then every named customer's accounts locked
    /// in user-id order, so concurrent batches and single placements never deadlock.
    async fn batch_context(
        &mut self,
        selection_ids: &[Uuid],
        wallets: &[(Uuid, String)],
    ) -> Result<BatchContext>;
    /// Writes a batch of placed bets in one statement (PostgreSQL) or one batch of statements
    /// (SQLite): each customer's stakes held with one guarded update of their accounts.
    /// Fails with [`StoreError::InsufficientFunds`] if a customer cannot cover their stakes,
    /// and then the caller must roll the transaction back.
    async fn record_placements(&mut self, placements: &[Placement]) -> Result<()>;
    /// [`leg_states`](Self::leg_states) and
    /// [`WalletWrite::lock_wallet_with_limits`] in one round trip: the legs share-locked
    /// before the customer's accounts are locked, as when read separately.
    async fn bet_context(
        &mut self,
        selection_ids: &[Uuid],
        user_id: Uuid,
        currency: &str,
    ) -> Result<BetContext>;
    /// The selections, with their markets and events, read under a share lock on the
    /// selections and markets (PostgreSQL) so a suspension or odds change waits for the bets
    /// already checking against the old state.
    async fn leg_states(
        &mut self,
        selection_ids: &[Uuid],
    ) -> Result<(Vec<Selection>, Vec<Market>, Vec<Fixture>)>;
    /// Stakes, and stakes less returns, of the customer's bets placed since `since`: what
    /// counts against stake and loss limits.
    async fn bet_usage(&mut self, user_id: Uuid, since: DateTime<Utc>) -> Result<(i64, i64)>;
    /// Writes a placed bet: the bet and its legs, its `bet_debit` transaction, the stake held
    /// (a transfer between one customer's own accounts, with the projection) and its audit
    /// row, in one statement where the backend allows (PostgreSQL). Fails with
    /// [`StoreError::InsufficientFunds`] if the debit cannot be covered.
    async fn record_placement(
        &mut self,
        bet: &Bet,
        debit: &MoneyTransaction,
        hold: &Transfer,
        audit: &AuditEntry,
    ) -> Result<()>;
    /// The market's selections, read inside this transaction. A settlement holding the
    /// market's lock reads them here: a read through the pool would wait for a second
    /// connection while the bets queued on that lock hold the others, and a full pool
    /// would hang them all.
    async fn market_selections(&mut self, market_id: Uuid) -> Result<Vec<Selection>>;
    /// Every bet with a leg on the market, with all its legs, locked for settlement in id
    /// order (after the market's lock, before any account's: see "Lock order").
    async fn lock_bets_on_market(&mut self, market_id: Uuid) -> Result<Vec<Bet>>;
    /// Writes a bet's status, return, settlement time, void reason and legs' results.
    async fn update_bet(&mut self, bet: &Bet) -> Result<()>;
    /// The results a market was last settled with, by selection id.
    async fn market_results(
        &mut self,
        market_id: Uuid,
    ) -> Result<Option<std::collections::HashMap<Uuid, LegResult>>>;
    async fn save_market_results(
        &mut self,
        market_id: Uuid,
        results: &std::collections::HashMap<Uuid, LegResult>,
        at: DateTime<Utc>,
    ) -> Result<()>;
}
