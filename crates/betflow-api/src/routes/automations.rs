//! `/api/v1` routes for automation executions: running a definition (manually or as a test),
//! reading, retrying and cancelling its executions, its daily analytics, and the action and
//! trigger registries.
//!
//! - [`dto`]: response bodies;
//! - [`executions`]: the handlers;
//! - [`policy`]: a step's timeout and retry policy on the wire (used by the definitions).

pub mod dto;
pub mod executions;
pub mod policy;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub const TAG: &str = "automations";

crate::permissions! {
    Read => ["workflows:read"];
    Execute => ["workflows:execute"];
    Cancel => ["workflows:cancel"];
    Monitor => ["workflows:monitor"];
}

/// Authenticated routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(utoipa_axum::routes!(executions::execute))
        .routes(utoipa_axum::routes!(executions::list))
        .routes(utoipa_axum::routes!(executions::get))
        .routes(utoipa_axum::routes!(executions::retry))
        .routes(utoipa_axum::routes!(executions::cancel))
        .routes(utoipa_axum::routes!(executions::analytics))
        .routes(utoipa_axum::routes!(executions::actions))
        .routes(utoipa_axum::routes!(executions::triggers))
}
