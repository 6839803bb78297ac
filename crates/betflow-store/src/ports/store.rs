//! The database as a whole: the [`Store`] (reads through the pool) and the
//! [`Transaction`] (writes) composed of every area's read and write ports.

use async_trait::async_trait;

use super::{
    AuditRead, AuditWrite, AutomationRead, AutomationWrite, BetRead, BetWrite, CatalogRead,
    CatalogWrite, CredentialRead, CredentialWrite, CustomerRead, CustomerWrite, DefinitionRead,
    DefinitionWrite, EventRead, EventWrite, IdentityRead, IdentityWrite, JobQueue, JobWrite,
    TaskRead, TaskWrite, TriggerRead, TriggerWrite, WalletRead, WalletWrite, WebhookRead,
    WebhookWrite, WorkflowRead, WorkflowWrite,
};
use crate::{Backend, Result};

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
    + DefinitionRead
    + JobQueue
    + EventRead
    + WebhookRead
    + CatalogRead
    + CustomerRead
    + WalletRead
    + BetRead
    + AutomationRead
    + CredentialRead
    + TriggerRead
    + TaskRead
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
    + DefinitionWrite
    + JobWrite
    + EventWrite
    + WebhookWrite
    + CatalogWrite
    + CustomerWrite
    + WalletWrite
    + BetWrite
    + AutomationWrite
    + CredentialWrite
    + TriggerWrite
    + TaskWrite
    + Send
{
    async fn commit(self: Box<Self>) -> Result<()>;
    async fn rollback(self: Box<Self>) -> Result<()>;
}
