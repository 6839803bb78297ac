//! Responsible-gambling rules, as pure functions of an injectable `now`: deposit, stake and
//! loss limits per 24 hours, 7 days and a month (the strictest applies; lowering is
//! immediate, raising waits out a 24-hour cooling-off), and time-outs and self-exclusion.
//!
//! Deposits (`betflow_engine::wallet`) and bet placement (`betflow_engine::bets`) call these
//! rules inside their write, so a limit is checked against the same rows the write locks.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::DomainError;
use crate::refusal::{Refusal, RefusalKind};

/// How long a raised (or removed) limit waits before it applies.
pub fn cooling_off() -> Duration {
    Duration::hours(24)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Deposit,
    Stake,
    Loss,
}

/// A rolling window a limit counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
}

impl Period {
    pub fn length(self) -> Duration {
        match self {
            Period::Day => Duration::hours(24),
            Period::Week => Duration::days(7),
            Period::Month => Duration::days(30),
        }
    }
}

/// One limit: what is in force, and a raise (or removal) waiting out its cooling-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limit {
    pub kind: LimitKind,
    pub period: Period,
    /// Minor units; `None`: no limit in force.
    pub amount: Option<i64>,
    /// A requested higher amount (or `None` inside `Some`: removal) and when it applies.
    pub pending: Option<(Option<i64>, DateTime<Utc>)>,
}

impl Limit {
    pub fn none(kind: LimitKind, period: Period) -> Self {
        Self {
            kind,
            period,
            amount: None,
            pending: None,
        }
    }

    /// The amount in force at `now`, applying a pending change whose time has come.
    pub fn in_force(&self, now: DateTime<Utc>) -> Option<i64> {
        match self.pending {
            Some((amount, at)) if at <= now => amount,
            _ => self.amount,
        }
    }

    /// Settles a due pending change into `amount`.
    pub fn settled(mut self, now: DateTime<Utc>) -> Self {
        if let Some((amount, at)) = self.pending
            && at <= now
        {
            self.amount = amount;
            self.pending = None;
        }
        self
    }

    /// Requests `amount` (`None` removes the limit). Stricter applies at once and cancels any
    /// pending raise; looser waits [`cooling_off`].
    pub fn request(self, amount: Option<i64>, now: DateTime<Utc>) -> Result<Self, DomainError> {
        if amount.is_some_and(|a| a <= 0) {
            return Err(DomainError::invalid("amount", "a limit must be above zero"));
        }
        let mut l = self.settled(now);
        let stricter = match (amount, l.amount) {
            (Some(new), Some(old)) => new <= old,
            (Some(_), None) => true,
            (None, None) => true,
            (None, Some(_)) => false,
        };
        if stricter {
            l.amount = amount;
            l.pending = None;
        } else {
            l.pending = Some((amount, now + cooling_off()));
        }
        Ok(l)
    }
}

/// Why an amount is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    pub kind: LimitKind,
    pub period: Period,
    pub limit: i64,
    pub used: i64,
}

impl LimitExceeded {
    /// The refusal clients see (`LIMIT_EXCEEDED`), for a deposit as for a bet.
    pub fn refusal(&self) -> Refusal {
        Refusal::new(
            RefusalKind::Unprocessable,
            "LIMIT_EXCEEDED",
            format!(
                "this would pass your {} limit for the {}",
                match self.kind {
                    LimitKind::Deposit => "deposit",
                    LimitKind::Stake => "stake",
                    LimitKind::Loss => "loss",
                },
                match self.period {
                    Period::Day => "last 24 hours",
                    Period::Week => "last 7 days",
                    Period::Month => "last 30 days",
                }
            ),
            Some(
                json!({"kind": self.kind, "period": self.period, "limit": self.limit,
                        "used": self.used}),
            ),
        )
    }
}

/// Refuses a customer who is on a break (`SELF_EXCLUDED`): deposits and bets both ask.
pub fn check_exclusion(
    rg: Option<&ResponsibleGambling>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if let Some(e) = rg.and_then(|r| r.active_exclusion(now)) {
        return Err(Refusal::new(
            RefusalKind::Forbidden,
            "SELF_EXCLUDED",
            match e.kind {
                ExclusionKind::TimeOut => "you are taking a time-out",
                ExclusionKind::SelfExclusion => "you have excluded yourself",
            },
            Some(json!({"kind": e.kind, "endsAt": e.ends_at})),
        ));
    }
    Ok(())
}

/// Checks `amount` against every limit of its kind; `used(period)` is what already counts in
/// that window. The strictest limit decides: the one with the least room left is reported.
pub fn check(
    limits: &[Limit],
    kind: LimitKind,
    amount: i64,
    now: DateTime<Utc>,
    used: impl Fn(Period) -> i64,
) -> Result<(), LimitExceeded> {
    let mut worst: Option<LimitExceeded> = None;
    for l in limits.iter().filter(|l| l.kind == kind) {
        let Some(limit) = l.in_force(now) else {
            continue;
        };
        let spent = used(l.period);
        if spent.saturating_add(amount) > limit {
            let room = limit.saturating_sub(spent);
            if worst
                .as_ref()
                .is_none_or(|w| room < w.limit.saturating_sub(w.used))
            {
                worst = Some(LimitExceeded {
                    kind,
                    period: l.period,
                    limit,
                    used: spent,
                });
            }
        }
    }
    worst.map_or(Ok(()), Err)
}

/// A customer's chosen break from gambling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionKind {
    TimeOut,
    SelfExclusion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exclusion {
    pub kind: ExclusionKind,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl Exclusion {
    /// A time-out of 24 hours, a week, a month (30 days) or any number of days up to six
    /// weeks.
    pub fn time_out(days: u32, now: DateTime<Utc>) -> Result<Self, DomainError> {
        if days == 0 || days > 42 {
            return Err(DomainError::invalid(
                "days",
                "a time-out is 1 day to 6 weeks (42 days); longer breaks are self-exclusion",
            ));
        }
        Ok(Self {
            kind: ExclusionKind::TimeOut,
            starts_at: now,
            ends_at: now + Duration::days(i64::from(days)),
        })
    }

    /// Self-exclusion: at least six months, effective at once.
    pub fn self_exclusion(months: u32, now: DateTime<Utc>) -> Result<Self, DomainError> {
        if !(6..=60).contains(&months) {
            return Err(DomainError::invalid(
                "months",
                "self-exclusion is 6 months to 5 years",
            ));
        }
        let ends_at = now
            .checked_add_months(chrono::Months::new(months))
            .ok_or_else(|| DomainError::invalid("months", "too far ahead"))?;
        Ok(Self {
            kind: ExclusionKind::SelfExclusion,
            starts_at: now,
            ends_at,
        })
    }

    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// Whether the customer may end it now: never while it runs (that is the point), and a
    /// self-exclusion not at all before its end.
    pub fn customer_may_lift(&self, now: DateTime<Utc>) -> bool {
        !self.is_active(now)
    }

    /// A new break may only lengthen one in force, never shorten it.
    pub fn extend(&self, next: Exclusion) -> Result<Exclusion, DomainError> {
        if next.ends_at < self.ends_at {
            return Err(DomainError::invalid(
                "ends",
                "a break in force can be lengthened, not shortened",
            ));
        }
        let kind = if self.kind == ExclusionKind::SelfExclusion {
            ExclusionKind::SelfExclusion
        } else {
            next.kind
        };
        Ok(Exclusion {
            kind,
            starts_at: self.starts_at,
            ends_at: next.ends_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn lowering_is_immediate_raising_waits_a_day() {
        let l = Limit::none(LimitKind::Deposit, Period::Day)
            .request(Some(10_000), t0())
            .unwrap();
        assert_eq!(
            l.in_force(t0()),
            Some(10_000),
            "a first limit applies at once"
        );
        let l = l.request(Some(5_000), t0()).unwrap();
        assert_eq!(l.in_force(t0()), Some(5_000));
        let l = l.request(Some(20_000), t0()).unwrap();
        assert_eq!(l.in_force(t0() + Duration::hours(23)), Some(5_000));
        assert_eq!(l.in_force(t0() + Duration::hours(24)), Some(20_000));
        // Lowering during a cooling-off cancels the pending raise.
        let l = l.request(Some(4_000), t0() + Duration::hours(1)).unwrap();
        assert_eq!(l.in_force(t0() + Duration::days(3)), Some(4_000));
        // Removing a limit is a raise.
        let l = l.request(None, t0() + Duration::hours(2)).unwrap();
        assert_eq!(l.in_force(t0() + Duration::hours(25)), Some(4_000));
        assert_eq!(l.in_force(t0() + Duration::hours(26)), None);
        assert!(
            Limit::none(LimitKind::Stake, Period::Week)
                .request(Some(0), t0())
                .is_err()
        );
    }

    #[test]
    fn the_strictest_limit_decides() {
        let now = t0();
        let limits = vec![
            Limit::none(LimitKind::Stake, Period::Day)
                .request(Some(1_000), now)
                .unwrap(),
            Limit::none(LimitKind::Stake, Period::Week)
                .request(Some(3_000), now)
                .unwrap(),
            Limit::none(LimitKind::Deposit, Period::Day)
                .request(Some(10), now)
                .unwrap(),
        ];
        let used = |p: Period| match p {
            Period::Day => 200,
            Period::Week => 2_900,
            Period::Month => 0,
        };
        assert_eq!(check(&limits, LimitKind::Stake, 100, now, used), Ok(()));
        let err = check(&limits, LimitKind::Stake, 150, now, used).unwrap_err();
        assert_eq!(
            (err.period, err.limit, err.used),
            (Period::Week, 3_000, 2_900)
        );
        let err = check(&limits, LimitKind::Stake, 900, now, used).unwrap_err();
        assert_eq!(
            err.period,
            Period::Week,
            "100 left a week beats 800 left a day"
        );
        assert_eq!(
            check(&limits, LimitKind::Loss, 1_000_000, now, used),
            Ok(())
        );
    }

    #[test]
    fn breaks() {
        let now = t0();
        assert!(Exclusion::time_out(0, now).is_err());
        assert!(Exclusion::time_out(43, now).is_err());
        let t = Exclusion::time_out(1, now).unwrap();
        assert!(t.is_active(now) && !t.is_active(now + Duration::hours(24)));
        assert!(!t.customer_may_lift(now + Duration::hours(23)));
        assert!(Exclusion::self_exclusion(5, now).is_err());
        let s = Exclusion::self_exclusion(6, now).unwrap();
        assert_eq!(
            s.ends_at,
            "2027-05-23T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(s.is_active(now + Duration::days(180)));
        assert!(!s.customer_may_lift(now + Duration::days(100)));
        assert!(s.customer_may_lift(s.ends_at));
        assert!(s.extend(t).is_err(), "never shortened");
        let longer = s
            .extend(Exclusion::self_exclusion(12, now).unwrap())
            .unwrap();
        assert_eq!(longer.kind, ExclusionKind::SelfExclusion);
        let t2 = t.extend(Exclusion::time_out(7, now).unwrap()).unwrap();
        assert_eq!(t2.ends_at, now + Duration::days(7));
    }

    proptest! {
        /// Whatever a customer asks for and whenever, right after the request the limit in
        /// force is the stricter of the one before and the one asked for: a raise never
        /// applies at once.
        #[test]
        fn raises_never_beat_the_cooling_off(
            steps in proptest::collection::vec((0i64..48, proptest::option::of(1i64..10_000)), 1..30)
        ) {
            let mut l = Limit::none(LimitKind::Loss, Period::Month);
            let mut now = t0();
            for (hours, amount) in steps {
                now += Duration::hours(hours);
                let before = l.in_force(now);
                l = l.request(amount, now).unwrap();
                let after = l.in_force(now);
                // Right after a request, the limit is the stricter of the old and the new.
                let stricter = match (before, amount) {
                    (Some(b), Some(a)) => Some(b.min(a)),
                    (None, a) => a,
                    (b, None) => b,
                };
                prop_assert_eq!(after, stricter);
            }
        }
    }
}

/// A customer's limits and break, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponsibleGambling {
    pub user_id: uuid::Uuid,
    pub limits: Vec<Limit>,
    pub exclusion: Option<Exclusion>,
    pub updated_at: DateTime<Utc>,
}

impl ResponsibleGambling {
    pub fn new(user_id: uuid::Uuid, now: DateTime<Utc>) -> Self {
        Self {
            user_id,
            limits: Vec::new(),
            exclusion: None,
            updated_at: now,
        }
    }

    /// The break in force at `now`, if any.
    pub fn active_exclusion(&self, now: DateTime<Utc>) -> Option<&Exclusion> {
        self.exclusion.as_ref().filter(|e| e.is_active(now))
    }

    /// Sets (or with `None` removes) one limit under the cooling-off rule.
    pub fn request_limit(
        &mut self,
        kind: LimitKind,
        period: Period,
        amount: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let i = match self
            .limits
            .iter()
            .position(|l| l.kind == kind && l.period == period)
        {
            Some(i) => i,
            None => {
                self.limits.push(Limit::none(kind, period));
                self.limits.len() - 1
            }
        };
        self.limits[i] = self.limits[i].clone().request(amount, now)?;
        self.limits
            .retain(|l| l.amount.is_some() || l.pending.is_some());
        self.updated_at = now;
        Ok(())
    }

    /// Starts a break, or lengthens the one in force (never shortens it).
    pub fn take_break(&mut self, next: Exclusion, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.exclusion = Some(match self.active_exclusion(now) {
            Some(current) => current.extend(next)?,
            None => next,
        });
        self.updated_at = now;
        Ok(())
    }
}
