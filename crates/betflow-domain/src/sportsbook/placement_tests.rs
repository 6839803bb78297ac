//! The placement decision without a database: refusals with their codes, what an accepted
//! bet writes, and properties over random stakes, balances and limits.

use std::time::Duration as StdDuration;

use chrono::{Duration, TimeZone};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::sportsbook::bets::{BetType, OddsChangePolicy, SlipLeg};
use crate::sportsbook::catalog::{EventStatus, MarketStatus, MarketType};
use crate::sportsbook::limits::{Exclusion, Limit};
use crate::sportsbook::odds::Odds;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// One open pre-match selection at `odds` (hundredths), its market and its event.
struct Book {
    selections: Vec<Selection>,
    markets: Vec<Market>,
    events: Vec<Fixture>,
}

impl Book {
    fn new(odds: i64) -> Self {
        let at = now();
        let event = Fixture {
            id: Uuid::now_v7(),
            sport_id: Uuid::now_v7(),
            league_id: None,
            home_team_id: Uuid::now_v7(),
            away_team_id: Uuid::now_v7(),
            start_time: at + Duration::hours(2),
            status: EventStatus::Scheduled,
            period: None,
            clock: None,
            home_score: 0,
            away_score: 0,
            venue: None,
            metadata: json!({}),
            created_at: at,
            updated_at: at,
        };
        let market = Market {
            id: Uuid::now_v7(),
            event_id: event.id,
            market_type: MarketType::Moneyline,
            name: "Match winner".into(),
            description: None,
            handicap: None,
            total_points: None,
            is_active: true,
            status: MarketStatus::Open,
            in_play: true,
            rules: json!({}),
            settlement_rules: json!({}),
            created_at: at,
            updated_at: at,
            settled_at: None,
        };
        let selection = Selection {
            id: Uuid::now_v7(),
            market_id: market.id,
            name: "Home".into(),
            short_name: None,
            odds: Odds::from_store(Decimal::new(odds, 2)),
            probability: None,
            is_active: true,
            metadata: json!({}),
            created_at: at,
            updated_at: at,
        };
        Self {
            selections: vec![selection],
            markets: vec![market],
            events: vec![event],
        }
    }

    fn legs(&self) -> Legs<'_> {
        Legs {
            selections: &self.selections,
            markets: &self.markets,
            events: &self.events,
        }
    }

    /// A single on the book's selection at its current odds.
    fn slip(&self, stake: i64) -> BetSlip {
        BetSlip {
            bet_type: BetType::Single,
            stake,
            legs: vec![SlipLeg {
                selection_id: self.selections[0].id,
                odds: self.selections[0].odds,
            }],
            odds_change_policy: OddsChangePolicy::None,
        }
    }
}

fn settings() -> BetSettings {
    BetSettings {
        min_stake: 100,
        max_stake: 10_000_000,
        max_payout: 1_000_000_000,
        in_play_delay: StdDuration::from_secs(5),
    }
}

fn wallet(balance: i64) -> Balances {
    Balances {
        user_id: Uuid::now_v7(),
        currency_code: "USD".into(),
        balance,
        bonus_balance: 0,
        pending_balance: 0,
        last_updated: None,
    }
}

fn place(
    book: &Book,
    slip: &BetSlip,
    before: &Balances,
    rg: Option<&ResponsibleGambling>,
    usage: &[(Period, (i64, i64))],
) -> Result<Option<Placement>, PlacementError> {
    decide(
        &settings(),
        slip,
        now(),
        false,
        &Actor::default(),
        &book.legs(),
        (before, rg),
        usage,
    )
}

/// The refusal's code, or a panic naming what came instead.
fn code(r: Result<Option<Placement>, PlacementError>) -> &'static str {
    match r {
        Err(PlacementError::Refused(r)) => r.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_accepted_bet_holds_its_stake_and_debits_it_once() {
    let book = Book::new(250);
    let before = wallet(5_000);
    let p = place(&book, &book.slip(1_000), &before, None, &[])
        .unwrap()
        .expect("pre-match: no delay");
    assert_eq!(p.bet.status, BetStatus::Accepted);
    assert_eq!(p.bet.stake, 1_000);
    assert_eq!(p.bet.potential_win, 2_500);
    assert_eq!(p.bet.user_id, before.user_id);
    assert_eq!(p.bet.legs.len(), 1);
    assert_eq!(p.bet.legs[0].selection_name.as_deref(), Some("Home"));
    assert_eq!(p.debit.tx_type, TransactionType::BetDebit);
    assert_eq!(p.debit.related_bet_id, Some(p.bet.id));
    assert_eq!(p.hold.transaction_id, Some(p.debit.id));
    assert_eq!(p.hold.bet_id, Some(p.bet.id));
    assert_eq!(p.audit.record_id, p.bet.id);
    assert_eq!(
        p.audit.new_values.as_ref().unwrap()["balance"],
        json!(4_000)
    );
    assert!(
        p.events.is_empty(),
        "the live-sportsbook issue fills the slot"
    );
}

#[test]
fn a_missing_selection_is_not_found_naming_the_leg() {
    let book = Book::new(250);
    let mut slip = book.slip(1_000);
    slip.legs[0].selection_id = Uuid::now_v7();
    match place(&book, &slip, &wallet(5_000), None, &[]) {
        Err(PlacementError::Refused(r)) => {
            assert_eq!((r.kind, r.code), (RefusalKind::NotFound, "NOT_FOUND"));
            assert_eq!(r.message, "no such selection (1 of the legs)");
            assert_eq!(
                r.details,
                Some(json!([{"field": "legs[0].selectionId", "message": "no such selection"}]))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_customer_on_a_break_is_refused_before_anything_else() {
    let book = Book::new(250);
    let mut rg = ResponsibleGambling::new(Uuid::now_v7(), now());
    rg.take_break(Exclusion::time_out(1, now()).unwrap(), now())
        .unwrap();
    let mut slip = book.slip(1_000);
    slip.legs[0].selection_id = Uuid::now_v7(); // would be NOT_FOUND
    match place(&book, &slip, &wallet(0), Some(&rg), &[]) {
        Err(PlacementError::Refused(r)) => {
            assert_eq!((r.kind, r.code), (RefusalKind::Forbidden, "SELF_EXCLUDED"));
            assert_eq!(r.message, "you are taking a time-out");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn moved_odds_conflict_and_an_in_play_bet_waits_once() {
    let mut book = Book::new(250);
    let slip = book.slip(1_000);
    book.selections[0].odds = Odds::from_store(Decimal::new(240, 2));
    match place(&book, &slip, &wallet(5_000), None, &[]) {
        Err(PlacementError::Refused(r)) => {
            assert_eq!((r.kind, r.code), (RefusalKind::Conflict, "ODDS_CHANGED"));
        }
        other => panic!("{other:?}"),
    }
    let mut live = Book::new(250);
    live.events[0].status = EventStatus::Live;
    live.events[0].start_time = now() - Duration::minutes(10);
    let slip = live.slip(1_000);
    let before = wallet(5_000);
    assert!(place(&live, &slip, &before, None, &[]).unwrap().is_none());
    let waited = decide(
        &settings(),
        &slip,
        now(),
        true,
        &Actor::default(),
        &live.legs(),
        (&before, None),
        &[],
    );
    assert!(waited.unwrap().is_some(), "placed once the delay is over");
}

#[test]
fn a_stake_limit_counts_what_was_staked_in_the_period() {
    let book = Book::new(200);
    let mut rg = ResponsibleGambling::new(Uuid::now_v7(), now());
    rg.request_limit(LimitKind::Stake, Period::Day, Some(5_000), now())
        .unwrap();
    let day = [(Period::Day, (4_500, 0))];
    match place(&book, &book.slip(1_000), &wallet(50_000), Some(&rg), &day) {
        Err(PlacementError::Refused(r)) => {
            assert_eq!(
                (r.kind, r.code),
                (RefusalKind::Unprocessable, "LIMIT_EXCEEDED")
            );
            assert_eq!(
                r.message,
                "this would pass your stake limit for the last 24 hours"
            );
            assert_eq!(
                r.details,
                Some(json!({"kind": "stake", "period": "day", "limit": 5_000, "used": 4_500}))
            );
        }
        other => panic!("{other:?}"),
    }
    let room = [(Period::Day, (4_000, 0))];
    assert!(
        place(&book, &book.slip(1_000), &wallet(50_000), Some(&rg), &room)
            .unwrap()
            .is_some()
    );
}

#[test]
fn the_insufficient_funds_refusal_names_balance_and_stake() {
    let book = Book::new(250);
    match place(&book, &book.slip(1_000), &wallet(999), None, &[]) {
        Err(PlacementError::Refused(r)) => {
            assert_eq!(r.kind, RefusalKind::Unprocessable);
            assert_eq!(r.code, "INSUFFICIENT_FUNDS");
            assert_eq!(r.message, "the balance does not cover the stake");
            assert_eq!(r.details, Some(json!({"balance": 999, "stake": 1_000})));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_bet_rule_refusal_has_the_kind_its_code_calls_for() {
    for code in RejectCode::ALL {
        let r = refusal(Rejection::new(*code, "why"));
        let kind = match code {
            RejectCode::OddsChanged => RefusalKind::Conflict,
            RejectCode::SelfExcluded => RefusalKind::Forbidden,
            _ => RefusalKind::Unprocessable,
        };
        assert_eq!((r.kind, r.code), (kind, code.as_str()));
    }
}

proptest! {
    /// A stake over the balance is always refused with INSUFFICIENT_FUNDS, and nothing is
    /// decided to be written; a stake the balance covers is accepted, and its ledger rows
    /// balance: the debit, the hold and the audit's balances all move exactly the stake.
    #[test]
    fn the_balance_decides_and_an_accepted_bet_balances(
        balance in 0i64..2_000_000,
        stake in 100i64..2_000_000,
        odds in 101i64..2_000,
        pending in 0i64..1_000_000,
    ) {
        let book = Book::new(odds);
        let mut before = wallet(balance);
        before.pending_balance = pending;
        let r = place(&book, &book.slip(stake), &before, None, &[]);
        if stake > balance {
            prop_assert_eq!(code(r), "INSUFFICIENT_FUNDS");
        } else {
            let p = r.unwrap().unwrap();
            prop_assert_eq!(p.debit.amount, stake);
            prop_assert_eq!(p.debit.net_amount, stake);
            prop_assert_eq!(p.debit.fees, 0);
            prop_assert_eq!(p.hold.amount, stake);
            prop_assert_eq!(&p.hold.from.currency, &p.hold.to.currency);
            prop_assert_eq!(p.hold.from.owner, before.user_id);
            prop_assert_eq!(p.hold.to.owner, before.user_id);
            let (old, new) = (p.audit.old_values.unwrap(), p.audit.new_values.unwrap());
            let total = |v: &serde_json::Value| {
                v["balance"].as_i64().unwrap() + v["pendingBalance"].as_i64().unwrap()
            };
            prop_assert_eq!(total(&old), total(&new), "the hold moves money, never makes it");
            prop_assert_eq!(new["balance"].as_i64().unwrap(), balance - stake);
            prop_assert_eq!(
                p.bet.potential_win,
                bets::returns(stake, Decimal::new(odds, 2)).unwrap()
            );
        }
    }

    /// Stake and loss limits are respected: a bet is accepted only if, for every limit in
    /// force, what was used in its period plus the stake stays within it.
    #[test]
    fn limits_are_respected(
        stake in 100i64..100_000,
        limits in proptest::collection::vec(
            (prop_oneof![Just(LimitKind::Stake), Just(LimitKind::Loss)],
             prop_oneof![Just(Period::Day), Just(Period::Week), Just(Period::Month)],
             0i64..200_000),
            0..4),
        used in proptest::collection::vec((0i64..150_000, -50_000i64..150_000), 3),
    ) {
        let book = Book::new(190);
        let mut rg = ResponsibleGambling::new(Uuid::now_v7(), now());
        for (kind, period, amount) in &limits {
            rg.limits.retain(|l| !(l.kind == *kind && l.period == *period));
            let mut l = Limit::none(*kind, *period);
            l.amount = Some(*amount);
            rg.limits.push(l);
        }
        let usage: Vec<_> = [Period::Day, Period::Week, Period::Month]
            .into_iter()
            .zip(used.iter().copied())
            .collect();
        let within = rg.limits.iter().all(|l| {
            let u = usage.iter().find(|(p, _)| *p == l.period).unwrap().1;
            let spent = if l.kind == LimitKind::Stake { u.0 } else { u.1 };
            spent + stake <= l.amount.unwrap()
        });
        let r = place(&book, &book.slip(stake), &wallet(1_000_000), Some(&rg), &usage);
        if within {
            prop_assert!(r.unwrap().is_some());
        } else {
            prop_assert_eq!(code(r), "LIMIT_EXCEEDED");
        }
    }
}
