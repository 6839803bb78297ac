//! Decisions on a workflow's current step: approve, reject, complete a task, approve in
//! bulk; and the [`Decider`] that lets concurrent decisions share a transaction.

use std::sync::Arc;

use betflow_domain::DomainError;
use betflow_domain::audit::Actor;
use betflow_domain::ids::WorkflowId;
use betflow_domain::time::now;
use betflow_domain::workflow::graph::StepKind;
use betflow_domain::workflow::machine::{self, DecisionInput};
use betflow_domain::workflow::record::{Approval, Instance, Version};
use betflow_domain::workflow::timeline::TimelineEntry;
use betflow_domain::workflow::{Before, Decision};
use betflow_store::{Store, TransitionRef};
use futures::StreamExt;
use moka::future::Cache;
use uuid::Uuid;

use super::rows::{TransitionRows, apply_effects};
use super::{
    BulkOutcome, MAX_BULK, WorkflowView, Workflows, check_remarks, invalid_transition,
    machine_error,
};
use crate::EngineError;
use crate::batch::{Outcome, Work, copy};
use crate::identity::Principal;

/// How many approvals of one bulk request are in flight at once: enough to fill a batch of
/// decisions, few enough to leave connections for everyone else.
const BULK_CONCURRENCY: usize = 32;

impl Workflows {
    /// Approves (or, for a task step, completes) the current step.
    #[tracing::instrument(name = "workflows.approve", skip_all, fields(workflow_id = %id, user_id = %principal.user_id))]
    pub async fn approve(
        &self,
        principal: &Principal,
        id: WorkflowId,
        step_id: Option<&str>,
        comments: Option<String>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        self.decide(
            principal,
            id.uuid(),
            step_id,
            Decision::Approve,
            comments,
            None,
            actor,
        )
        .await
    }

    /// Rejects the current step; without a `rejected` edge that rejects the workflow.
    #[tracing::instrument(name = "workflows.reject", skip_all, fields(workflow_id = %id, user_id = %principal.user_id))]
    pub async fn reject(
        &self,
        principal: &Principal,
        id: WorkflowId,
        comments: Option<String>,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        self.decide(
            principal,
            id.uuid(),
            None,
            Decision::Reject,
            comments,
            reason,
            actor,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        principal: &Principal,
        id: Uuid,
        step_id: Option<&str>,
        decision: Decision,
        comments: Option<String>,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        check_remarks(comments.as_deref(), reason.as_deref())?;
        let req = DecisionRequest {
            principal: principal.clone(),
            id,
            step_id: step_id.map(str::to_owned),
            decision,
            comments,
            reason,
            actor: actor.clone(),
        };
        let decided = match self.decider.submit(req.clone()).await? {
            Outcome::Done(done) => (*done)?,
            Outcome::Alone => self.decide_alone(&req).await?,
        };
        // The first decision time of a step is what turns estimates on: refresh the medians
        // then, not on every decision.
        let step = decided.record.step_id.as_str();
        if decided.step_decided
            && self
                .step_medians
                .get(&decided.w.workflow_type)
                .await
                .is_some_and(|m| !m.contains_key(step))
        {
            self.step_medians.invalidate(&decided.w.workflow_type).await;
        }
        self.view_with(decided.w, decided.approvals).await
    }

    /// A decision in its own transaction.
    async fn decide_alone(&self, req: &DecisionRequest) -> Result<Decided, EngineError> {
        let (mut tx, w, version) = self
            .lock(req.id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow {}", req.id)))?;
        // The row lock above serialises deciders, so this read sees every earlier decision.
        let history = tx.approvals_in_tx(w.id).await?;
        let mut d = decide_locked(req, w, version, history)?;
        let entries = std::mem::take(&mut d.entries);
        self.commit_transition(
            tx,
            Some(&d.record),
            &d.prev,
            &d.w,
            &d.version.graph,
            entries,
            &req.actor,
        )
        .await?;
        Ok(d)
    }

    /// Approves each workflow's current step in its own transaction: one failure does not
    /// undo the others.
    #[tracing::instrument(name = "workflows.bulk_approve", skip_all, fields(count = ids.len(), user_id = %principal.user_id))]
    pub async fn bulk_approve(
        &self,
        principal: &Principal,
        ids: &[WorkflowId],
        comments: Option<String>,
        actor: &Actor,
    ) -> Result<Vec<BulkOutcome>, EngineError> {
        check_remarks(comments.as_deref(), None)?;
        if ids.is_empty() || ids.len() > MAX_BULK {
            return Err(DomainError::invalid(
                "workflowIds",
                format!("must name 1 to {MAX_BULK} workflows"),
            )
            .into());
        }
        // Several at a time, so they share transactions; one failure touches no other.
        let out = futures::stream::iter(ids.iter().copied())
            .map(|id| {
                let comments = comments.clone();
                async move {
                    let r = self.approve(principal, id, None, comments, actor).await;
                    (id, r)
                }
            })
            .buffered(BULK_CONCURRENCY)
            .collect()
            .await;
        Ok(out)
    }

    /// Completes the current task step of workflow `id` (an inbox item).
    #[tracing::instrument(name = "workflows.complete_task", skip_all, fields(workflow_id = %id, user_id = %principal.user_id))]
    pub async fn complete_task(
        &self,
        principal: &Principal,
        id: WorkflowId,
        comments: Option<String>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        let current = self.get(id).await?;
        let step = current.instance.current_step.clone();
        match current.step_kind {
            Some(StepKind::Task) => {
                self.approve(principal, id, step.as_deref(), comments, actor)
                    .await
            }
            Some(kind) => Err(invalid_transition(format!(
                "the current step is a {kind:?} step; approve or reject it instead"
            ))),
            None => Err(invalid_transition(format!(
                "the workflow is {}; no task is open",
                current.instance.status
            ))),
        }
    }
}

/// A decision on a workflow's current step, as the API takes it.
#[derive(Clone)]
pub(crate) struct DecisionRequest {
    principal: Principal,
    id: Uuid,
    step_id: Option<String>,
    decision: Decision,
    comments: Option<String>,
    reason: Option<String>,
    actor: Actor,
}

/// A decision worked out under its workflow's lock.
pub(crate) struct Decided {
    prev: Before,
    /// The workflow as the decision leaves it.
    w: Instance,
    version: Arc<Version>,
    record: Approval,
    /// Its timeline entries (taken when written).
    entries: Vec<TimelineEntry>,
    /// The step is decided (not waiting for more approvals).
    step_decided: bool,
    /// Every decision on the workflow, this one last.
    approvals: Vec<Approval>,
}

/// Decides `req` on the locked workflow `w`, given every earlier decision on it, by the
/// domain's rules ([`machine::decide`]). Writes nothing.
fn decide_locked(
    req: &DecisionRequest,
    mut w: Instance,
    version: Arc<Version>,
    history: Vec<Approval>,
) -> Result<Decided, EngineError> {
    let prev = Before::of(&w);
    let by = machine::Decider {
        user_id: req.principal.user_id,
        role: req.principal.role,
    };
    let input = DecisionInput {
        step_id: req.step_id.as_deref(),
        decision: req.decision,
        comments: req.comments.as_deref(),
        reason: req.reason.as_deref(),
    };
    let d = machine::decide(&mut w, &version.graph, &history, by, input, now())
        .map_err(machine_error)?;
    // The row lock made `history` complete; with this decision it is the whole list.
    let mut approvals = history;
    approvals.push(d.record.clone());
    Ok(Decided {
        prev,
        w,
        version,
        record: d.record,
        entries: d.entries,
        step_decided: d.step_decided,
        approvals,
    })
}

/// A batched decision: decided (and written, or failed with its batch's commit), or
/// refused with a client error.
pub(crate) type DecisionAnswer = Box<Result<Decided, EngineError>>;

/// Decides approvals on different workflows in one transaction (see [`crate::batch`]): the
/// workflows locked in id order in one statement, their decisions read in one, each request
/// decided by [`decide_locked`] as alone, every transition written in shared statements,
/// one commit.
///
/// A request goes back to be decided alone when its workflow is already in the batch (a
/// second decision must see the first), is missing, or runs on a version not in the cache,
/// and every request of a batch whose write failed.
pub(crate) struct Decider {
    pub(super) store: Arc<dyn Store>,
    pub(super) versions: Cache<(Uuid, u32), Arc<Version>>,
    pub(super) hub: Arc<crate::events::EventHub>,
}

impl Work for Decider {
    type Request = DecisionRequest;
    type Answer = DecisionAnswer;

    async fn run(&self, batch: &[DecisionRequest]) -> Vec<Outcome<DecisionAnswer>> {
        let alone = || batch.iter().map(|_| Outcome::Alone).collect();
        let Ok(mut tx) = self.store.begin().await else {
            return alone();
        };
        let mut ids: Vec<Uuid> = batch.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let Ok(locked) = tx.lock_workflows(&ids).await else {
            return alone();
        };
        let Ok(history) = tx.approvals_in_tx_for(&ids).await else {
            return alone();
        };
        let mut workflows: std::collections::HashMap<Uuid, Instance> =
            locked.into_iter().map(|w| (w.id, w)).collect();
        let mut histories: std::collections::HashMap<Uuid, Vec<Approval>> = Default::default();
        for a in history {
            histories.entry(a.workflow_id).or_default().push(a);
        }
        let mut outcomes: Vec<Outcome<DecisionAnswer>> = Vec::with_capacity(batch.len());
        let mut decided: Vec<(usize, Decided)> = Vec::new();
        for (i, req) in batch.iter().enumerate() {
            // A workflow's second request in the batch waits for the first's commit.
            let Some(w) = workflows.remove(&req.id) else {
                outcomes.push(Outcome::Alone);
                continue;
            };
            let Some(version) = self.versions.get(&(w.definition_id, w.version)).await else {
                outcomes.push(Outcome::Alone);
                continue;
            };
            let history = histories.remove(&w.id).unwrap_or_default();
            match decide_locked(req, w, version, history) {
                Ok(d) => {
                    decided.push((i, d));
                    outcomes.push(Outcome::Alone);
                }
                Err(e) if e.refusal().is_some() => outcomes.push(Outcome::Done(Box::new(Err(e)))),
                Err(_) => outcomes.push(Outcome::Alone),
            }
        }
        if decided.is_empty() {
            return outcomes;
        }
        let mut rows = Vec::with_capacity(decided.len());
        for (i, d) in &mut decided {
            if apply_effects(&mut tx, &d.w).await.is_err() {
                return alone();
            }
            // A decision in an automation's run moves its execution too.
            let synced =
                Workflows::sync_execution(&mut tx, &d.prev, &d.w, &d.version.graph, &d.entries);
            if synced.await.is_err() {
                return alone();
            }
            let entries = std::mem::take(&mut d.entries);
            let actor = &batch[*i].actor;
            match TransitionRows::of(&d.prev, &d.w, &d.version.graph, entries, actor) {
                Ok(r) => rows.push(r),
                Err(_) => return alone(),
            }
        }
        let writes: Vec<TransitionRef<'_>> = decided
            .iter()
            .zip(&rows)
            .map(|((_, d), r)| r.write_ref(&d.w, Some(&d.record)))
            .collect();
        if tx.record_transitions(&writes).await.is_err() {
            return alone();
        }
        drop(writes);
        match tx.commit().await {
            Ok(()) => {
                self.hub.notify_written();
                for (i, d) in decided {
                    outcomes[i] = Outcome::Done(Box::new(Ok(d)));
                }
            }
            Err(e) => {
                let e = EngineError::from(e);
                for (i, _) in decided {
                    outcomes[i] = Outcome::Done(Box::new(Err(copy(&e))));
                }
            }
        }
        outcomes
    }
}
