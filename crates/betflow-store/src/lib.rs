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
mod ports;
pub mod postgres;
pub mod redis;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

pub use config::{Backend, StoreConfig, redact_url};
pub use error::StoreError;
pub use ports::*;

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
