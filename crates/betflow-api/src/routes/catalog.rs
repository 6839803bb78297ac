//! The sportsbook catalog under `/api/v1`: sports, leagues, teams, events, markets and
//! selections. Reads need `sportsbook:read` (customers have it); writes `sportsbook:manage`.
//! Creates take the entity's fields; `PATCH` takes any of them (`null` clears an optional
//! one); unknown members are refused. `DELETE` retires an entity: the catalog answers 404
//! for it from then on, while the bets and history that name it keep it. Odds are exact
//! decimal strings; `?oddsFormat=american|decimal|fractional` (or else the caller's
//! preference) adds `displayOdds` in that format. Every list is a page (`page`, `limit`).

pub mod dto;

use axum::extract::State;
use axum::http::header::LOCATION;
use betflow_domain::DomainError;
use betflow_domain::ids::{FixtureId, LeagueId, MarketId, SelectionId, SportId, TeamId};
use betflow_domain::sportsbook::catalog::{
    Event, EventFilter, EventStatus, League, Market, Selection, Sport, Team,
};
use betflow_domain::sportsbook::odds::OddsFormat;
use betflow_engine::catalog::CatalogEntity;
use betflow_engine::line_changes::SelectionUpdate;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use uuid::Uuid;

use self::dto::{
    EventCreate, EventDto, EventPatch, EventSummaryDto, EventView, LeagueCreate, LeagueDto,
    LeaguePatch, MarketCreate, MarketDto, MarketPatch, MarketView, PendingApproval, PriceChangeDto,
    SelectionCreate, SelectionDto, SelectionPatch, SelectionPending, SelectionView, SportCreate,
    SportDto, SportPatch, TeamCreate, TeamDto, TeamPatch, as_patch, enums, typed,
};
use super::dto::{ListData, PageParams};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub const TAG: &str = "sportsbook";

crate::permissions! {
    Read => ["sportsbook:read"];
    Manage => ["sportsbook:manage"];
}

/// A 201 answer with the `Location` of what was created.
pub(crate) type Created<T> = ([(axum::http::HeaderName, String); 1], ApiResponse<T>);

pub(crate) fn created<T: serde::Serialize>(location: String, body: T) -> Created<T> {
    ([(LOCATION, location)], ApiResponse::created(body))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct FormatParams {
    /// How `displayOdds` renders the odds; default: the caller's preference, else decimal.
    #[param(schema_with = enums::odds_format)]
    pub odds_format: Option<OddsFormat>,
}

/// `?oddsFormat=` if given, else the caller's preference, else decimal.
async fn format_of(
    state: &AppState,
    principal: &betflow_engine::identity::Principal,
    asked: Option<OddsFormat>,
) -> Result<OddsFormat, ApiError> {
    if let Some(f) = asked {
        return Ok(f);
    }
    let (_, prefs) = state.engine.customers().get(principal.user_id).await?;
    Ok(prefs.map(|p| p.odds_format).unwrap_or_default())
}

/// Creates `T` from its typed request (re-serialized, so the engine sees exactly the
/// members the schema declares) and answers 201 with its `Location`.
async fn create<T, B, D>(
    state: &AppState,
    principal: &betflow_engine::identity::Principal,
    actor: &betflow_domain::audit::Actor,
    body: &B,
    collection: &str,
) -> Result<Created<D>, ApiError>
where
    T: CatalogEntity + 'static,
    B: serde::Serialize,
    D: From<T> + serde::Serialize,
{
    let e: T = state
        .engine
        .catalog()
        .create(principal, &as_patch(body)?, actor)
        .await?;
    let location = format!("/api/v1/{collection}/{}", e.id());
    Ok(created(location, D::from(e)))
}

async fn update<T, B, D>(
    state: &AppState,
    principal: &betflow_engine::identity::Principal,
    actor: &betflow_domain::audit::Actor,
    id: Uuid,
    body: &B,
) -> Result<ApiResponse<D>, ApiError>
where
    T: CatalogEntity + 'static,
    B: serde::Serialize,
    D: From<T> + serde::Serialize,
{
    let e: T = state
        .engine
        .catalog()
        .update(principal, T::Id::from(id), &as_patch(body)?, None, actor)
        .await?;
    Ok(ApiResponse::ok(D::from(e)))
}

async fn retire<T, D>(
    state: &AppState,
    principal: &betflow_engine::identity::Principal,
    actor: &betflow_domain::audit::Actor,
    id: Uuid,
) -> Result<ApiResponse<D>, ApiError>
where
    T: CatalogEntity + 'static,
    D: From<T> + serde::Serialize,
{
    let e: T = state
        .engine
        .catalog()
        .retire(principal, T::Id::from(id), actor)
        .await?;
    Ok(ApiResponse::ok(D::from(e)))
}

/// `DELETE` handlers: each deactivates its entity (see `Engine::retire_catalog`).
macro_rules! retire_route {
    ($name:ident, $t:ty, $dto:ty, $path:literal, $what:literal) => {
        #[utoipa::path(delete, path = $path, tag = TAG, summary = concat!("Retire a ", $what),
            description = concat!("Requires `sportsbook:manage`. The ", $what, " is retired: \
                deactivated (it takes no bets) and from then on gone from the catalog API \
                (404 for it, its changes and its sub-resources; lists leave it out), but not \
                erased: everything that names it (bets, prices, history) stays and keeps \
                working, and a retired market's bets are still settled or voided. Audited."),
            params(("id" = Uuid, Path)),
            responses((status = 200, description = "The entity, now inactive",
                body = Envelope<$dto>)))]
        pub async fn $name(
            State(state): State<AppState>,
            Authorized(p, _): Authorized<Manage>,
            ClientInfo(actor): ClientInfo,
            ApiPath(id): ApiPath<Uuid>,
        ) -> Result<ApiResponse<$dto>, ApiError> {
            retire::<$t, $dto>(&state, &p, &actor, id).await
        }
    };
}

retire_route!(
    delete_sport,
    Sport,
    SportDto,
    "/api/v1/sports/{id}",
    "sport"
);
retire_route!(
    delete_league,
    League,
    LeagueDto,
    "/api/v1/leagues/{id}",
    "league"
);
retire_route!(delete_team, Team, TeamDto, "/api/v1/teams/{id}", "team");
retire_route!(
    delete_market,
    Market,
    MarketDto,
    "/api/v1/markets/{id}",
    "market"
);
retire_route!(
    delete_selection,
    Selection,
    SelectionDto,
    "/api/v1/selections/{id}",
    "selection"
);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SportParams {
    /// Include inactive sports (default: active only). Retired (deleted) ones never show.
    pub all: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/sports", tag = TAG, summary = "List sports",
    description = "Requires `sportsbook:read`. Active sports (or all with `all=true`) in \
                   display order, a page at a time.",
    params(SportParams, PageParams),
    responses((status = 200, description = "A page of sports", body = Envelope<ListData<SportDto>>)))]
pub async fn list_sports(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(q): ApiQuery<SportParams>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<SportDto>>, ApiError> {
    let page = state
        .engine
        .catalog()
        .sports(!q.all.unwrap_or(false), paging.request()?)
        .await?;
    Ok(ApiResponse::ok(ListData::from_page(page, SportDto::from)))
}

#[utoipa::path(post, path = "/api/v1/sports", tag = TAG, summary = "Create a sport",
    description = "Requires `sportsbook:manage`. Name and slug are unique: \
                   `CONFLICT` (409) otherwise.",
    request_body = SportCreate,
    responses((status = 201, description = "The sport", body = Envelope<SportDto>,
            headers(("Location" = String, description = "The sport's URL"))),
        (status = 409, description = "CONFLICT: the name or slug is taken",
            body = crate::error::ErrorEnvelope)))]
pub async fn create_sport(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<Created<SportDto>, ApiError> {
    let body: SportCreate = typed(body)?;
    create::<Sport, _, _>(&state, &p, &actor, &body, "sports").await
}

#[utoipa::path(get, path = "/api/v1/sports/{id}", tag = TAG, summary = "Get a sport",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The sport", body = Envelope<SportDto>)))]
pub async fn get_sport(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<SportDto>, ApiError> {
    let s: Sport = state.engine.catalog().get(SportId::from(id)).await?;
    Ok(ApiResponse::ok(s.into()))
}

#[utoipa::path(patch, path = "/api/v1/sports/{id}", tag = TAG, summary = "Change a sport",
    description = "Requires `sportsbook:manage`. Audited.", params(("id" = Uuid, Path)),
    request_body = SportPatch,
    responses((status = 200, description = "The sport", body = Envelope<SportDto>),
        (status = 409, description = "CONFLICT: the name or slug is taken",
            body = crate::error::ErrorEnvelope)))]
pub async fn update_sport(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<SportDto>, ApiError> {
    let body: SportPatch = typed(body)?;
    update::<Sport, _, _>(&state, &p, &actor, id, &body).await
}

#[utoipa::path(get, path = "/api/v1/sports/{id}/events", tag = TAG,
    summary = "A sport's events with their market counts",
    description = "Requires `sportsbook:read`. The seed's get_events_with_markets: events \
                   starting from a day ago, soonest first, with team names and the number of \
                   active markets.",
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, description = "A page of events",
        body = Envelope<ListData<EventSummaryDto>>)))]
pub async fn sport_events(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<EventSummaryDto>>, ApiError> {
    let page = state
        .engine
        .catalog()
        .sport_events(SportId::from(id), paging.request()?)
        .await?;
    Ok(ApiResponse::ok(ListData::from_page(
        page,
        EventSummaryDto::from,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LeagueParams {
    /// Only this sport's leagues.
    pub sport_id: Option<Uuid>,
}

#[utoipa::path(get, path = "/api/v1/leagues", tag = TAG, summary = "List leagues",
    description = "Requires `sportsbook:read`. In display order.",
    params(LeagueParams, PageParams),
    responses((status = 200, description = "A page of leagues",
        body = Envelope<ListData<LeagueDto>>)))]
pub async fn list_leagues(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(q): ApiQuery<LeagueParams>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<LeagueDto>>, ApiError> {
    let page = state
        .engine
        .catalog()
        .leagues(q.sport_id.map(SportId::from), paging.request()?)
        .await?;
    Ok(ApiResponse::ok(ListData::from_page(page, LeagueDto::from)))
}

#[utoipa::path(post, path = "/api/v1/leagues", tag = TAG, summary = "Create a league",
    description = "Requires `sportsbook:manage`. The sport must exist (404 naming \
                   `sportId` otherwise); the slug is unique within the sport (409).",
    request_body = LeagueCreate,
    responses((status = 201, description = "The league", body = Envelope<LeagueDto>,
            headers(("Location" = String, description = "The league's URL"))),
        (status = 409, description = "CONFLICT: the slug is taken in this sport",
            body = crate::error::ErrorEnvelope),
        (status = 404, description = "NOT_FOUND: the sport does not exist (`details` names the member)",
            body = crate::error::ErrorEnvelope)))]
pub async fn create_league(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<Created<LeagueDto>, ApiError> {
    let body: LeagueCreate = typed(body)?;
    create::<League, _, _>(&state, &p, &actor, &body, "leagues").await
}

#[utoipa::path(get, path = "/api/v1/leagues/{id}", tag = TAG, summary = "Get a league",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The league", body = Envelope<LeagueDto>)))]
pub async fn get_league(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<LeagueDto>, ApiError> {
    let l: League = state.engine.catalog().get(LeagueId::from(id)).await?;
    Ok(ApiResponse::ok(l.into()))
}

#[utoipa::path(patch, path = "/api/v1/leagues/{id}", tag = TAG, summary = "Change a league",
    description = "Requires `sportsbook:manage`. Its sport is fixed. Audited.",
    params(("id" = Uuid, Path)), request_body = LeaguePatch,
    responses((status = 200, description = "The league", body = Envelope<LeagueDto>),
        (status = 409, description = "CONFLICT: the slug is taken in this sport",
            body = crate::error::ErrorEnvelope)))]
pub async fn update_league(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<LeagueDto>, ApiError> {
    let body: LeaguePatch = typed(body)?;
    update::<League, _, _>(&state, &p, &actor, id, &body).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TeamParams {
    /// Only this sport's teams.
    pub sport_id: Option<Uuid>,
    /// Only this league's teams.
    pub league_id: Option<Uuid>,
    /// Full-text over name, display name, abbreviation and city; each word a prefix. No
    /// control characters.
    #[param(pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub search: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/teams", tag = TAG, summary = "List and search teams",
    description = "Requires `sportsbook:read`.", params(TeamParams, PageParams),
    responses((status = 200, description = "A page of teams", body = Envelope<ListData<TeamDto>>)))]
pub async fn list_teams(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(q): ApiQuery<TeamParams>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<TeamDto>>, ApiError> {
    let page = state
        .engine
        .catalog()
        .teams(
            q.sport_id.map(SportId::from),
            q.league_id.map(LeagueId::from),
            q.search.as_deref(),
            paging.request()?,
        )
        .await?;
    Ok(ApiResponse::ok(ListData::from_page(page, TeamDto::from)))
}

#[utoipa::path(post, path = "/api/v1/teams", tag = TAG, summary = "Create a team",
    description = "Requires `sportsbook:manage`. The sport (and league) must exist (404 \
                   naming the member) and the league be of that sport (422); the slug is \
                   unique within the sport (409).",
    request_body = TeamCreate,
    responses((status = 201, description = "The team", body = Envelope<TeamDto>,
            headers(("Location" = String, description = "The team's URL"))),
        (status = 409, description = "CONFLICT: the slug is taken in this sport",
            body = crate::error::ErrorEnvelope),
        (status = 404, description = "NOT_FOUND: the sport or league does not exist (`details` names the member)",
            body = crate::error::ErrorEnvelope),
        (status = 422, description = "SPORT_MISMATCH: the league is of another sport",
            body = crate::error::ErrorEnvelope)))]
pub async fn create_team(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<Created<TeamDto>, ApiError> {
    let body: TeamCreate = typed(body)?;
    create::<Team, _, _>(&state, &p, &actor, &body, "teams").await
}

#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = TAG, summary = "Get a team",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The team", body = Envelope<TeamDto>)))]
pub async fn get_team(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<TeamDto>, ApiError> {
    let t: Team = state.engine.catalog().get(TeamId::from(id)).await?;
    Ok(ApiResponse::ok(t.into()))
}

#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = TAG, summary = "Change a team",
    description = "Requires `sportsbook:manage`. Its sport is fixed. Audited.",
    params(("id" = Uuid, Path)), request_body = TeamPatch,
    responses((status = 200, description = "The team", body = Envelope<TeamDto>),
        (status = 409, description = "CONFLICT: the slug is taken in this sport",
            body = crate::error::ErrorEnvelope),
        (status = 422, description = "SPORT_MISMATCH: the league is of another sport",
            body = crate::error::ErrorEnvelope)))]
pub async fn update_team(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<TeamDto>, ApiError> {
    let body: TeamPatch = typed(body)?;
    update::<Team, _, _>(&state, &p, &actor, id, &body).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Only this sport's events.
    pub sport_id: Option<Uuid>,
    /// Only this league's events.
    pub league_id: Option<Uuid>,
    #[param(schema_with = enums::event_status)]
    pub status: Option<EventStatus>,
    /// Starting at or after (RFC 3339); not after `to`.
    pub from: Option<DateTime<Utc>>,
    /// Starting before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only events in play.
    pub live: Option<bool>,
    /// Words in either team's name. No control characters.
    #[param(pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub search: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/events", tag = TAG, summary = "List and search events",
    description = "Requires `sportsbook:read`. Soonest first, with team names and market \
                   counts. `from` after `to` is a 400.", params(EventParams, PageParams),
    responses((status = 200, description = "A page of events",
        body = Envelope<ListData<EventSummaryDto>>)))]
pub async fn list_events(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(q): ApiQuery<EventParams>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<EventSummaryDto>>, ApiError> {
    let filter = EventFilter {
        sport_id: q.sport_id,
        league_id: q.league_id,
        status: q.status,
        from: q.from,
        to: q.to,
        live: q.live.unwrap_or(false),
        search: q.search,
        page: paging.request()?,
    };
    let page = state.engine.catalog().fixtures(&filter).await?;
    Ok(ApiResponse::ok(ListData::from_page(
        page,
        EventSummaryDto::from,
    )))
}

#[utoipa::path(post, path = "/api/v1/events", tag = TAG, summary = "Create an event",
    description = "Requires `sportsbook:manage`. Two different teams of the sport, and a \
                   league of the sport: 422 otherwise, naming the member at fault.",
    request_body = EventCreate,
    responses((status = 201, description = "The event", body = Envelope<EventDto>,
        headers(("Location" = String, description = "The event's URL"))),
        (status = 404, description = "NOT_FOUND: the sport, league or a team does not exist (`details` names the member)",
            body = crate::error::ErrorEnvelope),
        (status = 422, description = "SAME_TEAM (home and away are one team) or \
                                      SPORT_MISMATCH (a team or the league is of another \
                                      sport)", body = crate::error::ErrorEnvelope)))]
pub async fn create_event(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<Created<EventDto>, ApiError> {
    let body: EventCreate = typed(body)?;
    create::<Event, _, _>(&state, &p, &actor, &body, "events").await
}

#[utoipa::path(get, path = "/api/v1/events/{id}", tag = TAG,
    summary = "Get an event with its markets and selections",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path), FormatParams),
    responses((status = 200, description = "The event", body = Envelope<EventView>)))]
pub async fn get_event(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FormatParams>,
) -> Result<ApiResponse<EventView>, ApiError> {
    let f = format_of(&state, &p, q.odds_format).await?;
    let id = FixtureId::from(id);
    let e: Event = state.engine.catalog().get(id).await?;
    let markets = state.engine.catalog().event_markets(id).await?;
    Ok(ApiResponse::ok(EventView {
        event: e.into(),
        markets: markets
            .into_iter()
            .map(|(m, s)| MarketView::new(m, s, f))
            .collect(),
    }))
}

#[utoipa::path(patch, path = "/api/v1/events/{id}", tag = TAG, summary = "Change an event",
    description = "Requires `sportsbook:manage`. Status, scores, clock, start time and so on; \
                   its sport is fixed. Audited.",
    params(("id" = Uuid, Path)), request_body = EventPatch,
    responses((status = 200, description = "The event", body = Envelope<EventDto>),
        (status = 422, description = "SAME_TEAM (home and away are one team) or \
                                      SPORT_MISMATCH (a team or the league is of another \
                                      sport)", body = crate::error::ErrorEnvelope)))]
pub async fn update_event(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<EventDto>, ApiError> {
    let body: EventPatch = typed(body)?;
    update::<Event, _, _>(&state, &p, &actor, id, &body).await
}

#[utoipa::path(post, path = "/api/v1/markets", tag = TAG, summary = "Create a market",
    description = "Requires `sportsbook:manage`. The event must exist (404 naming \
                   `eventId`); one market per event, type and line (409).",
    request_body = MarketCreate,
    responses((status = 201, description = "The market", body = Envelope<MarketDto>,
            headers(("Location" = String, description = "The market's URL"))),
        (status = 409, description = "CONFLICT: the event has this market already",
            body = crate::error::ErrorEnvelope),
        (status = 404, description = "NOT_FOUND: the event does not exist (`details` names the member)",
            body = crate::error::ErrorEnvelope)))]
pub async fn create_market(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<Created<MarketDto>, ApiError> {
    let body: MarketCreate = typed(body)?;
    create::<Market, _, _>(&state, &p, &actor, &body, "markets").await
}

#[utoipa::path(get, path = "/api/v1/markets/{id}", tag = TAG,
    summary = "Get a market with its selections",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path), FormatParams),
    responses((status = 200, description = "The market", body = Envelope<MarketView>)))]
pub async fn get_market(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FormatParams>,
) -> Result<ApiResponse<MarketView>, ApiError> {
    let f = format_of(&state, &p, q.odds_format).await?;
    let id = MarketId::from(id);
    let m: Market = state.engine.catalog().get(id).await?;
    let selections = state.engine.catalog().market_selections(id).await?;
    Ok(ApiResponse::ok(MarketView::new(m, selections, f)))
}

#[utoipa::path(patch, path = "/api/v1/markets/{id}", tag = TAG, summary = "Change a market",
    description = "Requires `sportsbook:manage`. Its event is fixed. Audited.",
    params(("id" = Uuid, Path)), request_body = MarketPatch,
    responses((status = 200, description = "The market", body = Envelope<MarketDto>),
        (status = 409, description = "CONFLICT: the event has this market already",
            body = crate::error::ErrorEnvelope)))]
pub async fn update_market(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<MarketDto>, ApiError> {
    let body: MarketPatch = typed(body)?;
    update::<Market, _, _>(&state, &p, &actor, id, &body).await
}

#[utoipa::path(post, path = "/api/v1/markets/{id}/suspend", tag = TAG,
    summary = "Suspend a market",
    description = "Requires `sportsbook:manage`. Open to suspended; suspending a suspended \
                   market is harmless; any other status is 409 `INVALID_TRANSITION`.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The market", body = Envelope<MarketDto>),
        (status = 409, description = "INVALID_TRANSITION: the market is neither open nor \
                                      suspended", body = crate::error::ErrorEnvelope)))]
pub async fn suspend_market(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<MarketDto>, ApiError> {
    let m = state
        .engine
        .catalog()
        .set_market_suspended(MarketId::from(id), true, &actor)
        .await?;
    Ok(ApiResponse::ok(m.into()).message("Market suspended"))
}

#[utoipa::path(post, path = "/api/v1/markets/{id}/reopen", tag = TAG,
    summary = "Reopen a suspended market",
    description = "Requires `sportsbook:manage`. Suspended to open; reopening an open market \
                   is harmless; any other status is 409 `INVALID_TRANSITION`.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The market", body = Envelope<MarketDto>),
        (status = 409, description = "INVALID_TRANSITION: the market is neither open nor \
                                      suspended", body = crate::error::ErrorEnvelope)))]
pub async fn reopen_market(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<MarketDto>, ApiError> {
    let m = state
        .engine
        .catalog()
        .set_market_suspended(MarketId::from(id), false, &actor)
        .await?;
    Ok(ApiResponse::ok(m.into()).message("Market reopened"))
}

#[utoipa::path(post, path = "/api/v1/selections", tag = TAG, summary = "Create a selection",
    description = "Requires `sportsbook:manage`. The market must exist (404 naming \
                   `marketId`). The opening price starts its price history.",
    request_body = SelectionCreate,
    responses((status = 201, description = "The selection", body = Envelope<SelectionDto>,
        headers(("Location" = String, description = "The selection's URL"))),
        (status = 404, description = "NOT_FOUND: the market does not exist (`details` names the member)",
            body = crate::error::ErrorEnvelope)))]
pub async fn create_selection(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<Created<SelectionDto>, ApiError> {
    let body: SelectionCreate = typed(body)?;
    create::<Selection, _, _>(&state, &p, &actor, &body, "selections").await
}

#[utoipa::path(get, path = "/api/v1/selections/{id}", tag = TAG, summary = "Get a selection",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path), FormatParams),
    responses((status = 200, description = "The selection", body = Envelope<SelectionView>)))]
pub async fn get_selection(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FormatParams>,
) -> Result<ApiResponse<SelectionView>, ApiError> {
    let f = format_of(&state, &p, q.odds_format).await?;
    let s: Selection = state.engine.catalog().get(SelectionId::from(id)).await?;
    Ok(ApiResponse::ok(SelectionView::new(s, f)))
}

/// What a selection change answers: applied (200) or waiting for approval (202).
pub enum SelectionChanged {
    Applied(ApiResponse<SelectionDto>),
    Pending(ApiResponse<SelectionPending>),
}

impl axum::response::IntoResponse for SelectionChanged {
    fn into_response(self) -> axum::response::Response {
        match self {
            Self::Applied(r) => r.into_response(),
            Self::Pending(r) => r.into_response(),
        }
    }
}

#[utoipa::path(patch, path = "/api/v1/selections/{id}", tag = TAG,
    summary = "Change a selection (odds, name, active)",
    description = "Requires `sportsbook:manage`. An odds change is kept in the price history \
                   with who made it and the optional `reason`. A change above the line-change \
                   threshold (`BETFLOW_LINE_CHANGE_THRESHOLD`: percent of the old odds, or the \
                   selection's net liability in minor units) does not apply: the answer is 202 \
                   with `pendingApproval.workflowId`, a `line_change_approval` workflow carrying \
                   lineId, eventName, marketType, oldOdds, newOdds and financialImpact (minor \
                   units), and the odds change when it completes.",
    params(("id" = Uuid, Path)), request_body = SelectionPatch,
    responses((status = 200, description = "The selection, changed", body = Envelope<SelectionDto>),
        (status = 202, description = "The selection, its odds change awaiting approval",
            body = Envelope<SelectionPending>)))]
pub async fn update_selection(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<SelectionChanged, ApiError> {
    let body: SelectionPatch = typed(body)?;
    if body
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 500)
    {
        return Err(
            DomainError::invalid("reason", "must be text of at most 500 characters").into(),
        );
    }
    match state
        .engine
        .update_selection(
            &p,
            SelectionId::from(id),
            &as_patch(&body)?,
            body.reason,
            &actor,
        )
        .await?
    {
        SelectionUpdate::Applied(s) => Ok(SelectionChanged::Applied(ApiResponse::ok(s.into()))),
        SelectionUpdate::PendingApproval {
            selection,
            workflow,
        } => Ok(SelectionChanged::Pending(
            ApiResponse::accepted(SelectionPending {
                selection: selection.into(),
                pending_approval: PendingApproval {
                    workflow_id: workflow.instance.id,
                    workflow_type: "line_change_approval",
                    status: workflow.instance.status.as_str(),
                },
            })
            .message("The odds change is above the line-change threshold and awaits approval"),
        )),
    }
}

#[utoipa::path(get, path = "/api/v1/selections/{id}/prices", tag = TAG,
    summary = "A selection's price history",
    description = "Requires `sportsbook:read`. Every odds change, oldest first, with who made \
                   it and why; the first is the opening price.",
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, description = "A page of price changes",
        body = Envelope<ListData<PriceChangeDto>>)))]
pub async fn prices(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<PriceChangeDto>>, ApiError> {
    let history = state
        .engine
        .catalog()
        .price_history(SelectionId::from(id), paging.request()?)
        .await?;
    Ok(ApiResponse::ok(ListData::from_page(
        history,
        PriceChangeDto::from,
    )))
}

/// The catalog routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(list_sports, create_sport))
        .routes(utoipa_axum::routes!(get_sport, update_sport, delete_sport))
        .routes(utoipa_axum::routes!(sport_events))
        .routes(utoipa_axum::routes!(list_leagues, create_league))
        .routes(utoipa_axum::routes!(
            get_league,
            update_league,
            delete_league
        ))
        .routes(utoipa_axum::routes!(list_teams, create_team))
        .routes(utoipa_axum::routes!(get_team, update_team, delete_team))
        .routes(utoipa_axum::routes!(list_events, create_event))
        .routes(utoipa_axum::routes!(get_event, update_event))
        .routes(utoipa_axum::routes!(create_market))
        .routes(utoipa_axum::routes!(
            get_market,
            update_market,
            delete_market
        ))
        .routes(utoipa_axum::routes!(suspend_market))
        .routes(utoipa_axum::routes!(reopen_market))
        .routes(utoipa_axum::routes!(create_selection))
        .routes(utoipa_axum::routes!(
            get_selection,
            update_selection,
            delete_selection
        ))
        .routes(utoipa_axum::routes!(prices))
}
