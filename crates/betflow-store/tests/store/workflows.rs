//! Workflow definitions, versions, workflows, approvals and timeline on both backends.

use betflow_domain::PageRequest;
use betflow_domain::audit::{AuditAction, AuditEntry, AuditQuery};
use betflow_domain::events::{Address, NewEvent};
use betflow_domain::jobs::NewJob;
use betflow_domain::time::now;
use betflow_domain::workflow::graph::StepKind;
use betflow_domain::workflow::record::{
    Approval, Definition, Instance, InstanceFilter, TimelineEvent, Version,
};
use betflow_domain::workflow::record::{BettingContent, BettingLine, StepRun, StepRunStatus};
use betflow_domain::workflow::seeded::RiskLevel;
use betflow_domain::workflow::{Decision, Priority, WorkflowStatus, seeded};
use betflow_store::testing::TestDb;
use betflow_store::{CreationRef, DomainRowRef, StoreError, TransitionRef};
use chrono::Duration;
use serde_json::json;
use uuid::Uuid;

betflow_store::conformance!(
    definitions_versions_and_workflows_round_trip,
    one_vote_per_user_per_step_visit,
    listing_filters_and_paginates,
    keyset_scans_see_each_row_once,
    transitions_of_several_workflows_share_statements,
    creations_share_statements_and_fail_together,
);

async fn seed(db: &TestDb) -> (Definition, Version) {
    let s = seeded::line_change_approval();
    let t = now();
    let d = Definition {
        id: Uuid::now_v7(),
        key: s.key.into(),
        name: s.name.into(),
        description: Some(s.description.into()),
        category: Some(s.category.into()),
        tags: s.tags.iter().map(|t| t.to_string()).collect(),
        data_schema: Some(s.data_schema.clone()),
        latest_version: 1,
        is_active: true,
        created_by: None,
        created_at: t,
        updated_at: t,
        deleted_at: None,
    };
    let v = Version {
        definition_id: d.id,
        version: 1,
        graph: s.graph,
        published_by: None,
        published_at: t,
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_definition(&d).await.unwrap();
    tx.insert_version(&v).await.unwrap();
    tx.commit().await.unwrap();
    (d, v)
}

fn instance(d: &Definition, priority: Priority, data: serde_json::Value) -> Instance {
    let t = now();
    Instance {
        id: Uuid::now_v7(),
        definition_id: d.id,
        workflow_type: d.key.clone(),
        version: 1,
        status: WorkflowStatus::InProgress,
        priority,
        current_step: Some("line_impact_analysis".into()),
        step_visit: 1,
        step_started_at: Some(t),
        escalated_roles: vec![],
        assignees: vec!["trading_manager".into()],
        completed_steps: 0,
        data,
        tags: vec!["trading".into()],
        created_by: Some(Uuid::now_v7()),
        created_at: t,
        updated_at: t,
        started_at: Some(t),
        completed_at: None,
        due_at: Some(t + Duration::minutes(30)),
    }
}

async fn definitions_versions_and_workflows_round_trip(db: TestDb) {
    let (d, v) = seed(&db).await;
    assert_eq!(
        db.store.get_definition(&d.key).await.unwrap(),
        Some(d.clone())
    );
    assert_eq!(db.store.get_version(d.id, 1).await.unwrap(), Some(v));
    assert!(db.store.get_version(d.id, 2).await.unwrap().is_none());
    assert_eq!(db.store.list_definitions().await.unwrap().len(), 1);
    let mut tx = db.store.begin().await.unwrap();
    let mut dup = d.clone();
    dup.id = Uuid::now_v7();
    assert!(matches!(
        tx.insert_definition(&dup).await.unwrap_err(),
        StoreError::Conflict { .. }
    ));
    drop(tx);

    let mut w = instance(
        &d,
        Priority::High,
        json!({"lineId": "L1", "oldOdds": "1.85"}),
    );
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_workflow(&w).await.unwrap();
    let created = TimelineEvent {
        id: Uuid::now_v7(),
        workflow_id: w.id,
        event_type: "workflow.created".into(),
        step_id: None,
        user_id: w.created_by,
        data: Some(json!({"priority": "high"})),
        created_at: now(),
    };
    let started = TimelineEvent {
        id: Uuid::now_v7(),
        event_type: "workflow.started".into(),
        data: None,
        ..created.clone()
    };
    tx.insert_timeline(&[created, started]).await.unwrap();
    tx.insert_timeline(&[]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(db.store.get_workflow(w.id).await.unwrap(), Some(w.clone()));

    let mut tx = db.store.begin().await.unwrap();
    let locked = tx.lock_workflow(w.id).await.unwrap().unwrap();
    assert_eq!(locked, w);
    w.status = WorkflowStatus::Completed;
    w.current_step = None;
    w.completed_steps = 3;
    w.escalated_roles = vec!["admin".into()];
    w.completed_at = Some(now());
    w.updated_at = now();
    tx.update_workflow(&w).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(db.store.get_workflow(w.id).await.unwrap(), Some(w.clone()));
    let timeline = db.store.list_timeline(w.id).await.unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["workflow.created", "workflow.started"]);
    assert_eq!(timeline[1].data, None);
}

async fn one_vote_per_user_per_step_visit(db: TestDb) {
    let (d, _) = seed(&db).await;
    let w = instance(&d, Priority::Medium, json!({}));
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_workflow(&w).await.unwrap();
    tx.commit().await.unwrap();
    let user = Uuid::now_v7();
    let vote = |visit: u32| Approval {
        id: Uuid::now_v7(),
        workflow_id: w.id,
        step_id: "line_impact_analysis".into(),
        step_visit: visit,
        approver_id: user,
        decision: Decision::Approve,
        comments: Some("ok".into()),
        decided_at: now(),
    };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_approval(&vote(1)).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    assert!(matches!(
        tx.insert_approval(&vote(1)).await.unwrap_err(),
        StoreError::Conflict { .. }
    ));
    drop(tx);
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_approval(&vote(2)).await.unwrap();
    tx.commit().await.unwrap();
    let approvals = db.store.list_approvals(w.id).await.unwrap();
    assert_eq!(approvals.len(), 2);
    assert_eq!(approvals[0].comments.as_deref(), Some("ok"));
    assert_eq!(approvals[0].decision, Decision::Approve);
}

async fn listing_filters_and_paginates(db: TestDb) {
    let (d, _) = seed(&db).await;
    let mut all = Vec::new();
    for (i, p) in [
        Priority::Low,
        Priority::High,
        Priority::High,
        Priority::Critical,
        Priority::Medium,
    ]
    .into_iter()
    .enumerate()
    {
        let mut w = instance(
            &d,
            p,
            json!({"eventName": format!("Match {i}"), "note": if i == 2 { "50%_off" } else { "plain" }}),
        );
        w.created_at = now() - Duration::hours(10 - i as i64);
        if i == 4 {
            w.status = WorkflowStatus::Pending;
        }
        if i % 2 == 1 {
            w.tags.push("vip".into());
        }
        if i == 3 {
            w.tags.push("in-play".into());
        }
        let mut tx = db.store.begin().await.unwrap();
        tx.insert_workflow(&w).await.unwrap();
        tx.commit().await.unwrap();
        all.push(w);
    }
    let list = |f: InstanceFilter| {
        let store = db.store.clone();
        async move { store.list_workflows(&f).await.unwrap() }
    };
    let page = list(InstanceFilter {
        page: PageRequest::new(Some(1), Some(2)).unwrap(),
        ..Default::default()
    })
    .await;
    assert_eq!((page.total, page.total_pages, page.items.len()), (5, 3, 2));
    assert_eq!(page.items[0].id, all[4].id, "newest first");
    assert_eq!(
        list(InstanceFilter {
            priority: Some(Priority::High),
            ..Default::default()
        })
        .await
        .total,
        2
    );
    assert_eq!(
        list(InstanceFilter {
            status: Some(WorkflowStatus::Pending),
            ..Default::default()
        })
        .await
        .total,
        1
    );
    assert_eq!(
        list(InstanceFilter {
            workflow_type: Some("content_publishing".into()),
            ..Default::default()
        })
        .await
        .total,
        0
    );
    assert_eq!(
        list(InstanceFilter {
            start_date: Some(all[1].created_at),
            end_date: Some(all[3].created_at),
            ..Default::default()
        })
        .await
        .total,
        2
    );
    assert_eq!(
        list(InstanceFilter {
            search: Some("match 3".into()),
            ..Default::default()
        })
        .await
        .total,
        1
    );
    // LIKE wildcards in the search text are literal.
    assert_eq!(
        list(InstanceFilter {
            search: Some("50%_".into()),
            ..Default::default()
        })
        .await
        .total,
        1
    );
    assert_eq!(
        list(InstanceFilter {
            search: Some("%".into()),
            ..Default::default()
        })
        .await
        .total,
        1
    );
    assert_eq!(
        list(InstanceFilter {
            assignee_role: Some("trading_manager".into()),
            ..Default::default()
        })
        .await
        .total,
        4,
        "open workflows only"
    );
    assert_eq!(
        list(InstanceFilter {
            assignee_role: Some("risk_manager".into()),
            ..Default::default()
        })
        .await
        .total,
        0
    );
    let tagged = |tags: &[&str]| InstanceFilter {
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    };
    assert_eq!(list(tagged(&["trading"])).await.total, 5);
    assert_eq!(list(tagged(&["vip"])).await.total, 2);
    assert_eq!(
        list(tagged(&["vip", "in-play"])).await.items[0].id,
        all[3].id,
        "every tag must match"
    );
    assert_eq!(list(tagged(&["vip", "in-play"])).await.total, 1);
    assert_eq!(list(tagged(&["vi"])).await.total, 0, "whole tags only");
    assert_eq!(
        list(InstanceFilter {
            created_by: all[0].created_by,
            ..Default::default()
        })
        .await
        .total,
        1
    );
}

async fn keyset_scans_see_each_row_once(db: TestDb) {
    let (d, _) = seed(&db).await;
    // Many rows share a timestamp, so the cursor's id tiebreak is what keeps pages apart.
    let base = now() - Duration::hours(1);
    let mut tx = db.store.begin().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..1203 {
        let mut w = instance(&d, Priority::Medium, json!({"i": i}));
        w.created_at = base + Duration::seconds(i64::from(i % 7));
        if i % 100 == 0 {
            w.priority = Priority::Critical;
        }
        tx.insert_workflow(&w).await.unwrap();
        ids.push(w.id);
    }
    tx.commit().await.unwrap();

    let all = InstanceFilter::default();
    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = db.store.scan_workflows(&all, before, 500).await.unwrap();
        if page.is_empty() {
            break;
        }
        pages += 1;
        before = page.last().map(|w| (w.created_at, w.id));
        seen.extend(page.into_iter().map(|w| (w.created_at, w.id)));
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 1203);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, id breaking ties");
    sorted.dedup();
    assert_eq!(sorted.len(), 1203, "no row twice");

    let critical = InstanceFilter {
        priority: Some(Priority::Critical),
        ..Default::default()
    };
    let page = db.store.scan_workflows(&critical, None, 500).await.unwrap();
    assert_eq!(page.len(), 13, "filters apply");

    // Decisions for a page of workflows come back in one query.
    let mut tx = db.store.begin().await.unwrap();
    for (n, id) in ids.iter().take(3).enumerate() {
        for k in 0..=n {
            tx.insert_approval(&Approval {
                id: Uuid::now_v7(),
                workflow_id: *id,
                step_id: "line_impact_analysis".into(),
                step_visit: 1,
                approver_id: Uuid::now_v7(),
                decision: if k == 0 {
                    Decision::Approve
                } else {
                    Decision::Reject
                },
                comments: None,
                decided_at: now(),
            })
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
    let approvals = db.store.list_approvals_for(&ids[..4]).await.unwrap();
    assert_eq!(approvals.len(), 1 + 2 + 3);
    for (n, id) in ids.iter().take(4).enumerate() {
        assert_eq!(
            approvals.iter().filter(|a| a.workflow_id == *id).count(),
            if n < 3 { n + 1 } else { 0 }
        );
    }
    assert!(db.store.list_approvals_for(&[]).await.unwrap().is_empty());
}

/// What a batch of decisions writes: several workflows locked in id order in one read,
/// their transitions written together (more than one statement's worth), and a conflicting
/// decision failing the whole write.
async fn transitions_of_several_workflows_share_statements(db: TestDb) {
    let (d, _) = seed(&db).await;
    let big = "x".repeat(1000);
    let mut workflows: Vec<Instance> = (0..12)
        .map(|i| instance(&d, Priority::Medium, json!({"n": i, "note": big})))
        .collect();
    let mut tx = db.store.begin().await.unwrap();
    for w in &workflows {
        tx.insert_workflow(w).await.unwrap();
    }
    let deleted = instance(&d, Priority::Low, json!({}));
    tx.insert_workflow(&deleted).await.unwrap();
    assert!(tx.delete_workflow(deleted.id, now()).await.unwrap());
    tx.commit().await.unwrap();

    // Asked for in any order, with a missing and a deleted id: the rest, in id order.
    let mut ids: Vec<Uuid> = workflows.iter().rev().map(|w| w.id).collect();
    ids.push(Uuid::now_v7());
    ids.push(deleted.id);
    let mut tx = db.store.begin().await.unwrap();
    let locked = tx.lock_workflows(&ids).await.unwrap();
    let mut expected = workflows.clone();
    expected.sort_by_key(|w| w.id);
    assert_eq!(locked, expected);
    assert!(tx.lock_workflows(&[]).await.unwrap().is_empty());
    assert!(tx.approvals_in_tx_for(&ids).await.unwrap().is_empty());

    let approver = Uuid::now_v7();
    let t = now();
    let mut decisions = Vec::new();
    let mut timelines = Vec::new();
    let mut outbox = Vec::new();
    let mut audits = Vec::new();
    for w in &mut workflows {
        decisions.push(Approval {
            id: Uuid::now_v7(),
            workflow_id: w.id,
            step_id: "line_impact_analysis".into(),
            step_visit: 1,
            approver_id: approver,
            decision: Decision::Approve,
            comments: Some(format!("ok {}", w.data["n"])),
            decided_at: t,
        });
        w.current_step = Some("senior_trader_approval".into());
        w.step_visit = 2;
        w.completed_steps = 1;
        w.updated_at = t;
        timelines.push(vec![TimelineEvent {
            id: Uuid::now_v7(),
            workflow_id: w.id,
            event_type: "step.approved".into(),
            step_id: Some("line_impact_analysis".into()),
            user_id: Some(approver),
            data: Some(json!({"note": big})),
            created_at: t,
        }]);
        let e = NewEvent::new(
            "workflow.step_approved",
            json!({"id": w.id, "note": big}),
            t,
        );
        outbox.push(vec![e.to([Address::Workflow(w.id)])]);
        audits.push(AuditEntry {
            id: Uuid::now_v7(),
            table_name: "workflow_instances".into(),
            record_id: w.id,
            action: AuditAction::Update,
            old_values: Some(json!({"currentStep": "line_impact_analysis"})),
            new_values: Some(json!({"currentStep": "senior_trader_approval", "note": big})),
            user_id: Some(approver),
            ip_address: None,
            user_agent: None,
            timestamp: t,
        });
    }
    let job = NewJob {
        kind: "step_timeout".into(),
        payload: json!({"workflowId": workflows[0].id}),
        run_at: t + Duration::minutes(30),
        max_attempts: 3,
    };
    // Each transition ends the first step's run (started before step runs were recorded,
    // so it is inserted whole) and starts the second's.
    let runs: Vec<Vec<StepRun>> = workflows
        .iter()
        .map(|w| {
            let run = |visit: u32, step: &str, status, ended_at| StepRun {
                workflow_id: w.id,
                visit,
                step_id: step.into(),
                kind: StepKind::Approval,
                status,
                started_at: t - Duration::minutes(5),
                ended_at,
            };
            vec![
                run(1, "line_impact_analysis", StepRunStatus::Approved, Some(t)),
                run(2, "senior_trader_approval", StepRunStatus::Running, None),
            ]
        })
        .collect();
    let writes: Vec<TransitionRef<'_>> = (0..workflows.len())
        .map(|i| TransitionRef {
            decision: Some(&decisions[i]),
            workflow: &workflows[i],
            step_runs: &runs[i],
            job: (i == 0).then_some(&job),
            timeline: &timelines[i],
            events: &outbox[i],
            audit: &audits[i],
        })
        .collect();
    tx.record_transitions(&writes).await.unwrap();
    tx.commit().await.unwrap();

    for (i, w) in workflows.iter().enumerate() {
        assert_eq!(db.store.get_workflow(w.id).await.unwrap().as_ref(), Some(w));
        assert_eq!(
            db.store.list_approvals(w.id).await.unwrap(),
            [decisions[i].clone()]
        );
        assert_eq!(db.store.list_step_runs(w.id).await.unwrap(), runs[i]);
        let kinds: Vec<String> = db
            .store
            .list_timeline(w.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        assert_eq!(kinds, ["step.approved"]);
        let audit = db
            .store
            .query_audit(&AuditQuery {
                table_name: Some("workflow_instances".into()),
                record_id: Some(w.id),
                user_id: None,
                action: None,
                from: None,
                until: None,
                page: PageRequest::default(),
            })
            .await
            .unwrap();
        assert_eq!(audit.total, 1, "one audit row for {}", w.id);
    }
    let jobs = db
        .store
        .claim_jobs(
            "w",
            t + Duration::hours(1),
            std::time::Duration::from_secs(60),
            100,
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload, job.payload);
    let mut tx = db.store.begin().await.unwrap();
    let read = tx.approvals_in_tx_for(&ids).await.unwrap();
    assert_eq!(read.len(), workflows.len());
    drop(tx);

    // The same decisions again: the first one conflicts and nothing of the batch is kept.
    let mut again: Vec<Approval> = decisions.clone();
    for a in again.iter_mut().skip(1) {
        a.id = Uuid::now_v7();
        a.step_visit = 2;
    }
    let mut moved = workflows.clone();
    for w in &mut moved {
        w.current_step = Some("risk_management_review".into());
        w.step_visit = 3;
    }
    let writes: Vec<TransitionRef<'_>> = (0..moved.len())
        .map(|i| TransitionRef {
            decision: Some(&again[i]),
            workflow: &moved[i],
            step_runs: &[],
            job: None,
            timeline: &[],
            events: &[],
            audit: &audits[i],
        })
        .collect();
    let mut tx = db.store.begin().await.unwrap();
    assert!(matches!(
        tx.record_transitions(&writes).await.unwrap_err(),
        StoreError::Conflict { .. }
    ));
    drop(tx);
    for (i, w) in workflows.iter().enumerate() {
        assert_eq!(db.store.get_workflow(w.id).await.unwrap().as_ref(), Some(w));
        assert_eq!(
            db.store.list_approvals(w.id).await.unwrap(),
            [decisions[i].clone()]
        );
    }

    // The second step's run ends: the upsert sets its status and end, keeps its start.
    let ended: Vec<Vec<StepRun>> = runs
        .iter()
        .map(|r| {
            vec![StepRun {
                status: StepRunStatus::Rejected,
                started_at: t + Duration::hours(1),
                ended_at: Some(t + Duration::minutes(9)),
                ..r[1].clone()
            }]
        })
        .collect();
    let fresh: Vec<AuditEntry> = audits
        .iter()
        .map(|a| AuditEntry {
            id: Uuid::now_v7(),
            ..a.clone()
        })
        .collect();
    let writes: Vec<TransitionRef<'_>> = (0..workflows.len())
        .map(|i| TransitionRef {
            decision: None,
            workflow: &workflows[i],
            step_runs: &ended[i],
            job: None,
            timeline: &[],
            events: &[],
            audit: &fresh[i],
        })
        .collect();
    let mut tx = db.store.begin().await.unwrap();
    tx.record_transitions(&writes).await.unwrap();
    tx.commit().await.unwrap();
    for (i, w) in workflows.iter().enumerate() {
        let stored = db.store.list_step_runs(w.id).await.unwrap();
        assert_eq!(stored[0], runs[i][0]);
        assert_eq!(
            stored[1],
            StepRun {
                status: StepRunStatus::Rejected,
                ended_at: Some(t + Duration::minutes(9)),
                ..runs[i][1].clone()
            }
        );
    }
}

/// Batched creations: workflows with their seed rows, jobs, timeline, events and audit rows
/// written across several statements; a duplicate id fails the whole write.
async fn creations_share_statements_and_fail_together(db: TestDb) {
    let (d, _) = seed(&db).await;
    let t = now();
    let big = "y".repeat(1500);
    let workflows: Vec<Instance> = (0..9)
        .map(|i| instance(&d, Priority::High, json!({"n": i, "note": big})))
        .collect();
    let lines: Vec<BettingLine> = workflows
        .iter()
        .map(|w| BettingLine {
            id: Uuid::now_v7(),
            workflow_id: w.id,
            line_id: format!("line-{}", w.data["n"]),
            event_name: Some("Arsenal v Chelsea".into()),
            sport: None,
            league: None,
            market_type: Some("match_winner".into()),
            old_odds: "1.85".parse().unwrap(),
            new_odds: "1.95".parse().unwrap(),
            odds_change_percentage: "5.41".parse().unwrap(),
            total_exposure: 25_000,
            risk_level: RiskLevel::Medium,
            metadata: json!({"note": big}),
            created_at: t,
        })
        .collect();
    let content = BettingContent {
        id: Uuid::now_v7(),
        workflow_id: workflows[8].id,
        content_type: "featured_bets".into(),
        content_id: "c-1".into(),
        title: "Featured".into(),
        jurisdiction: Some("UK".into()),
        financial_impact: 500,
        metadata: json!({}),
        status: "draft".into(),
        created_at: t,
        updated_at: t,
    };
    let timelines: Vec<Vec<TimelineEvent>> = workflows
        .iter()
        .map(|w| {
            vec![TimelineEvent {
                id: Uuid::now_v7(),
                workflow_id: w.id,
                event_type: "workflow.created".into(),
                step_id: None,
                user_id: w.created_by,
                data: Some(json!({"note": big})),
                created_at: t,
            }]
        })
        .collect();
    let audits: Vec<AuditEntry> = workflows
        .iter()
        .map(|w| AuditEntry {
            id: Uuid::now_v7(),
            table_name: "workflow_instances".into(),
            record_id: w.id,
            action: AuditAction::Insert,
            old_values: None,
            new_values: Some(json!({"note": big})),
            user_id: w.created_by,
            ip_address: None,
            user_agent: None,
            timestamp: t,
        })
        .collect();
    let job = NewJob {
        kind: "step_timeout".into(),
        payload: json!({"n": 3}),
        run_at: t + Duration::minutes(30),
        max_attempts: 3,
    };
    let first_runs: Vec<Vec<StepRun>> = workflows
        .iter()
        .map(|w| {
            vec![StepRun {
                workflow_id: w.id,
                visit: 1,
                step_id: "line_impact_analysis".into(),
                kind: StepKind::Approval,
                status: StepRunStatus::Running,
                started_at: t,
                ended_at: None,
            }]
        })
        .collect();
    let rows: Vec<CreationRef<'_>> = (0..workflows.len())
        .map(|i| CreationRef {
            workflow: &workflows[i],
            step_runs: &first_runs[i],
            row: Some(if i == 8 {
                DomainRowRef::Content(&content)
            } else {
                DomainRowRef::Line(&lines[i])
            }),
            job: (i == 3).then_some(&job),
            timeline: &timelines[i],
            events: &[],
            audit: &audits[i],
        })
        .collect();
    let mut tx = db.store.begin().await.unwrap();
    tx.record_creations(&rows).await.unwrap();
    tx.commit().await.unwrap();
    for (i, w) in workflows.iter().enumerate() {
        assert_eq!(db.store.get_workflow(w.id).await.unwrap().as_ref(), Some(w));
        let kinds: Vec<String> = db
            .store
            .list_timeline(w.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        assert_eq!(kinds, ["workflow.created"]);
        assert_eq!(db.store.list_step_runs(w.id).await.unwrap(), first_runs[i]);
        if i < 8 {
            let line = db.store.get_betting_line(w.id).await.unwrap().unwrap();
            assert_eq!(line.line_id, lines[i].line_id);
            assert!(db.store.get_betting_content(w.id).await.unwrap().is_none());
        }
    }
    assert_eq!(
        db.store.get_betting_content(workflows[8].id).await.unwrap(),
        Some(content.clone())
    );
    let jobs = db
        .store
        .claim_jobs(
            "w",
            t + Duration::hours(1),
            std::time::Duration::from_secs(60),
            100,
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);

    // A batch holding an existing workflow fails as a whole: the new ones are not kept.
    let fresh: Vec<Instance> = (0..3)
        .map(|i| instance(&d, Priority::Low, json!({"n": 100 + i})))
        .collect();
    let batch: Vec<&Instance> = fresh.iter().chain([&workflows[0]]).collect();
    let fresh_audits: Vec<AuditEntry> = batch
        .iter()
        .map(|w| AuditEntry {
            id: Uuid::now_v7(),
            record_id: w.id,
            ..audits[0].clone()
        })
        .collect();
    let rows: Vec<CreationRef<'_>> = batch
        .iter()
        .zip(&fresh_audits)
        .map(|(w, audit)| CreationRef {
            workflow: w,
            step_runs: &[],
            row: None,
            job: None,
            timeline: &[],
            events: &[],
            audit,
        })
        .collect();
    let mut tx = db.store.begin().await.unwrap();
    assert!(matches!(
        tx.record_creations(&rows).await.unwrap_err(),
        StoreError::Conflict { .. }
    ));
    drop(tx);
    for w in &fresh {
        assert!(db.store.get_workflow(w.id).await.unwrap().is_none());
    }
}
