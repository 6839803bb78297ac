//! Definitions' request and response bodies.

use betflow_domain::workflow::record::{Definition, Version};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::super::catalog::dto::NulFreeObject;
use super::super::workflows::{Created, TagValue};
use super::graph::{EdgeDto, StepDto, edges_of, steps_of};
use crate::envelope::ApiResponse;
use crate::error::ApiError;

// ---- requests and responses ------------------------------------------------------------

/// A definition as created, imported and exported: the export of one is a valid body for
/// `POST /workflow-definitions`. Unknown fields are refused (400).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "key": "odds_override",
    "name": "Odds Override",
    "category": "trading",
    "tags": ["odds"],
    "dataSchema": {"type": "object", "required": ["market"],
                   "properties": {"market": {"type": "string"}}},
    "steps": [
        {"id": "review", "name": "Risk review", "type": "approval",
         "assignees": ["risk_manager"], "timeout": 30, "fourEyes": false},
        {"id": "rework", "name": "Rework", "type": "task", "assignees": ["senior_trader"]}
    ],
    "edges": [
        {"from": "review", "to": "rework", "branch": "rejected"},
        {"from": "rework", "to": "review"}
    ]
}))]
pub struct DefinitionDocument {
    /// 3 to 100 of a-z, 0-9 and `_`; unique (409 `CONFLICT` when taken).
    #[schema(
        example = "odds_override",
        pattern = r"^[a-z0-9_]{3,100}$",
        min_length = 3,
        max_length = 100
    )]
    pub key: String,
    /// 1 to 255 characters, not only whitespace (it is trimmed).
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    #[schema(pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    pub description: Option<String>,
    /// At most 100 characters.
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub category: Option<String>,
    /// At most 20, each 1 to 50 characters (trimmed, repeats dropped).
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<TagValue>)]
    pub tags: Vec<String>,
    /// JSON Schema (an object) for the data of this definition's workflows; one that does
    /// not compile is a 422.
    #[schema(value_type = Option<NulFreeObject>)]
    pub data_schema: Option<Value>,
    /// Steps in order; the first is the start. At least one.
    #[schema(min_items = 1)]
    pub steps: Vec<StepDto>,
    /// Branch edges. Omitted or empty: the steps form a straight line.
    #[serde(default)]
    pub edges: Vec<EdgeDto>,
}

/// A new version's graph. Unknown fields are refused (400).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "steps": [
        {"id": "review", "name": "Risk review", "type": "approval",
         "assignees": ["risk_manager"], "requiredApprovals": 2, "timeout": 60}
    ]
}))]
pub struct PublishRequest {
    /// Steps in order; the first is the start. At least one.
    #[schema(min_items = 1)]
    pub steps: Vec<StepDto>,
    /// Omitted or empty: the steps form a straight line.
    #[serde(default)]
    pub edges: Vec<EdgeDto>,
}

/// The body is optional: without one the copy is `<key>_copy`, named `<name> (copy)` (each
/// shortened to stay within its limit).
/// Unknown fields are refused (400).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DuplicateRequest {
    /// Default: `<key>_copy` (the key shortened to keep it within 100 characters). 3 to 100
    /// of a-z, 0-9 and `_`.
    #[schema(pattern = r"^[a-z0-9_]{3,100}$", min_length = 3, max_length = 100)]
    pub key: Option<String>,
    /// Default: `<name> (copy)`. 1 to 255 characters, not only whitespace.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
}

/// One immutable version of a definition's graph.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionDto {
    #[schema(minimum = 1)]
    pub version: u32,
    pub steps: Vec<StepDto>,
    pub edges: Vec<EdgeDto>,
    pub published_by: Option<Uuid>,
    pub published_at: DateTime<Utc>,
}

impl From<&Version> for VersionDto {
    fn from(v: &Version) -> Self {
        Self {
            version: v.version,
            steps: steps_of(&v.graph),
            edges: edges_of(&v.graph),
            published_by: v.published_by,
            published_at: v.published_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionDto {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// JSON Schema for the data of this definition's workflows.
    #[schema(value_type = Option<Object>)]
    pub data_schema: Option<Value>,
    #[schema(minimum = 1)]
    pub latest_version: u32,
    /// `false`: deactivated, it starts no new runs (running workflows continue).
    pub is_active: bool,
    /// The owner: who created it (`null` for the seeded ones).
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest version.
    pub current: VersionDto,
}

pub(super) fn dto(d: Definition, v: &Version) -> DefinitionDto {
    DefinitionDto {
        id: d.id,
        key: d.key,
        name: d.name,
        description: d.description,
        category: d.category,
        tags: d.tags,
        data_schema: d.data_schema,
        latest_version: d.latest_version,
        is_active: d.is_active,
        created_by: d.created_by,
        created_at: d.created_at,
        updated_at: d.updated_at,
        current: v.into(),
    }
}

/// A 201 answering with a definition, located at its key.
pub(super) fn created_definition(d: DefinitionDto, message: &str) -> Created<DefinitionDto> {
    let location = format!("/api/v1/workflow-definitions/{}", d.key);
    Created::new(location, ApiResponse::created(d).message(message))
}

/// Whether a violation of a definition is of a rule the document cannot state: the graph as
/// a whole (reachability, branches, what each kind of step needs, known roles) and whether
/// the data schema compiles. Those are 422; the fields the schema describes are 400.
pub(super) fn graph_rule(field: &str) -> bool {
    field == "steps"
        || field.starts_with("steps.")
        || field.starts_with("edges")
        || field == "dataSchema"
}

/// The default key of a copy: `<key>_copy`, the key shortened as needed so the result is a
/// valid key (at most 100 characters) whenever the original is one.
pub(super) fn copy_key(key: &str) -> String {
    const SUFFIX: &str = "_copy";
    let keep = key
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|end| *end + SUFFIX.len() <= 100)
        .last()
        .unwrap_or(0);
    format!("{}{SUFFIX}", &key[..keep])
}

/// The `dataSchema` of a definition must be an object (a JSON Schema document); `true` and
/// `false`, valid JSON Schemas, would accept or refuse every workflow and are refused.
pub(super) fn check_data_schema(schema: Option<&Value>) -> Result<(), ApiError> {
    match schema {
        Some(s) if !s.is_object() => Err(betflow_domain::DomainError::invalid(
            "dataSchema",
            "must be a JSON Schema object",
        )
        .into()),
        _ => Ok(()),
    }
}
