//! Bets: placing (customers), reading (the seed's get_user_betting_history), and operators'
//! settlement, voiding, resettlement and exposure of markets.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use betflow_domain::DomainError;
use betflow_domain::ids::{BetId, MarketId, SelectionId};
use betflow_domain::sportsbook::bets::{
    Bet, BetFilter, BetLeg, BetSlip, BetStatus, BetType, LegResult, MAX_PARLAY_LEGS,
    OddsChangePolicy, SelectionExposure, SlipLeg,
};
use betflow_domain::sportsbook::catalog::MarketStatus;
use betflow_domain::sportsbook::odds::Odds;
use betflow_engine::bets::{SettleMode, SettlementReport};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::catalog::dto::{Whole, decimals, string_enum};
use super::dto::{ListData, PageParams};
use crate::AppState;
use crate::auth::{Auth, Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{
    ApiJson, ApiPath, ApiQuery, IDEMPOTENCY_KEY, IdempotentJson, OptionalJson, money_response,
};

pub const TAG: &str = "bets";

crate::permissions! {
    Settle => ["sportsbook:settle"];
    Exposure => ["sportsbook:manage"];
}

/// `schema_with` functions for the bets' enums, listed from the domain's own values.
mod enums {
    use super::*;

    pub fn bet_type() -> RefOr<Schema> {
        string_enum(
            BetType::ALL.iter().map(|t| t.as_str()),
            false,
            "`single` (one leg) or `parlay` (2 to 12 legs on different events).",
        )
    }
    pub fn bet_status() -> RefOr<Schema> {
        string_enum(
            BetStatus::ALL.iter().map(|t| t.as_str()),
            false,
            "Placed bets are `accepted`; settlement ends in a `settled_*` state or `voided`.",
        )
    }
    pub fn leg_result() -> RefOr<Schema> {
        string_enum(
            LegResult::ALL.iter().map(|t| t.as_str()),
            false,
            "A selection's result.",
        )
    }
    pub fn leg_result_nullable() -> RefOr<Schema> {
        string_enum(
            LegResult::ALL.iter().map(|t| t.as_str()),
            true,
            "The leg's result; null until its market settles.",
        )
    }
    pub fn odds_change_policy() -> RefOr<Schema> {
        string_enum(
            OddsChangePolicy::ALL.iter().map(|t| t.as_str()),
            false,
            "When the offered odds moved since the customer saw them: `none` (default) \
             refuses, `higher` accepts better odds, `any` accepts the current odds.",
        )
    }
    pub fn market_status() -> RefOr<Schema> {
        string_enum(
            MarketStatus::ALL.iter().map(|t| t.as_str()),
            false,
            "The market's status after the call.",
        )
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BetLegDto {
    pub id: Uuid,
    pub bet_id: Uuid,
    pub selection_id: Uuid,
    pub market_id: Uuid,
    pub event_id: Uuid,
    /// The decimal odds taken, in the canonical text form.
    #[serde(with = "betflow_domain::sportsbook::odds::text")]
    #[schema(value_type = String, example = "1.85")]
    pub odds: Decimal,
    #[schema(schema_with = enums::leg_result_nullable)]
    pub result: Option<LegResult>,
    pub settled_at: Option<DateTime<Utc>>,
    /// The selection's name, for history listings.
    pub selection_name: Option<String>,
}

impl From<BetLeg> for BetLegDto {
    fn from(l: BetLeg) -> Self {
        Self {
            id: l.id,
            bet_id: l.bet_id,
            selection_id: l.selection_id,
            market_id: l.market_id,
            event_id: l.event_id,
            odds: l.odds,
            result: l.result,
            settled_at: l.settled_at,
            selection_name: l.selection_name,
        }
    }
}

/// A bet with its legs (the seed's bets and bet_selections).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BetDto {
    pub id: Uuid,
    pub user_id: Uuid,
    #[serde(rename = "type")]
    #[schema(schema_with = enums::bet_type)]
    pub bet_type: BetType,
    #[schema(schema_with = enums::bet_status)]
    pub status: BetStatus,
    /// In integer minor units of `currencyCode`.
    #[schema(example = 1000)]
    pub stake: i64,
    /// The product of the legs' odds, in the canonical text form.
    #[serde(with = "betflow_domain::sportsbook::odds::text")]
    #[schema(value_type = String, example = "1.85")]
    pub total_odds: Decimal,
    /// The return if every leg wins (stake included), in integer minor units.
    #[schema(example = 1850)]
    pub potential_win: i64,
    /// The return paid on settlement (stake included), in integer minor units; 0 while open.
    pub actual_win: i64,
    #[schema(example = "GBP")]
    pub currency_code: String,
    pub placed_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub legs: Vec<BetLegDto>,
}

impl From<Bet> for BetDto {
    fn from(b: Bet) -> Self {
        Self {
            id: b.id,
            user_id: b.user_id,
            bet_type: b.bet_type,
            status: b.status,
            stake: b.stake,
            total_odds: b.total_odds,
            potential_win: b.potential_win,
            actual_win: b.actual_win,
            currency_code: b.currency_code,
            placed_at: b.placed_at,
            settled_at: b.settled_at,
            void_reason: b.void_reason,
            metadata: b.metadata,
            legs: b.legs.into_iter().map(BetLegDto::from).collect(),
        }
    }
}

/// Open stakes and liabilities on one selection. Money in integer minor units.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectionExposureDto {
    pub selection_id: Uuid,
    pub market_id: Uuid,
    /// Open bets with a leg on this selection.
    pub open_bets: i64,
    /// Their stakes, in integer minor units.
    pub stakes: i64,
    /// What they return if every leg wins, in integer minor units (the house's worst case).
    pub potential_payout: i64,
    /// `potentialPayout` less the open stakes on the whole market, in integer minor units:
    /// what the house loses if this selection wins (negative: what it keeps).
    pub net_liability: i64,
}

impl From<SelectionExposure> for SelectionExposureDto {
    fn from(e: SelectionExposure) -> Self {
        Self {
            selection_id: e.selection_id,
            market_id: e.market_id,
            open_bets: e.open_bets,
            stakes: e.stakes,
            potential_payout: e.potential_payout,
            net_liability: e.net_liability,
        }
    }
}

/// What a settlement, resettlement or void did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettlementReportDto {
    pub market_id: Uuid,
    #[schema(schema_with = enums::market_status)]
    pub market_status: MarketStatus,
    /// Bets whose settlement this call decided (their last leg settled here).
    pub bets_settled: u64,
    /// Settled bets this call reversed and settled again.
    pub bets_resettled: u64,
    /// Legs that got a result here.
    pub legs_updated: u64,
    /// Returns credited by this call less returns it reversed, in integer minor units.
    pub net_payout: i64,
}

impl From<SettlementReport> for SettlementReportDto {
    fn from(r: SettlementReport) -> Self {
        Self {
            market_id: r.market_id,
            market_status: r.market_status,
            bets_settled: r.bets_settled,
            bets_resettled: r.bets_resettled,
            legs_updated: r.legs_updated,
            net_payout: r.net_payout,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegBody {
    pub selection_id: Uuid,
    /// The decimal odds the customer saw, e.g. `"2.10"`.
    #[schema(schema_with = decimals::odds)]
    pub odds: Odds,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceBetBody {
    #[serde(rename = "type")]
    #[schema(schema_with = enums::bet_type)]
    pub bet_type: BetType,
    /// In integer minor units (cents) of the customer's currency, at least 1 (the configured
    /// minimum and maximum stakes are `STAKE_TOO_LOW` / `STAKE_TOO_HIGH`, 422).
    #[schema(value_type = i64, minimum = 1, example = 1000)]
    pub stake: Whole<i64>,
    /// One leg for a single, 2 to 12 on different events for a parlay, each selection once
    /// (a selection twice is a 400).
    #[schema(min_items = 1, max_items = 12)]
    pub legs: Vec<LegBody>,
    #[serde(default)]
    #[schema(schema_with = enums::odds_change_policy)]
    pub odds_change_policy: Option<OddsChangePolicy>,
}

/// [`PlaceBetBody`]'s schema with the leg count tied to the type, as `BetSlip::validate`
/// checks it: a `single` has exactly one leg, a `parlay` 2 to 12.
pub struct PlaceBetRequest;

impl utoipa::PartialSchema for PlaceBetRequest {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{AllOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder};
        let shape = |bet_type: BetType, min: usize, max: usize| {
            ObjectBuilder::new()
                .property(
                    "type",
                    ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .enum_values(Some([bet_type.as_str()])),
                )
                .property(
                    "legs",
                    ArrayBuilder::new()
                        .items(utoipa::openapi::Ref::from_schema_name("LegBody"))
                        .min_items(Some(min))
                        .max_items(Some(max)),
                )
        };
        AllOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("PlaceBetBody"))
            .item(
                OneOfBuilder::new()
                    .item(shape(BetType::Single, 1, 1))
                    .item(shape(BetType::Parlay, 2, MAX_PARLAY_LEGS)),
            )
            .description(Some(
                "A bet slip: a single (one leg) or a parlay (2 to 12 legs on different events).",
            ))
            .into()
    }
}

impl ToSchema for PlaceBetRequest {
    fn name() -> std::borrow::Cow<'static, str> {
        "PlaceBetRequest".into()
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            "PlaceBetBody".to_owned(),
            <PlaceBetBody as utoipa::PartialSchema>::schema(),
        ));
        <PlaceBetBody as ToSchema>::schemas(schemas);
    }
}

#[utoipa::path(post, path = "/api/v1/bets", tag = TAG, summary = "Place a bet",
    description = "Customers (others: 403). Checked in one transaction under row locks, each \
                   refusal with a stable code: the market open (`MARKET_SUSPENDED`, \
                   `MARKET_CLOSED`), the event not started unless the market is in play and \
                   the in-play delay has passed (`EVENT_STARTED`), the selection active \
                   (`SELECTION_INACTIVE`), the odds against the policy (`ODDS_CHANGED`, 409, \
                   with the current odds in `details`), the stake and payout bounds \
                   (`STAKE_TOO_LOW`, `STAKE_TOO_HIGH`, `MAX_PAYOUT_EXCEEDED`), limits and \
                   breaks (`LIMIT_EXCEEDED`; `SELF_EXCLUDED`, 403), the balance \
                   (`INSUFFICIENT_FUNDS`), parlay legs on different events \
                   (`DUPLICATE_EVENT_IN_PARLAY`); those without a status here are 422. A leg \
                   count that does not fit the type is a 400, the same selection twice 422 \
                   `DUPLICATE_SELECTION`, an unknown selection a 404. The stake is then held. \
                   Takes an `Idempotency-Key` header.",
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY,
        pattern = r"^[\x21-\x7E]{1,255}$")),
    request_body = PlaceBetRequest,
    responses((status = 201, description = "The accepted bet", body = Envelope<BetDto>,
            headers(("Location" = String, description = "The bet's URL"))),
        (status = 403, description = "SELF_EXCLUDED: the customer is on a break; \
                                      INSUFFICIENT_PERMISSIONS: the caller is not a customer",
            body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND: a leg's selection does not exist \
                                      (`details` names the legs)",
            body = ErrorEnvelope),
        (status = 409, description = "ODDS_CHANGED (the current odds are in `details`) or \
                                      IDEMPOTENCY_KEY_IN_USE", body = ErrorEnvelope),
        (status = 422, description = "INSUFFICIENT_FUNDS, MARKET_SUSPENDED, MARKET_CLOSED, \
                                      EVENT_STARTED, SELECTION_INACTIVE, STAKE_TOO_LOW, \
                                      STAKE_TOO_HIGH, MAX_PAYOUT_EXCEEDED, LIMIT_EXCEEDED, \
                                      DUPLICATE_EVENT_IN_PARLAY, DUPLICATE_SELECTION or \
                                      IDEMPOTENCY_KEY_REUSED",
            body = ErrorEnvelope)))]
pub async fn place(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    IdempotentJson { key, body }: IdempotentJson<PlaceBetBody>,
) -> Result<Response, ApiError> {
    let slip = BetSlip {
        bet_type: body.bet_type,
        stake: body.stake.0,
        legs: body
            .legs
            .iter()
            .map(|l| SlipLeg {
                selection_id: l.selection_id,
                odds: l.odds,
            })
            .collect(),
        odds_change_policy: body.odds_change_policy.unwrap_or(OddsChangePolicy::None),
    };
    let r = state
        .engine
        .bets()
        .place(&p, slip, Utc::now(), key.as_ref(), &actor)
        .await?;
    money_response::<_, BetDto>(r, |b| format!("/api/v1/bets/{}", b.id))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct BetParams {
    #[param(schema_with = enums::bet_status)]
    pub status: Option<BetStatus>,
    /// Placed at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Placed before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Operators: one customer's bets (ignored for customers).
    pub user_id: Option<Uuid>,
}

#[utoipa::path(get, path = "/api/v1/bets", tag = TAG, summary = "Betting history",
    description = "The caller's bets, newest first, each with its legs' selection names, odds \
                   and results (get_user_betting_history). Operators (`wallet:read` or \
                   `sportsbook:settle`) see everyone's, or one customer's with `userId`.",
    params(BetParams, PageParams),
    responses((status = 200, description = "A page of bets", body = Envelope<ListData<BetDto>>)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<BetParams>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<BetDto>>, ApiError> {
    let filter = BetFilter {
        user_id: q.user_id,
        status: q.status,
        from: q.from,
        to: q.to,
        page: paging.request()?,
    };
    let page = state.engine.bets().list(&p, filter).await?;
    Ok(ApiResponse::ok(ListData::from_page(page, BetDto::from)))
}

#[utoipa::path(get, path = "/api/v1/bets/{id}", tag = TAG, summary = "One bet",
    description = "The caller's own, or any for operators (someone else's is a 404 to a \
                   customer).", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The bet", body = Envelope<BetDto>)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<BetDto>, ApiError> {
    Ok(ApiResponse::ok(
        state.engine.bets().get(&p, BetId::from(id)).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettleBody {
    /// A result for every selection of the market, by selection id.
    #[schema(schema_with = results_schema)]
    pub results: HashMap<Uuid, LegResult>,
    /// A note, at most 500 characters; accepted but not kept (only a resettlement records
    /// why).
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\x00]*$")]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResettleBody {
    /// The corrected result for every selection of the market, by selection id.
    #[schema(schema_with = results_schema)]
    pub results: HashMap<Uuid, LegResult>,
    /// Why the market is corrected: required, something other than white space, free text
    /// (line breaks, no other control character), at most 500 characters; kept on each
    /// corrected bet's audit rows.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub reason: String,
}

/// Longest reason a settlement, resettlement or void keeps (on each bet and in the audit).
const MAX_REASON: usize = 500;

fn check_reason(reason: Option<String>) -> Result<Option<String>, ApiError> {
    match reason {
        Some(r) if r.chars().count() > MAX_REASON => {
            Err(DomainError::invalid("reason", format!("at most {MAX_REASON} characters")).into())
        }
        other => Ok(other),
    }
}

/// `{selectionId: win|loss|push|void}`.
fn results_schema() -> RefOr<Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Object)
        .property_names(Some(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Uuid,
                ))),
        ))
        .additional_properties(Some(enums::leg_result()))
        .description(Some(
            "A result (win, loss, push, void) for every selection of the market, keyed by \
             selection id.",
        ))
        .into()
}

#[utoipa::path(post, path = "/api/v1/markets/{id}/settle", tag = TAG, summary = "Settle a market",
    description = "Requires `sportsbook:settle`. Settles every affected bet exactly once: \
                   singles pay stake × odds on a win and refund a push or void; a parlay \
                   settles with its last leg, counting void and push legs as 1.0. Repeating \
                   the same results changes nothing; different ones are 409 `ALREADY_SETTLED` \
                   (use resettle). A result missing for a selection of the market, or one for a \
                   selection of another market, is 422 `RESULTS_MISMATCH`.",
    params(("id" = Uuid, Path)), request_body = SettleBody,
    responses((status = 200, description = "The settlement report",
            body = Envelope<SettlementReportDto>),
        (status = 409, description = "ALREADY_SETTLED: settled with other results",
            body = ErrorEnvelope),
        (status = 422, description = "RESULTS_MISMATCH: the results do not name each \
                                      selection of the market, and only those",
            body = ErrorEnvelope)))]
pub async fn settle(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<Settle>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<SettleBody>,
) -> Result<ApiResponse<SettlementReportDto>, ApiError> {
    check_reason(body.reason)?;
    let r = state
        .engine
        .bets()
        .settle_market(MarketId::from(id), body.results, SettleMode::Settle, &actor)
        .await?;
    Ok(ApiResponse::ok(r.into()))
}

#[utoipa::path(post, path = "/api/v1/markets/{id}/resettle", tag = TAG,
    summary = "Correct a settled market",
    description = "Requires `sportsbook:settle` and a `reason`. Each bet whose result changes \
                   is reversed through the ledger (its return taken back, its stake held \
                   again) and settled on the new results; nothing is overwritten and every \
                   step is audited. 409 `INSUFFICIENT_FUNDS` if a customer no longer holds a \
                   return being taken back (nothing is changed).",
    params(("id" = Uuid, Path)), request_body = ResettleBody,
    responses((status = 200, description = "The settlement report",
            body = Envelope<SettlementReportDto>),
        (status = 409, description = "INSUFFICIENT_FUNDS: a customer no longer holds a return \
                                      being taken back", body = ErrorEnvelope),
        (status = 422, description = "RESULTS_MISMATCH: the results do not name each \
                                      selection of the market, and only those",
            body = ErrorEnvelope)))]
pub async fn resettle(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<Settle>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ResettleBody>,
) -> Result<ApiResponse<SettlementReportDto>, ApiError> {
    let reason = check_reason(Some(body.reason))?
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ApiError::from(DomainError::invalid("reason", "say why")))?;
    let r = state
        .engine
        .bets()
        .settle_market(
            MarketId::from(id),
            body.results,
            SettleMode::Resettle { reason },
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(r.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VoidBody {
    /// Why (default "market voided"): free text (line breaks, no other control character),
    /// at most 500 characters.
    #[serde(default)]
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/markets/{id}/void", tag = TAG, summary = "Void a market",
    description = "Requires `sportsbook:settle`. Every bet's leg on the market becomes void: \
                   singles are refunded, parlays carry on at 1.0 for that leg. A market already \
                   settled is corrected through the ledger as by resettle. The body is \
                   optional.",
    params(("id" = Uuid, Path)),
    request_body(content = Option<VoidBody>, description = "Optional: an empty body voids \
        with the default reason", content_type = "application/json"),
    responses((status = 200, description = "The settlement report",
            body = Envelope<SettlementReportDto>),
        (status = 409, description = "INSUFFICIENT_FUNDS: a customer no longer holds a return \
                                      being taken back", body = ErrorEnvelope)))]
pub async fn void(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<Settle>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<Option<VoidBody>>,
) -> Result<ApiResponse<SettlementReportDto>, ApiError> {
    let reason =
        check_reason(body.and_then(|b| b.reason))?.unwrap_or_else(|| "market voided".into());
    let r = state
        .engine
        .bets()
        .settle_market(
            MarketId::from(id),
            HashMap::new(),
            SettleMode::Void { reason },
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(r.into()))
}

#[utoipa::path(get, path = "/api/v1/markets/{id}/exposure", tag = TAG,
    summary = "A market's exposure",
    description = "Requires `sportsbook:manage`. Per selection, over open bets: stakes, \
                   potential payouts, and net liability (what the house pays out if it wins, \
                   less the market's stakes), by selection name.",
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, description = "A page of selections' exposure",
        body = Envelope<ListData<SelectionExposureDto>>)))]
pub async fn market_exposure(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<Exposure>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<SelectionExposureDto>>, ApiError> {
    let page = state
        .engine
        .bets()
        .market_exposure(MarketId::from(id), paging.request()?)
        .await?;
    Ok(ApiResponse::ok(ListData::from_page(
        page,
        SelectionExposureDto::from,
    )))
}

#[utoipa::path(get, path = "/api/v1/selections/{id}/exposure", tag = TAG,
    summary = "A selection's exposure", description = "Requires `sportsbook:manage`.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The selection's exposure",
        body = Envelope<SelectionExposureDto>)))]
pub async fn selection_exposure(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<Exposure>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<SelectionExposureDto>, ApiError> {
    Ok(ApiResponse::ok(
        state
            .engine
            .bets()
            .selection_exposure(SelectionId::from(id))
            .await?
            .into(),
    ))
}

/// The bet routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(place, list))
        .routes(utoipa_axum::routes!(get))
        .routes(utoipa_axum::routes!(settle))
        .routes(utoipa_axum::routes!(resettle))
        .routes(utoipa_axum::routes!(void))
        .routes(utoipa_axum::routes!(market_exposure))
        .routes(utoipa_axum::routes!(selection_exposure))
}
