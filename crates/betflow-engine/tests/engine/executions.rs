//! Executions over real databases: a manual run end to end, a failing action that retries
//! and takes its `error` edge, one that fails the run, retry from the failed step, cancel,
//! idempotent starts, lists with filters and cursors, test runs, and publish validation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use betflow_domain::audit::Actor;
use betflow_domain::automation::execution::{
    ExecutionFilter, ExecutionStatus, StepExecutionStatus, TriggerType,
};
use betflow_domain::identity::Role;
use betflow_domain::ids::WorkflowId;
use betflow_domain::time::now;
use betflow_domain::workflow::WorkflowStatus;
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_engine::automations::{
    Action, ActionCall, ActionError, ActionOutcome, ActionSpec, StartExecution, TriggerRef,
};
use betflow_engine::identity::{Credential, Principal};
use betflow_engine::workflows::NewDefinition;
use betflow_engine::{Engine, EngineError};
use betflow_store::testing::TestDb;
use chrono::Duration;
use serde_json::{Value, json};
use uuid::Uuid;

betflow_store::conformance!(
    a_manual_run_succeeds_end_to_end,
    a_failing_step_retries_then_takes_its_error_edge,
    a_run_without_an_error_edge_fails_and_is_retried_from_the_failed_step,
    a_waiting_run_resumes_or_is_cancelled,
    a_trigger_occurrence_starts_one_run,
    a_triggered_run_acts_for_the_definitions_owner,
    lists_filter_and_page_by_cursor,
    bad_input_is_refused,
    a_test_run_renders_external_actions,
    publishing_checks_registered_actions_and_expressions,
);

fn admin() -> Principal {
    Principal {
        user_id: Uuid::now_v7(),
        username: "admin".into(),
        role: Role::Admin,
        permissions: vec!["*".into()],
        key_permissions: None,
        credential: Credential::Session(Uuid::now_v7()),
    }
}

fn engine(db: &TestDb) -> Engine {
    super::make_engine(db.store.clone(), None)
}

/// A test action: fails its first `failures` calls (retryably), then returns its config.
/// With `wait`, it leaves the step waiting instead.
struct Flaky {
    spec: ActionSpec,
    failures: u32,
    calls: AtomicU32,
    wait: bool,
}

impl Flaky {
    fn new(key: &'static str, failures: u32) -> Arc<Self> {
        Arc::new(Self {
            spec: ActionSpec {
                key,
                name: "Flaky",
                description: "fails, then succeeds",
                config_schema: json!({"type": "object", "required": ["to"],
                    "properties": {"to": {"type": "string"}}}),
                output_schema: json!({"type": "object"}),
                credential_type: None,
                external: true,
            },
            failures,
            calls: AtomicU32::new(0),
            wait: false,
        })
    }
}

#[async_trait]
impl Action for Flaky {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.failures {
            return Err(ActionError::retryable(format!("boom {n}")));
        }
        if self.wait {
            return Ok(ActionOutcome::Wait {
                waiting_on: json!({"task": "t1"}),
            });
        }
        Ok(ActionOutcome::Done(
            json!({"sent": call.config, "attempt": call.attempt}),
        ))
    }
}

async fn define(engine: &Engine, key: &str, graph: Value) {
    let graph: WorkflowGraph = serde_json::from_value(graph).unwrap();
    engine
        .workflows()
        .create_definition(
            &admin(),
            NewDefinition {
                key: key.into(),
                name: key.into(),
                description: None,
                category: None,
                tags: vec![],
                data_schema: None,
                graph,
            },
            &Actor::default(),
        )
        .await
        .unwrap();
}

async fn run(engine: &Engine, key: &str, input: Value) -> WorkflowId {
    let start = StartExecution {
        definition_key: key.into(),
        trigger: TriggerRef::manual(),
        input,
    };
    let s = engine
        .start_execution(start, &Actor::default())
        .await
        .unwrap();
    assert!(s.created);
    s.execution_id
}

/// Runs due jobs until none is left, moving the clock past any backoff.
async fn drain(engine: &Engine) {
    let mut t = now();
    for _ in 0..20 {
        if engine.run_due_jobs("w", t).await.unwrap() == 0 {
            t += Duration::minutes(5);
            if engine.run_due_jobs("w", t).await.unwrap() == 0 {
                return;
            }
        }
    }
}

async fn a_manual_run_succeeds_end_to_end(db: TestDb) {
    let engine = engine(&db);
    define(
        &engine,
        "auto_ok",
        json!({"steps": [
            {"id": "check", "name": "Check", "type": "condition", "condition": "data.amount > 10"},
            {"id": "mark", "name": "Mark", "type": "action", "action": "set_data",
             "params": {"big": true, "doubled": "{{ input.amount * 2 }}", "who": "n={{ input.name }}"}},
            {"id": "skip", "name": "Skip", "type": "action", "action": "noop"}
        ], "edges": [
            {"from": "check", "to": "mark", "branch": "true"},
            {"from": "check", "to": "skip", "branch": "false"}
        ]}),
    )
    .await;
    let id = run(&engine, "auto_ok", json!({"amount": 50, "name": "ann"})).await;
    let d = engine.get_execution(id).await.unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Running);
    assert_eq!(d.execution.trigger_type, TriggerType::Manual);
    drain(&engine).await;
    let d = engine.get_execution(id).await.unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(
        d.execution.output,
        Some(json!({"amount": 50, "name": "ann", "big": true, "doubled": 100, "who": "n=ann"}))
    );
    assert!(d.execution.duration_ms.is_some() && d.execution.ended_at.is_some());
    assert_eq!(d.steps.len(), 1);
    assert_eq!(d.steps[0].step_id, "mark");
    assert_eq!(d.steps[0].status, StepExecutionStatus::Succeeded);
    assert_eq!(d.steps[0].input["doubled"], json!(100));
    db.store.sequence_events(10_000).await.unwrap();
    let last = db.store.last_event_seq().await.unwrap();
    let events = db.store.events_after(last - 100, 1000).await.unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e.payload_id() == Some(id.uuid()))
        .map(|e| e.event_type.as_str())
        .collect();
    assert!(kinds.contains(&"execution.started"), "{kinds:?}");
    assert!(kinds.contains(&"execution.succeeded"), "{kinds:?}");
    let days = engine
        .execution_analytics("auto_ok", 7, now() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!((days[0].executions, days[0].successes), (1, 1));
}

trait PayloadId {
    fn payload_id(&self) -> Option<Uuid>;
}

impl PayloadId for betflow_domain::events::Event {
    fn payload_id(&self) -> Option<Uuid> {
        self.data
            .get("executionId")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

async fn a_failing_step_retries_then_takes_its_error_edge(db: TestDb) {
    let engine = engine(&db);
    let flaky = Flaky::new("test.flaky", 10);
    engine.automations().register(flaky.clone());
    define(
        &engine,
        "auto_err",
        json!({"steps": [
            {"id": "call", "name": "Call", "type": "action", "action": "test.flaky",
             "params": {"to": "{{ input.to }}"}, "retry": {"attempts": 3, "backoff": "100ms"},
             "timeout": "5s"},
            {"id": "handled", "name": "Handled", "type": "action", "action": "set_data",
             "params": {"handled": true}},
            {"id": "next", "name": "Next", "type": "action", "action": "noop"}
        ], "edges": [
            {"from": "call", "to": "next", "branch": "default"},
            {"from": "call", "to": "handled", "branch": "error"}
        ]}),
    )
    .await;
    let id = run(&engine, "auto_err", json!({"to": "x"})).await;
    drain(&engine).await;
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3, "three attempts");
    let d = engine.get_execution(id).await.unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(d.execution.output.as_ref().unwrap()["handled"], true);
    let call: Vec<(u32, StepExecutionStatus)> = d
        .steps
        .iter()
        .filter(|s| s.step_id == "call")
        .map(|s| (s.attempt, s.status))
        .collect();
    assert_eq!(
        call,
        vec![
            (1, StepExecutionStatus::Failed),
            (2, StepExecutionStatus::Failed),
            (3, StepExecutionStatus::Failed)
        ]
    );
    assert_eq!(d.steps[0].error.as_deref(), Some("boom 1"));
    assert_eq!(d.steps[0].input, json!({"to": "x"}));
    let runs = engine.workflows().step_runs(id).await.unwrap();
    assert!(
        runs.iter()
            .any(|r| r.step_id == "call" && r.status.as_str() == "failed"),
        "{runs:?}"
    );
}

async fn a_run_without_an_error_edge_fails_and_is_retried_from_the_failed_step(db: TestDb) {
    let engine = engine(&db);
    let flaky = Flaky::new("test.once", 1);
    engine.automations().register(flaky.clone());
    define(
        &engine,
        "auto_fail",
        json!({"steps": [
            {"id": "prep", "name": "Prep", "type": "action", "action": "set_data", "params": {"p": 1}},
            {"id": "call", "name": "Call", "type": "action", "action": "test.once",
             "params": {"to": "y"}},
            {"id": "done", "name": "Done", "type": "action", "action": "set_data",
             "params": {"sent": "{{ steps.call.output.sent.to }}"}}
        ]}),
    )
    .await;
    let id = run(&engine, "auto_fail", json!({"k": "v"})).await;
    let refused = engine.retry_execution(id, &Actor::default()).await;
    assert!(
        matches!(refused, Err(EngineError::Conflict(_))),
        "{refused:?}"
    );
    drain(&engine).await;
    let d = engine.get_execution(id).await.unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Failed, "{d:?}");
    let error = d.execution.error.clone().unwrap();
    assert_eq!(
        (error.message.as_str(), error.step.as_deref()),
        ("boom 1", Some("call"))
    );
    let w = engine.workflows().get(id).await.unwrap();
    assert_eq!(w.instance.status, WorkflowStatus::Failed);
    drain(&engine).await;
    assert_eq!(
        engine.get_execution(id).await.unwrap().execution.status,
        ExecutionStatus::Failed,
        "failed is final"
    );

    let d = engine.retry_execution(id, &Actor::default()).await.unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Running);
    assert_eq!(d.execution.error, None);
    drain(&engine).await;
    let d = engine.get_execution(id).await.unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Succeeded, "{d:?}");
    let out = d.execution.output.unwrap();
    assert_eq!(
        out["sent"], "y",
        "steps.call.output is the retried attempt's"
    );
    assert_eq!(out["k"], "v", "the same input");
    let visits: Vec<(u32, StepExecutionStatus)> = d
        .steps
        .iter()
        .filter(|s| s.step_id == "call")
        .map(|s| (s.visit, s.status))
        .collect();
    assert_eq!(visits.len(), 2);
    assert!(visits[1].0 > visits[0].0, "a new visit of the failed step");
}

async fn a_waiting_run_resumes_or_is_cancelled(db: TestDb) {
    let engine = engine(&db);
    let waiter = Arc::new(Flaky {
        wait: true,
        ..Arc::into_inner(Flaky::new("test.wait", 0)).unwrap()
    });
    engine.automations().register(waiter);
    define(
        &engine,
        "auto_wait",
        json!({"steps": [
            {"id": "ask", "name": "Ask", "type": "action", "action": "test.wait", "params": {"to": "z"}},
            {"id": "after", "name": "After", "type": "action", "action": "set_data",
             "params": {"answer": "{{ steps.ask.output.ok }}"}}
        ]}),
    )
    .await;
    let a = run(&engine, "auto_wait", json!({})).await;
    let b = run(&engine, "auto_wait", json!({})).await;
    drain(&engine).await;
    for id in [a, b] {
        let d = engine.get_execution(id).await.unwrap();
        assert_eq!(d.execution.status, ExecutionStatus::Waiting);
        assert_eq!(d.steps[0].status, StepExecutionStatus::Running);
    }
    engine
        .resume_step(a, "ask", 0, json!({"ok": "yes"}))
        .await
        .unwrap();
    drain(&engine).await;
    let d = engine.get_execution(a).await.unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(d.execution.output.unwrap()["answer"], "yes");

    let d = engine
        .cancel_execution(&admin(), b, &Actor::default())
        .await
        .unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Cancelled);
    let again = engine
        .cancel_execution(&admin(), b, &Actor::default())
        .await;
    assert!(matches!(again, Err(EngineError::Conflict(_))), "{again:?}");
    // A resume for a run that has moved on does nothing.
    engine.resume_step(b, "ask", 0, json!({})).await.unwrap();
}

async fn a_trigger_occurrence_starts_one_run(db: TestDb) {
    let engine = engine(&db);
    define(
        &engine,
        "auto_once",
        json!({"steps": [{"id": "a", "name": "A", "type": "action", "action": "noop"}]}),
    )
    .await;
    let trigger = Uuid::now_v7();
    let start = |event: &str| StartExecution {
        definition_key: "auto_once".into(),
        trigger: TriggerRef {
            kind: TriggerType::Event,
            trigger_id: Some(trigger),
            event_id: Some(event.into()),
        },
        input: json!({"type": "x.y", "id": event, "data": {}}),
    };
    let first = engine
        .start_execution(start("e1"), &Actor::default())
        .await
        .unwrap();
    let again = engine
        .start_execution(start("e1"), &Actor::default())
        .await
        .unwrap();
    let other = engine
        .start_execution(start("e2"), &Actor::default())
        .await
        .unwrap();
    assert!(first.created && !again.created && other.created);
    assert_eq!(first.execution_id, again.execution_id);
    assert_ne!(first.execution_id, other.execution_id);
}

/// Records on whose behalf it was called.
struct Recorder {
    spec: ActionSpec,
    owners: std::sync::Mutex<Vec<Option<Uuid>>>,
}

#[async_trait]
impl Action for Recorder {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    async fn run(&self, call: ActionCall<'_>) -> Result<ActionOutcome, ActionError> {
        let owner = call.owner.map(|u| u.uuid());
        self.owners.lock().unwrap().push(owner);
        Ok(ActionOutcome::Done(json!({})))
    }
}

async fn a_triggered_run_acts_for_the_definitions_owner(db: TestDb) {
    let engine = engine(&db);
    let recorder = Arc::new(Recorder {
        spec: ActionSpec {
            key: "test.record_owner",
            name: "Recorder",
            description: "records the owner it acts for",
            config_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
            credential_type: None,
            external: false,
        },
        owners: std::sync::Mutex::new(Vec::new()),
    });
    engine.automations().register(recorder.clone());
    let owner = admin();
    let graph: WorkflowGraph = serde_json::from_value(json!({"steps": [
        {"id": "a", "name": "A", "type": "action", "action": "test.record_owner", "params": {}}
    ]}))
    .unwrap();
    engine
        .workflows()
        .create_definition(
            &owner,
            NewDefinition {
                key: "auto_owned".into(),
                name: "auto_owned".into(),
                description: None,
                category: None,
                tags: vec![],
                data_schema: None,
                graph,
            },
            &Actor::default(),
        )
        .await
        .unwrap();
    // Started by an event: nobody is logged in, yet the action acts for the owner.
    let start = StartExecution {
        definition_key: "auto_owned".into(),
        trigger: TriggerRef {
            kind: TriggerType::Event,
            trigger_id: Some(Uuid::now_v7()),
            event_id: Some("e1".into()),
        },
        input: json!({"type": "x.y", "id": "e1", "data": {}}),
    };
    let started = engine
        .start_execution(start, &Actor::default())
        .await
        .unwrap();
    drain(&engine).await;
    let d = engine.get_execution(started.execution_id).await.unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Succeeded);
    assert_eq!(*recorder.owners.lock().unwrap(), vec![Some(owner.user_id)]);
}

async fn lists_filter_and_page_by_cursor(db: TestDb) {
    let engine = engine(&db);
    define(
        &engine,
        "auto_list",
        json!({"steps": [{"id": "a", "name": "A", "type": "action", "action": "noop"}]}),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(run(&engine, "auto_list", json!({"i": i})).await.uuid());
    }
    drain(&engine).await;
    let page = |before: Option<Uuid>| ExecutionFilter {
        definition_key: Some("auto_list".into()),
        before,
        limit: 2,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let items = engine.list_executions(page(cursor)).await.unwrap();
        seen.extend(items.iter().map(|e| e.id));
        if items.len() < 2 {
            break;
        }
        cursor = items.last().map(|e| e.id);
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");
    let succeeded = Some(ExecutionStatus::Succeeded);
    let f = ExecutionFilter {
        status: succeeded,
        ..Default::default()
    };
    assert_eq!(count(&engine, f).await, 5);
    let failed = Some(ExecutionStatus::Failed);
    let f = ExecutionFilter {
        status: failed,
        ..Default::default()
    };
    assert_eq!(count(&engine, f).await, 0);
    let test = Some(TriggerType::Test);
    let f = ExecutionFilter {
        trigger_type: test,
        ..Default::default()
    };
    assert_eq!(count(&engine, f).await, 0);
    let future = Some(now() + Duration::hours(1));
    let f = ExecutionFilter {
        from: future,
        ..Default::default()
    };
    assert_eq!(count(&engine, f).await, 0);
    let f = ExecutionFilter {
        to: future,
        ..Default::default()
    };
    assert_eq!(count(&engine, f).await, 5);
    let bad = engine
        .list_executions(ExecutionFilter {
            limit: 0,
            ..Default::default()
        })
        .await;
    assert!(matches!(bad, Err(EngineError::Invalid(_))));
    // Retention: nothing ended before the cutoff goes; everything ended after it does.
    assert_eq!(
        engine
            .prune_executions(now() - Duration::days(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        engine
            .prune_executions(now() + Duration::days(1))
            .await
            .unwrap(),
        5
    );
}

async fn count(engine: &Engine, f: ExecutionFilter) -> usize {
    let f = ExecutionFilter { limit: 50, ..f };
    engine.list_executions(f).await.unwrap().len()
}

async fn bad_input_is_refused(db: TestDb) {
    let engine = engine(&db);
    define(
        &engine,
        "auto_bad",
        json!({"steps": [{"id": "a", "name": "A", "type": "action", "action": "noop"}]}),
    )
    .await;
    let start = |key: &str, input: Value| StartExecution {
        definition_key: key.into(),
        trigger: TriggerRef::manual(),
        input,
    };
    let missing = engine
        .start_execution(start("nope", json!({})), &Actor::default())
        .await;
    assert!(
        matches!(missing, Err(EngineError::NotFound(_))),
        "{missing:?}"
    );
    let not_object = engine
        .start_execution(start("auto_bad", json!([1])), &Actor::default())
        .await;
    assert!(
        matches!(not_object, Err(EngineError::Invalid(_))),
        "{not_object:?}"
    );
    let unknown = engine.get_execution(WorkflowId::from(Uuid::now_v7())).await;
    assert!(matches!(unknown, Err(EngineError::NotFound(_))));
}

async fn a_test_run_renders_external_actions(db: TestDb) {
    let engine = engine(&db);
    let flaky = Flaky::new("test.external", 0);
    engine.automations().register(flaky.clone());
    define(
        &engine,
        "auto_test",
        json!({"steps": [
            {"id": "send", "name": "Send", "type": "action", "action": "test.external",
             "params": {"to": "{{ input.to }}"}},
            {"id": "mark", "name": "Mark", "type": "action", "action": "set_data",
             "params": {"rendered": "{{ steps.send.output.wouldRun }}"}}
        ]}),
    )
    .await;
    let d = engine
        .run_test("auto_test", json!({"to": "ops"}), &Actor::default())
        .await
        .unwrap();
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 0, "not performed");
    assert_eq!(d.execution.trigger_type, TriggerType::Test);
    assert_eq!(d.execution.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(
        d.steps[0].output,
        Some(json!({"wouldRun": "test.external", "config": {"to": "ops"}}))
    );
    assert_eq!(d.execution.output.unwrap()["rendered"], "test.external");
}

async fn publishing_checks_registered_actions_and_expressions(db: TestDb) {
    let engine = engine(&db);
    engine.automations().register(Flaky::new("test.schema", 0));
    let graph: WorkflowGraph = serde_json::from_value(json!({"steps": [
        {"id": "a", "name": "A", "type": "action", "action": "test.schema", "params": {"to": 5}},
        {"id": "b", "name": "B", "type": "action", "action": "test.schema", "params": {"to": "{{ input.x }}"}},
        {"id": "c", "name": "C", "type": "action", "action": "nowhere.known"},
        {"id": "d", "name": "D", "type": "action", "action": "set_data",
         "params": {"x": "{{ secret.x }}"}, "retry": {"attempts": 50, "backoff": "soon"}},
        {"id": "e", "name": "E", "type": "condition", "condition": "data.x > 1"}
    ], "edges": [
        {"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "d"},
        {"from": "d", "to": "e"}, {"from": "e", "to": "a", "branch": "error"}
    ]}))
    .unwrap();
    let problems = engine.automations().validate_graph(&graph).unwrap_err();
    let text: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.step.as_deref().unwrap_or("-"), p.message))
        .collect();
    for (step, needle) in [
        ("a", "params.to"),
        ("c", "unknown action"),
        ("d", "unknown variables"),
        ("d", "retry attempts"),
        ("d", "retry backoff"),
        ("e", "error"),
    ] {
        assert!(
            text.iter()
                .any(|t| t.starts_with(&format!("{step}: ")) && t.contains(needle)),
            "{step}/{needle} not in {text:#?}"
        );
    }
    assert!(
        !text.iter().any(|t| t.starts_with("b: ")),
        "an expression is only known at run time: {text:#?}"
    );
}
