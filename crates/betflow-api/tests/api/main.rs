//! The API's integration tests, as one test binary: each module is one area, run against the
//! real app on a real socket (SQLite and, when `BETFLOW_TEST_DATABASE_URL` is set,
//! PostgreSQL). One binary because each links the whole server, and linking it once per file
//! dominated the build on two cores.
//!
//! Run one area with a filter: `cargo test -p betflow-api --test api bets::`.

mod common;

mod bets;
mod catalog;
mod contention;
mod credentials;
mod customers;
mod definitions;
mod executions;
mod http;
mod identity;
mod input;
mod jobs;
mod odds;
mod openapi;
mod realtime;
mod socketio;
mod tasks;
mod triggers;
mod webhooks;
mod workflows;
