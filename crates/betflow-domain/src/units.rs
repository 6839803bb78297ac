//! Human-friendly quantities for configuration and API input: `30s`, `5m`, `10mb`.
//!
//! Strict on purpose: an ambiguous or overflowing value is an error, never a silent default.

use std::time::Duration;

/// Parses `500ms`, `30s`, `5m`, `2h`, `7d` or `1w`. A bare number is seconds.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    let (digits, unit) = split_number(s)?;
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("invalid duration {input:?}: number out of range"))?;
    let per_unit_ms: u64 = match unit.to_ascii_lowercase().as_str() {
        "ms" => 1,
        "" | "s" | "sec" | "secs" => 1_000,
        "m" | "min" | "mins" => 60_000,
        "h" | "hr" | "hrs" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        "w" | "week" | "weeks" => 604_800_000,
        other => {
            return Err(format!(
                "invalid duration {input:?}: unknown unit {other:?} (use ms, s, m, h, d or w)"
            ));
        }
    };
    n.checked_mul(per_unit_ms)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("invalid duration {input:?}: too large"))
}

/// Parses a byte size: `1048576`, `512kb`, `10mb`, `1gb` (binary multiples, case-insensitive).
pub fn parse_byte_size(input: &str) -> Result<u64, String> {
    let s = input.trim();
    let (digits, unit) = split_number(s)?;
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size {input:?}: number out of range"))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size {input:?}: unknown unit {other:?} (use b, kb, mb or gb)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size {input:?}: too large"))
}

fn split_number(s: &str) -> Result<(&str, &str), String> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return Err(format!("{s:?} must start with a whole number"));
    }
    Ok((&s[..end], s[end..].trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        for bad in [
            "",
            "s",
            "-1s",
            "1.5s",
            "10 parsecs",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
        assert!(parse_duration(&format!("{}w", u64::MAX / 1000)).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_byte_size("10mb"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_byte_size("10MB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_byte_size("512kb"), Ok(512 * 1024));
        assert_eq!(parse_byte_size("1000"), Ok(1000));
        for bad in ["", "mb", "1.5mb", "3tb", "-3"] {
            assert!(parse_byte_size(bad).is_err(), "{bad} should fail");
        }
    }

    proptest! {
        #[test]
        fn seconds_round_trip(n in 0u64..1_000_000_000) {
            prop_assert_eq!(parse_duration(&format!("{n}s")), Ok(Duration::from_secs(n)));
        }

        #[test]
        fn never_panics(s in ".*") {
            let _ = parse_duration(&s);
            let _ = parse_byte_size(&s);
        }
    }
}
