//! A step's behaviour when it runs by itself: durations (`"100ms"`, `"30s"`, `"5m"`, `"2h"`),
//! its timeout (minutes as a number, as the seeds write it, or a duration string) and its
//! retry policy (`{attempts, backoff}`, the backoff doubling with jitter).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Most attempts a retry policy may ask for (the first included).
pub const MAX_ATTEMPTS: u32 = 10;
/// Longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// Parses `"<integer><unit>"` with unit `ms`, `s`, `m` or `h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let bad = || format!("{s:?} is not a duration such as \"100ms\", \"30s\", \"5m\" or \"2h\"");
    let n: u64 = n.parse().map_err(|_| bad())?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    }
    .ok_or_else(bad)?;
    Ok(Duration::from_millis(ms))
}

/// A step's timeout: minutes (a number, as approval and task steps have always had) or a
/// duration string. Written back the way it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepTimeout {
    Minutes(u32),
    Duration(String),
}

impl StepTimeout {
    /// How long, or `None` for a string that is not a duration (publishing reports it).
    pub fn duration(&self) -> Option<Duration> {
        match self {
            Self::Minutes(m) => Some(Duration::from_secs(u64::from(*m) * 60)),
            Self::Duration(s) => parse_duration(s).ok(),
        }
    }

    /// As a chrono duration (zero for an invalid string).
    pub fn chrono(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.duration().unwrap_or_default())
            .unwrap_or(chrono::Duration::MAX)
    }

    /// Whole minutes, rounded down (the estimate and views count in minutes).
    pub fn minutes(&self) -> f64 {
        self.duration().unwrap_or_default().as_secs_f64() / 60.0
    }
}

impl From<u32> for StepTimeout {
    fn from(m: u32) -> Self {
        Self::Minutes(m)
    }
}

impl Serialize for StepTimeout {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Minutes(m) => s.serialize_u32(*m),
            Self::Duration(d) => s.serialize_str(d),
        }
    }
}

impl<'de> Deserialize<'de> for StepTimeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Minutes(u32),
            Duration(String),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Minutes(m)) => Ok(Self::Minutes(m)),
            Ok(Raw::Duration(s)) => Ok(Self::Duration(s)),
            Err(_) => Err(serde::de::Error::custom(
                "timeout must be minutes (a whole number) or a duration such as \"30s\"",
            )),
        }
    }
}

/// How an action step retries: `attempts` in all (the first included) and the wait before
/// the second, doubling after each further failure, with jitter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<String>,
}

impl Retry {
    /// The problems of this policy, if any.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(1..=MAX_ATTEMPTS).contains(&self.attempts) {
            out.push(format!("retry attempts must be 1 to {MAX_ATTEMPTS}"));
        }
        if let Some(b) = &self.backoff {
            match parse_duration(b) {
                Ok(d) if d > MAX_BACKOFF => out.push("retry backoff must be at most 1h".into()),
                Ok(_) => {}
                Err(e) => out.push(format!("retry backoff: {e}")),
            }
        }
        out
    }

    /// The backoff as given (1s when absent or invalid).
    pub fn base(&self) -> Duration {
        self.backoff
            .as_deref()
            .and_then(|b| parse_duration(b).ok())
            .unwrap_or(Duration::from_secs(1))
    }

    /// Whether attempt `failed` (1 for the first) leaves another.
    pub fn has_another(&self, failed: u32) -> bool {
        failed < self.attempts
    }

    /// The wait after attempt `failed` failed: `base * 2^(failed-1)`, plus up to a quarter
    /// more by `jitter` (in `0..1`), at most [`MAX_BACKOFF`].
    pub fn delay(&self, failed: u32, jitter: f64) -> Duration {
        let base = self.base().as_secs_f64();
        let exp = 2f64.powi(failed.saturating_sub(1).min(30) as i32);
        let secs = base * exp * (1.0 + jitter.clamp(0.0, 1.0) / 4.0);
        Duration::from_secs_f64(secs.min(MAX_BACKOFF.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["", "ms", "5", "5d", "-1s", "1.5s", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_take_minutes_or_durations_and_write_back_as_given() {
        let t: StepTimeout = serde_json::from_value(serde_json::json!(30)).unwrap();
        assert_eq!(t, StepTimeout::Minutes(30));
        assert_eq!(t.duration(), Some(Duration::from_secs(1800)));
        let t: StepTimeout = serde_json::from_value(serde_json::json!("10s")).unwrap();
        assert_eq!(t.duration(), Some(Duration::from_secs(10)));
        assert_eq!(serde_json::to_value(&t).unwrap(), serde_json::json!("10s"));
        assert!(serde_json::from_value::<StepTimeout>(serde_json::json!(true)).is_err());
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let r = Retry {
            attempts: 3,
            backoff: Some("100ms".into()),
        };
        assert!(r.problems().is_empty());
        assert_eq!(r.delay(1, 0.0), Duration::from_millis(100));
        assert_eq!(r.delay(2, 0.0), Duration::from_millis(200));
        assert!(r.delay(3, 0.99) < Duration::from_millis(500));
        assert!(r.has_another(2) && !r.has_another(3));
        let bad = Retry {
            attempts: 0,
            backoff: Some("soon".into()),
        };
        assert_eq!(bad.problems().len(), 2);
    }
}
