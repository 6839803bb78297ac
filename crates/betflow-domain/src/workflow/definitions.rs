//! Definitions as a catalogue (seed 004's `workflowRepository.findByUser`): the list's
//! filters and order, and drafts (seed 003's `workflow_step` / `workflow_edge`, built one
//! change at a time) with the pure edits a draft accepts.
//!
//! A draft is the one unpublished graph of a definition. Publishing validates it as a whole
//! ([`WorkflowGraph::validate`], every problem at once) and turns it into a new immutable
//! version; until then each edit only checks what it touches.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::graph::{Branch, Edge, StepDef, WorkflowGraph};
use crate::{DomainError, Violation};

/// Which definitions a list shows by state. Deleted ones are never listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionStatus {
    /// May start runs.
    Active,
    /// Deactivated: starts nothing new; running workflows continue.
    Inactive,
    /// Has an open draft.
    Draft,
}

impl DefinitionStatus {
    pub const NAMES: &'static [&'static str] = &["active", "inactive", "draft"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "inactive" => Some(Self::Inactive),
            "draft" => Some(Self::Draft),
            _ => None,
        }
    }
}

/// A column the list may be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionOrderField {
    Key,
    Name,
    Category,
    CreatedAt,
    UpdatedAt,
}

impl DefinitionOrderField {
    /// The names `orderBy` accepts, as the API spells them.
    pub const NAMES: &'static [&'static str] =
        &["key", "name", "category", "createdAt", "updatedAt"];

    /// The column (a whitelist: only these ever reach SQL).
    pub fn column(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Name => "name",
            Self::Category => "category",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}

/// `orderBy`: a field and a direction, e.g. `updatedAt:desc` or `name` (ascending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefinitionOrder {
    pub field: DefinitionOrderField,
    pub descending: bool,
}

impl Default for DefinitionOrder {
    fn default() -> Self {
        Self {
            field: DefinitionOrderField::Key,
            descending: false,
        }
    }
}

impl DefinitionOrder {
    /// Parses `field[:asc|desc]`; anything else names the accepted values.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let refuse = || {
            DomainError::invalid(
                "orderBy",
                format!(
                    "must be one of {} optionally followed by :asc or :desc",
                    DefinitionOrderField::NAMES.join(", ")
                ),
            )
        };
        let (name, dir) = match s.split_once(':') {
            Some((n, d)) => (n, d),
            None => (s, "asc"),
        };
        let field = match name {
            "key" => DefinitionOrderField::Key,
            "name" => DefinitionOrderField::Name,
            "category" => DefinitionOrderField::Category,
            "createdAt" => DefinitionOrderField::CreatedAt,
            "updatedAt" => DefinitionOrderField::UpdatedAt,
            _ => return Err(refuse()),
        };
        let descending = match dir {
            "asc" => false,
            "desc" => true,
            _ => return Err(refuse()),
        };
        Ok(Self { field, descending })
    }
}

/// The list's filters (all optional, combined with AND) and its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionFilter {
    pub status: Option<DefinitionStatus>,
    /// Every one of these tags.
    pub tags: Vec<String>,
    /// Case-insensitive substring of the key, name or description.
    pub search: Option<String>,
    /// `created_by`.
    pub owner: Option<Uuid>,
    pub order: DefinitionOrder,
    pub offset: u64,
    pub limit: u32,
}

/// The open draft of a definition: its graph as edited so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub definition_id: Uuid,
    /// The version it started from; `None` when it started empty.
    pub base_version: Option<u32>,
    pub graph: WorkflowGraph,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why a draft edit was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftError {
    /// No step (or edge) of that identity in the draft.
    Missing(String),
    /// The step id (or the edge) is already there.
    Exists(String),
    /// The edit itself is malformed.
    Invalid(DomainError),
}

fn check_step_id(id: &str) -> Result<(), DraftError> {
    if id.trim().is_empty() || id.len() > super::graph::MAX_STEP_ID_LEN {
        return Err(DraftError::Invalid(DomainError::Validation(vec![
            Violation::new(
                "id",
                format!("must be 1 to {} characters", super::graph::MAX_STEP_ID_LEN),
            ),
        ])));
    }
    Ok(())
}

impl Draft {
    /// Appends a step (the first step of a graph is its start).
    pub fn add_step(&mut self, step: StepDef) -> Result<(), DraftError> {
        check_step_id(&step.id)?;
        if self.graph.step(&step.id).is_some() {
            return Err(DraftError::Exists(format!("step {:?}", step.id)));
        }
        self.graph.steps.push(step);
        Ok(())
    }

    /// Replaces step `id` with `step`, in place; a new id renames the step's edges too.
    pub fn replace_step(&mut self, id: &str, step: StepDef) -> Result<(), DraftError> {
        check_step_id(&step.id)?;
        let Some(at) = self.graph.steps.iter().position(|s| s.id == id) else {
            return Err(DraftError::Missing(format!("step {id:?}")));
        };
        if step.id != id && self.graph.step(&step.id).is_some() {
            return Err(DraftError::Exists(format!("step {:?}", step.id)));
        }
        if step.id != id {
            for e in &mut self.graph.edges {
                if e.from == id {
                    e.from.clone_from(&step.id);
                }
                if e.to == id {
                    e.to.clone_from(&step.id);
                }
            }
        }
        self.graph.steps[at] = step;
        Ok(())
    }

    /// Removes step `id` and every edge into or out of it; answers how many edges went.
    pub fn remove_step(&mut self, id: &str) -> Result<usize, DraftError> {
        let before = self.graph.steps.len();
        self.graph.steps.retain(|s| s.id != id);
        if self.graph.steps.len() == before {
            return Err(DraftError::Missing(format!("step {id:?}")));
        }
        let edges = self.graph.edges.len();
        self.graph.edges.retain(|e| e.from != id && e.to != id);
        Ok(edges - self.graph.edges.len())
    }

    /// Connects two steps of the draft. Whether the branch suits the step, or two edges
    /// leave by one branch, is for publishing to report (with everything else).
    pub fn add_edge(&mut self, edge: Edge) -> Result<(), DraftError> {
        let mut v = Vec::new();
        for (field, id) in [("from", &edge.from), ("to", &edge.to)] {
            if self.graph.step(id).is_none() {
                v.push(Violation::new(
                    field,
                    format!("no step {id:?} in the draft"),
                ));
            }
        }
        if !v.is_empty() {
            return Err(DraftError::Invalid(DomainError::Validation(v)));
        }
        if self.graph.edges.contains(&edge) {
            return Err(DraftError::Exists(format!(
                "edge {} -> {} ({})",
                edge.from,
                edge.to,
                edge.branch.as_str()
            )));
        }
        self.graph.edges.push(edge);
        Ok(())
    }

    /// Removes the edge `from -> to` on `branch`.
    pub fn remove_edge(&mut self, from: &str, to: &str, branch: Branch) -> Result<(), DraftError> {
        let before = self.graph.edges.len();
        self.graph
            .edges
            .retain(|e| !(e.from == from && e.to == to && e.branch == branch));
        if self.graph.edges.len() == before {
            return Err(DraftError::Missing(format!(
                "edge {from} -> {to} ({})",
                branch.as_str()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::graph::StepKind;

    fn step(id: &str) -> StepDef {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "type": "task", "assignees": ["trader"]}))
        .unwrap()
    }

    fn empty() -> Draft {
        Draft {
            definition_id: Uuid::nil(),
            base_version: None,
            graph: WorkflowGraph {
                steps: vec![],
                edges: vec![],
            },
            created_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn edge(from: &str, to: &str) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            branch: Branch::Default,
        }
    }

    #[test]
    fn order_by_is_a_whitelist() {
        let o = DefinitionOrder::parse("updatedAt:desc").unwrap();
        assert_eq!(o.field, DefinitionOrderField::UpdatedAt);
        assert!(o.descending);
        assert!(!DefinitionOrder::parse("name").unwrap().descending);
        for bad in [
            "",
            "id",
            "name:up",
            "name;drop",
            "updated_at:desc",
            "name:asc:x",
        ] {
            assert!(DefinitionOrder::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn steps_and_edges_are_built_one_at_a_time() {
        let mut d = empty();
        d.add_step(step("a")).unwrap();
        d.add_step(step("b")).unwrap();
        assert!(matches!(d.add_step(step("a")), Err(DraftError::Exists(_))));
        assert!(matches!(d.add_step(step(" ")), Err(DraftError::Invalid(_))));
        d.add_edge(edge("a", "b")).unwrap();
        assert!(matches!(
            d.add_edge(edge("a", "b")),
            Err(DraftError::Exists(_))
        ));
        assert!(matches!(
            d.add_edge(edge("a", "zz")),
            Err(DraftError::Invalid(_))
        ));
        // Renaming a step renames its edges.
        let mut renamed = step("c");
        renamed.kind = StepKind::Task;
        d.replace_step("b", renamed).unwrap();
        assert_eq!(d.graph.edges, vec![edge("a", "c")]);
        assert!(matches!(
            d.replace_step("nope", step("x")),
            Err(DraftError::Missing(_))
        ));
        assert!(matches!(
            d.replace_step("a", step("c")),
            Err(DraftError::Exists(_))
        ));
        // Removing a step removes its edges.
        assert_eq!(d.remove_step("c").unwrap(), 1);
        assert!(d.graph.edges.is_empty());
        assert!(matches!(d.remove_step("c"), Err(DraftError::Missing(_))));
        assert!(matches!(
            d.remove_edge("a", "c", Branch::Default),
            Err(DraftError::Missing(_))
        ));
        assert!(d.graph.validate().is_ok(), "one task step is a valid graph");
    }
}
