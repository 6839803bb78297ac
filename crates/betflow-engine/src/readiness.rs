//! Whether this process can serve traffic: the database, and Redis when configured, each
//! probed within [`READINESS_TIMEOUT`]; and the figures the metrics endpoint reads.

use std::time::{Duration, Instant};

use crate::{Backend, Engine, PoolStats};

/// How long a readiness probe waits on one dependency.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// The outcome of probing one dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub latency: Duration,
    /// Why the check failed, without secrets.
    pub error: Option<String>,
}

/// Whether the process can serve traffic, with the result of each check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub checks: Vec<Check>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

impl Engine {
    /// Probes the database, and Redis when configured, each bounded by
    /// [`READINESS_TIMEOUT`], concurrently.
    pub async fn readiness(&self) -> Readiness {
        let db = timed("database", async {
            match tokio::time::timeout(READINESS_TIMEOUT, self.store.ping()).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("ping timed out".to_owned()),
            }
        });
        let redis = async {
            match &self.redis {
                None => None,
                Some(r) => Some(
                    timed("redis", async {
                        r.ping(READINESS_TIMEOUT).await.map_err(|e| e.to_string())
                    })
                    .await,
                ),
            }
        };
        let (db, redis) = tokio::join!(db, redis);
        Readiness {
            checks: std::iter::once(db).chain(redis).collect(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.store.pool_stats()
    }

    pub fn redis_configured(&self) -> bool {
        self.redis.is_some()
    }
}

async fn timed(
    name: &'static str,
    probe: impl std::future::Future<Output = Result<(), String>>,
) -> Check {
    let started = Instant::now();
    let result = probe.await;
    Check {
        name,
        ok: result.is_ok(),
        latency: started.elapsed(),
        error: result.err(),
    }
}
