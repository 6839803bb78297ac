//! Starts the real application on 127.0.0.1:0 over a real database.

#![allow(dead_code)]

pub mod client;

use std::sync::Arc;
use std::time::Duration;

use betflow_api::HttpConfig;
use betflow_engine::identity::IdentityConfig;
use betflow_engine::{Engine, EngineConfig};
use betflow_store::redis::RedisHandle;
use betflow_store::testing::TestDb;

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub engine: Arc<Engine>,
}

/// Runs the event relay until dropped.
pub struct Relay(#[allow(dead_code)] tokio::sync::watch::Sender<bool>);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

impl TestServer {
    /// Starts the outbox relay (as `serve`'s worker role does), polling every 20 ms.
    #[allow(dead_code)]
    pub fn relay(&self) -> Relay {
        let (tx, rx) = tokio::sync::watch::channel(false);
        self.engine
            .realtime()
            .spawn_relay(Duration::from_millis(20), rx);
        Relay(tx)
    }

    /// Waits until every event committed so far has been relayed to this node's listeners.
    #[allow(dead_code)]
    pub async fn relayed(&self) {
        while self.engine.realtime().relay_once().await.unwrap() > 0 {}
        // The hub hands events to the socket and SSE tasks asynchronously.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Starts the job worker (as `serve`'s worker role does), polling every 20 ms.
    #[allow(dead_code)]
    pub fn worker(&self) -> Relay {
        let (tx, rx) = tokio::sync::watch::channel(false);
        betflow_engine::jobs::spawn(
            self.engine.clone(),
            "test-worker".into(),
            Duration::from_millis(20),
            rx,
        );
        Relay(tx)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }
}

pub const JWT_SECRET: &[u8] = b"api-test-secret-0123456789abcdef0123";

pub fn identity_config() -> IdentityConfig {
    IdentityConfig::new(JWT_SECRET.to_vec())
}

pub fn test_config() -> HttpConfig {
    HttpConfig {
        cors_origins: vec!["https://console.example.com".into()],
        body_limit: 64 * 1024,
        request_timeout: Duration::from_secs(5),
        debug_routes: true,
        limits: limits("100000/15m", "100000/1m"),
        trusted_proxies: vec![],
        serve_api: true,
        socket_auth_grace: Duration::from_secs(10),
    }
}

pub async fn spawn(db: TestDb) -> TestServer {
    spawn_with(db, test_config(), None).await
}

pub async fn spawn_with(db: TestDb, config: HttpConfig, redis: Option<&str>) -> TestServer {
    spawn_full(db, config, redis, identity_config()).await
}

/// Webhook settings for tests: private targets allowed (receivers run on loopback) and
/// retries within a fraction of a second.
#[allow(dead_code)]
pub fn fast_webhooks() -> betflow_engine::webhooks::WebhookSettings {
    betflow_engine::webhooks::WebhookSettings {
        schedule: vec![Duration::from_millis(50), Duration::from_millis(100)],
        allow_private: true,
        ..Default::default()
    }
}

pub async fn spawn_full(
    db: TestDb,
    config: HttpConfig,
    redis: Option<&str>,
    identity: IdentityConfig,
) -> TestServer {
    spawn_engine(db, config, redis, identity, fast_webhooks()).await
}

pub async fn spawn_engine(
    db: TestDb,
    config: HttpConfig,
    redis: Option<&str>,
    identity: IdentityConfig,
    webhooks: betflow_engine::webhooks::WebhookSettings,
) -> TestServer {
    spawn_custom(db, config, redis, identity, |c| EngineConfig {
        webhooks,
        ..c
    })
    .await
}

/// A server whose engine settings `customize` changes further (bet settings, ...).
pub async fn spawn_custom(
    db: TestDb,
    config: HttpConfig,
    redis: Option<&str>,
    identity: IdentityConfig,
    customize: impl FnOnce(EngineConfig) -> EngineConfig,
) -> TestServer {
    let redis = redis.map(|u| Arc::new(RedisHandle::new(u).unwrap()));
    let config_for_engine = customize(EngineConfig {
        identity,
        ..Default::default()
    });
    let engine = Arc::new(Engine::new(db.store.clone(), redis, config_for_engine).unwrap());
    engine.workflows().ensure_seeded().await.unwrap();
    let app = betflow_api::app(engine.clone(), &config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let client = http_client();
    TestServer {
        base: format!("http://{addr}"),
        client,
        db,
        engine,
    }
}

/// Sends `body` (if any) to `path` as the holder of `token`; the status and the JSON answer
/// (`null` when there is none).
#[allow(dead_code)]
pub async fn call(
    s: &TestServer,
    m: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = s.with_token(m, path, token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// Asserts the error envelope and returns its `error` object.
pub async fn expect_error(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok(),
        "{body}"
    );
    body["error"].clone()
}

/// A client that follows no redirects. reqwest is built without a bundled TLS provider (to
/// avoid compiling aws-lc), so install ring's once.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn limits(api: &str, login: &str) -> betflow_api::auth::Limits {
    betflow_api::auth::Limits {
        api: betflow_engine::ratelimit::Rule::parse(api).unwrap(),
        login: betflow_engine::ratelimit::Rule::parse(login).unwrap(),
        register: betflow_engine::ratelimit::Rule::parse(login).unwrap(),
    }
}

pub const ADMIN_PASSWORD: &str = "admin-password-123";

impl TestServer {
    /// Creates the first admin (as `serve` does) and returns an access token for it.
    pub async fn admin_token(&self) -> String {
        self.engine
            .identity()
            .ensure_admin(Some(ADMIN_PASSWORD.into()))
            .await
            .unwrap();
        self.login("admin", ADMIN_PASSWORD).await["accessToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Logs in and returns `data`; panics unless 200.
    pub async fn login(&self, user: &str, password: &str) -> serde_json::Value {
        let res = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login {user}");
        let body: serde_json::Value = res.json().await.unwrap();
        body["data"].clone()
    }

    pub fn with_token(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("authorization", format!("Bearer {token}"))
    }

    /// Creates a user through the API as `admin_token`; returns its id.
    pub async fn create_user(&self, admin_token: &str, body: serde_json::Value) -> String {
        let res = self
            .with_token(reqwest::Method::POST, "/api/v1/users", admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{v}");
        v["data"]["id"].as_str().unwrap().to_owned()
    }
}

impl TestServer {
    /// Creates a user with `role` (password `<username>-password`) and returns a token.
    pub async fn user_token(
        &self,
        admin_token: &str,
        username: &str,
        role: &str,
    ) -> (String, String) {
        let id = self
            .create_user(
                admin_token,
                serde_json::json!({"username": username, "email": format!("{username}@example.com"),
                    "password": format!("{username}-password"), "role": role}),
            )
            .await;
        let token = self.login(username, &format!("{username}-password")).await["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        (id, token)
    }
}
