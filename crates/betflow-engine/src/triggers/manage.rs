//! Creating, reading, changing and deleting a definition's triggers, audited.

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::automation::triggers::{
    self as rules, DEFAULT_TOLERANCE_SECS, InboundEndpoint, Schedule, ScheduleTrigger, Subscription,
};
use betflow_domain::time::now;
use betflow_domain::webhooks::format_secret;
use betflow_domain::workflow::record::Definition;
use betflow_domain::{DomainError, Violation};
use betflow_store::Transaction;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Created, NewTrigger, Trigger, TriggerChanges, Triggers};
use crate::EngineError;

fn table(t: &Trigger) -> &'static str {
    match t {
        Trigger::Event(_) => "workflow_subscriptions",
        Trigger::Schedule(_) => "schedule_triggers",
        Trigger::Webhook(_) => "inbound_webhook_endpoints",
    }
}

/// What the audit log keeps of a trigger: never the secret.
fn audit_view(t: &Trigger) -> Value {
    match t {
        Trigger::Event(s) => json!({"kind": "event", "definitionId": s.definition_id,
            "eventType": s.event_pattern, "filter": s.filter, "isActive": s.is_active}),
        Trigger::Schedule(s) => json!({"kind": "schedule", "definitionId": s.definition_id,
            "cron": s.cron, "timezone": s.timezone, "catchUp": s.catch_up.as_str(),
            "isActive": s.is_active}),
        Trigger::Webhook(e) => json!({"kind": "webhook", "definitionId": e.definition_id,
            "name": e.name, "scheme": e.scheme.as_str(), "header": e.header,
            "toleranceSeconds": e.tolerance_secs, "rateLimit": e.rate_limit,
            "isActive": e.is_active}),
    }
}

async fn audit(
    tx: &mut Box<dyn Transaction>,
    t: &Trigger,
    action: AuditAction,
    old: Option<Value>,
    actor: &Actor,
) -> Result<(), EngineError> {
    let new = (action != AuditAction::Delete).then(|| audit_view(t));
    let entry = AuditEntry::new(table(t), t.id(), action, old, new, actor.clone())?;
    tx.insert_audit(&entry).await?;
    Ok(())
}

fn random_secret() -> Result<String, EngineError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| EngineError::Internal(format!("randomness: {e}")))?;
    Ok(format_secret(&b))
}

fn not_found(id: Uuid) -> EngineError {
    EngineError::NotFound(format!("trigger {id}"))
}

impl Triggers {
    async fn definition(&self, key: &str) -> Result<Definition, EngineError> {
        self.store
            .get_definition(key)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow definition {key}")))
    }

    /// Every trigger of a definition: subscriptions, then schedules, then endpoints.
    pub async fn list(&self, key: &str) -> Result<Vec<Trigger>, EngineError> {
        let d = self.definition(key).await?;
        let mut out: Vec<Trigger> = (self.store.list_subscriptions(d.id).await?)
            .into_iter()
            .map(Trigger::Event)
            .collect();
        out.extend(
            (self.store.list_schedules(d.id).await?)
                .into_iter()
                .map(Trigger::Schedule),
        );
        out.extend(
            (self.store.list_endpoints(d.id).await?)
                .into_iter()
                .map(Trigger::Webhook),
        );
        Ok(out)
    }

    /// One trigger of a definition, whatever its kind.
    pub async fn get(&self, key: &str, id: Uuid) -> Result<Trigger, EngineError> {
        let d = self.definition(key).await?;
        let found = if let Some(s) = self.store.get_subscription(id).await? {
            Some(Trigger::Event(s))
        } else if let Some(s) = self.store.get_schedule(id).await? {
            Some(Trigger::Schedule(s))
        } else {
            self.store.get_endpoint(id).await?.map(Trigger::Webhook)
        };
        found
            .filter(|t| t.definition_id() == d.id)
            .ok_or_else(|| not_found(id))
    }

    /// Creates a trigger; an inbound endpoint's secret is returned in clear this once.
    pub async fn create(
        &self,
        key: &str,
        new: NewTrigger,
        is_active: bool,
        actor: &Actor,
    ) -> Result<Created, EngineError> {
        let d = self.definition(key).await?;
        let t = now();
        let id = Uuid::now_v7();
        let mut secret = None;
        let trigger = match new {
            NewTrigger::Event { event_type, filter } => {
                let filter = filter.filter(|f| !f.trim().is_empty());
                rules::check_subscription(&event_type, filter.as_deref())?;
                Trigger::Event(Subscription {
                    id,
                    definition_id: d.id,
                    definition_key: d.key.clone(),
                    event_pattern: event_type,
                    filter,
                    is_active,
                    created_by: actor.user_id,
                    created_at: t,
                    updated_at: t,
                })
            }
            NewTrigger::Schedule {
                cron,
                timezone,
                catch_up,
            } => {
                let (_, next) = Schedule::parse_from(&cron, &timezone, t)?;
                Trigger::Schedule(ScheduleTrigger {
                    id,
                    definition_id: d.id,
                    definition_key: d.key.clone(),
                    cron: cron.trim().to_owned(),
                    timezone,
                    catch_up,
                    next_fire_at: Some(next),
                    last_fired_at: None,
                    is_active,
                    created_by: actor.user_id,
                    created_at: t,
                    updated_at: t,
                })
            }
            NewTrigger::Webhook {
                name,
                scheme,
                header,
                tolerance_secs,
                rate_limit,
            } => {
                let tolerance = tolerance_secs.unwrap_or(DEFAULT_TOLERANCE_SECS);
                rules::check_endpoint(&name, header.as_deref(), tolerance, rate_limit)?;
                let clear = random_secret()?;
                let sealed = self.seal(id, &clear)?;
                secret = Some(clear);
                Trigger::Webhook(InboundEndpoint {
                    id,
                    definition_id: d.id,
                    definition_key: d.key.clone(),
                    name: name.trim().to_owned(),
                    scheme,
                    header,
                    secret: sealed,
                    tolerance_secs: tolerance,
                    rate_limit,
                    is_active,
                    created_by: actor.user_id,
                    created_at: t,
                    updated_at: t,
                })
            }
        };
        let mut tx = self.store.begin().await?;
        match &trigger {
            Trigger::Event(s) => tx.insert_subscription(s).await?,
            Trigger::Schedule(s) => tx.insert_schedule(s).await?,
            Trigger::Webhook(e) => tx.insert_endpoint(e).await?,
        }
        audit(&mut tx, &trigger, AuditAction::Insert, None, actor).await?;
        tx.commit().await?;
        self.subscriptions_changed().await;
        Ok(Created { trigger, secret })
    }

    /// Changes a trigger, checking every field at once.
    pub async fn update(
        &self,
        key: &str,
        id: Uuid,
        changes: TriggerChanges,
        actor: &Actor,
    ) -> Result<Trigger, EngineError> {
        let old = self.get(key, id).await?;
        let before = audit_view(&old);
        let mut t = old;
        apply(&mut t, changes)?;
        let mut tx = self.store.begin().await?;
        let found = match &t {
            Trigger::Event(s) => tx.update_subscription(s).await?,
            Trigger::Schedule(s) => tx.update_schedule(s).await?,
            Trigger::Webhook(e) => tx.update_endpoint(e).await?,
        };
        if !found {
            tx.rollback().await?;
            return Err(not_found(id));
        }
        audit(&mut tx, &t, AuditAction::Update, Some(before), actor).await?;
        tx.commit().await?;
        self.subscriptions_changed().await;
        Ok(t)
    }

    pub async fn delete(&self, key: &str, id: Uuid, actor: &Actor) -> Result<(), EngineError> {
        let t = self.get(key, id).await?;
        let mut tx = self.store.begin().await?;
        let found = match &t {
            Trigger::Event(_) => tx.delete_subscription(id).await?,
            Trigger::Schedule(_) => tx.delete_schedule(id).await?,
            Trigger::Webhook(_) => tx.delete_endpoint(id).await?,
        };
        if !found {
            tx.rollback().await?;
            return Err(not_found(id));
        }
        audit(
            &mut tx,
            &t,
            AuditAction::Delete,
            Some(audit_view(&t)),
            actor,
        )
        .await?;
        tx.commit().await?;
        self.subscriptions_changed().await;
        Ok(())
    }
}

/// Applies `c` to `t`, naming every invalid or misplaced field.
fn apply(t: &mut Trigger, c: TriggerChanges) -> Result<(), EngineError> {
    let mut v = Vec::new();
    let misplaced = |v: &mut Vec<Violation>, field: &str, set: bool, kind: &str| {
        if set {
            v.push(Violation::new(
                field,
                format!("not a field of a {kind} trigger"),
            ));
        }
    };
    let at = now();
    match t {
        Trigger::Event(s) => {
            for (f, set) in [
                ("cron", c.cron.is_some()),
                ("timezone", c.timezone.is_some()),
                ("catchUp", c.catch_up.is_some()),
                ("name", c.name.is_some()),
                ("header", c.header.is_some()),
                ("toleranceSeconds", c.tolerance_secs.is_some()),
                ("rateLimit", c.rate_limit.is_some()),
            ] {
                misplaced(&mut v, f, set, "event");
            }
            if let Some(p) = c.event_type {
                s.event_pattern = p;
            }
            if let Some(f) = c.filter {
                s.filter = f.filter(|f| !f.trim().is_empty());
            }
            if let Err(DomainError::Validation(e)) =
                rules::check_subscription(&s.event_pattern, s.filter.as_deref())
            {
                v.extend(e);
            }
            if let Some(a) = c.is_active {
                s.is_active = a;
            }
            s.updated_at = at;
        }
        Trigger::Schedule(s) => {
            for (f, set) in [
                ("eventType", c.event_type.is_some()),
                ("filter", c.filter.is_some()),
                ("name", c.name.is_some()),
                ("header", c.header.is_some()),
                ("toleranceSeconds", c.tolerance_secs.is_some()),
                ("rateLimit", c.rate_limit.is_some()),
            ] {
                misplaced(&mut v, f, set, "schedule");
            }
            let reschedule = c.cron.is_some() || c.timezone.is_some() || c.is_active == Some(true);
            if let Some(cron) = c.cron {
                s.cron = cron.trim().to_owned();
            }
            if let Some(tz) = c.timezone {
                s.timezone = tz;
            }
            if let Some(p) = c.catch_up {
                s.catch_up = p;
            }
            if let Some(a) = c.is_active {
                s.is_active = a;
            }
            match Schedule::parse_from(&s.cron, &s.timezone, at) {
                // A changed or re-enabled schedule fires from now on, not for what passed
                // while it was off.
                Ok((_, next)) if reschedule => s.next_fire_at = Some(next),
                Ok(_) => {}
                Err(DomainError::Validation(e)) => v.extend(e),
            }
            s.updated_at = at;
        }
        Trigger::Webhook(e) => {
            for (f, set) in [
                ("eventType", c.event_type.is_some()),
                ("filter", c.filter.is_some()),
                ("cron", c.cron.is_some()),
                ("timezone", c.timezone.is_some()),
                ("catchUp", c.catch_up.is_some()),
            ] {
                misplaced(&mut v, f, set, "webhook");
            }
            if let Some(n) = c.name {
                e.name = n.trim().to_owned();
            }
            if let Some(h) = c.header {
                e.header = h;
            }
            if let Some(tol) = c.tolerance_secs {
                e.tolerance_secs = tol;
            }
            if let Some(r) = c.rate_limit {
                e.rate_limit = r;
            }
            if let Some(a) = c.is_active {
                e.is_active = a;
            }
            if let Err(DomainError::Validation(errs)) =
                rules::check_endpoint(&e.name, e.header.as_deref(), e.tolerance_secs, e.rate_limit)
            {
                v.extend(errs);
            }
            e.updated_at = at;
        }
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(v).into())
    }
}
