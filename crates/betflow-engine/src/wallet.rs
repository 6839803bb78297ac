//! Wallets: deposits, withdrawals and their completion, payment methods, responsible-gambling
//! settings, the ledger's reconciliation, and `Idempotency-Key` handling for every
//! money-moving request.
//!
//! Each money movement is one database transaction that locks the customer's accounts first,
//! writes its ledger transfers (the balance projection moves with them), the seed's
//! transactions row, an audit row with old and new balances and, when the request carried an
//! idempotency key, the response to replay.

use std::future::Future;

use betflow_domain::DomainError;
use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::identity::Role;
use betflow_domain::sportsbook::customers::VerificationStatus;
use betflow_domain::sportsbook::limits::{
    self, Exclusion, ExclusionKind, LimitKind, Period, ResponsibleGambling,
};
use betflow_domain::sportsbook::wallet::{
    self, Account, AccountKind, Balances, PaymentMethod, PaymentMethodType, Transaction,
    TransactionStatus, TransactionType, Transfer, TransferKind,
};
use betflow_domain::text;
use betflow_domain::time::now;
use betflow_domain::{Page, PageRequest};
use betflow_store::{AccountCheck, IdempotencyClaim, TransactionFilter};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::identity::Principal;
use crate::{Engine, EngineError};

/// The most one deposit or withdrawal may move (minor units): 1,000,000.00.
pub const MAX_AMOUNT: i64 = 100_000_000;

/// Longest payment-provider reference kept on a transaction.
pub const MAX_EXTERNAL_REFERENCE: usize = 100;

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::hours(24);
/// How long a claimed idempotency key whose request never finished blocks retries.
const IDEMPOTENCY_LEASE: Duration = Duration::seconds(60);

/// An `Idempotency-Key` and the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub user_id: Uuid,
    pub key: String,
    /// A hash of the request (method, path, canonical body).
    pub fingerprint: String,
}

/// A money-moving call's result: fresh, or the first response to its idempotency key.
#[derive(Debug, Clone)]
pub enum Idempotent<T> {
    Fresh(T),
    /// `body` is `{"data": ...}` for a success and `{"error": {code, message, details}}`
    /// for a refusal.
    Replay {
        status: u16,
        body: Value,
    },
}

/// A deposit or withdrawal request.
#[derive(Debug, Clone)]
pub struct MoneyRequest {
    pub amount: i64,
    pub payment_method_id: Option<Uuid>,
    pub description: Option<String>,
}

/// What an operator or the provider says about a pending transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Processing,
    Complete,
    Fail,
    Cancel,
}

impl Resolution {
    /// From the transaction status asked for: processing, completed, failed or cancelled.
    pub fn parse(status: &str) -> Result<Self, DomainError> {
        match status {
            "processing" => Ok(Self::Processing),
            "completed" => Ok(Self::Complete),
            "failed" => Ok(Self::Fail),
            "cancelled" => Ok(Self::Cancel),
            other => Err(DomainError::invalid(
                "status",
                format!("{other:?}: expected processing, completed, failed or cancelled"),
            )),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ResolutionDetails {
    pub external_reference: Option<String>,
    pub fees: Option<i64>,
    pub processor_response: Option<Value>,
}

/// A payment method as a customer saves it.
#[derive(Debug, Clone)]
pub struct NewPaymentMethod {
    pub method_type: PaymentMethodType,
    pub name: String,
    pub details: Value,
    pub is_default: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The ledger checked: per-currency sums over every account (0 when sound), the customer
/// accounts whose projection disagrees with their transfers, and every account.
#[derive(Debug, Clone)]
pub struct Reconciliation {
    pub totals: std::collections::BTreeMap<String, i64>,
    pub mismatches: Vec<AccountCheck>,
    pub accounts: Vec<AccountCheck>,
    pub balanced: bool,
}

/// A customer's wallet: balances in their currency.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletView {
    #[serde(flatten)]
    pub balances: Balances,
    pub verification_status: VerificationStatus,
}

/// A body names an object that does not exist: 404 `NOT_FOUND`, with the member at fault in
/// `details` as a validation error names it. A 404 like the URL's own, since either way the
/// client asked for something that is not there, and not a 400: the body is well formed.
pub(crate) fn missing_reference(field: &str, what: &str) -> EngineError {
    rejected(
        404,
        "NOT_FOUND",
        format!("{field}: no such {what}"),
        Some(json!([{"field": field, "message": format!("no such {what}")}])),
    )
}

pub(crate) fn rejected(
    status: u16,
    code: &'static str,
    message: impl Into<String>,
    details: Option<Value>,
) -> EngineError {
    EngineError::Rejected {
        status,
        code,
        message: message.into(),
        details,
    }
}

/// Refuses a customer who is on a break.
pub(crate) fn check_exclusion(
    rg: Option<&ResponsibleGambling>,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    if let Some(e) = rg.and_then(|r| r.active_exclusion(now)) {
        return Err(rejected(
            403,
            "SELF_EXCLUDED",
            match e.kind {
                ExclusionKind::TimeOut => "you are taking a time-out",
                ExclusionKind::SelfExclusion => "you have excluded yourself",
            },
            Some(json!({"kind": e.kind, "endsAt": e.ends_at})),
        ));
    }
    Ok(())
}

pub(crate) fn limit_exceeded(e: &limits::LimitExceeded) -> EngineError {
    rejected(
        422,
        "LIMIT_EXCEEDED",
        format!(
            "this would pass your {} limit for the {}",
            match e.kind {
                LimitKind::Deposit => "deposit",
                LimitKind::Stake => "stake",
                LimitKind::Loss => "loss",
            },
            match e.period {
                Period::Day => "last 24 hours",
                Period::Week => "last 7 days",
                Period::Month => "last 30 days",
            }
        ),
        Some(json!({"kind": e.kind, "period": e.period, "limit": e.limit, "used": e.used})),
    )
}

pub(crate) async fn audit_money(
    tx: &mut Box<dyn betflow_store::Transaction>,
    table: &str,
    id: Uuid,
    old: Option<Value>,
    new: Value,
    actor: &Actor,
) -> Result<(), EngineError> {
    let entry = AuditEntry::new(
        table,
        id,
        AuditAction::Insert,
        old,
        Some(new),
        actor.clone(),
    )?;
    tx.insert_audit(&entry).await?;
    Ok(())
}

fn balances_json(b: &Balances) -> Value {
    json!({"balance": b.balance, "bonusBalance": b.bonus_balance,
           "pendingBalance": b.pending_balance, "currencyCode": b.currency_code})
}

impl Engine {
    /// Runs a money-moving call under an idempotency key: a retry gets the first response,
    /// the key with another request a 422, the key while its first request runs a 409. The
    /// call receives the key so it can record its response in its own transaction; a
    /// refusal is recorded here, and a fault frees the key for a retry.
    pub(crate) async fn idempotent<T, F, Fut>(
        &self,
        key: Option<&IdempotencyKey>,
        run: F,
    ) -> Result<Idempotent<T>, EngineError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, EngineError>>,
    {
        let Some(key) = key else {
            return run().await.map(Idempotent::Fresh);
        };
        if key.key.is_empty() || key.key.len() > 255 {
            return Err(DomainError::invalid("Idempotency-Key", "1 to 255 characters").into());
        }
        let t = now();
        let mut tx = self.store.begin().await?;
        let claim = tx
            .claim_idempotency(
                key.user_id,
                &key.key,
                &key.fingerprint,
                t,
                t - IDEMPOTENCY_LEASE,
            )
            .await?;
        tx.commit().await?;
        match claim {
            IdempotencyClaim::Claimed => {}
            IdempotencyClaim::InFlight => {
                return Err(rejected(
                    409,
                    "IDEMPOTENCY_KEY_IN_USE",
                    "a request with this Idempotency-Key is still being processed",
                    None,
                ));
            }
            IdempotencyClaim::Mismatch => {
                return Err(rejected(
                    422,
                    "IDEMPOTENCY_KEY_REUSED",
                    "this Idempotency-Key was used with a different request",
                    None,
                ));
            }
            IdempotencyClaim::Done { status, body } => {
                return Ok(Idempotent::Replay { status, body });
            }
        }
        match run().await {
            Ok(v) => Ok(Idempotent::Fresh(v)),
            Err(e) => {
                let mut tx = self.store.begin().await?;
                match e.client_error() {
                    Some(c) => {
                        let body = json!({"error": {"code": c.code, "message": c.message,
                                                    "details": c.details}});
                        tx.complete_idempotency(key.user_id, &key.key, c.status, &body)
                            .await?;
                    }
                    None => tx.release_idempotency(key.user_id, &key.key).await?,
                }
                tx.commit().await?;
                Err(e)
            }
        }
    }

    /// Forgets idempotency keys older than [`IDEMPOTENCY_RETENTION`]; run by the worker.
    pub async fn prune_idempotency_keys(&self, at: DateTime<Utc>) -> Result<u64, EngineError> {
        let mut tx = self.store.begin().await?;
        let n = tx
            .prune_idempotency_keys(at - IDEMPOTENCY_RETENTION)
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The customer's currency, from their profile; staff have no wallet.
    /// A customer's currency, which never changes after registration, so it is cached.
    pub(crate) async fn currency_of(&self, user_id: Uuid) -> Result<String, EngineError> {
        if let Some(c) = self.currencies.get(&user_id).await {
            return Ok(c.to_string());
        }
        let (currency, _) = self.customer_currency(user_id).await?;
        self.currencies
            .insert(user_id, std::sync::Arc::from(currency.as_str()))
            .await;
        Ok(currency)
    }

    async fn customer_currency(
        &self,
        user_id: Uuid,
    ) -> Result<(String, VerificationStatus), EngineError> {
        let profile = self
            .store
            .get_profile(user_id)
            .await?
            .ok_or_else(|| EngineError::NotFound("wallet (only customers have one)".into()))?;
        Ok((profile.currency_code, profile.verification_status))
    }

    /// Records the outcome of a customer's identity checks (KYC); only `verified` customers
    /// withdraw.
    pub async fn set_verification(
        &self,
        user_id: Uuid,
        status: VerificationStatus,
        actor: &Actor,
    ) -> Result<(), EngineError> {
        let (_, old) = self.customer_currency(user_id).await?;
        let mut tx = self.store.begin().await?;
        if !tx.set_verification(user_id, status, now()).await? {
            return Err(EngineError::NotFound(format!("customer {user_id}")));
        }
        let entry = AuditEntry::new(
            "user_profiles",
            user_id,
            AuditAction::Update,
            Some(json!({"verificationStatus": old})),
            Some(json!({"verificationStatus": status})),
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A customer asks to be verified: `unverified` or `rejected` becomes `pending` for the
    /// operators' identity checks; asking again while pending or verified changes nothing.
    pub async fn request_verification(
        &self,
        user_id: Uuid,
        actor: &Actor,
    ) -> Result<VerificationStatus, EngineError> {
        let (_, status) = self.customer_currency(user_id).await?;
        match status {
            VerificationStatus::Unverified | VerificationStatus::Rejected => {
                self.set_verification(user_id, VerificationStatus::Pending, actor)
                    .await?;
                Ok(VerificationStatus::Pending)
            }
            other => Ok(other),
        }
    }

    pub async fn wallet(&self, user_id: Uuid) -> Result<WalletView, EngineError> {
        let (currency, verification_status) = self.customer_currency(user_id).await?;
        let balances = self
            .store
            .get_balances(user_id)
            .await?
            .into_iter()
            .find(|b| b.currency_code == currency)
            .unwrap_or(Balances {
                user_id,
                currency_code: currency,
                balance: 0,
                bonus_balance: 0,
                pending_balance: 0,
                last_updated: None,
            });
        Ok(WalletView {
            balances,
            verification_status,
        })
    }

    async fn check_payment_method(
        &self,
        user_id: Uuid,
        id: Option<Uuid>,
    ) -> Result<(), EngineError> {
        if let Some(id) = id {
            match self.store.get_payment_method(id).await? {
                Some(m) if m.user_id == user_id && m.is_active => {}
                _ => return Err(missing_reference("paymentMethodId", "payment method")),
            }
        }
        Ok(())
    }

    /// A deposit, pending until the provider (or an operator) completes it; credited then.
    /// Refused during a break or beyond a deposit limit (pending deposits count).
    pub async fn request_deposit(
        &self,
        principal: &Principal,
        req: MoneyRequest,
        at: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
        actor: &Actor,
    ) -> Result<Idempotent<Transaction>, EngineError> {
        wallet::check_amount("amount", req.amount, MAX_AMOUNT)?;
        check_description(&req)?;
        let user = principal.user_id;
        let (currency, _) = self.customer_currency(user).await?;
        self.check_payment_method(user, req.payment_method_id)
            .await?;
        self.idempotent(key, || {
            crate::retry_contended(|| self.deposit_once(user, &currency, &req, at, key, actor))
        })
        .await
    }

    /// One transaction of [`request_deposit`](Self::request_deposit).
    async fn deposit_once(
        &self,
        user: Uuid,
        currency: &str,
        req: &MoneyRequest,
        at: DateTime<Utc>,
        key: Option<&IdempotencyKey>,
        actor: &Actor,
    ) -> Result<Transaction, EngineError> {
        let mut tx = self.store.begin().await?;
        tx.lock_wallet(user, currency).await?;
        let rg = tx.responsible_gambling(user).await?;
        check_exclusion(rg.as_ref(), at)?;
        if let Some(rg) = &rg {
            let mut used = Vec::new();
            for p in [Period::Day, Period::Week, Period::Month] {
                used.push((p, tx.deposits_since(user, at - p.length()).await?));
            }
            limits::check(&rg.limits, LimitKind::Deposit, req.amount, at, |p| {
                used.iter().find(|(q, _)| *q == p).map_or(0, |(_, u)| *u)
            })
            .map_err(|e| limit_exceeded(&e))?;
        }
        let t = now();
        let id = Uuid::now_v7();
        let deposit = pending_transaction(TransactionType::Deposit, id, user, currency, req, t);
        tx.insert_transaction(&deposit).await?;
        audit_money(&mut tx, "transactions", id, None, json!(deposit), actor).await?;
        finish(&mut tx, key, 201, &deposit).await?;
        tx.commit().await?;
        Ok(deposit)
    }

    /// A withdrawal: only verified customers; the amount is reserved (cash to pending) at
    /// once and leaves when the transaction completes, or comes back if it fails.
    pub async fn request_withdrawal(
        &self,
        principal: &Principal,
        req: MoneyRequest,
        key: Option<&IdempotencyKey>,
        actor: &Actor,
    ) -> Result<Idempotent<Transaction>, EngineError> {
        wallet::check_amount("amount", req.amount, MAX_AMOUNT)?;
        check_description(&req)?;
        let user = principal.user_id;
        let (currency, verification) = self.customer_currency(user).await?;
        if verification != VerificationStatus::Verified {
            return Err(rejected(
                403,
                "VERIFICATION_REQUIRED",
                "only verified customers can withdraw",
                Some(json!({"verificationStatus": verification})),
            ));
        }
        self.check_payment_method(user, req.payment_method_id)
            .await?;
        self.idempotent(key, || {
            crate::retry_contended(|| self.withdrawal_once(user, &currency, &req, key, actor))
        })
        .await
    }

    /// One transaction of [`request_withdrawal`](Self::request_withdrawal).
    async fn withdrawal_once(
        &self,
        user: Uuid,
        currency: &str,
        req: &MoneyRequest,
        key: Option<&IdempotencyKey>,
        actor: &Actor,
    ) -> Result<Transaction, EngineError> {
        let mut tx = self.store.begin().await?;
        let before = tx.lock_wallet(user, currency).await?;
        if before.balance < req.amount {
            return Err(rejected(
                422,
                "INSUFFICIENT_FUNDS",
                "the balance does not cover this withdrawal",
                Some(json!({"balance": before.balance})),
            ));
        }
        let t = now();
        let id = Uuid::now_v7();
        let withdrawal =
            pending_transaction(TransactionType::Withdrawal, id, user, currency, req, t);
        tx.insert_transaction(&withdrawal).await?;
        tx.apply_transfers(&[Transfer::new(
            Account::customer(user, AccountKind::Cash, currency),
            Account::customer(user, AccountKind::Pending, currency),
            req.amount,
            TransferKind::WithdrawalHold,
        )
        .for_transaction(id)])
            .await?;
        let after = tx.lock_wallet(user, currency).await?;
        audit_money(
            &mut tx,
            "transactions",
            id,
            Some(balances_json(&before)),
            json!({"transaction": withdrawal, "balances": balances_json(&after)}),
            actor,
        )
        .await?;
        finish(&mut tx, key, 201, &withdrawal).await?;
        tx.commit().await?;
        Ok(withdrawal)
    }

    /// Moves a pending deposit or withdrawal on (operator call or provider callback).
    /// Completing a deposit credits it less fees; completing a withdrawal pays out the
    /// reserved amount; failing or cancelling a withdrawal releases it. A transaction already
    /// in the requested state is returned unchanged, so a provider's retried callback is
    /// harmless.
    pub async fn resolve_transaction(
        &self,
        id: Uuid,
        resolution: Resolution,
        details: ResolutionDetails,
        actor: &Actor,
    ) -> Result<Transaction, EngineError> {
        if let Some(r) = &details.external_reference {
            text::check_name("externalReference", r)
                .map_err(|v| DomainError::Validation(vec![v]))?;
        }
        let current = self
            .store
            .get_transaction(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("transaction {id}")))?;
        if !matches!(
            current.tx_type,
            TransactionType::Deposit | TransactionType::Withdrawal
        ) {
            return Err(EngineError::InvalidTransition(
                "only deposits and withdrawals are resolved".into(),
            ));
        }
        let target = match resolution {
            Resolution::Processing => TransactionStatus::Processing,
            Resolution::Complete => TransactionStatus::Completed,
            Resolution::Fail => TransactionStatus::Failed,
            Resolution::Cancel => TransactionStatus::Cancelled,
        };
        let fees = details.fees.unwrap_or(current.fees);
        if fees < 0 {
            return Err(DomainError::invalid("fees", "0 up to the amount").into());
        }
        // Within the schema's bounds but above this transaction's amount: a rule about the
        // transaction, not the request's shape.
        if fees > current.amount {
            return Err(rejected(
                422,
                "FEES_EXCEED_AMOUNT",
                format!("fees {fees} exceed the amount {}", current.amount),
                Some(json!([{"field": "fees", "message": "0 up to the amount"}])),
            ));
        }
        // The column is VARCHAR(100): PostgreSQL would fail the statement (a 500) where
        // SQLite stores anything, so both refuse it here.
        if details
            .external_reference
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_EXTERNAL_REFERENCE)
        {
            return Err(DomainError::invalid(
                "externalReference",
                format!("at most {MAX_EXTERNAL_REFERENCE} characters"),
            )
            .into());
        }
        crate::retry_contended(|| self.resolve_once(id, &current, target, fees, &details, actor))
            .await
    }

    /// One transaction of [`resolve_transaction`](Self::resolve_transaction): the wallet
    /// locked first, then the transaction (see the store's "Lock order").
    async fn resolve_once(
        &self,
        id: Uuid,
        current: &Transaction,
        target: TransactionStatus,
        fees: i64,
        details: &ResolutionDetails,
        actor: &Actor,
    ) -> Result<Transaction, EngineError> {
        let user = current.user_id;
        let currency = current.currency_code.clone();
        let mut tx = self.store.begin().await?;
        let before = tx.lock_wallet(user, &currency).await?;
        let locked = tx
            .lock_transaction(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("transaction {id}")))?;
        if locked.status == target {
            return Ok(locked);
        }
        if !locked.status.can_become(target) {
            return Err(EngineError::InvalidTransition(format!(
                "a {} transaction cannot become {}",
                locked.status.as_str(),
                target.as_str()
            )));
        }
        let t = now();
        let mut next = locked.clone();
        next.status = target;
        next.fees = fees;
        next.net_amount = next.amount.saturating_sub(fees);
        next.external_reference = details
            .external_reference
            .clone()
            .or(next.external_reference);
        next.processor_response = details
            .processor_response
            .clone()
            .or(next.processor_response);
        next.updated_at = t;
        let transfers: Vec<Transfer> = match (next.tx_type, target) {
            (TransactionType::Deposit, TransactionStatus::Completed) => {
                wallet::deposit_transfers(user, &currency, next.amount, fees)
            }
            (TransactionType::Withdrawal, TransactionStatus::Completed) => {
                wallet::withdrawal_transfers(user, &currency, next.amount, fees)
            }
            (
                TransactionType::Withdrawal,
                TransactionStatus::Failed | TransactionStatus::Cancelled,
            ) => {
                vec![Transfer::new(
                    Account::customer(user, AccountKind::Pending, &currency),
                    Account::customer(user, AccountKind::Cash, &currency),
                    next.amount,
                    TransferKind::WithdrawalRelease,
                )]
            }
            _ => Vec::new(),
        };
        if !target.is_open() {
            next.processed_at = Some(t);
        }
        let transfers: Vec<Transfer> = transfers
            .into_iter()
            .map(|x| x.for_transaction(id))
            .collect();
        tx.apply_transfers(&transfers).await?;
        tx.update_transaction(&next).await?;
        let after = tx.lock_wallet(user, &currency).await?;
        let entry = AuditEntry::new(
            "transactions",
            id,
            AuditAction::Update,
            Some(json!({"transaction": locked, "balances": balances_json(&before)})),
            Some(json!({"transaction": next, "balances": balances_json(&after)})),
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// A transaction, if the caller may see it (theirs, or `wallet:read`).
    pub async fn transaction(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<Transaction, EngineError> {
        match self.store.get_transaction(id).await? {
            Some(t) if t.user_id == principal.user_id || principal.has("wallet:read") => Ok(t),
            _ => Err(EngineError::NotFound(format!("transaction {id}"))),
        }
    }

    pub async fn transactions(
        &self,
        filter: &TransactionFilter,
    ) -> Result<Page<Transaction>, EngineError> {
        Ok(self.store.list_transactions(filter).await?)
    }

    pub async fn add_payment_method(
        &self,
        principal: &Principal,
        new: NewPaymentMethod,
        actor: &Actor,
    ) -> Result<PaymentMethod, EngineError> {
        let NewPaymentMethod {
            method_type,
            name,
            details,
            is_default,
            expires_at,
        } = new;
        if principal.role != Role::Customer {
            return Err(EngineError::NotFound(
                "wallet (only customers have one)".into(),
            ));
        }
        let t = now();
        let method = PaymentMethod {
            id: Uuid::now_v7(),
            user_id: principal.user_id,
            method_type,
            name,
            details,
            is_default,
            is_active: true,
            last_used_at: None,
            expires_at,
            created_at: t,
            updated_at: t,
        };
        method.validate()?;
        let mut tx = self.store.begin().await?;
        tx.insert_payment_method(&method).await?;
        audit_money(
            &mut tx,
            "payment_methods",
            method.id,
            None,
            json!(method),
            actor,
        )
        .await?;
        tx.commit().await?;
        Ok(method)
    }

    pub async fn payment_methods(
        &self,
        user_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<PaymentMethod>, EngineError> {
        Ok(self.store.list_payment_methods(user_id, page).await?)
    }

    /// Every account summed from its transfers beside its projection, with the verdict: each
    /// currency sums to zero and each customer projection equals its transfers.
    pub async fn reconcile(&self) -> Result<Reconciliation, EngineError> {
        let accounts = self.store.reconcile().await?;
        let mut totals = std::collections::BTreeMap::new();
        for a in &accounts {
            // Saturating: a ledger broken enough to overflow reports unbalanced, not a panic.
            let t = totals.entry(a.currency.clone()).or_insert(0i64);
            *t = t.saturating_add(a.from_transfers);
        }
        let mismatches: Vec<AccountCheck> = accounts
            .iter()
            .filter(|a| a.projected.is_some_and(|p| p != a.from_transfers))
            .cloned()
            .collect();
        let balanced = mismatches.is_empty() && totals.values().all(|t| *t == 0);
        Ok(Reconciliation {
            totals,
            mismatches,
            accounts,
            balanced,
        })
    }

    pub async fn responsible_gambling(
        &self,
        user_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<ResponsibleGambling, EngineError> {
        let mut rg = self
            .store
            .get_responsible_gambling(user_id)
            .await?
            .unwrap_or_else(|| ResponsibleGambling::new(user_id, at));
        rg.limits = rg.limits.into_iter().map(|l| l.settled(at)).collect();
        Ok(rg)
    }

    /// Sets (or with `None` removes) a limit: lowering applies at once, raising or removing
    /// after a 24-hour cooling-off.
    pub async fn set_limit(
        &self,
        user_id: Uuid,
        kind: LimitKind,
        period: Period,
        amount: Option<i64>,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<ResponsibleGambling, EngineError> {
        self.change_rg(user_id, at, actor, |rg| {
            Ok(rg.request_limit(kind, period, amount, at)?)
        })
        .await
    }

    /// Starts a time-out (days) or self-exclusion (months), or lengthens the one in force.
    pub async fn take_break(
        &self,
        user_id: Uuid,
        exclusion: Exclusion,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<ResponsibleGambling, EngineError> {
        self.change_rg(user_id, at, actor, |rg| {
            // A shorter break than the one in force conflicts with the customer's state (it
            // would be fine another day): 409, not a malformed request.
            if let Some(current) = rg.active_exclusion(at)
                && exclusion.ends_at < current.ends_at
            {
                return Err(rejected(
                    409,
                    "BREAK_IN_FORCE",
                    format!(
                        "a break is in force until {}: it can be lengthened, not shortened",
                        current.ends_at.to_rfc3339()
                    ),
                    Some(json!({"endsAt": current.ends_at})),
                ));
            }
            Ok(rg.take_break(exclusion, at)?)
        })
        .await
    }

    async fn change_rg(
        &self,
        user_id: Uuid,
        at: DateTime<Utc>,
        actor: &Actor,
        change: impl FnOnce(&mut ResponsibleGambling) -> Result<(), EngineError>,
    ) -> Result<ResponsibleGambling, EngineError> {
        let mut tx = self.store.begin().await?;
        let current = tx.responsible_gambling(user_id).await?;
        let mut next = current
            .clone()
            .unwrap_or_else(|| ResponsibleGambling::new(user_id, at));
        next.limits = next.limits.into_iter().map(|l| l.settled(at)).collect();
        change(&mut next)?;
        tx.save_responsible_gambling(&next).await?;
        let entry = AuditEntry::new(
            "responsible_gambling",
            user_id,
            if current.is_some() {
                AuditAction::Update
            } else {
                AuditAction::Insert
            },
            current.map(|c| json!(c)),
            Some(json!(next)),
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        Ok(next)
    }
}

/// A deposit's or withdrawal's description is free text: line breaks, no other control
/// characters.
fn check_description(req: &MoneyRequest) -> Result<(), EngineError> {
    match req
        .description
        .as_deref()
        .map(|d| text::check_free_text("description", d))
    {
        Some(Err(v)) => Err(DomainError::Validation(vec![v]).into()),
        _ => Ok(()),
    }
}

/// A deposit or withdrawal as requested: pending, no fees yet.
fn pending_transaction(
    tx_type: TransactionType,
    id: Uuid,
    user: Uuid,
    currency: &str,
    req: &MoneyRequest,
    at: DateTime<Utc>,
) -> Transaction {
    Transaction {
        id,
        user_id: user,
        tx_type,
        amount: req.amount,
        currency_code: currency.to_owned(),
        status: TransactionStatus::Pending,
        reference: Transaction::reference_for(tx_type, id),
        external_reference: None,
        description: req.description.clone(),
        payment_method_id: req.payment_method_id,
        related_bet_id: None,
        processor_response: None,
        fees: 0,
        net_amount: req.amount,
        processed_at: None,
        created_at: at,
        updated_at: at,
    }
}

/// Records a success's response under its idempotency key, in the caller's transaction.
pub(crate) async fn finish<T: Serialize>(
    tx: &mut Box<dyn betflow_store::Transaction>,
    key: Option<&IdempotencyKey>,
    status: u16,
    value: &T,
) -> Result<(), EngineError> {
    if let Some(key) = key {
        let body = json!({ "data": value });
        tx.complete_idempotency(key.user_id, &key.key, status, &body)
            .await?;
    }
    Ok(())
}

/// A payment provider's signed callback about a deposit or withdrawal.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderCallback {
    /// Ours, or the `reference` we gave the provider.
    pub transaction_id: Option<Uuid>,
    pub reference: Option<String>,
    /// processing, completed, failed or cancelled.
    pub status: String,
    pub external_reference: Option<String>,
    pub fees: Option<i64>,
    pub processor_response: Option<Value>,
}

/// How far a callback's timestamp may be from our clock.
const CALLBACK_TOLERANCE_SECS: i64 = 300;

impl Engine {
    /// Verifies a provider's callback (Standard Webhooks signature with the shared
    /// `BETFLOW_PAYMENTS_WEBHOOK_SECRET`, timestamp within five minutes) and resolves the
    /// transaction it names, as an operator's resolve would.
    pub async fn provider_callback(
        &self,
        msg_id: &str,
        timestamp: &str,
        signature: &str,
        body: &str,
        at: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Transaction, EngineError> {
        let Some(secret) = self.payments_secret.as_deref() else {
            return Err(EngineError::NotFound(
                "payment provider callbacks (BETFLOW_PAYMENTS_WEBHOOK_SECRET is not set)".into(),
            ));
        };
        let ts = timestamp.parse::<i64>().unwrap_or(i64::MIN / 2);
        if !betflow_domain::webhooks::verify(
            secret,
            msg_id,
            ts,
            body,
            signature,
            at,
            CALLBACK_TOLERANCE_SECS,
        ) {
            return Err(rejected(
                401,
                "INVALID_SIGNATURE",
                "the callback's signature or timestamp is not valid",
                None,
            ));
        }
        let doc: Value =
            serde_json::from_str(body).map_err(|e| DomainError::invalid("body", e.to_string()))?;
        // Signed or not, a NUL is refused as on every other input.
        let nul = text::nul_violations("", &doc);
        if !nul.is_empty() {
            return Err(DomainError::Validation(nul).into());
        }
        let cb: ProviderCallback =
            serde_json::from_value(doc).map_err(|e| DomainError::invalid("body", e.to_string()))?;
        let resolution = Resolution::parse(&cb.status)?;
        let id = match (cb.transaction_id, cb.reference.as_deref()) {
            (Some(id), _) => id,
            (None, Some(reference)) => {
                self.store
                    .find_transaction_by_reference(reference)
                    .await?
                    .ok_or_else(|| EngineError::NotFound(format!("transaction {reference}")))?
                    .id
            }
            (None, None) => {
                return Err(
                    DomainError::invalid("transactionId", "transactionId or reference").into(),
                );
            }
        };
        self.resolve_transaction(
            id,
            resolution,
            ResolutionDetails {
                external_reference: cb.external_reference,
                fees: cb.fees,
                processor_response: cb.processor_response,
            },
            actor,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use betflow_store::testing::TestDb;

    betflow_store::conformance!(a_key_still_in_flight_is_refused);

    /// The third rule of idempotency keys, which a client only sees in a race: while the
    /// first request with a key runs, the same key is a 409 (and with another request a
    /// 422), and the first request is not disturbed.
    async fn a_key_still_in_flight_is_refused(db: TestDb) {
        let config =
            crate::identity::IdentityConfig::new(b"engine-test-secret-0123456789abcdef".to_vec());
        let engine = Engine::new(db.store.clone(), None, &config).unwrap();
        let key = IdempotencyKey {
            user_id: Uuid::now_v7(),
            key: "dep-1".into(),
            fingerprint: "a".repeat(64),
        };
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let (finish_tx, finish) = tokio::sync::oneshot::channel::<()>();
        let first = engine.idempotent(Some(&key), || async move {
            started_tx.send(()).unwrap();
            finish.await.unwrap();
            Ok::<_, EngineError>(json!({"n": 1}))
        });
        let racers = async {
            started.await.unwrap();
            let same = engine
                .idempotent(Some(&key), || async {
                    Ok::<_, EngineError>(json!({"n": 2}))
                })
                .await;
            let other = IdempotencyKey {
                fingerprint: "b".repeat(64),
                ..key.clone()
            };
            let different = engine
                .idempotent(Some(&other), || async {
                    Ok::<_, EngineError>(json!({"n": 3}))
                })
                .await;
            finish_tx.send(()).unwrap();
            (same, different)
        };
        let (first, (same, different)) = tokio::join!(first, racers);
        assert!(matches!(first, Ok(Idempotent::Fresh(v)) if v == json!({"n": 1})));
        let code = |r: Result<Idempotent<Value>, EngineError>| match r {
            Err(e) => e.client_error().map(|c| (c.status, c.code)),
            Ok(v) => panic!("ran again: {v:?}"),
        };
        assert_eq!(code(same), Some((409, "IDEMPOTENCY_KEY_IN_USE")));
        assert_eq!(code(different), Some((422, "IDEMPOTENCY_KEY_REUSED")));
        // Another customer's identical key is theirs alone.
        let theirs = IdempotencyKey {
            user_id: Uuid::now_v7(),
            ..key.clone()
        };
        let r = engine
            .idempotent(Some(&theirs), || async {
                Ok::<_, EngineError>(json!({"n": 4}))
            })
            .await;
        assert!(matches!(r, Ok(Idempotent::Fresh(v)) if v == json!({"n": 4})));
    }
}
