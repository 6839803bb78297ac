//! Odds as exact decimals: the one validated [`Odds`] type that every path setting a
//! selection's odds goes through, the one text form odds are answered in, the three ways
//! customers read them, and the checked arithmetic of an odds change.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::DomainError;

/// Highest decimal odds accepted (a 999/1 shot).
pub const MAX_ODDS: Decimal = Decimal::from_parts(1000, 0, 0, false, 0);

/// Most decimal places odds may have (the seed's DECIMAL(10,4)).
pub const MAX_ODDS_DECIMALS: u32 = 4;

/// Decimal odds a selection may carry: above 1.0 (a stake must be able to win something), at
/// most [`MAX_ODDS`], at most [`MAX_ODDS_DECIMALS`] decimal places.
///
/// Creating a selection, patching it, opening a `line_change_approval` and applying an
/// approved one all build their odds with [`Odds::parse`] (or its text and JSON forms), so
/// no path can write odds that `POST /selections` would refuse. The value is kept
/// normalised (`2.50` is held as `2.5`); it is answered in the [`canonical`] form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Odds(Decimal);

impl Odds {
    /// Checks decimal odds against the rules above, naming `field` in the refusal.
    pub fn parse(field: &str, odds: Decimal) -> Result<Self, DomainError> {
        if odds <= Decimal::ONE {
            return Err(DomainError::invalid(
                field,
                "decimal odds must be above 1.0",
            ));
        }
        if odds > MAX_ODDS {
            return Err(DomainError::invalid(
                field,
                format!("decimal odds must be at most {MAX_ODDS}"),
            ));
        }
        let odds = odds.normalize();
        if odds.scale() > MAX_ODDS_DECIMALS {
            return Err(DomainError::invalid(
                field,
                format!("decimal odds have at most {MAX_ODDS_DECIMALS} decimal places"),
            ));
        }
        Ok(Self(odds))
    }

    /// Reads odds written as text (`"1.85"`), exactly: text that would round is refused,
    /// not rounded into valid odds.
    pub fn parse_str(field: &str, text: &str) -> Result<Self, DomainError> {
        Self::parse(field, decimal_text(field, text)?)
    }

    /// Reads odds given as a JSON number or string (clients send both), exactly: a number
    /// is read from its JSON text, never through a float.
    pub fn from_json(field: &str, v: &Value) -> Result<Self, DomainError> {
        match v {
            Value::String(s) => Self::parse_str(field, s),
            Value::Number(n) => Self::parse_str(field, &n.to_string()),
            _ => Err(DomainError::invalid(
                field,
                "must be decimal odds, as a number or a string such as \"1.85\"",
            )),
        }
    }

    /// Odds as the store wrote them. Every write went through [`Odds::parse`]; reading
    /// trusts the row, so a row written before a rule tightened still reads and renders
    /// (the next write of that selection must pass today's rules).
    pub fn from_store(odds: Decimal) -> Self {
        Self(odds.normalize())
    }

    /// The exact decimal value.
    pub fn get(self) -> Decimal {
        self.0
    }
}

impl From<Odds> for Decimal {
    fn from(o: Odds) -> Self {
        o.0
    }
}

impl PartialEq<Decimal> for Odds {
    fn eq(&self, other: &Decimal) -> bool {
        self.0 == *other
    }
}

/// The [`canonical`] form.
impl fmt::Display for Odds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&canonical(self.0))
    }
}

/// Answered as a string in the [`canonical`] form.
impl Serialize for Odds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&canonical(self.0))
    }
}

/// Read from a JSON string or number and checked by [`Odds::parse`], so a request body with
/// bad odds fails where it is read, naming the field.
impl<'de> Deserialize<'de> for Odds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Odds::from_json("odds", &v).map_err(|DomainError::Validation(v)| {
            serde::de::Error::custom(
                v.into_iter()
                    .map(|v| v.message)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }
}

/// The one text form odds are answered in, everywhere (selections, markets and events with
/// their selections, price history, bets and their legs, `ODDS_CHANGED` details, the data of
/// a line change the catalog opens): the exact value without trailing zeros, but always
/// with at least two decimal places, as bookmakers print prices. `2.5` and `2.50` are
/// `"2.50"`, `2` is `"2.00"`, `1.8750` is `"1.875"`, `1.3333` stays `"1.3333"`. One form
/// means a client can compare the odds it sent with the odds it reads back as text.
pub fn canonical(odds: Decimal) -> String {
    let mut s = odds.normalize().to_string();
    match s.split_once('.').map(|(_, frac)| frac.len()) {
        None => s.push_str(".00"),
        Some(1) => s.push('0'),
        Some(_) => {}
    }
    s
}

/// `#[serde(with = "odds::text")]` for odds kept as a plain [`Decimal`] (a bet's total
/// odds, which may exceed [`MAX_ODDS`], and its legs' odds as placed): written in the
/// [`canonical`] form, read from a string or a number.
pub mod text {
    use super::*;

    pub fn serialize<S: Serializer>(odds: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&canonical(*odds))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        <Decimal as Deserialize>::deserialize(d)
    }
}

/// A decimal written plainly (`1.85`, `-2`, `+3`) or in scientific notation (`1.85e0`, as a
/// JSON number may print), exactly: text with more digits than a decimal holds is refused
/// rather than rounded, and so are separators such as `1_000`.
pub fn decimal_text(field: &str, text: &str) -> Result<Decimal, DomainError> {
    let t = text.trim();
    let bad = || DomainError::invalid(field, "must be a decimal number such as 1.85");
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits_ok(int) && digits_ok(frac),
        None => digits_ok(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits_ok(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if !mantissa_ok || !exponent_ok {
        return Err(bad());
    }
    let parsed = if exponent.is_some() {
        Decimal::from_scientific(t)
    } else {
        Decimal::from_str_exact(t)
    };
    parsed.map_err(|_| {
        DomainError::invalid(
            field,
            "is out of range for a decimal number (at most 28 digits)",
        )
    })
}

/// How far an odds change moves, in percent of the old odds: `(new - old) / old * 100`
/// (negative: the price shortens). Checked, so no input can panic: `None` when `old` is not
/// above zero or the result does not fit in a decimal (odds that [`Odds::parse`] accepts
/// never get there).
pub fn change_percent(old: Decimal, new: Decimal) -> Option<Decimal> {
    if old <= Decimal::ZERO {
        return None;
    }
    new.checked_sub(old)?
        .checked_div(old)?
        .checked_mul(Decimal::ONE_HUNDRED)
}

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

/// Renders decimal odds in `format`: `1.85` (the [`canonical`] form), `-118` or `17/20`.
/// Checked throughout: odds from an old row or a bet's total never make it panic.
pub fn render(odds: impl Into<Decimal>, format: OddsFormat) -> String {
    let odds = odds.into();
    let profit = odds.checked_sub(Decimal::ONE).unwrap_or(Decimal::ZERO);
    match format {
        OddsFormat::Decimal => canonical(odds),
        OddsFormat::American => {
            let american = if profit >= Decimal::ONE {
                profit
                    .checked_mul(Decimal::ONE_HUNDRED)
                    .map(|a| format!("+{}", a.round()))
            } else if profit > Decimal::ZERO {
                Decimal::ONE_HUNDRED
                    .checked_div(profit)
                    .map(|a| format!("-{}", a.round()))
            } else {
                None
            };
            american.unwrap_or_else(|| "0".to_owned())
        }
        OddsFormat::Fractional => {
            let (n, d) = fraction(profit);
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
    use serde_json::json;

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
        let parse = |s: &str| Odds::parse("odds", d(s));
        assert!(parse("1.0").is_err());
        assert!(parse("0.5").is_err());
        assert!(parse("-3").is_err());
        assert!(parse("1000.01").is_err());
        assert!(parse("5000").is_err(), "above MAX_ODDS");
        assert!(parse("1.23456").is_err());
        assert!(parse("1.00001").is_err(), "five decimal places");
        assert!(parse("79228162514264337593543950335").is_err());
        assert_eq!(parse("1.8500").unwrap().get(), d("1.85"));
        assert_eq!(parse("1000").unwrap().get(), MAX_ODDS);
        assert_eq!(parse("1.0001").unwrap().get(), d("1.0001"));
        let DomainError::Validation(v) = parse("5000").unwrap_err();
        assert_eq!(v[0].field, "odds");
    }

    #[test]
    fn odds_read_exactly_from_text_and_json() {
        let ok = |v: Value| Odds::from_json("newOdds", &v).map(|o| o.to_string());
        assert_eq!(ok(json!("2.50")).unwrap(), "2.50");
        assert_eq!(ok(json!(" 1.9 ")).unwrap(), "1.90");
        assert_eq!(ok(json!(4.5)).unwrap(), "4.50");
        assert_eq!(ok(json!(3)).unwrap(), "3.00");
        assert_eq!(ok(json!("1.85e0")).unwrap(), "1.85");
        for bad in [
            json!("79228162514264337593543950335"),
            json!("792281625142643375935439503351"),
            json!("1e30"),
            json!("1e99999999999"),
            json!(1e300),
            json!("2.00000000000000000000000000001"),
            json!("1_000"),
            json!("2,5"),
            json!("0x10"),
            json!("NaN"),
            json!(""),
            json!("."),
            json!("1."),
            json!(null),
            json!(true),
            json!([2]),
            json!("5000"),
            json!("1.00001"),
        ] {
            let err = ok(bad.clone()).unwrap_err();
            let DomainError::Validation(v) = err;
            assert_eq!(v[0].field, "newOdds", "{bad}");
        }
    }

    /// The one text form: normalised, never fewer than two decimal places.
    #[test]
    fn canonical_form() {
        for (given, want) in [
            ("2.50", "2.50"),
            ("2.5", "2.50"),
            ("2", "2.00"),
            ("2.00", "2.00"),
            ("1.90", "1.90"),
            ("1.8750", "1.875"),
            ("1.3333", "1.3333"),
            ("11", "11.00"),
            ("1000.0000", "1000.00"),
            ("6.1234567", "6.1234567"),
        ] {
            assert_eq!(canonical(d(given)), want, "{given}");
        }
        let o = Odds::parse_str("odds", "2.5").unwrap();
        assert_eq!(serde_json::to_value(o).unwrap(), json!("2.50"));
        assert_eq!(o.to_string(), "2.50");
        assert_eq!(render(o, OddsFormat::Decimal), "2.50");
        let back: Odds = serde_json::from_value(json!("2.500")).unwrap();
        assert_eq!(back, o);
        let from_number: Odds = serde_json::from_value(json!(2.5)).unwrap();
        assert_eq!(from_number, o);
        let err = serde_json::from_value::<Odds>(json!("5000")).unwrap_err();
        assert!(err.to_string().contains("at most 1000"), "{err}");
        assert_eq!(canonical(Decimal::MAX), format!("{}.00", Decimal::MAX));
    }

    #[test]
    fn change_percent_is_checked() {
        assert_eq!(change_percent(d("2"), d("2.1")), Some(d("5")));
        assert_eq!(
            change_percent(d("3"), d("2.5")).map(|p| p.round_dp(2)),
            Some(d("-16.67"))
        );
        assert_eq!(change_percent(Decimal::ZERO, d("2")), None);
        assert_eq!(change_percent(d("-1"), d("2")), None);
        // The request that used to panic: the multiplication by 100 no longer fits.
        assert_eq!(change_percent(d("1.01"), Decimal::MAX), None);
        assert_eq!(change_percent(d("1.0001"), Decimal::MAX), None);
        assert!(change_percent(d("1.0001"), MAX_ODDS).is_some());
    }

    /// Any decimal: from its parts, so every scale and the extremes come up.
    fn any_decimal() -> impl Strategy<Value = Decimal> {
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            0u32..=28,
        )
            .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale))
    }

    proptest! {
        /// No decimal makes the odds rules, the odds-change arithmetic or the renderings
        /// panic, and whatever `Odds::parse` accepts is within the rules and reads back from
        /// its canonical text as the same odds.
        #[test]
        fn no_decimal_panics(a in any_decimal(), b in any_decimal()) {
            let _ = change_percent(a, b);
            for f in [OddsFormat::Decimal, OddsFormat::American, OddsFormat::Fractional] {
                let _ = render(a, f);
            }
            if let Ok(o) = Odds::parse("odds", a) {
                prop_assert!(o.get() > Decimal::ONE && o.get() <= MAX_ODDS);
                prop_assert!(o.get().scale() <= MAX_ODDS_DECIMALS);
                let text = o.to_string();
                let (_, frac) = text.split_once('.').unwrap();
                prop_assert!((2..=4).contains(&frac.len()), "{text}");
                prop_assert_eq!(Odds::parse_str("odds", &text).unwrap(), o);
                if let Ok(other) = Odds::parse("odds", b) {
                    let pct = change_percent(o.get(), other.get());
                    prop_assert!(pct.is_some(), "valid odds always have a change: {o} -> {other}");
                }
            }
        }

        /// No text, however odd, makes reading odds panic.
        #[test]
        fn no_text_panics(s in ".{0,40}", digits in "[0-9.eE+-]{0,60}") {
            let _ = Odds::parse_str("odds", &s);
            let _ = Odds::parse_str("odds", &digits);
            let _ = decimal_text("x", &digits);
        }

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
