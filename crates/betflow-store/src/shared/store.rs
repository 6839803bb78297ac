//! The [`Store`] and [`Transaction`] ports for one backend, compiled once per backend.
//! `super` provides `Db`, `MIGRATOR`, `BEGIN_WRITE` and `BACKEND`.

use async_trait::async_trait;

use super::{BACKEND, BEGIN_WRITE, BackendStore, BackendTx, MIGRATOR};
use crate::{Backend, PoolStats, Result, Store, Transaction};

#[async_trait]
impl Store for BackendStore {
    fn backend(&self) -> Backend {
        BACKEND
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        let writer = self.write_permit().await;
        let tx = self.pool.begin_with(BEGIN_WRITE).await?;
        Ok(Box::new(BackendTx {
            tx,
            _writer: writer,
        }))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Transaction for BackendTx {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl BackendStore {
    /// Waits for this process's turn to write (SQLite), holding it until the transaction ends.
    pub(super) async fn write_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match &self.writer {
            Some(gate) => gate.clone().acquire_owned().await.ok(),
            None => None,
        }
    }
}
