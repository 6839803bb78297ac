//! Authentication and authorization at the edge: the `/api/v1` middleware that turns the
//! `Authorization` / `X-API-Key` header into a [`Principal`] and applies the per-caller rate
//! limit, and the declarative guards handlers put in their signatures.
//!
//! ```text
//! async fn create_user(auth: Authorized<UsersManage>, ...) // 403 unless users:manage
//! ```

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use betflow_domain::audit::Actor;
use betflow_domain::identity::Role;
use betflow_engine::identity::{Presented, Principal};
use betflow_engine::ratelimit::{Decision, Rule};

use crate::AppState;
use crate::error::{ApiError, codes};

/// Reads the credential from `Authorization: Bearer …`, `Authorization: ApiKey …` or
/// `X-API-Key: …`.
pub fn presented(headers: &HeaderMap) -> Presented {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let Ok(value) = value.to_str() else {
            return Presented::UnknownScheme;
        };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
        let rest = rest.trim();
        return match scheme {
            s if s.eq_ignore_ascii_case("bearer") && !rest.is_empty() => {
                Presented::Bearer(rest.to_owned())
            }
            s if s.eq_ignore_ascii_case("apikey") && !rest.is_empty() => {
                Presented::ApiKey(rest.to_owned())
            }
            _ => Presented::UnknownScheme,
        };
    }
    match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        Some(key) if !key.trim().is_empty() => Presented::ApiKey(key.trim().to_owned()),
        _ => Presented::None,
    }
}

/// Authenticates every request it wraps, then counts it against the caller's rate limit.
pub async fn require_auth(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let principal = match state
        .engine
        .identity()
        .authenticate(presented(req.headers()))
        .await
    {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let decision = state
        .engine
        .rate_limit(&principal.rate_limit_key(), state.limits.api)
        .await;
    if !decision.allowed {
        return too_many(decision, "Too many requests for this user or API key");
    }
    req.extensions_mut().insert(principal);
    let mut res = next.run(req).await;
    rate_limit_headers(res.headers_mut(), &decision);
    res
}

/// Per-client-IP limit for the public login and refresh routes.
pub async fn limit_by_ip(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let rule = state.limits.login;
    limit_ip(
        &state,
        "login-ip",
        rule,
        "Too many login attempts from this address",
        req,
        next,
    )
    .await
}

/// Per-client-IP limit for customer registration: its own budget, so a burst of sign-ups
/// from one address does not lock that address out of logging in (and the reverse).
pub async fn limit_registration_by_ip(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let rule = state.limits.register;
    limit_ip(
        &state,
        "register-ip",
        rule,
        "Too many registrations from this address",
        req,
        next,
    )
    .await
}

/// Per-client-IP limit for the payment provider's signed callbacks, at the general API rate:
/// a provider's burst of callbacks must not be squeezed into the login budget.
pub async fn limit_callbacks_by_ip(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let rule = state.limits.api;
    limit_ip(
        &state,
        "callback-ip",
        rule,
        "Too many callbacks from this address",
        req,
        next,
    )
    .await
}

async fn limit_ip(
    state: &AppState,
    bucket: &str,
    rule: Rule,
    message: &str,
    req: Request,
    next: Next,
) -> Response {
    let ip = client_ip(&req);
    let bucket = format!("{bucket}:{}", ip.map(|i| i.to_string()).unwrap_or_default());
    let decision = state.engine.rate_limit(&bucket, rule).await;
    if !decision.allowed {
        return too_many(decision, message);
    }
    let mut res = next.run(req).await;
    rate_limit_headers(res.headers_mut(), &decision);
    res
}

fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ClientAddr>().and_then(|c| c.0)
}

/// The client's address as resolved by [`resolve_client_addr`].
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

/// The client address: the TCP peer, unless the peer is a trusted proxy, in which case the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy. Untrusted
/// peers cannot spoof their address with the header.
pub fn client_addr(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer_ip = peer?;
    if !trusted.contains(&peer_ip) {
        return Some(peer_ip);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer_ip),
    )
}

/// Records [`ClientAddr`] on every request, for rate limits and audit rows.
pub async fn resolve_client_addr(
    State(trusted): State<std::sync::Arc<Vec<IpAddr>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let addr = client_addr(peer, req.headers(), &trusted);
    req.extensions_mut().insert(ClientAddr(addr));
    next.run(req).await
}

fn too_many(decision: Decision, message: &str) -> Response {
    let mut res = ApiError::new(StatusCode::TOO_MANY_REQUESTS, codes::RATE_LIMITED, message)
        .with_details(serde_json::json!({
            "limit": decision.limit,
            "retryAfter": decision.reset.as_secs().max(1),
        }))
        .into_response();
    rate_limit_headers(res.headers_mut(), &decision);
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(decision.reset.as_secs().max(1)),
    );
    res
}

fn rate_limit_headers(headers: &mut HeaderMap, d: &Decision) {
    headers.insert("ratelimit-limit", HeaderValue::from(d.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(d.remaining));
    headers.insert(
        "ratelimit-reset",
        HeaderValue::from(d.reset.as_secs().max(1)),
    );
}

/// Rate-limit rules for the API.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Per user or API key on authenticated routes.
    pub api: Rule,
    /// Per client IP on login and refresh.
    pub login: Rule,
    /// Per client IP on customer registration.
    pub register: Rule,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            api: Rule {
                limit: 1000,
                window: std::time::Duration::from_secs(15 * 60),
            },
            login: Rule {
                limit: 10,
                window: std::time::Duration::from_secs(60),
            },
            register: Rule {
                limit: 20,
                window: std::time::Duration::from_secs(60 * 60),
            },
        }
    }
}

/// The authenticated caller, on routes behind [`require_auth`].
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            .ok_or_else(|| {
                ApiError::from(betflow_engine::EngineError::Unauthenticated(
                    betflow_engine::AuthFailure::Missing,
                ))
            })
    }
}

/// Permissions a route requires, as a type.
pub trait Permissions {
    const REQUIRED: &'static [&'static str];
}

/// Roles a route admits, as a type.
pub trait Roles {
    const ALLOWED: &'static [Role];
}

/// The caller, checked to hold every permission of `P` (else 403 "Insufficient
/// Permissions" naming what is missing).
pub struct Authorized<P: Permissions>(pub Principal, pub PhantomData<P>);

impl<P: Permissions, S: Send + Sync> FromRequestParts<S> for Authorized<P> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Auth(principal) = Auth::from_request_parts(parts, state).await?;
        let missing = principal.missing(P::REQUIRED);
        if missing.is_empty() {
            Ok(Self(principal, PhantomData))
        } else {
            Err(betflow_engine::EngineError::PermissionDenied(missing).into())
        }
    }
}

/// The caller, checked to hold one of the roles of `R` (else 403 "Insufficient
/// Privileges").
pub struct WithRole<R: Roles>(pub Principal, pub PhantomData<R>);

impl<R: Roles, S: Send + Sync> FromRequestParts<S> for WithRole<R> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Auth(principal) = Auth::from_request_parts(parts, state).await?;
        if R::ALLOWED.contains(&principal.role) {
            Ok(Self(principal, PhantomData))
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::INSUFFICIENT_PRIVILEGES,
                format!(
                    "Role {} is not authorized for this operation",
                    principal.role
                ),
            ))
        }
    }
}

/// Declares permission marker types: `permissions!(UsersManage => "users:manage");`
#[macro_export]
macro_rules! permissions {
    ($($name:ident => [$($p:literal),+ $(,)?]);* $(;)?) => {
        $(
            #[doc = concat!("Requires ", $("`", $p, "` ",)+)]
            pub struct $name;
            impl $crate::auth::Permissions for $name {
                const REQUIRED: &'static [&'static str] = &[$($p),+];
            }
        )*
    };
}

/// Declares role marker types: `roles!(AuditReaders => [Admin, Auditor]);`
#[macro_export]
macro_rules! roles {
    ($($name:ident => [$($r:ident),+ $(,)?]);* $(;)?) => {
        $(
            pub struct $name;
            impl $crate::auth::Roles for $name {
                const ALLOWED: &'static [betflow_domain::identity::Role] =
                    &[$(betflow_domain::identity::Role::$r),+];
            }
        )*
    };
}

/// Who is calling and from where, for audit rows.
pub struct ClientInfo(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(Actor {
            user_id: parts.extensions.get::<Principal>().map(|p| p.user_id),
            ip_address: parts.extensions.get::<ClientAddr>().and_then(|c| c.0),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.9, 10.0.0.1")]);
        assert_eq!(client_addr(Some(proxy), &h, &[proxy]), Some(client));
        // The same header from an untrusted peer is ignored.
        assert_eq!(client_addr(Some(client), &h, &[proxy]), Some(client));
        assert_eq!(client_addr(Some(proxy), &h, &[]), Some(proxy));
        let junk = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(client_addr(Some(proxy), &junk, &[proxy]), Some(proxy));
        assert_eq!(client_addr(None, &h, &[proxy]), None);
    }

    #[test]
    fn reads_each_accepted_scheme() {
        assert_eq!(presented(&headers(&[])), Presented::None);
        assert_eq!(
            presented(&headers(&[("authorization", "Bearer abc")])),
            Presented::Bearer("abc".into())
        );
        assert_eq!(
            presented(&headers(&[("authorization", "ApiKey bf_1")])),
            Presented::ApiKey("bf_1".into())
        );
        assert_eq!(
            presented(&headers(&[("x-api-key", "bf_2")])),
            Presented::ApiKey("bf_2".into())
        );
        for bad in ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", "bearer"] {
            assert_eq!(
                presented(&headers(&[("authorization", bad)])),
                Presented::UnknownScheme,
                "{bad}"
            );
        }
    }
}
