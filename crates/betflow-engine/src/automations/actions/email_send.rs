//! `email.send`: one message over SMTP (lettre), with an `smtp` credential
//! `{host, port, tls: none|starttls|tls, username?, password?, from?}`.
//!
//! `starttls` refuses a server that cannot upgrade (nothing is sent in clear); `tls` is
//! implicit TLS (SMTPS). A 4xx answer or a lost connection is retryable, a 5xx (a refused
//! recipient, a refused login) is not.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::support::{self, field, opt_field};
use super::{Action, ActionCall, ActionError, ActionOutcome, ActionSpec};

const KEY: &str = "email.send";
pub const CREDENTIAL_TYPE: &str = "smtp";

/// One address or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Addresses {
    One(String),
    Many(Vec<String>),
}

impl Addresses {
    fn list(&self) -> Vec<&str> {
        match self {
            Self::One(a) => vec![a.as_str()],
            Self::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    to: Addresses,
    #[serde(default)]
    cc: Option<Addresses>,
    #[serde(default)]
    bcc: Option<Addresses>,
    #[serde(default)]
    reply_to: Option<String>,
    subject: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    html: Option<String>,
    #[allow(
        dead_code,
        reason = "resolved by the runner into ActionCall::credential"
    )]
    credential_id: Uuid,
}

pub struct EmailSend {
    spec: ActionSpec,
}

impl Default for EmailSend {
    fn default() -> Self {
        Self::new()
    }
}

fn addresses() -> Value {
    json!({"oneOf": [
        {"type": "string", "minLength": 3},
        {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 3}}
    ]})
}

impl EmailSend {
    pub fn new() -> Self {
        Self {
            spec: ActionSpec {
                key: KEY,
                name: "Send email",
                description: "Sends one email over SMTP with an smtp credential: to, cc, bcc, \
                              subject, and a text and/or HTML body.",
                config_schema: json!({
                    "type": "object",
                    "required": ["credentialId", "to", "subject"],
                    "additionalProperties": false,
                    "anyOf": [{"required": ["text"]}, {"required": ["html"]}],
                    "properties": {
                        "credentialId": {"type": "string", "format": "uuid",
                                         "description": "a credential of type smtp"},
                        "to": addresses(),
                        "cc": addresses(),
                        "bcc": addresses(),
                        "replyTo": {"type": "string"},
                        "subject": {"type": "string", "maxLength": 998},
                        "text": {"type": "string"},
                        "html": {"type": "string"}
                    }
                }),
                output_schema: json!({
                    "type": "object",
                    "required": ["messageId", "recipients", "response"],
                    "properties": {
                        "messageId": {"type": "string"},
                        "recipients": {"type": "array", "items": {"type": "string"}},
                        "response": {"type": "string", "description": "the server's answer"}
                    }
                }),
                credential_type: Some(CREDENTIAL_TYPE),
                external: true,
            },
        }
    }
}

fn mailbox(what: &str, address: &str) -> Result<Mailbox, ActionError> {
    address
        .trim()
        .parse()
        .map_err(|_| ActionError::permanent(format!("{KEY}: {what} '{address}' is not an address")))
}

/// The message, its id and its recipients.
fn message(c: &Config, from: Mailbox) -> Result<(Message, String, Vec<String>), ActionError> {
    let message_id = format!("<{}@betflow>", Uuid::now_v7());
    let mut b = Message::builder()
        .from(from)
        .subject(c.subject.clone())
        .message_id(Some(message_id.clone()));
    let mut recipients = Vec::new();
    for a in c.to.list() {
        b = b.to(mailbox("to", a)?);
        recipients.push(a.trim().to_owned());
    }
    for a in c.cc.as_ref().map(Addresses::list).unwrap_or_default() {
        b = b.cc(mailbox("cc", a)?);
        recipients.push(a.trim().to_owned());
    }
    for a in c.bcc.as_ref().map(Addresses::list).unwrap_or_default() {
        b = b.bcc(mailbox("bcc", a)?);
        recipients.push(a.trim().to_owned());
    }
    if recipients.is_empty() {
        return Err(ActionError::permanent(format!("{KEY}: no recipient")));
    }
    if let Some(r) = &c.reply_to {
        b = b.reply_to(mailbox("replyTo", r)?);
    }
    let built = match (&c.text, &c.html) {
        (Some(t), Some(h)) => b.multipart(MultiPart::alternative_plain_html(t.clone(), h.clone())),
        (Some(t), None) => b.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(t.clone()),
        ),
        (None, Some(h)) => b.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(h.clone()),
        ),
        (None, None) => {
            return Err(ActionError::permanent(format!("{KEY}: needs text or html")));
        }
    };
    let m = built.map_err(|e| ActionError::permanent(format!("{KEY}: {e}")))?;
    Ok((m, message_id, recipients))
}

/// The transport the credential describes.
fn transport(
    call: &ActionCall<'_>,
    timeout: Duration,
) -> Result<(AsyncSmtpTransport<Tokio1Executor>, Mailbox), ActionError> {
    let cred = support::credential(KEY, call.credential, &[CREDENTIAL_TYPE])?;
    let host = field(KEY, cred, "host")?;
    let tls = opt_field(cred, "tls").unwrap_or_else(|| "starttls".to_owned());
    let port = match opt_field(cred, "port") {
        Some(p) => p.parse::<u16>().map_err(|_| {
            ActionError::permanent(format!("{KEY}: credential {}: bad port", cred.id))
        })?,
        None if tls == "tls" => 465,
        None => 587,
    };
    let params = || {
        TlsParameters::new(host.clone())
            .map_err(|e| ActionError::permanent(format!("{KEY}: TLS for {host}: {e}")))
    };
    let tls = match tls.as_str() {
        "none" => Tls::None,
        "starttls" => Tls::Required(params()?),
        "tls" => Tls::Wrapper(params()?),
        _ => {
            return Err(ActionError::permanent(format!(
                "{KEY}: credential {}: tls must be none, starttls or tls",
                cred.id
            )));
        }
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
        .port(port)
        .tls(tls)
        .timeout(Some(timeout));
    let username = opt_field(cred, "username");
    if let Some(u) = &username {
        b = b.credentials(Credentials::new(
            u.clone(),
            opt_field(cred, "password").unwrap_or_default(),
        ));
    }
    let from = opt_field(cred, "from")
        .or(username.filter(|u| u.contains('@')))
        .ok_or_else(|| {
            ActionError::permanent(format!(
                "{KEY}: credential {} has no 'from' (nor a username that is an address)",
                cred.id
            ))
        })?;
    Ok((b.build(), mailbox("from", &from)?))
}

#[async_trait]
impl Action for EmailSend {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let c: Config = support::config(KEY, call.config)?;
        let (mailer, from) = transport(&call, call.timeout)?;
        let (message, message_id, recipients) = message(&c, from)?;
        let sent = tokio::time::timeout(call.timeout, mailer.send(message)).await;
        let answer = match sent {
            Err(_) => {
                return Err(ActionError::retryable(format!(
                    "{KEY}: timed out after {} ms",
                    call.timeout.as_millis()
                )));
            }
            Ok(Err(e)) => {
                let message = format!("{KEY}: {e}");
                return Err(if e.is_permanent() || e.is_client() {
                    ActionError::permanent(message)
                } else {
                    ActionError::retryable(message)
                });
            }
            Ok(Ok(answer)) => answer,
        };
        let response = format!(
            "{} {}",
            answer.code(),
            answer.message().collect::<Vec<_>>().join(" ")
        );
        Ok(ActionOutcome::Done(json!({
            "messageId": message_id,
            "recipients": recipients,
            "response": response.trim_end(),
        })))
    }

    fn render(&self, call: &ActionCall<'_>) -> Value {
        json!({"wouldRun": KEY, "email": call.config})
    }
}
