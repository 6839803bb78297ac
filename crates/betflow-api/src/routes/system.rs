//! Service endpoints outside `/api/v1`: root, liveness, readiness, metrics.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorEnvelope, codes};
use crate::{AppState, envelope};

pub const TAG: &str = "system";

/// What `GET /` answers: where to go next.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RootInfo {
    #[schema(example = "betflow")]
    pub name: &'static str,
    pub message: &'static str,
    /// The API version, as the seed reports it.
    #[schema(example = "v1")]
    pub version: &'static str,
    /// The server build.
    pub server_version: &'static str,
    pub documentation: &'static str,
    pub openapi: &'static str,
    pub health: &'static str,
    pub ready: &'static str,
}

#[utoipa::path(get, path = "/", tag = TAG, summary = "Service information",
    responses((status = 200, body = RootInfo)))]
pub async fn root() -> Json<RootInfo> {
    Json(RootInfo {
        name: "betflow",
        message: "Betting Platform Workflow API",
        version: "v1",
        server_version: env!("CARGO_PKG_VERSION"),
        documentation: "/api-docs",
        openapi: "/api-docs/openapi.json",
        health: "/health",
        ready: "/ready",
    })
}

/// Liveness: the process answers. Never touches a dependency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "healthy")]
    pub status: &'static str,
    pub timestamp: String,
    pub version: &'static str,
    /// Seconds since the process started.
    pub uptime: f64,
}

#[utoipa::path(get, path = "/health", tag = TAG, summary = "Liveness",
    description = "Answers while the process runs; it never touches the database.",
    responses((status = 200, body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "healthy",
        timestamp: envelope::timestamp(),
        version: env!("CARGO_PKG_VERSION"),
        uptime: state.started.elapsed().as_secs_f64(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// `up` or `down`.
    pub status: &'static str,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Readiness: every dependency answered.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    #[schema(example = "ready")]
    pub status: &'static str,
    pub timestamp: String,
    /// `sqlite` or `postgres`.
    pub database_backend: &'static str,
    pub checks: BTreeMap<&'static str, CheckReport>,
}

#[utoipa::path(get, path = "/ready", tag = TAG, summary = "Readiness",
    description = "Checks the database, and Redis when configured. 503 names the failed check.",
    responses(
        (status = 200, body = Ready),
        (status = 503, body = ErrorEnvelope, description = "A dependency is down; `error.details.checks` says which"),
    ))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let readiness = state.engine.readiness().await;
    let checks: BTreeMap<_, _> = readiness
        .checks
        .iter()
        .map(|c| {
            (
                c.name,
                CheckReport {
                    status: if c.ok { "up" } else { "down" },
                    latency_ms: (c.latency.as_secs_f64() * 1e5).round() / 100.0,
                    error: c.error.clone(),
                },
            )
        })
        .collect();
    if readiness.is_ready() {
        return Json(Ready {
            status: "ready",
            timestamp: envelope::timestamp(),
            database_backend: state.engine.backend().as_str(),
            checks,
        })
        .into_response();
    }
    let failed: Vec<_> = readiness.failed().map(|c| c.name).collect();
    tracing::warn!(failed = ?failed, "readiness check failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        codes::SERVICE_UNAVAILABLE,
        format!("Not ready: {} check failed", failed.join(", ")),
    )
    .with_details(serde_json::json!({ "failed": failed, "checks": checks }))
    .into_response()
}

#[utoipa::path(get, path = "/metrics", tag = TAG, summary = "Prometheus metrics",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let pool = state.engine.pool_stats();
    let backend = state.engine.backend().as_str();
    metrics::gauge!("db_pool_connections", "backend" => backend, "state" => "idle")
        .set(f64::from(pool.idle));
    metrics::gauge!("db_pool_connections", "backend" => backend, "state" => "in_use")
        .set(f64::from(pool.size.saturating_sub(pool.idle)));
    metrics::gauge!("db_pool_max_connections", "backend" => backend).set(f64::from(pool.max));
    metrics::gauge!("process_uptime_seconds").set(state.started.elapsed().as_secs_f64());
    let placed = state.engine.placement_stats();
    metrics::counter!("bet_placement_batches_total").absolute(placed.batches);
    metrics::counter!("bet_placement_bets_total", "path" => "batch").absolute(placed.batched);
    metrics::counter!("bet_placement_bets_total", "path" => "alone").absolute(placed.alone);
    let decided = state.engine.workflows().decision_stats();
    metrics::counter!("workflow_decision_batches_total").absolute(decided.batches);
    metrics::counter!("workflow_decisions_total", "path" => "batch").absolute(decided.batched);
    metrics::counter!("workflow_decisions_total", "path" => "alone").absolute(decided.alone);
    let handle = crate::metrics::handle();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// The service routes anyone may call (health, readiness, metrics), with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(root))
        .routes(utoipa_axum::routes!(health))
        .routes(utoipa_axum::routes!(ready))
        .routes(utoipa_axum::routes!(metrics))
}
