//! Durable background jobs: what a job is, and when a failed one runs again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// A job as claimed from the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Uuid,
    /// What to run, e.g. `workflow.step_timeout`.
    pub kind: String,
    pub payload: Value,
    pub run_at: DateTime<Utc>,
    /// Attempts started so far, this one included once claimed.
    pub attempts: u32,
    pub max_attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    pub payload: Value,
    pub run_at: DateTime<Utc>,
    pub max_attempts: u32,
}

/// Delay before retry `attempt` (1-based): exponential from 1 s, capped at 1 h, with up to
/// ±25 % jitter from `jitter` in `[0, 1)` so failed jobs do not retry in lockstep.
pub fn retry_delay(attempt: u32, jitter: f64) -> Duration {
    let base = 2f64
        .powi(attempt.saturating_sub(1).min(12) as i32)
        .min(3600.0);
    let factor = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
    Duration::from_secs_f64((base * factor).max(0.5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grows_and_caps() {
        assert_eq!(retry_delay(1, 0.5), Duration::from_secs(1));
        assert_eq!(retry_delay(2, 0.5), Duration::from_secs(2));
        assert_eq!(retry_delay(5, 0.5), Duration::from_secs(16));
        assert_eq!(retry_delay(40, 0.5), Duration::from_secs(3600));
    }

    proptest! {
        #[test]
        fn within_jitter_bounds(attempt in 1u32..100, jitter in 0.0f64..1.0) {
            let d = retry_delay(attempt, jitter).as_secs_f64();
            let base = 2f64.powi((attempt - 1).min(12) as i32).min(3600.0);
            prop_assert!(d >= (base * 0.75).max(0.5) - 1e-9 && d <= base * 1.25 + 1e-9);
        }
    }
}
