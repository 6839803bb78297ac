//! Changing triggers, claiming due schedules and remembering inbound message ids.

use super::*;

fn push_sub_values(qb: &mut QueryBuilder<Db>, s: &Subscription) {
    let mut v = qb.separated(", ");
    v.push_bind(s.id)
        .push_bind(s.definition_id)
        .push_bind(s.event_pattern.clone())
        .push_bind(s.filter.clone())
        .push_bind(s.is_active)
        .push_bind(s.created_by)
        .push_bind(micros(s.created_at))
        .push_bind(micros(s.updated_at));
}

fn push_schedule_values(qb: &mut QueryBuilder<Db>, s: &ScheduleTrigger) {
    let mut v = qb.separated(", ");
    v.push_bind(s.id)
        .push_bind(s.definition_id)
        .push_bind(s.cron.clone())
        .push_bind(s.timezone.clone())
        .push_bind(s.catch_up.as_str())
        .push_bind(s.next_fire_at.map(micros))
        .push_bind(s.last_fired_at.map(micros))
        .push_bind(s.is_active)
        .push_bind(s.created_by)
        .push_bind(micros(s.created_at))
        .push_bind(micros(s.updated_at));
}

fn push_endpoint_values(qb: &mut QueryBuilder<Db>, e: &InboundEndpoint) {
    let mut v = qb.separated(", ");
    v.push_bind(e.id)
        .push_bind(e.definition_id)
        .push_bind(e.name.clone())
        .push_bind(e.scheme.as_str())
        .push_bind(e.header.clone())
        .push_bind(e.secret.clone())
        .push_bind(i32_of(e.tolerance_secs))
        .push_bind(e.rate_limit.map(i32_of))
        .push_bind(e.is_active)
        .push_bind(e.created_by)
        .push_bind(micros(e.created_at))
        .push_bind(micros(e.updated_at));
}

const SUB_INSERT: &str = "INSERT INTO workflow_subscriptions (id, definition_id, event_pattern, \
    filter, is_active, created_by, created_at, updated_at) VALUES (";
const SCHEDULE_INSERT: &str = "INSERT INTO schedule_triggers (id, definition_id, cron, timezone, \
    catch_up, next_fire_at, last_fired_at, is_active, created_by, created_at, updated_at) VALUES (";
const ENDPOINT_INSERT: &str = "INSERT INTO inbound_webhook_endpoints (id, definition_id, name, \
    scheme, header_name, secret, tolerance_secs, rate_limit, is_active, created_by, created_at, \
    updated_at) VALUES (";

impl BackendTx {
    async fn delete_by_id(&mut self, table: &str, id: Uuid) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new(format!("DELETE FROM {table} WHERE id = "));
        qb.push_bind(id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }
}

#[async_trait]
impl TriggerWrite for BackendTx {
    async fn insert_subscription(&mut self, s: &Subscription) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(SUB_INSERT);
        push_sub_values(&mut qb, s);
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn update_subscription(&mut self, s: &Subscription) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE workflow_subscriptions SET event_pattern = ");
        qb.push_bind(s.event_pattern.clone())
            .push(", filter = ")
            .push_bind(s.filter.clone())
            .push(", is_active = ")
            .push_bind(s.is_active)
            .push(", updated_at = ")
            .push_bind(micros(s.updated_at))
            .push(" WHERE id = ")
            .push_bind(s.id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn delete_subscription(&mut self, id: Uuid) -> Result<bool> {
        self.delete_by_id("workflow_subscriptions", id).await
    }

    async fn insert_schedule(&mut self, s: &ScheduleTrigger) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(SCHEDULE_INSERT);
        push_schedule_values(&mut qb, s);
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn update_schedule(&mut self, s: &ScheduleTrigger) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE schedule_triggers SET cron = ");
        qb.push_bind(s.cron.clone())
            .push(", timezone = ")
            .push_bind(s.timezone.clone())
            .push(", catch_up = ")
            .push_bind(s.catch_up.as_str())
            .push(", next_fire_at = ")
            .push_bind(s.next_fire_at.map(micros))
            .push(", last_fired_at = ")
            .push_bind(s.last_fired_at.map(micros))
            .push(", is_active = ")
            .push_bind(s.is_active)
            .push(", updated_at = ")
            .push_bind(micros(s.updated_at))
            .push(" WHERE id = ")
            .push_bind(s.id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn delete_schedule(&mut self, id: Uuid) -> Result<bool> {
        self.delete_by_id("schedule_triggers", id).await
    }

    async fn claim_due_schedules(
        &mut self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ScheduleTrigger>> {
        let mut qb = select(SCHEDULE_COLUMNS, "schedule_triggers");
        qb.push(" WHERE t.is_active AND d.is_active AND d.deleted_at IS NULL AND t.next_fire_at IS NOT NULL \
             AND t.next_fire_at <= ")
            .push_bind(micros(now))
            .push(" ORDER BY t.next_fire_at LIMIT ")
            .push_bind(i64::from(limit));
        if BACKEND == Backend::Postgres {
            // Another scheduler claiming the same rows skips them rather than waiting, and
            // cannot fire them again: it sees them only after this transaction moved them.
            qb.push(" FOR UPDATE OF t SKIP LOCKED");
        }
        let rows: Vec<ScheduleRow> = qb.build_query_as().fetch_all(&mut *self.tx).await?;
        rows.into_iter().map(ScheduleTrigger::try_from).collect()
    }

    async fn set_schedule_fired(
        &mut self,
        id: Uuid,
        next_fire_at: Option<DateTime<Utc>>,
        fired_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE schedule_triggers SET next_fire_at = ");
        qb.push_bind(next_fire_at.map(micros));
        if let Some(f) = fired_at {
            qb.push(", last_fired_at = ").push_bind(micros(f));
        }
        qb.push(", updated_at = ")
            .push_bind(micros(now))
            .push(" WHERE id = ")
            .push_bind(id);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn insert_endpoint(&mut self, e: &InboundEndpoint) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(ENDPOINT_INSERT);
        push_endpoint_values(&mut qb, e);
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn update_endpoint(&mut self, e: &InboundEndpoint) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE inbound_webhook_endpoints SET name = ");
        qb.push_bind(e.name.clone())
            .push(", scheme = ")
            .push_bind(e.scheme.as_str())
            .push(", header_name = ")
            .push_bind(e.header.clone())
            .push(", secret = ")
            .push_bind(e.secret.clone())
            .push(", tolerance_secs = ")
            .push_bind(i32_of(e.tolerance_secs))
            .push(", rate_limit = ")
            .push_bind(e.rate_limit.map(i32_of))
            .push(", is_active = ")
            .push_bind(e.is_active)
            .push(", updated_at = ")
            .push_bind(micros(e.updated_at))
            .push(" WHERE id = ")
            .push_bind(e.id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn delete_endpoint(&mut self, id: Uuid) -> Result<bool> {
        self.delete_by_id("inbound_webhook_endpoints", id).await
    }

    async fn remember_message(
        &mut self,
        endpoint_id: Uuid,
        message_id: &str,
        seen_at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO inbound_webhook_seen (endpoint_id, message_id, seen_at) VALUES (",
        );
        qb.push_bind(endpoint_id)
            .push(", ")
            .push_bind(message_id.to_owned())
            .push(", ")
            .push_bind(micros(seen_at))
            .push(") ON CONFLICT (endpoint_id, message_id) DO NOTHING");
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn forget_message(&mut self, endpoint_id: Uuid, message_id: &str) -> Result<()> {
        let mut qb =
            QueryBuilder::<Db>::new("DELETE FROM inbound_webhook_seen WHERE endpoint_id = ");
        qb.push_bind(endpoint_id)
            .push(" AND message_id = ")
            .push_bind(message_id.to_owned());
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn prune_seen_messages(&mut self, before: DateTime<Utc>) -> Result<u64> {
        let mut qb = QueryBuilder::<Db>::new("DELETE FROM inbound_webhook_seen WHERE seen_at < ");
        qb.push_bind(micros(before));
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected())
    }
}
