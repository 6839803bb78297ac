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
