//! Automation tasks in `/api/v1/tasks`: listed after the workflow steps for their assignee
//! (user or role) with their title and status, and moved with `PATCH /api/v1/tasks/{id}`.

use crate::common::spawn;
use betflow_domain::automation::tasks::NewTask;
use betflow_domain::workflow::Priority;
use betflow_store::testing::TestDb;
use serde_json::json;
use uuid::Uuid;

betflow_store::conformance!(automation_tasks_are_listed_and_updated);

async fn automation_tasks_are_listed_and_updated(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (trader_id, trader) = s.user_token(&admin, "trader1", "trader").await;
    let (_, auditor) = s.user_token(&admin, "auditor1", "auditor").await;
    let (_, senior) = s.user_token(&admin, "senior1", "senior_trader").await;
    let exec = Uuid::now_v7();
    let new = |title: &str, user: Option<Uuid>, role: Option<&str>| NewTask {
        title: title.into(),
        description: Some("from an automation".into()),
        assignee_user_id: user,
        assignee_role: role.map(str::to_owned),
        priority: Priority::High,
        execution_id: Some(exec),
        step_id: Some("review".into()),
        ..Default::default()
    };
    let actor = Default::default();
    let tasks = s.engine.tasks();
    let for_role = tasks
        .create(new("Check market 42", None, Some("trader")), &actor)
        .await
        .unwrap();
    let for_user = tasks
        .create(
            new("Call the customer", Some(trader_id.parse().unwrap()), None),
            &actor,
        )
        .await
        .unwrap();

    let page = s.get_as(&trader, "/api/v1/tasks").await.ok();
    assert_eq!(page["total"], 2, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], json!(for_user.id), "newest first");
    assert_eq!(items[1]["id"], json!(for_role.id));
    let item = &items[1];
    assert_eq!(item["kind"], "task");
    assert_eq!(item["title"], "Check market 42");
    assert_eq!(item["stepName"], "Check market 42");
    assert_eq!(item["status"], "pending");
    assert_eq!(item["priority"], "high");
    assert_eq!(item["assignees"], json!(["trader"]));
    assert_eq!(item["workflowId"], json!(exec));
    assert_eq!(items[0]["assigneeUserId"], json!(trader_id));
    let one = s.get_as(&trader, "/api/v1/tasks?limit=1&page=2").await.ok();
    assert_eq!(one["items"][0]["id"], json!(for_role.id));
    assert_eq!(one["total"], 2);
    let theirs = s.get_as(&auditor, "/api/v1/tasks").await.ok();
    assert_eq!(theirs["total"], 0);
    assert_eq!(s.get_as(&admin, "/api/v1/tasks").await.ok()["total"], 2);

    let path = format!("/api/v1/tasks/{}", for_role.id);
    let r = s
        .patch_as(&trader, &path, json!({"status": "in_progress"}))
        .await
        .ok();
    assert_eq!(r["status"], "in_progress");
    s.patch_as(&trader, &path, json!({"status": "pending"}))
        .await
        .refused(409, "INVALID_TRANSITION");
    s.patch_as(&auditor, &path, json!({"status": "completed"}))
        .await
        .note("auditors lack workflows:execute")
        .status(403);
    s.patch_as(&senior, &path, json!({"status": "completed"}))
        .await
        .note("another role's task is not found")
        .status(404);
    s.patch_as(&trader, &path, json!({"status": "done"}))
        .await
        .status(400);
    s.patch_as(&trader, &path, json!({"status": "completed", "extra": 1}))
        .await
        .status(400);
    let r = s
        .patch_as(&trader, &path, json!({"status": "completed"}))
        .await
        .ok();
    assert_eq!(r["status"], "completed");
    let page = s.get_as(&trader, "/api/v1/tasks").await.ok();
    assert_eq!(page["total"], 1, "a completed task leaves the inbox");
    s.patch_as(
        &trader,
        &format!("/api/v1/tasks/{}", Uuid::now_v7()),
        json!({"status": "completed"}),
    )
    .await
    .status(404);
}
