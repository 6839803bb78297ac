//! Money: an integer number of minor units (cents) of one currency. Amounts are never
//! floats, and sums are checked: two currencies never add up, and an overflow is an error,
//! not a wrapped or saturated number.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// An ISO 4217 currency code: three ASCII capital letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Reads `GBP`; anything but three capital letters is refused.
    pub fn parse(code: &str) -> Result<Self, DomainError> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(DomainError::invalid(
                "currency",
                format!("{code:?}: three capital letters (ISO 4217)"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // Three ASCII letters, checked on the way in.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount of one currency, in its minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    minor: i64,
    currency: Currency,
}

/// Why a sum of money has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0} and {1} do not add up")]
    CurrencyMismatch(Currency, Currency),
    #[error("the amount is out of range")]
    Overflow,
}

impl Money {
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// The amount in minor units (cents).
    pub const fn minor(&self) -> i64 {
        self.minor
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub const fn is_positive(&self) -> bool {
        self.minor > 0
    }

    fn same_currency(&self, other: &Self) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(&other)?;
        self.minor
            .checked_add(other.minor)
            .map(|m| Self::new(m, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(&other)?;
        self.minor
            .checked_sub(other.minor)
            .map(|m| Self::new(m, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_neg(self) -> Result<Self, MoneyError> {
        self.minor
            .checked_neg()
            .map(|m| Self::new(m, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// Whether this covers `other` (same currency, at least as much).
    pub fn covers(&self, other: &Self) -> bool {
        self.currency == other.currency && self.minor >= other.minor
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbp(m: i64) -> Money {
        Money::new(m, Currency::parse("GBP").unwrap())
    }

    #[test]
    fn sums_are_checked() {
        assert_eq!(gbp(150).checked_add(gbp(50)), Ok(gbp(200)));
        assert_eq!(gbp(150).checked_sub(gbp(200)), Ok(gbp(-50)));
        assert_eq!(gbp(i64::MAX).checked_add(gbp(1)), Err(MoneyError::Overflow));
        assert_eq!(gbp(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
        let eur = Money::new(1, Currency::parse("EUR").unwrap());
        assert!(matches!(
            gbp(1).checked_add(eur),
            Err(MoneyError::CurrencyMismatch(..))
        ));
        assert!(gbp(5).covers(&gbp(5)) && !gbp(4).covers(&gbp(5)) && !eur.covers(&gbp(0)));
    }

    #[test]
    fn currencies_are_three_capitals() {
        assert_eq!(Currency::parse("USD").unwrap().as_str(), "USD");
        for bad in ["usd", "US", "USDX", "", "U$D"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
        let m = gbp(1234);
        let json = serde_json::to_value(m).unwrap();
        assert_eq!(json, serde_json::json!({"minor": 1234, "currency": "GBP"}));
        assert_eq!(serde_json::from_value::<Money>(json).unwrap(), m);
    }
}
