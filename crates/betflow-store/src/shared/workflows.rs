//! Workflow definitions, versions and workflows, compiled once per backend.

use async_trait::async_trait;
use betflow_domain::Page;
use betflow_domain::workflow::graph::{StepKind, WorkflowGraph};
use betflow_domain::workflow::record::{
    Approval, BettingContent, BettingLine, Definition, Instance, InstanceFilter, StepRun,
    StepRunStatus, TimelineEvent, Version,
};
use betflow_domain::workflow::seeded::RiskLevel;
use betflow_domain::workflow::{Decision, Priority, WorkflowStatus};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use std::str::FromStr;
use uuid::Uuid;

use super::audit::{corrupt, micros, part, push_audits_insert, push_page, to_total};
use super::bets::{json_len, statements};
use super::events::push_events_insert;
use super::jobs::push_jobs_insert;
use super::{
    BackendStore, BackendTx, DATA_SEARCH, Db, FOR_UPDATE, HAS_ASSIGNEE, HAS_TAG, WRITE_CTE,
};
use crate::{CreationRef, DomainRowRef, Result, TransitionRef, WorkflowRead, WorkflowWrite};
use betflow_domain::audit::AuditEntry;
use betflow_domain::events::NewEvent;
use betflow_domain::jobs::NewJob;

pub(super) const DEF_COLUMNS: &str = "id, key, name, description, category, tags, data_schema, \
    latest_version, is_active, created_by, created_at, updated_at, deleted_at";
const WF_COLUMNS: &str = "id, definition_id, workflow_type, version, status, priority, \
    current_step, step_visit, step_started_at, escalated_roles, current_assignees, \
    completed_steps, data, tags, \
    created_by, created_at, updated_at, started_at, completed_at, due_at";

fn u32_of(table: &'static str, v: i32) -> Result<u32> {
    u32::try_from(v).map_err(|_| corrupt(table, format!("negative counter {v}")))
}

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

#[derive(FromRow)]
pub(super) struct DefRow {
    id: Uuid,
    key: String,
    name: String,
    description: Option<String>,
    category: Option<String>,
    tags: Json<Vec<String>>,
    data_schema: Option<Json<Value>>,
    latest_version: i32,
    is_active: bool,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

impl TryFrom<DefRow> for Definition {
    type Error = crate::StoreError;
    fn try_from(r: DefRow) -> Result<Self> {
        Ok(Definition {
            id: r.id,
            key: r.key,
            name: r.name,
            description: r.description,
            category: r.category,
            tags: r.tags.0,
            data_schema: r.data_schema.map(|j| j.0),
            latest_version: u32_of("workflow_definitions", r.latest_version)?,
            is_active: r.is_active,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
    }
}

#[derive(FromRow)]
struct VersionRow {
    definition_id: Uuid,
    version: i32,
    graph: Json<WorkflowGraph>,
    published_by: Option<Uuid>,
    published_at: DateTime<Utc>,
}

fn version_of(r: VersionRow) -> Result<Version> {
    Ok(Version {
        definition_id: r.definition_id,
        version: u32_of("workflow_versions", r.version)?,
        graph: r.graph.0,
        published_by: r.published_by,
        published_at: r.published_at,
    })
}

#[derive(FromRow)]
struct WfRow {
    id: Uuid,
    definition_id: Uuid,
    workflow_type: String,
    version: i32,
    status: String,
    priority: String,
    current_step: Option<String>,
    step_visit: i32,
    step_started_at: Option<DateTime<Utc>>,
    escalated_roles: Json<Vec<String>>,
    current_assignees: Json<Vec<String>>,
    completed_steps: i32,
    data: Json<Value>,
    tags: Json<Vec<String>>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    due_at: Option<DateTime<Utc>>,
}

impl TryFrom<WfRow> for Instance {
    type Error = crate::StoreError;
    fn try_from(r: WfRow) -> Result<Self> {
        const T: &str = "workflow_instances";
        Ok(Instance {
            id: r.id,
            definition_id: r.definition_id,
            workflow_type: r.workflow_type,
            version: u32_of(T, r.version)?,
            status: r
                .status
                .parse::<WorkflowStatus>()
                .map_err(|e| corrupt(T, e))?,
            priority: r.priority.parse::<Priority>().map_err(|e| corrupt(T, e))?,
            current_step: r.current_step,
            step_visit: u32_of(T, r.step_visit)?,
            step_started_at: r.step_started_at,
            escalated_roles: r.escalated_roles.0,
            assignees: r.current_assignees.0,
            completed_steps: u32_of(T, r.completed_steps)?,
            data: r.data.0,
            tags: r.tags.0,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            started_at: r.started_at,
            completed_at: r.completed_at,
            due_at: r.due_at,
        })
    }
}

#[derive(FromRow)]
struct LineRow {
    id: Uuid,
    workflow_instance_id: Uuid,
    line_id: String,
    event_name: Option<String>,
    sport: Option<String>,
    league: Option<String>,
    market_type: Option<String>,
    old_odds: String,
    new_odds: String,
    odds_change_percentage: String,
    total_exposure: i64,
    risk_level: String,
    metadata: Json<Value>,
    created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct ContentRow {
    id: Uuid,
    workflow_instance_id: Uuid,
    content_type: String,
    content_id: String,
    title: String,
    jurisdiction: Option<String>,
    financial_impact: i64,
    metadata: Json<Value>,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct ApprovalRow {
    id: Uuid,
    workflow_instance_id: Uuid,
    step_id: String,
    step_visit: i32,
    approver_id: Uuid,
    decision: String,
    comments: Option<String>,
    decided_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct TimelineRow {
    id: Uuid,
    workflow_instance_id: Uuid,
    event_type: String,
    step_id: Option<String>,
    user_id: Option<Uuid>,
    data: Option<Json<Value>>,
    created_at: DateTime<Utc>,
}

fn decision_str(d: Decision) -> &'static str {
    match d {
        Decision::Approve => "approve",
        Decision::Reject => "reject",
    }
}

fn push_filters(qb: &mut QueryBuilder<Db>, f: &InstanceFilter) {
    qb.push(" WHERE deleted_at IS NULL");
    if let Some(s) = f.status {
        qb.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(t) = &f.workflow_type {
        qb.push(" AND workflow_type = ").push_bind(t.clone());
    }
    if let Some(p) = f.priority {
        qb.push(" AND priority = ").push_bind(p.as_str());
    }
    if let Some(d) = f.start_date {
        qb.push(" AND created_at >= ").push_bind(micros(d));
    }
    if let Some(d) = f.end_date {
        qb.push(" AND created_at < ").push_bind(micros(d));
    }
    if let Some(u) = f.created_by {
        qb.push(" AND created_by = ").push_bind(u);
    }
    if let Some(role) = &f.assignee_role {
        qb.push(" AND status = 'in_progress' AND ")
            .push(HAS_ASSIGNEE.0)
            .push_bind(role.clone())
            .push(HAS_ASSIGNEE.1);
    }
    for tag in &f.tags {
        qb.push(" AND ")
            .push(HAS_TAG.0)
            .push_bind(tag.clone())
            .push(HAS_TAG.1);
    }
    if let Some(text) = f.search.as_deref().filter(|t| !t.is_empty()) {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        qb.push(" AND ")
            .push(DATA_SEARCH)
            .push_bind(format!("%{escaped}%"))
            .push(" ESCAPE '\\'");
    }
}

#[async_trait]
impl WorkflowRead for BackendStore {
    async fn get_definition(&self, key: &str) -> Result<Option<Definition>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {DEF_COLUMNS} FROM workflow_definitions WHERE key = "
        ));
        qb.push_bind(key.to_owned());
        let row: Option<DefRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(Definition::try_from).transpose()
    }

    async fn list_definitions(&self) -> Result<Vec<Definition>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {DEF_COLUMNS} FROM workflow_definitions WHERE deleted_at IS NULL ORDER BY key"
        ));
        let rows: Vec<DefRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(Definition::try_from).collect()
    }

    async fn get_version(&self, definition_id: Uuid, version: u32) -> Result<Option<Version>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT definition_id, version, graph, published_by, published_at \
             FROM workflow_versions WHERE definition_id = ",
        );
        qb.push_bind(definition_id)
            .push(" AND version = ")
            .push_bind(i32_of(version));
        let row: Option<VersionRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(version_of).transpose()
    }

    async fn list_versions(&self, definition_id: Uuid) -> Result<Vec<Version>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT definition_id, version, graph, published_by, published_at \
             FROM workflow_versions WHERE definition_id = ",
        );
        qb.push_bind(definition_id).push(" ORDER BY version");
        let rows: Vec<VersionRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(version_of).collect()
    }

    async fn get_workflow(&self, id: Uuid) -> Result<Option<Instance>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {WF_COLUMNS} FROM workflow_instances WHERE deleted_at IS NULL AND id = "
        ));
        qb.push_bind(id);
        let row: Option<WfRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(Instance::try_from).transpose()
    }

    async fn list_workflows(&self, f: &InstanceFilter) -> Result<Page<Instance>> {
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM workflow_instances");
        push_filters(&mut count, f);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {WF_COLUMNS} FROM workflow_instances"));
        push_filters(&mut qb, f);
        qb.push(" ORDER BY created_at DESC, id DESC");
        push_page(&mut qb, f.page);
        let rows: Vec<WfRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let items = rows
            .into_iter()
            .map(Instance::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::new(items, to_total(total), f.page))
    }

    async fn scan_workflows(
        &self,
        f: &InstanceFilter,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: u32,
    ) -> Result<Vec<Instance>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {WF_COLUMNS} FROM workflow_instances"));
        push_filters(&mut qb, f);
        if let Some((t, id)) = before {
            qb.push(" AND (created_at < ")
                .push_bind(micros(t))
                .push(" OR (created_at = ")
                .push_bind(micros(t))
                .push(" AND id < ")
                .push_bind(id)
                .push("))");
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<WfRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter().map(Instance::try_from).collect()
    }

    async fn list_approvals(&self, workflow_id: Uuid) -> Result<Vec<Approval>> {
        let mut qb = approvals_query(workflow_id);
        let rows: Vec<ApprovalRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        approvals_of(rows)
    }

    async fn list_approvals_for(&self, workflow_ids: &[Uuid]) -> Result<Vec<Approval>> {
        if workflow_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<ApprovalRow> = approvals_for_query(workflow_ids)
            .build_query_as()
            .fetch_all(&self.pool)
            .await?;
        approvals_of(rows)
    }

    async fn list_timeline(&self, workflow_id: Uuid) -> Result<Vec<TimelineEvent>> {
        list_timeline_impl(&self.pool, workflow_id).await
    }

    async fn get_betting_line(&self, workflow_id: Uuid) -> Result<Option<BettingLine>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, workflow_instance_id, line_id, event_name, sport, league, market_type, \
             old_odds, new_odds, odds_change_percentage, total_exposure, risk_level, metadata, \
             created_at FROM betting_lines WHERE workflow_instance_id = ",
        );
        qb.push_bind(workflow_id);
        let row: Option<LineRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(|r| {
            const T: &str = "betting_lines";
            let dec = |v: &str| rust_decimal::Decimal::from_str(v).map_err(|e| corrupt(T, e));
            Ok(BettingLine {
                id: r.id,
                workflow_id: r.workflow_instance_id,
                line_id: r.line_id,
                event_name: r.event_name,
                sport: r.sport,
                league: r.league,
                market_type: r.market_type,
                old_odds: dec(&r.old_odds)?,
                new_odds: dec(&r.new_odds)?,
                odds_change_percentage: dec(&r.odds_change_percentage)?,
                total_exposure: r.total_exposure,
                risk_level: RiskLevel::from_str(&r.risk_level).map_err(|e| corrupt(T, e))?,
                metadata: r.metadata.0,
                created_at: r.created_at,
            })
        })
        .transpose()
    }

    async fn get_betting_content(&self, workflow_id: Uuid) -> Result<Option<BettingContent>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, workflow_instance_id, content_type, content_id, title, jurisdiction, \
             financial_impact, metadata, status, created_at, updated_at FROM betting_content \
             WHERE workflow_instance_id = ",
        );
        qb.push_bind(workflow_id);
        let row: Option<ContentRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        Ok(row.map(|r| BettingContent {
            id: r.id,
            workflow_id: r.workflow_instance_id,
            content_type: r.content_type,
            content_id: r.content_id,
            title: r.title,
            jurisdiction: r.jurisdiction,
            financial_impact: r.financial_impact,
            metadata: r.metadata.0,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }))
    }

    async fn count_by_status(
        &self,
        from: Option<DateTime<Utc>>,
        workflow_type: Option<&str>,
    ) -> Result<Vec<(String, u64)>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT status, COUNT(*) FROM workflow_instances WHERE deleted_at IS NULL",
        );
        if let Some(f) = from {
            qb.push(" AND created_at >= ").push_bind(micros(f));
        }
        if let Some(t) = workflow_type {
            qb.push(" AND workflow_type = ").push_bind(t.to_owned());
        }
        qb.push(" GROUP BY status ORDER BY status");
        let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(s, n)| (s, to_total(n))).collect())
    }

    async fn count_by_type(&self, from: Option<DateTime<Utc>>) -> Result<Vec<(String, u64)>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT workflow_type, COUNT(*) FROM workflow_instances WHERE deleted_at IS NULL",
        );
        if let Some(f) = from {
            qb.push(" AND created_at >= ").push_bind(micros(f));
        }
        qb.push(" GROUP BY workflow_type ORDER BY workflow_type");
        let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(s, n)| (s, to_total(n))).collect())
    }

    async fn list_step_runs(&self, workflow_id: Uuid) -> Result<Vec<StepRun>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT workflow_instance_id, visit, step_id, kind, status, started_at, ended_at \
             FROM workflow_step_runs WHERE workflow_instance_id = ",
        );
        qb.push_bind(workflow_id).push(" ORDER BY visit");
        let rows: Vec<StepRunRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|r| {
                const T: &str = "workflow_step_runs";
                Ok(StepRun {
                    workflow_id: r.workflow_instance_id,
                    visit: u32::try_from(r.visit).map_err(|_| corrupt(T, "visit"))?,
                    kind: StepKind::parse(&r.kind).ok_or_else(|| corrupt(T, "kind"))?,
                    status: StepRunStatus::parse(&r.status).ok_or_else(|| corrupt(T, "status"))?,
                    step_id: r.step_id,
                    started_at: r.started_at,
                    ended_at: r.ended_at,
                })
            })
            .collect()
    }

    async fn count_domain_rows(&self) -> Result<(u64, u64)> {
        let (content, lines): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM betting_content), (SELECT COUNT(*) FROM betting_lines)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((to_total(content), to_total(lines)))
    }

    async fn count_overdue(&self, now: DateTime<Utc>, workflow_type: Option<&str>) -> Result<u64> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT COUNT(*) FROM workflow_instances WHERE deleted_at IS NULL \
             AND status = 'in_progress' AND due_at < ",
        );
        qb.push_bind(micros(now));
        if let Some(t) = workflow_type {
            qb.push(" AND workflow_type = ").push_bind(t.to_owned());
        }
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(to_total(n))
    }

    async fn completion_times(
        &self,
        from: DateTime<Utc>,
        workflow_type: Option<&str>,
    ) -> Result<Vec<DateTime<Utc>>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT completed_at FROM workflow_instances WHERE deleted_at IS NULL \
             AND status = 'completed' AND completed_at >= ",
        );
        qb.push_bind(micros(from));
        if let Some(t) = workflow_type {
            qb.push(" AND workflow_type = ").push_bind(t.to_owned());
        }
        let rows: Vec<(DateTime<Utc>,)> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(t,)| t).collect())
    }

    async fn decision_times(
        &self,
        from: DateTime<Utc>,
        workflow_type: Option<&str>,
    ) -> Result<Vec<(String, String, Option<DateTime<Utc>>, DateTime<Utc>)>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT w.workflow_type, a.step_id, \
               (SELECT MAX(t.created_at) FROM workflow_timeline t \
                WHERE t.workflow_instance_id = a.workflow_instance_id AND t.step_id = a.step_id \
                  AND t.event_type = 'step.entered' AND t.created_at <= a.decided_at) AS entered_at, \
               a.decided_at \
             FROM workflow_approvals a JOIN workflow_instances w ON w.id = a.workflow_instance_id \
             WHERE w.deleted_at IS NULL AND a.decided_at >= ",
        );
        qb.push_bind(micros(from));
        if let Some(t) = workflow_type {
            qb.push(" AND w.workflow_type = ").push_bind(t.to_owned());
        }
        Ok(qb.build_query_as().fetch_all(&self.pool).await?)
    }
}

fn approvals_query(workflow_id: Uuid) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT id, workflow_instance_id, step_id, step_visit, approver_id, decision, \
         comments, decided_at FROM workflow_approvals WHERE workflow_instance_id = ",
    );
    qb.push_bind(workflow_id).push(" ORDER BY decided_at, id");
    qb
}

/// The decisions on several workflows (`workflow_ids` must not be empty).
fn approvals_for_query(workflow_ids: &[Uuid]) -> QueryBuilder<Db> {
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT id, workflow_instance_id, step_id, step_visit, approver_id, decision, \
         comments, decided_at FROM workflow_approvals WHERE workflow_instance_id IN (",
    );
    let mut ids = qb.separated(", ");
    for id in workflow_ids {
        ids.push_bind(*id);
    }
    qb.push(") ORDER BY decided_at, id");
    qb
}

fn approvals_of(rows: Vec<ApprovalRow>) -> Result<Vec<Approval>> {
    rows.into_iter()
        .map(|r| {
            const T: &str = "workflow_approvals";
            Ok(Approval {
                id: r.id,
                workflow_id: r.workflow_instance_id,
                step_id: r.step_id,
                step_visit: u32_of(T, r.step_visit)?,
                approver_id: r.approver_id,
                decision: match r.decision.as_str() {
                    "approve" => Decision::Approve,
                    "reject" => Decision::Reject,
                    other => return Err(corrupt(T, format!("decision {other:?}"))),
                },
                comments: r.comments,
                decided_at: r.decided_at,
            })
        })
        .collect()
}

async fn list_timeline_impl(
    pool: &sqlx::Pool<Db>,
    workflow_id: Uuid,
) -> Result<Vec<TimelineEvent>> {
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT id, workflow_instance_id, event_type, step_id, user_id, data, created_at \
             FROM workflow_timeline WHERE workflow_instance_id = ",
    );
    qb.push_bind(workflow_id).push(" ORDER BY created_at, id");
    let rows: Vec<TimelineRow> = qb.build_query_as().fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|r| TimelineEvent {
            id: r.id,
            workflow_id: r.workflow_instance_id,
            event_type: r.event_type,
            step_id: r.step_id,
            user_id: r.user_id,
            data: r.data.map(|j| j.0),
            created_at: r.created_at,
        })
        .collect())
}

#[async_trait]
impl WorkflowWrite for BackendTx {
    async fn insert_definition(&mut self, d: &Definition) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "INSERT INTO workflow_definitions ({DEF_COLUMNS}) VALUES ("
        ));
        let mut v = qb.separated(", ");
        v.push_bind(d.id)
            .push_bind(d.key.clone())
            .push_bind(d.name.clone())
            .push_bind(d.description.clone())
            .push_bind(d.category.clone())
            .push_bind(Json(d.tags.clone()))
            .push_bind(d.data_schema.clone().map(Json))
            .push_bind(i32_of(d.latest_version))
            .push_bind(d.is_active)
            .push_bind(d.created_by)
            .push_bind(micros(d.created_at))
            .push_bind(micros(d.updated_at))
            .push_bind(d.deleted_at.map(micros));
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn insert_version(&mut self, ver: &Version) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO workflow_versions (definition_id, version, graph, published_by, \
             published_at) VALUES (",
        );
        let mut v = qb.separated(", ");
        v.push_bind(ver.definition_id)
            .push_bind(i32_of(ver.version))
            .push_bind(Json(ver.graph.clone()))
            .push_bind(ver.published_by)
            .push_bind(micros(ver.published_at));
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn update_definition(&mut self, d: &Definition) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE workflow_definitions SET name = ");
        qb.push_bind(d.name.clone())
            .push(", description = ")
            .push_bind(d.description.clone())
            .push(", category = ")
            .push_bind(d.category.clone())
            .push(", tags = ")
            .push_bind(Json(d.tags.clone()))
            .push(", data_schema = ")
            .push_bind(d.data_schema.clone().map(Json))
            .push(", latest_version = ")
            .push_bind(i32_of(d.latest_version))
            .push(", is_active = ")
            .push_bind(d.is_active)
            .push(", updated_at = ")
            .push_bind(micros(d.updated_at))
            .push(" WHERE id = ")
            .push_bind(d.id);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn insert_workflow(&mut self, w: &Instance) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("");
        push_workflow_insert(&mut qb, w);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn lock_workflow(&mut self, id: Uuid) -> Result<Option<Instance>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {WF_COLUMNS} FROM workflow_instances WHERE deleted_at IS NULL AND id = "
        ));
        qb.push_bind(id).push(FOR_UPDATE);
        let row: Option<WfRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(Instance::try_from).transpose()
    }

    async fn lock_workflows(&mut self, ids: &[Uuid]) -> Result<Vec<Instance>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {WF_COLUMNS} FROM workflow_instances WHERE deleted_at IS NULL AND id IN ("
        ));
        let mut v = qb.separated(", ");
        for id in ids {
            v.push_bind(*id);
        }
        qb.push(") ORDER BY id").push(FOR_UPDATE);
        let rows: Vec<WfRow> = qb.build_query_as().fetch_all(&mut *self.tx).await?;
        rows.into_iter().map(Instance::try_from).collect()
    }

    async fn approvals_in_tx_for(&mut self, workflow_ids: &[Uuid]) -> Result<Vec<Approval>> {
        if workflow_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<ApprovalRow> = approvals_for_query(workflow_ids)
            .build_query_as()
            .fetch_all(&mut *self.tx)
            .await?;
        approvals_of(rows)
    }

    async fn record_transitions(&mut self, transitions: &[TransitionRef<'_>]) -> Result<()> {
        for chunk in statements(transitions, |t| {
            history_bytes(t.workflow, t.timeline, t.events, t.audit)
        }) {
            let mut qb = QueryBuilder::<Db>::new(if WRITE_CTE { "WITH u0 AS (" } else { "" });
            for (i, t) in chunk.iter().enumerate() {
                if i > 0 {
                    if WRITE_CTE {
                        qb.push(format!("), u{i} AS ("));
                    } else {
                        qb.push("; ");
                    }
                }
                push_workflow_update(&mut qb, t.workflow);
            }
            let decisions: Vec<&Approval> = chunk.iter().filter_map(|t| t.decision).collect();
            if !decisions.is_empty() {
                qb.push(part("), d AS ("));
                push_approvals_insert(&mut qb, decisions);
            }
            push_histories(
                &mut qb,
                chunk
                    .iter()
                    .map(|t| (t.step_runs, t.job, t.timeline, t.events, t.audit)),
            );
            qb.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn record_creations(&mut self, creations: &[CreationRef<'_>]) -> Result<()> {
        for chunk in statements(creations, |c| {
            history_bytes(c.workflow, c.timeline, c.events, c.audit) + 512
        }) {
            let mut qb = QueryBuilder::<Db>::new(if WRITE_CTE { "WITH w AS (" } else { "" });
            push_workflows_insert(&mut qb, chunk.iter().map(|c| c.workflow));
            let lines: Vec<&BettingLine> = chunk
                .iter()
                .filter_map(|c| match c.row {
                    Some(DomainRowRef::Line(l)) => Some(l),
                    _ => None,
                })
                .collect();
            if !lines.is_empty() {
                qb.push(part("), bl AS ("));
                push_betting_lines_insert(&mut qb, lines);
            }
            let contents: Vec<&BettingContent> = chunk
                .iter()
                .filter_map(|c| match c.row {
                    Some(DomainRowRef::Content(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if !contents.is_empty() {
                qb.push(part("), bc AS ("));
                push_betting_contents_insert(&mut qb, contents);
            }
            push_histories(
                &mut qb,
                chunk
                    .iter()
                    .map(|c| (c.step_runs, c.job, c.timeline, c.events, c.audit)),
            );
            qb.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn update_workflow(&mut self, w: &Instance) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("");
        push_workflow_update(&mut qb, w);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn delete_workflow(&mut self, id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE workflow_instances SET deleted_at = ");
        qb.push_bind(micros(at))
            .push(" WHERE deleted_at IS NULL AND id = ")
            .push_bind(id);
        Ok(qb.build().execute(&mut *self.tx).await?.rows_affected() == 1)
    }

    async fn insert_approval(&mut self, a: &Approval) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("");
        push_approval_insert(&mut qb, a);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn set_content_status(
        &mut self,
        workflow_id: Uuid,
        status: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE betting_content SET status = ");
        qb.push_bind(status.to_owned())
            .push(", updated_at = ")
            .push_bind(micros(at))
            .push(" WHERE workflow_instance_id = ")
            .push_bind(workflow_id);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn approvals_in_tx(&mut self, workflow_id: Uuid) -> Result<Vec<Approval>> {
        let mut qb = approvals_query(workflow_id);
        let rows: Vec<ApprovalRow> = qb.build_query_as().fetch_all(&mut *self.tx).await?;
        approvals_of(rows)
    }

    async fn insert_timeline(&mut self, events: &[TimelineEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut qb = QueryBuilder::<Db>::new("");
        push_timeline_insert(&mut qb, events);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }
}

/// `INSERT INTO workflow_instances ... VALUES (...)` for `w`, appended to `qb`.
fn push_workflow_insert(qb: &mut QueryBuilder<Db>, w: &Instance) {
    push_workflows_insert(qb, [w]);
}

/// `INSERT INTO workflow_instances ... VALUES (...), ...`, appended to `qb`.
fn push_workflows_insert<'w>(
    qb: &mut QueryBuilder<Db>,
    rows: impl IntoIterator<Item = &'w Instance>,
) {
    qb.push(format!("INSERT INTO workflow_instances ({WF_COLUMNS}) "));
    qb.push_values(rows, |mut v, w| {
        v.push_bind(w.id)
            .push_bind(w.definition_id)
            .push_bind(w.workflow_type.clone())
            .push_bind(i32_of(w.version))
            .push_bind(w.status.as_str())
            .push_bind(w.priority.as_str())
            .push_bind(w.current_step.clone())
            .push_bind(i32_of(w.step_visit))
            .push_bind(w.step_started_at.map(micros))
            .push_bind(Json(w.escalated_roles.clone()))
            .push_bind(Json(w.assignees.clone()))
            .push_bind(i32_of(w.completed_steps))
            .push_bind(Json(w.data.clone()))
            .push_bind(Json(w.tags.clone()))
            .push_bind(w.created_by)
            .push_bind(micros(w.created_at))
            .push_bind(micros(w.updated_at))
            .push_bind(w.started_at.map(micros))
            .push_bind(w.completed_at.map(micros))
            .push_bind(w.due_at.map(micros));
    });
}

/// `INSERT INTO betting_lines ... VALUES (...), ...`, appended to `qb`.
fn push_betting_lines_insert<'r>(
    qb: &mut QueryBuilder<Db>,
    rows: impl IntoIterator<Item = &'r BettingLine>,
) {
    qb.push(
        "INSERT INTO betting_lines (id, workflow_instance_id, line_id, event_name, sport, \
         league, market_type, old_odds, new_odds, odds_change_percentage, total_exposure, \
         risk_level, metadata, created_at) ",
    );
    qb.push_values(rows, |mut v, l| {
        v.push_bind(l.id)
            .push_bind(l.workflow_id)
            .push_bind(l.line_id.clone())
            .push_bind(l.event_name.clone())
            .push_bind(l.sport.clone())
            .push_bind(l.league.clone())
            .push_bind(l.market_type.clone())
            .push_bind(l.old_odds.to_string())
            .push_bind(l.new_odds.to_string())
            .push_bind(l.odds_change_percentage.to_string())
            .push_bind(l.total_exposure)
            .push_bind(l.risk_level.as_str())
            .push_bind(Json(l.metadata.clone()))
            .push_bind(micros(l.created_at));
    });
}

/// `INSERT INTO betting_content ... VALUES (...), ...`, appended to `qb`.
fn push_betting_contents_insert<'r>(
    qb: &mut QueryBuilder<Db>,
    rows: impl IntoIterator<Item = &'r BettingContent>,
) {
    qb.push(
        "INSERT INTO betting_content (id, workflow_instance_id, content_type, content_id, \
         title, jurisdiction, financial_impact, metadata, status, created_at, updated_at) ",
    );
    qb.push_values(rows, |mut v, c| {
        v.push_bind(c.id)
            .push_bind(c.workflow_id)
            .push_bind(c.content_type.clone())
            .push_bind(c.content_id.clone())
            .push_bind(c.title.clone())
            .push_bind(c.jurisdiction.clone())
            .push_bind(c.financial_impact)
            .push_bind(Json(c.metadata.clone()))
            .push_bind(c.status.clone())
            .push_bind(micros(c.created_at))
            .push_bind(micros(c.updated_at));
    });
}

/// Step runs as upserts on (workflow, visit): a run entered is inserted, a run ended has
/// its status and end set (or is inserted whole, for a step entered before step runs were
/// recorded).
fn push_step_runs_upsert<'r>(
    qb: &mut QueryBuilder<Db>,
    runs: impl IntoIterator<Item = &'r StepRun>,
) {
    qb.push(
        "INSERT INTO workflow_step_runs (workflow_instance_id, visit, step_id, kind, status, \
         started_at, ended_at) ",
    );
    qb.push_values(runs, |mut v, r| {
        v.push_bind(r.workflow_id)
            .push_bind(i32_of(r.visit))
            .push_bind(r.step_id.clone())
            .push_bind(r.kind.as_str())
            .push_bind(r.status.as_str())
            .push_bind(micros(r.started_at))
            .push_bind(r.ended_at.map(micros));
    });
    qb.push(
        " ON CONFLICT (workflow_instance_id, visit) DO UPDATE SET status = excluded.status, \
         ended_at = excluded.ended_at",
    );
}

#[derive(FromRow)]
struct StepRunRow {
    workflow_instance_id: Uuid,
    visit: i32,
    step_id: String,
    kind: String,
    status: String,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
}

/// `INSERT INTO workflow_approvals ... VALUES (...)` for a decision, appended to `qb`.
fn push_approval_insert(qb: &mut QueryBuilder<Db>, a: &Approval) {
    push_approvals_insert(qb, [a]);
}

/// `INSERT INTO workflow_approvals ... VALUES (...), ...` for `decisions`, appended to `qb`.
fn push_approvals_insert<'a>(
    qb: &mut QueryBuilder<Db>,
    decisions: impl IntoIterator<Item = &'a Approval>,
) {
    qb.push(
        "INSERT INTO workflow_approvals (id, workflow_instance_id, step_id, step_visit, \
         approver_id, decision, comments, decided_at) ",
    );
    qb.push_values(decisions, |mut v, a| {
        v.push_bind(a.id)
            .push_bind(a.workflow_id)
            .push_bind(a.step_id.clone())
            .push_bind(i32_of(a.step_visit))
            .push_bind(a.approver_id)
            .push_bind(decision_str(a.decision))
            .push_bind(a.comments.clone())
            .push_bind(micros(a.decided_at));
    });
}

/// About how many bytes of parameters a transition or creation adds to a shared statement:
/// the workflow's data goes in its row and again in its events' payloads; the rest (state,
/// decision, job, timeline, audit) is a kilobyte or two.
fn history_bytes(
    w: &Instance,
    timeline: &[TimelineEvent],
    events: &[NewEvent],
    audit: &AuditEntry,
) -> usize {
    let json = |v: &Option<Value>| v.as_ref().map_or(0, json_len);
    1536 + json_len(&w.data)
        + timeline.iter().map(|e| 256 + json(&e.data)).sum::<usize>()
        + events
            .iter()
            .map(|e| 256 + json_len(&e.payload))
            .sum::<usize>()
        + json(&audit.old_values)
        + json(&audit.new_values)
}

/// The jobs, timeline rows, outbox events and audit rows of several transitions, appended to
/// the write begun in `qb` (see [`part`]): one statement of data-modifying CTEs on
/// PostgreSQL, one batch of statements for SQLite's writer.
#[allow(clippy::type_complexity)]
fn push_histories<'a>(
    qb: &mut QueryBuilder<Db>,
    parts: impl Iterator<
        Item = (
            &'a [StepRun],
            Option<&'a NewJob>,
            &'a [TimelineEvent],
            &'a [NewEvent],
            &'a AuditEntry,
        ),
    >,
) {
    let mut runs = Vec::new();
    let mut jobs = Vec::new();
    let mut timeline = Vec::new();
    let mut events = Vec::new();
    let mut audits = Vec::new();
    for (run, job, tl, ev, audit) in parts {
        runs.extend(run);
        jobs.extend(job);
        timeline.extend_from_slice(tl);
        events.extend_from_slice(ev);
        audits.push(audit);
    }
    if !runs.is_empty() {
        // An upsert of several rows locks them in VALUES order: the lock order's, although
        // the rows' workflows are locked already.
        runs.sort_unstable_by_key(|r| (r.workflow_id, r.visit));
        qb.push(part("), sr AS ("));
        push_step_runs_upsert(qb, runs);
    }
    if !jobs.is_empty() {
        qb.push(part("), j AS ("));
        push_jobs_insert(qb, jobs);
    }
    if !timeline.is_empty() {
        qb.push(part("), tl AS ("));
        push_timeline_insert(qb, &timeline);
    }
    if !events.is_empty() {
        qb.push(part("), ev AS ("));
        push_events_insert(qb, &events);
    }
    qb.push(part(") "));
    push_audits_insert(qb, audits);
}

/// `UPDATE workflow_instances SET ... WHERE id = ...` for `w`, appended to `qb`.
fn push_workflow_update(qb: &mut QueryBuilder<Db>, w: &Instance) {
    qb.push("UPDATE workflow_instances SET status = ")
        .push_bind(w.status.as_str())
        .push(", priority = ")
        .push_bind(w.priority.as_str())
        .push(", current_step = ")
        .push_bind(w.current_step.clone())
        .push(", step_visit = ")
        .push_bind(i32_of(w.step_visit))
        .push(", step_started_at = ")
        .push_bind(w.step_started_at.map(micros))
        .push(", escalated_roles = ")
        .push_bind(Json(w.escalated_roles.clone()))
        .push(", current_assignees = ")
        .push_bind(Json(w.assignees.clone()))
        .push(", completed_steps = ")
        .push_bind(i32_of(w.completed_steps))
        .push(", data = ")
        .push_bind(Json(w.data.clone()))
        .push(", tags = ")
        .push_bind(Json(w.tags.clone()))
        .push(", updated_at = ")
        .push_bind(micros(w.updated_at))
        .push(", started_at = ")
        .push_bind(w.started_at.map(micros))
        .push(", completed_at = ")
        .push_bind(w.completed_at.map(micros))
        .push(", due_at = ")
        .push_bind(w.due_at.map(micros))
        .push(" WHERE id = ")
        .push_bind(w.id);
}

/// `INSERT INTO workflow_timeline ... VALUES ...`, appended to `qb`.
fn push_timeline_insert(qb: &mut QueryBuilder<Db>, events: &[TimelineEvent]) {
    qb.push(
        "INSERT INTO workflow_timeline (id, workflow_instance_id, event_type, step_id, \
         user_id, data, created_at) ",
    );
    qb.push_values(events, |mut v, e| {
        v.push_bind(e.id)
            .push_bind(e.workflow_id)
            .push_bind(e.event_type.clone())
            .push_bind(e.step_id.clone())
            .push_bind(e.user_id)
            .push_bind(e.data.clone().map(Json))
            .push_bind(micros(e.created_at));
    });
}
