//! The worker role: runs due jobs from the durable queue.

use std::sync::Arc;
use std::time::Duration;

use betflow_domain::jobs::retry_delay;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::{Engine, EngineError};

/// How long a claimed job is ours before another worker may take it over.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often the worker runs housekeeping (forgetting old idempotency keys, deleting history
/// past its retention).
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(600);
/// Jobs claimed per poll.
pub const BATCH: u32 = 16;

/// Job kinds this release runs.
pub mod kinds {
    /// A step's timeout fell due: payload `{workflowId, stepId, visit}`.
    pub const STEP_TIMEOUT: &str = "workflow.step_timeout";
    /// An action step to run, or a delay step that has ended: payload `{workflowId, stepId,
    /// visit}`.
    pub const RUN_STEP: &str = "workflow.run_step";
    /// One attempt of a webhook delivery: payload `{deliveryId}`.
    pub const DELIVER_WEBHOOK: &str = "webhook.deliver";
    /// A completed line-change approval's odds to set: payload `{workflowId, selectionId,
    /// oldOdds, newOdds, createdBy}`.
    pub const APPLY_ODDS_CHANGE: &str = "sportsbook.apply_odds_change";
}

/// How long history is kept: the seed's `daily_maintenance` deletes audit rows after a year
/// and system events after six months. `None` keeps them forever (a regulator may ask for
/// more than a year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub audit: Option<Duration>,
    pub system_events: Option<Duration>,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            audit: Some(Duration::from_secs(365 * 86_400)),
            system_events: Some(Duration::from_secs(182 * 86_400)),
        }
    }
}

/// Rows deleted per transaction while pruning history.
const PRUNE_CHUNK: u32 = 5_000;

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

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

    /// Claims and runs the jobs due at `now` as `worker`; returns how many were claimed.
    /// The batch runs concurrently (webhook deliveries wait on the network; workflow jobs
    /// lock their workflow's row). A failing job is retried with backoff until its attempts
    /// run out, then buried.
    pub async fn run_due_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, EngineError> {
        let jobs = self.store.claim_jobs(worker, now, LEASE, BATCH).await?;
        let results =
            futures::future::join_all(jobs.iter().map(|job| self.run_job(worker, job, now))).await;
        for r in results {
            r?;
        }
        Ok(jobs.len())
    }

    async fn run_job(
        &self,
        worker: &str,
        job: &betflow_domain::jobs::Job,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        if job.attempts > job.max_attempts {
            self.store
                .fail_job(job.id, worker, "attempts exhausted", None, now)
                .await?;
            return Ok(());
        }
        let result = match job.kind.as_str() {
            kinds::STEP_TIMEOUT => {
                self.workflows()
                    .handle_step_timeout(&job.payload, now)
                    .await
            }
            kinds::RUN_STEP => self.workflows().handle_run_step(&job.payload, now).await,
            kinds::DELIVER_WEBHOOK => self.handle_delivery_job(&job.payload, now).await,
            kinds::APPLY_ODDS_CHANGE => self.apply_odds_change(&job.payload, now).await,
            other => Err(EngineError::Internal(format!("unknown job kind {other}"))),
        };
        match result {
            Ok(()) => {
                self.store.complete_job(job.id, worker, now).await?;
            }
            Err(e) => {
                let retry = (job.attempts < job.max_attempts).then(|| {
                    now + chrono::Duration::from_std(retry_delay(job.attempts, jitter()))
                        .unwrap_or(chrono::Duration::seconds(60))
                });
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts,
                    retry_at = ?retry, error = %e, "job failed");
                self.store
                    .fail_job(job.id, worker, &e.to_string(), retry, now)
                    .await?;
            }
        }
        Ok(())
    }
}

/// Polls for due jobs every `poll` until `stop` turns true. A full batch is followed at
/// once by another poll.
pub fn spawn(
    engine: Arc<Engine>,
    worker_id: String,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tracing::info!(worker = %worker_id, "job worker started");
        let mut next_maintenance = std::time::Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            if std::time::Instant::now() >= next_maintenance {
                next_maintenance += MAINTENANCE_EVERY;
                match engine
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
            }
            let ran = match engine
                .run_due_jobs(&worker_id, betflow_domain::time::now())
                .await
            {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "job poll failed");
                    0
                }
            };
            if ran < BATCH as usize {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = engine.events().jobs.notified() => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!(worker = %worker_id, "job worker stopped");
    })
}
