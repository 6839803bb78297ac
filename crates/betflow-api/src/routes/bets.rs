//! Bets: placing (customers), reading (the seed's get_user_betting_history), and operators'
//! settlement, voiding, resettlement and exposure of markets.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use betflow_domain::sportsbook::bets::{
    Bet, BetFilter, BetSlip, BetStatus, BetType, LegResult, OddsChangePolicy, SelectionExposure,
    SlipLeg,
};
use betflow_domain::{DomainError, PageRequest};
use betflow_engine::bets::{SettleMode, SettlementReport};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::ListData;
use super::wallet::{idempotency_key, money_response};
use crate::AppState;
use crate::auth::{Auth, Authorized, ClientInfo};
use crate::envelope::ApiResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub const TAG: &str = "bets";

crate::permissions! {
    Settle => ["sportsbook:settle"];
    Exposure => ["sportsbook:manage"];
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegBody {
    pub selection_id: Uuid,
    /// The decimal odds the customer saw, e.g. `"2.10"`.
    #[schema(value_type = String, example = "2.10")]
    pub odds: Decimal,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceBetBody {
    /// single or parlay
    #[serde(rename = "type")]
    pub bet_type: String,
    /// Minor units (cents) of the customer's currency.
    pub stake: i64,
    pub legs: Vec<LegBody>,
    /// none (default): refuse if the odds moved; higher: accept better odds; any: accept the
    /// current odds whatever they are.
    pub odds_change_policy: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/bets", tag = TAG, summary = "Place a bet",
    description = "Customers. Checked in one transaction under row locks: the market open \
                   (`MARKET_SUSPENDED`, `MARKET_CLOSED`), the event not started unless the \
                   market is in play and the in-play delay has passed (`EVENT_STARTED`), the \
                   selection active (`SELECTION_INACTIVE`), the odds against the policy \
                   (`ODDS_CHANGED`, 409, with the current odds), the stake and payout bounds \
                   (`STAKE_TOO_LOW`, `STAKE_TOO_HIGH`, `MAX_PAYOUT_EXCEEDED`), limits and \
                   breaks (`LIMIT_EXCEEDED`, `SELF_EXCLUDED` 403), the balance \
                   (`INSUFFICIENT_FUNDS`); parlays have 2–12 legs from different events \
                   (`DUPLICATE_EVENT_IN_PARLAY`). Other refusals are 422. The stake is then \
                   held. Takes an `Idempotency-Key` header.",
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = PlaceBetBody,
    responses((status = 201, description = "The accepted bet"), (status = 400, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope)))]
pub async fn place(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlaceBetBody>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers, &p, "POST /api/v1/bets", &body)?;
    let bet_type = match body.bet_type.as_str() {
        "single" => BetType::Single,
        "parlay" => BetType::Parlay,
        other => {
            return Err(DomainError::invalid(
                "type",
                format!("{other:?}: single or parlay (system bets are not offered)"),
            )
            .into());
        }
    };
    let policy = match body.odds_change_policy.as_deref() {
        None => OddsChangePolicy::None,
        Some(p) => OddsChangePolicy::parse(p).ok_or_else(|| {
            ApiError::from(DomainError::invalid(
                "oddsChangePolicy",
                "none, higher or any",
            ))
        })?,
    };
    let slip = BetSlip {
        bet_type,
        stake: body.stake,
        legs: body
            .legs
            .iter()
            .map(|l| SlipLeg {
                selection_id: l.selection_id,
                odds: l.odds,
            })
            .collect(),
        odds_change_policy: policy,
    };
    let r = state
        .engine
        .place_bet(&p, slip, Utc::now(), key.as_ref(), &actor)
        .await?;
    money_response(r)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct BetParams {
    /// accepted, settled_win, settled_loss, settled_push, voided, ...
    pub status: Option<String>,
    /// Placed at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Placed before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Operators: one customer's bets.
    pub user_id: Option<Uuid>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/bets", tag = TAG, summary = "Betting history",
    description = "The caller's bets, newest first, each with its legs' selection names, odds \
                   and results (get_user_betting_history). Operators (`wallet:read` or \
                   `sportsbook:settle`) see everyone's, or one customer's with `userId`.",
    params(BetParams),
    responses((status = 200, description = "A page of bets"), (status = 400, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<BetParams>,
) -> Result<ApiResponse<ListData<Bet>>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            BetStatus::parse(s).ok_or_else(|| {
                ApiError::from(DomainError::invalid(
                    "status",
                    format!("unknown status {s:?}"),
                ))
            })
        })
        .transpose()?;
    let filter = BetFilter {
        user_id: q.user_id,
        status,
        from: q.from,
        to: q.to,
        page: PageRequest::new(q.page, q.limit)?,
    };
    let page = state.engine.bets(&p, filter).await?;
    Ok(ApiResponse::ok(ListData::from_page(page, |b| b)))
}

#[utoipa::path(get, path = "/api/v1/bets/{id}", tag = TAG, summary = "One bet",
    description = "The caller's own, or any for operators.", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The bet"), (status = 404, body = ErrorEnvelope)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Bet>, ApiError> {
    Ok(ApiResponse::ok(state.engine.bet(&p, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettleBody {
    /// A result (win, loss, push, void) for every selection of the market.
    #[schema(value_type = Object)]
    pub results: HashMap<Uuid, String>,
    /// Required for a resettlement.
    pub reason: Option<String>,
}

fn parse_results(body: &SettleBody) -> Result<HashMap<Uuid, LegResult>, ApiError> {
    body.results
        .iter()
        .map(|(id, r)| {
            LegResult::parse(r).map(|r| (*id, r)).ok_or_else(|| {
                ApiError::from(DomainError::invalid(
                    format!("results.{id}"),
                    "win, loss, push or void",
                ))
            })
        })
        .collect()
}

#[utoipa::path(post, path = "/api/v1/markets/{id}/settle", tag = TAG, summary = "Settle a market",
    description = "Requires `sportsbook:settle`. Settles every affected bet exactly once: \
                   singles pay stake × odds on a win and refund a push or void; a parlay \
                   settles with its last leg, counting void and push legs as 1.0. Repeating \
                   the same results changes nothing; different ones are 409 `ALREADY_SETTLED` \
                   (use resettle).",
    params(("id" = Uuid, Path)), request_body = SettleBody,
    responses((status = 200, description = "The settlement report"), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn settle(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<Settle>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<SettleBody>,
) -> Result<ApiResponse<SettlementReport>, ApiError> {
    let results = parse_results(&body)?;
    let r = state
        .engine
        .settle_market(id, results, SettleMode::Settle, &actor)
        .await?;
    Ok(ApiResponse::ok(r))
}

#[utoipa::path(post, path = "/api/v1/markets/{id}/resettle", tag = TAG,
    summary = "Correct a settled market",
    description = "Requires `sportsbook:settle` and a `reason`. Each bet whose result changes \
                   is reversed through the ledger (its return taken back, its stake held \
                   again) and settled on the new results; nothing is overwritten and every \
                   step is audited. 409 `INSUFFICIENT_FUNDS` if a customer no longer holds a \
                   return being taken back (nothing is changed).",
    params(("id" = Uuid, Path)), request_body = SettleBody,
    responses((status = 200, description = "The settlement report"), (status = 400, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn resettle(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<Settle>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<SettleBody>,
) -> Result<ApiResponse<SettlementReport>, ApiError> {
    let results = parse_results(&body)?;
    let reason = body
        .reason
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ApiError::from(DomainError::invalid("reason", "say why")))?;
    let r = state
        .engine
        .settle_market(id, results, SettleMode::Resettle { reason }, &actor)
        .await?;
    Ok(ApiResponse::ok(r))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VoidBody {
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/markets/{id}/void", tag = TAG, summary = "Void a market",
    description = "Requires `sportsbook:settle`. Every bet's leg on the market becomes void: \
                   singles are refunded, parlays carry on at 1.0 for that leg. A market already \
                   settled is corrected through the ledger as by resettle.",
    params(("id" = Uuid, Path)), request_body = VoidBody,
    responses((status = 200, description = "The settlement report"), (status = 404, body = ErrorEnvelope)))]
pub async fn void(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<Settle>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<VoidBody>,
) -> Result<ApiResponse<SettlementReport>, ApiError> {
    let reason = body.reason.unwrap_or_else(|| "market voided".into());
    let r = state
        .engine
        .settle_market(id, HashMap::new(), SettleMode::Void { reason }, &actor)
        .await?;
    Ok(ApiResponse::ok(r))
}

#[utoipa::path(get, path = "/api/v1/markets/{id}/exposure", tag = TAG,
    summary = "A market's exposure",
    description = "Requires `sportsbook:manage`. Per selection, over open bets: stakes, \
                   potential payouts, and net liability (what the house pays out if it wins, \
                   less the market's stakes).",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "Per selection"), (status = 404, body = ErrorEnvelope)))]
pub async fn market_exposure(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<Exposure>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Vec<SelectionExposure>>, ApiError> {
    Ok(ApiResponse::ok(state.engine.market_exposure(id).await?))
}

#[utoipa::path(get, path = "/api/v1/selections/{id}/exposure", tag = TAG,
    summary = "A selection's exposure", description = "Requires `sportsbook:manage`.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The selection's exposure"), (status = 404, body = ErrorEnvelope)))]
pub async fn selection_exposure(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<Exposure>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<SelectionExposure>, ApiError> {
    Ok(ApiResponse::ok(state.engine.selection_exposure(id).await?))
}
