//! The ports: one file per area, each with its read trait (implemented by the [`Store`])
//! and its write trait (implemented by a [`Transaction`]), and the shared types their
//! signatures use. `store.rs` composes them. Everything is re-exported at the crate root,
//! so callers write `betflow_store::WalletWrite`, not the file it lives in.

mod audit;
mod automations;
mod bets;
mod catalog;
mod credentials;
mod customers;
mod definitions;
mod events;
mod identity;
mod jobs;
mod store;
mod tasks;
mod triggers;
mod wallet;
mod webhooks;
mod workflows;

pub use audit::{AuditRead, AuditWrite};
pub use automations::{AutomationRead, AutomationWrite};
pub use bets::{BatchContext, BetContext, BetRead, BetWrite, Placement};
pub use catalog::{CatalogRead, CatalogWrite};
pub use credentials::{CredentialRead, CredentialWrite};
pub use customers::{CustomerRead, CustomerWrite};
pub use definitions::{DefinitionRead, DefinitionWrite};
pub use events::{EventRead, EventWrite};
pub use identity::{IdentityRead, IdentityWrite};
pub use jobs::{JobQueue, JobWrite};
pub use store::{PoolStats, Store, Transaction};
pub use tasks::{TaskRead, TaskWrite};
pub use triggers::{TriggerRead, TriggerWrite};
pub use wallet::{AccountCheck, IdempotencyClaim, TransactionFilter, WalletRead, WalletWrite};
pub use webhooks::{WebhookRead, WebhookWrite};
pub use workflows::{CreationRef, DomainRowRef, TransitionRef, WorkflowRead, WorkflowWrite};
