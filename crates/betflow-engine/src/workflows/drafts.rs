//! Drafts (seed 003's flow): a definition's next version built a step and an edge at a
//! time, then published whole. One open draft per definition; each edit locks the
//! definition, so concurrent edits apply one after the other. Every change is audited.

use std::sync::Arc;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::time::now;
use betflow_domain::workflow::definitions::{Draft, DraftError};
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_domain::workflow::record::{Definition, Version};
use betflow_domain::{DomainError, Violation};
use betflow_store::{StoreError, Transaction};
use serde_json::{Value, json};

use super::Workflows;
use crate::EngineError;
use crate::identity::Principal;

/// What a new draft starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DraftStart {
    /// A copy of the latest version's graph.
    #[default]
    Latest,
    /// No steps.
    Empty,
}

impl From<DraftError> for EngineError {
    fn from(e: DraftError) -> Self {
        match e {
            DraftError::Missing(what) => EngineError::NotFound(format!("draft {what}")),
            DraftError::Exists(what) => {
                EngineError::Conflict(format!("the draft already has {what}"))
            }
            DraftError::Invalid(e) => EngineError::Invalid(e),
        }
    }
}

fn no_draft(key: &str) -> EngineError {
    EngineError::NotFound(format!("open draft of workflow definition {key}"))
}

fn audit(d: &Definition, what: Value, actor: &Actor) -> Result<AuditEntry, EngineError> {
    Ok(AuditEntry::new(
        "workflow_definitions",
        d.id,
        AuditAction::Update,
        None,
        Some(what),
        actor.clone(),
    )?)
}

impl Workflows {
    /// Locks a live definition for the rest of `tx`.
    async fn lock_live(
        &self,
        tx: &mut Box<dyn Transaction>,
        key: &str,
    ) -> Result<Definition, EngineError> {
        tx.lock_definition(key)
            .await?
            .filter(|d| d.deleted_at.is_none())
            .ok_or_else(|| EngineError::NotFound(format!("workflow definition {key}")))
    }

    /// Opens the definition's draft; 409 when one is open already.
    pub async fn open_draft(
        &self,
        principal: &Principal,
        key: &str,
        start: DraftStart,
        actor: &Actor,
    ) -> Result<(Definition, Draft), EngineError> {
        let (_, latest) = self.definition(key).await?;
        let mut tx = self.store.begin().await?;
        let d = self.lock_live(&mut tx, key).await?;
        let (base_version, graph) = match start {
            DraftStart::Latest if latest.version == d.latest_version => {
                (Some(latest.version), latest.graph.clone())
            }
            DraftStart::Latest => {
                let v = self.version(d.id, d.latest_version).await?;
                (Some(v.version), v.graph.clone())
            }
            DraftStart::Empty => (
                None,
                WorkflowGraph {
                    steps: vec![],
                    edges: vec![],
                },
            ),
        };
        let t = now();
        let draft = Draft {
            definition_id: d.id,
            base_version,
            graph,
            created_by: Some(principal.user_id),
            created_at: t,
            updated_at: t,
        };
        tx.insert_draft(&draft).await.map_err(|e| match e {
            StoreError::Conflict { .. } => EngineError::Conflict(format!(
                "workflow definition {key} already has an open draft (publish or discard it)"
            )),
            other => other.into(),
        })?;
        let entry = audit(
            &d,
            json!({"draft": "opened", "baseVersion": base_version}),
            actor,
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        Ok((d, draft))
    }

    /// The definition and its open draft.
    pub async fn draft(&self, key: &str) -> Result<(Definition, Draft), EngineError> {
        let (d, _) = self.definition(key).await?;
        let draft = self
            .store
            .get_draft(d.id)
            .await?
            .ok_or_else(|| no_draft(key))?;
        Ok((d, draft))
    }

    /// Applies one edit to the open draft (`what` names it in the audit) and saves it.
    pub async fn edit_draft<T: Send>(
        &self,
        key: &str,
        what: Value,
        actor: &Actor,
        edit: impl FnOnce(&mut Draft) -> Result<T, EngineError> + Send,
    ) -> Result<(Draft, T), EngineError> {
        let mut tx = self.store.begin().await?;
        let d = self.lock_live(&mut tx, key).await?;
        let mut draft = tx.draft_in_tx(d.id).await?.ok_or_else(|| no_draft(key))?;
        let out = edit(&mut draft)?;
        draft.updated_at = now();
        tx.update_draft(&draft).await?;
        let entry = audit(&d, json!({"draft": what}), actor)?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        Ok((draft, out))
    }

    /// Drops the open draft.
    pub async fn discard_draft(&self, key: &str, actor: &Actor) -> Result<(), EngineError> {
        let mut tx = self.store.begin().await?;
        let d = self.lock_live(&mut tx, key).await?;
        if !tx.delete_draft(d.id).await? {
            return Err(no_draft(key));
        }
        let entry = audit(&d, json!({"draft": "discarded"}), actor)?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The problems publishing the draft would report now (empty: it would publish).
    pub fn draft_problems(&self, draft: &Draft) -> Vec<Violation> {
        self.check_graph(&draft.graph.clone().normalized())
            .err()
            .unwrap_or_default()
    }

    /// Validates the whole draft, reporting every problem at once, and publishes it as the
    /// definition's next version (immutable; running workflows keep theirs). The draft is
    /// then closed.
    pub async fn publish_draft(
        &self,
        principal: &Principal,
        key: &str,
        actor: &Actor,
    ) -> Result<Arc<Version>, EngineError> {
        let mut tx = self.store.begin().await?;
        let mut d = self.lock_live(&mut tx, key).await?;
        let draft = tx.draft_in_tx(d.id).await?.ok_or_else(|| no_draft(key))?;
        let graph = draft.graph.normalized();
        if let Err(problems) = self.check_graph(&graph) {
            return Err(DomainError::Validation(problems).into());
        }
        let t = now();
        d.latest_version += 1;
        d.updated_at = t;
        let version = Version {
            definition_id: d.id,
            version: d.latest_version,
            graph,
            published_by: Some(principal.user_id),
            published_at: t,
        };
        tx.insert_version(&version).await?;
        tx.update_definition(&d).await?;
        tx.delete_draft(d.id).await?;
        let entry = AuditEntry::new(
            "workflow_definitions",
            d.id,
            AuditAction::Update,
            Some(json!({"version": version.version - 1})),
            Some(json!({"version": version.version, "draft": "published",
                        "baseVersion": draft.base_version})),
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        self.hub.notify_written();
        Ok(Arc::new(version))
    }
}
