//! Workflows: definitions as graphs of steps, the instance state machine, approval rules
//! (quorum, four eyes), and the two definitions every database starts with.
//!
//! Pure rules only: the engine persists runs and schedules timers; everything decided here
//! can be tested without a database.

pub mod approval;
pub mod definitions;
pub mod events;
pub mod expr;
pub mod graph;
pub mod machine;
pub mod policy;
pub mod record;
pub mod seeded;
pub mod status;
pub mod timeline;
pub mod transition;

#[cfg(test)]
mod machine_job_tests;
#[cfg(test)]
mod machine_props;
#[cfg(test)]
mod machine_tests;

pub use approval::{Decision, DecisionError, StepOutcome, Vote, decide};
pub use graph::{
    Branch, Edge, GraphProblem, Next, StepDef, StepKind, TimeoutAction, WorkflowGraph,
};
pub use machine::MachineError;
pub use status::{Priority, WorkflowStatus};
pub use timeline::{TimelineEntry, TimelineKind};
pub use transition::Before;
