//! What input text may contain, at the API's boundary, on both backends: NUL nowhere (a 500
//! on PostgreSQL and a stored row on SQLite before), no control characters in names and
//! identifiers, line breaks but nothing else in free text.

use crate::common::{TestServer, client::Reply, spawn};
use betflow_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};

betflow_store::conformance!(
    nul_is_refused_everywhere_naming_the_field,
    control_characters_in_names_are_refused_and_free_text_may_break_lines,
    odd_header_bytes_are_a_400,
);

/// The `field` of every violation in a 400 VALIDATION_ERROR answer.
#[track_caller]
fn refused_fields(res: Reply) -> Vec<String> {
    let err = res.error(400, "VALIDATION_ERROR");
    err["details"]
        .as_array()
        .unwrap_or_else(|| panic!("details must list the fields: {err}"))
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn made(s: &TestServer, token: &str, path: &str, body: Value) -> String {
    s.post_as(token, path, body).await.note(path).created_id()
}

fn content() -> Value {
    json!({"title": "Featured bets", "contentType": "featured_bets", "jurisdiction": "UK",
           "financialImpact": 50000, "contentId": "featured-1"})
}

async fn nul_is_refused_everywhere_naming_the_field(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let sport = made(
        &s,
        &admin,
        "/api/v1/sports",
        json!({"name": "football", "displayName": "Football", "slug": "football"}),
    )
    .await;

    // The login is refused before any lookup, with no token needed.
    let res = s.try_login("ad\u{0}min", "x").await;
    assert_eq!(refused_fields(res), ["username"]);

    let bodies: [(&str, Value, &[&str]); 7] = [
        (
            "/api/v1/sports",
            json!({"name": "ten\u{0}nis", "displayName": "Tennis", "slug": "tennis"}),
            &["name"],
        ),
        (
            "/api/v1/sports",
            json!({"name": "golf", "displayName": "Golf", "slug": "golf",
                   "configuration": {"rules": ["ok", "par\u{0}"]}}),
            &["configuration.rules[1]"],
        ),
        (
            "/api/v1/teams",
            json!({"sportId": sport, "name": "Ars\u{0}enal", "displayName": "Arsenal",
                   "slug": "arsenal"}),
            &["name"],
        ),
        ("/api/v1/api-keys", json!({"name": "ci\u{0}key"}), &["name"]),
        (
            "/api/v1/workflows",
            json!({"workflowType": "content_publishing",
                   "data": {"title": "x\u{0}", "contentType": "featured_bets"}}),
            &["data.title"],
        ),
        (
            // A NUL in an object key, nested in free-form data.
            "/api/v1/workflows",
            json!({"workflowType": "content_publishing",
                   "data": {"title": "t", "extra": {"ke\u{0}y": 1}}}),
            &["data.extra.ke\\u0000y"],
        ),
        (
            "/api/v1/workflows/bulk/export",
            json!({"format": "json", "filters": {"search": "a\u{0}b"}}),
            &["filters.search"],
        ),
    ];
    for (path, body, fields) in bodies {
        let got = refused_fields(s.post_as(&admin, path, body.clone()).await);
        assert_eq!(got, fields, "{path} {body}");
    }

    // Query and path values, percent-encoded.
    for (path, field) in [
        ("/api/v1/audit-logs?tableName=us%00ers", "tableName"),
        ("/api/v1/teams?search=ars%00", "search"),
        ("/api/v1/workflows?search=a%00&page=1", "search"),
        ("/api/v1/events?status=live&search=%00", "search"),
        ("/api/v1/workflow-definitions/line%00change", "key"),
    ] {
        assert_eq!(
            refused_fields(s.get_as(&admin, path).await),
            [field],
            "{path}"
        );
    }

    // Nothing was written, and the audit trail never holds a NUL.
    let sports = s.get_as(&admin, "/api/v1/sports").await.ok();
    assert_eq!(sports["total"], 1, "{sports}");
    let keys = s.api_keys(&admin).await.ok();
    assert_eq!(keys["total"], 0, "{keys}");
    let audit = s.audit_logs(&admin, "limit=100").await.status(200);
    assert!(!audit.to_string().contains("\\u0000"), "{audit}");

    // The escape as literal text (an escaped backslash, then `u0000`) is no NUL.
    let key = s
        .create_key(&admin, json!({"name": "literal \\u0000 text"}))
        .await
        .created();
    assert_eq!(key["apiKey"]["name"], "literal \\u0000 text");
}

async fn control_characters_in_names_are_refused_and_free_text_may_break_lines(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let sport = made(
        &s,
        &admin,
        "/api/v1/sports",
        json!({"name": "football", "displayName": "Football", "slug": "football"}),
    )
    .await;

    let res = s.try_login("ad\u{7}min", "admin-password-123").await;
    assert_eq!(refused_fields(res), ["username"]);

    let bodies: [(&str, Value, &[&str]); 6] = [
        (
            "/api/v1/sports",
            json!({"name": "Ten\u{7}nis", "displayName": "Tennis", "slug": "tennis"}),
            &["name"],
        ),
        (
            "/api/v1/teams",
            json!({"sportId": sport, "name": "Arsenal", "displayName": "\u{1b}[31mArsenal",
                   "slug": "arsenal"}),
            &["displayName"],
        ),
        (
            "/api/v1/api-keys",
            json!({"name": "ci key\u{1b}"}),
            &["name"],
        ),
        (
            "/api/v1/workflows",
            json!({"workflowType": "content_publishing", "data": content(),
                   "tags": ["vip\u{7}"]}),
            &["tags"],
        ),
        (
            "/api/v1/webhooks",
            json!({"name": "hook\u{8}", "url": "https://hooks.example.com/x",
                   "events": ["workflow.*"], "description": "line one\nline two"}),
            &["name"],
        ),
        (
            "/api/v1/workflow-definitions",
            json!({"key": "ctl_check", "name": "Check\u{1b}", "description": "fine\n",
                   "steps": [{"id": "a", "name": "A", "type": "approval",
                              "assignees": ["trader"]}]}),
            &["name"],
        ),
    ];
    for (path, body, fields) in bodies {
        let got = refused_fields(s.post_as(&admin, path, body.clone()).await);
        assert_eq!(got, fields, "{path} {body}");
    }
    for (path, field) in [
        ("/api/v1/teams?search=ars%07", "search"),
        ("/api/v1/audit-logs?tableName=users%1B", "tableName"),
        ("/api/v1/workflows?type=content%07publishing", "type"),
    ] {
        assert_eq!(
            refused_fields(s.get_as(&admin, path).await),
            [field],
            "{path}"
        );
    }

    // Free text: a line break is fine, a bell is not.
    let home = made(
        &s,
        &admin,
        "/api/v1/teams",
        json!({"sportId": sport, "name": "Arsenal", "displayName": "Arsenal", "slug": "arsenal"}),
    )
    .await;
    let away = made(
        &s,
        &admin,
        "/api/v1/teams",
        json!({"sportId": sport, "name": "Chelsea", "displayName": "Chelsea", "slug": "chelsea"}),
    )
    .await;
    let start = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let event = made(
        &s,
        &admin,
        "/api/v1/events",
        json!({"sportId": sport, "homeTeamId": home, "awayTeamId": away, "startTime": start}),
    )
    .await;
    let market = |description: &str| {
        json!({"eventId": event, "type": "moneyline", "name": "Match result",
               "description": description})
    };
    made(
        &s,
        &admin,
        "/api/v1/markets",
        market("Line one\nline two\r\n\tindented"),
    )
    .await;
    let got = refused_fields(
        s.post_as(&admin, "/api/v1/markets", market("bell \u{7}"))
            .await,
    );
    assert_eq!(got, ["description"]);
    let hook = s
        .post_as(
            &admin,
            "/api/v1/webhooks",
            json!({"name": "hook", "url": "https://hooks.example.com/x",
               "events": ["workflow.*"], "description": "line one\nline two"}),
        )
        .await
        .created();
    assert_eq!(hook["webhook"]["description"], "line one\nline two");

    // Free-form data is only held to the NUL rule; a reason is free text.
    let mut data = content();
    data["note"] = json!("tab\there, bell \u{7} there");
    let workflow = made(
        &s,
        &admin,
        "/api/v1/workflows",
        json!({"workflowType": "content_publishing", "data": data}),
    )
    .await;
    let cancel = |reason: &str| s.act(&admin, &workflow, "cancel", Some(json!({"reason": reason})));
    let got = refused_fields(cancel("no\u{1b}[2J").await);
    assert_eq!(got, ["reason"]);
    let res = cancel("duplicate\nof another request").await.ok();
    assert_eq!(res["status"], "cancelled", "{res}");
}

/// Headers that reach the database (`Idempotency-Key`) are held to visible ASCII: bytes a
/// header may legally carry but no key should (obs-text, tab) are a 400, never a 500.
async fn odd_header_bytes_are_a_400(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let body = json!({"type": "single", "stake": 100, "legs": []});
    for raw in [&b"key-\xff\x80"[..], b"key\twith-tab", b"key with space"] {
        let req = s
            .with_token(Method::POST, "/api/v1/bets", &admin)
            .header(
                "idempotency-key",
                reqwest::header::HeaderValue::from_bytes(raw).unwrap(),
            )
            .json(&body);
        assert_eq!(
            refused_fields(s.reply(req).await),
            ["Idempotency-Key"],
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
}
