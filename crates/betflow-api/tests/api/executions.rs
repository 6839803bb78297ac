//! Executions over HTTP: a manual run end to end, a failing run retried from its failed
//! step, cancel, cursor pages and filters, a test run, the registries, analytics, and the
//! refusals (unknown definition 404, bad input 400, retry of a run that has not failed 409).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use betflow_engine::automations::{Action, ActionCall, ActionError, ActionOutcome, ActionSpec};
use betflow_store::testing::TestDb;
use serde_json::{Value, json};

use crate::common::{TestServer, spawn};

betflow_store::conformance!(
    a_run_succeeds_fails_is_retried_and_cancelled,
    lists_page_by_cursor_and_bad_input_is_refused,
    test_runs_registries_and_analytics,
);

const DEFS: &str = "/api/v1/workflow-definitions";

/// Fails its first call, then answers with its config.
struct FailsOnce {
    spec: ActionSpec,
    calls: AtomicU32,
}

type Answer<'a> = Pin<Box<dyn Future<Output = Result<ActionOutcome, ActionError>> + Send + 'a>>;

impl Action for FailsOnce {
    fn spec(&self) -> &ActionSpec {
        &self.spec
    }

    fn run<'life0, 'life1, 'async_trait>(
        &'life0 self,
        call: ActionCall<'life1>,
    ) -> Answer<'async_trait>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(ActionError::retryable("the receiver is down"));
            }
            Ok(ActionOutcome::Done(json!({"sent": call.config})))
        })
    }
}

fn fails_once() -> Arc<FailsOnce> {
    Arc::new(FailsOnce {
        spec: ActionSpec {
            key: "test.fails_once",
            name: "Fails once",
            description: "fails its first call",
            config_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
            credential_type: None,
            external: true,
        },
        calls: AtomicU32::new(0),
    })
}

async fn define(s: &TestServer, admin: &str, key: &str, steps: Value, edges: Value) {
    let doc = json!({"key": key, "name": key, "steps": steps, "edges": edges});
    s.post_as(admin, DEFS, doc).await.status(201);
}

async fn drain(s: &TestServer) {
    let mut t = chrono::Utc::now();
    for _ in 0..10 {
        if s.engine.run_due_jobs("w", t).await.unwrap() == 0 {
            t += chrono::Duration::minutes(5);
            if s.engine.run_due_jobs("w", t).await.unwrap() == 0 {
                return;
            }
        }
    }
}

fn execute(key: &str) -> String {
    format!("{DEFS}/{key}/execute")
}

fn execution(id: &str) -> String {
    format!("/api/v1/executions/{id}")
}

async fn a_run_succeeds_fails_is_retried_and_cancelled(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    s.engine.automations().register(fails_once());
    define(
        &s,
        &admin,
        "api_ok",
        json!([
            {"id": "check", "name": "Check", "type": "condition", "condition": "data.amount > 10"},
            {"id": "mark", "name": "Mark", "type": "action", "action": "set_data",
             "params": {"big": "{{ input.amount > 10 }}"}}
        ]),
        json!([{"from": "check", "to": "mark", "branch": "true"}]),
    )
    .await;
    let started = s
        .post_as(&admin, &execute("api_ok"), json!({"input": {"amount": 50}}))
        .await
        .status(202);
    let id = started["data"]["executionId"].as_str().unwrap().to_owned();
    drain(&s).await;
    let e = s.get_as(&admin, &execution(&id)).await.ok();
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(e["triggerType"], "manual");
    assert_eq!(e["output"], json!({"amount": 50, "big": true}));
    assert_eq!(e["steps"][0]["stepId"], "mark");
    assert_eq!(e["steps"][0]["attempt"], 1);
    assert!(e["steps"][0]["durationMs"].is_number());
    s.post_empty(&admin, &format!("{}/retry", execution(&id)))
        .await
        .error(409, "CONFLICT");

    // No error edge: the run fails, then is retried from the failed step.
    define(
        &s,
        &admin,
        "api_fail",
        json!([{"id": "call", "name": "Call", "type": "action", "action": "test.fails_once",
                "params": {"to": "{{ input.to }}"}}]),
        json!([]),
    )
    .await;
    let body = json!({"input": {"to": "desk"}});
    let started = s
        .post_as(&admin, &execute("api_fail"), body)
        .await
        .status(202);
    let id = started["data"]["executionId"].as_str().unwrap().to_owned();
    drain(&s).await;
    let e = s.get_as(&admin, &execution(&id)).await.ok();
    assert_eq!(e["status"], "failed", "{e}");
    assert_eq!(
        e["error"],
        json!({"message": "the receiver is down", "step": "call"})
    );
    assert_eq!(e["steps"][0]["status"], "failed");
    let retried = s
        .post_empty(&admin, &format!("{}/retry", execution(&id)))
        .await
        .ok();
    assert_eq!(retried["status"], "running");
    drain(&s).await;
    let e = s.get_as(&admin, &execution(&id)).await.ok();
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(e["steps"].as_array().unwrap().len(), 2);
    assert_eq!(e["steps"][1]["output"], json!({"sent": {"to": "desk"}}));

    // Waiting on people, then cancelled.
    define(
        &s,
        &admin,
        "api_wait",
        json!([{"id": "review", "name": "Review", "type": "approval",
                "assignees": ["risk_manager"]}]),
        json!([]),
    )
    .await;
    let started = s
        .post_as(&admin, &execute("api_wait"), json!({}))
        .await
        .status(202);
    let id = started["data"]["executionId"].as_str().unwrap().to_owned();
    let e = s.get_as(&admin, &execution(&id)).await.ok();
    assert_eq!(e["status"], "waiting");
    let cancelled = s
        .post_empty(&admin, &format!("{}/cancel", execution(&id)))
        .await
        .ok();
    assert_eq!(cancelled["status"], "cancelled");
    s.post_empty(&admin, &format!("{}/cancel", execution(&id)))
        .await
        .error(409, "CONFLICT");
}

async fn lists_page_by_cursor_and_bad_input_is_refused(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    define(
        &s,
        &admin,
        "api_list",
        json!([{"id": "a", "name": "A", "type": "action", "action": "noop"}]),
        json!([]),
    )
    .await;
    for i in 0..3 {
        s.post_as(&admin, &execute("api_list"), json!({"input": {"i": i}}))
            .await
            .status(202);
    }
    drain(&s).await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/executions?definition=api_list&limit=2".to_owned();
    loop {
        let page = s.get_as(&admin, &path).await.ok();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["input"]["i"].as_i64().unwrap());
        }
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/api/v1/executions?definition=api_list&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![2, 1, 0], "newest first, each once");
    let filtered = s
        .get_as(
            &admin,
            "/api/v1/executions?status=failed&triggerType=manual",
        )
        .await
        .ok();
    assert_eq!(filtered["items"], json!([]));

    s.post_as(&admin, &execute("no_such_definition"), json!({}))
        .await
        .error(404, "NOT_FOUND");
    s.post_as(&admin, &execute("api_list"), json!({"input": [1, 2]}))
        .await
        .error(400, "VALIDATION_ERROR");
    s.post_as(&admin, &execute("api_list"), json!({"inptu": {}}))
        .await
        .status(400);
    s.get_as(&admin, "/api/v1/executions/not-a-uuid")
        .await
        .status(400);
    s.get_as(&admin, &execution(&uuid::Uuid::now_v7().to_string()))
        .await
        .error(404, "NOT_FOUND");
    s.get_as(&admin, "/api/v1/executions?limit=0")
        .await
        .error(400, "VALIDATION_ERROR");
    s.get_as(&admin, "/api/v1/executions?status=done")
        .await
        .status(400);
}

async fn test_runs_registries_and_analytics(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    s.engine.automations().register(fails_once());
    define(
        &s,
        &admin,
        "api_test",
        json!([{"id": "call", "name": "Call", "type": "action", "action": "test.fails_once",
                "params": {"to": "{{ input.to }}"}}]),
        json!([]),
    )
    .await;
    let run = s
        .post_as(
            &admin,
            &format!("{}?test=true", execute("api_test")),
            json!({"input": {"to": "x"}}),
        )
        .await
        .status(202);
    let e = &run["data"]["execution"];
    assert_eq!(e["triggerType"], "test");
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(
        e["steps"][0]["output"],
        json!({"wouldRun": "test.fails_once", "config": {"to": "x"}})
    );

    let actions = s.get_as(&admin, "/api/v1/automation/actions").await.ok();
    let keys: Vec<&str> = actions
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"test.fails_once"), "{keys:?}");
    assert!(actions[0]["configSchema"].is_object());
    let triggers = s.get_as(&admin, "/api/v1/automation/triggers").await.ok();
    let kinds: Vec<&str> = triggers
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["manual", "event", "schedule", "webhook"]);

    s.post_as(&admin, &execute("api_test"), json!({"input": {"to": "y"}}))
        .await
        .status(202);
    drain(&s).await;
    let a = s
        .get_as(&admin, &format!("{DEFS}/api_test/analytics?days=7"))
        .await
        .ok();
    let days = a["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{a}");
    assert_eq!(days[0]["executions"], 1, "test runs are not counted: {a}");
    s.get_as(&admin, &format!("{DEFS}/nope/analytics"))
        .await
        .error(404, "NOT_FOUND");
}
