//! The sportsbook catalog over HTTP on both backends.

mod common;

use betflow_store::testing::TestDb;
use common::{TestServer, call, spawn};
use reqwest::Method;
use serde_json::{Value, json};

betflow_store::conformance!(
    catalog_crud_filters_and_odds,
    delete_retires_without_erasing,
);

async fn made(s: &TestServer, token: &str, path: &str, body: Value) -> Value {
    let (status, res) = call(s, Method::POST, path, token, Some(body)).await;
    assert_eq!(status, 201, "{path}: {res}");
    res["data"].clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn catalog_crud_filters_and_odds(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, punter) = s.user_token(&admin, "punter", "customer").await;

    let football = made(
        &s,
        &admin,
        "/api/v1/sports",
        json!({"name": "football", "displayName": "Football", "slug": "football"}),
    )
    .await;
    assert_eq!(football["isActive"], true);
    let sport = id(&football);
    let league = made(
        &s,
        &admin,
        "/api/v1/leagues",
        json!({"sportId": sport, "name": "Premier League",
        "displayName": "English Premier League", "slug": "premier-league", "countryCode": "GB"}),
    )
    .await;
    let league = id(&league);
    let mut teams = vec![];
    for (name, city) in [
        ("Arsenal", "London"),
        ("Chelsea", "London"),
        ("Everton", "Liverpool"),
    ] {
        let t = made(
            &s,
            &admin,
            "/api/v1/teams",
            json!({"sportId": sport, "leagueId": league,
            "name": name, "displayName": name, "slug": name.to_lowercase(), "city": city}),
        )
        .await;
        teams.push(id(&t));
    }
    let start = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let event = made(
        &s,
        &admin,
        "/api/v1/events",
        json!({"sportId": sport, "leagueId": league,
        "homeTeamId": teams[0], "awayTeamId": teams[1], "startTime": start, "venue": "Emirates"}),
    )
    .await;
    assert_eq!(event["status"], "scheduled");
    let event = id(&event);
    let market = made(
        &s,
        &admin,
        "/api/v1/markets",
        json!({"eventId": event, "type": "moneyline",
        "name": "Match result"}),
    )
    .await;
    let market = id(&market);
    let home = made(
        &s,
        &admin,
        "/api/v1/selections",
        json!({"marketId": market, "name": "Arsenal",
        "odds": "1.85", "probability": "0.52"}),
    )
    .await;
    assert_eq!(home["odds"], "1.85", "exact decimal text");
    let home = id(&home);
    made(
        &s,
        &admin,
        "/api/v1/selections",
        json!({"marketId": market, "name": "Chelsea", "odds": 4.5}),
    )
    .await;

    // Bad input: every problem with its field; conflicts; missing references.
    for (path, body, field) in [
        (
            "/api/v1/events",
            json!({"sportId": sport, "homeTeamId": teams[0], "awayTeamId": teams[0],
            "startTime": start}),
            "awayTeamId",
        ),
        (
            "/api/v1/selections",
            json!({"marketId": market, "name": "Draw", "odds": "1.0"}),
            "odds",
        ),
        (
            "/api/v1/selections",
            json!({"marketId": market, "name": "Draw", "odds": "3", "probability": 2}),
            "probability",
        ),
        (
            "/api/v1/sports",
            json!({"name": "x", "displayName": "X", "slug": "Bad Slug"}),
            "slug",
        ),
        (
            "/api/v1/sports",
            json!({"displayName": "X", "slug": "x"}),
            "name",
        ),
        (
            "/api/v1/sports",
            json!({"name": "x", "displayName": "X", "slug": "x", "id": sport}),
            "id",
        ),
        (
            "/api/v1/markets",
            json!({"eventId": event, "type": "spread", "name": "x"}),
            "type",
        ),
        (
            "/api/v1/leagues",
            json!({"sportId": uuid::Uuid::now_v7(), "name": "x", "displayName": "x",
            "slug": "x"}),
            "sportId",
        ),
        (
            "/api/v1/events",
            json!({"sportId": sport, "homeTeamId": teams[0], "awayTeamId": teams[1],
            "startTime": "tomorrow"}),
            "startTime",
        ),
    ] {
        let (status, err) = call(&s, Method::POST, path, &admin, Some(body)).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{path}: {err}"
        );
        assert!(
            err["error"]["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["field"] == field),
            "{field} in {err}"
        );
    }
    let (status, _) = call(
        &s,
        Method::POST,
        "/api/v1/sports",
        &admin,
        Some(json!({"name": "soccer", "displayName": "Soccer", "slug": "football"})),
    )
    .await;
    assert_eq!(status, 409, "slugs are unique");
    let (status, _) = call(
        &s,
        Method::POST,
        "/api/v1/markets",
        &admin,
        Some(json!({"eventId": event, "type": "moneyline", "name": "again"})),
    )
    .await;
    assert_eq!(status, 409, "one market per event, type and line");

    // Customers read but never write.
    let (status, _) = call(&s, Method::GET, "/api/v1/sports", &punter, None).await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &s,
        Method::POST,
        "/api/v1/sports",
        &punter,
        Some(json!({"name": "golf", "displayName": "Golf", "slug": "golf"})),
    )
    .await;
    assert_eq!(status, 403);

    // An event with its markets and selections, odds in the caller's format.
    let (status, got) = call(
        &s,
        Method::GET,
        &format!("/api/v1/events/{event}?oddsFormat=american"),
        &punter,
        None,
    )
    .await;
    assert_eq!(status, 200, "{got}");
    let sel = &got["data"]["markets"][0]["selections"];
    assert_eq!(sel[0]["displayOdds"], "-118");
    assert_eq!(sel[1]["displayOdds"], "+350");
    let (_, got) = call(
        &s,
        Method::GET,
        &format!("/api/v1/selections/{home}?oddsFormat=fractional"),
        &punter,
        None,
    )
    .await;
    assert_eq!(got["data"]["displayOdds"], "17/20");
    let (status, _) = call(
        &s,
        Method::GET,
        &format!("/api/v1/selections/{home}?oddsFormat=hex"),
        &punter,
        None,
    )
    .await;
    assert_eq!(status, 400);

    // An odds change keeps its history and its audit row.
    let (status, changed) = call(
        &s,
        Method::PATCH,
        &format!("/api/v1/selections/{home}"),
        &admin,
        Some(json!({"odds": "1.91", "reason": "money on Chelsea"})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    let (_, history) = call(
        &s,
        Method::GET,
        &format!("/api/v1/selections/{home}/prices"),
        &punter,
        None,
    )
    .await;
    let h = history["data"].as_array().unwrap();
    assert_eq!(h.len(), 2, "{history}");
    assert_eq!(
        (h[0]["oldOdds"].clone(), h[0]["newOdds"].clone()),
        (Value::Null, json!("1.85"))
    );
    assert_eq!(
        (h[1]["oldOdds"].clone(), h[1]["newOdds"].clone()),
        (json!("1.85"), json!("1.91"))
    );
    assert_eq!(h[1]["reason"], "money on Chelsea");
    let (_, audit) = call(
        &s,
        Method::GET,
        &format!("/api/v1/audit-logs?tableName=selections&recordId={home}"),
        &admin,
        None,
    )
    .await;
    let items = audit["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{audit}");
    let update = items.iter().find(|a| a["action"] == "UPDATE").unwrap();
    assert_eq!(update["oldValues"]["odds"], "1.85");
    assert_eq!(update["newValues"]["odds"], "1.91");
    let (status, _) = call(
        &s,
        Method::PATCH,
        &format!("/api/v1/selections/{home}"),
        &admin,
        Some(json!({"marketId": uuid::Uuid::now_v7()})),
    )
    .await;
    assert_eq!(status, 400, "a selection stays in its market");

    // Suspend and reopen in one call each; a closed market can do neither.
    let (status, m) = call(
        &s,
        Method::POST,
        &format!("/api/v1/markets/{market}/suspend"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (status, m["data"]["status"].as_str()),
        (200, Some("suspended"))
    );
    let (status, m) = call(
        &s,
        Method::POST,
        &format!("/api/v1/markets/{market}/reopen"),
        &admin,
        None,
    )
    .await;
    assert_eq!((status, m["data"]["status"].as_str()), (200, Some("open")));
    call(
        &s,
        Method::PATCH,
        &format!("/api/v1/markets/{market}"),
        &admin,
        Some(json!({"status": "closed"})),
    )
    .await;
    let (status, err) = call(
        &s,
        Method::POST,
        &format!("/api/v1/markets/{market}/suspend"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("INVALID_TRANSITION")),
        "{err}"
    );

    // Listing: the sport's events with market counts, filters, full-text search.
    let live = made(
        &s,
        &admin,
        "/api/v1/events",
        json!({"sportId": sport, "homeTeamId": teams[2],
        "awayTeamId": teams[0], "startTime": chrono::Utc::now().to_rfc3339(), "status": "live"}),
    )
    .await;
    let (_, page) = call(
        &s,
        Method::GET,
        &format!("/api/v1/sports/{sport}/events"),
        &punter,
        None,
    )
    .await;
    let items = page["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(items[0]["id"], live["id"], "soonest first");
    assert_eq!(items[1]["marketCount"], 1);
    assert_eq!(items[1]["homeTeamName"], "Arsenal");
    for (q, n) in [
        ("live=true", 1),
        ("search=chel", 1),
        ("search=liverpool", 1),
        ("search=arsenal", 2),
        ("status=scheduled", 1),
        (&format!("leagueId={league}"), 1),
    ] {
        let (status, page) = call(
            &s,
            Method::GET,
            &format!("/api/v1/events?{q}"),
            &punter,
            None,
        )
        .await;
        assert_eq!(status, 200, "{q}");
        assert_eq!(page["data"]["total"], n, "{q}: {page}");
    }
    let (status, _) = call(&s, Method::GET, "/api/v1/events?status=over", &punter, None).await;
    assert_eq!(status, 400);
    let (_, teams_page) = call(&s, Method::GET, "/api/v1/teams?search=lon", &punter, None).await;
    assert_eq!(teams_page["data"]["total"], 2);
    let (status, _) = call(
        &s,
        Method::GET,
        &format!("/api/v1/teams/{}", uuid::Uuid::now_v7()),
        &punter,
        None,
    )
    .await;
    assert_eq!(status, 404);
}

/// `DELETE` deactivates: the entity leaves listings (an inactive selection takes no bets:
/// `SELECTION_INACTIVE` in the bets tests), its row and history stay, the change is audited; customers cannot do it, unknown ids are 404.
async fn delete_retires_without_erasing(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (_, punter) = s.user_token(&admin, "punter", "customer").await;
    let sport = id(&made(
        &s,
        &admin,
        "/api/v1/sports",
        json!({"name": "tennis", "displayName": "Tennis", "slug": "tennis"}),
    )
    .await);
    let spare = id(&made(
        &s,
        &admin,
        "/api/v1/sports",
        json!({"name": "golf", "displayName": "Golf", "slug": "golf"}),
    )
    .await);
    let league = id(&made(
        &s,
        &admin,
        "/api/v1/leagues",
        json!({"sportId": sport, "name": "ATP", "displayName": "ATP Tour", "slug": "atp"}),
    )
    .await);
    let mut teams = vec![];
    for name in ["Alcaraz", "Sinner"] {
        teams.push(id(&made(
            &s,
            &admin,
            "/api/v1/teams",
            json!({"sportId": sport, "name": name, "displayName": name,
                   "slug": name.to_lowercase()}),
        )
        .await));
    }
    let start = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let event = id(&made(
        &s,
        &admin,
        "/api/v1/events",
        json!({"sportId": sport, "homeTeamId": teams[0], "awayTeamId": teams[1],
               "startTime": start}),
    )
    .await);
    let market = id(&made(
        &s,
        &admin,
        "/api/v1/markets",
        json!({"eventId": event, "type": "moneyline", "name": "Winner"}),
    )
    .await);
    let selection = id(&made(
        &s,
        &admin,
        "/api/v1/selections",
        json!({"marketId": market, "name": "Alcaraz", "odds": "1.7"}),
    )
    .await);

    let (status, err) = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/sports/{spare}"),
        &punter,
        None,
    )
    .await;
    assert_eq!(status, 403, "{err}");
    for path in [
        format!("/api/v1/selections/{selection}"),
        format!("/api/v1/markets/{market}"),
        format!("/api/v1/teams/{}", teams[1]),
        format!("/api/v1/leagues/{league}"),
        format!("/api/v1/sports/{spare}"),
    ] {
        let (status, r) = call(&s, Method::DELETE, &path, &admin, None).await;
        assert_eq!(status, 200, "{path}: {r}");
        assert_eq!(r["data"]["isActive"], false, "{path}");
        let (status, r) = call(&s, Method::GET, &path, &admin, None).await;
        assert_eq!(
            (status, &r["data"]["isActive"]),
            (200, &json!(false)),
            "{path} is kept"
        );
        // Deleting again changes nothing and still answers.
        let (status, _) = call(&s, Method::DELETE, &path, &admin, None).await;
        assert_eq!(status, 200, "{path} twice");
    }
    let (_, sports) = call(&s, Method::GET, "/api/v1/sports", &punter, None).await;
    let listed: Vec<&str> = sports["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert!(
        listed.contains(&sport.as_str()) && !listed.contains(&spare.as_str()),
        "{sports}"
    );
    let (_, audit) = call(
        &s,
        Method::GET,
        &format!("/api/v1/audit-logs?tableName=selections&recordId={selection}"),
        &admin,
        None,
    )
    .await;
    let update = audit["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "UPDATE" && a["oldValues"]["isActive"] == true)
        .cloned()
        .unwrap_or_else(|| panic!("no audit row: {audit}"));
    assert_eq!(update["newValues"]["isActive"], false);
    for path in [
        format!("/api/v1/sports/{}", uuid::Uuid::now_v7()),
        format!("/api/v1/selections/{}", uuid::Uuid::now_v7()),
    ] {
        let (status, r) = call(&s, Method::DELETE, &path, &admin, None).await;
        assert_eq!(status, 404, "{path}: {r}");
    }
    let (status, _) = call(
        &s,
        Method::DELETE,
        "/api/v1/markets/not-a-uuid",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 400);
}
