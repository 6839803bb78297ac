//! The store's integration tests, as one test binary: each module is one area, run against
//! SQLite and (when `BETFLOW_TEST_DATABASE_URL` is set) PostgreSQL through `conformance!`.
//!
//! Run one area with a filter: `cargo test -p betflow-store --test store locks::`.

mod common;

mod bets;
mod catalog;
mod conformance;
mod connect;
mod credentials;
mod events;
mod executions;
mod identity;
mod jobs;
mod locks;
mod tasks;
mod triggers;
mod workflows;
