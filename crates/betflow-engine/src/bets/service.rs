//! The bets service: placing bets (alone or in a batch, see `placement`), reading them, and
//! markets' exposure.

use std::sync::Arc;

use betflow_domain::DomainError;
use betflow_domain::audit::Actor;
use betflow_domain::identity::Role;
use betflow_domain::ids::{BetId, MarketId, SelectionId};
use betflow_domain::sportsbook::bets::{Bet, BetFilter, BetSettings, BetSlip, SelectionExposure};
use betflow_domain::sportsbook::limits::Period;
use betflow_domain::sportsbook::placement::{Legs, decide};
use betflow_domain::{Page, PageRequest};
use betflow_store::{Store, Transaction as DbTransaction};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::placement::{self, Placer};
use crate::batch::{BatchSettings, BatchStats, Batcher, Outcome};
use crate::idempotency::{Idempotency, IdempotencyKey, Idempotent, record_created};
use crate::identity::Principal;
use crate::wallet::Currencies;
use crate::{EngineError, RefusalKind};

/// Bets: placement, history, settlement and exposure. Reached as `engine.bets()`.
pub struct Bets {
    pub(super) store: Arc<dyn Store>,
    settings: BetSettings,
    /// Places bets in batches (see `placement`).
    placer: Arc<Batcher<Placer>>,
    idempotency: Idempotency,
    currencies: Currencies,
}

impl Bets {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        settings: BetSettings,
        batching: BatchSettings,
        idempotency: Idempotency,
        currencies: Currencies,
    ) -> Self {
        let placer = Arc::new(Batcher::new(
            Placer {
                store: store.clone(),
                bets: settings,
            },
            batching,
            store.backend(),
        ));
        Self {
            store,
            settings,
            placer,
            idempotency,
            currencies,
        }
    }

    /// Stake and payout bounds and the in-play delay.
    pub fn settings(&self) -> BetSettings {
        self.settings
    }

    /// How bets have been batched since start (see `placement`).
    pub fn placement_stats(&self) -> BatchStats {
        self.placer.stats()
    }

    /// Places a bet: every check in one transaction under share locks on its selections and
    /// markets and the customer's account lock, then the stake is held (cash to pending).
    /// Bets arriving together share that transaction (see [`placement`]). An in-play bet
    /// waits out the in-play delay and is checked again after it, in its own.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user_id, stake = slip.stake,
        legs = slip.legs.len()))]
    pub async fn place(
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
                return Err(EngineError::refused(
                    RefusalKind::Unprocessable,
                    "DUPLICATE_SELECTION",
                    "a slip names each selection once",
                    Some(json!(v)),
                ));
            }
            other => other?,
        }
        let user = principal.user_id;
        let currency = self.currencies.of(user).await?;
        self.idempotency
            .run(key, || async {
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
                            record_created(&mut tx, key, bet).await?;
                            tx.commit().await?;
                        }
                        Ok(placed)
                    })
                    .await?;
                    match placed {
                        Some(bet) => return Ok(bet),
                        None => {
                            let delay = self.settings.in_play_delay;
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
            &self.settings,
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
        tx.record_placement(&p).await?;
        Ok(Some(p.bet))
    }

    /// Bets, newest first: a customer's own, or anyone's with `wallet:read` or
    /// `sportsbook:settle`.
    pub async fn list(
        &self,
        principal: &Principal,
        mut filter: BetFilter,
    ) -> Result<Page<Bet>, EngineError> {
        if !operator(principal) {
            filter.user_id = Some(principal.user_id);
        }
        Ok(self.store.list_bets(&filter).await?)
    }

    pub async fn get(&self, principal: &Principal, id: BetId) -> Result<Bet, EngineError> {
        match self.store.get_bet(id.uuid()).await? {
            Some(b) if b.user_id == principal.user_id || operator(principal) => Ok(b),
            _ => Err(EngineError::NotFound(format!("bet {id}"))),
        }
    }

    pub async fn market_exposure(
        &self,
        market_id: MarketId,
        page: PageRequest,
    ) -> Result<Page<SelectionExposure>, EngineError> {
        let market_id = market_id.uuid();
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
        selection_id: SelectionId,
    ) -> Result<SelectionExposure, EngineError> {
        let selection_id = selection_id.uuid();
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

    /// 404 for a market or selection DELETE retired: its exposure is gone with it.
    async fn not_retired(&self, what: &str, id: Uuid) -> Result<(), EngineError> {
        if self.store.is_retired(id).await? {
            return Err(EngineError::NotFound(format!("{what} {id}")));
        }
        Ok(())
    }
}

fn operator(p: &Principal) -> bool {
    p.has("wallet:read") || p.has("sportsbook:settle")
}
