//! What starts an automation by itself: event subscriptions, schedules and inbound webhooks
//! (seed 003's `workflow_subscription`, `schedule_trigger` and `webhook_endpoint`).
//!
//! - `manage`: creating, reading, changing and deleting a definition's triggers;
//! - `matching`: the relay's side: each outbox event against the active subscriptions;
//! - `scheduler`: the scheduler role: claiming due schedules and firing them;
//! - `inbound`: `POST /api/v1/hooks/{id}`: rate limit, signature, replay window, start;
//! - `start`: the `automation.trigger_start` job, which starts the run.
//!
//! Events and schedules start runs through a job enqueued in the transaction that decided
//! the run is due (the relay's cursor move, the scheduler's next-fire update), so nothing is
//! lost when a process dies; the run is keyed on (trigger id, event id), so a job run twice,
//! a redelivered event or two racing processes still start one run.

mod inbound;
mod manage;
mod matching;
mod scheduler;
mod start;

use std::sync::Arc;
use std::time::Duration;

use betflow_domain::automation::triggers::{
    CatchUp, InboundEndpoint, ScheduleTrigger, Scheme, Subscription, TriggerKind,
};
use betflow_store::Store;
use moka::future::Cache;

use crate::EngineError;
use crate::events::EventHub;
use crate::secrets::Keyring;

pub use inbound::{HookRequest, Received};
pub use matching::CompiledSubscription;
pub use scheduler::{FireReport, spawn_scheduler};

/// The purpose inbound endpoint secrets are encrypted for (see [`Keyring::encrypt`]).
pub const SECRET_PURPOSE: &str = "inbound_endpoint.secret";
/// Largest inbound body accepted.
pub const MAX_HOOK_BODY: usize = 256 * 1024;

/// A trigger of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Event(Subscription),
    Schedule(ScheduleTrigger),
    Webhook(InboundEndpoint),
}

impl Trigger {
    pub fn id(&self) -> uuid::Uuid {
        match self {
            Self::Event(s) => s.id,
            Self::Schedule(s) => s.id,
            Self::Webhook(e) => e.id,
        }
    }

    pub fn kind(&self) -> TriggerKind {
        match self {
            Self::Event(_) => TriggerKind::Event,
            Self::Schedule(_) => TriggerKind::Schedule,
            Self::Webhook(_) => TriggerKind::Webhook,
        }
    }

    pub fn definition_id(&self) -> uuid::Uuid {
        match self {
            Self::Event(s) => s.definition_id,
            Self::Schedule(s) => s.definition_id,
            Self::Webhook(e) => e.definition_id,
        }
    }
}

/// A new trigger, by kind.
#[derive(Debug, Clone)]
pub enum NewTrigger {
    Event {
        event_type: String,
        filter: Option<String>,
    },
    Schedule {
        cron: String,
        timezone: String,
        catch_up: CatchUp,
    },
    Webhook {
        name: String,
        scheme: Scheme,
        header: Option<String>,
        tolerance_secs: Option<u32>,
        rate_limit: Option<u32>,
    },
}

/// Changes to a trigger; fields of another kind are refused.
#[derive(Debug, Clone, Default)]
pub struct TriggerChanges {
    pub is_active: Option<bool>,
    pub event_type: Option<String>,
    pub filter: Option<Option<String>>,
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub catch_up: Option<CatchUp>,
    pub name: Option<String>,
    pub header: Option<Option<String>>,
    pub tolerance_secs: Option<u32>,
    pub rate_limit: Option<Option<u32>>,
}

/// A created trigger; an inbound endpoint's secret is in clear here, and only here.
#[derive(Debug, Clone)]
pub struct Created {
    pub trigger: Trigger,
    pub secret: Option<String>,
}

/// Event subscriptions, schedules and inbound endpoints.
pub struct Triggers {
    store: Arc<dyn Store>,
    /// Woken when trigger jobs were queued, so the worker runs them at once.
    hub: Arc<EventHub>,
    /// Encrypts endpoint secrets at rest.
    keyring: Arc<Keyring>,
    /// Active subscriptions, compiled, for a moment: the relay asks on every round. Cleared
    /// here on every change; other nodes see a change within its time to live.
    subscriptions: Cache<(), Arc<Vec<CompiledSubscription>>>,
}

impl Triggers {
    pub fn new(store: Arc<dyn Store>, hub: Arc<EventHub>, keyring: Arc<Keyring>) -> Self {
        Self {
            store,
            hub,
            keyring,
            subscriptions: Cache::builder()
                .time_to_live(Duration::from_secs(2))
                .build(),
        }
    }

    /// The stored form of an endpoint's secret: encrypted for its row.
    fn seal(&self, endpoint: uuid::Uuid, secret: &str) -> Result<String, EngineError> {
        self.keyring
            .encrypt_str(SECRET_PURPOSE, &endpoint.to_string(), secret)
    }

    /// An endpoint's secret in clear.
    fn open(&self, endpoint: &InboundEndpoint) -> Result<String, EngineError> {
        Ok(self
            .keyring
            .decrypt_str(SECRET_PURPOSE, &endpoint.id.to_string(), &endpoint.secret)?
            .into_inner())
    }
}
