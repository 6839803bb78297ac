//! Tasks created by automations (seed 003's `tasks`): work for a user or a role, beside approval steps.

use async_trait::async_trait;
use betflow_domain::automation::tasks::Task;
use uuid::Uuid;

use crate::Result;

/// Reading tasks.
#[async_trait]
pub trait TaskRead {
    async fn get_task(&self, id: Uuid) -> Result<Option<Task>>;
    /// Open tasks (`pending`, `in_progress`), newest first, from `offset`: those assigned to
    /// `user` or to `role`, or everyone's when both are `None` (an admin's inbox).
    async fn open_tasks(
        &self,
        user: Option<Uuid>,
        role: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<Task>>;
    async fn count_open_tasks(&self, user: Option<Uuid>, role: Option<&str>) -> Result<u64>;
    /// The tasks a run's step created, oldest first.
    async fn tasks_of_step(&self, execution_id: Uuid, step_id: &str) -> Result<Vec<Task>>;
}

/// Creating and updating tasks, inside a transaction.
#[async_trait]
pub trait TaskWrite {
    async fn insert_task(&mut self, task: &Task) -> Result<()>;
    async fn lock_task(&mut self, id: Uuid) -> Result<Option<Task>>;
    /// Writes the task's status, completion and `updated_at`; false when there is no such task.
    async fn update_task(&mut self, task: &Task) -> Result<bool>;
}
