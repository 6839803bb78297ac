//! Tasks created by automations (seed 003's `tasks`): work for a user or a role, listed in
//! `/tasks` beside approval steps.
//!
//! A task is created by a `task.create` step (or anything else that calls [`Tasks::create`]),
//! announced with a `task.created` event to its assignee's room, and moved through
//! `pending -> in_progress -> completed` (or `cancelled`) by its assignee. Completing a task a
//! step waits for resumes that step ([`crate::Engine::update_task`]).

use std::sync::Arc;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::automation::tasks::{NewTask, Task, TaskStatus};
use betflow_domain::events::{Address, NewEvent, types};
use betflow_domain::identity::Role;
use betflow_domain::time::now;
use betflow_store::{Store, Transaction};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::EngineError;
use crate::identity::Principal;

/// Tasks.
#[derive(Clone)]
pub struct Tasks {
    store: Arc<dyn Store>,
}

/// The rooms a task's events go to.
fn rooms(t: &Task) -> Vec<Address> {
    let mut to = Vec::new();
    if let Some(u) = t.assignee_user_id {
        to.push(Address::User(u));
    }
    if let Some(r) = &t.assignee_role {
        to.push(Address::Role(r.clone()));
    }
    to
}

fn event_payload(t: &Task) -> Value {
    // The inbox item's shape (see `task_payload` for workflow steps), with the task's own.
    json!({
        "taskId": t.id,
        "workflowId": t.execution_id,
        "stepId": t.step_id,
        "stepName": t.title,
        "kind": "task",
        "assignees": t.assignee_role.iter().collect::<Vec<_>>(),
        "assigneeUserId": t.assignee_user_id,
        "priority": t.priority.as_str(),
        "dueAt": t.due_at,
        "status": t.status.as_str(),
    })
}

async fn audit(
    tx: &mut Box<dyn Transaction>,
    t: &Task,
    action: AuditAction,
    old: Option<Value>,
    actor: &Actor,
) -> Result<(), EngineError> {
    let new = json!({"title": t.title, "status": t.status.as_str(),
                     "assigneeUserId": t.assignee_user_id, "assigneeRole": t.assignee_role});
    let entry = AuditEntry::new("tasks", t.id, action, old, Some(new), actor.clone())?;
    tx.insert_audit(&entry).await?;
    Ok(())
}

impl Tasks {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Creates a task, audited and announced to its assignee's room.
    pub async fn create(&self, new: NewTask, actor: &Actor) -> Result<Task, EngineError> {
        let task = new.into_task(now())?;
        let mut tx = self.store.begin().await?;
        tx.insert_task(&task).await?;
        audit(&mut tx, &task, AuditAction::Insert, None, actor).await?;
        let ev = NewEvent::new(types::TASK_CREATED, event_payload(&task), task.created_at)
            .to(rooms(&task));
        tx.insert_events(&[ev]).await?;
        tx.commit().await?;
        Ok(task)
    }

    /// A task the caller may see (assigned to them or their role; an admin sees all).
    pub async fn get(&self, principal: &Principal, id: Uuid) -> Result<Task, EngineError> {
        let t = self
            .store
            .get_task(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("task {id}")))?;
        if !may_act(principal, &t) {
            return Err(EngineError::NotFound(format!("task {id}")));
        }
        Ok(t)
    }

    /// The caller's open tasks, newest first, from `offset`, with how many there are.
    pub async fn open_for(
        &self,
        principal: &Principal,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<Task>, u64), EngineError> {
        let (user, role) = if principal.role == Role::Admin {
            (None, None)
        } else {
            (Some(principal.user_id), Some(principal.role.as_str()))
        };
        let total = self.store.count_open_tasks(user, role).await?;
        let items = if limit == 0 || offset >= total {
            Vec::new()
        } else {
            self.store.open_tasks(user, role, offset, limit).await?
        };
        Ok((items, total))
    }

    /// Moves a task to `status` (its assignee, or an admin): see [`TaskStatus::may_become`].
    /// Returns the task as it now is.
    pub async fn set_status(
        &self,
        principal: &Principal,
        id: Uuid,
        status: TaskStatus,
        actor: &Actor,
    ) -> Result<Task, EngineError> {
        let mut tx = self.store.begin().await?;
        let Some(mut t) = tx.lock_task(id).await? else {
            return Err(EngineError::NotFound(format!("task {id}")));
        };
        if !may_act(principal, &t) {
            return Err(EngineError::NotFound(format!("task {id}")));
        }
        if t.status == status {
            return Ok(t);
        }
        if !t.status.may_become(status) {
            return Err(EngineError::InvalidTransition(format!(
                "a {} task cannot become {status}",
                t.status
            )));
        }
        let old = json!({"status": t.status.as_str()});
        t.set_status(status, Some(principal.user_id), now())?;
        tx.update_task(&t).await?;
        audit(&mut tx, &t, AuditAction::Update, Some(old), actor).await?;
        tx.commit().await?;
        Ok(t)
    }
}

/// Whether the caller may see and act on a task.
fn may_act(principal: &Principal, t: &Task) -> bool {
    principal.role == Role::Admin || t.is_for(principal.user_id, principal.role.as_str())
}

impl crate::Engine {
    /// Moves a task to `status` (see [`Tasks::set_status`]). When a step waits for the task
    /// and it reaches a final status (completed or cancelled), the step is resumed with the
    /// task as its output, so the run can branch on `steps.<id>.output.status`.
    pub async fn update_task(
        &self,
        principal: &Principal,
        id: Uuid,
        status: TaskStatus,
        actor: &Actor,
    ) -> Result<Task, EngineError> {
        let before = self.tasks.get(principal, id).await?.status;
        let t = self.tasks.set_status(principal, id, status, actor).await?;
        if t.wait
            && before.is_open()
            && !t.status.is_open()
            && let (Some(execution), Some(step)) = (t.execution_id, t.step_id.as_deref())
        {
            match self
                .resume_step(execution.into(), step, 0, t.to_json())
                .await
            {
                // The run is gone (pruned, or never recorded): the task stands on its own.
                Ok(()) | Err(EngineError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(t)
    }
}
