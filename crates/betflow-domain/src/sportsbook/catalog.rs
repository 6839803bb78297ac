//! The catalog of seed 002: sports, leagues, teams, events, markets and selections, with the
//! seed's fields, enums and constraints. Each entity checks itself whole, so a create and a
//! partial update are validated by the same rules and every problem is reported at once.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::odds::Odds;
use crate::{DomainError, Violation};

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim() {
                    $($s => Ok($name::$variant),)+
                    other => Err(DomainError::invalid(
                        stringify!($name),
                        format!("{other:?} is not one of: {}",
                            [$($s),+].join(", ")),
                    )),
                }
            }
        }
    };
}

str_enum!(
    /// The seed's `event_status`.
    EventStatus {
        Scheduled => "scheduled",
        Live => "live",
        Halftime => "halftime",
        Finished => "finished",
        Postponed => "postponed",
        Cancelled => "cancelled",
        Suspended => "suspended",
    }
);

str_enum!(
    /// The seed's `market_type`.
    MarketType {
        Moneyline => "moneyline",
        PointSpread => "point_spread",
        TotalPoints => "total_points",
        FirstHalf => "first_half",
        PropBet => "prop_bet",
        Futures => "futures",
    }
);

str_enum!(
    /// The seed's `market_status`.
    MarketStatus {
        Open => "open",
        Suspended => "suspended",
        Closed => "closed",
        Settled => "settled",
        Voided => "voided",
    }
);

impl EventStatus {
    /// In play: the match is under way.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Live | Self::Halftime)
    }
}

fn slug_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

struct Check(Vec<Violation>);

impl Check {
    fn new() -> Self {
        Self(Vec::new())
    }
    /// A name: 1 to `max` characters, no control characters.
    fn text(&mut self, field: &str, v: &str, max: usize) {
        if v.trim().is_empty() || v.chars().count() > max {
            self.0.push(Violation::new(
                field,
                format!("must be 1 to {max} characters"),
            ));
        }
        crate::text::check_name_into(&mut self.0, field, Some(v));
    }
    /// Free text: 1 to `max` characters, line breaks but no other control characters.
    fn opt_free_text(&mut self, field: &str, v: &Option<String>, max: usize) {
        if let Some(v) = v {
            if v.trim().is_empty() || v.chars().count() > max {
                self.0.push(Violation::new(
                    field,
                    format!("must be 1 to {max} characters"),
                ));
            }
            crate::text::check_free_text_into(&mut self.0, field, Some(v));
        }
    }
    fn opt_text(&mut self, field: &str, v: &Option<String>, max: usize) {
        if let Some(v) = v {
            self.text(field, v, max);
        }
    }
    fn slug(&mut self, field: &str, v: &str) {
        if !slug_ok(v) {
            self.0.push(Violation::new(
                field,
                "must be 1 to 100 of a-z, 0-9 and '-', not starting or ending with '-'",
            ));
        }
    }
    fn object(&mut self, field: &str, v: &Value) {
        if !v.is_object() {
            self.0.push(Violation::new(field, "must be a JSON object"));
        }
    }
    fn done(self) -> Result<(), DomainError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(self.0))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sport {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub slug: String,
    pub icon_url: Option<String>,
    pub is_active: bool,
    pub sort_order: i32,
    pub configuration: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Sport {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut c = Check::new();
        c.text("name", &self.name, 50);
        c.text("displayName", &self.display_name, 100);
        if !slug_ok(&self.slug) || self.slug.len() > 50 {
            c.slug("slug", "");
        }
        c.opt_text("iconUrl", &self.icon_url, 255);
        c.object("configuration", &self.configuration);
        c.done()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct League {
    pub id: Uuid,
    pub sport_id: Uuid,
    pub name: String,
    pub display_name: String,
    pub slug: String,
    pub country_code: Option<String>,
    pub season: Option<String>,
    pub is_active: bool,
    pub sort_order: i32,
    pub configuration: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl League {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut c = Check::new();
        c.text("name", &self.name, 100);
        c.text("displayName", &self.display_name, 150);
        c.slug("slug", &self.slug);
        if let Some(cc) = &self.country_code
            && !(cc.len() == 2 && cc.chars().all(|ch| ch.is_ascii_uppercase()))
        {
            c.0.push(Violation::new(
                "countryCode",
                "must be an ISO 3166 alpha-2 code such as GB",
            ));
        }
        c.opt_text("season", &self.season, 20);
        c.object("configuration", &self.configuration);
        c.done()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    pub id: Uuid,
    pub sport_id: Uuid,
    pub league_id: Option<Uuid>,
    pub name: String,
    pub display_name: String,
    pub abbreviation: Option<String>,
    pub slug: String,
    pub logo_url: Option<String>,
    pub city: Option<String>,
    pub conference: Option<String>,
    pub division: Option<String>,
    pub founded_year: Option<i32>,
    pub is_active: bool,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Team {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut c = Check::new();
        c.text("name", &self.name, 100);
        c.text("displayName", &self.display_name, 150);
        c.opt_text("abbreviation", &self.abbreviation, 10);
        c.slug("slug", &self.slug);
        c.opt_text("logoUrl", &self.logo_url, 255);
        c.opt_text("city", &self.city, 100);
        c.opt_text("conference", &self.conference, 50);
        c.opt_text("division", &self.division, 50);
        if self
            .founded_year
            .is_some_and(|y| !(1800..=2100).contains(&y))
        {
            c.0.push(Violation::new("foundedYear", "must be 1800 to 2100"));
        }
        c.object("metadata", &self.metadata);
        c.done()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: Uuid,
    pub sport_id: Uuid,
    pub league_id: Option<Uuid>,
    pub home_team_id: Uuid,
    pub away_team_id: Uuid,
    pub start_time: DateTime<Utc>,
    pub status: EventStatus,
    pub period: Option<String>,
    pub clock: Option<String>,
    pub home_score: i32,
    pub away_score: i32,
    pub venue: Option<String>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Event {
    /// An event is between two different teams. Not part of [`Event::validate`] (the shape
    /// of one event): like the teams' sport, it relates two references, and the engine
    /// refuses it as a business rule (422) where it checks them.
    pub fn has_two_teams(&self) -> bool {
        self.home_team_id != self.away_team_id
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        let mut c = Check::new();
        c.opt_text("period", &self.period, 20);
        c.opt_text("clock", &self.clock, 20);
        c.opt_text("venue", &self.venue, 200);
        if self.home_score < 0 || self.away_score < 0 {
            c.0.push(Violation::new("homeScore", "scores are not negative"));
        }
        c.object("metadata", &self.metadata);
        c.done()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Market {
    pub id: Uuid,
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub market_type: MarketType,
    pub name: String,
    pub description: Option<String>,
    pub handicap: Option<Decimal>,
    pub total_points: Option<Decimal>,
    pub is_active: bool,
    pub status: MarketStatus,
    /// Bets may be placed while the event is live.
    pub in_play: bool,
    pub rules: Value,
    pub settlement_rules: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

impl Market {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut c = Check::new();
        c.text("name", &self.name, 200);
        c.opt_free_text("description", &self.description, 5000);
        for (field, v) in [
            ("handicap", self.handicap),
            ("totalPoints", self.total_points),
        ] {
            if v.is_some_and(|v| v.abs() >= Decimal::from(100_000_000) || v.scale() > 2) {
                c.0.push(Violation::new(
                    field,
                    "at most two decimal places and below 100,000,000",
                ));
            }
        }
        c.object("rules", &self.rules);
        c.object("settlementRules", &self.settlement_rules);
        c.done()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    pub id: Uuid,
    pub market_id: Uuid,
    pub name: String,
    pub short_name: Option<String>,
    /// Checked as it is read from a request ([`Odds`]'s `Deserialize`), so a create and a
    /// patch refuse the same odds; answered in the canonical form (`"2.50"`).
    pub odds: Odds,
    pub probability: Option<Decimal>,
    pub is_active: bool,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Selection {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut c = Check::new();
        c.text("name", &self.name, 200);
        c.opt_text("shortName", &self.short_name, 50);
        if self
            .probability
            .is_some_and(|p| p < Decimal::ZERO || p > Decimal::ONE || p.scale() > 4)
        {
            c.0.push(Violation::new(
                "probability",
                "must be between 0 and 1, with at most four decimal places",
            ));
        }
        c.object("metadata", &self.metadata);
        c.done()
    }
}

/// One recorded odds change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceChange {
    pub id: Uuid,
    pub selection_id: Uuid,
    pub old_odds: Option<Odds>,
    pub new_odds: Odds,
    pub changed_by: Option<Uuid>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An event with its teams' names and its active markets counted: the seed's
/// get_events_with_markets row.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub event: Event,
    pub home_team_name: String,
    pub away_team_name: String,
    pub market_count: u64,
}

/// Filters for the events list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub sport_id: Option<Uuid>,
    pub league_id: Option<Uuid>,
    pub status: Option<EventStatus>,
    /// Starting at or after.
    pub from: Option<DateTime<Utc>>,
    /// Starting before.
    pub to: Option<DateTime<Utc>>,
    /// Only live (in-play) events.
    pub live: bool,
    /// Words in either team's name (full-text).
    pub search: Option<String>,
    pub page: crate::PageRequest,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn team(id: Uuid) -> Uuid {
        id
    }

    #[test]
    fn enums_are_the_seeds() {
        assert_eq!(EventStatus::ALL.len(), 7);
        assert_eq!(MarketType::ALL.len(), 6);
        assert_eq!(
            MarketStatus::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            ["open", "suspended", "closed", "settled", "voided"]
        );
        assert_eq!(
            "point_spread".parse::<MarketType>().unwrap(),
            MarketType::PointSpread
        );
        assert!("spread".parse::<MarketType>().is_err());
        assert!(EventStatus::Halftime.is_live());
    }

    #[test]
    fn names_hold_no_control_characters_and_descriptions_may_break_lines() {
        let now = Utc::now();
        let sport = Sport {
            id: Uuid::now_v7(),
            name: "Foot\u{7}ball".into(),
            display_name: "\u{1b}[2JFootball".into(),
            slug: "football".into(),
            icon_url: None,
            is_active: true,
            sort_order: 0,
            configuration: json!({"free": "form \u{7} is fine here"}),
            created_at: now,
            updated_at: now,
        };
        let DomainError::Validation(v) = sport.validate().unwrap_err();
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "displayName"], "{v:?}");
        let mut market = Market {
            id: Uuid::now_v7(),
            event_id: Uuid::now_v7(),
            market_type: MarketType::Moneyline,
            name: "Match result".into(),
            description: Some("Line one\nline two\r\n\tindented".into()),
            handicap: None,
            total_points: None,
            is_active: true,
            status: MarketStatus::Open,
            in_play: false,
            rules: json!({}),
            settlement_rules: json!({}),
            created_at: now,
            updated_at: now,
            settled_at: None,
        };
        assert!(market.validate().is_ok());
        market.description = Some("bell \u{7}".into());
        let DomainError::Validation(v) = market.validate().unwrap_err();
        assert_eq!(v[0].field, "description");
    }

    #[test]
    fn every_problem_at_once() {
        let t = Uuid::now_v7();
        let now = Utc::now();
        let e = Event {
            id: Uuid::now_v7(),
            sport_id: Uuid::now_v7(),
            league_id: None,
            home_team_id: team(t),
            away_team_id: team(t),
            start_time: now,
            status: EventStatus::Scheduled,
            period: Some("x".repeat(21)),
            clock: None,
            home_score: -1,
            away_score: 0,
            venue: None,
            metadata: json!([]),
            created_at: now,
            updated_at: now,
        };
        let DomainError::Validation(v) = e.validate().unwrap_err();
        assert_eq!(v.len(), 3, "{v:?}");
        assert!(
            !e.has_two_teams(),
            "checked with the references, as a business rule"
        );
        let s = Selection {
            id: Uuid::now_v7(),
            market_id: Uuid::now_v7(),
            name: "x".repeat(201),
            short_name: None,
            odds: Odds::parse_str("odds", "2.5").unwrap(),
            probability: Some(Decimal::from(2)),
            is_active: true,
            metadata: json!({}),
            created_at: now,
            updated_at: now,
        };
        let DomainError::Validation(v) = s.validate().unwrap_err();
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(slug_ok("premier-league") && !slug_ok("Premier") && !slug_ok("-a"));
    }
}
