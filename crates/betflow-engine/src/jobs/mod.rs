//! Durable background jobs, engine side: the worker loop that claims due jobs, the
//! registry that hands each kind to its handler, the handlers themselves, the job metrics,
//! and the worker's housekeeping.
//!
//! What a job *is* (its kinds and typed payloads) lives in [`betflow_domain::jobs`]. Adding
//! a kind is a [`betflow_domain::jobs::JobArgs`] variant plus one [`JobHandler`] registered
//! in [`Registry::standard`].

mod handlers;
mod maintenance;
pub mod metrics;
mod registry;
mod worker;

pub use maintenance::{MAINTENANCE_EVERY, Retention};
pub use registry::{JobContext, JobHandler, Registry};
pub use worker::{BATCH, LEASE, spawn};
