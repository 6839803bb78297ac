//! `POST /api/v1/workflows/bulk/export`: workflows as JSON, CSV or XLSX downloads, with the
//! seed's content types and file names.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::workflows::{Filters, WorkflowResponse};
use crate::AppState;
use crate::auth::Authorized;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;

crate::permissions! { Export => ["workflows:export"]; }

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
    Xlsx,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub format: ExportFormat,
    #[serde(default)]
    pub filters: Filters,
}

const COLUMNS: [&str; 12] = [
    "id",
    "workflowType",
    "status",
    "priority",
    "currentStep",
    "progress",
    "createdBy",
    "createdAt",
    "updatedAt",
    "completedAt",
    "dueAt",
    "data",
];

fn row(w: &WorkflowResponse) -> [String; 12] {
    let t = |d: Option<DateTime<Utc>>| d.map(|d| d.to_rfc3339()).unwrap_or_default();
    [
        w.id.to_string(),
        w.workflow_id.clone(),
        w.status.clone(),
        w.priority.clone(),
        w.current_step.clone().unwrap_or_default(),
        w.progress.to_string(),
        w.created_by.map(|u| u.to_string()).unwrap_or_default(),
        w.created_at.to_rfc3339(),
        w.updated_at.to_rfc3339(),
        t(w.completed_at),
        t(w.due_at),
        w.data.to_string(),
    ]
}

fn csv_bytes(rows: &[WorkflowResponse]) -> Result<Vec<u8>, ApiError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS).map_err(ApiError::internal)?;
    for w in rows {
        out.write_record(row(w)).map_err(ApiError::internal)?;
    }
    out.into_inner().map_err(ApiError::internal)
}

fn xlsx_bytes(rows: &[WorkflowResponse]) -> Result<Vec<u8>, ApiError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Workflows").map_err(ApiError::internal)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, name) in COLUMNS.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *name, &bold)
            .map_err(ApiError::internal)?;
    }
    for (r, w) in rows.iter().enumerate() {
        let line = u32::try_from(r + 1).map_err(ApiError::internal)?;
        for (c, value) in row(w).iter().enumerate() {
            if COLUMNS[c] == "progress" {
                sheet
                    .write_number(line, c as u16, f64::from(w.progress))
                    .map_err(ApiError::internal)?;
            } else {
                sheet
                    .write_string(line, c as u16, value)
                    .map_err(ApiError::internal)?;
            }
        }
    }
    book.save_to_buffer().map_err(ApiError::internal)
}

#[utoipa::path(post, path = "/api/v1/workflows/bulk/export", tag = super::workflows::TAG,
    summary = "Export workflows",
    description = "Requires `workflows:export`. Returns a download: `workflows.json` \
                   (application/json), `workflows.csv` (text/csv) or `workflows.xlsx`. At most \
                   10,000 workflows (422 beyond: narrow the filters).",
    request_body = ExportRequest,
    responses((status = 200, description = "The file"), (status = 400, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope)))]
pub async fn export(
    State(state): State<AppState>,
    _auth: Authorized<Export>,
    ApiJson(body): ApiJson<ExportRequest>,
) -> Result<Response, ApiError> {
    let filter = body.filters.into_filter(Default::default())?;
    let rows: Vec<WorkflowResponse> = state
        .engine
        .workflows()
        .export(filter)
        .await?
        .into_iter()
        .map(WorkflowResponse::from)
        .collect();
    let (content_type, name, bytes) = match body.format {
        ExportFormat::Json => (
            "application/json",
            "workflows.json",
            serde_json::to_vec_pretty(&rows).map_err(ApiError::internal)?,
        ),
        ExportFormat::Csv => ("text/csv", "workflows.csv", csv_bytes(&rows)?),
        ExportFormat::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "workflows.xlsx",
            xlsx_bytes(&rows)?,
        ),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
