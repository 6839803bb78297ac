//! Durable background jobs: what a job is, what each kind carries, and when a failed one
//! runs again.
//!
//! A job is stored as `kind TEXT, payload JSON`. [`JobArgs`] is the typed view of that
//! pair: one variant per kind, serde-tagged with the stored `kind` string, so the payload
//! JSON of each variant is exactly what earlier releases stored and existing rows still run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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

impl Job {
    /// The typed arguments of this stored job (see [`JobArgs::from_stored`]).
    pub fn args(&self) -> Result<JobArgs, JobDecodeError> {
        JobArgs::from_stored(&self.kind, &self.payload)
    }
}

/// A job to enqueue, in its stored shape. Build it from typed arguments with
/// [`NewJob::new`]; the raw fields stay public for the store and its tests.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    pub payload: Value,
    pub run_at: DateTime<Utc>,
    pub max_attempts: u32,
}

/// Attempts a job gets unless its enqueuer says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

impl NewJob {
    /// `args` to run at `run_at`, with [`DEFAULT_MAX_ATTEMPTS`].
    pub fn new(args: &JobArgs, run_at: DateTime<Utc>) -> Self {
        let (kind, payload) = args.to_stored();
        Self {
            kind: kind.as_str().to_owned(),
            payload,
            run_at,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }
}

/// Every kind of job this release runs, with its typed payload.
///
/// Adjacently tagged: `{"kind": "...", "payload": {...}}` is exactly a stored row's two
/// columns. Adding a kind is a variant here (with its stored name in `rename` and in
/// [`JobKind`]) and one handler registered in the engine's job registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum JobArgs {
    /// A step's timeout fell due.
    #[serde(rename = "workflow.step_timeout")]
    StepTimeout(StepJob),
    /// An action step to run, or a delay step that has ended.
    #[serde(rename = "workflow.run_step")]
    RunStep(StepJob),
    /// One attempt of a webhook delivery.
    #[serde(rename = "webhook.deliver")]
    DeliverWebhook(DeliverWebhook),
    /// A completed line-change approval's odds to set.
    #[serde(rename = "sportsbook.apply_odds_change")]
    ApplyOddsChange(ApplyOddsChange),
    /// Start one automation run for a trigger occurrence (an event, a schedule's fire).
    #[serde(rename = "automation.trigger_start")]
    TriggerStart(crate::automation::triggers::TriggerStart),
}

/// The name of a job kind, as stored in `jobs.kind`: what the engine's registry is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    StepTimeout,
    RunStep,
    DeliverWebhook,
    ApplyOddsChange,
    TriggerStart,
}

impl JobKind {
    /// Every kind, so the engine can check each has a handler.
    pub const ALL: [JobKind; 5] = [
        JobKind::StepTimeout,
        JobKind::RunStep,
        JobKind::DeliverWebhook,
        JobKind::ApplyOddsChange,
        JobKind::TriggerStart,
    ];

    /// The stored name (the serde tag of the matching [`JobArgs`] variant).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::StepTimeout => "workflow.step_timeout",
            JobKind::RunStep => "workflow.run_step",
            JobKind::DeliverWebhook => "webhook.deliver",
            JobKind::ApplyOddsChange => "sportsbook.apply_odds_change",
            JobKind::TriggerStart => "automation.trigger_start",
        }
    }

    /// The kind stored as `s`, if this release knows it.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{workflowId, stepId, visit}`: the step a workflow job is for. `visit` tells a job for
/// an earlier visit of the same step (a loop) from the current one, so a stale job does
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepJob {
    pub workflow_id: Uuid,
    pub step_id: String,
    pub visit: u32,
    /// Which attempt of an action step this job runs (1 for the first; 0, as rows stored
    /// before retries have it, also means the first).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `{deliveryId}`: the webhook delivery to attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliverWebhook {
    pub delivery_id: Uuid,
}

/// `{workflowId, selectionId, oldOdds, newOdds, createdBy}`. The odds stay JSON until the
/// job runs: they are checked there, so a payload that somehow carries bad odds is refused
/// and audited, never written, and never retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyOddsChange {
    pub workflow_id: Uuid,
    pub selection_id: Uuid,
    pub old_odds: Value,
    pub new_odds: Value,
    pub created_by: Option<Uuid>,
}

/// Why a stored job cannot be read as [`JobArgs`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobDecodeError {
    /// A kind this release does not run (perhaps a newer release enqueued it).
    #[error("unknown job kind {0:?}")]
    UnknownKind(String),
    /// A known kind whose payload does not have that kind's shape: running it again cannot
    /// help, so the job is buried at once.
    #[error("malformed {kind} payload: {reason}")]
    Malformed { kind: JobKind, reason: String },
}

impl JobArgs {
    /// This job's kind.
    pub fn kind(&self) -> JobKind {
        match self {
            JobArgs::StepTimeout(_) => JobKind::StepTimeout,
            JobArgs::RunStep(_) => JobKind::RunStep,
            JobArgs::DeliverWebhook(_) => JobKind::DeliverWebhook,
            JobArgs::ApplyOddsChange(_) => JobKind::ApplyOddsChange,
            JobArgs::TriggerStart(_) => JobKind::TriggerStart,
        }
    }

    /// The stored pair: the kind and its payload JSON.
    pub fn to_stored(&self) -> (JobKind, Value) {
        // Serializing a derived enum of plain structs cannot fail; `Null` would only be
        // reached if a variant held a map with non-string keys, which none does.
        let payload = match serde_json::to_value(self) {
            Ok(Value::Object(mut m)) => m.remove("payload").unwrap_or(Value::Null),
            _ => Value::Null,
        };
        (self.kind(), payload)
    }

    /// Reads a stored `kind` and `payload` back. Never panics: an unknown kind or a payload
    /// of the wrong shape is a [`JobDecodeError`].
    pub fn from_stored(kind: &str, payload: &Value) -> Result<Self, JobDecodeError> {
        let known =
            JobKind::parse(kind).ok_or_else(|| JobDecodeError::UnknownKind(kind.to_owned()))?;
        let tagged = serde_json::json!({"kind": kind, "payload": payload});
        serde_json::from_value(tagged).map_err(|e| JobDecodeError::Malformed {
            kind: known,
            reason: e.to_string(),
        })
    }

    /// The workflow this job is for, if any: for logs and spans.
    pub fn workflow_id(&self) -> Option<Uuid> {
        match self {
            JobArgs::StepTimeout(s) | JobArgs::RunStep(s) => Some(s.workflow_id),
            JobArgs::ApplyOddsChange(a) => Some(a.workflow_id),
            JobArgs::DeliverWebhook(_) | JobArgs::TriggerStart(_) => None,
        }
    }

    /// The webhook delivery this job is for, if any: for logs and spans.
    pub fn delivery_id(&self) -> Option<Uuid> {
        match self {
            JobArgs::DeliverWebhook(d) => Some(d.delivery_id),
            _ => None,
        }
    }
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
    use serde_json::json;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn samples() -> Vec<JobArgs> {
        let step = StepJob {
            workflow_id: id(1),
            step_id: "review".into(),
            visit: 2,
            attempt: 0,
        };
        vec![
            JobArgs::StepTimeout(step.clone()),
            JobArgs::RunStep(step),
            JobArgs::DeliverWebhook(DeliverWebhook { delivery_id: id(3) }),
            JobArgs::ApplyOddsChange(ApplyOddsChange {
                workflow_id: id(1),
                selection_id: id(4),
                old_odds: json!("2.10"),
                new_odds: json!("1.95"),
                created_by: None,
            }),
            JobArgs::TriggerStart(crate::automation::triggers::TriggerStart {
                definition_key: "exposure_alert".into(),
                trigger_type: "event".into(),
                trigger_id: id(5),
                event_id: id(6).to_string(),
                input: json!({"type": "bet.placed"}),
            }),
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        let all = samples();
        for args in &all {
            let (kind, payload) = args.to_stored();
            assert_eq!(kind, args.kind());
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                JobArgs::from_stored(kind.as_str(), &payload).as_ref(),
                Ok(args)
            );
        }
        let mut kinds: Vec<_> = all.iter().map(JobArgs::kind).collect();
        kinds.dedup();
        assert_eq!(kinds, JobKind::ALL, "one sample per kind, in order");
    }

    /// The stored JSON is exactly what earlier releases wrote (built with `json!`), so
    /// existing rows still run and new rows read the same to an operator.
    #[test]
    fn stored_shape_is_unchanged() {
        let w = id(1);
        let step = json!({"workflowId": w, "stepId": "review", "visit": 2});
        let cases = [
            ("workflow.step_timeout", step.clone()),
            ("workflow.run_step", step),
            ("webhook.deliver", json!({"deliveryId": id(3)})),
            (
                "sportsbook.apply_odds_change",
                json!({"workflowId": w, "selectionId": id(4), "oldOdds": "2.10",
                    "newOdds": "1.95", "createdBy": null}),
            ),
        ];
        for ((kind, payload), args) in cases.iter().zip(samples()) {
            let (k, p) = args.to_stored();
            assert_eq!(k.as_str(), *kind);
            assert_eq!(p.to_string(), payload.to_string(), "{kind}");
            let job = NewJob::new(&args, chrono::DateTime::UNIX_EPOCH);
            assert_eq!((job.kind.as_str(), &job.payload), (*kind, payload));
            assert_eq!(job.max_attempts, DEFAULT_MAX_ATTEMPTS);
        }
    }

    #[test]
    fn odds_stay_as_stored_json() {
        let payload = json!({"workflowId": id(1), "selectionId": id(4), "oldOdds": 2.1,
            "newOdds": "not odds"});
        let Ok(JobArgs::ApplyOddsChange(a)) =
            JobArgs::from_stored("sportsbook.apply_odds_change", &payload)
        else {
            panic!("a missing createdBy is none, and odds of any JSON shape are kept");
        };
        assert_eq!(
            (a.old_odds, a.new_odds, a.created_by),
            (json!(2.1), json!("not odds"), None)
        );
    }

    #[test]
    fn unknown_kind_is_named() {
        assert_eq!(
            JobArgs::from_stored("workflow.teleport", &json!({})),
            Err(JobDecodeError::UnknownKind("workflow.teleport".into()))
        );
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        let bad = [
            ("workflow.run_step", json!(null)),
            (
                "workflow.run_step",
                json!({"workflowId": "nope", "stepId": "a", "visit": 1}),
            ),
            (
                "workflow.step_timeout",
                json!({"workflowId": id(1), "stepId": "a"}),
            ),
            (
                "workflow.step_timeout",
                json!({"workflowId": id(1), "stepId": "a", "visit": -1}),
            ),
            ("webhook.deliver", json!({"deliveryId": 7})),
            ("webhook.deliver", json!([])),
            (
                "sportsbook.apply_odds_change",
                json!({"workflowId": id(1), "selectionId": "x"}),
            ),
        ];
        for (kind, payload) in bad {
            let err = JobArgs::from_stored(kind, &payload).expect_err(kind);
            let JobDecodeError::Malformed { kind: k, reason } = &err else {
                panic!("{kind}: {err}");
            };
            assert_eq!(k.as_str(), kind);
            assert!(!reason.is_empty());
            assert!(
                err.to_string()
                    .starts_with(&format!("malformed {kind} payload: "))
            );
        }
    }

    #[test]
    fn accessors_name_the_target() {
        let all = samples();
        assert_eq!(all[0].workflow_id(), Some(id(1)));
        assert_eq!(all[2].delivery_id(), Some(id(3)));
        assert_eq!(all[2].workflow_id(), None);
        assert_eq!(all[3].delivery_id(), None);
    }

    #[test]
    fn grows_and_caps() {
        assert_eq!(retry_delay(1, 0.5), Duration::from_secs(1));
        assert_eq!(retry_delay(2, 0.5), Duration::from_secs(2));
        assert_eq!(retry_delay(5, 0.5), Duration::from_secs(16));
        assert_eq!(retry_delay(40, 0.5), Duration::from_secs(3600));
    }

    proptest! {
        #[test]
        fn step_jobs_round_trip(w in any::<u128>(), step in "[a-z_]{1,12}", visit in any::<u32>()) {
            let args = JobArgs::RunStep(StepJob { workflow_id: id(w), step_id: step, visit, attempt: 0 });
            let (kind, payload) = args.to_stored();
            prop_assert_eq!(JobArgs::from_stored(kind.as_str(), &payload), Ok(args));
        }

        #[test]
        fn any_payload_decodes_without_panic(kind in 0usize..5, payload in json_value()) {
            let kind = JobKind::ALL.get(kind).map_or("other", |k| k.as_str());
            let _ = JobArgs::from_stored(kind, &payload);
        }

        #[test]
        fn within_jitter_bounds(attempt in 1u32..100, jitter in 0.0f64..1.0) {
            let d = retry_delay(attempt, jitter).as_secs_f64();
            let base = 2f64.powi((attempt - 1).min(12) as i32).min(3600.0);
            prop_assert!(d >= (base * 0.75).max(0.5) - 1e-9 && d <= base * 1.25 + 1e-9);
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z0-9-]{0,36}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("workflowId".to_owned()),
                        Just("stepId".to_owned()),
                        Just("visit".to_owned()),
                        Just("deliveryId".to_owned()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
