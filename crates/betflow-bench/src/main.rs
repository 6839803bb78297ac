//! `betflow-bench`: the benchmark scenarios behind docs/benchmarks.md.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use betflow_bench::{load, median, process};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "betflow benchmark scenarios")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Cold start to ready, and idle RSS, on the embedded SQLite default.
    Startup {
        /// The betflow binary (build it with `cargo build --release`).
        #[arg(long, default_value = "target/release/betflow")]
        betflow: PathBuf,
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// How long the server idles before RSS is read.
        #[arg(long, default_value = "2")]
        idle_secs: u64,
    },
    /// `GET /health` throughput on betflow beside a bare axum hello server, same run.
    Health {
        #[arg(long, default_value = "target/release/betflow")]
        betflow: PathBuf,
        #[arg(long, default_value = "target/release/hello")]
        hello: PathBuf,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds per measured round.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Rounds per server, alternating, to even out machine noise.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Approval workflows end to end: each client creates a line-change workflow and approves
    /// it through its three steps, as three different users. Reports workflows and
    /// transitions per second, with per-request latency.
    Workflows {
        #[arg(long, default_value = "target/release/betflow")]
        betflow: PathBuf,
        /// PostgreSQL URL to run against instead of the embedded SQLite.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Bet placement: funded customers place singles, first spread over many markets, then
    /// all on one hot market. Reports accepted bets per second with request latency, per
    /// round and the medians.
    Bets {
        #[arg(long, default_value = "target/release/betflow")]
        betflow: PathBuf,
        /// PostgreSQL URL to run against instead of the embedded SQLite.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Seconds per measured round.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long, default_value_t = 50)]
        markets: usize,
        #[arg(long, default_value_t = 200)]
        customers: usize,
    },
    /// Real-time: socket.io connections subscribed to one workflow (memory per connection),
    /// fan-out latency and throughput of its events, and signed webhook deliveries per second
    /// to a local receiver. Needs a file-descriptor limit above the socket count.
    Realtime {
        #[arg(long, default_value = "target/release/betflow")]
        betflow: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        sockets: usize,
        /// Events sent one at a time for the latency figures.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Events sent back to back for the throughput figure.
        #[arg(long, default_value_t = 50)]
        burst: usize,
        /// Events delivered to the webhook receiver.
        #[arg(long, default_value_t = 2000)]
        webhook_events: usize,
    },
    /// Authenticated throughput (JWT and API key on `GET /api/v1/auth/me`) beside the
    /// unauthenticated `GET /health`, same run; and the cost of one login (Argon2id).
    Auth {
        #[arg(long, default_value = "target/release/betflow")]
        betflow: PathBuf,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Sequential logins timed for the password-hashing cost.
        #[arg(long, default_value_t = 20)]
        logins: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Startup {
            betflow,
            runs,
            idle_secs,
        } => startup(&betflow, runs, Duration::from_secs(idle_secs)).await,
        Scenario::Health {
            betflow,
            hello,
            connections,
            seconds,
            rounds,
        } => {
            health(
                &betflow,
                &hello,
                connections,
                Duration::from_secs(seconds),
                rounds,
            )
            .await
        }
        Scenario::Bets {
            betflow,
            database_url,
            connections,
            seconds,
            rounds,
            markets,
            customers,
        } => {
            bets(
                &betflow,
                database_url,
                connections,
                Duration::from_secs(seconds),
                rounds,
                markets,
                customers,
            )
            .await
        }
        Scenario::Workflows {
            betflow,
            database_url,
            connections,
            seconds,
        } => {
            workflows(
                &betflow,
                database_url,
                connections,
                Duration::from_secs(seconds),
            )
            .await
        }
        Scenario::Realtime {
            betflow,
            sockets,
            rounds,
            burst,
            webhook_events,
        } => realtime(&betflow, sockets, rounds, burst, webhook_events).await,
        Scenario::Auth {
            betflow,
            connections,
            seconds,
            rounds,
            logins,
        } => {
            auth(
                &betflow,
                connections,
                Duration::from_secs(seconds),
                rounds,
                logins,
            )
            .await
        }
    }
}

const QUIET: [(&str, &str); 1] = [("BETFLOW_LOG_LEVEL", "warn")];

async fn startup(betflow: &std::path::Path, runs: usize, idle: Duration) -> anyhow::Result<()> {
    let (mut fresh, mut warm, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        let d = dir.path().to_str().unwrap_or_default();
        let args = ["serve", "--bind", "127.0.0.1:0", "--data-dir", d];
        for first in [true, false] {
            let t = Instant::now();
            let server = process::start(betflow, &args, &QUIET).await?;
            let ready = process::wait_ready(&format!("{}/ready", server.base), t).await?;
            if first {
                fresh.push(ready.as_secs_f64() * 1000.0);
                tokio::time::sleep(idle).await;
                rss.push(server.rss_kib()? as f64 / 1024.0);
            } else {
                warm.push(ready.as_secs_f64() * 1000.0);
            }
            server.stop().await?;
        }
    }
    println!("startup to /ready 200 over {runs} runs (median):");
    println!(
        "  fresh data dir (creates DB, runs migrations): {:.1} ms",
        median(&mut fresh)
    );
    println!(
        "  existing data dir:                           {:.1} ms",
        median(&mut warm)
    );
    println!(
        "  idle RSS after {}s:                           {:.1} MiB",
        idle.as_secs(),
        median(&mut rss)
    );
    Ok(())
}

async fn health(
    betflow: &std::path::Path,
    hello: &std::path::Path,
    connections: usize,
    duration: Duration,
    rounds: usize,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = dir.path().to_str().unwrap_or_default();
    let bf = process::start(
        betflow,
        &["serve", "--bind", "127.0.0.1:0", "--data-dir", d],
        &QUIET,
    )
    .await?;
    let hi = process::start(hello, &["127.0.0.1:0"], &[]).await?;
    let targets = [
        ("betflow GET /health", &bf.base),
        ("bare axum hello", &hi.base),
    ];
    let mut results: Vec<Vec<load::LoadReport>> = vec![Vec::new(), Vec::new()];
    for round in 0..rounds {
        for (i, (name, base)) in targets.iter().enumerate() {
            let url = format!("{base}/health");
            let r = load::run(&url, connections, Duration::from_secs(2), duration).await?;
            eprintln!(
                "round {}: {name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                round + 1,
                r.requests_per_sec(),
                r.latency_ms(0.5),
                r.latency_ms(0.99),
                r.errors
            );
            results[i].push(r);
        }
    }
    println!(
        "GET /health, {connections} connections, {}s x {rounds} rounds (median of rounds):",
        duration.as_secs()
    );
    for ((name, _), reports) in targets.iter().zip(&results) {
        let mut rps: Vec<f64> = reports.iter().map(|r| r.requests_per_sec()).collect();
        let mut p50: Vec<f64> = reports.iter().map(|r| r.latency_ms(0.5)).collect();
        let mut p99: Vec<f64> = reports.iter().map(|r| r.latency_ms(0.99)).collect();
        let errors: u64 = reports.iter().map(|r| r.errors).sum();
        println!(
            "  {name:<22} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {errors}",
            median(&mut rps),
            median(&mut p50),
            median(&mut p99)
        );
    }
    bf.stop().await?;
    hi.stop().await?;
    Ok(())
}

/// A benchmark target: name, URL, and an optional header sent with every request.
type Target<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);

async fn auth(
    betflow: &std::path::Path,
    connections: usize,
    duration: Duration,
    rounds: usize,
    logins: usize,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = dir.path().to_str().unwrap_or_default();
    let password = "bench-admin-password";
    let env = [
        ("BETFLOW_LOG_LEVEL", "warn"),
        ("BETFLOW_ADMIN_PASSWORD", password),
        ("BETFLOW_RATE_LIMIT", "1000000000/15m"),
        ("BETFLOW_LOGIN_RATE_LIMIT", "1000000/1m"),
    ];
    let bf = process::start(
        betflow,
        &["serve", "--bind", "127.0.0.1:0", "--data-dir", d],
        &env,
    )
    .await?;
    let http = load::client(1)?;
    let login_url = format!("{}/api/v1/auth/login", bf.base);
    let body = serde_json::json!({"username": "admin", "password": password});

    let mut login_ms = Vec::new();
    let mut token = String::new();
    for _ in 0..logins.max(1) {
        let t = Instant::now();
        let res: serde_json::Value = http
            .post(&login_url)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        login_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        token = res["data"]["accessToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    anyhow::ensure!(!token.is_empty(), "login failed");
    let key: serde_json::Value = http
        .post(format!("{}/api/v1/api-keys", bf.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let key = key["data"]["key"].as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(!key.is_empty(), "API key creation failed");

    let bearer = format!("Bearer {token}");
    let me = format!("{}/api/v1/auth/me", bf.base);
    let health = format!("{}/health", bf.base);
    let targets: [Target; 3] = [
        ("GET /health (no auth)", &health, None),
        (
            "GET /api/v1/auth/me JWT",
            &me,
            Some(("authorization", &bearer)),
        ),
        ("GET /api/v1/auth/me key", &me, Some(("x-api-key", &key))),
    ];
    let mut results: Vec<Vec<load::LoadReport>> = vec![Vec::new(); targets.len()];
    for round in 0..rounds {
        for (i, (name, url, header)) in targets.iter().enumerate() {
            let r =
                load::run_with_header(url, *header, connections, Duration::from_secs(2), duration)
                    .await?;
            eprintln!(
                "round {}: {name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                round + 1,
                r.requests_per_sec(),
                r.latency_ms(0.5),
                r.latency_ms(0.99),
                r.errors
            );
            results[i].push(r);
        }
    }
    println!(
        "login (Argon2id verify + session write), {} sequential: median {:.1} ms",
        login_ms.len(),
        median(&mut login_ms)
    );
    println!(
        "{connections} connections, {}s x {rounds} rounds (median of rounds):",
        duration.as_secs()
    );
    for ((name, _, _), reports) in targets.iter().zip(&results) {
        let mut rps: Vec<f64> = reports.iter().map(|r| r.requests_per_sec()).collect();
        let mut p50: Vec<f64> = reports.iter().map(|r| r.latency_ms(0.5)).collect();
        let mut p99: Vec<f64> = reports.iter().map(|r| r.latency_ms(0.99)).collect();
        let errors: u64 = reports.iter().map(|r| r.errors).sum();
        println!(
            "  {name:<26} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {errors}",
            median(&mut rps),
            median(&mut p50),
            median(&mut p99)
        );
    }
    bf.stop().await?;
    Ok(())
}

const BENCH_ADMIN_PASSWORD: &str = "bench-admin-password";

/// Starts betflow for a load scenario: no rate limits, a known admin password, a fixed JWT
/// secret, on PostgreSQL when `database_url` is given, else on SQLite in a temporary
/// directory (kept alive by the returned guard).
async fn start_loaded_server(
    betflow: &std::path::Path,
    database_url: Option<&str>,
) -> anyhow::Result<(process::Running, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let d = dir.path().to_str().unwrap_or_default().to_owned();
    let mut env = vec![
        ("BETFLOW_LOG_LEVEL", "warn"),
        ("BETFLOW_ADMIN_PASSWORD", BENCH_ADMIN_PASSWORD),
        ("BETFLOW_RATE_LIMIT", "1000000000/15m"),
        ("BETFLOW_LOGIN_RATE_LIMIT", "1000000/1m"),
        // The bets scenario registers its customers from one address.
        ("BETFLOW_REGISTER_RATE_LIMIT", "1000000/1m"),
        (
            "BETFLOW_JWT_SECRET",
            "bench-secret-0123456789abcdef0123456789",
        ),
        // Required with PostgreSQL (stored secrets are encrypted under it).
        (
            "BETFLOW_ENCRYPTION_KEY",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ),
    ];
    if let Some(url) = database_url {
        env.push(("BETFLOW_DATABASE_URL", url));
    }
    let bf = process::start(
        betflow,
        &["serve", "--bind", "127.0.0.1:0", "--data-dir", &d],
        &env,
    )
    .await?;
    Ok((bf, dir))
}

async fn workflows(
    betflow: &std::path::Path,
    database_url: Option<String>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<()> {
    let (bf, _dir) = start_loaded_server(betflow, database_url.as_deref()).await?;
    let password = BENCH_ADMIN_PASSWORD;
    let http = load::client(connections * 4)?;
    let base = bf.base.clone();
    let login = |user: String, pw: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r: serde_json::Value = http
                .post(format!("{base}/api/v1/auth/login"))
                .json(&serde_json::json!({"username": user, "password": pw}))
                .send()
                .await?
                .json()
                .await?;
            let token = r["data"]["accessToken"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            anyhow::ensure!(!token.is_empty(), "login as {user} failed: {r}");
            Ok::<_, anyhow::Error>(token)
        }
    };
    let admin = login("admin".into(), password.into()).await?;
    let suffix = std::process::id();
    let mut tokens = Vec::new();
    for role in [
        "trading_manager",
        "trading_manager",
        "senior_trader",
        "risk_manager",
    ] {
        let name = format!("{role}{}_{suffix}", tokens.len());
        let res = http
            .post(format!("{base}/api/v1/users"))
            .bearer_auth(&admin)
            .json(
                &serde_json::json!({"username": name, "email": format!("{name}@bench.example"),
                "password": "bench-password", "role": role}),
            )
            .send()
            .await?;
        anyhow::ensure!(
            res.status().is_success(),
            "creating {name}: {}",
            res.text().await?
        );
        tokens.push(login(name, "bench-password".into()).await?);
    }
    let tokens = std::sync::Arc::new(tokens);
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let http = http.clone();
            let base = base.clone();
            let tokens = tokens.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let (mut done, mut errors) = (0u64, 0u64);
                let body = serde_json::json!({"workflowType": "line_change_approval", "priority": "high",
                    "data": {"lineId": "l-1", "eventName": "A v B", "oldOdds": 1.85, "newOdds": 1.95,
                             "marketType": "match_winner", "financialImpact": 25000}});
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let created = http.post(format!("{base}/api/v1/workflows")).bearer_auth(&tokens[0]).json(&body).send().await;
                    let id = match created {
                        Ok(r) if r.status().is_success() => {
                            let v: serde_json::Value = r.json().await.unwrap_or_default();
                            v["data"]["id"].as_str().unwrap_or_default().to_owned()
                        }
                        _ => {
                            errors += 1;
                            continue;
                        }
                    };
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    let mut ok = true;
                    for token in &tokens[1..] {
                        let t = Instant::now();
                        let r = http.post(format!("{base}/api/v1/workflows/{id}/approve")).bearer_auth(token).send().await;
                        match r {
                            Ok(r) if r.status().is_success() => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                            _ => {
                                ok = false;
                                errors += 1;
                                break;
                            }
                        }
                    }
                    if ok {
                        done += 1;
                    }
                }
                (lat, done, errors)
            })
        })
        .collect();
    let (mut lat, mut done, mut errors) = (Vec::new(), 0u64, 0u64);
    for w in workers {
        let (l, d, e) = w.await?;
        lat.extend(l);
        done += d;
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| {
        lat.get(((lat.len().saturating_sub(1)) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "{} workflows, {connections} clients, {:.0}s: {:.1} workflows/s completed, {:.1} transitions/s \
         (create + 3 approvals), request p50 {:.2} ms, p99 {:.2} ms, {errors} errors",
        if database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        elapsed,
        done as f64 / elapsed,
        lat.len() as f64 / elapsed,
        q(0.5),
        q(0.99),
    );
    bf.stop().await?;
    Ok(())
}

async fn bets(
    betflow: &std::path::Path,
    database_url: Option<String>,
    connections: usize,
    duration: Duration,
    rounds: usize,
    markets: usize,
    customers: usize,
) -> anyhow::Result<()> {
    let (bf, _dir) = start_loaded_server(betflow, database_url.as_deref()).await?;
    let password = BENCH_ADMIN_PASSWORD;
    let http = load::client(connections * 2)?;
    let setup_started = Instant::now();
    // Enough for every bet of every round at 1.00 a bet.
    let book = std::sync::Arc::new(
        betflow_bench::bets::setup(&bf, &http, password, markets, customers, 10_000_000).await?,
    );
    let backend = if database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "{backend}: {markets} markets, {customers} customers set up in {:.1}s",
        setup_started.elapsed().as_secs_f64()
    );
    for hot in [false, true] {
        let (mut rates, mut p50s, mut p99s) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=rounds {
            let r =
                betflow_bench::bets::place(&bf, &http, book.clone(), connections, duration, hot)
                    .await?;
            println!(
                "  {} round {round}: {:.0} bets/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                if hot { "hot market" } else { "spread" },
                r.per_sec(),
                r.latency_ms(0.5),
                r.latency_ms(0.99),
                r.errors
            );
            rates.push(r.per_sec());
            p50s.push(r.latency_ms(0.5));
            p99s.push(r.latency_ms(0.99));
        }
        println!(
            "{backend} {}, {connections} clients: median {:.0} bets/s, p50 {:.2} ms, p99 {:.2} ms",
            if hot { "hot market" } else { "spread" },
            median(&mut rates),
            median(&mut p50s),
            median(&mut p99s)
        );
    }
    bf.stop().await?;
    Ok(())
}

async fn realtime(
    betflow: &std::path::Path,
    sockets: usize,
    rounds: usize,
    burst: usize,
    webhook_events: usize,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = dir.path().to_str().unwrap_or_default().to_owned();
    let password = "bench-admin-password";
    let env = [
        ("BETFLOW_LOG_LEVEL", "warn"),
        ("BETFLOW_ADMIN_PASSWORD", password),
        ("BETFLOW_RATE_LIMIT", "1000000000/15m"),
        ("BETFLOW_LOGIN_RATE_LIMIT", "1000000/1m"),
        ("BETFLOW_WEBHOOKS_ALLOW_PRIVATE", "true"),
        ("BETFLOW_SOCKET_AUTH_GRACE", "60s"),
    ];
    let bf = process::start(
        betflow,
        &["serve", "--bind", "127.0.0.1:0", "--data-dir", &d],
        &env,
    )
    .await?;
    let http = load::client(16)?;
    let r: serde_json::Value = http
        .post(format!("{}/api/v1/auth/login", bf.base))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await?
        .json()
        .await?;
    let token = r["data"]["accessToken"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("login failed: {r}"))?
        .to_owned();
    let result =
        betflow_bench::realtime::run(&bf, &http, &token, sockets, rounds, burst, webhook_events)
            .await;
    bf.stop().await?;
    result
}
