//! Customer self-registration, the 18+ rule, profile and preferences, on both backends.

use crate::common::{TestServer, spawn};
use betflow_store::testing::TestDb;
use chrono::{Datelike, Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

betflow_store::conformance!(
    customers_register_and_set_preferences,
    limits_name_a_pending_raise,
    profile_is_null_for_staff_and_preferences_refuse_unknown_members,
);

async fn call(
    s: &TestServer,
    m: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.client.request(m, s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

fn born(years_ago: i32, days_later: i64) -> String {
    let today = Utc::now().date_naive();
    let d = today.with_year(today.year() - years_ago).unwrap_or(today) + Duration::days(days_later);
    d.to_string()
}

fn registration(name: &str, dob: String) -> Value {
    json!({"username": name, "email": format!("{name}@example.com"), "password": "a-long-password",
           "dateOfBirth": dob, "countryCode": "GB", "currencyCode": "GBP",
           "timezone": "Europe/London", "firstName": "Sam"})
}

async fn customers_register_and_set_preferences(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;

    let (status, res) = call(
        &s,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(registration("sam", born(30, 0))),
    )
    .await;
    assert_eq!(status, 201, "{res}");
    assert_eq!(res["data"]["user"]["role"], "customer");
    assert_eq!(res["data"]["profile"]["verificationStatus"], "unverified");
    assert_eq!(
        res["data"]["preferences"]["oddsFormat"], "american",
        "the seed's default"
    );

    // 18 today is old enough; 18 tomorrow is not.
    let (status, _) = call(
        &s,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(registration("birthday", born(18, 0))),
    )
    .await;
    assert_eq!(status, 201);
    let (status, err) = call(
        &s,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(registration("young", born(18, 1))),
    )
    .await;
    assert_eq!(
        (
            status,
            err["error"]["code"].as_str(),
            err["error"]["details"][0]["field"].as_str()
        ),
        (422, Some("UNDERAGE"), Some("dateOfBirth")),
        "a rule of today's date, not of the request's shape: {err}"
    );
    // Every problem at once, account and profile.
    let mut bad = registration("x", born(30, 0));
    bad["countryCode"] = json!("Britain");
    bad["password"] = json!("short");
    let (status, err) = call(&s, Method::POST, "/api/v1/auth/register", None, Some(bad)).await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in ["username", "password", "countryCode"] {
        assert!(fields.contains(&f), "{f} in {err}");
    }
    let (status, _) = call(
        &s,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(json!({"username": "x"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, err) = call(
        &s,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(registration("sam", born(30, 0))),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        err["error"]["message"]
            .as_str()
            .map(|m| m.contains("username or email")),
        Some(true),
        "{err}"
    );

    // The customer logs in, reads the profile, and prefers fractional odds.
    let token = s.login("sam", "a-long-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, me) = call(&s, Method::GET, "/api/v1/me/profile", Some(&token), None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["profile"]["countryCode"], "GB");
    let (status, _) = call(&s, Method::GET, "/api/v1/users", Some(&token), None).await;
    assert_eq!(status, 403, "customers are not staff");
    for (patch, code) in [
        (json!({"oddsFormat": "hex"}), 400),
        (
            json!({"responsibleGaming": {"realityCheckMinutes": 1}}),
            400,
        ),
        (json!({"userId": "someone-else"}), 400),
        (
            json!({"oddsFormat": "fractional", "responsibleGaming": {"realityCheckMinutes": 30}}),
            200,
        ),
    ] {
        let (status, res) = call(
            &s,
            Method::PATCH,
            "/api/v1/me/preferences",
            Some(&token),
            Some(patch.clone()),
        )
        .await;
        assert_eq!(status, code, "{patch}: {res}");
    }
    let (_, me) = call(&s, Method::GET, "/api/v1/me/profile", Some(&token), None).await;
    assert_eq!(
        me["data"]["preferences"]["responsibleGaming"]["realityCheckMinutes"],
        30
    );
    assert_eq!(
        me["data"]["preferences"]["responsibleGaming"]["realityCheck"], true,
        "merged, not replaced"
    );

    // Catalog reads follow the preference unless ?oddsFormat= says otherwise.
    let post = |path: &'static str, body: Value| {
        let (s, admin) = (&s, admin.clone());
        async move {
            let (status, res) = call(s, Method::POST, path, Some(&admin), Some(body)).await;
            assert_eq!(status, 201, "{path}: {res}");
            res["data"]["id"].as_str().unwrap().to_owned()
        }
    };
    let sport = post(
        "/api/v1/sports",
        json!({"name": "tennis", "displayName": "Tennis", "slug": "tennis"}),
    )
    .await;
    let a = post(
        "/api/v1/teams",
        json!({"sportId": sport, "name": "A", "displayName": "A", "slug": "a"}),
    )
    .await;
    let b = post(
        "/api/v1/teams",
        json!({"sportId": sport, "name": "B", "displayName": "B", "slug": "b"}),
    )
    .await;
    let ev = post(
        "/api/v1/events",
        json!({"sportId": sport, "homeTeamId": a, "awayTeamId": b,
        "startTime": (Utc::now() + Duration::days(1)).to_rfc3339()}),
    )
    .await;
    let mk = post(
        "/api/v1/markets",
        json!({"eventId": ev, "type": "moneyline", "name": "Winner"}),
    )
    .await;
    let sel = post(
        "/api/v1/selections",
        json!({"marketId": mk, "name": "A", "odds": "2.5"}),
    )
    .await;
    let (_, got) = call(
        &s,
        Method::GET,
        &format!("/api/v1/selections/{sel}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(got["data"]["displayOdds"], "3/2");
    let (_, got) = call(
        &s,
        Method::GET,
        &format!("/api/v1/selections/{sel}?oddsFormat=american"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(got["data"]["displayOdds"], "+150");
    let (_, got) = call(
        &s,
        Method::GET,
        &format!("/api/v1/selections/{sel}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        got["data"]["displayOdds"], "2.50",
        "staff without preferences see decimal"
    );
}

/// `GET /me/limits` shows a raise waiting out its cooling-off with named fields
/// (`{"amount", "effectiveAt"}`), not the stored `[amount, at]` pair; a removal pends with a
/// null amount.
async fn limits_name_a_pending_raise(db: TestDb) {
    let s = spawn(db).await;
    let (status, res) = call(
        &s,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(registration("lee", born(30, 0))),
    )
    .await;
    assert_eq!(status, 201, "{res}");
    let token = s.login("lee", "a-long-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let set = |amount: Value| {
        let (s, token) = (&s, token.clone());
        async move {
            let (status, res) = call(
                s,
                Method::PUT,
                "/api/v1/me/limits",
                Some(&token),
                Some(json!({"kind": "deposit", "period": "week", "amount": amount})),
            )
            .await;
            assert_eq!(status, 200, "{res}");
            res["data"]["limits"][0].clone()
        }
    };
    let first = set(json!(20_000)).await;
    assert_eq!(first["amount"], 20_000, "a first limit applies at once");
    assert_eq!(first["pending"], Value::Null, "{first}");

    let before = Utc::now();
    let raised = set(json!(50_000)).await;
    assert_eq!(raised["amount"], 20_000, "a raise waits");
    assert_eq!(raised["pending"]["amount"], 50_000, "{raised}");
    let at: chrono::DateTime<Utc> = raised["pending"]["effectiveAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        at >= before + Duration::hours(24) && at <= Utc::now() + Duration::hours(24),
        "{at}: 24 hours of cooling-off"
    );
    assert_eq!(
        raised["pending"].as_object().unwrap().len(),
        2,
        "exactly amount and effectiveAt: {raised}"
    );

    let (status, read) = call(&s, Method::GET, "/api/v1/me/limits", Some(&token), None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["data"]["limits"][0], raised, "the read shows the same");
    assert_eq!(read["data"]["exclusion"], Value::Null);

    let removal = set(Value::Null).await;
    assert_eq!(removal["amount"], 20_000);
    assert_eq!(removal["pending"]["amount"], Value::Null, "{removal}");
    assert!(removal["pending"]["effectiveAt"].is_string(), "{removal}");
}

/// Staff have no customer profile: `profile` and `preferences` are null (the schema says
/// nullable). The preferences patch refuses members it does not know, and `null` for a
/// member that cannot be absent.
async fn profile_is_null_for_staff_and_preferences_refuse_unknown_members(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (status, me) = call(&s, Method::GET, "/api/v1/me/profile", Some(&admin), None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["user"]["username"], "admin");
    assert_eq!(
        (&me["data"]["profile"], &me["data"]["preferences"]),
        (&Value::Null, &Value::Null),
        "{me}"
    );
    for (patch, field) in [
        (json!({"theme": "dark"}), "theme"),
        (json!({"oddsFormat": null}), "oddsFormat"),
        (json!({"oddsFormat": "American"}), "oddsFormat"),
        (
            json!({"responsibleGaming": {"realityCheckMinutes": 60.5}}),
            "responsibleGaming.realityCheckMinutes",
        ),
    ] {
        let (status, err) = call(
            &s,
            Method::PATCH,
            "/api/v1/me/preferences",
            Some(&admin),
            Some(patch.clone()),
        )
        .await;
        assert_eq!(status, 400, "{patch}: {err}");
        assert_eq!(err["error"]["details"][0]["field"], field, "{patch}: {err}");
    }
    let (status, prefs) = call(
        &s,
        Method::PATCH,
        "/api/v1/me/preferences",
        Some(&admin),
        Some(json!({"uiPreferences": {"theme": "dark", "language": null},
                    "responsibleGaming": {"realityCheckMinutes": null}})),
    )
    .await;
    assert_eq!(status, 200, "{prefs}");
    assert_eq!(prefs["data"]["uiPreferences"], json!({"theme": "dark"}));
    assert_eq!(
        prefs["data"]["responsibleGaming"]["realityCheckMinutes"],
        Value::Null,
        "null removes it: {prefs}"
    );
    let (_, me) = call(&s, Method::GET, "/api/v1/me/profile", Some(&admin), None).await;
    assert_eq!(me["data"]["profile"], Value::Null);
    assert_eq!(me["data"]["preferences"]["uiPreferences"]["theme"], "dark");
}
