//! Workflow definitions, versions, instances and the rows a transition writes.

use async_trait::async_trait;
use betflow_domain::Page;
use betflow_domain::audit::AuditEntry;
use betflow_domain::events::NewEvent;
use betflow_domain::jobs::NewJob;
use betflow_domain::workflow::record::{
    Approval, BettingContent, BettingLine, Definition, Instance, InstanceFilter, StepRun,
    TimelineEvent, Version,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// Reading workflow definitions, versions and workflows.
#[async_trait]
pub trait WorkflowRead {
    /// By key, soft-deleted ones too (their running workflows still read it).
    async fn get_definition(&self, key: &str) -> Result<Option<Definition>>;
    /// Every definition not soft-deleted, by key.
    async fn list_definitions(&self) -> Result<Vec<Definition>>;
    async fn get_version(&self, definition_id: Uuid, version: u32) -> Result<Option<Version>>;
    /// Every version of a definition, oldest first.
    async fn list_versions(&self, definition_id: Uuid) -> Result<Vec<Version>>;
    async fn get_workflow(&self, id: Uuid) -> Result<Option<Instance>>;
    /// Newest first.
    async fn list_workflows(&self, filter: &InstanceFilter) -> Result<Page<Instance>>;
    /// Up to `limit` workflows matching `filter` (its page ignored), newest first, strictly
    /// older than `before` (`created_at`, `id`). Keyset paging: an export walking every page
    /// sees each row once even while workflows are created or deleted, and no count is paid.
    async fn scan_workflows(
        &self,
        filter: &InstanceFilter,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: u32,
    ) -> Result<Vec<Instance>>;
    /// Every decision on a workflow, oldest first.
    async fn list_approvals(&self, workflow_id: Uuid) -> Result<Vec<Approval>>;
    /// Every decision on each of `workflow_ids` (at most a page of them), oldest first.
    async fn list_approvals_for(&self, workflow_ids: &[Uuid]) -> Result<Vec<Approval>>;
    /// A workflow's history, oldest first.
    async fn list_timeline(&self, workflow_id: Uuid) -> Result<Vec<TimelineEvent>>;
    async fn get_betting_line(&self, workflow_id: Uuid) -> Result<Option<BettingLine>>;
    async fn get_betting_content(&self, workflow_id: Uuid) -> Result<Option<BettingContent>>;
    /// Workflows created since `from` (optionally of one type), counted by status.
    async fn count_by_status(
        &self,
        from: Option<DateTime<Utc>>,
        workflow_type: Option<&str>,
    ) -> Result<Vec<(String, u64)>>;
    /// Workflows (created since `from`) counted by type.
    async fn count_by_type(&self, from: Option<DateTime<Utc>>) -> Result<Vec<(String, u64)>>;
    /// A workflow's step runs, in visit order.
    async fn list_step_runs(&self, workflow_id: Uuid) -> Result<Vec<StepRun>>;
    /// Rows of the seed's `betting_content` and `betting_lines` tables.
    async fn count_domain_rows(&self) -> Result<(u64, u64)>;
    /// Open workflows whose current step's due time has passed.
    async fn count_overdue(&self, now: DateTime<Utc>, workflow_type: Option<&str>) -> Result<u64>;
    /// Completion times of workflows completed since `from`.
    async fn completion_times(
        &self,
        from: DateTime<Utc>,
        workflow_type: Option<&str>,
    ) -> Result<Vec<DateTime<Utc>>>;
    /// Decisions made since `from`: `(workflow type, step, when the step was entered, when it
    /// was decided)`.
    async fn decision_times(
        &self,
        from: DateTime<Utc>,
        workflow_type: Option<&str>,
    ) -> Result<Vec<(String, String, Option<DateTime<Utc>>, DateTime<Utc>)>>;
}

/// Writing workflow definitions, versions and workflows, inside a transaction.
#[async_trait]
pub trait WorkflowWrite {
    /// Fails with [`StoreError::Conflict`](crate::StoreError::Conflict) when the key exists.
    async fn insert_definition(&mut self, definition: &Definition) -> Result<()>;
    /// Fails with [`StoreError::Conflict`](crate::StoreError::Conflict) when that version number exists (a concurrent
    /// publish).
    async fn insert_version(&mut self, version: &Version) -> Result<()>;
    /// Writes the descriptive fields, data schema, latest version and `updated_at`.
    async fn update_definition(&mut self, definition: &Definition) -> Result<()>;
    async fn insert_workflow(&mut self, workflow: &Instance) -> Result<()>;
    /// Reads a workflow and locks it until the transaction ends: transitions of one workflow
    /// are serialised.
    async fn lock_workflow(&mut self, id: Uuid) -> Result<Option<Instance>>;
    async fn update_workflow(&mut self, workflow: &Instance) -> Result<()>;
    /// Reads and locks several workflows at once, in id order (so two batches, or a batch
    /// and a single transition, never deadlock); missing and deleted ones are left out.
    async fn lock_workflows(&mut self, ids: &[Uuid]) -> Result<Vec<Instance>>;
    /// Every decision on these workflows, read inside this transaction.
    async fn approvals_in_tx_for(&mut self, workflow_ids: &[Uuid]) -> Result<Vec<Approval>>;
    /// Writes transitions of different workflows, each as one unit: the decision that
    /// caused it (if any), the instance's new state, its step runs, the next step's job, the
    /// timeline rows, the outbox events and the audit row. They share statements: one per
    /// 14 KiB of parameters or so on PostgreSQL (data-modifying CTEs), one batch for the
    /// writer's thread on SQLite. A decision this user already made on this visit fails the
    /// whole call with [`StoreError::Conflict`](crate::StoreError::Conflict); the caller rolls back.
    async fn record_transitions(&mut self, transitions: &[TransitionRef<'_>]) -> Result<()>;
    /// Writes new workflows with their domain rows, first step runs and jobs, timeline rows,
    /// outbox events and audit rows, sharing statements as
    /// [`record_transitions`](Self::record_transitions) does.
    async fn record_creations(&mut self, creations: &[CreationRef<'_>]) -> Result<()>;
    /// Hides a workflow from reads; its rows and history stay. `false` if already gone.
    async fn delete_workflow(&mut self, id: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// Fails with [`StoreError::Conflict`](crate::StoreError::Conflict) if this user already decided this visit.
    async fn insert_approval(&mut self, approval: &Approval) -> Result<()>;
    /// Every decision on a workflow, read inside this transaction (so a caller holding the
    /// workflow's lock never needs a second pooled connection).
    async fn approvals_in_tx(&mut self, workflow_id: Uuid) -> Result<Vec<Approval>>;
    /// Appends events (one statement for all of them).
    async fn insert_timeline(&mut self, events: &[TimelineEvent]) -> Result<()>;
    /// Sets the status of a workflow's content row (no-op when it has none).
    async fn set_content_status(
        &mut self,
        workflow_id: Uuid,
        status: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;
}

/// One new workflow's rows, as [`WorkflowWrite::record_creations`] takes them.
#[derive(Debug, Clone, Copy)]
pub struct CreationRef<'a> {
    pub workflow: &'a Instance,
    pub row: Option<DomainRowRef<'a>>,
    pub step_runs: &'a [StepRun],
    pub job: Option<&'a NewJob>,
    pub timeline: &'a [TimelineEvent],
    pub events: &'a [NewEvent],
    pub audit: &'a AuditEntry,
}

/// One transition's rows, as [`WorkflowWrite::record_transitions`] takes them.
#[derive(Debug, Clone, Copy)]
pub struct TransitionRef<'a> {
    pub decision: Option<&'a Approval>,
    pub workflow: &'a Instance,
    /// Runs started or ended by the transition (written as upserts on the visit).
    pub step_runs: &'a [StepRun],
    pub job: Option<&'a NewJob>,
    pub timeline: &'a [TimelineEvent],
    pub events: &'a [NewEvent],
    pub audit: &'a AuditEntry,
}

/// The seed's row that goes with a new workflow of a seeded type.
#[derive(Debug, Clone, Copy)]
pub enum DomainRowRef<'a> {
    Line(&'a BettingLine),
    Content(&'a BettingContent),
}
