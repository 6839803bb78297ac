//! Workflow definitions and their versions: create, publish, duplicate, read, and the
//! seeded ones every database starts with.

use std::sync::Arc;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::time::now;
use betflow_domain::workflow::graph::{GraphProblem, WorkflowGraph};
use betflow_domain::workflow::record::{Definition, Version, normalize_tags};
use betflow_domain::workflow::seeded;
use betflow_domain::{DomainError, Violation, text};
use betflow_store::StoreError;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Workflows;
use crate::EngineError;
use crate::identity::Principal;

/// What publishing checks of a whole graph, every problem at once: by default the domain's
/// rules ([`WorkflowGraph::validate`]); the engine installs its action registry's check
/// ([`crate::automations::validate_graph`]).
pub type GraphCheck = Arc<dyn Fn(&WorkflowGraph) -> Result<(), Vec<GraphProblem>> + Send + Sync>;

/// A definition to create (or import from an export).
#[derive(Debug, Clone)]
pub struct NewDefinition {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub data_schema: Option<Value>,
    pub graph: WorkflowGraph,
}

/// Longest definition category (the column's width).
pub const MAX_CATEGORY_LEN: usize = 100;

/// The default name of a copy: `<name> (copy)`, the name shortened as needed so the result
/// stays within the 255 characters a name may have.
fn copy_name(name: &str) -> String {
    const SUFFIX: &str = " (copy)";
    let keep: String = name.chars().take(255 - SUFFIX.len()).collect();
    format!("{keep}{SUFFIX}")
}

/// The key, descriptive fields and data schema of a definition (not its graph).
pub(super) fn check_fields(new: &NewDefinition, v: &mut Vec<Violation>) {
    let key_ok = (3..=100).contains(&new.key.len())
        && new
            .key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !key_ok {
        v.push(Violation::new(
            "key",
            "must be 3 to 100 characters of a-z, 0-9 and _",
        ));
    }
    if new.name.trim().is_empty() || new.name.chars().count() > 255 {
        v.push(Violation::new("name", "must be 1 to 255 characters"));
    }
    text::check_name_into(v, "name", Some(&new.name));
    text::check_name_into(v, "category", new.category.as_deref());
    // The column is VARCHAR(100) on PostgreSQL: a longer category failed the insert there
    // (a 500) while SQLite stored it.
    if new
        .category
        .as_deref()
        .is_some_and(|c| c.chars().count() > MAX_CATEGORY_LEN)
    {
        v.push(Violation::new(
            "category",
            format!("must be at most {MAX_CATEGORY_LEN} characters"),
        ));
    }
    text::check_free_text_into(v, "description", new.description.as_deref());
    if let Err(e) = normalize_tags(&new.tags) {
        v.push(Violation::new("tags", e));
    }
    if let Some(schema) = &new.data_schema
        && let Err(e) = jsonschema::validator_for(schema)
    {
        v.push(Violation::new(
            "dataSchema",
            format!("is not a valid JSON Schema: {e}"),
        ));
    }
}

impl Workflows {
    /// Sets what publishing checks of a graph (see [`GraphCheck`]).
    pub fn set_graph_check(&mut self, check: GraphCheck) {
        self.graph_check = check;
    }

    /// Creates the seeded definitions that are missing. Safe to run on every start and from
    /// several nodes at once.
    pub async fn ensure_seeded(&self) -> Result<(), EngineError> {
        for seed in seeded::all() {
            if self.store.get_definition(seed.key).await?.is_some() {
                continue;
            }
            let t = now();
            let definition = Definition {
                id: Uuid::now_v7(),
                key: seed.key.to_owned(),
                name: seed.name.to_owned(),
                description: Some(seed.description.to_owned()),
                category: Some(seed.category.to_owned()),
                tags: seed.tags.iter().map(|t| (*t).to_owned()).collect(),
                data_schema: Some(seed.data_schema.clone()),
                latest_version: 1,
                is_active: true,
                created_by: None,
                created_at: t,
                updated_at: t,
                deleted_at: None,
            };
            let version = Version {
                definition_id: definition.id,
                version: 1,
                graph: seed.graph.clone(),
                published_by: None,
                published_at: t,
            };
            let mut tx = self.store.begin().await?;
            match tx.insert_definition(&definition).await {
                Ok(()) => {}
                // Another node seeded it first.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            tx.insert_version(&version).await?;
            tx.commit().await?;
            self.hub.notify_written();
        }
        Ok(())
    }

    fn check_definition(&self, new: &NewDefinition) -> Result<WorkflowGraph, EngineError> {
        let mut v = Vec::new();
        check_fields(new, &mut v);
        let graph = new.graph.clone().normalized();
        if let Err(problems) = self.check_graph(&graph) {
            v.extend(problems);
        }
        if v.is_empty() {
            Ok(graph)
        } else {
            Err(DomainError::Validation(v).into())
        }
    }

    /// Everything publishing requires of a graph, every problem at once, each named
    /// `steps` or `steps.<id>`.
    pub(super) fn check_graph(&self, graph: &WorkflowGraph) -> Result<(), Vec<Violation>> {
        (self.graph_check)(graph).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| {
                    let field = match p.step {
                        Some(step) => format!("steps.{step}"),
                        None => "steps".to_owned(),
                    };
                    Violation::new(field, p.message)
                })
                .collect()
        })
    }

    /// Creates a definition with its first version, after validating everything publishing
    /// requires.
    pub async fn create_definition(
        &self,
        principal: &Principal,
        new: NewDefinition,
        actor: &Actor,
    ) -> Result<(Definition, Version), EngineError> {
        let graph = self.check_definition(&new)?;
        let t = now();
        let definition = Definition {
            id: Uuid::now_v7(),
            key: new.key,
            name: new.name.trim().to_owned(),
            description: new.description,
            category: new.category,
            tags: normalize_tags(&new.tags).unwrap_or_default(),
            data_schema: new.data_schema,
            latest_version: 1,
            is_active: true,
            created_by: Some(principal.user_id),
            created_at: t,
            updated_at: t,
            deleted_at: None,
        };
        let version = Version {
            definition_id: definition.id,
            version: 1,
            graph,
            published_by: Some(principal.user_id),
            published_at: t,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_definition(&definition)
            .await
            .map_err(|e| match e {
                // A deleted definition keeps its key: its runs and history name it.
                StoreError::Conflict { .. } => EngineError::Conflict(format!(
                    "a workflow definition with key {} exists (keys of deleted definitions \
                     stay taken)",
                    definition.key
                )),
                other => other.into(),
            })?;
        tx.insert_version(&version).await?;
        let entry = AuditEntry::new(
            "workflow_definitions",
            definition.id,
            AuditAction::Insert,
            None,
            Some(json!({"key": definition.key, "version": 1})),
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        self.hub.notify_written();
        Ok((definition, version))
    }

    /// Publishes a new version of `key`'s graph. Running workflows keep their version.
    pub async fn publish_version(
        &self,
        principal: &Principal,
        key: &str,
        graph: WorkflowGraph,
        actor: &Actor,
    ) -> Result<Version, EngineError> {
        let (mut definition, _) = self.definition(key).await?;
        let graph = self.check_definition(&NewDefinition {
            key: definition.key.clone(),
            name: definition.name.clone(),
            description: None,
            category: None,
            tags: vec![],
            data_schema: None,
            graph,
        })?;
        let t = now();
        definition.latest_version += 1;
        definition.updated_at = t;
        let version = Version {
            definition_id: definition.id,
            version: definition.latest_version,
            graph,
            published_by: Some(principal.user_id),
            published_at: t,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_version(&version).await.map_err(|e| match e {
            StoreError::Conflict { .. } => EngineError::Conflict(
                "another version was published at the same time; retry".into(),
            ),
            other => other.into(),
        })?;
        tx.update_definition(&definition).await?;
        let entry = AuditEntry::new(
            "workflow_definitions",
            definition.id,
            AuditAction::Update,
            Some(json!({"version": version.version - 1})),
            Some(json!({"version": version.version})),
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        self.hub.notify_written();
        Ok(version)
    }

    pub async fn definitions(&self) -> Result<Vec<(Definition, Arc<Version>)>, EngineError> {
        let mut out = Vec::new();
        for d in self.store.list_definitions().await? {
            let v = self.version(d.id, d.latest_version).await?;
            out.push((d, v));
        }
        Ok(out)
    }

    /// A definition and its latest version; a soft-deleted one is not found.
    pub async fn definition(&self, key: &str) -> Result<(Definition, Arc<Version>), EngineError> {
        let d = self
            .store
            .get_definition(key)
            .await?
            .filter(|d| d.deleted_at.is_none())
            .ok_or_else(|| EngineError::NotFound(format!("workflow definition {key}")))?;
        let v = self.version(d.id, d.latest_version).await?;
        Ok((d, v))
    }

    pub async fn versions(&self, key: &str) -> Result<Vec<Version>, EngineError> {
        let (d, _) = self.definition(key).await?;
        Ok(self.store.list_versions(d.id).await?)
    }

    /// Copies a definition's latest version and schema under a new key.
    pub async fn duplicate(
        &self,
        principal: &Principal,
        key: &str,
        new_key: String,
        new_name: Option<String>,
        actor: &Actor,
    ) -> Result<(Definition, Version), EngineError> {
        let (d, v) = self.definition(key).await?;
        self.create_definition(
            principal,
            NewDefinition {
                key: new_key,
                name: new_name.unwrap_or_else(|| copy_name(&d.name)),
                description: d.description,
                category: d.category,
                tags: d.tags,
                data_schema: d.data_schema,
                graph: v.graph.clone(),
            },
            actor,
        )
        .await
    }
}
