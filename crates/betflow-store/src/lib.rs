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

mod config;
mod error;
pub mod postgres;
pub mod redis;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use betflow_domain::Page;
use betflow_domain::audit::{AuditEntry, AuditQuery, SystemEvent, SystemEventQuery};
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
pub trait Store: AuditRead + Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Applies pending migrations. Safe to run from several processes at once: both backends
    /// serialise migrators with a lock.
    async fn migrate(&self) -> Result<()>;

    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;

    fn pool_stats(&self) -> PoolStats;

    /// Starts a write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout instead of failing
    /// with `SQLITE_BUSY` when they try to upgrade a read lock.
    async fn begin(&self) -> Result<Box<dyn Transaction>>;

    /// Closes the pool, waiting for checked-out connections to return.
    async fn close(&self);
}

/// An open write transaction. Dropping it without [`Transaction::commit`] rolls it back.
#[async_trait]
pub trait Transaction: AuditWrite + Send {
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
}
