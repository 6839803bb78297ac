//! `odds.change`: changes a selection's odds through the line-change path
//! (`Engine::update_selection`), so the same validation applies and a change above the
//! threshold opens a `line_change_approval` instead of applying. On behalf of the definition's
//! owner (`sportsbook:manage`), audited as the automation acting for them.

use async_trait::async_trait;
use betflow_domain::ids::SelectionId;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Action, ActionCall, ActionError, ActionOutcome, ActionSpec};
use super::{acting, support};
use crate::line_changes::SelectionUpdate;

const KEY: &str = "odds.change";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    selection_id: Uuid,
    odds: Value,
    #[serde(default)]
    reason: Option<String>,
}

pub struct OddsChange {
    spec: ActionSpec,
}

impl Default for OddsChange {
    fn default() -> Self {
        Self::new()
    }
}

impl OddsChange {
    pub fn new() -> Self {
        Self {
            spec: ActionSpec {
                key: KEY,
                name: "Change odds",
                description: "Changes a selection's odds by the line-change rules: above the \
                              threshold it opens a line_change_approval instead of applying.",
                config_schema: json!({
                    "type": "object",
                    "required": ["selectionId", "odds"],
                    "additionalProperties": false,
                    "properties": {
                        "selectionId": {"type": "string", "format": "uuid"},
                        "odds": {"type": ["number", "string"],
                                 "description": "decimal odds, as POST /selections takes them"},
                        "reason": {"type": "string", "maxLength": 500}
                    }
                }),
                output_schema: json!({
                    "type": "object",
                    "required": ["selectionId", "applied"],
                    "properties": {
                        "selectionId": {"type": "string", "format": "uuid"},
                        "applied": {"type": "boolean",
                                    "description": "false: waiting for the approval"},
                        "odds": {"description": "the selection's odds now"},
                        "workflowId": {"type": "string", "format": "uuid",
                                       "description": "the line_change_approval, if opened"}
                    }
                }),
                credential_type: None,
                external: true,
            },
        }
    }
}

#[async_trait]
impl Action for OddsChange {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let c: Config = support::config(KEY, call.config)?;
        let principal = acting::owner(KEY, &call).await?;
        acting::require(KEY, &principal, "sportsbook:manage")?;
        let actor = acting::actor(&call);
        let update = call
            .engine
            .update_selection(
                &principal,
                SelectionId::from(c.selection_id),
                &json!({"odds": c.odds}),
                c.reason,
                &actor,
            )
            .await
            .map_err(|e| acting::engine_error(KEY, e))?;
        let out = match update {
            SelectionUpdate::Applied(s) => {
                json!({"selectionId": c.selection_id, "applied": true, "odds": s.odds})
            }
            SelectionUpdate::PendingApproval {
                selection,
                workflow,
            } => json!({"selectionId": c.selection_id, "applied": false,
                        "odds": selection.odds, "workflowId": workflow.instance.id}),
        };
        Ok(ActionOutcome::Done(out))
    }
}
