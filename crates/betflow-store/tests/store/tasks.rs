//! Tasks on both backends: created, read back, listed per user and role (open ones, newest
//! first), counted and moved to a final status.

use betflow_domain::automation::tasks::{NewTask, TaskStatus};
use betflow_domain::time::now;
use betflow_domain::workflow::Priority;
use betflow_store::testing::TestDb;
use chrono::Duration;
use serde_json::json;
use uuid::Uuid;

betflow_store::conformance!(tasks_round_trip_and_list_per_assignee);

async fn tasks_round_trip_and_list_per_assignee(db: TestDb) {
    let t0 = now();
    let user = Uuid::now_v7();
    let exec = Uuid::now_v7();
    let mut made = Vec::new();
    for (i, (u, role)) in [
        (Some(user), None),
        (None, Some("trader")),
        (None, Some("risk_manager")),
    ]
    .into_iter()
    .enumerate()
    {
        let task = NewTask {
            title: format!("task {i}"),
            description: Some("look at it".into()),
            assignee_user_id: u,
            assignee_role: role.map(str::to_owned),
            due_at: Some(t0 + Duration::hours(1)),
            priority: Priority::High,
            execution_id: Some(exec),
            step_id: Some("review".into()),
            wait: i == 0,
            data: Some(json!({"marketId": i})),
        }
        .into_task(t0 + Duration::seconds(i as i64))
        .unwrap();
        let mut tx = db.store.begin().await.unwrap();
        tx.insert_task(&task).await.unwrap();
        tx.commit().await.unwrap();
        made.push(task);
    }
    let back = db.store.get_task(made[0].id).await.unwrap().unwrap();
    assert_eq!(back.id, made[0].id);
    assert_eq!(back.title, "task 0");
    assert_eq!(back.priority, Priority::High);
    assert_eq!(back.status, TaskStatus::Pending);
    assert!(back.wait);
    assert_eq!(back.data, json!({"marketId": 0}));
    assert_eq!(back.execution_id, Some(exec));
    assert!(db.store.get_task(Uuid::now_v7()).await.unwrap().is_none());

    // A trader named `user` sees their own task and the traders' one, newest first.
    let mine = db
        .store
        .open_tasks(Some(user), Some("trader"), 0, 10)
        .await
        .unwrap();
    let titles: Vec<_> = mine.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["task 1", "task 0"]);
    assert_eq!(
        db.store
            .count_open_tasks(Some(user), Some("trader"))
            .await
            .unwrap(),
        2
    );
    assert_eq!(db.store.count_open_tasks(None, None).await.unwrap(), 3);
    let page = db.store.open_tasks(None, None, 1, 1).await.unwrap();
    assert_eq!(page[0].title, "task 1");
    assert_eq!(
        db.store
            .count_open_tasks(None, Some("auditor"))
            .await
            .unwrap(),
        0
    );

    // Completing one takes it out of the open lists.
    let mut tx = db.store.begin().await.unwrap();
    let mut t = tx.lock_task(made[1].id).await.unwrap().unwrap();
    t.set_status(TaskStatus::Completed, Some(user), now())
        .unwrap();
    assert!(tx.update_task(&t).await.unwrap());
    tx.commit().await.unwrap();
    let back = db.store.get_task(made[1].id).await.unwrap().unwrap();
    assert_eq!(back.status, TaskStatus::Completed);
    assert_eq!(back.completed_by, Some(user));
    assert!(back.completed_at.is_some());
    assert_eq!(db.store.count_open_tasks(None, None).await.unwrap(), 2);
    let of_step = db.store.tasks_of_step(exec, "review").await.unwrap();
    assert_eq!(of_step.len(), 3);
    assert_eq!(of_step[0].title, "task 0");
}
