//! Step inputs as expressions: inside an action step's `params`, a string that is exactly
//! one `{{ expr }}` becomes the expression's typed value; a string with text around one or
//! more `{{ … }}` has each rendered as text. Expressions are CEL (one language with the
//! conditions) over `event` (`type`, `id`, `data`), `input`, `steps.<id>.output`,
//! `vars.<name>` and the workflow's `data`.
//!
//! [`check`] compiles every expression when a version is published and reports every problem
//! at once; [`render`] evaluates them when the step runs.

use serde_json::{Map, Number, Value};

use crate::workflow::expr::MAX_EXPRESSION_LEN;

/// The variables an expression may read.
pub const VARIABLES: &[&str] = &["event", "input", "steps", "vars", "data"];

/// What expressions are evaluated against. `Null` stands for what a run does not have (no
/// `event` outside event-triggered runs).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub event: &'a Value,
    pub input: &'a Value,
    /// `{"<step id>": {"output": …}}` for the steps that have run.
    pub steps: &'a Value,
    pub vars: &'a Value,
    pub data: &'a Value,
}

/// One piece of a templated string.
enum Part<'s> {
    Text(&'s str),
    Expr(&'s str),
}

/// Splits `s` into text and `{{ … }}` expressions; `Err` for an unclosed `{{`.
fn parts(s: &str) -> Result<Vec<Part<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Part::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| format!("{s:?} opens {{{{ without closing it"))?;
        out.push(Part::Expr(after[..close].trim()));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest));
    }
    Ok(out)
}

/// Whether `v` (anywhere inside) holds an expression.
pub fn has_expression(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{"),
        Value::Array(a) => a.iter().any(has_expression),
        Value::Object(m) => m.values().any(has_expression),
        _ => false,
    }
}

fn compile(source: &str) -> Result<cel::Program, String> {
    if source.is_empty() {
        return Err("an empty {{ }} expression".into());
    }
    if source.len() > MAX_EXPRESSION_LEN {
        return Err(format!(
            "an expression is longer than {MAX_EXPRESSION_LEN} characters"
        ));
    }
    let program = cel::Program::compile(source)
        .map_err(|e| format!("{source:?} does not compile: {}", e.to_string().trim()))?;
    let unknown: Vec<String> = program
        .references()
        .variables()
        .into_iter()
        .filter(|v| !VARIABLES.contains(v))
        .map(str::to_owned)
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "{source:?} reads unknown variables {unknown:?} (known: {})",
            VARIABLES.join(", ")
        ));
    }
    Ok(program)
}

fn walk(v: &Value, path: &str, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(path, s),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, &format!("{path}[{i}]"), f);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                walk(x, &format!("{path}.{k}"), f);
            }
        }
        _ => {}
    }
}

/// Compiles every expression in `params`; every problem, each with where it is
/// (`params.url`).
pub fn check(params: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(params, "params", &mut |path, s| {
        if !s.contains("{{") {
            return;
        }
        match parts(s) {
            Err(e) => out.push(format!("{path}: {e}")),
            Ok(parts) => {
                for p in parts {
                    if let Part::Expr(src) = p
                        && let Err(e) = compile(src)
                    {
                        out.push(format!("{path}: {e}"));
                    }
                }
            }
        }
    });
    out
}

/// A CEL value as JSON; functions and other values JSON cannot hold are an error.
fn to_json(v: &cel::Value) -> Result<Value, String> {
    Ok(match v {
        cel::Value::List(l) => Value::Array(l.iter().map(to_json).collect::<Result<_, _>>()?),
        cel::Value::Map(m) => {
            let mut obj = Map::new();
            for (k, x) in m.map.iter() {
                obj.insert(k.to_string(), to_json(x)?);
            }
            Value::Object(obj)
        }
        cel::Value::Int(i) => Value::from(*i),
        cel::Value::UInt(u) => Value::from(*u),
        cel::Value::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        cel::Value::String(s) => Value::String(s.to_string()),
        cel::Value::Bool(b) => Value::Bool(*b),
        cel::Value::Null => Value::Null,
        other => {
            return Err(format!(
                "a {:?} value cannot be a step input",
                other.type_of()
            ));
        }
    })
}

fn evaluate(source: &str, ctx: &cel::Context<'_, '_>) -> Result<Value, String> {
    let program = compile(source)?;
    let v = program
        .execute(ctx)
        .map_err(|e| format!("{source:?}: {e}"))?;
    to_json(&v)
}

fn context(scope: &Scope<'_>) -> cel::Context<'static, 'static> {
    let mut ctx = cel::Context::default();
    for (name, value) in [
        ("event", scope.event),
        ("input", scope.input),
        ("steps", scope.steps),
        ("vars", scope.vars),
        ("data", scope.data),
    ] {
        ctx.add_variable_from_value(name, from_json(value));
    }
    ctx
}

/// JSON as CEL, whole numbers as `int` (so `input.n + 1` works as authors expect).
fn from_json(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(s.clone().into()),
        Value::Array(a) => cel::Value::List(a.iter().map(from_json).collect::<Vec<_>>().into()),
        Value::Object(m) => {
            let map: std::collections::HashMap<String, cel::Value> =
                m.iter().map(|(k, x)| (k.clone(), from_json(x))).collect();
            cel::Value::from(map)
        }
    }
}

fn render_string(s: &str, ctx: &cel::Context<'_, '_>) -> Result<Value, String> {
    if !s.contains("{{") {
        return Ok(Value::String(s.to_owned()));
    }
    let parts = parts(s)?;
    if let [Part::Expr(src)] = parts.as_slice() {
        return evaluate(src, ctx);
    }
    let mut out = String::new();
    for p in parts {
        match p {
            Part::Text(t) => out.push_str(t),
            Part::Expr(src) => match evaluate(src, ctx)? {
                Value::String(s) => out.push_str(&s),
                Value::Null => {}
                other => out.push_str(&other.to_string()),
            },
        }
    }
    Ok(Value::String(out))
}

fn render_value(v: &Value, ctx: &cel::Context<'_, '_>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => render_string(s, ctx)?,
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_value(x, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                out.insert(k.clone(), render_value(x, ctx)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// `params` with every expression evaluated over `scope`; the first failing expression's
/// error otherwise (a missing field, say), which fails the step.
pub fn render(params: &Value, scope: &Scope<'_>) -> Result<Value, String> {
    if !has_expression(params) {
        return Ok(params.clone());
    }
    let ctx = context(scope);
    render_value(params, &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope_render(params: Value) -> Result<Value, String> {
        let event = json!({"type": "bet.placed", "id": "e1", "data": {"stake": 12}});
        let input = json!({"name": "Ann", "n": 2});
        let steps = json!({"fetch": {"output": {"status": 200, "body": {"ok": true}}}});
        let vars = json!({"base": "https://x.test"});
        let data = json!({"amount": 5});
        render(
            &params,
            &Scope {
                event: &event,
                input: &input,
                steps: &steps,
                vars: &vars,
                data: &data,
            },
        )
    }

    #[test]
    fn one_expression_keeps_its_type_and_text_is_interpolated() {
        let out = scope_render(json!({
            "n": "{{ input.n + 1 }}",
            "ok": "{{steps.fetch.output.body.ok}}",
            "url": "{{ vars.base }}/users/{{ input.name }}",
            "stake": ["{{ event.data.stake * 2 }}", 3],
            "plain": "no expressions",
            "data": "{{ data.amount }}",
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({"n": 3, "ok": true, "url": "https://x.test/users/Ann", "stake": [24, 3],
                   "plain": "no expressions", "data": 5})
        );
    }

    #[test]
    fn runtime_errors_are_errors() {
        assert!(scope_render(json!({"x": "{{ input.missing.deeper }}"})).is_err());
    }

    #[test]
    fn check_reports_every_problem_with_its_place() {
        let problems = check(&json!({
            "a": "{{ input.x +  }}",
            "b": ["{{ secret.x }}"],
            "c": "{{ unclosed",
            "d": "{{ input.ok }} and {{ steps.s.output }}",
        }));
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems.iter().any(|p| p.starts_with("params.a:")));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("params.b[0]:") && p.contains("unknown"))
        );
        assert!(problems.iter().any(|p| p.starts_with("params.c:")));
    }
}
