//! Signed outbound webhooks: endpoint management, and delivery at least once from the
//! outbox with retries, Retry-After, rate limits, automatic disabling and an SSRF guard.
//!
//! The relay turns each event into one delivery per interested endpoint, with a
//! `webhook.deliver` job, in the transaction that moves its cursor. A job makes one HTTP
//! attempt, records it, and schedules the next attempt as a new job, so a process killed
//! mid-delivery leaves a job whose lease runs out and is run again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::events::{Event, NewEvent, types};
use betflow_domain::jobs::NewJob;
use betflow_domain::time::now;
use betflow_domain::webhooks::{
    Attempt, DEFAULT_TIMEOUT_MS, Delivery, DeliveryStatus, Webhook, WebhookChanges, check_url,
    format_secret, is_public, next_retry, sign, snippet,
};
use betflow_domain::{DomainError, Page, PageRequest};
use betflow_store::Transaction;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::identity::Principal;
use crate::ratelimit::Rule;
use crate::{Engine, EngineError};

/// How deliveries behave; from `BETFLOW_WEBHOOK_*`.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Delays between attempts (`BETFLOW_WEBHOOK_RETRY_SCHEDULE`).
    pub schedule: Vec<Duration>,
    /// Deliver to private, loopback and link-local addresses (tests, private networks).
    pub allow_private: bool,
    /// An endpoint failing continuously this long is disabled.
    pub disable_after: Duration,
    /// How long the secret replaced by a rotation still signs deliveries.
    pub secret_grace: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            schedule: betflow_domain::webhooks::parse_schedule("5s,5m,30m,2h,5h,10h")
                .unwrap_or_default(),
            allow_private: false,
            disable_after: Duration::from_secs(5 * 24 * 3600),
            secret_grace: Duration::from_secs(24 * 3600),
        }
    }
}

/// Deliveries re-queued by one recover call at most.
pub const MAX_RECOVER: u32 = 10_000;

/// Resolves names for outbound requests, refusing private addresses unless allowed, so a
/// name that resolves somewhere internal (or is re-pointed there later) is never contacted.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub(crate) fn http_client(allow_private: bool) -> Result<reqwest::Client, EngineError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("betflow-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| EngineError::Internal(format!("webhook HTTP client: {e}")))
}

/// A new endpoint.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub timeout_ms: Option<u32>,
    pub rate_limit: Option<u32>,
    pub retry_attempts: Option<u32>,
}

/// A delivery with its attempts, for the deliveries list.
#[derive(Debug, Clone)]
pub struct DeliveryView {
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
}

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

fn new_secret() -> Result<String, EngineError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| EngineError::Internal(format!("randomness: {e}")))?;
    Ok(format_secret(&b))
}

fn deliver_job(delivery: Uuid, at: DateTime<Utc>) -> NewJob {
    let args =
        betflow_domain::jobs::JobArgs::DeliverWebhook(betflow_domain::jobs::DeliverWebhook {
            delivery_id: delivery,
        });
    NewJob::new(&args, at)
}

fn not_found(id: Uuid) -> EngineError {
    EngineError::NotFound(format!("webhook {id}"))
}

/// What one HTTP attempt came to.
struct Outcome {
    status: Option<u16>,
    latency_ms: u32,
    body: Option<String>,
    error: Option<String>,
    retry_after: Option<Duration>,
}

fn retry_after(headers: &reqwest::header::HeaderMap, at: DateTime<Utc>) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(7 * 24 * 3600)));
    }
    let when = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    (when - at).to_std().ok()
}

async fn audit(
    tx: &mut Box<dyn Transaction>,
    w: &Webhook,
    action: AuditAction,
    old: Option<Value>,
    actor: &Actor,
) -> Result<(), EngineError> {
    let new = (action != AuditAction::Delete)
        .then(|| json!({"name": w.name, "url": w.url, "events": w.events, "enabled": w.enabled}));
    let entry = AuditEntry::new("webhooks", w.id, action, old, new, actor.clone())?;
    tx.insert_audit(&entry).await?;
    Ok(())
}

fn disabled_event(w: &Webhook, reason: &str, at: DateTime<Utc>) -> NewEvent {
    let mut e = NewEvent::new(
        types::ENDPOINT_DISABLED,
        json!({"webhookId": w.id, "name": w.name, "url": w.url, "reason": reason,
               "disabledAt": at}),
        at,
    );
    e.roles = vec!["admin".to_owned()];
    e
}

impl Engine {
    /// Checks that a URL may be delivered to: well formed, and (unless private targets are
    /// allowed) an IP literal or a name that resolves to public addresses only.
    async fn guard_url(&self, url: &str) -> Result<(), EngineError> {
        self.guard(url, true).await
    }

    /// As [`Self::guard_url`]; without `resolve`, names are left to the guarded resolver.
    async fn guard(&self, url: &str, resolve: bool) -> Result<(), EngineError> {
        check_url(url).map_err(|e| DomainError::invalid("url", e))?;
        if self.webhook_settings.allow_private {
            return Ok(());
        }
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| DomainError::invalid("url", e.to_string()))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| DomainError::invalid("url", "must name a host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let private = |detail: String| {
            EngineError::from(DomainError::invalid(
                "url",
                format!(
                    "{detail}: webhooks may not target private, loopback or link-local \
                     addresses (BETFLOW_WEBHOOKS_ALLOW_PRIVATE allows them)"
                ),
            ))
        };
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return if is_public(ip) {
                Ok(())
            } else {
                Err(private(format!("{ip} is not a public address")))
            };
        }
        if !resolve {
            return Ok(());
        }
        let port = parsed.port_or_known_default().unwrap_or(443);
        // A name that does not resolve (yet) is accepted: its deliveries fail and retry, and
        // the resolver checks every address again when one is made.
        let Ok(addrs) = tokio::net::lookup_host((host.as_str(), port)).await else {
            return Ok(());
        };
        let addrs: Vec<SocketAddr> = addrs.collect();
        if addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(private(format!("{host} resolves to a private address")));
        }
        Ok(())
    }

    pub async fn create_webhook(
        &self,
        principal: &Principal,
        new: NewWebhook,
        actor: &Actor,
    ) -> Result<Webhook, EngineError> {
        let t = now();
        let mut w = Webhook {
            id: Uuid::now_v7(),
            name: String::new(),
            url: String::new(),
            events: Vec::new(),
            description: None,
            enabled: true,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            rate_limit: None,
            retry_attempts: self.webhook_settings.schedule.len() as u32,
            secret: new_secret()?,
            previous_secret: None,
            previous_expires_at: None,
            failing_since: None,
            disabled_reason: None,
            created_by: Some(principal.user_id),
            created_at: t,
            updated_at: t,
        };
        WebhookChanges {
            name: Some(new.name),
            url: Some(new.url),
            events: Some(new.events),
            description: Some(new.description),
            enabled: Some(new.enabled),
            timeout_ms: new.timeout_ms,
            rate_limit: Some(new.rate_limit),
            retry_attempts: new.retry_attempts,
        }
        .apply(&mut w)?;
        self.guard_url(&w.url).await?;
        let mut tx = self.store.begin().await?;
        tx.insert_webhook(&w).await?;
        audit(&mut tx, &w, AuditAction::Insert, None, actor).await?;
        tx.commit().await?;
        self.webhook_cache.invalidate_all();
        Ok(w)
    }

    pub async fn webhooks(&self) -> Result<Vec<Webhook>, EngineError> {
        Ok(self.store.list_webhooks().await?)
    }

    pub async fn webhook(&self, id: Uuid) -> Result<Webhook, EngineError> {
        self.store
            .get_webhook(id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn update_webhook(
        &self,
        id: Uuid,
        changes: WebhookChanges,
        actor: &Actor,
    ) -> Result<Webhook, EngineError> {
        let mut w = self.webhook(id).await?;
        let before =
            json!({"name": w.name, "url": w.url, "events": w.events, "enabled": w.enabled});
        let url_changed = changes.url.is_some();
        changes.apply(&mut w)?;
        if url_changed {
            self.guard_url(&w.url).await?;
        }
        w.updated_at = now();
        let mut tx = self.store.begin().await?;
        if !tx.update_webhook(&w).await? {
            return Err(not_found(id));
        }
        audit(&mut tx, &w, AuditAction::Update, Some(before), actor).await?;
        tx.commit().await?;
        self.webhook_cache.invalidate_all();
        Ok(w)
    }

    pub async fn delete_webhook(&self, id: Uuid, actor: &Actor) -> Result<(), EngineError> {
        let w = self.webhook(id).await?;
        let mut tx = self.store.begin().await?;
        if !tx.delete_webhook(id).await? {
            return Err(not_found(id));
        }
        let old = json!({"name": w.name, "url": w.url, "events": w.events});
        audit(&mut tx, &w, AuditAction::Delete, Some(old), actor).await?;
        tx.commit().await?;
        self.webhook_cache.invalidate_all();
        Ok(())
    }

    /// A new secret; the old one keeps signing (a second signature) for the grace period.
    pub async fn rotate_webhook_secret(
        &self,
        id: Uuid,
        actor: &Actor,
    ) -> Result<Webhook, EngineError> {
        let mut w = self.webhook(id).await?;
        let t = now();
        w.previous_secret = Some(std::mem::replace(&mut w.secret, new_secret()?));
        w.previous_expires_at = Some(
            t + chrono::Duration::from_std(self.webhook_settings.secret_grace)
                .unwrap_or(chrono::Duration::hours(24)),
        );
        w.updated_at = t;
        let mut tx = self.store.begin().await?;
        if !tx.update_webhook(&w).await? {
            return Err(not_found(id));
        }
        audit(
            &mut tx,
            &w,
            AuditAction::Update,
            Some(json!({"secret": "rotated"})),
            actor,
        )
        .await?;
        tx.commit().await?;
        self.webhook_cache.invalidate_all();
        Ok(w)
    }

    /// Sends a `ping` event to the endpoint now and returns the delivery with its attempt.
    /// A failed ping is retried like any delivery.
    pub async fn test_webhook(&self, id: Uuid) -> Result<DeliveryView, EngineError> {
        let w = self.webhook(id).await?;
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
        self.webhook(webhook_id).await?;
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
    pub async fn recover_webhook(
        &self,
        id: Uuid,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> Result<usize, EngineError> {
        self.webhook(id).await?;
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
    pub(crate) async fn active_webhooks(&self) -> Result<Arc<Vec<Webhook>>, EngineError> {
        self.webhook_cache
            .try_get_with((), async {
                let hooks: Vec<Webhook> = self
                    .store
                    .list_webhooks()
                    .await?
                    .into_iter()
                    .filter(|w| w.enabled)
                    .collect();
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
        job: &betflow_domain::jobs::DeliverWebhook,
        at: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        self.attempt_delivery(job.delivery_id, at, false).await
    }

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
        let Some(mut w) = self.store.get_webhook(d.webhook_id).await? else {
            return Ok(());
        };
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
            let decision = self.rate_limit(&format!("webhook:{}", w.id), rule).await;
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
                if failing_for >= self.webhook_settings.disable_after {
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
                    &self.webhook_settings.schedule,
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
            tx.update_webhook(&w).await?;
        }
        tx.commit().await?;
        if disable.is_some() {
            self.webhook_cache.invalidate_all();
            self.hub.notify_written();
        }
        Ok(())
    }

    /// One signed POST. Never returns an error: every failure is an outcome to record.
    async fn send(&self, w: &Webhook, d: &Delivery) -> Outcome {
        let started = Instant::now();
        let elapsed = || u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        let fail = |error: String, latency_ms: u32| Outcome {
            status: None,
            latency_ms,
            body: None,
            error: Some(error),
            retry_after: None,
        };
        // IP literals bypass the resolver, so they are checked here; names are checked by it.
        if let Err(e) = self.guard(&w.url, false).await {
            return fail(e.to_string(), elapsed());
        }
        let body = d.payload.to_string();
        let t = now();
        let msg_id = d.event_id.to_string();
        let signatures: Result<Vec<String>, String> = w
            .signing_secrets(t)
            .into_iter()
            .map(|s| sign(s, &msg_id, t.timestamp(), &body))
            .collect();
        let signatures = match signatures {
            Ok(s) => s.join(" "),
            Err(e) => return fail(e, elapsed()),
        };
        let sent = self
            .http
            .post(&w.url)
            .timeout(Duration::from_millis(u64::from(w.timeout_ms)))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", t.timestamp().to_string())
            .header("webhook-signature", signatures)
            .body(body)
            .send()
            .await;
        let res = match sent {
            Ok(res) => res,
            Err(e) => {
                let what = if e.is_timeout() {
                    format!("timed out after {} ms", w.timeout_ms)
                } else {
                    // The innermost causes say what went wrong (a DNS refusal, a reset).
                    let mut what = if e.is_connect() {
                        "cannot connect".to_owned()
                    } else {
                        e.to_string()
                    };
                    let mut cause = std::error::Error::source(&e);
                    while let Some(c) = cause {
                        let text = c.to_string();
                        if !what.contains(&text) {
                            what = format!("{what}: {text}");
                        }
                        cause = c.source();
                    }
                    what
                };
                return fail(what, elapsed());
            }
        };
        let status = res.status().as_u16();
        let retry_after = retry_after(res.headers(), t);
        let mut res = res;
        let mut body = Vec::new();
        while body.len() < betflow_domain::webhooks::SNIPPET_LEN {
            match tokio::time::timeout(Duration::from_secs(2), res.chunk()).await {
                Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        Outcome {
            status: Some(status),
            latency_ms: elapsed(),
            body: Some(String::from_utf8_lossy(&body).into_owned()),
            error: None,
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(e: &dyn std::error::Error) -> String {
        let mut out = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            out = format!("{out}: {c}");
            cause = c.source();
        }
        out
    }

    /// The guard sits in the resolver, so it holds at delivery time whatever the name
    /// resolved to when the endpoint was registered.
    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_to_private_addresses() {
        let guarded = http_client(false).unwrap();
        let err = guarded
            .get("http://localhost:9/hook")
            .send()
            .await
            .unwrap_err();
        assert!(
            chain(&err).contains("resolves to no public address"),
            "{}",
            chain(&err)
        );
        // Allowed, the same name is dialled (and the closed port refuses).
        let open = http_client(true).unwrap();
        let err = open
            .get("http://localhost:9/hook")
            .send()
            .await
            .unwrap_err();
        assert!(
            !chain(&err).contains("no public address"),
            "{}",
            chain(&err)
        );
    }
}
