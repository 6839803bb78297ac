//! Wire shapes of the wallet, responsible-gambling limits and breaks.
//!
//! Money is always an integer number of minor units (cents, pence) of the wallet's currency,
//! never a decimal: every money field says so in its description.

use betflow_domain::sportsbook::customers::VerificationStatus;
use betflow_domain::sportsbook::limits::{
    Exclusion, ExclusionKind, Limit, LimitKind, Period, ResponsibleGambling,
};
use betflow_domain::sportsbook::wallet::{
    AccountKind, PaymentMethod, PaymentMethodType, Transaction, TransactionStatus, TransactionType,
};
use betflow_engine::wallet::WalletView;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use uuid::Uuid;

use crate::routes::catalog::dto::{NulFreeJson, NulFreeObject, Whole, string_enum};

/// `schema_with` functions for the wallet's enums, listed from the domain's own values.
pub(crate) mod enums {
    use super::*;

    pub fn transaction_type() -> RefOr<Schema> {
        string_enum(
            TransactionType::ALL.iter().map(|t| t.as_str()),
            false,
            "What the transaction is.",
        )
    }
    pub fn transaction_status() -> RefOr<Schema> {
        string_enum(
            TransactionStatus::ALL.iter().map(|t| t.as_str()),
            false,
            "Where the transaction stands.",
        )
    }
    pub fn payment_method_type() -> RefOr<Schema> {
        string_enum(
            PaymentMethodType::ALL.iter().map(|t| t.as_str()),
            false,
            "The kind of payment method.",
        )
    }
    pub fn account_kind() -> RefOr<Schema> {
        string_enum(
            AccountKind::ALL.iter().map(|t| t.as_str()),
            false,
            "The ledger account: cash, bonus and pending are a customer's; the others the \
             house's.",
        )
    }
    pub fn verification_status() -> RefOr<Schema> {
        string_enum(
            VERIFICATION_STATUSES.iter().copied(),
            false,
            "Identity checks (KYC): only `verified` customers withdraw.",
        )
    }
    pub fn resolution() -> RefOr<Schema> {
        string_enum(
            RESOLUTIONS.iter().copied(),
            false,
            "The status to move the transaction to.",
        )
    }
    pub fn limit_kind() -> RefOr<Schema> {
        string_enum(
            LIMIT_KINDS.iter().copied(),
            false,
            "What the limit counts: deposits, stakes or net losses.",
        )
    }
    pub fn period() -> RefOr<Schema> {
        string_enum(
            PERIODS.iter().copied(),
            false,
            "The rolling window: 24 hours, 7 days or 30 days.",
        )
    }
    pub fn exclusion_kind() -> RefOr<Schema> {
        string_enum(
            EXCLUSION_KINDS.iter().copied(),
            false,
            "A time-out (up to six weeks) or self-exclusion (six months or more).",
        )
    }

    /// The wire names of enums the domain does not list (checked by a test).
    pub const VERIFICATION_STATUSES: &[&str] = &["unverified", "pending", "verified", "rejected"];
    pub const RESOLUTIONS: &[&str] = &["processing", "completed", "failed", "cancelled"];
    pub const LIMIT_KINDS: &[&str] = &["deposit", "stake", "loss"];
    pub const PERIODS: &[&str] = &["day", "week", "month"];
    pub const EXCLUSION_KINDS: &[&str] = &["time_out", "self_exclusion"];
}

/// The caller's balances: the seed's user_balances, projected from the ledger.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletDto {
    pub user_id: Uuid,
    /// ISO 4217.
    #[schema(example = "GBP")]
    pub currency_code: String,
    /// Cash available to bet or withdraw, in integer minor units of `currencyCode`.
    #[schema(example = 4000)]
    pub balance: i64,
    /// Bonus money, in integer minor units of `currencyCode`.
    pub bonus_balance: i64,
    /// Held stakes and reserved withdrawals, in integer minor units of `currencyCode`.
    #[schema(example = 1000)]
    pub pending_balance: i64,
    /// The last money movement; null before the first.
    pub last_updated: Option<DateTime<Utc>>,
    #[schema(schema_with = enums::verification_status)]
    pub verification_status: VerificationStatus,
}

impl From<WalletView> for WalletDto {
    fn from(w: WalletView) -> Self {
        let b = w.balances;
        Self {
            user_id: b.user_id,
            currency_code: b.currency_code,
            balance: b.balance,
            bonus_balance: b.bonus_balance,
            pending_balance: b.pending_balance,
            last_updated: b.last_updated,
            verification_status: w.verification_status,
        }
    }
}

/// A wallet transaction (the seed's transactions row).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionDto {
    pub id: Uuid,
    pub user_id: Uuid,
    #[serde(rename = "type")]
    #[schema(schema_with = enums::transaction_type)]
    pub tx_type: TransactionType,
    /// In integer minor units of `currencyCode` (negative for money leaving the wallet on
    /// bet debits).
    #[schema(example = 5000)]
    pub amount: i64,
    #[schema(example = "GBP")]
    pub currency_code: String,
    #[schema(schema_with = enums::transaction_status)]
    pub status: TransactionStatus,
    /// Ours, unique; what the payment provider is given.
    pub reference: String,
    /// The payment provider's reference.
    pub external_reference: Option<String>,
    pub description: Option<String>,
    pub payment_method_id: Option<Uuid>,
    pub related_bet_id: Option<Uuid>,
    /// What the payment provider answered, as it sent it.
    #[schema(value_type = Option<Object>)]
    pub processor_response: Option<Value>,
    /// Kept by the provider or the house, in integer minor units of `currencyCode`.
    pub fees: i64,
    /// `amount` less `fees`, in integer minor units of `currencyCode`.
    pub net_amount: i64,
    pub processed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Transaction> for TransactionDto {
    fn from(t: Transaction) -> Self {
        Self {
            id: t.id,
            user_id: t.user_id,
            tx_type: t.tx_type,
            amount: t.amount,
            currency_code: t.currency_code,
            status: t.status,
            reference: t.reference,
            external_reference: t.external_reference,
            description: t.description,
            payment_method_id: t.payment_method_id,
            related_bet_id: t.related_bet_id,
            processor_response: t.processor_response,
            fees: t.fees,
            net_amount: t.net_amount,
            processed_at: t.processed_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodDto {
    pub id: Uuid,
    pub user_id: Uuid,
    #[serde(rename = "type")]
    #[schema(schema_with = enums::payment_method_type)]
    pub method_type: PaymentMethodType,
    pub name: String,
    /// What the provider tokenised (token, brand, last four digits); never a card number.
    #[schema(value_type = Object)]
    pub details: Value,
    pub is_default: bool,
    pub is_active: bool,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PaymentMethod> for PaymentMethodDto {
    fn from(m: PaymentMethod) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            method_type: m.method_type,
            name: m.name,
            details: m.details,
            is_default: m.is_default,
            is_active: m.is_active,
            last_used_at: m.last_used_at,
            expires_at: m.expires_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A limit raise (or removal) waiting out its 24-hour cooling-off.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingLimit {
    /// The amount that will apply, in integer minor units of the wallet's currency; null:
    /// the limit will be removed.
    #[schema(example = 50000)]
    pub amount: Option<i64>,
    /// When it applies.
    pub effective_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitDto {
    #[schema(schema_with = enums::limit_kind)]
    pub kind: LimitKind,
    #[schema(schema_with = enums::period)]
    pub period: Period,
    /// The limit in force, in integer minor units of the wallet's currency; null: none.
    #[schema(example = 20000)]
    pub amount: Option<i64>,
    /// A raise or removal not yet in force; null when there is none.
    pub pending: Option<PendingLimit>,
}

impl From<Limit> for LimitDto {
    fn from(l: Limit) -> Self {
        Self {
            kind: l.kind,
            period: l.period,
            amount: l.amount,
            pending: l.pending.map(|(amount, effective_at)| PendingLimit {
                amount,
                effective_at,
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExclusionDto {
    #[schema(schema_with = enums::exclusion_kind)]
    pub kind: ExclusionKind,
    pub starts_at: DateTime<Utc>,
    /// No bets and no deposits until then.
    pub ends_at: DateTime<Utc>,
}

impl From<Exclusion> for ExclusionDto {
    fn from(e: Exclusion) -> Self {
        Self {
            kind: e.kind,
            starts_at: e.starts_at,
            ends_at: e.ends_at,
        }
    }
}

/// A customer's responsible-gambling settings: limits and the break in force.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LimitsDto {
    pub user_id: Uuid,
    /// Every limit set, with any pending raise.
    pub limits: Vec<LimitDto>,
    /// The latest time-out or self-exclusion (it may have ended); null when none was taken.
    pub exclusion: Option<ExclusionDto>,
    pub updated_at: DateTime<Utc>,
}

impl From<ResponsibleGambling> for LimitsDto {
    fn from(r: ResponsibleGambling) -> Self {
        Self {
            user_id: r.user_id,
            limits: r.limits.into_iter().map(LimitDto::from).collect(),
            exclusion: r.exclusion.map(ExclusionDto::from),
            updated_at: r.updated_at,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// A deposit or a withdrawal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoneyBody {
    /// In integer minor units (cents) of the wallet's currency, 1 to 100,000,000.
    #[schema(value_type = i64, minimum = 1, maximum = 100_000_000, example = 5000)]
    pub amount: Whole<i64>,
    /// One of the caller's active payment methods.
    #[serde(default)]
    pub payment_method_id: Option<Uuid>,
    /// Free text: line breaks but no other control character.
    #[serde(default)]
    #[schema(pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")]
    pub description: Option<String>,
}

/// What an operator (standing in for the payment provider) says about a pending deposit or
/// withdrawal.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveBody {
    #[schema(schema_with = enums::resolution)]
    pub status: String,
    /// The provider's reference: at most 100 characters, no control character.
    #[serde(default)]
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub external_reference: Option<String>,
    /// Kept by the provider or the house, in integer minor units: 0 up to the transaction's
    /// amount (more is a 400 on `fees`).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 100_000_000)]
    pub fees: Option<Whole<i64>>,
    /// What the provider answered, kept as it is.
    #[serde(default)]
    #[schema(value_type = Option<NulFreeObject>)]
    pub processor_response: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentMethodBody {
    #[serde(rename = "type")]
    #[schema(schema_with = enums::payment_method_type)]
    pub method_type: PaymentMethodType,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "Visa ending 4242"
    )]
    pub name: String,
    /// What the provider tokenised: its token, the brand, the last four digits. Members
    /// named like a card number or a security code (`cardNumber`, `number`, `pan`, `cvv`,
    /// `cvc`, `securityCode`, any case) are refused (400): card data never reaches us.
    #[schema(value_type = PaymentDetails)]
    pub details: Map<String, Value>,
    /// Make it the default (default false).
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A payment method's `details`: free in form, without a NUL, and without members named
/// like card data (`PaymentMethod::validate`'s list, any letter case).
pub struct PaymentDetails;

/// Keys: no NUL, and none of the names `PaymentMethod::validate` refuses (its
/// `FORBIDDEN_DETAILS`, compared in ASCII lower case), in any letter case: a negative
/// lookahead. The API tests send each name in mixed case and expect a 400.
const DETAILS_KEY: &str = "^(?!([Cc][Aa][Rr][Dd]_?[Nn][Uu][Mm][Bb][Ee][Rr]|[Nn][Uu][Mm][Bb][Ee][Rr]|\
                           [Pp][Aa][Nn]|[Cc][Vv][Vv]|[Cc][Vv][Cc]|\
                           [Ss][Ee][Cc][Uu][Rr][Ii][Tt][Yy]_?[Cc][Oo][Dd][Ee])$)[^\\x00]*$";

impl utoipa::PartialSchema for PaymentDetails {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let key = ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .pattern(Some(DETAILS_KEY.replace(' ', "")));
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Object))
            .property_names(Some(key))
            .additional_properties(Some(utoipa::openapi::Ref::from_schema_name("NulFreeJson")))
            .description(Some(
                "What the provider tokenised: its token, the brand, the last four digits. \
                 Members named like card data (`cardNumber`, `card_number`, `number`, `pan`, \
                 `cvv`, `cvc`, `securityCode`, `security_code`, any letter case) are refused: \
                 card data never reaches us.",
            ))
            .into()
    }
}

impl ToSchema for PaymentDetails {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            "NulFreeJson".to_owned(),
            <NulFreeJson as utoipa::PartialSchema>::schema(),
        ));
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitBody {
    #[schema(schema_with = enums::limit_kind)]
    pub kind: LimitKind,
    #[schema(schema_with = enums::period)]
    pub period: Period,
    /// In integer minor units of the wallet's currency, at least 1; null removes the limit
    /// (after the 24-hour cooling-off).
    #[schema(value_type = Option<i64>, minimum = 1, example = 20000)]
    pub amount: Option<Whole<i64>>,
}

/// A break from gambling.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BreakBody {
    /// A time-out of 1 to 42 days.
    TimeOut {
        #[schema(value_type = u32, minimum = 1, maximum = 42)]
        days: Whole<u32>,
    },
    /// Self-exclusion for 6 to 60 months.
    SelfExclusion {
        #[schema(value_type = u32, minimum = 6, maximum = 60)]
        months: Whole<u32>,
    },
}

/// [`BreakBody`]'s schema as the server reads it: serde refuses unknown members in either
/// shape (`deny_unknown_fields`), which the derived `oneOf` does not say, so each shape is
/// closed here (`additionalProperties: false`).
pub struct BreakRequest;

impl utoipa::PartialSchema for BreakRequest {
    fn schema() -> RefOr<Schema> {
        let mut schema = <BreakBody as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::OneOf(one_of)) = &mut schema {
            for shape in &mut one_of.items {
                if let RefOr::T(Schema::Object(o)) = shape {
                    o.additional_properties = Some(Box::new(
                        utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                    ));
                }
            }
        }
        schema
    }
}

impl ToSchema for BreakRequest {
    fn name() -> std::borrow::Cow<'static, str> {
        "BreakBody".into()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerificationBody {
    #[schema(schema_with = enums::verification_status)]
    pub status: VerificationStatus,
}

/// A payment provider's callback body (read by the engine after the signature is checked).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderCallbackBody {
    /// Ours; or else `reference`.
    pub transaction_id: Option<Uuid>,
    /// The `reference` we gave the provider.
    pub reference: Option<String>,
    #[schema(schema_with = enums::resolution)]
    pub status: String,
    #[schema(max_length = 100)]
    pub external_reference: Option<String>,
    /// Kept by the provider, in integer minor units: 0 up to the transaction's amount.
    #[schema(minimum = 0, maximum = 100_000_000)]
    pub fees: Option<i64>,
    #[schema(value_type = Option<NulFreeJson>)]
    pub processor_response: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Serialize + for<'de> Deserialize<'de>>(names: &[&str]) {
        for name in names {
            let v: T = serde_json::from_value(Value::from(*name)).unwrap();
            assert_eq!(serde_json::to_value(v).unwrap(), *name);
        }
    }

    #[test]
    fn listed_enum_names_are_the_domains() {
        round_trips::<VerificationStatus>(enums::VERIFICATION_STATUSES);
        round_trips::<LimitKind>(enums::LIMIT_KINDS);
        round_trips::<Period>(enums::PERIODS);
        round_trips::<ExclusionKind>(enums::EXCLUSION_KINDS);
        for r in enums::RESOLUTIONS {
            betflow_engine::wallet::Resolution::parse(r).unwrap();
        }
    }

    #[test]
    fn a_pending_raise_has_named_fields() {
        let at: DateTime<Utc> = "2026-12-08T10:00:00Z".parse().unwrap();
        let limit = Limit {
            kind: LimitKind::Deposit,
            period: Period::Week,
            amount: Some(20_000),
            pending: Some((Some(50_000), at)),
        };
        assert_eq!(
            serde_json::to_value(LimitDto::from(limit)).unwrap(),
            serde_json::json!({"kind": "deposit", "period": "week", "amount": 20000,
                "pending": {"amount": 50000, "effectiveAt": "2026-12-08T10:00:00Z"}})
        );
    }
}
