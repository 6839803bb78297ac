//! Automation executions (seeds 003 and 004's `workflow_execution` and `step_execution`): what a run was started by, its input, output and error, and each step attempt, compiled once per backend.

use async_trait::async_trait;
use betflow_domain::automation::execution::{
    EndedRun, Execution, ExecutionError, ExecutionFilter, ExecutionStatus, MAX_LIST_LIMIT,
    StepExecution, StepExecutionStatus, TriggerType,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::{corrupt, micros};
use super::{BackendStore, BackendTx, Db};
use crate::{AutomationRead, AutomationWrite, Result};

const EXEC_COLUMNS: &str = "id, definition_id, definition_key, version, trigger_type, \
    trigger_id, trigger_event_id, input, output, error, status, created_by, started_at, \
    ended_at, duration_ms";
const STEP_COLUMNS: &str = "id, execution_id, step_id, visit, attempt, status, input, output, \
    error, started_at, ended_at, duration_ms";

#[derive(FromRow)]
struct ExecRow {
    id: Uuid,
    definition_id: Uuid,
    definition_key: String,
    version: i32,
    trigger_type: String,
    trigger_id: Option<Uuid>,
    trigger_event_id: Option<String>,
    input: Json<Value>,
    output: Option<Json<Value>>,
    error: Option<Json<Value>>,
    status: String,
    created_by: Option<Uuid>,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
}

const EXECUTIONS: &str = "workflow_executions";

impl TryFrom<ExecRow> for Execution {
    type Error = crate::StoreError;
    fn try_from(r: ExecRow) -> Result<Self> {
        Ok(Execution {
            id: r.id,
            definition_id: r.definition_id,
            definition_key: r.definition_key,
            version: u32::try_from(r.version).map_err(|e| corrupt(EXECUTIONS, e))?,
            trigger_type: TriggerType::parse(&r.trigger_type)
                .ok_or_else(|| corrupt(EXECUTIONS, format!("trigger {}", r.trigger_type)))?,
            trigger_id: r.trigger_id,
            trigger_event_id: r.trigger_event_id,
            input: r.input.0,
            output: r.output.map(|o| o.0),
            error: r
                .error
                .map(|e| serde_json::from_value::<ExecutionError>(e.0))
                .transpose()
                .map_err(|e| corrupt(EXECUTIONS, e))?,
            status: ExecutionStatus::parse(&r.status)
                .ok_or_else(|| corrupt(EXECUTIONS, format!("status {}", r.status)))?,
            created_by: r.created_by,
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_ms: r.duration_ms,
        })
    }
}

#[derive(FromRow)]
struct StepRow {
    id: Uuid,
    execution_id: Uuid,
    step_id: String,
    visit: i32,
    attempt: i32,
    status: String,
    input: Json<Value>,
    output: Option<Json<Value>>,
    error: Option<String>,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
}

impl TryFrom<StepRow> for StepExecution {
    type Error = crate::StoreError;
    fn try_from(r: StepRow) -> Result<Self> {
        let table = "step_executions";
        Ok(StepExecution {
            id: r.id,
            execution_id: r.execution_id,
            step_id: r.step_id,
            visit: u32::try_from(r.visit).map_err(|e| corrupt(table, e))?,
            attempt: u32::try_from(r.attempt).map_err(|e| corrupt(table, e))?,
            status: StepExecutionStatus::parse(&r.status)
                .ok_or_else(|| corrupt(table, format!("status {}", r.status)))?,
            input: r.input.0,
            output: r.output.map(|o| o.0),
            error: r.error,
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_ms: r.duration_ms,
        })
    }
}

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn error_json(e: &Execution) -> Option<Json<Value>> {
    e.error
        .as_ref()
        .and_then(|x| serde_json::to_value(x).ok())
        .map(Json)
}

fn select_execution(id: Uuid) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::<Db>::new(format!(
        "SELECT {EXEC_COLUMNS} FROM workflow_executions WHERE id = "
    ));
    qb.push_bind(id);
    qb
}

#[async_trait]
impl AutomationRead for BackendStore {
    async fn get_execution(&self, id: Uuid) -> Result<Option<Execution>> {
        let row: Option<ExecRow> = select_execution(id)
            .build_query_as()
            .fetch_optional(&self.pool)
            .await?;
        row.map(Execution::try_from).transpose()
    }

    async fn find_execution_by_trigger(
        &self,
        trigger_id: Uuid,
        event_id: &str,
    ) -> Result<Option<Uuid>> {
        let mut qb =
            QueryBuilder::<Db>::new("SELECT id FROM workflow_executions WHERE trigger_id = ");
        qb.push_bind(trigger_id)
            .push(" AND trigger_event_id = ")
            .push_bind(event_id.to_owned());
        let row: Option<(Uuid,)> = qb.build_query_as().fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.0))
    }

    async fn list_step_executions(&self, execution_id: Uuid) -> Result<Vec<StepExecution>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {STEP_COLUMNS} FROM step_executions WHERE execution_id = "
        ));
        qb.push_bind(execution_id)
            .push(" ORDER BY started_at, visit, attempt");
        let rows: Vec<StepRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(StepExecution::try_from).collect()
    }

    async fn list_executions(&self, f: &ExecutionFilter) -> Result<Vec<Execution>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {EXEC_COLUMNS} FROM workflow_executions WHERE 1 = 1"
        ));
        if let Some(k) = &f.definition_key {
            qb.push(" AND definition_key = ").push_bind(k.clone());
        }
        if let Some(s) = f.status {
            qb.push(" AND status = ").push_bind(s.as_str());
        }
        if let Some(t) = f.trigger_type {
            qb.push(" AND trigger_type = ").push_bind(t.as_str());
        }
        if let Some(from) = f.from {
            qb.push(" AND started_at >= ").push_bind(micros(from));
        }
        if let Some(to) = f.to {
            qb.push(" AND started_at < ").push_bind(micros(to));
        }
        if let Some(before) = f.before {
            qb.push(" AND id < ").push_bind(before);
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(f.limit.clamp(1, MAX_LIST_LIMIT)));
        let rows: Vec<ExecRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(Execution::try_from).collect()
    }

    async fn ended_executions(
        &self,
        definition_key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<EndedRun>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT started_at, status, duration_ms FROM workflow_executions \
             WHERE ended_at IS NOT NULL AND trigger_type <> 'test' AND definition_key = ",
        );
        qb.push_bind(definition_key.to_owned())
            .push(" AND started_at >= ")
            .push_bind(micros(from))
            .push(" AND started_at < ")
            .push_bind(micros(to));
        let rows: Vec<(DateTime<Utc>, String, Option<i64>)> =
            qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|(started_at, status, duration_ms)| {
                Ok(EndedRun {
                    started_at,
                    status: ExecutionStatus::parse(&status)
                        .ok_or_else(|| corrupt(EXECUTIONS, format!("status {status}")))?,
                    duration_ms,
                })
            })
            .collect()
    }
}

#[async_trait]
impl AutomationWrite for BackendTx {
    async fn insert_execution(&mut self, e: &Execution) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "INSERT INTO workflow_executions ({EXEC_COLUMNS}) VALUES ("
        ));
        let mut v = qb.separated(", ");
        v.push_bind(e.id)
            .push_bind(e.definition_id)
            .push_bind(e.definition_key.clone())
            .push_bind(i32_of(e.version))
            .push_bind(e.trigger_type.as_str())
            .push_bind(e.trigger_id)
            .push_bind(e.trigger_event_id.clone())
            .push_bind(Json(e.input.clone()))
            .push_bind(e.output.clone().map(Json))
            .push_bind(error_json(e))
            .push_bind(e.status.as_str())
            .push_bind(e.created_by)
            .push_bind(micros(e.started_at))
            .push_bind(e.ended_at.map(micros))
            .push_bind(e.duration_ms);
        qb.push(") ON CONFLICT (trigger_id, trigger_event_id) DO NOTHING");
        let done = qb.build().execute(&mut *self.tx).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn execution_in_tx(&mut self, id: Uuid) -> Result<Option<Execution>> {
        let row: Option<ExecRow> = select_execution(id)
            .build_query_as()
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(Execution::try_from).transpose()
    }

    async fn update_execution(&mut self, e: &Execution) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE workflow_executions SET status = ");
        qb.push_bind(e.status.as_str())
            .push(", output = ")
            .push_bind(e.output.clone().map(Json))
            .push(", error = ")
            .push_bind(error_json(e))
            .push(", ended_at = ")
            .push_bind(e.ended_at.map(micros))
            .push(", duration_ms = ")
            .push_bind(e.duration_ms)
            .push(" WHERE id = ")
            .push_bind(e.id);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn record_step_execution(&mut self, s: &StepExecution) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "INSERT INTO step_executions ({STEP_COLUMNS}) VALUES ("
        ));
        let mut v = qb.separated(", ");
        v.push_bind(s.id)
            .push_bind(s.execution_id)
            .push_bind(s.step_id.clone())
            .push_bind(i32_of(s.visit))
            .push_bind(i32_of(s.attempt))
            .push_bind(s.status.as_str())
            .push_bind(Json(s.input.clone()))
            .push_bind(s.output.clone().map(Json))
            .push_bind(s.error.clone())
            .push_bind(micros(s.started_at))
            .push_bind(s.ended_at.map(micros))
            .push_bind(s.duration_ms);
        qb.push(
            ") ON CONFLICT (execution_id, step_id, visit, attempt) DO UPDATE SET \
             status = excluded.status, input = excluded.input, output = excluded.output, \
             error = excluded.error, ended_at = excluded.ended_at, \
             duration_ms = excluded.duration_ms",
        );
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn step_outputs(&mut self, execution_id: Uuid) -> Result<Vec<(String, Value)>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT step_id, output FROM step_executions WHERE status = 'succeeded' \
             AND output IS NOT NULL AND execution_id = ",
        );
        qb.push_bind(execution_id)
            .push(" ORDER BY started_at, visit, attempt");
        let rows: Vec<(String, Json<Value>)> = qb.build_query_as().fetch_all(&mut *self.tx).await?;
        // Later attempts and visits come last, so they win.
        Ok(rows.into_iter().map(|(s, o)| (s, o.0)).collect())
    }

    async fn prune_executions(&mut self, cutoff: DateTime<Utc>, limit: u32) -> Result<u64> {
        let mut qb = QueryBuilder::<Db>::new(
            "DELETE FROM step_executions WHERE execution_id IN (SELECT id FROM \
             workflow_executions WHERE ended_at IS NOT NULL AND ended_at < ",
        );
        qb.push_bind(micros(cutoff))
            .push(" ORDER BY ended_at LIMIT ")
            .push_bind(i64::from(limit))
            .push(")");
        qb.build().execute(&mut *self.tx).await?;
        let mut qb = QueryBuilder::<Db>::new(
            "DELETE FROM workflow_executions WHERE id IN (SELECT id FROM workflow_executions \
             WHERE ended_at IS NOT NULL AND ended_at < ",
        );
        qb.push_bind(micros(cutoff))
            .push(" ORDER BY ended_at LIMIT ")
            .push_bind(i64::from(limit))
            .push(")");
        let done = qb.build().execute(&mut *self.tx).await?;
        Ok(done.rows_affected())
    }
}
