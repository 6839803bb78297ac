//! Fixed-window rate limits, as the seed's express-rate-limit counts them: at most `limit`
//! requests per `window`, windows aligned to the Unix epoch so every node agrees on them.
//!
//! In one process the counters live in memory; with Redis they are shared by every node.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use betflow_store::redis::RedisHandle;
use moka::future::Cache;

/// A limit: `limit` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u64,
    pub window: Duration,
}

impl Rule {
    /// Parses `1000/15m`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (n, w) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid rate limit {s:?}: expected e.g. 1000/15m"))?;
        let limit: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("invalid rate limit {s:?}: bad count"))?;
        let window = betflow_domain::units::parse_duration(w)?;
        if limit == 0 || window.as_millis() < 1000 {
            return Err(format!(
                "invalid rate limit {s:?}: need a positive count and a window of at least 1s"
            ));
        }
        Ok(Self { limit, window })
    }
}

/// The outcome of one check, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Time until the window resets.
    pub reset: Duration,
}

pub enum RateLimiter {
    Local(Cache<String, Arc<AtomicU64>>),
    Redis(Arc<RedisHandle>),
}

impl RateLimiter {
    pub fn local() -> Self {
        Self::Local(
            Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
        )
    }

    pub fn redis(handle: Arc<RedisHandle>) -> Self {
        Self::Redis(handle)
    }

    /// Counts a request in `bucket` under `rule`.
    pub async fn check(&self, bucket: &str, rule: Rule) -> Decision {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let window_ms = rule.window.as_millis().max(1);
        let index = now.as_millis() / window_ms;
        let window_end_ms = (index + 1) * window_ms;
        let reset_local =
            Duration::from_millis(u64::try_from(window_end_ms - now.as_millis()).unwrap_or(0));
        let key = format!("betflow:rl:{bucket}:{}:{index}", rule.window.as_secs());
        let (count, reset) = match self {
            Self::Local(cache) => {
                let counter = cache
                    .get_with(key, async { Arc::new(AtomicU64::new(0)) })
                    .await;
                (counter.fetch_add(1, Ordering::Relaxed) + 1, reset_local)
            }
            Self::Redis(redis) => {
                match redis
                    .hit_window(
                        &key,
                        reset_local.max(Duration::from_millis(1)),
                        Duration::from_secs(1),
                    )
                    .await
                {
                    Ok(v) => v,
                    Err(e) => {
                        // Fail open: losing Redis must not take the API down with it.
                        tracing::warn!(error = %e, "rate limiter unavailable; allowing request");
                        (0, reset_local)
                    }
                }
            }
        };
        Decision {
            allowed: count <= rule.limit,
            limit: rule.limit,
            remaining: rule.limit.saturating_sub(count),
            reset,
        }
    }
}

impl crate::Engine {
    /// Counts a request against `rule` in `bucket`: shared by every node when Redis is
    /// configured.
    pub async fn rate_limit(&self, bucket: &str, rule: Rule) -> Decision {
        self.limiter.check(bucket, rule).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules() {
        assert_eq!(
            Rule::parse("1000/15m").unwrap(),
            Rule {
                limit: 1000,
                window: Duration::from_secs(900)
            }
        );
        for bad in ["", "10", "0/1m", "10/0s", "x/1m", "10/1x", "10/500ms"] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn local_limiter_counts_per_bucket() {
        let limiter = RateLimiter::local();
        let rule = Rule::parse("3/1h").unwrap();
        for remaining in [2, 1, 0] {
            let d = limiter.check("a", rule).await;
            assert!(d.allowed);
            assert_eq!(d.remaining, remaining);
            assert!(d.reset <= rule.window);
        }
        assert!(!limiter.check("a", rule).await.allowed);
        assert!(limiter.check("b", rule).await.allowed);
    }
}
