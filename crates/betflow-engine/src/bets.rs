//! Placing bets, settling markets (settle, void, resettle) and exposure.
//!
//! Lock order, the same everywhere, so placements and settlements never deadlock: the
//! markets and selections first (placements share-lock them, settlement locks its market
//! exclusively), then customers' accounts, in user-id order when there are several.

use std::collections::{BTreeMap, HashMap};

use betflow_domain::DomainError;
use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::identity::Role;
use betflow_domain::sportsbook::bets::{
    self, Bet, BetFilter, BetLeg, BetSettings, BetSlip, BetStatus, LegResult, LegState, RejectCode,
    Rejection, SelectionExposure,
};
use betflow_domain::sportsbook::catalog::{Event as Fixture, Market, MarketStatus, Selection};
use betflow_domain::sportsbook::limits::{self, LimitKind, Period, ResponsibleGambling};
use betflow_domain::sportsbook::wallet::{
    Account, AccountKind, Balances, Transaction, TransactionStatus, TransactionType, Transfer,
    TransferKind,
};
use betflow_domain::time::now;
use betflow_domain::{Page, PageRequest, Violation};
use betflow_store::{Placement, Transaction as DbTransaction};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::batch::Outcome;
use crate::identity::Principal;
use crate::placement;
use crate::wallet::{
    IdempotencyKey, Idempotent, check_exclusion, finish, limit_exceeded, rejected,
};
use crate::{Engine, EngineError};

fn refusal(r: Rejection) -> EngineError {
    let status = match r.code {
        RejectCode::OddsChanged => 409,
        RejectCode::SelfExcluded => 403,
        _ => 422,
    };
    rejected(status, r.code.as_str(), r.message, r.details)
}

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

/// Returns and transfers of one settled bet.
fn settlement_transfers(bet: &Bet, payout: i64) -> Vec<Transfer> {
    let c = &bet.currency_code;
    let mut t = vec![
        Transfer::new(
            Account::customer(bet.user_id, AccountKind::Pending, c),
            Account::house(AccountKind::Stakes, c),
            bet.stake,
            TransferKind::StakeTaken,
        )
        .for_bet(bet.id),
    ];
    if payout > 0 {
        t.push(
            Transfer::new(
                Account::house(AccountKind::Payouts, c),
                Account::customer(bet.user_id, AccountKind::Cash, c),
                payout,
                TransferKind::Payout,
            )
            .for_bet(bet.id),
        );
    }
    t
}

/// Undoes [`settlement_transfers`]: the return comes back from the customer's cash (refused
/// if they no longer have it) and the stake is held again.
fn reversal_transfers(bet: &Bet) -> Vec<Transfer> {
    let c = &bet.currency_code;
    let mut t = Vec::with_capacity(2);
    if bet.actual_win > 0 {
        t.push(
            Transfer::new(
                Account::customer(bet.user_id, AccountKind::Cash, c),
                Account::house(AccountKind::Payouts, c),
                bet.actual_win,
                TransferKind::Reversal,
            )
            .for_bet(bet.id),
        );
    }
    t.push(
        Transfer::new(
            Account::house(AccountKind::Stakes, c),
            Account::customer(bet.user_id, AccountKind::Pending, c),
            bet.stake,
            TransferKind::Reversal,
        )
        .for_bet(bet.id),
    );
    t
}

fn bet_transaction(
    bet: &Bet,
    tx_type: TransactionType,
    amount: i64,
    at: DateTime<Utc>,
) -> Transaction {
    let id = Uuid::now_v7();
    Transaction {
        id,
        user_id: bet.user_id,
        tx_type,
        amount,
        currency_code: bet.currency_code.clone(),
        status: TransactionStatus::Completed,
        reference: Transaction::reference_for(tx_type, id),
        external_reference: None,
        description: None,
        payment_method_id: None,
        related_bet_id: Some(bet.id),
        processor_response: None,
        fees: 0,
        net_amount: amount,
        processed_at: Some(at),
        created_at: at,
        updated_at: at,
    }
}

/// The selections, markets and events a placement reads, locked by its transaction.
pub(crate) struct Legs<'a> {
    pub selections: &'a [Selection],
    pub markets: &'a [Market],
    pub events: &'a [Fixture],
}

/// Decides one placement from what its transaction read: the customer's balances and
/// limits (`wallet`), and their stakes and losses per limit period (`usage`, read only when
/// they have limits). `Ok(None)`: an in-play bet must first wait out the delay.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide(
    settings: &BetSettings,
    slip: &BetSlip,
    at: DateTime<Utc>,
    waited: bool,
    actor: &Actor,
    legs: &Legs<'_>,
    (before, rg): (&Balances, Option<&ResponsibleGambling>),
    usage: &[(Period, (i64, i64))],
) -> Result<Option<Placement>, EngineError> {
    let (user, currency) = (before.user_id, before.currency_code.as_str());
    check_exclusion(rg, at)?;
    let mut states = Vec::with_capacity(slip.legs.len());
    let mut missing = Vec::new();
    for (i, leg) in slip.legs.iter().enumerate() {
        let id = leg.selection_id;
        let state = legs.selections.iter().find(|s| s.id == id).and_then(|s| {
            let m = legs.markets.iter().find(|m| m.id == s.market_id)?;
            let e = legs.events.iter().find(|e| e.id == m.event_id)?;
            Some(LegState {
                selection: s,
                market: m,
                event: e,
            })
        });
        match state {
            Some(s) => states.push(s),
            None => missing.push(json!({"field": format!("legs[{i}].selectionId"),
                                        "message": "no such selection"})),
        }
    }
    if !missing.is_empty() {
        // Like any other reference to nothing: 404, naming each leg at fault.
        return Err(rejected(
            404,
            "NOT_FOUND",
            format!("no such selection ({} of the legs)", missing.len()),
            Some(Value::Array(missing)),
        ));
    }
    let priced = bets::price(slip, &states, settings, at).map_err(refusal)?;
    if priced.in_play && !waited && !settings.in_play_delay.is_zero() {
        return Ok(None);
    }
    if let Some(rg) = rg.filter(|r| !r.limits.is_empty()) {
        let lookup = |p: Period| usage.iter().find(|(q, _)| *q == p).map_or((0, 0), |u| u.1);
        limits::check(&rg.limits, LimitKind::Stake, slip.stake, at, |p| {
            lookup(p).0
        })
        .and_then(|()| limits::check(&rg.limits, LimitKind::Loss, slip.stake, at, |p| lookup(p).1))
        .map_err(|e| limit_exceeded(&e))?;
    }
    if before.balance < slip.stake {
        return Err(refusal(
            Rejection::new(
                RejectCode::InsufficientFunds,
                "the balance does not cover the stake",
            )
            .with(json!({"balance": before.balance, "stake": slip.stake})),
        ));
    }
    let id = Uuid::now_v7();
    let bet = Bet {
        id,
        user_id: user,
        bet_type: slip.bet_type,
        status: BetStatus::Accepted,
        stake: slip.stake,
        total_odds: priced.total_odds,
        potential_win: priced.potential_win,
        actual_win: 0,
        currency_code: currency.to_owned(),
        placed_at: at,
        settled_at: None,
        void_reason: None,
        metadata: json!({"oddsChangePolicy": slip.odds_change_policy}),
        legs: priced
            .legs
            .iter()
            .map(|l| BetLeg {
                id: Uuid::now_v7(),
                bet_id: id,
                selection_id: l.selection_id,
                market_id: l.market_id,
                event_id: l.event_id,
                odds: l.odds,
                result: None,
                settled_at: None,
                selection_name: legs
                    .selections
                    .iter()
                    .find(|s| s.id == l.selection_id)
                    .map(|s| s.name.clone()),
            })
            .collect(),
    };
    let debit = bet_transaction(&bet, TransactionType::BetDebit, bet.stake, at);
    let hold = Transfer::new(
        Account::customer(user, AccountKind::Cash, currency),
        Account::customer(user, AccountKind::Pending, currency),
        bet.stake,
        TransferKind::StakeHold,
    )
    .for_bet(id)
    .for_transaction(debit.id);
    let audit = AuditEntry::new(
        "bets",
        id,
        AuditAction::Insert,
        Some(json!({"balance": before.balance, "pendingBalance": before.pending_balance})),
        Some(
            json!({"bet": bet, "balance": before.balance.saturating_sub(bet.stake),
                    "pendingBalance": before.pending_balance.saturating_add(bet.stake)}),
        ),
        actor.clone(),
    )?;
    Ok(Some(Placement {
        bet,
        debit,
        hold,
        audit,
    }))
}

impl Engine {
    /// Places a bet: every check in one transaction under share locks on its selections and
    /// markets and the customer's account lock, then the stake is held (cash to pending).
    /// Bets arriving together share that transaction (see [`placement`]). An in-play bet
    /// waits out the in-play delay and is checked again after it, in its own.
    pub async fn place_bet(
        &self,
        principal: &Principal,
        slip: BetSlip,
        at: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
        actor: &Actor,
    ) -> Result<Idempotent<Bet>, EngineError> {
        if principal.role != Role::Customer {
            return Err(EngineError::PermissionDenied(vec!["customer".into()]));
        }
        match slip.validate() {
            // The same selection twice is the one rule of a slip its schema cannot state
            // (JSON Schema has no uniqueness by member): 422, like the other bet rules. Any
            // other problem is the slip's shape: 400 with every problem.
            Err(DomainError::Validation(v))
                if v.iter().all(|v| v.field.ends_with("].selectionId")) =>
            {
                return Err(rejected(
                    422,
                    "DUPLICATE_SELECTION",
                    "a slip names each selection once",
                    Some(json!(v)),
                ));
            }
            other => other?,
        }
        let user = principal.user_id;
        let currency = self.currency_of(user).await?;
        self.idempotent(key, || async {
            let request = placement::Request {
                user,
                currency: currency.clone(),
                slip: slip.clone(),
                at,
                actor: actor.clone(),
                key: key.cloned(),
            };
            if let Outcome::Done(placed) = self.placer.submit(request).await? {
                match *placed {
                    // The batch's transaction was aborted for contention and wrote nothing:
                    // the bet is placed again alone, with its retries.
                    Err(EngineError::Contention(_)) => {}
                    placed => return placed,
                }
            }
            let mut at = at;
            let mut waited = false;
            loop {
                let placed = crate::retry_contended(|| async {
                    let mut tx = self.store.begin().await?;
                    let placed = self
                        .try_place(&mut tx, user, &currency, &slip, at, waited, actor)
                        .await?;
                    if let Some(bet) = &placed {
                        finish(&mut tx, key, 201, bet).await?;
                        tx.commit().await?;
                    }
                    Ok(placed)
                })
                .await?;
                match placed {
                    Some(bet) => return Ok(bet),
                    None => {
                        let delay = self.bet_settings.in_play_delay;
                        tokio::time::sleep(delay).await;
                        at += chrono::Duration::from_std(delay).unwrap_or_default();
                        waited = true;
                    }
                }
            }
        })
        .await
    }

    /// One placing attempt; `None` when an in-play bet must first wait out the delay.
    #[allow(clippy::too_many_arguments)]
    async fn try_place(
        &self,
        tx: &mut Box<dyn DbTransaction>,
        user: Uuid,
        currency: &str,
        slip: &BetSlip,
        at: DateTime<Utc>,
        waited: bool,
        actor: &Actor,
    ) -> Result<Option<Bet>, EngineError> {
        let ids: Vec<Uuid> = slip.legs.iter().map(|l| l.selection_id).collect();
        let ctx = tx.bet_context(&ids, user, currency).await?;
        let mut usage = Vec::new();
        if ctx.limits.as_ref().is_some_and(|r| !r.limits.is_empty()) {
            for p in [Period::Day, Period::Week, Period::Month] {
                usage.push((p, tx.bet_usage(user, at - p.length()).await?));
            }
        }
        let legs = Legs {
            selections: &ctx.selections,
            markets: &ctx.markets,
            events: &ctx.events,
        };
        let wallet = (&ctx.balances, ctx.limits.as_ref());
        let Some(p) = decide(
            &self.bet_settings,
            slip,
            at,
            waited,
            actor,
            &legs,
            wallet,
            &usage,
        )?
        else {
            return Ok(None);
        };
        tx.record_placement(&p.bet, &p.debit, &p.hold, &p.audit)
            .await?;
        Ok(Some(p.bet))
    }

    /// Bets, newest first: a customer's own, or anyone's with `wallet:read` or
    /// `sportsbook:settle`.
    pub async fn bets(
        &self,
        principal: &Principal,
        mut filter: BetFilter,
    ) -> Result<Page<Bet>, EngineError> {
        if !operator(principal) {
            filter.user_id = Some(principal.user_id);
        }
        Ok(self.store.list_bets(&filter).await?)
    }

    pub async fn bet(&self, principal: &Principal, id: Uuid) -> Result<Bet, EngineError> {
        match self.store.get_bet(id).await? {
            Some(b) if b.user_id == principal.user_id || operator(principal) => Ok(b),
            _ => Err(EngineError::NotFound(format!("bet {id}"))),
        }
    }

    pub async fn market_exposure(
        &self,
        market_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<SelectionExposure>, EngineError> {
        if self.store.get_market(market_id).await?.is_none() {
            return Err(EngineError::NotFound(format!("market {market_id}")));
        }
        self.not_retired("market", market_id).await?;
        // Each selection's liability is relative to the whole market's stakes, so the
        // market's rows (one per selection: a handful) are computed together and the page
        // is cut from them.
        let all = self.store.market_exposure(market_id).await?;
        let total = all.len() as u64;
        let items = all
            .into_iter()
            .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
            .take(page.limit() as usize)
            .collect();
        Ok(Page::new(items, total, page))
    }

    pub async fn selection_exposure(
        &self,
        selection_id: Uuid,
    ) -> Result<SelectionExposure, EngineError> {
        let s = self
            .store
            .get_selection(selection_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("selection {selection_id}")))?;
        self.not_retired("selection", selection_id).await?;
        self.store
            .market_exposure(s.market_id)
            .await?
            .into_iter()
            .find(|e| e.selection_id == selection_id)
            .ok_or_else(|| EngineError::NotFound(format!("selection {selection_id}")))
    }

    /// Applies a market's results to every bet with a leg on it, exactly once per leg, in
    /// one transaction under the market's lock. See [`SettleMode`].
    pub async fn settle_market(
        &self,
        market_id: Uuid,
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
            return Err(rejected(
                409,
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
                        return Err(rejected(
                            409,
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
                betflow_store::StoreError::InsufficientFunds { owner, .. } => rejected(
                    409,
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
        Err(rejected(
            422,
            "RESULTS_MISMATCH",
            "the results must name each selection of the market, and only those",
            Some(json!(v)),
        ))
    }
}

fn operator(p: &Principal) -> bool {
    p.has("wallet:read") || p.has("sportsbook:settle")
}
