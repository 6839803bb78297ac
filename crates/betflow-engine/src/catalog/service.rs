//! The catalog service: creating, changing and retiring sports, leagues, teams, events,
//! markets and selections, each write audited with its old and new values; market
//! suspension; odds changes with their price history; the catalog's reads.

use std::sync::Arc;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::ids::{FixtureId, LeagueId, MarketId, SelectionId, SportId};
use betflow_domain::sportsbook::catalog::{
    EventFilter, EventSummary, League, Market, MarketStatus, PriceChange, Selection, Sport, Team,
};
use betflow_domain::time::now;
use betflow_domain::{Page, PageRequest};
use betflow_store::{Store, StoreError, Transaction};
use serde_json::{Value, json};
use uuid::Uuid;

use super::entity::{CatalogEntity, build, patched, save};
use super::refs::check_refs;
use crate::EngineError;
use crate::identity::Principal;

/// The sportsbook catalog. Reached as `engine.catalog()`.
pub struct Catalog {
    store: Arc<dyn Store>,
}

fn not_found(what: &str, id: Uuid) -> EngineError {
    EngineError::NotFound(format!("{what} {id}"))
}

fn conflict(e: StoreError, what: &str) -> EngineError {
    match e {
        StoreError::Conflict { constraint } => {
            EngineError::Conflict(format!("{what} already exists ({constraint})"))
        }
        other => other.into(),
    }
}

async fn audit<T: CatalogEntity>(
    tx: &mut Box<dyn Transaction>,
    action: AuditAction,
    old: Option<&T>,
    new: &T,
    actor: &Actor,
) -> Result<(), EngineError> {
    let value = |e: &T| serde_json::to_value(e).ok();
    let entry = AuditEntry::new(
        T::TABLE,
        new.id(),
        action,
        old.and_then(value),
        value(new),
        actor.clone(),
    )?;
    tx.insert_audit(&entry).await?;
    Ok(())
}

impl Catalog {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Creates a catalog entity from a request body.
    pub async fn create<T: CatalogEntity + 'static>(
        &self,
        principal: &Principal,
        body: &Value,
        actor: &Actor,
    ) -> Result<T, EngineError> {
        let entity: T = build(body)?;
        check_refs(self.store.as_ref(), &entity, None).await?;
        let mut tx = self.store.begin().await?;
        save(&mut tx, &entity, false)
            .await
            .map_err(|e| conflict(e, T::TABLE))?;
        if let Some(s) = (&entity as &dyn std::any::Any).downcast_ref::<Selection>() {
            tx.insert_price_change(&PriceChange {
                id: Uuid::now_v7(),
                selection_id: s.id,
                old_odds: None,
                new_odds: s.odds,
                changed_by: Some(principal.user_id),
                reason: Some("opening price".into()),
                created_at: s.created_at,
            })
            .await?;
        }
        audit(&mut tx, AuditAction::Insert, None, &entity, actor).await?;
        tx.commit().await?;
        Ok(entity)
    }

    /// Applies a partial update. A selection's odds change is kept in its price history
    /// with `reason`.
    pub async fn update<T: CatalogEntity + 'static>(
        &self,
        principal: &Principal,
        id: T::Id,
        patch: &Value,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<T, EngineError> {
        self.change(principal, id, patch, reason, false, actor)
            .await
    }

    /// An update, and with `retire` the entity's retirement in the same transaction.
    async fn change<T: CatalogEntity + 'static>(
        &self,
        principal: &Principal,
        id: T::Id,
        patch: &Value,
        reason: Option<String>,
        retire: bool,
        actor: &Actor,
    ) -> Result<T, EngineError> {
        let current: T = self.get(id).await?;
        let id: Uuid = id.into();
        let next = patched(&current, patch)?;
        check_refs(self.store.as_ref(), &next, Some(&current)).await?;
        let mut tx = self.store.begin().await?;
        let any_next = &next as &dyn std::any::Any;
        if let Some(s) = any_next.downcast_ref::<Selection>() {
            // The row lock orders concurrent odds changes, so each history row's old odds
            // are the odds it replaced.
            let locked = tx
                .lock_selection(id)
                .await?
                .ok_or_else(|| not_found("selection", id))?;
            if locked.odds != s.odds {
                tx.insert_price_change(&PriceChange {
                    id: Uuid::now_v7(),
                    selection_id: id,
                    old_odds: Some(locked.odds),
                    new_odds: s.odds,
                    changed_by: Some(principal.user_id),
                    reason: reason.clone(),
                    created_at: s.updated_at,
                })
                .await?;
            }
        }
        if !save(&mut tx, &next, true)
            .await
            .map_err(|e| conflict(e, T::TABLE))?
        {
            return Err(not_found(T::TABLE, id));
        }
        if retire {
            tx.retire(T::TABLE, id, now()).await?;
        }
        audit(&mut tx, AuditAction::Update, Some(&current), &next, actor).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Takes a catalog entity out of use, which is what `DELETE` does: it is deactivated
    /// (it takes no bets) and retired: from then on the catalog API answers 404 for it, its
    /// sub-resources and its changes, and lists leave it out, as for anything deleted. Its
    /// row is not erased, so the bets, prices and audit rows that name it keep their meaning
    /// (the schema's cascades never run), and a retired market's bets are still settled or
    /// voided. Retiring it again is a 404.
    pub async fn retire<T: CatalogEntity + 'static>(
        &self,
        principal: &Principal,
        id: T::Id,
        actor: &Actor,
    ) -> Result<T, EngineError> {
        self.change(
            principal,
            id,
            &json!({"isActive": false}),
            None,
            true,
            actor,
        )
        .await
    }

    /// 404 for what DELETE retired: the catalog's reads and changes of it, and of its
    /// sub-resources (exposure, prices, suspension), treat it as gone.
    async fn not_retired(&self, what: &str, id: Uuid) -> Result<(), EngineError> {
        if self.store.is_retired(id).await? {
            return Err(not_found(what, id));
        }
        Ok(())
    }

    /// One catalog entity by id.
    pub async fn get<T: CatalogEntity + 'static>(&self, id: T::Id) -> Result<T, EngineError> {
        let id: Uuid = id.into();
        let found: Option<Box<dyn std::any::Any + Send>> = match T::TABLE {
            "sports" => self.store.get_sport(id).await?.map(|v| Box::new(v) as _),
            "leagues" => self.store.get_league(id).await?.map(|v| Box::new(v) as _),
            "teams" => self.store.get_team(id).await?.map(|v| Box::new(v) as _),
            "events" => self.store.get_event(id).await?.map(|v| Box::new(v) as _),
            "markets" => self.store.get_market(id).await?.map(|v| Box::new(v) as _),
            "selections" => self
                .store
                .get_selection(id)
                .await?
                .map(|v| Box::new(v) as _),
            _ => None,
        };
        let found = found
            .and_then(|b| b.downcast::<T>().ok())
            .map(|b| *b)
            .ok_or_else(|| not_found(T::TABLE.trim_end_matches('s'), id))?;
        self.not_retired(T::TABLE.trim_end_matches('s'), id).await?;
        Ok(found)
    }

    pub async fn sports(
        &self,
        active_only: bool,
        page: PageRequest,
    ) -> Result<Page<Sport>, EngineError> {
        Ok(self.store.list_sports(active_only, page).await?)
    }

    pub async fn leagues(
        &self,
        sport: Option<SportId>,
        page: PageRequest,
    ) -> Result<Page<League>, EngineError> {
        Ok(self.store.list_leagues(sport.map(Uuid::from), page).await?)
    }

    pub async fn teams(
        &self,
        sport: Option<SportId>,
        league: Option<LeagueId>,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Team>, EngineError> {
        let (sport, league) = (sport.map(Uuid::from), league.map(Uuid::from));
        Ok(self.store.list_teams(sport, league, search, page).await?)
    }

    /// Events in `[from, to)`. A `from` after `to` is an empty window, answered with an empty
    /// page like any window no event falls in.
    pub async fn fixtures(&self, filter: &EventFilter) -> Result<Page<EventSummary>, EngineError> {
        Ok(self.store.list_events(filter).await?)
    }

    /// A sport's events from a day ago on, soonest first, with market counts: the seed's
    /// get_events_with_markets.
    pub async fn sport_events(
        &self,
        sport: SportId,
        page: PageRequest,
    ) -> Result<Page<EventSummary>, EngineError> {
        self.get::<Sport>(sport).await?;
        let filter = EventFilter {
            sport_id: Some(sport.uuid()),
            from: Some(now() - chrono::Duration::days(1)),
            page,
            ..Default::default()
        };
        Ok(self.store.list_events(&filter).await?)
    }

    /// An event's markets, each with its selections.
    pub async fn event_markets(
        &self,
        event: FixtureId,
    ) -> Result<Vec<(Market, Vec<Selection>)>, EngineError> {
        let markets = self.store.list_markets(event.uuid()).await?;
        let ids: Vec<Uuid> = markets.iter().map(|m| m.id).collect();
        let mut selections = self.store.list_selections(&ids).await?;
        Ok(markets
            .into_iter()
            .map(|m| {
                let mine = selections.extract_if(.., |s| s.market_id == m.id).collect();
                (m, mine)
            })
            .collect())
    }

    pub async fn market_selections(&self, market: MarketId) -> Result<Vec<Selection>, EngineError> {
        Ok(self.store.list_selections(&[market.uuid()]).await?)
    }

    pub async fn price_history(
        &self,
        selection: SelectionId,
        page: PageRequest,
    ) -> Result<Page<PriceChange>, EngineError> {
        self.get::<Selection>(selection).await?;
        Ok(self.store.price_history(selection.uuid(), page).await?)
    }

    /// Suspends an open market or reopens a suspended one, in one call.
    pub async fn set_market_suspended(
        &self,
        id: MarketId,
        suspended: bool,
        actor: &Actor,
    ) -> Result<Market, EngineError> {
        let id = id.uuid();
        self.not_retired("market", id).await?;
        let mut tx = self.store.begin().await?;
        let current = tx
            .lock_market(id)
            .await?
            .ok_or_else(|| not_found("market", id))?;
        let (from, to) = if suspended {
            (MarketStatus::Open, MarketStatus::Suspended)
        } else {
            (MarketStatus::Suspended, MarketStatus::Open)
        };
        if current.status == to {
            return Ok(current);
        }
        if current.status != from {
            return Err(EngineError::InvalidTransition(format!(
                "a {} market cannot be {}",
                current.status.as_str(),
                if suspended { "suspended" } else { "reopened" }
            )));
        }
        let mut next = current.clone();
        next.status = to;
        next.updated_at = now();
        tx.save_market(&next, true).await?;
        audit(&mut tx, AuditAction::Update, Some(&current), &next, actor).await?;
        tx.commit().await?;
        Ok(next)
    }
}
