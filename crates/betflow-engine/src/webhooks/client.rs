//! The outbound HTTP side: a client whose resolver refuses private addresses (so a name
//! re-pointed somewhere internal is never contacted), the URL guard endpoints pass when they
//! are saved, and one signed POST (Standard Webhooks).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use betflow_domain::DomainError;
use betflow_domain::time::now;
use betflow_domain::webhooks::{Delivery, Webhook, check_url, is_public, sign};
use chrono::{DateTime, Utc};

use super::Webhooks;
use crate::EngineError;

/// Resolves names for outbound requests, refusing private addresses unless allowed, so a
/// name that resolves somewhere internal (or is re-pointed there later) is never contacted.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub(crate) fn http_client(allow_private: bool) -> Result<reqwest::Client, EngineError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver { allow_private }))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("betflow-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| EngineError::Internal(format!("webhook HTTP client: {e}")))
}

/// What one HTTP attempt came to.
pub(super) struct Outcome {
    pub(super) status: Option<u16>,
    pub(super) latency_ms: u32,
    pub(super) body: Option<String>,
    pub(super) error: Option<String>,
    pub(super) retry_after: Option<Duration>,
}

fn retry_after(headers: &reqwest::header::HeaderMap, at: DateTime<Utc>) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(7 * 24 * 3600)));
    }
    let when = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    (when - at).to_std().ok()
}

impl Webhooks {
    /// Checks that a URL may be delivered to: well formed, and (unless private targets are
    /// allowed) an IP literal or a name that resolves to public addresses only.
    pub(super) async fn guard_url(&self, url: &str) -> Result<(), EngineError> {
        self.guard(url, true).await
    }

    /// The SSRF-guarded client, for other outbound HTTP (automation actions): the same
    /// resolver and `BETFLOW_WEBHOOKS_ALLOW_PRIVATE` setting as deliveries.
    pub(crate) fn outbound(&self) -> &reqwest::Client {
        &self.http
    }

    /// The guard a request through [`Self::outbound`] passes first, as [`Self::guard_url`]
    /// (the guarded resolver checks names again as it dials).
    pub(crate) async fn guard_outbound(&self, url: &str) -> Result<(), EngineError> {
        self.guard(url, true).await
    }

    /// As [`Self::guard_url`]; without `resolve`, names are left to the guarded resolver.
    async fn guard(&self, url: &str, resolve: bool) -> Result<(), EngineError> {
        check_url(url).map_err(|e| DomainError::invalid("url", e))?;
        if self.settings.allow_private {
            return Ok(());
        }
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| DomainError::invalid("url", e.to_string()))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| DomainError::invalid("url", "must name a host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let private = |detail: String| {
            EngineError::from(DomainError::invalid(
                "url",
                format!(
                    "{detail}: webhooks may not target private, loopback or link-local \
                     addresses (BETFLOW_WEBHOOKS_ALLOW_PRIVATE allows them)"
                ),
            ))
        };
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return if is_public(ip) {
                Ok(())
            } else {
                Err(private(format!("{ip} is not a public address")))
            };
        }
        if !resolve {
            return Ok(());
        }
        let port = parsed.port_or_known_default().unwrap_or(443);
        // A name that does not resolve (yet) is accepted: its deliveries fail and retry, and
        // the resolver checks every address again when one is made.
        let Ok(addrs) = tokio::net::lookup_host((host.as_str(), port)).await else {
            return Ok(());
        };
        let addrs: Vec<SocketAddr> = addrs.collect();
        if addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(private(format!("{host} resolves to a private address")));
        }
        Ok(())
    }

    /// One signed POST. Never returns an error: every failure is an outcome to record.
    pub(super) async fn send(&self, w: &Webhook, d: &Delivery) -> Outcome {
        let started = Instant::now();
        let elapsed = || u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        let fail = |error: String, latency_ms: u32| Outcome {
            status: None,
            latency_ms,
            body: None,
            error: Some(error),
            retry_after: None,
        };
        // IP literals bypass the resolver, so they are checked here; names are checked by it.
        if let Err(e) = self.guard(&w.url, false).await {
            return fail(e.to_string(), elapsed());
        }
        let body = d.payload.to_string();
        let t = now();
        let msg_id = d.event_id.to_string();
        let signatures: Result<Vec<String>, String> = w
            .signing_secrets(t)
            .into_iter()
            .map(|s| sign(s, &msg_id, t.timestamp(), &body))
            .collect();
        let signatures = match signatures {
            Ok(s) => s.join(" "),
            Err(e) => return fail(e, elapsed()),
        };
        let sent = self
            .http
            .post(&w.url)
            .timeout(Duration::from_millis(u64::from(w.timeout_ms)))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", t.timestamp().to_string())
            .header("webhook-signature", signatures)
            .body(body)
            .send()
            .await;
        let res = match sent {
            Ok(res) => res,
            Err(e) => {
                let what = if e.is_timeout() {
                    format!("timed out after {} ms", w.timeout_ms)
                } else {
                    // The innermost causes say what went wrong (a DNS refusal, a reset).
                    let mut what = if e.is_connect() {
                        "cannot connect".to_owned()
                    } else {
                        e.to_string()
                    };
                    let mut cause = std::error::Error::source(&e);
                    while let Some(c) = cause {
                        let text = c.to_string();
                        if !what.contains(&text) {
                            what = format!("{what}: {text}");
                        }
                        cause = c.source();
                    }
                    what
                };
                return fail(what, elapsed());
            }
        };
        let status = res.status().as_u16();
        let retry_after = retry_after(res.headers(), t);
        let mut res = res;
        let mut body = Vec::new();
        while body.len() < betflow_domain::webhooks::SNIPPET_LEN {
            match tokio::time::timeout(Duration::from_secs(2), res.chunk()).await {
                Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        Outcome {
            status: Some(status),
            latency_ms: elapsed(),
            body: Some(String::from_utf8_lossy(&body).into_owned()),
            error: None,
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(e: &dyn std::error::Error) -> String {
        let mut out = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            out = format!("{out}: {c}");
            cause = c.source();
        }
        out
    }

    /// The guard sits in the resolver, so it holds at delivery time whatever the name
    /// resolved to when the endpoint was registered.
    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_to_private_addresses() {
        let guarded = http_client(false).unwrap();
        let err = guarded
            .get("http://localhost:9/hook")
            .send()
            .await
            .unwrap_err();
        assert!(
            chain(&err).contains("resolves to no public address"),
            "{}",
            chain(&err)
        );
        // Allowed, the same name is dialled (and the closed port refuses).
        let open = http_client(true).unwrap();
        let err = open
            .get("http://localhost:9/hook")
            .send()
            .await
            .unwrap_err();
        assert!(
            !chain(&err).contains("no public address"),
            "{}",
            chain(&err)
        );
    }
}
