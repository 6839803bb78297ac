//! The real-time scenario: many socket.io connections (raw Engine.IO v4 over WebSockets, as
//! the official client speaks it) subscribed to one workflow, then fan-out latency and
//! throughput of its events, and signed webhook deliveries to a local receiver.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::process::Running;

/// Shared by every socket task: when the current round was sent, and what arrived.
#[derive(Default)]
pub struct Tally {
    /// Nanoseconds since `origin` at which the current round's event was sent.
    sent_at: AtomicU64,
    delivered: AtomicUsize,
    latencies_ms: Mutex<Vec<f64>>,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn frame(ws: &mut Ws) -> anyhow::Result<String> {
    loop {
        match ws.next().await.context("socket closed")?? {
            Message::Text(t) if t.as_str() == "2" => ws.send(Message::text("3")).await?,
            Message::Text(t) => return Ok(t.as_str().to_owned()),
            Message::Close(_) => bail!("socket closed by the server"),
            _ => {}
        }
    }
}

async fn until_event(ws: &mut Ws, name: &str) -> anyhow::Result<()> {
    let prefix = format!("42[\"{name}\"");
    loop {
        let f = frame(ws).await?;
        if f.starts_with(&prefix) {
            return Ok(());
        }
        if f.starts_with("42[\"authentication_error\"") || f.starts_with("42[\"error\"") {
            bail!("socket refused: {f}");
        }
    }
}

/// Connects, authenticates with the handshake token and subscribes to `workflow`.
async fn open(base: &str, token: &str, workflow: &str) -> anyhow::Result<Ws> {
    let url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        base.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let open = frame(&mut ws).await?;
    anyhow::ensure!(
        open.starts_with('0'),
        "not an Engine.IO open packet: {open}"
    );
    ws.send(Message::text(format!("40{}", json!({"token": token}))))
        .await?;
    until_event(&mut ws, "authenticated").await?;
    ws.send(Message::text(format!(
        "42{}",
        json!(["subscribe", workflow])
    )))
    .await?;
    until_event(&mut ws, "subscribed").await?;
    Ok(ws)
}

/// Reads events for as long as the socket lives, timing each `workflow.updated`.
fn listen(mut ws: Ws, tally: Arc<Tally>, origin: Instant) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok(f) = frame(&mut ws).await {
            if f.starts_with("42[\"workflow.updated\"") {
                let now = origin.elapsed().as_nanos() as u64;
                let sent = tally.sent_at.load(Ordering::Acquire);
                tally
                    .latencies_ms
                    .lock()
                    .unwrap()
                    .push(now.saturating_sub(sent) as f64 / 1e6);
                tally.delivered.fetch_add(1, Ordering::AcqRel);
            }
        }
    })
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len().saturating_sub(1)) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

async fn wait_for(count: &AtomicUsize, target: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while count.load(Ordering::Acquire) < target {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}

/// Runs the scenario against a started server; `token` is an admin's.
pub async fn run(
    bf: &Running,
    http: &reqwest::Client,
    token: &str,
    sockets: usize,
    rounds: usize,
    burst: usize,
    webhook_events: usize,
) -> anyhow::Result<()> {
    let base = bf.base.clone();
    let create = |http: reqwest::Client| {
        let (base, token) = (base.clone(), token.to_owned());
        async move {
            let r: Value = http
                .post(format!("{base}/api/v1/workflows"))
                .bearer_auth(&token)
                .json(&json!({"workflowType": "content_publishing",
                    "data": {"contentType": "promotion", "title": "Bench", "jurisdiction": "UK"}}))
                .send()
                .await?
                .json()
                .await?;
            r["data"]["id"]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("creating a workflow: {r}"))
        }
    };
    let workflow = create(http.clone()).await?;
    let update = |priority: &'static str| {
        let (http, base, token, id) = (
            http.clone(),
            base.clone(),
            token.to_owned(),
            workflow.clone(),
        );
        async move {
            let res = http
                .put(format!("{base}/api/v1/workflows/{id}"))
                .bearer_auth(&token)
                .json(&json!({"priority": priority}))
                .send()
                .await?;
            anyhow::ensure!(res.status().is_success(), "update: {}", res.text().await?);
            Ok::<_, anyhow::Error>(())
        }
    };

    // Connect everything, a few hundred at a time.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = bf.rss_kib()?;
    let origin = Instant::now();
    let tally = Arc::new(Tally::default());
    let connect_started = Instant::now();
    let mut listeners = Vec::with_capacity(sockets);
    let mut pending = futures::stream::iter((0..sockets).map(|_| {
        let (base, token, workflow) = (base.clone(), token.to_owned(), workflow.clone());
        async move { open(&base, &token, &workflow).await }
    }))
    .buffer_unordered(256);
    while let Some(ws) = pending.next().await {
        listeners.push(listen(ws?, tally.clone(), origin));
    }
    let connect_secs = connect_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = bf.rss_kib()?;
    let per_conn = (rss_after.saturating_sub(rss_before)) as f64 / sockets as f64;
    println!(
        "{sockets} socket.io connections (authenticated, subscribed) in {connect_secs:.1}s; \
         server RSS {:.1} MiB -> {:.1} MiB idle: {per_conn:.1} KiB per connection \
         ({:.2} MB per 1,000)",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        per_conn * 1000.0 / 1024.0,
    );

    // Fan-out latency: one event at a time, to every socket.
    let mut priorities = ["high", "low"].into_iter().cycle();
    for round in 0..rounds {
        let target = (round + 1) * sockets;
        tally
            .sent_at
            .store(origin.elapsed().as_nanos() as u64, Ordering::Release);
        update(priorities.next().unwrap_or("high")).await?;
        if !wait_for(&tally.delivered, target, Duration::from_secs(30)).await {
            bail!(
                "round {round}: {} of {target} deliveries arrived",
                tally.delivered.load(Ordering::Acquire)
            );
        }
    }
    let mut lat = std::mem::take(&mut *tally.latencies_ms.lock().unwrap());
    lat.sort_by(f64::total_cmp);
    let mean = lat.iter().sum::<f64>() / lat.len() as f64;
    println!(
        "fan-out of {rounds} events to {sockets} sockets ({} deliveries), API call to socket: \
         p50 {:.1} ms, p99 {:.1} ms, mean {mean:.1} ms",
        lat.len(),
        quantile(&lat, 0.5),
        quantile(&lat, 0.99),
    );

    // Throughput: a burst of events back to back.
    let before = tally.delivered.load(Ordering::Acquire);
    let started = Instant::now();
    for _ in 0..burst {
        tally
            .sent_at
            .store(origin.elapsed().as_nanos() as u64, Ordering::Release);
        update(priorities.next().unwrap_or("high")).await?;
    }
    let target = before + burst * sockets;
    let complete = wait_for(&tally.delivered, target, Duration::from_secs(120)).await;
    let secs = started.elapsed().as_secs_f64();
    let got = tally.delivered.load(Ordering::Acquire) - before;
    println!(
        "burst of {burst} events to {sockets} sockets: {got} deliveries in {secs:.2}s = \
         {:.0} deliveries/s ({:.1} events/s fully fanned out){}",
        got as f64 / secs,
        burst as f64 / secs,
        if complete { "" } else { " — INCOMPLETE" }
    );
    for l in listeners {
        l.abort();
    }

    // Webhooks: signed deliveries to a local receiver.
    let received = Arc::new(AtomicUsize::new(0));
    let first_last = Arc::new(Mutex::new((None::<Instant>, None::<Instant>)));
    let app = {
        let (received, first_last) = (received.clone(), first_last.clone());
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, _body: String| {
                let (received, first_last) = (received.clone(), first_last.clone());
                async move {
                    if headers.contains_key("webhook-signature") {
                        let now = Instant::now();
                        let mut fl = first_last.lock().unwrap();
                        fl.0.get_or_insert(now);
                        fl.1 = Some(now);
                        received.fetch_add(1, Ordering::AcqRel);
                    }
                    "ok"
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let res = http
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(token)
        .json(&json!({"name": "bench", "url": hook_url, "events": ["workflow.updated"]}))
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "webhook: {}", res.text().await?);
    let started = Instant::now();
    let writers = 8;
    let per_writer = webhook_events.div_ceil(writers);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (http, base, token) = (http.clone(), base.clone(), token.to_owned());
        let id = create(http.clone()).await?;
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let p = if (i + w) % 2 == 0 { "high" } else { "low" };
                let res = http
                    .put(format!("{base}/api/v1/workflows/{id}"))
                    .bearer_auth(&token)
                    .json(&json!({"priority": p}))
                    .send()
                    .await?;
                anyhow::ensure!(res.status().is_success());
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let written = started.elapsed().as_secs_f64();
    let total = per_writer * writers;
    let complete = wait_for(&received, total, Duration::from_secs(300)).await;
    let all = started.elapsed().as_secs_f64();
    let (first, last) = *first_last.lock().unwrap();
    let spread = match (first, last) {
        (Some(f), Some(l)) => (l - f).as_secs_f64(),
        _ => f64::NAN,
    };
    println!(
        "webhooks: {total} events written in {written:.2}s; {} signed deliveries received \
         {all:.2}s after the first write = {:.0} deliveries/s end to end \
         ({:.0}/s between first and last delivery){}",
        received.load(Ordering::Acquire),
        received.load(Ordering::Acquire) as f64 / all,
        received.load(Ordering::Acquire) as f64 / spread,
        if complete { "" } else { " — INCOMPLETE" }
    );
    Ok(())
}
