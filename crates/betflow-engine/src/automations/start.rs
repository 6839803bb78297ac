//! Starting a run: a workflow instance of the definition's latest published version, with
//! its input as the data, plus its execution row and `execution.started`, in one
//! transaction. Idempotent on (trigger id, trigger event id): a redelivered event or a
//! schedule fired twice returns the run it already started.

use betflow_domain::audit::Actor;
use betflow_domain::automation::execution::TriggerType;
use betflow_domain::ids::WorkflowId;
use serde_json::Value;
use uuid::Uuid;

use crate::{Engine, EngineError};

/// A run to start.
#[derive(Debug, Clone)]
pub struct StartExecution {
    pub definition_key: String,
    pub trigger: TriggerRef,
    /// Becomes the instance's `data` (so it must be a JSON object) and the expressions'
    /// `input`; for an event trigger, `{type, id, data}` of the event (also `event`).
    pub input: Value,
}

/// What started a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRef {
    pub kind: TriggerType,
    /// The subscription, schedule or inbound endpoint, if any.
    pub trigger_id: Option<Uuid>,
    /// The occurrence (event id, schedule fire time, inbound message id): with `trigger_id`,
    /// what makes a start idempotent.
    pub event_id: Option<String>,
}

impl TriggerRef {
    /// A person's run (`POST …/execute`).
    pub fn manual() -> Self {
        Self {
            kind: TriggerType::Manual,
            trigger_id: None,
            event_id: None,
        }
    }

    /// A test run: external actions are rendered, not performed.
    pub fn test() -> Self {
        Self {
            kind: TriggerType::Test,
            ..Self::manual()
        }
    }
}

/// The run, and whether this call created it (`false`: the trigger's occurrence had one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub execution_id: WorkflowId,
    pub created: bool,
}

impl Engine {
    /// Starts a run of `start.definition_key` (see the module docs). An unknown, inactive or
    /// deleted definition is `NotFound`; input that is not a JSON object, or that the
    /// definition's data schema refuses, is `Invalid`.
    #[tracing::instrument(name = "automations.start", skip_all, fields(definition = %start.definition_key, trigger = %start.trigger.kind))]
    pub async fn start_execution(
        &self,
        start: StartExecution,
        actor: &Actor,
    ) -> Result<Started, EngineError> {
        let started = self
            .workflows()
            .create_execution(&start, actor.user_id, actor)
            .await?;
        Ok(started)
    }
}
