//! Settling markets: settle, void and resettle, each leg exactly once, in one transaction
//! under the market's lock.

use std::collections::{BTreeMap, HashMap};

use betflow_domain::DomainError;
use betflow_domain::Violation;
use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::ids::MarketId;
use betflow_domain::sportsbook::bets::{BetStatus, LegResult};
use betflow_domain::sportsbook::catalog::{Market, MarketStatus};
use betflow_domain::sportsbook::placement::bet_transaction;
use betflow_domain::sportsbook::wallet::TransactionType;
use betflow_domain::time::now;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::ledger::{reversal_transfers, settlement_transfers};
use super::service::Bets;
use crate::{EngineError, RefusalKind};

/// How a market's results are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleMode {
    /// First settlement: each leg gets its result once; the same results again change
    /// nothing, different ones are refused (resettle instead).
    Settle,
    /// Every bet refunded; the market becomes `voided`.
    Void { reason: String },
    /// A correction of a settled market: affected bets are reversed through the ledger and
    /// settled again on the new results.
    Resettle { reason: String },
}

/// What a settlement did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementReport {
    pub market_id: Uuid,
    pub market_status: MarketStatus,
    /// Bets whose settlement this call decided (their last leg settled here).
    pub bets_settled: u64,
    /// Settled bets this call reversed and settled again.
    pub bets_resettled: u64,
    /// Legs that got a result here.
    pub legs_updated: u64,
    /// Returns credited by this call, less returns it reversed (minor units).
    pub net_payout: i64,
}

impl Bets {
    /// Applies a market's results to every bet with a leg on it, exactly once per leg, in
    /// one transaction under the market's lock. See [`SettleMode`].
    #[tracing::instrument(skip_all, fields(market_id = %market_id, mode = mode_name(&mode)))]
    pub async fn settle_market(
        &self,
        market_id: MarketId,
        results: HashMap<Uuid, betflow_domain::sportsbook::bets::LegResult>,
        mode: SettleMode,
        actor: &Actor,
    ) -> Result<SettlementReport, EngineError> {
        // A void's or resettlement's reason is free text: line breaks, no other control
        // characters.
        if let SettleMode::Void { reason } | SettleMode::Resettle { reason } = &mode {
            betflow_domain::text::check_free_text("reason", reason)
                .map_err(|v| DomainError::Validation(vec![v]))?;
        }
        let market_id = market_id.uuid();
        crate::retry_contended(|| self.settle_once(market_id, &results, &mode, actor)).await
    }

    /// One settling transaction. Locks: the market, its bets (id order), then every
    /// account of their customers at once (see the store's "Lock order"), so the payouts'
    /// and reversals' account updates wait for nothing a bet placement could hold.
    async fn settle_once(
        &self,
        market_id: Uuid,
        results: &HashMap<Uuid, LegResult>,
        mode: &SettleMode,
        actor: &Actor,
    ) -> Result<SettlementReport, EngineError> {
        let at = now();
        let mut tx = self.store.begin().await?;
        let market = tx
            .lock_market(market_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("market {market_id}")))?;
        let selections = tx.market_selections(market_id).await?;
        let results = match mode {
            SettleMode::Void { .. } => selections.iter().map(|s| (s.id, LegResult::Void)).collect(),
            _ => {
                check_results(
                    results,
                    &selections.iter().map(|s| s.id).collect::<Vec<_>>(),
                )?;
                results.clone()
            }
        };
        let prior = tx.market_results(market_id).await?;
        let settled_before = prior.is_some()
            || matches!(market.status, MarketStatus::Settled | MarketStatus::Voided);
        if let (SettleMode::Settle, Some(prior)) = (&mode, &prior)
            && *prior != results
        {
            return Err(EngineError::refused(
                RefusalKind::Conflict,
                "ALREADY_SETTLED",
                "the market was settled with other results; resettle to correct them",
                Some(json!({"results": prior})),
            ));
        }
        if matches!(mode, SettleMode::Resettle { .. }) && !settled_before {
            return Err(EngineError::InvalidTransition(
                "only a settled market is resettled; settle it first".into(),
            ));
        }
        let reason = match mode {
            SettleMode::Void { reason } | SettleMode::Resettle { reason } => Some(reason.clone()),
            SettleMode::Settle => None,
        };
        let correcting = settled_before && !matches!(mode, SettleMode::Settle);
        let mut bets = tx.lock_bets_on_market(market_id).await?;
        let mut wallets: Vec<(Uuid, String)> = bets
            .iter()
            .map(|b| (b.user_id, b.currency_code.clone()))
            .collect();
        wallets.sort_unstable();
        wallets.dedup();
        tx.lock_accounts(&wallets).await?;
        // Settled customer by customer (the model tests follow this order).
        bets.sort_by_key(|b| (b.user_id, b.id));
        let mut report = SettlementReport {
            market_id,
            market_status: MarketStatus::Settled,
            bets_settled: 0,
            bets_resettled: 0,
            legs_updated: 0,
            net_payout: 0,
        };
        for bet in bets {
            let old = bet.clone();
            let mut next = bet;
            let mut changed = false;
            for leg in next.legs.iter_mut().filter(|l| l.market_id == market_id) {
                let Some(&result) = results.get(&leg.selection_id) else {
                    continue;
                };
                match leg.result {
                    Some(r) if r == result => {}
                    Some(r) if !correcting => {
                        return Err(EngineError::refused(
                            RefusalKind::Conflict,
                            "ALREADY_SETTLED",
                            "the market was settled with other results; resettle to correct them",
                            Some(json!({"selectionId": leg.selection_id, "result": r})),
                        ));
                    }
                    _ => {
                        leg.result = Some(result);
                        leg.settled_at = Some(at);
                        changed = true;
                        report.legs_updated += 1;
                    }
                }
            }
            if !changed {
                continue;
            }
            let was_settled = !old.status.is_open();
            let mut transfers = Vec::new();
            let mut adjustment = 0i64;
            if was_settled {
                transfers.extend(reversal_transfers(&old));
                adjustment = adjustment.saturating_sub(old.actual_win);
                next.status = BetStatus::Accepted;
                next.actual_win = 0;
                next.settled_at = None;
                report.bets_resettled += 1;
                report.net_payout = report.net_payout.saturating_sub(old.actual_win);
            }
            if let Some(outcome) = next.outcome() {
                transfers.extend(settlement_transfers(&next, outcome.payout));
                next.status = outcome.status;
                next.actual_win = outcome.payout;
                next.settled_at = Some(at);
                next.void_reason = match outcome.status {
                    BetStatus::Voided => reason.clone().or_else(|| Some("void result".into())),
                    _ => None,
                };
                adjustment = adjustment.saturating_add(outcome.payout);
                report.net_payout = report.net_payout.saturating_add(outcome.payout);
                if !was_settled {
                    report.bets_settled += 1;
                }
            }
            if adjustment != 0 {
                let kind = if was_settled {
                    TransactionType::Adjustment
                } else {
                    TransactionType::BetCredit
                };
                let credit = bet_transaction(&next, kind, adjustment, at);
                tx.insert_transaction(&credit).await?;
            }
            tx.apply_transfers(&transfers).await.map_err(|e| match e {
                betflow_store::StoreError::InsufficientFunds { owner, .. } => EngineError::refused(
                    RefusalKind::Conflict,
                    "INSUFFICIENT_FUNDS",
                    "a customer no longer holds the return this correction takes back",
                    Some(json!({"betId": next.id, "userId": owner})),
                ),
                other => other.into(),
            })?;
            tx.update_bet(&next).await?;
            let entry = AuditEntry::new(
                "bets",
                next.id,
                AuditAction::Update,
                Some(json!(old)),
                Some(json!({"bet": next, "mode": mode_name(mode), "reason": reason})),
                actor.clone(),
            )?;
            tx.insert_audit(&entry).await?;
        }
        let status = match mode {
            SettleMode::Void { .. } => MarketStatus::Voided,
            _ => MarketStatus::Settled,
        };
        report.market_status = status;
        tx.save_market_results(market_id, &results, at).await?;
        if market.status != status || market.settled_at.is_none() {
            let mut next: Market = market.clone();
            next.status = status;
            next.settled_at = Some(at);
            next.updated_at = at;
            tx.save_market(&next, true).await?;
            let entry = AuditEntry::new(
                "markets",
                market_id,
                AuditAction::Update,
                Some(json!(market)),
                Some(json!({"market": next, "results": results.iter()
                    .map(|(k, v)| (k.to_string(), v.as_str())).collect::<BTreeMap<_, _>>(),
                    "reason": reason})),
                actor.clone(),
            )?;
            tx.insert_audit(&entry).await?;
        }
        tx.commit().await?;
        Ok(report)
    }
}

fn mode_name(mode: &SettleMode) -> &'static str {
    match mode {
        SettleMode::Settle => "settle",
        SettleMode::Void { .. } => "void",
        SettleMode::Resettle { .. } => "resettle",
    }
}

/// Results must name each selection of the market, and only those.
fn check_results(
    results: &HashMap<Uuid, LegResult>,
    selections: &[Uuid],
) -> Result<(), EngineError> {
    let mut v = Vec::new();
    for id in results.keys() {
        if !selections.contains(id) {
            v.push(Violation::new(
                format!("results.{id}"),
                "not a selection of this market",
            ));
        }
    }
    for id in selections {
        if !results.contains_key(id) {
            v.push(Violation::new(
                format!("results.{id}"),
                "every selection of the market needs a result",
            ));
        }
    }
    if v.is_empty() {
        Ok(())
    } else {
        // Well formed results that do not fit this market's selections: a rule about the
        // market, not the request's shape.
        Err(EngineError::refused(
            RefusalKind::Unprocessable,
            "RESULTS_MISMATCH",
            "the results must name each selection of the market, and only those",
            Some(json!(v)),
        ))
    }
}
