//! `/api/v1/workflow-definitions`: templates, their immutable versions, import and export.

use axum::extract::State;
use betflow_domain::workflow::graph::{Branch, Edge, StepDef, TimeoutAction, WorkflowGraph};
use betflow_domain::workflow::record::{Definition, Version};
use betflow_engine::workflows::NewDefinition;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::automations::policy::{RetryDto, StepTimeoutDto};
use uuid::Uuid;

use super::catalog::dto::{NulFreeJson, NulFreeObject};
use super::dto::{ListData, PageParams};
use super::workflows::{Created, StepKindDto, TagValue, check_tags, refused_by_rules};
use crate::AppState;
use crate::auth::{Authorized, ClientInfo};
use crate::envelope::{ApiResponse, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};

pub const TAG: &str = "workflow-definitions";

crate::permissions! {
    Read => ["workflows:read"];
    Manage => ["workflows:create", "workflows:update"];
}

// ---- the graph on the wire -------------------------------------------------------------
//
// The domain's graph types carry no OpenAPI schema, so the API reads and writes these twins
// and converts with exhaustive struct literals: a field added on one side and not the other
// does not compile. Their defaults are the domain's; unlike storage, the API refuses unknown
// fields, so a misspelt one (`timeOut`) is a 400 rather than a step silently without it.

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// What happens when an approval or task step's timeout passes. Default: escalate, adding
/// no role. Unknown fields are refused (400).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum TimeoutActionDto {
    /// Add these roles as assignees and raise a notification; the step stays open.
    Escalate {
        #[serde(default, rename = "addRoles")]
        add_roles: Vec<String>,
    },
    /// Reject the step (and so, without a `rejected` edge, the workflow). A struct variant,
    /// not a unit one, so that serde refuses unknown fields here too.
    AutoReject {},
    /// Follow the step's `timeout` edge.
    FollowTimeoutEdge {},
}

// Written out because utoipa does not carry `deny_unknown_fields` into an internally tagged
// enum's variants; `timeout_action_schema_names_every_variant` below keeps it in step.
impl utoipa::PartialSchema for TimeoutActionDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Type,
        };
        let variant = |action: &str, description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(description))
                .property(
                    "action",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([action])),
                )
                .required("action")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        OneOfBuilder::new()
            .item(
                variant(
                    "escalate",
                    "Add these roles as assignees and raise a notification; the step stays open.",
                )
                .property(
                    "addRoles",
                    ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name("RoleName")),
                ),
            )
            .item(variant(
                "auto_reject",
                "Reject the step (and so, without a `rejected` edge, the workflow).",
            ))
            .item(variant(
                "follow_timeout_edge",
                "Follow the step's `timeout` edge.",
            ))
            .description(Some(
                "What happens when an approval or task step's timeout passes. Default: \
                 escalate, adding no role. Unknown fields are refused (400).",
            ))
            .into()
    }
}

impl ToSchema for TimeoutActionDto {
    fn name() -> std::borrow::Cow<'static, str> {
        "TimeoutAction".into()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "RoleName".to_owned(),
            <RoleName as utoipa::PartialSchema>::schema(),
        ));
    }
}

impl Default for TimeoutActionDto {
    fn default() -> Self {
        Self::Escalate { add_roles: vec![] }
    }
}

impl From<TimeoutAction> for TimeoutActionDto {
    fn from(a: TimeoutAction) -> Self {
        match a {
            TimeoutAction::Escalate { add_roles } => Self::Escalate { add_roles },
            TimeoutAction::AutoReject => Self::AutoReject {},
            TimeoutAction::FollowTimeoutEdge => Self::FollowTimeoutEdge {},
        }
    }
}

impl From<TimeoutActionDto> for TimeoutAction {
    fn from(a: TimeoutActionDto) -> Self {
        match a {
            TimeoutActionDto::Escalate { add_roles } => Self::Escalate { add_roles },
            TimeoutActionDto::AutoReject {} => Self::AutoReject,
            TimeoutActionDto::FollowTimeoutEdge {} => Self::FollowTimeoutEdge,
        }
    }
}

/// A role name, e.g. `trading_manager`; an unknown one is a 422 naming its step.
#[derive(ToSchema)]
#[schema(as = RoleName, pattern = r"^[^\u0000]*$", example = "trading_manager")]
pub struct RoleName(#[allow(dead_code)] String);

/// One step. Unknown fields are refused (400); optional fields may be null, which means
/// absent. Which fields apply depends on `type`; publishing validates the whole graph and
/// reports every problem at once, each with its step (422).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = Step)]
pub struct StepDto {
    /// 1 to 100 characters (UTF-8 bytes), not only whitespace, unique in the graph.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub id: String,
    /// Not only whitespace.
    #[schema(
        min_length = 1,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: StepKindDto,
    /// Roles that may act on the step; at least one for approval and task steps.
    #[serde(default)]
    #[schema(value_type = Vec<RoleName>)]
    pub assignees: Vec<String>,
    /// Default `true`.
    #[serde(default = "yes")]
    pub required: bool,
    /// Until the step times out: minutes, or a duration such as `"30s"` (for an action
    /// step, how long one attempt may run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<StepTimeoutDto>,
    /// For an action step: how it retries before taking its `error` edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryDto>,
    #[serde(default)]
    pub on_timeout: TimeoutActionDto,
    /// Approvals needed (quorum) of an approval step: 1 to 20. Default 1; ignored on other
    /// kinds.
    #[serde(default = "one")]
    #[schema(value_type = i64, format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub required_approvals: u32,
    /// The creator may not decide this step, and nobody may decide two approval steps of
    /// one workflow. Default `true`.
    #[serde(default = "yes")]
    pub four_eyes: bool,
    /// For a condition step: a CEL expression over `data`, `priority` and `workflowType`
    /// (leaves by `true`/`false`; an evaluation error takes `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub condition: Option<String>,
    /// For an action step: `noop`, `set_data` (`params` merged into the data as an RFC 7396
    /// merge patch) or `emit_event` (`params: {event, payload?}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[^\u0000]*$")]
    pub action: Option<String>,
    /// The action's parameters (any JSON; each action checks its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = NulFreeJson)]
    pub params: Option<Value>,
    /// For a delay step: minutes to wait (at least 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, format = Int64, minimum = 1, maximum = 4_294_967_295_u64)]
    pub delay: Option<u32>,
}

impl From<StepDef> for StepDto {
    fn from(s: StepDef) -> Self {
        Self {
            id: s.id,
            name: s.name,
            kind: s.kind.into(),
            assignees: s.assignees,
            required: s.required,
            timeout: s.timeout.map(Into::into),
            retry: s.retry.map(Into::into),
            on_timeout: s.on_timeout.into(),
            required_approvals: s.required_approvals,
            four_eyes: s.four_eyes,
            condition: s.condition,
            action: s.action,
            params: s.params,
            delay: s.delay,
        }
    }
}

impl From<StepDto> for StepDef {
    fn from(s: StepDto) -> Self {
        Self {
            id: s.id,
            name: s.name,
            kind: s.kind.into(),
            assignees: s.assignees,
            required: s.required,
            timeout: s.timeout.map(Into::into),
            retry: s.retry.map(Into::into),
            on_timeout: s.on_timeout.into(),
            required_approvals: s.required_approvals,
            four_eyes: s.four_eyes,
            condition: s.condition,
            action: s.action,
            params: s.params,
            delay: s.delay,
        }
    }
}

/// Which way a step leaves: approval steps by `approved`/`rejected`, conditions by
/// `true`/`false`, other steps by `default`; `timeout` where `onTimeout` follows it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Branch)]
pub enum BranchDto {
    #[default]
    Default,
    Approved,
    Rejected,
    True,
    False,
    Timeout,
    Error,
}

impl From<Branch> for BranchDto {
    fn from(b: Branch) -> Self {
        match b {
            Branch::Default => Self::Default,
            Branch::Approved => Self::Approved,
            Branch::Rejected => Self::Rejected,
            Branch::True => Self::True,
            Branch::False => Self::False,
            Branch::Timeout => Self::Timeout,
            Branch::Error => Self::Error,
        }
    }
}

impl From<BranchDto> for Branch {
    fn from(b: BranchDto) -> Self {
        match b {
            BranchDto::Default => Self::Default,
            BranchDto::Approved => Self::Approved,
            BranchDto::Rejected => Self::Rejected,
            BranchDto::True => Self::True,
            BranchDto::False => Self::False,
            BranchDto::Timeout => Self::Timeout,
            BranchDto::Error => Self::Error,
        }
    }
}

/// A branch edge between two steps. Unknown fields are refused (400).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Edge)]
pub struct EdgeDto {
    #[schema(pattern = r"^[^\u0000]*$")]
    pub from: String,
    #[schema(pattern = r"^[^\u0000]*$")]
    pub to: String,
    /// Default `default`.
    #[serde(default)]
    pub branch: BranchDto,
}

impl From<Edge> for EdgeDto {
    fn from(e: Edge) -> Self {
        Self {
            from: e.from,
            to: e.to,
            branch: e.branch.into(),
        }
    }
}

impl From<EdgeDto> for Edge {
    fn from(e: EdgeDto) -> Self {
        Self {
            from: e.from,
            to: e.to,
            branch: e.branch.into(),
        }
    }
}

fn graph(steps: Vec<StepDto>, edges: Vec<EdgeDto>) -> WorkflowGraph {
    WorkflowGraph {
        steps: steps.into_iter().map(StepDef::from).collect(),
        edges: edges.into_iter().map(Edge::from).collect(),
    }
}

fn steps_of(g: &WorkflowGraph) -> Vec<StepDto> {
    g.steps.iter().cloned().map(StepDto::from).collect()
}

fn edges_of(g: &WorkflowGraph) -> Vec<EdgeDto> {
    g.edges.iter().cloned().map(EdgeDto::from).collect()
}

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
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest version.
    pub current: VersionDto,
}

fn dto(d: Definition, v: &Version) -> DefinitionDto {
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
        created_at: d.created_at,
        updated_at: d.updated_at,
        current: v.into(),
    }
}

/// A 201 answering with a definition, located at its key.
fn created_definition(d: DefinitionDto, message: &str) -> Created<DefinitionDto> {
    let location = format!("/api/v1/workflow-definitions/{}", d.key);
    Created::new(location, ApiResponse::created(d).message(message))
}

/// Whether a violation of a definition is of a rule the document cannot state: the graph as
/// a whole (reachability, branches, what each kind of step needs, known roles) and whether
/// the data schema compiles. Those are 422; the fields the schema describes are 400.
fn graph_rule(field: &str) -> bool {
    field == "steps"
        || field.starts_with("steps.")
        || field.starts_with("edges")
        || field == "dataSchema"
}

/// The default key of a copy: `<key>_copy`, the key shortened as needed so the result is a
/// valid key (at most 100 characters) whenever the original is one.
fn copy_key(key: &str) -> String {
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
fn check_data_schema(schema: Option<&Value>) -> Result<(), ApiError> {
    match schema {
        Some(s) if !s.is_object() => Err(betflow_domain::DomainError::invalid(
            "dataSchema",
            "must be a JSON Schema object",
        )
        .into()),
        _ => Ok(()),
    }
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions", tag = TAG, summary = "List definitions",
    description = "Requires `workflows:read`. By key.",
    params(PageParams),
    responses((status = 200, body = Envelope<ListData<DefinitionDto>>)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiQuery(paging): ApiQuery<PageParams>,
) -> Result<ApiResponse<ListData<DefinitionDto>>, ApiError> {
    let request = paging.request()?;
    // Definitions are few and cached with their versions: the page is cut here.
    let all = state.engine.workflows().definitions().await?;
    let total = all.len() as u64;
    let offset = usize::try_from(request.offset()).unwrap_or(usize::MAX);
    let items = all
        .into_iter()
        .skip(offset)
        .take(request.limit() as usize)
        .collect();
    let page = betflow_domain::Page::new(items, total, request);
    Ok(ApiResponse::ok(ListData::from_page(page, |(d, v)| {
        dto(d, &v)
    })))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions", tag = TAG, summary = "Create or import a definition",
    description = "Requires `workflows:create` and `workflows:update`. Publishing validates the \
                   graph (one start, every step reachable, every path reaches an end, roles \
                   exist) and reports every problem at once, each with its step (422).",
    request_body = DefinitionDocument,
    responses((status = 201, body = Envelope<DefinitionDto>,
        description = "Created; `Location` is the definition's URL",
        headers(("Location" = String, description = "`/api/v1/workflow-definitions/{key}`")),
        links(
            ("workflow_definitions_get" = (operation_id = "workflow_definitions_get",
                parameters(("key" = "$response.body#/data/key")),
                description = "The created definition")),
            ("workflow_definitions_publish" = (operation_id = "workflow_definitions_publish",
                parameters(("key" = "$response.body#/data/key")),
                description = "Publish a new version of it")),
            ("workflow_definitions_versions" = (operation_id = "workflow_definitions_versions",
                parameters(("key" = "$response.body#/data/key")),
                description = "Its versions")),
            ("workflow_definitions_duplicate" = (operation_id = "workflow_definitions_duplicate",
                parameters(("key" = "$response.body#/data/key")),
                description = "Copy it under a new key")),
            ("workflow_definitions_export" = (operation_id = "workflow_definitions_export",
                parameters(("key" = "$response.body#/data/key")),
                description = "Export it")),
        )),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: the key is taken"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR, `details` naming \
            each problem (`steps`, `steps.<id>`, `dataSchema`): the graph breaks a publishing \
            rule, or the data schema does not compile")))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiJson(body): ApiJson<DefinitionDocument>,
) -> Result<Created<DefinitionDto>, ApiError> {
    check_tags("tags", &body.tags)?;
    check_data_schema(body.data_schema.as_ref())?;
    let (d, v) = state
        .engine
        .workflows()
        .create_definition(
            &principal,
            NewDefinition {
                key: body.key,
                name: body.name,
                description: body.description,
                category: body.category,
                tags: body.tags,
                data_schema: body.data_schema,
                graph: graph(body.steps, body.edges),
            },
            &actor,
        )
        .await
        .map_err(|e| refused_by_rules(e, graph_rule))?;
    Ok(created_definition(
        dto(d, &v),
        "Workflow definition created",
    ))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}", tag = TAG, summary = "Get a definition",
    description = "Requires `workflows:read`.", params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")),
    responses((status = 200, body = Envelope<DefinitionDto>)))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<DefinitionDto>, ApiError> {
    let (d, v) = state.engine.workflows().definition(&key).await?;
    Ok(ApiResponse::ok(dto(d, &v)))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/versions", tag = TAG, summary = "Publish a version",
    description = "Requires `workflows:create` and `workflows:update`. The graph is validated as \
                   on creation (422). Running workflows keep the version they started on.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")), request_body = PublishRequest,
    responses((status = 201, body = Envelope<VersionDto>),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: another version was \
            published at the same time; retry"),
        (status = 422, body = ErrorEnvelope, description = "VALIDATION_ERROR, `details` naming \
            each problem (`steps`, `steps.<id>`): the graph breaks a publishing rule")))]
pub async fn publish(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<PublishRequest>,
) -> Result<ApiResponse<VersionDto>, ApiError> {
    let v = state
        .engine
        .workflows()
        .publish_version(&principal, &key, graph(body.steps, body.edges), &actor)
        .await
        .map_err(|e| refused_by_rules(e, graph_rule))?;
    Ok(ApiResponse::created(VersionDto::from(&v)).message("Version published"))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/versions", tag = TAG, summary = "List versions",
    description = "Requires `workflows:read`. Oldest first.", params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")),
    responses((status = 200, body = Envelope<Vec<VersionDto>>)))]
pub async fn versions(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<Vec<VersionDto>>, ApiError> {
    let all = state.engine.workflows().versions(&key).await?;
    Ok(ApiResponse::ok(all.iter().map(VersionDto::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/workflow-definitions/{key}/duplicate", tag = TAG, summary = "Duplicate a definition",
    description = "Requires `workflows:create` and `workflows:update`. Copies the latest version \
                   and the data schema under a new key. The body is optional.",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")), request_body = Option<DuplicateRequest>,
    responses((status = 201, body = Envelope<DefinitionDto>,
        description = "Created; `Location` is the copy's URL",
        headers(("Location" = String, description = "`/api/v1/workflow-definitions/{key}`"))),
        (status = 409, body = ErrorEnvelope, description = "CONFLICT: the new key is taken")))]
pub async fn duplicate(
    State(state): State<AppState>,
    Authorized(principal, _): Authorized<Manage>,
    ClientInfo(actor): ClientInfo,
    ApiPath(key): ApiPath<String>,
    OptionalJson(body): OptionalJson<Option<DuplicateRequest>>,
) -> Result<Created<DefinitionDto>, ApiError> {
    let body = body.unwrap_or_default();
    let new_key = body.key.unwrap_or_else(|| copy_key(&key));
    let (d, v) = state
        .engine
        .workflows()
        .duplicate(&principal, &key, new_key, body.name, &actor)
        .await?;
    Ok(created_definition(
        dto(d, &v),
        "Workflow definition duplicated",
    ))
}

#[utoipa::path(get, path = "/api/v1/workflow-definitions/{key}/export", tag = TAG, summary = "Export a definition",
    description = "Requires `workflows:read`. `data` is a valid body for `POST \
                   /workflow-definitions` (change the key to import it as a new one).",
    params(("key" = String, Path, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        description = "The definition key")),
    responses((status = 200, body = Envelope<DefinitionDocument>)))]
pub async fn export(
    State(state): State<AppState>,
    _auth: Authorized<Read>,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiResponse<DefinitionDocument>, ApiError> {
    let (d, v) = state.engine.workflows().definition(&key).await?;
    Ok(ApiResponse::ok(DefinitionDocument {
        key: d.key,
        name: d.name,
        description: d.description,
        category: d.category,
        tags: d.tags,
        data_schema: d.data_schema,
        steps: steps_of(&v.graph),
        edges: edges_of(&v.graph),
    }))
}

/// The workflow definition routes, with their OpenAPI paths.
pub(crate) fn router() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(list, create))
        .routes(utoipa_axum::routes!(get))
        .routes(utoipa_axum::routes!(publish, versions))
        .routes(utoipa_axum::routes!(duplicate))
        .routes(utoipa_axum::routes!(export))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written schema of [`TimeoutActionDto`] lists exactly the tags serde writes.
    #[test]
    fn timeout_action_schema_names_every_variant() {
        let written: Vec<String> = [
            TimeoutActionDto::Escalate { add_roles: vec![] },
            TimeoutActionDto::AutoReject {},
            TimeoutActionDto::FollowTimeoutEdge {},
        ]
        .iter()
        .map(|a| {
            serde_json::to_value(a).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
        let schema =
            serde_json::to_value(<TimeoutActionDto as utoipa::PartialSchema>::schema()).unwrap();
        let declared: Vec<String> = schema["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v["properties"]["action"]["enum"][0]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(written, declared);
        for v in schema["oneOf"].as_array().unwrap() {
            assert_eq!(v["additionalProperties"], false, "{v}");
        }
        // And serde does refuse what the schema forbids, on every variant.
        for extra in [
            r#"{"action": "escalate", "x": 1}"#,
            r#"{"action": "auto_reject", "x": 1}"#,
            r#"{"action": "follow_timeout_edge", "x": 1}"#,
        ] {
            assert!(
                serde_json::from_str::<TimeoutActionDto>(extra).is_err(),
                "{extra}"
            );
        }
        let plain: TimeoutActionDto = serde_json::from_str(r#"{"action": "auto_reject"}"#).unwrap();
        assert!(matches!(plain, TimeoutActionDto::AutoReject {}));
    }
}
