//! A closed-loop HTTP load generator: `connections` workers, each sending the next request
//! as soon as the previous answer is read, for a fixed duration over keep-alive connections.

use std::time::{Duration, Instant};

/// What one run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Sorted latencies in microseconds.
    latencies_us: Vec<u32>,
}

impl LoadReport {
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Latency at quantile `q` (0..=1) in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let idx = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies_us[idx]) / 1000.0
    }
}

pub fn client(connections: usize) -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .build()?)
}

/// Drives `url` with `connections` concurrent workers for `duration` (after `warmup`).
pub async fn run(
    url: &str,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    run_with_header(url, None, connections, warmup, duration).await
}

/// Like [`run`], sending one extra header (e.g. credentials) with every request.
pub async fn run_with_header(
    url: &str,
    header: Option<(&str, &str)>,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    let client = client(connections)?;
    let header = header.map(|(k, v)| (k.to_owned(), v.to_owned()));
    if !warmup.is_zero() {
        drive(&client, url, header.clone(), connections, warmup).await;
    }
    let started = Instant::now();
    let results = drive(&client, url, header, connections, duration).await;
    let elapsed = started.elapsed();
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for (lat, err) in results {
        latencies_us.extend(lat);
        errors += err;
    }
    latencies_us.sort_unstable();
    Ok(LoadReport {
        requests: latencies_us.len() as u64,
        errors,
        elapsed,
        latencies_us,
    })
}

async fn drive(
    client: &reqwest::Client,
    url: &str,
    header: Option<(String, String)>,
    connections: usize,
    duration: Duration,
) -> Vec<(Vec<u32>, u64)> {
    let deadline = Instant::now() + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let client = client.clone();
            let url = url.to_owned();
            let header = header.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(64 * 1024);
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let mut req = client.get(&url);
                    if let Some((k, v)) = &header {
                        req = req.header(k.as_str(), v.as_str());
                    }
                    let ok = match req.send().await {
                        Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok {
                        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                    } else {
                        errors += 1;
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(connections);
    for w in workers {
        if let Ok(r) = w.await {
            out.push(r);
        }
    }
    out
}
