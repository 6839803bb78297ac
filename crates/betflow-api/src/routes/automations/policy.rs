//! A step's automated behaviour on the wire: its timeout (minutes or a duration) and its
//! retry policy. The definitions' step schema names these.

use betflow_domain::workflow::policy::{Retry, StepTimeout};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Minutes until the step times out (a whole number, as approval and task steps have it),
/// or a duration such as `"30s"` (`ms`, `s`, `m`, `h`): for an action step, how long one
/// attempt may run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StepTimeoutDto {
    Minutes(u32),
    Duration(String),
}

impl utoipa::PartialSchema for StepTimeoutDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::Integer))
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Int64,
                    )))
                    .minimum(Some(1))
                    .maximum(Some(4_294_967_295_u64))
                    .description(Some("Minutes.")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .pattern(Some(r"^[0-9]+(ms|s|m|h)$"))
                    .description(Some("A duration: `100ms`, `30s`, `5m`, `2h`.")),
            )
            .description(Some(
                "Minutes until the step times out (a whole number), or a duration such as \
                 `\"30s\"`; for an action step, how long one attempt may run.",
            ))
            .into()
    }
}

impl ToSchema for StepTimeoutDto {
    fn name() -> std::borrow::Cow<'static, str> {
        "StepTimeout".into()
    }
}

impl From<StepTimeout> for StepTimeoutDto {
    fn from(t: StepTimeout) -> Self {
        match t {
            StepTimeout::Minutes(m) => Self::Minutes(m),
            StepTimeout::Duration(d) => Self::Duration(d),
        }
    }
}

impl From<StepTimeoutDto> for StepTimeout {
    fn from(t: StepTimeoutDto) -> Self {
        match t {
            StepTimeoutDto::Minutes(m) => Self::Minutes(m),
            StepTimeoutDto::Duration(d) => Self::Duration(d),
        }
    }
}

/// How an action step retries before taking its `error` edge (or failing the run).
/// Unknown fields are refused (400).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RetryPolicy)]
pub struct RetryDto {
    /// Attempts in all, the first included: 1 to 10.
    #[schema(minimum = 1, maximum = 10)]
    pub attempts: u32,
    /// The wait before the second attempt, doubling after each further failure with
    /// jitter: a duration such as `"100ms"` (at most `1h`). Default `1s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[0-9]+(ms|s|m|h)$", example = "100ms")]
    pub backoff: Option<String>,
}

impl From<Retry> for RetryDto {
    fn from(r: Retry) -> Self {
        Self {
            attempts: r.attempts,
            backoff: r.backoff,
        }
    }
}

impl From<RetryDto> for Retry {
    fn from(r: RetryDto) -> Self {
        Self {
            attempts: r.attempts,
            backoff: r.backoff,
        }
    }
}
