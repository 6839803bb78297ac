//! Odds as exact decimals, and the three ways customers read them.

use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Highest decimal odds accepted (a 999/1 shot).
pub const MAX_ODDS: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);

/// How a customer reads odds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OddsFormat {
    #[default]
    Decimal,
    American,
    Fractional,
}

impl FromStr for OddsFormat {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "decimal" => Ok(Self::Decimal),
            "american" => Ok(Self::American),
            "fractional" => Ok(Self::Fractional),
            _ => Err(DomainError::invalid(
                "oddsFormat",
                "must be decimal, american or fractional",
            )),
        }
    }
}

/// Checks decimal odds: above 1.0 (a stake must be able to win something), at most
/// [`MAX_ODDS`], at most four decimal places (the seed's DECIMAL(10,4)).
pub fn check_odds(field: &str, odds: Decimal) -> Result<Decimal, DomainError> {
    if odds <= Decimal::ONE {
        return Err(DomainError::invalid(
            field,
            "decimal odds must be above 1.0",
        ));
    }
    if odds > MAX_ODDS {
        return Err(DomainError::invalid(
            field,
            "decimal odds must be at most 1000",
        ));
    }
    if odds.scale() > 4 && odds.normalize().scale() > 4 {
        return Err(DomainError::invalid(field, "at most four decimal places"));
    }
    Ok(odds.normalize())
}

/// Renders decimal odds in `format`: `1.85`, `-118` or `17/20`.
pub fn render(odds: Decimal, format: OddsFormat) -> String {
    match format {
        OddsFormat::Decimal => odds.normalize().to_string(),
        OddsFormat::American => {
            let profit = odds - Decimal::ONE;
            if profit >= Decimal::ONE {
                format!("+{}", (profit * Decimal::ONE_HUNDRED).round())
            } else if profit > Decimal::ZERO {
                format!("-{}", (Decimal::ONE_HUNDRED / profit).round())
            } else {
                "0".to_owned()
            }
        }
        OddsFormat::Fractional => {
            let (n, d) = fraction(odds - Decimal::ONE);
            format!("{n}/{d}")
        }
    }
}

/// The closest fraction with a denominator up to 100 (bookmakers' `17/20`, `5/2`, `1/3`),
/// by continued fractions.
fn fraction(x: Decimal) -> (u64, u64) {
    let target = x.to_f64().unwrap_or(0.0);
    if target <= 0.0 {
        return (0, 1);
    }
    let (mut h0, mut h1, mut k0, mut k1) = (0u64, 1u64, 1u64, 0u64);
    let mut v = target;
    let mut best = (target.round() as u64, 1u64);
    for _ in 0..32 {
        let a = v.floor() as u64;
        let h2 = a.saturating_mul(h1).saturating_add(h0);
        let k2 = a.saturating_mul(k1).saturating_add(k0);
        if k2 > 100 {
            break;
        }
        best = (h2, k2);
        (h0, h1, k0, k1) = (h1, h2, k1, k2);
        let frac = v - a as f64;
        if frac < 1e-9 {
            break;
        }
        v = 1.0 / frac;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn the_three_formats() {
        for (dec, american, fractional) in [
            ("1.85", "-118", "17/20"),
            ("2.00", "+100", "1/1"),
            ("3.5", "+250", "5/2"),
            ("1.3333", "-300", "1/3"),
            ("11", "+1000", "10/1"),
            ("1.01", "-10000", "1/100"),
        ] {
            assert_eq!(render(d(dec), OddsFormat::American), american, "{dec}");
            assert_eq!(render(d(dec), OddsFormat::Fractional), fractional, "{dec}");
        }
        assert_eq!(render(d("1.8500"), OddsFormat::Decimal), "1.85");
        assert_eq!(
            "American".parse::<OddsFormat>().unwrap(),
            OddsFormat::American
        );
        assert!("moneyline".parse::<OddsFormat>().is_err());
    }

    #[test]
    fn odds_are_checked() {
        assert!(check_odds("odds", d("1.0")).is_err());
        assert!(check_odds("odds", d("0.5")).is_err());
        assert!(check_odds("odds", d("1000.01")).is_err());
        assert!(check_odds("odds", d("1.23456")).is_err());
        assert_eq!(check_odds("odds", d("1.8500")).unwrap(), d("1.85"));
    }

    proptest! {
        /// American odds convert back to the decimal they came from, to a cent of profit.
        #[test]
        fn american_round_trips(cents in 101u32..100_000) {
            let odds = Decimal::from(cents) / Decimal::ONE_HUNDRED;
            let a: i64 = render(odds, OddsFormat::American).trim_start_matches('+').parse().unwrap();
            let back = if a > 0 { 1.0 + a as f64 / 100.0 } else { 1.0 + 100.0 / (-a) as f64 };
            let want = odds.to_f64().unwrap();
            prop_assert!((back - want).abs() / want < 0.01, "{odds} -> {a} -> {back}");
        }

        /// A fraction never has a denominator above 100 and is within 1 % of the odds.
        #[test]
        fn fractions_are_close(cents in 102u32..5_000) {
            let odds = Decimal::from(cents) / Decimal::ONE_HUNDRED;
            let f = render(odds, OddsFormat::Fractional);
            let (n, dd) = f.split_once('/').unwrap();
            let (n, dd): (f64, f64) = (n.parse().unwrap(), dd.parse().unwrap());
            prop_assert!(dd <= 100.0);
            let profit = odds.to_f64().unwrap() - 1.0;
            prop_assert!((n / dd - profit).abs() <= profit * 0.02 + 0.005, "{odds} -> {f}");
        }
    }
}
