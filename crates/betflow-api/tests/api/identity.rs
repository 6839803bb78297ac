//! Identity and access over HTTP, on both backends.

use std::time::Duration;

use crate::common::{
    self, ADMIN_PASSWORD, TestServer, client::Reply, limits, spawn, spawn_with, test_config,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use betflow_store::testing::{self, TestDb};
use reqwest::Method;
use serde_json::{Value, json};

betflow_store::conformance!(
    login_me_refresh_and_reuse_detection,
    logout_ends_the_session,
    bad_credentials_get_the_seed_codes,
    login_failures_look_alike_lock_out_and_are_audited,
    user_administration_and_permission_checks,
    api_key_lifecycle,
    suspended_users_stop_working_everywhere,
    demoting_an_owner_demotes_their_keys,
    password_change,
    audit_log_needs_role_and_permission,
);

/// A token's claims, decoded without checking its signature.
fn claims(token: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

/// A field of `data` as an owned string.
fn text(data: &Value, pointer: &str) -> String {
    data.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {data}"))
        .to_owned()
}

async fn login_me_refresh_and_reuse_detection(db: TestDb) {
    let s = spawn(db).await;
    s.admin_token().await;
    let first = s.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(first["tokenType"], "Bearer");
    assert_eq!(first["expiresIn"], 900);
    assert_eq!(first["user"]["role"], "admin");
    assert!(first["user"].get("passwordHash").is_none());
    let access = text(&first, "/accessToken");

    // The seed's clients read these claims.
    let claims = claims(&access);
    for c in ["userId", "username", "role", "permissions", "exp"] {
        assert!(claims.get(c).is_some(), "claim {c} missing: {claims}");
    }

    let me = s.me(&access).await.ok();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["effectivePermissions"], json!(["*"]));

    let first_refresh = text(&first, "/refreshToken");
    let second = s.refresh(&first_refresh).await.ok();
    assert_ne!(second["refreshToken"], first["refreshToken"]);

    // Presenting the first refresh token again: theft. The whole family is revoked.
    s.refresh(&first_refresh).await.error(401, "INVALID_TOKEN");
    s.refresh(&text(&second, "/refreshToken"))
        .await
        .error(401, "INVALID_TOKEN");
    s.me(&text(&second, "/accessToken"))
        .await
        .error(401, "INVALID_TOKEN");
    s.refresh("not-a-token").await.error(401, "INVALID_TOKEN");
}

async fn logout_ends_the_session(db: TestDb) {
    let s = spawn(db).await;
    let token = s.admin_token().await;
    let other = s.token("admin", ADMIN_PASSWORD).await;
    s.logout(&token).await.status(200);
    s.me(&token).await.error(401, "INVALID_TOKEN");
    // Another login session is unaffected.
    s.me(&other).await.status(200);
}

fn forge(secret: &[u8], claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

async fn bad_credentials_get_the_seed_codes(db: TestDb) {
    let s = spawn(db).await;
    let good = s.admin_token().await;
    let claims = claims(&good);
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    expired["iat"] = json!(chrono::Utc::now().timestamp() - 7200);
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let cases: Vec<(Option<String>, u16, &str, &str)> = vec![
        (None, 401, "UNAUTHORIZED", "Authorization header required"),
        (
            Some("Basic YWRtaW46eA==".into()),
            401,
            "INVALID_AUTHORIZATION",
            "Authorization header must be Bearer token or ApiKey",
        ),
        (
            Some("Bearer not.a.jwt".into()),
            401,
            "INVALID_TOKEN",
            "Token is invalid or expired",
        ),
        (
            Some(format!("Bearer {}", forge(common::JWT_SECRET, expired))),
            401,
            "INVALID_TOKEN",
            "Token is invalid or expired",
        ),
        (
            Some(format!(
                "Bearer {}",
                forge(b"some-other-secret-0123456789abcdef", claims.clone())
            )),
            401,
            "INVALID_TOKEN",
            "Token is invalid or expired",
        ),
        (
            Some(format!("Bearer {alg_none}")),
            401,
            "INVALID_TOKEN",
            "Token is invalid or expired",
        ),
        (
            Some("ApiKey bf_0000000000000000".into()),
            401,
            "INVALID_API_KEY",
            "API key is invalid or expired",
        ),
        (
            Some("ApiKey not-even-a-key".into()),
            401,
            "INVALID_API_KEY",
            "API key is invalid or expired",
        ),
    ];
    for (header, status, code, message) in cases {
        let mut req = s.client.get(s.url("/api/v1/users"));
        if let Some(h) = &header {
            req = req.header("authorization", h);
        }
        let res = s.reply(req).await.note(format!("{header:?}"));
        assert_eq!(
            res.header("www-authenticate"),
            "Bearer, ApiKey",
            "{header:?}"
        );
        let err = res.error(status, code);
        assert_eq!(err["message"], message, "{header:?}");
    }
    // The genuine token still works.
    s.users(&good).await.status(200);
}

/// A login attempt with a recognisable user agent (the audit trail records it).
async fn login_attempt(s: &TestServer, user: &str, password: &str) -> Reply {
    let req = s
        .client
        .post(s.url("/api/v1/auth/login"))
        .header("user-agent", "lockout-test/1.0")
        .json(&json!({"username": user, "password": password}));
    s.reply(req).await
}

async fn login_failures_look_alike_lock_out_and_are_audited(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let id = s
        .create_user(
            &admin,
            json!({"username": "tina", "email": "tina@example.com",
            "password": "tina-password", "role": "trader"}),
        )
        .await;

    let unknown = login_attempt(&s, "nobody", "whatever-pass")
        .await
        .error(401, "INVALID_CREDENTIALS");
    let wrong = login_attempt(&s, "tina", "wrong-password")
        .await
        .error(401, "INVALID_CREDENTIALS");
    assert_eq!(
        unknown, wrong,
        "an unknown user and a wrong password must look alike"
    );
    for _ in 0..4 {
        login_attempt(&s, "tina", "wrong-password")
            .await
            .error(401, "INVALID_CREDENTIALS");
    }
    // Locked: even the right password is refused, with the same answer.
    let locked = login_attempt(&s, "tina", "tina-password")
        .await
        .error(401, "INVALID_CREDENTIALS");
    assert_eq!(locked, wrong);
    let user = s.user(&admin, &id).await.ok();
    assert!(user["lockedUntil"].is_string(), "{user}");

    s.unlock(&admin, &id).await.status(200);
    s.login("tina", "tina-password").await;

    let audit = s
        .audit_logs(&admin, &format!("tableName=users&recordId={id}&limit=100"))
        .await
        .ok();
    let events: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["newValues"]["event"].as_str().map(str::to_owned))
        .collect();
    for e in [
        "auth.login_failed",
        "auth.account_locked",
        "auth.login_denied",
        "auth.account_unlocked",
        "auth.login_succeeded",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} not in {events:?}");
    }
    assert_eq!(
        events.iter().filter(|e| *e == "auth.login_failed").count(),
        5
    );
    let failure = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["newValues"]["event"] == "auth.login_failed")
        .unwrap();
    assert_eq!(failure["ipAddress"], "127.0.0.1");
    assert_eq!(failure["userAgent"], "lockout-test/1.0");
    assert_eq!(failure["userId"], id.as_str());
}

async fn user_administration_and_permission_checks(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let id = s
        .create_user(
            &admin,
            json!({"username": "Trent", "email": "trent@example.com",
            "password": "trent-password", "role": "trader"}),
        )
        .await;

    for (body, conflict) in [
        (
            json!({"username": "trent", "email": "other@example.com", "password": "password1", "role": "trader"}),
            "username",
        ),
        (
            json!({"username": "other", "email": "TRENT@example.com", "password": "password1", "role": "trader"}),
            "email",
        ),
    ] {
        let err = s.new_user(&admin, body).await.error(409, "CONFLICT");
        assert!(err["message"].as_str().unwrap().contains(conflict), "{err}");
    }
    let err = s
        .new_user(
            &admin,
            json!({"username": "x", "email": "nope", "password": "short", "role": "trader",
                      "permissions": ["bogus:thing"]}),
        )
        .await
        .error(400, "VALIDATION_ERROR");
    assert!(err["details"].as_array().unwrap().len() >= 3, "{err}");
    s.new_user(
        &admin,
        json!({"username": "valid", "email": "v@example.com", "password": "password1", "role": "overlord"}),
    )
    .await
    .error(400, "VALIDATION_ERROR");

    let trent = s.token("trent", "trent-password").await;
    let err = s.users(&trent).await.error(403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(err["message"], "Missing required permissions: users:read");
    // A user may read themselves.
    s.user(&trent, &id).await.status(200);
    s.user(&admin, "not-a-uuid")
        .await
        .error(400, "VALIDATION_ERROR");
    s.user(&admin, &uuid::Uuid::now_v7().to_string())
        .await
        .error(404, "NOT_FOUND");

    // Granting a permission takes effect on the existing token.
    let updated = s
        .patch_user(
            &admin,
            &id,
            json!({"permissions": ["users:read"], "role": "senior_trader"}),
        )
        .await
        .ok();
    assert_eq!(updated["role"], "senior_trader");
    s.users(&trent).await.status(200);
    s.patch_user(&admin, &id, json!({"status": "retired"}))
        .await
        .error(400, "VALIDATION_ERROR");
    s.patch_user(&admin, &id, json!({"nickname": "t"}))
        .await
        .error(400, "VALIDATION_ERROR");

    // Nobody changes their own account: not even an admin suspending or demoting itself,
    // which would lock it (and, for the last admin, everyone) out.
    let (_, me) = s.me(&admin).await.into_parts();
    let my_id = text(&me, "/data/id");
    for body in [
        json!({"status": "suspended"}),
        json!({"role": "customer"}),
        json!({"permissions": []}),
    ] {
        s.patch_user(&admin, &my_id, body.clone())
            .await
            .note(body)
            .error(403, "FORBIDDEN");
    }
    let me = s.me(&admin).await.ok();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["status"], "active");
}

async fn api_key_lifecycle(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let created = s
        .create_key(
            &admin,
            json!({"name": "reporting", "permissions": ["users:read"], "expiresIn": "30d"}),
        )
        .await
        .created();
    let key = text(&created, "/key");
    let key_id = text(&created, "/apiKey/id");
    assert!(key.starts_with(created["apiKey"]["prefix"].as_str().unwrap()));
    assert!(created["apiKey"]["expiresAt"].is_string());

    for (name, value) in [
        ("authorization", format!("ApiKey {key}")),
        ("x-api-key", key.clone()),
    ] {
        let req = s.client.get(s.url("/api/v1/users")).header(name, value);
        s.reply(req).await.note(name).status(200);
    }
    // The key holds users:read only, though its owner is admin.
    s.with_key(
        Method::POST,
        "/api/v1/users",
        &key,
        Some(json!({"username": "kim", "email": "kim@example.com", "password": "password1", "role": "trader"})),
    )
    .await
    .error(403, "INSUFFICIENT_PERMISSIONS");

    let (_, list) = s.api_keys(&admin).await.into_parts();
    let listed = list["data"].to_string();
    assert!(listed.contains(&key_id));
    assert!(!listed.contains(&key), "the secret is never listed");

    // Bad input.
    for body in [
        json!({"name": ""}),
        json!({"name": "x", "expiresIn": "soon"}),
        json!({"name": "x", "permissions": ["nope"]}),
    ] {
        s.create_key(&admin, body.clone())
            .await
            .note(body)
            .refused(400, "VALIDATION_ERROR");
    }

    // A key may not exceed its owner.
    s.create_user(
        &admin,
        json!({"username": "kate", "email": "kate@example.com",
        "password": "kate-password", "role": "trader", "permissions": ["apikeys:manage"]}),
    )
    .await;
    let kate = s.token("kate", "kate-password").await;
    let err = s
        .create_key(
            &kate,
            json!({"name": "too-much", "permissions": ["users:manage"]}),
        )
        .await
        .refused(403, "INSUFFICIENT_PERMISSIONS");
    assert!(err["message"].as_str().unwrap().contains("users:manage"));
    s.create_key(
        &kate,
        json!({"name": "ok", "permissions": ["workflows:read"]}),
    )
    .await
    .status(201);
    // Kate cannot see or revoke the admin's key.
    s.revoke_key(&kate, &key_id).await.error(404, "NOT_FOUND");

    // Revoked: refused at once.
    let revoked = s.revoke_key(&admin, &key_id).await.ok();
    assert_eq!(revoked["isActive"], false);
    s.with_key(Method::GET, "/api/v1/users", &key, None)
        .await
        .error(401, "INVALID_API_KEY");

    // Expired: refused.
    let (_, short) = s
        .create_key(&admin, json!({"name": "short", "expiresIn": "1s"}))
        .await
        .into_parts();
    let short_key = text(&short, "/data/key");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    s.with_key(Method::GET, "/api/v1/auth/me", &short_key, None)
        .await
        .error(401, "INVALID_API_KEY");
}

async fn suspended_users_stop_working_everywhere(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let id = s
        .create_user(
            &admin,
            json!({"username": "sam", "email": "sam@example.com",
            "password": "sam-password", "role": "trader", "permissions": ["apikeys:manage"]}),
        )
        .await;
    let token = s.token("sam", "sam-password").await;
    let (_, created) = s
        .create_key(&token, json!({"name": "sam-key"}))
        .await
        .into_parts();
    let key = text(&created, "/data/key");
    s.with_key(Method::GET, "/api/v1/auth/me", &key, None)
        .await
        .status(200);

    s.patch_user(&admin, &id, json!({"status": "suspended"}))
        .await
        .status(200);
    s.me(&token).await.error(401, "INVALID_TOKEN");
    s.with_key(Method::GET, "/api/v1/auth/me", &key, None)
        .await
        .error(401, "INVALID_API_KEY");
    login_attempt(&s, "sam", "sam-password")
        .await
        .error(401, "INVALID_CREDENTIALS");
}

async fn demoting_an_owner_demotes_their_keys(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let id = s
        .create_user(
            &admin,
            json!({"username": "dora", "email": "dora@example.com",
            "password": "dora-password", "role": "trader",
            "permissions": ["apikeys:manage", "users:read"]}),
        )
        .await;
    // Logging in by email works as well as by username.
    let dora = s.token("DORA@example.com", "dora-password").await;
    let created = s
        .create_key(&dora, json!({"name": "k", "permissions": ["users:read"]}))
        .await
        .created();
    let key = text(&created, "/key");
    s.with_key(Method::GET, "/api/v1/users", &key, None)
        .await
        .status(200);
    s.patch_user(&admin, &id, json!({"permissions": ["apikeys:manage"]}))
        .await
        .status(200);
    let err = s
        .with_key(Method::GET, "/api/v1/users", &key, None)
        .await
        .error(403, "INSUFFICIENT_PERMISSIONS");
    assert!(err["message"].as_str().unwrap().contains("users:read"));
}

async fn password_change(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    s.create_user(
        &admin,
        json!({"username": "pat", "email": "pat@example.com",
        "password": "pat-password", "role": "auditor"}),
    )
    .await;
    let pat = s.token("pat", "pat-password").await;
    let elsewhere = s.token("pat", "pat-password").await;
    s.change_password(&pat, "wrong-one", "new-password-1")
        .await
        .error(403, "INVALID_CREDENTIALS");
    s.change_password(&pat, "pat-password", "short")
        .await
        .error(400, "VALIDATION_ERROR");
    s.change_password(&pat, "pat-password", "new-password-1")
        .await
        .status(200);
    // Other sessions end; the one that changed the password carries on.
    s.me(&elsewhere).await.error(401, "INVALID_TOKEN");
    s.me(&pat).await.status(200);
    login_attempt(&s, "pat", "pat-password")
        .await
        .error(401, "INVALID_CREDENTIALS");
    s.login("pat", "new-password-1").await;
}

async fn audit_log_needs_role_and_permission(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    s.create_user(
        &admin,
        json!({"username": "tom", "email": "tom@example.com",
        "password": "tom-password", "role": "trader", "permissions": ["audit:read"]}),
    )
    .await;
    s.create_user(
        &admin,
        json!({"username": "ann", "email": "ann@example.com",
        "password": "ann-password", "role": "auditor"}),
    )
    .await;
    let tom = s.token("tom", "tom-password").await;
    let ann = s.token("ann", "ann-password").await;
    let err = s
        .audit_logs(&tom, "")
        .await
        .error(403, "INSUFFICIENT_PRIVILEGES");
    assert_eq!(
        err["message"],
        "Role trader is not authorized for this operation"
    );
    let page = s
        .audit_logs(&ann, "action=INSERT&tableName=users")
        .await
        .ok();
    assert!(page["total"].as_u64().unwrap() >= 3);
    s.audit_logs(&ann, "action=UPSERT")
        .await
        .error(400, "VALIDATION_ERROR");
    // A range that ends before it starts is an empty window: nothing, not an error.
    let page = s
        .audit_logs(&ann, "from=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z")
        .await
        .ok();
    assert_eq!(page["total"], 0, "{page}");
    assert_eq!(page["items"], json!([]), "{page}");
}

#[tokio::test]
async fn rate_limits_answer_429_with_headers() {
    let mut cfg = test_config();
    cfg.limits = limits("3/1m", "2/1m");
    let s = spawn_with(TestDb::sqlite().await, cfg, None).await;
    s.engine
        .identity()
        .ensure_admin(Some(ADMIN_PASSWORD.into()))
        .await
        .unwrap();
    let token = s.token("admin", ADMIN_PASSWORD).await;
    for remaining in ["2", "1", "0"] {
        let res = s.me(&token).await;
        assert_eq!(res.header("ratelimit-limit"), "3");
        assert_eq!(res.header("ratelimit-remaining"), remaining);
        let reset: u64 = res.header("ratelimit-reset").parse().unwrap();
        assert!((1..=60).contains(&reset));
        res.status(200);
    }
    let res = s.me(&token).await;
    assert!(res.headers.contains_key("retry-after"));
    res.error(429, "RATE_LIMITED");

    // Login: 2 per minute per IP; the first login above used one.
    let res = login_attempt(&s, "admin", "wrong-password").await;
    assert_eq!(res.header("ratelimit-remaining"), "0");
    res.error(401, "INVALID_CREDENTIALS");
    let res = login_attempt(&s, "admin", ADMIN_PASSWORD).await;
    assert!(res.headers.contains_key("retry-after"));
    res.error(429, "RATE_LIMITED");
}

#[tokio::test]
async fn registration_has_its_own_limit_apart_from_login() {
    let mut cfg = test_config();
    cfg.limits = limits("100000/1m", "2/1m");
    cfg.limits.register = betflow_engine::ratelimit::Rule::parse("3/1h").unwrap();
    let s = spawn_with(TestDb::sqlite().await, cfg, None).await;
    let register = |n: u32| {
        s.register(json!({
            "username": format!("punter{n}"),
            "email": format!("punter{n}@example.com"),
            "password": "a-long-password",
            "dateOfBirth": "1990-05-17",
            "countryCode": "GB",
            "currencyCode": "GBP",
            "timezone": "Europe/London",
        }))
    };
    // Three sign-ups fit the registration budget, and leave the login budget whole.
    for (n, remaining) in [(1, "2"), (2, "1"), (3, "0")] {
        let res = register(n).await.note(n);
        assert_eq!(res.header("ratelimit-limit"), "3");
        assert_eq!(res.header("ratelimit-remaining"), remaining);
        res.status(201);
    }
    let res = login_attempt(&s, "punter1", "a-long-password").await;
    assert_eq!(res.header("ratelimit-limit"), "2");
    assert_eq!(res.header("ratelimit-remaining"), "1");
    res.status(200);
    // The fourth sign-up is refused, and logins still have their own budget.
    let res = register(4).await;
    assert!(res.headers.contains_key("retry-after"));
    let error = res.error(429, "RATE_LIMITED");
    assert!(
        error["message"].as_str().unwrap().contains("registrations"),
        "{error}"
    );
    login_attempt(&s, "punter2", "a-long-password")
        .await
        .status(200);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let mut cfg = test_config();
    cfg.limits = limits("100000/1m", "2/1m");
    cfg.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let s = spawn_with(TestDb::sqlite().await, cfg, None).await;
    let attempt = |ip: &'static str| {
        s.reply(
            s.client
                .post(s.url("/api/v1/auth/login"))
                .header("x-forwarded-for", format!("192.0.2.77, {ip}"))
                .header("user-agent", "proxy-test")
                .json(&json!({"username": "nobody", "password": "wrong-password"})),
        )
    };
    // Each client behind the proxy has its own login limit.
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        attempt(ip).await.note(ip).status(401);
    }
    attempt("198.51.100.1").await.status(401);
    attempt("198.51.100.1").await.status(429);
    // And the audit trail names the client, not the proxy.
    s.engine
        .identity()
        .ensure_admin(Some(ADMIN_PASSWORD.into()))
        .await
        .unwrap();
    let rows = s
        .engine
        .audit_log(&betflow_domain::audit::AuditQuery::default())
        .await
        .unwrap();
    assert!(
        rows.items
            .iter()
            .any(|e| e.ip_address == Some("198.51.100.2".parse().unwrap()))
    );
    assert!(
        !rows
            .items
            .iter()
            .any(|e| e.ip_address == Some("127.0.0.1".parse().unwrap()))
    );
}

#[tokio::test]
async fn two_nodes_share_one_limit_through_redis() {
    let Some(redis) = testing::redis_url() else {
        eprintln!(
            "{} unset: shared-limit test not run",
            testing::REDIS_URL_VAR
        );
        return;
    };
    let db = TestDb::sqlite().await;
    let store_config = db.config.clone();
    let mut cfg = test_config();
    // A limit unique to this run, so earlier runs' counters in Redis do not interfere.
    cfg.limits = limits("4/1h", "100000/1m");
    let a = spawn_with(db, cfg.clone(), Some(&redis)).await;
    let second_store = betflow_store::connect(&store_config).await.unwrap();
    let b = spawn_with(TestDb::from_store(second_store), cfg, Some(&redis)).await;
    let token = a.admin_token().await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let node = if i % 2 == 0 { &a } else { &b };
        statuses.push(node.me(&token).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
}

#[tokio::test]
async fn a_revoked_key_stops_on_every_node_within_a_second() {
    let db = TestDb::sqlite().await;
    let store_config = db.config.clone();
    let a = spawn(db).await;
    let b = spawn(TestDb::from_store(
        betflow_store::connect(&store_config).await.unwrap(),
    ))
    .await;
    let admin = a.admin_token().await;
    let (_, created) = a
        .create_key(&admin, json!({"name": "fleet"}))
        .await
        .into_parts();
    let key = text(&created, "/data/key");
    let id = text(&created, "/data/apiKey/id");
    let me_on_b = || b.with_key(Method::GET, "/api/v1/auth/me", &key, None);
    me_on_b().await.note("node B caches the key").status(200);
    a.revoke_key(&admin, &id).await.status(200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    me_on_b().await.error(401, "INVALID_API_KEY");
}

#[tokio::test]
async fn with_redis_a_revocation_reaches_other_nodes_at_once() {
    let Some(redis) = testing::redis_url() else {
        eprintln!(
            "{} unset: Redis invalidation test not run",
            testing::REDIS_URL_VAR
        );
        return;
    };
    // A cache TTL of a minute: only the Redis broadcast can make node B notice in time.
    let mut identity = common::identity_config();
    identity.cache_ttl = Duration::from_secs(60);
    let db = TestDb::sqlite().await;
    let store_config = db.config.clone();
    let a = common::spawn_full(db, test_config(), Some(&redis), identity.clone()).await;
    let b_db = TestDb::from_store(betflow_store::connect(&store_config).await.unwrap());
    let b = common::spawn_full(b_db, test_config(), Some(&redis), identity).await;
    let admin = a.admin_token().await;
    let (_, created) = a
        .create_key(&admin, json!({"name": "fleet"}))
        .await
        .into_parts();
    let key = text(&created, "/data/key");
    let id = text(&created, "/data/apiKey/id");
    let me_on_b = || b.with_key(Method::GET, "/api/v1/auth/me", &key, None);
    me_on_b().await.note("node B caches the key").status(200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.revoke_key(&admin, &id).await.status(200);
    let started = std::time::Instant::now();
    loop {
        if me_on_b().await.status == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "node B still accepts the revoked key"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn openapi_declares_both_schemes_and_what_each_route_needs() {
    let doc = serde_json::to_value(betflow_api::openapi()).unwrap();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["BearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["BearerAuth"]["bearerFormat"], "JWT");
    assert_eq!(schemes["ApiKeyAuth"]["in"], "header");
    assert_eq!(schemes["ApiKeyAuth"]["name"], "Authorization");
    assert_eq!(
        doc["security"],
        json!([{"BearerAuth": []}, {"ApiKeyAuth": []}])
    );
    assert_eq!(
        doc["paths"]["/api/v1/auth/login"]["post"]["security"],
        json!([{}])
    );
    assert_eq!(doc["paths"]["/health"]["get"]["security"], json!([{}]));
    for (path, method) in [
        ("/api/v1/users", "post"),
        ("/api/v1/api-keys", "post"),
        ("/api/v1/audit-logs", "get"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(
            op["security"].is_null(),
            "{path} inherits the document's security"
        );
        let text = op["description"].as_str().unwrap();
        assert!(text.starts_with("Requires"), "{path}: {text}");
    }
}
