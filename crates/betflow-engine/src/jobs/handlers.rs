//! One handler per job kind: each picks its typed arguments out of the job and calls the
//! service that does the work.

use async_trait::async_trait;
use betflow_domain::jobs::{JobArgs, JobKind};

use super::registry::{JobContext, JobHandler};
use crate::EngineError;

/// The registry handed a handler another kind's job: a bug in the registry, not the job.
fn wrong_kind(expected: JobKind, job: &JobArgs) -> EngineError {
    EngineError::Internal(format!(
        "the {expected} handler was given a {} job",
        job.kind()
    ))
}

/// A step's timeout fell due: escalate, auto-reject or follow the timeout edge.
pub(super) struct StepTimeout;

#[async_trait]
impl JobHandler for StepTimeout {
    fn kind(&self) -> JobKind {
        JobKind::StepTimeout
    }

    async fn run(&self, job: &JobArgs, ctx: &JobContext<'_>) -> Result<(), EngineError> {
        let JobArgs::StepTimeout(step) = job else {
            return Err(wrong_kind(self.kind(), job));
        };
        ctx.engine
            .workflows()
            .handle_step_timeout(step, ctx.now)
            .await
    }
}

/// An action step to run, or a delay that has ended.
pub(super) struct RunStep;

#[async_trait]
impl JobHandler for RunStep {
    fn kind(&self) -> JobKind {
        JobKind::RunStep
    }

    async fn run(&self, job: &JobArgs, ctx: &JobContext<'_>) -> Result<(), EngineError> {
        let JobArgs::RunStep(step) = job else {
            return Err(wrong_kind(self.kind(), job));
        };
        ctx.engine.run_step_job(step, ctx.now).await
    }
}

/// One attempt of a webhook delivery.
pub(super) struct DeliverWebhook;

#[async_trait]
impl JobHandler for DeliverWebhook {
    fn kind(&self) -> JobKind {
        JobKind::DeliverWebhook
    }

    async fn run(&self, job: &JobArgs, ctx: &JobContext<'_>) -> Result<(), EngineError> {
        let JobArgs::DeliverWebhook(d) = job else {
            return Err(wrong_kind(self.kind(), job));
        };
        ctx.engine.webhooks().handle_delivery_job(d, ctx.now).await
    }
}

/// A completed line-change approval's odds to set.
pub(super) struct ApplyOddsChange;

#[async_trait]
impl JobHandler for ApplyOddsChange {
    fn kind(&self) -> JobKind {
        JobKind::ApplyOddsChange
    }

    async fn run(&self, job: &JobArgs, ctx: &JobContext<'_>) -> Result<(), EngineError> {
        let JobArgs::ApplyOddsChange(change) = job else {
            return Err(wrong_kind(self.kind(), job));
        };
        ctx.engine.apply_odds_change(change, ctx.now).await
    }
}

/// Start one automation run for a trigger occurrence (an event, a schedule's fire).
pub(super) struct TriggerStart;

#[async_trait]
impl JobHandler for TriggerStart {
    fn kind(&self) -> JobKind {
        JobKind::TriggerStart
    }

    async fn run(&self, job: &JobArgs, ctx: &JobContext<'_>) -> Result<(), EngineError> {
        let JobArgs::TriggerStart(start) = job else {
            return Err(wrong_kind(self.kind(), job));
        };
        ctx.engine.run_trigger_start(start).await
    }
}
