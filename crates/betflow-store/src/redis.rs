//! An optional Redis connection, shared by the features that scale out through it (cache,
//! rate limits, cross-node fan-out).

use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::Mutex;

use crate::{StoreError, redact_url};

/// A lazily connected Redis handle. The server starts even when Redis is down; readiness
/// reports it, and the first call after Redis comes back reconnects.
pub struct RedisHandle {
    client: redis::Client,
    url: String,
    manager: Mutex<Option<ConnectionManager>>,
}

impl RedisHandle {
    /// Parses the URL; no connection is made yet.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::Config(format!("invalid Redis URL {}: {e}", redact_url(url)))
        })?;
        Ok(Self {
            client,
            url: redact_url(url),
            manager: Mutex::new(None),
        })
    }

    /// The URL with any password hidden.
    pub fn describe(&self) -> &str {
        &self.url
    }

    /// A connection that reconnects on its own once established.
    pub async fn connection(&self, timeout: Duration) -> Result<ConnectionManager, StoreError> {
        let mut guard = self.manager.lock().await;
        if let Some(m) = guard.as_ref() {
            return Ok(m.clone());
        }
        let m = tokio::time::timeout(timeout, ConnectionManager::new(self.client.clone()))
            .await
            .map_err(|_| StoreError::Unavailable(format!("redis {}: connect timed out", self.url)))?
            .map_err(|e| StoreError::Unavailable(format!("redis {}: {e}", self.url)))?;
        *guard = Some(m.clone());
        Ok(m)
    }

    /// `PING`, bounded by `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        let mut conn = self.connection(timeout).await?;
        let reply: String =
            tokio::time::timeout(timeout, redis::cmd("PING").query_async(&mut conn))
                .await
                .map_err(|_| {
                    StoreError::Unavailable(format!("redis {}: PING timed out", self.url))
                })?
                .map_err(|e| StoreError::Unavailable(format!("redis {}: {e}", self.url)))?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "redis {}: unexpected PING reply {reply:?}",
                self.url
            )))
        }
    }

    /// Counts one hit in the fixed window `key` (created with a `window` expiry on first
    /// hit) and returns the count and the time left in the window. One MULTI/EXEC, so the
    /// expiry is set atomically with the first increment.
    pub async fn hit_window(
        &self,
        key: &str,
        window: Duration,
        timeout: Duration,
    ) -> Result<(u64, Duration), StoreError> {
        let mut conn = self.connection(timeout).await?;
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(key)
            .arg(0)
            .arg("PX")
            .arg(window_ms)
            .arg("NX")
            .ignore()
            .cmd("INCR")
            .arg(key)
            .cmd("PTTL")
            .arg(key);
        let (count, ttl_ms): (u64, i64) =
            tokio::time::timeout(timeout, pipe.query_async(&mut conn))
                .await
                .map_err(|_| StoreError::Unavailable(format!("redis {}: timed out", self.url)))?
                .map_err(|e| StoreError::Unavailable(format!("redis {}: {e}", self.url)))?;
        let ttl = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(window_ms));
        Ok((count, ttl))
    }

    /// Publishes `payload` on `channel`.
    pub async fn publish(
        &self,
        channel: &str,
        payload: &str,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        let mut conn = self.connection(timeout).await?;
        let _receivers: i64 = tokio::time::timeout(
            timeout,
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(payload)
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| StoreError::Unavailable(format!("redis {}: PUBLISH timed out", self.url)))?
        .map_err(|e| StoreError::Unavailable(format!("redis {}: {e}", self.url)))?;
        Ok(())
    }

    /// Subscribes to `channel` in the background and calls `on_message` with each payload,
    /// reconnecting with backoff for as long as the task lives. After every (re)connection
    /// it also calls `on_message("*")`, since messages sent while disconnected are lost.
    pub fn spawn_subscriber(
        &self,
        channel: &'static str,
        on_message: impl Fn(&str) + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        use futures::StreamExt;
        let client = self.client.clone();
        let url = self.url.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                let subscribed = async {
                    let mut pubsub = client.get_async_pubsub().await?;
                    pubsub.subscribe(channel).await?;
                    Ok::<_, redis::RedisError>(pubsub)
                }
                .await;
                match subscribed {
                    Ok(pubsub) => {
                        backoff = Duration::from_millis(100);
                        on_message("*");
                        let mut messages = pubsub.into_on_message();
                        while let Some(msg) = messages.next().await {
                            if let Ok(payload) = msg.get_payload::<String>() {
                                on_message(&payload);
                            }
                        }
                        tracing::warn!(redis = %url, channel, "subscription closed; reconnecting");
                    }
                    Err(e) => {
                        tracing::warn!(redis = %url, channel, error = %e, "cannot subscribe; retrying");
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        })
    }
}
