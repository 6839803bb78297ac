//! Wallets: deposits, withdrawals and their completion, payment methods, responsible-gambling
//! settings and the ledger's reconciliation, as the [`Wallet`] service (`engine.wallet()`).
//!
//! - `service`: the service, balances, verification, transactions, payment methods,
//!   reconciliation;
//! - `movements`: deposits, withdrawals and their resolution;
//! - `limits`: limits and breaks, and the refusals they give;
//! - `provider`: the payment provider's signed callbacks;
//! - `currency`: customers' currencies, cached;
//! - `model`: what the calls take and give.

mod currency;
mod limits;
mod model;
mod movements;
mod provider;
mod service;

pub(crate) use currency::Currencies;
pub use model::{
    MAX_AMOUNT, MAX_EXTERNAL_REFERENCE, MoneyRequest, NewPaymentMethod, Reconciliation, Resolution,
    ResolutionDetails, WalletView,
};
pub use provider::ProviderCallback;
pub use service::Wallet;

pub use crate::idempotency::{IDEMPOTENCY_RETENTION, IdempotencyKey, Idempotent};
