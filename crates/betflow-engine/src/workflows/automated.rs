//! What the automations service needs from workflows: creating an instance for an execution
//! (with its execution row and event, in the same transaction), locking a workflow at a step
//! for the action runner, committing the runner's transitions, and re-opening a failed one.

use std::sync::Arc;

use betflow_domain::audit::Actor;
use betflow_domain::automation::execution::{Execution, ExecutionStatus};
use betflow_domain::jobs::StepJob;
use betflow_domain::time::now;
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_domain::workflow::record::{Instance, Version};
use betflow_domain::workflow::timeline::TimelineEntry;
use betflow_domain::workflow::{Before, Priority, WorkflowStatus, machine, transition};
use betflow_domain::{DomainError, text};
use betflow_store::{Store, Transaction};
use uuid::Uuid;

use super::rows::Creation;
use super::{Workflows, machine_error};
use crate::EngineError;
use crate::automations::start::{StartExecution, Started};
use crate::automations::sync::{execution_status, sync_execution};

/// A workflow locked in its transaction, with the version it is pinned to.
pub(crate) type Locked = (Box<dyn Transaction>, Instance, Arc<Version>);

impl Workflows {
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The instance, execution row and `execution.started` of a new run, in one transaction.
    pub(crate) async fn create_execution(
        &self,
        start: &StartExecution,
        by: Option<Uuid>,
        actor: &Actor,
    ) -> Result<Started, EngineError> {
        let key = start.definition_key.trim();
        let mut v = Vec::new();
        text::check_name_into(&mut v, "definitionKey", Some(key));
        if !v.is_empty() {
            return Err(DomainError::Validation(v).into());
        }
        let definition = match self.store.get_definition(key).await? {
            Some(d) if d.is_active => d,
            _ => return Err(EngineError::NotFound(format!("workflow definition {key}"))),
        };
        if !start.input.is_object() {
            return Err(DomainError::invalid("input", "must be a JSON object").into());
        }
        self.validate_data(&definition, &start.input).await?;
        let version = self
            .version(definition.id, definition.latest_version)
            .await?;
        let t = now();
        let mut w = Instance {
            id: Uuid::now_v7(),
            definition_id: definition.id,
            workflow_type: definition.key.clone(),
            version: version.version,
            status: WorkflowStatus::Pending,
            priority: Priority::Medium,
            current_step: None,
            step_visit: 0,
            step_started_at: None,
            escalated_roles: vec![],
            assignees: vec![],
            completed_steps: 0,
            data: start.input.clone(),
            tags: definition.tags.clone(),
            created_by: by,
            created_at: t,
            updated_at: t,
            started_at: None,
            completed_at: None,
            due_at: None,
        };
        let mut entries = vec![machine::created(&w, by)];
        entries.extend(machine::begin(&mut w, &version.graph, by, t).map_err(machine_error)?);
        let mut execution = Execution {
            id: w.id,
            definition_id: definition.id,
            definition_key: definition.key.clone(),
            version: version.version,
            trigger_type: start.trigger.kind,
            trigger_id: start.trigger.trigger_id,
            trigger_event_id: start.trigger.event_id.clone(),
            input: start.input.clone(),
            output: None,
            error: None,
            status: ExecutionStatus::Running,
            created_by: by,
            started_at: t,
            ended_at: None,
            duration_ms: None,
        };
        let started_event = execution.event(t);
        execution_status(&mut execution, &w, &version.graph, &entries, t);
        let finished_event = execution
            .status
            .is_final()
            .then(|| execution.event(t))
            .flatten();
        let derived = transition::derive(&Before::created(), &w, &version.graph, &entries, actor)?;
        let creation = Creation::new(w, None, entries, derived);
        let mut tx = self.store.begin().await?;
        tx.record_creations(&[creation.rows()]).await?;
        if !tx.insert_execution(&execution).await? {
            tx.rollback().await?;
            let (Some(trigger), Some(event)) = (start.trigger.trigger_id, &start.trigger.event_id)
            else {
                return Err(EngineError::Internal(
                    "an execution insert without a trigger conflicted".into(),
                ));
            };
            let existing = self
                .store
                .find_execution_by_trigger(trigger, event)
                .await?
                .ok_or_else(|| {
                    EngineError::Conflict("the trigger's run is being started".into())
                })?;
            return Ok(Started {
                execution_id: existing.into(),
                created: false,
            });
        }
        let events: Vec<_> = started_event.into_iter().chain(finished_event).collect();
        tx.insert_events(&events).await?;
        tx.commit().await?;
        self.hub.notify_written();
        Ok(Started {
            execution_id: creation.w.id.into(),
            created: true,
        })
    }

    /// Locks the workflow of `job` if it is still at that step and visit.
    pub(crate) async fn lock_at(&self, job: &StepJob) -> Result<Option<Locked>, EngineError> {
        let Some((tx, w, version)) = self.lock(job.workflow_id).await? else {
            return Ok(None);
        };
        if !machine::still_at(&w, &job.step_id, job.visit) {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some((tx, w, version)))
    }

    /// Locks a workflow whatever its state.
    pub(crate) async fn lock_any(&self, id: Uuid) -> Result<Option<Locked>, EngineError> {
        self.lock(id).await
    }

    /// Commits a transition of the locked workflow made by automated work.
    pub(crate) async fn commit_automated(
        &self,
        tx: Box<dyn Transaction>,
        prev: &Before,
        w: &Instance,
        graph: &WorkflowGraph,
        entries: Vec<TimelineEntry>,
        actor: &Actor,
    ) -> Result<(), EngineError> {
        self.commit_transition(tx, None, prev, w, graph, entries, actor)
            .await
    }

    /// Re-opens a failed workflow at its failed step (a new visit, so a new run job).
    pub(crate) async fn reopen(&self, id: Uuid, actor: &Actor) -> Result<(), EngineError> {
        let (tx, mut w, version) = self
            .lock(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("execution {id}")))?;
        let prev = Before::of(&w);
        let entries = machine::reopen_failed(&mut w, &version.graph, actor.user_id, now())
            .map_err(|e| match e {
                machine::MachineError::InvalidTransition(m) => EngineError::Conflict(m),
                other => machine_error(other),
            })?;
        self.commit_transition(tx, None, &prev, &w, &version.graph, entries, actor)
            .await
    }

    /// Writes what a transition did to its execution, if the workflow has one (called by
    /// every commit of a transition).
    pub(super) async fn sync_execution(
        tx: &mut Box<dyn Transaction>,
        prev: &Before,
        w: &Instance,
        graph: &WorkflowGraph,
        entries: &[TimelineEntry],
    ) -> Result<(), EngineError> {
        sync_execution(tx, prev, w, graph, entries).await
    }
}
