//! Workflows themselves: create, start, edit, cancel, delete, and read them.

use std::sync::Arc;

use betflow_domain::audit::{Actor, AuditEntry};
use betflow_domain::identity::Role;
use betflow_domain::ids::WorkflowId;
use betflow_domain::time::now;
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_domain::workflow::record::{
    BettingContent, BettingLine, Definition, Instance, InstanceFilter, StepRun, TimelineEvent,
    normalize_tags,
};
use betflow_domain::workflow::seeded::{self, Requirement};
use betflow_domain::workflow::timeline::TimelineEntry;
use betflow_domain::workflow::{Before, Priority, WorkflowStatus, machine, transition};
use betflow_domain::{DomainError, Page, Violation};
use serde_json::Value;
use uuid::Uuid;

use super::rows::Creation;
use super::{WorkflowView, Workflows, check_filter, check_remarks, machine_error};
use crate::EngineError;
use crate::identity::Principal;

impl Workflows {
    pub(super) async fn validate_data(
        &self,
        definition: &Definition,
        data: &Value,
    ) -> Result<(), EngineError> {
        let Some(schema) = &definition.data_schema else {
            return Ok(());
        };
        let key = (definition.id, definition.latest_version);
        let validator = match self.schemas.get(&key).await {
            Some(v) => v,
            None => {
                let v = jsonschema::validator_for(schema).map_err(|e| {
                    EngineError::Internal(format!(
                        "data schema of {} does not compile: {e}",
                        definition.key
                    ))
                })?;
                let v = Arc::new(v);
                self.schemas.insert(key, v.clone()).await;
                v
            }
        };
        let violations: Vec<Violation> = validator
            .iter_errors(data)
            .map(|e| {
                let path = e.instance_path().to_string();
                let field = if path.is_empty() {
                    "data".to_owned()
                } else {
                    format!("data{}", path.replace('/', "."))
                };
                Violation::new(field, e.masked().to_string())
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(violations).into())
        }
    }

    /// Checks what the workflow type says must exist for `data` (a line change's selection).
    async fn check_requirements(&self, key: &str, data: &Value) -> Result<(), EngineError> {
        for r in seeded::requirements(key, data)? {
            let holds = match r {
                Requirement::SelectionExists(id) => self.store.get_selection(id).await?.is_some(),
            };
            if !holds {
                return Err(r.refusal().into());
            }
        }
        Ok(())
    }

    /// Creates a workflow of `workflow_type`'s latest version and, unless told otherwise,
    /// starts it at its first step.
    #[tracing::instrument(name = "workflows.create", skip_all, fields(workflow_type = %new.workflow_type, user_id = %principal.user_id))]
    pub async fn create(
        &self,
        principal: &Principal,
        new: super::NewWorkflow,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        let key = new.workflow_type.trim();
        let definition = match self.store.get_definition(key).await? {
            Some(d) if d.is_active => d,
            _ => {
                return Err(DomainError::invalid(
                    "workflowType",
                    format!("unknown workflow type {key:?}"),
                )
                .into());
            }
        };
        if !new.data.is_object() {
            return Err(DomainError::invalid("data", "must be a JSON object").into());
        }
        let tags = normalize_tags(definition.tags.iter().chain(&new.tags))
            .map_err(|e| DomainError::invalid("tags", e))?;
        self.validate_data(&definition, &new.data).await?;
        let version = self
            .version(definition.id, definition.latest_version)
            .await?;
        let row = seeded::domain_row(&definition.key, &new.data, &self.risk, now())?;
        self.check_requirements(&definition.key, &new.data).await?;

        let t = now();
        let mut w = Instance {
            id: Uuid::now_v7(),
            definition_id: definition.id,
            workflow_type: definition.key.clone(),
            version: version.version,
            status: WorkflowStatus::Pending,
            priority: new.priority,
            current_step: None,
            step_visit: 0,
            step_started_at: None,
            escalated_roles: vec![],
            assignees: vec![],
            completed_steps: 0,
            data: new.data,
            tags,
            created_by: Some(principal.user_id),
            created_at: t,
            updated_at: t,
            started_at: None,
            completed_at: None,
            due_at: None,
        };
        let by = Some(principal.user_id);
        let mut entries = vec![machine::created(&w, by)];
        if new.start {
            entries.extend(machine::begin(&mut w, &version.graph, by, t).map_err(machine_error)?);
        }
        let row = row.map(|r| r.for_workflow(w.id));
        let derived = transition::derive(&Before::created(), &w, &version.graph, &entries, actor)?;
        let creation = Creation::new(w, row, entries, derived);
        // One statement, so creations gain nothing from sharing a transaction (measured:
        // docs/benchmarks.md); SQLite's writer already shares commits.
        let mut tx = self.store.begin().await?;
        tx.record_creations(&[creation.rows()]).await?;
        tx.commit().await?;
        self.hub.notify_written();
        self.view_with(creation.w, Vec::new()).await
    }

    /// Starts a pending workflow at its first step.
    #[tracing::instrument(name = "workflows.start", skip_all, fields(workflow_id = %id))]
    pub async fn start(
        &self,
        principal: &Principal,
        id: WorkflowId,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        self.transition(id.uuid(), actor, |w, graph| {
            machine::start(w, graph, Some(principal.user_id), now())
        })
        .await
    }

    /// Cancels a pending or running workflow.
    #[tracing::instrument(name = "workflows.cancel", skip_all, fields(workflow_id = %id))]
    pub async fn cancel(
        &self,
        principal: &Principal,
        id: WorkflowId,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        check_remarks(None, reason.as_deref())?;
        self.transition(id.uuid(), actor, |w, _| {
            machine::cancel(w, Some(principal.user_id), reason.as_deref(), now())
        })
        .await
    }

    /// Runs `change` on the locked workflow and commits it with everything it derives.
    async fn transition(
        &self,
        id: Uuid,
        actor: &Actor,
        change: impl FnOnce(
            &mut Instance,
            &WorkflowGraph,
        ) -> Result<Vec<TimelineEntry>, machine::MachineError>,
    ) -> Result<WorkflowView, EngineError> {
        let (tx, mut w, version) = self
            .lock(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow {id}")))?;
        let prev = Before::of(&w);
        let entries = change(&mut w, &version.graph).map_err(machine_error)?;
        self.commit_transition(tx, None, &prev, &w, &version.graph, entries, actor)
            .await?;
        self.view(w).await
    }

    /// Changes the data and/or priority of a workflow that has not finished.
    pub async fn update(
        &self,
        principal: &Principal,
        id: WorkflowId,
        data: Option<Value>,
        priority: Option<Priority>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        if let Some(d) = &data {
            if !d.is_object() {
                return Err(DomainError::invalid("data", "must be a JSON object").into());
            }
            let current = self.get(id).await?;
            let definition = self
                .store
                .get_definition(&current.instance.workflow_type)
                .await?
                .ok_or_else(|| EngineError::Internal("definition vanished".into()))?;
            self.validate_data(&definition, d).await?;
            // The domain's rules too, as at creation: edited data cannot carry what creation
            // refuses (a line change's invalid `newOdds` would otherwise reach its apply step).
            seeded::domain_row(&definition.key, d, &self.risk, now())?;
            self.check_requirements(&definition.key, d).await?;
        }
        self.transition(id.uuid(), actor, |w, _| {
            machine::edit(w, data, priority, Some(principal.user_id), now())
        })
        .await
    }

    /// Hides a workflow. Its rows, decisions and history are kept for the audit trail.
    pub async fn delete(
        &self,
        principal: &Principal,
        id: WorkflowId,
        actor: &Actor,
    ) -> Result<(), EngineError> {
        let id = id.uuid();
        let mut tx = self.store.begin().await?;
        let w = tx
            .lock_workflow(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow {id}")))?;
        let t = now();
        tx.delete_workflow(id, t).await?;
        let entry = machine::deleted(&w, Some(principal.user_id));
        tx.insert_timeline(&[entry.into_record()]).await?;
        tx.insert_audit(&transition::deletion_audit(&w, actor)?)
            .await?;
        tx.commit().await?;
        self.hub.notify_written();
        Ok(())
    }

    /// The audit rows of one workflow, oldest first.
    pub async fn audit_trail(&self, id: WorkflowId) -> Result<Vec<AuditEntry>, EngineError> {
        self.get(id).await?;
        let id = id.uuid();
        let mut out = Vec::new();
        for page in 1.. {
            let q = betflow_domain::audit::AuditQuery {
                table_name: Some("workflow_instances".into()),
                record_id: Some(id),
                page: betflow_domain::PageRequest::new(Some(page), Some(100))?,
                ..Default::default()
            };
            let p = self.store.query_audit(&q).await?;
            let done = u64::from(page) >= p.total_pages;
            out.extend(p.items);
            if done {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    pub async fn get(&self, id: WorkflowId) -> Result<WorkflowView, EngineError> {
        let id = id.uuid();
        let w = self
            .store
            .get_workflow(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow {id}")))?;
        self.view(w).await
    }

    pub async fn list(&self, filter: &InstanceFilter) -> Result<Page<WorkflowView>, EngineError> {
        check_filter(filter)?;
        let page = self.store.list_workflows(filter).await?;
        let items = self.views(page.items).await?;
        Ok(Page {
            items,
            total: page.total,
            page: page.page,
            limit: page.limit,
            total_pages: page.total_pages,
        })
    }

    /// The open approval and task steps the caller can act on: those assigned to their role
    /// (or escalated to it); an admin sees every open step.
    pub async fn inbox(
        &self,
        principal: &Principal,
        page: betflow_domain::PageRequest,
    ) -> Result<Page<WorkflowView>, EngineError> {
        let filter = InstanceFilter {
            status: Some(WorkflowStatus::InProgress),
            assignee_role: (principal.role != Role::Admin)
                .then(|| principal.role.as_str().to_owned()),
            page,
            ..Default::default()
        };
        self.list(&filter).await
    }

    /// A workflow's step runs, in visit order.
    pub async fn step_runs(&self, id: WorkflowId) -> Result<Vec<StepRun>, EngineError> {
        let id = id.uuid();
        if self.store.get_workflow(id).await?.is_none() {
            return Err(EngineError::NotFound(format!("workflow {id}")));
        }
        Ok(self.store.list_step_runs(id).await?)
    }

    /// The seed's domain rows of a workflow, if it has them.
    pub async fn domain_rows(
        &self,
        id: WorkflowId,
    ) -> Result<(Option<BettingLine>, Option<BettingContent>), EngineError> {
        let id = id.uuid();
        Ok((
            self.store.get_betting_line(id).await?,
            self.store.get_betting_content(id).await?,
        ))
    }

    pub async fn history(&self, id: WorkflowId) -> Result<Vec<TimelineEvent>, EngineError> {
        let id = id.uuid();
        if self.store.get_workflow(id).await?.is_none() {
            return Err(EngineError::NotFound(format!("workflow {id}")));
        }
        Ok(self.store.list_timeline(id).await?)
    }
}
