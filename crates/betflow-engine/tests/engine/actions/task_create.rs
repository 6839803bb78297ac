//! `task.create`: a task row for a user or a role, in its assignee's open tasks, announced by
//! a `task.created` event; with `wait` the step waits for it.

use betflow_domain::automation::tasks::TaskStatus;
use betflow_domain::identity::Role;
use betflow_domain::ids::WorkflowId;
use betflow_engine::automations::ActionOutcome;
use betflow_engine::identity::{Credential, Principal};
use betflow_store::testing::TestDb;
use serde_json::json;
use uuid::Uuid;

use super::{done, engine, run};

betflow_store::conformance!(a_task_is_created_listed_and_completed);

fn principal(role: Role) -> Principal {
    Principal {
        user_id: Uuid::now_v7(),
        username: role.as_str().into(),
        role,
        permissions: vec!["*".into()],
        key_permissions: None,
        credential: Credential::Session(Uuid::now_v7()),
    }
}

async fn a_task_is_created_listed_and_completed(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let exec = WorkflowId::new();
    let before = engine.realtime().last_event_seq().await.unwrap();
    let config = json!({"title": "Check market 42", "description": "Exposure crossed",
                        "assigneeRole": "trader", "priority": "high", "dueInMinutes": 30,
                        "data": {"marketId": 42}});
    let out = done(run(&engine, "task.create", exec, 1, &config, None).await);
    assert_eq!(out["title"], "Check market 42");
    assert_eq!(out["status"], "pending");
    assert_eq!(out["priority"], "high");
    assert_eq!(out["assigneeRole"], "trader");
    assert_eq!(out["executionId"], json!(exec));
    assert_eq!(out["stepId"], "step_1");
    let id: Uuid = out["id"].as_str().unwrap().parse().unwrap();

    let trader = principal(Role::Trader);
    let (open, total) = engine.tasks().open_for(&trader, 0, 10).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(open[0].id, id);
    let (_, total) = engine
        .tasks()
        .open_for(&principal(Role::Auditor), 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 0, "another role does not see it");

    engine.realtime().relay_once().await.unwrap();
    let events = engine.realtime().events_after(before, 100).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.event_type == "task.created" && e.data["taskId"] == json!(id)),
        "{events:?}"
    );

    // With wait, the step waits on the task.
    let config = json!({"title": "Approve refund", "assigneeRole": "trader", "wait": true});
    let waiting = run(&engine, "task.create", exec, 1, &config, None)
        .await
        .unwrap();
    let ActionOutcome::Wait { waiting_on } = waiting else {
        panic!("expected Wait, got {waiting:?}");
    };
    let waited: Uuid = waiting_on["task"].as_str().unwrap().parse().unwrap();
    let t = engine.tasks().get(&trader, waited).await.unwrap();
    assert!(t.wait);

    let actor = Default::default();
    let t = engine
        .tasks()
        .set_status(&trader, id, TaskStatus::InProgress, &actor)
        .await
        .unwrap();
    assert_eq!(t.status, TaskStatus::InProgress);
    let t = engine
        .tasks()
        .set_status(&trader, id, TaskStatus::Completed, &actor)
        .await
        .unwrap();
    assert_eq!(t.completed_by, Some(trader.user_id));
    let err = engine
        .tasks()
        .set_status(&trader, id, TaskStatus::Cancelled, &actor)
        .await
        .unwrap_err();
    assert!(
        matches!(err, betflow_engine::EngineError::InvalidTransition(_)),
        "{err:?}"
    );
    let err = engine
        .tasks()
        .set_status(
            &principal(Role::Auditor),
            waited,
            TaskStatus::Completed,
            &actor,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, betflow_engine::EngineError::NotFound(_)),
        "{err:?}"
    );

    for (config, says) in [
        (json!({"title": "x"}), "assignee"),
        (json!({"title": "x", "assigneeRole": "pilot"}), "role"),
        (
            json!({"title": "x", "assigneeRole": "trader", "priority": "meh"}),
            "priority",
        ),
        (json!({"assigneeRole": "trader"}), "missing field `title`"),
    ] {
        let err = run(&engine, "task.create", exec, 1, &config, None)
            .await
            .unwrap_err();
        assert!(!err.retryable, "{config}: {err:?}");
        assert!(err.message.contains(says), "{config}: {}", err.message);
    }
}
