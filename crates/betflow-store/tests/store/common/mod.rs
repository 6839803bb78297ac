//! Catalog rows for store tests: a sport, teams, an event in the future, a market and its
//! selections, each with fresh ids.

#![allow(dead_code)]

use std::str::FromStr;

use betflow_domain::identity::{Role, User, UserStatus};
use betflow_domain::sportsbook::catalog::{
    Event, EventStatus, Market, MarketStatus, MarketType, Selection, Sport, Team,
};
use betflow_domain::sportsbook::odds::Odds;
use betflow_domain::time::now;
use chrono::Duration;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

pub fn sport(slug: &str) -> Sport {
    let t = now();
    Sport {
        id: Uuid::now_v7(),
        name: slug.into(),
        display_name: slug.to_uppercase(),
        slug: slug.into(),
        icon_url: None,
        is_active: true,
        sort_order: 0,
        configuration: json!({}),
        created_at: t,
        updated_at: t,
    }
}

pub fn team(sport: Uuid, league: Option<Uuid>, name: &str, city: &str) -> Team {
    let t = now();
    Team {
        id: Uuid::now_v7(),
        sport_id: sport,
        league_id: league,
        name: name.into(),
        display_name: name.into(),
        abbreviation: Some(name[..3].to_uppercase()),
        slug: name.to_lowercase().replace(' ', "-"),
        logo_url: None,
        city: Some(city.into()),
        conference: None,
        division: None,
        founded_year: Some(1886),
        is_active: true,
        metadata: json!({"colours": ["red"]}),
        created_at: t,
        updated_at: t,
    }
}

pub fn event(sport: Uuid, league: Option<Uuid>, home: Uuid, away: Uuid, hours: i64) -> Event {
    let t = now();
    Event {
        id: Uuid::now_v7(),
        sport_id: sport,
        league_id: league,
        home_team_id: home,
        away_team_id: away,
        start_time: t + Duration::hours(hours),
        status: EventStatus::Scheduled,
        period: None,
        clock: None,
        home_score: 0,
        away_score: 0,
        venue: Some("Emirates".into()),
        metadata: json!({}),
        created_at: t,
        updated_at: t,
    }
}

pub fn market(event: Uuid, kind: MarketType, handicap: Option<&str>) -> Market {
    let t = now();
    Market {
        id: Uuid::now_v7(),
        event_id: event,
        market_type: kind,
        name: kind.as_str().into(),
        description: None,
        handicap: handicap.map(|h| Decimal::from_str(h).unwrap()),
        total_points: None,
        is_active: true,
        status: MarketStatus::Open,
        in_play: false,
        rules: json!({}),
        settlement_rules: json!({}),
        created_at: t,
        updated_at: t,
        settled_at: None,
    }
}

/// A selection row as the store would hold it: the odds are taken as given (not checked by
/// `Odds::parse`), so a test can also offer the database odds its constraints refuse.
pub fn selection(market: Uuid, name: &str, odds: &str) -> Selection {
    let t = now();
    Selection {
        id: Uuid::now_v7(),
        market_id: market,
        name: name.into(),
        short_name: None,
        odds: Odds::from_store(Decimal::from_str(odds).unwrap()),
        probability: Some(Decimal::from_str("0.5405").unwrap()),
        is_active: true,
        metadata: json!({}),
        created_at: t,
        updated_at: t,
    }
}

/// An active user with `role` and no extra permissions.
pub fn user(name: &str, role: Role) -> User {
    let t = now();
    User {
        id: Uuid::now_v7(),
        username: name.to_owned(),
        email: format!("{}@example.com", name.to_lowercase()),
        role,
        permissions: vec![],
        status: UserStatus::Active,
        failed_login_attempts: 0,
        locked_until: None,
        last_login_at: None,
        created_at: t,
        updated_at: t,
    }
}

/// Saves a sport, two teams, an event, a market and its selections in `tx`.
pub async fn save_fixture(
    tx: &mut Box<dyn betflow_store::Transaction>,
    sport: &Sport,
    teams: [&Team; 2],
    event: &Event,
    market: &Market,
    selections: &[&Selection],
) {
    tx.save_sport(sport, false).await.unwrap();
    for t in teams {
        tx.save_team(t, false).await.unwrap();
    }
    tx.save_event(event, false).await.unwrap();
    tx.save_market(market, false).await.unwrap();
    for s in selections {
        tx.save_selection(s, false).await.unwrap();
    }
}
