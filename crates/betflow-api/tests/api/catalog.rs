//! The sportsbook catalog over HTTP on both backends.

use crate::common::{TestServer, spawn};
use betflow_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};

betflow_store::conformance!(
    catalog_crud_filters_and_odds,
    delete_retires_without_erasing,
    every_list_is_a_page,
    typed_bodies_refuse_what_their_schema_forbids,
);

async fn made(s: &TestServer, token: &str, path: &str, body: Value) -> Value {
    s.post_as(token, path, body).await.note(path).created()
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
            "/api/v1/events",
            json!({"sportId": sport, "homeTeamId": teams[0], "awayTeamId": teams[1],
            "startTime": "tomorrow"}),
            "startTime",
        ),
    ] {
        let err = s
            .post_as(&admin, path, body)
            .await
            .note(path)
            .refused(400, "VALIDATION_ERROR");
        assert!(
            err["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["field"] == field),
            "{field} in {err}"
        );
    }
    // A reference to nothing is a 404 naming the member (the body itself is well formed); a
    // schema-valid body a business rule refuses (the same team twice) is a 422.
    let err = s
        .post_as(
            &admin,
            "/api/v1/events",
            json!({"sportId": sport, "homeTeamId": teams[0], "awayTeamId": teams[0],
                    "startTime": start}),
        )
        .await
        .refused(422, "SAME_TEAM");
    assert_eq!(err["details"][0]["field"], "awayTeamId", "{err}");
    for (path, body, field) in [
        (
            "/api/v1/leagues",
            json!({"sportId": uuid::Uuid::now_v7(), "name": "x", "displayName": "x",
            "slug": "x"}),
            "sportId",
        ),
        (
            "/api/v1/events",
            json!({"sportId": sport, "homeTeamId": teams[0], "awayTeamId": uuid::Uuid::now_v7(),
            "startTime": start}),
            "awayTeamId",
        ),
        (
            "/api/v1/selections",
            json!({"marketId": uuid::Uuid::now_v7(), "name": "Draw", "odds": "3"}),
            "marketId",
        ),
    ] {
        let err = s
            .post_as(&admin, path, body)
            .await
            .note(path)
            .refused(404, "NOT_FOUND");
        assert_eq!(err["details"][0]["field"], field, "{path}: {err}");
    }
    s.post_as(
        &admin,
        "/api/v1/sports",
        json!({"name": "soccer", "displayName": "Soccer", "slug": "football"}),
    )
    .await
    .note("slugs are unique")
    .status(409);
    s.post_as(
        &admin,
        "/api/v1/markets",
        json!({"eventId": event, "type": "moneyline", "name": "again"}),
    )
    .await
    .note("one market per event, type and line")
    .status(409);

    // Customers read but never write.
    s.get_as(&punter, "/api/v1/sports").await.ok();
    s.post_as(
        &punter,
        "/api/v1/sports",
        json!({"name": "golf", "displayName": "Golf", "slug": "golf"}),
    )
    .await
    .status(403);

    // An event with its markets and selections, odds in the caller's format.
    let got = s
        .get_as(
            &punter,
            &format!("/api/v1/events/{event}?oddsFormat=american"),
        )
        .await
        .ok();
    let sel = &got["markets"][0]["selections"];
    assert_eq!(sel[0]["displayOdds"], "-118");
    assert_eq!(sel[1]["displayOdds"], "+350");
    let got = s
        .get_as(
            &punter,
            &format!("/api/v1/selections/{home}?oddsFormat=fractional"),
        )
        .await
        .ok();
    assert_eq!(got["displayOdds"], "17/20");
    s.get_as(
        &punter,
        &format!("/api/v1/selections/{home}?oddsFormat=hex"),
    )
    .await
    .status(400);

    // An odds change keeps its history and its audit row.
    s.patch_as(
        &admin,
        &format!("/api/v1/selections/{home}"),
        json!({"odds": "1.91", "reason": "money on Chelsea"}),
    )
    .await
    .ok();
    let history = s
        .get_as(&punter, &format!("/api/v1/selections/{home}/prices"))
        .await
        .status(200);
    assert_eq!(history["data"]["total"], 2, "{history}");
    let h = history["data"]["items"].as_array().unwrap();
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
    let audit = s
        .get_as(
            &admin,
            &format!("/api/v1/audit-logs?tableName=selections&recordId={home}"),
        )
        .await
        .status(200);
    let items = audit["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{audit}");
    let update = items.iter().find(|a| a["action"] == "UPDATE").unwrap();
    assert_eq!(update["oldValues"]["odds"], "1.85");
    assert_eq!(update["newValues"]["odds"], "1.91");
    s.patch_as(
        &admin,
        &format!("/api/v1/selections/{home}"),
        json!({"marketId": uuid::Uuid::now_v7()}),
    )
    .await
    .note("a selection stays in its market")
    .status(400);

    // Suspend and reopen in one call each; a closed market can do neither.
    let m = s.market_action(&admin, &market, "suspend", None).await.ok();
    assert_eq!(m["status"].as_str(), Some("suspended"));
    let m = s.market_action(&admin, &market, "reopen", None).await.ok();
    assert_eq!(m["status"].as_str(), Some("open"));
    s.patch_market(&admin, &market, json!({"status": "closed"}))
        .await
        .ok();
    s.post_empty(&admin, &format!("/api/v1/markets/{market}/suspend"))
        .await
        .refused(409, "INVALID_TRANSITION");

    // Listing: the sport's events with market counts, filters, full-text search.
    let live = made(
        &s,
        &admin,
        "/api/v1/events",
        json!({"sportId": sport, "homeTeamId": teams[2],
        "awayTeamId": teams[0], "startTime": chrono::Utc::now().to_rfc3339(), "status": "live"}),
    )
    .await;
    let page = s
        .get_as(&punter, &format!("/api/v1/sports/{sport}/events"))
        .await
        .status(200);
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
        let page = s
            .get_as(&punter, &format!("/api/v1/events?{q}"))
            .await
            .note(q)
            .status(200);
        assert_eq!(page["data"]["total"], n, "{q}: {page}");
    }
    s.get_as(&punter, "/api/v1/events?status=over")
        .await
        .status(400);
    // A window that ends before it starts holds no event (not an error).
    let page = s
        .get_as(
            &punter,
            "/api/v1/events?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z",
        )
        .await
        .ok();
    assert_eq!(page["total"], 0, "{page}");
    let teams_page = s.get_as(&punter, "/api/v1/teams?search=lon").await.ok();
    assert_eq!(teams_page["total"], 2);
    s.get_as(&punter, &format!("/api/v1/teams/{}", uuid::Uuid::now_v7()))
        .await
        .status(404);
}

/// `DELETE` retires: the entity is deactivated (an inactive selection takes no bets:
/// `SELECTION_INACTIVE` in the bets tests) and from then on the catalog API answers 404 for
/// it, its sub-resources and its changes, and lists leave it out; its row and history stay
/// (what refers to it keeps working: an event of a retired team, a retired market's void),
/// and the change is audited. Customers cannot do it; unknown ids are 404.
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

    s.delete_as(&punter, &format!("/api/v1/sports/{spare}"))
        .await
        .status(403);
    for path in [
        format!("/api/v1/selections/{selection}"),
        format!("/api/v1/markets/{market}"),
        format!("/api/v1/teams/{}", teams[1]),
        format!("/api/v1/leagues/{league}"),
        format!("/api/v1/sports/{spare}"),
    ] {
        let r = s.delete_as(&admin, &path).await.note(&path).status(200);
        assert_eq!(r["data"]["isActive"], false, "{path}");
        // From then on it is gone from the catalog API, as anything deleted.
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let body = (method == Method::PATCH).then(|| json!({"name": "back"}));
            s.send(method.clone(), &path, &admin, body, None)
                .await
                .note(format!("{method} {path} after DELETE"))
                .refused(404, "NOT_FOUND");
        }
    }
    for path in [
        format!("/api/v1/selections/{selection}/prices"),
        format!("/api/v1/selections/{selection}/exposure"),
        format!("/api/v1/markets/{market}/exposure"),
        format!("/api/v1/sports/{spare}/events"),
    ] {
        s.get_as(&admin, &path)
            .await
            .note(format!("{path} of a retired entity"))
            .status(404);
    }
    s.post_empty(&admin, &format!("/api/v1/markets/{market}/suspend"))
        .await
        .status(404);
    // Lists leave retired entities out (inactive sports included with all=true).
    for (path, gone) in [
        ("/api/v1/sports?all=true", &spare),
        ("/api/v1/leagues", &league),
        ("/api/v1/teams", &teams[1]),
    ] {
        let page = s.get_as(&admin, path).await.status(200);
        let listed: Vec<&str> = page["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["id"].as_str())
            .collect();
        assert!(!listed.contains(&gone.as_str()), "{path}: {page}");
    }
    let ev = s
        .get_as(&punter, &format!("/api/v1/events/{event}"))
        .await
        .status(200);
    assert_eq!(ev["data"]["markets"], json!([]), "{ev}");
    // Nothing new is built on a retired entity; what already refers to it keeps working.
    let r = s
        .post_as(
            &admin,
            "/api/v1/teams",
            json!({"sportId": sport, "leagueId": league, "name": "Ruud", "displayName": "Ruud",
                    "slug": "ruud"}),
        )
        .await
        .status(404);
    assert_eq!(
        r["error"]["details"][0]["field"].as_str(),
        Some("leagueId"),
        "{r}"
    );
    s.patch_as(
        &admin,
        &format!("/api/v1/events/{event}"),
        json!({"venue": "Centre Court"}),
    )
    .await
    .note("an event of a retired team")
    .status(200);
    s.post_empty(&admin, &format!("/api/v1/markets/{market}/void"))
        .await
        .note("a retired market's bets are still settled")
        .status(200);
    let sports = s.get_as(&punter, "/api/v1/sports").await.status(200);
    let listed: Vec<&str> = sports["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert!(
        listed.contains(&sport.as_str()) && !listed.contains(&spare.as_str()),
        "{sports}"
    );
    let audit = s
        .get_as(
            &admin,
            &format!("/api/v1/audit-logs?tableName=selections&recordId={selection}"),
        )
        .await
        .status(200);
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
        s.delete_as(&admin, &path).await.note(path).status(404);
    }
    s.delete_as(&admin, "/api/v1/markets/not-a-uuid")
        .await
        .status(400);
}

/// The list envelope `{items, total, page, limit, totalPages}` with `page` and `limit` on
/// every catalog list, sports and price history included (they used to be bare arrays).
async fn every_list_is_a_page(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let mut sports = vec![];
    for (i, name) in ["darts", "golf", "snooker"].into_iter().enumerate() {
        sports.push(id(&made(
            &s,
            &admin,
            "/api/v1/sports",
            json!({"name": name, "displayName": name, "slug": name, "sortOrder": i}),
        )
        .await));
    }
    let page = |path: String| {
        let (s, admin) = (&s, admin.clone());
        async move {
            let res = s.get_as(&admin, &path).await.note(&path).status(200);
            let data = res["data"].clone();
            for key in ["items", "total", "page", "limit", "totalPages"] {
                assert!(data.get(key).is_some(), "{path}: no {key} in {data}");
            }
            data
        }
    };
    let first = page("/api/v1/sports?limit=2".into()).await;
    assert_eq!(
        (
            &first["total"],
            &first["page"],
            &first["limit"],
            &first["totalPages"]
        ),
        (&json!(3), &json!(1), &json!(2), &json!(2))
    );
    assert_eq!(first["items"][0]["id"], sports[0].as_str(), "display order");
    let second = page("/api/v1/sports?limit=2&page=2".into()).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["id"], sports[2].as_str());
    for bad in [
        "page=0",
        "limit=0",
        "limit=101",
        "page=4294967296",
        "page=x",
    ] {
        s.get_as(&admin, &format!("/api/v1/sports?{bad}"))
            .await
            .note(bad)
            .status(400);
    }

    // A selection's price history: the opening price and two changes, a page at a time.
    let sport = sports[0].clone();
    let mut teams = vec![];
    for name in ["ann", "bob"] {
        teams.push(id(&made(
            &s,
            &admin,
            "/api/v1/teams",
            json!({"sportId": sport, "name": name, "displayName": name, "slug": name}),
        )
        .await));
    }
    let event = id(&made(
        &s,
        &admin,
        "/api/v1/events",
        json!({"sportId": sport, "homeTeamId": teams[0], "awayTeamId": teams[1],
               "startTime": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339()}),
    )
    .await);
    let market = id(&made(
        &s,
        &admin,
        "/api/v1/markets",
        json!({"eventId": event, "type": "moneyline", "name": "Winner"}),
    )
    .await);
    let sel = id(&made(
        &s,
        &admin,
        "/api/v1/selections",
        json!({"marketId": market, "name": "ann", "odds": "2.0"}),
    )
    .await);
    for odds in ["2.02", "2.04"] {
        s.patch_as(
            &admin,
            &format!("/api/v1/selections/{sel}"),
            json!({"odds": odds}),
        )
        .await
        .ok();
    }
    let prices = page(format!("/api/v1/selections/{sel}/prices?limit=1&page=3")).await;
    assert_eq!(
        (&prices["total"], &prices["totalPages"]),
        (&json!(3), &json!(3))
    );
    assert_eq!(
        prices["items"][0]["newOdds"], "2.04",
        "oldest first: {prices}"
    );
    for path in [
        "/api/v1/leagues".to_owned(),
        "/api/v1/teams".to_owned(),
        "/api/v1/events".to_owned(),
        format!("/api/v1/sports/{sport}/events"),
    ] {
        let data = page(format!("{path}?limit=1")).await;
        assert_eq!(data["limit"], 1, "{path}");
    }
}

/// Catalog bodies are typed: a member the schema does not declare, a `null` where a value
/// is required, a wrong type or an out-of-range decimal is a 400 naming the member; a create
/// answers 201 with the `Location` of what it made.
async fn typed_bodies_refuse_what_their_schema_forbids(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let res = s
        .with_token(Method::POST, "/api/v1/sports", &admin)
        .json(
            &json!({"name": "rugby", "displayName": "Rugby", "slug": "rugby",
                      "iconUrl": "https://example.com/r.svg"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let sport: Value = res.json().await.unwrap();
    let sport = id(&sport["data"]);
    assert_eq!(location, format!("/api/v1/sports/{sport}"));
    let got = s.get_as(&admin, &location).await.ok();
    assert_eq!(got["slug"].as_str(), Some("rugby"));

    let patched = s
        .patch_as(&admin, &location, json!({"iconUrl": null, "sortOrder": 3}))
        .await
        .ok();
    assert_eq!(patched["iconUrl"], Value::Null, "null clears it");
    assert_eq!(patched["sortOrder"], 3);

    let teams = [
        made(
            &s,
            &admin,
            "/api/v1/teams",
            json!({"sportId": sport, "name": "A", "displayName": "A", "slug": "a"}),
        )
        .await,
        made(
            &s,
            &admin,
            "/api/v1/teams",
            json!({"sportId": sport, "name": "B", "displayName": "B", "slug": "b"}),
        )
        .await,
    ];
    let event = id(&made(
        &s,
        &admin,
        "/api/v1/events",
        json!({"sportId": sport, "homeTeamId": id(&teams[0]), "awayTeamId": id(&teams[1]),
               "startTime": "2030-01-01T15:00:00Z"}),
    )
    .await);
    let market = id(&made(
        &s,
        &admin,
        "/api/v1/markets",
        json!({"eventId": event, "type": "point_spread", "name": "Handicap",
               "handicap": "-1.5"}),
    )
    .await);
    let sel = made(
        &s,
        &admin,
        "/api/v1/selections",
        json!({"marketId": market, "name": "A -1.5", "odds": 2.5, "probability": 0.4}),
    )
    .await;
    assert_eq!(
        (&sel["odds"], &sel["probability"]),
        (&json!("2.50"), &json!("0.4")),
        "a JSON number is read exactly: {sel}"
    );

    for (method, path, body, field) in [
        (
            Method::POST,
            "/api/v1/sports".to_owned(),
            json!({"name": "x", "displayName": "X", "slug": "x", "colour": "red"}),
            "colour",
        ),
        (
            Method::PATCH,
            location.clone(),
            json!({"name": null}),
            "name",
        ),
        (
            Method::PATCH,
            location.clone(),
            json!({"sortOrder": "first"}),
            "sortOrder",
        ),
        (
            Method::PATCH,
            format!("/api/v1/events/{event}"),
            json!({"sportId": sport}),
            "sportId",
        ),
        (
            Method::PATCH,
            format!("/api/v1/events/{event}"),
            json!({"status": "Live"}),
            "status",
        ),
        (
            Method::PATCH,
            format!("/api/v1/markets/{market}"),
            json!({"handicap": "1_000"}),
            "handicap",
        ),
        (
            Method::PATCH,
            format!("/api/v1/markets/{market}"),
            json!({"handicap": "1.505"}),
            "handicap",
        ),
        (
            Method::PATCH,
            format!("/api/v1/markets/{market}"),
            json!({"totalPoints": " 2.5"}),
            "totalPoints",
        ),
        (
            Method::POST,
            "/api/v1/selections".to_owned(),
            json!({"marketId": market, "name": "B", "odds": "1000.5"}),
            "odds",
        ),
        (
            Method::PATCH,
            format!("/api/v1/selections/{}", id(&sel)),
            json!({"reason": "x".repeat(501)}),
            "reason",
        ),
    ] {
        let err = s
            .send(method.clone(), &path, &admin, Some(body.clone()), None)
            .await
            .note(format!("{method} {path} {body}"))
            .refused(400, "VALIDATION_ERROR");
        assert_eq!(
            err["details"][0]["field"], field,
            "{method} {path} {body}: {err}"
        );
    }
}
