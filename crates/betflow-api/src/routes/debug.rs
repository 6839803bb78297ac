//! Routes that exist only for tests of the serving machinery itself (graceful shutdown,
//! panic recovery, timeouts). Mounted only with the hidden `--debug-routes` flag; never in
//! the OpenAPI document.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::envelope::ApiResponse;
use crate::extract::{ApiJson, ApiQuery};

#[derive(Deserialize)]
struct Sleep {
    ms: u64,
}

/// A strict DTO, to exercise every JSON rejection path end to end.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Echo {
    message: String,
    count: Option<u32>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/__debug/sleep",
            get(|ApiQuery(q): ApiQuery<Sleep>| async move {
                tokio::time::sleep(Duration::from_millis(q.ms.min(60_000))).await;
                format!("slept {} ms", q.ms)
            }),
        )
        .route(
            "/__debug/echo",
            post(|ApiJson(body): ApiJson<Echo>| async move {
                ApiResponse::created(body).message("echoed")
            }),
        )
        .route(
            "/__debug/panic",
            get(|| async {
                panic!("deliberate panic from /__debug/panic");
                #[allow(unreachable_code)]
                ""
            }),
        )
}
