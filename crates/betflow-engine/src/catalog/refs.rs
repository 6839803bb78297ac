//! A catalog entity's references: they exist, they fit (the same sport), and what this
//! write sets is not retired.

use betflow_domain::sportsbook::catalog::{Event, League, Market, Selection, Team};
use betflow_store::Store;
use serde_json::json;
use uuid::Uuid;

use super::entity::CatalogEntity;
use crate::{EngineError, RefusalKind};

/// A reference to an object of another sport: well formed, refused by a business rule the
/// schema cannot state (422).
fn sport_mismatch(field: &str, why: &str) -> EngineError {
    EngineError::refused(
        RefusalKind::Unprocessable,
        "SPORT_MISMATCH",
        format!("{field}: {why}"),
        Some(json!([{"field": field, "message": why}])),
    )
}

fn missing(field: &str, what: &str) -> EngineError {
    EngineError::missing_reference(field, what)
}

/// The references of `e` exist (404 naming the member otherwise) and fit (422). A
/// reference set on this write (all of them on a create, the changed ones on an update
/// of `before`) must also not be retired: what DELETE took away cannot be built on, while
/// what already refers to it keeps working.
pub(super) async fn check_refs<T: CatalogEntity + 'static>(
    store: &dyn Store,
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
        store
            .get_sport(l.sport_id)
            .await?
            .ok_or_else(|| missing("sportId", "sport"))?;
        if created {
            live(store, l.sport_id, "sportId", "sport").await?;
        }
    } else if let Some(t) = any.downcast_ref::<Team>() {
        let old = old_team;
        store
            .get_sport(t.sport_id)
            .await?
            .ok_or_else(|| missing("sportId", "sport"))?;
        if old.is_none() {
            live(store, t.sport_id, "sportId", "sport").await?;
        }
        if let Some(l) = t.league_id {
            let league = store
                .get_league(l)
                .await?
                .ok_or_else(|| missing("leagueId", "league"))?;
            if old.is_none_or(|o| o.league_id != t.league_id) {
                live(store, l, "leagueId", "league").await?;
            }
            if league.sport_id != t.sport_id {
                return Err(sport_mismatch("leagueId", "belongs to another sport"));
            }
        }
    } else if let Some(ev) = any.downcast_ref::<Event>() {
        let old = old_event;
        store
            .get_sport(ev.sport_id)
            .await?
            .ok_or_else(|| missing("sportId", "sport"))?;
        if old.is_none() {
            live(store, ev.sport_id, "sportId", "sport").await?;
        }
        if let Some(l) = ev.league_id {
            let league = store
                .get_league(l)
                .await?
                .ok_or_else(|| missing("leagueId", "league"))?;
            if old.is_none_or(|o| o.league_id != ev.league_id) {
                live(store, l, "leagueId", "league").await?;
            }
            if league.sport_id != ev.sport_id {
                return Err(sport_mismatch("leagueId", "belongs to another sport"));
            }
        }
        for (field, id, was) in [
            ("homeTeamId", ev.home_team_id, old.map(|o| o.home_team_id)),
            ("awayTeamId", ev.away_team_id, old.map(|o| o.away_team_id)),
        ] {
            let team = store
                .get_team(id)
                .await?
                .ok_or_else(|| missing(field, "team"))?;
            if was != Some(id) {
                live(store, id, field, "team").await?;
            }
            if team.sport_id != ev.sport_id {
                return Err(sport_mismatch(field, "plays another sport"));
            }
        }
        if !ev.has_two_teams() {
            return Err(EngineError::refused(
                RefusalKind::Unprocessable,
                "SAME_TEAM",
                "an event is between two different teams",
                Some(json!([{"field": "awayTeamId",
                             "message": "an event is between two different teams"}])),
            ));
        }
    } else if let Some(m) = any.downcast_ref::<Market>() {
        store
            .get_event(m.event_id)
            .await?
            .ok_or_else(|| missing("eventId", "event"))?;
    } else if let Some(s) = any.downcast_ref::<Selection>() {
        store
            .get_market(s.market_id)
            .await?
            .ok_or_else(|| missing("marketId", "market"))?;
        if created {
            live(store, s.market_id, "marketId", "market").await?;
        }
    }
    Ok(())
}

/// A reference to something DELETE retired is a reference to nothing (404).
async fn live(store: &dyn Store, id: Uuid, field: &str, what: &str) -> Result<(), EngineError> {
    if store.is_retired(id).await? {
        return Err(missing(field, what));
    }
    Ok(())
}
