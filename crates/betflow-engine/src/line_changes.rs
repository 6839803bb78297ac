//! Odds changes that need approval. A change above the threshold (its size in percent, or
//! the liability the selection carries) does not apply directly: it opens a
//! `line_change_approval` workflow, and when that completes an `apply_odds_change` job sets
//! the odds, with their price history, in the worker.

use betflow_domain::DomainError;
use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::sportsbook::catalog::{PriceChange, Selection};
use betflow_domain::workflow::status::Priority;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::identity::Principal;
use crate::workflows::{NewWorkflow, WorkflowView};
use crate::{Engine, EngineError};

/// Where an odds change stops applying directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineChangeSettings {
    /// An odds change larger than this, in percent of the old odds.
    pub percent: Decimal,
    /// Or a selection whose net liability (what the house pays if it wins, less the
    /// market's stakes) is above this, in major units of the bets' currency.
    pub liability: Decimal,
}

impl Default for LineChangeSettings {
    fn default() -> Self {
        Self {
            percent: Decimal::from(10),
            liability: Decimal::from(10_000),
        }
    }
}

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApplyPayload {
    workflow_id: Uuid,
    selection_id: Uuid,
    old_odds: Decimal,
    new_odds: Decimal,
    created_by: Option<Uuid>,
}

impl Engine {
    /// Changes a selection. An odds change above [`LineChangeSettings`] goes to approval.
    pub async fn update_selection(
        &self,
        principal: &Principal,
        id: Uuid,
        patch: &Value,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<SelectionUpdate, EngineError> {
        let current: Selection = self.catalog_get(id).await?;
        let asked = match patch.get("odds") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                serde_json::from_value::<Decimal>(v.clone())
                    .map_err(|_| DomainError::invalid("odds", "a decimal number above 1.0"))?,
            ),
        };
        let Some(new_odds) = asked.filter(|o| *o != current.odds) else {
            return Ok(SelectionUpdate::Applied(
                self.update_catalog(principal, id, patch, reason, actor)
                    .await?,
            ));
        };
        let old_odds = current.odds;
        let change = ((new_odds - old_odds) / old_odds * Decimal::from(100)).abs();
        let exposure = self.selection_exposure(id).await?;
        let liability = Decimal::new(exposure.net_liability.max(0), 2);
        let settings = self.line_change;
        if change <= settings.percent && liability <= settings.liability {
            return Ok(SelectionUpdate::Applied(
                self.update_catalog(principal, id, patch, reason, actor)
                    .await?,
            ));
        }
        // Everything else in the patch applies now; the odds wait (checked first, so a bad
        // patch opens no workflow).
        let mut rest = patch.clone();
        if let Some(m) = rest.as_object_mut() {
            m.remove("odds");
        }
        if new_odds <= Decimal::ONE {
            return Err(DomainError::invalid("odds", "decimal odds above 1.0").into());
        }
        let selection: Selection = if rest.as_object().is_some_and(|m| !m.is_empty()) {
            self.update_catalog(principal, id, &rest, reason.clone(), actor)
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
                    workflow_type: "line_change_approval".into(),
                    data: json!({
                        "lineId": id.to_string(),
                        "selectionId": id,
                        "eventName": event_name,
                        "marketType": market.market_type.as_str(),
                        "oldOdds": old_odds.normalize().to_string(),
                        "newOdds": new_odds.normalize().to_string(),
                        "financialImpact": liability.normalize().to_string(),
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
    /// odds if the selection still has the odds the approval was for; a selection whose odds
    /// moved since is left alone and the skip is audited.
    pub(crate) async fn apply_odds_change(
        &self,
        payload: &Value,
        at: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let p: ApplyPayload = serde_json::from_value(payload.clone())
            .map_err(|e| EngineError::Internal(format!("apply_odds_change payload: {e}")))?;
        let mut tx = self.store.begin().await?;
        let Some(current) = tx.lock_selection(p.selection_id).await? else {
            return Ok(());
        };
        let actor = Actor {
            user_id: p.created_by,
            ..Actor::default()
        };
        if current.odds != p.old_odds {
            let entry = AuditEntry::new(
                "selections",
                p.selection_id,
                AuditAction::Update,
                Some(json!({"odds": current.odds})),
                Some(
                    json!({"skipped": "the odds moved after the approval was requested",
                            "approvedOdds": p.new_odds, "workflowId": p.workflow_id}),
                ),
                actor,
            )?;
            tx.insert_audit(&entry).await?;
            tx.commit().await?;
            return Ok(());
        }
        let mut next = current.clone();
        next.odds = p.new_odds;
        next.updated_at = at;
        tx.insert_price_change(&PriceChange {
            id: Uuid::now_v7(),
            selection_id: p.selection_id,
            old_odds: Some(current.odds),
            new_odds: p.new_odds,
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
