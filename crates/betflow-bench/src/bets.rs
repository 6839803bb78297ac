//! Bet placement: many funded customers place singles, spread over many markets and then
//! concentrated on one hot market. Reports accepted bets per second with request latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::process::Running;

/// A sized betting book: markets of two selections each, and funded customers' tokens.
pub struct Book {
    /// (selection ids) per market.
    pub markets: Vec<[String; 2]>,
    pub customers: Vec<String>,
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut req = http.post(&url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await?;
    let status = res.status();
    let v: Value = res.json().await.unwrap_or_default();
    ensure!(status.is_success(), "POST {url}: {status} {v}");
    Ok(v)
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<String> {
    let v = post(
        http,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"username": user, "password": password}),
    )
    .await?;
    v["data"]["accessToken"]
        .as_str()
        .map(str::to_owned)
        .context("no token")
}

fn id(v: &Value) -> anyhow::Result<String> {
    v["data"]["id"].as_str().map(str::to_owned).context("no id")
}

/// Creates `markets` events with a moneyline market each and `customers` customers with
/// `funds` (minor units) deposited and completed.
pub async fn setup(
    bf: &Running,
    http: &reqwest::Client,
    admin_password: &str,
    markets: usize,
    customers: usize,
    funds: i64,
) -> anyhow::Result<Book> {
    let base = bf.base.as_str();
    let admin = login(http, base, "admin", admin_password).await?;
    let a = Some(admin.as_str());
    let sport = id(&post(
        http,
        format!("{base}/api/v1/sports"),
        a,
        json!({"name": "football", "displayName": "Football", "slug": "football"}),
    )
    .await?)?;
    let mut teams = Vec::new();
    for name in ["home", "away"] {
        teams.push(id(&post(
            http,
            format!("{base}/api/v1/teams"),
            a,
            json!({"sportId": sport, "name": name, "displayName": name, "slug": name}),
        )
        .await?)?);
    }
    let start = "2099-01-01T12:00:00Z";
    let mut book = Book {
        markets: Vec::new(),
        customers: Vec::new(),
    };
    for _ in 0..markets {
        let event = id(&post(
            http,
            format!("{base}/api/v1/events"),
            a,
            json!({"sportId": sport,
            "homeTeamId": teams[0], "awayTeamId": teams[1], "startTime": start}),
        )
        .await?)?;
        let market = id(&post(
            http,
            format!("{base}/api/v1/markets"),
            a,
            json!({"eventId": event, "type": "moneyline", "name": "Match result"}),
        )
        .await?)?;
        let mut sel = [String::new(), String::new()];
        for (i, name) in ["Home", "Away"].iter().enumerate() {
            sel[i] = id(&post(
                http,
                format!("{base}/api/v1/selections"),
                a,
                json!({"marketId": market, "name": name, "odds": "1.9"}),
            )
            .await?)?;
        }
        book.markets.push(sel);
    }
    // Customers in parallel: registration and login hash passwords (Argon2id).
    let suffix = std::process::id();
    let tokens: Vec<anyhow::Result<String>> = futures::stream::iter(0..customers)
        .map(|i| {
            let http = http.clone();
            let base = base.to_owned();
            let admin = admin.clone();
            async move {
                let name = format!("punter{i}_{suffix}");
                post(
                    &http,
                    format!("{base}/api/v1/auth/register"),
                    None,
                    json!({
                    "username": name, "email": format!("{name}@bench.example"),
                    "password": "bench-password", "dateOfBirth": "1990-01-01",
                    "countryCode": "GB", "currencyCode": "GBP", "timezone": "Europe/London"}),
                )
                .await?;
                let token = login(&http, &base, &name, "bench-password").await?;
                let dep = id(&post(
                    &http,
                    format!("{base}/api/v1/wallet/deposits"),
                    Some(&token),
                    json!({"amount": funds}),
                )
                .await?)?;
                post(
                    &http,
                    format!("{base}/api/v1/wallet/transactions/{dep}/resolve"),
                    Some(&admin),
                    json!({"status": "completed"}),
                )
                .await?;
                Ok(token)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for t in tokens {
        book.customers.push(t?);
    }
    Ok(book)
}

/// What one placement run measured.
pub struct BetReport {
    pub accepted: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Sorted, milliseconds.
    pub latencies: Vec<f64>,
}

impl BetReport {
    pub fn per_sec(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64()
    }

    pub fn latency_ms(&self, q: f64) -> f64 {
        self.latencies
            .get(((self.latencies.len().saturating_sub(1)) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// `connections` clients place 1.00 singles at the quoted 1.9 for `duration`, each bet by a
/// random customer on a random selection of a random market (or of market 0 when `hot`).
pub async fn place(
    bf: &Running,
    http: &reqwest::Client,
    book: Arc<Book>,
    connections: usize,
    duration: Duration,
    hot: bool,
) -> anyhow::Result<BetReport> {
    let url = format!("{}/api/v1/bets", bf.base);
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|w| {
            let http = http.clone();
            let url = url.clone();
            let book = book.clone();
            tokio::spawn(async move {
                // xorshift64: enough randomness to spread load, no dependency.
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (w as u64 + 1);
                let mut next = move |n: usize| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % n as u64) as usize
                };
                let (mut lat, mut ok, mut errors) = (Vec::new(), 0u64, 0u64);
                while Instant::now() < deadline {
                    let customer = &book.customers[next(book.customers.len())];
                    let market = if hot { 0 } else { next(book.markets.len()) };
                    let selection = &book.markets[market][next(2)];
                    let body = json!({"type": "single", "stake": 100,
                        "legs": [{"selectionId": selection, "odds": "1.9"}]});
                    let t = Instant::now();
                    match http
                        .post(&url)
                        .bearer_auth(customer)
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(r) if r.status().as_u16() == 201 => {
                            let _ = r.bytes().await;
                            lat.push(t.elapsed().as_secs_f64() * 1000.0);
                            ok += 1;
                        }
                        _ => errors += 1,
                    }
                }
                (lat, ok, errors)
            })
        })
        .collect();
    let mut report = BetReport {
        accepted: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for w in workers {
        let (l, ok, e) = w.await?;
        report.latencies.extend(l);
        report.accepted += ok;
        report.errors += e;
    }
    report.elapsed = started.elapsed();
    report.latencies.sort_by(f64::total_cmp);
    Ok(report)
}
