//! What text from outside may contain, decided once for every input.
//!
//! Three rules, from the loosest to the strictest:
//!
//! - **Anywhere** (every JSON string and object key, free-form `data` included, every query and
//!   path value): no NUL (U+0000). PostgreSQL cannot store it in `text` or `jsonb` and fails
//!   the statement, while SQLite stores it; refusing it at the boundary is what makes both
//!   backends give the same 400 instead of a 500 on one and a stored row on the other.
//! - **Free text** (descriptions, comments, reasons): line breaks are fine, so tab, line feed
//!   and carriage return are the only control characters allowed.
//! - **Names and identifiers** (usernames, names, slugs, keys, codes, tags, roles, search
//!   terms, query and path values): no control character at all. They are shown in lists,
//!   logs, CSV and terminals, where an escape sequence or a backspace rewrites what a reader
//!   sees, and nobody types one on purpose.
//!
//! "Control character" is Unicode's general category Cc: C0 (U+0000–U+001F), DEL (U+007F)
//! and C1 (U+0080–U+009F).

use serde_json::Value;

use crate::Violation;

/// Most violations one JSON document reports, so a hostile body cannot make the answer as
/// large as itself.
pub const MAX_REPORTED: usize = 20;

/// Whether `c` may appear in a name or identifier.
pub fn allowed_in_name(c: char) -> bool {
    !c.is_control()
}

/// Whether `c` may appear in free text: anything but control characters other than tab,
/// line feed and carriage return.
pub fn allowed_in_free_text(c: char) -> bool {
    !c.is_control() || matches!(c, '\t' | '\n' | '\r')
}

/// `U+0007`, the way messages name a character a reader cannot see.
fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Refuses a name or identifier containing any control character.
pub fn check_name(field: &str, value: &str) -> Result<(), Violation> {
    match value.chars().find(|c| !allowed_in_name(*c)) {
        None => Ok(()),
        Some(c) => Err(Violation::new(
            field,
            format!(
                "must not contain control characters (found {})",
                code_point(c)
            ),
        )),
    }
}

/// Refuses free text containing a control character other than tab, line feed and
/// carriage return.
pub fn check_free_text(field: &str, value: &str) -> Result<(), Violation> {
    match value.chars().find(|c| !allowed_in_free_text(*c)) {
        None => Ok(()),
        Some(c) => Err(Violation::new(
            field,
            format!(
                "must not contain control characters other than tab, line feed and carriage \
                 return (found {})",
                code_point(c)
            ),
        )),
    }
}

/// [`check_name`] for an optional value, pushing its violation onto `out`.
pub fn check_name_into(out: &mut Vec<Violation>, field: &str, value: Option<&str>) {
    if let Some(Err(v)) = value.map(|s| check_name(field, s)) {
        out.push(v);
    }
}

/// [`check_free_text`] for an optional value, pushing its violation onto `out`.
pub fn check_free_text_into(out: &mut Vec<Violation>, field: &str, value: Option<&str>) {
    if let Some(Err(v)) = value.map(|s| check_free_text(field, s)) {
        out.push(v);
    }
}

/// Refuses a string containing NUL, the one character no input may carry.
pub fn check_no_nul(field: &str, value: &str) -> Result<(), Violation> {
    if value.contains('\0') {
        Err(nul_violation(field.to_owned()))
    } else {
        Ok(())
    }
}

fn nul_violation(field: String) -> Violation {
    Violation::new(field, "must not contain the NUL character (U+0000)")
}

/// The path of `key` inside the object at `parent` (`""` for the document root), as a client
/// would write it: `data.title`. A NUL in the key is spelled `\u0000`, so the path itself
/// carries none.
pub fn join_key(parent: &str, key: &str) -> String {
    let key = key.replace('\0', "\\u0000");
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// The path of element `index` of the array at `parent`: `items[2]`.
pub fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Every place in `value` (string values and object keys, at any depth) holding a NUL, named
/// by its path below `root` (`""` for a whole request body), at most [`MAX_REPORTED`].
pub fn nul_violations(root: &str, value: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    walk(root, value, &mut out);
    out
}

fn walk(path: &str, value: &Value, out: &mut Vec<Violation>) {
    if out.len() >= MAX_REPORTED {
        return;
    }
    match value {
        Value::String(s) if s.contains('\0') => out.push(nul_violation(path.to_owned())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(&join_index(path, i), item, out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let here = join_key(path, key);
                if key.contains('\0') && out.len() < MAX_REPORTED {
                    out.push(Violation::new(
                        here.clone(),
                        "object keys must not contain the NUL character (U+0000)",
                    ));
                }
                walk(&here, item, out);
            }
        }
        _ => {}
    }
}

/// `s` with every NUL replaced by U+FFFD, for records that must be written whatever they
/// carry (the audit trail): a visible replacement instead of a failed transaction.
pub fn scrub_nul(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

/// [`scrub_nul`] applied to every string value and object key of `value`.
pub fn scrub_nul_json(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('\0') => *s = scrub_nul(s),
        Value::Array(items) => items.iter_mut().for_each(scrub_nul_json),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    scrub_nul_json(&mut v);
                    map.insert(scrub_nul(&k), v);
                }
            } else {
                map.values_mut().for_each(scrub_nul_json);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn names_refuse_every_control_character() {
        assert!(check_name("name", "Premier League").is_ok());
        assert!(check_name("name", "Ünïcödé – ok ⚽").is_ok());
        for bad in [
            "a\0b",
            "a\u{7}b",
            "\u{1b}[31mred",
            "tab\there",
            "line\nbreak",
            "\r",
        ] {
            let v = check_name("name", bad).unwrap_err();
            assert_eq!(v.field, "name");
            assert!(v.message.contains("control characters"), "{}", v.message);
        }
        // DEL and the C1 range are control characters too.
        assert!(check_name("name", "a\u{7f}").is_err());
        assert!(check_name("name", "a\u{85}").is_err());
        assert!(check_name("name", "a\u{9f}").is_err());
        assert!(check_name("name", "a\u{a0}").is_ok());
    }

    #[test]
    fn messages_name_the_character_found() {
        let v = check_name("slug", "x\u{1b}").unwrap_err();
        assert!(v.message.contains("U+001B"), "{}", v.message);
        let v = check_free_text("comments", "x\u{7}").unwrap_err();
        assert!(v.message.contains("U+0007"), "{}", v.message);
    }

    #[test]
    fn free_text_allows_only_tab_and_line_breaks() {
        assert!(check_free_text("description", "line one\nline two\r\n\tindented").is_ok());
        for bad in ["a\0b", "bell\u{7}", "\u{1b}[2J", "a\u{7f}", "a\u{9b}"] {
            assert!(check_free_text("description", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn optional_helpers_collect_violations() {
        let mut v = Vec::new();
        check_name_into(&mut v, "name", None);
        check_name_into(&mut v, "name", Some("fine"));
        check_free_text_into(&mut v, "comments", Some("fine\n"));
        assert!(v.is_empty());
        check_name_into(&mut v, "name", Some("bad\u{7}"));
        check_free_text_into(&mut v, "comments", Some("bad\u{0}"));
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "comments"]);
    }

    #[test]
    fn nul_is_found_in_values_and_keys_at_any_depth() {
        let body = json!({
            "username": "ad\u{0}min",
            "data": {"title": "x\u{0}", "ok": "fine", "list": [1, "y", "z\u{0}"],
                     "ke\u{0}y": 1},
            "clean": {"a": ["b", {"c": "d"}]}
        });
        let mut fields: Vec<String> = nul_violations("", &body)
            .into_iter()
            .map(|v| v.field)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            ["data.ke\\u0000y", "data.list[2]", "data.title", "username"]
        );
        assert!(nul_violations("", &json!({"a": "b\n\u{7}", "c": [1, 2.5, null]})).is_empty());
        assert_eq!(nul_violations("data", &json!("\u{0}"))[0].field, "data");
    }

    #[test]
    fn nul_reports_are_bounded() {
        let many: Vec<Value> = (0..100).map(|_| json!("\u{0}")).collect();
        assert_eq!(nul_violations("", &Value::Array(many)).len(), MAX_REPORTED);
    }

    #[test]
    fn scrubbing_leaves_no_nul_and_keeps_the_rest() {
        let mut v = json!({"a\u{0}": ["x\u{0}y", {"b": "c\u{0}"}], "n": 1, "t": "ok\n"});
        scrub_nul_json(&mut v);
        assert!(nul_violations("", &v).is_empty());
        assert_eq!(
            v,
            json!({"a\u{FFFD}": ["x\u{FFFD}y", {"b": "c\u{FFFD}"}], "n": 1, "t": "ok\n"})
        );
        assert!(check_no_nul("x", &scrub_nul("a\0b")).is_ok());
        assert!(check_no_nul("x", "a\0b").is_err());
    }

    proptest! {
        #[test]
        fn a_name_is_accepted_exactly_when_it_has_no_control_character(s in "\\PC{0,20}[\\x00-\\x1f\\x7f-\\x9f]?\\PC{0,20}") {
            let has_control = s.chars().any(char::is_control);
            prop_assert_eq!(check_name("f", &s).is_ok(), !has_control);
        }

        #[test]
        fn free_text_accepts_whatever_a_name_does_plus_line_breaks(s in "[\\PC\\t\\n\\r]{0,40}") {
            prop_assert!(check_free_text("f", &s).is_ok());
            let as_name = s.replace(['\t', '\n', '\r'], " ");
            prop_assert!(check_name("f", &as_name).is_ok());
        }

        #[test]
        fn scrubbed_strings_never_hold_nul(s in "[\\x00a-z]{0,30}") {
            prop_assert!(!scrub_nul(&s).contains('\0'));
            prop_assert_eq!(scrub_nul(&s).chars().count(), s.chars().count());
        }
    }
}
