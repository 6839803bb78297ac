//! The action-step runner: the worker's `workflow.run_step` job.
//!
//! A registered action runs OUTSIDE any transaction: the workflow is locked to check it is
//! still at the step and to render the step's inputs, the lock is released, the action runs
//! (bounded by the step's timeout), then the workflow is locked again, checked still at that
//! step and visit, and the attempt and its transition are written together. A failed attempt
//! is retried per the step's `retry` (the job re-enqueued with the next attempt, after a
//! doubling backoff with jitter), then leaves by the step's `error` edge or fails the run.
//!
//! The domain's built-ins (`noop`, `set_data`, `emit_event`) and delays run in one
//! transaction, as the state machine says; in an execution they also get an attempt row.

use std::time::Duration;

use betflow_domain::audit::Actor;
use betflow_domain::automation::execution::{
    Execution, ExecutionStatus, StepExecution, TriggerType, mask_secrets,
};
use betflow_domain::automation::template::{self, Scope};
use betflow_domain::jobs::{JobArgs, NewJob, StepJob};
use betflow_domain::workflow::graph::{ACTIONS, StepDef, StepKind};
use betflow_domain::workflow::timeline::TimelineKind;
use betflow_domain::workflow::{Before, machine};
use betflow_store::Transaction;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{ActionCall, ActionError, ActionOutcome};
use crate::credentials::CredentialSecret;
use crate::{Engine, EngineError};

/// How long one attempt may run when its step names no timeout.
pub const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest timeout a step may ask for.
pub const MAX_ACTION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn internal(e: machine::MachineError) -> EngineError {
    EngineError::Internal(e.to_string())
}

/// A number in `0..1` from a fresh UUID's random bits.
fn jitter() -> f64 {
    let bits = Uuid::now_v7().as_u128() & 0xffff;
    bits as f64 / 65_536.0
}

/// What the step's expressions see, read in the locked transaction (`vars` were read before
/// the lock was taken).
async fn scope_values(
    tx: &mut Box<dyn Transaction>,
    execution: Option<&Execution>,
    vars: Value,
    data: &Value,
) -> Result<[Value; 4], EngineError> {
    let (input, event) = match execution {
        Some(e) if e.trigger_type == TriggerType::Event => (e.input.clone(), e.input.clone()),
        Some(e) => (e.input.clone(), Value::Null),
        None => (data.clone(), Value::Null),
    };
    let mut steps = Map::new();
    if let Some(e) = execution {
        for (step, output) in tx.step_outputs(e.id).await? {
            steps.insert(step, json!({ "output": output }));
        }
    }
    Ok([event, input, Value::Object(steps), vars])
}

/// The step's params with every expression rendered.
fn render(step: &StepDef, values: &[Value; 4], data: &Value) -> Result<Value, String> {
    let params = step.params.clone().unwrap_or(json!({}));
    let [event, input, steps, vars] = values;
    template::render(
        &params,
        &Scope {
            event,
            input,
            steps,
            vars,
            data,
        },
    )
}

impl Engine {
    /// The definition's variables for `vars.<name>` (secret ones decrypted).
    async fn definition_vars(&self, definition_id: Uuid) -> Result<Value, EngineError> {
        Ok(Value::Object(
            self.credentials().vars_for(definition_id).await?,
        ))
    }

    /// The credential a step names in `params.credentialId`, resolved for this attempt.
    async fn step_credential(
        &self,
        config: &Value,
        now: DateTime<Utc>,
    ) -> Result<Option<CredentialSecret>, ActionError> {
        match config.get("credentialId") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                let id: Uuid = s
                    .parse()
                    .map_err(|_| ActionError::permanent("credentialId is not a credential id"))?;
                match self.credentials().resolve(id, now).await {
                    Ok(c) => Ok(Some(c)),
                    // Gone, expired, undecryptable: another attempt cannot help.
                    Err(e) => match e.refusal() {
                        Some(r) => Err(ActionError::permanent(format!(
                            "credential {id}: {}",
                            r.message
                        ))),
                        None => Err(ActionError::retryable(format!("credential {id}: {e}"))),
                    },
                }
            }
            Some(_) => Err(ActionError::permanent("credentialId must be a string")),
        }
    }

    /// Runs an automated step (the worker's `workflow.run_step` job); see the module docs.
    pub async fn run_step_job(&self, job: &StepJob, now: DateTime<Utc>) -> Result<(), EngineError> {
        let wf = self.workflows();
        // The definition's variables are read before the lock is taken (a lock holder never
        // waits for a second pooled connection), and only for steps that use them.
        let mut vars: Option<Value> = None;
        let (mut tx, mut w, version) = loop {
            let Some((tx, w, version)) = wf.lock_at(job).await? else {
                return Ok(());
            };
            let uses_vars = version
                .graph
                .step(&job.step_id)
                .and_then(|s| s.params.as_ref())
                .is_some_and(|p| p.to_string().contains("vars"));
            if uses_vars && vars.is_none() {
                tx.rollback().await?;
                vars = Some(self.definition_vars(w.definition_id).await?);
                continue;
            }
            break (tx, w, version);
        };
        let graph = &version.graph;
        let step = graph
            .step(&job.step_id)
            .ok_or_else(|| EngineError::Internal(format!("step {} is missing", job.step_id)))?
            .clone();
        let key = step.action.clone().unwrap_or_else(|| "noop".into());
        let registry = self.automations().actions();
        let registered = (step.kind == StepKind::Action && !ACTIONS.contains(&key.as_str()))
            .then(|| registry.get(&key).cloned());
        let execution = tx.execution_in_tx(w.id).await?;
        let attempt = job.attempt.max(1);
        let actor = Actor::default();

        // Render the inputs of an action that has any.
        let rendered =
            if step.kind == StepKind::Action && (registered.is_some() || execution.is_some()) {
                let vars = vars.clone().unwrap_or_else(|| json!({}));
                let values = scope_values(&mut tx, execution.as_ref(), vars, &w.data).await?;
                Some(render(&step, &values, &w.data))
            } else {
                None
            };
        let params = match rendered {
            Some(Ok(p)) => Some(p),
            Some(Err(message)) => {
                let message = format!("the step's inputs do not render: {message}");
                let input = step.params.clone().unwrap_or(json!({}));
                return self
                    .fail(
                        tx,
                        w,
                        &version,
                        execution.as_ref(),
                        job,
                        attempt,
                        input,
                        None,
                        message,
                        now,
                        now,
                    )
                    .await;
            }
            None => None,
        };

        let action = match registered {
            None => {
                // A built-in or a delay, in this transaction.
                let prev = Before::of(&w);
                let entries = machine::run_step_with(&mut w, graph, params.as_ref(), now)
                    .map_err(internal)?;
                if let (Some(e), StepKind::Action) = (&execution, step.kind) {
                    let output = entries
                        .iter()
                        .find(|x| x.kind == TimelineKind::ActionCompleted)
                        .and_then(|x| x.data.get("result").cloned())
                        .unwrap_or(json!({}));
                    let input = mask_secrets(&params.unwrap_or(json!({})));
                    let row = StepExecution::finished(
                        e.id,
                        &step.id,
                        job.visit,
                        attempt,
                        input,
                        Ok(output),
                        now,
                        now,
                    );
                    tx.record_step_execution(&row).await?;
                }
                return wf
                    .commit_automated(tx, &prev, &w, graph, entries, &actor)
                    .await;
            }
            Some(None) => {
                let input = params.unwrap_or(json!({}));
                let message = format!("no action {key:?} is registered");
                return self
                    .fail(
                        tx,
                        w,
                        &version,
                        execution.as_ref(),
                        job,
                        attempt,
                        input,
                        None,
                        message,
                        now,
                        now,
                    )
                    .await;
            }
            Some(Some(a)) => a,
        };
        // A registered action: release the lock while it runs.
        tx.rollback().await?;
        let config = params.unwrap_or(json!({}));
        let timeout = step
            .timeout
            .as_ref()
            .and_then(|t| t.duration())
            .unwrap_or(DEFAULT_ACTION_TIMEOUT)
            .min(MAX_ACTION_TIMEOUT);
        let test_run = execution.as_ref().is_some_and(Execution::is_test);
        let started = betflow_domain::time::now();
        let credential = if test_run && action.spec().external {
            Ok(None)
        } else {
            self.step_credential(&config, started).await
        };
        // Sportsbook actions act on behalf of the definition's owner (the rule), so a
        // run started by an event, a schedule or an inbound hook acts with the same rights as
        // one started by hand; a definition without an owner (seeded) falls back to whoever
        // started the run.
        let owner = match self.store.get_definition(&w.workflow_type).await {
            Ok(Some(d)) => d.created_by.or(w.created_by),
            _ => w.created_by,
        };
        let outcome = match credential {
            Err(e) => Err(e),
            Ok(credential) => {
                let call = ActionCall {
                    engine: self,
                    execution_id: w.id.into(),
                    definition_key: &w.workflow_type,
                    step_id: &step.id,
                    attempt,
                    config: &config,
                    credential: credential.as_ref(),
                    owner: owner.map(Into::into),
                    now: started,
                    timeout,
                };
                if test_run && action.spec().external {
                    Ok(ActionOutcome::Done(action.render(&call)))
                } else {
                    match tokio::time::timeout(timeout, action.run(call)).await {
                        Ok(result) => result,
                        Err(_) => Err(ActionError::retryable(format!(
                            "timed out after {} ms",
                            timeout.as_millis()
                        ))),
                    }
                }
            }
        };
        let ended = betflow_domain::time::now();
        // Lock again: the run may have moved on (cancelled, say) while the action ran.
        let Some((mut tx, mut w, version)) = wf.lock_at(job).await? else {
            return Ok(());
        };
        let graph = &version.graph;
        let input = mask_secrets(&config);
        match outcome {
            Ok(ActionOutcome::Done(output)) => {
                if let Some(e) = &execution {
                    let row = StepExecution::finished(
                        e.id,
                        &step.id,
                        job.visit,
                        attempt,
                        input,
                        Ok(output.clone()),
                        started,
                        ended,
                    );
                    tx.record_step_execution(&row).await?;
                }
                let prev = Before::of(&w);
                let entries =
                    machine::complete_action(&mut w, graph, &output, ended).map_err(internal)?;
                wf.commit_automated(tx, &prev, &w, graph, entries, &actor)
                    .await
            }
            Ok(ActionOutcome::Wait { waiting_on }) => {
                if let Some(e) = execution {
                    let mut row = StepExecution::finished(
                        e.id,
                        &step.id,
                        job.visit,
                        attempt,
                        input,
                        Ok(waiting_on),
                        started,
                        ended,
                    );
                    row.status =
                        betflow_domain::automation::execution::StepExecutionStatus::Running;
                    row.ended_at = None;
                    row.duration_ms = None;
                    tx.record_step_execution(&row).await?;
                    if let Some(mut current) = tx.execution_in_tx(e.id).await? {
                        current.status = ExecutionStatus::Waiting;
                        tx.update_execution(&current).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
            Err(err) => {
                let retry = step.retry.as_ref();
                if err.retryable && retry.is_some_and(|r| r.has_another(attempt)) {
                    if let Some(e) = &execution {
                        let failed = Err((err.message.clone(), err.output.clone()));
                        let row = StepExecution::finished(
                            e.id, &step.id, job.visit, attempt, input, failed, started, ended,
                        );
                        tx.record_step_execution(&row).await?;
                    }
                    let delay = retry
                        .map(|r| r.delay(attempt, jitter()))
                        .unwrap_or_default();
                    let next = StepJob {
                        attempt: attempt + 1,
                        ..job.clone()
                    };
                    let run_at = ended
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero());
                    tx.enqueue_job(&NewJob::new(&JobArgs::RunStep(next), run_at))
                        .await?;
                    tx.commit().await?;
                    return Ok(());
                }
                let execution = execution.as_ref();
                let message = err.message.clone();
                self.fail(
                    tx, w, &version, execution, job, attempt, config, err.output, message, started,
                    ended,
                )
                .await
            }
        }
    }

    /// The step failed for good: its attempt, then its `error` edge or the run failing.
    #[allow(clippy::too_many_arguments)]
    async fn fail(
        &self,
        mut tx: Box<dyn Transaction>,
        mut w: betflow_domain::workflow::record::Instance,
        version: &betflow_domain::workflow::record::Version,
        execution: Option<&Execution>,
        job: &StepJob,
        attempt: u32,
        input: Value,
        output: Option<Value>,
        message: String,
        started: DateTime<Utc>,
        ended: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        if let Some(e) = execution {
            let row = StepExecution::finished(
                e.id,
                &job.step_id,
                job.visit,
                attempt,
                mask_secrets(&input),
                Err((message.clone(), output)),
                started,
                ended,
            );
            tx.record_step_execution(&row).await?;
        }
        let prev = Before::of(&w);
        let entries = machine::fail_step(&mut w, &version.graph, &message, attempt, ended)
            .map_err(internal)?;
        self.workflows()
            .commit_automated(tx, &prev, &w, &version.graph, entries, &Actor::default())
            .await
    }
}
