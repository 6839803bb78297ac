//! Outbound webhooks against a real local HTTP receiver: Standard Webhooks signatures checked
//! by an independent implementation of the spec, retries, 410, Retry-After, rotation, recovery,
//! a delivery that survives a restart, and the SSRF guard.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{TestServer, fast_webhooks, identity_config, spawn, spawn_engine, test_config};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use betflow_store::testing::TestDb;
use hmac::{KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};

betflow_store::conformance!(
    deliveries_are_signed_retried_and_listed,
    gone_disables_rotation_signs_twice_and_recovery_requeues,
    a_delivery_survives_a_restart,
    integer_fields_take_integral_numbers_in_any_spelling,
);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A scripted reply: a status and an optional Retry-After.
type Reply = (u16, Option<&'static str>);

/// A webhook receiver on loopback that answers from a script (then 200).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state.got.lock().unwrap().push(Received { headers, body });
                    let (status, retry_after) = state
                        .script
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or((200, None));
                    let mut res = axum::response::Response::new(axum::body::Body::from(format!(
                        "receiver says {status}"
                    )));
                    *res.status_mut() = StatusCode::from_u16(status).unwrap();
                    if let Some(ra) = retry_after {
                        res.headers_mut().insert("retry-after", ra.parse().unwrap());
                    }
                    res
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    fn answer(&self, replies: &[Reply]) {
        self.script.lock().unwrap().extend(replies.iter().copied());
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..500 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "the receiver got {} requests, not {n}",
            self.received().len()
        );
    }
}

/// Standard Webhooks verification, written from the specification (not betflow's code):
/// which of the space-separated `v1,` signatures match `secret`.
fn verify(secret: &str, r: &Received) -> bool {
    let h = |n: &str| r.headers.get(n).unwrap().to_str().unwrap().to_owned();
    let (id, ts, sigs) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    let ts_num: i64 = ts.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - ts_num).abs() < 300,
        "timestamp within tolerance"
    );
    let key = B64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{}", r.body).as_bytes());
    let expected = B64.encode(mac.finalize().into_bytes());
    sigs.split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

async fn call(
    s: &TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.with_token(method, path, token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn register(s: &TestServer, admin: &str, body: Value) -> (String, String) {
    let (status, res) = call(s, Method::POST, "/api/v1/webhooks", admin, Some(body)).await;
    assert_eq!(status, 201, "{res}");
    let secret = res["data"]["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (
        res["data"]["webhook"]["id"].as_str().unwrap().to_owned(),
        secret,
    )
}

async fn create_workflow(s: &TestServer, token: &str) -> String {
    let (status, res) = call(
        s,
        Method::POST,
        "/api/v1/workflows",
        token,
        Some(json!({"workflowType": "content_publishing",
            "data": {"contentType": "promotion", "title": "Boost", "jurisdiction": "UK"}})),
    )
    .await;
    assert_eq!(status, 201, "{res}");
    res["data"]["id"].as_str().unwrap().to_owned()
}

async fn deliveries(s: &TestServer, admin: &str, hook: &str) -> Vec<Value> {
    let (status, res) = call(
        s,
        Method::GET,
        &format!("/api/v1/webhooks/{hook}/deliveries"),
        admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{res}");
    res["data"]["items"].as_array().unwrap().clone()
}

/// Polls until the delivery list satisfies `done`.
async fn until(
    s: &TestServer,
    admin: &str,
    hook: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..300 {
        let d = deliveries(s, admin, hook).await;
        if done(&d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "deliveries never settled: {:?}",
        deliveries(s, admin, hook).await
    );
}

async fn deliveries_are_signed_retried_and_listed(db: TestDb) {
    let s = spawn(db).await;
    let (_relay, _worker) = (s.relay(), s.worker());
    let admin = s.admin_token().await;
    let (rx, url) = Receiver::start().await;
    rx.answer(&[(500, None), (503, None)]);
    let (hook, secret) = register(
        &s,
        &admin,
        json!({"name": "ops", "url": url, "events": ["workflow.created"], "timeout": 2000,
               "description": "ops channel"}),
    )
    .await;
    let workflow = create_workflow(&s, &admin).await;

    let got = rx.wait_for(3).await;
    for r in &got {
        assert!(verify(&secret, r), "signature verifies: {:?}", r.headers);
        assert_eq!(r.headers["content-type"], "application/json");
    }
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "one id across retries: {ids:?}"
    );
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "workflow.created");
    assert_eq!(body["id"], ids[0], "webhook-id is the event id");
    assert_eq!(body["data"]["id"], workflow.as_str());
    assert!(body["seq"].as_i64().unwrap() > 0);
    // A tampered body fails the independent check.
    let mut forged = got[0].clone();
    forged.body = forged.body.replace("workflow.created", "workflow.approved");
    assert!(!verify(&secret, &forged));

    let list = until(&s, &admin, &hook, |d| {
        d.first().is_some_and(|d| d["status"] == "succeeded")
    })
    .await;
    assert_eq!(list.len(), 1, "only workflow.created was subscribed");
    let d = &list[0];
    assert_eq!(d["attemptCount"], 3);
    assert_eq!(d["eventType"], "workflow.created");
    let codes: Vec<u64> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 200]);
    assert_eq!(d["attempts"][0]["response"], "receiver says 500");
    assert!(d["attempts"][2]["latencyMs"].is_u64());
    assert!(d["nextAttemptAt"].is_null());

    // The secret is never shown again.
    for path in [
        format!("/api/v1/webhooks/{hook}"),
        "/api/v1/webhooks".to_owned(),
    ] {
        let res = s
            .with_token(Method::GET, &path, &admin)
            .send()
            .await
            .unwrap();
        let text = res.text().await.unwrap();
        assert!(!text.contains("whsec_"), "{text}");
        assert!(text.contains("ops channel"), "{text}");
    }

    // Bad input: every problem at once, and the permission.
    let (status, err) = call(
        &s,
        Method::POST,
        "/api/v1/webhooks",
        &admin,
        Some(json!({"name": "", "url": "ftp://x", "events": ["Bad Name"], "timeout": 0})),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(
        err["error"]["details"].as_array().unwrap().len(),
        4,
        "{err}"
    );
    let (status, _) = call(
        &s,
        Method::PATCH,
        &format!("/api/v1/webhooks/{hook}"),
        &admin,
        Some(json!({"retryAttempts": 99})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &s,
        Method::GET,
        "/api/v1/webhooks/00000000-0000-0000-0000-000000000000",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, trader) = s.user_token(&admin, "trader", "trader").await;
    let (status, _) = call(&s, Method::GET, "/api/v1/webhooks", &trader, None).await;
    assert_eq!(status, 403);
    let (status, updated) = call(
        &s,
        Method::PATCH,
        &format!("/api/v1/webhooks/{hook}"),
        &admin,
        Some(json!({"description": null, "rateLimit": 100})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert!(updated["data"]["description"].is_null());
    assert_eq!(updated["data"]["rateLimit"], 100);
    let (status, _) = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/webhooks/{hook}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &s,
        Method::GET,
        &format!("/api/v1/webhooks/{hook}/deliveries"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 404);
}

async fn gone_disables_rotation_signs_twice_and_recovery_requeues(db: TestDb) {
    let s = spawn(db).await;
    let (_relay, _worker) = (s.relay(), s.worker());
    let admin = s.admin_token().await;

    // 410 Gone disables the endpoint and raises endpoint.disabled.
    let (gone_rx, gone_url) = Receiver::start().await;
    gone_rx.answer(&[(410, None)]);
    let (gone, _) = register(
        &s,
        &admin,
        json!({"name": "gone", "url": gone_url, "events": ["workflow.*"]}),
    )
    .await;
    create_workflow(&s, &admin).await;
    gone_rx.wait_for(1).await;
    let mut hook = Value::Null;
    for _ in 0..200 {
        hook = call(
            &s,
            Method::GET,
            &format!("/api/v1/webhooks/{gone}"),
            &admin,
            None,
        )
        .await
        .1;
        if hook["data"]["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hook["data"]["enabled"], false, "{hook}");
    assert!(
        hook["data"]["disabledReason"]
            .as_str()
            .unwrap()
            .contains("410")
    );
    s.relayed().await;
    let events = s.engine.realtime().events_after(0, 1000).await.unwrap();
    let disabled = events
        .iter()
        .find(|e| e.event_type == "endpoint.disabled")
        .expect("endpoint.disabled");
    assert_eq!(disabled.data["webhookId"], gone.as_str());

    // Rotation: both secrets sign during the grace period.
    let (rx, url) = Receiver::start().await;
    let (hook, old_secret) = register(
        &s,
        &admin,
        json!({"name": "rotating", "url": url, "events": ["nothing.*"]}),
    )
    .await;
    let (status, rotated) = call(
        &s,
        Method::POST,
        &format!("/api/v1/webhooks/{hook}/rotate-secret"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["data"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);
    assert!(rotated["data"]["webhook"]["previousSecretExpiresAt"].is_string());
    let (status, ping) = call(
        &s,
        Method::POST,
        &format!("/api/v1/webhooks/{hook}/test"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{ping}");
    assert_eq!(ping["data"]["status"], "succeeded");
    assert_eq!(ping["data"]["eventType"], "ping");
    let got = rx.wait_for(1).await;
    assert_eq!(
        got[0].headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    assert!(verify(&new_secret, &got[0]) && verify(&old_secret, &got[0]));

    // 429 with Retry-After: the next attempt waits at least that long.
    rx.answer(&[(429, Some("30"))]);
    let (_, ping) = call(
        &s,
        Method::POST,
        &format!("/api/v1/webhooks/{hook}/test"),
        &admin,
        None,
    )
    .await;
    assert_eq!(ping["data"]["status"], "pending", "{ping}");
    let next: chrono::DateTime<chrono::Utc> = ping["data"]["nextAttemptAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        next >= chrono::Utc::now() + chrono::Duration::seconds(25),
        "{next}"
    );
    // Retry now, without waiting.
    let id = ping["data"]["id"].as_str().unwrap();
    let (status, _) = call(
        &s,
        Method::POST,
        &format!("/api/v1/webhooks/deliveries/{id}/retry"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    until(&s, &admin, &hook, |d| {
        d.iter().filter(|d| d["status"] == "succeeded").count() == 2
    })
    .await;

    // With no retries, a failure is final; recover queues it again.
    let (status, _) = call(
        &s,
        Method::PATCH,
        &format!("/api/v1/webhooks/{hook}"),
        &admin,
        Some(json!({"retryAttempts": 0, "events": ["workflow.created"]})),
    )
    .await;
    assert_eq!(status, 200);
    rx.answer(&[(500, None)]);
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    create_workflow(&s, &admin).await;
    until(&s, &admin, &hook, |d| {
        d.iter().any(|d| d["status"] == "failed")
    })
    .await;
    let (status, res) = call(
        &s,
        Method::POST,
        &format!("/api/v1/webhooks/{hook}/recover"),
        &admin,
        Some(json!({"since": before})),
    )
    .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["data"]["recovered"], 1);
    until(&s, &admin, &hook, |d| {
        d.iter().all(|d| d["status"] == "succeeded")
    })
    .await;
    // A window that ends before it starts holds nothing: 0 re-queued, not an error.
    let (status, res) = call(
        &s,
        Method::POST,
        &format!("/api/v1/webhooks/{hook}/recover"),
        &admin,
        Some(json!({"since": chrono::Utc::now() + chrono::Duration::hours(1)})),
    )
    .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["data"]["recovered"], 0);
}

async fn a_delivery_survives_a_restart(db: TestDb) {
    let store_config = db.config.clone();
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (rx, url) = Receiver::start().await;
    register(
        &s,
        &admin,
        json!({"name": "durable", "url": url, "events": ["workflow.created"]}),
    )
    .await;
    create_workflow(&s, &admin).await;
    // The relay queues the delivery; a worker claims its job and dies before sending.
    s.relayed().await;
    let now = chrono::Utc::now();
    let taken =
        s.db.store
            .claim_jobs(
                "killed-worker",
                now + chrono::Duration::seconds(1),
                Duration::from_secs(60),
                10,
            )
            .await
            .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].kind, "webhook.deliver");
    assert!(rx.received().is_empty());

    // A new process on the same database takes the job over once the lease has run out.
    let store = betflow_store::connect(&store_config).await.unwrap();
    let restarted = betflow_engine::Engine::new(
        store,
        None,
        betflow_engine::EngineConfig {
            identity: identity_config(),
            webhooks: fast_webhooks(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        restarted
            .run_due_jobs("new", now + chrono::Duration::seconds(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        restarted
            .run_due_jobs("new", now + chrono::Duration::seconds(62))
            .await
            .unwrap(),
        1
    );
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "workflow.created");
}

/// Without BETFLOW_WEBHOOKS_ALLOW_PRIVATE, private targets are refused when registered.
#[tokio::test]
async fn private_targets_are_refused() {
    let s = spawn_engine(
        TestDb::sqlite().await,
        test_config(),
        None,
        identity_config(),
        Default::default(),
    )
    .await;
    let admin = s.admin_token().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
    ] {
        let (status, err) = call(
            &s,
            Method::POST,
            "/api/v1/webhooks",
            &admin,
            Some(json!({"name": "x", "url": url, "events": ["*"]})),
        )
        .await;
        assert_eq!(status, 400, "{url}: {err}");
        assert_eq!(err["error"]["details"][0]["field"], "url", "{err}");
        assert!(err.to_string().contains("private"), "{err}");
    }
}

/// The document's `integer` is JSON Schema's, where `5000.0` and `2e0` are integers: the
/// server takes them as such (a contract test generated `"retryAttempts": 4.0` and got a 400),
/// refuses a fractional or out-of-range number, and answers 201 with `Location`.
async fn integer_fields_take_integral_numbers_in_any_spelling(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let post = |body: &'static str| {
        s.with_token(Method::POST, "/api/v1/webhooks", &admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let res = post(
        r#"{"name": "floats", "url": "http://127.0.0.1:9/hook", "events": ["*"],
            "timeout": 5000.0, "retryAttempts": 2e0, "rateLimit": -0.0e0}"#,
    )
    .await
    .unwrap();
    // rateLimit 0 is out of its range (1..=100000): the integer is read, then refused.
    assert_eq!(res.status(), 400);
    let res = post(
        r#"{"name": "floats", "url": "http://127.0.0.1:9/hook", "events": ["*"],
            "timeout": 5000.0, "retryAttempts": 2e0, "rateLimit": 6.0E1}"#,
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let hook = &body["data"]["webhook"];
    assert_eq!(
        location,
        format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap())
    );
    assert_eq!(hook["timeout"], 5000);
    assert_eq!(hook["retryAttempts"], 2);
    assert_eq!(hook["rateLimit"], 60);
    for bad in [
        r#"{"name": "f", "url": "http://127.0.0.1:9/h", "events": ["*"], "timeout": 5000.5}"#,
        r#"{"name": "f", "url": "http://127.0.0.1:9/h", "events": ["*"], "timeout": 1e300}"#,
        r#"{"name": "f", "url": "http://127.0.0.1:9/h", "events": ["*"], "timeout": -1.0}"#,
    ] {
        let res = post(bad).await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "VALIDATION_ERROR", "{bad}: {err}");
    }
}
