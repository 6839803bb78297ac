//! Job metrics, through the `metrics` facade: whatever recorder the process installed (the
//! API's Prometheus one) exports them on `/metrics`.

use std::time::Duration;

/// Jobs claimed, by kind.
pub const CLAIMED: &str = "jobs_claimed_total";
/// Runs that succeeded, by kind.
pub const SUCCEEDED: &str = "jobs_succeeded_total";
/// Runs that failed and were scheduled again, by kind.
pub const RETRIED: &str = "jobs_retried_total";
/// Jobs buried: attempts exhausted, or a payload no run could read, by kind.
pub const DEAD: &str = "jobs_dead_total";
/// How long a run took, by kind and outcome.
pub const DURATION: &str = "job_run_duration_seconds";
/// How late a job was claimed: the claim's time minus the job's `run_at`, by kind.
pub const QUEUE_LAG: &str = "job_queue_lag_seconds";

/// The `kind` label: the stored kind, or `unknown` for one this release does not run (so
/// a stray row cannot add series).
pub(super) fn kind_label(kind: &str) -> &'static str {
    betflow_domain::jobs::JobKind::parse(kind).map_or("unknown", |k| k.as_str())
}

pub(super) fn claimed(kind: &'static str, lag: chrono::Duration) {
    metrics::counter!(CLAIMED, "kind" => kind).increment(1);
    let lag = lag.to_std().unwrap_or(Duration::ZERO);
    metrics::histogram!(QUEUE_LAG, "kind" => kind).record(lag.as_secs_f64());
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Succeeded,
    Retried,
    Dead,
}

pub(super) fn finished(kind: &'static str, outcome: Outcome, took: Duration) {
    let (counter, label) = match outcome {
        Outcome::Succeeded => (SUCCEEDED, "succeeded"),
        Outcome::Retried => (RETRIED, "retried"),
        Outcome::Dead => (DEAD, "dead"),
    };
    metrics::counter!(counter, "kind" => kind).increment(1);
    metrics::histogram!(DURATION, "kind" => kind, "outcome" => label).record(took.as_secs_f64());
}
