//! The HTTP conventions every feature relies on, against the real app on a real socket.

use std::time::Duration;

use crate::common::{self, TestServer, expect_error, spawn, spawn_with, test_config};
use betflow_store::testing::{self, TestDb};
use serde_json::{Value, json};

betflow_store::conformance!(
    service_endpoints_answer_on_each_backend,
    readiness_fails_when_the_database_is_gone,
);

async fn service_endpoints_answer_on_each_backend(db: TestDb) {
    let backend = db.store.backend().as_str();
    let s = spawn(db).await;

    let root: Value = s.get("/").await.json().await.unwrap();
    assert_eq!(root["version"], "v1");
    assert_eq!(root["documentation"], "/api-docs");
    assert_eq!(root["health"], "/health");

    let res = s.get("/health").await;
    assert_eq!(res.status(), 200);
    let health: Value = res.json().await.unwrap();
    assert_eq!(health["status"], "healthy");
    assert!(health["uptime"].as_f64().unwrap() >= 0.0);
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));

    let res = s.get("/ready").await;
    assert_eq!(res.status(), 200);
    let ready: Value = res.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["databaseBackend"], backend);
    assert_eq!(ready["checks"]["database"]["status"], "up");
    assert!(ready["checks"].get("redis").is_none());

    let res = s.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/health",status="200"}"#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(&format!(r#"db_pool_connections{{backend="{backend}""#)),
        "{text}"
    );
    assert!(text.contains("db_pool_max_connections"), "{text}");
}

async fn readiness_fails_when_the_database_is_gone(db: TestDb) {
    let store = db.store.clone();
    let s = spawn(db).await;
    store.close().await;
    let err = expect_error(s.get("/ready").await, 503, "SERVICE_UNAVAILABLE").await;
    assert_eq!(err["details"]["failed"], json!(["database"]));
    assert_eq!(err["details"]["checks"]["database"]["status"], "down");
    // Liveness does not depend on the database.
    assert_eq!(s.get("/health").await.status(), 200);
}

#[tokio::test]
async fn readiness_checks_redis_when_configured() {
    let down = spawn_with(
        TestDb::sqlite().await,
        test_config(),
        Some("redis://127.0.0.1:1"),
    )
    .await;
    let err = expect_error(down.get("/ready").await, 503, "SERVICE_UNAVAILABLE").await;
    assert_eq!(err["details"]["failed"], json!(["redis"]));
    assert!(err["message"].as_str().unwrap().contains("redis"));

    if let Some(url) = testing::redis_url() {
        let up = spawn_with(TestDb::sqlite().await, test_config(), Some(&url)).await;
        let res = up.get("/ready").await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["checks"]["redis"]["status"], "up");
    }
}

async fn sqlite_server() -> TestServer {
    spawn(TestDb::sqlite().await).await
}

#[tokio::test]
async fn unknown_route_is_an_enveloped_404_listing_endpoints() {
    let s = sqlite_server().await;
    let err = expect_error(s.get("/api/v1/nope?token=secret").await, 404, "NOT_FOUND").await;
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("/api/v1/nope"), "{msg}");
    assert!(
        !msg.contains("secret"),
        "query strings are not echoed: {msg}"
    );
    let endpoints: Vec<String> =
        serde_json::from_value(err["details"]["availableEndpoints"].clone()).unwrap();
    for e in [
        "GET /health",
        "GET /ready",
        "GET /metrics",
        "GET /api-docs/openapi.json",
    ] {
        assert!(
            endpoints.iter().any(|x| x == e),
            "{e} missing from {endpoints:?}"
        );
    }
    assert!(!endpoints.iter().any(|x| x.contains("__debug")));
}

#[tokio::test]
async fn wrong_method_is_an_enveloped_405_with_allow() {
    let s = sqlite_server().await;
    let res = s.client.delete(s.url("/health")).send().await.unwrap();
    let allow = res.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET"), "{allow}");
    expect_error(res, 405, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn request_id_is_generated_or_propagated() {
    let s = sqlite_server().await;
    let res = s.get("/health").await;
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let res = s
        .client
        .get(s.url("/nope"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc-123");
}

#[tokio::test]
async fn security_headers_on_every_response_and_looser_csp_only_for_docs() {
    let s = sqlite_server().await;
    for path in ["/health", "/nope", "/api-docs/openapi.json"] {
        let res = s.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
    }
    let strict = s.get("/health").await;
    assert!(
        !strict.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("unsafe-inline")
    );
    let docs = s.get("/api-docs/").await;
    let csp = docs.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("style-src 'self' 'unsafe-inline'"), "{csp}");
    assert!(!csp.contains("https:") && !csp.contains("http:"), "{csp}");
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let s = sqlite_server().await;
    let preflight = |origin: &'static str| {
        s.client
            .request(reqwest::Method::OPTIONS, s.url("/health"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("https://console.example.com").await.unwrap();
    assert!(ok.status().is_success());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://console.example.com"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());

    let mut cfg = test_config();
    cfg.cors_origins = vec!["not a url".into()];
    let engine = std::sync::Arc::new(
        betflow_engine::Engine::new(
            s.db.store.clone(),
            None,
            betflow_engine::EngineConfig {
                identity: common::identity_config(),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    assert!(betflow_api::app(engine, &cfg).is_err());
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let s = sqlite_server().await;
    for (enc, expect) in [("gzip", "gzip"), ("br", "br")] {
        let res = s
            .client
            .get(s.url("/api-docs/openapi.json"))
            .header("accept-encoding", enc)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-encoding"], expect);
    }
    let plain = s.get("/api-docs/openapi.json").await;
    assert!(plain.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn openapi_document_is_generated_from_the_routes() {
    let s = sqlite_server().await;
    let doc: Value = s.get("/api-docs/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    for path in ["/", "/health", "/ready", "/metrics"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} undocumented");
    }
    assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
    assert_eq!(doc, serde_json::to_value(betflow_api::openapi()).unwrap());
}

#[tokio::test]
async fn swagger_ui_is_served_from_embedded_assets() {
    let s = sqlite_server().await;
    let res = s.get("/api-docs").await;
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/api-docs/");
    let page = s.get("/api-docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("://"),
        "the page must not load anything remote: {html}"
    );
    for asset in [
        "/api-docs/swagger-ui-bundle.js",
        "/api-docs/swagger-ui.css",
        "/api-docs/swagger-initializer.js",
    ] {
        let res = s.get(asset).await;
        assert_eq!(res.status(), 200, "{asset}");
        assert!(res.bytes().await.unwrap().len() > 100, "{asset}");
    }
    let init = s
        .get("/api-docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api-docs/openapi.json"), "{init}");
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_lives_on() {
    let s = sqlite_server().await;
    let err = expect_error(s.get("/__debug/panic").await, 500, "INTERNAL_ERROR").await;
    assert!(!err["message"].as_str().unwrap().contains("deliberate"));
    assert_eq!(s.get("/health").await.status(), 200);
}

#[tokio::test]
async fn slow_requests_time_out_in_the_envelope() {
    let mut cfg = test_config();
    cfg.request_timeout = Duration::from_millis(200);
    let s = spawn_with(TestDb::sqlite().await, cfg, None).await;
    expect_error(
        s.get("/__debug/sleep?ms=3000").await,
        503,
        "REQUEST_TIMEOUT",
    )
    .await;
    assert_eq!(s.get("/__debug/sleep?ms=10").await.status(), 200);
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let s = sqlite_server().await;
    expect_error(
        s.get("/__debug/sleep?ms=soon").await,
        400,
        "VALIDATION_ERROR",
    )
    .await;
    expect_error(s.get("/__debug/sleep").await, 400, "VALIDATION_ERROR").await;
}

mod json_bodies {
    use super::*;

    async fn post(
        s: &TestServer,
        ct: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut req = s.client.post(s.url("/__debug/echo")).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send().await.unwrap()
    }

    #[tokio::test]
    async fn a_valid_body_is_accepted() {
        let s = sqlite_server().await;
        let res = post(
            &s,
            Some("application/json"),
            r#"{"message":"hi","count":2}"#,
        )
        .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["success"], true);
        assert_eq!(body["data"], json!({"message": "hi", "count": 2}));
        assert_eq!(body["message"], "echoed");
        assert!(body["timestamp"].is_string());
    }

    #[tokio::test]
    async fn malformed_json_is_a_validation_error() {
        let s = sqlite_server().await;
        let err = expect_error(
            post(&s, Some("application/json"), r#"{"message": "#).await,
            400,
            "VALIDATION_ERROR",
        )
        .await;
        assert_eq!(err["details"]["reason"], "syntax");
    }

    #[tokio::test]
    async fn wrong_shape_unknown_fields_and_wrong_types_are_validation_errors() {
        let s = sqlite_server().await;
        for body in [
            r#"{"message":"hi","admin":true}"#,
            r#"{"count":1}"#,
            r#"{"message":5}"#,
            r#"{"message":"hi","count":-1}"#,
            r#"[]"#,
        ] {
            let err = expect_error(
                post(&s, Some("application/json"), body).await,
                400,
                "VALIDATION_ERROR",
            )
            .await;
            assert_eq!(err["details"]["reason"], "data", "{body}");
        }
    }

    #[tokio::test]
    async fn wrong_or_missing_content_type_is_415() {
        let s = sqlite_server().await;
        expect_error(
            post(&s, Some("text/plain"), r#"{"message":"hi"}"#).await,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        )
        .await;
        expect_error(
            post(&s, None, r#"{"message":"hi"}"#).await,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        )
        .await;
    }

    #[tokio::test]
    async fn oversized_bodies_are_413_whether_declared_or_streamed() {
        let s = sqlite_server().await;
        let big = format!(r#"{{"message":"{}"}}"#, "x".repeat(100 * 1024));
        expect_error(
            post(&s, Some("application/json"), big.clone()).await,
            413,
            "PAYLOAD_TOO_LARGE",
        )
        .await;
        // No Content-Length: the limit applies while the body streams in.
        let chunks: Vec<Result<String, std::io::Error>> = big
            .as_bytes()
            .chunks(8 * 1024)
            .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
            .collect();
        let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
        expect_error(
            post(&s, Some("application/json"), stream).await,
            413,
            "PAYLOAD_TOO_LARGE",
        )
        .await;
    }
}
