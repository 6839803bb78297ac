//! The production backend: PostgreSQL 15+.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::{Backend, Result, StoreConfig, StoreError, redact_url};

#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/audit.rs"]
mod audit;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/automations.rs"]
mod automations;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/bets.rs"]
mod bets;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/catalog.rs"]
mod catalog;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/credentials.rs"]
mod credentials;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/customers.rs"]
mod customers;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/definitions.rs"]
mod definitions;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/events.rs"]
mod events;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/identity.rs"]
mod identity;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/jobs.rs"]
mod jobs;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/store.rs"]
mod store;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/tasks.rs"]
mod tasks;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/triggers.rs"]
mod triggers;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/wallet.rs"]
mod wallet;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/webhooks.rs"]
mod webhooks;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/workflows.rs"]
mod workflows;

type Db = sqlx::Postgres;
type BackendStore = PgStore;
type BackendTx = PgTx;

const BACKEND: Backend = Backend::Postgres;
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");
const BEGIN_WRITE: &str = "BEGIN";
/// IP addresses are `INET`; they travel as text and are cast on the way in and out.
const IP_CAST: &str = "::inet";
/// Row locks for read-modify-write inside a transaction.
const FOR_UPDATE: &str = " FOR UPDATE";
/// The row lock on a customer's accounts (`la`) joined to their settings.
const LOCK_ACCOUNTS: &str = " FOR UPDATE OF la";
/// A share lock on the legs' markets (`m`) and selections (`s`) read to price a bet,
/// blocking their updates until the bet commits. Each row is locked market first, then
/// selection (row marks are taken in this list's order), which with `ORDER BY m.id, s.id`
/// is the crate's lock order for catalog rows.
const SHARE_LEGS: &str = " FOR SHARE OF m, s";
/// Whether one statement may carry several inserts as data-modifying CTEs.
const WRITE_CTE: bool = true;
/// Case-insensitive search in a workflow's data.
const DATA_SEARCH: &str = "data::text ILIKE ";
/// Whether a role is among a workflow's current assignees (a JSON array of strings).
const HAS_ASSIGNEE: (&str, &str) = ("current_assignees @> jsonb_build_array(", "::text)");
/// Whether a workflow carries a tag; containment uses the GIN index.
const HAS_TAG: (&str, &str) = ("tags @> jsonb_build_array(", "::text)");
const IP_SELECT: &str = "host(ip_address) AS ip_address";

/// The PostgreSQL implementation of [`crate::Store`].
pub struct PgStore {
    /// Readers and writers alike: PostgreSQL writers run concurrently under row locks.
    pool: sqlx::PgPool,
}

/// An open PostgreSQL transaction.
pub struct PgTx {
    tx: sqlx::Transaction<'static, Db>,
}

impl PgStore {
    pub(super) async fn begin_tx(&self) -> Result<PgTx> {
        Ok(PgTx {
            tx: self.pool.begin_with(BEGIN_WRITE).await?,
        })
    }

    /// PostgreSQL has no writer apart from the pool.
    pub(super) async fn close_writer(&self) {}

    /// A connection for a statement that commits on its own.
    pub(super) async fn write_conn(&self) -> Result<sqlx::pool::PoolConnection<Db>> {
        Ok(self.pool.acquire().await?)
    }
}

impl PgTx {
    pub(super) async fn commit_tx(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    pub(super) async fn rollback_tx(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

/// How long a pooled connection may sit idle before it is pinged when handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

impl PgStore {
    /// Connects, retrying with exponential backoff while the server is unreachable (it may
    /// still be starting) until `config.connect_timeout` has passed. Errors that waiting
    /// cannot fix, such as a bad password or a missing database, fail at once.
    pub async fn connect(config: &StoreConfig) -> Result<Self> {
        let url = config.url.as_deref().unwrap_or_default();
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::Config(format!("invalid database URL {}: {e}", redact_url(url)))
        })?;
        let pool_options = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings every connection it hands out: one more round trip per transaction,
            // which on a busy server costs as much as a statement. A connection in steady use
            // is known to be alive; only one that sat idle (a restarted server, a dropped
            // socket) is checked.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            });

        let started = Instant::now();
        let mut backoff = Duration::from_millis(250);
        let mut attempt = 1u32;
        loop {
            // Probe with one plain connection: the pool's own connect retries silently until
            // its acquire timeout and then reports only "timed out", hiding the cause.
            let probe = sqlx::PgConnection::connect_with(&options).await;
            match probe {
                Ok(conn) => {
                    let _ = conn.close().await;
                    let pool = pool_options.connect_with(options).await?;
                    return Ok(Self { pool });
                }
                Err(e) => {
                    let err = StoreError::from(e);
                    let elapsed = started.elapsed();
                    if !err.is_transient() || elapsed + backoff > config.connect_timeout {
                        return Err(match err {
                            StoreError::Unavailable(reason) => StoreError::Unavailable(format!(
                                "could not reach {} after {attempt} attempt(s) in {:.1}s: {reason}",
                                redact_url(url),
                                elapsed.as_secs_f64()
                            )),
                            other => other,
                        });
                    }
                    tracing::warn!(
                        attempt,
                        retry_in_ms = backoff.as_millis() as u64,
                        error = %err,
                        "database not reachable yet; retrying"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
            }
        }
    }
}
