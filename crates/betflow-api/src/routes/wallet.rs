//! The caller's wallet (balances, deposits, withdrawals, transactions, payment methods),
//! responsible-gambling limits and breaks, operators' resolution of pending transactions and
//! the ledger's reconciliation. Money is integer minor units (cents) of the wallet's currency.

pub mod dto;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use betflow_domain::DomainError;
use betflow_domain::ids::{TransactionId, UserId};
use betflow_domain::sportsbook::limits::Exclusion;
use betflow_domain::sportsbook::wallet::{TransactionStatus, TransactionType};
use betflow_engine::TransactionFilter;
use betflow_engine::wallet::{MoneyRequest, NewPaymentMethod, Resolution, ResolutionDetails};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use self::dto::{
    BreakBody, LimitBody, LimitsDto, MoneyBody, PaymentMethodBody, PaymentMethodDto,
    ProviderCallbackBody, ResolveBody, TransactionDto, VerificationBody, WalletDto,
};
use super::dto::{ListData, PageParams};
use crate::AppState;
use crate::auth::{Auth, Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery, IDEMPOTENCY_KEY, IdempotentJson, money_response};

pub const TAG: &str = "wallet";

crate::permissions! {
    WalletRead => ["wallet:read"];
    WalletManage => ["wallet:manage"];
    UsersManage => ["users:manage"];
}

#[utoipa::path(get, path = "/api/v1/wallet", tag = TAG, summary = "The caller's balances",
    description = "Customers only (others: 404). `balance` is cash available to bet or \
                   withdraw, `pendingBalance` held stakes and reserved withdrawals; integer \
                   minor units of `currencyCode`. This is the seed's user_balances, projected \
                   from the double-entry ledger.",
    responses((status = 200, description = "Balances", body = Envelope<WalletDto>),
        (status = 404, description = "NOT_FOUND: the caller is not a customer",
            body = ErrorEnvelope)))]
pub async fn get_wallet(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> Result<ApiResponse<WalletDto>, ApiError> {
    Ok(ApiResponse::ok(
        state
            .engine
            .wallet()
            .view(UserId::from(p.user_id))
            .await?
            .into(),
    ))
}

impl From<MoneyBody> for MoneyRequest {
    fn from(b: MoneyBody) -> Self {
        Self {
            amount: b.amount.0,
            payment_method_id: b.payment_method_id,
            description: b.description,
        }
    }
}

fn transaction_location(t: &TransactionDto) -> String {
    format!("/api/v1/wallet/transactions/{}", t.id)
}

#[utoipa::path(post, path = "/api/v1/wallet/deposits", tag = TAG, summary = "Deposit",
    description = "Customers (others: 404). Creates a pending deposit, credited (less fees) \
                   when the payment provider or an operator completes it. Refused with \
                   `SELF_EXCLUDED` (403) during a time-out or self-exclusion and \
                   `LIMIT_EXCEEDED` (422) beyond a deposit limit; an unknown or inactive \
                   `paymentMethodId` is a 404. Send an `Idempotency-Key` header: a retry \
                   returns the first response.",
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY,
        pattern = r"^[\x21-\x7E]{1,255}$")),
    request_body = MoneyBody,
    responses((status = 201, description = "The pending deposit",
            body = Envelope<TransactionDto>,
            headers(("Location" = String, description = "The transaction's URL"))),
        (status = 404, description = "NOT_FOUND: the caller is not a customer, or \
                                      `paymentMethodId` is not one of theirs",
            body = ErrorEnvelope),
        (status = 409, description = "IDEMPOTENCY_KEY_IN_USE: the first request with this \
                                      key is still running", body = ErrorEnvelope),
        (status = 422, description = "LIMIT_EXCEEDED (a deposit limit) or \
                                      IDEMPOTENCY_KEY_REUSED (the key with another body)",
            body = ErrorEnvelope)))]
pub async fn deposit(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    IdempotentJson { key, body }: IdempotentJson<MoneyBody>,
) -> Result<Response, ApiError> {
    let r = state
        .engine
        .wallet()
        .request_deposit(&p, body.into(), Utc::now(), key.as_ref(), &actor)
        .await?;
    money_response::<_, TransactionDto>(r, transaction_location)
}

#[utoipa::path(post, path = "/api/v1/wallet/withdrawals", tag = TAG, summary = "Withdraw",
    description = "Verified customers (`VERIFICATION_REQUIRED`, 403, otherwise; others: \
                   404). Reserves the amount at once (cash to pending); it leaves when the \
                   transaction completes and returns if it fails or is cancelled. \
                   `INSUFFICIENT_FUNDS` (422) beyond the cash balance. Takes an \
                   `Idempotency-Key` as deposits do.",
    params(("Idempotency-Key" = Option<String>, Header, description = IDEMPOTENCY_KEY,
        pattern = r"^[\x21-\x7E]{1,255}$")),
    request_body = MoneyBody,
    responses((status = 201, description = "The pending withdrawal",
            body = Envelope<TransactionDto>,
            headers(("Location" = String, description = "The transaction's URL"))),
        (status = 404, description = "NOT_FOUND: the caller is not a customer, or \
                                      `paymentMethodId` is not one of theirs",
            body = ErrorEnvelope),
        (status = 409, description = "IDEMPOTENCY_KEY_IN_USE: the first request with this \
                                      key is still running", body = ErrorEnvelope),
        (status = 422, description = "INSUFFICIENT_FUNDS (beyond the cash balance) or \
                                      IDEMPOTENCY_KEY_REUSED (the key with another body)",
            body = ErrorEnvelope)))]
pub async fn withdraw(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    IdempotentJson { key, body }: IdempotentJson<MoneyBody>,
) -> Result<Response, ApiError> {
    let r = state
        .engine
        .wallet()
        .request_withdrawal(&p, body.into(), key.as_ref(), &actor)
        .await?;
    money_response::<_, TransactionDto>(r, transaction_location)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TransactionParams {
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = dto::enums::transaction_type)]
    pub tx_type: Option<TransactionType>,
    #[param(schema_with = dto::enums::transaction_status)]
    pub status: Option<TransactionStatus>,
    /// Someone else's (needs `wallet:read`; ignored otherwise).
    pub user_id: Option<Uuid>,
}

#[utoipa::path(get, path = "/api/v1/wallet/transactions", tag = TAG,
    summary = "Wallet transactions",
    description = "The caller's deposits, withdrawals and bet debits and credits, newest \
                   first; with `wallet:read`, `userId` reads another's and no `userId` reads \
                   everyone's.",
    params(TransactionParams, PageParams),
    responses((status = 200, description = "A page of transactions",
        body = Envelope<ListData<TransactionDto>>)))]
pub async fn transactions(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<TransactionParams>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<TransactionDto>>, ApiError> {
    let user_id = if p.has("wallet:read") {
        q.user_id
    } else {
        Some(p.user_id)
    };
    let filter = TransactionFilter {
        user_id,
        tx_type: q.tx_type,
        status: q.status,
        page: paging.request()?,
    };
    let page = state.engine.wallet().transactions(&filter).await?;
    Ok(ApiResponse::ok(ListData::from_page(
        page,
        TransactionDto::from,
    )))
}

#[utoipa::path(get, path = "/api/v1/wallet/transactions/{id}", tag = TAG,
    summary = "One transaction", description = "The caller's own, or any with `wallet:read`.",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The transaction", body = Envelope<TransactionDto>)))]
pub async fn transaction(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<ApiResponse<TransactionDto>, ApiError> {
    Ok(ApiResponse::ok(
        state
            .engine
            .wallet()
            .transaction(&p, TransactionId::from(id))
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/api/v1/wallet/transactions/{id}/resolve", tag = TAG,
    summary = "Complete or fail a pending deposit or withdrawal",
    description = "Requires `wallet:manage`: the operator's stand-in for the payment provider. \
                   Completing a deposit credits it less `fees`; completing a withdrawal pays \
                   out the reserved amount; failing or cancelling a withdrawal returns it. \
                   Asking for the status it already has returns it unchanged; any other move \
                   from a final status, or resolving what is not a deposit or withdrawal, is \
                   409 `INVALID_TRANSITION`.",
    params(("id" = Uuid, Path)), request_body = ResolveBody,
    responses((status = 200, description = "The transaction", body = Envelope<TransactionDto>),
        (status = 409, description = "INVALID_TRANSITION: not from this status",
            body = ErrorEnvelope),
        (status = 422, description = "FEES_EXCEED_AMOUNT: `fees` above the transaction's \
                                      amount", body = ErrorEnvelope)))]
pub async fn resolve(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<WalletManage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> Result<ApiResponse<TransactionDto>, ApiError> {
    let resolution = Resolution::parse(&body.status)?;
    let t = state
        .engine
        .wallet()
        .resolve_transaction(
            TransactionId::from(id),
            resolution,
            ResolutionDetails {
                external_reference: body.external_reference,
                fees: body.fees.map(|f| f.0),
                processor_response: body.processor_response.map(Value::Object),
            },
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(t.into()))
}

#[utoipa::path(post, path = "/api/v1/wallet/payment-methods", tag = TAG,
    summary = "Save a payment method",
    description = "Customers (others: 404). `details` holds what the provider tokenised; card \
                   numbers and security codes are refused (400).",
    request_body = PaymentMethodBody,
    responses((status = 201, description = "The payment method",
            body = Envelope<PaymentMethodDto>),
        (status = 404, description = "NOT_FOUND: the caller is not a customer",
            body = ErrorEnvelope)))]
pub async fn add_payment_method(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<PaymentMethodBody>,
) -> Result<ApiResponse<PaymentMethodDto>, ApiError> {
    let m = state
        .engine
        .wallet()
        .add_payment_method(
            &p,
            NewPaymentMethod {
                method_type: body.method_type,
                name: body.name,
                details: Value::Object(body.details),
                is_default: body.is_default,
                expires_at: body.expires_at,
            },
            &actor,
        )
        .await?;
    Ok(ApiResponse::created(m.into()))
}

#[utoipa::path(get, path = "/api/v1/wallet/payment-methods", tag = TAG,
    summary = "The caller's payment methods", description = "Oldest first.",
    params(PageParams),
    responses((status = 200, description = "A page of payment methods",
        body = Envelope<ListData<PaymentMethodDto>>)))]
pub async fn payment_methods(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<PaymentMethodDto>>, ApiError> {
    let page = state
        .engine
        .wallet()
        .payment_methods(UserId::from(p.user_id), paging.request()?)
        .await?;
    Ok(ApiResponse::ok(ListData::from_page(
        page,
        PaymentMethodDto::from,
    )))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountCheckDto {
    pub owner: Uuid,
    #[schema(schema_with = dto::enums::account_kind)]
    pub kind: betflow_domain::sportsbook::wallet::AccountKind,
    #[schema(example = "GBP")]
    pub currency: String,
    /// Credits less debits over every transfer, in integer minor units of `currency`.
    pub from_transfers: i64,
    /// The projection's balance, in integer minor units of `currency` (customer accounts;
    /// null for house accounts, which have none).
    pub projected: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reconciliation {
    /// Per currency, the sum over every account in integer minor units: always 0 in a sound
    /// ledger.
    pub totals: std::collections::BTreeMap<String, i64>,
    /// Customer accounts whose projection disagrees with their transfers.
    pub mismatches: Vec<AccountCheckDto>,
    pub accounts: Vec<AccountCheckDto>,
    pub balanced: bool,
}

#[utoipa::path(get, path = "/api/v1/wallet/reconciliation", tag = TAG,
    summary = "Reconcile the ledger",
    description = "Requires `wallet:read`. Sums every account from its transfers, checks each \
                   currency sums to zero and each customer balance equals its transfers. A \
                   report over the whole ledger, not a list: it is not paged.",
    responses((status = 200, description = "The report", body = Envelope<Reconciliation>)))]
pub async fn reconciliation(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<WalletRead>,
) -> Result<ApiResponse<Reconciliation>, ApiError> {
    let r = state.engine.wallet().reconcile().await?;
    let dto = |c: betflow_engine::AccountCheck| AccountCheckDto {
        owner: c.owner,
        kind: c.kind,
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
    description = "Deposit, stake and loss limits per day, week and month (integer minor \
                   units) with any raise waiting out its 24-hour cooling-off (`pending`: the \
                   amount and when it applies), and the time-out or self-exclusion.",
    responses((status = 200, description = "Limits and break", body = Envelope<LimitsDto>)))]
pub async fn limits(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> Result<ApiResponse<LimitsDto>, ApiError> {
    Ok(ApiResponse::ok(
        state
            .engine
            .wallet()
            .responsible_gambling(UserId::from(p.user_id), Utc::now())
            .await?
            .into(),
    ))
}

#[utoipa::path(put, path = "/api/v1/me/limits", tag = TAG, summary = "Set a limit",
    description = "Lowering a limit (or setting a first one) applies at once; raising or \
                   removing one applies after 24 hours (it shows as `pending` until then).",
    request_body = LimitBody,
    responses((status = 200, description = "Limits and break", body = Envelope<LimitsDto>)))]
pub async fn set_limit(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<LimitBody>,
) -> Result<ApiResponse<LimitsDto>, ApiError> {
    let rg = state
        .engine
        .wallet()
        .set_limit(
            UserId::from(p.user_id),
            body.kind,
            body.period,
            body.amount.map(|a| a.0),
            Utc::now(),
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(rg.into()))
}

#[utoipa::path(post, path = "/api/v1/me/breaks", tag = TAG, summary = "Take a break",
    description = "A time-out (1 to 42 days) or self-exclusion (6 to 60 months), effective at \
                   once: no bets and no deposits until it ends. It can be lengthened, never \
                   shortened or lifted early (a shorter one is 409 `BREAK_IN_FORCE`).",
    request_body = dto::BreakRequest,
    responses((status = 200, description = "Limits and break", body = Envelope<LimitsDto>),
        (status = 409, description = "BREAK_IN_FORCE: a longer break is in force (its end is \
                                      in `details.endsAt`)", body = ErrorEnvelope)))]
pub async fn take_break(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<BreakBody>,
) -> Result<ApiResponse<LimitsDto>, ApiError> {
    let at = Utc::now();
    let exclusion = match body {
        BreakBody::TimeOut { days } => Exclusion::time_out(days.0, at)?,
        BreakBody::SelfExclusion { months } => Exclusion::self_exclusion(months.0, at)?,
    };
    let rg = state
        .engine
        .wallet()
        .take_break(UserId::from(p.user_id), exclusion, at, &actor)
        .await?;
    Ok(ApiResponse::ok(rg.into()))
}

#[utoipa::path(put, path = "/api/v1/users/{id}/verification", tag = TAG,
    summary = "Record a customer's verification",
    description = "Requires `users:manage`: the outcome of identity checks (KYC). Only \
                   `verified` customers withdraw.",
    params(("id" = Uuid, Path)), request_body = VerificationBody,
    responses((status = 200, description = "The wallet with its verification status",
        body = Envelope<WalletDto>)))]
pub async fn set_verification(
    State(state): State<AppState>,
    Authorized(_caller, _): Authorized<UsersManage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<VerificationBody>,
) -> Result<ApiResponse<WalletDto>, ApiError> {
    let user = UserId::from(id);
    state
        .engine
        .wallet()
        .set_verification(user, body.status, &actor)
        .await?;
    Ok(ApiResponse::ok(
        state.engine.wallet().view(user).await?.into(),
    ))
}

/// The Standard Webhooks headers a provider's callback is signed with.
const CALLBACK_HEADERS: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];

#[utoipa::path(post, path = "/api/v1/wallet/provider-callback", tag = TAG,
    summary = "A payment provider's callback",
    description = "Open, but signed: Standard Webhooks headers (`webhook-id`, \
                   `webhook-timestamp` within five minutes, `webhook-signature` `v1,` HMAC-SHA256 \
                   with the shared `BETFLOW_PAYMENTS_WEBHOOK_SECRET`) over the exact body. The \
                   body names the transaction (`transactionId` or `reference`) and its new \
                   `status`; it resolves the transaction as an operator's resolve does, so a \
                   retried callback is harmless. A missing header is a 400; a wrong signature \
                   or stale timestamp 401 `INVALID_SIGNATURE`; 404 when no secret is \
                   configured. The body is read after the signature is checked.",
    params(
        ("webhook-id" = String, Header, description = "The message id the provider signed"),
        ("webhook-timestamp" = String, Header,
            description = "Unix seconds, within five minutes of the server's clock"),
        ("webhook-signature" = String, Header,
            description = "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated")),
    request_body = ProviderCallbackBody,
    responses((status = 200, description = "The transaction", body = Envelope<TransactionDto>),
        (status = 401, description = "INVALID_SIGNATURE: the signature or timestamp is not \
                                      valid", body = ErrorEnvelope),
        (status = 404, description = "NOT_FOUND: callbacks are not configured, or no such \
                                      transaction", body = ErrorEnvelope),
        (status = 409, description = "INVALID_TRANSITION: not from this status",
            body = ErrorEnvelope)))]
pub async fn provider_callback(
    State(state): State<AppState>,
    ClientInfo(mut actor): ClientInfo,
    headers: HeaderMap,
    body: String,
) -> Result<ApiResponse<TransactionDto>, ApiError> {
    // The three signature headers are required: without one the request is malformed (400),
    // whatever the server's configuration; a wrong one is for the signature check (401).
    let missing: Vec<_> = CALLBACK_HEADERS
        .iter()
        .filter(|h| headers.get(**h).is_none())
        .map(|h| betflow_domain::Violation::new(*h, "required header"))
        .collect();
    if !missing.is_empty() {
        return Err(DomainError::Validation(missing).into());
    }
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
        .wallet()
        .provider_callback(
            &header("webhook-id"),
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            &body,
            Utc::now(),
            &actor,
        )
        .await?;
    Ok(ApiResponse::ok(t.into()))
}

#[utoipa::path(post, path = "/api/v1/me/verification", tag = TAG,
    summary = "Ask to be verified",
    description = "Customers (others: 404). `unverified` or `rejected` becomes `pending` until \
                   an operator records the outcome of the identity checks; otherwise nothing \
                   changes.",
    responses((status = 200, description = "The wallet with its verification status",
            body = Envelope<WalletDto>),
        (status = 404, description = "NOT_FOUND: the caller is not a customer",
            body = ErrorEnvelope)))]
pub async fn request_verification(
    State(state): State<AppState>,
    Auth(p): Auth,
    ClientInfo(actor): ClientInfo,
) -> Result<ApiResponse<WalletDto>, ApiError> {
    state
        .engine
        .wallet()
        .request_verification(UserId::from(p.user_id), &actor)
        .await?;
    Ok(ApiResponse::ok(
        state
            .engine
            .wallet()
            .view(UserId::from(p.user_id))
            .await?
            .into(),
    ))
}

/// The payment provider's signed callbacks, open to anyone (limited per client IP by their own rule).
pub(crate) fn public_router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(provider_callback))
}

/// The wallet routes for the signed-in customer and the cashier, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(get_wallet))
        .routes(utoipa_axum::routes!(deposit))
        .routes(utoipa_axum::routes!(withdraw))
        .routes(utoipa_axum::routes!(transactions))
        .routes(utoipa_axum::routes!(transaction))
        .routes(utoipa_axum::routes!(resolve))
        .routes(utoipa_axum::routes!(add_payment_method, payment_methods))
        .routes(utoipa_axum::routes!(reconciliation))
        .routes(utoipa_axum::routes!(limits, set_limit))
        .routes(utoipa_axum::routes!(take_break))
        .routes(utoipa_axum::routes!(set_verification))
        .routes(utoipa_axum::routes!(request_verification))
}
