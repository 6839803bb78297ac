//! The audit trail and system events, as operators read them.

use betflow_domain::Page;
use betflow_domain::audit::{AuditEntry, AuditQuery, SystemEvent, SystemEventQuery};

use crate::{Engine, EngineError};

impl Engine {
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
}
