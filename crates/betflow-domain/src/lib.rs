//! Pure types and rules of betflow.
//!
//! Nothing in this crate does I/O or async work, so every rule here can be unit- and
//! property-tested in isolation and reused unchanged by the store, the engine and the API.

pub mod audit;
pub mod automation;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod jobs;
pub mod money;
pub mod page;
pub mod refusal;
pub mod sportsbook;
pub mod text;
pub mod time;
pub mod units;
pub mod webhooks;
pub mod workflow;

pub use error::{DomainError, Violation};
pub use page::{Page, PageRequest};
