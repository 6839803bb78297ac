//! The placement decision: a pure function of what the placing transaction read, shared by a
//! bet placed alone and a bet placed in a batch, and the rows an accepted bet writes.
//!
//! Pure so every rule of placement (exclusion, legs, price, in-play delay, limits, balance)
//! can be tested here without a database; the engine only reads, locks and writes.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::bets::{
    self, Bet, BetLeg, BetSettings, BetSlip, BetStatus, LegState, RejectCode, Rejection,
};
use super::catalog::{Event as Fixture, Market, Selection};
use super::limits::{self, LimitKind, Period, ResponsibleGambling};
use super::wallet::{
    Account, AccountKind, Balances, Transaction, TransactionStatus, TransactionType, Transfer,
    TransferKind,
};
use crate::DomainError;
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::events::NewEvent;
use crate::refusal::{Refusal, RefusalKind};

/// Everything one placed bet writes: the bet and its legs, its `bet_debit` transaction, the
/// stake held (cash to pending, one customer's own accounts), its audit row and the outbox
/// events that announce it, all in the placement's one statement (or batch).
#[derive(Debug, Clone)]
pub struct Placement {
    pub bet: Bet,
    pub debit: Transaction,
    pub hold: Transfer,
    pub audit: AuditEntry,
    /// Written to the outbox with the bet, numbered in order; none when the write fails.
    pub events: Vec<NewEvent>,
}

/// The selections, markets and events a placement reads, locked by its transaction.
#[derive(Debug, Clone, Copy)]
pub struct Legs<'a> {
    pub selections: &'a [Selection],
    pub markets: &'a [Market],
    pub events: &'a [Fixture],
}

/// Why a placement was not decided: a refusal clients see, or a value that breaks a domain
/// rule (the audit row's), which the engine reports as it reports any invalid value.
#[derive(Debug, Clone, PartialEq)]
pub enum PlacementError {
    Refused(Refusal),
    Invalid(DomainError),
}

impl From<Refusal> for PlacementError {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl From<DomainError> for PlacementError {
    fn from(e: DomainError) -> Self {
        Self::Invalid(e)
    }
}

/// A bet rule's refusal, with the kind its code calls for.
pub fn refusal(r: Rejection) -> Refusal {
    let kind = match r.code {
        RejectCode::OddsChanged => RefusalKind::Conflict,
        RejectCode::SelfExcluded => RefusalKind::Forbidden,
        _ => RefusalKind::Unprocessable,
    };
    Refusal::new(kind, r.code.as_str(), r.message, r.details)
}

/// Decides one placement from what its transaction read: the customer's balances and
/// limits (`wallet`), and their stakes and losses per limit period (`usage`, read only when
/// they have limits). `Ok(None)`: an in-play bet must first wait out the delay (`waited`
/// says it has).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    settings: &BetSettings,
    slip: &BetSlip,
    at: DateTime<Utc>,
    waited: bool,
    actor: &Actor,
    legs: &Legs<'_>,
    (before, rg): (&Balances, Option<&ResponsibleGambling>),
    usage: &[(Period, (i64, i64))],
) -> Result<Option<Placement>, PlacementError> {
    let (user, currency) = (before.user_id, before.currency_code.as_str());
    limits::check_exclusion(rg, at)?;
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
        // Like any other reference to nothing: not found, naming each leg at fault.
        return Err(Refusal::new(
            RefusalKind::NotFound,
            "NOT_FOUND",
            format!("no such selection ({} of the legs)", missing.len()),
            Some(Value::Array(missing)),
        )
        .into());
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
        .map_err(|e| e.refusal())?;
    }
    if before.balance < slip.stake {
        return Err(refusal(
            Rejection::new(
                RejectCode::InsufficientFunds,
                "the balance does not cover the stake",
            )
            .with(json!({"balance": before.balance, "stake": slip.stake})),
        )
        .into());
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
        // The slot for the bet's outbox events (the live-sportsbook issue fills it).
        events: Vec::new(),
    }))
}

/// The seed's `transactions` row for a bet's debit or credit: completed at `at`, no fees,
/// tied to the bet.
pub fn bet_transaction(
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

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
