//! Running approval workflows: create, start, approve, reject, cancel, read.
//!
//! Every transition is one database transaction that locks the workflow row, writes the new
//! state, the decision, a timeline event and an audit row, and commits or leaves nothing.

use std::sync::Arc;

use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
use betflow_domain::events::NewEvent;
use betflow_domain::identity::Role;
use betflow_domain::jobs::{ApplyOddsChange, JobArgs, NewJob, StepJob};
use betflow_domain::time::now;
use betflow_domain::workflow::expr::{ActionEffect, Condition, Facts, run_action};
use betflow_domain::workflow::graph::{
    Branch, Next, StepDef, StepKind, TimeoutAction, WorkflowGraph,
};
use betflow_domain::workflow::record::{
    Approval, BettingContent, BettingLine, Definition, Instance, InstanceFilter, StepRun,
    StepRunStatus, TimelineEvent, Version, normalize_tags,
};
use betflow_domain::workflow::{
    Decision, DecisionError, Priority, StepOutcome, Vote, WorkflowStatus, approval, seeded,
};
use betflow_domain::{DomainError, Page, Violation, text};
use betflow_store::{CreationRef, DomainRowRef, Store, StoreError, Transaction, TransitionRef};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use moka::future::Cache;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::EngineError;
use crate::batch::{BatchSettings, Batcher, Outcome, Work, copy};
use crate::identity::Principal;
use crate::outbox::{Before, workflow_events};

/// A workflow to create (the seed's `POST /workflows` body).
#[derive(Debug, Clone)]
pub struct NewWorkflow {
    pub workflow_type: String,
    pub data: Value,
    pub priority: Priority,
    /// Start at once (the seed's behaviour) or stay pending until started.
    pub start: bool,
    /// Tags besides the definition's own.
    pub tags: Vec<String>,
}

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

/// The outcome of one id in a bulk action.
pub type BulkOutcome = (Uuid, Result<WorkflowView, EngineError>);

/// Most ids one bulk request may name.
pub const MAX_BULK: usize = 1000;

/// How many approvals of one bulk request are in flight at once: enough to fill a batch of
/// decisions, few enough to leave connections for everyone else.
const BULK_CONCURRENCY: usize = 32;
/// Most workflows one XLSX export may contain (the file is built whole before it is sent).
pub const MAX_EXPORT: u64 = 10_000;
/// Workflows read per query while exporting.
pub const EXPORT_PAGE: u32 = 500;
/// Longest definition category (the column's width).
pub const MAX_CATEGORY_LEN: usize = 100;

/// A `startDate` after the `endDate` is an empty window, not an error: it matches nothing,
/// so the list is empty. (Refusing it would be a rule between two fields that the OpenAPI
/// document cannot state, so a client holding to the document could not avoid it.)
fn check_filter(filter: &InstanceFilter) -> Result<(), EngineError> {
    let mut v = Vec::new();
    text::check_name_into(&mut v, "search", filter.search.as_deref());
    text::check_name_into(&mut v, "type", filter.workflow_type.as_deref());
    if v.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(v).into())
    }
}

/// The default name of a copy: `<name> (copy)`, the name shortened as needed so the result
/// stays within the 255 characters a name may have.
fn copy_name(name: &str) -> String {
    const SUFFIX: &str = " (copy)";
    let keep: String = name.chars().take(255 - SUFFIX.len()).collect();
    format!("{keep}{SUFFIX}")
}

/// Comments and reasons are free text: line breaks, but no other control characters.
fn check_remarks(comments: Option<&str>, reason: Option<&str>) -> Result<(), EngineError> {
    let mut v = Vec::new();
    text::check_free_text_into(&mut v, "comments", comments);
    text::check_free_text_into(&mut v, "reason", reason);
    if v.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(v).into())
    }
}

/// Decision times of one step of one definition.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTiming {
    pub workflow_type: String,
    pub step_id: String,
    pub decisions: usize,
    pub median_minutes: f64,
    pub p90_minutes: f64,
}

/// The seed's workflow analytics, across definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Analytics {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub by_status: Vec<(String, u64)>,
    pub total: u64,
    pub overdue: u64,
    pub decision_times: Vec<StepTiming>,
    /// Workflows completed per UTC day, oldest first, every day of the period listed.
    pub throughput: Vec<(chrono::NaiveDate, u64)>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    (sorted[idx.min(sorted.len() - 1)] * 100.0).round() / 100.0
}

/// Counts for the system statistics (the seed's getDatabaseStats).
#[derive(Debug, Clone, Default)]
pub struct WorkflowStats {
    pub by_status: Vec<(String, u64)>,
    pub by_type: Vec<(String, u64)>,
    pub definitions: usize,
    /// Published versions in this node's cache.
    pub cached_versions: u64,
    pub betting_content: u64,
    pub betting_lines: u64,
}

/// A workflow with what a response needs beside the row.
#[derive(Debug, Clone)]
pub struct WorkflowView {
    pub instance: Instance,
    pub approvals: Vec<Approval>,
    /// 0 to 100, from completed steps.
    pub progress: u8,
    pub overdue: bool,
    pub step_name: Option<String>,
    pub step_kind: Option<StepKind>,
    /// From the median decision times of this definition's steps over the last 90 days;
    /// `None` until every remaining step has history.
    pub estimated_completion: Option<DateTime<Utc>>,
}

/// Cheap to clone: the store is shared and the caches are handles to the same caches.
#[derive(Clone)]
pub struct Workflows {
    store: Arc<dyn Store>,
    /// Published versions never change, so they are cached without expiry.
    versions: Cache<(Uuid, u32), Arc<Version>>,
    schemas: Cache<(Uuid, u32), Arc<jsonschema::Validator>>,
    /// Median minutes to decide each step, per definition key.
    step_medians: Cache<String, Arc<std::collections::HashMap<String, f64>>>,
    /// Where a line change's risk levels start.
    pub(crate) risk: seeded::RiskThresholds,
    hub: Arc<crate::events::EventHub>,
    /// Approvals and rejections share transactions under load.
    decider: Arc<Batcher<Decider>>,
}

fn decider(
    store: &Arc<dyn Store>,
    versions: &Cache<(Uuid, u32), Arc<Version>>,
    hub: &Arc<crate::events::EventHub>,
    settings: BatchSettings,
) -> Arc<Batcher<Decider>> {
    let work = Decider {
        store: store.clone(),
        versions: versions.clone(),
        hub: hub.clone(),
    };
    Arc::new(Batcher::new(work, settings, store.backend()))
}

fn invalid_transition(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidTransition(msg.into())
}

impl Workflows {
    pub fn new(store: Arc<dyn Store>, hub: Arc<crate::events::EventHub>) -> Self {
        let versions = Cache::builder().max_capacity(10_000).build();
        Self {
            decider: decider(&store, &versions, &hub, BatchSettings::default()),
            store,
            hub,
            versions,
            schemas: Cache::builder().max_capacity(10_000).build(),
            step_medians: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(60))
                .build(),
            risk: seeded::RiskThresholds::default(),
        }
    }

    /// How many decisions share a transaction, and how many such batches run at once.
    pub fn set_batching(&mut self, settings: BatchSettings) {
        self.decider = decider(&self.store, &self.versions, &self.hub, settings);
    }

    /// How decisions have been batched since start (see [`crate::batch`]).
    pub fn decision_stats(&self) -> crate::batch::BatchStats {
        self.decider.stats()
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

    /// Begins a transaction holding `id`'s row lock, with the version it is pinned to. A lock
    /// holder must never wait for a second pooled connection, so a version missing from the
    /// cache is loaded with the lock released, and the lock taken again.
    async fn lock(
        &self,
        id: Uuid,
    ) -> Result<Option<(Box<dyn Transaction>, Instance, Arc<Version>)>, EngineError> {
        let mut loaded: Option<Arc<Version>> = None;
        loop {
            let mut tx = self.store.begin().await?;
            let Some(w) = tx.lock_workflow(id).await? else {
                return Ok(None);
            };
            let key = (w.definition_id, w.version);
            let cached = match loaded.take() {
                Some(v) if (v.definition_id, v.version) == key => Some(v),
                _ => self.versions.get(&key).await,
            };
            if let Some(v) = cached {
                return Ok(Some((tx, w, v)));
            }
            tx.rollback().await?;
            loaded = Some(self.version(key.0, key.1).await?);
        }
    }

    async fn version(
        &self,
        definition_id: Uuid,
        version: u32,
    ) -> Result<Arc<Version>, EngineError> {
        if let Some(v) = self.versions.get(&(definition_id, version)).await {
            return Ok(v);
        }
        let v = self
            .store
            .get_version(definition_id, version)
            .await?
            .ok_or_else(|| {
                EngineError::Internal(format!("version {version} of {definition_id} is missing"))
            })?;
        let v = Arc::new(v);
        self.versions
            .insert((definition_id, version), v.clone())
            .await;
        Ok(v)
    }

    async fn validate_data(
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

    /// Creates a workflow of `workflow_type`'s latest version and, unless told otherwise,
    /// starts it at its first step.
    pub async fn create(
        &self,
        principal: &Principal,
        new: NewWorkflow,
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
        let row = domain_row(&definition.key, &new.data, &self.risk)?;
        self.check_line_selection(&definition.key, &new.data)
            .await?;

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
        let mut events = vec![event(
            &w,
            "workflow.created",
            None,
            Some(principal.user_id),
            json!({"priority": w.priority.as_str(), "version": w.version}),
        )];
        if new.start {
            events.extend(begin(&mut w, &version.graph, Some(principal.user_id), t)?);
        }
        let mut row = row;
        match &mut row {
            Some(DomainRow::Line(line)) => line.workflow_id = w.id,
            Some(DomainRow::Content(content)) => content.workflow_id = w.id,
            None => {}
        }
        let job = if w.step_visit != 0 {
            step_job(&version.graph, &w)
        } else {
            None
        };
        let outbox = workflow_events(&Before::created(), &w, &version.graph, &events);
        let audit = audit_entry(&w, AuditAction::Insert, None, actor)?;
        let runs = step_runs(&Before::created(), &w, &version.graph, &events);
        let creation = Creation {
            w,
            row,
            runs,
            job,
            events,
            outbox,
            audit,
        };
        // One statement, so creations gain nothing from sharing a transaction (measured:
        // docs/benchmarks.md); SQLite's writer already shares commits.
        let mut tx = self.store.begin().await?;
        tx.record_creations(&[creation.rows()]).await?;
        tx.commit().await?;
        self.hub.notify_written();
        let w = creation.w;
        self.view_with(w, Vec::new()).await
    }

    /// Starts a pending workflow at its first step.
    pub async fn start(
        &self,
        principal: &Principal,
        id: Uuid,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        self.transition(id, actor, |w, graph| {
            if !w.status.can_transition_to(WorkflowStatus::InProgress) {
                return Err(invalid_transition(format!(
                    "cannot start a workflow that is {}",
                    w.status
                )));
            }
            begin(w, graph, Some(principal.user_id), now())
        })
        .await
    }

    /// Cancels a pending or running workflow.
    pub async fn cancel(
        &self,
        principal: &Principal,
        id: Uuid,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        check_remarks(None, reason.as_deref())?;
        self.transition(id, actor, |w, _| {
            if !w.status.can_transition_to(WorkflowStatus::Cancelled) {
                return Err(invalid_transition(format!(
                    "cannot cancel a workflow that is {}",
                    w.status
                )));
            }
            let t = now();
            w.status = WorkflowStatus::Cancelled;
            w.completed_at = Some(t);
            w.due_at = None;
            w.assignees.clear();
            w.updated_at = t;
            Ok(vec![event(
                w,
                "workflow.cancelled",
                w.current_step.clone(),
                Some(principal.user_id),
                json!({"reason": reason}),
            )])
        })
        .await
    }

    /// Approves (or, for a task step, completes) the current step.
    pub async fn approve(
        &self,
        principal: &Principal,
        id: Uuid,
        step_id: Option<&str>,
        comments: Option<String>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        self.decide(
            principal,
            id,
            step_id,
            Decision::Approve,
            comments,
            None,
            actor,
        )
        .await
    }

    /// Rejects the current step; without a `rejected` edge that rejects the workflow.
    pub async fn reject(
        &self,
        principal: &Principal,
        id: Uuid,
        comments: Option<String>,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        self.decide(
            principal,
            id,
            None,
            Decision::Reject,
            comments,
            reason,
            actor,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        principal: &Principal,
        id: Uuid,
        step_id: Option<&str>,
        decision: Decision,
        comments: Option<String>,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        check_remarks(comments.as_deref(), reason.as_deref())?;
        let req = DecisionRequest {
            principal: principal.clone(),
            id,
            step_id: step_id.map(str::to_owned),
            decision,
            comments,
            reason,
            actor: actor.clone(),
        };
        let decided = match self.decider.submit(req.clone()).await? {
            Outcome::Done(done) => (*done)?,
            Outcome::Alone => self.decide_alone(&req).await?,
        };
        // The first decision time of a step is what turns estimates on: refresh the medians
        // then, not on every decision.
        let step = decided.record.step_id.as_str();
        if decided.step_decided
            && self
                .step_medians
                .get(&decided.w.workflow_type)
                .await
                .is_some_and(|m| !m.contains_key(step))
        {
            self.step_medians.invalidate(&decided.w.workflow_type).await;
        }
        self.view_with(decided.w, decided.approvals).await
    }

    /// A decision in its own transaction.
    async fn decide_alone(&self, req: &DecisionRequest) -> Result<Decided, EngineError> {
        let (mut tx, w, version) = self
            .lock(req.id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow {}", req.id)))?;
        // The row lock above serialises deciders, so this read sees every earlier decision.
        let history = tx.approvals_in_tx(w.id).await?;
        let d = decide_locked(req, w, version, history)?;
        self.commit_transition(
            tx,
            Some(&d.record),
            &d.prev,
            &d.w,
            &d.version.graph,
            &d.events,
            &req.actor,
        )
        .await?;
        Ok(d)
    }

    /// Runs `change` on the locked workflow and commits it with its timeline and audit rows.
    async fn transition(
        &self,
        id: Uuid,
        actor: &Actor,
        change: impl FnOnce(&mut Instance, &WorkflowGraph) -> Result<Vec<TimelineEvent>, EngineError>,
    ) -> Result<WorkflowView, EngineError> {
        let (tx, mut w, version) = self
            .lock(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow {id}")))?;
        let prev = Before::of(&w);
        let events = change(&mut w, &version.graph)?;
        self.commit_transition(tx, None, &prev, &w, &version.graph, &events, actor)
            .await?;
        self.view(w).await
    }

    /// Changes the data and/or priority of a workflow that has not finished.
    pub async fn update(
        &self,
        principal: &Principal,
        id: Uuid,
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
            domain_row(&definition.key, d, &self.risk)?;
            self.check_line_selection(&definition.key, d).await?;
        }
        self.transition(id, actor, |w, _| {
            if w.status.is_final() {
                return Err(invalid_transition(format!(
                    "a {} workflow cannot be edited",
                    w.status
                )));
            }
            let mut changed = Vec::new();
            if let Some(d) = data {
                w.data = d;
                changed.push("data");
            }
            if let Some(p) = priority {
                w.priority = p;
                changed.push("priority");
            }
            w.updated_at = now();
            Ok(vec![event(
                w,
                "workflow.updated",
                w.current_step.clone(),
                Some(principal.user_id),
                json!({"changed": changed}),
            )])
        })
        .await
    }

    /// Hides a workflow. Its rows, decisions and history are kept for the audit trail.
    pub async fn delete(
        &self,
        principal: &Principal,
        id: Uuid,
        actor: &Actor,
    ) -> Result<(), EngineError> {
        let mut tx = self.store.begin().await?;
        let w = tx
            .lock_workflow(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("workflow {id}")))?;
        let t = now();
        tx.delete_workflow(id, t).await?;
        tx.insert_timeline(&[event(
            &w,
            "workflow.deleted",
            w.current_step.clone(),
            Some(principal.user_id),
            json!({}),
        )])
        .await?;
        let entry = AuditEntry::new(
            "workflow_instances",
            id,
            AuditAction::Delete,
            Some(json!({"status": w.status.as_str(), "workflowType": w.workflow_type})),
            None,
            actor.clone(),
        )?;
        tx.insert_audit(&entry).await?;
        tx.commit().await?;
        self.hub.notify_written();
        Ok(())
    }

    /// The audit rows of one workflow, oldest first.
    pub async fn audit_trail(&self, id: Uuid) -> Result<Vec<AuditEntry>, EngineError> {
        self.get(id).await?;
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

    /// Approves each workflow's current step in its own transaction: one failure does not
    /// undo the others.
    pub async fn bulk_approve(
        &self,
        principal: &Principal,
        ids: &[Uuid],
        comments: Option<String>,
        actor: &Actor,
    ) -> Result<Vec<BulkOutcome>, EngineError> {
        check_remarks(comments.as_deref(), None)?;
        if ids.is_empty() || ids.len() > MAX_BULK {
            return Err(DomainError::invalid(
                "workflowIds",
                format!("must name 1 to {MAX_BULK} workflows"),
            )
            .into());
        }
        // Several at a time, so they share transactions; one failure touches no other.
        let out = futures::stream::iter(ids.iter().copied())
            .map(|id| {
                let comments = comments.clone();
                async move {
                    let r = self.approve(principal, id, None, comments, actor).await;
                    (id, r)
                }
            })
            .buffered(BULK_CONCURRENCY)
            .collect()
            .await;
        Ok(out)
    }

    // ---- definitions --------------------------------------------------------------------

    fn check_definition(&self, new: &NewDefinition) -> Result<WorkflowGraph, EngineError> {
        let mut v = Vec::new();
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
        text::check_name_into(&mut v, "name", Some(&new.name));
        text::check_name_into(&mut v, "category", new.category.as_deref());
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
        text::check_free_text_into(&mut v, "description", new.description.as_deref());
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
        let graph = new.graph.clone().normalized();
        if let Err(problems) = graph.validate() {
            v.extend(problems.into_iter().map(|p| {
                let field = match p.step {
                    Some(step) => format!("steps.{step}"),
                    None => "steps".to_owned(),
                };
                Violation::new(field, p.message)
            }));
        }
        if v.is_empty() {
            Ok(graph)
        } else {
            Err(DomainError::Validation(v).into())
        }
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
                StoreError::Conflict { .. } => EngineError::Conflict(format!(
                    "a workflow definition with key {} exists",
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

    /// A definition and its latest version.
    pub async fn definition(&self, key: &str) -> Result<(Definition, Arc<Version>), EngineError> {
        let d = self
            .store
            .get_definition(key)
            .await?
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

    /// Runs a step's timeout (a job): escalate, auto-reject or follow the `timeout` edge, as
    /// the step says. A timer for a step the workflow has already left does nothing.
    pub async fn handle_step_timeout(
        &self,
        job: &StepJob,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let (id, step_id, visit) = (job.workflow_id, job.step_id.as_str(), job.visit);
        let Some((tx, mut w, version)) = self.lock(id).await? else {
            return Ok(());
        };
        if w.status != WorkflowStatus::InProgress
            || w.current_step.as_deref() != Some(step_id)
            || w.step_visit != visit
        {
            return Ok(());
        }

        let graph = &version.graph;
        let step = graph
            .step(step_id)
            .ok_or_else(|| EngineError::Internal(format!("step {step_id} is not in the graph")))?
            .clone();
        let prev = Before::of(&w);
        w.updated_at = now;
        let mut events = vec![event(
            &w,
            "workflow.overdue",
            Some(step.id.clone()),
            None,
            json!({"dueAt": w.due_at}),
        )];
        match &step.on_timeout {
            TimeoutAction::Escalate { add_roles } => {
                for r in add_roles {
                    if !w.escalated_roles.contains(r) {
                        w.escalated_roles.push(r.clone());
                    }
                    if !w.assignees.contains(r) {
                        w.assignees.push(r.clone());
                    }
                }
                events.push(event(
                    &w,
                    "step.escalated",
                    Some(step.id.clone()),
                    None,
                    json!({"addedRoles": add_roles, "assignees": step.assignees}),
                ));
            }
            TimeoutAction::AutoReject => {
                events.push(event(
                    &w,
                    "step.timed_out",
                    Some(step.id.clone()),
                    None,
                    json!({"action": "auto_reject"}),
                ));
                events.extend(advance(
                    &mut w,
                    graph,
                    graph.next(&step.id, Branch::Rejected),
                    None,
                    now,
                )?);
            }
            TimeoutAction::FollowTimeoutEdge => {
                events.push(event(
                    &w,
                    "step.timed_out",
                    Some(step.id.clone()),
                    None,
                    json!({"action": "follow_timeout_edge"}),
                ));
                events.extend(advance(
                    &mut w,
                    graph,
                    graph.next(&step.id, Branch::Timeout),
                    None,
                    now,
                )?);
            }
        }
        self.commit_transition(tx, None, &prev, &w, graph, &events, &Actor::default())
            .await
    }

    /// Runs an automated step (a job): an action's work, or the end of a delay, then moves on
    /// down the step's `default` edge. A job for a step the workflow has left does nothing, so
    /// a job run twice (a lease that ran out mid-run) moves the workflow once.
    pub async fn handle_run_step(
        &self,
        job: &StepJob,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let (id, step_id, visit) = (job.workflow_id, &job.step_id, job.visit);
        let Some((tx, mut w, version)) = self.lock(id).await? else {
            return Ok(());
        };
        if w.status != WorkflowStatus::InProgress
            || w.current_step.as_deref() != Some(step_id.as_str())
            || w.step_visit != visit
        {
            return Ok(());
        }
        let graph = &version.graph;
        let step = graph
            .step(step_id)
            .ok_or_else(|| EngineError::Internal(format!("step {step_id} is not in the graph")))?
            .clone();
        let prev = Before::of(&w);
        w.updated_at = now;
        let mut events = Vec::new();
        match step.kind {
            StepKind::Action => {
                let action = step.action.as_deref().unwrap_or("noop");
                let effect = run_action(action, step.params.as_ref(), &w.data);
                let detail = match effect {
                    ActionEffect::Nothing => json!({}),
                    ActionEffect::SetData(data) => {
                        let changed: Vec<&String> = step
                            .params
                            .as_ref()
                            .and_then(Value::as_object)
                            .map(|m| m.keys().collect())
                            .unwrap_or_default();
                        let detail = json!({"changed": changed});
                        w.data = data;
                        detail
                    }
                    ActionEffect::Emit {
                        event: kind,
                        payload,
                    } => {
                        events.push(event(
                            &w,
                            "event.emitted",
                            Some(step.id.clone()),
                            None,
                            json!({"event": kind, "payload": payload}),
                        ));
                        json!({"event": kind})
                    }
                };
                events.push(event(
                    &w,
                    "action.completed",
                    Some(step.id.clone()),
                    None,
                    json!({"action": action, "result": detail}),
                ));
            }
            StepKind::Delay => events.push(event(
                &w,
                "delay.elapsed",
                Some(step.id.clone()),
                None,
                json!({"minutes": step.delay}),
            )),
            other => {
                return Err(EngineError::Internal(format!(
                    "a {other:?} step is not run by the worker"
                )));
            }
        }
        w.completed_steps += 1;
        events.extend(advance(
            &mut w,
            graph,
            graph.next(&step.id, Branch::Default),
            None,
            now,
        )?);
        self.commit_transition(tx, None, &prev, &w, graph, &events, &Actor::default())
            .await
    }

    /// Writes a transition of the locked workflow `w` (the decision that caused it, its row,
    /// the job its new step needs, the content row, timeline, outbox and audit rows) and
    /// commits.
    #[allow(clippy::too_many_arguments)]
    async fn commit_transition(
        &self,
        mut tx: Box<dyn Transaction>,
        decision: Option<&Approval>,
        prev: &Before,
        w: &Instance,
        graph: &WorkflowGraph,
        events: &[TimelineEvent],
        actor: &Actor,
    ) -> Result<(), EngineError> {
        settle_content(&mut tx, w).await?;
        let rows = TransitionRows::of(prev, w, graph, events, actor)?;
        tx.record_transitions(&[TransitionRef {
            decision,
            workflow: w,
            step_runs: &rows.step_runs,
            job: rows.job.as_ref(),
            timeline: events,
            events: &rows.events,
            audit: &rows.audit,
        }])
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } if decision.is_some() => {
                EngineError::Conflict("you already decided this step".into())
            }
            other => other.into(),
        })?;
        tx.commit().await?;
        self.hub.notify_written();
        Ok(())
    }

    pub async fn get(&self, id: Uuid) -> Result<WorkflowView, EngineError> {
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

    /// Completes the current task step of workflow `id` (an inbox item).
    pub async fn complete_task(
        &self,
        principal: &Principal,
        id: Uuid,
        comments: Option<String>,
        actor: &Actor,
    ) -> Result<WorkflowView, EngineError> {
        let current = self.get(id).await?;
        let step = current.instance.current_step.clone();
        match current.step_kind {
            Some(StepKind::Task) => {
                self.approve(principal, id, step.as_deref(), comments, actor)
                    .await
            }
            Some(kind) => Err(invalid_transition(format!(
                "the current step is a {kind:?} step; approve or reject it instead"
            ))),
            None => Err(invalid_transition(format!(
                "the workflow is {}; no task is open",
                current.instance.status
            ))),
        }
    }

    /// Every workflow matching `filter` (newest first), for export.
    /// Every workflow matching `filter`, a page at a time, newest first, for exports of any
    /// size: memory stays at one page however many rows match.
    pub fn export_pages(
        &self,
        filter: InstanceFilter,
    ) -> Result<
        impl futures::Stream<Item = Result<Vec<WorkflowView>, EngineError>> + Send + 'static,
        EngineError,
    > {
        check_filter(&filter)?;
        let this = self.clone();
        Ok(futures::stream::try_unfold(
            (this, filter, None, false),
            |(this, filter, before, done)| async move {
                if done {
                    return Ok(None);
                }
                let rows = this
                    .store
                    .scan_workflows(&filter, before, EXPORT_PAGE)
                    .await?;
                let last = rows.last().map(|w| (w.created_at, w.id));
                let done = rows.len() < EXPORT_PAGE as usize;
                if rows.is_empty() {
                    return Ok(None);
                }
                let views = this.views(rows).await?;
                Ok(Some((views, (this, filter, last, done))))
            },
        ))
    }

    /// Every workflow matching `filter`, in memory: for formats that cannot be written as they
    /// are read (XLSX), so at most [`MAX_EXPORT`].
    pub async fn export(
        &self,
        mut filter: InstanceFilter,
    ) -> Result<Vec<WorkflowView>, EngineError> {
        filter.page = betflow_domain::PageRequest::new(Some(1), Some(1))?;
        let total = self.list(&filter).await?.total;
        if total > MAX_EXPORT {
            return Err(EngineError::Unprocessable(format!(
                "{total} workflows match; this format holds at most {MAX_EXPORT}: narrow the \
                 filters or export CSV or JSON"
            )));
        }
        let mut out = Vec::new();
        let mut pages = std::pin::pin!(self.export_pages(filter)?);
        while let Some(page) = futures::TryStreamExt::try_next(&mut pages).await? {
            out.extend(page);
        }
        Ok(out)
    }

    /// Counts by status, decision times per step (median and p90), overdue workflows and
    /// completions per day, for workflows of the last `days` days (optionally one type).
    pub async fn analytics(
        &self,
        days: u32,
        workflow_type: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Analytics, EngineError> {
        let from = now - chrono::Duration::days(i64::from(days));
        let by_status = self
            .store
            .count_by_status(Some(from), workflow_type)
            .await?;
        let total = by_status.iter().map(|(_, n)| n).sum();
        let overdue = self.store.count_overdue(now, workflow_type).await?;
        let mut groups: std::collections::BTreeMap<(String, String), Vec<f64>> = Default::default();
        for (kind, step, entered, decided) in self.store.decision_times(from, workflow_type).await?
        {
            if let Some(entered) = entered {
                let minutes = (decided - entered).num_milliseconds().max(0) as f64 / 60_000.0;
                groups.entry((kind, step)).or_default().push(minutes);
            }
        }
        let decision_times = groups
            .into_iter()
            .map(|((workflow_type, step_id), mut v)| {
                v.sort_by(f64::total_cmp);
                StepTiming {
                    workflow_type,
                    step_id,
                    decisions: v.len(),
                    median_minutes: quantile(&v, 0.5),
                    p90_minutes: quantile(&v, 0.9),
                }
            })
            .collect();
        let mut per_day: std::collections::BTreeMap<chrono::NaiveDate, u64> = Default::default();
        let (mut day, last) = (from.date_naive(), now.date_naive());
        while day <= last {
            per_day.insert(day, 0);
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        for t in self.store.completion_times(from, workflow_type).await? {
            *per_day.entry(t.date_naive()).or_default() += 1;
        }
        Ok(Analytics {
            from,
            until: now,
            by_status,
            total,
            overdue,
            decision_times,
            throughput: per_day.into_iter().collect(),
        })
    }

    /// Workflows counted by status and by type over all time, and definitions.
    pub async fn stats(&self) -> Result<WorkflowStats, EngineError> {
        let (betting_content, betting_lines) = self.store.count_domain_rows().await?;
        Ok(WorkflowStats {
            by_status: self.store.count_by_status(None, None).await?,
            by_type: self.store.count_by_type(None).await?,
            definitions: self.store.list_definitions().await?.len(),
            cached_versions: self.versions.entry_count(),
            betting_content,
            betting_lines,
        })
    }

    /// A workflow's step runs, in visit order.
    pub async fn step_runs(&self, id: Uuid) -> Result<Vec<StepRun>, EngineError> {
        if self.store.get_workflow(id).await?.is_none() {
            return Err(EngineError::NotFound(format!("workflow {id}")));
        }
        Ok(self.store.list_step_runs(id).await?)
    }

    /// The seed's domain rows of a workflow, if it has them.
    pub async fn domain_rows(
        &self,
        id: Uuid,
    ) -> Result<(Option<BettingLine>, Option<BettingContent>), EngineError> {
        Ok((
            self.store.get_betting_line(id).await?,
            self.store.get_betting_content(id).await?,
        ))
    }

    pub async fn history(&self, id: Uuid) -> Result<Vec<TimelineEvent>, EngineError> {
        if self.store.get_workflow(id).await?.is_none() {
            return Err(EngineError::NotFound(format!("workflow {id}")));
        }
        Ok(self.store.list_timeline(id).await?)
    }

    async fn medians(
        &self,
        key: &str,
    ) -> Result<Arc<std::collections::HashMap<String, f64>>, EngineError> {
        // Concurrent misses for one key share a single load. Entries live a minute: an
        // estimate a minute stale is as good, and recomputing on every decision would make
        // each one read the definition's whole 90-day history.
        self.step_medians
            .try_get_with(key.to_owned(), async {
                let from = now() - chrono::Duration::days(90);
                let mut per_step: std::collections::HashMap<String, Vec<f64>> = Default::default();
                for (_, step, entered, decided) in
                    self.store.decision_times(from, Some(key)).await?
                {
                    if let Some(entered) = entered {
                        per_step
                            .entry(step)
                            .or_default()
                            .push((decided - entered).num_milliseconds().max(0) as f64 / 60_000.0);
                    }
                }
                let medians: std::collections::HashMap<String, f64> = per_step
                    .into_iter()
                    .map(|(step, mut v)| {
                        v.sort_by(f64::total_cmp);
                        (step, v[v.len() / 2])
                    })
                    .collect();
                Ok::<_, EngineError>(Arc::new(medians))
            })
            .await
            .map_err(|e: Arc<EngineError>| match Arc::try_unwrap(e) {
                Ok(e) => e,
                Err(shared) => EngineError::Internal(shared.to_string()),
            })
    }

    /// Now plus the median time of each step left on the approval path.
    async fn estimate(
        &self,
        w: &Instance,
        graph: &WorkflowGraph,
    ) -> Result<Option<DateTime<Utc>>, EngineError> {
        let (WorkflowStatus::InProgress, Some(current)) = (w.status, w.current_step.as_deref())
        else {
            return Ok(None);
        };
        let medians = self.medians(&w.workflow_type).await?;
        let t = now();
        let mut minutes = 0.0;
        let mut at = current.to_owned();
        for hop in 0..=graph.steps.len() {
            let Some(&m) = medians.get(&at) else {
                return Ok(None);
            };
            minutes += if hop == 0 {
                let spent = w
                    .step_started_at
                    .map(|s| (t - s).num_milliseconds().max(0) as f64 / 60_000.0)
                    .unwrap_or(0.0);
                (m - spent).max(0.0)
            } else {
                m
            };
            let kind = graph.step(&at).map(|s| s.kind);
            let branch = if kind == Some(StepKind::Approval) {
                Branch::Approved
            } else {
                Branch::Default
            };
            match graph.next(&at, branch) {
                Next::Step(next) => at = next,
                _ => {
                    return Ok(Some(
                        t + chrono::Duration::milliseconds((minutes * 60_000.0) as i64),
                    ));
                }
            }
        }
        Ok(None)
    }

    async fn view(&self, w: Instance) -> Result<WorkflowView, EngineError> {
        let approvals = self.store.list_approvals(w.id).await?;
        self.view_with(w, approvals).await
    }

    /// Views of a page of workflows, with one query for all their decisions.
    async fn views(&self, rows: Vec<Instance>) -> Result<Vec<WorkflowView>, EngineError> {
        let ids: Vec<Uuid> = rows.iter().map(|w| w.id).collect();
        let mut by_workflow: std::collections::HashMap<Uuid, Vec<Approval>> =
            std::collections::HashMap::new();
        for a in self.store.list_approvals_for(&ids).await? {
            by_workflow.entry(a.workflow_id).or_default().push(a);
        }
        let mut out = Vec::with_capacity(rows.len());
        for w in rows {
            let approvals = by_workflow.remove(&w.id).unwrap_or_default();
            out.push(self.view_with(w, approvals).await?);
        }
        Ok(out)
    }

    async fn view_with(
        &self,
        w: Instance,
        approvals: Vec<Approval>,
    ) -> Result<WorkflowView, EngineError> {
        let version = self.version(w.definition_id, w.version).await?;
        let progress = if w.status == WorkflowStatus::Completed {
            100
        } else {
            version.graph.progress(w.completed_steps as usize)
        };
        let estimated_completion = self.estimate(&w, &version.graph).await?;
        let step = w
            .current_step
            .as_deref()
            .and_then(|s| version.graph.step(s));
        let step_name = step.map(|s| s.name.clone());
        let step_kind = step.map(|s| s.kind);
        Ok(WorkflowView {
            overdue: w.is_overdue(now()),
            instance: w,
            approvals,
            progress,
            step_name,
            step_kind,
            estimated_completion,
        })
    }
}

/// A decision on a workflow's current step, as the API takes it.
#[derive(Clone)]
pub(crate) struct DecisionRequest {
    principal: Principal,
    id: Uuid,
    step_id: Option<String>,
    decision: Decision,
    comments: Option<String>,
    reason: Option<String>,
    actor: Actor,
}

/// A decision worked out under its workflow's lock.
pub(crate) struct Decided {
    prev: Before,
    /// The workflow as the decision leaves it.
    w: Instance,
    version: Arc<Version>,
    record: Approval,
    events: Vec<TimelineEvent>,
    /// The step is decided (not waiting for more approvals).
    step_decided: bool,
    /// Every decision on the workflow, this one last.
    approvals: Vec<Approval>,
}

/// Decides `req` on the locked workflow `w`, given every earlier decision on it: the
/// four-eyes and quorum rules, then the walk to the next step. Writes nothing.
fn decide_locked(
    req: &DecisionRequest,
    mut w: Instance,
    version: Arc<Version>,
    history: Vec<Approval>,
) -> Result<Decided, EngineError> {
    let prev = Before::of(&w);
    let principal = &req.principal;
    if w.status != WorkflowStatus::InProgress {
        return Err(invalid_transition(format!(
            "the workflow is {}; nothing to decide",
            w.status
        )));
    }
    let current = w.current_step.clone().unwrap_or_default();
    if let Some(s) = &req.step_id
        && *s != current
    {
        return Err(invalid_transition(format!(
            "step {s} is not the current step ({current})"
        )));
    }
    let graph = &version.graph;
    let step = graph
        .step(&current)
        .ok_or_else(|| EngineError::Internal(format!("step {current} is not in the graph")))?;
    let votes: Vec<Vote> = history
        .iter()
        .filter(|a| a.step_id != current || a.step_visit == w.step_visit)
        .map(|a| Vote {
            step_id: a.step_id.clone(),
            user_id: a.approver_id,
            decision: a.decision,
        })
        .collect();
    let outcome = match step.kind {
        StepKind::Approval => approval::decide(
            step,
            &w.escalated_roles,
            w.created_by,
            principal.user_id,
            principal.role,
            req.decision,
            &votes,
        )
        .map_err(decision_error)?,
        StepKind::Task => {
            let allowed = principal.role == Role::Admin
                || step
                    .assignees
                    .iter()
                    .chain(&w.escalated_roles)
                    .any(|r| r == principal.role.as_str());
            if !allowed {
                return Err(decision_error(DecisionError::NotAssignee(principal.role)));
            }
            if req.decision == Decision::Approve {
                StepOutcome::Approved
            } else {
                StepOutcome::Rejected
            }
        }
        other => {
            return Err(invalid_transition(format!(
                "a {other:?} step is not decided by people"
            )));
        }
    };
    let t = now();
    let record = Approval {
        id: Uuid::now_v7(),
        workflow_id: w.id,
        step_id: current.clone(),
        step_visit: w.step_visit,
        approver_id: principal.user_id,
        decision: req.decision,
        comments: req.comments.clone(),
        decided_at: t,
    };
    let verb = if req.decision == Decision::Approve {
        "step.approved"
    } else {
        "step.rejected"
    };
    let mut events = vec![event(
        &w,
        verb,
        Some(current.clone()),
        Some(principal.user_id),
        json!({"comments": req.comments, "reason": req.reason}),
    )];
    let step_decided = !matches!(outcome, StepOutcome::Pending { .. });
    match outcome {
        StepOutcome::Pending {
            approvals,
            required,
        } => {
            events[0].event_type = "approval.recorded".into();
            events[0].data = Some(
                json!({"comments": req.comments, "approvals": approvals, "required": required}),
            );
            w.updated_at = t;
        }
        StepOutcome::Approved => {
            w.completed_steps += 1;
            events.extend(advance(
                &mut w,
                graph,
                graph.next(&current, Branch::Approved),
                Some(principal.user_id),
                t,
            )?);
        }
        StepOutcome::Rejected => {
            events.extend(advance(
                &mut w,
                graph,
                graph.next(&current, Branch::Rejected),
                Some(principal.user_id),
                t,
            )?);
        }
    }
    // The row lock made `history` complete; with this decision it is the whole list.
    let mut approvals = history;
    approvals.push(record.clone());
    Ok(Decided {
        prev,
        w,
        version,
        record,
        events,
        step_decided,
        approvals,
    })
}

/// What a transition writes beside the workflow's state and timeline.
struct TransitionRows {
    /// The step runs it started or ended.
    step_runs: Vec<StepRun>,
    /// The job of the step just entered, if the transition entered one.
    job: Option<NewJob>,
    audit: AuditEntry,
    /// The outbox events.
    events: Vec<NewEvent>,
}

impl TransitionRows {
    fn of(
        prev: &Before,
        w: &Instance,
        graph: &WorkflowGraph,
        timeline: &[TimelineEvent],
        actor: &Actor,
    ) -> Result<Self, EngineError> {
        let job = if w.step_visit != prev.visit {
            step_job(graph, w)
        } else {
            None
        };
        let before = json!({"status": prev.status.as_str(), "currentStep": prev.step});
        Ok(Self {
            step_runs: step_runs(prev, w, graph, timeline),
            job,
            audit: audit_entry(w, AuditAction::Update, Some(before), actor)?,
            events: workflow_events(prev, w, graph, timeline),
        })
    }
}

/// A new workflow's rows, ready to write.
struct Creation {
    w: Instance,
    row: Option<DomainRow>,
    runs: Vec<StepRun>,
    job: Option<NewJob>,
    events: Vec<TimelineEvent>,
    outbox: Vec<NewEvent>,
    audit: AuditEntry,
}

impl Creation {
    fn rows(&self) -> CreationRef<'_> {
        CreationRef {
            workflow: &self.w,
            row: self.row.as_ref().map(|r| match r {
                DomainRow::Line(line) => DomainRowRef::Line(line),
                DomainRow::Content(content) => DomainRowRef::Content(content),
            }),
            step_runs: &self.runs,
            job: self.job.as_ref(),
            timeline: &self.events,
            events: &self.outbox,
            audit: &self.audit,
        }
    }
}

/// A batched decision: decided (and written, or failed with its batch's commit), or
/// refused with a client error.
pub(crate) type DecisionAnswer = Box<Result<Decided, EngineError>>;

/// Decides approvals on different workflows in one transaction (see [`crate::batch`]): the
/// workflows locked in id order in one statement, their decisions read in one, each request
/// decided by [`decide_locked`] as alone, every transition written in shared statements,
/// one commit.
///
/// A request goes back to be decided alone when its workflow is already in the batch (a
/// second decision must see the first), is missing, or runs on a version not in the cache,
/// and every request of a batch whose write failed.
pub(crate) struct Decider {
    store: Arc<dyn Store>,
    versions: Cache<(Uuid, u32), Arc<Version>>,
    hub: Arc<crate::events::EventHub>,
}

impl Work for Decider {
    type Request = DecisionRequest;
    type Answer = DecisionAnswer;

    async fn run(&self, batch: &[DecisionRequest]) -> Vec<Outcome<DecisionAnswer>> {
        let alone = || batch.iter().map(|_| Outcome::Alone).collect();
        let Ok(mut tx) = self.store.begin().await else {
            return alone();
        };
        let mut ids: Vec<Uuid> = batch.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let Ok(locked) = tx.lock_workflows(&ids).await else {
            return alone();
        };
        let Ok(history) = tx.approvals_in_tx_for(&ids).await else {
            return alone();
        };
        let mut workflows: std::collections::HashMap<Uuid, Instance> =
            locked.into_iter().map(|w| (w.id, w)).collect();
        let mut histories: std::collections::HashMap<Uuid, Vec<Approval>> = Default::default();
        for a in history {
            histories.entry(a.workflow_id).or_default().push(a);
        }
        let mut outcomes: Vec<Outcome<DecisionAnswer>> = Vec::with_capacity(batch.len());
        let mut decided: Vec<(usize, Decided)> = Vec::new();
        for (i, req) in batch.iter().enumerate() {
            // A workflow's second request in the batch waits for the first's commit.
            let Some(w) = workflows.remove(&req.id) else {
                outcomes.push(Outcome::Alone);
                continue;
            };
            let Some(version) = self.versions.get(&(w.definition_id, w.version)).await else {
                outcomes.push(Outcome::Alone);
                continue;
            };
            let history = histories.remove(&w.id).unwrap_or_default();
            match decide_locked(req, w, version, history) {
                Ok(d) => {
                    decided.push((i, d));
                    outcomes.push(Outcome::Alone);
                }
                Err(e) if e.client_error().is_some() => {
                    outcomes.push(Outcome::Done(Box::new(Err(e))))
                }
                Err(_) => outcomes.push(Outcome::Alone),
            }
        }
        if decided.is_empty() {
            return outcomes;
        }
        let mut rows = Vec::with_capacity(decided.len());
        for (i, d) in &decided {
            if settle_content(&mut tx, &d.w).await.is_err() {
                return alone();
            }
            match TransitionRows::of(&d.prev, &d.w, &d.version.graph, &d.events, &batch[*i].actor) {
                Ok(r) => rows.push(r),
                Err(_) => return alone(),
            }
        }
        let writes: Vec<TransitionRef<'_>> = decided
            .iter()
            .zip(&rows)
            .map(|((_, d), r)| TransitionRef {
                decision: Some(&d.record),
                workflow: &d.w,
                step_runs: &r.step_runs,
                job: r.job.as_ref(),
                timeline: &d.events,
                events: &r.events,
                audit: &r.audit,
            })
            .collect();
        if tx.record_transitions(&writes).await.is_err() {
            return alone();
        }
        drop(writes);
        match tx.commit().await {
            Ok(()) => {
                self.hub.notify_written();
                for (i, d) in decided {
                    outcomes[i] = Outcome::Done(Box::new(Ok(d)));
                }
            }
            Err(e) => {
                let e = EngineError::from(e);
                for (i, _) in decided {
                    outcomes[i] = Outcome::Done(Box::new(Err(copy(&e))));
                }
            }
        }
        outcomes
    }
}

/// The step runs a transition starts or ends, from the workflow before and after it and
/// the steps it entered, in order: a condition or action step passed through starts and ends
/// in the same transition.
fn step_runs(
    prev: &Before,
    w: &Instance,
    graph: &WorkflowGraph,
    timeline: &[TimelineEvent],
) -> Vec<StepRun> {
    let t = w.updated_at;
    let has = |kind: &str| timeline.iter().any(|e| e.event_type == kind);
    let finished = matches!(
        w.status,
        WorkflowStatus::Completed | WorkflowStatus::Rejected | WorkflowStatus::Cancelled
    );
    let closed_by_workflow = || match w.status {
        WorkflowStatus::Cancelled => StepRunStatus::Cancelled,
        WorkflowStatus::Rejected => StepRunStatus::Rejected,
        _ => StepRunStatus::Completed,
    };
    let kind_of = |step: &str| graph.step(step).map_or(StepKind::Action, |s| s.kind);
    let mut runs = Vec::new();
    if let Some(step) = prev.step.as_deref()
        && prev.status == WorkflowStatus::InProgress
        && (w.step_visit != prev.visit || finished)
    {
        let status = if has("step.timed_out") {
            StepRunStatus::TimedOut
        } else if has("step.rejected") {
            StepRunStatus::Rejected
        } else if has("step.approved") && kind_of(step) == StepKind::Task {
            // A task is done, not approved.
            StepRunStatus::Completed
        } else if has("step.approved") {
            StepRunStatus::Approved
        } else {
            closed_by_workflow()
        };
        runs.push(StepRun {
            workflow_id: w.id,
            visit: prev.visit,
            step_id: step.to_owned(),
            kind: kind_of(step),
            status,
            started_at: prev.started.unwrap_or(t),
            ended_at: Some(t),
        });
    }
    let entered: Vec<&TimelineEvent> = timeline
        .iter()
        .filter(|e| e.event_type == "step.entered")
        .collect();
    for (i, e) in entered.iter().enumerate() {
        let Some(step) = e.step_id.as_deref() else {
            continue;
        };
        let visit = prev.visit + 1 + i as u32;
        let current = visit == w.step_visit && w.status == WorkflowStatus::InProgress;
        let status = if current {
            StepRunStatus::Running
        } else if i + 1 == entered.len() && finished {
            closed_by_workflow()
        } else {
            StepRunStatus::Completed
        };
        runs.push(StepRun {
            workflow_id: w.id,
            visit,
            step_id: step.to_owned(),
            kind: kind_of(step),
            status,
            started_at: e.created_at,
            ended_at: (!current).then_some(t),
        });
    }
    runs
}

fn begin(
    w: &mut Instance,
    graph: &WorkflowGraph,
    by: Option<Uuid>,
    t: DateTime<Utc>,
) -> Result<Vec<TimelineEvent>, EngineError> {
    let first = graph
        .start()
        .ok_or_else(|| EngineError::Internal("the definition has no steps".into()))?;
    w.status = WorkflowStatus::InProgress;
    w.started_at = Some(t);
    let mut events = vec![event(w, "workflow.started", None, by, json!({}))];
    events.extend(enter(w, graph, first, by, t)?);
    Ok(events)
}

/// Moves `w` onto `step`. Condition steps are decided on the spot (they only route), so
/// entering one carries on down the branch it chose until a step that waits for people, a
/// job, or the end.
fn enter(
    w: &mut Instance,
    graph: &WorkflowGraph,
    step: &StepDef,
    by: Option<Uuid>,
    t: DateTime<Utc>,
) -> Result<Vec<TimelineEvent>, EngineError> {
    let mut events = Vec::new();
    let mut step = step;
    // Publishing refuses cycles of conditions alone, so this bound is never the one that stops.
    for _ in 0..=graph.steps.len() {
        w.current_step = Some(step.id.clone());
        w.step_visit += 1;
        w.step_started_at = Some(t);
        w.escalated_roles.clear();
        w.assignees = step.assignees.clone();
        w.due_at = step
            .timeout
            .map(|m| t + chrono::Duration::minutes(i64::from(m)));
        w.updated_at = t;
        events.push(event(
            w,
            "step.entered",
            Some(step.id.clone()),
            by,
            json!({"assignees": step.assignees, "dueAt": w.due_at}),
        ));
        if step.kind != StepKind::Condition {
            return Ok(events);
        }
        let source = step.condition.as_deref().unwrap_or_default();
        let facts = Facts {
            data: &w.data,
            priority: w.priority.as_str(),
            workflow_type: &w.workflow_type,
        };
        // An expression that cannot be evaluated (a missing field, say) takes the `false`
        // branch; the timeline keeps the error so the author can see why.
        let (result, error) = match Condition::compile(source).and_then(|c| c.evaluate(&facts)) {
            Ok(b) => (b, None),
            Err(e) => (false, Some(e)),
        };
        events.push(event(
            w,
            "condition.evaluated",
            Some(step.id.clone()),
            None,
            json!({"condition": source, "result": result, "error": error}),
        ));
        w.completed_steps += 1;
        let branch = if result { Branch::True } else { Branch::False };
        match graph.next(&step.id, branch) {
            Next::Step(id) => {
                step = graph
                    .step(&id)
                    .ok_or_else(|| EngineError::Internal(format!("edge to missing step {id}")))?;
            }
            end => {
                events.extend(finish(w, end, by, t));
                return Ok(events);
            }
        }
    }
    Err(EngineError::Internal(format!(
        "workflow {} loops through conditions without stopping",
        w.id
    )))
}

fn advance(
    w: &mut Instance,
    graph: &WorkflowGraph,
    next: Next,
    by: Option<Uuid>,
    t: DateTime<Utc>,
) -> Result<Vec<TimelineEvent>, EngineError> {
    w.updated_at = t;
    match next {
        Next::Step(id) => {
            let step = graph
                .step(&id)
                .ok_or_else(|| EngineError::Internal(format!("edge to missing step {id}")))?;
            enter(w, graph, step, by, t)
        }
        end => Ok(finish(w, end, by, t)),
    }
}

/// Completes or rejects `w` (`end` is not a step).
fn finish(w: &mut Instance, end: Next, by: Option<Uuid>, t: DateTime<Utc>) -> Vec<TimelineEvent> {
    let (status, kind) = match end {
        Next::Reject => (WorkflowStatus::Rejected, "workflow.rejected"),
        _ => (WorkflowStatus::Completed, "workflow.completed"),
    };
    w.status = status;
    w.completed_at = Some(t);
    w.updated_at = t;
    w.due_at = None;
    w.assignees.clear();
    vec![event(w, kind, w.current_step.clone(), by, json!({}))]
}

fn event(
    w: &Instance,
    kind: &str,
    step: Option<String>,
    by: Option<Uuid>,
    data: Value,
) -> TimelineEvent {
    TimelineEvent {
        id: Uuid::now_v7(),
        workflow_id: w.id,
        event_type: kind.to_owned(),
        step_id: step,
        user_id: by,
        data: Some(data),
        created_at: now(),
    }
}

enum DomainRow {
    Line(BettingLine),
    Content(BettingContent),
}

impl Workflows {
    /// A line change that names a catalog selection must name one that exists: its approval
    /// sets that selection's odds, and an unknown id would only surface when it completes.
    async fn check_line_selection(&self, key: &str, data: &Value) -> Result<(), EngineError> {
        if key != "line_change_approval" {
            return Ok(());
        }
        let Some(id) = seeded::line_selection(data)? else {
            return Ok(());
        };
        match self.store.get_selection(id).await? {
            Some(_) => Ok(()),
            None => Err(DomainError::invalid("selectionId", "names no selection").into()),
        }
    }
}

/// The seed's `betting_lines` / `betting_content` row for the seeded workflow types, checked
/// before anything is written: a line change's `newOdds` obey the rules of `POST /selections`
/// (they are what its approval sets), and `financialImpact` is a whole number of minor units.
fn domain_row(
    key: &str,
    data: &Value,
    risk: &seeded::RiskThresholds,
) -> Result<Option<DomainRow>, EngineError> {
    let text = |f: &str| data.get(f).and_then(Value::as_str).map(str::to_owned);
    let t = now();
    match key {
        "line_change_approval" => {
            let a = seeded::assess_line_change(data, risk)?;
            Ok(Some(DomainRow::Line(BettingLine {
                id: Uuid::now_v7(),
                workflow_id: Uuid::nil(),
                line_id: text("lineId").unwrap_or_default(),
                event_name: text("eventName"),
                sport: text("sport"),
                league: text("league"),
                market_type: text("marketType"),
                old_odds: a.old_odds,
                new_odds: a.new_odds.get(),
                odds_change_percentage: a.odds_change_percentage,
                total_exposure: a.financial_impact,
                risk_level: a.risk_level,
                metadata: json!({"requestedBy": data.get("requestedBy")}),
                created_at: t,
            })))
        }
        "content_publishing" => {
            let impact =
                seeded::minor_units("financialImpact", data.get("financialImpact"))?.unwrap_or(0);
            Ok(Some(DomainRow::Content(BettingContent {
                id: Uuid::now_v7(),
                workflow_id: Uuid::nil(),
                content_type: text("contentType").unwrap_or_default(),
                content_id: text("contentId").unwrap_or_else(|| Uuid::now_v7().to_string()),
                title: text("title").unwrap_or_default(),
                jurisdiction: text("jurisdiction"),
                financial_impact: impact,
                metadata: json!({"markets": data.get("markets")}),
                status: "draft".to_owned(),
                created_at: t,
                updated_at: t,
            })))
        }
        _ => Ok(None),
    }
}

/// A finished content workflow publishes (or withdraws) its content row.
async fn settle_content(tx: &mut Box<dyn Transaction>, w: &Instance) -> Result<(), EngineError> {
    let status = match w.status {
        WorkflowStatus::Completed => "published",
        WorkflowStatus::Rejected => "rejected",
        WorkflowStatus::Cancelled => "cancelled",
        _ => return Ok(()),
    };
    if w.workflow_type == "content_publishing" {
        tx.set_content_status(w.id, status, w.updated_at).await?;
    }
    // An approved odds change from the catalog: its `apply_odds_change` action.
    if w.workflow_type == "line_change_approval"
        && w.status == WorkflowStatus::Completed
        && let Some(selection) = w.data.get("selectionId")
    {
        match serde_json::from_value::<Uuid>(selection.clone()) {
            Ok(selection_id) => {
                let args = JobArgs::ApplyOddsChange(ApplyOddsChange {
                    workflow_id: w.id,
                    selection_id,
                    old_odds: w.data.get("oldOdds").cloned().unwrap_or(Value::Null),
                    new_odds: w.data.get("newOdds").cloned().unwrap_or(Value::Null),
                    created_by: w.created_by,
                });
                tx.enqueue_job(&NewJob::new(&args, w.updated_at)).await?;
            }
            Err(e) => tracing::warn!(workflow = %w.id, error = %e,
                "approved line change names no selection; no odds to apply"),
        }
    }
    Ok(())
}

/// The job the step `w` has just entered needs: an action runs now, a delay when it ends,
/// and a step with a timeout gets its timer.
fn step_job(graph: &WorkflowGraph, w: &Instance) -> Option<NewJob> {
    if w.status != WorkflowStatus::InProgress {
        return None;
    }
    let step_id = w.current_step.clone()?;
    let step = graph.step(&step_id)?;
    let target = StepJob {
        workflow_id: w.id,
        step_id,
        visit: w.step_visit,
    };
    let (args, run_at) = match step.kind {
        StepKind::Action => (JobArgs::RunStep(target), w.updated_at),
        StepKind::Delay => (
            JobArgs::RunStep(target),
            w.updated_at + chrono::Duration::minutes(i64::from(step.delay.unwrap_or(0))),
        ),
        _ => (JobArgs::StepTimeout(target), w.due_at?),
    };
    Some(NewJob::new(&args, run_at))
}

fn decision_error(e: DecisionError) -> EngineError {
    match e {
        DecisionError::CreatorMayNotDecide | DecisionError::DecidedAnotherStep(_) => {
            EngineError::SegregationOfDuties(e.to_string())
        }
        DecisionError::NotAssignee(_) => EngineError::NotAssignee(e.to_string()),
        DecisionError::AlreadyVoted | DecisionError::StepClosed => {
            EngineError::Conflict(e.to_string())
        }
        DecisionError::NotApproval(_) => invalid_transition(e.to_string()),
    }
}

fn audit_entry(
    w: &Instance,
    action: AuditAction,
    old: Option<Value>,
    actor: &Actor,
) -> Result<AuditEntry, EngineError> {
    let new = json!({"status": w.status.as_str(), "currentStep": w.current_step, "priority": w.priority.as_str(), "workflowType": w.workflow_type});
    Ok(AuditEntry::new(
        "workflow_instances",
        w.id,
        action,
        old,
        Some(new),
        actor.clone(),
    )?)
}
