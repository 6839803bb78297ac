//! Automation triggers on both backends: subscriptions, schedules (claiming due ones, also
//! by two racing schedulers), inbound endpoints and the replay store.

use std::collections::HashSet;

use betflow_domain::automation::triggers::{
    CatchUp, InboundEndpoint, ScheduleTrigger, Scheme, Subscription,
};
use betflow_domain::time::now;
use betflow_domain::workflow::record::Definition;
use betflow_store::testing::TestDb;
use chrono::Duration;
use uuid::Uuid;

betflow_store::conformance!(
    subscriptions_round_trip_and_only_active_ones_match,
    schedules_are_claimed_when_due_and_moved_on,
    racing_schedulers_claim_each_schedule_once,
    endpoints_round_trip_and_message_ids_are_seen_once,
);

async fn definition(db: &TestDb, key: &str, active: bool) -> Definition {
    let t = now();
    let d = Definition {
        id: Uuid::now_v7(),
        key: key.into(),
        name: key.into(),
        description: None,
        category: None,
        tags: vec![],
        data_schema: None,
        latest_version: 1,
        is_active: active,
        created_by: None,
        created_at: t,
        updated_at: t,
        deleted_at: None,
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_definition(&d).await.unwrap();
    tx.commit().await.unwrap();
    d
}

fn subscription(d: &Definition, pattern: &str, filter: Option<&str>) -> Subscription {
    let t = now();
    Subscription {
        id: Uuid::now_v7(),
        definition_id: d.id,
        definition_key: d.key.clone(),
        event_pattern: pattern.into(),
        filter: filter.map(str::to_owned),
        is_active: true,
        created_by: None,
        created_at: t,
        updated_at: t,
    }
}

fn schedule(d: &Definition, next: Option<chrono::DateTime<chrono::Utc>>) -> ScheduleTrigger {
    let t = now();
    ScheduleTrigger {
        id: Uuid::now_v7(),
        definition_id: d.id,
        definition_key: d.key.clone(),
        cron: "30 1 * * *".into(),
        timezone: "Europe/London".into(),
        catch_up: CatchUp::Skip,
        next_fire_at: next,
        last_fired_at: None,
        is_active: true,
        created_by: None,
        created_at: t,
        updated_at: t,
    }
}

async fn subscriptions_round_trip_and_only_active_ones_match(db: TestDb) {
    let d = definition(&db, "subs_on", true).await;
    let off = definition(&db, "subs_off", false).await;
    let a = subscription(&d, "bet.*", Some("event.data.stake > 100"));
    let mut b = subscription(&d, "workflow.completed", None);
    let c = subscription(&off, "*", None);
    let mut tx = db.store.begin().await.unwrap();
    for s in [&a, &b, &c] {
        tx.insert_subscription(s).await.unwrap();
    }
    tx.commit().await.unwrap();

    assert_eq!(
        db.store.get_subscription(a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        db.store.list_subscriptions(d.id).await.unwrap(),
        [a.clone(), b.clone()]
    );
    let active: Vec<Uuid> = db
        .store
        .active_subscriptions()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert!(active.contains(&a.id) && active.contains(&b.id));
    assert!(!active.contains(&c.id), "its definition is inactive");

    b.is_active = false;
    b.filter = Some("true".into());
    b.updated_at = now();
    let mut tx = db.store.begin().await.unwrap();
    assert!(tx.update_subscription(&b).await.unwrap());
    assert!(tx.delete_subscription(a.id).await.unwrap());
    assert!(!tx.delete_subscription(a.id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        db.store.get_subscription(b.id).await.unwrap(),
        Some(b.clone())
    );
    assert!(db.store.get_subscription(a.id).await.unwrap().is_none());
    let active = db.store.active_subscriptions().await.unwrap();
    assert!(active.iter().all(|s| s.id != b.id));
}

async fn schedules_are_claimed_when_due_and_moved_on(db: TestDb) {
    let d = definition(&db, "sched", true).await;
    let t = now();
    let due = schedule(&d, Some(t - Duration::minutes(5)));
    let later = schedule(&d, Some(t + Duration::hours(1)));
    let never = schedule(&d, None);
    let mut off = schedule(&d, Some(t - Duration::minutes(5)));
    off.is_active = false;
    let mut tx = db.store.begin().await.unwrap();
    for s in [&due, &later, &never, &off] {
        tx.insert_schedule(s).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(
        db.store.get_schedule(due.id).await.unwrap(),
        Some(due.clone())
    );
    assert_eq!(db.store.list_schedules(d.id).await.unwrap().len(), 4);

    let mut tx = db.store.begin().await.unwrap();
    let claimed = tx.claim_due_schedules(t, 10).await.unwrap();
    assert_eq!(claimed, std::slice::from_ref(&due));
    let next = t + Duration::days(1);
    tx.set_schedule_fired(due.id, Some(next), Some(t - Duration::minutes(5)), t)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let moved = db.store.get_schedule(due.id).await.unwrap().unwrap();
    assert_eq!(moved.next_fire_at, Some(next));
    assert_eq!(moved.last_fired_at, Some(t - Duration::minutes(5)));

    let mut tx = db.store.begin().await.unwrap();
    assert!(tx.claim_due_schedules(t, 10).await.unwrap().is_empty());
    let mut changed = moved.clone();
    changed.catch_up = CatchUp::FireOnce;
    changed.cron = "0 8 * * *".into();
    assert!(tx.update_schedule(&changed).await.unwrap());
    assert!(tx.delete_schedule(never.id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(db.store.get_schedule(due.id).await.unwrap(), Some(changed));
}

async fn racing_schedulers_claim_each_schedule_once(db: TestDb) {
    let d = definition(&db, "race", true).await;
    let t = now();
    let mut tx = db.store.begin().await.unwrap();
    for i in 0..20 {
        tx.insert_schedule(&schedule(&d, Some(t - Duration::seconds(i))))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // Each scheduler claims and moves what it claimed on; together they see each due
    // schedule once.
    let pass = |store: std::sync::Arc<dyn betflow_store::Store>| async move {
        let mut mine = Vec::new();
        loop {
            let mut tx = store.begin().await.unwrap();
            let claimed = tx.claim_due_schedules(t, 3).await.unwrap();
            if claimed.is_empty() {
                tx.rollback().await.unwrap();
                break;
            }
            for s in &claimed {
                tx.set_schedule_fired(s.id, Some(t + Duration::days(1)), Some(t), t)
                    .await
                    .unwrap();
                mine.push(s.id);
            }
            tx.commit().await.unwrap();
        }
        mine
    };
    let (a, b) = tokio::join!(pass(db.store.clone()), pass(db.store.clone()));
    let all: Vec<Uuid> = a.iter().chain(&b).copied().collect();
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(all.len(), 20, "every schedule claimed once");
    assert_eq!(unique.len(), 20);
}

async fn endpoints_round_trip_and_message_ids_are_seen_once(db: TestDb) {
    let d = definition(&db, "hooks", true).await;
    let t = now();
    let mut e = InboundEndpoint {
        id: Uuid::now_v7(),
        definition_id: d.id,
        definition_key: d.key.clone(),
        name: "results feed".into(),
        scheme: Scheme::Standard,
        header: None,
        secret: "v1:abcd1234:c2VjcmV0".into(),
        tolerance_secs: 300,
        rate_limit: Some(60),
        is_active: true,
        created_by: None,
        created_at: t,
        updated_at: t,
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_endpoint(&e).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(db.store.get_endpoint(e.id).await.unwrap(), Some(e.clone()));

    e.scheme = Scheme::HmacSha256;
    e.header = Some("X-Signature".into());
    e.rate_limit = None;
    let mut tx = db.store.begin().await.unwrap();
    assert!(tx.update_endpoint(&e).await.unwrap());
    assert!(tx.remember_message(e.id, "msg_1", t).await.unwrap());
    assert!(
        !tx.remember_message(e.id, "msg_1", t).await.unwrap(),
        "a replay"
    );
    assert!(
        tx.remember_message(e.id, "msg_2", t - Duration::hours(1))
            .await
            .unwrap()
    );
    tx.forget_message(e.id, "msg_1").await.unwrap();
    assert!(
        tx.remember_message(e.id, "msg_1", t).await.unwrap(),
        "forgotten"
    );
    assert_eq!(
        tx.prune_seen_messages(t - Duration::minutes(10))
            .await
            .unwrap(),
        1
    );
    assert!(
        tx.remember_message(e.id, "msg_2", t).await.unwrap(),
        "pruned"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        db.store.list_endpoints(d.id).await.unwrap(),
        std::slice::from_ref(&e)
    );

    let mut tx = db.store.begin().await.unwrap();
    assert!(tx.delete_endpoint(e.id).await.unwrap());
    tx.commit().await.unwrap();
    assert!(db.store.get_endpoint(e.id).await.unwrap().is_none());
}
