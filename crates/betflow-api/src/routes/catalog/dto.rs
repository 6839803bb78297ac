//! Wire shapes of the sportsbook: what each catalog read returns and what each write accepts,
//! plus the helpers the wallet and bets routes share (typed bodies, enum schemas).
//!
//! The domain crate knows nothing of OpenAPI, so every payload has a DTO here that derives
//! `Serialize` and `ToSchema` from the same fields: the schema is what is serialized. Request
//! DTOs carry the limits the domain enforces (`Sport::validate` and friends), so the document
//! says what the server accepts.

use betflow_domain::sportsbook::catalog::{
    Event, EventStatus, EventSummary, League, Market, MarketStatus, MarketType, PriceChange,
    Selection, Sport, Team,
};
use betflow_domain::sportsbook::odds::{Odds, OddsFormat, decimal_text, render};
use betflow_domain::{DomainError, Violation};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaType, Type};
use uuid::Uuid;

use crate::error::ApiError;

/// Reads a JSON body into its typed request DTO, naming the member at fault (`details`
/// carries `[{field, message}]` like every other validation error), so a typo or a wrong
/// type is a 400 on its field rather than a silently ignored member.
pub(crate) fn typed<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.inner().to_string();
        let msg = msg.split(" at line").next().unwrap_or(&msg).to_owned();
        let field = if path == "." {
            // A missing or unknown member is reported at the document; serde names it in
            // backticks.
            msg.split('`').nth(1).unwrap_or("body").to_owned()
        } else {
            path
        };
        ApiError::from(DomainError::Validation(vec![Violation::new(field, msg)]))
    })
}

/// The request DTO as the JSON the engine merges (RFC 7396): absent members stay absent,
/// `Some(None)` members become `null` (clear).
pub(crate) fn as_patch<T: Serialize>(body: &T) -> Result<Value, ApiError> {
    serde_json::to_value(body).map_err(ApiError::internal)
}

/// `deserialize_with` for a PATCH member that may be absent (unchanged) or `null` (cleared):
/// with `#[serde(default)]`, absent is `None` and `null` is `Some(None)`.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `deserialize_with` for a member that may be absent but never `null` (a required column
/// with a default): `null` is refused with the member's name instead of being read as absent.
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// An integer read from a JSON number that is whole: `5` and also `5.0`, which JSON Schema
/// counts as the integer 5 (so a client that reads the document may send either); `5.5`,
/// text and values out of `T`'s range are refused. Written as a plain integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole<T>(pub T);

impl<'de, T: TryFrom<i64>> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let n = match Value::deserialize(d)? {
            Value::Number(n) => n,
            other => {
                return Err(D::Error::custom(format!(
                    "invalid type: {}, expected an integer",
                    kind_of(&other)
                )));
            }
        };
        let whole = if let Some(i) = n.as_i64() {
            Some(i)
        } else if n.is_u64() {
            None
        } else {
            // 2^63 as a float: every whole float below it (and at or above its negation)
            // fits in an i64 exactly.
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9_223_372_036_854_775_808.0)
                .map(|f| f as i64)
        };
        let out_of_range = || D::Error::custom(format!("{n} is not a whole number in range"));
        let i = whole.ok_or_else(out_of_range)?;
        T::try_from(i).map(Whole).map_err(|_| out_of_range())
    }
}

impl<T: Serialize> Serialize for Whole<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Any JSON value without a NUL (U+0000) in a string or an object key: what a free-form
/// member (`metadata`, `configuration`, `details`, ...) may hold, since every request body is
/// refused with a NUL anywhere in it (PostgreSQL cannot store one).
pub struct NulFreeJson;

const NUL_FREE_TEXT: &str = r"^[^\x00]*$";

fn nul_free_text() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .pattern(Some(NUL_FREE_TEXT))
}

fn nul_free_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .property_names(Some(nul_free_text()))
        .additional_properties(Some(utoipa::openapi::Ref::from_schema_name("NulFreeJson")))
}

impl utoipa::PartialSchema for NulFreeJson {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(nul_free_text())
            .item(ObjectBuilder::new().schema_type(SchemaType::from_iter([
                Type::Number,
                Type::Boolean,
                Type::Null,
            ])))
            .item(
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(utoipa::openapi::Ref::from_schema_name("NulFreeJson")),
            )
            .item(nul_free_object())
            .description(Some(
                "Any JSON value without a NUL (U+0000) in a string or key.",
            ))
            .into()
    }
}

impl ToSchema for NulFreeJson {}

/// A free-form JSON object without a NUL anywhere (see [`NulFreeJson`]).
pub struct NulFreeObject;

impl utoipa::PartialSchema for NulFreeObject {
    fn schema() -> RefOr<Schema> {
        nul_free_object()
            .description(Some(
                "A JSON object, free in form; no string or key in it may hold a NUL (U+0000).",
            ))
            .into()
    }
}

impl ToSchema for NulFreeObject {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            "NulFreeJson".to_owned(),
            <NulFreeJson as utoipa::PartialSchema>::schema(),
        ));
    }
}

/// A string schema restricted to `values`, optionally nullable (then `null` is listed too,
/// as JSON Schema's `enum` requires).
pub(crate) fn string_enum(
    values: impl IntoIterator<Item = &'static str>,
    nullable: bool,
    description: &str,
) -> RefOr<Schema> {
    let mut values: Vec<Value> = values.into_iter().map(Value::from).collect();
    let ty = if nullable {
        values.push(Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

/// A decimal read exactly from a JSON string (`"1.85"`) or number (`1.85`, from its JSON
/// text, never through a float), as [`Odds`] are: text that would round, separators such as
/// `1_000` and other spellings a rule cannot describe are refused instead of guessed at.
/// Answered as text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExactDecimal(pub Decimal);

impl<'de> Deserialize<'de> for ExactDecimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = match Value::deserialize(d)? {
            // Text is written plainly: white space and exponents are for numbers' JSON text.
            Value::String(s)
                if !s.contains(|c: char| c.is_whitespace() || c == 'e' || c == 'E') =>
            {
                s
            }
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(serde::de::Error::custom(
                    "must be a decimal number, as a number or a string such as \"1.85\"",
                ));
            }
        };
        decimal_text("value", &text)
            .map(Self)
            .map_err(|_| serde::de::Error::custom("must be a decimal number such as 1.85"))
    }
}

impl Serialize for ExactDecimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// A decimal sent either as text matching `pattern` or as a JSON number within the bounds,
/// on a grid of `step` (its decimal places). The two forms say the same thing, so a client
/// may send either; the server reads both exactly ([`ExactDecimal`], [`Odds`]).
fn decimal_input(
    pattern: &str,
    (minimum, exclusive_minimum): (f64, bool),
    (maximum, exclusive_maximum): (f64, bool),
    step: f64,
    nullable: bool,
    description: &str,
    example: &str,
) -> RefOr<Schema> {
    let text = ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .pattern(Some(pattern));
    let mut number = ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Number))
        .multiple_of(Some(step));
    number = if exclusive_minimum {
        number.exclusive_minimum(Some(minimum))
    } else {
        number.minimum(Some(minimum))
    };
    number = if exclusive_maximum {
        number.exclusive_maximum(Some(maximum))
    } else {
        number.maximum(Some(maximum))
    };
    let mut any = AnyOfBuilder::new().item(text).item(number);
    if nullable {
        any = any.item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Null)));
    }
    any.description(Some(description))
        .examples([Value::from(example)])
        .into()
}

/// `schema_with` functions for decimal inputs. Each pattern accepts exactly the text the
/// domain's rule accepts (a leading `+` and leading zeros included), so a client reading
/// the document never sends text the server refuses, nor the reverse.
pub(crate) mod decimals {
    use super::*;

    /// Decimal odds: above 1, at most 1000, at most four decimal places once trailing zeros
    /// are dropped (`Odds::parse`).
    const ODDS: &str =
        r"^\+?0*(1\.[0-9]{0,3}[1-9]0*|([2-9]|[1-9][0-9]{1,2})(\.[0-9]{1,4}0*)?|1000(\.0+)?)$";
    const ODDS_ABOUT: &str = "Decimal odds: above 1.0, at most 1000, at most four decimal \
                              places; a string such as \"1.85\" or a JSON number.";
    /// A probability: 0 to 1 with at most four decimal places as written.
    const PROBABILITY: &str = r"^(\+?0*(0(\.[0-9]{1,4})?|1(\.0{1,4})?)|-0+(\.0{1,4})?)$";
    const PROBABILITY_ABOUT: &str = "The implied probability: 0 to 1, at most four decimal \
                                     places; a string or a JSON number.";
    /// A line: below 100,000,000 either way, at most two decimal places as written.
    const LINE: &str = r"^[+-]?0*[0-9]{1,8}(\.[0-9]{1,2})?$";
    const LINE_ABOUT: &str = "A line: below 100,000,000 either way, at most two decimal \
                              places; a string such as \"-1.5\" or a JSON number.";

    pub fn odds() -> RefOr<Schema> {
        decimal_input(
            ODDS,
            (1.0, true),
            (1000.0, false),
            0.0001,
            false,
            ODDS_ABOUT,
            "1.85",
        )
    }
    pub fn probability_nullable() -> RefOr<Schema> {
        decimal_input(
            PROBABILITY,
            (0.0, false),
            (1.0, false),
            0.0001,
            true,
            PROBABILITY_ABOUT,
            "0.52",
        )
    }
    pub fn line_nullable() -> RefOr<Schema> {
        decimal_input(
            LINE,
            (-100_000_000.0, true),
            (100_000_000.0, true),
            0.01,
            true,
            LINE_ABOUT,
            "-1.5",
        )
    }
}

/// `schema_with` functions for the domain's enums, listed from the domain's own `ALL` so
/// the document cannot drift from what the server parses.
pub(crate) mod enums {
    use super::*;

    pub fn event_status() -> RefOr<Schema> {
        string_enum(
            EventStatus::ALL.iter().map(|s| s.as_str()),
            false,
            "The event's status.",
        )
    }
    pub fn event_status_opt() -> RefOr<Schema> {
        string_enum(
            EventStatus::ALL.iter().map(|s| s.as_str()),
            false,
            "The event's status (default `scheduled`).",
        )
    }
    pub fn market_type() -> RefOr<Schema> {
        string_enum(
            MarketType::ALL.iter().map(|s| s.as_str()),
            false,
            "The market's type.",
        )
    }
    pub fn market_status() -> RefOr<Schema> {
        string_enum(
            MarketStatus::ALL.iter().map(|s| s.as_str()),
            false,
            "The market's status.",
        )
    }
    pub fn workflow_status() -> RefOr<Schema> {
        string_enum(
            betflow_domain::workflow::WorkflowStatus::ALL
                .iter()
                .map(|s| s.as_str()),
            false,
            "The approval workflow's status.",
        )
    }
    pub fn odds_format() -> RefOr<Schema> {
        string_enum(
            ODDS_FORMATS.iter().copied(),
            false,
            "How `displayOdds` renders the odds.",
        )
    }

    /// Every [`OddsFormat`], as the wire names them (checked by a test).
    pub const ODDS_FORMATS: &[&str] = &["decimal", "american", "fractional"];
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SportDto {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub slug: String,
    pub icon_url: Option<String>,
    /// Inactive (retired) sports leave listings.
    pub is_active: bool,
    /// Listing order, lowest first.
    pub sort_order: i32,
    #[schema(value_type = Object)]
    pub configuration: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Sport> for SportDto {
    fn from(s: Sport) -> Self {
        Self {
            id: s.id,
            name: s.name,
            display_name: s.display_name,
            slug: s.slug,
            icon_url: s.icon_url,
            is_active: s.is_active,
            sort_order: s.sort_order,
            configuration: s.configuration,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeagueDto {
    pub id: Uuid,
    pub sport_id: Uuid,
    pub name: String,
    pub display_name: String,
    pub slug: String,
    /// ISO 3166 alpha-2.
    #[schema(example = "GB")]
    pub country_code: Option<String>,
    #[schema(example = "2026/27")]
    pub season: Option<String>,
    pub is_active: bool,
    pub sort_order: i32,
    #[schema(value_type = Object)]
    pub configuration: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<League> for LeagueDto {
    fn from(l: League) -> Self {
        Self {
            id: l.id,
            sport_id: l.sport_id,
            name: l.name,
            display_name: l.display_name,
            slug: l.slug,
            country_code: l.country_code,
            season: l.season,
            is_active: l.is_active,
            sort_order: l.sort_order,
            configuration: l.configuration,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamDto {
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
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Team> for TeamDto {
    fn from(t: Team) -> Self {
        Self {
            id: t.id,
            sport_id: t.sport_id,
            league_id: t.league_id,
            name: t.name,
            display_name: t.display_name,
            abbreviation: t.abbreviation,
            slug: t.slug,
            logo_url: t.logo_url,
            city: t.city,
            conference: t.conference,
            division: t.division,
            founded_year: t.founded_year,
            is_active: t.is_active,
            metadata: t.metadata,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventDto {
    pub id: Uuid,
    pub sport_id: Uuid,
    pub league_id: Option<Uuid>,
    pub home_team_id: Uuid,
    pub away_team_id: Uuid,
    pub start_time: DateTime<Utc>,
    #[schema(schema_with = enums::event_status)]
    pub status: EventStatus,
    /// E.g. `2H`.
    pub period: Option<String>,
    /// E.g. `67:12`.
    pub clock: Option<String>,
    pub home_score: i32,
    pub away_score: i32,
    pub venue: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Event> for EventDto {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            sport_id: e.sport_id,
            league_id: e.league_id,
            home_team_id: e.home_team_id,
            away_team_id: e.away_team_id,
            start_time: e.start_time,
            status: e.status,
            period: e.period,
            clock: e.clock,
            home_score: e.home_score,
            away_score: e.away_score,
            venue: e.venue,
            metadata: e.metadata,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An event in a listing: the seed's get_events_with_markets row.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSummaryDto {
    #[serde(flatten)]
    pub event: EventDto,
    pub home_team_name: String,
    pub away_team_name: String,
    /// Active markets on the event.
    pub market_count: u64,
}

impl From<EventSummary> for EventSummaryDto {
    fn from(s: EventSummary) -> Self {
        Self {
            event: s.event.into(),
            home_team_name: s.home_team_name,
            away_team_name: s.away_team_name,
            market_count: s.market_count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketDto {
    pub id: Uuid,
    pub event_id: Uuid,
    #[serde(rename = "type")]
    #[schema(schema_with = enums::market_type)]
    pub market_type: MarketType,
    pub name: String,
    pub description: Option<String>,
    /// The line of a point spread, as exact decimal text.
    #[schema(value_type = Option<String>, example = "-1.5")]
    pub handicap: Option<Decimal>,
    /// The line of a total, as exact decimal text.
    #[schema(value_type = Option<String>, example = "2.5")]
    pub total_points: Option<Decimal>,
    pub is_active: bool,
    #[schema(schema_with = enums::market_status)]
    pub status: MarketStatus,
    /// Bets may be placed while the event is live.
    pub in_play: bool,
    #[schema(value_type = Object)]
    pub rules: Value,
    #[schema(value_type = Object)]
    pub settlement_rules: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

impl From<Market> for MarketDto {
    fn from(m: Market) -> Self {
        Self {
            id: m.id,
            event_id: m.event_id,
            market_type: m.market_type,
            name: m.name,
            description: m.description,
            handicap: m.handicap,
            total_points: m.total_points,
            is_active: m.is_active,
            status: m.status,
            in_play: m.in_play,
            rules: m.rules,
            settlement_rules: m.settlement_rules,
            created_at: m.created_at,
            updated_at: m.updated_at,
            settled_at: m.settled_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectionDto {
    pub id: Uuid,
    pub market_id: Uuid,
    pub name: String,
    pub short_name: Option<String>,
    /// Decimal odds in the canonical text form: at least two decimal places, no trailing
    /// zeros beyond them (`"2.50"`, `"1.875"`).
    #[schema(value_type = String, example = "1.85")]
    pub odds: Odds,
    /// The implied probability, 0 to 1, as exact text.
    #[schema(value_type = Option<String>, example = "0.52")]
    pub probability: Option<Decimal>,
    pub is_active: bool,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Selection> for SelectionDto {
    fn from(s: Selection) -> Self {
        Self {
            id: s.id,
            market_id: s.market_id,
            name: s.name,
            short_name: s.short_name,
            odds: s.odds,
            probability: s.probability,
            is_active: s.is_active,
            metadata: s.metadata,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A selection as a reader sees it: with its odds rendered in the format asked for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectionView {
    #[serde(flatten)]
    pub selection: SelectionDto,
    /// `odds` in `oddsFormat`: `1.85`, `-118` or `17/20`.
    #[schema(example = "17/20")]
    pub display_odds: String,
    #[schema(schema_with = enums::odds_format)]
    pub odds_format: OddsFormat,
}

impl SelectionView {
    pub fn new(s: Selection, format: OddsFormat) -> Self {
        Self {
            display_odds: render(s.odds, format),
            odds_format: format,
            selection: s.into(),
        }
    }
}

/// A market with its selections.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarketView {
    #[serde(flatten)]
    pub market: MarketDto,
    /// Every selection of the market, oldest first.
    pub selections: Vec<SelectionView>,
}

impl MarketView {
    pub fn new(m: Market, selections: Vec<Selection>, format: OddsFormat) -> Self {
        Self {
            market: m.into(),
            selections: selections
                .into_iter()
                .map(|s| SelectionView::new(s, format))
                .collect(),
        }
    }
}

/// An event with its markets and their selections.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    #[serde(flatten)]
    pub event: EventDto,
    /// Every market of the event.
    pub markets: Vec<MarketView>,
}

/// An odds change awaiting its `line_change_approval` workflow.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingApproval {
    pub workflow_id: Uuid,
    /// Always `line_change_approval`.
    #[schema(example = "line_change_approval")]
    pub workflow_type: &'static str,
    #[schema(schema_with = enums::workflow_status)]
    pub status: &'static str,
}

/// A selection whose odds change waits for approval: the other fields applied, the odds not
/// yet.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectionPending {
    #[serde(flatten)]
    pub selection: SelectionDto,
    pub pending_approval: PendingApproval,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceChangeDto {
    pub id: Uuid,
    pub selection_id: Uuid,
    /// The odds replaced; null for the opening price.
    #[schema(value_type = Option<String>, example = "1.85")]
    pub old_odds: Option<Odds>,
    #[schema(value_type = String, example = "1.91")]
    pub new_odds: Odds,
    /// Who changed them.
    pub changed_by: Option<Uuid>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<PriceChange> for PriceChangeDto {
    fn from(p: PriceChange) -> Self {
        Self {
            id: p.id,
            selection_id: p.selection_id,
            old_odds: p.old_odds,
            new_odds: p.new_odds,
            changed_by: p.changed_by,
            reason: p.reason,
            created_at: p.created_at,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests
//
// Text: names (everything but a market's description) are 1 to n characters with something
// other than white space and no control character; a description may also hold tab, line
// feed and carriage return. The patterns say exactly that.
//
// Creates list the required members; PATCH bodies make every member optional, and a
// nullable member may be `null` to clear it. Members the server sets (`id`, timestamps) and
// those fixed at creation (a league's sport, a market's event, ...) are not accepted: unknown
// members are refused (400) rather than silently dropped.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SportCreate {
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "football"
    )]
    pub name: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "Football"
    )]
    pub display_name: String,
    /// Unique.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
        example = "football"
    )]
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub icon_url: Option<String>,
    /// Default true.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    /// Default 0.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = i32, minimum = -2147483648, maximum = 2147483647)]
    pub sort_order: Option<Whole<i32>>,
    /// Default `{}`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub configuration: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SportPatch {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub display_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")]
    pub slug: Option<String>,
    /// `null` clears it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub icon_url: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = i32, minimum = -2147483648, maximum = 2147483647)]
    pub sort_order: Option<Whole<i32>>,
    /// Merged into the current one (RFC 7396: a `null` member removes that key).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub configuration: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeagueCreate {
    pub sport_id: Uuid,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "Premier League"
    )]
    pub name: String,
    #[schema(
        min_length = 1,
        max_length = 150,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub display_name: String,
    /// Unique within the sport.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
        example = "premier-league"
    )]
    pub slug: String,
    /// ISO 3166 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[A-Z]{2}$", example = "GB")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "2026/27"
    )]
    pub season: Option<String>,
    /// Default true.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    /// Default 0.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = i32, minimum = -2147483648, maximum = 2147483647)]
    pub sort_order: Option<Whole<i32>>,
    /// Default `{}`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub configuration: Option<Map<String, Value>>,
}

/// A league's sport is fixed at creation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaguePatch {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 150, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub display_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")]
    pub slug: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, pattern = r"^[A-Z]{2}$")]
    pub country_code: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 20, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub season: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = i32, minimum = -2147483648, maximum = 2147483647)]
    pub sort_order: Option<Whole<i32>>,
    /// Merged into the current one (RFC 7396).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub configuration: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamCreate {
    pub sport_id: Uuid,
    /// A league of the same sport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub league_id: Option<Uuid>,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "Arsenal"
    )]
    pub name: String,
    #[schema(
        min_length = 1,
        max_length = 150,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 10,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "ARS"
    )]
    pub abbreviation: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
        example = "arsenal"
    )]
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub logo_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub conference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub division: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i32>, minimum = 1800, maximum = 2100)]
    pub founded_year: Option<Whole<i32>>,
    /// Default true.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    /// Default `{}`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub metadata: Option<Map<String, Value>>,
}

/// A team's sport is fixed at creation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamPatch {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Uuid>)]
    pub league_id: Option<Option<Uuid>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 150, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub display_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 10, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub abbreviation: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")]
    pub slug: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub logo_url: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub city: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub conference: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub division: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<i32>, minimum = 1800, maximum = 2100)]
    pub founded_year: Option<Option<Whole<i32>>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    /// Merged into the current one (RFC 7396).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventCreate {
    pub sport_id: Uuid,
    /// A league of the same sport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub league_id: Option<Uuid>,
    /// A team of the sport.
    pub home_team_id: Uuid,
    /// Another team of the sport.
    pub away_team_id: Uuid,
    pub start_time: DateTime<Utc>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = enums::event_status_opt)]
    pub status: Option<EventStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub clock: Option<String>,
    /// Default 0.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = i32, minimum = 0, maximum = 2147483647)]
    pub home_score: Option<Whole<i32>>,
    /// Default 0.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = i32, minimum = 0, maximum = 2147483647)]
    pub away_score: Option<Whole<i32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub venue: Option<String>,
    /// Default `{}`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub metadata: Option<Map<String, Value>>,
}

/// An event's sport is fixed at creation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventPatch {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Uuid>)]
    pub league_id: Option<Option<Uuid>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Uuid)]
    pub home_team_id: Option<Uuid>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Uuid)]
    pub away_team_id: Option<Uuid>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = DateTime<Utc>)]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = enums::event_status)]
    pub status: Option<EventStatus>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 20, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub period: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 20, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub clock: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = i32, minimum = 0, maximum = 2147483647)]
    pub home_score: Option<Whole<i32>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = i32, minimum = 0, maximum = 2147483647)]
    pub away_score: Option<Whole<i32>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub venue: Option<Option<String>>,
    /// Merged into the current one (RFC 7396).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarketCreate {
    pub event_id: Uuid,
    #[serde(rename = "type")]
    #[schema(schema_with = enums::market_type)]
    pub market_type: MarketType,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "Match result"
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 5000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub description: Option<String>,
    /// A point spread's line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = decimals::line_nullable)]
    pub handicap: Option<ExactDecimal>,
    /// A total's line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = decimals::line_nullable)]
    pub total_points: Option<ExactDecimal>,
    /// Default true.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    /// Default `open`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = enums::market_status)]
    pub status: Option<MarketStatus>,
    /// Bets may be placed while the event is live. Default false.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub in_play: Option<bool>,
    /// Default `{}`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub rules: Option<Map<String, Value>>,
    /// Default `{}`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub settlement_rules: Option<Map<String, Value>>,
}

/// A market's event is fixed at creation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarketPatch {
    #[serde(rename = "type")]
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = enums::market_type)]
    pub market_type: Option<MarketType>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 5000, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")]
    pub description: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = decimals::line_nullable)]
    pub handicap: Option<Option<ExactDecimal>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = decimals::line_nullable)]
    pub total_points: Option<Option<ExactDecimal>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = enums::market_status)]
    pub status: Option<MarketStatus>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub in_play: Option<bool>,
    /// Merged into the current one (RFC 7396).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub rules: Option<Map<String, Value>>,
    /// Merged into the current one (RFC 7396).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub settlement_rules: Option<Map<String, Value>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectionCreate {
    pub market_id: Uuid,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "Arsenal"
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub short_name: Option<String>,
    /// The opening price; it starts the price history.
    #[schema(schema_with = decimals::odds)]
    pub odds: Odds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = decimals::probability_nullable)]
    pub probability: Option<ExactDecimal>,
    /// Default true.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    /// Default `{}`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub metadata: Option<Map<String, Value>>,
}

/// A selection's market is fixed at creation. An odds change is kept in the price history
/// with `reason`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectionPatch {
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 50, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    pub short_name: Option<Option<String>>,
    /// New odds, kept in the price history (above the line-change threshold they wait for
    /// approval: 202).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = decimals::odds)]
    pub odds: Option<Odds>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = decimals::probability_nullable)]
    pub probability: Option<Option<ExactDecimal>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    /// Merged into the current one (RFC 7396).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = NulFreeObject)]
    pub metadata: Option<Map<String, Value>>,
    /// Why the odds changed, kept in the price history (not a field of the selection).
    #[serde(default, skip_serializing)]
    #[schema(max_length = 500, pattern = r"^[^\x00]*$")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_odds_format_is_listed() {
        for name in enums::ODDS_FORMATS {
            let f: OddsFormat = name.parse().unwrap();
            assert_eq!(serde_json::to_value(f).unwrap(), *name);
        }
        assert_eq!(enums::ODDS_FORMATS.len(), 3);
    }

    #[test]
    fn a_patch_keeps_absent_null_and_set_apart() {
        let p: TeamPatch = typed(serde_json::json!({"city": null, "name": "Arsenal FC"})).unwrap();
        assert_eq!(
            as_patch(&p).unwrap(),
            serde_json::json!({"city": null, "name": "Arsenal FC"})
        );
        let err = typed::<TeamPatch>(serde_json::json!({"name": null})).unwrap_err();
        assert_eq!(err.details.unwrap()[0]["field"], "name");
        let err = typed::<TeamPatch>(serde_json::json!({"sportId": Uuid::nil()})).unwrap_err();
        assert_eq!(err.details.unwrap()[0]["field"], "sportId");
    }
}
