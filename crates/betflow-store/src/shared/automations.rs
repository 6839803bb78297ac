//! Automation executions (seeds 003 and 004's `workflow_execution` and `step_execution`): what a run was started by, its input, output and error, and each step attempt, compiled once per backend.

use async_trait::async_trait;

use super::{BackendStore, BackendTx};
use crate::{AutomationRead, AutomationWrite};

#[async_trait]
impl AutomationRead for BackendStore {}

#[async_trait]
impl AutomationWrite for BackendTx {}
