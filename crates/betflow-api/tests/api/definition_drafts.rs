//! Drafts (seed 003's flow) through the API: open, add, change and remove steps, connect
//! and disconnect them, publish (every problem at once), discard; on both backends.

use super::{doc, start};
use crate::common::spawn;
use betflow_store::testing::TestDb;
use serde_json::{Value, json};

betflow_store::conformance!(
    drafts_are_built_step_by_step_and_published_whole,
    draft_edits_refuse_bad_input,
);

fn task(id: &str) -> Value {
    json!({"id": id, "name": id, "type": "task", "assignees": ["trader"]})
}

async fn drafts_are_built_step_by_step_and_published_whole(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, reviewer) = s.user_token(&admin, "reviewer", "risk_manager").await;
    s.create_definition(&admin, doc("stepwise", "Stepwise", &[]))
        .await
        .created();
    let running = start(&s, &admin, "stepwise").await;

    // From the latest version: its steps are there.
    let d = s.open_draft(&admin, "stepwise", None).await.created();
    assert_eq!(d["baseVersion"], 1);
    assert_eq!(d["steps"][0]["id"], "review");
    assert_eq!(d["problems"], json!([]));
    s.open_draft(&admin, "stepwise", Some("empty"))
        .await
        .error(409, "CONFLICT");

    // Add a condition and two steps, connect them.
    let d = s
        .add_draft_step(
            &admin,
            "stepwise",
            json!({"id": "big", "name": "Big?", "type": "condition", "condition": "data.amount > 100"}),
        )
        .await
        .created();
    assert_eq!(d["steps"].as_array().unwrap().len(), 2);
    s.add_draft_step(&admin, "stepwise", task("escalate"))
        .await
        .created();
    s.add_draft_step(&admin, "stepwise", task("spare"))
        .await
        .created();
    s.add_draft_edge(&admin, "stepwise", "review", "big", "approved")
        .await
        .created();
    s.add_draft_edge(&admin, "stepwise", "big", "escalate", "true")
        .await
        .created();
    s.add_draft_edge(&admin, "stepwise", "big", "spare", "false")
        .await
        .created();
    // Change a step: a merge patch; a new id renames its edges.
    let d = s
        .patch_draft_step(
            &admin,
            "stepwise",
            "spare",
            json!({"id": "archive", "name": "Archive"}),
        )
        .await
        .ok();
    assert!(
        d["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == "big" && e["to"] == "archive" && e["branch"] == "false"),
        "{d}"
    );
    // Remove a step: its edges go too.
    let d = s
        .remove_draft_step(&admin, "stepwise", "archive")
        .await
        .ok();
    assert!(
        d["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["to"] != "archive"),
        "{d}"
    );
    let d = s
        .remove_draft_edge(&admin, "stepwise", "big", "escalate", "true")
        .await
        .ok();
    assert_eq!(d["edges"].as_array().unwrap().len(), 1);
    s.add_draft_edge(&admin, "stepwise", "big", "escalate", "true")
        .await
        .created();

    // Break it several ways at once: publishing reports every problem and changes nothing.
    s.patch_draft_step(
        &admin,
        "stepwise",
        "escalate",
        json!({"assignees": ["wizard"]}),
    )
    .await
    .ok();
    s.add_draft_step(&admin, "stepwise", task("orphan"))
        .await
        .created();
    s.patch_draft_step(
        &admin,
        "stepwise",
        "big",
        json!({"condition": "data.amount >"}),
    )
    .await
    .ok();
    let shown = s.draft(&admin, "stepwise").await.ok();
    assert_eq!(shown["problems"].as_array().unwrap().len(), 3, "{shown}");
    let err = s
        .publish_draft(&admin, "stepwise")
        .await
        .error(422, "VALIDATION_ERROR");
    let mut fields: Vec<&str> = err["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["steps.big", "steps.escalate", "steps.orphan"],
        "{err}"
    );
    assert_eq!(
        s.get_definition(&admin, "stepwise").await.ok()["latestVersion"],
        1
    );

    // Fix and publish: version 2; the draft is closed.
    s.remove_draft_step(&admin, "stepwise", "orphan").await.ok();
    s.patch_draft_step(
        &admin,
        "stepwise",
        "escalate",
        json!({"assignees": ["senior_trader"]}),
    )
    .await
    .ok();
    s.patch_draft_step(
        &admin,
        "stepwise",
        "big",
        json!({"condition": "data.amount > 100"}),
    )
    .await
    .ok();
    let v = s.publish_draft(&admin, "stepwise").await.created();
    assert_eq!(v["version"], 2);
    assert_eq!(v["steps"].as_array().unwrap().len(), 3);
    s.draft(&admin, "stepwise").await.error(404, "NOT_FOUND");
    s.publish_draft(&admin, "stepwise")
        .await
        .error(404, "NOT_FOUND");

    // Runs stay pinned: the one on version 1 completes after its review; a new run on
    // version 2 goes on to the condition and its task.
    let w = s.approve(&reviewer, &running).await.ok();
    assert_eq!(
        (w["status"].as_str(), w["version"].as_u64()),
        (Some("completed"), Some(1))
    );
    let fresh = s
        .create_workflow(
            &admin,
            json!({"workflowType": "stepwise", "data": {"amount": 500}}),
        )
        .await
        .created_id();
    let w = s.approve(&reviewer, &fresh).await.ok();
    assert_eq!(w["version"], 2);
    assert_eq!(w["currentStep"], "escalate", "{w}");
    // Version 1 is unchanged.
    let versions = s.definition_versions(&admin, "stepwise").await.ok();
    assert_eq!(versions[0]["steps"].as_array().unwrap().len(), 1);

    // An empty draft publishes nothing: one problem, on `steps`.
    s.open_draft(&admin, "stepwise", Some("empty"))
        .await
        .created();
    let err = s
        .publish_draft(&admin, "stepwise")
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(err["details"][0]["field"], "steps", "{err}");
    s.delete_as(&admin, "/api/v1/workflow-definitions/stepwise/draft")
        .await
        .ok();
    s.draft(&admin, "stepwise").await.error(404, "NOT_FOUND");

    // Action steps are checked against the engine's registry at publish: an expression that
    // does not compile and an unknown action, both reported.
    s.open_draft(&admin, "stepwise", Some("empty"))
        .await
        .created();
    s.add_draft_step(
        &admin,
        "stepwise",
        json!({"id": "call", "name": "Call", "type": "action", "action": "http.request",
               "params": {"method": "GET", "url": "{{ input. }}"}}),
    )
    .await
    .created();
    s.add_draft_step(
        &admin,
        "stepwise",
        json!({"id": "ghost", "name": "Ghost", "type": "action", "action": "no.such.action"}),
    )
    .await
    .created();
    s.add_draft_edge(&admin, "stepwise", "call", "ghost", "default")
        .await
        .created();
    let err = s
        .publish_draft(&admin, "stepwise")
        .await
        .error(422, "VALIDATION_ERROR");
    let details = err["details"].as_array().unwrap();
    let about = |step: &str, text: &str| {
        details.iter().any(|d| {
            d["field"] == format!("steps.{step}") && d["message"].as_str().unwrap().contains(text)
        })
    };
    assert!(about("call", "params.url"), "{err}");
    assert!(about("ghost", "unknown action"), "{err}");
}

async fn draft_edits_refuse_bad_input(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, reader) = s.user_token(&admin, "reader", "risk_manager").await;
    s.open_draft(&admin, "no_such_key", None)
        .await
        .error(404, "NOT_FOUND");
    s.add_draft_step(&admin, "content_publishing", task("x"))
        .await
        .error(404, "NOT_FOUND");
    s.open_draft(&admin, "content_publishing", Some("empty"))
        .await
        .created();
    s.open_draft(&admin, "line_change_approval", Some("sideways"))
        .await
        .error(400, "VALIDATION_ERROR");
    s.add_draft_step(&admin, "content_publishing", task("a"))
        .await
        .created();
    s.add_draft_step(&admin, "content_publishing", task("a"))
        .await
        .error(409, "CONFLICT");
    s.add_draft_step(
        &admin,
        "content_publishing",
        json!({"id": "b", "name": "B"}),
    )
    .await
    .error(400, "VALIDATION_ERROR");
    s.add_draft_step(
        &admin,
        "content_publishing",
        json!({"id": "b", "name": "B", "type": "task", "colour": 1}),
    )
    .await
    .error(400, "VALIDATION_ERROR");
    let err = s
        .add_draft_edge(&admin, "content_publishing", "a", "ghost", "default")
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(err["details"][0]["field"], "to", "{err}");
    s.add_draft_edge(&admin, "content_publishing", "a", "a", "sideways")
        .await
        .error(400, "VALIDATION_ERROR");
    s.add_draft_step(&admin, "content_publishing", task("b"))
        .await
        .created();
    s.add_draft_edge(&admin, "content_publishing", "a", "b", "default")
        .await
        .created();
    s.add_draft_edge(&admin, "content_publishing", "a", "b", "default")
        .await
        .error(409, "CONFLICT");
    s.remove_draft_edge(&admin, "content_publishing", "b", "a", "default")
        .await
        .error(404, "NOT_FOUND");
    s.patch_draft_step(&admin, "content_publishing", "ghost", json!({"name": "x"}))
        .await
        .error(404, "NOT_FOUND");
    s.patch_draft_step(&admin, "content_publishing", "a", json!({"id": "b"}))
        .await
        .error(409, "CONFLICT");
    s.patch_draft_step(
        &admin,
        "content_publishing",
        "a",
        json!({"type": "nonsense"}),
    )
    .await
    .error(422, "VALIDATION_ERROR");
    s.patch_draft_step(&admin, "content_publishing", "a", json!([1]))
        .await
        .error(400, "VALIDATION_ERROR");
    s.remove_draft_step(&admin, "content_publishing", "ghost")
        .await
        .error(404, "NOT_FOUND");
    s.add_draft_step(&reader, "content_publishing", task("c"))
        .await
        .status(403);
    // A reader may look.
    let d = s.draft(&reader, "content_publishing").await.ok();
    assert_eq!(d["steps"].as_array().unwrap().len(), 2);
}
