//! Wallets, money transactions, the ledger, limits and idempotency keys.

use async_trait::async_trait;
use betflow_domain::idempotency::Outcome;
use betflow_domain::sportsbook::limits::ResponsibleGambling;
use betflow_domain::sportsbook::wallet::{
    AccountKind, Balances, PaymentMethod, Transaction as MoneyTransaction, TransactionStatus,
    TransactionType, Transfer,
};
use betflow_domain::{Page, PageRequest};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// One account in a reconciliation: its balance summed from the transfers, and (customer
/// accounts) the projection's balance, which must be equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCheck {
    pub owner: Uuid,
    pub kind: AccountKind,
    pub currency: String,
    pub from_transfers: i64,
    pub projected: Option<i64>,
}

/// Filters for a wallet's transactions.
#[derive(Debug, Clone, Default)]
pub struct TransactionFilter {
    pub user_id: Option<Uuid>,
    pub tx_type: Option<TransactionType>,
    pub status: Option<TransactionStatus>,
    pub page: PageRequest,
}

/// What claiming an `Idempotency-Key` found.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyClaim {
    /// The key is ours: run the request.
    Claimed,
    /// Another request with this key has not finished.
    InFlight,
    /// The key was used with a different request.
    Mismatch,
    /// The key's first outcome: replay it.
    Done(Outcome),
}

/// Reading wallets, their transactions and the ledger.
#[async_trait]
pub trait WalletRead {
    /// A customer's balances, one row per currency they hold.
    async fn get_balances(&self, user_id: Uuid) -> Result<Vec<Balances>>;
    async fn get_transaction(&self, id: Uuid) -> Result<Option<MoneyTransaction>>;
    /// By the reference we gave the payment provider.
    async fn find_transaction_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<MoneyTransaction>>;
    /// Newest first.
    async fn list_transactions(&self, filter: &TransactionFilter)
    -> Result<Page<MoneyTransaction>>;
    /// A customer's payment methods, oldest first, a page at a time.
    async fn list_payment_methods(
        &self,
        user_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<PaymentMethod>>;
    async fn get_payment_method(&self, id: Uuid) -> Result<Option<PaymentMethod>>;
    /// Every account's balance summed from the transfers, beside the projection's.
    async fn reconcile(&self) -> Result<Vec<AccountCheck>>;
    async fn get_responsible_gambling(&self, user_id: Uuid) -> Result<Option<ResponsibleGambling>>;
}

/// Moving money, inside a transaction.
#[async_trait]
pub trait WalletWrite {
    /// Locks a customer's cash account in `currency` (creating their accounts at zero if
    /// needed), so one customer's money moves one request at a time, and returns the balances.
    async fn lock_wallet(&mut self, user_id: Uuid, currency: &str) -> Result<Balances>;
    /// [`lock_wallet`](Self::lock_wallet) and the customer's responsible-gambling settings
    /// in one round trip: what a bet reads before it decides.
    async fn lock_wallet_with_limits(
        &mut self,
        user_id: Uuid,
        currency: &str,
    ) -> Result<(Balances, Option<ResponsibleGambling>)>;
    /// Locks every account of each `(customer, currency)` (all their kinds), in the lock
    /// order, in one statement: what a transaction that moves several customers' money (a
    /// settlement) takes before its first transfer. Accounts not opened yet are not
    /// created.
    async fn lock_accounts(&mut self, wallets: &[(Uuid, String)]) -> Result<()>;
    /// Records transfers and moves the projection. A debit a customer account cannot cover
    /// fails with [`StoreError::InsufficientFunds`](crate::StoreError::InsufficientFunds) and nothing is written. The customer
    /// accounts the transfers touch must already be locked by this transaction
    /// ([`lock_wallet`](Self::lock_wallet) or [`lock_accounts`](Self::lock_accounts)): the
    /// projection's updates and upserts would otherwise take their row locks in transfer
    /// order, outside the lock order.
    async fn apply_transfers(&mut self, transfers: &[Transfer]) -> Result<()>;
    async fn insert_transaction(&mut self, tx: &MoneyTransaction) -> Result<()>;
    async fn update_transaction(&mut self, tx: &MoneyTransaction) -> Result<()>;
    async fn lock_transaction(&mut self, id: Uuid) -> Result<Option<MoneyTransaction>>;
    /// Deposits (pending, processing or completed) created since `since`: what counts against
    /// deposit limits.
    async fn deposits_since(&mut self, user_id: Uuid, since: DateTime<Utc>) -> Result<i64>;
    async fn insert_payment_method(&mut self, method: &PaymentMethod) -> Result<()>;
    async fn responsible_gambling(&mut self, user_id: Uuid) -> Result<Option<ResponsibleGambling>>;
    async fn save_responsible_gambling(&mut self, rg: &ResponsibleGambling) -> Result<()>;
    /// Claims `key` for a request whose body hashes to `hash`; a claim older than
    /// `stale_before` whose request never finished is taken over.
    async fn claim_idempotency(
        &mut self,
        user_id: Uuid,
        key: &str,
        hash: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<IdempotencyClaim>;
    /// Records the outcome of the key's request, to replay to its retries.
    async fn complete_idempotency(
        &mut self,
        user_id: Uuid,
        key: &str,
        outcome: &Outcome,
    ) -> Result<()>;
    async fn release_idempotency(&mut self, user_id: Uuid, key: &str) -> Result<()>;
    /// Forgets keys created before `before` (Stripe keeps them 24 hours); returns how many.
    async fn prune_idempotency_keys(&mut self, before: DateTime<Utc>) -> Result<u64>;
}
