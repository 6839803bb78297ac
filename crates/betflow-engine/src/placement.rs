//! Bets placed in batches. Bets that arrive while earlier ones are being placed wait in a
//! queue; a runner takes up to [`BatchSettings::max_bets`] of them and places them in one
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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use betflow_domain::audit::Actor;
use betflow_domain::sportsbook::bets::{Bet, BetSettings, BetSlip};
use betflow_store::{Backend, BatchContext, Placement, Store};
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::EngineError;
use crate::bets::{Legs, decide};
use crate::wallet::{IdempotencyKey, finish};

/// How bets are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// The most bets one transaction places; 1 places every bet in its own.
    pub max_bets: usize,
    /// How many batches may be in flight at once (on PostgreSQL, connections they hold);
    /// 0 picks per backend: one on SQLite, whose single writer runs one transaction at a
    /// time anyway (one beat four there), four on PostgreSQL (two to eight measured the same
    /// within the noise on two cores).
    pub concurrent: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            max_bets: 32,
            concurrent: 0,
        }
    }
}

impl BatchSettings {
    fn runners(&self, backend: Backend) -> usize {
        match (self.concurrent, backend) {
            (0, Backend::Sqlite) => 1,
            (0, Backend::Postgres) => 4,
            (n, _) => n,
        }
    }
}

/// What the placer has done since the process started, for `/metrics`: how well bets
/// batch, and how many fall back to a transaction of their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlacementStats {
    /// Batches run (a batch of one included).
    pub batches: u64,
    /// Bets decided in a batch: placed, refused, or failed with the batch's commit.
    pub batched: u64,
    /// Bets handed back to be placed alone.
    pub alone: u64,
}

/// One bet waiting for a batch.
pub(crate) struct Request {
    pub user: Uuid,
    pub currency: String,
    pub slip: BetSlip,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub key: Option<IdempotencyKey>,
}

/// What became of a request.
pub(crate) enum Outcome {
    /// Placed, or refused with a client error, or the batch's commit failed.
    Done(Box<Result<Bet, EngineError>>),
    /// Not decided here: the request places the bet in its own transaction.
    Alone,
}

struct Queued {
    req: Request,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Queued>,
    /// Runners alive; each takes batches until the queue is empty.
    running: usize,
}

pub(crate) struct Placer {
    store: Arc<dyn Store>,
    bets: BetSettings,
    batch: BatchSettings,
    /// The most runners at once.
    runners: usize,
    queue: Mutex<Queue>,
    batches: AtomicU64,
    batched: AtomicU64,
    alone: AtomicU64,
}

impl Placer {
    pub(crate) fn new(store: Arc<dyn Store>, bets: BetSettings, batch: BatchSettings) -> Self {
        Self {
            runners: batch.runners(store.backend()),
            store,
            bets,
            batch,
            queue: Mutex::default(),
            batches: AtomicU64::new(0),
            batched: AtomicU64::new(0),
            alone: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> PlacementStats {
        PlacementStats {
            batches: self.batches.load(Ordering::Relaxed),
            batched: self.batched.load(Ordering::Relaxed),
            alone: self.alone.load(Ordering::Relaxed),
        }
    }

    /// Queues the bet and waits for its batch. The batch runs in its own task, so a request
    /// that goes away (a client that hangs up) cannot cut a batch off between its commit and
    /// the answers to the others.
    pub(crate) async fn place(self: &Arc<Self>, req: Request) -> Result<Outcome, EngineError> {
        if self.batch.max_bets < 2 {
            self.alone.fetch_add(1, Ordering::Relaxed);
            return Ok(Outcome::Alone);
        }
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.waiting.push_back(Queued { req, reply });
            let start = q.running < self.runners;
            if start {
                q.running += 1;
            }
            start
        };
        if start {
            tokio::spawn(self.clone().run());
        }
        answer
            .await
            .map_err(|_| EngineError::Internal("a bet batch stopped before it answered".into()))
    }

    /// Takes batches until the queue is empty.
    async fn run(self: Arc<Self>) {
        let _guard = Runner(self.clone());
        loop {
            let batch: Vec<Queued> = {
                let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if q.waiting.is_empty() {
                    q.running -= 1;
                    return;
                }
                let n = q.waiting.len().min(self.batch.max_bets);
                q.waiting.drain(..n).collect()
            };
            let outcomes = self.place_batch(&batch).await;
            let alone = outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Alone))
                .count() as u64;
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.alone.fetch_add(alone, Ordering::Relaxed);
            self.batched
                .fetch_add(outcomes.len() as u64 - alone, Ordering::Relaxed);
            for (q, outcome) in batch.into_iter().zip(outcomes) {
                // A request that went away no longer needs its answer.
                let _ = q.reply.send(outcome);
            }
        }
    }

    /// Decides and writes one batch; one outcome per request, in order.
    async fn place_batch(&self, batch: &[Queued]) -> Vec<Outcome> {
        let alone = || batch.iter().map(|_| Outcome::Alone).collect();
        let Ok(mut tx) = self.store.begin().await else {
            return alone();
        };
        let mut ids: Vec<Uuid> = batch
            .iter()
            .flat_map(|q| q.req.slip.legs.iter().map(|l| l.selection_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut wallets: Vec<(Uuid, String)> = batch
            .iter()
            .map(|q| (q.req.user, q.req.currency.clone()))
            .collect();
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
            let r = &q.req;
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
                    balances.balance -= p.bet.stake;
                    balances.pending_balance += p.bet.stake;
                    placed.push((i, p));
                    outcomes.push(Outcome::Alone);
                }
                Err(e) if e.client_error().is_some() => {
                    outcomes.push(Outcome::Done(Box::new(Err(e))))
                }
                Ok(None) | Err(_) => outcomes.push(Outcome::Alone),
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
            if finish(&mut tx, batch[*i].req.key.as_ref(), 201, &p.bet)
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

/// The same failure for each bet of a batch.
fn copy(e: &EngineError) -> EngineError {
    match e {
        EngineError::Unavailable(m) => EngineError::Unavailable(m.clone()),
        other => EngineError::Internal(other.to_string()),
    }
}

/// Keeps the queue served if a runner panics: its place goes to a new runner when bets are
/// still waiting, or is given up.
struct Runner(Arc<Placer>);

impl Drop for Runner {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let placer = &self.0;
        let mut q = placer.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match tokio::runtime::Handle::try_current() {
            Ok(rt) if !q.waiting.is_empty() => {
                rt.spawn(placer.clone().run());
            }
            _ => q.running -= 1,
        }
    }
}
