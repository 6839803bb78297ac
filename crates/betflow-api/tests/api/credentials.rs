//! Credentials, credential types and definition variables: metadata only out, secrets
//! encrypted at rest (searched for in the raw database), masked in the audit trail, refused
//! when expired or in use, and key rotation interrupted half way and resumed.

use std::sync::Arc;

use crate::common::{TestServer, spawn};
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_domain::workflow::record::Version;
use betflow_engine::secrets::{EncryptionKey, Keyring};
use betflow_engine::{EncryptionConfig, Engine, EngineConfig};
use betflow_store::testing::TestDb;
use serde_json::{Value, json};

betflow_store::conformance!(
    credentials_round_trip_as_metadata_only,
    bad_input_is_refused_with_stable_codes,
    roles_without_the_permission_are_refused,
    credentials_in_use_cannot_be_deleted_and_expired_ones_are_refused,
    variables_are_masked_and_decrypted_only_for_expressions,
    secrets_are_not_in_the_raw_database,
    rotation_interrupted_half_way_resumes_and_everything_decrypts,
);

const TOKEN: &str = "tok-PLAINTEXT-9f3a7c1e";
const PASSWORD: &str = "pw-PLAINTEXT-4d2b8e6a";
const VAR_SECRET: &str = "var-PLAINTEXT-7e1c5a9b";

/// The calls these tests drive, on the typed client.
impl TestServer {
    async fn create_credential(&self, token: &str, body: Value) -> crate::common::client::Reply {
        self.post_as(token, "/api/v1/credentials", body).await
    }

    async fn bearer(&self, token: &str, name: &str) -> String {
        self.create_credential(
            token,
            json!({"name": name, "type": "http_bearer", "data": {"token": TOKEN}}),
        )
        .await
        .created_id()
    }

    async fn put_variables(
        &self,
        token: &str,
        key: &str,
        vars: Value,
    ) -> crate::common::client::Reply {
        self.put_as(
            token,
            &format!("/api/v1/workflow-definitions/{key}/variables"),
            json!({ "variables": vars }),
        )
        .await
    }

    /// A definition (one approval step) through the API; returns its key.
    async fn definition(&self, token: &str, key: &str) -> String {
        let doc = json!({
            "key": key, "name": key, "category": "trading",
            "steps": [{"id": "review", "name": "Review", "type": "approval",
                       "assignees": ["risk_manager"]}],
            "edges": []
        });
        self.post_as(token, "/api/v1/workflow-definitions", doc)
            .await
            .status(201);
        key.to_owned()
    }

    /// Publishes (through the store) a new latest version of `key` whose step names
    /// `credential` in `params.credentialId`.
    async fn use_credential(&self, key: &str, credential: &str) {
        let d = self.db.store.get_definition(key).await.unwrap().unwrap();
        let graph: WorkflowGraph = serde_json::from_value(json!({
            "steps": [{"id": "call", "name": "Call", "type": "action", "action": "noop",
                       "params": {"credentialId": credential}}],
            "edges": []
        }))
        .unwrap();
        let v = Version {
            definition_id: d.id,
            version: d.latest_version + 1,
            graph,
            published_by: None,
            published_at: chrono::Utc::now(),
        };
        let mut tx = self.db.store.begin().await.unwrap();
        tx.insert_version(&v).await.unwrap();
        tx.update_definition(&betflow_domain::workflow::record::Definition {
            latest_version: v.version,
            ..d
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

#[track_caller]
fn assert_no_secret(what: &str, body: &Value) {
    let text = body.to_string();
    for s in [TOKEN, PASSWORD, VAR_SECRET] {
        assert!(!text.contains(s), "{what} shows a secret: {text}");
    }
}

async fn credentials_round_trip_as_metadata_only(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;

    let types = s.get_as(&admin, "/api/v1/credential-types").await.ok();
    let keys: Vec<&str> = types["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    for k in [
        "http_bearer",
        "http_basic",
        "api_key_header",
        "oauth2_client_credentials",
        "smtp",
        "sms_provider",
    ] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    let smtp = types["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "smtp")
        .unwrap();
    let tls = smtp["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "tls")
        .unwrap();
    assert_eq!(tls["values"], json!(["none", "starttls", "tls"]));
    assert!(
        smtp["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "password" && f["secret"] == true && f["required"] == false)
    );

    let reply = s
        .create_credential(
            &admin,
            json!({"name": " Feed login ", "type": "http_basic",
                   "data": {"username": "feed", "password": PASSWORD},
                   "expiresAt": "2099-01-01T00:00:00Z"}),
        )
        .await;
    let location = reply.header("location").to_owned();
    let created = reply.created();
    assert_no_secret("create", &created);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/credentials/{id}"));
    assert_eq!(created["name"], "Feed login");
    assert_eq!(created["type"], "http_basic");
    assert_eq!(created["expired"], false);
    assert!(created["lastUsedAt"].is_null());
    assert!(created.get("data").is_none(), "{created}");

    let got = s.get_as(&admin, &location).await.ok();
    assert_no_secret("get", &got);
    assert_eq!(got["id"], id.as_str());

    let other = s.bearer(&admin, "Bearer").await;
    let list = s.get_as(&admin, "/api/v1/credentials?owner=me").await.ok();
    assert_no_secret("list", &list);
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][1]["id"], other.as_str());

    // A change merges fields; the secret stays unless replaced.
    let changed = s
        .patch_as(
            &admin,
            &location,
            json!({"name": "Feed", "data": {"username": "feed2"}, "expiresAt": null}),
        )
        .await
        .ok();
    assert_no_secret("patch", &changed);
    assert_eq!(changed["name"], "Feed");
    assert!(changed["expiresAt"].is_null());
    let secret = s
        .engine
        .credentials()
        .resolve(id.parse().unwrap(), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(secret.kind, "http_basic");
    assert_eq!(secret.fields["username"], "feed2");
    assert_eq!(secret.fields["password"], PASSWORD);
    assert!(!format!("{secret:?}").contains(PASSWORD));
    let used = s.get_as(&admin, &location).await.ok();
    assert!(used["lastUsedAt"].is_string(), "{used}");

    // The audit trail has every change, secret fields masked.
    let audit = s.get_as(&admin, "/api/v1/audit-logs?limit=100").await.ok();
    assert_no_secret("audit", &audit);
    let text = audit.to_string();
    assert!(text.contains("user_credentials"), "{text}");
    assert!(text.contains("********"), "{text}");

    s.delete_as(&admin, &location).await.ok();
    s.get_as(&admin, &location).await.error(404, "NOT_FOUND");
    s.delete_as(&admin, &location).await.error(404, "NOT_FOUND");
    let list = s.get_as(&admin, "/api/v1/credentials").await.ok();
    assert_eq!(list["total"], 1);
}

async fn bad_input_is_refused_with_stable_codes(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let e = s
        .create_credential(
            &admin,
            json!({"name": "x", "type": "carrier_pigeon", "data": {"token": TOKEN}}),
        )
        .await
        .error(422, "UNKNOWN_CREDENTIAL_TYPE");
    assert_no_secret("unknown type", &e);
    let e = s
        .create_credential(
            &admin,
            json!({"name": "x", "type": "smtp",
                   "data": {"host": "mail", "port": 99999, "tls": "ssl", "password": PASSWORD,
                            "colour": "red"}}),
        )
        .await
        .error(422, "INVALID_CREDENTIAL_DATA");
    assert_no_secret("invalid data", &e);
    let fields: Vec<&str> = e["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in ["data.port", "data.tls", "data.colour"] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    s.create_credential(
        &admin,
        json!({"name": "x", "type": "http_bearer", "data": {}}),
    )
    .await
    .error(422, "INVALID_CREDENTIAL_DATA");
    s.create_credential(
        &admin,
        json!({"name": "  ", "type": "http_bearer", "data": {"token": TOKEN}}),
    )
    .await
    .error(400, "VALIDATION_ERROR");
    let (status, _) = s
        .create_credential(
            &admin,
            json!({"name": "x", "type": "http_bearer", "data": {"token": TOKEN}, "extra": 1}),
        )
        .await
        .into_parts();
    assert_eq!(status, 400);
    let (status, body) = s
        .create_credential(
            &admin,
            json!({"name": "x", "type": "http_bearer", "data": "tok"}),
        )
        .await
        .into_parts();
    assert_eq!(status, 400, "{body}");

    let id = s.bearer(&admin, "ok").await;
    let path = format!("/api/v1/credentials/{id}");
    s.patch_as(&admin, &path, json!({"data": {"token": null}}))
        .await
        .error(422, "INVALID_CREDENTIAL_DATA");
    s.patch_as(&admin, &path, json!({"data": {"nope": "x"}}))
        .await
        .error(422, "INVALID_CREDENTIAL_DATA");
    let missing = "/api/v1/credentials/0190a6e0-0000-7000-8000-000000000000";
    s.get_as(&admin, missing).await.error(404, "NOT_FOUND");
    s.patch_as(&admin, missing, json!({"name": "y"}))
        .await
        .error(404, "NOT_FOUND");
    s.delete_as(&admin, missing).await.error(404, "NOT_FOUND");
    let (status, _) = s
        .get_as(&admin, "/api/v1/credentials/not-a-uuid")
        .await
        .into_parts();
    assert_eq!(status, 400);
    for bad in ["someone", "", "0190a6e000007000800000000000000"] {
        s.get_as(&admin, &format!("/api/v1/credentials?owner={bad}"))
            .await
            .error(400, "VALIDATION_ERROR");
    }

    s.put_variables(&admin, "no_such_definition", json!([]))
        .await
        .error(404, "NOT_FOUND");
    s.get_as(
        &admin,
        "/api/v1/workflow-definitions/no_such_definition/variables",
    )
    .await
    .error(404, "NOT_FOUND");
    let key = s.definition(&admin, "vars_bad").await;
    let e = s
        .put_variables(
            &admin,
            &key,
            json!([{"name": "2bad", "value": 1}, {"name": "a", "value": 1},
                   {"name": "a", "value": 2}]),
        )
        .await
        .error(400, "VALIDATION_ERROR");
    assert!(
        e["message"].as_str().unwrap().contains("variables[0].name"),
        "{e}"
    );
    assert!(
        e["message"].as_str().unwrap().contains("given twice"),
        "{e}"
    );
    // Names the document allows, given twice: only the server can tell, so a 422.
    let e = s
        .put_variables(
            &admin,
            &key,
            json!([{"name": "a", "value": 1}, {"name": "a", "value": 2}]),
        )
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(e["details"][0]["field"], "variables[1].name", "{e}");
}

async fn roles_without_the_permission_are_refused(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, trader) = s.user_token(&admin, "trader1", "trader").await;
    let (_, auditor) = s.user_token(&admin, "auditor1", "auditor").await;
    let (_, manager) = s.user_token(&admin, "manager1", "manager").await;
    let id = s.bearer(&admin, "shared").await;
    let path = format!("/api/v1/credentials/{id}");
    for token in [&trader, &auditor] {
        s.create_credential(
            token,
            json!({"name": "x", "type": "http_bearer", "data": {"token": TOKEN}}),
        )
        .await
        .error(403, "INSUFFICIENT_PERMISSIONS");
        s.get_as(token, "/api/v1/credentials")
            .await
            .error(403, "INSUFFICIENT_PERMISSIONS");
        s.get_as(token, &path)
            .await
            .error(403, "INSUFFICIENT_PERMISSIONS");
        s.patch_as(token, &path, json!({"name": "y"}))
            .await
            .error(403, "INSUFFICIENT_PERMISSIONS");
        s.delete_as(token, &path)
            .await
            .error(403, "INSUFFICIENT_PERMISSIONS");
        s.get_as(token, "/api/v1/credential-types")
            .await
            .error(403, "INSUFFICIENT_PERMISSIONS");
    }
    // A manager holds credentials:manage.
    s.get_as(&manager, &path).await.ok();
    s.bearer(&manager, "mine").await;
    let mine = s
        .get_as(&manager, "/api/v1/credentials?owner=me")
        .await
        .ok();
    assert_eq!(mine["total"], 1);

    // Variables: reading needs workflows:read, replacing workflows:create and update.
    let key = s.definition(&admin, "vars_roles").await;
    let vars = format!("/api/v1/workflow-definitions/{key}/variables");
    s.get_as(&auditor, &vars).await.ok();
    s.put_variables(&auditor, &key, json!([]))
        .await
        .error(403, "INSUFFICIENT_PERMISSIONS");
    s.put_variables(&trader, &key, json!([{"name": "a", "value": 1}]))
        .await
        .ok();
}

async fn credentials_in_use_cannot_be_deleted_and_expired_ones_are_refused(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let id = s.bearer(&admin, "in use").await;
    let key = s.definition(&admin, "uses_credential").await;
    s.use_credential(&key, &id).await;
    let path = format!("/api/v1/credentials/{id}");
    let e = s
        .delete_as(&admin, &path)
        .await
        .error(409, "CREDENTIAL_IN_USE");
    assert_eq!(e["details"]["definitions"], json!([key]));

    // Deactivated, the definition no longer holds it.
    let d = s.db.store.get_definition(&key).await.unwrap().unwrap();
    let mut tx = s.db.store.begin().await.unwrap();
    tx.update_definition(&betflow_domain::workflow::record::Definition {
        is_active: false,
        ..d
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    s.delete_as(&admin, &path).await.ok();
    let err = s
        .engine
        .credentials()
        .resolve(id.parse().unwrap(), chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");

    // Expired (seed 004's isValid): refused to steps with a clear error, never marked used.
    let expired = s
        .create_credential(
            &admin,
            json!({"name": "old", "type": "api_key_header",
                   "data": {"header": "X-Key", "value": TOKEN},
                   "expiresAt": "2020-01-01T00:00:00Z"}),
        )
        .await
        .created();
    assert_eq!(expired["expired"], true);
    let err = s
        .engine
        .credentials()
        .resolve(
            expired["id"].as_str().unwrap().parse().unwrap(),
            chrono::Utc::now(),
        )
        .await
        .unwrap_err();
    let refusal = err.refusal().unwrap();
    assert_eq!(refusal.code, "CREDENTIAL_EXPIRED");
    assert!(refusal.message.contains("expired"), "{}", refusal.message);
    assert!(!refusal.message.contains(TOKEN));
    let again = s
        .get_as(
            &admin,
            &format!("/api/v1/credentials/{}", expired["id"].as_str().unwrap()),
        )
        .await
        .ok();
    assert!(again["lastUsedAt"].is_null());
}

async fn variables_are_masked_and_decrypted_only_for_expressions(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let key = s.definition(&admin, "vars_def").await;
    let path = format!("/api/v1/workflow-definitions/{key}/variables");
    assert_eq!(s.get_as(&admin, &path).await.ok()["items"], json!([]));
    let stored = s
        .put_variables(
            &admin,
            &key,
            json!([{"name": "limit", "value": 250},
                   {"name": "apiKey", "value": VAR_SECRET, "secret": true},
                   {"name": "base", "value": {"url": "https://x.example"}}]),
        )
        .await
        .ok();
    assert_no_secret("put", &stored);
    let got = s.get_as(&admin, &path).await.ok();
    assert_no_secret("get", &got);
    let names: Vec<&str> = got["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["apiKey", "base", "limit"]);
    assert_eq!(got["items"][0]["value"], "********");
    assert_eq!(got["items"][0]["secret"], true);
    assert_eq!(got["items"][2]["value"], 250);

    let d = s.db.store.get_definition(&key).await.unwrap().unwrap();
    let vars = s.engine.credentials().vars_for(d.id).await.unwrap();
    assert_eq!(vars["apiKey"], VAR_SECRET);
    assert_eq!(vars["limit"], 250);
    assert_eq!(vars["base"]["url"], "https://x.example");

    // Sending the mask back keeps the secret; leaving a variable out removes it.
    s.put_variables(
        &admin,
        &key,
        json!([{"name": "apiKey", "value": "********", "secret": true},
               {"name": "limit", "value": 300}]),
    )
    .await
    .ok();
    let vars = s.engine.credentials().vars_for(d.id).await.unwrap();
    assert_eq!(vars["apiKey"], VAR_SECRET);
    assert_eq!(vars["limit"], 300);
    assert!(!vars.contains_key("base"));

    let audit = s.get_as(&admin, "/api/v1/audit-logs?limit=100").await.ok();
    assert_no_secret("audit", &audit);
    assert!(audit.to_string().contains("workflow_variables"));
}

async fn secrets_are_not_in_the_raw_database(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    s.create_credential(
        &admin,
        json!({"name": "raw-check-name", "type": "http_basic",
               "data": {"username": "raw-user", "password": PASSWORD}}),
    )
    .await
    .created();
    let key = s.definition(&admin, "raw_vars").await;
    s.put_variables(
        &admin,
        &key,
        json!([{"name": "secretVar", "value": VAR_SECRET, "secret": true},
               {"name": "plainVar", "value": "plain-visible-value"}]),
    )
    .await
    .ok();
    // An outbound webhook's signing secret too.
    // (Private targets are allowed in tests: nothing is delivered here.)
    let webhook_secret = s
        .post_as(
            &admin,
            "/api/v1/webhooks",
            json!({"name": "raw", "url": "http://127.0.0.1:9/hook", "events": ["*"]}),
        )
        .await
        .created()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let tables = [
        "user_credentials",
        "workflow_variables",
        "webhooks",
        "audit_log",
    ];
    // The search works: clear metadata is found...
    assert!(s.db.raw_storage_contains(&tables, "raw-check-name").await);
    assert!(
        s.db.raw_storage_contains(&tables, "plain-visible-value")
            .await
    );
    // ...and no secret is.
    for secret in [PASSWORD, VAR_SECRET] {
        assert!(
            !s.db.raw_storage_contains(&tables, secret).await,
            "{secret} stored in clear"
        );
    }
    let bare = webhook_secret.trim_start_matches("whsec_");
    assert!(!s.db.raw_storage_contains(&tables, bare).await);
    let stored = s.db.store.list_webhooks().await.unwrap();
    assert!(stored[0].secret.starts_with("v1:"), "{}", stored[0].secret);
    let id = stored[0].id;
    assert_eq!(
        s.engine.webhooks().get(id).await.unwrap().secret,
        webhook_secret
    );
}

fn engine_with(db: &TestDb, key: &EncryptionKey, previous: &[EncryptionKey]) -> Arc<Engine> {
    Arc::new(
        Engine::new(
            db.store.clone(),
            None,
            EngineConfig {
                identity: crate::common::identity_config(),
                encryption: EncryptionConfig {
                    key: Some(key.clone()),
                    previous: previous.to_vec(),
                },
                ..Default::default()
            },
        )
        .unwrap(),
    )
}

async fn rotation_interrupted_half_way_resumes_and_everything_decrypts(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(s.bearer(&admin, &format!("c{i}")).await);
    }
    let key = s.definition(&admin, "rotate_vars").await;
    s.put_variables(
        &admin,
        &key,
        json!([{"name": "s1", "value": VAR_SECRET, "secret": true},
               {"name": "s2", "value": "second", "secret": true},
               {"name": "clear", "value": 1}]),
    )
    .await
    .ok();
    let d = s.db.store.get_definition(&key).await.unwrap().unwrap();
    // An inbound endpoint's secret (encrypted by the triggers service).
    let inbound = s
        .engine
        .triggers()
        .create(
            &key,
            betflow_engine::triggers::NewTrigger::Webhook {
                name: "feed".into(),
                scheme: betflow_domain::automation::triggers::Scheme::Standard,
                header: None,
                tolerance_secs: None,
                rate_limit: None,
            },
            true,
            &betflow_domain::audit::Actor::default(),
        )
        .await
        .unwrap();
    let inbound_secret = inbound.secret.clone().unwrap();

    // A legacy webhook stored with its secret in clear (before encryption at rest).
    let t = chrono::Utc::now();
    let legacy = betflow_domain::webhooks::Webhook {
        id: uuid::Uuid::now_v7(),
        name: "legacy".into(),
        url: "https://hooks.example.com/legacy".into(),
        events: vec!["*".into()],
        description: None,
        enabled: true,
        timeout_ms: 5000,
        rate_limit: None,
        retry_attempts: 1,
        secret: "whsec_bGVnYWN5LXNlY3JldC12YWx1ZS0xMjM0NTY3OA==".into(),
        previous_secret: None,
        previous_expires_at: None,
        failing_since: None,
        disabled_reason: None,
        created_by: None,
        created_at: t,
        updated_at: t,
    };
    let mut tx = s.db.store.begin().await.unwrap();
    tx.insert_webhook(&legacy).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        s.engine.webhooks().get(legacy.id).await.unwrap().secret,
        legacy.secret,
        "legacy clear text is read as it is"
    );

    // The operator moves to a new key, keeping the old one for decryption.
    let new = EncryptionKey::generate().unwrap();
    assert_ne!(new.id(), s.engine.keyring().current_id());
    // Without the old key nothing old decrypts: the rotation needs both.
    let only_new = engine_with(&s.db, &new, &[]);
    assert!(
        only_new
            .credentials()
            .resolve(ids[0].parse().unwrap(), chrono::Utc::now())
            .await
            .is_err()
    );

    // Interrupted: a first run stops after 3 rows.
    let both = engine_with(
        &s.db,
        &new,
        &[betflow_engine::secrets::process_key().unwrap()],
    );
    let first = both.credentials().rotate_keys(Some(3)).await.unwrap();
    assert_eq!(first.rotated(), 3);
    assert!(first.remaining);
    let moved =
        s.db.store
            .credentials_not_under(&new.id(), 100)
            .await
            .unwrap()
            .len();
    assert_eq!(moved, 2, "three of five credentials moved");
    // Half way, everything still decrypts with both keys.
    for id in &ids {
        both.credentials()
            .resolve(id.parse().unwrap(), chrono::Utc::now())
            .await
            .unwrap();
    }
    assert_eq!(
        both.credentials().vars_for(d.id).await.unwrap()["s1"],
        VAR_SECRET
    );

    // Resumed: the next run picks up the rest, the legacy webhook secret included.
    let second = both.credentials().rotate_keys(None).await.unwrap();
    assert_eq!(second.credentials, 2);
    assert_eq!(second.variables, 2);
    assert_eq!(second.inbound_endpoints, 1);
    assert!(second.webhooks >= 1, "{second:?}");
    assert!(!second.remaining);
    let third = both.credentials().rotate_keys(None).await.unwrap();
    assert_eq!(third.rotated(), 0, "{third:?}");

    // The old key can go: the new one alone decrypts everything.
    let after = engine_with(&s.db, &new, &[]);
    for id in &ids {
        let c = after
            .credentials()
            .resolve(id.parse().unwrap(), chrono::Utc::now())
            .await
            .unwrap();
        assert_eq!(c.fields["token"], TOKEN);
    }
    let vars = after.credentials().vars_for(d.id).await.unwrap();
    assert_eq!(
        (vars["s1"].as_str(), vars["s2"].as_str()),
        (Some(VAR_SECRET), Some("second"))
    );
    let stored =
        s.db.store
            .inbound_secrets_not_under("none", 10)
            .await
            .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(Keyring::key_id_of(&stored[0].1), Some(new.id().as_str()));
    let opened = Keyring::new(&new, &[])
        .decrypt_str(
            betflow_engine::triggers::SECRET_PURPOSE,
            &stored[0].0.to_string(),
            &stored[0].1,
        )
        .unwrap();
    assert_eq!(opened.expose(), inbound_secret);
    let hook = after.webhooks().get(legacy.id).await.unwrap();
    assert_eq!(hook.secret, legacy.secret);
    let stored = s.db.store.get_webhook(legacy.id).await.unwrap().unwrap();
    assert_eq!(Keyring::key_id_of(&stored.secret), Some(new.id().as_str()));
    // On PostgreSQL the row as text no longer holds it. (SQLite keeps overwritten bytes in
    // its WAL and free pages until they are reused: the legacy value was written in clear
    // before encryption at rest.)
    if s.db.store.backend() == betflow_store::Backend::Postgres {
        assert!(
            !s.db
                .raw_storage_contains(&["webhooks"], "bGVnYWN5LXNlY3JldC12YWx1ZS0xMjM0NTY3OA")
                .await
        );
    }
}
