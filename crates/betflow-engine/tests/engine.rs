//! Engine services over real databases.

use std::time::Duration;

use betflow_domain::audit::{AuditQuery, Severity, SystemEvent, SystemEventQuery};
use betflow_engine::identity::IdentityConfig;
use betflow_engine::{Engine, EngineConfig};
use betflow_store::redis::RedisHandle;
use betflow_store::testing::{self, TestDb};
use std::sync::Arc;

#[path = "engine/actions/mod.rs"]
mod actions;
#[path = "engine/examples.rs"]
mod examples;
#[path = "engine/executions.rs"]
mod executions;
#[path = "engine/triggers.rs"]
mod triggers;

fn make_engine(store: Arc<dyn betflow_store::Store>, redis: Option<Arc<RedisHandle>>) -> Engine {
    make_engine_with(store, redis, EngineConfig::default())
}

fn make_engine_with(
    store: Arc<dyn betflow_store::Store>,
    redis: Option<Arc<RedisHandle>>,
    config: EngineConfig,
) -> Engine {
    let config = EngineConfig {
        identity: IdentityConfig::new(b"engine-test-secret-0123456789abcdef".to_vec()),
        ..config
    };
    Engine::new(store, redis, config).unwrap()
}

betflow_store::conformance!(
    readiness_reports_the_database,
    system_events_are_recorded_and_read_back,
    inverted_audit_range_matches_nothing,
    history_past_its_retention_is_pruned,
);

/// The worker's housekeeping keeps what the retention says: audit rows a year by default,
/// system events forever when told so.
async fn history_past_its_retention_is_pruned(db: TestDb) {
    use betflow_domain::audit::{Actor, AuditAction, AuditEntry};
    let engine = make_engine_with(
        db.store.clone(),
        None,
        EngineConfig {
            retention: betflow_engine::jobs::Retention {
                system_events: None,
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let now = betflow_domain::time::now();
    let mut tx = db.store.begin().await.unwrap();
    for days in [800, 366, 30] {
        let mut e = AuditEntry::new(
            "users",
            uuid::Uuid::now_v7(),
            AuditAction::Update,
            None,
            None,
            Actor::default(),
        )
        .unwrap();
        e.timestamp = now - chrono::Duration::days(days);
        tx.insert_audit(&e).await.unwrap();
        let mut ev = SystemEvent::new("old", Severity::Info, "kept", None).unwrap();
        ev.created_at = now - chrono::Duration::days(days);
        tx.insert_system_event(&ev).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(engine.prune_history(now).await.unwrap(), (2, 0));
    assert_eq!(engine.prune_history(now).await.unwrap(), (0, 0));
    let events = engine
        .system_events(&SystemEventQuery {
            event_type: Some("old".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        events.total, 3,
        "system events are kept forever when told so"
    );
}

async fn readiness_reports_the_database(db: TestDb) {
    let engine = make_engine(db.store.clone(), None);
    let r = engine.readiness().await;
    assert!(r.is_ready(), "{r:?}");
    assert_eq!(r.checks.len(), 1);
    assert_eq!(r.checks[0].name, "database");

    db.store.close().await;
    let r = engine.readiness().await;
    assert!(!r.is_ready());
    assert_eq!(r.failed().next().unwrap().name, "database");
}

async fn system_events_are_recorded_and_read_back(db: TestDb) {
    let engine = make_engine(db.store.clone(), None);
    let ev = SystemEvent::new("server.started", Severity::Info, "started", None).unwrap();
    engine.record_system_event(&ev).await.unwrap();
    let page = engine
        .system_events(&SystemEventQuery::default())
        .await
        .unwrap();
    assert_eq!(page.items, vec![ev]);
}

async fn inverted_audit_range_matches_nothing(db: TestDb) {
    let engine = make_engine(db.store.clone(), None);
    let now = betflow_domain::time::now();
    let page = engine
        .audit_log(&AuditQuery {
            from: Some(now),
            until: Some(now - chrono::Duration::seconds(5)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.total, 0);
}

#[tokio::test]
async fn readiness_checks_redis_when_configured() {
    let db = TestDb::sqlite().await;
    let down = Arc::new(RedisHandle::new("redis://127.0.0.1:1/").unwrap());
    let engine = make_engine(db.store.clone(), Some(down));
    let r = engine.readiness().await;
    assert!(!r.is_ready());
    let failed: Vec<_> = r.failed().map(|c| c.name).collect();
    assert_eq!(failed, ["redis"]);
    assert!(r.checks.iter().all(|c| c.latency < Duration::from_secs(5)));

    if let Some(url) = testing::redis_url() {
        let up = Arc::new(RedisHandle::new(&url).unwrap());
        let engine = make_engine(db.store.clone(), Some(up));
        let r = engine.readiness().await;
        assert!(r.is_ready(), "{r:?}");
        assert_eq!(r.checks.len(), 2);
    }
}

mod timers {
    use betflow_domain::audit::Actor;
    use betflow_domain::identity::Role;
    use betflow_domain::ids::WorkflowId;
    use betflow_domain::time::now;
    use betflow_domain::workflow::graph::{
        Branch, Edge, StepDef, StepKind, TimeoutAction, WorkflowGraph,
    };
    use betflow_domain::workflow::{Priority, WorkflowStatus};
    use betflow_engine::Engine;
    use betflow_engine::identity::{Credential, Principal};
    use betflow_engine::workflows::{NewDefinition, NewWorkflow};
    use betflow_store::testing::TestDb;
    use chrono::Duration;
    use serde_json::json;
    use uuid::Uuid;

    betflow_store::conformance!(
        a_timeout_escalates_and_marks_the_workflow_overdue,
        a_timeout_can_reject_or_follow_its_edge,
        a_timer_for_a_step_already_left_does_nothing,
        an_overdue_timer_fires_after_a_restart,
        a_job_of_a_killed_worker_is_run_by_another,
        automated_steps_route_act_and_wait,
        an_export_walks_every_page,
        configured_risk_thresholds_apply,
        transitions_write_the_seed_events,
        seeded_steps_escalate_on_their_timeouts,
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

    fn user(role: Role) -> Principal {
        Principal {
            role,
            username: role.as_str().into(),
            ..admin()
        }
    }

    /// The seeded `line_change_approval`, as every fresh database has it: each step's timer
    /// fires at the seed's timeout, escalates (the seed's default: a notification, no roles
    /// added), marks the workflow overdue and leaves it to its assignees.
    async fn seeded_steps_escalate_on_their_timeouts(db: TestDb) {
        let engine = super::make_engine(db.store.clone(), None);
        engine.workflows().ensure_seeded().await.unwrap();
        let seed = betflow_domain::workflow::seeded::line_change_approval();
        let creator = user(Role::TradingManager);
        let id = engine
            .workflows()
            .create(
                &creator,
                NewWorkflow {
                    workflow_type: "line_change_approval".into(),
                    data: json!({"lineId": "line-1", "eventName": "Arsenal v Chelsea",
                                 "oldOdds": 1.85, "newOdds": 1.95, "marketType": "match_winner",
                                 "financialImpact": 25000}),
                    priority: Priority::High,
                    start: true,
                    tags: vec![],
                },
                &Actor::default(),
            )
            .await
            .unwrap()
            .instance
            .id;
        let deciders = [
            user(Role::TradingManager),
            user(Role::SeniorTrader),
            user(Role::RiskManager),
        ];
        for (step, decider) in seed.graph.steps.iter().zip(&deciders) {
            let minutes = step
                .timeout
                .as_ref()
                .expect("every seeded step has a timeout")
                .chrono()
                .num_minutes();
            let w = engine.workflows().get(WorkflowId::from(id)).await.unwrap();
            assert_eq!(w.instance.current_step.as_deref(), Some(step.id.as_str()));
            let entered = w.instance.step_started_at.unwrap();
            assert_eq!(
                engine
                    .run_due_jobs("w", entered + Duration::minutes(minutes - 1))
                    .await
                    .unwrap(),
                0,
                "{} is not due a minute early",
                step.id
            );
            assert_eq!(
                engine
                    .run_due_jobs("w", entered + Duration::minutes(minutes + 1))
                    .await
                    .unwrap(),
                1,
                "{} fires at {minutes} minutes",
                step.id
            );
            let w = engine.workflows().get(WorkflowId::from(id)).await.unwrap();
            assert_eq!(w.instance.status, WorkflowStatus::InProgress);
            assert_eq!(w.instance.current_step.as_deref(), Some(step.id.as_str()));
            assert!(
                w.instance
                    .is_overdue(entered + Duration::minutes(minutes + 1))
            );
            assert!(
                !w.instance
                    .is_overdue(entered + Duration::minutes(minutes - 1))
            );
            let history = engine
                .workflows()
                .history(WorkflowId::from(id))
                .await
                .unwrap();
            assert!(
                events(&history).ends_with(&["workflow.overdue", "step.escalated"]),
                "{}: {:?}",
                step.id,
                events(&history)
            );
            let escalated = history.last().unwrap();
            assert_eq!(escalated.step_id.as_deref(), Some(step.id.as_str()));
            // Still decided by its own role after the escalation.
            engine
                .workflows()
                .approve(
                    decider,
                    WorkflowId::from(id),
                    Some(&step.id),
                    None,
                    &Actor::default(),
                )
                .await
                .unwrap();
        }
        let w = engine.workflows().get(WorkflowId::from(id)).await.unwrap();
        assert_eq!(w.instance.status, WorkflowStatus::Completed);
        // An escalation ends no run; each decision ended its step's.
        let runs = engine
            .workflows()
            .step_runs(WorkflowId::from(id))
            .await
            .unwrap();
        let got: Vec<(&str, u32, &str)> = runs
            .iter()
            .map(|r| (r.step_id.as_str(), r.visit, r.status.as_str()))
            .collect();
        let want: Vec<(&str, u32, &str)> = seed
            .graph
            .steps
            .iter()
            .zip(1..)
            .map(|(s, visit)| (s.id.as_str(), visit, "approved"))
            .collect();
        assert_eq!(got, want);
    }

    fn step(id: &str, on_timeout: TimeoutAction) -> StepDef {
        StepDef {
            id: id.into(),
            name: id.into(),
            kind: StepKind::Approval,
            assignees: vec!["risk_manager".into()],
            required: true,
            timeout: Some(30.into()),
            retry: None,
            on_timeout,
            required_approvals: 1,
            four_eyes: true,
            condition: None,
            action: None,
            params: None,
            delay: None,
        }
    }

    async fn flow(engine: &Engine, key: &str, graph: WorkflowGraph) -> Uuid {
        define(engine, key, graph).await;
        start(engine, key, json!({})).await
    }

    async fn define(engine: &Engine, key: &str, graph: WorkflowGraph) {
        let p = admin();
        engine
            .workflows()
            .create_definition(
                &p,
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

    async fn start(engine: &Engine, key: &str, data: serde_json::Value) -> Uuid {
        engine
            .workflows()
            .create(
                &admin(),
                NewWorkflow {
                    workflow_type: key.into(),
                    data,
                    priority: Priority::High,
                    start: true,
                    tags: vec![],
                },
                &Actor::default(),
            )
            .await
            .unwrap()
            .instance
            .id
    }

    fn events(e: &[betflow_domain::workflow::record::TimelineEvent]) -> Vec<&str> {
        e.iter().map(|e| e.event_type.as_str()).collect()
    }

    async fn a_timeout_escalates_and_marks_the_workflow_overdue(db: TestDb) {
        let engine = super::make_engine(db.store.clone(), None);
        let graph = WorkflowGraph::linear(vec![step(
            "review",
            TimeoutAction::Escalate {
                add_roles: vec!["compliance_officer".into()],
            },
        )]);
        let id = flow(&engine, "escalating", graph).await;
        assert_eq!(
            engine.run_due_jobs("w", now()).await.unwrap(),
            0,
            "not due yet"
        );
        assert_eq!(
            engine
                .run_due_jobs("w", now() + Duration::minutes(31))
                .await
                .unwrap(),
            1
        );
        let w = engine.workflows().get(WorkflowId::from(id)).await.unwrap();
        assert_eq!(w.instance.status, WorkflowStatus::InProgress);
        assert_eq!(w.instance.escalated_roles, ["compliance_officer"]);
        assert!(w.instance.is_overdue(now() + Duration::minutes(31)));
        let history = engine
            .workflows()
            .history(WorkflowId::from(id))
            .await
            .unwrap();
        assert!(
            events(&history).ends_with(&["workflow.overdue", "step.escalated"]),
            "{:?}",
            events(&history)
        );
        assert_eq!(
            engine
                .run_due_jobs("w", now() + Duration::minutes(90))
                .await
                .unwrap(),
            0,
            "one timer per visit"
        );
    }

    async fn a_timeout_can_reject_or_follow_its_edge(db: TestDb) {
        let engine = super::make_engine(db.store.clone(), None);
        let rejecting = flow(
            &engine,
            "auto_reject",
            WorkflowGraph::linear(vec![step("review", TimeoutAction::AutoReject)]),
        )
        .await;
        let mut graph = WorkflowGraph::linear(vec![
            step("review", TimeoutAction::FollowTimeoutEdge),
            step("fallback", TimeoutAction::AutoReject),
        ]);
        graph.edges = vec![Edge {
            from: "review".into(),
            to: "fallback".into(),
            branch: Branch::Timeout,
        }];
        let following = flow(&engine, "timeout_edge", graph).await;
        assert_eq!(
            engine
                .run_due_jobs("w", now() + Duration::minutes(31))
                .await
                .unwrap(),
            2
        );
        let r = engine
            .workflows()
            .get(WorkflowId::from(rejecting))
            .await
            .unwrap();
        assert_eq!(r.instance.status, WorkflowStatus::Rejected);
        let f = engine
            .workflows()
            .get(WorkflowId::from(following))
            .await
            .unwrap();
        assert_eq!(f.instance.current_step.as_deref(), Some("fallback"));
        assert_eq!(f.instance.step_visit, 2);
        // Entering `fallback` armed its own timer, which rejects 30 minutes later.
        assert_eq!(
            engine
                .run_due_jobs("w", now() + Duration::minutes(62))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            engine
                .workflows()
                .get(WorkflowId::from(following))
                .await
                .unwrap()
                .instance
                .status,
            WorkflowStatus::Rejected
        );
    }

    async fn a_timer_for_a_step_already_left_does_nothing(db: TestDb) {
        let engine = super::make_engine(db.store.clone(), None);
        let id = flow(
            &engine,
            "quick",
            WorkflowGraph::linear(vec![step("review", TimeoutAction::AutoReject)]),
        )
        .await;
        let decider = Principal {
            role: Role::RiskManager,
            ..admin()
        };
        engine
            .workflows()
            .approve(
                &decider,
                WorkflowId::from(id),
                None,
                None,
                &Actor::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            engine
                .run_due_jobs("w", now() + Duration::minutes(31))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            engine
                .workflows()
                .get(WorkflowId::from(id))
                .await
                .unwrap()
                .instance
                .status,
            WorkflowStatus::Completed
        );
    }

    async fn an_overdue_timer_fires_after_a_restart(db: TestDb) {
        let id = {
            let before = super::make_engine(db.store.clone(), None);
            flow(
                &before,
                "restartable",
                WorkflowGraph::linear(vec![step("review", TimeoutAction::AutoReject)]),
            )
            .await
        };
        // A new process on the same database, started after the timer fell due.
        let store = betflow_store::connect(&db.config).await.unwrap();
        let after = super::make_engine(store, None);
        assert_eq!(
            after
                .run_due_jobs("new-worker", now() + Duration::hours(5))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            after
                .workflows()
                .get(WorkflowId::from(id))
                .await
                .unwrap()
                .instance
                .status,
            WorkflowStatus::Rejected
        );
    }

    async fn a_job_of_a_killed_worker_is_run_by_another(db: TestDb) {
        let engine = super::make_engine(db.store.clone(), None);
        let id = flow(
            &engine,
            "crashy",
            WorkflowGraph::linear(vec![step("review", TimeoutAction::AutoReject)]),
        )
        .await;
        let due = now() + Duration::minutes(31);
        let taken = db
            .store
            .claim_jobs("killed", due, std::time::Duration::from_secs(60), 10)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1, "the dead worker held the job");
        assert_eq!(
            engine
                .run_due_jobs("healthy", due + Duration::seconds(30))
                .await
                .unwrap(),
            0,
            "still leased"
        );
        assert_eq!(
            engine
                .run_due_jobs("healthy", due + Duration::seconds(61))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            engine
                .workflows()
                .get(WorkflowId::from(id))
                .await
                .unwrap()
                .instance
                .status,
            WorkflowStatus::Rejected
        );
        assert_eq!(
            db.store.job_status(taken[0].id).await.unwrap(),
            Some(("done".into(), 2))
        );
    }

    fn automated(id: &str, kind: StepKind) -> StepDef {
        StepDef {
            kind,
            assignees: vec![],
            timeout: None,
            on_timeout: TimeoutAction::default(),
            ..step(id, TimeoutAction::default())
        }
    }

    fn edge(from: &str, to: &str, branch: Branch) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            branch,
        }
    }

    async fn automated_steps_route_act_and_wait(db: TestDb) {
        let engine = super::make_engine(db.store.clone(), None);
        let graph = WorkflowGraph {
            steps: vec![
                StepDef {
                    condition: Some("data.amount > 1000".into()),
                    ..automated("route", StepKind::Condition)
                },
                step("review", TimeoutAction::default()),
                StepDef {
                    action: Some("set_data".into()),
                    params: Some(json!({"reviewed": true, "amount": null})),
                    ..automated("mark", StepKind::Action)
                },
                StepDef {
                    delay: Some(10),
                    ..automated("cool_off", StepKind::Delay)
                },
                StepDef {
                    action: Some("emit_event".into()),
                    params: Some(json!({"event": "line.published", "payload": {"desk": "A"}})),
                    ..automated("announce", StepKind::Action)
                },
                StepDef {
                    action: Some("noop".into()),
                    ..automated("auto", StepKind::Action)
                },
            ],
            edges: vec![
                edge("route", "review", Branch::True),
                edge("route", "auto", Branch::False),
                edge("review", "mark", Branch::Approved),
                edge("mark", "cool_off", Branch::Default),
                edge("cool_off", "announce", Branch::Default),
            ],
        };
        define(&engine, "automated", graph).await;
        let wf = engine.workflows();

        // A large amount: the condition routes to review at once.
        let big = start(&engine, "automated", json!({"amount": 5000, "desk": "A"})).await;
        let w = wf.get(WorkflowId::from(big)).await.unwrap();
        assert_eq!(w.instance.current_step.as_deref(), Some("review"));
        let risk = Principal {
            role: Role::RiskManager,
            ..admin()
        };
        wf.approve(&risk, WorkflowId::from(big), None, None, &Actor::default())
            .await
            .unwrap();
        assert_eq!(
            wf.get(WorkflowId::from(big))
                .await
                .unwrap()
                .instance
                .current_step
                .as_deref(),
            Some("mark"),
            "an action waits for the worker"
        );
        let t = now();
        assert_eq!(engine.run_due_jobs("w", t).await.unwrap(), 1);
        let w = wf.get(WorkflowId::from(big)).await.unwrap();
        assert_eq!(w.instance.data, json!({"desk": "A", "reviewed": true}));
        assert_eq!(w.instance.current_step.as_deref(), Some("cool_off"));
        assert_eq!(
            engine
                .run_due_jobs("w", t + Duration::minutes(9))
                .await
                .unwrap(),
            0,
            "the delay has not passed"
        );
        let later = t + Duration::minutes(11);
        assert_eq!(engine.run_due_jobs("w", later).await.unwrap(), 1);
        assert_eq!(
            wf.get(WorkflowId::from(big))
                .await
                .unwrap()
                .instance
                .current_step
                .as_deref(),
            Some("announce")
        );
        assert_eq!(engine.run_due_jobs("w", later).await.unwrap(), 1);
        let w = wf.get(WorkflowId::from(big)).await.unwrap();
        assert_eq!(w.instance.status, WorkflowStatus::Completed);
        assert_eq!(
            w.progress, 100,
            "route, review, mark, cool_off, announce of 6"
        );
        // The condition passed through in the creating transition; each automated step
        // ended when the worker ran it.
        let runs: Vec<(String, &str, bool)> = wf
            .step_runs(WorkflowId::from(big))
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.step_id, r.status.as_str(), r.ended_at.is_some()))
            .collect();
        let want = [
            ("route", "completed"),
            ("review", "approved"),
            ("mark", "completed"),
            ("cool_off", "completed"),
            ("announce", "completed"),
        ];
        assert_eq!(
            runs,
            want.map(|(s, st)| (s.to_owned(), st, true)).to_vec(),
            "{runs:?}"
        );
        let history = wf.history(WorkflowId::from(big)).await.unwrap();
        let emitted = history
            .iter()
            .find(|e| e.event_type == "event.emitted")
            .expect("the emit_event action wrote its event");
        assert_eq!(
            emitted.data.as_ref().unwrap()["event"],
            json!("line.published")
        );
        assert_eq!(
            emitted.data.as_ref().unwrap()["payload"],
            json!({"desk": "A"})
        );

        // A small amount takes the false branch to the noop action, then completes.
        let small = start(&engine, "automated", json!({"amount": 10})).await;
        assert_eq!(
            wf.get(WorkflowId::from(small))
                .await
                .unwrap()
                .instance
                .current_step
                .as_deref(),
            Some("auto")
        );
        assert_eq!(engine.run_due_jobs("w", later).await.unwrap(), 1);
        assert_eq!(
            wf.get(WorkflowId::from(small))
                .await
                .unwrap()
                .instance
                .status,
            WorkflowStatus::Completed
        );

        // A condition that cannot be evaluated takes `false`, and says why in the timeline.
        let broken = start(&engine, "automated", json!({"other": 1})).await;
        let history = wf.history(WorkflowId::from(broken)).await.unwrap();
        let evaluated = history
            .iter()
            .find(|e| e.event_type == "condition.evaluated")
            .unwrap();
        let data = evaluated.data.as_ref().unwrap();
        assert_eq!(data["result"], json!(false));
        assert!(
            data["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{data}"
        );
        assert_eq!(
            wf.get(WorkflowId::from(broken))
                .await
                .unwrap()
                .instance
                .current_step
                .as_deref(),
            Some("auto")
        );
    }

    async fn an_export_walks_every_page(db: TestDb) {
        use futures::TryStreamExt;
        let engine = super::make_engine(db.store.clone(), None);
        define(
            &engine,
            "bulk",
            WorkflowGraph::linear(vec![step("review", TimeoutAction::default())]),
        )
        .await;
        let n = betflow_engine::workflows::EXPORT_PAGE as usize + 1;
        for i in 0..n {
            start(&engine, "bulk", json!({"i": i})).await;
        }
        let pages: Vec<_> = engine
            .workflows()
            .export_pages(Default::default())
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [n - 1, 1]);
        let mut ids: Vec<Uuid> = pages.iter().flatten().map(|v| v.instance.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(
            engine
                .workflows()
                .export(Default::default())
                .await
                .unwrap()
                .len(),
            n
        );
    }

    async fn configured_risk_thresholds_apply(db: TestDb) {
        use betflow_domain::workflow::seeded::{RiskLevel, RiskThresholds};
        let level = |s: &str| RiskThresholds::parse_level(s).unwrap();
        let strict = RiskThresholds::new(level("1:10"), level("2:20"), level("3:30")).unwrap();
        let engine = super::make_engine_with(
            db.store.clone(),
            None,
            betflow_engine::EngineConfig {
                risk: strict,
                ..Default::default()
            },
        );
        engine.workflows().ensure_seeded().await.unwrap();
        let id = start(
            &engine,
            "line_change_approval",
            json!({"lineId": "l1", "oldOdds": "2.00", "newOdds": "2.05", "financialImpact": 25}),
        )
        .await;
        let (line, _) = engine
            .workflows()
            .domain_rows(WorkflowId::from(id))
            .await
            .unwrap();
        // 2.5 % and 25 units: low by the seed's thresholds, high by these.
        assert_eq!(line.unwrap().risk_level, RiskLevel::High);
    }

    async fn transitions_write_the_seed_events(db: TestDb) {
        let engine = super::make_engine(db.store.clone(), None);
        let mut live = engine.realtime().hub().subscribe();
        let escalating = flow(
            &engine,
            "escalating",
            WorkflowGraph::linear(vec![step(
                "review",
                TimeoutAction::Escalate {
                    add_roles: vec!["compliance_officer".into()],
                },
            )]),
        )
        .await;
        let rejecting = flow(
            &engine,
            "rejecting",
            WorkflowGraph::linear(vec![step("review", TimeoutAction::AutoReject)]),
        )
        .await;
        engine
            .run_due_jobs("w", now() + Duration::minutes(31))
            .await
            .unwrap();
        let relayed = engine.realtime().relay_once().await.unwrap();
        let events = engine.realtime().events_after(0, 100).await.unwrap();
        assert_eq!(
            relayed,
            events.len(),
            "one relay round publishes everything"
        );
        let of = |id: Uuid| -> Vec<(String, Vec<String>)> {
            events
                .iter()
                .filter(|e| e.is_for(&betflow_domain::events::Address::Workflow(id)))
                .map(|e| {
                    let roles = e.to.iter().filter_map(|a| match a {
                        betflow_domain::events::Address::Role(r) => Some(r.clone()),
                        _ => None,
                    });
                    (e.event_type.clone(), roles.collect())
                })
                .collect()
        };
        let s = |v: &str| v.to_owned();
        assert_eq!(
            of(escalating),
            [
                (s("workflow.created"), vec![]),
                (s("task.created"), vec![s("risk_manager")]),
                (s("workflow.overdue"), vec![]),
                (s("task.created"), vec![s("compliance_officer")]),
            ]
        );
        assert_eq!(
            of(rejecting),
            [
                (s("workflow.created"), vec![]),
                (s("task.created"), vec![s("risk_manager")]),
                (s("workflow.overdue"), vec![]),
                (s("workflow.rejected"), vec![]),
            ]
        );
        let rejected = events
            .iter()
            .find(|e| {
                e.is_for(&betflow_domain::events::Address::Workflow(rejecting))
                    && e.event_type == "workflow.rejected"
            })
            .unwrap();
        assert_eq!(rejected.data["reason"], "timeout");
        assert_eq!(rejected.data["status"], "rejected");
        assert_eq!(rejected.data["previousStatus"], "in_progress");
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

        // Without Redis the relay fed this process's hub, in order.
        for expected in &events {
            let got = live.try_recv().unwrap();
            assert_eq!(got.id, expected.id);
        }
        assert_eq!(
            engine.realtime().relay_once().await.unwrap(),
            0,
            "nothing left to relay"
        );
    }
}
