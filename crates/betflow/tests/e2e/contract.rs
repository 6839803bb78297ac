//! The OpenAPI document as a contract: schemathesis, run over the whole document against the
//! real binary, as an admin and as a customer, on SQLite and (when
//! `BETFLOW_TEST_DATABASE_URL` is set) on a fresh PostgreSQL schema.
//!
//! Runs when `BETFLOW_TEST_SCHEMATHESIS` names the `schemathesis` (or `st`) executable;
//! `.ci/run` installs a pinned schemathesis from PyPI into `target/schemathesis-venv` and sets
//! it. Every check (`--checks all`) and every phase (examples, coverage, fuzzing, stateful)
//! runs, with a bounded number of examples and a fixed seed, so a failure reproduces. For a
//! deeper local run, `BETFLOW_TEST_SCHEMATHESIS_MAX_EXAMPLES` raises the bound and
//! `BETFLOW_TEST_SCHEMATHESIS_ARGS` adds arguments (say, `--include-path-regex ^/api/v1/users`).
//!
//! What the server is set up with, and why:
//! - Rate limits far above what a run sends: a 429 is documented, but a run that trips the
//!   limit stops testing anything else.
//! - Webhook deliveries (test pings, retries, event deliveries to endpoints the run
//!   registers) go through `ALL_PROXY` to a receiver on loopback that answers every plain
//!   HTTP request 200 and closes every `CONNECT`, so no request and no DNS lookup leaves the
//!   machine whatever URL the run registers; private targets are allowed for the same reason
//!   (the receiver is one). Nothing else in betflow calls out or sends mail.
//!
//! Credentials: each run logs in for its own session. `POST /api/v1/auth/logout` ends the
//! session whose token every request of a run carries, so the main runs leave it out and a
//! second, small run tests it alone with a session of its own (after its first success every
//! further call is a documented 401). Nothing else can take a run's credential away: password
//! changes need the current password (and keep the caller's session), locking follows failed
//! logins (a bearer token outlives it), suspension and key revocation reach only users and
//! keys the run itself created.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use betflow_store::testing;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

const SCHEMATHESIS_VAR: &str = "BETFLOW_TEST_SCHEMATHESIS";
const JWT: &str = "contract-test-secret-0123456789abcdef012345";
const ADMIN_PASSWORD: &str = "contract-admin-password-1";
const CUSTOMER_PASSWORD: &str = "contract-customer-password-1";
/// Test cases per operation and phase: enough to reach every status an operation documents,
/// few enough that the four runs (two roles on two backends) stay within a few minutes.
const MAX_EXAMPLES: &str = "6";
const ALL_PHASES: &str = "examples,coverage,fuzzing,stateful";
const ONE_OPERATION_PHASES: &str = "examples,coverage,fuzzing";
/// Fixed, so a failure in CI reproduces locally with the same command.
const SEED: &str = "20261207";

/// Schemathesis' configuration for every run (`--config-file`).
///
/// - `positive_data_acceptance` also expects 422. The API's convention (DESIGN.md) is 400 for
///   a request that breaks what its schema states, 422 for a schema-valid request that a
///   business rule the schema cannot state refuses: a workflow's `data` against its type's
///   data schema (types are created at run time), a definition's step graph, a stake above
///   the wallet's balance. A 400 to a schema-valid request is still a failure.
/// - Stateful: 20 scenarios of up to 10 steps (the defaults are `--max-examples` and 6), so
///   walks reach created objects' sub-resources (a webhook's test ping, then its retry).
const CONFIG: &str = r#"
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

[phases.stateful]
max-steps = 10

[phases.stateful.generation]
max-examples = 20
"#;

/// Operations left out of the main runs, each with its reason (passed to schemathesis as an
/// exact `--exclude-path`). Each is still tested, by a run of its own (see [`contract`]).
const EXCLUDED: &[(&str, &str)] = &[
    (
        "/api/v1/auth/logout",
        "ends the session every request of the run carries: tested alone, all three \
         single-operation phases, with a session of its own",
    ),
    (
        "/api/v1/events/stream",
        "an accepted request is an endless text/event-stream (a comment every 15 s keeps it \
         open) and schemathesis reads whole bodies, so every schema-valid request would hang \
         until its timeout: tested alone with schema-violating requests only (each a 4xx at \
         once; one that hangs fails the run at its 10 s timeout); the accepted stream's \
         events, resumption and filters are tested in crates/betflow-api/tests/realtime.rs",
    ),
];

fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var(SCHEMATHESIS_VAR)
        .ok()
        .filter(|s| !s.is_empty())?;
    Some(PathBuf::from(path))
}

/// A loopback HTTP endpoint standing in for every webhook receiver: plain HTTP requests
/// (which a proxy receives in absolute form) get `200 ok`; a `CONNECT` (an `https://` target)
/// is closed, so the delivery fails without leaving the machine.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::Relaxed);
                if head.starts_with(b"CONNECT ") {
                    return;
                }
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

struct Server {
    _child: Child,
    base: String,
}

impl Server {
    async fn start(backend: &Backend, proxy: &str) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_betflow"));
        for (k, _) in std::env::vars() {
            let upper = k.to_ascii_uppercase();
            if k.starts_with("BETFLOW_") || upper.ends_with("_PROXY") {
                cmd.env_remove(k);
            }
        }
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .env("BETFLOW_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("BETFLOW_RATE_LIMIT", "1000000/1m")
            .env("BETFLOW_LOGIN_RATE_LIMIT", "1000000/1m")
            .env("BETFLOW_REGISTER_RATE_LIMIT", "1000000/1m")
            .env("BETFLOW_ACCESS_TOKEN_TTL", "2h")
            .env("BETFLOW_WEBHOOKS_ALLOW_PRIVATE", "true")
            .env("BETFLOW_LOG_LEVEL", "warn")
            .env("ALL_PROXY", proxy)
            .env("NO_PROXY", "")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        match backend {
            Backend::Sqlite(dir) => {
                cmd.args(["--data-dir", dir.to_str().unwrap()]);
            }
            Backend::Postgres(url) => {
                cmd.env("BETFLOW_DATABASE_URL", url)
                    .env("BETFLOW_JWT_SECRET", JWT)
                    .env(
                        "BETFLOW_ENCRYPTION_KEY",
                        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                    );
                if let Some(redis) = testing::redis_url() {
                    cmd.env("BETFLOW_REDIS_URL", redis);
                }
            }
        }
        let mut child = cmd.spawn().expect("spawn betflow");
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = out.next_line().await.unwrap() {
                if let Some(url) = line.split("listening on ").nth(1) {
                    return url.trim().to_owned();
                }
            }
            panic!("betflow exited before listening");
        })
        .await
        .expect("betflow did not start within 60s");
        // Keep draining the banner so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
        Server {
            _child: child,
            base,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> Value {
    let res = http.post(&url).json(&body).send().await.unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert!(status.is_success(), "POST {url}: {status} {body}");
    body
}

/// A fresh session's access token.
async fn login(http: &reqwest::Client, s: &Server, username: &str, password: &str) -> String {
    let body = post(
        http,
        s.url("/api/v1/auth/login"),
        json!({"username": username, "password": password}),
    )
    .await;
    body["data"]["accessToken"].as_str().unwrap().to_owned()
}

async fn register_customer(http: &reqwest::Client, s: &Server) {
    post(
        http,
        s.url("/api/v1/auth/register"),
        json!({
            "username": "contract-customer",
            "email": "contract-customer@example.com",
            "password": CUSTOMER_PASSWORD,
            "dateOfBirth": "1990-05-17",
            "countryCode": "GB",
            "currencyCode": "GBP",
            "timezone": "Europe/London",
        }),
    )
    .await;
}

/// One schemathesis run; returns its exit status' success and its whole output.
async fn run_schemathesis(
    st: &Path,
    s: &Server,
    token: &str,
    scope: &[String],
    phases: &str,
    label: &str,
) -> (bool, String, Duration) {
    let max_examples = std::env::var("BETFLOW_TEST_SCHEMATHESIS_MAX_EXAMPLES")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| MAX_EXAMPLES.to_owned());
    let extra: Vec<String> = std::env::var("BETFLOW_TEST_SCHEMATHESIS_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    // Its working directory is a fresh one: schemathesis keeps a `.schemathesis` cache there.
    let workdir = tempfile::tempdir().unwrap();
    let config = workdir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut cmd = Command::new(st);
    cmd.current_dir(workdir.path())
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(s.url("/api-docs/openapi.json"))
        .args(["--checks", "all"])
        .args(["--phases", phases])
        .args(["--max-examples", &max_examples])
        .args(["--seed", SEED])
        .args(["--request-timeout", "30"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(scope)
        .args(&extra)
        .env("NO_COLOR", "1")
        // Hypothesis loads a profile of its own when `CI` is set; without it, a run on a
        // developer's machine is the run CI makes.
        .env_remove("CI")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.to_ascii_uppercase().ends_with("_PROXY") {
            cmd.env_remove(k);
        }
    }
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(900), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ({label}) did not finish within 15 minutes"))
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text, started.elapsed())
}

async fn contract(st: &Path, backend: Backend, name: &str) {
    let (proxy, deliveries) = receiver().await;
    let s = Server::start(&backend, &proxy).await;
    let http = client();
    register_customer(&http, &s).await;
    let admin = login(&http, &s, "admin", ADMIN_PASSWORD).await;
    let customer = login(&http, &s, "contract-customer", CUSTOMER_PASSWORD).await;
    let admin_logout = login(&http, &s, "admin", ADMIN_PASSWORD).await;
    let customer_logout = login(&http, &s, "contract-customer", CUSTOMER_PASSWORD).await;

    let mut main_scope = Vec::new();
    for (path, _reason) in EXCLUDED {
        main_scope.push("--exclude-path".to_owned());
        main_scope.push((*path).to_owned());
    }
    let logout_scope = vec![
        "--include-path".to_owned(),
        "/api/v1/auth/logout".to_owned(),
    ];
    let stream_scope = [
        "--include-path",
        "/api/v1/events/stream",
        "--mode",
        "negative",
        "--request-timeout",
        "10",
    ]
    .map(str::to_owned)
    .to_vec();

    // The two roles at once: the server is shared, as it would be.
    let (as_admin, as_customer) = tokio::join!(
        run_schemathesis(st, &s, &admin, &main_scope, ALL_PHASES, "admin"),
        run_schemathesis(st, &s, &customer, &main_scope, ALL_PHASES, "customer"),
    );
    // The operations the main runs leave out, each alone. They have no link to walk
    // (stateful would have no scenario), so these runs have the other three phases.
    let (admin_out, customer_out, admin_stream, customer_stream) = tokio::join!(
        run_schemathesis(
            st,
            &s,
            &admin_logout,
            &logout_scope,
            ONE_OPERATION_PHASES,
            "admin logout"
        ),
        run_schemathesis(
            st,
            &s,
            &customer_logout,
            &logout_scope,
            ONE_OPERATION_PHASES,
            "customer logout"
        ),
        run_schemathesis(
            st,
            &s,
            &admin,
            &stream_scope,
            ONE_OPERATION_PHASES,
            "admin stream"
        ),
        run_schemathesis(
            st,
            &s,
            &customer,
            &stream_scope,
            ONE_OPERATION_PHASES,
            "customer stream"
        ),
    );
    let runs = [
        ("admin", as_admin),
        ("customer", as_customer),
        ("admin, logout alone", admin_out),
        ("customer, logout alone", customer_out),
        ("admin, event stream alone (negative)", admin_stream),
        ("customer, event stream alone (negative)", customer_stream),
    ];
    let mut failed = Vec::new();
    for (label, (ok, output, took)) in &runs {
        let summary = output
            .lines()
            .rev()
            .find(|l| l.contains(" in ") && l.contains("=="))
            .unwrap_or("(no summary line)");
        eprintln!("schemathesis on {name} as {label}: {summary} ({took:.0?})");
        // What was covered, also on success: phases, links walked, cases generated.
        for line in output.lines().filter(|l| {
            let l = l.trim_start();
            [
                "✅",
                "❌",
                "⏭",
                "🚫",
                "Operations:",
                "Scenarios:",
                "API Links:",
            ]
            .iter()
            .any(|p| l.starts_with(p))
                || l.contains(" generated, ")
        }) {
            eprintln!("    {}", line.trim());
        }
        if !ok {
            eprintln!("---- schemathesis output ({name}, {label}) ----\n{output}");
            failed.push(*label);
        }
    }
    eprintln!(
        "webhook receiver on {name}: {} requests",
        deliveries.load(Ordering::Relaxed)
    );
    assert!(
        failed.is_empty(),
        "schemathesis found contract violations on {name} as {failed:?} (output above)"
    );
}

#[tokio::test]
async fn the_openapi_document_holds_against_the_server_on_sqlite() {
    let Some(st) = schemathesis() else {
        eprintln!("{SCHEMATHESIS_VAR} unset: the schemathesis contract check did not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    contract(&st, Backend::Sqlite(dir.path().to_owned()), "SQLite").await;
}

#[tokio::test]
async fn the_openapi_document_holds_against_the_server_on_postgres() {
    let Some(st) = schemathesis() else {
        eprintln!("{SCHEMATHESIS_VAR} unset: the schemathesis contract check did not run");
        return;
    };
    let Some(url) = testing::fresh_postgres_url().await else {
        eprintln!(
            "{} unset: the schemathesis contract check on PostgreSQL did not run",
            testing::DATABASE_URL_VAR
        );
        return;
    };
    contract(&st, Backend::Postgres(url), "PostgreSQL").await;
}
