//! `/api/v1` routes for automation triggers.

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub const TAG: &str = "triggers";

/// Authenticated routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

/// Inbound webhooks: public URLs verified by each endpoint's own secret, not a bearer token.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
