//! The job queue, compiled once per backend.

use std::time::Duration;

use async_trait::async_trait;
use betflow_domain::jobs::{Job, NewJob};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::micros;
use super::{BACKEND, BackendStore, BackendTx, Db};
use crate::{Backend, JobQueue, JobWrite, Result};

#[derive(FromRow)]
struct JobRow {
    id: Uuid,
    kind: String,
    payload: Json<Value>,
    run_at: DateTime<Utc>,
    attempts: i32,
    max_attempts: i32,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

const RETURNING: &str = " RETURNING jobs.id, jobs.kind, jobs.payload, jobs.run_at, \
    jobs.attempts, jobs.max_attempts, jobs.last_error, jobs.created_at";

fn push_due(qb: &mut QueryBuilder<Db>, now: DateTime<Utc>) {
    qb.push("(status = 'queued' AND run_at <= ")
        .push_bind(micros(now))
        .push(") OR (status = 'running' AND locked_until < ")
        .push_bind(micros(now))
        .push(")");
}

#[async_trait]
impl JobQueue for BackendStore {
    async fn claim_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        let mut tx = self.begin_tx().await?;
        let mut qb = QueryBuilder::<Db>::new("UPDATE jobs SET status = 'running', locked_by = ");
        qb.push_bind(worker.to_owned())
            .push(", locked_until = ")
            .push_bind(micros(until))
            .push(", attempts = attempts + 1");
        if BACKEND == Backend::Postgres {
            // Skip rows another worker is claiming right now instead of waiting for them.
            qb.push(" FROM (SELECT id FROM jobs WHERE ");
            push_due(&mut qb, now);
            qb.push(" ORDER BY run_at LIMIT ")
                .push_bind(i64::from(limit))
                .push(" FOR UPDATE SKIP LOCKED) due WHERE jobs.id = due.id");
        } else {
            qb.push(" WHERE id IN (SELECT id FROM jobs WHERE ");
            push_due(&mut qb, now);
            qb.push(" ORDER BY run_at LIMIT ")
                .push_bind(i64::from(limit))
                .push(")");
        }
        qb.push(RETURNING);
        let rows: Vec<JobRow> = qb.build_query_as().fetch_all(&mut *tx.tx).await?;
        tx.commit_tx().await?;
        Ok(rows
            .into_iter()
            .map(|r| Job {
                id: r.id,
                kind: r.kind,
                payload: r.payload.0,
                run_at: r.run_at,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
                max_attempts: u32::try_from(r.max_attempts).unwrap_or(1),
                last_error: r.last_error,
                created_at: r.created_at,
            })
            .collect())
    }

    async fn complete_job(&self, id: Uuid, worker: &str, now: DateTime<Utc>) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new(
            "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, finished_at = ",
        );
        qb.push_bind(micros(now))
            .push(" WHERE status = 'running' AND id = ")
            .push_bind(id)
            .push(" AND locked_by = ")
            .push_bind(worker.to_owned());
        let mut conn = self.write_conn().await?;
        Ok(qb.build().execute(&mut *conn).await?.rows_affected() == 1)
    }

    async fn fail_job(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new(
            "UPDATE jobs SET locked_by = NULL, locked_until = NULL, last_error = ",
        );
        let error: String = error.chars().take(2000).collect();
        qb.push_bind(error);
        match retry_at {
            Some(at) => {
                qb.push(", status = 'queued', run_at = ")
                    .push_bind(micros(at));
            }
            None => {
                qb.push(", status = 'dead', finished_at = ")
                    .push_bind(micros(now));
            }
        }
        qb.push(" WHERE status = 'running' AND id = ")
            .push_bind(id)
            .push(" AND locked_by = ")
            .push_bind(worker.to_owned());
        let mut conn = self.write_conn().await?;
        Ok(qb.build().execute(&mut *conn).await?.rows_affected() == 1)
    }

    async fn job_status(&self, id: Uuid) -> Result<Option<(String, u32)>> {
        let mut qb = QueryBuilder::<Db>::new("SELECT status, attempts FROM jobs WHERE id = ");
        qb.push_bind(id);
        let row: Option<(String, i32)> = qb.build_query_as().fetch_optional(&self.pool).await?;
        Ok(row.map(|(s, a)| (s, u32::try_from(a).unwrap_or(0))))
    }
}

#[async_trait]
impl JobWrite for BackendTx {
    async fn enqueue_job(&mut self, job: &NewJob) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let mut qb = QueryBuilder::<Db>::new("");
        push_job_insert(&mut qb, id, job);
        qb.build().execute(&mut *self.tx).await?;
        Ok(id)
    }
}

/// `INSERT INTO jobs ... VALUES (...)` for a queued job, appended to `qb`.
pub(super) fn push_job_insert(qb: &mut QueryBuilder<Db>, id: Uuid, job: &NewJob) {
    push_jobs_rows(qb, [(id, job)]);
}

/// `INSERT INTO jobs ... VALUES (...), ...` for queued jobs with new ids, appended to `qb`.
pub(super) fn push_jobs_insert<'j>(
    qb: &mut QueryBuilder<Db>,
    jobs: impl IntoIterator<Item = &'j NewJob>,
) {
    push_jobs_rows(qb, jobs.into_iter().map(|j| (Uuid::now_v7(), j)));
}

fn push_jobs_rows<'j>(
    qb: &mut QueryBuilder<Db>,
    jobs: impl IntoIterator<Item = (Uuid, &'j NewJob)>,
) {
    let created = micros(betflow_domain::time::now());
    qb.push(
        "INSERT INTO jobs (id, kind, payload, status, run_at, attempts, max_attempts, created_at) ",
    );
    qb.push_values(jobs, |mut v, (id, job)| {
        v.push_bind(id)
            .push_bind(job.kind.clone())
            .push_bind(Json(job.payload.clone()))
            .push_bind("queued")
            .push_bind(micros(job.run_at))
            .push_bind(0i32)
            .push_bind(i32::try_from(job.max_attempts.max(1)).unwrap_or(i32::MAX))
            .push_bind(created);
    });
}
