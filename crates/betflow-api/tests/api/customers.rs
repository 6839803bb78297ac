//! Customer self-registration, the 18+ rule, profile and preferences, on both backends.

use crate::common::spawn;
use betflow_store::testing::TestDb;
use chrono::{Datelike, Duration, Utc};
use serde_json::{Value, json};

betflow_store::conformance!(
    customers_register_and_set_preferences,
    limits_name_a_pending_raise,
    profile_is_null_for_staff_and_preferences_refuse_unknown_members,
);

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

    let res = s.register(registration("sam", born(30, 0))).await.created();
    assert_eq!(res["user"]["role"], "customer");
    assert_eq!(res["profile"]["verificationStatus"], "unverified");
    assert_eq!(
        res["preferences"]["oddsFormat"], "american",
        "the seed's default"
    );

    // 18 today is old enough; 18 tomorrow is not.
    s.register(registration("birthday", born(18, 0)))
        .await
        .created();
    let err = s
        .register(registration("young", born(18, 1)))
        .await
        .note("a rule of today's date, not of the request's shape")
        .refused(422, "UNDERAGE");
    assert_eq!(err["details"][0]["field"], "dateOfBirth", "{err}");
    // Every problem at once, account and profile.
    let mut bad = registration("x", born(30, 0));
    bad["countryCode"] = json!("Britain");
    bad["password"] = json!("short");
    let err = s.register(bad).await.status(400);
    let fields: Vec<&str> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in ["username", "password", "countryCode"] {
        assert!(fields.contains(&f), "{f} in {err}");
    }
    s.register(json!({"username": "x"})).await.status(400);
    let err = s
        .register(registration("sam", born(30, 0)))
        .await
        .status(409);
    assert_eq!(
        err["error"]["message"]
            .as_str()
            .map(|m| m.contains("username or email")),
        Some(true),
        "{err}"
    );

    // The customer logs in, reads the profile, and prefers fractional odds.
    let token = s.token("sam", "a-long-password").await;
    let me = s.profile(&token).await.ok();
    assert_eq!(me["profile"]["countryCode"], "GB");
    s.users(&token)
        .await
        .note("customers are not staff")
        .status(403);
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
        s.patch_preferences(&token, patch.clone())
            .await
            .note(patch)
            .status(code);
    }
    let (_, me) = s.profile(&token).await.into_parts();
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
        async move { s.post_as(&admin, path, body).await.note(path).created_id() }
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
    let (_, got) = s.selection(&token, &sel).await.into_parts();
    assert_eq!(got["data"]["displayOdds"], "3/2");
    let (_, got) = s
        .get_as(
            &token,
            &format!("/api/v1/selections/{sel}?oddsFormat=american"),
        )
        .await
        .into_parts();
    assert_eq!(got["data"]["displayOdds"], "+150");
    let (_, got) = s.selection(&admin, &sel).await.into_parts();
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
    s.register(registration("lee", born(30, 0))).await.created();
    let token = s.token("lee", "a-long-password").await;
    let set = |amount: Value| {
        let (s, token) = (&s, token.clone());
        async move {
            s.set_limit(
                &token,
                json!({"kind": "deposit", "period": "week", "amount": amount}),
            )
            .await
            .ok()["limits"][0]
                .take()
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

    let read = s.limits(&token).await.ok();
    assert_eq!(read["limits"][0], raised, "the read shows the same");
    assert_eq!(read["exclusion"], Value::Null);

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
    let me = s.profile(&admin).await.ok();
    assert_eq!(me["user"]["username"], "admin");
    assert_eq!(
        (&me["profile"], &me["preferences"]),
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
        let err = s
            .patch_preferences(&admin, patch.clone())
            .await
            .note(&patch)
            .status(400);
        assert_eq!(err["error"]["details"][0]["field"], field, "{patch}: {err}");
    }
    let prefs = s
        .patch_preferences(
            &admin,
            json!({"uiPreferences": {"theme": "dark", "language": null},
                    "responsibleGaming": {"realityCheckMinutes": null}}),
        )
        .await
        .ok();
    assert_eq!(prefs["uiPreferences"], json!({"theme": "dark"}));
    assert_eq!(
        prefs["responsibleGaming"]["realityCheckMinutes"],
        Value::Null,
        "null removes it: {prefs}"
    );
    let (_, me) = s.profile(&admin).await.into_parts();
    assert_eq!(me["data"]["profile"], Value::Null);
    assert_eq!(me["data"]["preferences"]["uiPreferences"]["theme"], "dark");
}
