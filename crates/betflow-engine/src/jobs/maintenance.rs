//! The worker's housekeeping: forgetting old idempotency keys and deleting history past its
//! retention.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{Engine, EngineError};

/// How often the worker runs housekeeping.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(600);

/// How long history is kept: the seed's `daily_maintenance` deletes audit rows after a year
/// and system events after six months. `None` keeps them forever (a regulator may ask for
/// more than a year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub audit: Option<Duration>,
    pub system_events: Option<Duration>,
    /// Ended automation executions and their step attempts (`BETFLOW_EXECUTION_RETENTION`).
    pub executions: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            audit: Some(Duration::from_secs(365 * 86_400)),
            system_events: Some(Duration::from_secs(182 * 86_400)),
            executions: Some(Duration::from_secs(30 * 86_400)),
        }
    }
}

/// Rows deleted per transaction while pruning history.
const PRUNE_CHUNK: u32 = 5_000;

impl Engine {
    /// Deletes audit rows and system events older than the retention allows at `at`, a
    /// chunk per transaction; returns how many of each went. VACUUM and ANALYZE, the rest of
    /// the seed's maintenance, are PostgreSQL's autovacuum's job (SQLite needs neither).
    pub async fn prune_history(&self, at: DateTime<Utc>) -> Result<(u64, u64), EngineError> {
        let cutoff = |keep: Option<Duration>| {
            keep.and_then(|k| chrono::Duration::from_std(k).ok())
                .map(|k| at - k)
        };
        let mut pruned = (0, 0);
        if let Some(before) = cutoff(self.retention.audit) {
            loop {
                let mut tx = self.store.begin().await?;
                let n = tx.prune_audit(before, PRUNE_CHUNK).await?;
                tx.commit().await?;
                pruned.0 += n;
                if n < u64::from(PRUNE_CHUNK) {
                    break;
                }
            }
        }
        if let Some(before) = cutoff(self.retention.system_events) {
            loop {
                let mut tx = self.store.begin().await?;
                let n = tx.prune_system_events(before, PRUNE_CHUNK).await?;
                tx.commit().await?;
                pruned.1 += n;
                if n < u64::from(PRUNE_CHUNK) {
                    break;
                }
            }
        }
        Ok(pruned)
    }
}

/// One round of housekeeping; failures are logged, and the next round tries again.
pub(super) async fn run(engine: &Engine) {
    match engine
        .wallet()
        .prune_idempotency_keys(betflow_domain::time::now())
        .await
    {
        Ok(n) if n > 0 => tracing::info!(pruned = n, "idempotency keys forgotten"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
    }
    match engine.prune_history(betflow_domain::time::now()).await {
        Ok((0, 0)) => {}
        Ok((audit, events)) => {
            tracing::info!(audit, system_events = events, "old history deleted")
        }
        Err(e) => tracing::warn!(error = %e, "pruning history failed"),
    }
    if let Some(keep) = engine
        .retention
        .executions
        .and_then(|k| chrono::Duration::from_std(k).ok())
    {
        match engine
            .prune_executions(betflow_domain::time::now() - keep)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(executions = n, "old executions deleted"),
            Err(e) => tracing::warn!(error = %e, "pruning executions failed"),
        }
    }
}
