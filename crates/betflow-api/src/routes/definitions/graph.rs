//! The graph on the wire: steps, branches and edges as the API reads and writes them.

use betflow_domain::workflow::graph::{Branch, Edge, StepDef, TimeoutAction, WorkflowGraph};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::super::automations::policy::{RetryDto, StepTimeoutDto};
use super::super::catalog::dto::NulFreeJson;
use super::super::workflows::StepKindDto;

// ---- the graph on the wire -------------------------------------------------------------
//
// The domain's graph types carry no OpenAPI schema, so the API reads and writes these twins
// and converts with exhaustive struct literals: a field added on one side and not the other
// does not compile. Their defaults are the domain's; unlike storage, the API refuses unknown
// fields, so a misspelt one (`timeOut`) is a 400 rather than a step silently without it.

pub(super) fn one() -> u32 {
    1
}

pub(super) fn yes() -> bool {
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
/// `true`/`false`, other steps by `default`; `timeout` where `onTimeout` follows it;
/// `error` from an action step, taken once its retries are exhausted.
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

pub(super) fn graph(steps: Vec<StepDto>, edges: Vec<EdgeDto>) -> WorkflowGraph {
    WorkflowGraph {
        steps: steps.into_iter().map(StepDef::from).collect(),
        edges: edges.into_iter().map(Edge::from).collect(),
    }
}

pub(super) fn steps_of(g: &WorkflowGraph) -> Vec<StepDto> {
    g.steps.iter().cloned().map(StepDto::from).collect()
}

pub(super) fn edges_of(g: &WorkflowGraph) -> Vec<EdgeDto> {
    g.edges.iter().cloned().map(EdgeDto::from).collect()
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
