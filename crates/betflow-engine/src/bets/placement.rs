//! Bets placed in batches (see [`crate::batch`]): a batch of bets is placed in one
//! transaction: one read of the legs, one read of the customers' accounts (locked in user-id
//! order), one write of every accepted bet, one commit. Each bet is still decided by the
//! same rules, against its customer's balance after the bets before it in the batch.
//!
//! Why: per bet, PostgreSQL spends most of its time starting up and checking the two large
//! statements of a placement, not in the rows they write; measured with pgbench, the
//! placement's own SQL ran at 3,168–3,604 transactions per second beside TPC-B's
//! 4,169–4,393, and eight bets per transaction at 6,650–7,824 bets per second (see
//! docs/benchmarks.md). On SQLite a whole batch costs the writer's thread a few trips, where
//! each bet alone cost three.
//!
//! A bet the batch cannot decide goes back to its request, which places it in its own
//! transaction as before: a customer's first bet (accounts not opened yet) among others, a
//! customer with stake or loss limits (their usage is read per customer), an in-play bet
//! that must wait out the delay, and every bet of a batch whose write failed.

use std::sync::Arc;

use betflow_domain::audit::Actor;
use betflow_domain::sportsbook::bets::{Bet, BetSettings, BetSlip};
use betflow_domain::sportsbook::placement::{Legs, decide};
use betflow_store::{BatchContext, Placement, Store};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::EngineError;
use crate::batch::{Outcome, Work, copy};
use crate::idempotency::{IdempotencyKey, record_created};

/// One bet waiting for a batch.
pub(super) struct Request {
    pub user: Uuid,
    pub currency: String,
    pub slip: BetSlip,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub key: Option<IdempotencyKey>,
}

/// What a batched bet became: placed, refused with a client error, or failed with the
/// batch's commit.
pub(super) type Placed = Box<Result<Bet, EngineError>>;

pub(super) struct Placer {
    pub(super) store: Arc<dyn Store>,
    pub(super) bets: BetSettings,
}

impl Work for Placer {
    type Request = Request;
    type Answer = Placed;

    async fn run(&self, batch: &[Request]) -> Vec<Outcome<Placed>> {
        self.place_batch(batch).await
    }
}

impl Placer {
    /// Decides and writes one batch; one outcome per request, in order.
    #[tracing::instrument(skip_all, fields(bets = batch.len()))]
    async fn place_batch(&self, batch: &[Request]) -> Vec<Outcome<Placed>> {
        let alone = || batch.iter().map(|_| Outcome::Alone).collect();
        let Ok(mut tx) = self.store.begin().await else {
            return alone();
        };
        let mut ids: Vec<Uuid> = batch
            .iter()
            .flat_map(|q| q.slip.legs.iter().map(|l| l.selection_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut wallets: Vec<(Uuid, String)> =
            batch.iter().map(|q| (q.user, q.currency.clone())).collect();
        wallets.sort_unstable();
        wallets.dedup();
        let ctx = match &wallets[..] {
            // One customer: legs and accounts in one round trip.
            [(user, currency)] => {
                tx.bet_context(&ids, *user, currency)
                    .await
                    .map(|c| BatchContext {
                        selections: c.selections,
                        markets: c.markets,
                        events: c.events,
                        wallets: vec![(c.balances, c.limits)],
                    })
            }
            _ => tx.batch_context(&ids, &wallets).await,
        };
        let Ok(ctx) = ctx else {
            return alone();
        };
        let legs = Legs {
            selections: &ctx.selections,
            markets: &ctx.markets,
            events: &ctx.events,
        };
        // Each customer's balances as the bets before in the batch left them.
        let mut running = ctx.wallets.clone();
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut placed: Vec<(usize, Placement)> = Vec::new();
        for (i, q) in batch.iter().enumerate() {
            let r = q;
            let wallet = running
                .iter_mut()
                .find(|(b, _)| b.user_id == r.user && b.currency_code == r.currency);
            let Some((balances, rg)) = wallet else {
                outcomes.push(Outcome::Alone);
                continue;
            };
            if rg.as_ref().is_some_and(|rg| !rg.limits.is_empty()) {
                outcomes.push(Outcome::Alone);
                continue;
            }
            let wallet = (&*balances, rg.as_ref());
            match decide(
                &self.bets,
                &r.slip,
                r.at,
                false,
                &r.actor,
                &legs,
                wallet,
                &[],
            ) {
                Ok(Some(p)) => {
                    // Saturating like every sum of money here: the stake was checked against
                    // the balance, but no input may make the arithmetic wrap or panic.
                    balances.balance = balances.balance.saturating_sub(p.bet.stake);
                    balances.pending_balance = balances.pending_balance.saturating_add(p.bet.stake);
                    placed.push((i, p));
                    outcomes.push(Outcome::Alone);
                }
                Err(e) => match EngineError::from(e) {
                    e if e.refusal().is_some() => outcomes.push(Outcome::Done(Box::new(Err(e)))),
                    _ => outcomes.push(Outcome::Alone),
                },
                Ok(None) => outcomes.push(Outcome::Alone),
            }
        }
        if placed.is_empty() {
            return outcomes;
        }
        let placements: Vec<Placement> = placed.iter().map(|(_, p)| p.clone()).collect();
        if tx.record_placements(&placements).await.is_err() {
            return alone();
        }
        for (i, p) in &placed {
            if record_created(&mut tx, batch[*i].key.as_ref(), &p.bet)
                .await
                .is_err()
            {
                return alone();
            }
        }
        match tx.commit().await {
            Ok(()) => {
                for (i, p) in placed {
                    outcomes[i] = Outcome::Done(Box::new(Ok(p.bet)));
                }
            }
            Err(e) => {
                // Nothing of the batch is kept: the placed bets report the failure, and a
                // refusal that counted on them being placed is decided again alone.
                let e = EngineError::from(e);
                for o in &mut outcomes {
                    *o = Outcome::Alone;
                }
                for (i, _) in placed {
                    outcomes[i] = Outcome::Done(Box::new(Err(copy(&e))));
                }
            }
        }
        outcomes
    }
}
