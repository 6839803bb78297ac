//! The worker's workflow jobs: a step's timeout falling due, and an automated step to run.
//! What each does to the workflow is the domain's ([`machine::time_out`],
//! [`machine::run_step`]); here it is locked, checked still current, and written.

use betflow_domain::audit::Actor;
use betflow_domain::jobs::StepJob;
use betflow_domain::workflow::{Before, machine};
use chrono::{DateTime, Utc};

use super::{Workflows, machine_error};
use crate::EngineError;

impl Workflows {
    /// Runs a step's timeout (a job): escalate, auto-reject or follow the `timeout` edge, as
    /// the step says. A timer for a step the workflow has already left does nothing.
    pub async fn handle_step_timeout(
        &self,
        job: &StepJob,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let Some((tx, mut w, version)) = self.lock(job.workflow_id).await? else {
            return Ok(());
        };
        if !machine::still_at(&w, &job.step_id, job.visit) {
            return Ok(());
        }
        let prev = Before::of(&w);
        let entries = machine::time_out(&mut w, &version.graph, now).map_err(machine_error)?;
        let actor = Actor::default();
        self.commit_transition(tx, None, &prev, &w, &version.graph, entries, &actor)
            .await
    }

    /// Runs an automated step (a job): an action's work, or the end of a delay, then moves on
    /// down the step's `default` edge. A job for a step the workflow has left does nothing, so
    /// a job run twice (a lease that ran out mid-run) moves the workflow once.
    pub async fn handle_run_step(
        &self,
        job: &StepJob,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let Some((tx, mut w, version)) = self.lock(job.workflow_id).await? else {
            return Ok(());
        };
        if !machine::still_at(&w, &job.step_id, job.visit) {
            return Ok(());
        }
        let prev = Before::of(&w);
        let entries = machine::run_step(&mut w, &version.graph, now).map_err(machine_error)?;
        let actor = Actor::default();
        self.commit_transition(tx, None, &prev, &w, &version.graph, entries, &actor)
            .await
    }
}
