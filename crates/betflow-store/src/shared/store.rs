//! The [`Store`] and [`Transaction`] ports for one backend, compiled once per backend.
//! `super` provides `MIGRATOR`, `BACKEND`, and the backend's `begin_tx`, `commit_tx` and
//! `rollback_tx`.

use async_trait::async_trait;

use super::{BACKEND, BackendStore, BackendTx, MIGRATOR};
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
        Ok(Box::new(self.begin_tx().await?))
    }

    async fn close(&self) {
        self.pool.close().await;
        self.close_writer().await;
    }
}

#[async_trait]
impl Transaction for BackendTx {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.commit_tx().await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.rollback_tx().await
    }
}
