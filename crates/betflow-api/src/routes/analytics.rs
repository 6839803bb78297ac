//! `GET /api/v1/workflows/analytics` and `GET /api/v1/system/stats`.

use std::collections::BTreeMap;

use axum::extract::State;
use betflow_domain::DomainError;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Authorized, WithRole};
use crate::envelope::ApiResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiQuery;

crate::permissions! { Monitor => ["workflows:monitor"]; }
crate::roles! { AdminOnly => [Admin]; }

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// `1d`, `7d` (default), `30d` or `90d`.
    pub period: Option<String>,
    /// Only this definition key.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub workflow_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepTimingDto {
    pub workflow_type: String,
    pub step_id: String,
    pub decisions: usize,
    /// Minutes from entering the step to the decision.
    pub median_minutes: f64,
    pub p90_minutes: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayCount {
    pub date: NaiveDate,
    pub completed: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsDto {
    pub period: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub total: u64,
    pub by_status: BTreeMap<String, u64>,
    /// Open workflows whose current step is past due (now, whatever their age).
    pub overdue: u64,
    pub decision_times: Vec<StepTimingDto>,
    pub throughput: Vec<DayCount>,
}

#[utoipa::path(get, path = "/api/v1/workflows/analytics", tag = "workflows", summary = "Workflow analytics",
    description = "Requires `workflows:monitor`. Workflows created in the period: counts by \
                   status; decision times per step (median, p90); overdue workflows; \
                   completions per day.",
    params(AnalyticsParams),
    responses((status = 200, body = AnalyticsDto), (status = 400, body = ErrorEnvelope)))]
pub async fn analytics(
    State(state): State<AppState>,
    _auth: Authorized<Monitor>,
    ApiQuery(q): ApiQuery<AnalyticsParams>,
) -> Result<ApiResponse<AnalyticsDto>, ApiError> {
    let period = q.period.unwrap_or_else(|| "7d".to_owned());
    let days = match period.as_str() {
        "1d" => 1,
        "7d" => 7,
        "30d" => 30,
        "90d" => 90,
        _ => return Err(DomainError::invalid("period", "must be one of 1d, 7d, 30d, 90d").into()),
    };
    let a = state
        .engine
        .workflows()
        .analytics(
            days,
            q.workflow_type.as_deref(),
            betflow_domain::time::now(),
        )
        .await?;
    Ok(ApiResponse::ok(AnalyticsDto {
        period,
        from: a.from,
        until: a.until,
        total: a.total,
        by_status: a.by_status.into_iter().collect(),
        overdue: a.overdue,
        decision_times: a
            .decision_times
            .into_iter()
            .map(|t| StepTimingDto {
                workflow_type: t.workflow_type,
                step_id: t.step_id,
                decisions: t.decisions,
                median_minutes: t.median_minutes,
                p90_minutes: t.p90_minutes,
            })
            .collect(),
        throughput: a
            .throughput
            .into_iter()
            .map(|(date, completed)| DayCount { date, completed })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheStats {
    pub workflow_versions: u64,
    pub users: u64,
    pub sessions: u64,
    pub api_keys: u64,
}

/// The seed's `getDatabaseStats` row, with its column names.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseStats {
    pub total_workflows: u64,
    pub active_workflows: u64,
    pub completed_workflows: u64,
    pub total_users: u64,
    pub total_betting_content: u64,
    pub total_betting_lines: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemStats {
    /// The seed's counts, as its clients read them.
    pub database: DatabaseStats,
    pub workflows_by_status: BTreeMap<String, u64>,
    pub workflows_by_type: BTreeMap<String, u64>,
    pub workflow_definitions: usize,
    pub users: u64,
    /// Entries in this node's in-process caches.
    pub cache: CacheStats,
    pub timestamp: chrono::DateTime<chrono::Utc>,
}

#[utoipa::path(get, path = "/api/v1/system/stats", tag = "system", summary = "System statistics",
    description = "Requires role admin. The seed's counts (`database`: workflows, active and \
                   completed ones, users, betting content and lines), workflows by status and \
                   type, definitions, and this node's cache sizes.",
    responses((status = 200, body = SystemStats), (status = 403, body = ErrorEnvelope)))]
pub async fn stats(
    State(state): State<AppState>,
    _role: WithRole<AdminOnly>,
) -> Result<ApiResponse<SystemStats>, ApiError> {
    let stats = state.engine.workflows().stats().await?;
    let (users, sessions, keys) = state.engine.identity().cache_sizes();
    let total_users = state.engine.identity().count_users().await?;
    let by_status: BTreeMap<String, u64> = stats.by_status.into_iter().collect();
    let count = |status: &str| by_status.get(status).copied().unwrap_or(0);
    Ok(ApiResponse::ok(SystemStats {
        database: DatabaseStats {
            total_workflows: by_status.values().sum(),
            active_workflows: count("in_progress"),
            completed_workflows: count("completed"),
            total_users,
            total_betting_content: stats.betting_content,
            total_betting_lines: stats.betting_lines,
        },
        workflows_by_type: stats.by_type.into_iter().collect(),
        workflows_by_status: by_status,
        workflow_definitions: stats.definitions,
        users: total_users,
        cache: CacheStats {
            workflow_versions: stats.cached_versions,
            users,
            sessions,
            api_keys: keys,
        },
        timestamp: betflow_domain::time::now(),
    }))
}
