//! The embedded backend: one SQLite file in WAL mode.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use sqlx::Connection;
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
    /// Readers. WAL lets them run beside the writer.
    pool: sqlx::SqlitePool,
    /// The one connection every write goes through. SQLite has a single writer anyway; this
    /// process's writers queue on the mutex, in order, instead of spinning on the busy
    /// timeout. Because no other connection of the process writes, its page cache stays
    /// valid from one transaction to the next (a pooled connection's cache is dropped
    /// whenever another connection wrote), and a write needs no pool checkout, whose return
    /// costs sqlx a ping to the connection's thread.
    writer: Arc<Mutex<Writer>>,
}

/// WAL pages between checkpoints. A checkpoint copies each page once however often it was
/// rewritten since the last, and syncs the file twice; at SQLite's default (1,000 pages, a
/// checkpoint every ~50 bets) checkpoints took a fifth of the writer's time. 4,000 pages
/// (a WAL of about 16 MiB) gave 20-30 % more bets/s; 10,000 gave no more and doubled the
/// p99 (each checkpoint stalls the writer longer). docs/benchmarks.md has the runs.
const WAL_CHECKPOINT_PAGES: u32 = 4_000;

/// The writer connection and whether a transaction may be open on it.
pub struct Writer {
    conn: sqlx::SqliteConnection,
    /// Set from `BEGIN` until its `COMMIT` or `ROLLBACK` succeeds. A transaction dropped
    /// mid-way (an error, a cancelled request) leaves it set, and the connection's next user
    /// rolls back first.
    dirty: bool,
}

/// The writer connection, held: the process's turn to write.
pub struct WriterGuard(OwnedMutexGuard<Writer>);

impl std::ops::Deref for WriterGuard {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.0.conn
    }
}

impl std::ops::DerefMut for WriterGuard {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0.conn
    }
}

/// An open SQLite write transaction on the writer connection.
pub struct SqliteTx {
    tx: WriterGuard,
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if !self.tx.0.dirty {
            return;
        }
        // Dropped mid-transaction. The next writer rolls it back before anything else; this
        // task does it now if no writer is waiting, so the file's write lock is not held
        // (against other processes) until then.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let lock = OwnedMutexGuard::mutex(&self.tx.0).clone();
            rt.spawn(async move {
                let _ = WriterGuard::take(&lock).await;
            });
        }
    }
}

impl WriterGuard {
    /// Waits for the writer connection, rolling back a transaction left open on it.
    async fn take(lock: &Arc<Mutex<Writer>>) -> Result<Self> {
        let mut w = lock.clone().lock_owned().await;
        if w.dirty {
            // An error here means SQLite already rolled back (it does on some errors); a
            // transaction still open would make the caller's BEGIN fail loudly.
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut w.conn).await;
            w.dirty = false;
        }
        Ok(Self(w))
    }
}

impl SqliteStore {
    /// Takes the writer connection, in arrival order, and begins `BEGIN IMMEDIATE` on it.
    pub(super) async fn begin_tx(&self) -> Result<SqliteTx> {
        let mut tx = WriterGuard::take(&self.writer).await?;
        sqlx::raw_sql(BEGIN_WRITE).execute(&mut *tx).await?;
        tx.0.dirty = true;
        Ok(SqliteTx { tx })
    }

    /// The writer connection, for a statement that commits on its own.
    pub(super) async fn write_conn(&self) -> Result<WriterGuard> {
        WriterGuard::take(&self.writer).await
    }
}

impl SqliteTx {
    pub(super) async fn commit_tx(mut self) -> Result<()> {
        sqlx::raw_sql("COMMIT").execute(&mut *self.tx).await?;
        self.tx.0.dirty = false;
        Ok(())
    }

    pub(super) async fn rollback_tx(mut self) -> Result<()> {
        sqlx::raw_sql("ROLLBACK").execute(&mut *self.tx).await?;
        self.tx.0.dirty = false;
        Ok(())
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
            writer: Arc::new(Mutex::new(Writer {
                conn: writer,
                dirty: false,
            })),
        })
    }
}
