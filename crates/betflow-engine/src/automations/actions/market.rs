//! The market actions: `market.suspend`, `market.reopen` (`sportsbook:manage`), `market.void`
//! and `market.settle` (`sportsbook:settle`), through the same catalog and settlement services
//! as the API, on behalf of the definition's owner (who must hold the permission) and audited
//! as the automation acting for them.

use std::collections::HashMap;

use async_trait::async_trait;
use betflow_domain::ids::MarketId;
use betflow_domain::sportsbook::bets::LegResult;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Action, ActionCall, ActionError, ActionOutcome, ActionSpec};
use super::{acting, support};
use crate::bets::SettleMode;

/// Which market action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketOp {
    Suspend,
    Reopen,
    Void,
    Settle,
}

impl MarketOp {
    pub const ALL: [MarketOp; 4] = [Self::Suspend, Self::Reopen, Self::Void, Self::Settle];

    fn key(self) -> &'static str {
        match self {
            Self::Suspend => "market.suspend",
            Self::Reopen => "market.reopen",
            Self::Void => "market.void",
            Self::Settle => "market.settle",
        }
    }

    fn permission(self) -> &'static str {
        match self {
            Self::Suspend | Self::Reopen => "sportsbook:manage",
            Self::Void | Self::Settle => "sportsbook:settle",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    market_id: Uuid,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    results: Option<HashMap<Uuid, LegResult>>,
}

pub struct MarketAction {
    op: MarketOp,
    spec: ActionSpec,
}

fn report_schema() -> Value {
    json!({
        "type": "object",
        "required": ["marketId", "marketStatus", "betsSettled", "legsUpdated", "netPayout"],
        "properties": {
            "marketId": {"type": "string", "format": "uuid"},
            "marketStatus": {"type": "string"},
            "betsSettled": {"type": "integer"},
            "betsResettled": {"type": "integer"},
            "legsUpdated": {"type": "integer"},
            "netPayout": {"type": "integer", "description": "minor units"}
        }
    })
}

impl MarketAction {
    pub fn new(op: MarketOp) -> Self {
        let market_id = json!({"type": "string", "format": "uuid"});
        let (description, config_schema, output_schema) = match op {
            MarketOp::Suspend | MarketOp::Reopen => (
                if op == MarketOp::Suspend {
                    "Suspends an open market (no bets until reopened)."
                } else {
                    "Reopens a suspended market."
                },
                json!({"type": "object", "required": ["marketId"], "additionalProperties": false,
                       "properties": {"marketId": market_id,
                                      "reason": {"type": "string", "maxLength": 500}}}),
                json!({"type": "object", "required": ["marketId", "status"],
                       "properties": {"marketId": {"type": "string", "format": "uuid"},
                                      "status": {"type": "string"}}}),
            ),
            MarketOp::Void => (
                "Voids a market: every bet on it is refunded.",
                json!({"type": "object", "required": ["marketId", "reason"],
                       "additionalProperties": false,
                       "properties": {"marketId": market_id,
                                      "reason": {"type": "string", "minLength": 1,
                                                 "maxLength": 500}}}),
                report_schema(),
            ),
            MarketOp::Settle => (
                "Settles a market with a result for each of its selections.",
                json!({"type": "object", "required": ["marketId", "results"],
                       "additionalProperties": false,
                       "properties": {"marketId": market_id,
                                      "reason": {"type": "string", "maxLength": 500},
                                      "results": {"type": "object",
                                          "propertyNames": {"format": "uuid"},
                                          "additionalProperties": {"type": "string",
                                              "enum": ["win", "loss", "push", "void"]}}}}),
                report_schema(),
            ),
        };
        Self {
            op,
            spec: ActionSpec {
                key: op.key(),
                name: op.key(),
                description,
                config_schema,
                output_schema,
                credential_type: None,
                external: true,
            },
        }
    }
}

#[async_trait]
impl Action for MarketAction {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let key = self.op.key();
        let c: Config = support::config(key, call.config)?;
        if c.results.is_some() && self.op != MarketOp::Settle {
            return Err(ActionError::permanent(format!(
                "{key}: results belong to market.settle"
            )));
        }
        let principal = acting::owner(key, &call).await?;
        acting::require(key, &principal, self.op.permission())?;
        let actor = acting::actor(&call);
        let id = MarketId::from(c.market_id);
        let err = |e| acting::engine_error(key, e);
        let out = match self.op {
            MarketOp::Suspend | MarketOp::Reopen => {
                let m = call
                    .engine
                    .catalog()
                    .set_market_suspended(id, self.op == MarketOp::Suspend, &actor)
                    .await
                    .map_err(err)?;
                json!({"marketId": c.market_id, "status": m.status.as_str()})
            }
            MarketOp::Void | MarketOp::Settle => {
                let (results, mode) = if self.op == MarketOp::Void {
                    let reason = c
                        .reason
                        .filter(|r| !r.trim().is_empty())
                        .ok_or_else(|| ActionError::permanent(format!("{key}: needs a reason")))?;
                    (HashMap::new(), SettleMode::Void { reason })
                } else {
                    let results = c
                        .results
                        .ok_or_else(|| ActionError::permanent(format!("{key}: needs results")))?;
                    (results, SettleMode::Settle)
                };
                let report = call
                    .engine
                    .bets()
                    .settle_market(id, results, mode, &actor)
                    .await
                    .map_err(err)?;
                serde_json::to_value(&report)
                    .map_err(|e| ActionError::permanent(format!("{key}: {e}")))?
            }
        };
        Ok(ActionOutcome::Done(out))
    }
}
