//! The sportsbook catalog on both backends: round trips, constraints, filters, full-text
//! search, market counts and price history.

use std::str::FromStr;

use betflow_domain::PageRequest;
use betflow_domain::sportsbook::catalog::{
    EventFilter, EventStatus, League, MarketType, PriceChange,
};
use betflow_domain::sportsbook::odds::Odds;
use betflow_domain::time::now;
use betflow_store::StoreError;
use betflow_store::testing::TestDb;
use chrono::Duration;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use crate::common::{event, market, selection, sport, team};

betflow_store::conformance!(
    catalog_round_trips_and_constraints,
    events_filter_search_and_count_markets,
    retired_entities_stay_but_leave_lists,
);

async fn catalog_round_trips_and_constraints(db: TestDb) {
    let s = sport("football");
    let t = now();
    let league = League {
        id: Uuid::now_v7(),
        sport_id: s.id,
        name: "Premier League".into(),
        display_name: "English Premier League".into(),
        slug: "premier-league".into(),
        country_code: Some("GB".into()),
        season: Some("2026/27".into()),
        is_active: true,
        sort_order: 1,
        configuration: json!({"tier": 1}),
        created_at: t,
        updated_at: t,
    };
    let home = team(s.id, Some(league.id), "Arsenal", "London");
    let away = team(s.id, Some(league.id), "Chelsea", "London");
    let e = event(s.id, Some(league.id), home.id, away.id, 24);
    let m = market(e.id, MarketType::PointSpread, Some("-1.5"));
    let sel = selection(m.id, "Arsenal -1.5", "1.8500");

    let mut tx = db.store.begin().await.unwrap();
    assert!(tx.save_sport(&s, false).await.unwrap());
    tx.save_league(&league, false).await.unwrap();
    tx.save_team(&home, false).await.unwrap();
    tx.save_team(&away, false).await.unwrap();
    tx.save_event(&e, false).await.unwrap();
    tx.save_market(&m, false).await.unwrap();
    tx.save_selection(&sel, false).await.unwrap();
    tx.commit().await.unwrap();

    let st = &db.store;
    assert_eq!(st.get_sport(s.id).await.unwrap().unwrap().slug, "football");
    assert_eq!(st.get_league(league.id).await.unwrap().unwrap(), league);
    assert_eq!(st.get_team(home.id).await.unwrap().unwrap(), home);
    assert_eq!(
        st.get_event(e.id).await.unwrap().unwrap().status,
        EventStatus::Scheduled
    );
    let got = st.get_market(m.id).await.unwrap().unwrap();
    assert_eq!(got.handicap, Some(Decimal::from_str("-1.5").unwrap()));
    assert_eq!(got.market_type, MarketType::PointSpread);
    let got = st.get_selection(sel.id).await.unwrap().unwrap();
    assert_eq!(
        got.odds.get().to_string(),
        "1.85",
        "exact decimal, normalised"
    );
    assert_eq!(st.list_selections(&[m.id]).await.unwrap().len(), 1);

    // Updates rewrite by id; a missing id updates nothing.
    let mut changed = got.clone();
    changed.odds = Odds::parse_str("odds", "1.91").unwrap();
    let mut tx = db.store.begin().await.unwrap();
    let locked = tx.lock_selection(sel.id).await.unwrap().unwrap();
    assert!(tx.save_selection(&changed, true).await.unwrap());
    tx.insert_price_change(&PriceChange {
        id: Uuid::now_v7(),
        selection_id: sel.id,
        old_odds: Some(locked.odds),
        new_odds: changed.odds,
        changed_by: None,
        reason: Some("money on Arsenal".into()),
        created_at: now(),
    })
    .await
    .unwrap();
    let mut ghost = changed.clone();
    ghost.id = Uuid::now_v7();
    assert!(!tx.save_selection(&ghost, true).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        st.get_selection(sel.id)
            .await
            .unwrap()
            .unwrap()
            .odds
            .to_string(),
        "1.91"
    );
    let history = st
        .price_history(sel.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(history.total, 1);
    assert_eq!(history.items[0].old_odds.unwrap().to_string(), "1.85");

    // Constraints: unique slugs, one market per (event, type, line), two different teams,
    // odds above 1.
    let conflict = |r: Result<bool, StoreError>| {
        assert!(matches!(r, Err(StoreError::Conflict { .. })), "{r:?}");
    };
    let mut tx = db.store.begin().await.unwrap();
    let mut dup = sport("football");
    dup.name = "other".into();
    conflict(tx.save_sport(&dup, false).await);
    drop(tx);
    let mut tx = db.store.begin().await.unwrap();
    conflict(
        tx.save_market(&market(e.id, MarketType::PointSpread, Some("-1.5")), false)
            .await,
    );
    drop(tx);
    let mut tx = db.store.begin().await.unwrap();
    assert!(
        tx.save_market(&market(e.id, MarketType::PointSpread, Some("-2.5")), false)
            .await
            .unwrap()
    );
    assert!(
        tx.save_market(&market(e.id, MarketType::Moneyline, None), false)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    conflict(
        tx.save_market(&market(e.id, MarketType::Moneyline, None), false)
            .await,
    );
    drop(tx);
    let mut tx = db.store.begin().await.unwrap();
    assert!(
        tx.save_event(&event(s.id, None, home.id, home.id, 1), false)
            .await
            .is_err()
    );
    drop(tx);
    let mut tx = db.store.begin().await.unwrap();
    assert!(
        tx.save_selection(&selection(m.id, "bad", "1.0"), false)
            .await
            .is_err()
    );
    drop(tx);
    assert_eq!(st.list_markets(e.id).await.unwrap().len(), 3);
}

async fn events_filter_search_and_count_markets(db: TestDb) {
    let football = sport("football");
    let tennis = sport("tennis");
    let arsenal = team(football.id, None, "Arsenal", "London");
    let chelsea = team(football.id, None, "Chelsea", "London");
    let everton = team(football.id, None, "Everton", "Liverpool");
    let alcaraz = team(tennis.id, None, "Alcaraz", "Murcia");
    let sinner = team(tennis.id, None, "Sinner", "Innichen");
    let early = event(football.id, None, arsenal.id, chelsea.id, 2);
    let mut live = event(football.id, None, everton.id, arsenal.id, -1);
    live.status = EventStatus::Live;
    let late = event(football.id, None, chelsea.id, everton.id, 48);
    let final_ = event(tennis.id, None, alcaraz.id, sinner.id, 5);
    let mut tx = db.store.begin().await.unwrap();
    for s in [&football, &tennis] {
        tx.save_sport(s, false).await.unwrap();
    }
    for t in [&arsenal, &chelsea, &everton, &alcaraz, &sinner] {
        tx.save_team(t, false).await.unwrap();
    }
    for e in [&early, &live, &late, &final_] {
        tx.save_event(e, false).await.unwrap();
    }
    tx.save_market(&market(early.id, MarketType::Moneyline, None), false)
        .await
        .unwrap();
    tx.save_market(&market(early.id, MarketType::TotalPoints, None), false)
        .await
        .unwrap();
    let mut inactive = market(live.id, MarketType::Moneyline, None);
    inactive.is_active = false;
    tx.save_market(&inactive, false).await.unwrap();
    tx.commit().await.unwrap();

    let list = |f: EventFilter| {
        let store = db.store.clone();
        async move { store.list_events(&f).await.unwrap() }
    };
    let page = list(EventFilter {
        sport_id: Some(football.id),
        ..Default::default()
    })
    .await;
    let ids: Vec<Uuid> = page.items.iter().map(|s| s.event.id).collect();
    assert_eq!(ids, [live.id, early.id, late.id], "soonest first");
    assert_eq!(page.items[1].market_count, 2);
    assert_eq!(
        page.items[0].market_count, 0,
        "inactive markets are not counted"
    );
    assert_eq!(page.items[1].home_team_name, "Arsenal");
    assert_eq!(page.items[1].away_team_name, "Chelsea");
    assert_eq!(
        list(EventFilter {
            live: true,
            ..Default::default()
        })
        .await
        .total,
        1
    );
    assert_eq!(
        list(EventFilter {
            status: Some(EventStatus::Scheduled),
            from: Some(now()),
            to: Some(now() + Duration::hours(24)),
            ..Default::default()
        })
        .await
        .total,
        2
    );
    let search = |q: &str| EventFilter {
        search: Some(q.into()),
        ..Default::default()
    };
    assert_eq!(
        list(search("arsen")).await.total,
        2,
        "prefix of a team name"
    );
    assert_eq!(
        list(search("chelsea everton")).await.total,
        1,
        "every word, either team"
    );
    assert_eq!(list(search("liverpool")).await.total, 2, "a city");
    assert_eq!(list(search("\"); DROP TABLE events; --")).await.total, 0);
    assert_eq!(list(search("alcaraz")).await.items[0].event.id, final_.id);
    assert_eq!(
        list(EventFilter {
            page: PageRequest::new(Some(2), Some(2)).unwrap(),
            ..Default::default()
        })
        .await
        .items
        .len(),
        2
    );

    let teams = db
        .store
        .list_teams(Some(football.id), None, Some("lon"), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(teams.total, 2);
    assert_eq!(teams.items[0].display_name, "Arsenal");
    let sports = db
        .store
        .list_sports(true, PageRequest::new(Some(1), Some(1)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (sports.total, sports.items.len(), sports.total_pages),
        (2, 1, 2)
    );
}

/// A retirement is recorded once (again changes nothing); the row stays readable by id (bets
/// and settlement still need it) while the lists the catalog API shows leave it out.
async fn retired_entities_stay_but_leave_lists(db: TestDb) {
    let s = sport("tennis");
    let spare = sport("golf");
    let a = team(s.id, None, "Alcaraz", "Murcia");
    let b = team(s.id, None, "Sinner", "Sexten");
    let e = event(s.id, None, a.id, b.id, 24);
    let m = market(e.id, MarketType::Moneyline, None);
    let sel = selection(m.id, "Alcaraz", "1.70");
    let mut tx = db.store.begin().await.unwrap();
    tx.save_sport(&s, false).await.unwrap();
    tx.save_sport(&spare, false).await.unwrap();
    tx.save_team(&a, false).await.unwrap();
    tx.save_team(&b, false).await.unwrap();
    tx.save_event(&e, false).await.unwrap();
    tx.save_market(&m, false).await.unwrap();
    tx.save_selection(&sel, false).await.unwrap();
    tx.commit().await.unwrap();

    let st = &db.store;
    assert!(!st.is_retired(spare.id).await.unwrap());
    let mut tx = db.store.begin().await.unwrap();
    for (table, id) in [
        ("sports", spare.id),
        ("teams", b.id),
        ("markets", m.id),
        ("selections", sel.id),
        ("sports", spare.id),
    ] {
        tx.retire(table, id, now()).await.unwrap();
    }
    tx.commit().await.unwrap();

    for id in [spare.id, b.id, m.id, sel.id] {
        assert!(st.is_retired(id).await.unwrap(), "{id}");
    }
    assert!(!st.is_retired(s.id).await.unwrap());
    assert!(
        st.get_sport(spare.id).await.unwrap().is_some(),
        "the row stays"
    );
    assert!(
        st.get_selection(sel.id).await.unwrap().is_some(),
        "the row stays"
    );
    let sports = st.list_sports(false, PageRequest::default()).await.unwrap();
    assert_eq!(
        sports.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        [s.id],
        "inactive or not, a retired sport is not listed"
    );
    assert_eq!(sports.total, 1);
    let teams = st
        .list_teams(Some(s.id), None, None, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(teams.items.iter().map(|x| x.id).collect::<Vec<_>>(), [a.id]);
    assert!(st.list_markets(e.id).await.unwrap().is_empty());
    assert!(st.list_selections(&[m.id]).await.unwrap().is_empty());
}
