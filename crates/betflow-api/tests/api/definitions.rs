//! Workflow definitions as a catalogue (issue 17): editing with `createVersion`,
//! deactivation, soft delete, the filtered list and drafts built a step at a time, on both
//! backends.

use crate::common::{TestServer, spawn};
use betflow_domain::audit::Actor;
use betflow_domain::automation::execution::TriggerType;
use betflow_engine::automations::{StartExecution, TriggerRef};
use betflow_store::testing::TestDb;
use serde_json::{Value, json};

/// Drafts built a step at a time (its own file, to keep each under 400 lines).
#[path = "definition_drafts.rs"]
mod drafts;

betflow_store::conformance!(
    editing_deactivating_and_new_versions,
    deleted_definitions_are_hidden_and_start_nothing,
    listing_filters_order_and_skip,
);

pub(super) fn doc(key: &str, name: &str, tags: &[&str]) -> Value {
    json!({
        "key": key, "name": name, "category": "trading", "tags": tags,
        "description": format!("{name} for the trading desk"),
        "steps": [{"id": "review", "name": "Review", "type": "approval",
                   "assignees": ["risk_manager"], "fourEyes": false}]
    })
}

fn keys(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether an automation run (the path triggers and the execute route take) starts.
async fn execution_starts(s: &TestServer, key: &str) -> bool {
    let start = StartExecution {
        definition_key: key.to_owned(),
        trigger: TriggerRef {
            kind: TriggerType::Manual,
            trigger_id: None,
            event_id: None,
        },
        input: json!({}),
    };
    s.engine
        .start_execution(start, &Actor::default())
        .await
        .is_ok()
}

pub(super) async fn start(s: &TestServer, token: &str, key: &str) -> String {
    s.create_workflow(token, json!({"workflowType": key, "data": {}}))
        .await
        .created_id()
}

async fn editing_deactivating_and_new_versions(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, reviewer) = s.user_token(&admin, "reviewer", "risk_manager").await;
    s.create_definition(&admin, doc("odds_review", "Odds review", &["odds"]))
        .await
        .created();

    // Metadata only: name, tags, a cleared description, a category.
    let d = s
        .patch_definition(
            &admin,
            "odds_review",
            json!({"name": "  Odds review (EU) ", "tags": ["odds", "eu"], "description": null,
                   "category": "risk"}),
        )
        .await
        .ok();
    assert_eq!(d["name"], "Odds review (EU)");
    assert_eq!(d["tags"], json!(["odds", "eu"]));
    assert_eq!(d["description"], Value::Null);
    assert_eq!(d["category"], "risk");
    assert_eq!(d["latestVersion"], 1, "metadata makes no version");

    // A published version is immutable: steps without createVersion are refused.
    let v2 = json!([{"id": "review", "name": "Review", "type": "approval",
                     "assignees": ["risk_manager"], "fourEyes": false},
                    {"id": "signoff", "name": "Sign-off", "type": "approval",
                     "assignees": ["trading_manager"]}]);
    let err = s
        .patch_definition(&admin, "odds_review", json!({"steps": v2}))
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(err["details"][0]["field"], "createVersion", "{err}");

    // A run on version 1, then version 2 through createVersion.
    let running = start(&s, &admin, "odds_review").await;
    let d = s
        .patch_definition(
            &admin,
            "odds_review",
            json!({"createVersion": true, "steps": v2, "name": "Odds review v2"}),
        )
        .await
        .ok();
    assert_eq!(d["latestVersion"], 2);
    assert_eq!(d["current"]["steps"].as_array().unwrap().len(), 2);
    let versions = s.definition_versions(&admin, "odds_review").await.ok();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    // createVersion with a broken graph: every problem, nothing changed.
    let err = s
        .patch_definition(
            &admin,
            "odds_review",
            json!({"createVersion": true, "name": "Never",
                   "steps": [{"id": "a", "name": "A", "type": "approval", "assignees": ["wizard"]},
                             {"id": "b", "name": "B", "type": "condition"}]}),
        )
        .await
        .error(422, "VALIDATION_ERROR");
    let fields: Vec<&str> = err["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"steps.a") && fields.contains(&"steps.b"),
        "{err}"
    );
    assert_eq!(
        s.get_definition(&admin, "odds_review").await.ok()["name"],
        "Odds review v2"
    );

    // Deactivated: no new runs; the running one continues on its version.
    let d = s
        .patch_definition(&admin, "odds_review", json!({"isActive": false}))
        .await
        .ok();
    assert_eq!(d["isActive"], false);
    s.create_workflow(&admin, json!({"workflowType": "odds_review", "data": {}}))
        .await
        .error(422, "VALIDATION_ERROR");
    assert!(
        !execution_starts(&s, "odds_review").await,
        "inactive: no runs"
    );
    let w = s.approve(&reviewer, &running).await.ok();
    assert_eq!(
        w["status"], "completed",
        "version 1 ends after its one review"
    );
    assert_eq!(w["version"], 1);
    s.patch_definition(&admin, "odds_review", json!({"isActive": true}))
        .await
        .ok();
    let fresh = start(&s, &admin, "odds_review").await;
    assert_eq!(s.workflow(&admin, &fresh).await.ok()["version"], 2);
    assert!(execution_starts(&s, "odds_review").await, "active again");

    // Bad input.
    s.patch_definition(&admin, "no_such_key", json!({"name": "x"}))
        .await
        .error(404, "NOT_FOUND");
    s.patch_definition(&admin, "odds_review", json!({"name": " "}))
        .await
        .error(400, "VALIDATION_ERROR");
    s.patch_definition(&admin, "odds_review", json!({"name": null}))
        .await
        .error(400, "VALIDATION_ERROR");
    s.patch_definition(&admin, "odds_review", json!({"edges": []}))
        .await
        .error(422, "VALIDATION_ERROR");
    s.patch_definition(&admin, "odds_review", json!({"colour": "red"}))
        .await
        .error(400, "VALIDATION_ERROR");
    s.patch_definition(&reviewer, "odds_review", json!({"name": "x"}))
        .await
        .status(403);

    // Each change is audited with its before and after.
    let id = d["id"].as_str().unwrap();
    let audit = s
        .audit_logs(
            &admin,
            &format!("tableName=workflow_definitions&recordId={id}&limit=100"),
        )
        .await
        .ok();
    let updates: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "UPDATE")
        .collect();
    assert!(updates.len() >= 4, "{audit}");
    assert!(
        updates
            .iter()
            .any(|e| e["oldValues"]["isActive"] == true && e["newValues"]["isActive"] == false),
        "{audit}"
    );
}

async fn deleted_definitions_are_hidden_and_start_nothing(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, reviewer) = s.user_token(&admin, "reviewer", "risk_manager").await;
    s.create_definition(&admin, doc("doomed", "Doomed", &["x"]))
        .await
        .created();
    let running = start(&s, &admin, "doomed").await;
    s.open_draft(&admin, "doomed", None).await.created();
    s.delete_definition(&admin, "doomed").await.ok();

    s.get_definition(&admin, "doomed")
        .await
        .error(404, "NOT_FOUND");
    s.definition_versions(&admin, "doomed")
        .await
        .error(404, "NOT_FOUND");
    s.draft(&admin, "doomed").await.error(404, "NOT_FOUND");
    assert!(!keys(&s.definitions(&admin, "limit=100").await.ok()).contains(&"doomed".into()));
    s.create_workflow(&admin, json!({"workflowType": "doomed", "data": {}}))
        .await
        .error(422, "VALIDATION_ERROR");
    assert!(!execution_starts(&s, "doomed").await, "deleted: no runs");
    s.patch_definition(&admin, "doomed", json!({"isActive": true}))
        .await
        .error(404, "NOT_FOUND");
    s.delete_definition(&admin, "doomed")
        .await
        .error(404, "NOT_FOUND");
    // The key stays taken: runs and the audit name it.
    s.create_definition(&admin, doc("doomed", "Again", &[]))
        .await
        .error(409, "CONFLICT");
    // The running workflow continues and its history stays.
    let w = s.approve(&reviewer, &running).await.ok();
    assert_eq!(w["status"], "completed");
    s.delete_definition(&reviewer, "content_publishing")
        .await
        .status(403);
}

async fn listing_filters_order_and_skip(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (author_id, author) = s.user_token(&admin, "author", "senior_trader").await;
    s.create_definition(
        &admin,
        doc("alpha_flow", "Zeta approvals", &["pricing", "eu"]),
    )
    .await
    .created();
    s.create_definition(&author, doc("beta_flow", "Alpha approvals", &["pricing"]))
        .await
        .created();
    s.create_definition(&author, doc("gamma_flow", "Middle", &["eu"]))
        .await
        .created();
    s.patch_definition(&admin, "gamma_flow", json!({"isActive": false}))
        .await
        .ok();
    s.open_draft(&admin, "beta_flow", Some("empty"))
        .await
        .created();

    let list = |q: &'static str| {
        let s = &s;
        let admin = &admin;
        async move { keys(&s.definitions(admin, q).await.ok()) }
    };
    // Two seeded ones and three created.
    assert_eq!(s.definitions(&admin, "").await.ok()["total"], 5);
    assert_eq!(list("tags=pricing").await, ["alpha_flow", "beta_flow"]);
    assert_eq!(list("tags=pricing,eu").await, ["alpha_flow"]);
    assert_eq!(list("search=ALPHA").await, ["alpha_flow", "beta_flow"]);
    assert_eq!(list("search=desk&status=inactive").await, ["gamma_flow"]);
    assert_eq!(list("status=draft").await, ["beta_flow"]);
    assert!(!list("status=active").await.contains(&"gamma_flow".into()));
    let mine = keys(
        &s.definitions(&admin, &format!("owner={author_id}"))
            .await
            .ok(),
    );
    assert_eq!(mine, ["beta_flow", "gamma_flow"]);
    assert_eq!(
        list("search=_flow&orderBy=name:desc").await,
        ["alpha_flow", "gamma_flow", "beta_flow"]
    );
    assert_eq!(
        list("search=_flow&orderBy=key:desc").await,
        ["gamma_flow", "beta_flow", "alpha_flow"]
    );
    // skip/limit (seed 004) and page/limit both page.
    let page = s
        .definitions(&admin, "search=_flow&skip=1&limit=1")
        .await
        .ok();
    assert_eq!(keys(&page), ["beta_flow"]);
    assert_eq!(page["total"], 3);
    assert_eq!(list("search=_flow&page=3&limit=1").await, ["gamma_flow"]);
    assert_eq!(
        list("search=_flow&skip=1&page=3&limit=1").await,
        ["beta_flow"],
        "skip wins over page"
    );
    // LIKE wildcards are text.
    assert!(list("search=%25").await.is_empty());

    for bad in [
        "orderBy=id",
        "orderBy=name:up",
        "orderBy=name;drop",
        "status=deleted",
        "owner=nobody",
        "skip=-1",
        "limit=0",
    ] {
        s.definitions(&admin, bad)
            .await
            .note(bad)
            .error(400, "VALIDATION_ERROR");
    }
}
