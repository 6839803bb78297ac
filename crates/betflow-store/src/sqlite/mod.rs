//! The embedded backend: one SQLite file in WAL mode.

use std::time::Duration;

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Backend, Result, StoreConfig, StoreError};

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

mod writer;

use writer::WriterHandle;
pub use writer::{SqliteTx, WriterGuard};

type Db = sqlx::Sqlite;
type BackendStore = SqliteStore;
type BackendTx = SqliteTx;

const BACKEND: Backend = Backend::Sqlite;
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
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
    /// Readers. WAL lets them run beside the writer.
    pool: sqlx::SqlitePool,
    /// The one connection every write goes through, with group commit (see [`writer`]).
    /// Writers queue on it in order instead of spinning on the busy timeout, and a write
    /// needs no pool checkout, whose return costs sqlx a ping to the connection's thread.
    writer: WriterHandle,
}

/// WAL pages between checkpoints. A checkpoint copies each page once however often it was
/// rewritten since the last, and syncs the file twice; at SQLite's default (1,000 pages, a
/// checkpoint every ~50 bets) checkpoints took a fifth of the writer's time. With group
/// commit, 4,000 pages (a WAL of about 16 MiB) still gives about 13 % more bets/s than
/// 1,000, at the cost of a higher p99 (each checkpoint pauses the writer longer); 10,000
/// gave no more throughput and doubled the p99. docs/benchmarks.md has the runs.
const WAL_CHECKPOINT_PAGES: u32 = 4_000;

impl SqliteStore {
    pub(super) async fn begin_tx(&self) -> Result<SqliteTx> {
        self.writer.begin().await
    }

    /// The writer connection, for a statement that commits on its own.
    pub(super) async fn write_conn(&self) -> Result<WriterGuard> {
        Ok(self.writer.autocommit().await)
    }

    /// Commits what is pending and folds the WAL into the database file, so a stopped
    /// server leaves one file behind (the readers are closed first).
    pub(super) async fn close_writer(&self) {
        self.writer.close().await;
    }
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
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        // The committing writer checkpoints (copies the WAL into the database file and syncs
        // it) every WAL_CHECKPOINT_PAGES pages. See the constant for why not SQLite's 1,000.
        let writer = sqlx::SqliteConnection::connect_with(
            &options
                .clone()
                .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES.to_string()),
        )
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        Ok(Self {
            pool,
            writer: WriterHandle::new(writer),
        })
    }
}
