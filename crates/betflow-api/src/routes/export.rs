//! `POST /api/v1/workflows/bulk/export`: workflows as JSON, CSV or XLSX downloads, with the
//! seed's content types and file names.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use betflow_domain::workflow::{Priority, WorkflowStatus};
use betflow_engine::workflows::WorkflowView;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use utoipa::ToSchema;

use super::workflows::{Filters, WorkflowResponse};
use crate::AppState;
use crate::auth::Authorized;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;

crate::permissions! { Export => ["workflows:export"]; }

/// The file to produce.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
    Xlsx,
}

/// Unknown fields are refused (400).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub format: ExportFormat,
    /// The filters of `GET /workflows`; none: every workflow.
    #[serde(default)]
    pub filters: Filters,
}

/// The CSV download: a header line (`id,workflowType,status,priority,currentStep,progress,
/// createdBy,createdAt,updatedAt,completedAt,dueAt,data`) and one line per workflow.
#[derive(ToSchema)]
#[schema(as = WorkflowsCsv)]
pub struct CsvFile(#[allow(dead_code)] String);

/// The XLSX download: one sheet, `Workflows`, with the CSV's columns.
#[derive(ToSchema)]
#[schema(as = WorkflowsXlsx, value_type = String, format = Binary)]
pub struct XlsxFile(#[allow(dead_code)] Vec<u8>);

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
        WorkflowStatus::from(w.status).as_str().to_owned(),
        Priority::from(w.priority).as_str().to_owned(),
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

fn csv_bytes(rows: &[WorkflowResponse], header: bool) -> Result<Vec<u8>, ApiError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    if header {
        out.write_record(COLUMNS).map_err(ApiError::internal)?;
    }
    for w in rows {
        out.write_record(row(w)).map_err(ApiError::internal)?;
    }
    out.into_inner().map_err(ApiError::internal)
}

/// One page of a JSON array: `[` before the first item, `,` between items.
fn json_bytes(rows: &[WorkflowResponse], first_page: bool) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    for (i, w) in rows.iter().enumerate() {
        out.push(if i == 0 && first_page { b'[' } else { b',' });
        serde_json::to_writer(&mut out, w).map_err(ApiError::internal)?;
    }
    Ok(out)
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
                   (application/json) or `workflows.csv` (text/csv), streamed a page at a time \
                   with no size limit, or `workflows.xlsx`, at most 10,000 workflows (422 \
                   beyond: narrow the filters or export CSV).",
    request_body = ExportRequest,
    responses((status = 200, description = "The file, in the format asked for (not negotiated \
            by `Accept`). The JSON array's items are the workflows as `GET /workflows/{id}` \
            shows them.",
        headers(("Content-Disposition" = String,
            description = "`attachment; filename=\"workflows.json\"` (or `.csv`, `.xlsx`)")),
        content(
            (Vec<WorkflowResponse> = "application/json"),
            (CsvFile = "text/csv"),
            (XlsxFile = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 422, body = ErrorEnvelope, description = "UNPROCESSABLE_ENTITY: more than \
            10,000 workflows match an XLSX export")))]
pub async fn export(
    State(state): State<AppState>,
    _auth: Authorized<Export>,
    ApiJson(body): ApiJson<ExportRequest>,
) -> Result<Response, ApiError> {
    let filter = body.filters.into_filter(Default::default())?;
    let workflows = state.engine.workflows();
    let (content_type, name, body) = match body.format {
        ExportFormat::Xlsx => {
            let rows: Vec<WorkflowResponse> = workflows
                .export(filter)
                .await?
                .into_iter()
                .map(WorkflowResponse::from)
                .collect();
            (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "workflows.xlsx",
                Body::from(xlsx_bytes(&rows)?),
            )
        }
        format => {
            let json = matches!(format, ExportFormat::Json);
            let mut pages = Box::pin(workflows.export_pages(filter)?);
            // The first page is read before the 200 goes out, so a failing query is still an
            // error response; a failure later can only cut the download short.
            let first = pages.try_next().await?.unwrap_or_default();
            let encode = move |page: Vec<WorkflowView>, first_page: bool| {
                let rows: Vec<WorkflowResponse> =
                    page.into_iter().map(WorkflowResponse::from).collect();
                if json {
                    json_bytes(&rows, first_page)
                } else {
                    csv_bytes(&rows, first_page)
                }
            };
            let head = encode(first, true)?;
            let empty_json = json && head.is_empty();
            let rest = pages.map(move |page| {
                page.map_err(ApiError::from)
                    .and_then(|p| encode(p, empty_json))
                    .map(Bytes::from)
                    .map_err(|e| {
                        tracing::warn!(error = ?e, "export cut short");
                        std::io::Error::other("export failed")
                    })
            });
            let tail: &'static [u8] = match (json, empty_json) {
                (true, true) => b"[]",
                (true, false) => b"]",
                (false, _) => b"",
            };
            let stream = futures::stream::once(async move { Ok(Bytes::from(head)) })
                .chain(rest)
                .chain(futures::stream::once(async move {
                    Ok::<_, std::io::Error>(Bytes::from_static(tail))
                }));
            if json {
                (
                    "application/json",
                    "workflows.json",
                    Body::from_stream(stream),
                )
            } else {
                ("text/csv", "workflows.csv", Body::from_stream(stream))
            }
        }
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
        body,
    )
        .into_response())
}

/// The export route, with its OpenAPI path.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(export))
}
