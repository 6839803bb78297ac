//! The two definitions every fresh database starts with (seed 000's initial migration), and
//! the line-change rules that go with `line_change_approval`.

use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::graph::{StepDef, StepKind, TimeoutAction, WorkflowGraph};
use crate::DomainError;
use crate::sportsbook::odds::{Odds, change_percent, decimal_text};

pub mod effects;

pub use effects::{DomainRow, Effect, Requirement, domain_row, effects, requirements};

/// A definition as seeded: key, descriptive fields, its first version's graph and the JSON
/// Schema its workflows' data must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedDefinition {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub tags: &'static [&'static str],
    pub graph: WorkflowGraph,
    pub data_schema: Value,
}

fn step(id: &str, name: &str, kind: StepKind, role: &str, timeout: u32) -> StepDef {
    StepDef {
        id: id.into(),
        name: name.into(),
        kind,
        assignees: vec![role.into()],
        required: true,
        timeout: Some(timeout.into()),
        retry: None,
        on_timeout: TimeoutAction::default(),
        required_approvals: 1,
        four_eyes: true,
        condition: None,
        action: None,
        params: None,
        delay: None,
    }
}

/// Steps, assignee roles and timeouts exactly as the seed's migration.
pub fn content_publishing() -> SeedDefinition {
    SeedDefinition {
        key: "content_publishing",
        name: "Content Publishing",
        description: "Workflow for publishing betting content",
        category: "content",
        tags: &["content", "compliance"],
        graph: WorkflowGraph::linear(vec![
            step(
                "content_review",
                "Content Review",
                StepKind::Approval,
                "content_manager",
                120,
            ),
            step(
                "compliance_check",
                "Compliance Review",
                StepKind::Approval,
                "compliance_officer",
                240,
            ),
            step(
                "final_publish",
                "Publish Content",
                StepKind::Task,
                "content_team",
                60,
            ),
        ]),
        data_schema: json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["title", "contentType"],
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 500},
                "contentType": {"type": "string", "minLength": 1},
                "jurisdiction": {"type": "string"},
                "financialImpact": {"type": "number", "minimum": 0,
                    "description": "Money at stake in minor units of the currency (cents), \
                                    a whole number, like every amount in betflow"},
                "contentId": {"type": "string"},
                "markets": {"type": "array", "items": {"type": "string"}}
            }
        }),
    }
}

/// Steps, assignee roles and timeouts exactly as the seed's migration.
pub fn line_change_approval() -> SeedDefinition {
    SeedDefinition {
        key: "line_change_approval",
        name: "Line Change Approval",
        description: "Workflow for approving betting line changes",
        category: "trading",
        tags: &["trading", "odds", "risk"],
        graph: WorkflowGraph::linear(vec![
            step(
                "line_impact_analysis",
                "Financial Impact Analysis",
                StepKind::Approval,
                "trading_manager",
                30,
            ),
            step(
                "senior_trader_approval",
                "Senior Trader Approval",
                StepKind::Approval,
                "senior_trader",
                60,
            ),
            step(
                "risk_management_review",
                "Risk Management Review",
                StepKind::Approval,
                "risk_manager",
                45,
            ),
        ]),
        data_schema: json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["lineId", "oldOdds", "newOdds"],
            "properties": {
                "lineId": {"type": "string", "minLength": 1},
                "eventName": {"type": "string"},
                "oldOdds": {"type": ["number", "string"],
                    "description": "The decimal odds being replaced, above 1.0"},
                "newOdds": {"type": ["number", "string"],
                    "description": "The decimal odds to set: above 1.0, at most 1000, at most \
                                    four decimal places (the rules of POST /selections)"},
                "marketType": {"type": "string"},
                "selectionId": {"type": "string", "format": "uuid",
                    "description": "The catalog selection whose odds the approval sets, when \
                                    the change is for one (it must exist)"},
                "financialImpact": {"type": ["number", "string"],
                    "description": "Money at stake in minor units of the currency (cents), \
                                    a whole number, like every amount in betflow"},
                "requestedBy": {"type": "string"}
            }
        }),
    }
}

pub fn all() -> Vec<SeedDefinition> {
    vec![content_publishing(), line_change_approval()]
}

/// The seed's risk levels for a line change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

/// One level's start: (absolute odds change in percent, financial impact in minor units of
/// the currency, like every amount of money in betflow).
pub type Threshold = (Decimal, i64);

/// Reads a threshold written `PERCENT:AMOUNT`, the amount in minor units (cents), e.g.
/// `10:5000000` for 10 % or 50,000.00.
pub fn parse_threshold(s: &str) -> Result<Threshold, String> {
    let (pct, amount) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected PERCENT:AMOUNT, e.g. 10:5000000"))?;
    let pct = Decimal::from_str(pct.trim())
        .map_err(|_| format!("{pct:?} is not a decimal number of percent"))?;
    let amount: i64 = amount.trim().parse().map_err(|_| {
        format!("{amount:?} is not a whole number of minor units (cents) that fits in 64 bits")
    })?;
    if pct.is_sign_negative() || amount < 0 {
        return Err(format!("{s:?}: thresholds must not be negative"));
    }
    Ok((pct, amount))
}

/// Where each risk level starts, by absolute odds change (percent) or financial impact
/// (minor units): whichever is worse decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskThresholds {
    pub medium: Threshold,
    pub high: Threshold,
    pub critical: Threshold,
}

impl Default for RiskThresholds {
    /// The seed's levels: 5 % or 10,000.00, 10 % or 50,000.00, 20 % or 100,000.00.
    fn default() -> Self {
        Self {
            medium: (Decimal::from(5), 1_000_000),
            high: (Decimal::from(10), 5_000_000),
            critical: (Decimal::from(20), 10_000_000),
        }
    }
}

impl RiskThresholds {
    /// Thresholds must not fall as the level rises, on either axis.
    pub fn new(medium: Threshold, high: Threshold, critical: Threshold) -> Result<Self, String> {
        for (name, (pct, amount)) in [("medium", medium), ("high", high), ("critical", critical)] {
            if pct.is_sign_negative() || amount < 0 {
                return Err(format!("the {name} risk threshold must not be negative"));
            }
        }
        if medium.0 > high.0 || high.0 > critical.0 || medium.1 > high.1 || high.1 > critical.1 {
            return Err(
                "risk thresholds must rise from medium to high to critical on both the odds \
                 change and the financial impact"
                    .into(),
            );
        }
        Ok(Self {
            medium,
            high,
            critical,
        })
    }

    /// Reads one level's threshold written `PERCENT:AMOUNT` (see [`parse_threshold`]).
    pub fn parse_level(s: &str) -> Result<Threshold, String> {
        parse_threshold(s)
    }

    /// The risk of a change of `percent` (either sign) with `impact` minor units at stake.
    pub fn classify(&self, percent: Decimal, impact: i64) -> RiskLevel {
        let magnitude = percent.abs();
        let reaches = |(p, f): Threshold| magnitude >= p || impact >= f;
        if reaches(self.critical) {
            RiskLevel::Critical
        } else if reaches(self.high) {
            RiskLevel::High
        } else if reaches(self.medium) {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }
}

/// Where a selection's odds change stops applying directly and opens a
/// `line_change_approval` (`BETFLOW_LINE_CHANGE_THRESHOLD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineChangeSettings {
    /// An odds change larger than this, in percent of the old odds.
    pub percent: Decimal,
    /// Or a selection whose net liability (what the house pays if it wins, less the
    /// market's stakes) is above this, in minor units of the bets' currency.
    pub liability: i64,
}

impl Default for LineChangeSettings {
    /// 10 %, or 10,000.00 of liability.
    fn default() -> Self {
        Self {
            percent: Decimal::from(10),
            liability: 1_000_000,
        }
    }
}

impl LineChangeSettings {
    /// Whether changing `old` to `new` on a selection carrying `liability` (minor units)
    /// needs approval. A change whose size cannot be computed is treated as too large.
    pub fn needs_approval(&self, old: Odds, new: Odds, liability: i64) -> bool {
        liability > self.liability
            || change_percent(old.get(), new.get()).is_none_or(|p| p.abs() > self.percent)
    }
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }
}

impl FromStr for RiskLevel {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            RiskLevel::Low,
            RiskLevel::Medium,
            RiskLevel::High,
            RiskLevel::Critical,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| DomainError::invalid("riskLevel", "must be low, medium, high or critical"))
    }
}

/// Reads an amount of money in workflow data (`financialImpact`): minor units (cents), as
/// everywhere in betflow, given as a JSON number or string holding a whole number, at least
/// zero and within 64 bits. `None` when absent.
pub fn minor_units(field: &str, v: Option<&Value>) -> Result<Option<i64>, DomainError> {
    let bad = || {
        DomainError::invalid(
            field,
            "must be a whole number of minor units (cents), at least 0",
        )
    };
    let Some(amount) = decimal(field, v)? else {
        return Ok(None);
    };
    let amount = amount.normalize();
    if amount.scale() > 0 || amount.is_sign_negative() {
        return Err(bad());
    }
    amount.to_i64().map(Some).ok_or_else(bad)
}

/// What the engine stores for a line change (the seed's betting_lines row, derived part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineChangeAssessment {
    pub old_odds: Decimal,
    pub new_odds: Odds,
    /// `(new - old) / old * 100`, two decimal places.
    pub odds_change_percentage: Decimal,
    /// Minor units.
    pub financial_impact: i64,
    pub risk_level: RiskLevel,
}

/// Reads a decimal given as a JSON number or string, exactly (no float rounding for
/// strings; numbers are read from their JSON text).
pub fn decimal(field: &str, v: Option<&Value>) -> Result<Option<Decimal>, DomainError> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(DomainError::invalid(field, "must be a number")),
    };
    decimal_text(field, &text).map(Some)
}

/// The catalog selection a line change is for, if it names one. Checked when the workflow
/// is created or edited: the apply step, long after, could only give up on a malformed id.
pub fn line_selection(data: &Value) -> Result<Option<uuid::Uuid>, DomainError> {
    match data.get("selectionId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => uuid::Uuid::parse_str(s)
            .map(Some)
            .map_err(|_| DomainError::invalid("selectionId", "must be a selection's id (a UUID)")),
        Some(_) => Err(DomainError::invalid(
            "selectionId",
            "must be a selection's id (a UUID)",
        )),
    }
}

/// Checks a `line_change_approval` payload and computes its odds change and risk level.
///
/// `newOdds` are the odds the workflow sets when it completes, so they obey every rule of
/// [`Odds`], the same as `POST /selections`. `oldOdds` only describe the price being
/// replaced (the apply step compares them with the selection's odds of the day), so they
/// need only be decimal odds above 1.0: a selection whose odds predate today's rules can
/// still be corrected through an approval. `financialImpact` is in minor units.
pub fn assess_line_change(
    data: &Value,
    thresholds: &RiskThresholds,
) -> Result<LineChangeAssessment, DomainError> {
    let mut violations = Vec::new();
    let mut keep = |e: DomainError| {
        let DomainError::Validation(mut v) = e;
        violations.append(&mut v);
    };
    let old = match decimal("oldOdds", data.get("oldOdds")) {
        Ok(Some(o)) if o <= Decimal::ONE => {
            keep(DomainError::invalid(
                "oldOdds",
                "decimal odds must be above 1.0",
            ));
            None
        }
        Ok(o) => o,
        Err(e) => {
            keep(e);
            None
        }
    };
    let new = match data.get("newOdds") {
        None | Some(Value::Null) => None,
        Some(v) => Odds::from_json("newOdds", v).map_err(&mut keep).ok(),
    };
    if let Err(e) = line_selection(data) {
        keep(e);
    }
    let impact = minor_units("financialImpact", data.get("financialImpact"))
        .map_err(&mut keep)
        .ok()
        .flatten()
        .unwrap_or(0);
    for (field, present) in [
        ("oldOdds", data.get("oldOdds")),
        ("newOdds", data.get("newOdds")),
    ] {
        if present.is_none_or(Value::is_null) {
            violations.push(crate::Violation::new(field, "is required"));
        }
    }
    let (Some(old), Some(new), true) = (old, new, violations.is_empty()) else {
        return Err(DomainError::Validation(violations));
    };
    let pct = change_percent(old, new.get())
        .ok_or_else(|| DomainError::invalid("oldOdds", "the odds change is out of range"))?
        .round_dp(2);
    Ok(LineChangeAssessment {
        old_odds: old.normalize(),
        new_odds: new,
        odds_change_percentage: pct,
        financial_impact: impact,
        risk_level: thresholds.classify(pct, impact),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_change_names_its_selection_by_uuid_or_not_at_all() {
        let t = RiskThresholds::default();
        let id = uuid::Uuid::now_v7();
        let ok = json!({"oldOdds": 2.0, "newOdds": "2.10", "selectionId": id.to_string()});
        assert!(assess_line_change(&ok, &t).is_ok());
        assert_eq!(line_selection(&ok).unwrap(), Some(id));
        assert_eq!(line_selection(&json!({"oldOdds": 2.0})).unwrap(), None);
        for bad in [
            json!("not-a-uuid"),
            json!(42),
            json!({"id": id.to_string()}),
        ] {
            let data = json!({"oldOdds": 2.0, "newOdds": "2.10", "selectionId": bad});
            let Err(DomainError::Validation(v)) = assess_line_change(&data, &t) else {
                panic!("{data} accepted");
            };
            assert!(v.iter().any(|v| v.field == "selectionId"), "{v:?}");
        }
    }

    #[test]
    fn seeded_definitions_are_valid_and_match_the_seed() {
        for d in all() {
            assert_eq!(d.graph.validate(), Ok(()), "{}", d.key);
        }
        let lc = line_change_approval();
        let ids: Vec<_> = lc
            .graph
            .steps
            .iter()
            .map(|s| (s.id.as_str(), s.assignees[0].as_str(), s.timeout.clone()))
            .collect();
        assert_eq!(
            ids,
            [
                ("line_impact_analysis", "trading_manager", Some(30.into())),
                ("senior_trader_approval", "senior_trader", Some(60.into())),
                ("risk_management_review", "risk_manager", Some(45.into())),
            ]
        );
        let cp = content_publishing();
        assert_eq!(cp.graph.steps[2].kind, StepKind::Task);
        assert_eq!(cp.graph.steps[1].timeout, Some(240.into()));
    }

    #[test]
    fn line_change_risk_from_odds_and_impact() {
        let strict = RiskThresholds::new(
            RiskThresholds::parse_level("1:100").unwrap(),
            RiskThresholds::parse_level("2:200").unwrap(),
            RiskThresholds::parse_level("3.5:300").unwrap(),
        )
        .unwrap();
        let a = assess_line_change(
            &json!({"oldOdds": 2.0, "newOdds": "2.10", "financialImpact": 1000}),
            &strict,
        )
        .unwrap();
        assert_eq!(
            a.risk_level,
            RiskLevel::Critical,
            "configured thresholds apply"
        );
        assert!(RiskThresholds::parse_level("10").is_err());
        assert!(RiskThresholds::parse_level("x:1").is_err());
        assert!(RiskThresholds::parse_level("-1:1").is_err());
        assert!(RiskThresholds::parse_level("1:-1").is_err());
        assert!(
            RiskThresholds::parse_level("1:100.5").is_err(),
            "minor units are whole"
        );
        assert!(RiskThresholds::parse_level("1:99999999999999999999").is_err());
        let d = RiskThresholds::default();
        assert!(RiskThresholds::new(d.high, d.medium, d.critical).is_err());
        assert_eq!(RiskThresholds::new(d.medium, d.high, d.critical), Ok(d));
        let t = RiskThresholds::default();
        let a = assess_line_change(
            &json!({"oldOdds": 2.0, "newOdds": "2.10", "financialImpact": 1000}),
            &t,
        )
        .unwrap();
        assert_eq!(a.odds_change_percentage, Decimal::from_str("5.00").unwrap());
        assert_eq!(a.risk_level, RiskLevel::Medium);
        assert_eq!(a.financial_impact, 1000);
        assert_eq!(a.new_odds.to_string(), "2.10");
        let b = assess_line_change(&json!({"oldOdds": "1.85", "newOdds": "1.90"}), &t).unwrap();
        assert_eq!(b.odds_change_percentage, Decimal::from_str("2.70").unwrap());
        assert_eq!(b.risk_level, RiskLevel::Low);
        // The seed's critical impact is 100,000.00: 10,000,000 minor units.
        let c = assess_line_change(
            &json!({"oldOdds": 3, "newOdds": 2.9, "financialImpact": "10000000"}),
            &t,
        )
        .unwrap();
        assert_eq!(c.risk_level, RiskLevel::Critical);
        assert!(c.odds_change_percentage.is_sign_negative());
        let below = assess_line_change(
            &json!({"oldOdds": 3, "newOdds": 2.9, "financialImpact": 9_999_999}),
            &t,
        )
        .unwrap();
        assert_eq!(
            below.risk_level,
            RiskLevel::High,
            "by impact, not by 3.33 %"
        );
        let d = assess_line_change(&json!({"oldOdds": 2, "newOdds": 2.3}), &t).unwrap();
        assert_eq!(d.risk_level, RiskLevel::High);
        for (bad, field) in [
            (json!({"oldOdds": "x", "newOdds": 2}), "oldOdds"),
            (json!({"oldOdds": 1.0, "newOdds": 2}), "oldOdds"),
            (json!({"newOdds": 2}), "oldOdds"),
            (json!({"oldOdds": 2}), "newOdds"),
            (
                json!({"oldOdds": 2, "newOdds": 2.2, "financialImpact": -5}),
                "financialImpact",
            ),
            (
                json!({"oldOdds": 2, "newOdds": 2.2, "financialImpact": 10.5}),
                "financialImpact",
            ),
            (
                json!({"oldOdds": 2, "newOdds": 2.2, "financialImpact": "1e30"}),
                "financialImpact",
            ),
            (json!({"oldOdds": [2], "newOdds": 2.2}), "oldOdds"),
            // newOdds obey the rules of POST /selections.
            (json!({"oldOdds": 2, "newOdds": 5000}), "newOdds"),
            (json!({"oldOdds": 2, "newOdds": "1.00001"}), "newOdds"),
            (json!({"oldOdds": 2, "newOdds": "1.0"}), "newOdds"),
            (
                json!({"oldOdds": 2, "newOdds": "79228162514264337593543950335"}),
                "newOdds",
            ),
        ] {
            let Err(DomainError::Validation(v)) = assess_line_change(&bad, &t) else {
                panic!("{bad} was accepted");
            };
            assert!(v.iter().any(|v| v.field == field), "{bad}: {v:?}");
        }
        // Old odds only describe the price replaced: any decimal odds above 1.0, however
        // large, is measured without overflowing.
        let wide = assess_line_change(
            &json!({"oldOdds": "79228162514264337593543950335", "newOdds": "2"}),
            &t,
        )
        .unwrap();
        assert_eq!(wide.odds_change_percentage, Decimal::from(-100));
        assert_eq!(wide.risk_level, RiskLevel::Critical);
    }

    #[test]
    fn line_change_threshold_in_minor_units() {
        let s = LineChangeSettings::default();
        assert_eq!(s.liability, 1_000_000, "10,000.00");
        let o = |t: &str| Odds::parse_str("odds", t).unwrap();
        assert!(!s.needs_approval(o("2"), o("2.2"), 0), "exactly 10 %");
        assert!(s.needs_approval(o("2"), o("2.21"), 0));
        assert!(s.needs_approval(o("2"), o("1.79"), 0));
        assert!(!s.needs_approval(o("2"), o("2.1"), 1_000_000));
        assert!(s.needs_approval(o("2"), o("2.1"), 1_000_001));
        assert!(s.needs_approval(o("1.0001"), o("1000"), 0));
    }

    proptest::proptest! {
        /// No payload, however absurd its numbers, makes the assessment panic; what it
        /// accepts has valid new odds and a non-negative impact.
        #[test]
        fn no_line_change_payload_panics(
            old in proptest::prelude::any::<String>(),
            new in "[0-9.eE+-]{0,40}",
            old_n in proptest::prelude::any::<f64>(),
            new_n in proptest::prelude::any::<i64>(),
            impact in "[0-9.eE+-]{0,40}",
            impact_n in proptest::prelude::any::<f64>(),
        ) {
            let t = RiskThresholds::default();
            for old in [json!(old), json!(old_n)] {
                for new in [json!(new), json!(new_n)] {
                    for impact in [json!(impact), json!(impact_n), Value::Null] {
                        let data = json!({"oldOdds": old, "newOdds": new, "financialImpact": impact});
                        if let Ok(a) = assess_line_change(&data, &t) {
                            proptest::prop_assert!(a.new_odds.get() <= crate::sportsbook::odds::MAX_ODDS);
                            proptest::prop_assert!(a.financial_impact >= 0);
                        }
                    }
                }
            }
        }
    }
}
