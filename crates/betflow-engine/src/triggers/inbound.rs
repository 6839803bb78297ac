//! `POST /api/v1/hooks/{endpointId}`: a public URL, verified with the endpoint's own secret.
//!
//! In order: the endpoint must exist and be active (404); its per-minute rate limit (429);
//! the body size (413, checked by the API before the body is read whole); the signature and
//! timestamp (401, recorded as a system event, starts nothing); the replay window: a message
//! id the endpoint has already accepted is refused (409) and starts nothing; the body must be
//! JSON (400). The verified payload becomes the run's input.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use betflow_domain::audit::{Severity, SystemEvent};
use betflow_domain::automation::execution::TriggerType;
use betflow_domain::automation::triggers::inbound::{
    DEFAULT_HMAC_HEADER, StandardHeaders, VerifyError, verify_hmac_hex, verify_standard,
};
use betflow_domain::automation::triggers::{InboundEndpoint, Scheme};
use betflow_domain::ids::WorkflowId;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ratelimit::Rule;
use crate::{Engine, EngineError};

/// One inbound request, as the API read it: header names lower-case.
#[derive(Debug, Clone, Default)]
pub struct HookRequest {
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub ip: Option<IpAddr>,
}

impl HookRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// What became of an inbound request.
#[derive(Debug)]
pub enum Received {
    /// Verified; the run it started.
    Accepted { execution_id: WorkflowId },
    /// No such endpoint, or it is inactive.
    NotFound,
    /// Over the endpoint's rate limit; try again after this long.
    RateLimited { limit: u64, reset: Duration },
    /// The signature or its timestamp did not verify.
    Unauthenticated(VerifyError),
    /// This message id was already accepted.
    Replayed,
    /// Verified, but the body is not a JSON object.
    NotJson(String),
}

impl Engine {
    /// Verifies and accepts one inbound request at `now`.
    pub async fn receive_hook(
        &self,
        endpoint_id: Uuid,
        req: &HookRequest,
        now: DateTime<Utc>,
    ) -> Result<Received, EngineError> {
        let Some(endpoint) = self.store.get_endpoint(endpoint_id).await? else {
            return Ok(Received::NotFound);
        };
        if !endpoint.is_active {
            return Ok(Received::NotFound);
        }
        if let Some(limit) = endpoint.rate_limit {
            let rule = Rule {
                limit: u64::from(limit),
                window: Duration::from_secs(60),
            };
            let d = self
                .limiter
                .check(&format!("hook:{endpoint_id}"), rule)
                .await;
            if !d.allowed {
                return Ok(Received::RateLimited {
                    limit: d.limit,
                    reset: d.reset,
                });
            }
        }
        let message_id = match self.verify_hook(&endpoint, req, now) {
            Ok(id) => id,
            Err(e) => {
                self.record_rejected_hook(&endpoint, e, req.ip).await;
                return Ok(Received::Unauthenticated(e));
            }
        };
        let input: Value = match serde_json::from_slice(&req.body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return Ok(Received::NotJson("it must be a JSON object".into())),
            Err(e) => return Ok(Received::NotJson(e.to_string())),
        };
        if let Some(id) = &message_id {
            let mut tx = self.store.begin().await?;
            let fresh = tx.remember_message(endpoint.id, id, now).await?;
            tx.commit().await?;
            if !fresh {
                return Ok(Received::Replayed);
            }
        }
        let started = self
            .start_triggered(
                &endpoint.definition_key,
                TriggerType::Webhook,
                endpoint.id,
                message_id.clone(),
                input,
            )
            .await;
        match started {
            Ok((execution_id, true)) => Ok(Received::Accepted { execution_id }),
            Ok((_, false)) => Ok(Received::Replayed),
            Err(e) => {
                // Nothing started: let the sender's retry through.
                if let Some(id) = &message_id {
                    let mut tx = self.store.begin().await?;
                    tx.forget_message(endpoint.id, id).await?;
                    tx.commit().await?;
                }
                Err(e)
            }
        }
    }

    /// The message id to key the run on: Standard Webhooks' `webhook-id`; for plain HMAC,
    /// a `webhook-id` or `X-Request-Id` header when the sender sends one.
    fn verify_hook(
        &self,
        endpoint: &InboundEndpoint,
        req: &HookRequest,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, VerifyError> {
        let secret = self.triggers.open(endpoint).map_err(|e| {
            tracing::error!(endpoint = %endpoint.id, error = %e,
                "an inbound endpoint's secret cannot be decrypted");
            VerifyError::BadSignature
        })?;
        match endpoint.scheme {
            Scheme::Standard => {
                let body = std::str::from_utf8(&req.body).map_err(|_| VerifyError::BadSignature)?;
                let headers = StandardHeaders {
                    id: req.header("webhook-id"),
                    timestamp: req.header("webhook-timestamp"),
                    signature: req.header("webhook-signature"),
                };
                verify_standard(&secret, headers, body, now, endpoint.tolerance_secs)
                    .map(|id| Some(id.to_owned()))
            }
            Scheme::HmacSha256 => {
                let name = endpoint.header.as_deref().unwrap_or(DEFAULT_HMAC_HEADER);
                verify_hmac_hex(&secret, req.header(name), &req.body)?;
                Ok(req
                    .header("webhook-id")
                    .or_else(|| req.header("x-request-id"))
                    .filter(|id| !id.is_empty() && id.len() <= 256)
                    .map(str::to_owned))
            }
        }
    }

    async fn record_rejected_hook(
        &self,
        endpoint: &InboundEndpoint,
        why: VerifyError,
        ip: Option<IpAddr>,
    ) {
        let event = SystemEvent::new(
            "inbound_webhook.rejected",
            Severity::Warning,
            format!("inbound webhook refused: {}", why.message()),
            Some(
                json!({"endpointId": endpoint.id, "definitionKey": endpoint.definition_key,
                        "code": why.code(), "ip": ip}),
            ),
        );
        match event {
            Ok(mut e) => {
                e.ip_address = ip;
                if let Err(err) = self.record_system_event(&e).await {
                    tracing::warn!(error = %err, "recording a refused inbound webhook failed");
                }
            }
            Err(err) => tracing::warn!(error = %err, "a refused inbound webhook's record"),
        }
    }
}
