//! Automations' pure rules: executions and their statuses, step inputs as expressions,
//! credential types, triggers (event patterns, schedules, inbound signatures) and tasks.

pub mod credentials;
pub mod execution;
pub mod tasks;
pub mod template;
pub mod triggers;
