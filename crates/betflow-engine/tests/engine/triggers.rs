//! Automation triggers over real databases: event subscriptions relayed by two engines,
//! schedules across DST and after downtime with an injected clock, racing schedulers.

use betflow_domain::audit::Actor;
use betflow_domain::automation::execution::{Execution, ExecutionFilter};
use betflow_domain::automation::triggers::CatchUp;
use betflow_domain::events::NewEvent;
use betflow_domain::identity::Role;
use betflow_domain::time::now;
use betflow_domain::workflow::graph::WorkflowGraph;
use betflow_engine::Engine;
use betflow_engine::identity::{Credential, Principal};
use betflow_engine::triggers::{NewTrigger, Trigger};
use betflow_engine::workflows::NewDefinition;
use betflow_store::testing::TestDb;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

betflow_store::conformance!(
    two_relays_start_one_run_per_event_and_subscription,
    a_daily_schedule_fires_once_across_both_dst_changes,
    downtime_fires_once_or_skips_per_policy,
    racing_schedulers_fire_each_occurrence_once,
);

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

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A definition whose runs set one field and end.
async fn define(engine: &Engine, key: &str) {
    let graph: WorkflowGraph = serde_json::from_value(json!({
        "steps": [{"id": "mark", "name": "mark", "type": "action", "action": "set_data",
                   "params": {"triggered": true}}],
        "edges": []
    }))
    .unwrap();
    engine
        .workflows()
        .create_definition(
            &admin(),
            NewDefinition {
                key: key.into(),
                name: key.into(),
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
}

async fn add(engine: &Engine, key: &str, new: NewTrigger) -> Trigger {
    engine
        .triggers()
        .create(key, new, true, &Actor::default())
        .await
        .unwrap()
        .trigger
}

async fn runs_of(db: &TestDb, key: &str) -> Vec<Execution> {
    db.store
        .list_executions(&ExecutionFilter {
            definition_key: Some(key.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// Runs every due job on both engines until none is left.
async fn drain(a: &Engine, b: &Engine, at: DateTime<Utc>) {
    for _ in 0..20 {
        let (x, y) = tokio::join!(a.run_due_jobs("a", at), b.run_due_jobs("b", at));
        if x.unwrap() + y.unwrap() == 0 {
            return;
        }
    }
}

async fn two_relays_start_one_run_per_event_and_subscription(db: TestDb) {
    let a = super::make_engine(db.store.clone(), None);
    // A second process on the same database.
    let b = super::make_engine(betflow_store::connect(&db.config).await.unwrap(), None);
    define(&a, "bet_alert").await;
    let big = add(
        &a,
        "bet_alert",
        NewTrigger::Event {
            event_type: "bet.*".into(),
            filter: Some("event.data.stake > 100".into()),
        },
    )
    .await;
    let all = add(
        &a,
        "bet_alert",
        NewTrigger::Event {
            event_type: "*".into(),
            filter: None,
        },
    )
    .await;
    let t = now();
    let events: Vec<NewEvent> = [
        ("bet.placed", 500),
        ("bet.placed", 50),
        ("line.published", 900),
    ]
    .into_iter()
    .map(|(ty, stake)| NewEvent::new(ty, json!({"stake": stake}), t))
    .collect();
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_events(&events).await.unwrap();
    tx.commit().await.unwrap();

    // Both relays race over the same outbox, then both workers race over the jobs.
    for _ in 0..3 {
        let (x, y) = tokio::join!(a.realtime().relay_once(), b.realtime().relay_once());
        x.unwrap();
        y.unwrap();
    }
    drain(&a, &b, now()).await;
    let runs = runs_of(&db, "bet_alert").await;
    let of = |t: &Trigger| runs.iter().filter(|r| r.trigger_id == Some(t.id())).count();
    assert_eq!(of(&big), 1, "one bet above 100");
    // `*` sees the three events, and the runs' own execution events never start it again.
    assert_eq!(of(&all), 3);
    assert_eq!(runs.len(), 4);
    let started = &runs
        .iter()
        .find(|r| r.trigger_id == Some(big.id()))
        .unwrap();
    assert_eq!(started.input["type"], "bet.placed");
    assert_eq!(started.input["data"]["stake"], 500);

    // A redelivered event (the same subscription and event id again) starts nothing new.
    let event_id = started.trigger_event_id.clone().unwrap();
    let (id, created) = b
        .start_triggered(
            "bet_alert",
            betflow_domain::automation::execution::TriggerType::Event,
            big.id(),
            Some(event_id),
            started.input.clone(),
        )
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(Uuid::from(id), started.id);
    assert_eq!(runs_of(&db, "bet_alert").await.len(), 4);
}

fn schedule(cron: &str, zone: &str, catch_up: CatchUp) -> NewTrigger {
    NewTrigger::Schedule {
        cron: cron.into(),
        timezone: zone.into(),
        catch_up,
    }
}

/// Moves a schedule's next fire time to the first occurrence after `t` (as if it had been
/// created then).
async fn rewind(db: &TestDb, engine: &Engine, key: &str, id: Uuid, t: DateTime<Utc>) {
    let Trigger::Schedule(mut s) = engine.triggers().get(key, id).await.unwrap() else {
        panic!("a schedule");
    };
    let parsed =
        betflow_domain::automation::triggers::Schedule::parse(&s.cron, &s.timezone).unwrap();
    s.next_fire_at = parsed.next_after(t);
    let mut tx = db.store.begin().await.unwrap();
    tx.update_schedule(&s).await.unwrap();
    tx.commit().await.unwrap();
}

async fn a_daily_schedule_fires_once_across_both_dst_changes(db: TestDb) {
    let engine = super::make_engine(db.store.clone(), None);
    define(&engine, "nightly").await;
    let s = add(
        &engine,
        "nightly",
        schedule("30 1 * * *", "Europe/London", CatchUp::Skip),
    )
    .await;
    for (from, days) in [("2026-03-27T12:00:00Z", 4), ("2026-10-23T12:00:00Z", 4)] {
        let start = utc(from);
        rewind(&db, &engine, "nightly", s.id(), start).await;
        // The scheduler runs every ten minutes over four days around the change.
        let mut t = start;
        while t < start + Duration::days(days) {
            engine.triggers().fire_due(t).await.unwrap();
            t += Duration::minutes(10);
        }
        engine.run_due_jobs("w", t).await.unwrap();
    }
    let mut fired: Vec<String> = runs_of(&db, "nightly")
        .await
        .into_iter()
        .filter_map(|r| r.trigger_event_id)
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        [
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z", // 01:30 does not exist: the first instant after the gap
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z",
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z", // 01:30 happens twice: once, at the first
            "2026-10-26T01:30:00Z",
            "2026-10-27T01:30:00Z",
        ]
    );
}

async fn downtime_fires_once_or_skips_per_policy(db: TestDb) {
    let engine = super::make_engine(db.store.clone(), None);
    define(&engine, "report_once").await;
    define(&engine, "report_skip").await;
    let once = add(
        &engine,
        "report_once",
        schedule("0 8 * * *", "Europe/London", CatchUp::FireOnce),
    )
    .await;
    let skip = add(
        &engine,
        "report_skip",
        schedule("0 8 * * *", "Europe/London", CatchUp::Skip),
    )
    .await;
    let down = utc("2026-06-01T06:00:00Z");
    rewind(&db, &engine, "report_once", once.id(), down).await;
    rewind(&db, &engine, "report_skip", skip.id(), down).await;
    // Every node was down for three days; back at noon.
    let back = utc("2026-06-04T11:00:00Z");
    let report = engine.triggers().fire_due(back).await.unwrap();
    assert_eq!((report.claimed, report.fired, report.skipped), (2, 1, 2));
    assert_eq!(engine.triggers().fire_due(back).await.unwrap().claimed, 0);
    engine.run_due_jobs("w", back).await.unwrap();
    let runs = runs_of(&db, "report_once").await;
    assert_eq!(runs.len(), 1, "fire_once: one run for three missed days");
    assert_eq!(
        runs[0].trigger_event_id.as_deref(),
        Some("2026-06-04T07:00:00Z")
    );
    assert!(runs_of(&db, "report_skip").await.is_empty(), "skip: none");
    for key in ["report_once", "report_skip"] {
        let id = if key == "report_once" {
            once.id()
        } else {
            skip.id()
        };
        let Trigger::Schedule(s) = engine.triggers().get(key, id).await.unwrap() else {
            panic!("a schedule");
        };
        assert_eq!(s.next_fire_at, Some(utc("2026-06-05T07:00:00Z")));
    }
}

async fn racing_schedulers_fire_each_occurrence_once(db: TestDb) {
    let a = super::make_engine(db.store.clone(), None);
    let b = super::make_engine(betflow_store::connect(&db.config).await.unwrap(), None);
    define(&a, "every_quarter").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let s = add(
            &a,
            "every_quarter",
            schedule("*/15 * * * *", "UTC", CatchUp::Skip),
        )
        .await;
        rewind(
            &db,
            &a,
            "every_quarter",
            s.id(),
            utc("2026-01-01T00:00:00Z"),
        )
        .await;
        ids.push(s.id());
    }
    // Two schedulers tick every 30 seconds over two hours, at the same instants.
    let mut t = utc("2026-01-01T00:00:00Z");
    while t <= utc("2026-01-01T02:00:00Z") {
        let (x, y) = tokio::join!(a.triggers().fire_due(t), b.triggers().fire_due(t));
        x.unwrap();
        y.unwrap();
        t += Duration::seconds(30);
    }
    drain(&a, &b, t).await;
    let runs = runs_of(&db, "every_quarter").await;
    assert_eq!(
        runs.len(),
        5 * 8,
        "8 quarter hours after midnight, for each of 5 schedules"
    );
    let mut keys: Vec<(Option<Uuid>, Option<String>)> = runs
        .into_iter()
        .map(|r| (r.trigger_id, r.trigger_event_id))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 40, "no occurrence fired twice");
}
