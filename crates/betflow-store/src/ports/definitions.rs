//! Definitions as a catalogue and their drafts (issue 17): the filtered list, soft delete,
//! and the one open draft of each definition.

use async_trait::async_trait;
use betflow_domain::workflow::definitions::{DefinitionFilter, Draft};
use betflow_domain::workflow::record::Definition;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;

/// Reading the definition catalogue and drafts.
#[async_trait]
pub trait DefinitionRead {
    /// The window of live (not deleted) definitions matching `filter`, with how many match
    /// in all.
    async fn find_definitions(&self, filter: &DefinitionFilter) -> Result<(Vec<Definition>, u64)>;
    async fn get_draft(&self, definition_id: Uuid) -> Result<Option<Draft>>;
}

/// Writing definitions' state and drafts, inside a transaction.
#[async_trait]
pub trait DefinitionWrite {
    /// Reads a definition by key (deleted ones too) and locks it until the transaction
    /// ends: edits, deletes and publishes of one definition are serialised.
    async fn lock_definition(&mut self, key: &str) -> Result<Option<Definition>>;
    /// Soft-deletes: sets `deleted_at` and clears `is_active`. `false` if already deleted.
    async fn delete_definition(&mut self, id: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// The draft of a definition, read inside this transaction.
    async fn draft_in_tx(&mut self, definition_id: Uuid) -> Result<Option<Draft>>;
    /// Fails with [`StoreError::Conflict`](crate::StoreError::Conflict) when the definition
    /// already has a draft.
    async fn insert_draft(&mut self, draft: &Draft) -> Result<()>;
    /// Writes the graph and `updated_at`.
    async fn update_draft(&mut self, draft: &Draft) -> Result<()>;
    /// `false` when there was none.
    async fn delete_draft(&mut self, definition_id: Uuid) -> Result<bool>;
}
