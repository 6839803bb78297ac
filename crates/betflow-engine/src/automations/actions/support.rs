//! What several actions share: reading a step's config and a credential's fields, and
//! turning an outbound HTTP exchange into an output or an error. Nothing here puts a
//! credential's value, or a config value, into an error message.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::ActionError;
use crate::credentials::CredentialSecret;

/// Bodies longer than this are cut and flagged `truncated`.
pub(super) const MAX_BODY: usize = 64 * 1024;

/// The step's `params` as `T`; a mismatch is permanent and says where, without the value
/// (a rendered expression may have put a secret variable there).
pub(super) fn config<T: DeserializeOwned>(action: &str, config: &Value) -> Result<T, ActionError> {
    serde_path_to_error::deserialize(config).map_err(|e| {
        let path = e.path().to_string();
        let what = without_quoted(&e.inner().to_string());
        if path == "." {
            ActionError::permanent(format!("{action}: bad params: {what}"))
        } else {
            ActionError::permanent(format!("{action}: bad params.{path}: {what}"))
        }
    })
}

/// `invalid type: string "abc", expected u16` -> `invalid type: string, expected u16`.
fn without_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(" \"") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find('"') {
            Some(end) => rest = &rest[start + 2 + end + 1..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The credential a step must have named, of one of `kinds`.
pub(super) fn credential<'a>(
    action: &str,
    credential: Option<&'a CredentialSecret>,
    kinds: &[&str],
) -> Result<&'a CredentialSecret, ActionError> {
    let c = credential.ok_or_else(|| {
        ActionError::permanent(format!(
            "{action} needs a credential of type {} (params.credentialId)",
            kinds.join(" or ")
        ))
    })?;
    check_kind(action, c, kinds)?;
    Ok(c)
}

pub(super) fn check_kind(
    action: &str,
    c: &CredentialSecret,
    kinds: &[&str],
) -> Result<(), ActionError> {
    if kinds.contains(&c.kind.as_str()) {
        Ok(())
    } else {
        Err(ActionError::permanent(format!(
            "{action}: credential {} is of type {}, not {}",
            c.id,
            c.kind,
            kinds.join(" or ")
        )))
    }
}

/// A field of the credential as text (numbers and booleans as written); `None` when absent,
/// null or empty.
pub(super) fn opt_field(c: &CredentialSecret, name: &str) -> Option<String> {
    match c.fields.get(name)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A field the credential must have; missing is permanent (another attempt cannot help).
pub(super) fn field(action: &str, c: &CredentialSecret, name: &str) -> Result<String, ActionError> {
    opt_field(c, name).ok_or_else(|| {
        ActionError::permanent(format!(
            "{action}: credential {} ({}) has no '{name}'",
            c.id, c.kind
        ))
    })
}

/// A URL to show in messages and outputs: scheme, host, port and path (a query string may
/// carry a key).
pub(super) fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
}

/// A request that got no answer: retryable, with its causes and without the URL.
pub(super) fn send_error(what: &str, e: reqwest::Error, timeout: Duration) -> ActionError {
    if e.is_timeout() {
        return ActionError::retryable(format!(
            "{what}: timed out after {} ms",
            timeout.as_millis()
        ));
    }
    let e = e.without_url();
    let mut message = if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        e.to_string()
    };
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        cause = c.source();
    }
    ActionError::retryable(format!("{what}: {message}"))
}

/// An answer's headers as an object (names lower case, repeated ones joined with `, `).
pub(super) fn headers_json(headers: &reqwest::header::HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match out.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&value);
            }
            _ => {
                out.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    Value::Object(out)
}

/// Reads up to [`MAX_BODY`] bytes of the answer: the body (parsed when the answer says it is
/// JSON and came whole, else text) and whether it was cut.
pub(super) async fn read_body(mut res: reqwest::Response) -> Result<(Value, bool), reqwest::Error> {
    let json = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    let mut bytes = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = res.chunk().await? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_BODY {
            bytes.truncate(MAX_BODY);
            truncated = true;
            break;
        }
    }
    if json
        && !truncated
        && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
    {
        return Ok((v, false));
    }
    Ok((Value::String(text(&bytes)), truncated))
}

/// Bytes as text; a multi-byte character cut at the end is dropped, other bad bytes replaced.
fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Whether a status that is not allowed may pass on another attempt.
pub(super) fn retryable_status(status: u16) -> bool {
    status >= 500 || status == 429
}

/// The answer as an action's output.
pub(super) fn answer(status: u16, headers: Value, body: Value, truncated: bool) -> Value {
    json!({"status": status, "headers": headers, "body": body, "truncated": truncated})
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub(super) fn form(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    out.push(char::from(b));
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_say_where_without_the_value() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct C {
            port: u16,
        }
        let e = config::<C>("x", &json!({"port": "s3cret"})).unwrap_err();
        assert!(!e.retryable);
        assert!(e.message.contains("params.port"), "{}", e.message);
        assert!(!e.message.contains("s3cret"), "{}", e.message);
        let e = config::<C>("x", &json!({})).unwrap_err();
        assert!(e.message.contains("missing field `port`"), "{}", e.message);
    }

    #[test]
    fn urls_are_shown_without_query_or_user() {
        assert_eq!(
            shown_url("https://u:p@example.com:8443/a/b?key=s3cret#f"),
            "https://example.com:8443/a/b"
        );
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(
            form(&[("grant_type", "client_credentials"), ("scope", "a b/c")]),
            "grant_type=client_credentials&scope=a+b%2Fc"
        );
    }

    #[test]
    fn cut_text_drops_a_split_character() {
        let s = "aé".as_bytes();
        assert_eq!(text(&s[..2]), "a");
    }
}
