//! The seed's workflow API, end to end, on both backends.

use crate::common::{TestServer, spawn};
use betflow_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};

betflow_store::conformance!(
    content_publishing_end_to_end,
    line_change_rejected_at_each_step,
    cancel_from_each_open_state_and_invalid_transitions,
    four_eyes_and_assignee_rules,
    data_and_request_validation,
    concurrent_approvals_count_once,
    listing_filters_and_pages,
    update_delete_and_audit_routes,
    bulk_approve_reports_each_id,
    definitions_are_checked_when_published,
    a_rejection_routes_to_rework_and_back,
    a_new_version_leaves_running_workflows_on_theirs,
    definitions_export_import_duplicate_and_page,
    conditions_route_as_the_workflow_is_created,
    inbox_lists_and_completes_tasks,
    export_in_all_three_formats,
    analytics_and_system_stats,
    seed_rows_for_lines_and_content,
    content_rejected_at_each_step,
    line_change_cancelled_from_each_state,
    quorum_of_two_end_to_end,
    bulk_approve_of_a_thousand,
    status_lists_every_step_run,
    optional_bodies_may_be_left_out,
    created_objects_are_located,
    long_categories_are_refused_on_both_backends,
    copies_of_the_longest_keys_and_names_fit,
    unknown_graph_fields_are_refused,
);

fn content() -> Value {
    json!({"title": "New Featured Bets for Premier League", "contentType": "featured_bets",
           "jurisdiction": "UK", "financialImpact": 50000, "contentId": "featured-bets-pl-2024",
           "markets": ["match_winner", "over_under", "both_teams_to_score"]})
}

fn line() -> Value {
    json!({"lineId": "line-1", "eventName": "Arsenal v Chelsea", "oldOdds": 1.85, "newOdds": 1.95,
           "marketType": "match_winner", "financialImpact": 25000, "requestedBy": "live-betting-system"})
}

async fn create(s: &TestServer, token: &str, kind: &str, data: Value, extra: Value) -> Value {
    let mut body = json!({"workflowType": kind, "data": data});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    s.create_workflow(token, body).await.created()
}

async fn content_publishing_end_to_end(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (author_id, author) = s.user_token(&admin, "author", "content_team").await;
    let (_, cm) = s.user_token(&admin, "cmanager", "content_manager").await;
    let (_, co) = s
        .user_token(&admin, "compliance", "compliance_officer")
        .await;
    let (_, publisher) = s.user_token(&admin, "publisher", "content_team").await;

    let w = create(
        &s,
        &author,
        "content_publishing",
        content(),
        json!({"priority": "high"}),
    )
    .await;
    assert_eq!(w["workflowId"], "content_publishing");
    assert_eq!(w["status"], "in_progress");
    assert_eq!(w["currentStep"], "content_review");
    assert_eq!(w["priority"], "high");
    assert_eq!(w["progress"], 0);
    assert_eq!(w["createdBy"], author_id.as_str());
    assert_eq!(w["version"], 1);
    assert!(w["dueAt"].is_string());
    assert_eq!(w["overdue"], false);
    assert!(w["estimatedCompletion"].is_null(), "no history yet");
    let id = w["id"].as_str().unwrap().to_owned();

    let r = s
        .act(&cm, &id, "approve", Some(json!({"comments": "Looks good"})))
        .await
        .ok();
    assert_eq!(r["currentStep"], "compliance_check");
    assert_eq!(r["progress"], 33);
    let r = s.approve(&co, &id).await.ok();
    assert_eq!(r["currentStep"], "final_publish");
    // The task step is completed by an approve from its assignee role.
    let r = s
        .act(
            &publisher,
            &id,
            "approve",
            Some(json!({"stepId": "final_publish"})),
        )
        .await
        .ok();
    let done = &r;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["progress"], 100);
    assert!(done["completedAt"].is_string());
    let approvals = done["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 3);
    assert_eq!(approvals[0]["stepId"], "content_review");
    assert_eq!(approvals[0]["status"], "approved");
    assert_eq!(approvals[0]["comments"], "Looks good");

    let hist = s
        .get_as(&admin, &format!("/api/v1/workflows/{id}/history"))
        .await
        .ok();
    let kinds: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "workflow.created",
            "workflow.started",
            "step.entered",
            "step.approved",
            "step.entered",
            "step.approved",
            "step.entered",
            "step.approved",
            "workflow.completed"
        ]
    );
    let st = s
        .get_as(&admin, &format!("/api/v1/workflows/{id}/status"))
        .await
        .ok();
    assert_eq!(st["status"], "completed");

    s.approve(&publisher, &id)
        .await
        .refused(409, "INVALID_TRANSITION");
    assert!(
        done["estimatedCompletion"].is_null(),
        "finished workflows have none"
    );
    // With every step's history known, a new workflow gets an estimate.
    let next = create(&s, &author, "content_publishing", content(), json!({})).await;
    let eta: chrono::DateTime<chrono::Utc> = next["estimatedCompletion"]
        .as_str()
        .expect("an estimate")
        .parse()
        .unwrap();
    assert!(eta >= chrono::Utc::now() - chrono::Duration::seconds(5));

    // Every transition left an audit row.
    let audit = s
        .get_as(
            &admin,
            &format!("/api/v1/audit-logs?tableName=workflow_instances&recordId={id}"),
        )
        .await
        .status(200);
    assert_eq!(audit["data"]["total"], 4, "{audit}");
}

async fn line_change_rejected_at_each_step(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, requester) = s.user_token(&admin, "requester", "trading_manager").await;
    let (_, tm) = s.user_token(&admin, "tmanager", "trading_manager").await;
    let (_, st) = s.user_token(&admin, "senior", "senior_trader").await;
    let (_, rm) = s.user_token(&admin, "risk", "risk_manager").await;
    let deciders = [&tm, &st, &rm];
    let steps = [
        "line_impact_analysis",
        "senior_trader_approval",
        "risk_management_review",
    ];
    for reject_at in 0..3 {
        let w = create(
            &s,
            &requester,
            "line_change_approval",
            line(),
            json!({"priority": "critical"}),
        )
        .await;
        let id = w["id"].as_str().unwrap().to_owned();
        for token in deciders.iter().take(reject_at) {
            s.approve(token, &id).await.ok();
        }
        let r = s
            .act(
                deciders[reject_at],
                &id,
                "reject",
                Some(json!({"reason": "too risky", "comments": "no"})),
            )
            .await
            .ok();
        assert_eq!(r["status"], "rejected");
        assert_eq!(r["currentStep"], steps[reject_at]);
        let last = r["approvals"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["status"], "rejected");
        s.approve(&admin, &id).await.status(409);
    }
    // Approved through every step.
    let w = create(&s, &requester, "line_change_approval", line(), json!({})).await;
    let id = w["id"].as_str().unwrap().to_owned();
    for token in deciders {
        s.approve(token, &id).await.ok();
    }
    let r = s.workflow(&admin, &id).await.ok();
    assert_eq!(r["status"], "completed");
    assert_eq!(r["priority"], "medium");
}

async fn cancel_from_each_open_state_and_invalid_transitions(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "content_team").await;

    let pending = create(
        &s,
        &author,
        "content_publishing",
        content(),
        json!({"start": false}),
    )
    .await;
    assert_eq!(pending["status"], "pending");
    assert!(pending["currentStep"].is_null());
    let pid = pending["id"].as_str().unwrap().to_owned();
    s.approve(&admin, &pid)
        .await
        .refused(409, "INVALID_TRANSITION");
    let r = s
        .act(&admin, &pid, "cancel", Some(json!({"reason": "duplicate"})))
        .await
        .ok();
    assert_eq!(r["status"], "cancelled");
    for verb in ["start", "cancel", "approve", "reject"] {
        s.act(&admin, &pid, verb, None)
            .await
            .note(verb)
            .refused(409, "INVALID_TRANSITION");
    }

    let started = create(
        &s,
        &author,
        "content_publishing",
        content(),
        json!({"start": false}),
    )
    .await;
    let sid = started["id"].as_str().unwrap().to_owned();
    let r = s.act(&admin, &sid, "start", None).await.ok();
    assert_eq!(r["status"], "in_progress");
    assert_eq!(r["currentStep"], "content_review");
    s.act(&admin, &sid, "start", None).await.status(409);
    let r = s.act(&admin, &sid, "cancel", None).await.ok();
    assert_eq!(r["status"], "cancelled");

    let missing = uuid::Uuid::now_v7();
    s.approve(&admin, &missing.to_string())
        .await
        .refused(404, "NOT_FOUND");
    s.approve(&admin, "not-a-uuid").await.status(400);
}

async fn four_eyes_and_assignee_rules(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, creator) = s.user_token(&admin, "creator", "trading_manager").await;
    let (_, st) = s.user_token(&admin, "senior", "senior_trader").await;
    let (_, trader) = s.user_token(&admin, "trader", "trader").await;
    let w = create(&s, &creator, "line_change_approval", line(), json!({})).await;
    let id = w["id"].as_str().unwrap().to_owned();

    s.approve(&creator, &id)
        .await
        .refused(403, "SEGREGATION_OF_DUTIES");
    s.approve(&st, &id).await.refused(403, "NOT_ASSIGNEE");
    s.approve(&trader, &id)
        .await
        .refused(403, "INSUFFICIENT_PERMISSIONS");

    // The admin may decide any step, but not two steps of one workflow.
    s.act(
        &admin,
        &id,
        "approve",
        Some(json!({"stepId": "line_impact_analysis"})),
    )
    .await
    .ok();
    // A double click with the step named is refused harmlessly.
    s.act(
        &admin,
        &id,
        "approve",
        Some(json!({"stepId": "line_impact_analysis"})),
    )
    .await
    .refused(409, "INVALID_TRANSITION");
    s.approve(&admin, &id)
        .await
        .refused(403, "SEGREGATION_OF_DUTIES");
    s.approve(&st, &id).await.ok();
    let r = s.workflow(&admin, &id).await.ok();
    assert_eq!(r["approvals"].as_array().unwrap().len(), 2);
}

async fn data_and_request_validation(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let post = |body: Value| s.create_workflow(&admin, body);
    // The definition's data schema is a business rule the document cannot state: 422.
    let err = post(json!({"workflowType": "content_publishing", "data": {"jurisdiction": 5}}))
        .await
        .refused(422, "VALIDATION_ERROR");
    let details = err["details"].as_array().unwrap();
    assert_eq!(
        details.len(),
        3,
        "missing title, missing contentType, wrong type: {err}"
    );
    assert!(
        details.iter().any(|d| d["field"] == "data.jurisdiction"),
        "{err}"
    );
    // 400: what the document states (enums, types, tag rules); 422: rules it cannot state
    // (which definitions exist, the definition's own tags counted with these).
    for (body, field, expected) in [
        (
            json!({"workflowType": "nope", "data": {}}),
            "workflowType",
            422,
        ),
        (
            json!({"workflowType": "content_publishing", "data": content(), "priority": "urgent"}),
            "priority",
            400,
        ),
        (
            json!({"workflowType": "content_publishing", "data": [1]}),
            "data",
            400,
        ),
        (
            json!({"workflowType": "content_publishing", "data": content(), "tags": [""]}),
            "tags",
            400,
        ),
        (
            json!({"workflowType": "content_publishing", "data": content(), "tags": ["a\u{7}"]}),
            "tags",
            400,
        ),
        (
            json!({"workflowType": "content_publishing", "data": content(),
                   "tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "tags",
            400,
        ),
        (
            json!({"workflowType": "content_publishing", "data": content(),
                   "tags": (0..20).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "tags",
            422,
        ),
    ] {
        let err = post(body).await.refused(expected, "VALIDATION_ERROR");
        assert_eq!(err["details"][0]["field"], field, "{err}");
    }
    post(json!({"workflowType": "content_publishing", "data": content(), "extra": 1}))
        .await
        .status(400);
    let w = create(&s, &admin, "content_publishing", content(), json!({})).await;
    s.act(
        &admin,
        w["id"].as_str().unwrap(),
        "approve",
        Some(json!({"comment": "typo"})),
    )
    .await
    .status(400);
}

async fn concurrent_approvals_count_once(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, creator) = s.user_token(&admin, "creator", "trading_manager").await;
    let mut managers = Vec::new();
    for i in 0..4 {
        managers.push(
            s.user_token(&admin, &format!("tm{i}"), "trading_manager")
                .await
                .1,
        );
    }
    // Four managers race on each of eight workflows, all 32 requests at once: decisions on
    // different workflows share transactions, decisions on one workflow never do.
    let mut ids = Vec::new();
    for _ in 0..8 {
        let w = create(&s, &creator, "line_change_approval", line(), json!({})).await;
        ids.push(w["id"].as_str().unwrap().to_owned());
    }
    let races: Vec<_> = ids
        .iter()
        .map(|id| {
            managers
                .iter()
                .map(|token| {
                    let req = s
                        .with_token(
                            Method::POST,
                            &format!("/api/v1/workflows/{id}/approve"),
                            token,
                        )
                        .json(&json!({"stepId": "line_impact_analysis"}));
                    tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for (id, races) in ids.iter().zip(races) {
        let mut statuses = Vec::new();
        for r in races {
            statuses.push(r.await.unwrap());
        }
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 409, 409, 409],
            "exactly one decision counts on {id}"
        );
        let r = s.workflow(&admin, id).await.ok();
        assert_eq!(r["approvals"].as_array().unwrap().len(), 1);
        assert_eq!(r["currentStep"], "senior_trader_approval");
    }
    // All 32 went through the decision batcher (a request it hands back counts as alone),
    // and /metrics shows it.
    let stats = s.engine.workflows().decision_stats();
    assert!(stats.batched >= 8, "{stats:?}");
    assert_eq!(stats.batched + stats.alone, 32, "{stats:?}");
    let text = s.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("workflow_decisions_total{path=\"batch\"}"),
        "{text}"
    );
}

async fn listing_filters_and_pages(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    for (kind, priority, tags) in [
        ("content_publishing", "high", json!(["vip"])),
        ("content_publishing", "low", json!([])),
        ("line_change_approval", "high", json!(["vip", " in-play "])),
        ("line_change_approval", "critical", json!([])),
        ("line_change_approval", "medium", json!(["trading"])),
    ] {
        let data = if kind == "content_publishing" {
            content()
        } else {
            line()
        };
        let w = create(
            &s,
            &admin,
            kind,
            data,
            json!({"priority": priority, "tags": tags}),
        )
        .await;
        if kind == "line_change_approval" && priority == "high" {
            assert_eq!(
                w["tags"],
                json!(["trading", "odds", "risk", "vip", "in-play"]),
                "the definition's tags, then the workflow's, trimmed and once each"
            );
        }
    }
    let get = |q: &str| {
        let path = format!("/api/v1/workflows?{q}");
        let (s, admin) = (&s, admin.clone());
        async move { s.get_as(&admin, &path).await }
    };
    let d = get("page=2&limit=2").await.ok();
    assert_eq!(
        (
            d["total"].as_u64(),
            d["page"].as_u64(),
            d["limit"].as_u64(),
            d["totalPages"].as_u64()
        ),
        (Some(5), Some(2), Some(2), Some(3))
    );
    assert_eq!(d["items"].as_array().unwrap().len(), 2);
    for (q, n) in [
        ("type=line_change_approval", 3),
        ("priority=high", 2),
        ("status=in_progress", 5),
        ("status=completed", 0),
        ("type=content_publishing&priority=low", 1),
        ("search=arsenal", 3),
        ("startDate=2000-01-01T00:00:00Z", 5),
        ("endDate=2000-01-01T00:00:00Z", 0),
        ("tags=vip", 2),
        ("tags=vip,in-play", 1),
        ("tags=risk", 3),
        ("tags=compliance,vip", 1),
        ("tags=", 5),
        // A window that ends before it starts is empty, not an error.
        (
            "startDate=2026-02-01T00:00:00Z&endDate=2026-01-01T00:00:00Z",
            0,
        ),
        // Tags exactly as the document's pattern allows: empty items are skipped.
        ("tags=vip,,%20", 2),
    ] {
        let page = get(q).await.ok();
        assert_eq!(page["total"], n, "{q}");
    }
    for q in [
        "limit=101",
        "page=0",
        "status=done",
        "priority=urgent",
        "startDate=yesterday",
        "assignee=nobody",
        "priority=%20high",
        "search=a%07b",
        &format!("tags={}", "x".repeat(51)),
        &format!("tags={}", vec!["t"; 21].join(",")),
    ] {
        get(q).await.note(q).refused(400, "VALIDATION_ERROR");
    }
}

async fn update_delete_and_audit_routes(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "content_team").await;
    let (_, manager) = s.user_token(&admin, "boss", "manager").await;
    let (_, auditor) = s.user_token(&admin, "checker", "auditor").await;
    let (_, tm) = s.user_token(&admin, "tmanager", "trading_manager").await;
    let w = create(&s, &author, "content_publishing", content(), json!({})).await;
    let id = w["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/workflows/{id}");

    s.put_as(&author, &path, json!({"data": {"title": 1}}))
        .await
        .refused(422, "VALIDATION_ERROR");
    s.put_as(&author, &path, json!({"data": 5}))
        .await
        .refused(400, "VALIDATION_ERROR");
    let mut data = content();
    data["title"] = json!("Edited title");
    let r = s
        .put_as(
            &author,
            &path,
            json!({"data": data, "priority": "critical"}),
        )
        .await
        .ok();
    assert_eq!(r["priority"], "critical");
    assert_eq!(r["data"]["title"], "Edited title");

    let trail = s.get_as(&auditor, &format!("{path}/audit")).await.ok();
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["INSERT", "UPDATE"]);
    s.get_as(&tm, &format!("{path}/audit"))
        .await
        .refused(403, "INSUFFICIENT_PRIVILEGES");

    s.delete_as(&author, &path)
        .await
        .refused(403, "INSUFFICIENT_PRIVILEGES");
    s.delete_as(&manager, &path).await.ok();
    s.get_as(&admin, &path).await.status(404);
    s.delete_as(&manager, &path).await.status(404);
    let list = s.get_as(&admin, "/api/v1/workflows").await.ok();
    assert_eq!(list["total"], 0);

    // Finished workflows cannot be edited.
    let w = create(&s, &author, "content_publishing", content(), json!({})).await;
    let id = w["id"].as_str().unwrap().to_owned();
    s.act(&admin, &id, "cancel", None).await.ok();
    s.put_as(
        &admin,
        &format!("/api/v1/workflows/{id}"),
        json!({"priority": "low"}),
    )
    .await
    .refused(409, "INVALID_TRANSITION");
}

async fn bulk_approve_reports_each_id(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "content_team").await;
    let (_, cm) = s.user_token(&admin, "cmanager", "content_manager").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            create(&s, &author, "content_publishing", content(), json!({})).await["id"].clone(),
        );
    }
    let done = create(&s, &author, "content_publishing", content(), json!({})).await["id"].clone();
    s.act(&admin, done.as_str().unwrap(), "cancel", None)
        .await
        .ok();
    let missing = json!(uuid::Uuid::now_v7());
    let mut all = ids.clone();
    all.push(done.clone());
    all.push(missing.clone());
    let r = s
        .post_as(
            &cm,
            "/api/v1/workflows/bulk/approve",
            json!({"workflowIds": all, "comments": "batch"}),
        )
        .await
        .ok();
    let d = &r;
    assert_eq!(
        (
            d["successful"].as_u64(),
            d["failed"].as_u64(),
            d["total"].as_u64()
        ),
        (Some(3), Some(2), Some(5))
    );
    let results = d["results"].as_array().unwrap();
    assert_eq!(results[3]["error"]["code"], "INVALID_TRANSITION");
    assert_eq!(results[4]["error"]["code"], "NOT_FOUND");
    assert!(results[0].get("error").is_none());
    let w = s
        .get_as(
            &admin,
            &format!("/api/v1/workflows/{}", ids[0].as_str().unwrap()),
        )
        .await
        .ok();
    assert_eq!(w["currentStep"], "compliance_check");
    for body in [
        json!({"workflowIds": []}),
        json!({"workflowIds": vec![uuid::Uuid::now_v7(); 1001]}),
        json!({"workflowIds": ["x"]}),
    ] {
        s.post_as(&cm, "/api/v1/workflows/bulk/approve", body)
            .await
            .status(400);
    }
}

/// The `odds_override` definition: a risk review whose rejection routes to a rework task
/// and back.
fn odds_override() -> Value {
    json!({
        "key": "odds_override", "name": "Odds Override", "category": "trading", "tags": ["odds"],
        "dataSchema": {"type": "object", "required": ["market"], "properties": {"market": {"type": "string"}}},
        "steps": [
            {"id": "review", "name": "Risk review", "type": "approval", "assignees": ["risk_manager"],
             "timeout": 30, "fourEyes": false},
            {"id": "rework", "name": "Rework", "type": "task", "assignees": ["senior_trader"]}
        ],
        "edges": [
            {"from": "review", "to": "rework", "branch": "rejected"},
            {"from": "rework", "to": "review"}
        ]
    })
}

const DEFINITIONS: &str = "/api/v1/workflow-definitions";

async fn definitions_are_checked_when_published(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, reviewer) = s.user_token(&admin, "reviewer", "risk_manager").await;
    let r = s
        .post_as(&admin, DEFINITIONS, odds_override())
        .await
        .created();
    assert_eq!(r["latestVersion"], 1);
    s.post_as(&admin, DEFINITIONS, odds_override())
        .await
        .refused(409, "CONFLICT");

    // Invalid graphs: every problem, each with its step.
    let bad = json!({"key": "broken_one", "name": "Broken",
        "steps": [{"id": "a", "name": "A", "type": "approval", "assignees": ["wizard"]},
                  {"id": "b", "name": "B", "type": "condition", "assignees": []},
                  {"id": "c", "name": "C", "type": "task", "assignees": ["trader"]}],
        "edges": [{"from": "a", "to": "c", "branch": "true"}]});
    let err = s
        .post_as(&admin, DEFINITIONS, bad)
        .await
        .note("the graph's rules are not the document's")
        .status(422);
    let fields: Vec<&str> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in ["steps.a", "steps.b"] {
        assert!(fields.contains(&f), "{f} missing: {err}");
    }
    s.post_as(
        &admin,
        DEFINITIONS,
        json!({"key": "X Y", "name": "", "steps": []}),
    )
    .await
    .status(400);
    s.post_as(&reviewer, DEFINITIONS, json!({}))
        .await
        .status(403);

    // A condition that does not compile is refused at publish time, with its step.
    let uncompilable = json!({"key": "auto_flow", "name": "Auto", "steps": [
        {"id": "check", "name": "Check", "type": "condition", "condition": "data.amount >"},
        {"id": "ok", "name": "OK", "type": "approval", "assignees": ["admin"]}],
        "edges": [{"from": "check", "to": "ok", "branch": "true"}]});
    let err = s
        .post_as(&admin, DEFINITIONS, uncompilable)
        .await
        .status(422);
    assert_eq!(err["error"]["details"][0]["field"], "steps.check", "{err}");
}

/// A rejection routes to rework; a new visit of the review needs a new decision.
async fn a_rejection_routes_to_rework_and_back(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "senior_trader").await;
    let (_, reviewer) = s.user_token(&admin, "reviewer", "risk_manager").await;
    let (_, reviewer2) = s.user_token(&admin, "reviewer2", "risk_manager").await;
    s.post_as(&admin, DEFINITIONS, odds_override())
        .await
        .created();
    let w = create(
        &s,
        &author,
        "odds_override",
        json!({"market": "1x2"}),
        json!({}),
    )
    .await;
    let id = w["id"].as_str().unwrap().to_owned();
    let r = s
        .act(&reviewer, &id, "reject", Some(json!({"reason": "margin"})))
        .await
        .ok();
    assert_eq!(r["status"], "in_progress");
    assert_eq!(r["currentStep"], "rework");
    let r = s.approve(&author, &id).await.ok();
    assert_eq!(r["currentStep"], "review");
    let r = s.approve(&reviewer2, &id).await.ok();
    assert_eq!(r["status"], "completed");
}

/// Version 2 adds a second approval; the running workflow keeps version 1.
async fn a_new_version_leaves_running_workflows_on_theirs(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "senior_trader").await;
    let (_, reviewer) = s.user_token(&admin, "reviewer", "risk_manager").await;
    s.post_as(&admin, DEFINITIONS, odds_override())
        .await
        .created();
    let running = create(
        &s,
        &author,
        "odds_override",
        json!({"market": "ou"}),
        json!({}),
    )
    .await;
    let v2 = json!({"steps": [
        {"id": "review", "name": "Risk review", "type": "approval", "assignees": ["risk_manager"], "fourEyes": false},
        {"id": "signoff", "name": "Sign-off", "type": "approval", "assignees": ["trading_manager"]}]});
    let versions = format!("{DEFINITIONS}/odds_override/versions");
    let r = s.post_as(&admin, &versions, v2).await.created();
    assert_eq!(r["version"], 2);
    let fresh = create(
        &s,
        &author,
        "odds_override",
        json!({"market": "ah"}),
        json!({}),
    )
    .await;
    assert_eq!(fresh["version"], 2);
    let r = s
        .approve(&reviewer, running["id"].as_str().unwrap())
        .await
        .ok();
    assert_eq!(r["status"], "completed", "version 1 ends after the review");
    let listed = s.get_as(&admin, &versions).await.ok();
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

/// Export, then import under another key; duplicate; the list is a page like every list.
async fn definitions_export_import_duplicate_and_page(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "senior_trader").await;
    s.post_as(&admin, DEFINITIONS, odds_override())
        .await
        .created();
    let exported = s
        .get_as(&admin, &format!("{DEFINITIONS}/odds_override/export"))
        .await
        .ok();
    let mut doc = exported.clone();
    doc["key"] = json!("odds_override_eu");
    s.post_as(&admin, DEFINITIONS, doc).await.status(201);
    let r = s
        .post_empty(&admin, &format!("{DEFINITIONS}/odds_override/duplicate"))
        .await
        .created();
    assert_eq!(r["key"], "odds_override_copy");
    let list = s.get_as(&author, DEFINITIONS).await.ok();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        5,
        "two seeded and three created"
    );
    assert_eq!(list["total"], 5);
    let page = s
        .get_as(&author, &format!("{DEFINITIONS}?page=2&limit=2"))
        .await
        .ok();
    let keys = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(keys(&page), keys(&list)[2..4], "the second page of two");
    assert_eq!(
        (page["page"].as_u64(), page["totalPages"].as_u64()),
        (Some(2), Some(3))
    );
}

/// A condition routes as the workflow is created: to the approval, or (no `false` edge)
/// straight to completion.
async fn conditions_route_as_the_workflow_is_created(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let auto = json!({"key": "auto_flow", "name": "Auto", "steps": [
        {"id": "check", "name": "Check", "type": "condition", "condition": "data.amount > 10"},
        {"id": "ok", "name": "OK", "type": "approval", "assignees": ["admin"]}],
        "edges": [{"from": "check", "to": "ok", "branch": "true"}]});
    s.post_as(&admin, DEFINITIONS, auto).await.status(201);
    let big = create(&s, &admin, "auto_flow", json!({"amount": 50}), json!({})).await;
    assert_eq!(
        (big["status"].as_str(), big["currentStep"].as_str()),
        (Some("in_progress"), Some("ok")),
        "{big}"
    );
    let small = create(&s, &admin, "auto_flow", json!({"amount": 5}), json!({})).await;
    assert_eq!(small["status"], "completed", "{small}");
    assert_eq!(small["progress"], 100, "{small}");
}

async fn inbox_lists_and_completes_tasks(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "content_team").await;
    let (_, cm) = s.user_token(&admin, "cmanager", "content_manager").await;
    let (_, co) = s
        .user_token(&admin, "compliance", "compliance_officer")
        .await;
    let (_, publisher) = s.user_token(&admin, "publisher", "content_team").await;
    let (_, risk) = s.user_token(&admin, "risky", "risk_manager").await;
    let w = create(&s, &author, "content_publishing", content(), json!({})).await;
    let id = w["id"].as_str().unwrap().to_owned();
    let inbox = |token: String| {
        let s = &s;
        async move {
            let r = s.get_as(&token, "/api/v1/tasks").await.ok();
            r["items"].as_array().unwrap().clone()
        }
    };
    let mine = inbox(cm.clone()).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["stepId"], "content_review");
    assert_eq!(mine[0]["kind"], "approval");
    assert_eq!(mine[0]["assignees"], json!(["content_manager"]));
    assert!(inbox(co.clone()).await.is_empty());
    assert_eq!(
        inbox(admin.clone()).await.len(),
        1,
        "admins see every open step"
    );
    let by_role = s
        .get_as(&admin, "/api/v1/workflows?assignee=content_manager")
        .await
        .ok();
    assert_eq!(by_role["total"], 1);
    s.get_as(&admin, "/api/v1/workflows?assignee=wizard")
        .await
        .status(400);

    // An approval step is not completed through the inbox.
    s.post_empty(&author, &format!("/api/v1/tasks/{id}/complete"))
        .await
        .refused(409, "INVALID_TRANSITION");
    s.post_empty(&risk, &format!("/api/v1/tasks/{id}/complete"))
        .await
        .note("risk managers lack workflows:execute")
        .status(403);

    s.approve(&cm, &id).await.ok();
    assert!(inbox(cm.clone()).await.is_empty());
    assert_eq!(inbox(co.clone()).await.len(), 1);
    s.approve(&co, &id).await.ok();
    let tasks = inbox(publisher.clone()).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["kind"], "task");
    assert_eq!(tasks[0]["stepId"], "final_publish");
    let r = s
        .post_as(
            &publisher,
            &format!("/api/v1/tasks/{id}/complete"),
            json!({"comments": "published"}),
        )
        .await
        .ok();
    assert_eq!(r["status"], "completed");
    assert!(inbox(publisher.clone()).await.is_empty());
    s.post_empty(&publisher, &format!("/api/v1/tasks/{id}/complete"))
        .await
        .status(409);
}

async fn export_in_all_three_formats(db: TestDb) {
    use calamine::Reader;
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    for (kind, priority) in [
        ("content_publishing", "high"),
        ("line_change_approval", "low"),
        ("line_change_approval", "high"),
    ] {
        let data = if kind == "content_publishing" {
            content()
        } else {
            line()
        };
        create(&s, &admin, kind, data, json!({"priority": priority})).await;
    }
    let export = |body: Value| {
        s.with_token(Method::POST, "/api/v1/workflows/bulk/export", &admin)
            .json(&body)
            .send()
    };
    let res = export(json!({"format": "json", "filters": {"priority": "high"}}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"workflows.json\""
    );
    let rows: Vec<Value> = res.json().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["priority"] == "high"));

    let res = export(json!({"format": "csv", "filters": {"type": "line_change_approval"}}))
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"workflows.csv\""
    );
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[1], "workflowType");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| &r[1] == "line_change_approval"));
    let data: Value = serde_json::from_str(&records[0][11]).unwrap();
    assert_eq!(data["lineId"], "line-1");

    let res = export(json!({"format": "xlsx"})).await.unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"workflows.xlsx\""
    );
    let bytes = res.bytes().await.unwrap().to_vec();
    let mut book: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("Workflows").unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 4, "header and three workflows");
    assert_eq!(rows[0][0], "id");
    assert_eq!(rows[0][2], "status");
    assert!(rows[1..].iter().all(|r| r[2] == "in_progress"));
    assert!(rows[1..].iter().all(|r| r[5] == "0"), "progress is numeric");

    // Nothing matches: still a well-formed file.
    let none = json!({"status": "completed"});
    let res = export(json!({"format": "json", "filters": none}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "[]");
    let res = export(json!({"format": "csv", "filters": none}))
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert_eq!(text.lines().count(), 1, "the header alone: {text}");
    assert!(text.starts_with("id,workflowType,"), "{text}");

    for bad in [
        json!({"format": "pdf"}),
        json!({"format": "csv", "filters": {"status": "done"}}),
        json!({"format": "csv", "filters": {"priority": " high"}}),
        json!({"format": "csv", "filters": {"tags": vec!["t"; 21]}}),
        json!({"format": "csv", "filters": {"tags": [" "]}}),
        json!({}),
    ] {
        let res = export(bad.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
    }
    // A window that ends before it starts holds nothing.
    let res = export(
        json!({"format": "json", "filters": {"startDate": "2026-02-01T00:00:00Z",
        "endDate": "2026-01-01T00:00:00Z"}}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "[]");
    let (_, author) = s.user_token(&admin, "author", "content_team").await;
    let res = s
        .with_token(Method::POST, "/api/v1/workflows/bulk/export", &author)
        .json(&json!({"format": "json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

async fn analytics_and_system_stats(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, creator) = s.user_token(&admin, "creator", "trading_manager").await;
    let (_, tm) = s.user_token(&admin, "tmanager", "trading_manager").await;
    let (_, st) = s.user_token(&admin, "senior", "senior_trader").await;
    let (_, rm) = s.user_token(&admin, "risky", "risk_manager").await;
    let done = create(&s, &creator, "line_change_approval", line(), json!({})).await;
    for t in [&tm, &st, &rm] {
        s.approve(t, done["id"].as_str().unwrap()).await.ok();
    }
    let rejected = create(&s, &creator, "line_change_approval", line(), json!({})).await;
    s.act(&tm, rejected["id"].as_str().unwrap(), "reject", None)
        .await
        .ok();
    create(&s, &creator, "line_change_approval", line(), json!({})).await;

    let r = s
        .get_as(&tm, "/api/v1/workflows/analytics?period=7d")
        .await
        .ok();
    let a = &r;
    assert_eq!(a["total"], 3);
    assert_eq!(
        a["byStatus"],
        json!({"completed": 1, "rejected": 1, "in_progress": 1})
    );
    assert_eq!(a["overdue"], 0);
    let timings = a["decisionTimes"].as_array().unwrap();
    let decisions = |step: &str| {
        timings
            .iter()
            .find(|t| t["stepId"] == step)
            .map(|t| t["decisions"].as_u64().unwrap())
    };
    assert_eq!(decisions("line_impact_analysis"), Some(2));
    assert_eq!(decisions("senior_trader_approval"), Some(1));
    assert_eq!(decisions("risk_management_review"), Some(1));
    assert!(
        timings
            .iter()
            .all(|t| t["medianMinutes"].as_f64().unwrap() >= 0.0)
    );
    let days = a["throughput"].as_array().unwrap();
    assert_eq!(days.len(), 8, "every day of the period, today included");
    assert_eq!(days.last().unwrap()["completed"], 1);

    let other = s
        .get_as(
            &tm,
            "/api/v1/workflows/analytics?period=1d&type=content_publishing",
        )
        .await
        .ok();
    assert_eq!(other["total"], 0);
    s.get_as(&tm, "/api/v1/workflows/analytics?period=2w")
        .await
        .status(400);
    s.get_as(&rm, "/api/v1/workflows/analytics")
        .await
        .note("risk managers monitor workflows")
        .status(200);

    let stats = s.get_as(&admin, "/api/v1/system/stats").await.status(200);
    assert_eq!(stats["data"]["workflowsByType"]["line_change_approval"], 3);
    assert_eq!(stats["data"]["workflowDefinitions"], 2);
    assert_eq!(stats["data"]["users"], 5);
    // The seed's getDatabaseStats row, by its column names.
    assert_eq!(
        stats["data"]["database"],
        json!({"total_workflows": 3, "active_workflows": 1, "completed_workflows": 1,
               "total_users": 5, "total_betting_content": 0, "total_betting_lines": 3})
    );
    assert!(stats["data"]["timestamp"].is_string());
    s.get_as(&tm, "/api/v1/system/stats")
        .await
        .refused(403, "INSUFFICIENT_PRIVILEGES");
}

async fn seed_rows_for_lines_and_content(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let w = create(&s, &admin, "line_change_approval", line(), json!({})).await;
    let id: uuid::Uuid = w["id"].as_str().unwrap().parse().unwrap();
    let (line_row, content_row) = s.engine.workflows().domain_rows(id.into()).await.unwrap();
    assert!(content_row.is_none());
    let l = line_row.expect("a betting_lines row");
    assert_eq!(l.line_id, "line-1");
    assert_eq!(l.old_odds.to_string(), "1.85");
    assert_eq!(l.new_odds.to_string(), "1.95");
    assert_eq!(l.odds_change_percentage.to_string(), "5.41");
    assert_eq!(
        l.total_exposure, 25_000,
        "financialImpact is in minor units already"
    );
    assert_eq!(l.risk_level.as_str(), "medium");

    let mut bad = line();
    bad["newOdds"] = json!("1.0");
    let err = s
        .create_workflow(
            &admin,
            json!({"workflowType": "line_change_approval", "data": bad}),
        )
        .await
        .note("a line change's rules are the definition's")
        .status(422);
    assert_eq!(
        err["error"]["details"][0]["field"].as_str(),
        Some("newOdds"),
        "{err}"
    );

    let (_, cm) = s.user_token(&admin, "cmanager", "content_manager").await;
    let (_, co) = s
        .user_token(&admin, "compliance", "compliance_officer")
        .await;
    let (_, publisher) = s.user_token(&admin, "publisher", "content_team").await;
    let c = create(&s, &admin, "content_publishing", content(), json!({})).await;
    let cid: uuid::Uuid = c["id"].as_str().unwrap().parse().unwrap();
    let row = s
        .engine
        .workflows()
        .domain_rows(cid.into())
        .await
        .unwrap()
        .1
        .expect("a betting_content row");
    assert_eq!(
        (row.status.as_str(), row.content_id.as_str()),
        ("draft", "featured-bets-pl-2024")
    );
    assert_eq!(row.financial_impact, 50_000, "minor units, as given");
    for t in [&cm, &co, &publisher] {
        s.approve(t, &cid.to_string()).await.ok();
    }
    let row = s
        .engine
        .workflows()
        .domain_rows(cid.into())
        .await
        .unwrap()
        .1
        .unwrap();
    assert_eq!(row.status, "published");
}

/// Content rejected at each step is finished: no decision, cancel or start applies after.
async fn content_rejected_at_each_step(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "content_team").await;
    let (_, cm) = s.user_token(&admin, "cmanager", "content_manager").await;
    let (_, co) = s
        .user_token(&admin, "compliance", "compliance_officer")
        .await;
    // The task step is rejected by an admin: content_team may complete it, not reject.
    let deciders = [&cm, &co, &admin];
    let steps = ["content_review", "compliance_check", "final_publish"];
    for reject_at in 0..3 {
        let w = create(&s, &author, "content_publishing", content(), json!({})).await;
        let id = w["id"].as_str().unwrap().to_owned();
        for token in deciders.iter().take(reject_at) {
            s.approve(token, &id).await.ok();
        }
        let r = s
            .act(
                deciders[reject_at],
                &id,
                "reject",
                Some(json!({"reason": "off-brand"})),
            )
            .await
            .ok();
        assert_eq!(r["status"], "rejected", "rejected at {}", steps[reject_at]);
        assert_eq!(r["currentStep"], steps[reject_at]);
        for verb in ["approve", "reject", "cancel", "start"] {
            s.act(&admin, &id, verb, None)
                .await
                .note(format!("{verb} after a rejection at {}", steps[reject_at]))
                .refused(409, "INVALID_TRANSITION");
        }
    }
}

/// line_change_approval cancelled from pending and from each step; a completed or rejected
/// one cannot be cancelled.
async fn line_change_cancelled_from_each_state(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, requester) = s.user_token(&admin, "requester", "trading_manager").await;
    let (_, tm) = s.user_token(&admin, "tmanager", "trading_manager").await;
    let (_, st) = s.user_token(&admin, "senior", "senior_trader").await;
    let (_, rm) = s.user_token(&admin, "risk", "risk_manager").await;
    let pending = create(
        &s,
        &requester,
        "line_change_approval",
        line(),
        json!({"start": false}),
    )
    .await;
    let r = s
        .act(&admin, pending["id"].as_str().unwrap(), "cancel", None)
        .await
        .ok();
    assert_eq!(r["status"].as_str(), Some("cancelled"), "{r}");
    let line_deciders = [&tm, &st, &rm];
    for approved in 0..3 {
        let w = create(&s, &requester, "line_change_approval", line(), json!({})).await;
        let id = w["id"].as_str().unwrap().to_owned();
        for token in line_deciders.iter().take(approved) {
            s.approve(token, &id).await.ok();
        }
        let r = s
            .act(&admin, &id, "cancel", Some(json!({"reason": "stale"})))
            .await
            .ok();
        assert_eq!(r["status"], "cancelled");
    }
    let done = create(&s, &requester, "line_change_approval", line(), json!({})).await;
    let done = done["id"].as_str().unwrap().to_owned();
    for token in line_deciders {
        s.approve(token, &done).await.ok();
    }
    let rejected = create(&s, &requester, "line_change_approval", line(), json!({})).await;
    let rejected = rejected["id"].as_str().unwrap().to_owned();
    s.act(&tm, &rejected, "reject", None).await.ok();
    for (id, state) in [(&done, "completed"), (&rejected, "rejected")] {
        let r = s.workflow(&admin, id).await.ok();
        assert_eq!(r["status"], state);
        s.act(&admin, id, "cancel", None)
            .await
            .note(format!("cancel a {state} workflow"))
            .refused(409, "INVALID_TRANSITION");
    }
}

async fn quorum_of_two_end_to_end(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "senior_trader").await;
    let mut reviewers = Vec::new();
    for i in 0..4 {
        reviewers.push(
            s.user_token(&admin, &format!("risk{i}"), "risk_manager")
                .await
                .1,
        );
    }
    let doc = json!({
        "key": "limit_raise", "name": "Limit raise", "category": "trading",
        "steps": [
            {"id": "dual_review", "name": "Dual review", "type": "approval",
             "assignees": ["risk_manager"], "requiredApprovals": 2, "timeout": 60}
        ],
        "edges": []
    });
    s.post_as(&admin, "/api/v1/workflow-definitions", doc)
        .await
        .status(201);

    // Two approvals complete it; the first leaves it waiting; one user cannot count twice.
    let w = create(
        &s,
        &author,
        "limit_raise",
        json!({"amount": 5000}),
        json!({}),
    )
    .await;
    let id = w["id"].as_str().unwrap().to_owned();
    let r = s
        .act(
            &reviewers[0],
            &id,
            "approve",
            Some(json!({"comments": "one"})),
        )
        .await
        .ok();
    assert_eq!(r["status"], "in_progress");
    assert_eq!(r["currentStep"], "dual_review");
    s.approve(&reviewers[0], &id).await.status(409);
    let r = s.approve(&reviewers[1], &id).await.ok();
    assert_eq!(r["status"], "completed");
    assert_eq!(r["approvals"].as_array().unwrap().len(), 2);
    let history = s
        .get_as(&admin, &format!("/api/v1/workflows/{id}/history"))
        .await
        .ok();
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["eventType"].as_str())
        .collect();
    assert!(kinds.contains(&"approval.recorded"), "{kinds:?}");
    assert!(kinds.contains(&"step.approved"), "{kinds:?}");

    // One rejection decides the step, whatever the quorum.
    let w = create(
        &s,
        &author,
        "limit_raise",
        json!({"amount": 9000}),
        json!({}),
    )
    .await;
    let id = w["id"].as_str().unwrap().to_owned();
    s.approve(&reviewers[0], &id).await.ok();
    let r = s.act(&reviewers[1], &id, "reject", None).await.ok();
    assert_eq!(r["status"], "rejected");

    // Four reviewers race on a quorum of two: exactly two approvals count.
    let w = create(
        &s,
        &author,
        "limit_raise",
        json!({"amount": 7000}),
        json!({}),
    )
    .await;
    let id = w["id"].as_str().unwrap().to_owned();
    let races: Vec<_> = reviewers
        .iter()
        .map(|token| {
            let req = s
                .with_token(
                    Method::POST,
                    &format!("/api/v1/workflows/{id}/approve"),
                    token,
                )
                .json(&json!({"stepId": "dual_review"}));
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for r in races {
        statuses.push(r.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 409, 409]);
    let r = s.workflow(&admin, &id).await.ok();
    assert_eq!(r["status"], "completed");
    assert_eq!(r["approvals"].as_array().unwrap().len(), 2);
}

/// The issue's bulk size: 1,000 workflows approved in one request, a result for each.
async fn bulk_approve_of_a_thousand(db: TestDb) {
    use futures::StreamExt;
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, author) = s.user_token(&admin, "author", "content_team").await;
    let (_, cm) = s.user_token(&admin, "cmanager", "content_manager").await;
    let ids: Vec<Value> = futures::stream::iter(0..1000)
        .map(|_| async {
            create(&s, &author, "content_publishing", content(), json!({})).await["id"].clone()
        })
        .buffer_unordered(8)
        .collect()
        .await;
    // One of them is cancelled first: its approval fails and takes nothing from the others.
    let cancelled = ids[500].as_str().unwrap().to_owned();
    s.act(&admin, &cancelled, "cancel", None).await.ok();
    let res = s
        .with_token(Method::POST, "/api/v1/workflows/bulk/approve", &cm)
        .json(&json!({"workflowIds": ids, "comments": "bulk"}))
        .timeout(std::time::Duration::from_secs(120))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let r: Value = res.json().await.unwrap();
    let d = &r["data"];
    assert_eq!(
        (
            d["successful"].as_u64(),
            d["failed"].as_u64(),
            d["total"].as_u64()
        ),
        (Some(999), Some(1), Some(1000))
    );
    let results = d["results"].as_array().unwrap();
    for (i, (result, id)) in results.iter().zip(&ids).enumerate() {
        assert_eq!(&result["id"], id, "results in request order");
        assert_eq!(result["success"], i != 500, "{result}");
    }
    assert_eq!(results[500]["error"]["code"], "INVALID_TRANSITION");
    let page = s
        .get_as(
            &admin,
            "/api/v1/workflows?type=content_publishing&status=in_progress&limit=1",
        )
        .await
        .ok();
    assert_eq!(page["total"], 999);
    for i in [0, 499, 999] {
        let w = s
            .get_as(
                &admin,
                &format!("/api/v1/workflows/{}", ids[i].as_str().unwrap()),
            )
            .await
            .ok();
        assert_eq!(w["currentStep"], "compliance_check");
        assert_eq!(w["approvals"].as_array().unwrap().len(), 1);
    }
}

/// Every transition records its step runs: the status endpoint lists each visit with its
/// type, how it ended and how long it took.
async fn status_lists_every_step_run(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, requester) = s.user_token(&admin, "requester", "trading_manager").await;
    let (_, tm) = s.user_token(&admin, "tmanager", "trading_manager").await;
    let (_, st) = s.user_token(&admin, "senior", "senior_trader").await;
    let runs = |id: String| {
        let (s, admin) = (&s, &admin);
        async move {
            let r = s
                .get_as(admin, &format!("/api/v1/workflows/{id}/status"))
                .await
                .ok();
            r["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    (
                        x["stepId"].as_str().unwrap().to_owned(),
                        x["visit"].as_u64().unwrap(),
                        x["status"].as_str().unwrap().to_owned(),
                        x["endedAt"].is_null(),
                        x["durationMs"].as_i64(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let pending = create(
        &s,
        &requester,
        "line_change_approval",
        line(),
        json!({"start": false}),
    )
    .await;
    let pid = pending["id"].as_str().unwrap().to_owned();
    assert!(
        runs(pid.clone()).await.is_empty(),
        "nothing runs before start"
    );

    let w = create(&s, &requester, "line_change_approval", line(), json!({})).await;
    let id = w["id"].as_str().unwrap().to_owned();
    let got = runs(id.clone()).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (
            got[0].0.as_str(),
            got[0].1,
            got[0].2.as_str(),
            got[0].3,
            got[0].4
        ),
        ("line_impact_analysis", 1, "running", true, None)
    );
    s.approve(&tm, &id).await.ok();
    s.act(&st, &id, "reject", Some(json!({"reason": "no"})))
        .await
        .ok();
    let got = runs(id.clone()).await;
    let summary: Vec<(&str, u64, &str, bool)> = got
        .iter()
        .map(|r| (r.0.as_str(), r.1, r.2.as_str(), r.3))
        .collect();
    assert_eq!(
        summary,
        [
            ("line_impact_analysis", 1, "approved", false),
            ("senior_trader_approval", 2, "rejected", false),
        ]
    );
    assert!(got.iter().all(|r| r.4.is_some_and(|ms| ms >= 0)), "{got:?}");

    let w = create(&s, &requester, "line_change_approval", line(), json!({})).await;
    let id = w["id"].as_str().unwrap().to_owned();
    s.approve(&tm, &id).await.ok();
    s.act(&admin, &id, "cancel", None).await.ok();
    let summary: Vec<(String, String)> = runs(id).await.into_iter().map(|r| (r.0, r.2)).collect();
    assert_eq!(
        summary,
        [
            ("line_impact_analysis".to_owned(), "approved".to_owned()),
            ("senior_trader_approval".to_owned(), "cancelled".to_owned()),
        ]
    );
    // A content workflow's task step is completed, not approved.
    let (_, author) = s.user_token(&admin, "author", "content_team").await;
    let (_, cm) = s.user_token(&admin, "cmanager", "content_manager").await;
    let (_, co) = s
        .user_token(&admin, "compliance", "compliance_officer")
        .await;
    let (_, publisher) = s.user_token(&admin, "publisher", "content_team").await;
    let w = create(&s, &author, "content_publishing", content(), json!({})).await;
    let id = w["id"].as_str().unwrap().to_owned();
    for token in [&cm, &co, &publisher] {
        s.approve(token, &id).await.ok();
    }
    let summary: Vec<(String, String)> = runs(id).await.into_iter().map(|r| (r.0, r.2)).collect();
    assert_eq!(
        summary,
        [
            ("content_review".to_owned(), "approved".to_owned()),
            ("compliance_check".to_owned(), "approved".to_owned()),
            ("final_publish".to_owned(), "completed".to_owned()),
        ]
    );
    s.get_as(
        &admin,
        &format!("/api/v1/workflows/{}/status", uuid::Uuid::now_v7()),
    )
    .await
    .status(404);
}

/// Approve, reject, cancel, complete and duplicate take an optional body: none at all, an
/// empty one (with or without a JSON content type), `null` and `{}` all mean "no options",
/// exactly as the document's optional request body says.
async fn optional_bodies_may_be_left_out(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, cm) = s.user_token(&admin, "cmanager", "content_manager").await;
    let (_, co) = s
        .user_token(&admin, "compliance", "compliance_officer")
        .await;
    let (_, publisher) = s.user_token(&admin, "publisher", "content_team").await;
    type Body = Option<(&'static str, Option<&'static str>)>;
    let send = |token: String, path: String, body: Body| {
        let mut req = s.with_token(Method::POST, &path, &token);
        if let Some((text, content_type)) = body {
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            req = req.body(text);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let bodies: [Body; 5] = [
        None,
        Some(("", None)),
        Some(("", Some("application/json"))),
        Some(("null", Some("application/json"))),
        Some(("{}", Some("application/json"))),
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        // content_publishing: two approval steps, then a task.
        let w = create(&s, &admin, "content_publishing", content(), json!({})).await;
        let id = w["id"].as_str().unwrap().to_owned();
        for token in [&cm, &co] {
            let path = format!("/api/v1/workflows/{id}/approve");
            let (status, r) = send(token.clone(), path, body).await;
            assert_eq!(status, 200, "approve with {body:?}: {r}");
        }
        let path = format!("/api/v1/tasks/{id}/complete");
        let (status, r) = send(publisher.clone(), path, body).await;
        assert_eq!(status, 200, "complete with {body:?}: {r}");
        assert_eq!(r["data"]["status"], "completed");

        let w = create(&s, &admin, "line_change_approval", line(), json!({})).await;
        let id = w["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/workflows/{id}/cancel");
        let (status, r) = send(admin.clone(), path, body).await;
        assert_eq!(status, 200, "cancel with {body:?}: {r}");
        assert_eq!(r["data"]["status"], "cancelled");

        let w = create(&s, &admin, "content_publishing", content(), json!({})).await;
        let id = w["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/workflows/{id}/reject");
        let (status, r) = send(cm.clone(), path, body).await;
        assert_eq!(status, 200, "reject with {body:?}: {r}");
        assert_eq!(r["data"]["status"], "rejected");

        let path = "/api/v1/workflow-definitions/content_publishing/duplicate".to_owned();
        let (status, r) = send(admin.clone(), path, body).await;
        if i == 0 {
            assert_eq!(status, 201, "duplicate with {body:?}: {r}");
            assert_eq!(r["data"]["key"], "content_publishing_copy");
        } else {
            // The default key is taken by the first copy: the body was read as none.
            assert_eq!(
                (status, r["error"]["code"].as_str()),
                (409, Some("CONFLICT")),
                "{r}"
            );
        }
    }
    // A body that is there is held to the rules: JSON only, known fields only, free text
    // without control characters.
    let w = create(&s, &admin, "line_change_approval", line(), json!({})).await;
    let path = format!("/api/v1/workflows/{}/cancel", w["id"].as_str().unwrap());
    for (body, status, code) in [
        (("{}", None), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (
            (r#"{"why": "x"}"#, Some("application/json")),
            400,
            "VALIDATION_ERROR",
        ),
        (
            (r#"{"reason": "a\u0007b"}"#, Some("application/json")),
            400,
            "VALIDATION_ERROR",
        ),
        (("[]", Some("application/json")), 400, "VALIDATION_ERROR"),
    ] {
        let (got, r) = send(admin.clone(), path.clone(), Some(body)).await;
        assert_eq!(
            (got, r["error"]["code"].as_str()),
            (status, Some(code)),
            "{body:?}: {r}"
        );
    }
}

/// A 201 carries the created object's URL in `Location`, and that URL reads it back.
async fn created_objects_are_located(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let res = s
        .with_token(Method::POST, "/api/v1/workflows", &admin)
        .json(&json!({"workflowType": "line_change_approval", "data": line()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/workflows/{}", body["data"]["id"].as_str().unwrap())
    );
    let read = s.get_as(&admin, &location).await.ok();
    assert_eq!(read["id"], body["data"]["id"]);

    for (path, body) in [
        (
            "/api/v1/workflow-definitions".to_owned(),
            Some(json!({"key": "located", "name": "Located", "steps": [
                {"id": "a", "name": "A", "type": "approval", "assignees": ["trader"]}]})),
        ),
        (
            "/api/v1/workflow-definitions/located/duplicate".to_owned(),
            Some(json!({"key": "located_two"})),
        ),
    ] {
        let mut req = s.with_token(Method::POST, &path, &admin);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 201, "{path}");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = res.json().await.unwrap();
        let key = created["data"]["key"].as_str().unwrap();
        assert_eq!(location, format!("/api/v1/workflow-definitions/{key}"));
        let read = s.get_as(&admin, &location).await.ok();
        assert_eq!(read["key"], key);
        // The export is an envelope around a document that imports as it is.
        let export = s
            .get_as(&admin, &format!("{location}/export"))
            .await
            .status(200);
        assert_eq!(export["success"], true);
        assert_eq!(export["data"]["key"], key);
    }
}

/// A category longer than its column is a 400 naming it, never a 500 (PostgreSQL's
/// VARCHAR(100) refused the insert; SQLite stored it).
async fn long_categories_are_refused_on_both_backends(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let doc = |category: String| {
        json!({"key": "categorised", "name": "Categorised", "category": category, "steps": [
            {"id": "a", "name": "A", "type": "approval", "assignees": ["trader"]}]})
    };
    let err = s
        .post_as(&admin, "/api/v1/workflow-definitions", doc("é".repeat(101)))
        .await
        .status(400);
    assert_eq!(
        err["error"]["details"][0]["field"].as_str(),
        Some("category"),
        "{err}"
    );
    let created = s
        .post_as(&admin, "/api/v1/workflow-definitions", doc("é".repeat(100)))
        .await
        .created();
    assert_eq!(created["category"], "é".repeat(100));
}

/// A copy's default key and name stay valid when the original's are as long as allowed
/// (`<key>_copy` of a 100-character key was a 400 on a body-less duplicate).
async fn copies_of_the_longest_keys_and_names_fit(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let key = "k".repeat(100);
    let name = "é".repeat(255);
    s.post_as(
        &admin,
        "/api/v1/workflow-definitions",
        json!({"key": key, "name": name, "steps": [
            {"id": "a", "name": "A", "type": "approval", "assignees": ["trader"]}]}),
    )
    .await
    .status(201);
    let copy = s
        .post_empty(
            &admin,
            &format!("/api/v1/workflow-definitions/{key}/duplicate"),
        )
        .await
        .status(201);
    assert_eq!(copy["data"]["key"], format!("{}_copy", "k".repeat(95)));
    assert_eq!(copy["data"]["name"], format!("{} (copy)", "é".repeat(248)));
    s.post_empty(&admin, "/api/v1/workflow-definitions/abc/duplicate")
        .await
        .note("no such definition")
        .status(404);
}

/// A misspelt step, edge or timeout field is a 400 naming it, not a step silently without it
/// (the document's step schemas allow no other fields).
async fn unknown_graph_fields_are_refused(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let step = json!({"id": "a", "name": "A", "type": "approval", "assignees": ["trader"],
                      "timeout": 5});
    let mut misspelt = step.clone();
    misspelt["timeOut"] = json!(5);
    let mut odd_timeout = step.clone();
    odd_timeout["onTimeout"] = json!({"action": "auto_reject", "after": 5});
    for (steps, edges, needle) in [
        (json!([misspelt]), json!([]), "timeOut"),
        (json!([odd_timeout]), json!([]), "after"),
        (
            json!([step.clone(), {"id": "b", "name": "B", "type": "task", "assignees": ["trader"]}]),
            json!([{"from": "a", "to": "b", "branch": "approved", "label": "x"}]),
            "label",
        ),
    ] {
        let err = s
            .post_as(
                &admin,
                "/api/v1/workflow-definitions",
                json!({"key": "spelt", "name": "Spelt", "steps": steps, "edges": edges}),
            )
            .await
            .refused(400, "VALIDATION_ERROR");
        assert!(err["message"].as_str().unwrap().contains(needle), "{err}");
    }
    s.post_as(
        &admin,
        "/api/v1/workflow-definitions",
        json!({"key": "spelt", "name": "Spelt", "steps": [step]}),
    )
    .await
    .status(201);
}

/// The document states what these routes accept and send (checked against the server by
/// the schemathesis contract test; this pins the parts a client relies on most).
#[test]
fn the_document_states_workflow_shapes() {
    let doc = serde_json::to_value(betflow_api::openapi()).unwrap();
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    for (path, schema) in [
        ("/api/v1/workflows/{id}/approve", "ApproveRequest"),
        ("/api/v1/workflows/{id}/reject", "RejectRequest"),
        ("/api/v1/workflows/{id}/cancel", "CancelRequest"),
        ("/api/v1/tasks/{id}/complete", "CompleteRequest"),
        (
            "/api/v1/workflow-definitions/{key}/duplicate",
            "DuplicateRequest",
        ),
    ] {
        let body = &op(path, "post")["requestBody"];
        assert_ne!(body["required"], true, "{path}: the body is optional");
        let one_of = body["content"]["application/json"]["schema"]["oneOf"].to_string();
        assert!(
            one_of.contains(schema) && one_of.contains("null"),
            "{path}: {body}"
        );
    }
    let created = &op("/api/v1/workflows", "post")["responses"]["201"];
    assert_eq!(
        created["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Envelope_WorkflowResponse"
    );
    assert!(created["headers"]["Location"].is_object(), "{created}");
    for target in [
        "workflows_get",
        "workflows_approve",
        "workflows_history",
        "workflows_delete",
    ] {
        assert_eq!(
            created["links"][target]["parameters"]["id"], "$response.body#/data/id",
            "{target}"
        );
    }
    let created = &op("/api/v1/workflow-definitions", "post")["responses"]["201"];
    for target in [
        "workflow_definitions_get",
        "workflow_definitions_publish",
        "workflow_definitions_versions",
        "workflow_definitions_duplicate",
        "workflow_definitions_export",
    ] {
        assert_eq!(
            created["links"][target]["parameters"]["key"], "$response.body#/data/key",
            "{target}"
        );
    }
    let export = &op("/api/v1/workflows/bulk/export", "post")["responses"]["200"]["content"];
    assert_eq!(export["application/json"]["schema"]["type"], "array");
    assert!(export["text/csv"].is_object());
    assert!(
        export["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"].is_object()
    );
    let definition_export = &op("/api/v1/workflow-definitions/{key}/export", "get");
    assert_eq!(
        definition_export["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Envelope_DefinitionDocument"
    );
    for (path, list) in [
        ("/api/v1/workflows", "Envelope_ListData_WorkflowResponse"),
        (
            "/api/v1/workflow-definitions",
            "Envelope_ListData_DefinitionDto",
        ),
        ("/api/v1/tasks", "Envelope_ListData_TaskDto"),
    ] {
        let op = op(path, "get");
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{list}"),
            "{path}"
        );
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(params.starts_with(&["page", "limit"]), "{path}: {params:?}");
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["WorkflowPriority"]["enum"],
        json!(["low", "medium", "high", "critical"])
    );
    assert_eq!(
        schemas["WorkflowResponse"]["properties"]["status"]["$ref"],
        "#/components/schemas/WorkflowStatus"
    );
}
