//! `workflow.start`: a seeded approval type created by the definition's owner, waited for
//! within the step's timeout; refusals.

use betflow_domain::ids::WorkflowId;
use betflow_domain::workflow::Priority;
use betflow_store::testing::TestDb;
use serde_json::json;
use uuid::Uuid;

use super::{admin_id, done, engine, run_as};

betflow_store::conformance!(an_approval_workflow_is_started_for_the_owner);

async fn an_approval_workflow_is_started_for_the_owner(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    engine.workflows().ensure_seeded().await.unwrap();
    let owner = admin_id(&engine).await;
    let exec = WorkflowId::new();
    let input = json!({"title": "New Featured Bets", "contentType": "featured_bets",
                       "jurisdiction": "UK", "financialImpact": 50000, "contentId": "fb-1",
                       "markets": ["match_winner"]});
    let config = json!({"definitionKey": "content_publishing", "input": input,
                        "priority": "high"});
    let out = done(
        run_as(
            &engine,
            "workflow.start",
            exec,
            1,
            &config,
            None,
            Some(owner),
            5_000,
        )
        .await,
    );
    assert_eq!(out["definitionKey"], "content_publishing");
    assert_eq!(out["status"], "in_progress");
    let id: Uuid = out["workflowId"].as_str().unwrap().parse().unwrap();
    let w = engine.workflows().get(id.into()).await.unwrap().instance;
    assert_eq!(w.workflow_type, "content_publishing");
    assert_eq!(w.priority, Priority::High);
    assert_eq!(w.created_by, Some(owner));
    assert_eq!(w.data["contentId"], "fb-1");

    // Waiting for an approval that nobody decides: the attempt times out, retryably.
    let mut waiting = config.clone();
    waiting["wait"] = json!(true);
    let err = run_as(
        &engine,
        "workflow.start",
        exec,
        1,
        &waiting,
        None,
        Some(owner),
        400,
    )
    .await
    .unwrap_err();
    assert!(err.retryable, "{err:?}");
    assert!(err.message.contains("still in_progress"), "{}", err.message);
    assert_eq!(err.output.unwrap()["status"], "in_progress");

    for (config, owner, says) in [
        (config.clone(), None, "has none"),
        (
            json!({"definitionKey": "no_such_flow"}),
            Some(owner),
            "no_such_flow",
        ),
        (
            json!({"definitionKey": "test_automation"}),
            Some(owner),
            "itself",
        ),
        (
            json!({"definitionKey": "content_publishing", "input": {"title": 5}}),
            Some(owner),
            "workflow.start",
        ),
    ] {
        let err = run_as(
            &engine,
            "workflow.start",
            exec,
            1,
            &config,
            None,
            owner,
            2_000,
        )
        .await
        .unwrap_err();
        assert!(!err.retryable, "{config}: {err:?}");
        assert!(err.message.contains(says), "{config}: {}", err.message);
    }
}
