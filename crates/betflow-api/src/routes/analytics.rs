//! `GET /api/v1/workflows/analytics` and `GET /api/v1/system/stats`.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Authorized, WithRole};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiQuery;

crate::permissions! { Monitor => ["workflows:monitor"]; }
crate::roles! { AdminOnly => [Admin]; }

/// How far back analytics look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = AnalyticsPeriod)]
pub enum Period {
    #[serde(rename = "1d")]
    Day,
    #[default]
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
    #[serde(rename = "90d")]
    Quarter,
}

impl Period {
    pub const ALL: [Self; 4] = [Self::Day, Self::Week, Self::Month, Self::Quarter];

    fn days(self) -> u32 {
        match self {
            Self::Day => 1,
            Self::Week => 7,
            Self::Month => 30,
            Self::Quarter => 90,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// Default `7d`.
    #[param(value_type = Option<Period>)]
    pub period: Option<String>,
    /// Only this definition key.
    #[serde(rename = "type")]
    #[param(rename = "type", pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub workflow_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepTimingDto {
    pub workflow_type: String,
    pub step_id: String,
    #[schema(minimum = 1)]
    pub decisions: usize,
    /// Minutes from entering the step to the decision.
    #[schema(minimum = 0)]
    pub median_minutes: f64,
    #[schema(minimum = 0)]
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
    pub period: Period,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Workflows created in the period.
    pub total: u64,
    /// Of those, how many are in each status (statuses with none are left out).
    pub by_status: BTreeMap<String, u64>,
    /// Open workflows whose current step is past due (now, whatever their age).
    pub overdue: u64,
    /// Per definition and step, for steps decided in the period.
    pub decision_times: Vec<StepTimingDto>,
    /// Workflows completed per UTC day, oldest first, every day of the period listed.
    pub throughput: Vec<DayCount>,
}

#[utoipa::path(get, path = "/api/v1/workflows/analytics", tag = "workflows", summary = "Workflow analytics",
    description = "Requires `workflows:monitor`. Workflows created in the period: counts by \
                   status; decision times per step (median, p90); overdue workflows; \
                   completions per day.",
    params(AnalyticsParams),
    responses((status = 200, body = Envelope<AnalyticsDto>)))]
pub async fn analytics(
    State(state): State<AppState>,
    _auth: Authorized<Monitor>,
    ApiQuery(q): ApiQuery<AnalyticsParams>,
) -> Result<ApiResponse<AnalyticsDto>, ApiError> {
    let period = super::workflows::wire_enum("period", &Period::ALL, q.period.as_deref())?
        .unwrap_or_default();
    let a = state
        .engine
        .workflows()
        .analytics(
            period.days(),
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
    responses((status = 200, body = Envelope<SystemStats>),
        (status = 403, body = ErrorEnvelope, description = "INSUFFICIENT_PRIVILEGES: the caller \
            is not an admin")))]
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

/// The analytics routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(analytics))
        .routes(utoipa_axum::routes!(stats))
}
