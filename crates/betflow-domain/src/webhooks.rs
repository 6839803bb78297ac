//! Outbound webhooks: endpoints, their validation, Standard Webhooks signatures, the retry
//! schedule and the address rules that keep deliveries off private networks.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use serde_json::Value;
use uuid::Uuid;

use crate::events::valid_pattern;
use crate::units::parse_duration;
use crate::{DomainError, Violation};

/// Standard Webhooks' secret prefix.
pub const SECRET_PREFIX: &str = "whsec_";
/// The seed's default per-request timeout.
pub const DEFAULT_TIMEOUT_MS: u32 = 5_000;
pub const MAX_TIMEOUT_MS: u32 = 30_000;
/// Longest response body kept with an attempt.
pub const SNIPPET_LEN: usize = 512;
pub const MAX_EVENTS: usize = 50;

/// A registered endpoint. `secret` is never serialised to clients.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub timeout_ms: u32,
    /// Deliveries per minute; `None` is unlimited.
    pub rate_limit: Option<u32>,
    /// The seed's `retryAttempts`: retries after the first attempt, capped by the schedule.
    pub retry_attempts: u32,
    pub secret: String,
    /// The secret before the last rotation, still signed with until `previous_expires_at`.
    pub previous_secret: Option<String>,
    pub previous_expires_at: Option<DateTime<Utc>>,
    /// Since when every delivery has failed; `None` after a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether this endpoint wants `event_type`.
    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled
            && self
                .events
                .iter()
                .any(|p| crate::events::matches(p, event_type))
    }

    /// The secrets to sign with now: the current one, and the previous during its grace.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut out = vec![self.secret.as_str()];
        if let (Some(prev), Some(until)) = (&self.previous_secret, self.previous_expires_at)
            && until > now
        {
            out.push(prev);
        }
        out
    }
}

/// The fields a client may set; every one optional on update.
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub timeout_ms: Option<u32>,
    pub rate_limit: Option<Option<u32>>,
    pub retry_attempts: Option<u32>,
}

impl WebhookChanges {
    /// Applies the changes to `w`, reporting every invalid field at once.
    pub fn apply(self, w: &mut Webhook) -> Result<(), DomainError> {
        let mut v = Vec::new();
        if let Some(name) = self.name {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 100 {
                v.push(Violation::new("name", "must be 1 to 100 characters"));
            }
            crate::text::check_name_into(&mut v, "name", Some(&name));
            w.name = name;
        }
        if let Some(url) = self.url {
            if let Err(e) = check_url(&url) {
                v.push(Violation::new("url", e));
            }
            w.url = url.trim().to_owned();
        }
        if let Some(events) = self.events {
            if events.is_empty() || events.len() > MAX_EVENTS {
                v.push(Violation::new(
                    "events",
                    format!("must list 1 to {MAX_EVENTS} event types"),
                ));
            }
            if let Some(bad) = events.iter().find(|e| !valid_pattern(e)) {
                v.push(Violation::new(
                    "events",
                    format!("{bad:?} is not an event type or a `prefix.*` wildcard"),
                ));
            }
            w.events = events;
        }
        if let Some(d) = self.description {
            if d.as_ref().is_some_and(|d| d.chars().count() > 1000) {
                v.push(Violation::new("description", "at most 1000 characters"));
            }
            crate::text::check_free_text_into(&mut v, "description", d.as_deref());
            w.description = d;
        }
        if let Some(e) = self.enabled {
            w.enabled = e;
            if e {
                w.disabled_reason = None;
                w.failing_since = None;
            }
        }
        if let Some(t) = self.timeout_ms {
            if t == 0 || t > MAX_TIMEOUT_MS {
                v.push(Violation::new(
                    "timeout",
                    format!("must be 1 to {MAX_TIMEOUT_MS} milliseconds"),
                ));
            }
            w.timeout_ms = t;
        }
        if let Some(r) = self.rate_limit {
            if r.is_some_and(|r| r == 0 || r > 100_000) {
                v.push(Violation::new(
                    "rateLimit",
                    "must be 1 to 100000 deliveries per minute, or null",
                ));
            }
            w.rate_limit = r;
        }
        if let Some(r) = self.retry_attempts {
            if r > 20 {
                v.push(Violation::new("retryAttempts", "must be 0 to 20"));
            }
            w.retry_attempts = r;
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(v))
        }
    }
}

/// An absolute http(s) URL without credentials. Where it points is checked at delivery time,
/// when its name is resolved.
pub fn check_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    // Characters, as the API's `maxLength` counts them.
    if url.chars().count() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must be an http:// or https:// URL")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err("must name a host".into());
    }
    if authority.contains('@') {
        return Err("must not carry credentials".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".into());
    }
    Ok(())
}

/// Whether an address is on the public internet: not loopback, private, link-local, unique
/// local, CGNAT, multicast, documentation, unspecified or an IPv4-mapped form of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// A new secret: `whsec_` and the base64 of 32 random bytes the caller supplies.
pub fn format_secret(bytes: &[u8; 32]) -> String {
    format!("{SECRET_PREFIX}{}", B64.encode(bytes))
}

/// Checks a secret someone configured by hand (the payment provider's shared secret): the
/// Standard Webhooks form, `whsec_` and the base64 of 24 to 64 bytes. Checked once at start,
/// because a malformed secret would otherwise start the server and fail every callback.
pub fn check_secret(secret: &str) -> Result<(), String> {
    const EXPECTED: &str = "expected `whsec_` followed by the base64 of 24 to 64 random bytes \
                            (e.g. whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)";
    let Some(encoded) = secret.strip_prefix(SECRET_PREFIX) else {
        return Err(format!("it does not start with `whsec_`: {EXPECTED}"));
    };
    let key = B64
        .decode(encoded)
        .map_err(|_| format!("the part after `whsec_` is not valid base64: {EXPECTED}"))?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!("it decodes to {} bytes: {EXPECTED}", key.len()));
    }
    Ok(())
}

/// The `webhook-signature` value for one secret (Standard Webhooks): `v1,` and the base64
/// HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with the secret's decoded bytes.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let key = B64
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .map_err(|_| "the webhook secret is not valid base64".to_owned())?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key)
        .map_err(|_| "the webhook secret cannot key HMAC".to_owned())?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Ok(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// Reads a retry schedule such as `5s,5m,30m,2h,5h,10h`.
pub fn parse_schedule(s: &str) -> Result<Vec<Duration>, String> {
    let steps: Vec<Duration> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(parse_duration)
        .collect::<Result<_, _>>()?;
    if steps.is_empty() || steps.len() > 20 {
        return Err("a retry schedule lists 1 to 20 delays, e.g. 5s,5m,30m,2h".into());
    }
    Ok(steps)
}

/// When to try again after failed attempt number `attempt` (1-based), or `None` when the
/// attempts allowed are used up. `jitter` in [0, 1) spreads retries by up to ±10 %; a
/// `Retry-After` longer than the schedule's delay wins.
pub fn next_retry(
    attempt: u32,
    retry_attempts: u32,
    schedule: &[Duration],
    jitter: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let retries = retry_attempts.min(schedule.len() as u32);
    if attempt > retries {
        return None;
    }
    let base = schedule[(attempt - 1) as usize];
    let factor = 0.9 + 0.2 * jitter.clamp(0.0, 1.0);
    let delay = base.mul_f64(factor);
    Some(retry_after.map_or(delay, |r| r.max(delay)))
}

/// What a delivery is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    /// Out of attempts, or its endpoint was disabled.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One event to deliver to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// The event's id: the `webhook-id` header, and the receiver's idempotency key.
    pub event_id: Uuid,
    pub event_type: String,
    /// The exact body sent on every attempt.
    pub payload: Value,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One HTTP attempt of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub response_snippet: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The first [`SNIPPET_LEN`] bytes of a response body, cut on a character boundary.
pub fn snippet(body: &str) -> String {
    if body.len() <= SNIPPET_LEN {
        return body.to_owned();
    }
    let mut end = SNIPPET_LEN;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    body[..end].to_owned()
}

/// Checks a Standard Webhooks signature from someone who shares `secret` with us (a payment
/// provider's callback): any `v1,` signature in the space-separated `header` must match, in
/// constant time, and `timestamp` (Unix seconds) must be within `tolerance_secs` of `now`,
/// so a captured request cannot be replayed later.
pub fn verify(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &str,
    header: &str,
    now: DateTime<Utc>,
    tolerance_secs: i64,
) -> bool {
    if (now.timestamp() - timestamp).abs() > tolerance_secs {
        return false;
    }
    let Ok(key) = B64.decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret)) else {
        return false;
    };
    header.split(' ').any(|sig| {
        let Some(Ok(given)) = sig.strip_prefix("v1,").map(|s| B64.decode(s)) else {
            return false;
        };
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
            return false;
        };
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        mac.verify_slice(&given).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The example from the Standard Webhooks specification.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(sign("whsec_!!!", "a", 1, "b").is_err());
    }

    #[test]
    fn a_hand_configured_secret_must_be_whsec_and_base64_of_24_to_64_bytes() {
        assert!(check_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(check_secret(&format_secret(&[7; 32])).is_ok());
        let missing = check_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err();
        assert!(
            missing.contains("does not start with `whsec_`"),
            "{missing}"
        );
        let not_b64 = check_secret("whsec_not base64!").unwrap_err();
        assert!(not_b64.contains("not valid base64"), "{not_b64}");
        let short = check_secret("whsec_c2hvcnQ=").unwrap_err();
        assert!(short.contains("decodes to 5 bytes"), "{short}");
        assert!(check_secret(&format!("whsec_{}", B64.encode([1u8; 65]))).is_err());
    }

    #[test]
    fn urls_and_addresses() {
        assert!(check_url("https://hooks.example.com/a?b=1").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "https://user:pw@host/",
            "http://a b",
            "hooks.example.com",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn retries_follow_the_schedule_and_retry_after() {
        let s = parse_schedule("5s,5m,30m").unwrap();
        assert!(parse_schedule("").is_err());
        assert!(parse_schedule("5s,soon").is_err());
        let d = next_retry(1, 3, &s, 0.5, None).unwrap();
        assert_eq!(d, Duration::from_secs(5));
        assert!(next_retry(2, 3, &s, 0.0, None).unwrap() >= Duration::from_secs(270));
        assert_eq!(next_retry(4, 3, &s, 0.5, None), None, "schedule used up");
        assert_eq!(
            next_retry(2, 1, &s, 0.5, None),
            None,
            "retryAttempts caps it"
        );
        assert_eq!(
            next_retry(1, 3, &s, 0.5, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn changes_report_every_problem() {
        let mut w = Webhook {
            id: Uuid::nil(),
            name: "x".into(),
            url: "https://a.example".into(),
            events: vec!["*".into()],
            description: None,
            enabled: true,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            rate_limit: None,
            retry_attempts: 6,
            secret: format_secret(&[7; 32]),
            previous_secret: None,
            previous_expires_at: None,
            failing_since: None,
            disabled_reason: None,
            created_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let err = WebhookChanges {
            name: Some(" ".into()),
            url: Some("gopher://x".into()),
            events: Some(vec!["Bad".into()]),
            timeout_ms: Some(0),
            rate_limit: Some(Some(0)),
            retry_attempts: Some(99),
            ..Default::default()
        }
        .apply(&mut w)
        .unwrap_err();
        let DomainError::Validation(v) = err;
        assert_eq!(v.len(), 6, "{v:?}");
        let ok = WebhookChanges {
            description: Some(Some("line one\nline two".into())),
            ..Default::default()
        };
        assert!(ok.apply(&mut w).is_ok());
        let err = WebhookChanges {
            name: Some("hook\u{1b}[2J".into()),
            description: Some(Some("bell \u{7}".into())),
            ..Default::default()
        }
        .apply(&mut w)
        .unwrap_err();
        let DomainError::Validation(v) = err;
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "description"], "{v:?}");
        w.events = vec!["workflow.*".into()];
        assert!(w.wants("workflow.created"));
        assert!(!w.wants("task.created"));
        w.enabled = false;
        assert!(
            !w.wants("workflow.created"),
            "a disabled endpoint wants nothing"
        );
        let now = Utc::now();
        w.previous_secret = Some(format_secret(&[1; 32]));
        w.previous_expires_at = Some(now + chrono::Duration::hours(1));
        assert_eq!(w.signing_secrets(now).len(), 2);
        assert_eq!(w.signing_secrets(now + chrono::Duration::hours(2)).len(), 1);
        assert_eq!(snippet(&"é".repeat(400)).len(), 512);
    }
}
