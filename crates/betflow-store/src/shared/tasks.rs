//! Tasks created by automations (seed 003's `tasks`): work for a user or a role, beside approval steps, compiled once per backend.

use async_trait::async_trait;

use super::{BackendStore, BackendTx};
use crate::{TaskRead, TaskWrite};

#[async_trait]
impl TaskRead for BackendStore {}

#[async_trait]
impl TaskWrite for BackendTx {}
