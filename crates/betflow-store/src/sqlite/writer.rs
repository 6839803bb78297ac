//! SQLite's single writer, with group commit.
//!
//! Every write of the process goes through one connection, one transaction at a time, in
//! arrival order: SQLite allows one writer anyway, and a connection no other connection
//! writes behind keeps its page cache from one transaction to the next.
//!
//! Transactions that follow each other on it share one SQLite transaction (a *group*): each
//! runs inside its own savepoint, so a rollback or a dropped transaction undoes only its own
//! writes. Committing one does not write to disk; it hands the connection on and waits
//! until the committer task commits the whole group, which it does as soon as its turn in
//! the queue comes. Under load a group holds every transaction that queued meanwhile, and
//! the pages they share (the tail of each table and index, the ledger's hot rows) reach the
//! WAL once per group instead of once per transaction. Alone, a transaction commits one
//! hand-over after it ends.
//!
//! A commit reports success only after the group's `COMMIT` succeeded; if it fails, every
//! transaction of the group gets the error and none of them is kept.

use std::sync::{Arc, Weak};

use sqlx::Executor;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, oneshot};

use crate::{Result, StoreError};

/// One transaction within the group. Savepoints of earlier transactions stay on the stack
/// (releasing them would cost a statement each); `ROLLBACK TO` the newest of the name undoes
/// only the current one, and the group's `COMMIT` ends them all.
const SAVEPOINT: &str = "SAVEPOINT unit";
/// Starts a group and its first transaction in one hop to SQLite's thread. `IMMEDIATE`
/// takes the file's write lock at once, so another process's writer waits on the busy
/// timeout instead of deadlocking on a read-to-write upgrade.
const BEGIN_GROUP: &str = "BEGIN IMMEDIATE; SAVEPOINT unit";
const ROLLBACK_UNIT: &str = "ROLLBACK TO unit";

/// What a committed transaction waits for: the outcome of its group's `COMMIT`.
type Outcome = std::result::Result<(), String>;

/// The writer connection and the state of its group.
pub(super) struct Writer {
    conn: sqlx::SqliteConnection,
    /// A group (an SQLite transaction) is open.
    open: bool,
    /// The transaction holding the connection has not finished. Still set when the next
    /// holder takes the connection: that transaction was dropped (an error, a cancelled
    /// request), and its savepoint is rolled back first.
    unit: bool,
    /// Transactions that finished in the open group, waiting for its `COMMIT`.
    pending: Vec<oneshot::Sender<Outcome>>,
    /// Wakes the committer.
    notify: Arc<Notify>,
}

impl Writer {
    /// Rolls back a transaction that was dropped while it held the connection.
    async fn clean(&mut self) {
        if !self.unit {
            return;
        }
        self.unit = false;
        if self.conn.execute(ROLLBACK_UNIT).await.is_err() {
            // SQLite already ended the whole transaction (it does on some I/O errors): the
            // group's earlier writes are gone too.
            self.fail_group("SQLite rolled back the write transaction".into())
                .await;
        }
    }

    /// Commits the open group and tells its transactions.
    async fn commit_group(&mut self) {
        if !self.open {
            return;
        }
        match self.conn.execute("COMMIT").await {
            Ok(_) => {
                self.open = false;
                for waiter in self.pending.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
            }
            Err(e) => self.fail_group(e.to_string()).await,
        }
    }

    async fn fail_group(&mut self, why: String) {
        // An error means no transaction is left open, which is the aim.
        let _ = self.conn.execute("ROLLBACK").await;
        self.open = false;
        for waiter in self.pending.drain(..) {
            let _ = waiter.send(Err(why.clone()));
        }
    }
}

/// The writer and its committer task, which ends with it.
pub(super) struct WriterHandle {
    lock: Arc<Mutex<Writer>>,
    committer: tokio::task::JoinHandle<()>,
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.committer.abort();
    }
}

impl WriterHandle {
    pub(super) fn new(conn: sqlx::SqliteConnection) -> Self {
        let notify = Arc::new(Notify::new());
        let lock = Arc::new(Mutex::new(Writer {
            conn,
            open: false,
            unit: false,
            pending: Vec::new(),
            notify: notify.clone(),
        }));
        let committer = tokio::spawn(committer(Arc::downgrade(&lock), notify));
        Self { lock, committer }
    }

    /// Waits for the connection, in arrival order.
    async fn take(&self) -> WriterGuard {
        let mut w = self.lock.clone().lock_owned().await;
        w.clean().await;
        WriterGuard(w)
    }

    /// Begins a transaction: a savepoint in the open group, or a new group.
    pub(super) async fn begin(&self) -> Result<SqliteTx> {
        let mut g = self.take().await;
        let w = &mut g.0;
        if w.open {
            w.conn.execute(SAVEPOINT).await?;
        } else if let Err(e) = w.conn.execute(sqlx::raw_sql(BEGIN_GROUP)).await {
            let _ = w.conn.execute("ROLLBACK").await;
            return Err(e.into());
        }
        w.open = true;
        w.unit = true;
        Ok(SqliteTx { tx: g })
    }

    /// Commits the open group and checkpoints the whole WAL, truncating it.
    pub(super) async fn close(&self) {
        let mut g = self.autocommit().await;
        if let Err(e) = g.execute("PRAGMA wal_checkpoint(TRUNCATE)").await {
            tracing::warn!(error = %e, "final WAL checkpoint failed; the next start recovers it");
        }
    }

    /// The connection for a statement that commits on its own: the open group is committed
    /// first, so the statement runs outside it.
    pub(super) async fn autocommit(&self) -> WriterGuard {
        let mut g = self.take().await;
        g.0.commit_group().await;
        g
    }
}

/// Commits the open group whenever a transaction finished and its turn comes.
async fn committer(lock: Weak<Mutex<Writer>>, notify: Arc<Notify>) {
    loop {
        notify.notified().await;
        let Some(lock) = lock.upgrade() else { return };
        let mut w = lock.lock_owned().await;
        w.clean().await;
        w.commit_group().await;
    }
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

/// An open SQLite write transaction: a savepoint in the writer's group.
pub struct SqliteTx {
    pub(super) tx: WriterGuard,
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.tx.0.unit {
            // Dropped unfinished: the next holder of the connection rolls it back; the
            // committer is woken so that happens (and the group commits) even if no other
            // writer comes.
            self.tx.0.notify.notify_one();
        }
    }
}

impl SqliteTx {
    pub(super) async fn commit_tx(mut self) -> Result<()> {
        let (done, outcome) = oneshot::channel();
        let notify = {
            let w = &mut self.tx.0;
            w.unit = false;
            w.pending.push(done);
            w.notify.clone()
        };
        drop(self);
        notify.notify_one();
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(StoreError::Database(format!("commit failed: {why}"))),
            Err(_) => Err(StoreError::Unavailable(
                "the SQLite writer stopped before this transaction committed".into(),
            )),
        }
    }

    pub(super) async fn rollback_tx(mut self) -> Result<()> {
        self.tx.0.clean().await;
        self.tx.0.notify.notify_one();
        Ok(())
    }
}
