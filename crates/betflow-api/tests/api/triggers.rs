//! Automation triggers over HTTP: a definition's triggers (every problem named at once), and
//! inbound webhooks signed per Standard Webhooks or plain HMAC-SHA256: good, bad, replayed
//! and stale signatures, a body too large, an unknown endpoint, and the rate limit.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use betflow_domain::PageRequest;
use betflow_domain::audit::SystemEventQuery;
use betflow_store::testing::TestDb;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{TestServer, spawn};

betflow_store::conformance!(
    triggers_are_managed_and_every_problem_is_named,
    inbound_webhooks_are_verified_and_replays_start_nothing,
    inbound_hmac_and_the_rate_limit,
);

const DEFS: &str = "/api/v1/workflow-definitions";

/// A definition whose runs set one field and end.
async fn define(s: &TestServer, admin: &str, key: &str) {
    let doc = json!({
        "key": key, "name": key,
        "steps": [{"id": "mark", "name": "mark", "type": "action", "action": "set_data",
                   "params": {"received": true}}],
        "edges": []
    });
    s.post_as(admin, DEFS, doc).await.status(201);
}

fn triggers(key: &str) -> String {
    format!("{DEFS}/{key}/triggers")
}

fn fields(error: &Value) -> Vec<String> {
    error["details"]
        .as_array()
        .unwrap_or_else(|| panic!("details: {error}"))
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn triggers_are_managed_and_every_problem_is_named(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    define(&s, &admin, "alerts").await;
    let t = triggers("alerts");

    let event = s
        .post_as(
            &admin,
            &t,
            json!({"kind": "event", "eventType": "bet.*",
            "filter": "event.data.stake > 100"}),
        )
        .await
        .created();
    assert_eq!(event["kind"], "event");
    assert_eq!(event["eventType"], "bet.*");
    assert_eq!(event["isActive"], true);
    let schedule = s
        .post_as(
            &admin,
            &t,
            json!({"kind": "schedule", "cron": "0 8 * * *",
            "timezone": "Europe/London", "catchUp": "skip"}),
        )
        .await
        .created();
    assert_eq!(schedule["catchUp"], "skip");
    assert!(schedule["nextFireAt"].is_string());
    let hook = s
        .post_as(
            &admin,
            &t,
            json!({"kind": "webhook", "name": "results feed"}),
        )
        .await
        .created();
    assert_eq!(hook["scheme"], "standard");
    assert_eq!(hook["toleranceSeconds"], 300);
    let id = hook["id"].as_str().unwrap();
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    assert!(
        hook["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/v1/hooks/{id}")),
        "{hook}"
    );

    let all = s.get_as(&admin, &t).await.ok();
    let kinds: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["event", "schedule", "webhook"]);
    assert!(
        all.to_string().find("whsec_").is_none(),
        "the secret is shown once"
    );
    let got = s.get_as(&admin, &format!("{t}/{id}")).await.ok();
    assert_eq!(got["name"], "results feed");
    assert!(got.get("secret").is_none());

    // Bad input: every problem named, with stable codes.
    let e = s
        .post_as(
            &admin,
            &t,
            json!({"kind": "event", "eventType": "Bet.*", "filter": "stake >"}),
        )
        .await
        .error(400, "VALIDATION_ERROR");
    assert_eq!(fields(&e), ["eventType", "filter"]);
    // Only the server can tell a filter does not compile (422); the pattern is the schema's (400).
    let e = s
        .post_as(
            &admin,
            &t,
            json!({"kind": "event", "eventType": "bet.*", "filter": "data.x > 1"}),
        )
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(fields(&e), ["filter"]);
    s.post_as(&admin, &t, json!({"kind": "event", "eventType": "bet..x"}))
        .await
        .error(400, "VALIDATION_ERROR");
    let e = s
        .post_as(
            &admin,
            &t,
            json!({"kind": "schedule", "cron": "61 * * *",
            "timezone": "Mars/Olympus"}),
        )
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(fields(&e), ["cron", "timezone"]);
    let e = s
        .post_as(
            &admin,
            &t,
            json!({"kind": "webhook", "name": " ", "header": "X Sig",
            "scheme": "hmac_sha256", "toleranceSeconds": 0}),
        )
        .await
        .error(400, "VALIDATION_ERROR");
    assert_eq!(fields(&e), ["name", "header", "toleranceSeconds"]);
    let e = s
        .post_as(
            &admin,
            &t,
            json!({"kind": "schedule", "cron": "0 8 * * *", "name": "x"}),
        )
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(fields(&e), ["name", "timezone"]);
    s.post_as(&admin, &t, json!({"kind": "carrier_pigeon"}))
        .await
        .error(400, "VALIDATION_ERROR");

    // Changes: a misplaced field is refused; a new cron moves the next fire time.
    let sid = schedule["id"].as_str().unwrap();
    let e = s
        .patch_as(&admin, &format!("{t}/{sid}"), json!({"eventType": "bet.*"}))
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(fields(&e), ["eventType"]);
    let changed = s
        .patch_as(
            &admin,
            &format!("{t}/{sid}"),
            json!({"cron": "30 1 * * *", "isActive": false}),
        )
        .await
        .ok();
    assert_eq!(
        (changed["cron"].as_str(), changed["isActive"].as_bool()),
        (Some("30 1 * * *"), Some(false))
    );
    let eid = event["id"].as_str().unwrap();
    let changed = s
        .patch_as(&admin, &format!("{t}/{eid}"), json!({"filter": null}))
        .await
        .ok();
    assert!(changed["filter"].is_null());

    s.delete_as(&admin, &format!("{t}/{eid}")).await.ok();
    s.get_as(&admin, &format!("{t}/{eid}"))
        .await
        .error(404, "NOT_FOUND");
    s.get_as(&admin, &triggers("nope"))
        .await
        .error(404, "NOT_FOUND");
    s.get_as(&admin, &format!("{}/{sid}", triggers("nope")))
        .await
        .error(404, "NOT_FOUND");
}

/// A Standard Webhooks signature, computed independently of the server's code.
fn standard_sign(secret: &str, id: &str, ts: i64, body: &str) -> String {
    let key = B64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

fn hex_sign(secret: &str, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn post_hook(
    s: &TestServer,
    id: &str,
    headers: &[(&str, String)],
    body: String,
) -> reqwest::Response {
    // A connection per request: a pooled one the server has just closed (after refusing a
    // large body) would fail the next request with an incomplete message.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut req = client
        .post(s.url(&format!("/api/v1/hooks/{id}")))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap()
}

fn signed(secret: &str, msg: &str, ts: i64, body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("webhook-id", msg.to_owned()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", standard_sign(secret, msg, ts, body)),
    ]
}

async fn status_and_code(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn inbound_webhooks_are_verified_and_replays_start_nothing(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    define(&s, &admin, "results").await;
    let hook = s
        .post_as(
            &admin,
            &triggers("results"),
            json!({"kind": "webhook", "name": "feed"}),
        )
        .await
        .created();
    let id = hook["id"].as_str().unwrap();
    let secret = hook["secret"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    let body = json!({"market": "m1", "result": "home"}).to_string();

    // Good: 202 with the run, whose input is the payload.
    let (status, ok) = status_and_code(
        post_hook(&s, id, &signed(secret, "msg_1", now, &body), body.clone()).await,
    )
    .await;
    assert_eq!(status, 202, "{ok}");
    let run: Uuid = ok["data"]["executionId"].as_str().unwrap().parse().unwrap();
    let execution = s.db.store.get_execution(run).await.unwrap().unwrap();
    assert_eq!(execution.input, json!({"market": "m1", "result": "home"}));
    assert_eq!(
        execution.trigger_id.map(|t| t.to_string()).as_deref(),
        Some(id)
    );
    assert_eq!(execution.trigger_event_id.as_deref(), Some("msg_1"));

    // Replayed: the same message id again, correctly signed, starts nothing.
    let (status, e) = status_and_code(
        post_hook(&s, id, &signed(secret, "msg_1", now, &body), body.clone()).await,
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (409, Some("WEBHOOK_REPLAYED")),
        "{e}"
    );

    // Bad: another secret's signature; recorded, nothing started.
    let other = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBvZiAzMiBieQ==";
    crate::common::expect_error(
        post_hook(&s, id, &signed(other, "msg_2", now, &body), body.clone()).await,
        401,
        "INVALID_SIGNATURE",
    )
    .await;
    // A body changed after signing.
    crate::common::expect_error(
        post_hook(
            &s,
            id,
            &signed(secret, "msg_3", now, &body),
            json!({"result": "away"}).to_string(),
        )
        .await,
        401,
        "INVALID_SIGNATURE",
    )
    .await;
    // Stale: signed six minutes ago.
    crate::common::expect_error(
        post_hook(
            &s,
            id,
            &signed(secret, "msg_4", now - 360, &body),
            body.clone(),
        )
        .await,
        401,
        "TIMESTAMP_OUT_OF_TOLERANCE",
    )
    .await;
    crate::common::expect_error(
        post_hook(&s, id, &[], body.clone()).await,
        401,
        "SIGNATURE_MISSING",
    )
    .await;
    let rejected = s
        .engine
        .system_events(&SystemEventQuery {
            event_type: Some("inbound_webhook.rejected".into()),
            min_severity: None,
            from: None,
            until: None,
            page: PageRequest::new(Some(1), Some(50)).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(rejected.items.len(), 4, "each refusal recorded");

    // Too large, unknown endpoint, not JSON.
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(300 * 1024));
    crate::common::expect_error(
        post_hook(&s, id, &signed(secret, "msg_5", now, &big), big.clone()).await,
        413,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    crate::common::expect_error(
        post_hook(
            &s,
            &Uuid::now_v7().to_string(),
            &signed(secret, "msg_6", now, &body),
            body.clone(),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    crate::common::expect_error(
        post_hook(
            &s,
            id,
            &signed(secret, "msg_7", now, "not json"),
            "not json".into(),
        )
        .await,
        400,
        "VALIDATION_ERROR",
    )
    .await;

    crate::common::expect_error(
        post_hook(
            &s,
            id,
            &signed(secret, "msg_9", now, "[1, 2]"),
            "[1, 2]".into(),
        )
        .await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
    // Only the one good request started a run.
    let runs =
        s.db.store
            .list_executions(&betflow_domain::automation::execution::ExecutionFilter {
                definition_key: Some("results".into()),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
    assert_eq!(runs.len(), 1);
    // An inactive endpoint is not there.
    s.patch_as(
        &admin,
        &format!("{}/{id}", triggers("results")),
        json!({"isActive": false}),
    )
    .await
    .ok();
    crate::common::expect_error(
        post_hook(&s, id, &signed(secret, "msg_8", now, &body), body).await,
        404,
        "NOT_FOUND",
    )
    .await;
}

async fn inbound_hmac_and_the_rate_limit(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    define(&s, &admin, "feed").await;
    let hook = s
        .post_as(
            &admin,
            &triggers("feed"),
            json!({"kind": "webhook", "name": "plain",
            "scheme": "hmac_sha256", "header": "X-Hub-Signature", "rateLimit": 3}),
        )
        .await
        .created();
    let id = hook["id"].as_str().unwrap();
    let secret = hook["secret"].as_str().unwrap();
    let body = json!({"n": 1}).to_string();
    let good = vec![(
        "x-hub-signature",
        format!("sha256={}", hex_sign(secret, &body)),
    )];
    let (status, ok) = status_and_code(post_hook(&s, id, &good, body.clone()).await).await;
    assert_eq!(status, 202, "{ok}");
    let bad = vec![("x-hub-signature", hex_sign("guess", &body))];
    crate::common::expect_error(
        post_hook(&s, id, &bad, body.clone()).await,
        401,
        "INVALID_SIGNATURE",
    )
    .await;
    // Three a minute: within a few more requests one is refused with Retry-After.
    let mut limited = None;
    for _ in 0..6 {
        let res = post_hook(&s, id, &good, body.clone()).await;
        if res.status().as_u16() == 429 {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status().as_u16(), 202);
    }
    let res = limited.expect("the rate limit refuses");
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    crate::common::expect_error(res, 429, "RATE_LIMITED").await;
}
