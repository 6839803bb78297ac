//! Odds over HTTP on both backends: absurd numbers are a 400 and never a panic, one
//! validation applies on every path that sets a selection's odds (create, patch, a line
//! change opened by the catalog or through `POST /workflows`, edited workflow data, and the
//! approval's apply step), and odds are answered in one canonical text form everywhere.

use std::time::{Duration, Instant};

use crate::common::{TestServer, client::Reply, spawn};
use betflow_domain::jobs::NewJob;
use betflow_store::testing::TestDb;
use serde_json::{Value, json};

betflow_store::conformance!(
    absurd_odds_are_refused_never_a_panic,
    every_path_that_sets_odds_applies_one_validation,
    the_apply_step_checks_the_odds_again,
    odds_are_answered_in_one_canonical_form,
);

/// Numbers no selection may carry: the overflow that used to panic, a float too large for a
/// decimal, above the maximum, more than four decimal places, not above 1, not a number.
fn absurd() -> Vec<Value> {
    vec![
        json!("79228162514264337593543950335"),
        json!("792281625142643375935439503350"),
        json!("1e30"),
        json!(1e300),
        json!(5000),
        json!("1000.0001"),
        json!("1.00001"),
        json!("1.0"),
        json!("-2"),
        json!("two"),
        json!(true),
        json!({"odds": 2}),
    ]
}

struct Book {
    market: String,
    /// A selection at 2.00.
    sel: String,
}

async fn made(s: &TestServer, token: &str, path: &str, body: Value) -> Value {
    s.post_as(token, path, body).await.note(path).created()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn book(s: &TestServer, admin: &str) -> Book {
    let sport = id(&made(
        s,
        admin,
        "/api/v1/sports",
        json!({"name": "football", "displayName": "Football", "slug": "football"}),
    )
    .await);
    let mut teams = vec![];
    for name in ["Arsenal", "Chelsea"] {
        teams.push(id(&made(
            s,
            admin,
            "/api/v1/teams",
            json!({"sportId": sport, "name": name, "displayName": name,
                   "slug": name.to_lowercase()}),
        )
        .await));
    }
    let start = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let event = id(&made(
        s,
        admin,
        "/api/v1/events",
        json!({"sportId": sport, "homeTeamId": teams[0], "awayTeamId": teams[1],
               "startTime": start}),
    )
    .await);
    let market = id(&made(
        s,
        admin,
        "/api/v1/markets",
        json!({"eventId": event, "type": "moneyline", "name": "Match result"}),
    )
    .await);
    let sel = id(&made(
        s,
        admin,
        "/api/v1/selections",
        json!({"marketId": market, "name": "Arsenal", "odds": "2.0"}),
    )
    .await);
    Book { market, sel }
}

/// A list answered either plainly or as a page.
fn items(data: &Value) -> Vec<Value> {
    data.as_array()
        .or_else(|| data["items"].as_array())
        .unwrap_or_else(|| panic!("not a list: {data}"))
        .clone()
}

#[track_caller]
fn assert_refused(res: Reply, field: &str, what: &str) {
    assert_refused_with(400, res, field, what);
}

/// A workflow's free-form `data` is a schema-valid body refused by a business rule (the line
/// change's rules): 422, where a catalog body's `odds` break its schema (400).
#[track_caller]
fn assert_refused_by_rules(res: Reply, field: &str, what: &str) {
    assert_refused_with(422, res, field, what);
}

#[track_caller]
fn assert_refused_with(expected: u16, res: Reply, field: &str, what: &str) {
    let err = res.note(what).refused(expected, "VALIDATION_ERROR");
    assert!(
        items(&err["details"])
            .iter()
            // A workflow's data schema names `data.newOdds`; the domain's rules `newOdds`.
            .any(|d| d["field"] == field || d["field"] == format!("data.{field}")),
        "{what}: {field} in {err}"
    );
}

async fn odds_of(s: &TestServer, token: &str, sel: &str) -> Value {
    s.selection(token, sel).await.ok()["odds"].take()
}

async fn line_changes(s: &TestServer, admin: &str) -> u64 {
    let list = s
        .get_as(admin, "/api/v1/workflows?type=line_change_approval")
        .await
        .ok();
    list["total"].as_u64().unwrap()
}

/// Approves `wf` through the seeded line change's three steps.
async fn approve_line_change(s: &TestServer, admin: &str, wf: &str) {
    for (name, role) in [
        ("tmgr", "trading_manager"),
        ("strader", "senior_trader"),
        ("rmgr", "risk_manager"),
    ] {
        let (_, token) = s.user_token(admin, name, role).await;
        s.act(&token, wf, "approve", Some(json!({"comments": "ok"})))
            .await
            .note(role)
            .ok();
    }
}

/// `PATCH /selections/{id}` with the odds that used to overflow the line-change percentage
/// (a 500 from a panic) and every other absurd number is a 400 naming `odds`, on create as
/// on patch, and leaves the selection, its history and the workflows untouched.
async fn absurd_odds_are_refused_never_a_panic(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, trader) = s.user_token(&admin, "trader1", "trader").await;
    let b = book(&s, &admin).await;
    for odds in absurd() {
        for token in [&admin, &trader] {
            let res = s
                .patch_selection(token, &b.sel, json!({"odds": odds, "reason": "fat finger"}))
                .await;
            assert_refused(res, "odds", &format!("PATCH {odds}"));
        }
        let res = s
            .new_selection(
                &admin,
                json!({"marketId": b.market, "name": "Draw", "odds": odds}),
            )
            .await;
        assert_refused(res, "odds", &format!("POST {odds}"));
    }
    assert_eq!(odds_of(&s, &trader, &b.sel).await, "2.00");
    assert_eq!(line_changes(&s, &admin).await, 0, "no approval was opened");
    let (_, history) = s.prices(&trader, &b.sel).await.into_parts();
    assert_eq!(items(&history["data"]).len(), 1, "{history}");
    let (_, market) = s.market(&trader, &b.market).await.into_parts();
    assert_eq!(
        items(&market["data"]["selections"]).len(),
        1,
        "nothing was created: {market}"
    );
}

/// An odds change above the line-change threshold obeys the rules of `POST /selections`
/// before it opens an approval; so does a `line_change_approval` created through
/// `POST /workflows` that names a selection, and data edited later. A valid one, approved,
/// sets the odds.
async fn every_path_that_sets_odds_applies_one_validation(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, trader) = s.user_token(&admin, "trader1", "trader").await;
    let b = book(&s, &admin).await;

    // The catalog's path: 5000 and 1.00001 are far above the 10 % threshold, and invalid.
    for odds in [json!("5000"), json!("1.00001"), json!(1000.5)] {
        let res = s
            .patch_selection(&trader, &b.sel, json!({"odds": odds, "name": "Arsenal FC"}))
            .await;
        assert_refused(res, "odds", &format!("PATCH {odds}"));
    }
    assert_eq!(line_changes(&s, &admin).await, 0, "no approval was opened");
    let (_, got) = s.selection(&trader, &b.sel).await.into_parts();
    assert_eq!(
        (got["data"]["odds"].as_str(), got["data"]["name"].as_str()),
        (Some("2.00"), Some("Arsenal")),
        "nothing of a refused patch applies"
    );

    // `POST /workflows` naming the selection: refused at creation.
    let line = |new_odds: Value| {
        json!({"workflowType": "line_change_approval", "data": {
            "lineId": b.sel, "selectionId": b.sel, "eventName": "Arsenal v Chelsea",
            "marketType": "moneyline", "oldOdds": "2.00", "newOdds": new_odds,
            "financialImpact": 0}})
    };
    for odds in absurd() {
        let res = s.create_workflow(&admin, line(odds.clone())).await;
        assert_refused_by_rules(res, "newOdds", &format!("POST /workflows {odds}"));
    }
    assert_eq!(line_changes(&s, &admin).await, 0);
    // The selection it names must be an id, of a selection that exists: the apply step,
    // long after, could only give up.
    for selection in [
        json!("not-a-uuid"),
        json!(7),
        json!(uuid::Uuid::now_v7().to_string()),
    ] {
        let mut body = line(json!("2.5"));
        body["data"]["selectionId"] = selection.clone();
        let res = s.create_workflow(&admin, body).await;
        assert_refused_by_rules(res, "selectionId", &format!("selectionId {selection}"));
    }
    assert_eq!(line_changes(&s, &admin).await, 0);

    // A valid one, whose data an edit then tries to make invalid: refused the same way.
    let wf = s
        .create_workflow(&admin, line(json!("2.5")))
        .await
        .created_id();
    let mut edited = line(json!("5000"))["data"].clone();
    let res = s
        .update_workflow(&admin, &wf, json!({"data": edited.clone()}))
        .await;
    assert_refused_by_rules(res, "newOdds", "PUT /workflows with newOdds 5000");
    edited["newOdds"] = json!("1.00001");
    let res = s
        .update_workflow(&admin, &wf, json!({"data": edited}))
        .await;
    assert_refused_by_rules(res, "newOdds", "PUT /workflows with newOdds 1.00001");

    // Approved, it sets the odds it was created with, in the canonical form.
    let _worker = s.worker();
    approve_line_change(&s, &admin, &wf).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while odds_of(&s, &trader, &b.sel).await != "2.50" {
        assert!(
            Instant::now() < deadline,
            "the approved odds were not applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, history) = s.prices(&trader, &b.sel).await.into_parts();
    let last = items(&history["data"]).pop().unwrap();
    assert_eq!(
        (last["oldOdds"].as_str(), last["newOdds"].as_str()),
        (Some("2.00"), Some("2.50")),
        "{history}"
    );
    assert!(last["reason"].as_str().unwrap().contains(&wf), "{last}");
}

/// The apply step is the last line: a job carrying invalid odds (as a workflow created
/// before these rules could have left) writes nothing, audits why, and completes rather than
/// retrying.
async fn the_apply_step_checks_the_odds_again(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let b = book(&s, &admin).await;
    let mut jobs = vec![];
    for new_odds in [
        json!("5000"),
        json!("1.00001"),
        json!("79228162514264337593543950335"),
    ] {
        let mut tx = s.db.store.begin().await.unwrap();
        let job = tx
            .enqueue_job(&NewJob {
                kind: betflow_domain::jobs::JobKind::ApplyOddsChange
                    .as_str()
                    .into(),
                payload: json!({"workflowId": uuid::Uuid::now_v7(), "selectionId": b.sel,
                                "oldOdds": "2.00", "newOdds": new_odds, "createdBy": null}),
                run_at: chrono::Utc::now(),
                max_attempts: 10,
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        jobs.push(job);
    }
    let _worker = s.worker();
    let deadline = Instant::now() + Duration::from_secs(10);
    for job in jobs {
        loop {
            let (status, attempts) = s.db.store.job_status(job).await.unwrap().unwrap();
            if status != "queued" && status != "running" {
                assert_eq!(
                    (status.as_str(), attempts),
                    ("done", 1),
                    "refused once, not retried"
                );
                break;
            }
            assert!(Instant::now() < deadline, "job {job} is still {status}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(odds_of(&s, &admin, &b.sel).await, "2.00");
    let (_, audit) = s
        .audit_logs(&admin, &format!("tableName=selections&recordId={}", b.sel))
        .await
        .into_parts();
    let skipped: Vec<Value> = items(&audit["data"])
        .into_iter()
        .filter(|a| a["newValues"]["skipped"].is_string())
        .collect();
    assert_eq!(skipped.len(), 3, "{audit}");
    for a in &skipped {
        assert!(
            a["newValues"]["skipped"]
                .as_str()
                .unwrap()
                .contains("not valid decimal odds"),
            "{a}"
        );
    }
    let (_, history) = s.prices(&admin, &b.sel).await.into_parts();
    assert_eq!(items(&history["data"]).len(), 1, "{history}");
}

/// One text form for odds in every answer: the exact value without trailing zeros, with at
/// least two decimal places, whether the client wrote `2.5`, `"2.50"` or `2`; on write and
/// on read, in lists, history, audit rows, bets and the data of a line change.
async fn odds_are_answered_in_one_canonical_form(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let b = book(&s, &admin).await;
    let mut made_sels = vec![];
    for (given, want) in [
        (json!("2.50"), "2.50"),
        (json!("2.00"), "2.00"),
        (json!(3), "3.00"),
        (json!(4.5), "4.50"),
        (json!("1.8750"), "1.875"),
        (json!("1.3333"), "1.3333"),
        (json!("1000"), "1000.00"),
    ] {
        let name = format!("at {given}");
        let sel = s
            .new_selection(
                &admin,
                json!({"marketId": b.market, "name": name, "odds": given}),
            )
            .await
            .created();
        assert_eq!(sel["odds"], want, "create {given}");
        let sel = id(&sel);
        assert_eq!(odds_of(&s, &admin, &sel).await, want, "read {given}");
        made_sels.push((sel, want));
    }
    // The same in a market with its selections, and in an event with its markets.
    let (_, market) = s.market(&admin, &b.market).await.into_parts();
    let event = market["data"]["eventId"].as_str().unwrap().to_owned();
    let (_, ev) = s.event(&admin, &event).await.into_parts();
    for listed in [
        &market["data"]["selections"],
        &ev["data"]["markets"][0]["selections"],
    ] {
        for (sel, want) in &made_sels {
            let got = items(listed)
                .into_iter()
                .find(|x| x["id"] == sel.as_str())
                .unwrap_or_else(|| panic!("{sel} in {listed}"));
            assert_eq!(got["odds"], *want, "{got}");
            assert_eq!(got["displayOdds"], *want, "decimal display: {got}");
        }
    }
    let (_, ev) = s
        .get_as(
            &admin,
            &format!("/api/v1/selections/{}?oddsFormat=decimal", made_sels[0].0),
        )
        .await
        .into_parts();
    assert_eq!(ev["data"]["displayOdds"], "2.50", "{ev}");

    // A patch answers what the next read says; history and audit rows agree.
    let changed = s
        .patch_selection(&admin, &b.sel, json!({"odds": "2.10"}))
        .await
        .ok();
    assert_eq!(changed["odds"], "2.10");
    assert_eq!(odds_of(&s, &admin, &b.sel).await, "2.10");
    let (_, history) = s.prices(&admin, &b.sel).await.into_parts();
    let h = items(&history["data"]);
    assert_eq!(
        h.iter()
            .map(|p| (p["oldOdds"].clone(), p["newOdds"].clone()))
            .collect::<Vec<_>>(),
        [(Value::Null, json!("2.00")), (json!("2.00"), json!("2.10"))]
    );
    let (_, audit) = s
        .audit_logs(&admin, &format!("tableName=selections&recordId={}", b.sel))
        .await
        .into_parts();
    let update = items(&audit["data"])
        .into_iter()
        .find(|a| a["action"] == "UPDATE")
        .unwrap();
    assert_eq!(
        (&update["oldValues"]["odds"], &update["newValues"]["odds"]),
        (&json!("2.00"), &json!("2.10"))
    );

    // The line change the catalog opens carries its odds in the same form, and its
    // financial impact in minor units.
    let pending = s
        .patch_selection(&admin, &b.sel, json!({"odds": 3}))
        .await
        .status(202);
    assert_eq!(pending["data"]["odds"], "2.10", "not yet");
    let wf = pending["data"]["pendingApproval"]["workflowId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, w) = s.workflow(&admin, &wf).await.into_parts();
    let data = &w["data"]["data"];
    assert_eq!(
        (
            data["oldOdds"].as_str(),
            data["newOdds"].as_str(),
            data["financialImpact"].as_i64()
        ),
        (Some("2.10"), Some("3.00"), Some(0)),
        "{data}"
    );
}
