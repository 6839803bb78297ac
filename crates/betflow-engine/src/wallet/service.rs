//! The wallet service: balances, verification, transactions, payment methods and the
//! ledger's reconciliation. Money movements, limits and provider callbacks are its other
//! files.

use std::sync::Arc;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::identity::Role;
use betflow_domain::ids::{TransactionId, UserId};
use betflow_domain::sportsbook::customers::VerificationStatus;
use betflow_domain::sportsbook::wallet::{Balances, PaymentMethod, Transaction};
use betflow_domain::time::now;
use betflow_domain::{Page, PageRequest};
use betflow_store::{AccountCheck, Store, TransactionFilter};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::currency::Currencies;
use super::model::{NewPaymentMethod, Reconciliation, WalletView};
use crate::EngineError;
use crate::idempotency::Idempotency;
use crate::identity::Principal;

/// Customers' wallets. Reached as `engine.wallet()`.
pub struct Wallet {
    pub(super) store: Arc<dyn Store>,
    pub(super) idempotency: Idempotency,
    pub(super) currencies: Currencies,
    /// Shared with the payment provider to sign its callbacks; `None`: no callbacks.
    pub(super) payments_secret: Option<String>,
}

impl Wallet {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        idempotency: Idempotency,
        currencies: Currencies,
        payments_secret: Option<String>,
    ) -> Self {
        Self {
            store,
            idempotency,
            currencies,
            payments_secret: payments_secret.filter(|s| !s.is_empty()),
        }
    }

    /// Forgets idempotency keys older than
    /// [`IDEMPOTENCY_RETENTION`](crate::idempotency::IDEMPOTENCY_RETENTION); run by the
    /// worker.
    pub async fn prune_idempotency_keys(&self, at: DateTime<Utc>) -> Result<u64, EngineError> {
        self.idempotency.prune(at).await
    }

    /// Records the outcome of a customer's identity checks (KYC); only `verified` customers
    /// withdraw.
    pub async fn set_verification(
        &self,
        user_id: UserId,
        status: VerificationStatus,
        actor: &Actor,
    ) -> Result<(), EngineError> {
        let user_id = user_id.uuid();
        let (_, old) = self.currencies.profile(user_id).await?;
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
        user_id: UserId,
        actor: &Actor,
    ) -> Result<VerificationStatus, EngineError> {
        let (_, status) = self.currencies.profile(user_id.uuid()).await?;
        match status {
            VerificationStatus::Unverified | VerificationStatus::Rejected => {
                self.set_verification(user_id, VerificationStatus::Pending, actor)
                    .await?;
                Ok(VerificationStatus::Pending)
            }
            other => Ok(other),
        }
    }

    /// A customer's balances in their currency, with their verification status.
    pub async fn view(&self, user_id: UserId) -> Result<WalletView, EngineError> {
        let user_id = user_id.uuid();
        let (currency, verification_status) = self.currencies.profile(user_id).await?;
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

    pub(super) async fn check_payment_method(
        &self,
        user_id: Uuid,
        id: Option<Uuid>,
    ) -> Result<(), EngineError> {
        if let Some(id) = id {
            match self.store.get_payment_method(id).await? {
                Some(m) if m.user_id == user_id && m.is_active => {}
                _ => {
                    return Err(EngineError::missing_reference(
                        "paymentMethodId",
                        "payment method",
                    ));
                }
            }
        }
        Ok(())
    }

    /// A transaction, if the caller may see it (theirs, or `wallet:read`).
    pub async fn transaction(
        &self,
        principal: &Principal,
        id: TransactionId,
    ) -> Result<Transaction, EngineError> {
        let id = id.uuid();
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
        user_id: UserId,
        page: PageRequest,
    ) -> Result<Page<PaymentMethod>, EngineError> {
        Ok(self
            .store
            .list_payment_methods(user_id.uuid(), page)
            .await?)
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
}

pub(super) async fn audit_money(
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

pub(super) fn balances_json(b: &Balances) -> Value {
    json!({"balance": b.balance, "bonusBalance": b.bonus_balance,
           "pendingBalance": b.pending_balance, "currencyCode": b.currency_code})
}
