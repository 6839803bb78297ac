//! The ready-made automations (issue 17): created once at start and never overwritten,
//! and `content_publishing_sync` against a local receiver standing in for the betting
//! platform.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use betflow_domain::automation::execution::{Execution, ExecutionFilter, ExecutionStatus};
use betflow_domain::events::NewEvent;
use betflow_domain::time::now;
use betflow_engine::Engine;
use betflow_engine::examples::{
    self, BETTING_CREDENTIAL_ID, BettingPlatform, CONTENT_PUBLISHING_SYNC, EXPOSURE_ALERT,
    RESULTS_FEED,
};
use betflow_store::testing::TestDb;
use chrono::Duration as Span;
use serde_json::{Value, json};

betflow_store::conformance!(
    ready_made_definitions_are_created_once_and_kept,
    completed_content_reaches_the_platform_with_its_key,
    a_failing_platform_takes_the_error_edge_and_raises_a_task,
);

/// One request the platform saw: its `X-API-Key` header and its body.
type Seen = (Option<String>, Value);

/// What the platform saw, and the status it answers.
#[derive(Clone, Default)]
struct Platform {
    seen: Arc<Mutex<Vec<Seen>>>,
    status: u16,
}

async fn content(State(p): State<Platform>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    p.seen.lock().unwrap().push((key, body));
    StatusCode::from_u16(p.status).unwrap()
}

/// A platform answering `status` to `POST /content`; its settings.
async fn platform(status: u16) -> (BettingPlatform, Platform) {
    let p = Platform {
        status,
        ..Default::default()
    };
    let app = Router::new()
        .route("/content", post(content))
        .with_state(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let settings = BettingPlatform {
        url: format!("http://{addr}/"),
        api_key: "platform-key-123".into(),
        timeout: Duration::from_secs(5),
    };
    (settings, p)
}

async fn runs_of(db: &TestDb, key: &str) -> Vec<Execution> {
    db.store
        .list_executions(&ExecutionFilter {
            definition_key: Some(key.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Relays the outbox and runs every job due `ahead` from now until nothing is left.
async fn settle(engine: &Engine, ahead: Span) {
    for _ in 0..30 {
        engine.realtime().relay_once().await.unwrap();
        if engine.run_due_jobs("w", now() + ahead).await.unwrap() == 0 {
            engine.realtime().relay_once().await.unwrap();
            if engine.run_due_jobs("w", now() + ahead).await.unwrap() == 0 {
                return;
            }
        }
    }
}

/// Completed workflows as the workflow machine announces them: one content_publishing, one
/// of another type.
async fn complete_workflows(db: &TestDb) -> uuid::Uuid {
    let t = now();
    let content = uuid::Uuid::now_v7();
    let events: Vec<NewEvent> = [
        (content, "content_publishing"),
        (uuid::Uuid::now_v7(), "line_change_approval"),
    ]
    .into_iter()
    .map(|(id, ty)| {
        NewEvent::new(
            "workflow.completed",
            json!({"workflowId": id, "workflowType": ty, "status": "completed",
                   "previousStatus": "in_progress", "updatedAt": t,
                   "updatedBy": uuid::Uuid::now_v7()}),
            t,
        )
    })
    .collect();
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_events(&events).await.unwrap();
    tx.commit().await.unwrap();
    content
}

async fn ready_made_definitions_are_created_once_and_kept(db: TestDb) {
    let engine = super::actions::engine(db.store.clone(), true);
    // Without the platform's settings there is no content_publishing_sync.
    engine.ensure_examples(None).await.unwrap();
    assert!(
        db.store
            .get_definition(CONTENT_PUBLISHING_SYNC)
            .await
            .unwrap()
            .is_none()
    );
    for key in [RESULTS_FEED, EXPOSURE_ALERT] {
        let d = db.store.get_definition(key).await.unwrap().unwrap();
        assert!(!d.is_active, "{key} ships disabled");
        assert_eq!(d.latest_version, 1);
    }
    let alert = engine.triggers().list(EXPOSURE_ALERT).await.unwrap();
    assert_eq!(alert.len(), 1);
    // Every graph passes the registry's checks (the actions exist, params are well formed).
    let (p, _) = platform(200).await;
    assert!(
        !format!("{p:?}").contains("platform-key-123"),
        "Debug hides the key"
    );
    for e in examples::all(Some(&p)).unwrap() {
        engine.automations().validate_graph(&e.graph).unwrap();
    }

    // An operator's edit survives the next start; a second start creates nothing more.
    let d = db
        .store
        .get_definition(RESULTS_FEED)
        .await
        .unwrap()
        .unwrap();
    let mut edited = d.clone();
    edited.name = "Our results feed".into();
    let mut tx = db.store.begin().await.unwrap();
    tx.update_definition(&edited).await.unwrap();
    tx.commit().await.unwrap();
    engine.ensure_examples(Some(&p)).await.unwrap();
    engine.ensure_examples(Some(&p)).await.unwrap();
    let after = db
        .store
        .get_definition(RESULTS_FEED)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.name, "Our results feed");
    assert_eq!(
        engine.triggers().list(EXPOSURE_ALERT).await.unwrap().len(),
        1
    );
    let sync = db
        .store
        .get_definition(CONTENT_PUBLISHING_SYNC)
        .await
        .unwrap()
        .unwrap();
    assert!(sync.is_active, "enabled when the platform is configured");
    assert_eq!(
        engine
            .triggers()
            .list(CONTENT_PUBLISHING_SYNC)
            .await
            .unwrap()
            .len(),
        1
    );

    // The key is an encrypted api_key_header credential, updated when the setting changes.
    let secret = engine
        .credentials()
        .resolve(BETTING_CREDENTIAL_ID, now())
        .await
        .unwrap();
    assert_eq!(secret.kind, "api_key_header");
    assert_eq!(secret.fields["value"], "platform-key-123");
    let stored = db
        .store
        .get_credential(BETTING_CREDENTIAL_ID)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.ciphertext.contains("platform-key-123"));
    let changed = BettingPlatform {
        api_key: "rotated-key-456".into(),
        ..p
    };
    engine.ensure_examples(Some(&changed)).await.unwrap();
    let secret = engine
        .credentials()
        .resolve(BETTING_CREDENTIAL_ID, now())
        .await
        .unwrap();
    assert_eq!(secret.fields["value"], "rotated-key-456");
}

async fn completed_content_reaches_the_platform_with_its_key(db: TestDb) {
    let engine = super::actions::engine(db.store.clone(), true);
    let (settings, p) = platform(200).await;
    engine.ensure_examples(Some(&settings)).await.unwrap();
    let content = complete_workflows(&db).await;
    settle(&engine, Span::zero()).await;

    let seen = p.seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        1,
        "only the content_publishing workflow: {seen:?}"
    );
    let (key, body) = &seen[0];
    assert_eq!(key.as_deref(), Some("platform-key-123"));
    assert_eq!(body["workflowId"], content.to_string());
    assert_eq!(body["workflowType"], "content_publishing");
    let runs = runs_of(&db, CONTENT_PUBLISHING_SYNC).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, ExecutionStatus::Succeeded);
    let tasks = db.store.tasks_of_step(runs[0].id, "raise_task").await;
    assert!(tasks.unwrap().is_empty());
}

async fn a_failing_platform_takes_the_error_edge_and_raises_a_task(db: TestDb) {
    let engine = super::actions::engine(db.store.clone(), true);
    let (settings, p) = platform(500).await;
    engine.ensure_examples(Some(&settings)).await.unwrap();
    let content = complete_workflows(&db).await;
    // The retries' backoff (1 s, doubling) is passed by running the jobs as of later.
    settle(&engine, Span::hours(1)).await;

    assert_eq!(p.seen.lock().unwrap().len(), 5, "five attempts");
    let runs = runs_of(&db, CONTENT_PUBLISHING_SYNC).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    // The failure is visible in the execution: five failed attempts of `publish`.
    let steps = db.store.list_step_executions(run.id).await.unwrap();
    let failed = steps
        .iter()
        .filter(|s| s.step_id == "publish" && s.error.is_some())
        .count();
    assert_eq!(failed, 5, "{steps:?}");
    // ... and the error edge raised a task for the content team.
    let tasks = db.store.tasks_of_step(run.id, "raise_task").await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].assignee_role.as_deref(), Some("content_team"));
    assert_eq!(tasks[0].data["workflowId"], content.to_string());
    assert_eq!(run.status, ExecutionStatus::Succeeded);
}
