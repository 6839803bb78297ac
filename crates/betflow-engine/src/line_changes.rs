//! Odds changes that need approval. A change above the threshold (its size in percent, or
//! the liability the selection carries) does not apply directly: it opens a
//! `line_change_approval` workflow, and when that completes an `apply_odds_change` job sets
//! the odds, with their price history, in the worker.

use betflow_domain::DomainError;
use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::ids::SelectionId;
use betflow_domain::jobs::ApplyOddsChange;
use betflow_domain::sportsbook::catalog::{PriceChange, Selection};
use betflow_domain::sportsbook::odds::Odds;
use betflow_domain::workflow::seeded::effects::LINE_CHANGE_APPROVAL;
use betflow_domain::workflow::status::Priority;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::identity::Principal;
use crate::workflows::{NewWorkflow, WorkflowView};
use crate::{Engine, EngineError};

/// Where an odds change stops applying directly: a pure rule of the domain, with the
/// liability in minor units like every amount of money.
pub use betflow_domain::workflow::seeded::LineChangeSettings;

/// What changing a selection did.
#[derive(Debug, Clone)]
pub enum SelectionUpdate {
    Applied(Selection),
    /// The other fields applied; the odds wait for this workflow.
    PendingApproval {
        selection: Selection,
        workflow: Box<WorkflowView>,
    },
}

impl Engine {
    /// Changes a selection. An odds change above [`LineChangeSettings`] goes to approval.
    pub async fn update_selection(
        &self,
        principal: &Principal,
        id: SelectionId,
        patch: &Value,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<SelectionUpdate, EngineError> {
        let current: Selection = self.catalog().get(id).await?;
        // The odds asked for pass the rules of `POST /selections` before anything is
        // measured or written, so absurd numbers are a 400, not an overflow.
        let asked = match patch.get("odds") {
            None | Some(Value::Null) => None,
            Some(v) => Some(Odds::from_json("odds", v)?),
        };
        let Some(new_odds) = asked.filter(|o| *o != current.odds) else {
            return Ok(SelectionUpdate::Applied(
                self.catalog()
                    .update(principal, id, patch, reason, actor)
                    .await?,
            ));
        };
        let old_odds = current.odds;
        let exposure = self.bets().selection_exposure(id).await?;
        let liability = exposure.net_liability.max(0);
        if !self
            .line_change
            .needs_approval(old_odds, new_odds, liability)
        {
            return Ok(SelectionUpdate::Applied(
                self.catalog()
                    .update(principal, id, patch, reason, actor)
                    .await?,
            ));
        }
        // Everything else in the patch applies now; the odds wait.
        let mut rest = patch.clone();
        if let Some(m) = rest.as_object_mut() {
            m.remove("odds");
        }
        let selection: Selection = if rest.as_object().is_some_and(|m| !m.is_empty()) {
            self.catalog()
                .update(principal, id, &rest, reason.clone(), actor)
                .await?
        } else {
            current.clone()
        };
        let market = self
            .store
            .get_market(selection.market_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("market {}", selection.market_id)))?;
        let event_name = self.event_name(market.event_id).await?;
        let workflow = self
            .workflows()
            .create(
                principal,
                NewWorkflow {
                    workflow_type: LINE_CHANGE_APPROVAL.into(),
                    data: json!({
                        "lineId": id.to_string(),
                        "selectionId": id,
                        "eventName": event_name,
                        "marketType": market.market_type.as_str(),
                        "oldOdds": old_odds,
                        "newOdds": new_odds,
                        // Minor units, like every amount in betflow.
                        "financialImpact": liability,
                        "requestedBy": principal.username,
                        "reason": reason,
                    }),
                    priority: Priority::High,
                    start: true,
                    tags: vec!["odds-change".into()],
                },
                actor,
            )
            .await?;
        Ok(SelectionUpdate::PendingApproval {
            selection,
            workflow: Box::new(workflow),
        })
    }

    async fn event_name(&self, event_id: Uuid) -> Result<String, EngineError> {
        let Some(event) = self.store.get_event(event_id).await? else {
            return Ok(String::new());
        };
        let mut names = Vec::new();
        for team in [event.home_team_id, event.away_team_id] {
            names.push(
                self.store
                    .get_team(team)
                    .await?
                    .map_or_else(|| team.to_string(), |t| t.display_name),
            );
        }
        Ok(names.join(" v "))
    }

    /// The `apply_odds_change` action of a completed line-change approval: sets the approved
    /// odds if they are valid odds (checked again here, as `POST /selections` would: this
    /// step writes them, whatever path created the workflow) and the selection still has
    /// the odds the approval was for. Otherwise the selection is left alone and the skip
    /// is audited with its reason.
    ///
    /// The job's odds stay JSON until here: they are checked by [`Odds::from_json`], so a
    /// payload that somehow carries bad odds is refused and audited, never written, and never
    /// retried.
    pub(crate) async fn apply_odds_change(
        &self,
        p: &ApplyOddsChange,
        at: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let new_odds = Odds::from_json("newOdds", &p.new_odds);
        let old_odds = betflow_domain::workflow::seeded::decimal("oldOdds", Some(&p.old_odds));
        let mut tx = self.store.begin().await?;
        let Some(current) = tx.lock_selection(p.selection_id).await? else {
            return Ok(());
        };
        let actor = Actor {
            user_id: p.created_by,
            ..Actor::default()
        };
        let skipped = match (&new_odds, &old_odds) {
            (Err(DomainError::Validation(v)), _) => Some(format!(
                "the approved odds are not valid decimal odds: {}",
                v.iter()
                    .map(|v| v.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            (_, Ok(Some(old))) if current.odds == *old => None,
            (_, Ok(Some(_))) => Some("the odds moved after the approval was requested".to_owned()),
            _ => Some("the approval names no valid odds it replaces".to_owned()),
        };
        let new_odds = match (new_odds, skipped) {
            (Ok(new_odds), None) => new_odds,
            (_, reason) => {
                let entry = AuditEntry::new(
                    "selections",
                    p.selection_id,
                    AuditAction::Update,
                    Some(json!({"odds": current.odds})),
                    Some(json!({"skipped": reason, "approvedOdds": p.new_odds,
                                "workflowId": p.workflow_id})),
                    actor,
                )?;
                tx.insert_audit(&entry).await?;
                tx.commit().await?;
                return Ok(());
            }
        };
        let mut next = current.clone();
        next.odds = new_odds;
        next.updated_at = at;
        tx.insert_price_change(&PriceChange {
            id: Uuid::now_v7(),
            selection_id: p.selection_id,
            old_odds: Some(current.odds),
            new_odds,
            changed_by: p.created_by,
            reason: Some(format!("approved in workflow {}", p.workflow_id)),
            created_at: at,
        })
        .await?;
        tx.save_selection(&next, true).await?;
        let entry = AuditEntry::new(
            "selections",
            p.selection_id,
            AuditAction::Update,
            serde_json::to_value(&current).ok(),
            serde_json::to_value(&next).ok(),
            actor,
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        Ok(())
    }
}
