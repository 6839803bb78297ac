//! What a workflow response shows beside the row: its decisions, progress, whether it is
//! overdue, its current step, and an estimate of when it completes.

use betflow_domain::time::now;
use betflow_domain::workflow::WorkflowStatus;
use betflow_domain::workflow::graph::{Branch, Next, StepKind, WorkflowGraph};
use betflow_domain::workflow::record::{Approval, Instance};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{WorkflowView, Workflows};
use crate::EngineError;

impl Workflows {
    /// Now plus the median time of each step left on the approval path.
    async fn estimate(
        &self,
        w: &Instance,
        graph: &WorkflowGraph,
    ) -> Result<Option<DateTime<Utc>>, EngineError> {
        let (WorkflowStatus::InProgress, Some(current)) = (w.status, w.current_step.as_deref())
        else {
            return Ok(None);
        };
        let medians = self.medians(&w.workflow_type).await?;
        let t = now();
        let mut minutes = 0.0;
        let mut at = current.to_owned();
        for hop in 0..=graph.steps.len() {
            let Some(&m) = medians.get(&at) else {
                return Ok(None);
            };
            minutes += if hop == 0 {
                let spent = w
                    .step_started_at
                    .map(|s| (t - s).num_milliseconds().max(0) as f64 / 60_000.0)
                    .unwrap_or(0.0);
                (m - spent).max(0.0)
            } else {
                m
            };
            let kind = graph.step(&at).map(|s| s.kind);
            let branch = if kind == Some(StepKind::Approval) {
                Branch::Approved
            } else {
                Branch::Default
            };
            match graph.next(&at, branch) {
                Next::Step(next) => at = next,
                _ => {
                    return Ok(Some(
                        t + chrono::Duration::milliseconds((minutes * 60_000.0) as i64),
                    ));
                }
            }
        }
        Ok(None)
    }

    pub(super) async fn view(&self, w: Instance) -> Result<WorkflowView, EngineError> {
        let approvals = self.store.list_approvals(w.id).await?;
        self.view_with(w, approvals).await
    }

    /// Views of a page of workflows, with one query for all their decisions.
    pub(super) async fn views(
        &self,
        rows: Vec<Instance>,
    ) -> Result<Vec<WorkflowView>, EngineError> {
        let ids: Vec<Uuid> = rows.iter().map(|w| w.id).collect();
        let mut by_workflow: std::collections::HashMap<Uuid, Vec<Approval>> =
            std::collections::HashMap::new();
        for a in self.store.list_approvals_for(&ids).await? {
            by_workflow.entry(a.workflow_id).or_default().push(a);
        }
        let mut out = Vec::with_capacity(rows.len());
        for w in rows {
            let approvals = by_workflow.remove(&w.id).unwrap_or_default();
            out.push(self.view_with(w, approvals).await?);
        }
        Ok(out)
    }

    pub(super) async fn view_with(
        &self,
        w: Instance,
        approvals: Vec<Approval>,
    ) -> Result<WorkflowView, EngineError> {
        let version = self.version(w.definition_id, w.version).await?;
        let progress = if w.status == WorkflowStatus::Completed {
            100
        } else {
            version.graph.progress(w.completed_steps as usize)
        };
        let estimated_completion = self.estimate(&w, &version.graph).await?;
        let step = w
            .current_step
            .as_deref()
            .and_then(|s| version.graph.step(s));
        let step_name = step.map(|s| s.name.clone());
        let step_kind = step.map(|s| s.kind);
        Ok(WorkflowView {
            overdue: w.is_overdue(now()),
            instance: w,
            approvals,
            progress,
            step_name,
            step_kind,
            estimated_completion,
        })
    }
}
