//! What the two seeded workflow types do beyond the generic machine, declared as data.
//!
//! The engine runs every workflow the same way. A seeded type adds: a row of its own when a
//! workflow is created ([`domain_row`]), things that must exist before it is created or
//! edited ([`requirements`]), and effects when it finishes ([`effects`]). The engine applies
//! whatever these return inside the same transaction, without knowing any type by name.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{RiskThresholds, assess_line_change, line_selection, minor_units};
use crate::DomainError;
use crate::jobs::{ApplyOddsChange, JobArgs, NewJob};
use crate::workflow::WorkflowStatus;
use crate::workflow::record::{BettingContent, BettingLine, Instance};

/// The seeded content workflow's key.
pub const CONTENT_PUBLISHING: &str = "content_publishing";
/// The seeded line-change workflow's key.
pub const LINE_CHANGE_APPROVAL: &str = "line_change_approval";

/// A write a finished workflow asks for, in its transition's transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Set the status of the workflow's `betting_content` row.
    SetContentStatus { status: &'static str },
    /// Enqueue a job (an approved odds change's `apply_odds_change`).
    Enqueue(NewJob),
    /// An effect that cannot apply and is skipped; the engine logs the reason.
    Skip { reason: String },
}

/// The effects of the transition that left `w` as it is: nothing until it finishes.
pub fn effects(w: &Instance) -> Vec<Effect> {
    let mut out = Vec::new();
    let finished = match w.status {
        WorkflowStatus::Completed => "published",
        WorkflowStatus::Rejected => "rejected",
        WorkflowStatus::Cancelled => "cancelled",
        // A failed workflow may still be retried from its failed step: nothing is final yet.
        WorkflowStatus::Pending | WorkflowStatus::InProgress | WorkflowStatus::Failed => {
            return out;
        }
    };
    if w.workflow_type == CONTENT_PUBLISHING {
        out.push(Effect::SetContentStatus { status: finished });
    }
    // An approved odds change from the catalog: its `apply_odds_change` action.
    if w.workflow_type == LINE_CHANGE_APPROVAL
        && w.status == WorkflowStatus::Completed
        && let Some(selection) = w.data.get("selectionId")
    {
        // A selection id that is not a UUID names no selection: the job could only die.
        match serde_json::from_value::<Uuid>(selection.clone()) {
            Ok(selection_id) => {
                let args = JobArgs::ApplyOddsChange(ApplyOddsChange {
                    workflow_id: w.id,
                    selection_id,
                    old_odds: w.data.get("oldOdds").cloned().unwrap_or(Value::Null),
                    new_odds: w.data.get("newOdds").cloned().unwrap_or(Value::Null),
                    created_by: w.created_by,
                });
                out.push(Effect::Enqueue(NewJob::new(&args, w.updated_at)));
            }
            Err(e) => out.push(Effect::Skip {
                reason: format!("approved line change names no selection ({e}); no odds to apply"),
            }),
        }
    }
    out
}

/// The seed's `betting_lines` / `betting_content` row of a seeded workflow.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainRow {
    Line(BettingLine),
    Content(BettingContent),
}

impl DomainRow {
    /// The row, for the workflow `id` (known only once the workflow is built).
    pub fn for_workflow(mut self, id: Uuid) -> Self {
        match &mut self {
            DomainRow::Line(line) => line.workflow_id = id,
            DomainRow::Content(content) => content.workflow_id = id,
        }
        self
    }
}

/// The row a workflow of type `key` keeps beside it, checked before anything is written: a
/// line change's `newOdds` obey the rules of `POST /selections` (they are what its approval
/// sets), and `financialImpact` is a whole number of minor units. Called on edits too, for
/// the checks: edited data cannot carry what creation refuses.
pub fn domain_row(
    key: &str,
    data: &Value,
    risk: &RiskThresholds,
    t: DateTime<Utc>,
) -> Result<Option<DomainRow>, DomainError> {
    let text = |f: &str| data.get(f).and_then(Value::as_str).map(str::to_owned);
    match key {
        LINE_CHANGE_APPROVAL => {
            let a = assess_line_change(data, risk)?;
            Ok(Some(DomainRow::Line(BettingLine {
                id: Uuid::now_v7(),
                workflow_id: Uuid::nil(),
                line_id: text("lineId").unwrap_or_default(),
                event_name: text("eventName"),
                sport: text("sport"),
                league: text("league"),
                market_type: text("marketType"),
                old_odds: a.old_odds,
                new_odds: a.new_odds.get(),
                odds_change_percentage: a.odds_change_percentage,
                total_exposure: a.financial_impact,
                risk_level: a.risk_level,
                metadata: json!({"requestedBy": data.get("requestedBy")}),
                created_at: t,
            })))
        }
        CONTENT_PUBLISHING => {
            let impact = minor_units("financialImpact", data.get("financialImpact"))?.unwrap_or(0);
            Ok(Some(DomainRow::Content(BettingContent {
                id: Uuid::now_v7(),
                workflow_id: Uuid::nil(),
                content_type: text("contentType").unwrap_or_default(),
                content_id: text("contentId").unwrap_or_else(|| Uuid::now_v7().to_string()),
                title: text("title").unwrap_or_default(),
                jurisdiction: text("jurisdiction"),
                financial_impact: impact,
                metadata: json!({"markets": data.get("markets")}),
                status: "draft".to_owned(),
                created_at: t,
                updated_at: t,
            })))
        }
        _ => Ok(None),
    }
}

/// Something that must exist before a workflow is created or its data edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// A catalog selection: a line change's approval sets its odds, and an unknown id would
    /// only surface when it completes.
    SelectionExists(Uuid),
}

impl Requirement {
    /// The refusal when it does not hold.
    pub fn refusal(&self) -> DomainError {
        match self {
            Requirement::SelectionExists(_) => {
                DomainError::invalid("selectionId", "names no selection")
            }
        }
    }
}

/// What must exist for `data` of a workflow of type `key`.
pub fn requirements(key: &str, data: &Value) -> Result<Vec<Requirement>, DomainError> {
    if key != LINE_CHANGE_APPROVAL {
        return Ok(Vec::new());
    }
    Ok(line_selection(data)?
        .map(Requirement::SelectionExists)
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobKind;
    use crate::workflow::Priority;

    fn workflow(kind: &str, status: WorkflowStatus, data: Value) -> Instance {
        let t = crate::time::now();
        Instance {
            id: Uuid::now_v7(),
            definition_id: Uuid::now_v7(),
            workflow_type: kind.into(),
            version: 1,
            status,
            priority: Priority::High,
            current_step: None,
            step_visit: 3,
            step_started_at: None,
            escalated_roles: vec![],
            assignees: vec![],
            completed_steps: 3,
            data,
            tags: vec![],
            created_by: Some(Uuid::now_v7()),
            created_at: t,
            updated_at: t,
            started_at: Some(t),
            completed_at: Some(t),
            due_at: None,
        }
    }

    #[test]
    fn content_takes_the_workflows_end() {
        for (status, content) in [
            (WorkflowStatus::Completed, "published"),
            (WorkflowStatus::Rejected, "rejected"),
            (WorkflowStatus::Cancelled, "cancelled"),
        ] {
            let w = workflow(CONTENT_PUBLISHING, status, json!({}));
            assert_eq!(
                effects(&w),
                vec![Effect::SetContentStatus { status: content }]
            );
        }
        let running = workflow(CONTENT_PUBLISHING, WorkflowStatus::InProgress, json!({}));
        assert!(effects(&running).is_empty());
    }

    #[test]
    fn an_approved_line_change_enqueues_its_odds() {
        let sel = Uuid::now_v7();
        let data = json!({"selectionId": sel, "oldOdds": "2.0", "newOdds": 2.5});
        let w = workflow(
            LINE_CHANGE_APPROVAL,
            WorkflowStatus::Completed,
            data.clone(),
        );
        let got: [Effect; 1] = effects(&w).try_into().unwrap();
        let [Effect::Enqueue(job)] = got else {
            panic!("one job expected");
        };
        assert_eq!(job.kind, JobKind::ApplyOddsChange.as_str());
        assert_eq!(job.run_at, w.updated_at);
        assert_eq!(
            job.payload,
            json!({"workflowId": w.id, "selectionId": sel, "oldOdds": "2.0",
                   "newOdds": 2.5, "createdBy": w.created_by})
        );
        let rejected = workflow(LINE_CHANGE_APPROVAL, WorkflowStatus::Rejected, data);
        assert!(effects(&rejected).is_empty());
        let without = workflow(LINE_CHANGE_APPROVAL, WorkflowStatus::Completed, json!({}));
        assert!(effects(&without).is_empty());
        let bad = json!({"selectionId": "nope"});
        let bad = workflow(LINE_CHANGE_APPROVAL, WorkflowStatus::Completed, bad);
        assert!(matches!(effects(&bad)[..], [Effect::Skip { .. }]));
        let other = workflow("my_flow", WorkflowStatus::Completed, json!({}));
        assert!(effects(&other).is_empty());
    }

    #[test]
    fn rows_and_requirements_follow_the_type() {
        let t = crate::time::now();
        let risk = RiskThresholds::default();
        let line = json!({"lineId": "l1", "oldOdds": 2.0, "newOdds": "2.2"});
        let row = domain_row(LINE_CHANGE_APPROVAL, &line, &risk, t).unwrap();
        let id = Uuid::now_v7();
        match row.map(|r| r.for_workflow(id)) {
            Some(DomainRow::Line(l)) => {
                assert_eq!((l.workflow_id, l.line_id.as_str()), (id, "l1"));
            }
            other => panic!("{other:?}"),
        }
        assert!(domain_row(LINE_CHANGE_APPROVAL, &json!({}), &risk, t).is_err());
        let content = json!({"title": "T", "contentType": "promo"});
        match domain_row(CONTENT_PUBLISHING, &content, &risk, t).unwrap() {
            Some(DomainRow::Content(c)) => assert_eq!(c.status, "draft"),
            other => panic!("{other:?}"),
        }
        assert_eq!(domain_row("my_flow", &content, &risk, t).unwrap(), None);

        let sel = Uuid::now_v7();
        let data = json!({"selectionId": sel});
        assert_eq!(
            requirements(LINE_CHANGE_APPROVAL, &data).unwrap(),
            vec![Requirement::SelectionExists(sel)]
        );
        assert!(requirements("my_flow", &data).unwrap().is_empty());
        assert!(requirements(LINE_CHANGE_APPROVAL, &json!({"selectionId": 4})).is_err());
        let DomainError::Validation(v) = Requirement::SelectionExists(sel).refusal();
        assert_eq!(v[0].field, "selectionId");
    }
}
