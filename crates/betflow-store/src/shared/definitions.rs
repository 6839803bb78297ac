//! The definition catalogue (filtered list, soft delete) and drafts, compiled once per
//! backend.

use async_trait::async_trait;
use betflow_domain::workflow::definitions::{DefinitionFilter, DefinitionStatus, Draft};
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_domain::workflow::record::Definition;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use super::audit::{corrupt, micros, to_total};
use super::workflows::{DEF_COLUMNS, DefRow};
use super::{BackendStore, BackendTx, Db, FOR_UPDATE, HAS_TAG};
use crate::{DefinitionRead, DefinitionWrite, Result};

const DRAFT_COLUMNS: &str =
    "definition_id, base_version, graph, created_by, created_at, updated_at";

#[derive(FromRow)]
struct DraftRow {
    definition_id: Uuid,
    base_version: Option<i32>,
    graph: Json<WorkflowGraph>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DraftRow> for Draft {
    type Error = crate::StoreError;
    fn try_from(r: DraftRow) -> Result<Self> {
        let base_version = r
            .base_version
            .map(|v| {
                u32::try_from(v)
                    .map_err(|_| corrupt("workflow_drafts", format!("negative version {v}")))
            })
            .transpose()?;
        Ok(Draft {
            definition_id: r.definition_id,
            base_version,
            graph: r.graph.0,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// A `LIKE` pattern matching `text` anywhere, its wildcards escaped (with `ESCAPE '\'`).
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn push_filters(qb: &mut QueryBuilder<Db>, f: &DefinitionFilter) {
    qb.push(" WHERE deleted_at IS NULL");
    match f.status {
        Some(DefinitionStatus::Active) => {
            qb.push(" AND is_active = ").push_bind(true);
        }
        Some(DefinitionStatus::Inactive) => {
            qb.push(" AND is_active = ").push_bind(false);
        }
        Some(DefinitionStatus::Draft) => {
            qb.push(
                " AND EXISTS (SELECT 1 FROM workflow_drafts d \
                 WHERE d.definition_id = workflow_definitions.id)",
            );
        }
        None => {}
    }
    for tag in &f.tags {
        qb.push(" AND ")
            .push(HAS_TAG.0)
            .push_bind(tag.clone())
            .push(HAS_TAG.1);
    }
    if let Some(owner) = f.owner {
        qb.push(" AND created_by = ").push_bind(owner);
    }
    if let Some(text) = f.search.as_deref().filter(|t| !t.is_empty()) {
        let pattern = contains_pattern(text);
        qb.push(" AND (LOWER(key) LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR LOWER(name) LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR LOWER(COALESCE(description, '')) LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
}

#[async_trait]
impl DefinitionRead for BackendStore {
    async fn find_definitions(&self, f: &DefinitionFilter) -> Result<(Vec<Definition>, u64)> {
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM workflow_definitions");
        push_filters(&mut count, f);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {DEF_COLUMNS} FROM workflow_definitions"));
        push_filters(&mut qb, f);
        let column = f.order.field.column();
        let dir = if f.order.descending { "DESC" } else { "ASC" };
        // NULLs (a category may be absent) last on both backends, whichever the direction.
        qb.push(format!(
            " ORDER BY ({column} IS NULL), {column} {dir}, key ASC LIMIT "
        ))
        .push_bind(i64::from(f.limit))
        .push(" OFFSET ")
        .push_bind(i64::try_from(f.offset).unwrap_or(i64::MAX));
        let rows: Vec<DefRow> = qb.build_query_as().fetch_all(&self.pool).await?;
        let items = rows
            .into_iter()
            .map(Definition::try_from)
            .collect::<Result<Vec<_>>>()?;
        Ok((items, to_total(total)))
    }

    async fn get_draft(&self, definition_id: Uuid) -> Result<Option<Draft>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {DRAFT_COLUMNS} FROM workflow_drafts WHERE definition_id = "
        ));
        qb.push_bind(definition_id);
        let row: Option<DraftRow> = qb.build_query_as().fetch_optional(&self.pool).await?;
        row.map(Draft::try_from).transpose()
    }
}

#[async_trait]
impl DefinitionWrite for BackendTx {
    async fn lock_definition(&mut self, key: &str) -> Result<Option<Definition>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {DEF_COLUMNS} FROM workflow_definitions WHERE key = "
        ));
        qb.push_bind(key.to_owned()).push(FOR_UPDATE);
        let row: Option<DefRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(Definition::try_from).transpose()
    }

    async fn delete_definition(&mut self, id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE workflow_definitions SET deleted_at = ");
        qb.push_bind(micros(at))
            .push(", is_active = ")
            .push_bind(false)
            .push(", updated_at = ")
            .push_bind(micros(at))
            .push(" WHERE deleted_at IS NULL AND id = ")
            .push_bind(id);
        let done = qb.build().execute(&mut *self.tx).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn draft_in_tx(&mut self, definition_id: Uuid) -> Result<Option<Draft>> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT {DRAFT_COLUMNS} FROM workflow_drafts WHERE definition_id = "
        ));
        qb.push_bind(definition_id);
        let row: Option<DraftRow> = qb.build_query_as().fetch_optional(&mut *self.tx).await?;
        row.map(Draft::try_from).transpose()
    }

    async fn insert_draft(&mut self, d: &Draft) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new(format!(
            "INSERT INTO workflow_drafts ({DRAFT_COLUMNS}) VALUES ("
        ));
        let mut v = qb.separated(", ");
        v.push_bind(d.definition_id)
            .push_bind(d.base_version.map(i32_of))
            .push_bind(Json(d.graph.clone()))
            .push_bind(d.created_by)
            .push_bind(micros(d.created_at))
            .push_bind(micros(d.updated_at));
        qb.push(")");
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn update_draft(&mut self, d: &Draft) -> Result<()> {
        let mut qb = QueryBuilder::<Db>::new("UPDATE workflow_drafts SET graph = ");
        qb.push_bind(Json(d.graph.clone()))
            .push(", updated_at = ")
            .push_bind(micros(d.updated_at))
            .push(" WHERE definition_id = ")
            .push_bind(d.definition_id);
        qb.build().execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn delete_draft(&mut self, definition_id: Uuid) -> Result<bool> {
        let mut qb = QueryBuilder::<Db>::new("DELETE FROM workflow_drafts WHERE definition_id = ");
        qb.push_bind(definition_id);
        let done = qb.build().execute(&mut *self.tx).await?;
        Ok(done.rows_affected() > 0)
    }
}
