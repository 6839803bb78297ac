//! Queueing deliveries, running their attempts, and retrying or recovering them.

use std::sync::Arc;
use std::time::Duration;

use betflow_domain::events::{Event, types};
use betflow_domain::jobs::DeliverWebhook;
use betflow_domain::time::now;
use betflow_domain::webhooks::{Attempt, Delivery, DeliveryStatus, Webhook, next_retry, snippet};
use betflow_domain::{Page, PageRequest};
use betflow_store::Transaction;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{
    DeliveryView, MAX_RECOVER, Webhooks, deliver_job, disabled_event, jitter, open_secrets,
    seal_secrets,
};
use crate::EngineError;
use crate::ratelimit::Rule;

impl Webhooks {
    /// Sends a `ping` event to the endpoint now and returns the delivery with its attempt.
    /// A failed ping is retried like any delivery.
    #[tracing::instrument(name = "webhooks.test", skip_all, fields(webhook_id = %id))]
    pub async fn test(&self, id: Uuid) -> Result<DeliveryView, EngineError> {
        let w = self.get(id).await?;
        let t = now();
        let event_id = Uuid::now_v7();
        let d = Delivery {
            id: Uuid::now_v7(),
            webhook_id: w.id,
            event_id,
            event_type: types::PING.to_owned(),
            payload: json!({"id": event_id, "seq": 0, "type": types::PING, "timestamp": t,
                "data": {"webhookId": w.id, "message": "betflow webhook test"}}),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(t),
            last_status: None,
            last_error: None,
            created_at: t,
            updated_at: t,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_deliveries(std::slice::from_ref(&d)).await?;
        tx.commit().await?;
        self.attempt_delivery(d.id, t, true).await?;
        self.delivery(d.id).await
    }

    pub async fn delivery(&self, id: Uuid) -> Result<DeliveryView, EngineError> {
        let delivery = self
            .store
            .get_delivery(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("delivery {id}")))?;
        let attempts = self.store.list_attempts(&[id]).await?;
        Ok(DeliveryView { delivery, attempts })
    }

    pub async fn deliveries(
        &self,
        webhook_id: Uuid,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<DeliveryView>, EngineError> {
        self.get(webhook_id).await?;
        let page = self.store.list_deliveries(webhook_id, status, page).await?;
        let ids: Vec<Uuid> = page.items.iter().map(|d| d.id).collect();
        let mut attempts = self.store.list_attempts(&ids).await?;
        Ok(page.map(|delivery| {
            let mine: Vec<Attempt> = attempts
                .extract_if(.., |a| a.delivery_id == delivery.id)
                .collect();
            DeliveryView {
                delivery,
                attempts: mine,
            }
        }))
    }

    /// Queues a delivery again at once, whatever its state (a receiver may have lost a
    /// delivery it acknowledged).
    #[tracing::instrument(name = "webhooks.retry_delivery", skip_all, fields(delivery_id = %id))]
    pub async fn retry_delivery(&self, id: Uuid) -> Result<DeliveryView, EngineError> {
        let mut d = self
            .store
            .get_delivery(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("delivery {id}")))?;
        self.requeue(std::slice::from_mut(&mut d)).await?;
        self.delivery(id).await
    }

    /// Queues again the failed deliveries of an endpoint created in `[since, until)`.
    #[tracing::instrument(name = "webhooks.recover", skip_all, fields(webhook_id = %id))]
    pub async fn recover(
        &self,
        id: Uuid,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<usize, EngineError> {
        self.get(id).await?;
        let until = until.unwrap_or_else(now);
        // An empty window (`since` at or after `until`, say in the future) holds no failed
        // delivery: nothing to re-queue, and nothing wrong with asking.
        if since >= until {
            return Ok(0);
        }
        let mut failed = self
            .store
            .failed_deliveries(id, since, until, MAX_RECOVER)
            .await?;
        self.requeue(&mut failed).await?;
        Ok(failed.len())
    }

    async fn requeue(&self, deliveries: &mut [Delivery]) -> Result<(), EngineError> {
        let t = now();
        let mut tx = self.store.begin().await?;
        for d in deliveries.iter_mut() {
            d.status = DeliveryStatus::Pending;
            d.next_attempt_at = Some(t);
            d.updated_at = t;
            tx.update_delivery(d).await?;
            tx.enqueue_job(&deliver_job(d.id, t)).await?;
        }
        tx.commit().await?;
        self.hub.notify_jobs();
        Ok(())
    }

    /// Enabled endpoints, cached for a moment: the relay asks on every round.
    pub(crate) async fn active(&self) -> Result<Arc<Vec<Webhook>>, EngineError> {
        self.cache
            .try_get_with((), async {
                let hooks: Vec<Webhook> = self
                    .store
                    .list_webhooks()
                    .await?
                    .into_iter()
                    .filter(|w| w.enabled)
                    .map(|w| open_secrets(&self.keyring, w))
                    .collect::<Result<_, _>>()?;
                Ok::<_, EngineError>(Arc::new(hooks))
            })
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))
    }

    /// The deliveries (and their jobs) for relayed events, inside the relay's transaction.
    pub(crate) async fn queue_deliveries(
        &self,
        tx: &mut Box<dyn Transaction>,
        hooks: &[Webhook],
        events: &[Event],
    ) -> Result<usize, EngineError> {
        let t = now();
        let mut batch = Vec::new();
        for e in events {
            for w in hooks.iter().filter(|w| w.wants(&e.event_type)) {
                batch.push(Delivery {
                    id: Uuid::now_v7(),
                    webhook_id: w.id,
                    event_id: e.id,
                    event_type: e.event_type.clone(),
                    payload: e.client_view(),
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    next_attempt_at: Some(t),
                    last_status: None,
                    last_error: None,
                    created_at: t,
                    updated_at: t,
                });
            }
        }
        let inserted = tx.insert_deliveries(&batch).await?;
        for id in &inserted {
            tx.enqueue_job(&deliver_job(*id, t)).await?;
        }
        Ok(inserted.len())
    }

    /// The `webhook.deliver` job: one attempt of one delivery.
    pub async fn handle_delivery_job(
        &self,
        job: &DeliverWebhook,
        at: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        self.attempt_delivery(job.delivery_id, at, false).await
    }

    #[tracing::instrument(name = "webhooks.deliver", skip_all, fields(delivery_id = %id, forced))]
    async fn attempt_delivery(
        &self,
        id: Uuid,
        at: DateTime<Utc>,
        forced: bool,
    ) -> Result<(), EngineError> {
        let Some(mut d) = self.store.get_delivery(id).await? else {
            return Ok(());
        };
        if d.status != DeliveryStatus::Pending {
            return Ok(());
        }
        let Some(w) = self.store.get_webhook(d.webhook_id).await? else {
            return Ok(());
        };
        let mut w = open_secrets(&self.keyring, w)?;
        let t = now();
        if !w.enabled && !forced {
            d.status = DeliveryStatus::Failed;
            d.last_error = Some("the endpoint is disabled".into());
            d.next_attempt_at = None;
            d.updated_at = t;
            let mut tx = self.store.begin().await?;
            tx.update_delivery(&d).await?;
            tx.commit().await?;
            return Ok(());
        }
        if let Some(limit) = w.rate_limit {
            let rule = Rule {
                limit: u64::from(limit),
                window: Duration::from_secs(60),
            };
            let decision = self.limiter.check(&format!("webhook:{}", w.id), rule).await;
            if !decision.allowed {
                // Not an attempt: try again when the window has room.
                let later = at
                    + chrono::Duration::from_std(decision.reset).unwrap_or_default()
                    + chrono::Duration::milliseconds(50);
                d.next_attempt_at = Some(later);
                d.updated_at = t;
                let mut tx = self.store.begin().await?;
                tx.update_delivery(&d).await?;
                tx.enqueue_job(&deliver_job(d.id, later)).await?;
                tx.commit().await?;
                return Ok(());
            }
        }

        let outcome = self.send(&w, &d).await;
        let t = now();
        let attempt_no = d.attempts + 1;
        let attempt = Attempt {
            id: Uuid::now_v7(),
            delivery_id: d.id,
            attempt: attempt_no,
            status_code: outcome.status,
            latency_ms: outcome.latency_ms,
            response_snippet: outcome.body.as_deref().map(snippet),
            error: outcome.error.clone(),
            created_at: t,
        };
        d.attempts = attempt_no;
        d.last_status = outcome.status;
        d.last_error = outcome.error.clone();
        d.updated_at = t;
        let before_failing = w.failing_since;
        let mut disable: Option<String> = None;
        let mut next_job = None;
        match outcome.status {
            Some(s) if (200..300).contains(&s) => {
                d.status = DeliveryStatus::Succeeded;
                d.next_attempt_at = None;
                w.failing_since = None;
            }
            Some(410) => {
                d.status = DeliveryStatus::Failed;
                d.next_attempt_at = None;
                disable = Some("the endpoint answered 410 Gone".into());
            }
            status => {
                if d.last_error.is_none() {
                    d.last_error = status.map(|s| format!("HTTP {s}"));
                }
                let since = *w.failing_since.get_or_insert(t);
                let failing_for = (t - since).to_std().unwrap_or_default();
                if failing_for >= self.settings.disable_after {
                    disable = Some(format!(
                        "every delivery failed for {} hours",
                        failing_for.as_secs() / 3600
                    ));
                }
                let honoured = match status {
                    Some(429 | 503) => outcome.retry_after,
                    _ => None,
                };
                match next_retry(
                    attempt_no,
                    w.retry_attempts,
                    &self.settings.schedule,
                    jitter(),
                    honoured,
                ) {
                    Some(delay) if disable.is_none() => {
                        let when = t + chrono::Duration::from_std(delay).unwrap_or_default();
                        d.next_attempt_at = Some(when);
                        next_job = Some(deliver_job(d.id, when));
                    }
                    _ => {
                        d.status = DeliveryStatus::Failed;
                        d.next_attempt_at = None;
                    }
                }
            }
        }
        let mut tx = self.store.begin().await?;
        tx.insert_attempt(&attempt).await?;
        tx.update_delivery(&d).await?;
        if let Some(job) = &next_job {
            tx.enqueue_job(job).await?;
        }
        if let Some(reason) = &disable {
            w.enabled = false;
            w.disabled_reason = Some(reason.clone());
            tracing::warn!(webhook = %w.id, reason, "webhook endpoint disabled");
            tx.insert_events(&[disabled_event(&w, reason, t)]).await?;
        }
        if disable.is_some() || w.failing_since != before_failing {
            w.updated_at = t;
            tx.update_webhook(&seal_secrets(&self.keyring, &w)?).await?;
        }
        tx.commit().await?;
        if disable.is_some() {
            self.cache.invalidate_all();
            self.hub.notify_written();
        }
        Ok(())
    }
}
