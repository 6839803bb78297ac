//! Starting a run for a trigger occurrence, through the executions API (decision 6 of the
//! automations design): keyed on (trigger id, event id), so a second start of the same
//! occurrence returns the first run.

use betflow_domain::audit::Actor;
use betflow_domain::automation::execution::TriggerType;
use betflow_domain::automation::triggers::TriggerStart;
use betflow_domain::ids::WorkflowId;
use serde_json::Value;
use uuid::Uuid;

use crate::automations::start::{StartExecution, TriggerRef};
use crate::{Engine, EngineError};

impl Engine {
    /// Starts (or finds) the run of one trigger occurrence. Returns the execution id and
    /// whether this call created it.
    pub async fn start_triggered(
        &self,
        definition_key: &str,
        kind: TriggerType,
        trigger_id: Uuid,
        event_id: Option<String>,
        input: Value,
    ) -> Result<(WorkflowId, bool), EngineError> {
        let started = self
            .start_execution(
                StartExecution {
                    definition_key: definition_key.to_owned(),
                    trigger: TriggerRef {
                        kind,
                        trigger_id: Some(trigger_id),
                        event_id,
                    },
                    input,
                },
                &Actor::default(),
            )
            .await?;
        Ok((started.execution_id, started.created))
    }

    /// The `automation.trigger_start` job. A refusal that no retry can change (the
    /// definition is gone, inactive or has no published version) is logged and the job ends;
    /// a fault on our side is retried by the worker.
    pub(crate) async fn run_trigger_start(&self, s: &TriggerStart) -> Result<(), EngineError> {
        let Some(kind) = TriggerType::parse(&s.trigger_type) else {
            tracing::warn!(trigger = %s.trigger_id, kind = %s.trigger_type,
                "a trigger start job of an unknown trigger type; dropped");
            return Ok(());
        };
        match self
            .start_triggered(
                &s.definition_key,
                kind,
                s.trigger_id,
                Some(s.event_id.clone()),
                s.input.clone(),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.refusal().is_some() => {
                tracing::warn!(trigger = %s.trigger_id, event = %s.event_id,
                    definition = %s.definition_key, error = %e,
                    "a trigger could not start its run");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
