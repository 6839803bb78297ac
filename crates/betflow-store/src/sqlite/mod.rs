//! The embedded backend: one SQLite file in WAL mode.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Backend, Result, StoreConfig, StoreError};

#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/audit.rs"]
mod audit;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/bets.rs"]
mod bets;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/catalog.rs"]
mod catalog;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/customers.rs"]
mod customers;
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
#[path = "../shared/wallet.rs"]
mod wallet;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/webhooks.rs"]
mod webhooks;
#[allow(clippy::duplicate_mod, reason = "compiled once per backend on purpose")]
#[path = "../shared/workflows.rs"]
mod workflows;

type Db = sqlx::Sqlite;
type BackendStore = SqliteStore;
type BackendTx = SqliteTx;

const BACKEND: Backend = Backend::Sqlite;
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
/// Take the write lock at BEGIN so writers queue on `busy_timeout` instead of deadlocking on
/// a read-to-write upgrade.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
/// IP addresses are plain TEXT.
const IP_CAST: &str = "";
/// SQLite transactions hold the write lock from BEGIN IMMEDIATE; no row locks exist.
const FOR_UPDATE: &str = "";
/// The row lock on a customer's accounts (`la`) joined to their settings.
const LOCK_ACCOUNTS: &str = "";
/// A share lock on the legs' selections (`s`) and markets (`m`) read to price a bet,
/// blocking their updates until the bet commits.
const SHARE_LEGS: &str = "";
/// Whether one statement may carry several inserts as data-modifying CTEs.
const WRITE_CTE: bool = false;
/// Case-insensitive search in a workflow's data (SQLite's LIKE ignores ASCII case).
const DATA_SEARCH: &str = "data LIKE ";
/// Whether a role is among a workflow's current assignees (a JSON array of strings).
const HAS_ASSIGNEE: (&str, &str) = (
    "EXISTS (SELECT 1 FROM json_each(current_assignees) WHERE json_each.value = ",
    ")",
);
/// Whether a workflow carries a tag (a JSON array of strings).
const HAS_TAG: (&str, &str) = (
    "EXISTS (SELECT 1 FROM json_each(tags) WHERE json_each.value = ",
    ")",
);
const IP_SELECT: &str = "ip_address";

/// The SQLite implementation of [`crate::Store`].
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
    /// SQLite has one writer: writers of this process queue here, in order, instead of spinning on the busy timeout.
    writer: Option<std::sync::Arc<tokio::sync::Semaphore>>,
}

/// An open SQLite write transaction.
pub struct SqliteTx {
    tx: sqlx::Transaction<'static, Db>,
    _writer: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file with the settings that serve a server:
    /// WAL, `synchronous=NORMAL`, foreign keys on, and a busy timeout for queued writers.
    pub async fn connect(config: &StoreConfig) -> Result<Self> {
        let path = config.sqlite_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Config(format!(
                    "cannot create data directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(config.sqlite_busy_timeout)
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections.max(1))
            // A connection to a local file cannot drop: sqlx's ping before every acquire would
            // only add a hop to its worker thread.
            .test_before_acquire(false)
            .acquire_timeout(config.sqlite_busy_timeout + Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        Ok(Self {
            pool,
            writer: Some(std::sync::Arc::new(tokio::sync::Semaphore::new(1))),
        })
    }
}
