//! The caller's wallet (balances, deposits, withdrawals, transactions, payment methods),
//! responsible-gambling limits and breaks, operators' resolution of pending transactions and
//! the ledger's reconciliation. Money is integer minor units (cents) of the wallet's currency.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use betflow_domain::sportsbook::limits::{Exclusion, LimitKind, Period, ResponsibleGambling};
use betflow_domain::sportsbook::wallet::{
    PaymentMethod, PaymentMethodType, Transaction, TransactionStatus, TransactionType,
};
use betflow_domain::{DomainError, PageRequest};
use betflow_engine::TransactionFilter;
use betflow_engine::identity::Principal;
use betflow_engine::wallet::{
    IdempotencyKey, Idempotent, MoneyRequest, NewPaymentMethod, Resolution, ResolutionDetails,
    WalletView,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::ListData;
use crate::AppState;
use crate::auth::{Auth, Authorized, ClientInfo};
use crate::envelope::ApiResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub const TAG: &str = "wallet";

crate::permissions! {
    WalletRead => ["wallet:read"];
    WalletManage => ["wallet:manage"];
    UsersManage => ["users:manage"];
}

/// The `Idempotency-Key` of a money-moving request, bound to the caller, the route and the
/// request body (canonical JSON), so the same key with another body is recognised.
pub(crate) fn idempotency_key<T: Serialize>(
    headers: &HeaderMap,
    principal: &Principal,
    route: &str,
    body: &T,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(raw) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::from(DomainError::invalid(
                "Idempotency-Key",
                "1 to 255 visible ASCII characters",
            ))
        })?;
    let canonical = serde_json::to_value(body)
        .map(|v| v.to_string())
        .map_err(ApiError::internal)?;
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    h.update(canonical.as_bytes());
    Ok(Some(IdempotencyKey {
        user_id: principal.user_id,
        key: key.to_owned(),
        fingerprint: h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
    }))
}

/// A money-moving call's answer: 201 with the result, or the first response to its key
/// (marked `Idempotent-Replayed: true`).
pub(crate) fn money_response<T: Serialize>(result: Idempotent<T>) -> Result<Response, ApiError> {
    match result {
        Idempotent::Fresh(v) => Ok(ApiResponse::created(v).into_response()),
        Idempotent::Replay { status, body } => {
            let status = StatusCode::from_u16(status).map_err(ApiError::internal)?;
            let envelope = match body.get("error") {
                Some(error) => json!({"success": false, "error": error,
                                      "timestamp": crate::envelope::timestamp()}),
                None => json!({"success": true, "data": body.get("data"),
                               "timestamp": crate::envelope::timestamp()}),
            };
            let mut res = (status, axum::Json(envelope)).into_response();
            res.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(res)
        }
    }
}

#[utoipa::path(get, path = "/api/v1/wallet", tag = TAG, summary = "The caller's balances",
    description = "Customers only (others: 404). `balance` is cash available to bet or \
                   withdraw, `pendingBalance` held stakes and reserved withdrawals; minor units \
                   of `currencyCode`. This is the seed's user_balances, projected from the \
                   double-entry ledger.",
    responses((status = 200, description = "Balances"), (status = 404, body = ErrorEnvelope)))]
pub async fn get_wallet(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> Result<ApiResponse<WalletView>, ApiError> {
    Ok(ApiResponse::ok(state.engine.wallet(p.user_id).await?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoneyBody {
    /// Minor units (cents), 1 to 100,000,000.
    pub amount: i64,
    pub payment_method_id: Option<Uuid>,
    pub description: Option<String>,
}

impl From<MoneyBody> for MoneyRequest {
    fn from(b: MoneyBody) -> Self {
        Self {
            amount: b.amount,
            payment_method_id: b.payment_method_id,
            description: b.description,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/wallet/deposits", tag = TAG, summary = "Deposit",
    description = "Customers. Creates a pending deposit, credited (less fees) when the payment \
                   provider or an operator completes it. Refused with `SELF_EXCLUDED` (403) \
                   during a time-out or self-exclusion and `LIMIT_EXCEEDED` (422) beyond a \
                   deposit limit. Send an `Idempotency-Key` header: a retry returns the first \
                   response, the key with another body is 422, while the first is running 409.",
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = MoneyBody,
    responses((status = 201, description = "The pending deposit"),
        (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn deposit(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MoneyBody>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers, &p, "POST /api/v1/wallet/deposits", &body)?;
    let r = state
        .engine
        .request_deposit(&p, body.into(), Utc::now(), key.as_ref(), &actor)
        .await?;
    money_response(r)
}

#[utoipa::path(post, path = "/api/v1/wallet/withdrawals", tag = TAG, summary = "Withdraw",
    description = "Verified customers (`VERIFICATION_REQUIRED`, 403, otherwise). Reserves the \
                   amount at once (cash to pending); it leaves when the transaction completes \
                   and returns if it fails or is cancelled. `INSUFFICIENT_FUNDS` (422) beyond \
                   the cash balance. Takes an `Idempotency-Key` as deposits do.",
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = MoneyBody,
    responses((status = 201, description = "The pending withdrawal"),
        (status = 400, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn withdraw(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MoneyBody>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers, &p, "POST /api/v1/wallet/withdrawals", &body)?;
    let r = state
        .engine
        .request_withdrawal(&p, body.into(), key.as_ref(), &actor)
        .await?;
    money_response(r)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TransactionParams {
    /// deposit, withdrawal, bet_debit, bet_credit, bonus, adjustment, fee, refund
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub tx_type: Option<String>,
    /// pending, processing, completed, failed, cancelled, reversed
    pub status: Option<String>,
    /// Someone else's (needs `wallet:read`).
    pub user_id: Option<Uuid>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/wallet/transactions", tag = TAG,
    summary = "Wallet transactions",
    description = "The caller's deposits, withdrawals and bet debits and credits, newest \
                   first; with `wallet:read`, `userId` reads another's and no `userId` reads \
                   everyone's.",
    params(TransactionParams),
    responses((status = 200, description = "A page of transactions"),
        (status = 400, body = ErrorEnvelope)))]
pub async fn transactions(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<TransactionParams>,
) -> Result<ApiResponse<ListData<Transaction>>, ApiError> {
    let parse_err =
        |f: &str, v: &str| ApiError::from(DomainError::invalid(f, format!("unknown value {v:?}")));
    let tx_type = q
        .tx_type
        .as_deref()
        .map(|v| TransactionType::parse(v).ok_or_else(|| parse_err("type", v)))
        .transpose()?;
    let status = q
        .status
        .as_deref()
        .map(|v| TransactionStatus::parse(v).ok_or_else(|| parse_err("status", v)))
        .transpose()?;
    let user_id = if p.has("wallet:read") {
        q.user_id
    } else {
        Some(p.user_id)
    };
    let filter = TransactionFilter {
        user_id,
        tx_type,
        status,
        page: PageRequest::new(q.page, q.limit)?,
    };
    let page = state.engine.transactions(&filter).await?;
    Ok(ApiResponse::ok(ListData::from_page(page, |t| t)))
}

#[utoipa::path(get, path = "/api/v1/wallet/transactions/{id}", tag = TAG,
    summary = "One transaction", description = "The caller's own, or any with `wallet:read`.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The transaction"), (status = 404, body = ErrorEnvelope)))]
pub async fn transaction(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<Transaction>, ApiError> {
    Ok(ApiResponse::ok(state.engine.transaction(&p, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveBody {
    /// processing, completed, failed or cancelled.
    pub status: String,
    pub external_reference: Option<String>,
    /// Minor units kept by the provider or the house, 0 up to the amount.
    pub fees: Option<i64>,
    #[schema(value_type = Object)]
    pub processor_response: Option<Value>,
}

#[utoipa::path(post, path = "/api/v1/wallet/transactions/{id}/resolve", tag = TAG,
    summary = "Complete or fail a pending deposit or withdrawal",
    description = "Requires `wallet:manage`: the operator's stand-in for the payment provider. \
                   Completing a deposit credits it less `fees`; completing a withdrawal pays \
                   out the reserved amount; failing or cancelling a withdrawal returns it. \
                   Asking for the status it already has returns it unchanged; any other move \
                   from a final status is 409 `INVALID_TRANSITION`.",
    params(("id" = Uuid, Path)), request_body = ResolveBody,
    responses((status = 200, description = "The transaction"), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)))]
pub async fn resolve(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<WalletManage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> Result<ApiResponse<Transaction>, ApiError> {
    let resolution = Resolution::parse(&body.status)?;
    let t = state
        .engine
        .resolve_transaction(
            id,
            resolution,
            ResolutionDetails {
                external_reference: body.external_reference,
                fees: body.fees,
                processor_response: body.processor_response,
            },
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(t))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentMethodBody {
    /// credit_card, debit_card, bank_transfer, e_wallet, cryptocurrency
    #[serde(rename = "type")]
    pub method_type: String,
    pub name: String,
    /// The provider's token, brand, last four digits: never a card number.
    #[schema(value_type = Object)]
    pub details: Value,
    #[serde(default)]
    pub is_default: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

#[utoipa::path(post, path = "/api/v1/wallet/payment-methods", tag = TAG,
    summary = "Save a payment method",
    description = "Customers. `details` holds what the provider tokenised; card numbers and \
                   security codes are refused (400).",
    request_body = PaymentMethodBody,
    responses((status = 201, description = "The payment method"), (status = 400, body = ErrorEnvelope)))]
pub async fn add_payment_method(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<PaymentMethodBody>,
) -> Result<ApiResponse<PaymentMethod>, ApiError> {
    let method_type = PaymentMethodType::parse(&body.method_type).ok_or_else(|| {
        ApiError::from(DomainError::invalid(
            "type",
            "credit_card, debit_card, bank_transfer, e_wallet or cryptocurrency",
        ))
    })?;
    let m = state
        .engine
        .add_payment_method(
            &p,
            NewPaymentMethod {
                method_type,
                name: body.name,
                details: body.details,
                is_default: body.is_default,
                expires_at: body.expires_at,
            },
            &actor,
        )
        .await?;
    Ok(ApiResponse::created(m))
}

#[utoipa::path(get, path = "/api/v1/wallet/payment-methods", tag = TAG,
    summary = "The caller's payment methods",
    responses((status = 200, description = "Payment methods")))]
pub async fn payment_methods(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> Result<ApiResponse<Vec<PaymentMethod>>, ApiError> {
    Ok(ApiResponse::ok(
        state.engine.payment_methods(p.user_id).await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountCheckDto {
    pub owner: Uuid,
    pub kind: String,
    pub currency: String,
    /// Credits less debits over every transfer.
    pub from_transfers: i64,
    /// The projection's balance (customer accounts; house accounts have none).
    pub projected: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reconciliation {
    /// Per currency, the sum over every account: always 0 in a sound ledger.
    pub totals: std::collections::BTreeMap<String, i64>,
    /// Customer accounts whose projection disagrees with their transfers.
    pub mismatches: Vec<AccountCheckDto>,
    pub accounts: Vec<AccountCheckDto>,
    pub balanced: bool,
}

#[utoipa::path(get, path = "/api/v1/wallet/reconciliation", tag = TAG,
    summary = "Reconcile the ledger",
    description = "Requires `wallet:read`. Sums every account from its transfers, checks each \
                   currency sums to zero and each customer balance equals its transfers.",
    responses((status = 200, body = Reconciliation)))]
pub async fn reconciliation(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<WalletRead>,
) -> Result<ApiResponse<Reconciliation>, ApiError> {
    let r = state.engine.reconcile().await?;
    let dto = |c: betflow_engine::AccountCheck| AccountCheckDto {
        owner: c.owner,
        kind: c.kind.as_str().to_owned(),
        currency: c.currency,
        from_transfers: c.from_transfers,
        projected: c.projected,
    };
    Ok(ApiResponse::ok(Reconciliation {
        totals: r.totals,
        mismatches: r.mismatches.into_iter().map(dto).collect(),
        accounts: r.accounts.into_iter().map(dto).collect(),
        balanced: r.balanced,
    }))
}

#[utoipa::path(get, path = "/api/v1/me/limits", tag = TAG,
    summary = "The caller's limits and break",
    description = "Deposit, stake and loss limits per day, week and month (minor units) with \
                   any raise waiting out its 24-hour cooling-off, and the time-out or \
                   self-exclusion in force.",
    responses((status = 200, description = "Limits and break")))]
pub async fn limits(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> Result<ApiResponse<ResponsibleGambling>, ApiError> {
    Ok(ApiResponse::ok(
        state
            .engine
            .responsible_gambling(p.user_id, Utc::now())
            .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitBody {
    /// deposit, stake or loss
    #[schema(value_type = String)]
    pub kind: LimitKind,
    /// day, week or month
    #[schema(value_type = String)]
    pub period: Period,
    /// Minor units; null removes the limit (after the cooling-off).
    pub amount: Option<i64>,
}

#[utoipa::path(put, path = "/api/v1/me/limits", tag = TAG, summary = "Set a limit",
    description = "Lowering a limit (or setting a first one) applies at once; raising or \
                   removing one applies after 24 hours.",
    request_body = LimitBody,
    responses((status = 200, description = "Limits and break"), (status = 400, body = ErrorEnvelope)))]
pub async fn set_limit(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<LimitBody>,
) -> Result<ApiResponse<ResponsibleGambling>, ApiError> {
    let rg = state
        .engine
        .set_limit(
            p.user_id,
            body.kind,
            body.period,
            body.amount,
            Utc::now(),
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(rg))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BreakBody {
    /// time_out (with `days`, 1 to 42) or self_exclusion (with `months`, at least 6).
    #[serde(rename = "type")]
    pub kind: String,
    pub days: Option<u32>,
    pub months: Option<u32>,
}

#[utoipa::path(post, path = "/api/v1/me/breaks", tag = TAG, summary = "Take a break",
    description = "A time-out (24 hours, a week, a month, up to six weeks) or self-exclusion \
                   (six months or more), effective at once: no bets and no deposits until it \
                   ends. It can be lengthened, never shortened or lifted early.",
    request_body = BreakBody,
    responses((status = 200, description = "Limits and break"), (status = 400, body = ErrorEnvelope)))]
pub async fn take_break(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<BreakBody>,
) -> Result<ApiResponse<ResponsibleGambling>, ApiError> {
    let at = Utc::now();
    let exclusion = match (body.kind.as_str(), body.days, body.months) {
        ("time_out", Some(days), None) => Exclusion::time_out(days, at)?,
        ("self_exclusion", None, Some(months)) => Exclusion::self_exclusion(months, at)?,
        _ => {
            return Err(DomainError::invalid(
                "type",
                "time_out with days, or self_exclusion with months",
            )
            .into());
        }
    };
    let rg = state
        .engine
        .take_break(p.user_id, exclusion, at, &actor)
        .await?;
    Ok(ApiResponse::ok(rg))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerificationBody {
    /// unverified, pending, verified or rejected
    #[schema(value_type = String)]
    pub status: betflow_domain::sportsbook::customers::VerificationStatus,
}

#[utoipa::path(put, path = "/api/v1/users/{id}/verification", tag = TAG,
    summary = "Record a customer's verification",
    description = "Requires `users:manage`: the outcome of identity checks (KYC). Only \
                   `verified` customers withdraw.",
    params(("id" = Uuid, Path)), request_body = VerificationBody,
    responses((status = 200, description = "The wallet with its verification status"),
        (status = 404, body = ErrorEnvelope)))]
pub async fn set_verification(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<UsersManage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<VerificationBody>,
) -> Result<ApiResponse<WalletView>, ApiError> {
    state
        .engine
        .set_verification(id, body.status, &actor)
        .await?;
    Ok(ApiResponse::ok(state.engine.wallet(id).await?))
}

#[utoipa::path(post, path = "/api/v1/wallet/provider-callback", tag = TAG,
    summary = "A payment provider's callback",
    description = "Open, but signed: Standard Webhooks headers (`webhook-id`, \
                   `webhook-timestamp` within five minutes, `webhook-signature` `v1,` HMAC-SHA256 \
                   with the shared `BETFLOW_PAYMENTS_WEBHOOK_SECRET`). The body names the \
                   transaction (`transactionId` or `reference`) and its new `status` \
                   (processing, completed, failed, cancelled), with optional \
                   `externalReference`, `fees`, `processorResponse`; it resolves the transaction \
                   as an operator's resolve does, so a retried callback is harmless. 401 \
                   `INVALID_SIGNATURE` otherwise; 404 when no secret is configured.",
    request_body = Object,
    responses((status = 200, description = "The transaction"), (status = 400, body = ErrorEnvelope),
        (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope)))]
pub async fn provider_callback(
    State(state): State<AppState>,
    ClientInfo(mut actor): ClientInfo,
    headers: HeaderMap,
    body: String,
) -> Result<ApiResponse<Transaction>, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    actor.user_agent = Some(format!(
        "payment-provider {}",
        actor.user_agent.unwrap_or_default()
    ));
    let t = state
        .engine
        .provider_callback(
            &header("webhook-id"),
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            &body,
            Utc::now(),
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(t))
}

#[utoipa::path(post, path = "/api/v1/me/verification", tag = TAG,
    summary = "Ask to be verified",
    description = "Customers. `unverified` or `rejected` becomes `pending` until an operator \
                   records the outcome of the identity checks; otherwise nothing changes.",
    responses((status = 200, description = "The wallet with its verification status"),
        (status = 404, body = ErrorEnvelope)))]
pub async fn request_verification(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
) -> Result<ApiResponse<WalletView>, ApiError> {
    state.engine.request_verification(p.user_id, &actor).await?;
    Ok(ApiResponse::ok(state.engine.wallet(p.user_id).await?))
}
