//! `/api/v1/audit-logs`: reading the audit trail.

use axum::extract::State;
use betflow_domain::audit::{AuditAction, AuditEntry, AuditQuery};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{ListData, PageParams};
use crate::AppState;
use crate::auth::{Authorized, WithRole};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::ApiError;
use crate::extract::ApiQuery;

pub const TAG: &str = "audit";

crate::permissions! { AuditRead => ["audit:read"]; }
crate::roles! { AuditReaders => [Admin, Auditor, ComplianceOfficer, Manager, TradingManager, RiskManager]; }

/// The filters; paging is [`PageParams`], read from the same query string.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// A table name: not blank, no control characters, at most 100 characters.
    #[param(
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\x00-\x1F\x7F-\x9F \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub table_name: Option<String>,
    pub record_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// `INSERT`, `UPDATE` or `DELETE`, in any case.
    #[param(
        pattern = "^([iI][nN][sS][eE][rR][tT]|[uU][pP][dD][aA][tT][eE]|[dD][eE][lL][eE][tT][eE])$"
    )]
    pub action: Option<String>,
    /// Inclusive, RFC 3339.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive, RFC 3339. A range ending before it starts matches nothing.
    pub until: Option<DateTime<Utc>>,
}

/// `INSERT`, `UPDATE` or `DELETE`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuditActionName {
    Insert,
    Update,
    Delete,
}

impl From<AuditAction> for AuditActionName {
    fn from(a: AuditAction) -> Self {
        match a {
            AuditAction::Insert => Self::Insert,
            AuditAction::Update => Self::Update,
            AuditAction::Delete => Self::Delete,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryDto {
    pub id: Uuid,
    pub table_name: String,
    pub record_id: Uuid,
    pub action: AuditActionName,
    /// The row before the change (any JSON), `null` for an insert or an event.
    #[schema(value_type = Option<Object>)]
    pub old_values: Option<Value>,
    /// The row after the change, or the event's details (any JSON).
    #[schema(value_type = Option<Object>)]
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
            action: e.action.into(),
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
    params(AuditParams, PageParams),
    responses((status = 200, description = "A page of audit rows",
        body = Envelope<ListData<AuditEntryDto>>)))]
pub async fn list(
    State(state): State<AppState>,
    _role: WithRole<AuditReaders>,
    _perm: Authorized<AuditRead>,
    ApiQuery(q): ApiQuery<AuditParams>,
    ApiQuery(paging): ApiQuery<PageParams>,
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
        page: paging.request()?,
    };
    let page = state.engine.audit_log(&query).await?;
    Ok(ApiResponse::ok(ListData::from_page(
        page,
        AuditEntryDto::from,
    )))
}

/// The audit trail routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(list))
}
