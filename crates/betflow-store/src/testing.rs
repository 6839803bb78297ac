//! Fresh, isolated databases for tests, shared by every crate's test suite.
//!
//! SQLite always runs. PostgreSQL runs when `BETFLOW_TEST_DATABASE_URL` is set; each test then
//! gets its own schema (selected through `search_path` in the URL), so tests run in parallel
//! without seeing each other's rows. If the variable is set but the server cannot be reached
//! the test fails: CI must never pass by silently skipping PostgreSQL.

use std::sync::Arc;

use sqlx::Connection;
use tempfile::TempDir;

use crate::{Store, StoreConfig};

pub const DATABASE_URL_VAR: &str = "BETFLOW_TEST_DATABASE_URL";
pub const REDIS_URL_VAR: &str = "BETFLOW_TEST_REDIS_URL";

/// A migrated database that lives as long as this value (SQLite) or the test run (PostgreSQL
/// schemas are left for `.ci/run` to drop with the whole test database).
pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub config: StoreConfig,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A migrated SQLite database in a new temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let config = StoreConfig::embedded(dir.path());
        let store = crate::connect(&config).await.expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        Self {
            store,
            config,
            _dir: Some(dir),
        }
    }

    /// Wraps a second connection to an existing test database (a second node).
    pub fn from_store(store: Arc<dyn Store>) -> Self {
        Self {
            config: StoreConfig::embedded("unused"),
            store,
            _dir: None,
        }
    }

    /// A migrated PostgreSQL schema of its own, or `None` when PostgreSQL tests are not
    /// configured.
    pub async fn postgres() -> Option<Self> {
        let url = fresh_postgres_url().await?;
        let config = StoreConfig::with_url(url);
        let store = crate::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("{DATABASE_URL_VAR} is set but unusable: {e}"));
        store.migrate().await.expect("migrate postgres");
        Some(Self {
            store,
            config,
            _dir: None,
        })
    }
}

/// Creates an empty schema and returns a URL whose connections use it, or `None` when
/// `BETFLOW_TEST_DATABASE_URL` is unset.
pub async fn fresh_postgres_url() -> Option<String> {
    let base = std::env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|s| !s.is_empty())?;
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{DATABASE_URL_VAR} is set but PostgreSQL is unreachable at {}: {e}",
                crate::redact_url(&base)
            )
        });
    // The schema name is generated above from a UUID, never from input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .expect("create test schema");
    let _ = conn.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// The Redis URL for tests, or `None` when Redis tests are not configured.
pub fn redis_url() -> Option<String> {
    std::env::var(REDIS_URL_VAR).ok().filter(|s| !s.is_empty())
}

/// Writes each store test once and runs it on SQLite and on PostgreSQL.
///
/// Each named function takes a [`TestDb`] and is expanded into `sqlite::name` and
/// `postgres::name` test cases; the PostgreSQL ones run when `BETFLOW_TEST_DATABASE_URL` is
/// set.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match $crate::testing::TestDb::postgres().await {
                        Some(db) => super::$name(db).await,
                        None => eprintln!(
                            "{} unset: PostgreSQL half of {} not run",
                            $crate::testing::DATABASE_URL_VAR,
                            stringify!($name)
                        ),
                    }
                }
            )*
        }
    };
}
