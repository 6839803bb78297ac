//! `sms.send` against an axum receiver standing in for the SMS provider.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use betflow_domain::ids::WorkflowId;
use betflow_store::testing::TestDb;
use serde_json::{Value, json};

use super::{done, engine, run, secret};

betflow_store::conformance!(
    a_message_goes_to_the_provider,
    provider_refusals_fail_the_step
);

type Seen = Arc<Mutex<Vec<(String, HeaderMap, Value)>>>;

async fn messages(
    State(seen): State<Seen>,
    Path(account): Path<String>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> impl IntoResponse {
    seen.lock()
        .unwrap()
        .push((account.clone(), headers, body.clone()));
    match account.as_str() {
        "busy" => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({}))),
        "closed" => (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"error": "account closed"})),
        ),
        _ => (
            StatusCode::CREATED,
            axum::Json(json!({"id": "SM123", "status": "queued", "to": body["to"]})),
        ),
    }
}

async fn provider() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/v1/accounts/{account}/messages", post(messages))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://127.0.0.1:{port}/v1"), seen)
}

fn credential(base: &str, account: &str) -> betflow_engine::credentials::CredentialSecret {
    secret(
        "sms_provider",
        json!({"baseUrl": base, "account": account, "token": "sms-s3cret",
               "sender": "Betflow"}),
    )
}

async fn a_message_goes_to_the_provider(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let (base, seen) = provider().await;
    let cred = credential(&base, "AC42");
    let exec = WorkflowId::new();
    let config = json!({"credentialId": cred.id, "to": "+447700900123",
                        "body": "Your bet is settled."});
    let out = done(run(&engine, "sms.send", exec, 1, &config, Some(&cred)).await);
    assert_eq!(
        out,
        json!({"messageId": "SM123", "to": "+447700900123", "status": 201})
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (account, headers, body) = &seen[0];
    assert_eq!(account, "AC42");
    assert_eq!(headers["authorization"], "Bearer sms-s3cret");
    assert_eq!(
        headers["idempotency-key"].to_str().unwrap(),
        format!("{exec}:step_1")
    );
    assert_eq!(
        *body,
        json!({"from": "Betflow", "to": "+447700900123", "body": "Your bet is settled."})
    );
}

async fn provider_refusals_fail_the_step(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let (base, _) = provider().await;
    let exec = WorkflowId::new();
    for (account, retryable) in [("busy", true), ("closed", false)] {
        let cred = credential(&base, account);
        let config = json!({"credentialId": cred.id, "to": "+447700900123", "body": "hi"});
        let err = run(&engine, "sms.send", exec, 1, &config, Some(&cred))
            .await
            .unwrap_err();
        assert_eq!(err.retryable, retryable, "{account}: {err:?}");
        assert!(!err.message.contains("s3cret"), "{}", err.message);
    }
    let cred = credential(&base, "AC42");
    let err = run(
        &engine,
        "sms.send",
        exec,
        1,
        &json!({"credentialId": cred.id, "to": "call me", "body": "hi"}),
        Some(&cred),
    )
    .await
    .unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("phone number"), "{}", err.message);
    // The provider's URL passes the SSRF guard.
    let guarded = engine_guarded(&db);
    let config = json!({"credentialId": cred.id, "to": "+447700900123", "body": "hi"});
    let err = run(&guarded, "sms.send", exec, 1, &config, Some(&cred))
        .await
        .unwrap_err();
    assert!(err.message.contains("private"), "{}", err.message);
}

fn engine_guarded(db: &TestDb) -> betflow_engine::Engine {
    engine(db.store.clone(), false)
}
