//! The sportsbook catalog: sports, leagues, teams, events, markets and selections.

use async_trait::async_trait;
use betflow_domain::sportsbook::catalog::{
    Event as Fixture, EventFilter, EventSummary, League, Market, PriceChange, Selection, Sport,
    Team,
};
use betflow_domain::{Page, PageRequest};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// Reading the sportsbook catalog.
#[async_trait]
pub trait CatalogRead {
    async fn get_sport(&self, id: Uuid) -> Result<Option<Sport>>;
    /// Whether DELETE retired the sport, league, team, market or selection with this id.
    /// Its row stays (and `get_*` still reads it, for bets and settlement); the catalog API
    /// treats it as gone, and the lists below leave it out.
    async fn is_retired(&self, id: Uuid) -> Result<bool>;
    /// In display order, a page at a time.
    async fn list_sports(&self, active_only: bool, page: PageRequest) -> Result<Page<Sport>>;
    async fn get_league(&self, id: Uuid) -> Result<Option<League>>;
    async fn list_leagues(&self, sport_id: Option<Uuid>, page: PageRequest)
    -> Result<Page<League>>;
    async fn get_team(&self, id: Uuid) -> Result<Option<Team>>;
    /// `search` is full-text over names, abbreviation and city, each word a prefix.
    async fn list_teams(
        &self,
        sport_id: Option<Uuid>,
        league_id: Option<Uuid>,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Team>>;
    async fn get_event(&self, id: Uuid) -> Result<Option<Fixture>>;
    /// Soonest first, with team names and active market counts (get_events_with_markets).
    async fn list_events(&self, filter: &EventFilter) -> Result<Page<EventSummary>>;
    async fn get_market(&self, id: Uuid) -> Result<Option<Market>>;
    /// The event's markets that are not retired.
    async fn list_markets(&self, event_id: Uuid) -> Result<Vec<Market>>;
    async fn get_selection(&self, id: Uuid) -> Result<Option<Selection>>;
    /// The selections of these markets that are not retired.
    async fn list_selections(&self, market_ids: &[Uuid]) -> Result<Vec<Selection>>;
    /// A selection's odds changes, oldest first, a page at a time.
    async fn price_history(
        &self,
        selection_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<PriceChange>>;
}

/// Writing the catalog inside a transaction. `save_*` inserts, or with `update` rewrites the
/// row by id (returning `false` when there is none).
#[async_trait]
pub trait CatalogWrite {
    async fn save_sport(&mut self, sport: &Sport, update: bool) -> Result<bool>;
    async fn save_league(&mut self, league: &League, update: bool) -> Result<bool>;
    async fn save_team(&mut self, team: &Team, update: bool) -> Result<bool>;
    async fn save_event(&mut self, event: &Fixture, update: bool) -> Result<bool>;
    async fn save_market(&mut self, market: &Market, update: bool) -> Result<bool>;
    async fn save_selection(&mut self, selection: &Selection, update: bool) -> Result<bool>;
    /// Records that DELETE retired `id` (of `table`); retiring it again changes nothing.
    async fn retire(&mut self, table: &str, id: Uuid, at: DateTime<Utc>) -> Result<()>;
    async fn lock_market(&mut self, id: Uuid) -> Result<Option<Market>>;
    async fn lock_selection(&mut self, id: Uuid) -> Result<Option<Selection>>;
    async fn insert_price_change(&mut self, change: &PriceChange) -> Result<()>;
}
