//! Signed outbound webhooks: endpoint management, and delivery at least once from the
//! outbox with retries, Retry-After, rate limits, automatic disabling and an SSRF guard.
//!
//! The relay turns each event into one delivery per interested endpoint, with a
//! `webhook.deliver` job, in the transaction that moves its cursor. A job makes one HTTP
//! attempt, records it, and schedules the next attempt as a new job, so a process killed
//! mid-delivery leaves a job whose lease runs out and is run again.
//!
//! - `endpoints`: creating, reading, changing and deleting endpoints, rotating secrets;
//! - `delivery`: queueing deliveries, running their attempts, retries and recovery;
//! - `client`: the HTTP client with its SSRF-guarding resolver, and one signed POST.

mod client;
mod delivery;
mod endpoints;

use std::sync::Arc;
use std::time::Duration;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::events::{Address, NewEvent, types};
use betflow_domain::jobs::{DeliverWebhook, JobArgs, NewJob};
use betflow_domain::webhooks::{Attempt, Delivery, Webhook, format_secret};
use betflow_store::{Store, Transaction};
use chrono::{DateTime, Utc};
use moka::future::Cache;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::EngineError;
use crate::events::EventHub;
use crate::ratelimit::RateLimiter;
use crate::secrets::Keyring;

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

/// Webhook endpoints and their deliveries.
pub struct Webhooks {
    store: Arc<dyn Store>,
    /// Woken when deliveries are queued (the worker) or an endpoint was disabled (the relay).
    hub: Arc<EventHub>,
    /// Per-endpoint delivery rate limits, shared with the API's when Redis is configured.
    limiter: Arc<RateLimiter>,
    settings: WebhookSettings,
    /// Outbound webhook requests, through the SSRF-guarding resolver.
    http: reqwest::Client,
    /// Enabled endpoints, for a moment: the relay asks on every round.
    cache: Cache<(), Arc<Vec<Webhook>>>,
    /// Encrypts the signing secrets at rest (see [`seal_secrets`]).
    keyring: Arc<Keyring>,
}

impl Webhooks {
    pub fn new(
        store: Arc<dyn Store>,
        hub: Arc<EventHub>,
        limiter: Arc<RateLimiter>,
        settings: WebhookSettings,
        keyring: Arc<Keyring>,
    ) -> Result<Self, EngineError> {
        Ok(Self {
            store,
            hub,
            limiter,
            keyring,
            http: client::http_client(settings.allow_private)?,
            settings,
            cache: Cache::builder()
                .time_to_live(Duration::from_secs(2))
                .build(),
        })
    }
}

/// The associated-data purposes of an endpoint's two secrets.
const SECRET_PURPOSE: &str = "webhook.secret";
const PREVIOUS_SECRET_PURPOSE: &str = "webhook.previous_secret";

/// The endpoint as stored: its signing secrets encrypted under the keyring's current key.
pub(crate) fn seal_secrets(keyring: &Keyring, w: &Webhook) -> Result<Webhook, EngineError> {
    let row = w.id.to_string();
    let seal = |purpose: &str, s: &str| -> Result<String, EngineError> {
        if Keyring::is_ciphertext(s) {
            // Already sealed (never a `whsec_` secret): keep it.
            return Ok(s.to_owned());
        }
        keyring.encrypt_str(purpose, &row, s)
    };
    let mut out = w.clone();
    out.secret = seal(SECRET_PURPOSE, &w.secret)?;
    out.previous_secret = w
        .previous_secret
        .as_deref()
        .map(|p| seal(PREVIOUS_SECRET_PURPOSE, p))
        .transpose()?;
    Ok(out)
}

/// The endpoint as read: its secrets decrypted. A value without the `v1:` prefix is a
/// legacy clear-text secret (stored before encryption at rest) and is kept as it is; the
/// next write or `betflow keys rotate` encrypts it.
pub(crate) fn open_secrets(keyring: &Keyring, mut w: Webhook) -> Result<Webhook, EngineError> {
    let row = w.id.to_string();
    let open = |purpose: &str, s: String| -> Result<String, EngineError> {
        if Keyring::is_ciphertext(&s) {
            Ok(keyring.decrypt_str(purpose, &row, &s)?.into_inner())
        } else {
            Ok(s)
        }
    };
    w.secret = open(SECRET_PURPOSE, std::mem::take(&mut w.secret))?;
    w.previous_secret = w
        .previous_secret
        .take()
        .map(|p| open(PREVIOUS_SECRET_PURPOSE, p))
        .transpose()?;
    Ok(w)
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
    NewJob::new(
        &JobArgs::DeliverWebhook(DeliverWebhook {
            delivery_id: delivery,
        }),
        at,
    )
}

fn not_found(id: Uuid) -> EngineError {
    EngineError::NotFound(format!("webhook {id}"))
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
    NewEvent::new(
        types::ENDPOINT_DISABLED,
        json!({"webhookId": w.id, "name": w.name, "url": w.url, "reason": reason,
               "disabledAt": at}),
        at,
    )
    .to([Address::Role("admin".to_owned())])
}
