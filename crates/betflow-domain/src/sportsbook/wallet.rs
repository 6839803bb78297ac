//! Money and the double-entry ledger.
//!
//! Money is an integer count of minor units (cents) with a currency: never a float, never a
//! decimal that could round two ways. Every movement is a [`Transfer`] of a positive amount
//! from one account to another in one currency, so the sum over all accounts is zero by
//! construction; a customer account may never go below zero.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::DomainError;

string_enum!(
    /// What an account holds. The first three belong to a customer; the rest are the house's.
    AccountKind {
        Cash = "cash",
        Bonus = "bonus",
        /// Held stakes and reserved withdrawals.
        Pending = "pending",
        /// Money on its way in from or out to payment providers.
        Clearing = "clearing",
        /// Stakes the house has taken on settled bets.
        Stakes = "stakes",
        /// Returns the house has paid on settled bets.
        Payouts = "payouts",
        Fees = "fees",
    }
);

impl AccountKind {
    pub fn is_house(self) -> bool {
        matches!(
            self,
            Self::Clearing | Self::Stakes | Self::Payouts | Self::Fees
        )
    }
}

/// The owner id of house accounts.
pub const HOUSE: Uuid = Uuid::nil();

/// An account: one owner's (or the house's), of one kind, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub owner: Uuid,
    pub kind: AccountKind,
    pub currency: String,
}

impl Account {
    pub fn customer(user: Uuid, kind: AccountKind, currency: &str) -> Self {
        debug_assert!(!kind.is_house());
        Self {
            owner: user,
            kind,
            currency: currency.to_owned(),
        }
    }

    pub fn house(kind: AccountKind, currency: &str) -> Self {
        debug_assert!(kind.is_house());
        Self {
            owner: HOUSE,
            kind,
            currency: currency.to_owned(),
        }
    }
}

string_enum!(
    /// Why money moved; kept on each transfer for reporting and reconciliation.
    TransferKind {
        Deposit = "deposit",
        Fee = "fee",
        WithdrawalHold = "withdrawal_hold",
        WithdrawalRelease = "withdrawal_release",
        Withdrawal = "withdrawal",
        StakeHold = "stake_hold",
        StakeTaken = "stake_taken",
        Payout = "payout",
        /// Undoing an earlier settlement before a corrected one is applied.
        Reversal = "reversal",
    }
);

/// An immutable movement of `amount` (> 0) from one account to another of the same currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    pub id: Uuid,
    pub from: Account,
    pub to: Account,
    pub amount: i64,
    pub kind: TransferKind,
    pub transaction_id: Option<Uuid>,
    pub bet_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl Transfer {
    pub fn new(from: Account, to: Account, amount: i64, kind: TransferKind) -> Self {
        debug_assert!(amount > 0 && from.currency == to.currency && from != to);
        Self {
            id: Uuid::now_v7(),
            from,
            to,
            amount,
            kind,
            transaction_id: None,
            bet_id: None,
            created_at: Utc::now(),
        }
    }

    pub fn for_transaction(mut self, id: Uuid) -> Self {
        self.transaction_id = Some(id);
        self
    }

    pub fn for_bet(mut self, id: Uuid) -> Self {
        self.bet_id = Some(id);
        self
    }
}

/// A customer's balances: the projection the seed calls `user_balances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balances {
    pub user_id: Uuid,
    pub currency_code: String,
    /// Cash available to bet or withdraw (minor units).
    pub balance: i64,
    pub bonus_balance: i64,
    /// Held stakes and reserved withdrawals.
    pub pending_balance: i64,
    pub last_updated: Option<DateTime<Utc>>,
}

string_enum!(
    /// The seed's transaction_type.
    TransactionType {
        Deposit = "deposit",
        Withdrawal = "withdrawal",
        BetDebit = "bet_debit",
        BetCredit = "bet_credit",
        Bonus = "bonus",
        Adjustment = "adjustment",
        Fee = "fee",
        Refund = "refund",
    }
);

string_enum!(
    /// The seed's transaction_status.
    TransactionStatus {
        Pending = "pending",
        Processing = "processing",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
        Reversed = "reversed",
    }
);

impl TransactionStatus {
    /// Where a pending deposit or withdrawal may go. Completed ones are final here: reversing
    /// one is a correction with its own transaction, not an edit.
    pub fn can_become(self, next: TransactionStatus) -> bool {
        use TransactionStatus::*;
        matches!(
            (self, next),
            (Pending, Processing | Completed | Failed | Cancelled)
                | (Processing, Completed | Failed)
        )
    }

    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Processing)
    }
}

string_enum!(
    /// The seed's payment_method_type.
    PaymentMethodType {
        CreditCard = "credit_card",
        DebitCard = "debit_card",
        BankTransfer = "bank_transfer",
        EWallet = "e_wallet",
        Cryptocurrency = "cryptocurrency",
    }
);

/// A row of the seed's `transactions`: a deposit or withdrawal (with its provider status) or a
/// bet's debit or credit. Amounts are minor units; `net_amount` is `amount - fees`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub id: Uuid,
    pub user_id: Uuid,
    #[serde(rename = "type")]
    pub tx_type: TransactionType,
    pub amount: i64,
    pub currency_code: String,
    pub status: TransactionStatus,
    pub reference: String,
    pub external_reference: Option<String>,
    pub description: Option<String>,
    pub payment_method_id: Option<Uuid>,
    pub related_bet_id: Option<Uuid>,
    pub processor_response: Option<Value>,
    pub fees: i64,
    pub net_amount: i64,
    pub processed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Transaction {
    /// A reference customers can quote: type prefix and the id's random tail.
    pub fn reference_for(tx_type: TransactionType, id: Uuid) -> String {
        let prefix = match tx_type {
            TransactionType::Deposit => "DEP",
            TransactionType::Withdrawal => "WDR",
            TransactionType::BetDebit => "BET",
            TransactionType::BetCredit => "WIN",
            TransactionType::Bonus => "BON",
            TransactionType::Adjustment => "ADJ",
            TransactionType::Fee => "FEE",
            TransactionType::Refund => "REF",
        };
        format!("{prefix}-{}", id.simple().to_string().to_uppercase())
    }
}

/// A saved way to pay. `details` holds what a provider tokenised (a token, brand, last four
/// digits, expiry), never a full card number or security code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethod {
    pub id: Uuid,
    pub user_id: Uuid,
    #[serde(rename = "type")]
    pub method_type: PaymentMethodType,
    pub name: String,
    pub details: Value,
    pub is_default: bool,
    pub is_active: bool,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Keys that would put cardholder data in our database.
const FORBIDDEN_DETAILS: &[&str] = &[
    "cardnumber",
    "card_number",
    "number",
    "pan",
    "cvv",
    "cvc",
    "securitycode",
    "security_code",
];

impl PaymentMethod {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut v = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            v.push(crate::Violation::new("name", "1 to 100 characters"));
        }
        crate::text::check_name_into(&mut v, "name", Some(&self.name));
        match &self.details {
            Value::Object(map) => {
                for key in map.keys() {
                    if FORBIDDEN_DETAILS.contains(&key.to_ascii_lowercase().as_str()) {
                        v.push(crate::Violation::new(
                            format!("details.{key}"),
                            "store the provider's token and the last four digits, never card \
                             numbers or security codes",
                        ));
                    }
                }
            }
            _ => v.push(crate::Violation::new("details", "must be an object")),
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(v))
        }
    }
}

/// Checks an amount of money given by a client: positive and within `max`.
pub fn check_amount(field: &str, amount: i64, max: i64) -> Result<(), DomainError> {
    if amount <= 0 {
        return Err(DomainError::invalid(
            field,
            "must be a positive whole number of minor units (cents)",
        ));
    }
    if amount > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max}"),
        ));
    }
    Ok(())
}

/// A deposit's credit: the net to the customer and the fee to the house, both out of clearing.
pub fn deposit_transfers(user: Uuid, currency: &str, amount: i64, fees: i64) -> Vec<Transfer> {
    let clearing = Account::house(AccountKind::Clearing, currency);
    let mut out = Vec::with_capacity(2);
    // Saturating: an amount and its fees are each checked, but their difference must not
    // be able to wrap whatever the caller passes.
    let net = amount.saturating_sub(fees);
    if net > 0 {
        out.push(Transfer::new(
            clearing.clone(),
            Account::customer(user, AccountKind::Cash, currency),
            net,
            TransferKind::Deposit,
        ));
    }
    if fees > 0 {
        out.push(Transfer::new(
            clearing,
            Account::house(AccountKind::Fees, currency),
            fees,
            TransferKind::Fee,
        ));
    }
    out
}

/// A completed withdrawal: the reserved amount leaves pending, the fee to the house and the
/// rest out through clearing.
pub fn withdrawal_transfers(user: Uuid, currency: &str, amount: i64, fees: i64) -> Vec<Transfer> {
    let pending = Account::customer(user, AccountKind::Pending, currency);
    let mut out = Vec::with_capacity(2);
    let net = amount.saturating_sub(fees);
    if net > 0 {
        out.push(Transfer::new(
            pending.clone(),
            Account::house(AccountKind::Clearing, currency),
            net,
            TransferKind::Withdrawal,
        ));
    }
    if fees > 0 {
        out.push(Transfer::new(
            pending,
            Account::house(AccountKind::Fees, currency),
            fees,
            TransferKind::Fee,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_statuses_only_move_forward() {
        use TransactionStatus::*;
        assert!(Pending.can_become(Completed));
        assert!(Processing.can_become(Failed));
        assert!(!Completed.can_become(Failed));
        assert!(!Failed.can_become(Completed));
        assert!(!Cancelled.can_become(Pending));
    }

    #[test]
    fn fees_come_out_of_the_amount_and_the_sum_is_kept() {
        let user = Uuid::now_v7();
        let t = deposit_transfers(user, "USD", 10_000, 250);
        assert_eq!(t.iter().map(|t| t.amount).sum::<i64>(), 10_000);
        assert_eq!(t[0].amount, 9_750);
        let w = withdrawal_transfers(user, "USD", 5_000, 5_000);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].to.kind, AccountKind::Fees);
    }

    #[test]
    fn card_numbers_are_refused() {
        let t = Utc::now();
        let mut m = PaymentMethod {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            method_type: PaymentMethodType::CreditCard,
            name: "Visa".into(),
            details: serde_json::json!({"token": "tok_1", "last4": "4242"}),
            is_default: true,
            is_active: true,
            last_used_at: None,
            expires_at: None,
            created_at: t,
            updated_at: t,
        };
        assert!(m.validate().is_ok());
        m.details = serde_json::json!({"cardNumber": "4242424242424242"});
        assert!(m.validate().is_err());
        m.details = serde_json::json!({"token": "tok_1"});
        m.name = "Visa\u{7}".into();
        let DomainError::Validation(v) = m.validate().unwrap_err();
        assert_eq!(v[0].field, "name");
    }
}
