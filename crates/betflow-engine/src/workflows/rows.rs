//! Writing what a transition or a creation produced: the workflow row, its decision, the
//! timeline, and everything the domain derives from them (step runs, the next job, outbox
//! events, audit), plus the seeded types' declared effects, in one transaction.

use betflow_domain::audit::Actor;
use betflow_domain::workflow::Before;
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_domain::workflow::record::{Approval, Instance, TimelineEvent};
use betflow_domain::workflow::seeded::{DomainRow, Effect, effects};
use betflow_domain::workflow::timeline::{TimelineEntry, records};
use betflow_domain::workflow::transition::{self, Derived};
use betflow_store::{CreationRef, DomainRowRef, StoreError, Transaction, TransitionRef};

use super::Workflows;
use crate::EngineError;

/// What a transition writes beside the workflow's state: its timeline rows and what the
/// domain derived from it.
pub(super) struct TransitionRows {
    pub timeline: Vec<TimelineEvent>,
    pub derived: Derived,
}

impl TransitionRows {
    pub fn of(
        prev: &Before,
        w: &Instance,
        graph: &WorkflowGraph,
        entries: Vec<TimelineEntry>,
        actor: &Actor,
    ) -> Result<Self, EngineError> {
        let derived = transition::derive(prev, w, graph, &entries, actor)?;
        Ok(Self {
            timeline: records(entries),
            derived,
        })
    }

    pub fn write_ref<'a>(
        &'a self,
        w: &'a Instance,
        decision: Option<&'a Approval>,
    ) -> TransitionRef<'a> {
        TransitionRef {
            decision,
            workflow: w,
            step_runs: &self.derived.step_runs,
            job: self.derived.job.as_ref(),
            timeline: &self.timeline,
            events: &self.derived.events,
            audit: &self.derived.audit,
        }
    }
}

/// Applies the effects the workflow's type declares for the state `w` is in, in `tx`.
pub(super) async fn apply_effects(
    tx: &mut Box<dyn Transaction>,
    w: &Instance,
) -> Result<(), EngineError> {
    for effect in effects(w) {
        match effect {
            Effect::SetContentStatus { status } => {
                tx.set_content_status(w.id, status, w.updated_at).await?;
            }
            Effect::Enqueue(job) => {
                tx.enqueue_job(&job).await?;
            }
            Effect::Skip { reason } => {
                tracing::warn!(workflow = %w.id, reason, "workflow effect skipped");
            }
        }
    }
    Ok(())
}

impl Workflows {
    /// Writes a transition of the locked workflow `w` (the decision that caused it, its row,
    /// the effects its type declares, and what the domain derives: step runs, the job its new
    /// step needs, timeline, outbox and audit rows) and commits.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn commit_transition(
        &self,
        mut tx: Box<dyn Transaction>,
        decision: Option<&Approval>,
        prev: &Before,
        w: &Instance,
        graph: &WorkflowGraph,
        entries: Vec<TimelineEntry>,
        actor: &Actor,
    ) -> Result<(), EngineError> {
        apply_effects(&mut tx, w).await?;
        Self::sync_execution(&mut tx, prev, w, graph, &entries).await?;
        let rows = TransitionRows::of(prev, w, graph, entries, actor)?;
        tx.record_transitions(&[rows.write_ref(w, decision)])
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } if decision.is_some() => {
                    EngineError::Conflict("you already decided this step".into())
                }
                other => other.into(),
            })?;
        tx.commit().await?;
        self.hub.notify_written();
        Ok(())
    }
}

/// A new workflow's rows, ready to write.
pub(super) struct Creation {
    pub w: Instance,
    row: Option<DomainRow>,
    timeline: Vec<TimelineEvent>,
    derived: Derived,
}

impl Creation {
    pub fn new(
        w: Instance,
        row: Option<DomainRow>,
        entries: Vec<TimelineEntry>,
        derived: Derived,
    ) -> Self {
        Self {
            w,
            row,
            timeline: records(entries),
            derived,
        }
    }

    pub fn rows(&self) -> CreationRef<'_> {
        CreationRef {
            workflow: &self.w,
            row: self.row.as_ref().map(|r| match r {
                DomainRow::Line(line) => DomainRowRef::Line(line),
                DomainRow::Content(content) => DomainRowRef::Content(content),
            }),
            step_runs: &self.derived.step_runs,
            job: self.derived.job.as_ref(),
            timeline: &self.timeline,
            events: &self.derived.events,
            audit: &self.derived.audit,
        }
    }
}
