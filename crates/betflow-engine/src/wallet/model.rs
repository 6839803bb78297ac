//! What the wallet's calls take and give.

use betflow_domain::DomainError;
use betflow_domain::sportsbook::customers::VerificationStatus;
use betflow_domain::sportsbook::wallet::{Balances, PaymentMethodType};
use betflow_store::AccountCheck;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// The most one deposit or withdrawal may move (minor units): 1,000,000.00.
pub const MAX_AMOUNT: i64 = 100_000_000;

/// Longest payment-provider reference kept on a transaction.
pub const MAX_EXTERNAL_REFERENCE: usize = 100;

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
