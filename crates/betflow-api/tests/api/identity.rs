//! Identity and access over HTTP, on both backends.

use std::time::Duration;

use crate::common::{
    self, ADMIN_PASSWORD, TestServer, expect_error, limits, spawn, spawn_with, test_config,
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

async fn json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn login_me_refresh_and_reuse_detection(db: TestDb) {
    let s = spawn(db).await;
    s.admin_token().await;
    let first = s.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(first["tokenType"], "Bearer");
    assert_eq!(first["expiresIn"], 900);
    assert_eq!(first["user"]["role"], "admin");
    assert!(first["user"].get("passwordHash").is_none());
    let access = first["accessToken"].as_str().unwrap();

    // The seed's clients read these claims.
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    for c in ["userId", "username", "role", "permissions", "exp"] {
        assert!(claims.get(c).is_some(), "claim {c} missing: {claims}");
    }

    let (status, me) = json(
        s.with_token(Method::GET, "/api/v1/auth/me", access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["data"]["username"], "admin");
    assert_eq!(me["data"]["effectivePermissions"], json!(["*"]));

    let refresh = |token: String| {
        s.client
            .post(s.url("/api/v1/auth/refresh"))
            .json(&json!({"refreshToken": token}))
            .send()
    };
    let rotated = refresh(first["refreshToken"].as_str().unwrap().into())
        .await
        .unwrap();
    let (status, second) = json(rotated).await;
    assert_eq!(status, 200, "{second}");
    let second = &second["data"];
    assert_ne!(second["refreshToken"], first["refreshToken"]);

    // Presenting the first refresh token again: theft. The whole family is revoked.
    expect_error(
        refresh(first["refreshToken"].as_str().unwrap().into())
            .await
            .unwrap(),
        401,
        "INVALID_TOKEN",
    )
    .await;
    expect_error(
        refresh(second["refreshToken"].as_str().unwrap().into())
            .await
            .unwrap(),
        401,
        "INVALID_TOKEN",
    )
    .await;
    let access2 = second["accessToken"].as_str().unwrap();
    expect_error(
        s.with_token(Method::GET, "/api/v1/auth/me", access2)
            .send()
            .await
            .unwrap(),
        401,
        "INVALID_TOKEN",
    )
    .await;
    expect_error(
        refresh("not-a-token".into()).await.unwrap(),
        401,
        "INVALID_TOKEN",
    )
    .await;
}

async fn logout_ends_the_session(db: TestDb) {
    let s = spawn(db).await;
    let token = s.admin_token().await;
    let other = s.login("admin", ADMIN_PASSWORD).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = s
        .with_token(Method::POST, "/api/v1/auth/logout", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    expect_error(
        s.with_token(Method::GET, "/api/v1/auth/me", &token)
            .send()
            .await
            .unwrap(),
        401,
        "INVALID_TOKEN",
    )
    .await;
    // Another login session is unaffected.
    let res = s
        .with_token(Method::GET, "/api/v1/auth/me", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
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
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(good.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
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
        let res = req.send().await.unwrap();
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer, ApiKey",
            "{header:?}"
        );
        let err = expect_error(res, status, code).await;
        assert_eq!(err["message"], message, "{header:?}");
    }
    // The genuine token still works.
    let res = s
        .with_token(Method::GET, "/api/v1/users", &good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn login_attempt(s: &TestServer, user: &str, password: &str) -> reqwest::Response {
    s.client
        .post(s.url("/api/v1/auth/login"))
        .header("user-agent", "lockout-test/1.0")
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
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

    let unknown = expect_error(
        login_attempt(&s, "nobody", "whatever-pass").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    let wrong = expect_error(
        login_attempt(&s, "tina", "wrong-password").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    assert_eq!(
        unknown, wrong,
        "an unknown user and a wrong password must look alike"
    );
    for _ in 0..4 {
        expect_error(
            login_attempt(&s, "tina", "wrong-password").await,
            401,
            "INVALID_CREDENTIALS",
        )
        .await;
    }
    // Locked: even the right password is refused, with the same answer.
    let locked = expect_error(
        login_attempt(&s, "tina", "tina-password").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    assert_eq!(locked, wrong);
    let (_, user) = json(
        s.with_token(Method::GET, &format!("/api/v1/users/{id}"), &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(user["data"]["lockedUntil"].is_string(), "{user}");

    let res = s
        .with_token(Method::POST, &format!("/api/v1/users/{id}/unlock"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    s.login("tina", "tina-password").await;

    let (status, audit) = json(
        s.with_token(
            Method::GET,
            &format!("/api/v1/audit-logs?tableName=users&recordId={id}&limit=100"),
            &admin,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{audit}");
    let events: Vec<String> = audit["data"]["items"]
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
    let failure = audit["data"]["items"]
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
        let res = s
            .with_token(Method::POST, "/api/v1/users", &admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let err = expect_error(res, 409, "CONFLICT").await;
        assert!(err["message"].as_str().unwrap().contains(conflict), "{err}");
    }
    let res = s
        .with_token(Method::POST, "/api/v1/users", &admin)
        .json(
            &json!({"username": "x", "email": "nope", "password": "short", "role": "trader",
                      "permissions": ["bogus:thing"]}),
        )
        .send()
        .await
        .unwrap();
    let err = expect_error(res, 400, "VALIDATION_ERROR").await;
    assert!(err["details"].as_array().unwrap().len() >= 3, "{err}");
    let res = s
        .with_token(Method::POST, "/api/v1/users", &admin)
        .json(&json!({"username": "valid", "email": "v@example.com", "password": "password1", "role": "overlord"}))
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "VALIDATION_ERROR").await;

    let trent = s.login("trent", "trent-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let err = expect_error(
        s.with_token(Method::GET, "/api/v1/users", &trent)
            .send()
            .await
            .unwrap(),
        403,
        "INSUFFICIENT_PERMISSIONS",
    )
    .await;
    assert_eq!(err["message"], "Missing required permissions: users:read");
    // A user may read themselves.
    let res = s
        .with_token(Method::GET, &format!("/api/v1/users/{id}"), &trent)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = s
        .with_token(Method::GET, "/api/v1/users/not-a-uuid", &admin)
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "VALIDATION_ERROR").await;
    let res = s
        .with_token(
            Method::GET,
            &format!("/api/v1/users/{}", uuid::Uuid::now_v7()),
            &admin,
        )
        .send()
        .await
        .unwrap();
    expect_error(res, 404, "NOT_FOUND").await;

    // Granting a permission takes effect on the existing token.
    let res = s
        .with_token(Method::PATCH, &format!("/api/v1/users/{id}"), &admin)
        .json(&json!({"permissions": ["users:read"], "role": "senior_trader"}))
        .send()
        .await
        .unwrap();
    let (status, updated) = json(res).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["role"], "senior_trader");
    let res = s
        .with_token(Method::GET, "/api/v1/users", &trent)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = s
        .with_token(Method::PATCH, &format!("/api/v1/users/{id}"), &admin)
        .json(&json!({"status": "retired"}))
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "VALIDATION_ERROR").await;
    let res = s
        .with_token(Method::PATCH, &format!("/api/v1/users/{id}"), &admin)
        .json(&json!({"nickname": "t"}))
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "VALIDATION_ERROR").await;

    // Nobody changes their own account: not even an admin suspending or demoting itself,
    // which would lock it (and, for the last admin, everyone) out.
    let (_, me) = json(
        s.with_token(Method::GET, "/api/v1/auth/me", &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let my_id = me["data"]["id"].as_str().unwrap().to_owned();
    for body in [
        json!({"status": "suspended"}),
        json!({"role": "customer"}),
        json!({"permissions": []}),
    ] {
        let res = s
            .with_token(Method::PATCH, &format!("/api/v1/users/{my_id}"), &admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_error(res, 403, "FORBIDDEN").await;
    }
    let (status, me) = json(
        s.with_token(Method::GET, "/api/v1/auth/me", &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["role"], "admin");
    assert_eq!(me["data"]["status"], "active");
}

async fn create_key(s: &TestServer, token: &str, body: Value) -> (u16, Value) {
    json(
        s.with_token(Method::POST, "/api/v1/api-keys", token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn api_key_lifecycle(db: TestDb) {
    let s = spawn(db).await;
    let admin = s.admin_token().await;
    let (status, created) = create_key(
        &s,
        &admin,
        json!({"name": "reporting", "permissions": ["users:read"], "expiresIn": "30d"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["data"]["key"].as_str().unwrap().to_owned();
    let key_id = created["data"]["apiKey"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with(created["data"]["apiKey"]["prefix"].as_str().unwrap()));
    assert!(created["data"]["apiKey"]["expiresAt"].is_string());

    for (name, value) in [
        ("authorization", format!("ApiKey {key}")),
        ("x-api-key", key.clone()),
    ] {
        let res = s
            .client
            .get(s.url("/api/v1/users"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name}");
    }
    // The key holds users:read only, though its owner is admin.
    let res = s
        .client
        .post(s.url("/api/v1/users"))
        .header("x-api-key", &key)
        .json(&json!({"username": "kim", "email": "kim@example.com", "password": "password1", "role": "trader"}))
        .send()
        .await
        .unwrap();
    expect_error(res, 403, "INSUFFICIENT_PERMISSIONS").await;

    let (_, list) = json(
        s.with_token(Method::GET, "/api/v1/api-keys", &admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let listed = list["data"].to_string();
    assert!(listed.contains(&key_id));
    assert!(!listed.contains(&key), "the secret is never listed");

    // Bad input.
    for body in [
        json!({"name": ""}),
        json!({"name": "x", "expiresIn": "soon"}),
        json!({"name": "x", "permissions": ["nope"]}),
    ] {
        let (status, err) = create_key(&s, &admin, body).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{err}"
        );
    }

    // A key may not exceed its owner.
    s.create_user(
        &admin,
        json!({"username": "kate", "email": "kate@example.com",
        "password": "kate-password", "role": "trader", "permissions": ["apikeys:manage"]}),
    )
    .await;
    let kate = s.login("kate", "kate-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, err) = create_key(
        &s,
        &kate,
        json!({"name": "too-much", "permissions": ["users:manage"]}),
    )
    .await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"]["code"], "INSUFFICIENT_PERMISSIONS");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("users:manage")
    );
    let (status, _) = create_key(
        &s,
        &kate,
        json!({"name": "ok", "permissions": ["workflows:read"]}),
    )
    .await;
    assert_eq!(status, 201);
    // Kate cannot see or revoke the admin's key.
    let res = s
        .with_token(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), &kate)
        .send()
        .await
        .unwrap();
    expect_error(res, 404, "NOT_FOUND").await;

    // Revoked: refused at once.
    let res = s
        .with_token(
            Method::DELETE,
            &format!("/api/v1/api-keys/{key_id}"),
            &admin,
        )
        .send()
        .await
        .unwrap();
    let (status, revoked) = json(res).await;
    assert_eq!(status, 200);
    assert_eq!(revoked["data"]["isActive"], false);
    let res = s
        .client
        .get(s.url("/api/v1/users"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    expect_error(res, 401, "INVALID_API_KEY").await;

    // Expired: refused.
    let (_, short) = create_key(&s, &admin, json!({"name": "short", "expiresIn": "1s"})).await;
    let short_key = short["data"]["key"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = s
        .client
        .get(s.url("/api/v1/auth/me"))
        .header("x-api-key", &short_key)
        .send()
        .await
        .unwrap();
    expect_error(res, 401, "INVALID_API_KEY").await;
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
    let token = s.login("sam", "sam-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, created) = create_key(&s, &token, json!({"name": "sam-key"})).await;
    let key = created["data"]["key"].as_str().unwrap().to_owned();
    let res = s
        .client
        .get(s.url("/api/v1/auth/me"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = s
        .with_token(Method::PATCH, &format!("/api/v1/users/{id}"), &admin)
        .json(&json!({"status": "suspended"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    expect_error(
        s.with_token(Method::GET, "/api/v1/auth/me", &token)
            .send()
            .await
            .unwrap(),
        401,
        "INVALID_TOKEN",
    )
    .await;
    let res = s
        .client
        .get(s.url("/api/v1/auth/me"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    expect_error(res, 401, "INVALID_API_KEY").await;
    expect_error(
        login_attempt(&s, "sam", "sam-password").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
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
    let dora = s.login("DORA@example.com", "dora-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, created) = create_key(
        &s,
        &dora,
        json!({"name": "k", "permissions": ["users:read"]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["data"]["key"].as_str().unwrap().to_owned();
    let list = || {
        s.client
            .get(s.url("/api/v1/users"))
            .header("x-api-key", key.clone())
            .send()
    };
    assert_eq!(list().await.unwrap().status(), 200);
    let res = s
        .with_token(Method::PATCH, &format!("/api/v1/users/{id}"), &admin)
        .json(&json!({"permissions": ["apikeys:manage"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let err = expect_error(list().await.unwrap(), 403, "INSUFFICIENT_PERMISSIONS").await;
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
    let pat = s.login("pat", "pat-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let elsewhere = s.login("pat", "pat-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = |current: &str, new: &str| {
        s.with_token(Method::POST, "/api/v1/users/me/password", &pat)
            .json(&json!({"currentPassword": current, "newPassword": new}))
            .send()
    };
    expect_error(
        change("wrong-one", "new-password-1").await.unwrap(),
        403,
        "INVALID_CREDENTIALS",
    )
    .await;
    expect_error(
        change("pat-password", "short").await.unwrap(),
        400,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(
        change("pat-password", "new-password-1")
            .await
            .unwrap()
            .status(),
        200
    );
    // Other sessions end; the one that changed the password carries on.
    let me = |token: &str| s.with_token(Method::GET, "/api/v1/auth/me", token).send();
    expect_error(me(&elsewhere).await.unwrap(), 401, "INVALID_TOKEN").await;
    assert_eq!(me(&pat).await.unwrap().status(), 200);
    expect_error(
        login_attempt(&s, "pat", "pat-password").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
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
    let tom = s.login("tom", "tom-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let ann = s.login("ann", "ann-password").await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let err = expect_error(
        s.with_token(Method::GET, "/api/v1/audit-logs", &tom)
            .send()
            .await
            .unwrap(),
        403,
        "INSUFFICIENT_PRIVILEGES",
    )
    .await;
    assert_eq!(
        err["message"],
        "Role trader is not authorized for this operation"
    );
    let (status, page) = json(
        s.with_token(
            Method::GET,
            "/api/v1/audit-logs?action=INSERT&tableName=users",
            &ann,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page["data"]["total"].as_u64().unwrap() >= 3);
    let res = s
        .with_token(Method::GET, "/api/v1/audit-logs?action=UPSERT", &ann)
        .send()
        .await
        .unwrap();
    expect_error(res, 400, "VALIDATION_ERROR").await;
    // A range that ends before it starts is an empty window: nothing, not an error.
    let (status, page) = json(
        s.with_token(
            Method::GET,
            "/api/v1/audit-logs?from=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
            &ann,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"]["total"], 0, "{page}");
    assert_eq!(page["data"]["items"], json!([]), "{page}");
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
    let token = s.login("admin", ADMIN_PASSWORD).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    for remaining in ["2", "1", "0"] {
        let res = s
            .with_token(Method::GET, "/api/v1/auth/me", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["ratelimit-limit"], "3");
        assert_eq!(res.headers()["ratelimit-remaining"], remaining);
        let reset: u64 = res.headers()["ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&reset));
    }
    let res = s
        .with_token(Method::GET, "/api/v1/auth/me", &token)
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    expect_error(res, 429, "RATE_LIMITED").await;

    // Login: 2 per minute per IP; the first login above used one.
    let res = login_attempt(&s, "admin", "wrong-password").await;
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    expect_error(res, 401, "INVALID_CREDENTIALS").await;
    let res = login_attempt(&s, "admin", ADMIN_PASSWORD).await;
    assert!(res.headers().contains_key("retry-after"));
    expect_error(res, 429, "RATE_LIMITED").await;
}

#[tokio::test]
async fn registration_has_its_own_limit_apart_from_login() {
    let mut cfg = test_config();
    cfg.limits = limits("100000/1m", "2/1m");
    cfg.limits.register = betflow_engine::ratelimit::Rule::parse("3/1h").unwrap();
    let s = spawn_with(TestDb::sqlite().await, cfg, None).await;
    let register = |n: u32| {
        s.client
            .post(s.url("/api/v1/auth/register"))
            .json(&json!({
                "username": format!("punter{n}"),
                "email": format!("punter{n}@example.com"),
                "password": "a-long-password",
                "dateOfBirth": "1990-05-17",
                "countryCode": "GB",
                "currencyCode": "GBP",
                "timezone": "Europe/London",
            }))
            .send()
    };
    // Three sign-ups fit the registration budget, and leave the login budget whole.
    for (n, remaining) in [(1, "2"), (2, "1"), (3, "0")] {
        let res = register(n).await.unwrap();
        let headers = res.headers().clone();
        let status = res.status();
        assert_eq!(status, 201, "{n}: {}", res.text().await.unwrap());
        assert_eq!(headers["ratelimit-limit"], "3");
        assert_eq!(headers["ratelimit-remaining"], remaining);
    }
    let res = login_attempt(&s, "punter1", "a-long-password").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["ratelimit-limit"], "2");
    assert_eq!(res.headers()["ratelimit-remaining"], "1");
    // The fourth sign-up is refused, and logins still have their own budget.
    let res = register(4).await.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    let error = expect_error(res, 429, "RATE_LIMITED").await;
    assert!(
        error["message"].as_str().unwrap().contains("registrations"),
        "{error}"
    );
    assert_eq!(
        login_attempt(&s, "punter2", "a-long-password")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let mut cfg = test_config();
    cfg.limits = limits("100000/1m", "2/1m");
    cfg.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let s = spawn_with(TestDb::sqlite().await, cfg, None).await;
    let attempt = |ip: &'static str| {
        s.client
            .post(s.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("192.0.2.77, {ip}"))
            .header("user-agent", "proxy-test")
            .json(&json!({"username": "nobody", "password": "wrong-password"}))
            .send()
    };
    // Each client behind the proxy has its own login limit.
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        assert_eq!(attempt(ip).await.unwrap().status(), 401, "{ip}");
    }
    assert_eq!(attempt("198.51.100.1").await.unwrap().status(), 401);
    assert_eq!(attempt("198.51.100.1").await.unwrap().status(), 429);
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
        statuses.push(
            node.with_token(Method::GET, "/api/v1/auth/me", &token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
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
    let (_, created) = create_key(&a, &admin, json!({"name": "fleet"})).await;
    let key = created["data"]["key"].as_str().unwrap().to_owned();
    let id = created["data"]["apiKey"]["id"].as_str().unwrap().to_owned();
    let me = |s: &TestServer| {
        s.client
            .get(s.url("/api/v1/auth/me"))
            .header("x-api-key", key.clone())
            .send()
    };
    assert_eq!(me(&b).await.unwrap().status(), 200, "node B caches the key");
    let res = a
        .with_token(Method::DELETE, &format!("/api/v1/api-keys/{id}"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    expect_error(me(&b).await.unwrap(), 401, "INVALID_API_KEY").await;
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
    let (_, created) = create_key(&a, &admin, json!({"name": "fleet"})).await;
    let key = created["data"]["key"].as_str().unwrap().to_owned();
    let id = created["data"]["apiKey"]["id"].as_str().unwrap().to_owned();
    let me = |s: &TestServer| {
        s.client
            .get(s.url("/api/v1/auth/me"))
            .header("x-api-key", key.clone())
            .send()
    };
    assert_eq!(me(&b).await.unwrap().status(), 200, "node B caches the key");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = a
        .with_token(Method::DELETE, &format!("/api/v1/api-keys/{id}"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let started = std::time::Instant::now();
    loop {
        let status = me(&b).await.unwrap().status();
        if status == 401 {
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
