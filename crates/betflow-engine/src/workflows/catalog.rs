//! Definitions as a catalogue (seed 004's `workflowRepository`): the filtered list, editing
//! with `createVersion`, deactivation and soft delete.

use std::sync::Arc;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::time::now;
use betflow_domain::workflow::definitions::DefinitionFilter;
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_domain::workflow::record::{Definition, Version, normalize_tags};
use betflow_domain::{DomainError, Violation};
use betflow_store::StoreError;
use serde_json::json;

use super::Workflows;
use super::definitions::{NewDefinition, check_fields};
use crate::EngineError;
use crate::identity::Principal;

/// A change to a definition (`PATCH`): absent members stay as they are; `Some(None)` clears
/// a nullable one.
#[derive(Debug, Clone, Default)]
pub struct DefinitionPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub category: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    /// `false` deactivates: it starts nothing new; running workflows continue.
    pub is_active: Option<bool>,
    /// With `graph`, publish it as a new version in the same change.
    pub create_version: bool,
    pub graph: Option<WorkflowGraph>,
}

/// What a definition looked like, for the audit's before and after.
fn audit_view(d: &Definition) -> serde_json::Value {
    json!({
        "name": d.name, "description": d.description, "category": d.category,
        "tags": d.tags, "isActive": d.is_active, "version": d.latest_version,
    })
}

impl Workflows {
    /// One window of the live definitions matching `filter`, each with its latest version,
    /// and how many match in all.
    pub async fn find_definitions(
        &self,
        filter: &DefinitionFilter,
    ) -> Result<(Vec<(Definition, Arc<Version>)>, u64), EngineError> {
        let (defs, total) = self.store.find_definitions(filter).await?;
        let mut out = Vec::with_capacity(defs.len());
        for d in defs {
            let v = self.version(d.id, d.latest_version).await?;
            out.push((d, v));
        }
        Ok((out, total))
    }

    /// A definition that may start a run: it exists, is not deleted and is active. Every
    /// path that starts runs (manual, triggers, `workflow.start`) asks this.
    pub async fn startable_definition(
        &self,
        key: &str,
    ) -> Result<(Definition, Arc<Version>), EngineError> {
        let (d, v) = self.definition(key).await?;
        if !d.is_active {
            return Err(EngineError::InvalidTransition(format!(
                "workflow definition {key} is inactive: it starts no new runs"
            )));
        }
        Ok((d, v))
    }

    /// Edits a definition's descriptive fields and `isActive`; with `createVersion` and a
    /// graph, also publishes that graph as its next version. A published version never
    /// changes, so a graph without `createVersion` is refused. Audited.
    pub async fn update_definition(
        &self,
        principal: &Principal,
        key: &str,
        patch: DefinitionPatch,
        actor: &Actor,
    ) -> Result<(Definition, Arc<Version>), EngineError> {
        if patch.graph.is_some() && !patch.create_version {
            return Err(DomainError::invalid(
                "createVersion",
                "a published version is immutable: send createVersion: true to publish the \
                 steps as a new version",
            )
            .into());
        }
        let mut tx = self.store.begin().await?;
        let before = tx
            .lock_definition(key)
            .await?
            .filter(|d| d.deleted_at.is_none())
            .ok_or_else(|| EngineError::NotFound(format!("workflow definition {key}")))?;
        let mut d = before.clone();
        if let Some(name) = patch.name {
            d.name = name;
        }
        if let Some(description) = patch.description {
            d.description = description;
        }
        if let Some(category) = patch.category {
            d.category = category;
        }
        if let Some(tags) = patch.tags {
            d.tags = tags;
        }
        if let Some(active) = patch.is_active {
            d.is_active = active;
        }
        let mut v: Vec<Violation> = Vec::new();
        check_fields(
            &NewDefinition {
                key: d.key.clone(),
                name: d.name.clone(),
                description: d.description.clone(),
                category: d.category.clone(),
                tags: d.tags.clone(),
                data_schema: None,
                graph: WorkflowGraph {
                    steps: vec![],
                    edges: vec![],
                },
            },
            &mut v,
        );
        let graph = patch.graph.map(WorkflowGraph::normalized);
        if let Some(g) = &graph
            && let Err(problems) = self.check_graph(g)
        {
            v.extend(problems);
        }
        if !v.is_empty() {
            return Err(DomainError::Validation(v).into());
        }
        d.name = d.name.trim().to_owned();
        d.tags = normalize_tags(&d.tags).unwrap_or_default();
        let t = now();
        d.updated_at = t;
        let mut fresh = None;
        if let Some(graph) = graph {
            d.latest_version += 1;
            let version = Version {
                definition_id: d.id,
                version: d.latest_version,
                graph,
                published_by: Some(principal.user_id),
                published_at: t,
            };
            tx.insert_version(&version).await.map_err(|e| match e {
                StoreError::Conflict { .. } => EngineError::Conflict(
                    "another version was published at the same time; retry".into(),
                ),
                other => other.into(),
            })?;
            fresh = Some(Arc::new(version));
        }
        tx.update_definition(&d).await?;
        let entry = AuditEntry::new(
            "workflow_definitions",
            d.id,
            AuditAction::Update,
            Some(audit_view(&before)),
            Some(audit_view(&d)),
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        self.hub.notify_written();
        let v = match fresh {
            Some(v) => v,
            None => self.version(d.id, d.latest_version).await?,
        };
        Ok((d, v))
    }

    /// Soft-deletes a definition: hidden from reads and lists, it starts nothing (it is
    /// deactivated too), its open draft goes; its versions, runs and history stay, and so
    /// does its key. Audited.
    pub async fn delete_definition(&self, key: &str, actor: &Actor) -> Result<(), EngineError> {
        let mut tx = self.store.begin().await?;
        let d = tx
            .lock_definition(key)
            .await?
            .filter(|d| d.deleted_at.is_none())
            .ok_or_else(|| EngineError::NotFound(format!("workflow definition {key}")))?;
        let t = now();
        if !tx.delete_definition(d.id, t).await? {
            return Err(EngineError::NotFound(format!("workflow definition {key}")));
        }
        tx.delete_draft(d.id).await?;
        let entry = AuditEntry::new(
            "workflow_definitions",
            d.id,
            AuditAction::Delete,
            Some(audit_view(&d)),
            Some(json!({"deletedAt": t})),
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        self.hub.notify_written();
        Ok(())
    }
}
