//! Running approval workflows: the `Workflows` service.
//!
//! The rules live in the domain (`betflow_domain::workflow::machine` decides every change,
//! `transition` and `events` derive what it writes, `seeded` declares what the seeded types
//! add); this module is the I/O around them. Every transition is one database transaction
//! that locks the workflow row, writes the new state, the decision, the timeline, step runs,
//! job, outbox events, the seeded types' effects and an audit row, and commits or leaves
//! nothing.
//!
//! - [`instances`]: create, start, edit, cancel, delete, read, list;
//! - [`decisions`]: approve, reject, complete a task, bulk approval, and the batching
//!   decider;
//! - [`definitions`]: definitions and their versions, the seeded ones;
//! - [`catalog`]: the filtered list of definitions, editing, deactivation, soft delete;
//! - [`drafts`]: a next version built a step at a time, then published;
//! - [`jobs`]: the worker's step timeouts and step runs;
//! - [`reports`]: analytics, statistics, export;
//! - [`views`]: what a response shows beside the row (progress, estimate);
//! - [`rows`]: writing a transition or a creation.

use std::sync::Arc;

use betflow_domain::ids::WorkflowId;
use betflow_domain::workflow::graph::StepKind;
use betflow_domain::workflow::record::{Approval, Instance, InstanceFilter, Version};
use betflow_domain::workflow::{DecisionError, MachineError, Priority, seeded};
use betflow_domain::{DomainError, text};
use betflow_store::{Store, Transaction};
use chrono::{DateTime, Utc};
use moka::future::Cache;
use serde_json::Value;
use uuid::Uuid;

use crate::EngineError;
use crate::batch::{BatchSettings, Batcher};

mod automated;
mod catalog;
mod decisions;
mod definitions;
mod drafts;
mod instances;
mod jobs;
mod reports;
mod rows;
mod views;

pub use catalog::DefinitionPatch;
use decisions::Decider;
pub use definitions::{GraphCheck, MAX_CATEGORY_LEN, NewDefinition};
pub use drafts::DraftStart;
pub use reports::{Analytics, EXPORT_PAGE, MAX_EXPORT, StepTiming, WorkflowStats};

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

/// The outcome of one id in a bulk action.
pub type BulkOutcome = (WorkflowId, Result<WorkflowView, EngineError>);

/// Most ids one bulk request may name.
pub const MAX_BULK: usize = 1000;

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
    /// What publishing checks of a graph (the engine's action registry included).
    graph_check: definitions::GraphCheck,
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

/// The engine's refusal for a decision the approval rules refuse.
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

/// The engine's error for what the state machine refused or could not do.
fn machine_error(e: MachineError) -> EngineError {
    match e {
        MachineError::InvalidTransition(msg) => EngineError::InvalidTransition(msg),
        MachineError::Refused(e) => decision_error(e),
        MachineError::Inconsistent(msg) => EngineError::Internal(msg),
    }
}

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
            graph_check: Arc::new(|g| g.validate()),
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
}
