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
