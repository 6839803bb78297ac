//! `http.request` against an axum receiver on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, post};
use betflow_domain::ids::WorkflowId;
use betflow_store::testing::TestDb;
use serde_json::{Value, json};

use super::{done, engine, run, secret};

betflow_store::conformance!(
    a_request_is_sent_and_its_answer_returned,
    statuses_outside_2xx_fail_unless_allowed,
    long_bodies_are_truncated_and_slow_receivers_time_out,
    credentials_authenticate_and_oauth2_tokens_are_cached,
    private_targets_are_refused_unless_allowed,
    bad_config_fails_permanently_without_secrets,
);

/// What the receiver saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    tokens: Arc<AtomicUsize>,
}

impl Receiver {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn record(
    State(r): State<Receiver>,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    r.seen.lock().unwrap().push(Seen {
        method,
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if let Some(code) = path.strip_prefix("status/") {
        let code = StatusCode::from_u16(code.parse().unwrap()).unwrap();
        return (code, axum::Json(json!({"error": "as asked"}))).into_response();
    }
    match path.as_str() {
        "big" => "x".repeat(100 * 1024).into_response(),
        "text" => "plain words".into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "late".into_response()
        }
        _ => (
            [("x-answer", "yes")],
            axum::Json(json!({"ok": true, "path": path})),
        )
            .into_response(),
    }
}

/// An OAuth2 token endpoint: client `app` with secret `app-secret`, a new token each time.
async fn token(State(r): State<Receiver>, headers: HeaderMap, body: String) -> impl IntoResponse {
    // "app:app-secret" in base64.
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok());
    if basic != Some("Basic YXBwOmFwcC1zZWNyZXQ=") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        );
    }
    assert!(body.contains("grant_type=client_credentials"), "{body}");
    assert!(body.contains("scope=read+write"), "{body}");
    let n = r.tokens.fetch_add(1, Ordering::SeqCst) + 1;
    (
        StatusCode::OK,
        axum::Json(
            json!({"access_token": format!("tok-{n}"), "token_type": "Bearer",
                          "expires_in": 3600}),
        ),
    )
}

/// Starts the receiver; its base URL, with `host` (`127.0.0.1` or `localhost`).
async fn receiver(host: &str) -> (String, Receiver) {
    let r = Receiver::default();
    let app = Router::new()
        .route("/oauth/token", post(token))
        .route("/{*path}", any(record))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{host}:{port}"), r)
}

async fn a_request_is_sent_and_its_answer_returned(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let (base, r) = receiver("127.0.0.1").await;
    let exec = WorkflowId::new();
    let config = json!({
        "method": "post",
        "url": format!("{base}/orders?x=1"),
        "headers": {"X-Custom": "abc"},
        "body": {"id": 7, "name": "seven"},
    });
    let out = done(run(&engine, "http.request", exec, 1, &config, None).await);
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"], json!({"ok": true, "path": "orders"}));
    assert_eq!(out["headers"]["x-answer"], "yes");
    assert_eq!(out["truncated"], false);
    // A second attempt of the same step carries the same key.
    done(run(&engine, "http.request", exec, 2, &config, None).await);
    let seen = r.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.method, Method::POST);
        assert_eq!(s.path, "orders");
        assert_eq!(
            serde_json::from_str::<Value>(&s.body).unwrap(),
            json!({"id": 7, "name": "seven"})
        );
        assert_eq!(s.headers["content-type"], "application/json");
        assert_eq!(s.headers["x-custom"], "abc");
        assert_eq!(
            s.headers["idempotency-key"].to_str().unwrap(),
            format!("{exec}:step_1")
        );
    }
    // A text answer is text; a GET without a body sends none.
    let out = done(
        run(
            &engine,
            "http.request",
            exec,
            1,
            &json!({"url": format!("{base}/text")}),
            None,
        )
        .await,
    );
    assert_eq!(out["body"], "plain words");
    assert_eq!(r.seen()[2].method, Method::GET);
    assert_eq!(r.seen()[2].body, "");
}

async fn statuses_outside_2xx_fail_unless_allowed(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let (base, _) = receiver("127.0.0.1").await;
    let exec = WorkflowId::new();
    let call = |code: u16, allow: Value| json!({"url": format!("{base}/status/{code}"), "allowStatus": allow});
    for (code, retryable) in [
        (503, true),
        (500, true),
        (429, true),
        (404, false),
        (400, false),
    ] {
        let err = run(
            &engine,
            "http.request",
            exec,
            1,
            &call(code, json!([])),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(err.retryable, retryable, "{code}: {err:?}");
        assert!(err.message.contains(&code.to_string()), "{}", err.message);
        let out = err.output.expect("the answer is kept");
        assert_eq!(out["status"], code);
        assert_eq!(out["body"]["error"], "as asked");
    }
    let out = done(
        run(
            &engine,
            "http.request",
            exec,
            1,
            &call(404, json!([404])),
            None,
        )
        .await,
    );
    assert_eq!(out["status"], 404);
}

async fn long_bodies_are_truncated_and_slow_receivers_time_out(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let (base, _) = receiver("127.0.0.1").await;
    let exec = WorkflowId::new();
    let out = done(
        run(
            &engine,
            "http.request",
            exec,
            1,
            &json!({"url": format!("{base}/big")}),
            None,
        )
        .await,
    );
    assert_eq!(out["truncated"], true);
    assert_eq!(out["body"].as_str().unwrap().len(), 64 * 1024);
    let err = run(
        &engine,
        "http.request",
        exec,
        1,
        &json!({"url": format!("{base}/slow"), "timeoutMs": 200}),
        None,
    )
    .await
    .unwrap_err();
    assert!(err.retryable);
    assert!(
        err.message.contains("timed out after 200 ms"),
        "{}",
        err.message
    );
}

async fn credentials_authenticate_and_oauth2_tokens_are_cached(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let (base, r) = receiver("127.0.0.1").await;
    let exec = WorkflowId::new();
    let url = format!("{base}/secured");
    let cases = [
        (
            secret("http_bearer", json!({"token": "bearer-s3cret"})),
            ("authorization", "Bearer bearer-s3cret"),
        ),
        (
            secret("http_basic", json!({"username": "u", "password": "p"})),
            ("authorization", "Basic dTpw"),
        ),
        (
            secret(
                "api_key_header",
                json!({"header": "X-Api-Key", "value": "k-s3cret"}),
            ),
            ("x-api-key", "k-s3cret"),
        ),
    ];
    for (cred, (header, value)) in &cases {
        let config = json!({"url": url, "credentialId": cred.id});
        let out = done(run(&engine, "http.request", exec, 1, &config, Some(cred)).await);
        assert_eq!(out["status"], 200);
        let last = r.seen().pop().unwrap();
        assert_eq!(last.headers[*header], *value, "{}", cred.kind);
    }
    let oauth = secret(
        "oauth2_client_credentials",
        json!({"tokenUrl": format!("{base}/oauth/token"), "clientId": "app",
               "clientSecret": "app-secret", "scope": "read write"}),
    );
    let config = json!({"url": url, "credentialId": oauth.id});
    for _ in 0..3 {
        done(run(&engine, "http.request", exec, 1, &config, Some(&oauth)).await);
        let last = r.seen().pop().unwrap();
        assert_eq!(last.headers["authorization"], "Bearer tok-1");
    }
    assert_eq!(r.tokens.load(Ordering::SeqCst), 1, "the token is cached");
    // A wrong client secret is a permanent failure naming the OAuth2 error, not the secret.
    let wrong = secret(
        "oauth2_client_credentials",
        json!({"tokenUrl": format!("{base}/oauth/token"), "clientId": "app",
               "clientSecret": "wrong-s3cret"}),
    );
    let err = run(&engine, "http.request", exec, 1, &config, Some(&wrong))
        .await
        .unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("invalid_client"), "{}", err.message);
    assert!(!err.message.contains("s3cret"), "{}", err.message);
    // A credential of a type the action does not use.
    let smtp = secret("smtp", json!({"host": "h", "port": 25}));
    let err = run(&engine, "http.request", exec, 1, &config, Some(&smtp))
        .await
        .unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("smtp"), "{}", err.message);
}

async fn private_targets_are_refused_unless_allowed(db: TestDb) {
    let guarded = engine(db.store.clone(), false);
    let (ip_base, r) = receiver("127.0.0.1").await;
    let (name_base, _) = receiver("localhost").await;
    let exec = WorkflowId::new();
    for base in [&ip_base, &name_base] {
        let config = json!({"url": format!("{base}/hook")});
        let err = run(&guarded, "http.request", exec, 1, &config, None)
            .await
            .unwrap_err();
        assert!(!err.retryable, "{err:?}");
        assert!(err.message.contains("private"), "{}", err.message);
    }
    // The OAuth2 token endpoint passes the same guard.
    let oauth = secret(
        "oauth2_client_credentials",
        json!({"tokenUrl": format!("{ip_base}/oauth/token"), "clientId": "app",
               "clientSecret": "app-secret"}),
    );
    let err = run(
        &guarded,
        "http.request",
        exec,
        1,
        &json!({"url": "https://93.184.216.34/x", "credentialId": oauth.id}),
        Some(&oauth),
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("private"), "{}", err.message);
    assert!(r.seen().is_empty(), "nothing reached the receiver");
    let open = engine(db.store.clone(), true);
    for base in [&ip_base, &name_base] {
        let config = json!({"url": format!("{base}/hook")});
        done(run(&open, "http.request", exec, 1, &config, None).await);
    }
}

async fn bad_config_fails_permanently_without_secrets(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let exec = WorkflowId::new();
    let cases = [
        (json!({}), "missing field `url`"),
        (json!({"url": "ftp://example.com/x"}), "http://"),
        (
            json!({"url": "http://example.com", "method": "BREW"}),
            "method",
        ),
        (
            json!({"url": "http://example.com", "colour": "red"}),
            "unknown field",
        ),
        (
            json!({"url": "http://example.com", "allowStatus": ["s3cret"]}),
            "params.allowStatus",
        ),
        (
            json!({"url": "http://example.com", "headers": {"bad name": "v"}}),
            "header name",
        ),
        (
            json!({"url": "http://example.com", "credentialId": uuid::Uuid::now_v7()}),
            "not resolved",
        ),
    ];
    for (config, says) in cases {
        let err = run(&engine, "http.request", exec, 1, &config, None)
            .await
            .unwrap_err();
        assert!(!err.retryable, "{config}: {err:?}");
        assert!(err.message.contains(says), "{config}: {}", err.message);
        assert!(!err.message.contains("s3cret"), "{}", err.message);
    }
    let bearer = secret("http_bearer", json!({}));
    let err = run(
        &engine,
        "http.request",
        exec,
        1,
        &json!({"url": "http://127.0.0.1:9/x", "credentialId": bearer.id}),
        Some(&bearer),
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("has no 'token'"), "{}", err.message);
    let spec = engine
        .automations()
        .actions()
        .get("http.request")
        .unwrap()
        .spec()
        .clone();
    assert_eq!(spec.config_schema["required"], json!(["url"]));
    assert!(spec.external);
}
