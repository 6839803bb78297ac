//! Cron schedules in an IANA time zone: the next fire time after an instant, correct across
//! daylight-saving changes, and what to fire after downtime.
//!
//! Five-field cron (minute hour day-of-month month day-of-week) or a `@daily`-style nickname,
//! evaluated on the zone's wall clock by croner, which follows the Open Cron Pattern
//! Specification: a fixed-time job whose time falls in a spring-forward gap runs once at the
//! first instant after the gap; one whose time occurs twice on a fall-back day runs once, at
//! the first of the two. Interval jobs (`*/15 * * * *`) run on real elapsed time.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::{DomainError, Violation};

/// How late an occurrence may be fired and still count as on time, not as missed.
pub const ON_TIME_GRACE_SECS: i64 = 60;

/// What a schedule does about occurrences missed while no scheduler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CatchUp {
    /// Fire once for everything missed (the latest missed occurrence).
    #[default]
    FireOnce,
    /// Fire nothing for what was missed; carry on from the next occurrence.
    Skip,
}

impl CatchUp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FireOnce => "fire_once",
            Self::Skip => "skip",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::FireOnce, Self::Skip]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A parsed cron expression with its zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    zone: Tz,
}

impl Schedule {
    /// Parses `cron` and `zone`, naming every problem (`cron`, `timezone`).
    pub fn parse(cron: &str, zone: &str) -> Result<Self, DomainError> {
        let mut v = Vec::new();
        let parsed = if cron.trim().is_empty() || cron.len() > 200 {
            v.push(Violation::new("cron", "must be 1 to 200 characters"));
            None
        } else {
            match CronParser::builder()
                .seconds(Seconds::Disallowed)
                .build()
                .parse(cron)
            {
                Ok(c) => Some(c),
                Err(e) => {
                    v.push(Violation::new(
                        "cron",
                        format!(
                            "{cron:?} is not a cron expression (minute hour day month weekday, \
                             e.g. \"30 1 * * *\"): {e}"
                        ),
                    ));
                    None
                }
            }
        };
        let tz = match zone.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                v.push(Violation::new(
                    "timezone",
                    format!("{zone:?} is not an IANA time zone (e.g. Europe/London, UTC)"),
                ));
                None
            }
        };
        match (parsed, tz) {
            (Some(cron), Some(zone)) if v.is_empty() => Ok(Self { cron, zone }),
            _ => Err(DomainError::Validation(v)),
        }
    }

    /// Parses, and refuses a schedule with no occurrence after `now` (such as 30 February).
    /// Returns the schedule with its first fire time.
    pub fn parse_from(
        cron: &str,
        zone: &str,
        now: DateTime<Utc>,
    ) -> Result<(Self, DateTime<Utc>), DomainError> {
        let s = Self::parse(cron, zone)?;
        match s.next_after(now) {
            Some(next) => Ok((s, next)),
            None => Err(DomainError::invalid(
                "cron",
                format!("{cron:?} never fires"),
            )),
        }
    }

    /// The first occurrence strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.zone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The last occurrence at or before `t`.
    pub fn last_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.zone);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }
}

/// The id a fired occurrence is keyed by (`trigger_event_id`): its instant in RFC 3339, UTC.
pub fn occurrence_id(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What one scheduler pass does with a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireDecision {
    /// The occurrence to start a run for, if any.
    pub fire: Option<DateTime<Utc>>,
    /// Occurrences passed over without a run (missed while down).
    pub skipped: bool,
    /// The next fire time to store; `None` when the cron has no later occurrence.
    pub next: Option<DateTime<Utc>>,
}

/// Decides what to fire at `now` for a schedule due at `next_fire_at` (which must be at or
/// before `now`; otherwise nothing is due and `None` is returned).
///
/// The latest occurrence at or before `now` is fired when it is on time (within
/// [`ON_TIME_GRACE_SECS`]), whatever the policy. When it is late (every scheduler was down),
/// `fire_once` fires it once for everything missed and `skip` fires nothing. Either way the
/// next fire time is the first occurrence after `now`.
pub fn decide(
    schedule: &Schedule,
    next_fire_at: DateTime<Utc>,
    now: DateTime<Utc>,
    catch_up: CatchUp,
) -> Option<FireDecision> {
    if next_fire_at > now {
        return None;
    }
    let latest = schedule
        .last_at_or_before(now)
        .filter(|l| *l >= next_fire_at)
        .unwrap_or(next_fire_at);
    let on_time = (now - latest).num_seconds() <= ON_TIME_GRACE_SECS;
    let missed_before = latest > next_fire_at;
    let fire = (on_time || catch_up == CatchUp::FireOnce).then_some(latest);
    Some(FireDecision {
        fire,
        skipped: missed_before || fire.is_none(),
        next: schedule.next_after(now),
    })
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
