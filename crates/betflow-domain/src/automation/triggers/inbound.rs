//! Verifying inbound webhooks with an endpoint's own secret.
//!
//! - [`Scheme::Standard`] (the default): Standard Webhooks, as betflow signs its own
//!   deliveries (see [`crate::webhooks::sign`]): headers `webhook-id`, `webhook-timestamp`
//!   (Unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{ts}.{body}">`,
//!   several space-separated), keyed with the base64-decoded part of the `whsec_` secret.
//! - [`Scheme::HmacSha256`]: for senders that only sign the body: the hex HMAC-SHA256 of the
//!   body, optionally prefixed `sha256=`, in a configurable header (`X-Signature`), keyed
//!   with the whole secret string as the sender was given it.
//!
//! Signatures are compared in constant time (`hmac`'s `verify_slice`).

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};

/// The header plain HMAC signatures travel in unless the endpoint names another.
pub const DEFAULT_HMAC_HEADER: &str = "X-Signature";

/// How an endpoint's requests are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scheme {
    #[default]
    Standard,
    HmacSha256,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::HmacSha256 => "hmac_sha256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Standard, Self::HmacSha256]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Why a request was not accepted as signed. Each has a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// A signature header (or the id or timestamp of Standard Webhooks) is missing or
    /// malformed.
    MissingSignature,
    /// The timestamp is outside the tolerance: a stale or replayed request.
    Stale,
    /// No signature matches.
    BadSignature,
}

impl VerifyError {
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingSignature => "SIGNATURE_MISSING",
            Self::Stale => "TIMESTAMP_OUT_OF_TOLERANCE",
            Self::BadSignature => "INVALID_SIGNATURE",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::MissingSignature => "the request's signature headers are missing or malformed",
            Self::Stale => "the request's timestamp is outside the endpoint's tolerance",
            Self::BadSignature => "the request's signature does not match",
        }
    }
}

/// A header name: 1 to 64 of letters, digits and `-`.
pub fn check_header_name(h: &str) -> Result<(), String> {
    if h.is_empty() || h.len() > 64 || !h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "{h:?} is not a header name (1 to 64 letters, digits and '-')"
        ));
    }
    Ok(())
}

/// The Standard Webhooks headers of a request.
#[derive(Debug, Clone, Copy)]
pub struct StandardHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Verifies a Standard Webhooks request; returns its message id (the replay key).
pub fn verify_standard<'a>(
    secret: &str,
    headers: StandardHeaders<'a>,
    body: &str,
    now: DateTime<Utc>,
    tolerance_secs: u32,
) -> Result<&'a str, VerifyError> {
    let (Some(id), Some(ts), Some(sig)) = (headers.id, headers.timestamp, headers.signature) else {
        return Err(VerifyError::MissingSignature);
    };
    if id.is_empty() || id.len() > 256 {
        return Err(VerifyError::MissingSignature);
    }
    let ts: i64 = ts
        .trim()
        .parse()
        .map_err(|_| VerifyError::MissingSignature)?;
    if now
        .timestamp()
        .checked_sub(ts)
        .is_none_or(|d| d.unsigned_abs() > u64::from(tolerance_secs))
    {
        return Err(VerifyError::Stale);
    }
    if crate::webhooks::verify(secret, id, ts, body, sig, now, i64::from(tolerance_secs)) {
        Ok(id)
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// Verifies a plain HMAC-SHA256 hex signature of `body` (`sha256=` prefix optional).
pub fn verify_hmac_hex(
    secret: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), VerifyError> {
    let sig = signature.ok_or(VerifyError::MissingSignature)?.trim();
    let hex = sig.strip_prefix("sha256=").unwrap_or(sig);
    let given = decode_hex(hex).ok_or(VerifyError::MissingSignature)?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| VerifyError::BadSignature)?;
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| VerifyError::BadSignature)
}

/// The hex HMAC-SHA256 of `body` under `secret`, as a sender computes it (tests, docs).
pub fn sign_hmac_hex(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::sign;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> StandardHeaders<'a> {
        StandardHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn standard_webhooks_good_bad_stale_and_missing() {
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(SECRET, "msg_1", 1614265330, body).unwrap();
        let now = at(1614265330 + 10);
        assert_eq!(
            verify_standard(SECRET, headers("msg_1", "1614265330", &sig), body, now, 300),
            Ok("msg_1")
        );
        // Several signatures (a rotation): any may match.
        let both = format!("v1,AAAA {sig}");
        assert!(
            verify_standard(
                SECRET,
                headers("msg_1", "1614265330", &both),
                body,
                now,
                300
            )
            .is_ok()
        );
        let other = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBvZiAzMiBieQ==";
        assert_eq!(
            verify_standard(other, headers("msg_1", "1614265330", &sig), body, now, 300),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_standard(SECRET, headers("msg_1", "1614265330", &sig), "{}", now, 300),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_standard(
                SECRET,
                headers("msg_1", "1614265330", &sig),
                body,
                at(1614265330 + 301),
                300
            ),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify_standard(
                SECRET,
                headers("msg_1", "-9223372036854775808", &sig),
                body,
                now,
                300
            ),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify_standard(SECRET, headers("msg_1", "soon", &sig), body, now, 300),
            Err(VerifyError::MissingSignature)
        );
        let none = StandardHeaders {
            id: None,
            timestamp: Some("1"),
            signature: Some(&sig),
        };
        assert_eq!(
            verify_standard(SECRET, none, body, now, 300),
            Err(VerifyError::MissingSignature)
        );
    }

    #[test]
    fn plain_hmac_with_and_without_prefix() {
        let body = br#"{"result":"home"}"#;
        let hex = sign_hmac_hex("s3cret", body);
        assert_eq!(hex.len(), 64);
        assert!(verify_hmac_hex("s3cret", Some(&hex), body).is_ok());
        assert!(verify_hmac_hex("s3cret", Some(&format!("sha256={hex}")), body).is_ok());
        assert_eq!(
            verify_hmac_hex("other", Some(&hex), body),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_hmac_hex("s3cret", Some(&hex), b"{}"),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_hmac_hex("s3cret", None, body),
            Err(VerifyError::MissingSignature)
        );
        assert_eq!(
            verify_hmac_hex("s3cret", Some("zz"), body),
            Err(VerifyError::MissingSignature)
        );
    }

    #[test]
    fn header_names_and_schemes() {
        assert!(check_header_name("X-Signature").is_ok());
        assert!(check_header_name("X Sig").is_err());
        assert!(check_header_name("").is_err());
        assert_eq!(Scheme::parse("hmac_sha256"), Some(Scheme::HmacSha256));
        assert_eq!(Scheme::parse("md5"), None);
    }

    proptest! {
        /// What a sender signs verifies; any change to the body does not.
        #[test]
        fn signed_bodies_verify_and_altered_ones_do_not(
            body in "[ -~]{0,200}",
            id in "msg_[a-zA-Z0-9]{1,20}",
            skew in -300i64..=300,
            flip in 0usize..200,
        ) {
            let ts = 1_800_000_000i64;
            let sig = sign(SECRET, &id, ts, &body).unwrap();
            let now = at(ts + skew);
            let ts_s = ts.to_string();
            prop_assert!(verify_standard(SECRET, headers(&id, &ts_s, &sig), &body, now, 300).is_ok());
            prop_assert!(verify_hmac_hex("k", Some(&sign_hmac_hex("k", body.as_bytes())), body.as_bytes()).is_ok());
            if !body.is_empty() {
                let i = flip % body.len();
                let mut altered = body.clone().into_bytes();
                altered[i] = if altered[i] == b'a' { b'b' } else { b'a' };
                let altered = String::from_utf8(altered).unwrap();
                if altered != body {
                    prop_assert_eq!(
                        verify_standard(SECRET, headers(&id, &ts_s, &sig), &altered, now, 300),
                        Err(VerifyError::BadSignature)
                    );
                }
            }
        }
    }
}
