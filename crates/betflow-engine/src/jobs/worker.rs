//! The worker role: claims due jobs from the durable queue and runs each through the
//! handler registered for its kind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use betflow_domain::jobs::{Job, JobArgs, JobDecodeError, retry_delay};
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tracing::Instrument;
use tracing::field::{Empty, display};

use super::maintenance::{self, MAINTENANCE_EVERY};
use super::metrics::{self, Outcome};
use super::registry::{JobContext, Registry};
use crate::{Engine, EngineError};

/// How long a claimed job is ours before another worker may take it over.
pub const LEASE: Duration = Duration::from_secs(60);
/// Jobs claimed per poll.
pub const BATCH: u32 = 16;

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

/// Why a run did not succeed.
enum Failure {
    /// May work next time: retried with backoff while attempts remain.
    Retry(EngineError),
    /// Cannot work on any run (the payload cannot be read): buried at once.
    Bury(String),
}

impl Engine {
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

    /// Runs one claimed job in its own span, records its outcome in the queue and in the
    /// metrics.
    async fn run_job(
        &self,
        worker: &str,
        job: &Job,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let kind = metrics::kind_label(&job.kind);
        metrics::claimed(kind, now - job.run_at);
        let span = tracing::info_span!("job", id = %job.id, kind = %job.kind,
            attempt = job.attempts, workflow_id = Empty, delivery_id = Empty);
        async move {
            let started = Instant::now();
            let result = if job.attempts > job.max_attempts {
                Err(Failure::Bury("attempts exhausted".to_owned()))
            } else {
                match job.args() {
                    Ok(args) => self.dispatch(job, &args, now).await.map_err(Failure::Retry),
                    Err(e @ JobDecodeError::Malformed { .. }) => Err(Failure::Bury(e.to_string())),
                    // A newer release may run it: leave it to the retries.
                    Err(e @ JobDecodeError::UnknownKind(_)) => {
                        Err(Failure::Retry(EngineError::Internal(e.to_string())))
                    }
                }
            };
            let outcome = self.record(worker, job, result, now).await?;
            metrics::finished(kind, outcome, started.elapsed());
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Hands `args` to the handler registered for its kind.
    async fn dispatch(
        &self,
        job: &Job,
        args: &JobArgs,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let span = tracing::Span::current();
        if let Some(id) = args.workflow_id() {
            span.record("workflow_id", display(id));
        }
        if let Some(id) = args.delivery_id() {
            span.record("delivery_id", display(id));
        }
        let handler = Registry::shared().handler(args.kind()).ok_or_else(|| {
            EngineError::Internal(format!("no handler is registered for {}", args.kind()))
        })?;
        let ctx = JobContext {
            engine: self,
            job_id: job.id,
            attempt: job.attempts,
            now,
        };
        handler.run(args, &ctx).await
    }

    /// Writes a run's result to the queue: done, due again after a backoff, or dead.
    async fn record(
        &self,
        worker: &str,
        job: &Job,
        result: Result<(), Failure>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, EngineError> {
        let (error, retry) = match result {
            Ok(()) => {
                self.store.complete_job(job.id, worker, now).await?;
                return Ok(Outcome::Succeeded);
            }
            Err(Failure::Bury(why)) => (why, None),
            Err(Failure::Retry(e)) => {
                let retry = (job.attempts < job.max_attempts).then(|| {
                    now + chrono::Duration::from_std(retry_delay(job.attempts, jitter()))
                        .unwrap_or(chrono::Duration::seconds(60))
                });
                (e.to_string(), retry)
            }
        };
        tracing::warn!(retry_at = ?retry, error = %error, "job failed");
        self.store
            .fail_job(job.id, worker, &error, retry, now)
            .await?;
        Ok(if retry.is_some() {
            Outcome::Retried
        } else {
            Outcome::Dead
        })
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
        let mut next_maintenance = Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            if Instant::now() >= next_maintenance {
                next_maintenance += MAINTENANCE_EVERY;
                maintenance::run(&engine).await;
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
                    _ = engine.realtime().hub().jobs.notified() => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!(worker = %worker_id, "job worker stopped");
    })
}
