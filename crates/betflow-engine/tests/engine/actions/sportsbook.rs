//! The sportsbook actions on behalf of the definition's owner: suspend, reopen, odds changes
//! (small ones apply, large ones open a line_change_approval), settle and void.

use betflow_domain::identity::Role;
use betflow_domain::ids::WorkflowId;
use betflow_domain::sportsbook::catalog::{Event, Market, Selection, Sport, Team};
use betflow_engine::Engine;
use betflow_engine::identity::{Credential, Principal};
use betflow_store::testing::TestDb;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{admin_id, done, engine, run_as};

betflow_store::conformance!(markets_are_managed_for_the_owner);

fn admin(id: Uuid) -> Principal {
    Principal {
        user_id: id,
        username: "admin".into(),
        role: Role::Admin,
        permissions: vec!["*".into()],
        key_permissions: None,
        credential: Credential::Session(Uuid::now_v7()),
    }
}

/// A market with two selections at 2.0 and 3.0; (market, [home, away]).
async fn market(engine: &Engine, p: &Principal) -> (Uuid, [Uuid; 2]) {
    let a = Default::default();
    let c = engine.catalog();
    let sport: Sport = c
        .create(
            p,
            &json!({"name": "football", "displayName": "Football", "slug": "football"}),
            &a,
        )
        .await
        .unwrap();
    let mut teams = vec![];
    for name in ["Arsenal", "Chelsea"] {
        let t: Team = c
            .create(
                p,
                &json!({"sportId": sport.id, "name": name, "displayName": name,
                        "slug": name.to_lowercase()}),
                &a,
            )
            .await
            .unwrap();
        teams.push(t.id);
    }
    let start = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let ev: Event = c
        .create(
            p,
            &json!({"sportId": sport.id, "homeTeamId": teams[0], "awayTeamId": teams[1],
                    "startTime": start}),
            &a,
        )
        .await
        .unwrap();
    let m: Market = c
        .create(
            p,
            &json!({"eventId": ev.id, "type": "moneyline", "name": "Match result"}),
            &a,
        )
        .await
        .unwrap();
    let mut sels = vec![];
    for (name, odds) in [("Home", "2.0"), ("Away", "3.0")] {
        let s: Selection = c
            .create(
                p,
                &json!({"marketId": m.id, "name": name, "odds": odds}),
                &a,
            )
            .await
            .unwrap();
        sels.push(s.id);
    }
    (m.id, [sels[0], sels[1]])
}

async fn markets_are_managed_for_the_owner(db: TestDb) {
    let engine = engine(db.store.clone(), true);
    engine.workflows().ensure_seeded().await.unwrap();
    let owner = admin_id(&engine).await;
    let (m, [home, away]) = market(&engine, &admin(owner)).await;
    let exec = WorkflowId::new();
    let act = |key: &'static str, config: Value| {
        let engine = &engine;
        async move { run_as(engine, key, exec, 1, &config, None, Some(owner), 5_000).await }
    };
    let out = done(act("market.suspend", json!({"marketId": m})).await);
    assert_eq!(out["status"], "suspended");
    let out = done(act("market.reopen", json!({"marketId": m})).await);
    assert_eq!(out["status"], "open");
    let err = act("market.reopen", json!({"marketId": Uuid::now_v7()}))
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err:?}");

    // A small change applies; a large one waits for a line_change_approval.
    let out = done(act("odds.change", json!({"selectionId": home, "odds": "2.05"})).await);
    assert_eq!(out["applied"], true, "{out}");
    let out = done(
        act(
            "odds.change",
            json!({"selectionId": away, "odds": "9.0",
                                             "reason": "injury news"}),
        )
        .await,
    );
    assert_eq!(out["applied"], false, "{out}");
    let wf: Uuid = out["workflowId"].as_str().unwrap().parse().unwrap();
    let w = engine.workflows().get(wf.into()).await.unwrap().instance;
    assert_eq!(w.workflow_type, "line_change_approval");
    let err = act("odds.change", json!({"selectionId": home, "odds": "0.5"}))
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err:?}");

    // The change is audited as the automation on behalf of the owner.
    let audit = engine
        .audit_log(&betflow_domain::audit::AuditQuery {
            table_name: Some("selections".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let entry = audit
        .items
        .iter()
        .find(|e| {
            e.user_agent
                .as_deref()
                .is_some_and(|u| u.contains("automation"))
        })
        .expect("an audit row names the automation");
    assert_eq!(entry.user_id, Some(owner));

    let out = done(
        act(
            "market.settle",
            json!({"marketId": m,
                                               "results": {home.to_string(): "win",
                                                           away.to_string(): "loss"}}),
        )
        .await,
    );
    assert_eq!(out["marketStatus"], "settled", "{out}");
    let err = act("market.void", json!({"marketId": m}))
        .await
        .unwrap_err();
    assert!(err.message.contains("reason"), "{}", err.message);
    // Without an owner nothing is done.
    let err = run_as(
        &engine,
        "market.suspend",
        exec,
        1,
        &json!({"marketId": m}),
        None,
        None,
        5_000,
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("owner"), "{}", err.message);
}
