//! The audit trail and system events.

use async_trait::async_trait;
use betflow_domain::Page;
use betflow_domain::audit::{AuditEntry, AuditQuery, SystemEvent, SystemEventQuery};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

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
