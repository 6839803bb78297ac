//! The sportsbook catalog under `/api/v1`: sports, leagues, teams, events, markets and
//! selections. Reads need `sportsbook:read` (customers have it); writes `sportsbook:manage`.
//! Creates take the entity's fields; `PATCH` takes any of them (`null` clears an optional
//! one). Odds are exact decimal strings; `?oddsFormat=american|decimal|fractional` (or else
//! the caller's preference) adds `displayOdds` in that format.

use axum::extract::State;
use betflow_domain::DomainError;
use betflow_domain::sportsbook::catalog::{
    Event, EventFilter, EventStatus, League, Market, Selection, Sport, Team,
};
use betflow_domain::sportsbook::odds::{OddsFormat, render};
use betflow_engine::catalog::CatalogEntity;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use uuid::Uuid;

use super::dto::ListData;
use betflow_engine::line_changes::SelectionUpdate;

use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::ApiResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub const TAG: &str = "sportsbook";

crate::permissions! {
    Read => ["sportsbook:read"];
    Manage => ["sportsbook:manage"];
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct FormatParams {
    /// `decimal` (default), `american` or `fractional`.
    pub odds_format: Option<String>,
}

/// `?oddsFormat=` if given, else the caller's preference, else decimal.
async fn format_of(
    state: &AppState,
    principal: &betflow_engine::identity::Principal,
    asked: Option<&str>,
) -> Result<OddsFormat, ApiError> {
    if let Some(f) = asked {
        return Ok(f.parse()?);
    }
    let (_, prefs) = state.engine.identity().customer(principal.user_id).await?;
    Ok(prefs.map(|p| p.odds_format).unwrap_or_default())
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn selection_json(s: &Selection, f: OddsFormat) -> Value {
    let mut v = to_json(s);
    v["displayOdds"] = json!(render(s.odds, f));
    v["oddsFormat"] = to_json(&f);
    v
}

fn market_json(m: &Market, selections: &[Selection], f: OddsFormat) -> Value {
    let mut v = to_json(m);
    v["selections"] = Value::Array(selections.iter().map(|s| selection_json(s, f)).collect());
    v
}

async fn create<T: CatalogEntity + 'static>(
    state: &AppState,
    principal: &betflow_engine::identity::Principal,
    actor: &betflow_domain::audit::Actor,
    body: Value,
) -> Result<ApiResponse<Value>, ApiError> {
    let e: T = state.engine.create_catalog(principal, &body, actor).await?;
    Ok(ApiResponse::created(to_json(&e)))
}

async fn update<T: CatalogEntity + 'static>(
    state: &AppState,
    principal: &betflow_engine::identity::Principal,
    actor: &betflow_domain::audit::Actor,
    id: Uuid,
    body: Value,
) -> Result<ApiResponse<Value>, ApiError> {
    let e: T = state
        .engine
        .update_catalog(principal, id, &body, None, actor)
        .await?;
    Ok(ApiResponse::ok(to_json(&e)))
}

async fn retire<T: CatalogEntity + 'static>(
    state: &AppState,
    principal: &betflow_engine::identity::Principal,
    actor: &betflow_domain::audit::Actor,
    id: Uuid,
) -> Result<ApiResponse<Value>, ApiError> {
    let e: T = state.engine.retire_catalog(principal, id, actor).await?;
    Ok(ApiResponse::ok(to_json(&e)))
}

/// `DELETE` handlers: each deactivates its entity (see `Engine::retire_catalog`).
macro_rules! retire_route {
    ($name:ident, $t:ty, $path:literal, $what:literal) => {
        #[utoipa::path(delete, path = $path, tag = TAG, summary = concat!("Retire a ", $what),
            description = concat!("Requires `sportsbook:manage`. The ", $what, " is deactivated, \
                not erased: it leaves listings and takes no bets, and everything that names it \
                (bets, prices, history) stays. Audited."),
            params(("id" = Uuid, Path)),
            responses((status = 200, description = "The entity, now inactive"),
                (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
        pub async fn $name(
            State(state): State<AppState>,
            Authorized(p, _): Authorized<Manage>,
            ClientInfo(actor): ClientInfo,
            ApiPath(id): ApiPath<Uuid>,
        ) -> Result<ApiResponse<Value>, ApiError> {
            retire::<$t>(&state, &p, &actor, id).await
        }
    };
}

retire_route!(delete_sport, Sport, "/api/v1/sports/{id}", "sport");
retire_route!(delete_league, League, "/api/v1/leagues/{id}", "league");
retire_route!(delete_team, Team, "/api/v1/teams/{id}", "team");
retire_route!(delete_market, Market, "/api/v1/markets/{id}", "market");
retire_route!(
    delete_selection,
    Selection,
    "/api/v1/selections/{id}",
    "selection"
);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SportParams {
    /// Include inactive sports (default: active only).
    pub all: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/sports", tag = TAG, summary = "List sports",
    description = "Requires `sportsbook:read`. Active sports in display order.",
    params(SportParams), responses((status = 200, description = "Sports")))]
pub async fn list_sports(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(q): ApiQuery<SportParams>,
) -> Result<ApiResponse<Value>, ApiError> {
    let sports = state.engine.sports(!q.all.unwrap_or(false)).await?;
    Ok(ApiResponse::ok(to_json(&sports)))
}

#[utoipa::path(post, path = "/api/v1/sports", tag = TAG, summary = "Create a sport",
    description = "Requires `sportsbook:manage`. `{name, displayName, slug, iconUrl?, isActive?, \
                   sortOrder?, configuration?}`; name and slug are unique (409).",
    request_body = Object,
    responses((status = 201, description = "The sport"), (status = 400, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn create_sport(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    create::<Sport>(&state, &p, &actor, body).await
}

#[utoipa::path(get, path = "/api/v1/sports/{id}", tag = TAG, summary = "Get a sport",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The sport"), (status = 404, body = ErrorEnvelope)))]
pub async fn get_sport(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Value>, ApiError> {
    let s: Sport = state.engine.catalog_get(id).await?;
    Ok(ApiResponse::ok(to_json(&s)))
}

#[utoipa::path(patch, path = "/api/v1/sports/{id}", tag = TAG, summary = "Change a sport",
    description = "Requires `sportsbook:manage`.", params(("id" = Uuid, Path)),
    request_body = Object,
    responses((status = 200, description = "The sport"), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)))]
pub async fn update_sport(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    update::<Sport>(&state, &p, &actor, id, body).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageOnly {
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

fn summary_json(s: &betflow_domain::sportsbook::catalog::EventSummary) -> Value {
    let mut v = to_json(&s.event);
    v["homeTeamName"] = json!(s.home_team_name);
    v["awayTeamName"] = json!(s.away_team_name);
    v["marketCount"] = json!(s.market_count);
    v
}

#[utoipa::path(get, path = "/api/v1/sports/{id}/events", tag = TAG,
    summary = "A sport's events with their market counts",
    description = "Requires `sportsbook:read`. The seed's get_events_with_markets: events \
                   starting from a day ago, soonest first, with team names and the number of \
                   active markets.",
    params(("id" = Uuid, Path), PageOnly),
    responses((status = 200, description = "Events"), (status = 404, body = ErrorEnvelope)))]
pub async fn sport_events(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageOnly>,
) -> Result<ApiResponse<ListData<Value>>, ApiError> {
    let page = betflow_domain::PageRequest::new(q.page, q.limit)?;
    let page = state.engine.sport_events(id, page).await?;
    Ok(ApiResponse::ok(ListData::from_page(page, |s| {
        summary_json(&s)
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LeagueParams {
    pub sport_id: Option<Uuid>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/leagues", tag = TAG, summary = "List leagues",
    description = "Requires `sportsbook:read`.", params(LeagueParams),
    responses((status = 200, description = "Leagues")))]
pub async fn list_leagues(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(q): ApiQuery<LeagueParams>,
) -> Result<ApiResponse<ListData<Value>>, ApiError> {
    let page = betflow_domain::PageRequest::new(q.page, q.limit)?;
    let page = state.engine.leagues(q.sport_id, page).await?;
    Ok(ApiResponse::ok(ListData::from_page(page, |l| to_json(&l))))
}

#[utoipa::path(post, path = "/api/v1/leagues", tag = TAG, summary = "Create a league",
    description = "Requires `sportsbook:manage`. `{sportId, name, displayName, slug, \
                   countryCode?, season?, …}`; the slug is unique within the sport.",
    request_body = Object,
    responses((status = 201, description = "The league"), (status = 400, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn create_league(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    create::<League>(&state, &p, &actor, body).await
}

#[utoipa::path(get, path = "/api/v1/leagues/{id}", tag = TAG, summary = "Get a league",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The league"), (status = 404, body = ErrorEnvelope)))]
pub async fn get_league(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Value>, ApiError> {
    let l: League = state.engine.catalog_get(id).await?;
    Ok(ApiResponse::ok(to_json(&l)))
}

#[utoipa::path(patch, path = "/api/v1/leagues/{id}", tag = TAG, summary = "Change a league",
    description = "Requires `sportsbook:manage`. Its sport is fixed.",
    params(("id" = Uuid, Path)), request_body = Object,
    responses((status = 200, description = "The league"), (status = 400, body = ErrorEnvelope)))]
pub async fn update_league(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    update::<League>(&state, &p, &actor, id, body).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TeamParams {
    pub sport_id: Option<Uuid>,
    pub league_id: Option<Uuid>,
    /// Full-text over name, display name, abbreviation and city; each word a prefix.
    pub search: Option<String>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/teams", tag = TAG, summary = "List and search teams",
    description = "Requires `sportsbook:read`.", params(TeamParams),
    responses((status = 200, description = "Teams")))]
pub async fn list_teams(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(q): ApiQuery<TeamParams>,
) -> Result<ApiResponse<ListData<Value>>, ApiError> {
    let page = betflow_domain::PageRequest::new(q.page, q.limit)?;
    let page = state
        .engine
        .teams(q.sport_id, q.league_id, q.search.as_deref(), page)
        .await?;
    Ok(ApiResponse::ok(ListData::from_page(page, |t| to_json(&t))))
}

#[utoipa::path(post, path = "/api/v1/teams", tag = TAG, summary = "Create a team",
    description = "Requires `sportsbook:manage`. `{sportId, leagueId?, name, displayName, \
                   slug, abbreviation?, city?, …}`.",
    request_body = Object,
    responses((status = 201, description = "The team"), (status = 400, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn create_team(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    create::<Team>(&state, &p, &actor, body).await
}

#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = TAG, summary = "Get a team",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The team"), (status = 404, body = ErrorEnvelope)))]
pub async fn get_team(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Value>, ApiError> {
    let t: Team = state.engine.catalog_get(id).await?;
    Ok(ApiResponse::ok(to_json(&t)))
}

#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = TAG, summary = "Change a team",
    description = "Requires `sportsbook:manage`.", params(("id" = Uuid, Path)),
    request_body = Object,
    responses((status = 200, description = "The team"), (status = 400, body = ErrorEnvelope)))]
pub async fn update_team(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    update::<Team>(&state, &p, &actor, id, body).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    pub sport_id: Option<Uuid>,
    pub league_id: Option<Uuid>,
    /// One of the seed's event statuses.
    pub status: Option<String>,
    /// Starting at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Starting before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only events in play.
    pub live: Option<bool>,
    /// Words in either team's name.
    pub search: Option<String>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/events", tag = TAG, summary = "List and search events",
    description = "Requires `sportsbook:read`. Soonest first, with team names and market \
                   counts.", params(EventParams),
    responses((status = 200, description = "Events"), (status = 400, body = ErrorEnvelope)))]
pub async fn list_events(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(q): ApiQuery<EventParams>,
) -> Result<ApiResponse<ListData<Value>>, ApiError> {
    let filter = EventFilter {
        sport_id: q.sport_id,
        league_id: q.league_id,
        status: q
            .status
            .as_deref()
            .map(str::parse::<EventStatus>)
            .transpose()
            .map_err(|_| DomainError::invalid("status", "is not an event status"))?,
        from: q.from,
        to: q.to,
        live: q.live.unwrap_or(false),
        search: q.search,
        page: betflow_domain::PageRequest::new(q.page, q.limit)?,
    };
    let page = state.engine.fixtures(&filter).await?;
    Ok(ApiResponse::ok(ListData::from_page(page, |s| {
        summary_json(&s)
    })))
}

#[utoipa::path(post, path = "/api/v1/events", tag = TAG, summary = "Create an event",
    description = "Requires `sportsbook:manage`. `{sportId, leagueId?, homeTeamId, awayTeamId, \
                   startTime, status?, venue?, …}`: two different teams of the sport.",
    request_body = Object,
    responses((status = 201, description = "The event"), (status = 400, body = ErrorEnvelope)))]
pub async fn create_event(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    create::<Event>(&state, &p, &actor, body).await
}

#[utoipa::path(get, path = "/api/v1/events/{id}", tag = TAG,
    summary = "Get an event with its markets and selections",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path), FormatParams),
    responses((status = 200, description = "The event"), (status = 404, body = ErrorEnvelope)))]
pub async fn get_event(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FormatParams>,
) -> Result<ApiResponse<Value>, ApiError> {
    let f = format_of(&state, &p, q.odds_format.as_deref()).await?;
    let e: Event = state.engine.catalog_get(id).await?;
    let markets = state.engine.event_markets(id).await?;
    let mut v = to_json(&e);
    v["markets"] = Value::Array(markets.iter().map(|(m, s)| market_json(m, s, f)).collect());
    Ok(ApiResponse::ok(v))
}

#[utoipa::path(patch, path = "/api/v1/events/{id}", tag = TAG, summary = "Change an event",
    description = "Requires `sportsbook:manage`. Status, scores, clock, start time and so on.",
    params(("id" = Uuid, Path)), request_body = Object,
    responses((status = 200, description = "The event"), (status = 400, body = ErrorEnvelope)))]
pub async fn update_event(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    update::<Event>(&state, &p, &actor, id, body).await
}

#[utoipa::path(post, path = "/api/v1/markets", tag = TAG, summary = "Create a market",
    description = "Requires `sportsbook:manage`. `{eventId, type, name, handicap?, \
                   totalPoints?, inPlay?, …}`; one market per event, type and line (409).",
    request_body = Object,
    responses((status = 201, description = "The market"), (status = 400, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn create_market(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    create::<Market>(&state, &p, &actor, body).await
}

#[utoipa::path(get, path = "/api/v1/markets/{id}", tag = TAG,
    summary = "Get a market with its selections",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path), FormatParams),
    responses((status = 200, description = "The market"), (status = 404, body = ErrorEnvelope)))]
pub async fn get_market(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FormatParams>,
) -> Result<ApiResponse<Value>, ApiError> {
    let f = format_of(&state, &p, q.odds_format.as_deref()).await?;
    let m: Market = state.engine.catalog_get(id).await?;
    let selections = state.engine.market_selections(id).await?;
    Ok(ApiResponse::ok(market_json(&m, &selections, f)))
}

#[utoipa::path(patch, path = "/api/v1/markets/{id}", tag = TAG, summary = "Change a market",
    description = "Requires `sportsbook:manage`.", params(("id" = Uuid, Path)),
    request_body = Object,
    responses((status = 200, description = "The market"), (status = 400, body = ErrorEnvelope)))]
pub async fn update_market(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    update::<Market>(&state, &p, &actor, id, body).await
}

#[utoipa::path(post, path = "/api/v1/markets/{id}/suspend", tag = TAG,
    summary = "Suspend a market",
    description = "Requires `sportsbook:manage`. Open to suspended; suspending a suspended \
                   market is harmless; any other status is 409.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The market"), (status = 409, body = ErrorEnvelope)))]
pub async fn suspend_market(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Value>, ApiError> {
    let m = state.engine.set_market_suspended(id, true, &actor).await?;
    Ok(ApiResponse::ok(to_json(&m)).message("Market suspended"))
}

#[utoipa::path(post, path = "/api/v1/markets/{id}/reopen", tag = TAG,
    summary = "Reopen a suspended market",
    description = "Requires `sportsbook:manage`.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The market"), (status = 409, body = ErrorEnvelope)))]
pub async fn reopen_market(
    State(state): State<AppState>,
    _auth: Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Value>, ApiError> {
    let m = state.engine.set_market_suspended(id, false, &actor).await?;
    Ok(ApiResponse::ok(to_json(&m)).message("Market reopened"))
}

#[utoipa::path(post, path = "/api/v1/selections", tag = TAG, summary = "Create a selection",
    description = "Requires `sportsbook:manage`. `{marketId, name, odds, shortName?, \
                   probability?}`: decimal odds above 1.0, probability between 0 and 1. The \
                   opening price starts its price history.",
    request_body = Object,
    responses((status = 201, description = "The selection"), (status = 400, body = ErrorEnvelope)))]
pub async fn create_selection(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    create::<Selection>(&state, &p, &actor, body).await
}

#[utoipa::path(get, path = "/api/v1/selections/{id}", tag = TAG, summary = "Get a selection",
    description = "Requires `sportsbook:read`.", params(("id" = Uuid, Path), FormatParams),
    responses((status = 200, description = "The selection"), (status = 404, body = ErrorEnvelope)))]
pub async fn get_selection(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FormatParams>,
) -> Result<ApiResponse<Value>, ApiError> {
    let f = format_of(&state, &p, q.odds_format.as_deref()).await?;
    let s: Selection = state.engine.catalog_get(id).await?;
    Ok(ApiResponse::ok(selection_json(&s, f)))
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
    params(("id" = Uuid, Path)), request_body = Object,
    responses((status = 200, description = "The selection"),
        (status = 202, description = "The selection, its odds change awaiting approval"),
        (status = 400, body = ErrorEnvelope)))]
pub async fn update_selection(
    State(state): State<AppState>,
    Authorized(p, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<ApiResponse<Value>, ApiError> {
    let reason = match body.as_object_mut().and_then(|m| m.remove("reason")) {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if r.chars().count() <= 500 => Some(r),
        Some(_) => {
            return Err(
                DomainError::invalid("reason", "must be text of at most 500 characters").into(),
            );
        }
    };
    match state
        .engine
        .update_selection(&p, id, &body, reason, &actor)
        .await?
    {
        SelectionUpdate::Applied(s) => Ok(ApiResponse::ok(to_json(&s))),
        SelectionUpdate::PendingApproval {
            selection,
            workflow,
        } => {
            let mut v = to_json(&selection);
            v["pendingApproval"] = json!({"workflowId": workflow.instance.id,
                "workflowType": "line_change_approval", "status": workflow.instance.status});
            Ok(ApiResponse::accepted(v)
                .message("The odds change is above the line-change threshold and awaits approval"))
        }
    }
}

#[utoipa::path(get, path = "/api/v1/selections/{id}/prices", tag = TAG,
    summary = "A selection's price history",
    description = "Requires `sportsbook:read`. Every odds change, oldest first, with who made \
                   it and why.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "Price changes"), (status = 404, body = ErrorEnvelope)))]
pub async fn prices(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Value>, ApiError> {
    let history = state.engine.price_history(id).await?;
    Ok(ApiResponse::ok(to_json(&history)))
}
