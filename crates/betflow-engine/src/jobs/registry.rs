//! Which handler runs which kind of job.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use betflow_domain::jobs::{JobArgs, JobKind};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::handlers;
use crate::{Engine, EngineError};

/// What a handler gets besides its arguments: the engine to work with, and which run of
/// which job this is (for logs; the worker records the outcome).
pub struct JobContext<'a> {
    pub engine: &'a Engine,
    pub job_id: Uuid,
    /// 1 on the first run.
    pub attempt: u32,
    /// The worker's clock for this run: the time every write of the run carries.
    pub now: DateTime<Utc>,
}

/// Runs one kind of job. A handler is registered for its [`JobHandler::kind`] and is only
/// ever handed jobs of that kind. An `Err` is retried with backoff until the job's
/// attempts run out, so a handler must be safe to run again (a lease can run out mid-run,
/// too): each checks that its work is still to do before doing it.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// The kind this handler runs.
    fn kind(&self) -> JobKind;
    async fn run(&self, job: &JobArgs, ctx: &JobContext<'_>) -> Result<(), EngineError>;
}

/// Handlers by kind.
pub struct Registry {
    handlers: BTreeMap<JobKind, Box<dyn JobHandler>>,
}

static STANDARD: LazyLock<Registry> = LazyLock::new(Registry::standard);

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self {
            handlers: BTreeMap::new(),
        }
    }

    /// Registers `handler` for its kind, replacing any earlier one.
    pub fn register(&mut self, handler: impl JobHandler + 'static) -> &mut Self {
        self.handlers.insert(handler.kind(), Box::new(handler));
        self
    }

    /// The one place every kind this release runs is given its handler.
    pub fn standard() -> Self {
        let mut r = Self::new();
        r.register(handlers::StepTimeout)
            .register(handlers::RunStep)
            .register(handlers::DeliverWebhook)
            .register(handlers::ApplyOddsChange)
            .register(handlers::TriggerStart);
        r
    }

    /// The process's registry: handlers hold no state (they get the engine per run), so one
    /// is shared by every engine and worker.
    pub(crate) fn shared() -> &'static Registry {
        &STANDARD
    }

    /// The handler for `kind`, if one is registered.
    pub fn handler(&self, kind: JobKind) -> Option<&dyn JobHandler> {
        self.handlers.get(&kind).map(|h| h.as_ref())
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_handler() {
        let r = Registry::standard();
        for kind in JobKind::ALL {
            let h = r.handler(kind);
            assert_eq!(h.map(|h| h.kind()), Some(kind), "{kind}");
        }
        assert!(Registry::new().handler(JobKind::RunStep).is_none());
    }
}
