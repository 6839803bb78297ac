//! The sportsbook catalog: creating and changing sports, leagues, teams, events, markets and
//! selections, each write audited with its old and new values; market suspension; odds
//! changes with their price history.
//!
//! Creates and partial updates share one path: the request is merged (RFC 7396) over the
//! entity's JSON form and the result validated whole, so both obey the same rules.

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::sportsbook::catalog::{
    Event, EventFilter, EventSummary, League, Market, MarketStatus, PriceChange, Selection, Sport,
    Team,
};
use betflow_domain::time::now;
use betflow_domain::workflow::expr::merge_patch;
use betflow_domain::{DomainError, Page, PageRequest, Violation};
use betflow_store::{StoreError, Transaction};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::identity::Principal;
use crate::{Engine, EngineError};

/// Fields a client never sets.
const SERVER_FIELDS: &[&str] = &["id", "createdAt", "updatedAt", "settledAt"];

/// A catalog entity the generic create/update path can handle.
pub trait CatalogEntity: Serialize + DeserializeOwned + Clone + Send + Sync {
    const TABLE: &'static str;
    /// Fields fixed at creation (a league's sport, a market's event).
    const FIXED: &'static [&'static str] = &[];
    fn id(&self) -> Uuid;
    fn validate(&self) -> Result<(), DomainError>;
    /// What a new one starts with before the request is merged in.
    fn defaults() -> Value;
}

macro_rules! entity {
    ($t:ty, $table:literal, [$($fixed:literal),*], $defaults:expr) => {
        impl CatalogEntity for $t {
            const TABLE: &'static str = $table;
            const FIXED: &'static [&'static str] = &[$($fixed),*];
            fn id(&self) -> Uuid {
                self.id
            }
            fn validate(&self) -> Result<(), DomainError> {
                <$t>::validate(self)
            }
            fn defaults() -> Value {
                $defaults
            }
        }
    };
}

entity!(
    Sport,
    "sports",
    [],
    json!({"isActive": true, "sortOrder": 0, "configuration": {}})
);
entity!(
    League,
    "leagues",
    ["sportId"],
    json!({"isActive": true, "sortOrder": 0, "configuration": {}})
);
entity!(
    Team,
    "teams",
    ["sportId"],
    json!({"isActive": true, "metadata": {}})
);
entity!(
    Event,
    "events",
    ["sportId"],
    json!({"status": "scheduled", "homeScore": 0, "awayScore": 0, "metadata": {}})
);
entity!(
    Market,
    "markets",
    ["eventId"],
    json!({"isActive": true, "status": "open", "inPlay": false, "rules": {}, "settlementRules": {}})
);
entity!(
    Selection,
    "selections",
    ["marketId"],
    json!({"isActive": true, "metadata": {}})
);

/// Reads an entity from its merged JSON, naming the member at fault when it does not fit.
fn from_doc<T: DeserializeOwned>(doc: Value) -> Result<T, DomainError> {
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.inner().to_string();
        let msg = msg.split(" at line").next().unwrap_or(&msg).to_owned();
        let field = if path == "." {
            // A missing field is reported at the document; serde names it in backticks.
            msg.split('`').nth(1).unwrap_or("body").to_owned()
        } else {
            path
        };
        DomainError::Validation(vec![Violation::new(field, msg)])
    })
}

fn refuse_fields(body: &Value, fields: &[&str]) -> Result<(), DomainError> {
    let bad: Vec<Violation> = fields
        .iter()
        .filter(|f| body.get(**f).is_some())
        .map(|f| Violation::new(*f, "cannot be set"))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(bad))
    }
}

/// A new entity from a request body.
pub fn build<T: CatalogEntity>(body: &Value) -> Result<T, DomainError> {
    if !body.is_object() {
        return Err(DomainError::invalid("body", "must be a JSON object"));
    }
    refuse_fields(body, SERVER_FIELDS)?;
    let t = now();
    let mut doc = T::defaults();
    merge_patch(&mut doc, body);
    merge_patch(
        &mut doc,
        &json!({"id": Uuid::now_v7(), "createdAt": t, "updatedAt": t}),
    );
    let entity: T = from_doc(doc)?;
    entity.validate()?;
    Ok(entity)
}

/// `current` with a partial update applied.
pub fn patched<T: CatalogEntity>(current: &T, patch: &Value) -> Result<T, DomainError> {
    if !patch.is_object() {
        return Err(DomainError::invalid("body", "must be a JSON object"));
    }
    refuse_fields(patch, SERVER_FIELDS)?;
    refuse_fields(patch, T::FIXED)?;
    let mut doc =
        serde_json::to_value(current).map_err(|e| DomainError::invalid("body", e.to_string()))?;
    merge_patch(&mut doc, patch);
    merge_patch(&mut doc, &json!({"updatedAt": now()}));
    let entity: T = from_doc(doc)?;
    entity.validate()?;
    Ok(entity)
}

fn not_found(what: &str, id: Uuid) -> EngineError {
    EngineError::NotFound(format!("{what} {id}"))
}

/// A reference to an object of another sport: well formed, refused by a business rule the
/// schema cannot state (422).
fn sport_mismatch(field: &str, why: &str) -> EngineError {
    crate::wallet::rejected(
        422,
        "SPORT_MISMATCH",
        format!("{field}: {why}"),
        Some(json!([{"field": field, "message": why}])),
    )
}

fn missing(field: &str, what: &str) -> EngineError {
    crate::wallet::missing_reference(field, what)
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

impl Engine {
    /// The references of `e` exist (404 naming the member otherwise) and fit (422). A
    /// reference set on this write (all of them on a create, the changed ones on an update
    /// of `before`) must also not be retired: what DELETE took away cannot be built on, while
    /// what already refers to it keeps working.
    async fn check_refs<T: CatalogEntity + 'static>(
        &self,
        e: &T,
        before: Option<&T>,
    ) -> Result<(), EngineError> {
        let any = e as &dyn std::any::Any;
        // Typed here, so no `&dyn Any` (not `Send`) lives across the awaits below.
        let created = before.is_none();
        let (old_team, old_event) = {
            let b = before.map(|b| b as &dyn std::any::Any);
            (
                b.and_then(|b| b.downcast_ref::<Team>()),
                b.and_then(|b| b.downcast_ref::<Event>()),
            )
        };
        if let Some(l) = any.downcast_ref::<League>() {
            self.store
                .get_sport(l.sport_id)
                .await?
                .ok_or_else(|| missing("sportId", "sport"))?;
            if created {
                self.live(l.sport_id, "sportId", "sport").await?;
            }
        } else if let Some(t) = any.downcast_ref::<Team>() {
            let old = old_team;
            self.store
                .get_sport(t.sport_id)
                .await?
                .ok_or_else(|| missing("sportId", "sport"))?;
            if old.is_none() {
                self.live(t.sport_id, "sportId", "sport").await?;
            }
            if let Some(l) = t.league_id {
                let league = self
                    .store
                    .get_league(l)
                    .await?
                    .ok_or_else(|| missing("leagueId", "league"))?;
                if old.is_none_or(|o| o.league_id != t.league_id) {
                    self.live(l, "leagueId", "league").await?;
                }
                if league.sport_id != t.sport_id {
                    return Err(sport_mismatch("leagueId", "belongs to another sport"));
                }
            }
        } else if let Some(ev) = any.downcast_ref::<Event>() {
            let old = old_event;
            self.store
                .get_sport(ev.sport_id)
                .await?
                .ok_or_else(|| missing("sportId", "sport"))?;
            if old.is_none() {
                self.live(ev.sport_id, "sportId", "sport").await?;
            }
            if let Some(l) = ev.league_id {
                let league = self
                    .store
                    .get_league(l)
                    .await?
                    .ok_or_else(|| missing("leagueId", "league"))?;
                if old.is_none_or(|o| o.league_id != ev.league_id) {
                    self.live(l, "leagueId", "league").await?;
                }
                if league.sport_id != ev.sport_id {
                    return Err(sport_mismatch("leagueId", "belongs to another sport"));
                }
            }
            for (field, id, was) in [
                ("homeTeamId", ev.home_team_id, old.map(|o| o.home_team_id)),
                ("awayTeamId", ev.away_team_id, old.map(|o| o.away_team_id)),
            ] {
                let team = self
                    .store
                    .get_team(id)
                    .await?
                    .ok_or_else(|| missing(field, "team"))?;
                if was != Some(id) {
                    self.live(id, field, "team").await?;
                }
                if team.sport_id != ev.sport_id {
                    return Err(sport_mismatch(field, "plays another sport"));
                }
            }
            if !ev.has_two_teams() {
                return Err(crate::wallet::rejected(
                    422,
                    "SAME_TEAM",
                    "an event is between two different teams",
                    Some(json!([{"field": "awayTeamId",
                                 "message": "an event is between two different teams"}])),
                ));
            }
        } else if let Some(m) = any.downcast_ref::<Market>() {
            self.store
                .get_event(m.event_id)
                .await?
                .ok_or_else(|| missing("eventId", "event"))?;
        } else if let Some(s) = any.downcast_ref::<Selection>() {
            self.store
                .get_market(s.market_id)
                .await?
                .ok_or_else(|| missing("marketId", "market"))?;
            if created {
                self.live(s.market_id, "marketId", "market").await?;
            }
        }
        Ok(())
    }

    /// A reference to something DELETE retired is a reference to nothing (404).
    async fn live(&self, id: Uuid, field: &str, what: &str) -> Result<(), EngineError> {
        if self.store.is_retired(id).await? {
            return Err(missing(field, what));
        }
        Ok(())
    }

    /// Creates a catalog entity from a request body.
    pub async fn create_catalog<T: CatalogEntity + 'static>(
        &self,
        principal: &Principal,
        body: &Value,
        actor: &Actor,
    ) -> Result<T, EngineError> {
        let entity: T = build(body)?;
        self.check_refs(&entity, None).await?;
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
    pub async fn update_catalog<T: CatalogEntity + 'static>(
        &self,
        principal: &Principal,
        id: Uuid,
        patch: &Value,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<T, EngineError> {
        self.change_catalog(principal, id, patch, reason, false, actor)
            .await
    }

    /// An update, and with `retire` the entity's retirement in the same transaction.
    async fn change_catalog<T: CatalogEntity + 'static>(
        &self,
        principal: &Principal,
        id: Uuid,
        patch: &Value,
        reason: Option<String>,
        retire: bool,
        actor: &Actor,
    ) -> Result<T, EngineError> {
        let current: T = self.catalog_get(id).await?;
        let next = patched(&current, patch)?;
        self.check_refs(&next, Some(&current)).await?;
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
    pub async fn retire_catalog<T: CatalogEntity + 'static>(
        &self,
        principal: &Principal,
        id: Uuid,
        actor: &Actor,
    ) -> Result<T, EngineError> {
        self.change_catalog(
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
    pub(crate) async fn not_retired(&self, what: &str, id: Uuid) -> Result<(), EngineError> {
        if self.store.is_retired(id).await? {
            return Err(not_found(what, id));
        }
        Ok(())
    }

    /// One catalog entity by id.
    pub async fn catalog_get<T: CatalogEntity + 'static>(
        &self,
        id: Uuid,
    ) -> Result<T, EngineError> {
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
        sport: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<League>, EngineError> {
        Ok(self.store.list_leagues(sport, page).await?)
    }

    pub async fn teams(
        &self,
        sport: Option<Uuid>,
        league: Option<Uuid>,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Team>, EngineError> {
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
        sport: Uuid,
        page: PageRequest,
    ) -> Result<Page<EventSummary>, EngineError> {
        self.catalog_get::<Sport>(sport).await?;
        let filter = EventFilter {
            sport_id: Some(sport),
            from: Some(now() - chrono::Duration::days(1)),
            page,
            ..Default::default()
        };
        Ok(self.store.list_events(&filter).await?)
    }

    /// An event's markets, each with its selections.
    pub async fn event_markets(
        &self,
        event: Uuid,
    ) -> Result<Vec<(Market, Vec<Selection>)>, EngineError> {
        let markets = self.store.list_markets(event).await?;
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

    pub async fn market_selections(&self, market: Uuid) -> Result<Vec<Selection>, EngineError> {
        Ok(self.store.list_selections(&[market]).await?)
    }

    pub async fn price_history(
        &self,
        selection: Uuid,
        page: PageRequest,
    ) -> Result<Page<PriceChange>, EngineError> {
        self.catalog_get::<Selection>(selection).await?;
        Ok(self.store.price_history(selection, page).await?)
    }

    /// Suspends an open market or reopens a suspended one, in one call.
    pub async fn set_market_suspended(
        &self,
        id: Uuid,
        suspended: bool,
        actor: &Actor,
    ) -> Result<Market, EngineError> {
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

async fn save<T: CatalogEntity + 'static>(
    tx: &mut Box<dyn Transaction>,
    e: &T,
    update: bool,
) -> Result<bool, StoreError> {
    let any = e as &dyn std::any::Any;
    if let Some(v) = any.downcast_ref::<Sport>() {
        tx.save_sport(v, update).await
    } else if let Some(v) = any.downcast_ref::<League>() {
        tx.save_league(v, update).await
    } else if let Some(v) = any.downcast_ref::<Team>() {
        tx.save_team(v, update).await
    } else if let Some(v) = any.downcast_ref::<Event>() {
        tx.save_event(v, update).await
    } else if let Some(v) = any.downcast_ref::<Market>() {
        tx.save_market(v, update).await
    } else if let Some(v) = any.downcast_ref::<Selection>() {
        tx.save_selection(v, update).await
    } else {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_patch_share_the_rules() {
        let s: Sport =
            build(&json!({"name": "football", "displayName": "Football", "slug": "football"}))
                .unwrap();
        assert!(s.is_active);
        assert!(
            build::<Sport>(&json!({"name": "x", "displayName": "X", "slug": "x", "id": "1"}))
                .is_err()
        );
        let err = build::<Sport>(&json!({"displayName": "X", "slug": "x"})).unwrap_err();
        let DomainError::Validation(v) = err;
        assert_eq!(v[0].field, "name", "{v:?}");
        let renamed = patched(&s, &json!({"displayName": "Soccer", "iconUrl": null})).unwrap();
        assert_eq!(renamed.display_name, "Soccer");
        assert_eq!(renamed.created_at, s.created_at);
        assert!(patched(&s, &json!({"slug": "Bad Slug"})).is_err());
        assert!(patched(&s, &json!({"createdAt": "2020-01-01T00:00:00Z"})).is_err());
    }
}
