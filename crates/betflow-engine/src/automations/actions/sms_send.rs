//! `sms.send`: one text message through an HTTP SMS provider with an `sms_provider`
//! credential `{baseUrl, account, token, sender}`: `POST {baseUrl}/accounts/{account}/messages`
//! with `{from, to, body}` as JSON and the token as a bearer token, through the same
//! SSRF-guarded client as `http.request`. The output is the provider's message id.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{self, field, shown_url};
use super::{Action, ActionCall, ActionError, ActionOutcome, ActionSpec};

const KEY: &str = "sms.send";
pub const CREDENTIAL_TYPE: &str = "sms_provider";
/// Ten concatenated SMS segments.
const MAX_BODY: usize = 1600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    to: String,
    body: String,
    #[allow(
        dead_code,
        reason = "resolved by the runner into ActionCall::credential"
    )]
    credential_id: Uuid,
}

pub struct SmsSend {
    spec: ActionSpec,
}

impl Default for SmsSend {
    fn default() -> Self {
        Self::new()
    }
}

impl SmsSend {
    pub fn new() -> Self {
        Self {
            spec: ActionSpec {
                key: KEY,
                name: "Send SMS",
                description: "Sends one text message through an HTTP SMS provider \
                              (sms_provider credential) and returns its message id.",
                config_schema: json!({
                    "type": "object",
                    "required": ["credentialId", "to", "body"],
                    "additionalProperties": false,
                    "properties": {
                        "credentialId": {"type": "string", "format": "uuid",
                                         "description": "a credential of type sms_provider"},
                        "to": {"type": "string", "pattern": "^\\+?[0-9][0-9 ()-]{3,30}$",
                               "description": "the recipient's number, E.164 preferred"},
                        "body": {"type": "string", "minLength": 1, "maxLength": MAX_BODY}
                    }
                }),
                output_schema: json!({
                    "type": "object",
                    "required": ["messageId", "to", "status"],
                    "properties": {
                        "messageId": {"type": ["string", "null"],
                                      "description": "the provider's id for the message"},
                        "to": {"type": "string"},
                        "status": {"type": "integer", "description": "the provider's HTTP status"}
                    }
                }),
                credential_type: Some(CREDENTIAL_TYPE),
                external: true,
            },
        }
    }
}

fn check(c: &Config) -> Result<(), ActionError> {
    let to = c.to.trim();
    let digits = to.chars().filter(char::is_ascii_digit).count();
    let ok_chars = to
        .chars()
        .enumerate()
        .all(|(i, ch)| ch.is_ascii_digit() || " ()-".contains(ch) || (i == 0 && ch == '+'));
    if !ok_chars || !(4..=20).contains(&digits) {
        return Err(ActionError::permanent(format!(
            "{KEY}: 'to' is not a phone number"
        )));
    }
    if c.body.trim().is_empty() {
        return Err(ActionError::permanent(format!("{KEY}: 'body' is empty")));
    }
    if c.body.chars().count() > MAX_BODY {
        return Err(ActionError::permanent(format!(
            "{KEY}: 'body' is longer than {MAX_BODY} characters"
        )));
    }
    Ok(())
}

/// `{baseUrl}/accounts/{account}/messages`, the account encoded as one path segment.
fn endpoint(base: &str, account: &str) -> Result<String, ActionError> {
    betflow_domain::webhooks::check_url(base)
        .map_err(|e| ActionError::permanent(format!("{KEY}: credential baseUrl {e}")))?;
    let mut url = reqwest::Url::parse(base.trim())
        .map_err(|_| ActionError::permanent(format!("{KEY}: credential baseUrl is not a URL")))?;
    url.path_segments_mut()
        .map_err(|_| ActionError::permanent(format!("{KEY}: credential baseUrl has no path")))?
        .pop_if_empty()
        .extend(["accounts", account, "messages"]);
    Ok(url.to_string())
}

/// The provider's id for the message, under the names providers use.
fn message_id(body: &Value) -> Value {
    for key in ["id", "messageId", "message_id", "sid"] {
        match body.get(key) {
            Some(Value::String(s)) if !s.is_empty() => return json!(s),
            Some(Value::Number(n)) => return json!(n.to_string()),
            _ => {}
        }
    }
    Value::Null
}

#[async_trait]
impl Action for SmsSend {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let c: Config = support::config(KEY, call.config)?;
        check(&c)?;
        let cred = support::credential(KEY, call.credential, &[CREDENTIAL_TYPE])?;
        let url = endpoint(&field(KEY, cred, "baseUrl")?, &field(KEY, cred, "account")?)?;
        let token = field(KEY, cred, "token")?;
        let sender = field(KEY, cred, "sender")?;
        let what = format!("{KEY}: POST {}", shown_url(&url));
        let webhooks = call.engine.webhooks();
        webhooks
            .guard_outbound(&url)
            .await
            .map_err(|e| ActionError::permanent(format!("{what}: {e}")))?;
        let timeout = call.timeout.min(Duration::from_secs(60));
        let res = webhooks
            .outbound()
            .post(&url)
            .timeout(timeout)
            .bearer_auth(token)
            .header(
                "idempotency-key",
                format!("{}:{}", call.execution_id, call.step_id),
            )
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(json!({"from": sender, "to": c.to.trim(), "body": c.body}).to_string())
            .send()
            .await
            .map_err(|e| support::send_error(&what, e, timeout))?;
        let status = res.status().as_u16();
        let headers = support::headers_json(res.headers());
        let (body, truncated) = support::read_body(res)
            .await
            .map_err(|e| support::send_error(&what, e, timeout))?;
        if !(200..300).contains(&status) {
            return Err(ActionError {
                message: format!("{what} answered {status}"),
                retryable: support::retryable_status(status),
                output: Some(support::answer(status, headers, body, truncated)),
            });
        }
        Ok(ActionOutcome::Done(json!({
            "messageId": message_id(&body),
            "to": c.to.trim(),
            "status": status,
        })))
    }

    fn render(&self, call: &ActionCall<'_>) -> Value {
        let sender = call
            .credential
            .and_then(|c| support::opt_field(c, "sender"));
        json!({"wouldRun": KEY, "from": sender, "to": call.config.get("to"),
               "body": call.config.get("body")})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_encodes_the_account() {
        assert_eq!(
            endpoint("https://sms.example.com/v2/", "acc/1 x").unwrap(),
            "https://sms.example.com/v2/accounts/acc%2F1%20x/messages"
        );
        assert!(endpoint("ftp://x", "a").is_err());
    }

    #[test]
    fn numbers_are_checked() {
        let c = |to: &str| Config {
            to: to.into(),
            body: "hi".into(),
            credential_id: Uuid::nil(),
        };
        assert!(check(&c("+44 7700 900123")).is_ok());
        assert!(check(&c("(555) 010-9999")).is_ok());
        assert!(check(&c("call me")).is_err());
        assert!(check(&c("12")).is_err());
    }
}
