//! `/api/v1` routes for automation credentials.

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub const TAG: &str = "credentials";

/// Authenticated routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
