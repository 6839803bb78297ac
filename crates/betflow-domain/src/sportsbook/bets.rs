//! Bets: what may be placed (every check of seed 002's check_bet_placement and more, each with
//! a stable rejection code) and what a settled bet returns.
//!
//! Pure: the engine gathers the locked rows and asks these functions; the same rules are
//! property-tested here without a database.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::catalog::{Event, EventStatus, Market, MarketStatus, Selection};
use super::odds::Odds;
use crate::DomainError;

string_enum!(
    /// The seed's bet_type; `system` bets are not offered.
    BetType { Single = "single", Parlay = "parlay" }
);

string_enum!(
    /// The seed's bet_status. Placed bets are `accepted`; settlement ends in one of the
    /// `settled_*` states or `voided`.
    BetStatus {
        Pending = "pending",
        Accepted = "accepted",
        Rejected = "rejected",
        SettledWin = "settled_win",
        SettledLoss = "settled_loss",
        SettledPush = "settled_push",
        Cancelled = "cancelled",
        Voided = "voided",
    }
);

impl BetStatus {
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Accepted)
    }
}

string_enum!(
    /// The seed's selection_result.
    LegResult { Win = "win", Loss = "loss", Push = "push", Void = "void" }
);

string_enum!(
    /// What to do when the offered odds moved since the customer saw them.
    OddsChangePolicy { None = "none", Higher = "higher", Any = "any" }
);

string_enum!(
    /// Stable codes a refused bet carries; clients switch on them.
    RejectCode {
        InsufficientFunds = "INSUFFICIENT_FUNDS",
        MarketSuspended = "MARKET_SUSPENDED",
        MarketClosed = "MARKET_CLOSED",
        EventStarted = "EVENT_STARTED",
        SelectionInactive = "SELECTION_INACTIVE",
        OddsChanged = "ODDS_CHANGED",
        StakeTooLow = "STAKE_TOO_LOW",
        StakeTooHigh = "STAKE_TOO_HIGH",
        MaxPayoutExceeded = "MAX_PAYOUT_EXCEEDED",
        LimitExceeded = "LIMIT_EXCEEDED",
        SelfExcluded = "SELF_EXCLUDED",
        DuplicateEventInParlay = "DUPLICATE_EVENT_IN_PARLAY",
    }
);

/// A refused bet: the code, a sentence for people, and details (the current odds for
/// `ODDS_CHANGED`, the limit for `LIMIT_EXCEEDED`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub code: RejectCode,
    pub message: String,
    pub details: Option<Value>,
}

impl Rejection {
    pub fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// House rules for stakes and payouts, in minor units of the bet's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BetSettings {
    pub min_stake: i64,
    pub max_stake: i64,
    /// The most one bet may return (stake included).
    pub max_payout: i64,
    /// How long an in-play bet waits before it is checked and accepted, so a customer who
    /// sees the match before the trader cannot take stale odds.
    pub in_play_delay: std::time::Duration,
}

impl Default for BetSettings {
    fn default() -> Self {
        Self {
            min_stake: 100,
            max_stake: 1_000_000,
            max_payout: 100_000_000,
            in_play_delay: std::time::Duration::from_secs(5),
        }
    }
}

pub const MAX_PARLAY_LEGS: usize = 12;

/// A bet as the customer asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct BetSlip {
    pub bet_type: BetType,
    pub stake: i64,
    pub legs: Vec<SlipLeg>,
    pub odds_change_policy: OddsChangePolicy,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlipLeg {
    pub selection_id: Uuid,
    /// The decimal odds the customer saw, checked by [`Odds`]'s one rule on the way in.
    pub odds: Odds,
}

impl BetSlip {
    /// The shape checks, all reported at once (400s, not rejections).
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut v = Vec::new();
        match (self.bet_type, self.legs.len()) {
            (BetType::Single, 1) => {}
            (BetType::Single, _) => v.push(crate::Violation::new(
                "legs",
                "a single bet has exactly one leg",
            )),
            (BetType::Parlay, n) if (2..=MAX_PARLAY_LEGS).contains(&n) => {}
            (BetType::Parlay, _) => v.push(crate::Violation::new(
                "legs",
                format!("a parlay has 2 to {MAX_PARLAY_LEGS} legs"),
            )),
        }
        if self.stake <= 0 {
            v.push(crate::Violation::new(
                "stake",
                "must be a positive whole number of minor units (cents)",
            ));
        }
        let mut seen = HashSet::new();
        for (i, leg) in self.legs.iter().enumerate() {
            if !seen.insert(leg.selection_id) {
                v.push(crate::Violation::new(
                    format!("legs[{i}].selectionId"),
                    "the same selection twice",
                ));
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(v))
        }
    }
}

/// What a leg stands on, as read (and locked) in the placing transaction.
#[derive(Debug, Clone, Copy)]
pub struct LegState<'a> {
    pub selection: &'a Selection,
    pub market: &'a Market,
    pub event: &'a Event,
}

/// A leg's price at acceptance.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedLeg {
    pub selection_id: Uuid,
    pub market_id: Uuid,
    pub event_id: Uuid,
    pub odds: Decimal,
}

/// An accepted slip, priced.
#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    pub legs: Vec<PricedLeg>,
    pub total_odds: Decimal,
    pub potential_win: i64,
    /// Whether a leg is in play, so the in-play delay applies.
    pub in_play: bool,
}

/// What a stake returns at these odds: rounded down to the minor unit, in the house's favour
/// by at most one cent, so payouts never create money.
pub fn returns(stake: i64, odds: Decimal) -> Option<i64> {
    (Decimal::from(stake).checked_mul(odds)?).floor().to_i64()
}

/// Checks a slip against the market as it stands, in the order a customer would want to
/// hear about problems (the first found is reported), and prices it. The balance, limits and
/// exclusions are the engine's to check after this.
pub fn price(
    slip: &BetSlip,
    states: &[LegState<'_>],
    settings: &BetSettings,
    now: DateTime<Utc>,
) -> Result<Priced, Rejection> {
    debug_assert_eq!(slip.legs.len(), states.len());
    if slip.bet_type == BetType::Parlay {
        let mut events = HashSet::new();
        for s in states {
            if !events.insert(s.event.id) {
                return Err(Rejection::new(
                    RejectCode::DuplicateEventInParlay,
                    "a parlay cannot have two legs from the same event",
                )
                .with(json!({"eventId": s.event.id})));
            }
        }
    }
    let mut legs = Vec::with_capacity(states.len());
    let mut in_play = false;
    let mut changed = Vec::new();
    for (leg, s) in slip.legs.iter().zip(states) {
        let leg_in_play = check_open(s, now)?;
        in_play |= leg_in_play;
        let current = s.selection.odds.get();
        let accept = match slip.odds_change_policy {
            OddsChangePolicy::None => current == leg.odds.get(),
            OddsChangePolicy::Higher => current >= leg.odds.get(),
            OddsChangePolicy::Any => true,
        };
        if !accept {
            changed.push(json!({"selectionId": s.selection.id,
                       "requestedOdds": super::odds::canonical(leg.odds.get()),
                       "currentOdds": s.selection.odds}));
        }
        legs.push(PricedLeg {
            selection_id: s.selection.id,
            market_id: s.market.id,
            event_id: s.event.id,
            odds: current,
        });
    }
    if !changed.is_empty() {
        return Err(Rejection::new(
            RejectCode::OddsChanged,
            "the odds have changed; confirm the current odds to place the bet",
        )
        .with(json!({ "legs": changed })));
    }
    if slip.stake < settings.min_stake {
        return Err(
            Rejection::new(RejectCode::StakeTooLow, "the stake is below the minimum")
                .with(json!({"minStake": settings.min_stake})),
        );
    }
    if slip.stake > settings.max_stake {
        return Err(
            Rejection::new(RejectCode::StakeTooHigh, "the stake is above the maximum")
                .with(json!({"maxStake": settings.max_stake})),
        );
    }
    let total_odds = legs
        .iter()
        .try_fold(Decimal::ONE, |acc, l| acc.checked_mul(l.odds));
    let potential = total_odds.and_then(|o| returns(slip.stake, o).map(|p| (o, p)));
    match potential {
        Some((total_odds, potential_win)) if potential_win <= settings.max_payout => Ok(Priced {
            legs,
            total_odds,
            potential_win,
            in_play,
        }),
        _ => Err(Rejection::new(
            RejectCode::MaxPayoutExceeded,
            "the potential payout is above the maximum",
        )
        .with(json!({"maxPayout": settings.max_payout}))),
    }
}

/// Whether a leg's selection can be bet on now; `Ok(true)` when it is in play.
fn check_open(s: &LegState<'_>, now: DateTime<Utc>) -> Result<bool, Rejection> {
    let id = json!({"selectionId": s.selection.id, "marketId": s.market.id});
    match s.market.status {
        MarketStatus::Open if s.market.is_active => {}
        MarketStatus::Suspended => {
            return Err(
                Rejection::new(RejectCode::MarketSuspended, "the market is suspended").with(id),
            );
        }
        _ => {
            return Err(Rejection::new(RejectCode::MarketClosed, "the market is closed").with(id));
        }
    }
    let in_play = match s.event.status {
        EventStatus::Scheduled if s.event.start_time > now => false,
        status if status.is_live() && s.market.in_play => true,
        EventStatus::Suspended => {
            return Err(
                Rejection::new(RejectCode::MarketSuspended, "the event is suspended").with(id),
            );
        }
        EventStatus::Postponed | EventStatus::Cancelled => {
            return Err(Rejection::new(
                RejectCode::MarketClosed,
                "the event will not be played as scheduled",
            )
            .with(id));
        }
        _ => {
            return Err(Rejection::new(RejectCode::EventStarted, "the event has started").with(id));
        }
    };
    if !s.selection.is_active {
        return Err(Rejection::new(
            RejectCode::SelectionInactive,
            "the selection is not available",
        )
        .with(id));
    }
    Ok(in_play)
}

/// A settled bet: its final status and what it returns (stake included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: BetStatus,
    pub payout: i64,
}

/// Settles a bet from its legs' results, or `None` while a leg is open (a parlay settles when
/// its last leg does). A void or push leg counts as odds 1.0; any lost leg loses the bet; a
/// bet whose every leg is void is voided and refunded, one with only pushes and voids is a
/// push.
pub fn outcome(stake: i64, legs: &[(Decimal, Option<LegResult>)]) -> Option<Outcome> {
    let mut odds = Decimal::ONE;
    let mut lost = false;
    let mut won = false;
    let mut pushed = false;
    for (leg_odds, result) in legs {
        match (*result)? {
            LegResult::Win => {
                won = true;
                odds = odds.checked_mul(*leg_odds)?;
            }
            LegResult::Loss => lost = true,
            LegResult::Push => pushed = true,
            LegResult::Void => {}
        }
    }
    Some(if lost {
        Outcome {
            status: BetStatus::SettledLoss,
            payout: 0,
        }
    } else if won {
        Outcome {
            status: BetStatus::SettledWin,
            payout: returns(stake, odds)?,
        }
    } else if pushed {
        Outcome {
            status: BetStatus::SettledPush,
            payout: stake,
        }
    } else {
        Outcome {
            status: BetStatus::Voided,
            payout: stake,
        }
    })
}

/// A placed bet with its legs (the seed's bets and bet_selections). Money in minor units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bet {
    pub id: Uuid,
    pub user_id: Uuid,
    #[serde(rename = "type")]
    pub bet_type: BetType,
    pub status: BetStatus,
    pub stake: i64,
    #[serde(with = "super::odds::text")]
    pub total_odds: Decimal,
    pub potential_win: i64,
    pub actual_win: i64,
    pub currency_code: String,
    pub placed_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    pub metadata: Value,
    pub legs: Vec<BetLeg>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BetLeg {
    pub id: Uuid,
    pub bet_id: Uuid,
    pub selection_id: Uuid,
    pub market_id: Uuid,
    pub event_id: Uuid,
    #[serde(with = "super::odds::text")]
    pub odds: Decimal,
    pub result: Option<LegResult>,
    pub settled_at: Option<DateTime<Utc>>,
    /// The selection's name, for history listings (get_user_betting_history).
    pub selection_name: Option<String>,
}

impl Bet {
    pub fn outcome(&self) -> Option<Outcome> {
        let legs: Vec<_> = self.legs.iter().map(|l| (l.odds, l.result)).collect();
        outcome(self.stake, &legs)
    }
}

/// Filters for reading bets.
#[derive(Debug, Clone, Default)]
pub struct BetFilter {
    /// `None`: everyone's (operators).
    pub user_id: Option<Uuid>,
    pub status: Option<BetStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub page: crate::PageRequest,
}

/// Open stakes and liabilities on one selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectionExposure {
    pub selection_id: Uuid,
    pub market_id: Uuid,
    pub open_bets: i64,
    /// Stakes of open bets with a leg on this selection.
    pub stakes: i64,
    /// What those bets return if every leg wins (the worst case for the house).
    pub potential_payout: i64,
    /// `potentialPayout` minus the stakes of open bets on the whole market: what the house
    /// loses if this selection wins (negative: what it keeps).
    pub net_liability: i64,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros_free::dec;

    use super::*;

    mod rust_decimal_macros_free {
        macro_rules! dec {
            ($s:literal) => {
                <rust_decimal::Decimal as std::str::FromStr>::from_str($s).unwrap()
            };
        }
        pub(crate) use dec;
    }

    fn result() -> impl Strategy<Value = LegResult> {
        prop_oneof![
            Just(LegResult::Win),
            Just(LegResult::Loss),
            Just(LegResult::Push),
            Just(LegResult::Void)
        ]
    }

    #[test]
    fn a_single_returns_stake_times_odds_rounded_down() {
        assert_eq!(returns(1_000, dec!("2.5")), Some(2_500));
        assert_eq!(returns(333, dec!("1.91")), Some(636)); // 636.03
        let o = outcome(1_000, &[(dec!("1.91"), Some(LegResult::Win))]).unwrap();
        assert_eq!(o.payout, 1_910);
        assert_eq!(o.status, BetStatus::SettledWin);
    }

    #[test]
    fn a_parlay_treats_void_and_push_legs_as_evens() {
        let legs = [
            (dec!("2.0"), Some(LegResult::Win)),
            (dec!("3.0"), Some(LegResult::Void)),
            (dec!("1.5"), Some(LegResult::Push)),
        ];
        assert_eq!(
            outcome(1_000, &legs),
            Some(Outcome {
                status: BetStatus::SettledWin,
                payout: 2_000
            })
        );
        let open = [(dec!("2.0"), Some(LegResult::Loss)), (dec!("2.0"), None)];
        assert_eq!(outcome(1_000, &open), None, "settles with its last leg");
        let void = [
            (dec!("2.0"), Some(LegResult::Void)),
            (dec!("2.0"), Some(LegResult::Void)),
        ];
        assert_eq!(outcome(1_000, &void).unwrap().status, BetStatus::Voided);
    }

    proptest! {
        /// Payouts follow the rules: nothing for a loss, the stake back for all-push/void,
        /// otherwise the stake times the product of the winning legs' odds, rounded down.
        #[test]
        fn outcome_pays_by_the_rules(
            stake in 1i64..10_000_000,
            legs in proptest::collection::vec((101u32..500, result()), 1..=12),
        ) {
            let legs: Vec<_> = legs.into_iter()
                .map(|(o, r)| (Decimal::new(i64::from(o), 2), Some(r)))
                .collect();
            let o = outcome(stake, &legs).unwrap();
            let lost = legs.iter().any(|(_, r)| *r == Some(LegResult::Loss));
            let product: Decimal = legs.iter()
                .filter(|(_, r)| *r == Some(LegResult::Win))
                .map(|(o, _)| *o)
                .product();
            if lost {
                prop_assert_eq!(o.payout, 0);
            } else {
                prop_assert_eq!(o.payout, returns(stake, product).unwrap());
                prop_assert!(o.payout >= stake);
            }
        }
    }
}
