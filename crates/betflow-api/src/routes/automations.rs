//! `/api/v1` routes for automation automations.

pub mod policy;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub const TAG: &str = "automations";

/// Authenticated routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
