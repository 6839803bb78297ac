//! The sportsbook catalog: sports, leagues, teams, events, markets and selections, as the
//! [`Catalog`] service (`engine.catalog()`).
//!
//! - `service`: the service: creates, updates and retirements, each audited with its old and
//!   new values; market suspension; odds changes with their price history; reads;
//! - `entity`: the entities and the one merge-and-validate path creates and updates share;
//! - `refs`: an entity's references exist, fit, and are not retired.

mod entity;
mod refs;
mod service;

pub use entity::{CatalogEntity, build, patched};
pub use service::Catalog;
