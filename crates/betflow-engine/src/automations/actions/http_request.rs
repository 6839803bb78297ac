//! `http.request`: one HTTP request through the outbound webhooks' SSRF-guarded client.
//!
//! The answer is the output (`status`, `headers`, `body`, `truncated`): bodies above 64 KiB
//! are cut and flagged, JSON answers are parsed. An answer outside 2xx fails the step unless
//! its status is in `allowStatus`: retryably for 5xx and 429 (and when nothing answered),
//! permanently for the other statuses. Every attempt of a step sends the same
//! `Idempotency-Key: <execution id>:<step id>`.
//!
//! Credentials (optional): `http_bearer {token}`, `http_basic {username, password}`,
//! `api_key_header {header, value}`, `oauth2_client_credentials {tokenUrl, clientId,
//! clientSecret, scope?}` (the token is cached until it expires).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::support::{self, check_kind, field, opt_field, shown_url};
use super::{Action, ActionCall, ActionError, ActionOutcome, ActionSpec};
use crate::credentials::CredentialSecret;

const KEY: &str = "http.request";
/// The credential types the action understands.
pub const CREDENTIAL_TYPES: [&str; 4] = [
    "http_bearer",
    "http_basic",
    "api_key_header",
    "oauth2_client_credentials",
];
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
/// The longest a request may take, whatever the step says.
const MAX_TIMEOUT_MS: u64 = 300_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    credential_id: Option<Uuid>,
    #[serde(default)]
    allow_status: Vec<u16>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

fn get() -> String {
    "GET".to_owned()
}

/// An OAuth2 access token and when to stop using it.
struct Token {
    value: String,
    until: Instant,
}

pub struct HttpRequest {
    spec: ActionSpec,
    /// OAuth2 client-credentials tokens, by a hash of the credential's fields.
    tokens: Mutex<HashMap<[u8; 32], Token>>,
}

impl Default for HttpRequest {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpRequest {
    pub fn new() -> Self {
        Self {
            spec: ActionSpec {
                key: KEY,
                name: "HTTP request",
                description: "Sends one HTTP request (SSRF-guarded) and returns the answer's \
                              status, headers and body (JSON parsed, cut at 64 KiB). A status \
                              outside 2xx fails the step unless listed in allowStatus.",
                config_schema: config_schema(),
                output_schema: output_schema(),
                credential_type: None,
                external: true,
            },
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

fn config_schema() -> Value {
    json!({
        "type": "object",
        "required": ["url"],
        "additionalProperties": false,
        "properties": {
            "method": {"type": "string", "enum": METHODS, "default": "GET"},
            "url": {"type": "string", "minLength": 1, "maxLength": 2048,
                    "description": "http:// or https://; private addresses are refused unless \
                                    BETFLOW_WEBHOOKS_ALLOW_PRIVATE is set"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "body": {"description": "a string is sent as it is (text/plain unless a \
                                     Content-Type header says otherwise); anything else as JSON"},
            "credentialId": {"type": "string", "format": "uuid",
                             "description": "optional: a credential of type http_bearer, \
                                             http_basic, api_key_header or \
                                             oauth2_client_credentials"},
            "allowStatus": {"type": "array",
                            "items": {"type": "integer", "minimum": 100, "maximum": 599},
                            "description": "statuses that do not fail the step"},
            "timeoutMs": {"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT_MS}
        }
    })
}

fn output_schema() -> Value {
    json!({
        "type": "object",
        "required": ["status", "headers", "body", "truncated"],
        "properties": {
            "status": {"type": "integer"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "body": {"description": "the answer's JSON when it is JSON and whole, else its text"},
            "truncated": {"type": "boolean", "description": "the body was cut at 64 KiB"}
        }
    })
}

/// How a request authenticates.
enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
    Header(HeaderName, HeaderValue),
    OAuth2 { key: [u8; 32], token: String },
}

impl HttpRequest {
    fn request_parts(
        &self,
        call: &ActionCall<'_>,
    ) -> Result<(Config, reqwest::Method, HeaderMap, Duration), ActionError> {
        let c: Config = support::config(KEY, call.config)?;
        let method = c.method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(ActionError::permanent(format!(
                "{KEY}: method must be one of {}",
                METHODS.join(", ")
            )));
        }
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| ActionError::permanent(format!("{KEY}: bad method")))?;
        betflow_domain::webhooks::check_url(&c.url)
            .map_err(|e| ActionError::permanent(format!("{KEY}: url {e}")))?;
        if let Some(bad) = c.allow_status.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(ActionError::permanent(format!(
                "{KEY}: allowStatus {bad} is not an HTTP status"
            )));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &c.headers {
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ActionError::permanent(format!("{KEY}: '{name}' is not a header name"))
            })?;
            let v = HeaderValue::from_str(value).map_err(|_| {
                ActionError::permanent(format!("{KEY}: header '{name}' has a bad value"))
            })?;
            headers.append(n, v);
        }
        let key = format!("{}:{}", call.execution_id, call.step_id);
        let key = HeaderValue::from_str(&key)
            .map_err(|_| ActionError::permanent(format!("{KEY}: bad step id")))?;
        headers.insert("idempotency-key", key);
        let ms = c
            .timeout_ms
            .unwrap_or(MAX_TIMEOUT_MS)
            .clamp(1, MAX_TIMEOUT_MS);
        let timeout = Duration::from_millis(ms).min(call.timeout);
        if c.credential_id.is_some() && call.credential.is_none() {
            return Err(ActionError::permanent(format!(
                "{KEY}: the credential named by params.credentialId was not resolved"
            )));
        }
        Ok((c, method, headers, timeout))
    }

    async fn auth(&self, call: &ActionCall<'_>, timeout: Duration) -> Result<Auth, ActionError> {
        let Some(cred) = call.credential else {
            return Ok(Auth::None);
        };
        check_kind(KEY, cred, &CREDENTIAL_TYPES)?;
        Ok(match cred.kind.as_str() {
            "http_bearer" => Auth::Bearer(field(KEY, cred, "token")?),
            "http_basic" => Auth::Basic(
                field(KEY, cred, "username")?,
                opt_field(cred, "password").unwrap_or_default(),
            ),
            "api_key_header" => {
                let name = field(KEY, cred, "header")?;
                let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    ActionError::permanent(format!(
                        "{KEY}: credential {}: 'header' is not a header name",
                        cred.id
                    ))
                })?;
                let mut value =
                    HeaderValue::from_str(&field(KEY, cred, "value")?).map_err(|_| {
                        ActionError::permanent(format!(
                            "{KEY}: credential {}: 'value' is not a header value",
                            cred.id
                        ))
                    })?;
                value.set_sensitive(true);
                Auth::Header(name, value)
            }
            _ => self.oauth2(call, cred, timeout).await?,
        })
    }

    /// A client-credentials token: the cached one while it lasts, else a new one.
    async fn oauth2(
        &self,
        call: &ActionCall<'_>,
        cred: &CredentialSecret,
        timeout: Duration,
    ) -> Result<Auth, ActionError> {
        let token_url = field(KEY, cred, "tokenUrl")?;
        let client_id = field(KEY, cred, "clientId")?;
        let secret = field(KEY, cred, "clientSecret")?;
        let scope = opt_field(cred, "scope");
        let mut h = Sha256::new();
        for part in [
            &token_url,
            &client_id,
            &secret,
            &scope.clone().unwrap_or_default(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let key: [u8; 32] = h.finalize().into();
        if let Some(t) = self.cached(&key) {
            return Ok(Auth::OAuth2 { key, token: t });
        }
        let what = format!("{KEY}: OAuth2 token from {}", shown_url(&token_url));
        betflow_domain::webhooks::check_url(&token_url)
            .map_err(|e| ActionError::permanent(format!("{what}: tokenUrl {e}")))?;
        let webhooks = call.engine.webhooks();
        webhooks
            .guard_outbound(&token_url)
            .await
            .map_err(|e| ActionError::permanent(format!("{what}: {e}")))?;
        let mut pairs = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope.as_deref() {
            pairs.push(("scope", s));
        }
        let res = webhooks
            .outbound()
            .post(&token_url)
            .timeout(timeout)
            .basic_auth(&client_id, Some(&secret))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(support::form(&pairs))
            .send()
            .await
            .map_err(|e| support::send_error(&what, e, timeout))?;
        let status = res.status().as_u16();
        let (body, _) = support::read_body(res)
            .await
            .map_err(|e| support::send_error(&what, e, timeout))?;
        if !(200..300).contains(&status) {
            // The OAuth2 error code only (`invalid_client`), never the body.
            let code = body.get("error").and_then(Value::as_str).unwrap_or("");
            let message = format!("{what}: the token endpoint answered {status} {code}");
            return Err(if support::retryable_status(status) {
                ActionError::retryable(message.trim_end())
            } else {
                ActionError::permanent(message.trim_end())
            });
        }
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ActionError::permanent(format!("{what}: no access_token")))?
            .to_owned();
        let lifetime = body
            .get("expires_in")
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(300);
        // Renewed a little before it runs out, so a request never carries a dying token.
        let lifetime = Duration::from_secs(lifetime.saturating_sub((lifetime / 10).min(30)));
        if let Ok(mut tokens) = self.tokens.lock() {
            let now = Instant::now();
            tokens.retain(|_, t| t.until > now);
            tokens.insert(
                key,
                Token {
                    value: token.clone(),
                    until: now + lifetime,
                },
            );
        }
        Ok(Auth::OAuth2 { key, token })
    }

    fn cached(&self, key: &[u8; 32]) -> Option<String> {
        let tokens = self.tokens.lock().ok()?;
        let t = tokens.get(key)?;
        (t.until > Instant::now()).then(|| t.value.clone())
    }

    fn forget(&self, key: &[u8; 32]) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(key);
        }
    }
}

#[async_trait]
impl Action for HttpRequest {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let (c, method, headers, timeout) = self.request_parts(&call)?;
        let what = format!("{KEY}: {method} {}", shown_url(&c.url));
        let webhooks = call.engine.webhooks();
        webhooks
            .guard_outbound(&c.url)
            .await
            .map_err(|e| ActionError::permanent(format!("{what}: {e}")))?;
        let auth = self.auth(&call, timeout).await?;
        let mut req = webhooks
            .outbound()
            .request(method.clone(), c.url.trim())
            .timeout(timeout)
            .header(
                reqwest::header::USER_AGENT,
                concat!("betflow-automations/", env!("CARGO_PKG_VERSION")),
            );
        let typed = headers.contains_key(reqwest::header::CONTENT_TYPE);
        req = match &c.body {
            None | Some(Value::Null) => req,
            Some(Value::String(s)) if typed => req.body(s.clone()),
            Some(Value::String(s)) => req
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(s.clone()),
            Some(v) if typed => req.body(v.to_string()),
            Some(v) => req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(v.to_string()),
        };
        req = req.headers(headers);
        let oauth_key = match auth {
            Auth::None => None,
            Auth::Bearer(t) => {
                req = req.bearer_auth(t);
                None
            }
            Auth::Basic(u, p) => {
                req = req.basic_auth(u, Some(p));
                None
            }
            Auth::Header(n, v) => {
                req = req.header(n, v);
                None
            }
            Auth::OAuth2 { key, token } => {
                req = req.bearer_auth(token);
                Some(key)
            }
        };
        let res = req
            .send()
            .await
            .map_err(|e| support::send_error(&what, e, timeout))?;
        let status = res.status().as_u16();
        if status == 401 {
            // A token revoked before its time: the next attempt fetches another.
            if let Some(key) = oauth_key {
                self.forget(&key);
            }
        }
        let headers = support::headers_json(res.headers());
        let (body, truncated) = support::read_body(res)
            .await
            .map_err(|e| support::send_error(&what, e, timeout))?;
        let output = support::answer(status, headers, body, truncated);
        if (200..300).contains(&status) || c.allow_status.contains(&status) {
            return Ok(ActionOutcome::Done(output));
        }
        Err(ActionError {
            message: format!("{what} answered {status}"),
            retryable: support::retryable_status(status),
            output: Some(output),
        })
    }

    fn render(&self, call: &ActionCall<'_>) -> Value {
        let c: Config = match support::config(KEY, call.config) {
            Ok(c) => c,
            Err(e) => return json!({"wouldRun": KEY, "error": e.message}),
        };
        let mut headers = json!(c.headers);
        headers["Idempotency-Key"] = json!(format!("{}:{}", call.execution_id, call.step_id));
        json!({
            "wouldRun": KEY,
            "method": c.method.to_ascii_uppercase(),
            "url": c.url,
            "headers": headers,
            "body": c.body,
            "credential": call.credential.map(|cr| json!({"id": cr.id, "type": cr.kind})),
        })
    }
}
