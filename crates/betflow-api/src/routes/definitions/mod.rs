//! `/api/v1/workflow-definitions`: templates, their immutable versions, import and export;
//! editing, deactivation and soft delete; the filtered list; drafts built a step at a time.
//!
//! - [`graph`]: steps, branches and edges on the wire;
//! - [`dto`]: request and response bodies;
//! - [`handlers`]: create, get, publish a version, versions, duplicate, export;
//! - [`edit`]: the filtered list, `PATCH` and `DELETE`;
//! - [`drafts`]: the draft routes.

mod drafts;
mod dto;
mod edit;
mod graph;
mod handlers;

pub use dto::{DefinitionDocument, DefinitionDto, DuplicateRequest, PublishRequest, VersionDto};
pub use graph::{BranchDto, EdgeDto, RoleName, StepDto, TimeoutActionDto};

pub const TAG: &str = "workflow-definitions";

crate::permissions! {
    Read => ["workflows:read"];
    Manage => ["workflows:create", "workflows:update"];
    Remove => ["workflows:delete"];
}

/// The workflow definition routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(edit::list, handlers::create))
        .routes(utoipa_axum::routes!(
            handlers::get,
            edit::update,
            edit::delete
        ))
        .routes(utoipa_axum::routes!(handlers::publish, handlers::versions))
        .routes(utoipa_axum::routes!(handlers::duplicate))
        .routes(utoipa_axum::routes!(handlers::export))
        .routes(utoipa_axum::routes!(
            drafts::get_draft,
            drafts::open_draft,
            drafts::discard_draft
        ))
        .routes(utoipa_axum::routes!(drafts::add_step))
        .routes(utoipa_axum::routes!(
            drafts::patch_step,
            drafts::remove_step
        ))
        .routes(utoipa_axum::routes!(drafts::add_edge, drafts::remove_edge))
        .routes(utoipa_axum::routes!(drafts::publish_draft))
}
