//! Condition expressions (CEL) and the built-in actions of automated steps.
//!
//! CEL is not Turing-complete and has no side effects, so an expression written by a
//! definition's author can run over customer data without a sandbox. A condition sees
//! `data` (the workflow's data), `priority` and `workflowType`.

use serde_json::{Map, Value};

/// Longest condition accepted; keeps a definition's worst-case evaluation small.
pub const MAX_EXPRESSION_LEN: usize = 4096;

/// The variables a condition may read.
pub const VARIABLES: &[&str] = &["data", "priority", "workflowType"];

/// A compiled condition.
pub struct Condition(cel::Program);

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Condition")
    }
}

/// What a condition is evaluated against.
pub struct Facts<'a> {
    pub data: &'a Value,
    pub priority: &'a str,
    pub workflow_type: &'a str,
}

impl Condition {
    /// Parses `source`, refusing variables other than [`VARIABLES`] so that a typo fails when
    /// the version is published, not when a workflow reaches the step.
    pub fn compile(source: &str) -> Result<Self, String> {
        if source.len() > MAX_EXPRESSION_LEN {
            return Err(format!(
                "the condition is longer than {MAX_EXPRESSION_LEN} characters"
            ));
        }
        let program = cel::Program::compile(source).map_err(|e| {
            let msg = e.to_string();
            format!("the condition does not compile: {}", msg.trim())
        })?;
        let refs = program.references();
        let unknown: Vec<&str> = refs
            .variables()
            .into_iter()
            .filter(|v| !VARIABLES.contains(v))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "the condition reads unknown variables {unknown:?} (known: {})",
                VARIABLES.join(", ")
            ));
        }
        Ok(Self(program))
    }

    /// Evaluates to a boolean; anything else (an error, a missing field, a non-boolean
    /// result) is an `Err` the engine records before taking the `false` branch.
    pub fn evaluate(&self, facts: &Facts<'_>) -> Result<bool, String> {
        let mut ctx = cel::Context::default();
        let data = cel::to_value(facts.data).map_err(|e| e.to_string())?;
        ctx.add_variable_from_value("data", data);
        ctx.add_variable_from_value("priority", facts.priority);
        ctx.add_variable_from_value("workflowType", facts.workflow_type);
        match self.0.execute(&ctx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "the condition gave {:?}, not a boolean",
                other.type_of()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// What running an action step changes.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionEffect {
    Nothing,
    /// The workflow's new data.
    SetData(Value),
    /// An event for the outbox / timeline: its type and payload.
    Emit {
        event: String,
        payload: Value,
    },
}

/// Checks an action step's `params` when its version is published.
pub fn check_action(action: &str, params: Option<&Value>) -> Result<(), String> {
    match action {
        "noop" => Ok(()),
        "set_data" => match params {
            Some(Value::Object(_)) => Ok(()),
            _ => Err("set_data needs params: a JSON object merged into the data (RFC 7396)".into()),
        },
        "emit_event" => {
            let event = params
                .and_then(|p| p.get("event"))
                .and_then(Value::as_str)
                .ok_or("emit_event needs params.event, the event type")?;
            if event.is_empty()
                || event.len() > 100
                || !event
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            {
                return Err(format!(
                    "event type {event:?} must be 1 to 100 of a-z, 0-9, '.', '_' and '-'"
                ));
            }
            match params.and_then(|p| p.get("payload")) {
                None | Some(Value::Object(_)) => Ok(()),
                Some(_) => Err("params.payload must be a JSON object".into()),
            }
        }
        other => Err(format!("unknown action {other:?}")),
    }
}

/// Runs a built-in action over `data`. Params were checked at publish time; a params value
/// that is somehow malformed does nothing rather than corrupt data.
pub fn run_action(action: &str, params: Option<&Value>, data: &Value) -> ActionEffect {
    match (action, params) {
        ("set_data", Some(patch @ Value::Object(_))) => {
            let mut next = data.clone();
            merge_patch(&mut next, patch);
            ActionEffect::SetData(next)
        }
        ("emit_event", Some(p)) => match p.get("event").and_then(Value::as_str) {
            Some(event) => ActionEffect::Emit {
                event: event.to_owned(),
                payload: p
                    .get("payload")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
            },
            None => ActionEffect::Nothing,
        },
        _ => ActionEffect::Nothing,
    }
}

/// JSON Merge Patch (RFC 7396): objects merge recursively, `null` removes a member, anything
/// else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(src: &str, data: Value) -> Result<bool, String> {
        Condition::compile(src)?.evaluate(&Facts {
            data: &data,
            priority: "high",
            workflow_type: "line_change_approval",
        })
    }

    #[test]
    fn conditions_read_data_priority_and_type() {
        let d = json!({"financialImpact": 15000, "newOdds": 1.85, "sport": "football", "tags": ["vip"]});
        assert_eq!(eval("data.financialImpact > 10000", d.clone()), Ok(true));
        assert_eq!(eval("data.newOdds < 1.5", d.clone()), Ok(false));
        assert_eq!(
            eval("data.sport == 'football' && priority == 'high'", d.clone()),
            Ok(true)
        );
        assert_eq!(eval("'vip' in data.tags", d.clone()), Ok(true));
        assert_eq!(eval("has(data.missing)", d.clone()), Ok(false));
        assert_eq!(
            eval("workflowType.startsWith('line_')", d.clone()),
            Ok(true)
        );
    }

    #[test]
    fn runtime_problems_are_errors_not_answers() {
        let d = json!({"a": 1});
        assert!(eval("data.missing > 1", d.clone()).is_err());
        assert!(eval("data.a + 1", d.clone()).is_err(), "not a boolean");
    }

    #[test]
    fn bad_conditions_fail_to_compile_with_a_reason() {
        assert!(Condition::compile("data.a >").is_err());
        let e = Condition::compile("amount > 3").unwrap_err();
        assert!(e.contains("amount"), "{e}");
        assert!(Condition::compile(&"1 + ".repeat(2000)).is_err());
    }

    #[test]
    fn set_data_is_a_merge_patch() {
        let data = json!({"a": 1, "nested": {"x": 1, "y": 2}, "gone": true});
        let effect = run_action(
            "set_data",
            Some(&json!({"b": 2, "nested": {"y": null, "z": 3}, "gone": null})),
            &data,
        );
        assert_eq!(
            effect,
            ActionEffect::SetData(json!({"a": 1, "b": 2, "nested": {"x": 1, "z": 3}}))
        );
    }

    #[test]
    fn action_params_are_checked() {
        assert!(check_action("noop", None).is_ok());
        assert!(check_action("set_data", None).is_err());
        assert!(check_action("set_data", Some(&json!([1]))).is_err());
        assert!(check_action("emit_event", Some(&json!({"event": "line.published"}))).is_ok());
        assert!(check_action("emit_event", Some(&json!({"event": "Bad Name"}))).is_err());
        assert!(check_action("emit_event", Some(&json!({"event": "x", "payload": 3}))).is_err());
        assert!(check_action("send_email", None).is_err());
        assert_eq!(
            run_action("emit_event", Some(&json!({"event": "x.y"})), &json!({})),
            ActionEffect::Emit {
                event: "x.y".into(),
                payload: json!({})
            }
        );
    }
}
