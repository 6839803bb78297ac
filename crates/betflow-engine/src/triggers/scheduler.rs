//! The scheduler role (`--roles scheduler`): each pass claims the schedules due at `now`,
//! decides what each fires (catch-up policy after downtime), stores its next fire time and
//! queues the run's start job, all in one transaction. On PostgreSQL several schedulers skip
//! each other's claimed rows (`FOR UPDATE SKIP LOCKED`); on SQLite the transaction is the
//! only writer. A claimed schedule is moved past `now` before its lock is released, so no
//! other scheduler can fire the same occurrence; and the run is keyed on (schedule id, fire
//! time in RFC 3339), so even a start job run twice starts one run.

use std::sync::Arc;
use std::time::Duration;

use betflow_domain::automation::triggers::schedule::{Schedule, decide, occurrence_id};
use betflow_domain::automation::triggers::{MAX_TOLERANCE_SECS, TriggerStart};
use betflow_domain::jobs::{JobArgs, NewJob};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::watch;

use super::Triggers;
use crate::EngineError;

/// Schedules claimed per transaction.
const CLAIM_BATCH: u32 = 100;
/// How often the scheduler forgets inbound message ids too old to be replayed.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// What one scheduler pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FireReport {
    /// Due schedules claimed.
    pub claimed: usize,
    /// Runs queued.
    pub fired: usize,
    /// Schedules that passed over missed occurrences (catch-up `skip`, or several missed
    /// fired once).
    pub skipped: usize,
}

impl Triggers {
    /// One scheduler pass at `now` (injected, so tests control the clock).
    pub async fn fire_due(&self, now: DateTime<Utc>) -> Result<FireReport, EngineError> {
        let mut report = FireReport::default();
        loop {
            let mut tx = self.store.begin().await?;
            let due = tx.claim_due_schedules(now, CLAIM_BATCH).await?;
            if due.is_empty() {
                tx.rollback().await?;
                break;
            }
            report.claimed += due.len();
            for s in &due {
                let Some(next_fire_at) = s.next_fire_at else {
                    continue;
                };
                let schedule = match Schedule::parse(&s.cron, &s.timezone) {
                    Ok(p) => p,
                    Err(e) => {
                        // Checked when saved; a zone a newer tz database dropped, say.
                        tracing::warn!(schedule = %s.id, error = %e,
                            "a stored schedule no longer parses; it stops firing");
                        tx.set_schedule_fired(s.id, None, None, now).await?;
                        continue;
                    }
                };
                let Some(d) = decide(&schedule, next_fire_at, now, s.catch_up) else {
                    continue;
                };
                if let Some(at) = d.fire {
                    let start = TriggerStart {
                        definition_key: s.definition_key.clone(),
                        trigger_type: "schedule".into(),
                        trigger_id: s.id,
                        event_id: occurrence_id(at),
                        input: json!({"scheduleId": s.id, "scheduledAt": occurrence_id(at),
                                      "cron": s.cron, "timezone": s.timezone}),
                    };
                    tx.enqueue_job(&NewJob::new(&JobArgs::TriggerStart(start), now))
                        .await?;
                    report.fired += 1;
                }
                if d.skipped {
                    tracing::info!(schedule = %s.id, policy = s.catch_up.as_str(),
                        fired = d.fire.is_some(), "occurrences missed while no scheduler ran");
                    report.skipped += 1;
                }
                tx.set_schedule_fired(s.id, d.next, d.fire, now).await?;
            }
            tx.commit().await?;
            if due.len() < CLAIM_BATCH as usize {
                break;
            }
        }
        if report.fired > 0 {
            self.hub.notify_jobs();
        }
        Ok(report)
    }

    /// Forgets inbound message ids older than any endpoint's tolerance could accept again.
    pub async fn prune_seen(&self, now: DateTime<Utc>) -> Result<u64, EngineError> {
        let before = now - chrono::Duration::seconds(2 * i64::from(MAX_TOLERANCE_SECS));
        let mut tx = self.store.begin().await?;
        let n = tx.prune_seen_messages(before).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// Runs scheduler passes every `poll` until `stop` turns true.
pub fn spawn_scheduler(
    triggers: Arc<Triggers>,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tracing::info!("scheduler started");
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            let now = betflow_domain::time::now();
            if let Err(e) = triggers.fire_due(now).await {
                tracing::warn!(error = %e, "scheduler pass failed");
            }
            if tokio::time::Instant::now() >= next_prune {
                next_prune += PRUNE_EVERY;
                if let Err(e) = triggers.prune_seen(now).await {
                    tracing::warn!(error = %e, "pruning inbound message ids failed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!("scheduler stopped");
    })
}
