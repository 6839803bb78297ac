//! `/api/v1/audit-logs`: reading the audit trail.

use axum::extract::State;
use betflow_domain::audit::{AuditAction, AuditEntry, AuditQuery};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::ListData;
use crate::AppState;
use crate::auth::{Authorized, WithRole};
use crate::envelope::ApiResponse;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiQuery;

pub const TAG: &str = "audit";

crate::permissions! { AuditRead => ["audit:read"]; }
crate::roles! { AuditReaders => [Admin, Auditor, ComplianceOfficer, Manager, TradingManager, RiskManager]; }

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    pub table_name: Option<String>,
    pub record_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// INSERT, UPDATE or DELETE.
    pub action: Option<String>,
    /// Inclusive, RFC 3339.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive, RFC 3339.
    pub until: Option<DateTime<Utc>>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryDto {
    pub id: Uuid,
    pub table_name: String,
    pub record_id: Uuid,
    pub action: String,
    pub old_values: Option<Value>,
    pub new_values: Option<Value>,
    pub user_id: Option<Uuid>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub timestamp: DateTime<Utc>,
}

impl From<AuditEntry> for AuditEntryDto {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            table_name: e.table_name,
            record_id: e.record_id,
            action: e.action.as_str().to_owned(),
            old_values: e.old_values,
            new_values: e.new_values,
            user_id: e.user_id,
            ip_address: e.ip_address.map(|i| i.to_string()),
            user_agent: e.user_agent,
            timestamp: e.timestamp,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/audit-logs", tag = TAG, summary = "Query the audit trail",
    description = "Requires role admin, auditor, compliance_officer, manager, trading_manager \
                   or risk_manager, and `audit:read`. Newest first.",
    params(AuditParams),
    responses((status = 200, body = ListData<AuditEntryDto>), (status = 400, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    _role: WithRole<AuditReaders>,
    _perm: Authorized<AuditRead>,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> Result<ApiResponse<ListData<AuditEntryDto>>, ApiError> {
    let query = AuditQuery {
        table_name: q.table_name,
        record_id: q.record_id,
        user_id: q.user_id,
        action: q
            .action
            .as_deref()
            .map(str::parse::<AuditAction>)
            .transpose()?,
        from: q.from,
        until: q.until,
        page: betflow_domain::PageRequest::new(q.page, q.limit)?,
    };
    let page = state.engine.audit_log(&query).await?;
    Ok(ApiResponse::ok(ListData::from_page(
        page,
        AuditEntryDto::from,
    )))
}
