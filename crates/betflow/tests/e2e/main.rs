//! The real `betflow` binary, started as a process and driven over HTTP and signals: the
//! crate's one integration-test binary. This file holds the process tests; `readme` runs the
//! README's curl tour as written, and `contract` runs schemathesis over the OpenAPI document.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use betflow_store::testing;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

mod contract;
mod readme;

const JWT: &str = "e2e-test-secret-0123456789abcdef0123456789";
/// `BETFLOW_ENCRYPTION_KEY` for PostgreSQL deployments (64 hex characters).
const ENCRYPTION_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

struct Server {
    child: Child,
    base: String,
    banner: Vec<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_betflow"));
    for (k, _) in std::env::vars() {
        if k.starts_with("BETFLOW_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

impl Server {
    async fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = command(args, env).spawn().expect("spawn betflow");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = out.next_line().await.unwrap() {
                banner.push(line.clone());
                if let Some(url) = line.split("listening on ").nth(1) {
                    return url.trim().to_owned();
                }
            }
            panic!(
                "betflow exited before listening; stderr: {:?}",
                stderr.lock().unwrap()
            );
        })
        .await
        .expect("betflow did not start within 60s");
        // Read the rest of the banner (it is printed at once).
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout(Duration::from_millis(200), out.next_line()).await
        {
            banner.push(line);
        }
        Server {
            child,
            base,
            banner,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn sigterm(&self) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    async fn wait(&mut self, limit: Duration) -> ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("betflow did not exit in time")
            .unwrap()
    }

    fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn sqlite_args<'a>(dir: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        &sqlite_args(dir.path(), &["--debug-routes", "--shutdown-grace", "20s"]),
        &[],
    )
    .await;
    let banner = s.banner.join("\n");
    assert!(banner.contains("/api-docs"), "{banner}");
    assert!(banner.contains("/health"), "{banner}");
    assert!(banner.contains("betflow.db"), "{banner}");
    assert!(dir.path().join("betflow.db").exists());
    assert!(dir.path().join("jwt-secret").exists());

    let http = client();
    assert_eq!(
        http.get(s.url("/ready")).send().await.unwrap().status(),
        200
    );

    let slow = tokio::spawn({
        let http = http.clone();
        let url = s.url("/__debug/sleep?ms=1500");
        async move {
            let res = http.get(url).send().await?;
            let status = res.status();
            Ok::<_, reqwest::Error>((status, res.text().await?))
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    s.sigterm();

    // New connections are refused while the slow request drains.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    assert!(fresh.get(s.url("/health")).send().await.is_err());

    let (status, body) = slow
        .await
        .unwrap()
        .expect("in-flight request must complete");
    assert_eq!(status, 200);
    assert_eq!(body, "slept 1500 ms");
    let exit = s.wait(Duration::from_secs(15)).await;
    assert!(exit.success(), "{exit:?}; stderr: {:?}", s.stderr());
    assert!(signalled.elapsed() >= Duration::from_millis(1000));
    let log = s.stderr().join("\n");
    assert!(log.contains("in-flight requests drained"), "{log}");
}

#[tokio::test]
async fn the_grace_period_bounds_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        &sqlite_args(dir.path(), &["--debug-routes", "--shutdown-grace", "300ms"]),
        &[],
    )
    .await;
    let http = client();
    let stuck = tokio::spawn(http.get(s.url("/__debug/sleep?ms=20000")).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    s.sigterm();
    let exit = s.wait(Duration::from_secs(10)).await;
    assert!(exit.success(), "{exit:?}");
    assert!(signalled.elapsed() < Duration::from_secs(5));
    assert!(
        stuck.await.unwrap().is_err(),
        "the stuck request was cut off"
    );
    let log = s.stderr().join("\n");
    assert!(log.contains("grace period elapsed"), "{log}");
}

#[tokio::test]
async fn restart_reuses_the_data_dir_and_its_generated_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Server::start(&sqlite_args(dir.path(), &[]), &[]).await;
    assert!(first.banner.join("\n").contains("JWT secret: generated"));
    let secret = std::fs::read_to_string(dir.path().join("jwt-secret")).unwrap();
    first.sigterm();
    assert!(first.wait(Duration::from_secs(10)).await.success());

    let mut second = Server::start(&sqlite_args(dir.path(), &[]), &[]).await;
    assert!(second.banner.join("\n").contains("JWT secret: read from"));
    assert!(
        !second.banner.join("\n").contains(secret.trim()),
        "secret printed"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("jwt-secret")).unwrap(),
        secret
    );
    second.sigterm();
    assert!(second.wait(Duration::from_secs(10)).await.success());
}

#[tokio::test]
async fn json_logs_carry_the_request_id_on_every_request_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(&sqlite_args(dir.path(), &["--log-format", "json"]), &[]).await;
    let res = client()
        .get(s.url("/nope"))
        .header("x-request-id", "e2e-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    s.sigterm();
    assert!(s.wait(Duration::from_secs(10)).await.success());
    let lines: Vec<Value> = s
        .stderr()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let ours: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "e2e-req-42")
        .collect();
    assert!(!ours.is_empty(), "{lines:?}");
    let done = ours
        .iter()
        .find(|l| l["fields"]["message"] == "request completed")
        .expect("completion line");
    assert_eq!(done["span"]["status"], 404);
    assert_eq!(done["span"]["method"], "GET");
}

#[tokio::test]
async fn migrate_alone_applies_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(
        &["migrate", "--data-dir", dir.path().to_str().unwrap()],
        &[],
    )
    .output()
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));
    assert!(dir.path().join("betflow.db").exists());
}

#[tokio::test]
async fn bad_configuration_fails_at_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let cases: [(&[&str], &str); 10] = [
        (
            &["serve", "--data-dir", d, "--risk-medium", "50:1"],
            "must rise from medium",
        ),
        (
            &["serve", "--data-dir", d, "--risk-high", "ten"],
            "PERCENT:AMOUNT",
        ),
        (
            // `scheduler` is a role since the automations' scheduler; an unknown one is refused.
            &["serve", "--data-dir", d, "--roles", "api,dispatcher"],
            "dispatcher",
        ),
        (
            &["serve", "--data-dir", d, "--body-limit", "10zb"],
            "unknown unit",
        ),
        (
            &["serve", "--data-dir", d, "--request-timeout", "soon"],
            "whole number",
        ),
        (
            &["serve", "--data-dir", d, "--cors-origins", "not a url"],
            "CORS origin",
        ),
        (
            &[
                "serve",
                "--data-dir",
                d,
                "--bind",
                "127.0.0.1:0",
                "--jwt-secret",
                "short",
            ],
            "at least 32",
        ),
        (
            &["serve", "--data-dir", d, "--log-level", "[[["],
            "log-level",
        ),
        (
            &[
                "serve",
                "--data-dir",
                d,
                "--payments-webhook-secret",
                "hunter2-not-a-secret",
            ],
            "BETFLOW_PAYMENTS_WEBHOOK_SECRET is malformed: it does not start with `whsec_`",
        ),
        (
            &[
                "serve",
                "--data-dir",
                d,
                "--payments-webhook-secret",
                "whsec_c2hvcnQ=",
            ],
            "decodes to 5 bytes",
        ),
    ];
    for (args, expect) in cases {
        let out = command(args, &[]).output().await.unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{args:?}: {err}");
        // A secret, even a malformed one, is never echoed.
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[tokio::test]
async fn unreachable_postgres_is_retried_then_reported_without_the_password() {
    let out = command(
        &[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--db-connect-timeout",
            "1s",
        ],
        &[
            (
                "BETFLOW_DATABASE_URL",
                "postgres://app:hunter2@127.0.0.1:1/app",
            ),
            ("BETFLOW_JWT_SECRET", JWT),
            ("BETFLOW_ENCRYPTION_KEY", ENCRYPTION_KEY),
        ],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not reach"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn postgres_deployment_requires_a_jwt_secret_and_serves_with_one() {
    let Some(url) = testing::fresh_postgres_url().await else {
        eprintln!(
            "{} unset: PostgreSQL e2e not run",
            testing::DATABASE_URL_VAR
        );
        return;
    };
    let out = command(
        &["serve", "--bind", "127.0.0.1:0"],
        &[("BETFLOW_DATABASE_URL", &url)],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BETFLOW_JWT_SECRET is required"));

    let migrate = command(&["migrate"], &[("BETFLOW_DATABASE_URL", &url)])
        .output()
        .await
        .unwrap();
    assert!(migrate.status.success(), "{migrate:?}");

    // The encryption key is required too, and checked before the database is reached.
    let out = command(
        &["serve", "--bind", "127.0.0.1:0"],
        &[("BETFLOW_DATABASE_URL", &url), ("BETFLOW_JWT_SECRET", JWT)],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BETFLOW_ENCRYPTION_KEY is required"));

    let mut env = vec![
        ("BETFLOW_DATABASE_URL", url.as_str()),
        ("BETFLOW_JWT_SECRET", JWT),
        ("BETFLOW_ENCRYPTION_KEY", ENCRYPTION_KEY),
    ];
    let redis = testing::redis_url();
    if let Some(r) = redis.as_deref() {
        env.push(("BETFLOW_REDIS_URL", r));
    }
    let mut s = Server::start(&["serve", "--bind", "127.0.0.1:0"], &env).await;
    assert!(!s.banner.join("\n").contains("JWT secret"));
    let ready: Value = client()
        .get(s.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["databaseBackend"], "postgres", "{ready}");
    assert_eq!(ready["checks"]["database"]["status"], "up");
    if redis.is_some() {
        assert_eq!(ready["checks"]["redis"]["status"], "up", "{ready}");
    }
    s.sigterm();
    assert!(s.wait(Duration::from_secs(10)).await.success());
}

/// Swagger UI must render from the binary's embedded assets, under its CSP, with every host
/// but the server unresolvable. Runs when `BETFLOW_TEST_CHROMIUM` names a Chromium binary
/// (`.ci/run` installs Debian's and sets it).
#[tokio::test]
async fn swagger_ui_renders_in_headless_chromium_without_network() {
    let Some(chromium) = std::env::var("BETFLOW_TEST_CHROMIUM")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("BETFLOW_TEST_CHROMIUM unset: Swagger UI browser check not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(&sqlite_args(dir.path(), &[]), &[]).await;
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(s.url("/api-docs/"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), out)
        .await
        .expect("chromium timed out")
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    for path in ["/health", "/ready", "/metrics"] {
        assert!(
            dom.contains(&format!(r#"data-path="{path}""#)),
            "Swagger UI did not render {path}; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dom.contains("betflow API"));
    s.sigterm();
    assert!(s.wait(Duration::from_secs(10)).await.success());
}

#[tokio::test]
async fn first_start_creates_admin_and_the_cli_manages_users_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let mut s = Server::start(&sqlite_args(dir.path(), &[]), &[]).await;
    let banner = s.banner.join("\n");
    let admin_password = banner
        .split("created user 'admin' with password ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no admin password in banner: {banner}"))
        .to_owned();
    let http = client();
    let login = |base: String, user: &'static str, password: String| {
        let http = http.clone();
        async move {
            http.post(format!("{base}/api/v1/auth/login"))
                .json(&serde_json::json!({"username": user, "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        login(s.base.clone(), "admin", admin_password.clone())
            .await
            .status(),
        200
    );
    s.sigterm();
    assert!(s.wait(Duration::from_secs(10)).await.success());

    let run = |args: Vec<&str>| {
        let mut full = vec!["admin"];
        full.extend(args);
        let full: Vec<String> = full.into_iter().map(str::to_owned).collect();
        async move {
            let refs: Vec<&str> = full.iter().map(String::as_str).collect();
            command(&refs, &[]).output().await.unwrap()
        }
    };
    let out = run(vec![
        "create-user",
        "--data-dir",
        d,
        "--username",
        "ops",
        "--email",
        "ops@example.com",
        "--role",
        "trader",
        "--permissions",
        "apikeys:manage",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ops_password = stdout
        .split("password (shown once): ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();

    let out = run(vec![
        "create-api-key",
        "--data-dir",
        d,
        "--user",
        "ops",
        "--name",
        "ci",
        "--permissions",
        "workflows:read,apikeys:manage",
        "--expires-in",
        "30d",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = stdout
        .split("key (shown once): ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    assert!(key.starts_with("bf_"));

    for (args, expect) in [
        (
            vec![
                "create-api-key",
                "--data-dir",
                d,
                "--user",
                "ops",
                "--name",
                "x",
                "--permissions",
                "users:manage",
            ],
            "users:manage",
        ),
        (
            vec![
                "create-api-key",
                "--data-dir",
                d,
                "--user",
                "ghost",
                "--name",
                "x",
            ],
            "ghost",
        ),
        (
            vec![
                "create-user",
                "--data-dir",
                d,
                "--username",
                "x2",
                "--email",
                "x2@example.com",
                "--role",
                "overlord",
            ],
            "role",
        ),
        (
            vec![
                "create-user",
                "--data-dir",
                d,
                "--username",
                "OPS",
                "--email",
                "o2@example.com",
                "--role",
                "trader",
            ],
            "username is already taken",
        ),
    ] {
        let out = run(args.clone()).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{args:?}: {err}");
    }

    let mut s = Server::start(&sqlite_args(dir.path(), &[]), &[]).await;
    assert!(
        !s.banner.join("\n").contains("Admin:"),
        "admin is created only once"
    );
    assert_eq!(
        login(s.base.clone(), "ops", ops_password).await.status(),
        200
    );
    let me: Value = http
        .get(s.url("/api/v1/auth/me"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["username"], "ops", "{me}");
    s.sigterm();
    assert!(s.wait(Duration::from_secs(10)).await.success());
}

#[tokio::test]
async fn api_and_worker_roles_split_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("BETFLOW_ADMIN_PASSWORD", "Admin-Password-1")];
    let mut api = Server::start(&sqlite_args(dir.path(), &["--roles", "api"]), &env).await;
    assert!(
        api.banner.iter().any(|l| l.contains("Roles:      api")),
        "{:?}",
        api.banner
    );
    let http = client();
    let token = http
        .post(api.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": "Admin-Password-1"}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["data"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let definition = serde_json::json!({"key": "stamped", "name": "Stamped", "steps": [
        {"id": "stamp", "name": "Stamp", "type": "action", "action": "set_data",
         "params": {"stamped": true}}]});
    let res = http
        .post(api.url("/api/v1/workflow-definitions"))
        .bearer_auth(&token)
        .json(&definition)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: serde_json::Value = http
        .post(api.url("/api/v1/workflows"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"workflowType": "stamped", "data": {}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let get = || {
        let (http, url, token) = (
            http.clone(),
            api.url(&format!("/api/v1/workflows/{id}")),
            token.clone(),
        );
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()["data"]
                .clone()
        }
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let w = get().await;
    assert_eq!(
        (w["status"].as_str(), w["currentStep"].as_str()),
        (Some("in_progress"), Some("stamp")),
        "no worker runs in an api-only process: {w}"
    );

    let mut worker = Server::start(
        &sqlite_args(dir.path(), &["--roles", "worker", "--worker-poll", "100ms"]),
        &env,
    )
    .await;
    let res = http
        .get(worker.url("/api/v1/workflows"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "a worker process serves no API");
    let res = http.get(worker.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mut done = serde_json::Value::Null;
    for _ in 0..100 {
        done = get().await;
        if done["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["data"]["stamped"], true, "{done}");

    worker.sigterm();
    api.sigterm();
    assert!(worker.wait(Duration::from_secs(15)).await.success());
    assert!(api.wait(Duration::from_secs(15)).await.success());
}

/// The official socket.io client (Node's `socket.io-client` 4, long-polling first, then the
/// WebSocket upgrade) authenticates, subscribes and receives an approval, as the seed's
/// BettingWorkflowWebSocketClient does. Runs when `BETFLOW_TEST_SOCKETIO_CLIENT` names a
/// directory with `node_modules/socket.io-client` (`.ci/run` installs it from npm).
#[tokio::test]
async fn the_official_socket_io_client_receives_events() {
    let Some(sio) = std::env::var("BETFLOW_TEST_SOCKETIO_CLIENT")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("BETFLOW_TEST_SOCKETIO_CLIENT unset: socket.io client check not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = [("BETFLOW_ADMIN_PASSWORD", "Admin-Password-1")];
    let mut s = Server::start(&sqlite_args(dir.path(), &[]), &env).await;
    let http = client();
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut req = http.post(s.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            req.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let login = |user: &'static str, password: &'static str| {
        post(
            "/api/v1/auth/login",
            None,
            serde_json::json!({"username": user, "password": password}),
        )
    };
    let admin = login("admin", "Admin-Password-1").await["data"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, role) in [("author", "content_team"), ("boss", "content_manager")] {
        post(
            "/api/v1/users",
            Some(&admin),
            serde_json::json!({"username": name, "email": format!("{name}@example.com"),
                "password": "a-long-password", "role": role}),
        )
        .await;
    }
    let token = |v: serde_json::Value| v["data"]["accessToken"].as_str().unwrap().to_owned();
    let author = token(login("author", "a-long-password").await);
    let boss = token(login("boss", "a-long-password").await);
    let wf = post(
        "/api/v1/workflows",
        Some(&author),
        serde_json::json!({"workflowType": "content_publishing",
            "data": {"contentType": "promotion", "title": "Boost"}}),
    )
    .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let script = dir.path().join("client.js");
    std::fs::write(
        &script,
        r#"
const { io } = require(process.env.SIO + '/node_modules/socket.io-client');
const socket = io(process.env.URL, { auth: { token: process.env.TOKEN } });
socket.on('authenticated', () => socket.emit('subscribe', process.env.WF));
socket.on('subscribed', () => console.log('SUBSCRIBED ' + socket.io.engine.transport.name));
socket.on('workflow.approved', (approval, meta) => {
  console.log(JSON.stringify({ approval, meta }));
  socket.close();
  process.exit(0);
});
socket.on('connect_error', (e) => { console.error('connect_error ' + e.message); process.exit(2); });
setTimeout(() => { console.error('timed out'); process.exit(3); }, 20000);
"#,
    )
    .unwrap();
    let mut node = tokio::process::Command::new("node")
        .arg(&script)
        .env("SIO", &sio)
        .env("URL", &s.base)
        .env("TOKEN", &boss)
        .env("WF", &wf)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let mut out = BufReader::new(node.stdout.take().unwrap()).lines();
    let subscribed = tokio::time::timeout(Duration::from_secs(20), out.next_line())
        .await
        .expect("node subscribed in time")
        .unwrap()
        .unwrap_or_default();
    assert!(subscribed.starts_with("SUBSCRIBED"), "{subscribed}");
    post(
        &format!("/api/v1/workflows/{wf}/approve"),
        Some(&boss),
        serde_json::json!({"comments": "lgtm"}),
    )
    .await;
    let line = tokio::time::timeout(Duration::from_secs(20), out.next_line())
        .await
        .expect("the approval reached node")
        .unwrap()
        .unwrap_or_default();
    let got: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line}"));
    assert_eq!(got["approval"]["workflowId"], wf.as_str());
    assert_eq!(got["approval"]["decision"], "approved");
    assert_eq!(got["approval"]["comments"], "lgtm");
    assert_eq!(got["meta"]["type"], "workflow.approved");
    assert!(node.wait().await.unwrap().success());
    s.sigterm();
    assert!(s.wait(Duration::from_secs(15)).await.success());
}
