//! `notify`: a `notification` event in the outbox, addressed to the user's or role's room.

use betflow_domain::events::Address;
use betflow_domain::ids::WorkflowId;
use betflow_store::testing::TestDb;
use serde_json::json;

use super::{admin_id, done, engine, run};

betflow_store::conformance!(a_notification_reaches_the_rooms_through_the_outbox);

async fn a_notification_reaches_the_rooms_through_the_outbox(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    let user = admin_id(&engine).await;
    let exec = WorkflowId::new();
    let before = engine.realtime().last_event_seq().await.unwrap();
    let config = json!({"user": user, "role": "trader", "title": "Exposure",
                        "message": "Market 42 suspended", "level": "warning",
                        "data": {"marketId": 42}});
    let out = done(run(&engine, "notify", exec, 1, &config, None).await);
    assert_eq!(out["to"], json!([format!("user:{user}"), "role:trader"]));
    engine.realtime().relay_once().await.unwrap();
    let events = engine.realtime().events_after(before, 100).await.unwrap();
    let ev = events
        .iter()
        .find(|e| e.event_type == "notification")
        .expect("the notification is in the outbox");
    assert_eq!(ev.id.to_string(), out["eventId"].as_str().unwrap());
    assert_eq!(
        ev.to,
        vec![Address::User(user), Address::Role("trader".into())]
    );
    assert_eq!(ev.data["message"], "Market 42 suspended");
    assert_eq!(ev.data["level"], "warning");
    assert_eq!(ev.data["data"]["marketId"], 42);
    assert_eq!(ev.data["executionId"], json!(exec));

    for (config, says) in [
        (json!({"message": "x"}), "needs a user or a role"),
        (json!({"role": "pilot", "message": "x"}), "not a role"),
        (
            json!({"user": uuid::Uuid::now_v7(), "message": "x"}),
            "no user",
        ),
        (
            json!({"role": "trader", "message": "x", "level": "loud"}),
            "level",
        ),
    ] {
        let err = run(&engine, "notify", exec, 1, &config, None)
            .await
            .unwrap_err();
        assert!(!err.retryable, "{config}: {err:?}");
        assert!(err.message.contains(says), "{config}: {}", err.message);
    }
}
