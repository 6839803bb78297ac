//! Money movements: deposits, withdrawals and their resolution by an operator or the
//! payment provider.
//!
//! Each is one database transaction that locks the customer's accounts first, writes its
//! ledger transfers (the balance projection moves with them), the seed's transactions row, an
//! audit row with old and new balances and, when the request carried an idempotency key, its
//! outcome to replay.

use betflow_domain::DomainError;
use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::ids::TransactionId;
use betflow_domain::sportsbook::customers::VerificationStatus;
use betflow_domain::sportsbook::limits::{self, LimitKind, Period};
use betflow_domain::sportsbook::wallet::{
    self, Account, AccountKind, Transaction, TransactionStatus, TransactionType, Transfer,
    TransferKind,
};
use betflow_domain::text;
use betflow_domain::time::now;
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::limits::{check_exclusion, limit_exceeded};
use super::model::{
    MAX_AMOUNT, MAX_EXTERNAL_REFERENCE, MoneyRequest, Resolution, ResolutionDetails,
};
use super::service::{Wallet, audit_money, balances_json};
use crate::idempotency::{IdempotencyKey, Idempotent, record_created};
use crate::identity::Principal;
use crate::{EngineError, RefusalKind};

impl Wallet {
    /// A deposit, pending until the provider (or an operator) completes it; credited then.
    /// Refused during a break or beyond a deposit limit (pending deposits count).
    #[tracing::instrument(skip_all, fields(user_id = %principal.user_id, amount = req.amount))]
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
        let (currency, _) = self.currencies.profile(user).await?;
        self.check_payment_method(user, req.payment_method_id)
            .await?;
        self.idempotency
            .run(key, || {
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
        record_created(&mut tx, key, &deposit).await?;
        tx.commit().await?;
        Ok(deposit)
    }

    /// A withdrawal: only verified customers; the amount is reserved (cash to pending) at
    /// once and leaves when the transaction completes, or comes back if it fails.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user_id, amount = req.amount))]
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
        let (currency, verification) = self.currencies.profile(user).await?;
        if verification != VerificationStatus::Verified {
            return Err(EngineError::refused(
                RefusalKind::Forbidden,
                "VERIFICATION_REQUIRED",
                "only verified customers can withdraw",
                Some(json!({"verificationStatus": verification})),
            ));
        }
        self.check_payment_method(user, req.payment_method_id)
            .await?;
        self.idempotency
            .run(key, || {
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
            return Err(EngineError::refused(
                RefusalKind::Unprocessable,
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
        record_created(&mut tx, key, &withdrawal).await?;
        tx.commit().await?;
        Ok(withdrawal)
    }

    /// Moves a pending deposit or withdrawal on (operator call or provider callback).
    /// Completing a deposit credits it less fees; completing a withdrawal pays out the
    /// reserved amount; failing or cancelling a withdrawal releases it. A transaction already
    /// in the requested state is returned unchanged, so a provider's retried callback is
    /// harmless.
    #[tracing::instrument(skip_all, fields(transaction_id = %id, resolution = ?resolution))]
    pub async fn resolve_transaction(
        &self,
        id: TransactionId,
        resolution: Resolution,
        details: ResolutionDetails,
        actor: &Actor,
    ) -> Result<Transaction, EngineError> {
        let id = id.uuid();
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
            return Err(EngineError::refused(
                RefusalKind::Unprocessable,
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
