//! The betflow HTTP API.
//!
//! One module per resource under [`routes`]; handlers read the request, call one engine
//! function and map the result. Everything a client can observe about errors (the envelope,
//! status codes, stable codes) is decided in [`error`], [`extract`] and [`middleware`].

pub mod auth;
mod conventions;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod realtime;
pub mod routes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use betflow_engine::Engine;
use error::ApiError;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub started: Instant,
    pub limits: auth::Limits,
    pub realtime: realtime::Realtime,
}

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Allowed CORS origins; `*` allows any origin (without credentials); empty disables CORS.
    pub cors_origins: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub body_limit: u64,
    /// Longest time to produce a response head.
    pub request_timeout: Duration,
    /// Mount the test-only `/__debug/*` routes.
    pub debug_routes: bool,
    pub limits: auth::Limits,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Mount the API and its docs. Off on a worker-only process, which serves only the
    /// system routes (health, readiness, metrics).
    pub serve_api: bool,
    /// How long a socket.io connection may stay unauthenticated.
    pub socket_auth_grace: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            cors_origins: vec!["http://localhost:3000".to_owned()],
            body_limit: 10 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            debug_routes: false,
            limits: auth::Limits::default(),
            trusted_proxies: vec![],
            serve_api: true,
            socket_auth_grace: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid CORS origin {0:?}: expected e.g. https://console.example.com or *")]
    CorsOrigin(String),
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "betflow API",
        description = "Sportsbook operations with approval workflows. Every /api/v1 response \
                       uses the envelope `{success, data | error, message?, timestamp}`. \
                       Authenticate with `Authorization: Bearer <access token>` (from \
                       /api/v1/auth/login) or `Authorization: ApiKey <key>` (or `X-API-Key`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(error::ErrorEnvelope, error::ErrorBody)),
    modifiers(&SecuritySchemes),
    security(("BearerAuth" = []), ("ApiKeyAuth" = [])),
    tags(
        (name = "system", description = "Service information, liveness, readiness and metrics"),
        (name = "auth", description = "Login sessions"),
        (name = "users", description = "User administration"),
        (name = "api-keys", description = "Keys for service-to-service calls"),
        (name = "audit", description = "The audit trail"),
        (name = "workflows", description = "Approval workflows"),
        (name = "workflow-definitions", description = "Workflow templates and their versions"),
        (name = "tasks", description = "The caller's inbox of open steps"),
        (name = "realtime", description = "Live events: Server-Sent Events and socket.io"),
        (name = "webhooks", description = "Signed outbound webhooks and their deliveries"),
        (name = "triggers", description = "Automation triggers: a definition's event subscriptions, cron schedules and inbound webhook endpoints, and the public inbound hook URL they are called on"),
        (name = "automations", description = "Automation executions: manual and test runs, their steps, retries, cancellation and analytics; the action and trigger registries"),
        (name = "customers", description = "Customer registration, profile and preferences"),
        (name = "sportsbook", description = "The catalog: sports, leagues, teams, events, markets, selections"),
        (name = "wallet", description = "Customer wallets on the double-entry ledger: balance, deposits, withdrawals, transactions, payment methods, limits. Money is integer minor units of the wallet's currency"),
        (name = "bets", description = "Bet placement (singles, parlays), settlement, voiding and exposure. Stakes and payouts are integer minor units"),
        (name = "credentials", description = "Automation credentials (encrypted at rest, metadata only out), their types, and definition variables"),
    ),
)]
struct ApiDoc;

/// The seed's two schemes: a JWT bearer token, and an API key in the `Authorization` header.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "BearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "ApiKeyAuth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "Use format \"ApiKey your-api-key-here\" (or send the key in X-API-Key)",
            ))),
        );
    }
}

// Every resource module under `routes` exposes its own router with its OpenAPI paths
// (`router()`, and `public_router()` for the operations anyone may call); they are merged here
// and nowhere else, into groups that share one guard: the open system routes, the public
// groups each limited per client IP by its own rule, and everything else authenticated.

/// Routes anyone may call: service endpoints.
fn system_routes() -> OpenApiRouter<AppState> {
    routes::system::router()
}

/// Public `/api/v1` routes, each group limited per client IP by its own rule.
fn public_routes() -> OpenApiRouter<AppState> {
    login_routes()
        .merge(registration_routes())
        .merge(callback_routes())
        .merge(inbound_routes())
}

/// Login and refresh: the password-guessing budget.
fn login_routes() -> OpenApiRouter<AppState> {
    routes::auth::public_router()
}

fn registration_routes() -> OpenApiRouter<AppState> {
    routes::customers::public_router()
}

/// The payment provider's signed callbacks.
fn callback_routes() -> OpenApiRouter<AppState> {
    routes::wallet::public_router()
}

/// Inbound webhooks that start automations, verified by each endpoint's own secret.
fn inbound_routes() -> OpenApiRouter<AppState> {
    routes::triggers::public_router()
}

/// Everything else under `/api/v1`: authenticated and limited per caller.
fn protected_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(routes::auth::router())
        .merge(routes::users::router())
        .merge(routes::api_keys::router())
        .merge(routes::audit::router())
        .merge(routes::workflows::router())
        .merge(routes::export::router())
        .merge(routes::analytics::router())
        .merge(routes::definitions::router())
        .merge(routes::tasks::router())
        .merge(routes::events::router())
        .merge(routes::webhooks::router())
        .merge(routes::catalog::router())
        .merge(routes::customers::router())
        .merge(routes::wallet::router())
        .merge(routes::bets::router())
        .merge(routes::automations::router())
        .merge(routes::credentials::router())
        .merge(routes::triggers::router())
}

/// Marks every operation of `doc` as open (`security: []`), overriding the document's default.
fn open_access(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            op.security = Some(vec![
                utoipa::openapi::security::SecurityRequirement::default(),
            ]);
        }
    }
    doc
}

/// The OpenAPI document, generated from the routes and their types.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(open_access(system_routes().into_openapi()));
    doc.merge(open_access(public_routes().into_openapi()));
    doc.merge(protected_routes().into_openapi());
    // After the merge: `modifiers(..)` on `ApiDoc` would run before the routes are in.
    utoipa::Modify::modify(&ApiConventions, &mut doc);
    doc
}

/// Create operations whose objects are read elsewhere than under their own path:
/// `(create path, collection path)`. The created object's id links to every operation on
/// `{collection}/{param}…` (see [`ApiConventions`]); without an entry the collection is the
/// create path itself.
const CREATED_UNDER: &[(&str, &str)] = &[];

/// Links other than create → read, from an answer to the operations on an object it names:
/// `(path, method, status, JSON pointer into the answer, target path)`. Every operation on the
/// target path gets the value as its one path parameter.
const LINKS: &[(&str, &str, &str, &str, &str)] = &[
    // A test ping answers with its delivery, which can be retried.
    (
        "/api/v1/webhooks/{id}/test",
        "post",
        "200",
        "/data/id",
        "/api/v1/webhooks/deliveries/{deliveryId}/retry",
    ),
    // Deposits and withdrawals are transactions: read, and resolved when stuck.
    (
        "/api/v1/wallet/deposits",
        "post",
        "201",
        "/data/id",
        "/api/v1/wallet/transactions/{id}",
    ),
    (
        "/api/v1/wallet/deposits",
        "post",
        "201",
        "/data/id",
        "/api/v1/wallet/transactions/{id}/resolve",
    ),
    (
        "/api/v1/wallet/withdrawals",
        "post",
        "201",
        "/data/id",
        "/api/v1/wallet/transactions/{id}",
    ),
    (
        "/api/v1/wallet/withdrawals",
        "post",
        "201",
        "/data/id",
        "/api/v1/wallet/transactions/{id}/resolve",
    ),
    // A registered customer is a user: read, verified, unlocked, changed by an admin.
    (
        "/api/v1/auth/register",
        "post",
        "201",
        "/data/user/id",
        "/api/v1/users/{id}",
    ),
    (
        "/api/v1/auth/register",
        "post",
        "201",
        "/data/user/id",
        "/api/v1/users/{id}/verification",
    ),
    (
        "/api/v1/auth/register",
        "post",
        "201",
        "/data/user/id",
        "/api/v1/users/{id}/unlock",
    ),
];

/// Document-wide conventions, applied once to the merged document so that no route repeats
/// them (and none can forget them). On every `/api/v1` operation it declares:
///
/// - the error statuses every such operation can answer, each with the [`error::ErrorEnvelope`]
///   body: 400 when it takes parameters or a body (malformed values, failed validation), 401
///   (with `WWW-Authenticate`) and 403 when it needs a credential, 404 when it has path
///   parameters (no such object), 413 and 415 when it takes a JSON body;
/// - 429 with `Retry-After` and the `RateLimit-*` headers, and the `RateLimit-*` headers on its
///   success responses: every `/api/v1` route is rate limited (per caller, or per client IP
///   on the public ones), see [`auth::require_auth`] and [`auth::limit_by_ip`];
/// - a unique `operationId` (`{tag}_{handler}`): handlers of different resources share names
///   (`get`, `create`), and links and generated clients need unique ids;
/// - stateful links from each create operation's 201 to the operations on the created object
///   (`$response.body#/data/id`, or `#/data/<field>/id` when the payload wraps the object),
///   so a client (or schemathesis' stateful phase) can walk from a created object to its
///   reads and updates.
///
/// A status a route declares itself (with a more specific description) is kept as it is.
pub struct ApiConventions;

impl utoipa::Modify for ApiConventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        conventions::apply(doc, CREATED_UNDER, LINKS);
    }
}

/// Builds the whole application: routes, docs, fallback and the middleware stack.
pub fn app(engine: Arc<Engine>, config: &HttpConfig) -> Result<Router, ConfigError> {
    // Install the recorder before the first request so no sample is lost.
    metrics::handle();
    let openapi = openapi();
    let mut endpoints = available_endpoints(&openapi);
    if !config.serve_api {
        endpoints.retain(|e| !e.contains(" /api"));
    }
    let endpoints = Arc::new(endpoints);
    let (socket_layer, realtime) = realtime::layer(engine.clone(), config.socket_auth_grace);
    let state = AppState {
        engine,
        started: Instant::now(),
        limits: config.limits,
        realtime,
    };
    let mut router: Router<AppState> = Router::new().merge(system_routes().split_for_parts().0);
    if config.serve_api {
        router = router
            .merge(login_routes().split_for_parts().0.route_layer(
                axum::middleware::from_fn_with_state(state.clone(), auth::limit_by_ip),
            ))
            .merge(registration_routes().split_for_parts().0.route_layer(
                axum::middleware::from_fn_with_state(state.clone(), auth::limit_registration_by_ip),
            ))
            .merge(callback_routes().split_for_parts().0.route_layer(
                axum::middleware::from_fn_with_state(state.clone(), auth::limit_callbacks_by_ip),
            ))
            // Inbound webhooks carry their own per-endpoint rate limit.
            .merge(inbound_routes().split_for_parts().0)
            .merge(protected_routes().split_for_parts().0.route_layer(
                axum::middleware::from_fn_with_state(state.clone(), auth::require_auth),
            ))
            .merge(
                Router::from(SwaggerUi::new("/api-docs").url("/api-docs/openapi.json", openapi))
                    .layer(SetResponseHeaderLayer::overriding(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(middleware::DOCS_CSP),
                    )),
            );
    }

    if config.debug_routes {
        router = router.merge(routes::debug::router());
    }

    let router = router
        .fallback(move |uri: Uri| not_found(uri, endpoints.clone()))
        .layer(DefaultBodyLimit::max(
            usize::try_from(config.body_limit).unwrap_or(usize::MAX),
        ));

    // Innermost first: a panic becomes a 500 before any other layer sees it, and the request
    // id, trace span and metrics wrap everything else.
    let mut router = router
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            config.body_limit,
            middleware::content_length_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            config.request_timeout,
            middleware::timeout,
        ))
        .layer(axum::middleware::map_response(middleware::envelope_errors))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.trusted_proxies.clone()),
            auth::resolve_client_addr,
        ))
        .layer(CompressionLayer::new());
    if config.serve_api {
        // Outside the request timeout and the envelope: long-polling requests wait for
        // events and are answered by socket.io's own framing.
        router = router.layer(socket_layer);
    }
    if let Some(cors) = cors(&config.cors_origins)? {
        router = router.layer(cors);
    }
    let router = router
        .layer(axum::middleware::map_response(middleware::security_headers))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(on_response),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));

    Ok(router.with_state(state))
}

fn request_span(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str())
        .unwrap_or("<unmatched>");
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = %route,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    )
}

fn on_response(res: &Response, latency: Duration, span: &Span) {
    span.record("status", res.status().as_u16());
    span.record("latency_ms", latency.as_micros() as f64 / 1000.0);
    tracing::info!("request completed");
}

fn cors(origins: &[String]) -> Result<Option<CorsLayer>, ConfigError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|o| o.trim() == "*") {
        return Ok(Some(layer.allow_origin(Any)));
    }
    let parsed = origins
        .iter()
        .map(|o| {
            let o = o.trim().trim_end_matches('/');
            let valid = (o.starts_with("http://") || o.starts_with("https://")) && !o.contains(' ');
            valid
                .then(|| HeaderValue::from_str(o).ok())
                .flatten()
                .ok_or_else(|| ConfigError::CorsOrigin(o.to_owned()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        layer
            .allow_origin(AllowOrigin::list(parsed))
            .allow_credentials(true),
    ))
}

/// `METHOD /path` for every documented operation, for the 404 answer.
fn available_endpoints(openapi: &utoipa::openapi::OpenApi) -> Vec<String> {
    let mut out = Vec::new();
    for (path, item) in &openapi.paths.paths {
        let ops = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (method, present) in ops {
            if present {
                out.push(format!("{method} {path}"));
            }
        }
    }
    out.push("GET /api-docs".to_owned());
    out.push("GET /api-docs/openapi.json".to_owned());
    out
}

async fn not_found(uri: Uri, endpoints: Arc<Vec<String>>) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::not_found(format!("Route {path} not found"))
        .with_details(serde_json::json!({ "availableEndpoints": *endpoints }))
}
