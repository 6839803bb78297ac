//! The ports: one file per area, each with its read trait (implemented by the [`Store`])
//! and its write trait (implemented by a [`Transaction`]), and the shared types their
//! signatures use. `store.rs` composes them. Everything is re-exported at the crate root,
//! so callers write `betflow_store::WalletWrite`, not the file it lives in.

mod audit;
mod bets;
mod catalog;
mod customers;
mod events;
mod identity;
mod jobs;
mod store;
mod wallet;
mod webhooks;
mod workflows;

pub use audit::{AuditRead, AuditWrite};
pub use bets::{BatchContext, BetContext, BetRead, BetWrite, Placement};
pub use catalog::{CatalogRead, CatalogWrite};
pub use customers::{CustomerRead, CustomerWrite};
pub use events::{EventRead, EventWrite};
pub use identity::{IdentityRead, IdentityWrite};
pub use jobs::{JobQueue, JobWrite};
pub use store::{PoolStats, Store, Transaction};
pub use wallet::{AccountCheck, IdempotencyClaim, TransactionFilter, WalletRead, WalletWrite};
pub use webhooks::{WebhookRead, WebhookWrite};
pub use workflows::{CreationRef, DomainRowRef, TransitionRef, WorkflowRead, WorkflowWrite};
