//! Webhook endpoints, deliveries and attempts, compiled once per backend.

use async_trait::async_trait;
use betflow_domain::webhooks::{Attempt, Delivery, DeliveryStatus, Webhook};
use betflow_domain::{Page, PageRequest};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::{corrupt, micros, push_page, to_total};
use super::{BackendStore, BackendTx, Db};
use crate::{Result, WebhookRead, WebhookWrite};

const HOOK_COLUMNS: &str = "id, name, url, events, description, enabled, timeout_ms, \
    rate_limit, retry_attempts, secret, previous_secret, previous_expires_at, failing_since, \
    disabled_reason, created_by, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, event_type, payload, status, \
    attempts, next_attempt_at, last_status, last_error, created_at, updated_at";

#[derive(FromRow)]
struct HookRow {
    id: Uuid,
    name: String,
    url: String,
    events: Json<Vec<String>>,
    description: Option<String>,
    enabled: bool,
    timeout_ms: i32,
    rate_limit: Option<i32>,
    retry_attempts: i32,
    secret: String,
    previous_secret: Option<String>,
    previous_expires_at: Option<DateTime<Utc>>,
    failing_since: Option<DateTime<Utc>>,
    disabled_reason: Option<String>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn u32_of(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

impl From<HookRow> for Webhook {
    fn from(r: HookRow) -> Self {
        Webhook {
            id: r.id,
            name: r.name,
            url: r.url,
            events: r.events.0,
            description: r.description,
            enabled: r.enabled,
            timeout_ms: u32_of(r.timeout_ms),
            rate_limit: r.rate_limit.map(u32_of),
            retry_attempts: u32_of(r.retry_attempts),
            secret: r.secret,
            previous_secret: r.previous_secret,
            previous_expires_at: r.previous_expires_at,
            failing_since: r.failing_since,
            disabled_reason: r.disabled_reason,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
struct DeliveryRow {
    id: Uuid,
    webhook_id: Uuid,
    event_id: Uuid,
    event_type: String,
    payload: Json<Value>,
    status: String,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = crate::StoreError;
    fn try_from(r: DeliveryRow) -> Result<Self> {
        Ok(Delivery {
            id: r.id,
            webhook_id: r.webhook_id,
            event_id: r.event_id,
            event_type: r.event_type,
            payload: r.payload.0,
            status: DeliveryStatus::parse(&r.status)
                .ok_or_else(|| corrupt("webhook_deliveries", format!("status {}", r.status)))?,
            attempts: u32_of(r.attempts),
            next_attempt_at: r.next_attempt_at,
            last_status: r.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct AttemptRow {
    id: Uuid,
    delivery_id: Uuid,
    attempt: i32,
    status_code: Option<i32>,
    latency_ms: i32,
    response_snippet: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<AttemptRow> for Attempt {
    fn from(r: AttemptRow) -> Self {
        Attempt {
            id: r.id,
            delivery_id: r.delivery_id,
            attempt: u32_of(r.attempt),
            status_code: r.status_code.and_then(|s| u16::try_from(s).ok()),
            latency_ms: u32_of(r.latency_ms),
            response_snippet: r.response_snippet,
            error: r.error,
            created_at: r.created_at,
        }
    }
}

fn deliveries(rows: Vec<DeliveryRow>) -> Result<Vec<Delivery>> {
    rows.into_iter().map(Delivery::try_from).collect()
}

#[async_trait]
impl WebhookRead for BackendStore {
    async fn get_webhook(&self, id: Uuid) -> Result<Option<Webhook>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = "));
        qb.push_bind(id);
        let row: Option<HookRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        Ok(row.map(Webhook::from))
    }

    async fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        let rows: Vec<HookRow> = QueryBuilder::<Db>::new(format!(
            "SELECT {HOOK_COLUMNS} FROM webhooks ORDER BY created_at, id"
        ))
        .build_query_as()
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Webhook::from).collect())
    }

    async fn get_delivery(&self, id: Uuid) -> Result<Option<Delivery>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = "
        ));
        qb.push_bind(id);
        let row: Option<DeliveryRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(Delivery::try_from).transpose()
    }

    async fn list_deliveries(
        &self,
        webhook_id: Uuid,
        status: Option<DeliveryStatus>,
        page: PageRequest,
    ) -> Result<Page<Delivery>> {
        let filter = |qb: &mut QueryBuilder<Db>| {
            qb.push(" WHERE webhook_id = ").push_bind(webhook_id);
            if let Some(s) = status {
                qb.push(" AND status = ").push_bind(s.as_str());
            }
        };
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM webhook_deliveries");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries"));
        filter(&mut qb);
        qb.push(" ORDER BY created_at DESC, id DESC");
        push_page(&mut qb, page);
        let rows: Vec<DeliveryRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::new(deliveries(rows)?, to_total(total), page))
    }

    async fn list_attempts(&self, delivery_ids: &[Uuid]) -> Result<Vec<Attempt>> {
        if delivery_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, delivery_id, attempt, status_code, latency_ms, response_snippet, error, \
             created_at FROM webhook_attempts WHERE delivery_id IN (",
        );
        let mut ids = qb.separated(", ");
        for id in delivery_ids {
            ids.push_bind(*id);
        }
        qb.push(") ORDER BY delivery_id, attempt");
        let rows: Vec<AttemptRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Attempt::from).collect())
    }

    async fn failed_deliveries(
        &self,
        webhook_id: Uuid,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE status = 'failed' \
             AND webhook_id = "
        ));
        qb.push_bind(webhook_id)
            .push(" AND created_at >= ")
            .push_bind(micros(since))
            .push(" AND created_at < ")
            .push_bind(micros(until))
            .push(" ORDER BY created_at LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<DeliveryRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        deliveries(rows)
    }
}

fn push_hook_values(qb: &mut QueryBuilder<Db>, w: &Webhook) {
    let mut v = qb.separated(", ");
    v.push_bind(w.id)
        .push_bind(w.name.clone())
        .push_bind(w.url.clone())
        .push_bind(Json(w.events.clone()))
        .push_bind(w.description.clone())
        .push_bind(w.enabled)
        .push_bind(i32_of(w.timeout_ms))
        .push_bind(w.rate_limit.map(i32_of))
        .push_bind(i32_of(w.retry_attempts))
        .push_bind(w.secret.clone())
        .push_bind(w.previous_secret.clone())
        .push_bind(w.previous_expires_at.map(micros))
        .push_bind(w.failing_since.map(micros))
        .push_bind(w.disabled_reason.clone())
        .push_bind(w.created_by)
        .push_bind(micros(w.created_at))
        .push_bind(micros(w.updated_at));
}

#[async_trait]
impl WebhookWrite for BackendTx {
    async fn insert_webhook(&mut self, w: &Webhook) -> Result<()> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("INSERT INTO webhooks ({HOOK_COLUMNS}) VALUES ("));
        push_hook_values(&mut qb, w);
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn update_webhook(&mut self, w: &Webhook) -> Result<bool> {
        // Delete and re-insert would cascade to deliveries, so every column is set by name.
        let mut qb = QueryBuilder::<Db>::new("UPDATE webhooks SET name = ");
        qb.push_bind(w.name.clone())
            .push(", url = ")
            .push_bind(w.url.clone())
            .push(", events = ")
            .push_bind(Json(w.events.clone()))
            .push(", description = ")
            .push_bind(w.description.clone())
            .push(", enabled = ")
            .push_bind(w.enabled)
            .push(", timeout_ms = ")
            .push_bind(i32_of(w.timeout_ms))
            .push(", rate_limit = ")
            .push_bind(w.rate_limit.map(i32_of))
            .push(", retry_attempts = ")
            .push_bind(i32_of(w.retry_attempts))
            .push(", secret = ")
            .push_bind(w.secret.clone())
            .push(", previous_secret = ")
            .push_bind(w.previous_secret.clone())
            .push(", previous_expires_at = ")
            .push_bind(w.previous_expires_at.map(micros))
            .push(", failing_since = ")
            .push_bind(w.failing_since.map(micros))
            .push(", disabled_reason = ")
            .push_bind(w.disabled_reason.clone())
            .push(", updated_at = ")
            .push_bind(micros(w.updated_at))
            .push(" WHERE id = ")
            .push_bind(w.id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn delete_webhook(&mut self, id: Uuid) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("DELETE FROM webhooks WHERE id = ");
        qb.push_bind(id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn insert_deliveries(&mut self, items: &[Delivery]) -> Result<Vec<Uuid>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        // An insert of several rows that may meet another's (ON CONFLICT) waits for them in
        // VALUES order: in key order, two such inserts cannot wait for each other.
        let mut items: Vec<&Delivery> = items.iter().collect();
        items.sort_unstable_by_key(|d| (d.webhook_id, d.event_id));
        let mut qb = QueryBuilder::<Db>::new(format!(
            "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) "
        ));
        qb.push_values(items, |mut v, d| {
            v.push_bind(d.id)
                .push_bind(d.webhook_id)
                .push_bind(d.event_id)
                .push_bind(d.event_type.clone())
                .push_bind(Json(d.payload.clone()))
                .push_bind(d.status.as_str())
                .push_bind(i32_of(d.attempts))
                .push_bind(d.next_attempt_at.map(micros))
                .push_bind(d.last_status.map(i32::from))
                .push_bind(d.last_error.clone())
                .push_bind(micros(d.created_at))
                .push_bind(micros(d.updated_at));
        });
        qb.push(" ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING id");
        Ok(qb.build_query_scalar().fetch_all(&mut *self.tx).await?)
    }

    async fn update_delivery(&mut self, d: &Delivery) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE webhook_deliveries SET status = ");
        qb.push_bind(d.status.as_str())
            .push(", attempts = ")
            .push_bind(i32_of(d.attempts))
            .push(", next_attempt_at = ")
            .push_bind(d.next_attempt_at.map(micros))
            .push(", last_status = ")
            .push_bind(d.last_status.map(i32::from))
            .push(", last_error = ")
            .push_bind(d.last_error.clone())
            .push(", updated_at = ")
            .push_bind(micros(d.updated_at))
            .push(" WHERE id = ")
            .push_bind(d.id);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn insert_attempt(&mut self, a: &Attempt) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO webhook_attempts (id, delivery_id, attempt, status_code, latency_ms, \
             response_snippet, error, created_at) VALUES (",
        );
        let mut v = qb.separated(", ");
        v.push_bind(a.id)
            .push_bind(a.delivery_id)
            .push_bind(i32_of(a.attempt))
            .push_bind(a.status_code.map(i32::from))
            .push_bind(i32_of(a.latency_ms))
            .push_bind(a.response_snippet.clone())
            .push_bind(a.error.clone())
            .push_bind(micros(a.created_at));
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }
}
