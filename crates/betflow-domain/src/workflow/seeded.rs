//! The two definitions every fresh database starts with (seed 000's initial migration), and
//! the line-change rules that go with `line_change_approval`.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::graph::{StepDef, StepKind, TimeoutAction, WorkflowGraph};
use crate::DomainError;

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
        timeout: Some(timeout),
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
                "financialImpact": {"type": "number", "minimum": 0},
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
                "oldOdds": {"type": ["number", "string"]},
                "newOdds": {"type": ["number", "string"]},
                "marketType": {"type": "string"},
                "financialImpact": {"type": ["number", "string"]},
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

/// One level's start: (absolute odds change in percent, financial impact in currency units).
pub type Threshold = (Decimal, Decimal);

/// Where each risk level starts, by absolute odds change (percent) or financial impact
/// (currency units): whichever is worse decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskThresholds {
    pub medium: (Decimal, Decimal),
    pub high: (Decimal, Decimal),
    pub critical: (Decimal, Decimal),
}

impl Default for RiskThresholds {
    fn default() -> Self {
        Self {
            medium: (Decimal::from(5), Decimal::from(10_000)),
            high: (Decimal::from(10), Decimal::from(50_000)),
            critical: (Decimal::from(20), Decimal::from(100_000)),
        }
    }
}

impl RiskThresholds {
    /// Thresholds must not fall as the level rises, on either axis.
    pub fn new(
        medium: (Decimal, Decimal),
        high: (Decimal, Decimal),
        critical: (Decimal, Decimal),
    ) -> Result<Self, String> {
        for (name, (pct, amount)) in [("medium", medium), ("high", high), ("critical", critical)] {
            if pct.is_sign_negative() || amount.is_sign_negative() {
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

    /// Reads one level's threshold written `PERCENT:AMOUNT`, e.g. `10:50000`.
    pub fn parse_level(s: &str) -> Result<(Decimal, Decimal), String> {
        let (pct, amount) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: expected PERCENT:AMOUNT, e.g. 10:50000"))?;
        let num = |t: &str| {
            Decimal::from_str(t.trim()).map_err(|_| format!("{t:?} is not a decimal number"))
        };
        let level = (num(pct)?, num(amount)?);
        if level.0.is_sign_negative() || level.1.is_sign_negative() {
            return Err(format!("{s:?}: thresholds must not be negative"));
        }
        Ok(level)
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

/// Converts a decimal amount in major units to integer minor units (cents), refusing what
/// does not fit.
pub fn to_minor_units(field: &str, amount: Decimal) -> Result<i64, DomainError> {
    use rust_decimal::prelude::ToPrimitive;
    (amount * Decimal::ONE_HUNDRED)
        .round()
        .to_i64()
        .ok_or_else(|| DomainError::invalid(field, "is too large"))
}

/// What the engine stores for a line change (the seed's betting_lines row, derived part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineChangeAssessment {
    pub old_odds: Decimal,
    pub new_odds: Decimal,
    /// `(new - old) / old * 100`, two decimal places.
    pub odds_change_percentage: Decimal,
    pub financial_impact: Decimal,
    pub risk_level: RiskLevel,
}

/// Reads decimal odds given as a JSON number or string, exactly (no float rounding for
/// strings; numbers are read from their JSON text).
pub fn decimal(field: &str, v: Option<&Value>) -> Result<Option<Decimal>, DomainError> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => return Err(DomainError::invalid(field, "must be a number")),
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map(Some)
        .map_err(|_| DomainError::invalid(field, "must be a decimal number"))
}

/// Computes the odds change and risk level of a `line_change_approval` payload.
pub fn assess_line_change(
    data: &Value,
    thresholds: &RiskThresholds,
) -> Result<LineChangeAssessment, DomainError> {
    let mut violations = Vec::new();
    let mut get = |field: &str| match decimal(field, data.get(field)) {
        Ok(v) => v,
        Err(DomainError::Validation(mut v)) => {
            violations.append(&mut v);
            None
        }
    };
    let old = get("oldOdds");
    let new = get("newOdds");
    let impact = get("financialImpact").unwrap_or_default();
    for (field, v) in [("oldOdds", old), ("newOdds", new)] {
        if let Some(o) = v
            && o <= Decimal::ONE
        {
            violations.push(crate::Violation::new(
                field,
                "decimal odds must be above 1.0",
            ));
        }
    }
    if impact.is_sign_negative() {
        violations.push(crate::Violation::new(
            "financialImpact",
            "must not be negative",
        ));
    }
    let (Some(old), Some(new)) = (old, new) else {
        if violations.is_empty() {
            violations.push(crate::Violation::new(
                "oldOdds",
                "oldOdds and newOdds are required",
            ));
        }
        return Err(DomainError::Validation(violations));
    };
    if !violations.is_empty() {
        return Err(DomainError::Validation(violations));
    }
    let pct = ((new - old) / old * Decimal::ONE_HUNDRED).round_dp(2);
    let magnitude = pct.abs();
    let level = |(p, f): (Decimal, Decimal)| magnitude >= p || impact >= f;
    let risk_level = if level(thresholds.critical) {
        RiskLevel::Critical
    } else if level(thresholds.high) {
        RiskLevel::High
    } else if level(thresholds.medium) {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
    };
    Ok(LineChangeAssessment {
        old_odds: old,
        new_odds: new,
        odds_change_percentage: pct,
        financial_impact: impact,
        risk_level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .map(|s| (s.id.as_str(), s.assignees[0].as_str(), s.timeout))
            .collect();
        assert_eq!(
            ids,
            [
                ("line_impact_analysis", "trading_manager", Some(30)),
                ("senior_trader_approval", "senior_trader", Some(60)),
                ("risk_management_review", "risk_manager", Some(45)),
            ]
        );
        let cp = content_publishing();
        assert_eq!(cp.graph.steps[2].kind, StepKind::Task);
        assert_eq!(cp.graph.steps[1].timeout, Some(240));
    }

    #[test]
    fn line_change_risk_from_odds_and_impact() {
        let strict = RiskThresholds::new(
            RiskThresholds::parse_level("1:100").unwrap(),
            RiskThresholds::parse_level("2:200").unwrap(),
            RiskThresholds::parse_level("3:300.5").unwrap(),
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
        let b = assess_line_change(&json!({"oldOdds": "1.85", "newOdds": "1.90"}), &t).unwrap();
        assert_eq!(b.odds_change_percentage, Decimal::from_str("2.70").unwrap());
        assert_eq!(b.risk_level, RiskLevel::Low);
        let c = assess_line_change(
            &json!({"oldOdds": 3, "newOdds": 2.5, "financialImpact": 150000}),
            &t,
        )
        .unwrap();
        assert_eq!(c.risk_level, RiskLevel::Critical);
        assert!(c.odds_change_percentage.is_sign_negative());
        let d = assess_line_change(&json!({"oldOdds": 2, "newOdds": 2.3}), &t).unwrap();
        assert_eq!(d.risk_level, RiskLevel::High);
        for bad in [
            json!({"oldOdds": "x", "newOdds": 2}),
            json!({"oldOdds": 1.0, "newOdds": 2}),
            json!({"newOdds": 2}),
            json!({"oldOdds": 2, "newOdds": 2.2, "financialImpact": -5}),
            json!({"oldOdds": [2], "newOdds": 2.2}),
        ] {
            assert!(assess_line_change(&bad, &t).is_err(), "{bad}");
        }
    }
}
