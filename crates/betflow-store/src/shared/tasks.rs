//! Tasks created by automations (seed 003's `tasks`): work for a user or a role, beside approval steps, compiled once per backend.

use async_trait::async_trait;
use betflow_domain::automation::tasks::{Task, TaskStatus};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::{micros, to_total};
use super::{BackendStore, BackendTx, Db, FOR_UPDATE};
use crate::{Result, StoreError, TaskRead, TaskWrite};

const COLUMNS: &str = "id, title, description, assignee_user_id, assignee_role, due_at, \
    priority, status, execution_id, step_id, wait, data, created_at, updated_at, completed_at, \
    completed_by";
const OPEN: &str = "status IN ('pending', 'in_progress')";

#[derive(FromRow)]
struct TaskRow {
    id: Uuid,
    title: String,
    description: Option<String>,
    assignee_user_id: Option<Uuid>,
    assignee_role: Option<String>,
    due_at: Option<DateTime<Utc>>,
    priority: String,
    status: String,
    execution_id: Option<Uuid>,
    step_id: Option<String>,
    wait: bool,
    data: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    completed_by: Option<Uuid>,
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;

    fn try_from(r: TaskRow) -> Result<Self> {
        let corrupt = |reason: String| StoreError::Corrupt {
            table: "tasks",
            reason,
        };
        Ok(Task {
            id: r.id,
            title: r.title,
            description: r.description,
            assignee_user_id: r.assignee_user_id,
            assignee_role: r.assignee_role,
            due_at: r.due_at,
            priority: r.priority.parse().map_err(|_| corrupt(r.priority))?,
            status: r
                .status
                .parse::<TaskStatus>()
                .map_err(|_| corrupt(r.status))?,
            execution_id: r.execution_id,
            step_id: r.step_id,
            wait: r.wait,
            data: r.data.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
            completed_at: r.completed_at,
            completed_by: r.completed_by,
        })
    }
}

fn rows(rows: Vec<TaskRow>) -> Result<Vec<Task>> {
    rows.into_iter().map(Task::try_from).collect()
}

/// ` WHERE` open and assigned to `user` or `role` (everyone's when both are `None`).
fn push_open(qb: &mut QueryBuilder<Db>, user: Option<Uuid>, role: Option<&str>) {
    qb.push(" WHERE ").push(OPEN);
    match (user, role) {
        (None, None) => {}
        (Some(u), Some(r)) => {
            qb.push(" AND (assignee_user_id = ")
                .push_bind(u)
                .push(" OR assignee_role = ")
                .push_bind(r.to_owned())
                .push(")");
        }
        (Some(u), None) => {
            qb.push(" AND assignee_user_id = ").push_bind(u);
        }
        (None, Some(r)) => {
            qb.push(" AND assignee_role = ").push_bind(r.to_owned());
        }
    }
}

#[async_trait]
impl TaskRead for BackendStore {
    async fn get_task(&self, id: Uuid) -> Result<Option<Task>> {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM tasks WHERE id = "));
        qb.push_bind(id);
        let row: Option<TaskRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(Task::try_from).transpose()
    }

    async fn open_tasks(
        &self,
        user: Option<Uuid>,
        role: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<Task>> {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM tasks"));
        push_open(&mut qb, user, role);
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
        rows(qb.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn count_open_tasks(&self, user: Option<Uuid>, role: Option<&str>) -> Result<u64> {
        let mut qb = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM tasks");
        push_open(&mut qb, user, role);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(to_total(n))
    }

    async fn tasks_of_step(&self, execution_id: Uuid, step_id: &str) -> Result<Vec<Task>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM tasks WHERE execution_id = "));
        qb.push_bind(execution_id)
            .push(" AND step_id = ")
            .push_bind(step_id.to_owned())
            .push(" ORDER BY created_at, id");
        rows(qb.build_query_as().fetch_all(&self.pool).await?)
    }
}

#[async_trait]
impl TaskWrite for BackendTx {
    async fn insert_task(&mut self, t: &Task) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(format!("INSERT INTO tasks ({COLUMNS}) VALUES ("));
        let mut v = qb.separated(", ");
        v.push_bind(t.id)
            .push_bind(t.title.clone())
            .push_bind(t.description.clone())
            .push_bind(t.assignee_user_id)
            .push_bind(t.assignee_role.clone())
            .push_bind(t.due_at.map(micros))
            .push_bind(t.priority.as_str())
            .push_bind(t.status.as_str())
            .push_bind(t.execution_id)
            .push_bind(t.step_id.clone())
            .push_bind(t.wait)
            .push_bind(Json(t.data.clone()))
            .push_bind(micros(t.created_at))
            .push_bind(micros(t.updated_at))
            .push_bind(t.completed_at.map(micros))
            .push_bind(t.completed_by);
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn lock_task(&mut self, id: Uuid) -> Result<Option<Task>> {
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {COLUMNS} FROM tasks WHERE id = "));
        qb.push_bind(id).push(FOR_UPDATE);
        let row: Option<TaskRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(Task::try_from).transpose()
    }

    async fn update_task(&mut self, t: &Task) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE tasks SET status = ");
        qb.push_bind(t.status.as_str())
            .push(", updated_at = ")
            .push_bind(micros(t.updated_at))
            .push(", completed_at = ")
            .push_bind(t.completed_at.map(micros))
            .push(", completed_by = ")
            .push_bind(t.completed_by)
            .push(" WHERE id = ")
            .push_bind(t.id);
        let done = qb.build().execute(&mut *self.tx).await?;
        Ok(done.rows_affected() > 0)
    }
}
