//! The relay's side of event triggers: every outbox event is matched against the active
//! subscriptions (compiled once, cached), and each match becomes an
//! `automation.trigger_start` job in the transaction that moves the relay's cursor. A relay
//! that dies before committing leaves the cursor where it was, so the events are matched
//! again; a job run twice starts one run, keyed on (subscription id, event id).

use std::sync::Arc;

use betflow_domain::automation::triggers::{
    EventFacts, EventFilter, Subscription, TriggerStart, pattern_matches,
};
use betflow_domain::events::Event;
use betflow_domain::jobs::{JobArgs, NewJob};
use betflow_store::Transaction;
use serde_json::json;

use super::Triggers;
use crate::EngineError;

/// An active subscription with its filter compiled.
#[derive(Debug)]
pub struct CompiledSubscription {
    pub subscription: Subscription,
    /// `None`: no filter, every matching event passes.
    filter: Option<EventFilter>,
}

impl CompiledSubscription {
    /// A subscription whose stored filter no longer compiles matches nothing (it was checked
    /// when saved; this only guards against a change in the expression language).
    fn compile(subscription: Subscription) -> Option<Self> {
        let filter = match subscription.filter.as_deref() {
            None => None,
            Some(src) => match EventFilter::compile(src) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(subscription = %subscription.id, error = %e,
                        "a stored subscription filter does not compile; it matches nothing");
                    return None;
                }
            },
        };
        Some(Self {
            subscription,
            filter,
        })
    }

    /// Whether `event` starts a run of this subscription.
    pub fn wants(&self, event: &Event) -> bool {
        let s = &self.subscription;
        if !pattern_matches(&s.event_pattern, &event.event_type) {
            return false;
        }
        // A definition's own execution events never start it again (no loops).
        if event.event_type.starts_with("execution.")
            && event.data.get("definitionKey").and_then(|k| k.as_str())
                == Some(s.definition_key.as_str())
        {
            return false;
        }
        let Some(filter) = &self.filter else {
            return true;
        };
        let id = event.id.to_string();
        let facts = EventFacts {
            event_type: &event.event_type,
            id: &id,
            data: &event.data,
        };
        match filter.matches(&facts) {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(subscription = %s.id, event = %event.id, error = %e,
                    "the subscription filter failed on this event: no run");
                false
            }
        }
    }
}

/// The run input of an event trigger: the event itself, as filters see it.
pub(super) fn event_input(event: &Event) -> serde_json::Value {
    json!({"type": event.event_type, "id": event.id, "data": event.data,
           "timestamp": event.timestamp})
}

impl Triggers {
    /// The active subscriptions, compiled (cached for a moment).
    pub async fn active_subscriptions(
        &self,
    ) -> Result<Arc<Vec<CompiledSubscription>>, EngineError> {
        let store = self.store.clone();
        self.subscriptions
            .try_get_with((), async move {
                let subs = store.active_subscriptions().await?;
                Ok::<_, EngineError>(Arc::new(
                    subs.into_iter()
                        .filter_map(CompiledSubscription::compile)
                        .collect(),
                ))
            })
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))
    }

    pub(super) async fn subscriptions_changed(&self) {
        self.subscriptions.invalidate(&()).await;
    }

    /// Queues one start job per (event, matching subscription) in the relay's transaction.
    /// `subs` is read before the transaction begins (its holder must not wait for a second
    /// connection). Returns how many were queued; the caller wakes the worker after committing.
    pub async fn queue_starts(
        &self,
        tx: &mut Box<dyn Transaction>,
        subs: &[CompiledSubscription],
        events: &[Event],
    ) -> Result<usize, EngineError> {
        if subs.is_empty() {
            return Ok(0);
        }
        let now = betflow_domain::time::now();
        let mut queued = 0;
        for event in events {
            for sub in subs.iter().filter(|s| s.wants(event)) {
                let job = NewJob::new(
                    &JobArgs::TriggerStart(TriggerStart {
                        definition_key: sub.subscription.definition_key.clone(),
                        trigger_type: "event".into(),
                        trigger_id: sub.subscription.id,
                        event_id: event.id.to_string(),
                        input: event_input(event),
                    }),
                    now,
                );
                tx.enqueue_job(&job).await?;
                queued += 1;
            }
        }
        Ok(queued)
    }
}
