//! The durable job queue.

use std::time::Duration;

use async_trait::async_trait;
use betflow_domain::jobs::{Job, NewJob};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

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
        lease: Duration,
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
