//! The sportsbook catalog, compiled once per backend.

use std::str::FromStr;

use async_trait::async_trait;
use betflow_domain::sportsbook::catalog::{
    Event, EventFilter, EventStatus, EventSummary, League, Market, MarketStatus, MarketType,
    PriceChange, Selection, Sport, Team,
};
use betflow_domain::sportsbook::odds::Odds;
use betflow_domain::{Page, PageRequest};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::{corrupt, micros, push_page, to_total};
use super::{BACKEND, BackendStore, BackendTx, Db, FOR_UPDATE};
use crate::{Backend, CatalogRead, CatalogWrite, Result};

const SPORT: &str = "id, name, display_name, slug, icon_url, is_active, sort_order, \
    configuration, created_at, updated_at";
const LEAGUE: &str = "id, sport_id, name, display_name, slug, country_code, season, \
    is_active, sort_order, configuration, created_at, updated_at";
const TEAM: &str = "id, sport_id, league_id, name, display_name, abbreviation, slug, \
    logo_url, city, conference, division, founded_year, is_active, metadata, created_at, \
    updated_at";
pub(super) const EVENT: &str = "id, sport_id, league_id, home_team_id, away_team_id, start_time, status, \
    period, clock, home_score, away_score, venue, metadata, created_at, updated_at";
pub(super) const MARKET: &str = "id, event_id, type, name, description, handicap, total_points, \
    is_active, status, in_play, rules, settlement_rules, created_at, updated_at, settled_at";
pub(super) const SELECTION: &str = "id, market_id, name, short_name, odds, probability, is_active, \
    metadata, created_at, updated_at";

/// Leaves out what DELETE retired (see `catalog_retirements`): the catalog's lists show
/// only what its reads can still find.
const NOT_RETIRED: &str = "id NOT IN (SELECT id FROM catalog_retirements)";

pub(super) fn dec(table: &'static str, v: &str) -> Result<Decimal> {
    Decimal::from_str(v).map_err(|e| corrupt(table, e))
}

fn opt_dec(table: &'static str, v: Option<String>) -> Result<Option<Decimal>> {
    v.as_deref().map(|v| dec(table, v)).transpose()
}

pub(super) fn parse<T: FromStr>(table: &'static str, v: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e: T::Err| corrupt(table, e))
}

/// Words of a search, reduced to letters and digits (so no query syntax gets through),
/// each a prefix: `ars che` finds Arsenal v Chelsea.
fn search_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .take(8)
        .collect()
}

/// `EXISTS`-style condition: a team of `column` matches every word of `text`.
fn push_team_search(qb: &mut QueryBuilder<Db>, id_column: &str, words: &[String]) {
    if BACKEND == Backend::Postgres {
        let query = words
            .iter()
            .map(|w| format!("{w}:*"))
            .collect::<Vec<_>>()
            .join(" & ");
        qb.push(format!(
            "{id_column} IN (SELECT id FROM teams WHERE search @@ to_tsquery('simple', "
        ))
        .push_bind(query)
        .push("))");
    } else {
        let query = words
            .iter()
            .map(|w| format!("\"{w}\"*"))
            .collect::<Vec<_>>()
            .join(" ");
        qb.push(format!(
            "{id_column} IN (SELECT id FROM teams WHERE rowid IN \
             (SELECT rowid FROM teams_fts WHERE teams_fts MATCH "
        ))
        .push_bind(query)
        .push("))");
    }
}

#[derive(FromRow)]
struct SportRow {
    id: Uuid,
    name: String,
    display_name: String,
    slug: String,
    icon_url: Option<String>,
    is_active: bool,
    sort_order: i32,
    configuration: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<SportRow> for Sport {
    fn from(r: SportRow) -> Self {
        Sport {
            id: r.id,
            name: r.name,
            display_name: r.display_name,
            slug: r.slug,
            icon_url: r.icon_url,
            is_active: r.is_active,
            sort_order: r.sort_order,
            configuration: r.configuration.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
struct LeagueRow {
    id: Uuid,
    sport_id: Uuid,
    name: String,
    display_name: String,
    slug: String,
    country_code: Option<String>,
    season: Option<String>,
    is_active: bool,
    sort_order: i32,
    configuration: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<LeagueRow> for League {
    fn from(r: LeagueRow) -> Self {
        League {
            id: r.id,
            sport_id: r.sport_id,
            name: r.name,
            display_name: r.display_name,
            slug: r.slug,
            country_code: r.country_code.map(|c| c.trim().to_owned()),
            season: r.season,
            is_active: r.is_active,
            sort_order: r.sort_order,
            configuration: r.configuration.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(FromRow)]
struct TeamRow {
    id: Uuid,
    sport_id: Uuid,
    league_id: Option<Uuid>,
    name: String,
    display_name: String,
    abbreviation: Option<String>,
    slug: String,
    logo_url: Option<String>,
    city: Option<String>,
    conference: Option<String>,
    division: Option<String>,
    founded_year: Option<i32>,
    is_active: bool,
    metadata: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<TeamRow> for Team {
    fn from(r: TeamRow) -> Self {
        Team {
            id: r.id,
            sport_id: r.sport_id,
            league_id: r.league_id,
            name: r.name,
            display_name: r.display_name,
            abbreviation: r.abbreviation,
            slug: r.slug,
            logo_url: r.logo_url,
            city: r.city,
            conference: r.conference,
            division: r.division,
            founded_year: r.founded_year,
            is_active: r.is_active,
            metadata: r.metadata.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Columns of `list` (one of the lists above) qualified by a table alias, for joins.
pub(super) fn qualified(list: &str, alias: &str) -> String {
    list.split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decodes a row struct from consecutive columns starting at `offset`, so one joined query
/// can carry several tables side by side. Fields are listed in their column list's order.
macro_rules! decode_at {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl $ty {
            #[allow(unused_assignments, reason = "the last column advances past the end")]
            pub(super) fn at(row: &<Db as sqlx::Database>::Row, offset: usize) -> Result<Self> {
                use sqlx::Row;
                let mut i = offset;
                Ok(Self {
                    $($field: {
                        let v = row.try_get(i)?;
                        i += 1;
                        v
                    }),*
                })
            }
        }
    };
}

decode_at!(EventRow {
    id,
    sport_id,
    league_id,
    home_team_id,
    away_team_id,
    start_time,
    status,
    period,
    clock,
    home_score,
    away_score,
    venue,
    metadata,
    created_at,
    updated_at,
});
decode_at!(MarketRow {
    id,
    event_id,
    market_type,
    name,
    description,
    handicap,
    total_points,
    is_active,
    status,
    in_play,
    rules,
    settlement_rules,
    created_at,
    updated_at,
    settled_at,
});
decode_at!(SelectionRow {
    id,
    market_id,
    name,
    short_name,
    odds,
    probability,
    is_active,
    metadata,
    created_at,
    updated_at,
});

#[derive(FromRow)]
pub(super) struct EventRow {
    id: Uuid,
    sport_id: Uuid,
    league_id: Option<Uuid>,
    home_team_id: Uuid,
    away_team_id: Uuid,
    start_time: DateTime<Utc>,
    status: String,
    period: Option<String>,
    clock: Option<String>,
    home_score: i32,
    away_score: i32,
    venue: Option<String>,
    metadata: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<EventRow> for Event {
    type Error = crate::StoreError;
    fn try_from(r: EventRow) -> Result<Self> {
        Ok(Event {
            id: r.id,
            sport_id: r.sport_id,
            league_id: r.league_id,
            home_team_id: r.home_team_id,
            away_team_id: r.away_team_id,
            start_time: r.start_time,
            status: parse::<EventStatus>("events", &r.status)?,
            period: r.period,
            clock: r.clock,
            home_score: r.home_score,
            away_score: r.away_score,
            venue: r.venue,
            metadata: r.metadata.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct SummaryRow {
    #[sqlx(flatten)]
    event: EventRow,
    home_team_name: String,
    away_team_name: String,
    market_count: i64,
}

#[derive(FromRow)]
pub(super) struct MarketRow {
    id: Uuid,
    event_id: Uuid,
    #[sqlx(rename = "type")]
    market_type: String,
    name: String,
    description: Option<String>,
    handicap: Option<String>,
    total_points: Option<String>,
    is_active: bool,
    status: String,
    in_play: bool,
    rules: Json<Value>,
    settlement_rules: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    settled_at: Option<DateTime<Utc>>,
}

impl TryFrom<MarketRow> for Market {
    type Error = crate::StoreError;
    fn try_from(r: MarketRow) -> Result<Self> {
        const T: &str = "markets";
        Ok(Market {
            id: r.id,
            event_id: r.event_id,
            market_type: parse::<MarketType>(T, &r.market_type)?,
            name: r.name,
            description: r.description,
            handicap: opt_dec(T, r.handicap)?,
            total_points: opt_dec(T, r.total_points)?,
            is_active: r.is_active,
            status: parse::<MarketStatus>(T, &r.status)?,
            in_play: r.in_play,
            rules: r.rules.0,
            settlement_rules: r.settlement_rules.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
            settled_at: r.settled_at,
        })
    }
}

#[derive(FromRow)]
pub(super) struct SelectionRow {
    id: Uuid,
    market_id: Uuid,
    name: String,
    short_name: Option<String>,
    odds: String,
    probability: Option<String>,
    is_active: bool,
    metadata: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SelectionRow> for Selection {
    type Error = crate::StoreError;
    fn try_from(r: SelectionRow) -> Result<Self> {
        const T: &str = "selections";
        Ok(Selection {
            id: r.id,
            market_id: r.market_id,
            name: r.name,
            short_name: r.short_name,
            odds: Odds::from_store(dec(T, &r.odds)?),
            probability: opt_dec(T, r.probability)?,
            is_active: r.is_active,
            metadata: r.metadata.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
struct PriceRow {
    id: Uuid,
    selection_id: Uuid,
    old_odds: Option<String>,
    new_odds: String,
    changed_by: Option<Uuid>,
    reason: Option<String>,
    created_at: DateTime<Utc>,
}

async fn one<R, T>(pool: &sqlx::Pool<Db>, mut qb: QueryBuilder<Db>) -> Result<Option<T>>
where
    R: for<'r> FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
    T: TryFrom<R, Error = crate::StoreError>,
{
    let row: Option<R> = qb.build_query_as().fetch_optional(pool).await?;
    row.map(T::try_from).transpose()
}

fn by_id(columns: &str, table: &str, id: Uuid) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::<Db>::new(format!("SELECT {columns} FROM {table} WHERE id = "));
    qb.push_bind(id);
    qb
}

macro_rules! infallible_try_from {
    ($($row:ty => $t:ty),*) => {$(
        impl TryFrom<$row> for Wrapped<$t> {
            type Error = crate::StoreError;
            fn try_from(r: $row) -> Result<Self> {
                Ok(Wrapped(<$t>::from(r)))
            }
        }
    )*};
}

/// Lets infallible conversions share [`one`].
struct Wrapped<T>(T);
infallible_try_from!(SportRow => Sport, LeagueRow => League, TeamRow => Team);

#[async_trait]
impl CatalogRead for BackendStore {
    async fn get_sport(&self, id: Uuid) -> Result<Option<Sport>> {
        Ok(
            one::<SportRow, Wrapped<Sport>>(&self.pool, by_id(SPORT, "sports", id))
                .await?
                .map(|w| w.0),
        )
    }

    async fn is_retired(&self, id: Uuid) -> Result<bool> {
        let mut qb =
            QueryBuilder::<Db>::new("SELECT COUNT(*) FROM catalog_retirements WHERE id = ");
        qb.push_bind(id);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(n > 0)
    }

    async fn list_sports(&self, active_only: bool, page: PageRequest) -> Result<Page<Sport>> {
        let filter = |qb: &mut QueryBuilder<Db>| {
            qb.push(format!(" WHERE {NOT_RETIRED}"));
            if active_only {
                qb.push(" AND is_active = ").push_bind(true);
            }
        };
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM sports");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {SPORT} FROM sports"));
        filter(&mut qb);
        // The id breaks ties so pages neither repeat nor skip a sport.
        qb.push(" ORDER BY sort_order, display_name, id");
        push_page(&mut qb, page);
        let rows: Vec<SportRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::new(
            rows.into_iter().map(Sport::from).collect(),
            to_total(total),
            page,
        ))
    }

    async fn get_league(&self, id: Uuid) -> Result<Option<League>> {
        Ok(
            one::<LeagueRow, Wrapped<League>>(&self.pool, by_id(LEAGUE, "leagues", id))
                .await?
                .map(|w| w.0),
        )
    }

    async fn list_leagues(
        &self,
        sport_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<League>> {
        let filter = |qb: &mut QueryBuilder<Db>| {
            qb.push(format!(" WHERE {NOT_RETIRED}"));
            if let Some(s) = sport_id {
                qb.push(" AND sport_id = ").push_bind(s);
            }
        };
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM leagues");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {LEAGUE} FROM leagues"));
        filter(&mut qb);
        qb.push(" ORDER BY sort_order, display_name, id");
        push_page(&mut qb, page);
        let rows: Vec<LeagueRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::new(
            rows.into_iter().map(League::from).collect(),
            to_total(total),
            page,
        ))
    }

    async fn get_team(&self, id: Uuid) -> Result<Option<Team>> {
        Ok(
            one::<TeamRow, Wrapped<Team>>(&self.pool, by_id(TEAM, "teams", id))
                .await?
                .map(|w| w.0),
        )
    }

    async fn list_teams(
        &self,
        sport_id: Option<Uuid>,
        league_id: Option<Uuid>,
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Team>> {
        let words = search.map(search_words).unwrap_or_default();
        let filter = |qb: &mut QueryBuilder<Db>| {
            qb.push(format!(" WHERE {NOT_RETIRED}"));
            if let Some(s) = sport_id {
                qb.push(" AND sport_id = ").push_bind(s);
            }
            if let Some(l) = league_id {
                qb.push(" AND league_id = ").push_bind(l);
            }
            if !words.is_empty() {
                qb.push(" AND ");
                push_team_search(qb, "id", &words);
            }
        };
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM teams");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {TEAM} FROM teams"));
        filter(&mut qb);
        qb.push(" ORDER BY display_name, id");
        push_page(&mut qb, page);
        let rows: Vec<TeamRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::new(
            rows.into_iter().map(Team::from).collect(),
            to_total(total),
            page,
        ))
    }

    async fn get_event(&self, id: Uuid) -> Result<Option<Event>> {
        one::<EventRow, Event>(&self.pool, by_id(EVENT, "events", id)).await
    }

    async fn list_events(&self, f: &EventFilter) -> Result<Page<EventSummary>> {
        let words = f.search.as_deref().map(search_words).unwrap_or_default();
        let filter = |qb: &mut QueryBuilder<Db>| {
            qb.push(" WHERE 1 = 1");
            if let Some(s) = f.sport_id {
                qb.push(" AND e.sport_id = ").push_bind(s);
            }
            if let Some(l) = f.league_id {
                qb.push(" AND e.league_id = ").push_bind(l);
            }
            if let Some(s) = f.status {
                qb.push(" AND e.status = ").push_bind(s.as_str());
            }
            if f.live {
                qb.push(" AND e.status IN ('live', 'halftime')");
            }
            if let Some(t) = f.from {
                qb.push(" AND e.start_time >= ").push_bind(micros(t));
            }
            if let Some(t) = f.to {
                qb.push(" AND e.start_time < ").push_bind(micros(t));
            }
            // Every word must name one of the two teams ("chelsea everton").
            for w in &words {
                let w = std::slice::from_ref(w);
                qb.push(" AND (");
                push_team_search(qb, "e.home_team_id", w);
                qb.push(" OR ");
                push_team_search(qb, "e.away_team_id", w);
                qb.push(")");
            }
        };
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM events e");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let columns: String = EVENT
            .split(", ")
            .map(|c| format!("e.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {columns}, ht.display_name AS home_team_name, at.display_name AS \
             away_team_name, (SELECT COUNT(*) FROM markets m WHERE m.event_id = e.id AND \
             m.is_active = "
        ));
        qb.push_bind(true).push(
            ") AS market_count FROM events e JOIN teams ht ON ht.id = e.home_team_id \
             JOIN teams at ON at.id = e.away_team_id",
        );
        filter(&mut qb);
        qb.push(" ORDER BY e.start_time, e.id");
        push_page(&mut qb, f.page);
        let rows: Vec<SummaryRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(EventSummary {
                    event: Event::try_from(r.event)?,
                    home_team_name: r.home_team_name,
                    away_team_name: r.away_team_name,
                    market_count: to_total(r.market_count),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::new(items, to_total(total), f.page))
    }

    async fn get_market(&self, id: Uuid) -> Result<Option<Market>> {
        one::<MarketRow, Market>(&self.pool, by_id(MARKET, "markets", id)).await
    }

    async fn list_markets(&self, event_id: Uuid) -> Result<Vec<Market>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {MARKET} FROM markets WHERE {NOT_RETIRED} AND event_id = "
        ));
        qb.push_bind(event_id).push(" ORDER BY created_at, id");
        let rows: Vec<MarketRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(Market::try_from).collect()
    }

    async fn get_selection(&self, id: Uuid) -> Result<Option<Selection>> {
        one::<SelectionRow, Selection>(&self.pool, by_id(SELECTION, "selections", id)).await
    }

    async fn list_selections(&self, market_ids: &[Uuid]) -> Result<Vec<Selection>> {
        if market_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {SELECTION} FROM selections WHERE {NOT_RETIRED} AND market_id IN ("
        ));
        let mut ids = qb.separated(", ");
        for id in market_ids {
            ids.push_bind(*id);
        }
        qb.push(") ORDER BY created_at, id");
        let rows: Vec<SelectionRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(Selection::try_from).collect()
    }

    async fn price_history(
        &self,
        selection_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<PriceChange>> {
        let mut count =
            QueryBuilder::<Db>::new("SELECT COUNT(*) FROM selection_prices WHERE selection_id = ");
        count.push_bind(selection_id);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, selection_id, old_odds, new_odds, changed_by, reason, created_at \
             FROM selection_prices WHERE selection_id = ",
        );
        qb.push_bind(selection_id).push(" ORDER BY created_at, id");
        push_page(&mut qb, page);
        let rows: Vec<PriceRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let items = rows
            .into_iter()
            .map(|r| {
                const T: &str = "selection_prices";
                Ok(PriceChange {
                    id: r.id,
                    selection_id: r.selection_id,
                    old_odds: opt_dec(T, r.old_odds)?.map(Odds::from_store),
                    new_odds: Odds::from_store(dec(T, &r.new_odds)?),
                    changed_by: r.changed_by,
                    reason: r.reason,
                    created_at: r.created_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::new(items, to_total(total), page))
    }
}

/// `INSERT INTO table (columns) VALUES (…)`, or with `update`, `UPDATE table SET c = …
/// WHERE id = …` over the same columns, from one list of bound values.
struct Upsert {
    table: &'static str,
    columns: &'static str,
    update: bool,
    qb: QueryBuilder<Db>,
    n: usize,
    id: Option<Uuid>,
}

impl Upsert {
    fn new(table: &'static str, columns: &'static str, update: bool) -> Self {
        let qb = if update {
            QueryBuilder::<Db>::new(format!("UPDATE {table} SET "))
        } else {
            QueryBuilder::<Db>::new(format!("INSERT INTO {table} ({columns}) VALUES ("))
        };
        Self {
            table,
            columns,
            update,
            qb,
            n: 0,
            id: None,
        }
    }

    fn bind<'t, T>(mut self, v: T) -> Self
    where
        T: sqlx::Encode<'t, Db> + sqlx::Type<Db>,
    {
        let col = self
            .columns
            .split(", ")
            .nth(self.n)
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if self.n > 0 {
            self.qb.push(", ");
        }
        if self.update {
            self.qb.push(format!("{col} = "));
        }
        self.qb.push_bind(v);
        self.n += 1;
        self
    }

    fn id(mut self, id: Uuid) -> Self {
        self.id = Some(id);
        self.bind(id)
    }

    async fn run(mut self, tx: &mut BackendTx) -> Result<bool> {
        debug_assert_eq!(self.n, self.columns.split(", ").count(), "{}", self.table);
        if self.update {
            self.qb
                .push(" WHERE id = ")
                .push_bind(self.id.unwrap_or_default());
        } else {
            self.qb.push(")");
        }
        Ok(self.qb.build().execute(&mut *tx.tx).await?.rows_affected() == 1)
    }
}

#[async_trait]
impl CatalogWrite for BackendTx {
    async fn save_sport(&mut self, s: &Sport, update: bool) -> Result<bool> {
        Upsert::new("sports", SPORT, update)
            .id(s.id)
            .bind(s.name.clone())
            .bind(s.display_name.clone())
            .bind(s.slug.clone())
            .bind(s.icon_url.clone())
            .bind(s.is_active)
            .bind(s.sort_order)
            .bind(Json(s.configuration.clone()))
            .bind(micros(s.created_at))
            .bind(micros(s.updated_at))
            .run(self)
            .await
    }

    async fn save_league(&mut self, l: &League, update: bool) -> Result<bool> {
        Upsert::new("leagues", LEAGUE, update)
            .id(l.id)
            .bind(l.sport_id)
            .bind(l.name.clone())
            .bind(l.display_name.clone())
            .bind(l.slug.clone())
            .bind(l.country_code.clone())
            .bind(l.season.clone())
            .bind(l.is_active)
            .bind(l.sort_order)
            .bind(Json(l.configuration.clone()))
            .bind(micros(l.created_at))
            .bind(micros(l.updated_at))
            .run(self)
            .await
    }

    async fn save_team(&mut self, t: &Team, update: bool) -> Result<bool> {
        Upsert::new("teams", TEAM, update)
            .id(t.id)
            .bind(t.sport_id)
            .bind(t.league_id)
            .bind(t.name.clone())
            .bind(t.display_name.clone())
            .bind(t.abbreviation.clone())
            .bind(t.slug.clone())
            .bind(t.logo_url.clone())
            .bind(t.city.clone())
            .bind(t.conference.clone())
            .bind(t.division.clone())
            .bind(t.founded_year)
            .bind(t.is_active)
            .bind(Json(t.metadata.clone()))
            .bind(micros(t.created_at))
            .bind(micros(t.updated_at))
            .run(self)
            .await
    }

    async fn save_event(&mut self, e: &Event, update: bool) -> Result<bool> {
        Upsert::new("events", EVENT, update)
            .id(e.id)
            .bind(e.sport_id)
            .bind(e.league_id)
            .bind(e.home_team_id)
            .bind(e.away_team_id)
            .bind(micros(e.start_time))
            .bind(e.status.as_str())
            .bind(e.period.clone())
            .bind(e.clock.clone())
            .bind(e.home_score)
            .bind(e.away_score)
            .bind(e.venue.clone())
            .bind(Json(e.metadata.clone()))
            .bind(micros(e.created_at))
            .bind(micros(e.updated_at))
            .run(self)
            .await
    }

    async fn save_market(&mut self, m: &Market, update: bool) -> Result<bool> {
        Upsert::new("markets", MARKET, update)
            .id(m.id)
            .bind(m.event_id)
            .bind(m.market_type.as_str())
            .bind(m.name.clone())
            .bind(m.description.clone())
            .bind(m.handicap.map(|d| d.normalize().to_string()))
            .bind(m.total_points.map(|d| d.normalize().to_string()))
            .bind(m.is_active)
            .bind(m.status.as_str())
            .bind(m.in_play)
            .bind(Json(m.rules.clone()))
            .bind(Json(m.settlement_rules.clone()))
            .bind(micros(m.created_at))
            .bind(micros(m.updated_at))
            .bind(m.settled_at.map(micros))
            .run(self)
            .await
    }

    async fn save_selection(&mut self, s: &Selection, update: bool) -> Result<bool> {
        Upsert::new("selections", SELECTION, update)
            .id(s.id)
            .bind(s.market_id)
            .bind(s.name.clone())
            .bind(s.short_name.clone())
            .bind(s.odds.get().normalize().to_string())
            .bind(s.probability.map(|p| p.normalize().to_string()))
            .bind(s.is_active)
            .bind(Json(s.metadata.clone()))
            .bind(micros(s.created_at))
            .bind(micros(s.updated_at))
            .run(self)
            .await
    }

    async fn retire(&mut self, table: &str, id: Uuid, at: DateTime<Utc>) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO catalog_retirements (id, table_name, retired_at) VALUES (",
        );
        let mut v = qb.separated(", ");
        v.push_bind(id)
            .push_bind(table.to_owned())
            .push_bind(micros(at));
        qb.push(") ON CONFLICT (id) DO NOTHING");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn lock_market(&mut self, id: Uuid) -> Result<Option<Market>> {
        let mut qb = by_id(MARKET, "markets", id);
        qb.push(FOR_UPDATE);
        let row: Option<MarketRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(Market::try_from).transpose()
    }

    async fn lock_selection(&mut self, id: Uuid) -> Result<Option<Selection>> {
        let mut qb = by_id(SELECTION, "selections", id);
        qb.push(FOR_UPDATE);
        let row: Option<SelectionRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(Selection::try_from).transpose()
    }

    async fn insert_price_change(&mut self, p: &PriceChange) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO selection_prices (id, selection_id, old_odds, new_odds, changed_by, \
             reason, created_at) VALUES (",
        );
        let mut v = qb.separated(", ");
        v.push_bind(p.id)
            .push_bind(p.selection_id)
            .push_bind(p.old_odds.map(|d| d.get().normalize().to_string()))
            .push_bind(p.new_odds.get().normalize().to_string())
            .push_bind(p.changed_by)
            .push_bind(p.reason.clone())
            .push_bind(micros(p.created_at));
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }
}
