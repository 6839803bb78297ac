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

/// Most action steps a test run drives inline.
const MAX_TEST_STEPS: usize = 100;

impl Engine {
    /// A test run of `definition_key` against `input`: started as `test` and driven inline
    /// through its action steps (external actions rendered, not performed) until it ends or
    /// reaches a step that waits (people, a delay, a retry's backoff). Returns the run as far
    /// as it went.
    pub async fn run_test(
        &self,
        definition_key: &str,
        input: Value,
        actor: &Actor,
    ) -> Result<super::ExecutionDetail, EngineError> {
        let start = StartExecution {
            definition_key: definition_key.to_owned(),
            trigger: TriggerRef::test(),
            input,
        };
        let started = self.start_execution(start, actor).await?;
        let id = started.execution_id;
        let store = self.workflows().store().clone();
        for _ in 0..MAX_TEST_STEPS {
            let Some(w) = store.get_workflow(id.uuid()).await? else {
                break;
            };
            let Some(step) = w.current_step.clone() else {
                break;
            };
            let graph = self
                .workflows()
                .store()
                .get_version(w.definition_id, w.version)
                .await?
                .map(|v| v.graph);
            let is_action = graph
                .as_ref()
                .and_then(|g| g.step(&step))
                .is_some_and(|s| s.kind == betflow_domain::workflow::graph::StepKind::Action);
            if w.status != betflow_domain::workflow::WorkflowStatus::InProgress || !is_action {
                break;
            }
            let job = betflow_domain::jobs::StepJob {
                workflow_id: w.id,
                step_id: step,
                visit: w.step_visit,
                attempt: 1,
            };
            self.run_step_job(&job, betflow_domain::time::now()).await?;
            let after = store.get_workflow(id.uuid()).await?;
            if after.is_none_or(|a| a.step_visit == w.step_visit && a.status == w.status) {
                // The step did not move (it waits, or backs off before a retry).
                break;
            }
        }
        self.get_execution(id).await
    }
}
