//! A run whose `task.create` step waits: it is `waiting` until the task is completed through
//! `Engine::update_task`, then goes on with the task as the step's output.

use betflow_domain::audit::Actor;
use betflow_domain::automation::execution::ExecutionStatus;
use betflow_domain::automation::tasks::TaskStatus;
use betflow_domain::identity::Role;
use betflow_domain::time::now;
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_engine::Engine;
use betflow_engine::automations::{StartExecution, TriggerRef};
use betflow_engine::identity::{Credential, Principal};
use betflow_engine::workflows::NewDefinition;
use betflow_store::testing::TestDb;
use chrono::Duration;
use serde_json::json;
use uuid::Uuid;

use super::engine;

betflow_store::conformance!(completing_a_waited_task_resumes_the_run);

fn admin() -> Principal {
    Principal {
        user_id: Uuid::now_v7(),
        username: "admin".into(),
        role: Role::Admin,
        permissions: vec!["*".into()],
        key_permissions: None,
        credential: Credential::Session(Uuid::now_v7()),
    }
}

async fn drain(engine: &Engine) {
    let mut t = now();
    for _ in 0..20 {
        if engine.run_due_jobs("w", t).await.unwrap() == 0 {
            t += Duration::minutes(5);
            if engine.run_due_jobs("w", t).await.unwrap() == 0 {
                return;
            }
        }
    }
}

async fn completing_a_waited_task_resumes_the_run(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let graph: WorkflowGraph = serde_json::from_value(json!({"steps": [
        {"id": "ask", "name": "Ask", "type": "action", "action": "task.create",
         "params": {"title": "Approve the refund", "assigneeRole": "trader", "wait": true}},
        {"id": "after", "name": "After", "type": "action", "action": "set_data",
         "params": {"answer": "{{ steps.ask.output.status }}"}}
    ]}))
    .unwrap();
    engine
        .workflows()
        .create_definition(
            &admin(),
            NewDefinition {
                key: "auto_task_wait".into(),
                name: "Task wait".into(),
                description: None,
                category: None,
                tags: vec![],
                data_schema: None,
                graph,
            },
            &Actor::default(),
        )
        .await
        .unwrap();
    let started = engine
        .start_execution(
            StartExecution {
                definition_key: "auto_task_wait".into(),
                trigger: TriggerRef::manual(),
                input: json!({}),
            },
            &Actor::default(),
        )
        .await
        .unwrap();
    let id = started.execution_id;
    drain(&engine).await;
    let d = engine.get_execution(id).await.unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Waiting, "{d:?}");
    let tasks = db.store.tasks_of_step(id.uuid(), "ask").await.unwrap();
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert!(task.wait);

    let trader = Principal {
        role: Role::Trader,
        ..admin()
    };
    let actor = Actor::default();
    engine
        .update_task(&trader, task.id, TaskStatus::InProgress, &actor)
        .await
        .unwrap();
    drain(&engine).await;
    let d = engine.get_execution(id).await.unwrap();
    assert_eq!(
        d.execution.status,
        ExecutionStatus::Waiting,
        "still waiting"
    );
    engine
        .update_task(&trader, task.id, TaskStatus::Completed, &actor)
        .await
        .unwrap();
    drain(&engine).await;
    let d = engine.get_execution(id).await.unwrap();
    assert_eq!(d.execution.status, ExecutionStatus::Succeeded, "{d:?}");
    assert_eq!(d.execution.output.unwrap()["answer"], "completed");
}
