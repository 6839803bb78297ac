//! What starts an automation by itself (seed 003's `workflow_subscription`, `schedule_trigger` and `webhook_endpoint`): event subscriptions, schedules and inbound webhook endpoints, compiled once per backend.

use async_trait::async_trait;
use betflow_domain::automation::triggers::{
    CatchUp, InboundEndpoint, ScheduleTrigger, Scheme, Subscription,
};
use chrono::{DateTime, Utc};
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::{corrupt, micros};
use super::{BACKEND, BackendStore, BackendTx, Db};
use crate::{Backend, Result, TriggerRead, TriggerWrite};

const SUB_COLUMNS: &str = "t.id, t.definition_id, d.key AS definition_key, t.event_pattern, \
    t.filter, t.is_active, t.created_by, t.created_at, t.updated_at";
const SCHEDULE_COLUMNS: &str = "t.id, t.definition_id, d.key AS definition_key, t.cron, \
    t.timezone, t.catch_up, t.next_fire_at, t.last_fired_at, t.is_active, t.created_by, \
    t.created_at, t.updated_at";
const ENDPOINT_COLUMNS: &str = "t.id, t.definition_id, d.key AS definition_key, t.name, \
    t.scheme, t.header_name, t.secret, t.tolerance_secs, t.rate_limit, t.is_active, \
    t.created_by, t.created_at, t.updated_at";

#[derive(FromRow)]
struct SubRow {
    id: Uuid,
    definition_id: Uuid,
    definition_key: String,
    event_pattern: String,
    filter: Option<String>,
    is_active: bool,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<SubRow> for Subscription {
    fn from(r: SubRow) -> Self {
        Subscription {
            id: r.id,
            definition_id: r.definition_id,
            definition_key: r.definition_key,
            event_pattern: r.event_pattern,
            filter: r.filter,
            is_active: r.is_active,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
struct ScheduleRow {
    id: Uuid,
    definition_id: Uuid,
    definition_key: String,
    cron: String,
    timezone: String,
    catch_up: String,
    next_fire_at: Option<DateTime<Utc>>,
    last_fired_at: Option<DateTime<Utc>>,
    is_active: bool,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ScheduleRow> for ScheduleTrigger {
    type Error = crate::StoreError;
    fn try_from(r: ScheduleRow) -> Result<Self> {
        Ok(ScheduleTrigger {
            catch_up: CatchUp::parse(&r.catch_up)
                .ok_or_else(|| corrupt("schedule_triggers", format!("catch_up {}", r.catch_up)))?,
            id: r.id,
            definition_id: r.definition_id,
            definition_key: r.definition_key,
            cron: r.cron,
            timezone: r.timezone,
            next_fire_at: r.next_fire_at,
            last_fired_at: r.last_fired_at,
            is_active: r.is_active,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct EndpointRow {
    id: Uuid,
    definition_id: Uuid,
    definition_key: String,
    name: String,
    scheme: String,
    header_name: Option<String>,
    secret: String,
    tolerance_secs: i32,
    rate_limit: Option<i32>,
    is_active: bool,
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

impl TryFrom<EndpointRow> for InboundEndpoint {
    type Error = crate::StoreError;
    fn try_from(r: EndpointRow) -> Result<Self> {
        Ok(InboundEndpoint {
            scheme: Scheme::parse(&r.scheme).ok_or_else(|| {
                corrupt("inbound_webhook_endpoints", format!("scheme {}", r.scheme))
            })?,
            id: r.id,
            definition_id: r.definition_id,
            definition_key: r.definition_key,
            name: r.name,
            header: r.header_name,
            secret: r.secret,
            tolerance_secs: u32_of(r.tolerance_secs),
            rate_limit: r.rate_limit.map(u32_of),
            is_active: r.is_active,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn select(columns: &str, table: &str) -> QueryBuilder<Db> {
    QueryBuilder::new(format!(
        "SELECT {columns} FROM {table} t JOIN workflow_definitions d ON d.id = t.definition_id"
    ))
}

#[async_trait]
impl TriggerRead for BackendStore {
    async fn list_subscriptions(&self, definition_id: Uuid) -> Result<Vec<Subscription>> {
        let mut qb = select(SUB_COLUMNS, "workflow_subscriptions");
        qb.push(" WHERE t.definition_id = ")
            .push_bind(definition_id)
            .push(" ORDER BY t.created_at, t.id");
        let rows: Vec<SubRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Subscription::from).collect())
    }

    async fn get_subscription(&self, id: Uuid) -> Result<Option<Subscription>> {
        let mut qb = select(SUB_COLUMNS, "workflow_subscriptions");
        qb.push(" WHERE t.id = ").push_bind(id);
        let row: Option<SubRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        Ok(row.map(Subscription::from))
    }

    async fn active_subscriptions(&self) -> Result<Vec<Subscription>> {
        let mut qb = select(SUB_COLUMNS, "workflow_subscriptions");
        qb.push(
            " WHERE t.is_active AND d.is_active AND d.deleted_at IS NULL \
             ORDER BY t.created_at, t.id",
        );
        let rows: Vec<SubRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Subscription::from).collect())
    }

    async fn list_schedules(&self, definition_id: Uuid) -> Result<Vec<ScheduleTrigger>> {
        let mut qb = select(SCHEDULE_COLUMNS, "schedule_triggers");
        qb.push(" WHERE t.definition_id = ")
            .push_bind(definition_id)
            .push(" ORDER BY t.created_at, t.id");
        let rows: Vec<ScheduleRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(ScheduleTrigger::try_from).collect()
    }

    async fn get_schedule(&self, id: Uuid) -> Result<Option<ScheduleTrigger>> {
        let mut qb = select(SCHEDULE_COLUMNS, "schedule_triggers");
        qb.push(" WHERE t.id = ").push_bind(id);
        let row: Option<ScheduleRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(ScheduleTrigger::try_from).transpose()
    }

    async fn list_endpoints(&self, definition_id: Uuid) -> Result<Vec<InboundEndpoint>> {
        let mut qb = select(ENDPOINT_COLUMNS, "inbound_webhook_endpoints");
        qb.push(" WHERE t.definition_id = ")
            .push_bind(definition_id)
            .push(" ORDER BY t.created_at, t.id");
        let rows: Vec<EndpointRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(InboundEndpoint::try_from).collect()
    }

    async fn get_endpoint(&self, id: Uuid) -> Result<Option<InboundEndpoint>> {
        let mut qb = select(ENDPOINT_COLUMNS, "inbound_webhook_endpoints");
        qb.push(" WHERE t.id = ").push_bind(id);
        let row: Option<EndpointRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(InboundEndpoint::try_from).transpose()
    }
}

#[path = "triggers_write.rs"]
mod write;
